#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "scheduler/policy.hpp"
#include "workloads/executor.hpp"

namespace p2pfaas::scheduler {

// Request headers that force a decision (X-P2pfaas-Scheduler-Bypass/-Forward/-Reject).
enum class forced_decision { none, bypass, forward, reject };

struct call_request {
  workloads::invocation invocation;
  forced_decision forced = forced_decision::none;
  std::chrono::steady_clock::time_point received = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration timeout = std::chrono::seconds(30);
  std::optional<std::chrono::duration<double>> deadline;  // soft target, counted, never enforced
  int hops = 0;
};

// How a call ended, as metrics and logs name it.
enum class call_outcome {
  ok,
  client_error,
  function_error,
  full,
  rejected,
  timed_out,
  not_found,
  shut_down
};
std::string_view to_string(call_outcome outcome);

struct call_result {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  call_outcome outcome = call_outcome::ok;
  bool executed = false;  // the function body ran here to completion
  std::string policy_name;
  double scheduling_seconds = 0;
  double probing_seconds = 0;
  double execution_seconds = 0;
  double total_seconds = 0;
  bool cold_start = false;
  std::optional<bool> deadline_met;        // when the call had a deadline
  std::optional<int> retry_after_seconds;  // with 429
};

// decide -> run here / forward / reject. The policy can be replaced at any time; a call keeps the
// policy it started with.
class dispatcher {
 public:
  explicit dispatcher(workloads::executor& executor);

  void set_policy(std::shared_ptr<policy> next);
  std::shared_ptr<policy> current_policy() const;

  boost::asio::awaitable<call_result> dispatch(call_request call);

 private:
  boost::asio::awaitable<call_result> run_local(call_request& call, call_result result);
  local_load current_load() const;

  workloads::executor& executor_;
  // A plain mutex rather than std::atomic<std::shared_ptr>: libstdc++ 12's version has a data
  // race between load and store (its lock release is relaxed). Held to copy one pointer.
  mutable std::mutex policy_mutex_;
  std::shared_ptr<policy> policy_;
};

}  // namespace p2pfaas::scheduler
