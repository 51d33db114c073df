#include "scheduler/dispatcher.hpp"

#include <algorithm>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "scheduler/forwarding_schedulers.hpp"

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

std::string_view to_string(decision_outcome outcome) {
  switch (outcome) {
    case decision_outcome::local:
      return "local";
    case decision_outcome::forwarded:
      return "forwarded";
    case decision_outcome::rejected:
      return "rejected";
    case decision_outcome::fallback:
      return "fallback";
  }
  return "unknown";
}

std::string_view to_string(forward_failure failure) {
  switch (failure) {
    case forward_failure::connect_failed:
      return "connect_failed";
    case forward_failure::link_lost:
      return "link_lost";
    case forward_failure::timed_out:
      return "timed_out";
    case forward_failure::peer_full:
      return "peer_full";
    case forward_failure::peer_rejected:
      return "peer_rejected";
    case forward_failure::peer_draining:
      return "peer_draining";
    case forward_failure::other:
      return "other";
  }
  return "unknown";
}

// The cluster as one call's policy sees it. Lives on the dispatching coroutine's frame and is
// used from that coroutine only.
class dispatcher::view final : public cluster_view {
 public:
  view(dispatcher& owner, const call_request& call, clock::time_point timeout_at)
      : owner_(owner), call_(call), timeout_at_(timeout_at) {}

  const std::vector<peer_info>& candidates() const override {
    // Built on first use: most decisions to run here never look at peers.
    if (!candidates_) candidates_ = build_candidates();
    return *candidates_;
  }

  asio::awaitable<std::vector<std::optional<peer_load>>> probe(
      std::vector<peer_info> peers) override {
    std::vector<std::optional<peer_load>> loads(peers.size());
    if (peers.empty() || !owner_.network_) co_return loads;
    const clock::time_point started = clock::now();
    const clock::time_point deadline =
        std::min(timeout_at_,
                 started + clock::duration(owner_.probe_timeout_.load(std::memory_order_relaxed)));
    using probe_op = decltype(asio::co_spawn(
        std::declval<asio::any_io_executor>(),
        std::declval<asio::awaitable<std::optional<peer_load>>>(), asio::deferred));
    std::vector<probe_op> probes;
    const auto executor = co_await asio::this_coro::executor;
    for (const auto& peer : peers) {
      probes.push_back(
          asio::co_spawn(executor, owner_.network_->probe_load(peer, deadline), asio::deferred));
    }
    auto [order, errors, answers] =
        co_await asio::experimental::make_parallel_group(std::move(probes))
            .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    (void)order;
    const double seconds = seconds_between(started, clock::now());
    probing_seconds_ += seconds;
    for (std::size_t i = 0; i < peers.size(); ++i) {
      if (!errors[i]) loads[i] = answers[i];
      if (owner_.observer_) owner_.observer_->probed(seconds, loads[i].has_value());
    }
    co_return loads;
  }

  double probing_seconds() const { return probing_seconds_; }

 private:
  std::vector<peer_info> build_candidates() const {
    std::vector<peer_info> peers;
    if (!owner_.network_) return peers;
    peers = owner_.network_->alive_peers();
    // Never back to a node the call has already been through (nor to this one): a loop would
    // only burn the call's time.
    std::erase_if(peers, [&](const peer_info& p) {
      return p.id == owner_.self_id_ ||
             std::find(call_.path.begin(), call_.path.end(), p.id) != call_.path.end();
    });
    std::sort(peers.begin(), peers.end(),
              [](const peer_info& a, const peer_info& b) { return a.id < b.id; });
    // A gossiped record is a few hundred ms old. This node knows better for its own calls: it
    // takes from the record the load of others (what it holds beyond this node's calls
    // outstanding when the record was first seen) and adds its own calls outstanding now.
    // Without it, a record made while this node kept a peer busy reads "busy" long after, and a
    // record made before a burst reads "idle" during it.
    std::lock_guard lock(owner_.outstanding_mutex_);
    for (auto& p : peers) {
      auto it = owner_.outstanding_.find(p.id);
      const int mine = it == owner_.outstanding_.end() ? 0 : it->second;
      auto& seen = owner_.records_[p.id];
      if (seen.version != p.load.version || p.load.version == 0) seen = {p.load.version, mine};
      const int others = std::max(0, p.load.total() - seen.outstanding);
      const int estimate = others + mine;
      p.load.running = std::min(p.load.running, estimate);
      p.load.queued = estimate - p.load.running;
    }
    return peers;
  }

  dispatcher& owner_;
  const call_request& call_;
  const clock::time_point timeout_at_;
  mutable std::optional<std::vector<peer_info>> candidates_;
  double probing_seconds_ = 0;
};

