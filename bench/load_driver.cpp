#include "bench/load_driver.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>

#include "config/numbers.hpp"

namespace p2pfaas::bench {

namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

double seconds_between(steady_clock::time_point from, steady_clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

asio::awaitable<void> wait_until(steady_clock::time_point when) {
  if (steady_clock::now() >= when) co_return;
  asio::steady_timer timer(co_await asio::this_coro::executor, when);
  co_await timer.async_wait(asio::use_awaitable);
}

double header_number(const http::response<http::string_body>& response, std::string_view name) {
  const auto found = response.find(name);
  if (found == response.end()) return 0;
  return config::parse_finite(found->value()).value_or(0);
}

}  // namespace

load_driver::load_driver(load_options options)
    : options_(std::move(options)),
      idle_(options_.nodes.size()),
      outstanding_(options_.nodes.size()) {
  for (const auto& node : options_.nodes) {
    const auto address = to_tcp(node);
    if (!address) throw std::runtime_error("not an address: " + node.text());
    addresses_.push_back(*address);
  }
}

double load_driver::elapsed_seconds() const {
  return seconds_between(start_, steady_clock::now());
}

std::size_t load_driver::pick_node(std::size_t planned) {
  if (!options_.least_outstanding) return planned;
  // The fewest outstanding; among equals, the first at or after a rotating start, so ties do not
  // all land on node 0.
  const std::size_t n = outstanding_.size();
  std::size_t best = next_tie_ % n;
  for (std::size_t k = 1; k < n; ++k) {
    const std::size_t i = (next_tie_ + k) % n;
    if (outstanding_[i] < outstanding_[best]) best = i;
  }
  ++next_tie_;
  return best;
}

asio::awaitable<call_record> load_driver::send(double at, std::size_t planned,
                                               std::size_t workload) {
  call_record record;
  record.at = at;
  record.workload = workload;
  record.target = pick_node(planned);
  const std::size_t node = record.target;
  const auto scheduled = start_ + std::chrono::duration_cast<steady_clock::duration>(
                                      std::chrono::duration<double>(at));
  const auto deadline = steady_clock::now() + options_.timeout;
  ++sent_;
  ++outstanding_[node];

  const call_template& call = options_.workloads[workload];
  http::request<http::string_body> request(http::verb::get, call.target, 11);
  request.set(http::field::host, options_.nodes[node].text());
  if (call.deadline_seconds > 0) {
    request.set("X-P2pfaas-Deadline-Seconds", config::shortest_text(call.deadline_seconds));
  }

  exchange_result result;
  std::unique_ptr<connection> conn;
  // A kept-alive connection the node has closed meanwhile fails at once without an answer; the
  // call is then sent again on a new connection (a GET that never reached a function).
  while (!idle_[node].empty()) {
    conn = std::move(idle_[node].back());
    idle_[node].pop_back();
    result = co_await exchange(*conn, request, nullptr, deadline);
    if (!result.error) break;
    conn.reset();
    if (result.error == boost::beast::error::timeout) break;
  }
  if (!conn && result.error != boost::beast::error::timeout) {
    conn = std::make_unique<connection>(co_await asio::this_coro::executor);
    result = co_await exchange(*conn, request, &addresses_[node], deadline);
  }

  const auto now = steady_clock::now();
  record.latency_ms = seconds_between(scheduled, now) * 1000;
  if (result.error) {
    record.error =
        result.error == boost::beast::error::timeout ? "timeout" : result.error.message();
  } else {
    record.status = static_cast<int>(result.response.result_int());
    if (const auto it = result.response.find("X-P2pfaas-Executed-On");
        it != result.response.end()) {
      record.executed_on = std::string(it->value());
    }
    record.hops = static_cast<int>(header_number(result.response, "X-P2pfaas-Hops"));
    record.execution_seconds =
        header_number(result.response, "X-P2pfaas-Timing-Execution-Time-Seconds");
    if (result.response.keep_alive() && conn) idle_[node].push_back(std::move(conn));
  }
  --outstanding_[node];
  ++answered_;
  co_return record;
}

asio::awaitable<std::vector<call_record>> load_driver::run_open(std::vector<planned_call> plan) {
  const auto executor = co_await asio::this_coro::executor;
  std::vector<call_record> records(plan.size());
  // A small head start, so the first calls are not late because the loop had just begun.
  start_ = steady_clock::now() + std::chrono::milliseconds(20);
  std::size_t done = 0;
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const auto& call = plan[i];
    co_await wait_until(start_ + std::chrono::duration_cast<steady_clock::duration>(
                                     std::chrono::duration<double>(call.at)));
    asio::co_spawn(executor, send(call.at, call.node, call.workload),
                   [&records, &done, i](std::exception_ptr error, call_record record) {
                     if (error) {
                       record.error = "internal error";
                     }
                     records[i] = std::move(record);
                     ++done;
                   });
  }
  asio::steady_timer timer(executor);
  while (done < plan.size()) {
    timer.expires_after(std::chrono::milliseconds(5));
    co_await timer.async_wait(asio::use_awaitable);
  }
  co_return records;
}

asio::awaitable<std::vector<call_record>> load_driver::run_closed(
    int clients_per_node, double seconds, double measured_from, std::size_t max_measured,
    std::function<std::size_t()> choose_workload) {
  const auto executor = co_await asio::this_coro::executor;
  std::vector<call_record> records;
  start_ = steady_clock::now();
  const auto end = start_ + std::chrono::duration_cast<steady_clock::duration>(
                                std::chrono::duration<double>(seconds));
  int running = 0;
  std::size_t measured = 0;
  auto client = [&](std::size_t node) -> asio::awaitable<void> {
    while (steady_clock::now() < end) {
      const double at = elapsed_seconds();
      if (at >= measured_from && max_measured > 0 && measured++ >= max_measured) break;
      call_record record = co_await send(at, node, choose_workload());
      records.push_back(std::move(record));
    }
  };
  for (std::size_t node = 0; node < options_.nodes.size(); ++node) {
    for (int c = 0; c < clients_per_node; ++c) {
      ++running;
      asio::co_spawn(executor, client(node), [&running](std::exception_ptr) { --running; });
    }
  }
  asio::steady_timer timer(executor);
  while (running > 0) {
    timer.expires_after(std::chrono::milliseconds(5));
    co_await timer.async_wait(asio::use_awaitable);
  }
  co_return records;
}

}  // namespace p2pfaas::bench
