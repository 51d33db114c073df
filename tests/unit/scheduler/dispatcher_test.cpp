#include "scheduler/dispatcher.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_future.hpp>
#include <condition_variable>
#include <future>
#include <map>
#include <thread>

#include "scheduler/no_scheduler.hpp"
#include "scheduler/power_of_n_scheduler.hpp"
#include "tests/support/daemon_process.hpp"

namespace p2pfaas::scheduler {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// A gate that test functions wait on, so a test decides when a slot frees up.
struct gate {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> waiting{0};
  void release() {
    std::lock_guard lock(mutex);
    open = true;
    cv.notify_all();
  }
};

// Peers as a test declares them; records what is sent and answers what the test says.
class fake_network : public peer_network {
 public:
  std::vector<peer_info> peers;
  net::peer_outcome answer;
  std::map<std::string, net::peer_outcome> answer_of;  // per peer, over `answer`
  std::vector<std::pair<std::string, net::peer_call>> sent;
  std::map<std::string, peer_load> loads;  // probe answers; a peer not here does not answer
  std::vector<std::string> probed;
  std::chrono::steady_clock::duration probe_delay{};

  std::chrono::steady_clock::duration forward_delay{};

  std::vector<peer_info> alive_peers() const override { return peers; }
  asio::awaitable<net::peer_outcome> forward(const peer_info& peer, net::peer_call call,
                                             std::chrono::steady_clock::time_point) override {
    sent.emplace_back(peer.id, std::move(call));
    if (forward_delay > std::chrono::steady_clock::duration::zero()) {
      asio::steady_timer wait(co_await asio::this_coro::executor, forward_delay);
      co_await wait.async_wait(asio::use_awaitable);
    }
    auto it = answer_of.find(peer.id);
    co_return it == answer_of.end() ? answer : it->second;
  }
  asio::awaitable<std::optional<peer_load>> probe_load(
      const peer_info& peer, std::chrono::steady_clock::time_point deadline) override {
    probed.push_back(peer.id);
    asio::steady_timer wait(co_await asio::this_coro::executor);
    wait.expires_at(std::min(deadline, std::chrono::steady_clock::now() + probe_delay));
    co_await wait.async_wait(asio::use_awaitable);
    auto it = loads.find(peer.id);
    if (it == loads.end() || std::chrono::steady_clock::now() >= deadline) co_return std::nullopt;
    co_return it->second;
  }
};

// Counts what the dispatcher reports.
class counting_observer : public dispatch_observer {
 public:
  std::mutex mutex;
  std::map<std::pair<std::string, std::string>, int> decisions;
  std::vector<std::pair<double, bool>> probes;
  std::vector<forward_failure> failures;
  void decided(std::string_view policy, decision_outcome outcome) override {
    std::lock_guard lock(mutex);
    ++decisions[{std::string(policy), std::string(to_string(outcome))}];
  }
  void probed(double seconds, bool answered) override {
    std::lock_guard lock(mutex);
    probes.emplace_back(seconds, answered);
  }
  void forward_failed(forward_failure failure) override {
    std::lock_guard lock(mutex);
    failures.push_back(failure);
  }
};

class DispatcherTest : public ::testing::Test {
 protected:
  DispatcherTest() {
    functions_.add("ok", [](const workloads::invocation&, workloads::function_context&) {
      return workloads::function_result{200, R"({"ok":true})"};
    });
    functions_.add("bad", [](const workloads::invocation&, workloads::function_context&) {
      return workloads::function_result{400, R"({"code":"bad_parameter"})"};
    });
    functions_.add("hold", [this](const workloads::invocation&, workloads::function_context& ctx) {
      ++gate_.waiting;
      std::unique_lock lock(gate_.mutex);
      gate_.cv.wait_for(lock, 10s, [&] { return gate_.open || ctx.stop.stop_requested(); });
      return workloads::function_result{200, "{}"};
    });
    functions_.add("slow", [](const workloads::invocation&, workloads::function_context&) {
      std::this_thread::sleep_for(30ms);
      return workloads::function_result{200, "{}"};
    });
  }
  ~DispatcherTest() override {
    gate_.release();
    executor_.reset();
    work_.reset();
    io_thread_.join();
  }