dispatcher::dispatcher(workloads::executor& executor, std::string self_id, peer_network* network,
                       std::function<std::uint64_t()> random, dispatch_observer* observer)
    : executor_(executor),
      self_id_(std::move(self_id)),
      network_(network),
      observer_(observer),
      random_(random ? std::move(random) : [] {
        thread_local std::mt19937_64 engine{std::random_device{}()};
        return engine();
      }),
      probe_timeout_(std::chrono::duration_cast<clock::duration>(std::chrono::milliseconds(50))
                         .count()) {}

void dispatcher::set_policy(std::shared_ptr<policy> next) {
  std::lock_guard lock(policy_mutex_);
  policy_ = std::move(next);
}

std::shared_ptr<policy> dispatcher::current_policy() const {
  std::lock_guard lock(policy_mutex_);
  return policy_;
}

void dispatcher::set_probe_timeout(clock::duration timeout) {
  probe_timeout_.store(timeout.count(), std::memory_order_relaxed);
}

int dispatcher::outstanding(const std::string& peer) const {
  std::lock_guard lock(outstanding_mutex_);
  auto it = outstanding_.find(peer);
  return it == outstanding_.end() ? 0 : it->second;
}

local_load dispatcher::current_load() const {
  workloads::load load = executor_.current_load();
  return {load.running, load.queued, load.slots, load.queue_capacity, load.recent_service_seconds};
}

std::uint64_t dispatcher::draw() {
  std::lock_guard lock(random_mutex_);
  return random_();
}

asio::awaitable<call_result> dispatcher::dispatch(call_request call) {
  call_result result;
  std::shared_ptr<policy> active = current_policy();
  result.policy_name = std::string(active->name());
  const clock::time_point timeout_at = call.received + call.timeout;

  const clock::time_point decide_start = clock::now();
  view cluster(*this, call, timeout_at);
  decision chosen;
  std::string_view decided_by = "header";
  switch (call.forced) {
    case forced_decision::bypass:
      chosen = {action::run_local, {}};
      break;
    case forced_decision::reject:
      chosen = {action::reject, {}};
      break;
    case forced_decision::forward:
      // A forward with no peer to go to runs here, as ForwardScheduler does in P2PFaaS.
      chosen = {action::forward, pick_random(cluster.candidates(), 2, [this] { return draw(); })};
      break;
    case forced_decision::none: {
      call_context context{
          call.invocation.function, static_cast<int>(call.path.size()), {}, call.task_type};
      if (call.deadline) {
        context.deadline_left_seconds =
            call.deadline->count() - seconds_between(call.received, decide_start);
      }
      chosen = co_await active->decide(context, current_load(), cluster);
      decided_by = result.policy_name;
      break;
    }
  }
  result.probing_seconds = cluster.probing_seconds();
  result.scheduling_seconds = seconds_between(decide_start, clock::now());

  if (chosen.what == action::reject) {
    decided(decided_by, decision_outcome::rejected);
    const std::string why = call.forced == forced_decision::reject
                                ? "rejected on request (X-P2pfaas-Scheduler-Reject)"
                                : "rejected by " + result.policy_name;
    result = error_result(std::move(result), 503, call_outcome::rejected, "rejected", why);
    result.place = call_place::nowhere;
    result.total_seconds = seconds_between(call.received, clock::now());
    result.route = {
        {self_id_, result.total_seconds, result.scheduling_seconds, result.probing_seconds}};
  } else if (chosen.what == action::forward && network_ && !chosen.peers.empty()) {
    result = co_await forward(call, std::move(result), std::move(chosen.peers));
  } else {
    decided(decided_by, decision_outcome::local);
    result = co_await run_local(call, std::move(result));
  }
  result.headers = std::move(chosen.response_headers);
  if (chosen.on_finished) {
    chosen.on_finished({result.status, chosen.what == action::reject, result.deadline_met});
  }
  co_return result;
}

asio::awaitable<call_result> dispatcher::forward(call_request& call, call_result result,
                                                 std::vector<peer_info> peers) {
  const std::string_view decided_by =
      call.forced == forced_decision::none ? std::string_view(result.policy_name) : "header";
  const clock::time_point timeout_at = call.received + call.timeout;
  std::string refusals;
  // The first choice, then at most one other: more would spend the call's time going around.
  for (std::size_t i = 0; i < std::min<std::size_t>(2, peers.size()); ++i) {
    if (i > 0 && clock::now() >= timeout_at) break;
    forward_failure failure = forward_failure::other;
    std::optional<call_result> answered = co_await run_on_peer(call, result, peers[i], failure);
    if (answered) {
      decided(decided_by, i == 0 ? decision_outcome::forwarded : decision_outcome::fallback);
      co_return std::move(*answered);
    }
    if (observer_) observer_->forward_failed(failure);
    refusals +=
        (refusals.empty() ? "" : ", ") + peers[i].id + " (" + std::string(to_string(failure)) + ")";
  }
  // Nobody else took it: here, if the executor has room; its own "full" answer (429) otherwise.
  decided(decided_by, decision_outcome::fallback);
  result = co_await run_local(call, std::move(result));
  if (result.outcome == call_outcome::full) {
    result.body = nlohmann::json{{"code", "full"},
                                 {"message",
                                  "no slot or queue space here, and no peer took the "
                                  "call: " +
                                      refusals}}
                      .dump();
  }
  co_return result;
}

