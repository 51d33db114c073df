#include "workloads/executor.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "workloads/builtins.hpp"
#include "workloads/registry.hpp"

namespace p2pfaas::workloads {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;
using json = nlohmann::json;

constexpr auto patience = 20s;  // how long a test waits for something that should happen

clock::time_point far_deadline() {
  return clock::now() + 1h;
}
constexpr auto no_deadline = clock::time_point::max();

invocation make_call(std::string function, std::string payload = {}) {
  invocation call;
  call.function = std::move(function);
  call.payload = std::move(payload);
  return call;
}

std::string error_code(const execution& done) {
  return json::parse(done.result.body, nullptr, false).value("code", "");
}

template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds limit = patience) {
  const auto deadline = clock::now() + limit;
  while (!predicate()) {
    if (clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// Records every completion with the thread it arrived on.
class recorder {
 public:
  executor::completion on(int id) {
    return [this, id](execution done) {
      std::lock_guard lock(mu_);
      calls_[id].push_back(std::move(done));
      threads_[id] = std::this_thread::get_id();
      order_.push_back(id);
      cv_.notify_all();
    };
  }

  bool wait_for(int id) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, patience, [&] { return calls_.count(id) != 0; });
  }
  bool wait_total(std::size_t total) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, patience, [&] { return order_.size() >= total; });
  }

  std::size_t count(int id) {
    std::lock_guard lock(mu_);
    const auto it = calls_.find(id);
    return it == calls_.end() ? 0 : it->second.size();
  }
  execution get(int id) {
    std::lock_guard lock(mu_);
    return calls_.at(id).front();
  }
  std::thread::id thread_of(int id) {
    std::lock_guard lock(mu_);
    return threads_.at(id);
  }
  std::vector<int> order() {
    std::lock_guard lock(mu_);
    return order_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int, std::vector<execution>> calls_;
  std::map<int, std::thread::id> threads_;
  std::vector<int> order_;
};

// Test bodies that hold their slot until the test lets them go.
class gate {
 public:
  // Returns once released; ignores stop.
  function_body hold() {
    return [this](const invocation& call, function_context&) {
      enter(call);
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return open_; });
      --running_;
      return function_result{200, call.payload, "text/plain"};
    };
  }

  // Returns as soon as stop is requested (or when released).
  function_body until_stop() {
    return [this](const invocation& call, function_context& ctx) {
      enter(call);
      std::unique_lock lock(mu_);
      cv_.wait(lock, ctx.stop, [this] { return open_; });
      if (ctx.stop.stop_requested()) ++saw_stop_;
      --running_;
      cv_.notify_all();
      return function_result{200, call.payload, "text/plain"};
    };
  }

  // Notes the stop request, then keeps its slot until released.
  function_body until_stop_then_release() {
    return [this](const invocation& call, function_context& ctx) {
      enter(call);
      std::unique_lock lock(mu_);
      cv_.wait(lock, ctx.stop, [this] { return open_; });
      if (ctx.stop.stop_requested()) ++saw_stop_;
      cv_.notify_all();
      cv_.wait(lock, [this] { return open_; });
      --running_;
      return function_result{200, call.payload, "text/plain"};
    };
  }

  void release() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool wait_entered(int count) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, patience, [&] { return entered_ >= count; });
  }
  bool wait_saw_stop(int count) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, patience, [&] { return saw_stop_ >= count; });
  }
  int entered() {
    std::lock_guard lock(mu_);
    return entered_;
  }
  int max_running() {
    std::lock_guard lock(mu_);
    return max_running_;
  }
  int saw_stop() {
    std::lock_guard lock(mu_);
    return saw_stop_;
  }
  std::vector<std::string> order() {
    std::lock_guard lock(mu_);
    return order_;
  }

 private:
  void enter(const invocation& call) {
    std::lock_guard lock(mu_);
    ++entered_;
    ++running_;
    max_running_ = std::max(max_running_, running_);
    order_.push_back(call.payload);
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable_any cv_;
  bool open_ = false;
  int entered_ = 0;
  int running_ = 0;
  int max_running_ = 0;
  int saw_stop_ = 0;
  std::vector<std::string> order_;
};

executor_limits limits(int slots, int queue) {
  executor_limits result;
  result.slots = slots;
  result.queue = queue;
  return result;
}