  void make(int slots, int queue, std::vector<std::string> params = {"false"}) {
    executor_ = std::make_unique<workloads::executor>(
        functions_, workloads::executor_limits{.slots = slots, .queue = queue});
    dispatcher_ = std::make_unique<dispatcher>(
        *executor_, "self", network_.get(), [] { return std::uint64_t{1}; }, &observer_);
    dispatcher_->set_policy(no_scheduler::make(params, {}).built);
  }

  std::unique_ptr<fake_network> network_;
  counting_observer observer_;

  std::future<call_result> start(std::string function,
                                 forced_decision forced = forced_decision::none,
                                 std::chrono::milliseconds timeout = 10s,
                                 std::optional<std::chrono::duration<double>> deadline = {}) {
    call_request call;
    call.invocation.function = std::move(function);
    call.forced = forced;
    call.timeout = timeout;
    call.deadline = deadline;
    return asio::co_spawn(io_, dispatcher_->dispatch(std::move(call)), asio::use_future);
  }

  workloads::function_registry functions_;
  gate gate_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::thread io_thread_{[this] { io_.run(); }};
  std::unique_ptr<workloads::executor> executor_;
  std::unique_ptr<dispatcher> dispatcher_;
};

TEST_F(DispatcherTest, RunsLocallyAndReportsTheOutcome) {
  make(1, 0);
  call_result r = start("ok").get();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.outcome, call_outcome::ok);
  EXPECT_TRUE(r.executed);
  EXPECT_EQ(r.policy_name, "NoScheduler");
  EXPECT_EQ(r.body, R"({"ok":true})");
  EXPECT_GE(r.total_seconds, r.execution_seconds);
  EXPECT_FALSE(r.deadline_met.has_value());
}

TEST_F(DispatcherTest, ResumesOnTheIoThreadNotAWorker) {
  make(1, 0);
  call_request call;
  call.invocation.function = "ok";
  auto on_io_thread = asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<bool> {
        co_await dispatcher_->dispatch(std::move(call));
        co_return std::this_thread::get_id() == io_thread_.get_id();
      },
      asio::use_future);
  EXPECT_TRUE(on_io_thread.get());
}

TEST_F(DispatcherTest, FunctionErrorStatusIsKept) {
  make(1, 0);
  call_result r = start("bad").get();
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.outcome, call_outcome::client_error);
}

TEST_F(DispatcherTest, RejectHeaderAnswers503WithoutRunning) {
  make(1, 0);
  call_result r = start("ok", forced_decision::reject).get();
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.outcome, call_outcome::rejected);
  EXPECT_FALSE(r.executed);
  EXPECT_NE(r.body.find("X-P2pfaas-Scheduler-Reject"), std::string::npos);
}

TEST_F(DispatcherTest, FullAnswers429WithRetryAfter) {
  make(1, 0);
  auto held = start("hold");
  ASSERT_TRUE(testing::eventually([&] { return gate_.waiting == 1; }));
  call_result r = start("ok").get();
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.outcome, call_outcome::full);
  ASSERT_TRUE(r.retry_after_seconds);
  EXPECT_GE(*r.retry_after_seconds, 1);
  gate_.release();
  EXPECT_EQ(held.get().status, 200);
}

TEST_F(DispatcherTest, BypassStillQueuesBehindABusySlot) {
  make(1, 1, {"true"});
  auto held = start("hold");
  ASSERT_TRUE(testing::eventually([&] { return gate_.waiting == 1; }));
  // With loss=true the policy would reject; bypass runs here, so the call waits in the queue.
  auto bypassed = start("ok", forced_decision::bypass);
  EXPECT_EQ(start("ok").get().status, 503);
  gate_.release();
  EXPECT_EQ(bypassed.get().status, 200);
  EXPECT_EQ(held.get().status, 200);
}

TEST_F(DispatcherTest, TimeoutAnswers504) {
  make(1, 0);
  call_result r = start("hold", forced_decision::none, 50ms).get();
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(r.outcome, call_outcome::timed_out);
}

