#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "scheduler/peer_network.hpp"
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
  std::string raw_query;  // as received, what a peer gets to parse again
  std::string call_id;
  std::string traceparent;
  // Nodes the call went through before this one, origin first; empty for a call from a client.
  std::vector<std::string> path;
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
  shut_down,
  peer_failed,  // the peer running it failed (502)
};
std::string_view to_string(call_outcome outcome);

// One node's share of a call's time, as the X-P2pfaas-Timing-*-List headers show it.
struct node_timing {
  std::string node;
  double total_seconds = 0;
  double scheduling_seconds = 0;
  double probing_seconds = 0;
};

enum class call_place { here, peer, nowhere };
std::string_view to_string(call_place place);

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
  call_place place = call_place::here;     // where the function ran (or was to run)
  std::string executed_on;                 // node id that ran it
  // This node first, then every node the call was forwarded through (all of them when it came
  // back from a peer); origin-first lists are built from it.
  std::vector<node_timing> route;
  std::string forwarded_to;  // peer this node handed the call to, if it did
};

// decide -> run here / forward / reject. The policy can be replaced at any time; a call keeps the
// policy it started with.
class dispatcher {
 public:
  // Without a network (no cluster key), a forward decision runs the call here.
  dispatcher(workloads::executor& executor, std::string self_id, peer_network* network = nullptr,
             std::function<std::uint64_t()> random = {});

  void set_policy(std::shared_ptr<policy> next);
  std::shared_ptr<policy> current_policy() const;

  boost::asio::awaitable<call_result> dispatch(call_request call);

 private:
  boost::asio::awaitable<call_result> run_local(call_request& call, call_result result);
  boost::asio::awaitable<call_result> run_on_peer(call_request& call, call_result result,
                                                  const peer_info& peer);
  // A random alive peer not on the call's path, if there is one.
  std::optional<peer_info> pick_peer(const call_request& call, const std::string& wanted);
  local_load current_load() const;

  workloads::executor& executor_;
  const std::string self_id_;
  peer_network* const network_;
  std::function<std::uint64_t()> random_;
  std::mutex random_mutex_;
  // A plain mutex rather than std::atomic<std::shared_ptr>: libstdc++ 12's version has a data
  // race between load and store (its lock release is relaxed). Held to copy one pointer.
  mutable std::mutex policy_mutex_;
  std::shared_ptr<policy> policy_;
};

}  // namespace p2pfaas::scheduler