asio::awaitable<std::optional<call_result>> dispatcher::run_on_peer(call_request& call,
                                                                    const call_result& before,
                                                                    const peer_info& peer,
                                                                    forward_failure& failure) {
  const clock::time_point timeout_at = call.received + call.timeout;
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(timeout_at - clock::now());
  net::peer_call out;
  out.function = call.invocation.function;
  out.path_rest = call.invocation.path_rest;
  out.query = call.raw_query;
  out.content_type = call.invocation.content_type;
  out.headers = call.invocation.headers;
  out.payload = call.invocation.payload;  // kept: a call that never ran there may run here
  out.call_id = call.call_id;
  out.traceparent = call.traceparent;
  out.timeout_ms = static_cast<std::uint32_t>(std::max<std::int64_t>(1, left.count()));
  if (call.deadline) {
    out.deadline_seconds =
        std::max(1e-6, call.deadline->count() - seconds_between(call.received, clock::now()));
  }
  out.path = call.path;
  out.path.push_back(self_id_);

  {
    std::lock_guard lock(outstanding_mutex_);
    ++outstanding_[peer.id];
  }
  net::peer_outcome sent = co_await network_->forward(peer, std::move(out), timeout_at);
  {
    std::lock_guard lock(outstanding_mutex_);
    if (auto it = outstanding_.find(peer.id); it != outstanding_.end() && --it->second <= 0) {
      outstanding_.erase(it);
    }
  }

  call_result result = before;
  result.forwarded_to = peer.id;
  switch (sent.error) {
    case net::peer_error::none:
      break;
    case net::peer_error::connect_failed:
    case net::peer_error::unauthorized:
      // The call never reached the peer, so running it elsewhere cannot run it twice.
      failure = forward_failure::connect_failed;
      co_return std::nullopt;
    default: {
      result.place = call_place::peer;
      result.total_seconds = seconds_between(call.received, clock::now());
      if (sent.error == net::peer_error::timed_out) {
        failure = forward_failure::timed_out;
        result = error_result(std::move(result), 504, call_outcome::timed_out, "timed_out",
                              "no answer from " + peer.id + " within the call's timeout");
      } else if (sent.error == net::peer_error::shut_down) {
        failure = forward_failure::other;
        result = error_result(std::move(result), 503, call_outcome::shut_down, "draining",
                              "the node is shutting down");
      } else {
        // It may have run there: trying it again elsewhere could run it twice.
        failure = forward_failure::link_lost;
        result =
            error_result(std::move(result), 502, call_outcome::peer_failed, "peer_failed",
                         "peer " + peer.id + " failed while running the call: " + sent.message);
      }
      if (observer_) observer_->forward_failed(failure);
      result.executed_on = peer.id;
      result.route = {
          {self_id_, result.total_seconds, result.scheduling_seconds, result.probing_seconds}};
      co_return result;
    }
  }

  net::peer_reply& reply = sent.reply;
  if (!reply.executed) {
    const call_outcome outcome = outcome_named(reply.outcome);
    if (outcome == call_outcome::full || outcome == call_outcome::rejected ||
        outcome == call_outcome::shut_down) {
      failure = outcome == call_outcome::full       ? forward_failure::peer_full
                : outcome == call_outcome::rejected ? forward_failure::peer_rejected
                                                    : forward_failure::peer_draining;
      co_return std::nullopt;
    }
  }
  co_return finish_remote(call, std::move(result), reply);
}

call_result dispatcher::finish_remote(call_request& call, call_result result,
                                      net::peer_reply& reply) {
  result.place = call_place::peer;
  result.total_seconds = seconds_between(call.received, clock::now());
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
  result.route = {
      {self_id_, result.total_seconds, result.scheduling_seconds, result.probing_seconds}};
  for (std::size_t i = 0; i < reply.path.size(); ++i) {
    auto at = [i](const std::vector<double>& list) { return i < list.size() ? list[i] : 0.0; };
    result.route.push_back({std::move(reply.path[i]), at(reply.total_seconds),
                            at(reply.scheduling_seconds), at(reply.probing_seconds)});
  }
  return result;
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
  result.forwarded_to.clear();
  result.total_seconds = seconds_between(call.received, clock::now());
  if (call.deadline)
    result.deadline_met =
        result.outcome == call_outcome::ok && result.total_seconds <= call.deadline->count();
  if (result.outcome == call_outcome::full || result.status == 429) {
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
