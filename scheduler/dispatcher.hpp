#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

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
  int task_type = 0;  // for a learning policy
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
  // Set by the deciding policy (X-P2pfaas-Scheduler-Learning-*).
  std::vector<std::pair<std::string, std::string>> headers;
};

// How a decision ended, as the decisions metric names it.
enum class decision_outcome {
  local,      // ran (or queued) here as decided
  forwarded,  // the first chosen peer took it
  rejected,   // refused by the policy or a header (503)
  fallback,   // a chosen peer refused or could not be reached: another peer or this node took
              // over, or nobody could (429)
};
std::string_view to_string(decision_outcome outcome);

// Why a forward did not reach a peer that ran it, as the forward-failures metric names it.
enum class forward_failure {
  connect_failed,  // no link (refused, unreachable, in backoff, bad credentials)
  link_lost,       // the link died with the call on it (502: it may have run)
  timed_out,       // no answer within the call's timeout (504)
  peer_full,       // the peer answered 429 without running it
  peer_rejected,   // the peer's policy rejected it (503)
  peer_draining,   // the peer is shutting down
  other,
};
std::string_view to_string(forward_failure failure);

// What the dispatcher reports as it goes; the node turns it into metrics. Called from I/O
// threads concurrently.
class dispatch_observer {
 public:
  virtual ~dispatch_observer() = default;
  // `policy` is the deciding policy's name, or "header" for X-P2pfaas-Scheduler-* decisions.
  virtual void decided(std::string_view policy, decision_outcome outcome) = 0;
  virtual void probed(double seconds, bool answered) = 0;
  virtual void forward_failed(forward_failure failure) = 0;
};

// decide -> run here / forward (with one fallback) / reject. The policy can be replaced at any
// time; a call keeps the policy it started with.
class dispatcher {
 public:
  // Without a network (no cluster key), a forward decision runs the call here.
  dispatcher(workloads::executor& executor, std::string self_id, peer_network* network = nullptr,
             std::function<std::uint64_t()> random = {}, dispatch_observer* observer = nullptr);

  void set_policy(std::shared_ptr<policy> next);
  std::shared_ptr<policy> current_policy() const;
  // How long a policy waits for peers to tell their load.
  void set_probe_timeout(std::chrono::steady_clock::duration timeout);

  boost::asio::awaitable<call_result> dispatch(call_request call);

  // Calls this node has sent to `peer` and not yet had answered.
  int outstanding(const std::string& peer) const;

  class view;  // the cluster_view a policy gets for one call; defined in dispatcher.cpp

 private:
  boost::asio::awaitable<call_result> forward(call_request& call, call_result result,
                                              std::vector<peer_info> peers);
  boost::asio::awaitable<call_result> run_local(call_request& call, call_result result);
  // The peer's answer, or nullopt when the call surely did not run there (never sent, or refused
  // unrun), with why in `failure`.
  boost::asio::awaitable<std::optional<call_result>> run_on_peer(call_request& call,
                                                                 const call_result& result,
                                                                 const peer_info& peer,
                                                                 forward_failure& failure);
  call_result finish_remote(call_request& call, call_result result, net::peer_reply& reply);
  local_load current_load() const;
  std::uint64_t draw();
  void decided(std::string_view policy, decision_outcome outcome) {
    if (observer_) observer_->decided(policy, outcome);
  }

  workloads::executor& executor_;
  const std::string self_id_;
  peer_network* const network_;
  dispatch_observer* const observer_;
  std::function<std::uint64_t()> random_;
  std::mutex random_mutex_;
  // A plain mutex rather than std::atomic<std::shared_ptr>: libstdc++ 12's version has a data
  // race between load and store (its lock release is relaxed). Held to copy one pointer.
  mutable std::mutex policy_mutex_;
  std::shared_ptr<policy> policy_;
  std::atomic<std::chrono::steady_clock::duration::rep> probe_timeout_;
  mutable std::mutex outstanding_mutex_;  // guards the two maps below
  std::unordered_map<std::string, int> outstanding_;
  // Per peer, the gossiped record last seen and this node's calls outstanding there then, which
  // the record counts already (roughly: it was made a little earlier).
  struct record_seen {
    std::uint64_t version = 0;
    int outstanding = 0;
  };
  std::unordered_map<std::string, record_seen> records_;
};

}  // namespace p2pfaas::scheduler
