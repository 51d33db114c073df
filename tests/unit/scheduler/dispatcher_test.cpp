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
    dispatcher_ = std::make_unique<dispatcher>(*executor_);
    dispatcher_->set_policy(no_scheduler::make(params, {}).built);
  }

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

}  // namespace
}  // namespace p2pfaas::scheduler