class Executor : public ::testing::Test {
 protected:
  Executor() {
    register_builtin_functions(registry_);
    registry_.add("hold", gate_.hold());
    registry_.add("until_stop", gate_.until_stop());
    registry_.add("until_stop_then_release", gate_.until_stop_then_release());
    registry_.add("counted", [this](const invocation& call, function_context&) {
      ++counted_runs_;
      return function_result{200, call.payload, "text/plain"};
    });
    registry_.add("where", [this](const invocation&, function_context&) {
      std::lock_guard lock(threads_mu_);
      body_threads_.insert(std::this_thread::get_id());
      return function_result{};
    });
    registry_.add("throws", [](const invocation&, function_context&) -> function_result {
      throw std::runtime_error("boom");
    });
    registry_.add("throws_int",
                  [](const invocation&, function_context&) -> function_result { throw 42; });
    registry_.add("context", [](const invocation&, function_context& ctx) {
      const json body{{"random", ctx.rng()},
                      {"memory_limit_mb", ctx.memory_limit_mb},
                      {"data_dir", ctx.data_dir.string()}};
      return function_result{200, body.dump()};
    });
  }

  // Held bodies are let go before the executor joins them, also after a failed assertion.
  ~Executor() override {
    gate_.release();
    pool_.reset();
  }

  executor& make(const executor_limits& config) { return pool_.emplace(registry_, config); }

  function_registry registry_;
  gate gate_;
  recorder done_;
  std::atomic<int> counted_runs_{0};
  std::mutex threads_mu_;
  std::set<std::thread::id> body_threads_;
  std::optional<executor> pool_;
};

TEST_F(Executor, RunsBodiesOnItsOwnWorkerThreads) {
  auto& pool = make(limits(2, 0));
  pool.submit(make_call("where"), far_deadline(), done_.on(1));
  ASSERT_TRUE(done_.wait_for(1));
  EXPECT_EQ(done_.get(1).outcome, outcome::completed);
  std::lock_guard lock(threads_mu_);
  ASSERT_EQ(body_threads_.size(), 1u);
  EXPECT_NE(*body_threads_.begin(), std::this_thread::get_id());
  EXPECT_NE(done_.thread_of(1), std::this_thread::get_id());
}

TEST_F(Executor, ReusesWorkerThreads) {
  auto& pool = make(limits(2, 0));
  for (int i = 0; i < 40; ++i) {
    pool.submit(make_call("where"), far_deadline(), done_.on(i));
    ASSERT_TRUE(done_.wait_for(i));
  }
  std::lock_guard lock(threads_mu_);
  EXPECT_LE(body_threads_.size(), 2u);
}

TEST_F(Executor, RunsExactlySlotsCallsAtOnce) {
  auto& pool = make(limits(3, 10));
  for (int i = 0; i < 7; ++i) pool.submit(make_call("hold"), far_deadline(), done_.on(i));
  ASSERT_TRUE(gate_.wait_entered(3));
  auto now = pool.current_load();
  EXPECT_EQ(now.running, 3);
  EXPECT_EQ(now.queued, 4);
  EXPECT_EQ(pool.pending(), 7u);
  EXPECT_EQ(gate_.entered(), 3);
  gate_.release();
  ASSERT_TRUE(done_.wait_total(7));
  EXPECT_EQ(gate_.max_running(), 3);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(done_.get(i).result.status, 200);
}

TEST_F(Executor, BlockingCallsOfABurstAllStartOnParkedWorkers) {
  // A burst wakes one parked worker, which wakes the next as it takes a call (so short calls
  // run back to back on few workers): calls that block must still each get a worker.
  gate warm;
  registry_.add("warm", warm.hold());
  auto& pool = make(limits(4, 0));
  for (int i = 0; i < 4; ++i) pool.submit(make_call("warm"), far_deadline(), done_.on(i));
  ASSERT_TRUE(warm.wait_entered(4));
  warm.release();
  ASSERT_TRUE(done_.wait_total(4));
  std::this_thread::sleep_for(20ms);  // well past any spin: the four workers park

  for (int i = 4; i < 8; ++i) pool.submit(make_call("hold"), far_deadline(), done_.on(i));
  ASSERT_TRUE(gate_.wait_entered(4));
  EXPECT_EQ(pool.current_load().running, 4);
  gate_.release();
  ASSERT_TRUE(done_.wait_total(8));
}

