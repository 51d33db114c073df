#include "scheduler/dispatcher.hpp"

#include <algorithm>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

namespace p2pfaas::scheduler {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

std::string_view to_string(call_outcome outcome) {
  switch (outcome) {
    case call_outcome::ok:
      return "ok";
    case call_outcome::client_error:
      return "client_error";
    case call_outcome::function_error:
      return "function_error";
    case call_outcome::full:
      return "full";
    case call_outcome::rejected:
      return "rejected";
    case call_outcome::timed_out:
      return "timed_out";
    case call_outcome::not_found:
      return "not_found";
    case call_outcome::shut_down:
      return "shut_down";
    case call_outcome::peer_failed:
      return "peer_failed";
  }
  return "unknown";
}

std::string_view to_string(call_place place) {
  switch (place) {
    case call_place::here:
      return "local";
    case call_place::peer:
      return "remote";
    case call_place::nowhere:
      return "none";
  }
  return "unknown";
}

namespace {

double seconds_between(clock::time_point from, clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// Submits to the executor and resumes the awaiting coroutine on its own executor: the executor
// completes on its worker or timer threads, which must never run session code.
template <class CompletionToken>
auto async_execute(workloads::executor& executor, workloads::invocation invocation,
                   clock::time_point timeout_at, CompletionToken&& token) {
  return asio::async_initiate<CompletionToken, void(workloads::execution)>(
      [&executor](auto handler, workloads::invocation invocation, clock::time_point timeout_at) {
        using handler_type = decltype(handler);
        auto io = asio::get_associated_executor(handler);
        // Keeps the I/O context running while the call is out of its hands.
        auto work = asio::prefer(io, asio::execution::outstanding_work.tracked);
        auto shared = std::make_shared<handler_type>(std::move(handler));
        executor.submit(
            std::move(invocation), timeout_at, [shared, work](workloads::execution done) {
              asio::post(
                  work, [shared, done = std::move(done)]() mutable { (*shared)(std::move(done)); });
            });
      },
      token, std::move(invocation), timeout_at);
}

call_outcome outcome_of(const workloads::execution& done) {
  switch (done.outcome) {
    case workloads::outcome::completed:
      if (done.result.status < 400) return call_outcome::ok;
      if (done.result.status < 500) return call_outcome::client_error;
      return call_outcome::function_error;
    case workloads::outcome::full:
      return call_outcome::full;
    case workloads::outcome::timed_out:
      return call_outcome::timed_out;
    case workloads::outcome::shut_down:
      return call_outcome::shut_down;
    case workloads::outcome::unknown_function:
      return call_outcome::not_found;
  }
  return call_outcome::function_error;
}

call_outcome outcome_named(std::string_view name) {
  for (auto o : {call_outcome::ok, call_outcome::client_error, call_outcome::function_error,
                 call_outcome::full, call_outcome::rejected, call_outcome::timed_out,
                 call_outcome::not_found, call_outcome::shut_down, call_outcome::peer_failed}) {
    if (to_string(o) == name) return o;
  }
  return call_outcome::function_error;
}

call_result error_result(call_result result, int status, call_outcome outcome,
                         std::string_view code, std::string_view message) {
  result.status = status;
  result.outcome = outcome;
  result.content_type = "application/json";
  result.body = nlohmann::json{{"code", code}, {"message", message}}.dump();
  return result;
}

}  // namespace

dispatcher::dispatcher(workloads::executor& executor, std::string self_id, peer_network* network,
                       std::function<std::uint64_t()> random)
    : executor_(executor),
      self_id_(std::move(self_id)),
      network_(network),
      random_(random ? std::move(random) : [] {
        thread_local std::mt19937_64 engine{std::random_device{}()};
        return engine();
      }) {}

void dispatcher::set_policy(std::shared_ptr<policy> next) {
  std::lock_guard lock(policy_mutex_);
  policy_ = std::move(next);
}

std::shared_ptr<policy> dispatcher::current_policy() const {
  std::lock_guard lock(policy_mutex_);
  return policy_;
}

local_load dispatcher::current_load() const {
  workloads::load load = executor_.current_load();
  return {load.running, load.queued, load.slots, load.queue_capacity};
}

std::optional<peer_info> dispatcher::pick_peer(const call_request& call,
                                               const std::string& wanted) {
  if (!network_) return std::nullopt;
  std::vector<peer_info> peers = network_->alive_peers();
  // Never back to a node the call has already been through (nor to this one): a loop would only
  // burn the call's time.
  std::erase_if(peers, [&](const peer_info& p) {
    return p.id == self_id_ ||
           std::find(call.path.begin(), call.path.end(), p.id) != call.path.end();
  });
  if (peers.empty()) return std::nullopt;
  if (!wanted.empty()) {
    auto it = std::find_if(peers.begin(), peers.end(),
                           [&](const peer_info& p) { return p.id == wanted; });
    if (it == peers.end()) return std::nullopt;
    return *it;
  }
  std::uint64_t draw;
  {
    std::lock_guard lock(random_mutex_);
    draw = random_();
  }
  return peers[draw % peers.size()];
}

asio::awaitable<call_result> dispatcher::dispatch(call_request call) {
  call_result result;
  std::shared_ptr<policy> active = current_policy();
  result.policy_name = std::string(active->name());

  const clock::time_point decide_start = clock::now();
  decision chosen;
  switch (call.forced) {
    case forced_decision::bypass:
      chosen = {action::run_local, {}};
      break;
    case forced_decision::reject:
      chosen = {action::reject, {}};
      break;
    case forced_decision::forward:
      chosen = {action::forward, {}};
      break;
    case forced_decision::none:
      chosen = active->decide({call.invocation.function, static_cast<int>(call.path.size())},
                              current_load());
      break;
  }
  std::optional<peer_info> peer;
  if (chosen.what == action::forward) peer = pick_peer(call, chosen.peer);
  result.scheduling_seconds = seconds_between(decide_start, clock::now());

  if (chosen.what == action::reject) {
    const std::string why = call.forced == forced_decision::reject
                                ? "rejected on request (X-P2pfaas-Scheduler-Reject)"
                                : "rejected by " + result.policy_name;
    result = error_result(std::move(result), 503, call_outcome::rejected, "rejected", why);
    result.place = call_place::nowhere;
    result.total_seconds = seconds_between(call.received, clock::now());
    result.route = {{self_id_, result.total_seconds, result.scheduling_seconds, 0}};
    co_return result;
  }
  // A forward with no peer to go to runs here, as ForwardScheduler does in P2PFaaS.
  if (peer) co_return co_await run_on_peer(call, std::move(result), *peer);
  co_return co_await run_local(call, std::move(result));
}

asio::awaitable<call_result> dispatcher::run_on_peer(call_request& call, call_result result,
                                                     const peer_info& peer) {
  const clock::time_point timeout_at = call.received + call.timeout;
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(timeout_at - clock::now());
  net::peer_call out;
  out.function = call.invocation.function;
  out.path_rest = call.invocation.path_rest;
  out.query = call.raw_query;
  out.content_type = call.invocation.content_type;
  out.headers = call.invocation.headers;
  out.payload = call.invocation.payload;  // kept: a call that never reached the peer runs here
  out.call_id = call.call_id;
  out.traceparent = call.traceparent;
  out.timeout_ms = static_cast<std::uint32_t>(std::max<std::int64_t>(1, left.count()));
  if (call.deadline) {
    out.deadline_seconds =
        std::max(1e-6, call.deadline->count() - seconds_between(call.received, clock::now()));
  }
  out.path = call.path;
  out.path.push_back(self_id_);

  net::peer_outcome sent = co_await network_->forward(peer, std::move(out), timeout_at);
  result.forwarded_to = peer.id;
  if (sent.error == net::peer_error::connect_failed ||
      sent.error == net::peer_error::unauthorized) {
    // The call never reached the peer, so running it here cannot run it twice.
    co_return co_await run_local(call, std::move(result));
  }
  result.place = call_place::peer;
  result.total_seconds = seconds_between(call.received, clock::now());
  if (sent.error != net::peer_error::none) {
    switch (sent.error) {
      case net::peer_error::timed_out:
        result = error_result(std::move(result), 504, call_outcome::timed_out, "timed_out",
                              "no answer from " + peer.id + " within the call's timeout");
        break;
      case net::peer_error::shut_down:
        result = error_result(std::move(result), 503, call_outcome::shut_down, "draining",
                              "the node is shutting down");
        break;
      default:
        result =
            error_result(std::move(result), 502, call_outcome::peer_failed, "peer_failed",
                         "peer " + peer.id + " failed while running the call: " + sent.message);
        break;
    }
    result.executed_on = peer.id;
    result.route = {{self_id_, result.total_seconds, result.scheduling_seconds, 0}};
    co_return result;
  }

  net::peer_reply& reply = sent.reply;
  if (reply.outcome == to_string(call_outcome::shut_down) && !reply.executed) {
    // The peer is draining and did not run it (it had not told us it was leaving yet).
    co_return co_await run_local(call, std::move(result));
  }
  result.status = reply.status;
  result.body = std::move(reply.body);
  result.content_type = std::move(reply.content_type);
  result.outcome = outcome_named(reply.outcome);
  result.executed = reply.executed;
  result.execution_seconds = reply.execution_seconds;
  result.cold_start = reply.cold_start;
  result.executed_on = std::move(reply.executed_on);
  if (reply.retry_after_seconds > 0) result.retry_after_seconds = reply.retry_after_seconds;
  if (call.deadline)
    result.deadline_met =
        result.outcome == call_outcome::ok && result.total_seconds <= call.deadline->count();
  result.route = {{self_id_, result.total_seconds, result.scheduling_seconds, 0}};
  for (std::size_t i = 0; i < reply.path.size(); ++i) {
    auto at = [i](const std::vector<double>& list) { return i < list.size() ? list[i] : 0.0; };
    result.route.push_back({std::move(reply.path[i]), at(reply.total_seconds),
                            at(reply.scheduling_seconds), at(reply.probing_seconds)});
  }
  co_return result;
}

asio::awaitable<call_result> dispatcher::run_local(call_request& call, call_result result) {
  const clock::time_point timeout_at = call.received + call.timeout;
  workloads::execution done = co_await async_execute(executor_, std::move(call.invocation),
                                                     timeout_at, asio::use_awaitable);
  result.status = done.result.status;
  result.body = std::move(done.result.body);
  result.content_type = std::move(done.result.content_type);
  result.outcome = outcome_of(done);
  result.executed = done.outcome == workloads::outcome::completed;
  result.execution_seconds = std::chrono::duration<double>(done.run_time).count();
  result.cold_start = done.cold_start;
  result.place = call_place::here;
  result.executed_on = self_id_;
  result.total_seconds = seconds_between(call.received, clock::now());
  if (call.deadline)
    result.deadline_met =
        result.outcome == call_outcome::ok && result.total_seconds <= call.deadline->count();
  if (result.outcome == call_outcome::full) {
    // A useful hint rather than a constant: roughly when a slot should be free again.
    workloads::load load = executor_.current_load();
    double wait = load.recent_service_seconds * (load.queued + 1) / std::max(1, load.slots);
    result.retry_after_seconds = std::max(1, static_cast<int>(std::ceil(wait)));
  }
  result.route = {
      {self_id_, result.total_seconds, result.scheduling_seconds, result.probing_seconds}};
  co_return result;
}

}  // namespace p2pfaas::scheduler