TEST_F(DispatcherTest, DeadlineMetOrMissed) {
  make(2, 0);
  EXPECT_EQ(start("ok", forced_decision::none, 10s, std::chrono::duration<double>(5.0))
                .get()
                .deadline_met,
            true);
  EXPECT_EQ(start("slow", forced_decision::none, 10s, std::chrono::duration<double>(0.001))
                .get()
                .deadline_met,
            false);
}

TEST_F(DispatcherTest, PolicySwitchLeavesCallsInFlightAlone) {
  make(1, 1);
  auto held = start("hold");
  ASSERT_TRUE(testing::eventually([&] { return gate_.waiting == 1; }));
  dispatcher_->set_policy(no_scheduler::make({"true"}, {}).built);
  EXPECT_EQ(start("ok").get().status, 503);  // the new policy decides new calls
  gate_.release();
  call_result r = held.get();
  EXPECT_EQ(r.status, 200);  // the old call finished normally
}

class ForwardTest : public DispatcherTest {
 protected:
  ForwardTest() {
    network_ = std::make_unique<fake_network>();
    network_->peers = {{"b", "127.0.0.1:2", {0, 0, 1, 0}}, {"c", "127.0.0.1:3", {0, 0, 1, 0}}};
    network_->answer.reply.status = 200;
    network_->answer.reply.body = "from c";
    network_->answer.reply.outcome = "ok";
    network_->answer.reply.executed = true;
    network_->answer.reply.executed_on = "d";
    network_->answer.reply.path = {"c", "d"};
    network_->answer.reply.total_seconds = {0.5, 0.25};
    network_->answer.reply.scheduling_seconds = {0.01, 0.02};
    network_->answer.reply.probing_seconds = {0, 0.03};
    network_->answer.reply.execution_seconds = 0.2;
    make(1, 0);
  }

  call_result forward(std::vector<std::string> path = {"b"}) {
    call_request call;
    call.invocation.function = "ok";
    call.invocation.path_rest = "x/y";
    call.invocation.payload = "payload";
    call.invocation.content_type = "text/plain";
    call.invocation.headers = {{"X-Custom", "1"}};
    call.raw_query = "n=5&m=a%20b";
    call.call_id = "id-1";
    call.traceparent = "00-abc-def-01";
    call.forced = forced_decision::forward;
    call.timeout = 10s;
    call.deadline = std::chrono::duration<double>(2.0);
    call.path = std::move(path);
    return asio::co_spawn(io_, dispatcher_->dispatch(std::move(call)), asio::use_future).get();
  }
};

TEST_F(ForwardTest, EverythingAboutTheCallTravelsAndNeverBackAlongItsPath) {
  call_result r = forward({"b"});
  ASSERT_EQ(network_->sent.size(), 1U);
  const auto& [peer, sent] = network_->sent[0];
  EXPECT_EQ(peer, "c");  // b is already on the path
  EXPECT_EQ(sent.function, "ok");
  EXPECT_EQ(sent.path_rest, "x/y");
  EXPECT_EQ(sent.payload, "payload");
  EXPECT_EQ(sent.content_type, "text/plain");
  EXPECT_EQ(sent.query, "n=5&m=a%20b");
  EXPECT_EQ(sent.headers, (std::vector<std::pair<std::string, std::string>>{{"X-Custom", "1"}}));
  EXPECT_EQ(sent.call_id, "id-1");
  EXPECT_EQ(sent.traceparent, "00-abc-def-01");
  EXPECT_EQ(sent.path, (std::vector<std::string>{"b", "self"}));
  EXPECT_GT(sent.timeout_ms, 9000U);
  EXPECT_LE(sent.timeout_ms, 10000U);
  EXPECT_GT(sent.deadline_seconds, 1.9);
  EXPECT_LE(sent.deadline_seconds, 2.0);
  EXPECT_EQ(r.place, call_place::peer);
  EXPECT_EQ(r.forwarded_to, "c");
}