TEST_F(Executor, QueueIsFifo) {
  auto& pool = make(limits(1, 10));
  pool.submit(make_call("hold", "0"), far_deadline(), done_.on(0));
  ASSERT_TRUE(gate_.wait_entered(1));
  for (int i = 1; i <= 5; ++i)
    pool.submit(make_call("hold", std::to_string(i)), far_deadline(), done_.on(i));
  gate_.release();
  ASSERT_TRUE(done_.wait_total(6));
  EXPECT_EQ(gate_.order(), (std::vector<std::string>{"0", "1", "2", "3", "4", "5"}));
  EXPECT_EQ(done_.order(), (std::vector<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_GT(done_.get(5).queue_wait, std::chrono::nanoseconds::zero());
}

invocation call_from(std::string source, std::string payload, std::string function = "hold") {
  invocation call = make_call(std::move(function), std::move(payload));
  call.source = std::move(source);
  return call;
}

TEST_F(Executor, AFullQueueRefusesTheHeaviestSourceFirst) {
  auto& pool = make(limits(1, 3));
  pool.submit(call_from("10.0.0.1", "a0"), far_deadline(), done_.on(0));
  ASSERT_TRUE(gate_.wait_entered(1));
  for (int i = 1; i <= 3; ++i)
    pool.submit(call_from("10.0.0.1", "a" + std::to_string(i)), far_deadline(), done_.on(i));
  // The heavy client gets no more room...
  pool.submit(call_from("10.0.0.1", "a4"), far_deadline(), done_.on(4));
  ASSERT_EQ(done_.count(4), 1u);
  EXPECT_EQ(done_.get(4).outcome, outcome::full);
  // ...but another client takes the place of its newest queued call.
  pool.submit(call_from("10.0.0.2", "b0"), far_deadline(), done_.on(10));
  ASSERT_EQ(done_.count(3), 1u);
  EXPECT_EQ(done_.get(3).outcome, outcome::full);
  EXPECT_EQ(done_.get(3).result.status, 429);
  EXPECT_EQ(done_.count(10), 0u);
  EXPECT_EQ(pool.fair_evictions(), 1u);
  gate_.release();
  ASSERT_TRUE(done_.wait_total(6));
  EXPECT_EQ(done_.get(10).outcome, outcome::completed);
  // The light client's call ran before the heavy client's backlog.
  EXPECT_EQ(gate_.order(), (std::vector<std::string>{"a0", "b0", "a1", "a2"}));
}

TEST_F(Executor, EvictionEvensSharesButNeverSwapsWhoIsHeavier) {
  auto& pool = make(limits(1, 3));
  pool.submit(call_from("10.0.0.1", "a0"), far_deadline(), done_.on(0));
  ASSERT_TRUE(gate_.wait_entered(1));
  for (int i = 1; i <= 3; ++i)
    pool.submit(call_from("10.0.0.1", "a" + std::to_string(i)), far_deadline(), done_.on(i));
  // a holds 4, b 0: b's first call takes a3's place (3 against 1), its second a2's (2 against
  // 2); its third would make b the heavier one, so it is refused.
  for (int i = 10; i <= 12; ++i)
    pool.submit(call_from("10.0.0.2", "b" + std::to_string(i)), far_deadline(), done_.on(i));
  EXPECT_EQ(done_.count(3), 1u);
  EXPECT_EQ(done_.count(2), 1u);
  EXPECT_EQ(done_.count(1), 0u);
  ASSERT_EQ(done_.count(12), 1u);
  EXPECT_EQ(done_.get(12).outcome, outcome::full);
  EXPECT_EQ(pool.fair_evictions(), 2u);
  gate_.release();
  ASSERT_TRUE(done_.wait_total(7));
}

TEST_F(Executor, OneSourceKeepsPlainFifoAdmission) {
  auto& pool = make(limits(1, 2));
  for (int i = 0; i < 3; ++i) {
    pool.submit(call_from("10.0.0.1", std::to_string(i)), far_deadline(), done_.on(i));
    if (i == 0) {
      ASSERT_TRUE(gate_.wait_entered(1));
    }
  }
  pool.submit(call_from("10.0.0.1", "3"), far_deadline(), done_.on(3));
  ASSERT_EQ(done_.count(3), 1u);
  EXPECT_EQ(done_.get(3).outcome, outcome::full);
  gate_.release();
  ASSERT_TRUE(done_.wait_total(4));
  EXPECT_EQ(gate_.order(), (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(pool.fair_evictions(), 0u);
}

TEST_F(Executor, FairSourcesOffIsFirstComeFirstServed) {
  auto config = limits(1, 2);
  config.fair_sources = false;
  auto& pool = make(config);
  pool.submit(call_from("10.0.0.1", "a0"), far_deadline(), done_.on(0));
  ASSERT_TRUE(gate_.wait_entered(1));
  pool.submit(call_from("10.0.0.1", "a1"), far_deadline(), done_.on(1));
  pool.submit(call_from("10.0.0.1", "a2"), far_deadline(), done_.on(2));
  pool.submit(call_from("10.0.0.2", "b0"), far_deadline(), done_.on(10));
  ASSERT_EQ(done_.count(10), 1u);
  EXPECT_EQ(done_.get(10).outcome, outcome::full);
  gate_.release();
  ASSERT_TRUE(done_.wait_total(4));
  EXPECT_EQ(gate_.order(), (std::vector<std::string>{"a0", "a1", "a2"}));
}

TEST_F(Executor, SharesAreGivenBackOnTimeoutAndShutdown) {
  auto& pool = make(limits(1, 4));
  pool.submit(call_from("10.0.0.1", "a0", "until_stop"), far_deadline(), done_.on(0));
  ASSERT_TRUE(gate_.wait_entered(1));
  // Two queued calls of the heavy client time out while queued: it then holds one call.
  pool.submit(call_from("10.0.0.1", "a1", "until_stop"), clock::now() + 1ms, done_.on(1));
  pool.submit(call_from("10.0.0.1", "a2", "until_stop"), clock::now() + 1ms, done_.on(2));
  ASSERT_TRUE(done_.wait_for(1));
  ASSERT_TRUE(done_.wait_for(2));
  for (int i = 3; i <= 6; ++i)
    pool.submit(call_from("10.0.0.2", "b" + std::to_string(i), "until_stop"), far_deadline(),
                done_.on(i));
  // b's calls fill the queue; a's next call finds a heavier b and takes its newest place.
  pool.submit(call_from("10.0.0.1", "a7", "until_stop"), far_deadline(), done_.on(7));
  ASSERT_EQ(done_.count(6), 1u);
  EXPECT_EQ(done_.get(6).outcome, outcome::full);
  pool.shutdown();
  ASSERT_TRUE(done_.wait_total(8));
  EXPECT_EQ(done_.get(7).outcome, outcome::shut_down);
}

TEST_F(Executor, FullCompletesSynchronouslyWith429) {
  auto& pool = make(limits(1, 1));
  pool.submit(make_call("hold"), far_deadline(), done_.on(0));
  ASSERT_TRUE(gate_.wait_entered(1));
  pool.submit(make_call("hold"), far_deadline(), done_.on(1));
  pool.submit(make_call("hold"), far_deadline(), done_.on(2));
  ASSERT_EQ(done_.count(2), 1u);  // answered before submit returned
  EXPECT_EQ(done_.thread_of(2), std::this_thread::get_id());
  const auto full = done_.get(2);
  EXPECT_EQ(full.outcome, outcome::full);
  EXPECT_EQ(full.result.status, 429);
  EXPECT_EQ(error_code(full), "full");
  EXPECT_EQ(done_.count(1), 0u);
  gate_.release();
  ASSERT_TRUE(done_.wait_total(3));
  EXPECT_EQ(done_.get(1).outcome, outcome::completed);
  EXPECT_EQ(gate_.entered(), 2);
}

TEST_F(Executor, UnknownFunctionIs404Synchronously) {
  auto& pool = make(limits(1, 1));
  pool.submit(make_call("nope"), far_deadline(), done_.on(0));
  ASSERT_EQ(done_.count(0), 1u);
  EXPECT_EQ(done_.thread_of(0), std::this_thread::get_id());
  const auto missing = done_.get(0);
  EXPECT_EQ(missing.outcome, outcome::unknown_function);
  EXPECT_EQ(missing.result.status, 404);
  EXPECT_EQ(error_code(missing), "unknown_function");
  EXPECT_EQ(pool.pending(), 0u);
}

TEST_F(Executor, QueuedCallTimesOutAndNeverRuns) {
  auto& pool = make(limits(1, 1));
  pool.submit(make_call("hold"), far_deadline(), done_.on(0));
  ASSERT_TRUE(gate_.wait_entered(1));
  pool.submit(make_call("counted"), clock::now() + 50ms, done_.on(1));
  ASSERT_TRUE(done_.wait_for(1));
  const auto late = done_.get(1);
  EXPECT_EQ(late.outcome, outcome::timed_out);
  EXPECT_EQ(late.result.status, 504);
  EXPECT_EQ(error_code(late), "timed_out");
  EXPECT_EQ(pool.current_load().queued, 0);
  gate_.release();
  ASSERT_TRUE(done_.wait_for(0));
  ASSERT_TRUE(eventually([&] { return pool.pending() == 0; }));
  EXPECT_EQ(counted_runs_, 0);
  EXPECT_EQ(done_.count(1), 1u);
}

TEST_F(Executor, CallPastItsDeadlineAtSubmitNeverRuns) {
  auto& pool = make(limits(2, 2));
  pool.submit(make_call("counted"), clock::now() - 1ms, done_.on(0));
  ASSERT_TRUE(done_.wait_for(0));
  EXPECT_EQ(done_.get(0).outcome, outcome::timed_out);
  ASSERT_TRUE(eventually([&] { return pool.pending() == 0; }));
  EXPECT_EQ(counted_runs_, 0);
}

TEST_F(Executor, RunningCallTimesOutPromptlyAndKeepsItsSlotUntilItReturns) {
  auto& pool = make(limits(1, 1));
  const auto deadline = clock::now() + 100ms;
  pool.submit(make_call("until_stop_then_release"), deadline, done_.on(0));
  ASSERT_TRUE(done_.wait_for(0));
  EXPECT_LT(clock::now() - deadline, 2s);
  const auto late = done_.get(0);
  EXPECT_EQ(late.outcome, outcome::timed_out);
  EXPECT_EQ(late.result.status, 504);
  EXPECT_EQ(error_code(late), "timed_out");
  ASSERT_TRUE(gate_.wait_saw_stop(1));

  // The body has not returned: its slot is still taken, so the next call queues.
  EXPECT_EQ(pool.current_load().running, 1);
  pool.submit(make_call("counted"), far_deadline(), done_.on(1));
  EXPECT_EQ(pool.current_load().queued, 1);
  EXPECT_EQ(counted_runs_, 0);

  gate_.release();
  ASSERT_TRUE(done_.wait_for(1));
  EXPECT_EQ(done_.get(1).outcome, outcome::completed);
  EXPECT_EQ(counted_runs_, 1);
  ASSERT_TRUE(eventually([&] { return pool.pending() == 0; }));
  EXPECT_EQ(done_.count(0), 1u);  // the body's late result was dropped
}

TEST_F(Executor, RaisingSlotsStartsQueuedCallsAndLoweringThemInterruptsNothing) {
  auto& pool = make(limits(1, 5));
  for (int i = 0; i < 3; ++i)
    pool.submit(make_call("until_stop_then_release"), far_deadline(), done_.on(i));
  ASSERT_TRUE(gate_.wait_entered(1));
  EXPECT_EQ(pool.current_load().queued, 2);

  pool.set_limits(limits(3, 5));
  ASSERT_TRUE(gate_.wait_entered(3));
  EXPECT_EQ(pool.current_load().running, 3);
  EXPECT_EQ(pool.current_load().queued, 0);

  pool.set_limits(limits(1, 0));
  pool.submit(make_call("counted"), far_deadline(), done_.on(3));
  ASSERT_TRUE(done_.wait_for(3));  // no slot and the queue is now 0
  EXPECT_EQ(done_.get(3).outcome, outcome::full);
  pool.set_limits(limits(1, 1));
  pool.submit(make_call("counted"), far_deadline(), done_.on(4));
  const auto now = pool.current_load();
  EXPECT_EQ(now.slots, 1);
  EXPECT_EQ(now.running, 3);
  EXPECT_EQ(now.queued, 1);
  EXPECT_EQ(gate_.saw_stop(), 0);
  EXPECT_EQ(done_.count(0) + done_.count(1) + done_.count(2), 0u);

  gate_.release();
  ASSERT_TRUE(done_.wait_total(5));
  for (int i : {0, 1, 2, 4}) EXPECT_EQ(done_.get(i).result.status, 200) << i;
  EXPECT_EQ(gate_.saw_stop(), 0);
}

TEST_F(Executor, SmallerQueueKeepsQueuedCalls) {
  auto& pool = make(limits(1, 3));
  pool.submit(make_call("hold"), far_deadline(), done_.on(0));
  ASSERT_TRUE(gate_.wait_entered(1));
  for (int i = 1; i <= 3; ++i) pool.submit(make_call("hold"), far_deadline(), done_.on(i));
  pool.set_limits(limits(1, 1));
  EXPECT_EQ(pool.current_load().queued, 3);
  pool.submit(make_call("hold"), far_deadline(), done_.on(4));
  EXPECT_EQ(done_.count(4), 1u);
  EXPECT_EQ(done_.get(4).outcome, outcome::full);
  gate_.release();
  ASSERT_TRUE(done_.wait_total(5));
  for (int i = 0; i <= 3; ++i) EXPECT_EQ(done_.get(i).outcome, outcome::completed) << i;
}

TEST_F(Executor, FirstCallIsColdAndTheNextWarm) {
  auto config = limits(1, 0);
  config.cold_start = 30ms;
  config.keep_alive = 1h;
  auto& pool = make(config);
  pool.submit(make_call("echo", "a"), far_deadline(), done_.on(0));
  ASSERT_TRUE(done_.wait_for(0));
  pool.submit(make_call("echo", "b"), far_deadline(), done_.on(1));
  ASSERT_TRUE(done_.wait_for(1));

  const auto first = done_.get(0);
  EXPECT_EQ(first.outcome, outcome::completed);
  EXPECT_TRUE(first.cold_start);
  EXPECT_GE(first.run_time, 30ms);
  EXPECT_EQ(first.result.body, "a");
  EXPECT_FALSE(done_.get(1).cold_start);

  const auto stats = pool.stats();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].name, "echo");
  EXPECT_EQ(stats[0].cold_starts, 1u);
  EXPECT_EQ(stats[0].warm_starts, 1u);
  EXPECT_EQ(stats[0].instances_idle, 1);
  EXPECT_EQ(stats[0].instances_busy, 0);
}

TEST_F(Executor, ColdAgainAfterKeepAliveExpires) {
  auto config = limits(1, 0);
  config.keep_alive = 20ms;
  auto& pool = make(config);
  pool.submit(make_call("echo"), far_deadline(), done_.on(0));
  ASSERT_TRUE(done_.wait_for(0));
  EXPECT_TRUE(done_.get(0).cold_start);
  ASSERT_TRUE(eventually([&] { return pool.stats().at(0).instances_idle == 0; }));
  pool.submit(make_call("echo"), far_deadline(), done_.on(1));
  ASSERT_TRUE(done_.wait_for(1));
  EXPECT_TRUE(done_.get(1).cold_start);
  EXPECT_EQ(pool.stats().at(0).cold_starts, 2u);
  EXPECT_EQ(pool.stats().at(0).warm_starts, 0u);
}

TEST_F(Executor, ConcurrentCallsGetTheirOwnInstances) {
  auto config = limits(2, 0);
  config.keep_alive = 1h;
  auto& pool = make(config);
  pool.submit(make_call("hold"), far_deadline(), done_.on(0));
  pool.submit(make_call("hold"), far_deadline(), done_.on(1));
  ASSERT_TRUE(gate_.wait_entered(2));
  auto stats = pool.stats();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].instances_busy, 2);
  EXPECT_EQ(stats[0].cold_starts, 2u);
  gate_.release();
  ASSERT_TRUE(done_.wait_total(2));
  ASSERT_TRUE(eventually([&] { return pool.stats().at(0).instances_busy == 0; }));
  EXPECT_EQ(pool.stats().at(0).instances_idle, 2);
  EXPECT_TRUE(done_.get(0).cold_start);
  EXPECT_TRUE(done_.get(1).cold_start);

  pool.submit(make_call("hold"), far_deadline(), done_.on(2));
  ASSERT_TRUE(done_.wait_for(2));
  EXPECT_FALSE(done_.get(2).cold_start);
}

