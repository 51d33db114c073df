#include "scheduler/dispatcher.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <nlohmann/json.hpp>

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

}  // namespace

dispatcher::dispatcher(workloads::executor& executor) : executor_(executor) {}

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
      chosen = active->decide({call.invocation.function, call.hops}, current_load());
      break;
  }
  result.scheduling_seconds = seconds_between(decide_start, clock::now());

  if (chosen.what == action::reject) {
    result.status = 503;
    result.outcome = call_outcome::rejected;
    result.body =
        nlohmann::json{{"code", "rejected"},
                       {"message", call.forced == forced_decision::reject
                                       ? "rejected on request (X-P2pfaas-Scheduler-Reject)"
                                       : "rejected by " + result.policy_name}}
            .dump();
    result.total_seconds = seconds_between(call.received, clock::now());
    co_return result;
  }
  // A forward needs a peer; this node knows none (membership arrives with clustering), and a
  // call with no peer to go to runs here, as ForwardScheduler does in P2PFaaS.
  co_return co_await run_local(call, std::move(result));
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
  co_return result;
}

}  // namespace p2pfaas::scheduler