TEST_F(ForwardTest, TheAnswerCarriesEveryNodesTimingsOriginFirst) {
  call_result r = forward();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "from c");
  EXPECT_EQ(r.outcome, call_outcome::ok);
  EXPECT_EQ(r.executed_on, "d");
  EXPECT_DOUBLE_EQ(r.execution_seconds, 0.2);
  ASSERT_EQ(r.route.size(), 3U);
  EXPECT_EQ(r.route[0].node, "self");
  EXPECT_EQ(r.route[1].node, "c");
  EXPECT_EQ(r.route[2].node, "d");
  EXPECT_DOUBLE_EQ(r.route[1].total_seconds, 0.5);
  EXPECT_DOUBLE_EQ(r.route[2].probing_seconds, 0.03);
  EXPECT_EQ(r.deadline_met, true);
}

TEST_F(ForwardTest, APeerThatFailsMidCallYields502) {
  network_->answer = {net::peer_error::link_lost, "link to c lost: connection reset", {}};
  call_result r = forward();
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(r.outcome, call_outcome::peer_failed);
  EXPECT_NE(r.body.find("connection reset"), std::string::npos);
  EXPECT_EQ(r.place, call_place::peer);
}

TEST_F(ForwardTest, APeerTooSlowYields504) {
  network_->answer = {net::peer_error::timed_out, "no reply", {}};
  EXPECT_EQ(forward().status, 504);
}

TEST_F(ForwardTest, ACallThatNeverReachedThePeerRunsHere) {
  for (auto error : {net::peer_error::connect_failed, net::peer_error::unauthorized}) {
    network_->answer = {error, "refused", {}};
    call_result r = forward();
    EXPECT_EQ(r.status, 200) << net::to_string(error);
    EXPECT_EQ(r.body, R"({"ok":true})");
    EXPECT_EQ(r.place, call_place::here);
    EXPECT_EQ(r.executed_on, "self");
  }
}

TEST_F(ForwardTest, APeerThatIsShuttingDownSendsTheCallBackHere) {
  network_->answer.reply.status = 503;
  network_->answer.reply.outcome = "shut_down";
  network_->answer.reply.executed = false;
  call_result r = forward();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.place, call_place::here);
}

TEST_F(ForwardTest, WithEveryPeerOnThePathTheCallRunsHere) {
  call_result r = forward({"b", "c"});
  EXPECT_TRUE(network_->sent.empty());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.place, call_place::here);
  ASSERT_EQ(r.route.size(), 1U);
  EXPECT_EQ(r.route[0].node, "self");
}

// What the peer says when it did not run the call.
net::peer_outcome refused(int status, std::string outcome) {
  net::peer_outcome o;
  o.reply.status = status;
  o.reply.outcome = std::move(outcome);
  o.reply.executed = false;
  o.reply.body = R"({"code":"refused"})";
  return o;
}

TEST_F(ForwardTest, ARefusedCallTriesOneOtherPeer) {
  // The RNG always draws 1: with b and c as candidates, c comes first, b second.
  network_->answer_of["c"] = refused(429, "full");
  network_->answer_of["b"] = network_->answer;  // b runs it
  call_result r = forward({});
  ASSERT_EQ(network_->sent.size(), 2U);
  EXPECT_EQ(network_->sent[0].first, "c");
  EXPECT_EQ(network_->sent[1].first, "b");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.place, call_place::peer);
  EXPECT_EQ(r.forwarded_to, "b");
  EXPECT_EQ(observer_.failures, std::vector<forward_failure>{forward_failure::peer_full});
  EXPECT_EQ((observer_.decisions[{"header", "fallback"}]), 1);
}

TEST_F(ForwardTest, WhenBothPeersRefuseItRunsHere) {
  network_->answer_of["b"] = refused(503, "shut_down");
  network_->answer_of["c"] = refused(503, "rejected");
  call_result r = forward({});
  EXPECT_EQ(network_->sent.size(), 2U);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.place, call_place::here);
  EXPECT_EQ(r.executed_on, "self");
  EXPECT_TRUE(r.forwarded_to.empty());
  EXPECT_EQ(observer_.failures, (std::vector<forward_failure>{forward_failure::peer_rejected,
                                                              forward_failure::peer_draining}));
}