TEST_F(Executor, PerCallOverheadIsPartOfRunTime) {
  auto config = limits(1, 0);
  config.per_call_overhead = 20ms;
  auto& pool = make(config);
  for (int i = 0; i < 2; ++i) {
    pool.submit(make_call("echo"), far_deadline(), done_.on(i));
    ASSERT_TRUE(done_.wait_for(i));
    EXPECT_GE(done_.get(i).run_time, 20ms);
  }
  EXPECT_FALSE(done_.get(1).cold_start);
}

TEST_F(Executor, TimeoutDuringColdStartSkipsTheBody) {
  auto config = limits(1, 0);
  config.cold_start = std::chrono::microseconds(1h);
  auto& pool = make(config);
  pool.submit(make_call("counted"), clock::now() + 50ms, done_.on(0));
  ASSERT_TRUE(done_.wait_for(0));
  EXPECT_EQ(done_.get(0).outcome, outcome::timed_out);
  ASSERT_TRUE(eventually([&] { return pool.pending() == 0; }));
  EXPECT_EQ(counted_runs_, 0);
  // The interrupted instance never came up, so it is not kept warm.
  EXPECT_EQ(pool.stats().at(0).instances_idle, 0);
}

TEST_F(Executor, BodyExceptionIs500) {
  auto& pool = make(limits(1, 0));
  pool.submit(make_call("throws"), far_deadline(), done_.on(0));
  ASSERT_TRUE(done_.wait_for(0));
  const auto failed = done_.get(0);
  EXPECT_EQ(failed.outcome, outcome::completed);
  EXPECT_EQ(failed.result.status, 500);
  const auto body = json::parse(failed.result.body);
  EXPECT_EQ(body.value("code", ""), "function_failed");
  EXPECT_NE(body.value("message", "").find("boom"), std::string::npos);

  pool.submit(make_call("throws_int"), far_deadline(), done_.on(1));
  ASSERT_TRUE(done_.wait_for(1));
  EXPECT_EQ(done_.get(1).result.status, 500);
  EXPECT_EQ(error_code(done_.get(1)), "function_failed");
}

