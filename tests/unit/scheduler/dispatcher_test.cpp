#include "scheduler/dispatcher.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <condition_variable>
#include <thread>

#include "scheduler/no_scheduler.hpp"
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
  std::vector<std::pair<std::string, net::peer_call>> sent;

  std::vector<peer_info> alive_peers() const override { return peers; }
  asio::awaitable<net::peer_outcome> forward(const peer_info& peer, net::peer_call call,
                                             std::chrono::steady_clock::time_point) override {
    sent.emplace_back(peer.id, std::move(call));
    co_return answer;
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
    dispatcher_ = std::make_unique<dispatcher>(*executor_, "self", network_.get(),
                                               [] { return std::uint64_t{1}; });
    dispatcher_->set_policy(no_scheduler::make(params, {}).built);
  }

  std::unique_ptr<fake_network> network_;

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
    network_->peers = {{"b", "127.0.0.1:2", 0, 0, 1, 0}, {"c", "127.0.0.1:3", 0, 0, 1, 0}};
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

}  // namespace
}  // namespace p2pfaas::scheduler