TEST_F(ForwardTest, WhenNobodyHasRoomTheAnswerIs429NamingTheRefusals) {
  make(1, 0);
  auto held = start("hold");
  ASSERT_TRUE(p2pfaas::testing::eventually([&] { return gate_.waiting == 1; }));
  network_->answer_of["b"] = refused(429, "full");
  network_->answer_of["c"] = {net::peer_error::connect_failed, "no link", {}};
  call_result r = forward({});
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.outcome, call_outcome::full);
  EXPECT_TRUE(r.retry_after_seconds.has_value());
  EXPECT_NE(r.body.find("c (connect_failed), b (peer_full)"), std::string::npos) << r.body;
  gate_.release();
  EXPECT_EQ(held.get().status, 200);
}

TEST_F(ForwardTest, ALostLinkIsNotRetriedElsewhere) {
  // The call may have run on the peer: running it again elsewhere could run it twice.
  network_->answer = {net::peer_error::link_lost, "link to c lost", {}};
  call_result r = forward({});
  EXPECT_EQ(network_->sent.size(), 1U);
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(observer_.failures, std::vector<forward_failure>{forward_failure::link_lost});
}

class PolicyDispatchTest : public ForwardTest {
 protected:
  call_result call_once() {
    call_request call;
    call.invocation.function = "ok";
    call.timeout = 10s;
    return asio::co_spawn(io_, dispatcher_->dispatch(std::move(call)), asio::use_future).get();
  }
  // Keeps this node's one slot busy: its load is then 1 per slot.
  std::future<call_result> hold_the_slot() {
    auto held = start("hold", forced_decision::bypass);
    EXPECT_TRUE(p2pfaas::testing::eventually([&] { return gate_.waiting == 1; }));
    return held;
  }
  void use(std::vector<std::string> params) {
    dispatcher_->set_policy(
        power_of_n_scheduler::make(params, {[] { return std::uint64_t{1}; }}).built);
  }
};

TEST_F(PolicyDispatchTest, ProbesRunInParallelAndTheirTimeIsReported) {
  make(1, 4);
  use({"2", "1", "false", "1"});
  network_->loads = {{"b", {0, 0, 1, 0}}, {"c", {1, 0, 2, 0}}};
  network_->probe_delay = 200ms;
  dispatcher_->set_probe_timeout(2s);
  auto held = hold_the_slot();
  call_result r = call_once();
  EXPECT_EQ(network_->probed.size(), 2U);
  EXPECT_EQ(r.forwarded_to, "b");  // 0 per slot beats c's 0.5
  EXPECT_GE(r.probing_seconds, 0.199);
  EXPECT_LT(r.probing_seconds, 0.399);  // both at once: one after the other takes 0.4 s
  EXPECT_GE(r.scheduling_seconds, r.probing_seconds);
  ASSERT_EQ(r.route.size(), 3U);
  EXPECT_DOUBLE_EQ(r.route[0].probing_seconds, r.probing_seconds);
  EXPECT_EQ(observer_.probes.size(), 2U);
  EXPECT_EQ((observer_.decisions[{"PowerOfNScheduler", "forwarded"}]), 1);
  gate_.release();
  held.get();
}

TEST_F(PolicyDispatchTest, AProbeThatTimesOutCountsAsNoAnswer) {
  make(1, 4);
  use({"2", "1", "false", "1"});
  network_->loads = {{"b", {0, 0, 1, 0}}, {"c", {0, 0, 1, 0}}};
  network_->probe_delay = 5s;
  dispatcher_->set_probe_timeout(40ms);
  auto held = hold_the_slot();
  auto pending = std::async(std::launch::async, [&] { return call_once(); });
  ASSERT_TRUE(p2pfaas::testing::eventually([&] { return executor_->current_load().queued == 1; }));
  gate_.release();
  call_result r = pending.get();
  EXPECT_EQ(r.place, call_place::here);  // no peer answered: it ran here
  EXPECT_TRUE(network_->sent.empty());
  EXPECT_GE(r.probing_seconds, 0.039);
  EXPECT_LT(r.probing_seconds, 1.0);
  ASSERT_EQ(observer_.probes.size(), 2U);
  EXPECT_FALSE(observer_.probes[0].second);
  held.get();
}