TEST_F(Executor, ShutdownAnswersQueuedAndStopsRunningCalls) {
  auto& pool = make(limits(1, 2));
  pool.submit(make_call("until_stop"), no_deadline, done_.on(0));
  ASSERT_TRUE(gate_.wait_entered(1));
  pool.submit(make_call("counted"), no_deadline, done_.on(1));
  pool.submit(make_call("counted"), no_deadline, done_.on(2));

  pool.shutdown();
  EXPECT_EQ(gate_.saw_stop(), 1);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(done_.count(i), 1u) << i;
    EXPECT_EQ(done_.get(i).outcome, outcome::shut_down) << i;
    EXPECT_EQ(done_.get(i).result.status, 503) << i;
    EXPECT_EQ(error_code(done_.get(i)), "shut_down") << i;
  }
  EXPECT_EQ(counted_runs_, 0);

  pool.submit(make_call("echo"), far_deadline(), done_.on(3));
  ASSERT_EQ(done_.count(3), 1u);
  EXPECT_EQ(done_.thread_of(3), std::this_thread::get_id());
  EXPECT_EQ(done_.get(3).outcome, outcome::shut_down);
  pool.shutdown();  // idempotent
  EXPECT_EQ(done_.order().size(), 4u);
}

TEST_F(Executor, LoadCountersFollowTheCalls) {
  auto& pool = make(limits(2, 3));
  auto now = pool.current_load();
  EXPECT_EQ(now.running, 0);
  EXPECT_EQ(now.queued, 0);
  EXPECT_EQ(now.slots, 2);
  EXPECT_EQ(now.queue_capacity, 3);
  EXPECT_EQ(now.recent_service_seconds, 0.0);

  for (int i = 0; i < 4; ++i) pool.submit(make_call("hold"), no_deadline, done_.on(i));
  ASSERT_TRUE(gate_.wait_entered(2));
  now = pool.current_load();
  EXPECT_EQ(now.running, 2);
  EXPECT_EQ(now.queued, 2);
  EXPECT_EQ(pool.pending(), 4u);
  gate_.release();
  ASSERT_TRUE(done_.wait_total(4));
  ASSERT_TRUE(eventually([&] { return pool.pending() == 0; }));
  now = pool.current_load();
  EXPECT_EQ(now.running, 0);
  EXPECT_EQ(now.queued, 0);
  EXPECT_GT(now.recent_service_seconds, 0.0);
}

