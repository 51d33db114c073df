#include "workloads/function.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <stop_token>
#include <thread>

namespace p2pfaas::workloads {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

TEST(ErrorResult, IsTheApiErrorShape) {
  const auto result = error_result(429, "full", "no slot");
  EXPECT_EQ(result.status, 429);
  EXPECT_EQ(result.content_type, "application/json");
  const auto body = nlohmann::json::parse(result.body);
  EXPECT_EQ(body, (nlohmann::json{{"code", "full"}, {"message", "no slot"}}));
}

TEST(ErrorResult, SurvivesInvalidUtf8InTheMessage) {
  const auto result = error_result(500, "function_failed", std::string("bad \xff\xfe bytes"));
  const auto body = nlohmann::json::parse(result.body);
  EXPECT_EQ(body.at("code"), "function_failed");
}

TEST(InterruptibleSleep, SleepsTheWholeDurationWithoutStop) {
  std::stop_source source;
  const auto start = clock::now();
  EXPECT_TRUE(interruptible_sleep(source.get_token(), 20ms));
  EXPECT_GE(clock::now() - start, 20ms);
}

TEST(InterruptibleSleep, ZeroDurationReportsWhetherStopped) {
  std::stop_source source;
  EXPECT_TRUE(interruptible_sleep(source.get_token(), 0ns));
  source.request_stop();
  EXPECT_FALSE(interruptible_sleep(source.get_token(), 0ns));
}

TEST(InterruptibleSleep, ReturnsAtOnceWhenAlreadyStopped) {
  std::stop_source source;
  source.request_stop();
  const auto start = clock::now();
  EXPECT_FALSE(interruptible_sleep(source.get_token(), 1h));
  EXPECT_LT(clock::now() - start, 1s);
}

TEST(InterruptibleSleep, WakesPromptlyOnStopFromAnotherThread) {
  std::stop_source source;
  const auto start = clock::now();
  std::jthread stopper([&source] { source.request_stop(); });
  EXPECT_FALSE(interruptible_sleep(source.get_token(), 1h));
  EXPECT_LT(clock::now() - start, 5s);
}

TEST(InterruptibleSleep, HugeDurationsDoNotOverflow) {
  std::stop_source source;
  std::jthread stopper([&source] { source.request_stop(); });
  EXPECT_FALSE(interruptible_sleep(source.get_token(), std::chrono::nanoseconds::max()));
}

}  // namespace
}  // namespace p2pfaas::workloads