TEST_F(PolicyDispatchTest, GossipedLoadIsCorrectedByThisNodesOwnCalls) {
  make(1, 4);
  network_->answer_of["b"] = network_->answer;
  network_->peers = {{"b", "127.0.0.1:2", {0, 0, 1, 0, 6}}};  // b's record 6 says idle
  network_->forward_delay = 300ms;
  auto in_flight = std::async(std::launch::async, [&] { return forward({}); });
  ASSERT_TRUE(p2pfaas::testing::eventually([&] { return dispatcher_->outstanding("b") == 1; }));
  // Record 7 counts that call; it is first seen while the call is still out.
  network_->peers = {{"b", "127.0.0.1:2", {1, 0, 1, 0, 7}}};
  use({"1", "1", "false", "1", "gossip"});

  // Own load 1 per slot; b's is 1 too with the call in flight there, so this call stays here.
  auto held = hold_the_slot();
  auto pending = std::async(std::launch::async, [&] { return call_once(); });
  ASSERT_TRUE(p2pfaas::testing::eventually([&] { return executor_->current_load().queued == 1; }));
  gate_.release();
  EXPECT_EQ(pending.get().place, call_place::here);
  held.get();
  EXPECT_EQ(in_flight.get().forwarded_to, "b");
  EXPECT_EQ(dispatcher_->outstanding("b"), 0);

  // Record 7 still says busy, but the call it counted is done: b is idle, the call goes there.
  gate_.open = false;
  gate_.waiting = 0;
  network_->forward_delay = {};
  held = hold_the_slot();
  call_result r = call_once();
  EXPECT_EQ(r.forwarded_to, "b");
  EXPECT_EQ(network_->sent.size(), 2U);
  gate_.release();
  held.get();
}

}  // namespace
}  // namespace p2pfaas::scheduler

namespace p2pfaas::scheduler {
namespace {

// A policy that records what it was told and gives back a scripted decision with headers and a
// feedback hook, as a learning policy does.
class scripted_policy final : public policy {
 public:
  explicit scripted_policy(action what) : what_(what) {}
  std::string_view name() const override { return "Scripted"; }
  std::vector<std::string> parameters() const override { return {}; }
  boost::asio::awaitable<decision> decide(const call_context& call, const local_load&,
                                          cluster_view&) override {
    task_type_seen = call.task_type;
    decision d{what_, {}};
    d.response_headers = {{"X-Test-Choice", "yes"}};
    d.on_finished = [this](const call_feedback& end) { feedback.push_back(end); };
    co_return d;
  }
  int task_type_seen = -1;
  std::vector<call_feedback> feedback;

 private:
  action what_;
};

TEST_F(DispatcherTest, APolicysHeadersAndFeedbackFollowTheCallToItsEnd) {
  make(1, 0);
  auto run_here = std::make_shared<scripted_policy>(action::run_local);
  dispatcher_->set_policy(run_here);
  call_request call;
  call.invocation.function = "slow";  // 30 ms
  call.task_type = 3;
  call.deadline = std::chrono::milliseconds(5);
  call_result r =
      asio::co_spawn(io_, dispatcher_->dispatch(std::move(call)), asio::use_future).get();
  EXPECT_EQ(run_here->task_type_seen, 3);
  EXPECT_EQ(r.headers,
            (std::vector<std::pair<std::string, std::string>>{{"X-Test-Choice", "yes"}}));
  ASSERT_EQ(run_here->feedback.size(), 1U);
  EXPECT_EQ(run_here->feedback[0].status, 200);
  EXPECT_FALSE(run_here->feedback[0].rejected);
  EXPECT_EQ(run_here->feedback[0].deadline_met, false);

  auto reject = std::make_shared<scripted_policy>(action::reject);
  dispatcher_->set_policy(reject);
  r = start("ok").get();
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.headers.size(), 1U);
  ASSERT_EQ(reject->feedback.size(), 1U);
  EXPECT_TRUE(reject->feedback[0].rejected);
  EXPECT_FALSE(reject->feedback[0].deadline_met.has_value());
}

}  // namespace
}  // namespace p2pfaas::scheduler