TEST_F(Executor, ServiceTimeAverageTracksCompletedCalls) {
  auto& pool = make(limits(1, 0));
  invocation call = make_call("sleep");
  call.query = {{"ms", "30"}};
  pool.submit(call, far_deadline(), done_.on(0));
  ASSERT_TRUE(done_.wait_for(0));
  ASSERT_EQ(done_.get(0).result.status, 200) << done_.get(0).result.body;
  EXPECT_GE(pool.current_load().recent_service_seconds, 0.030);
  EXPECT_LT(pool.current_load().recent_service_seconds, 10.0);
}

TEST_F(Executor, FunctionsSeeTheLimitsAndASeededRng) {
  auto config = limits(1, 0);
  config.seed = 99;
  config.memory_limit_mb = 77;
  config.data_dir = "/var/lib/p2pfaas-test";
  const auto first_draw = [&](int id) {
    auto& pool = make(config);
    pool.submit(make_call("context"), far_deadline(), done_.on(id));
    EXPECT_TRUE(done_.wait_for(id));
    const auto body = json::parse(done_.get(id).result.body);
    EXPECT_EQ(body.value("memory_limit_mb", 0), 77);
    EXPECT_EQ(body.value("data_dir", ""), "/var/lib/p2pfaas-test");
    return body.at("random").get<std::uint64_t>();
  };
  EXPECT_EQ(first_draw(0), first_draw(1));
}

// Every completion arrives exactly once while submits, finishes, timeouts and limit changes race.
TEST_F(Executor, ManyThreadsSubmittingGetEveryCompletionExactlyOnce) {
  constexpr int threads = 8;
  constexpr int per_thread = 500;
  constexpr int total = threads * per_thread;
  std::vector<std::atomic<int>> completions(total);
  std::atomic<int> finished{0};
  std::atomic<int> wrong{0};
  std::array<std::atomic<int>, 5> by_outcome{};
  std::mutex mu;
  std::condition_variable all_done;
  // Declared after the state its completions use, so it is gone before that state even when an
  // assertion returns early.
  executor pool(registry_, limits(4, 512));

  std::atomic<bool> churn{true};
  std::jthread limit_changer([&] {
    for (int slots = 1; churn; slots = slots % 6 + 1) {
      pool.set_limits(limits(slots, 512));
      std::this_thread::sleep_for(200us);  // paces the churn; nothing waits on it
    }
  });
  {
    std::vector<std::jthread> submitters;
    for (int t = 0; t < threads; ++t) {
      submitters.emplace_back([&, t] {
        std::mt19937 rng(static_cast<unsigned>(t));
        for (int i = 0; i < per_thread; ++i) {
          const int id = t * per_thread + i;
          // Every fifth call gets a deadline so short that its timeout races its completion.
          const auto deadline =
              i % 5 == 0 ? clock::now() + std::chrono::microseconds(rng() % 500) : far_deadline();
          pool.submit(make_call("echo", std::to_string(id)), deadline, [&, id](execution done) {
            if (done.outcome == outcome::completed && done.result.body != std::to_string(id))
              ++wrong;
            ++by_outcome[static_cast<std::size_t>(done.outcome)];
            ++completions[static_cast<std::size_t>(id)];
            if (++finished == total) {
              std::lock_guard lock(mu);
              all_done.notify_all();
            }
          });
        }
      });
    }
  }
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(all_done.wait_for(lock, 60s, [&] { return finished == total; }));
  }
  churn = false;
  limit_changer.join();
  pool.shutdown();
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(finished, total);
  // The race is only exercised if calls really ran, next to the ones refused or timed out.
  EXPECT_GT(by_outcome[static_cast<std::size_t>(outcome::completed)], total / 10);
  for (int id = 0; id < total; ++id)
    ASSERT_EQ(completions[static_cast<std::size_t>(id)], 1) << "call " << id;
}

TEST_F(Executor, TimeoutsRacingRunningBodiesCompleteOnce) {
  constexpr int total = 300;
  std::vector<std::atomic<int>> completions(total);
  std::atomic<int> finished{0};
  executor pool(registry_, limits(3, 8));
  std::mt19937 rng(5);
  for (int id = 0; id < total; ++id) {
    invocation call = make_call("sleep");
    call.query = {{"mean_ms", "0.5"}};
    const auto deadline = clock::now() + std::chrono::microseconds(rng() % 1500);
    pool.submit(std::move(call), deadline, [&, id](execution) {
      ++completions[static_cast<std::size_t>(id)];
      ++finished;
    });
  }
  ASSERT_TRUE(eventually([&] { return finished == total; }));
  ASSERT_TRUE(eventually([&] { return pool.pending() == 0; }));
  pool.shutdown();
  for (int id = 0; id < total; ++id) ASSERT_EQ(completions[static_cast<std::size_t>(id)], 1) << id;
}

TEST_F(Executor, TheMemoryBudgetIsSharedByEveryRunningCall) {
  auto config = limits(3, 0);
  config.memory_limit_mb = 8;
  config.memory_budget_bytes = std::uint64_t{12} << 20;
  registry_.add("reserve", [this](const invocation& call, function_context& ctx) {
    auto held = ctx.memory_budget->try_reserve(std::uint64_t{8} << 20);
    if (!held) return function_result{429, "refused", "text/plain"};
    return gate_.hold()(call, ctx);
  });
  auto& pool = make(config);
  pool.submit(make_call("reserve", "first"), far_deadline(), done_.on(0));
  ASSERT_TRUE(gate_.wait_entered(1));
  EXPECT_EQ(pool.memory().held(), std::uint64_t{8} << 20);
  pool.submit(make_call("reserve", "second"), far_deadline(), done_.on(1));
  ASSERT_TRUE(done_.wait_for(1));
  EXPECT_EQ(done_.get(1).result.status, 429);
  EXPECT_EQ(pool.memory().refused(), 1u);
  gate_.release();
  ASSERT_TRUE(done_.wait_for(0));
  EXPECT_EQ(done_.get(0).result.status, 200);
  EXPECT_TRUE(eventually([&] { return pool.memory().held() == 0; }));
}

TEST(ExecutorOutcome, NamesAreTheErrorCodes) {
  EXPECT_EQ(to_string(outcome::completed), "completed");
  EXPECT_EQ(to_string(outcome::full), "full");
  EXPECT_EQ(to_string(outcome::timed_out), "timed_out");
  EXPECT_EQ(to_string(outcome::shut_down), "shut_down");
  EXPECT_EQ(to_string(outcome::unknown_function), "unknown_function");
}

}  // namespace
}  // namespace p2pfaas::workloads
