// /function/{fn}: every built-in, the status codes and the headers of API.md, on a real daemon.
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>

#include "tests/support/daemon_process.hpp"
#include "tests/support/http_client.hpp"

namespace p2pfaas::testing {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

class FunctionsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    node_ = new daemon_process({"--slots", "2", "--set", "http.max_body_bytes=4096"});
  }
  static void TearDownTestSuite() { delete node_; }
  static std::uint16_t port() { return node_->port(); }
  static daemon_process* node_;
};
daemon_process* FunctionsTest::node_ = nullptr;

json json_body(const reply& r) {
  auto body = json::parse(r.body, nullptr, false);
  EXPECT_FALSE(body.is_discarded()) << r.body;
  return body;
}

void expect_call_headers(const reply& r) {
  for (auto name :
       {"X-Call-Id", "X-Duration-Seconds", "X-P2pfaas-Version", "X-P2pfaas-Scheduler",
        "X-P2pfaas-Executed-On", "X-P2pfaas-Timing-Total-Seconds-List",
        "X-P2pfaas-Timing-Scheduling-Seconds-List", "X-P2pfaas-Timing-Probing-Seconds-List",
        "X-P2pfaas-Timing-Execution-Time-Seconds"}) {
    EXPECT_TRUE(r.has_header(name)) << name << " missing on a " << r.status;
  }
  for (auto list :
       {"X-P2pfaas-Timing-Total-Seconds-List", "X-P2pfaas-Timing-Scheduling-Seconds-List",
        "X-P2pfaas-Timing-Probing-Seconds-List"}) {
    auto parsed = json::parse(r.header(list), nullptr, false);
    ASSERT_TRUE(parsed.is_array()) << list << ": " << r.header(list);
    EXPECT_EQ(parsed.size(), 1u);
    EXPECT_TRUE(parsed[0].is_number());
  }
}

TEST_F(FunctionsTest, EveryBuiltinAnswers200WithJson) {
  auto echo = http_request(port(), "POST", "/function/echo", R"({"hello":"world"})",
                           {{"Content-Type", "application/json"}});
  EXPECT_EQ(echo.status, 200);
  EXPECT_EQ(json_body(echo), json::parse(R"({"hello":"world"})"));
  EXPECT_EQ(echo.header("Content-Type"), "application/json");
  expect_call_headers(echo);

  auto sleep = http_get(port(), "/function/sleep?ms=20");
  ASSERT_EQ(sleep.status, 200);
  EXPECT_EQ(json_body(sleep)["function"], "sleep");
  EXPECT_GE(json_body(sleep)["slept_ms"].get<double>(), 19.0);

  auto compute = http_get(port(), "/function/compute?n=1000");
  ASSERT_EQ(compute.status, 200);
  EXPECT_EQ(json_body(compute)["primes_below_n"], 168);

  auto io = http_get(port(), "/function/io?kb=16");
  ASSERT_EQ(io.status, 200);
  EXPECT_EQ(json_body(io)["kb"], 16);
  EXPECT_TRUE(std::filesystem::is_empty(node_->data_dir() / "tmp"));  // cleaned up

  auto memory = http_get(port(), "/function/memory?mb=4");
  ASSERT_EQ(memory.status, 200);
  EXPECT_EQ(json_body(memory)["mb"], 4);

  // HMAC-SHA256("payload", key "key"), computed independently:
  //   echo -n payload | openssl dgst -sha256 -hmac key
  const std::string good = "5d98b45c90a207fa998ce639fea6f02ecc8cc3f36fef81d694fb856b4d0a28ca";
  auto verified =
      http_request(port(), "POST", "/function/verify?key=key&signature=" + good, "payload");
  ASSERT_EQ(verified.status, 200);
  EXPECT_EQ(json_body(verified)["valid"], true);
  EXPECT_EQ(json_body(verified)["bytes"], 7);
  std::string forged = good;
  forged[0] = forged[0] == '0' ? '1' : '0';
  auto refused =
      http_request(port(), "POST", "/function/verify?key=key&signature=" + forged, "payload");
  ASSERT_EQ(refused.status, 200);
  EXPECT_EQ(json_body(refused)["valid"], false);
}

TEST_F(FunctionsTest, ParametersFromAJsonBody) {
  auto r = http_request(port(), "POST", "/function/compute", R"({"n":100})",
                        {{"Content-Type", "application/json"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json_body(r)["primes_below_n"], 25);
}

TEST_F(FunctionsTest, UnknownFunctionIs404) {
  auto r = http_get(port(), "/function/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(json_body(r)["code"], "unknown_function");
  expect_call_headers(r);
}

TEST_F(FunctionsTest, BadParametersAre400NamingTheParameter) {
  for (auto target : {"/function/sleep?ms=abc", "/function/sleep", "/function/compute?n=-5",
                      "/function/io?kb=0", "/function/memory?mb=999999", "/function/verify"}) {
    auto r = http_get(port(), target);
    EXPECT_EQ(r.status, 400) << target;
    auto body = json_body(r);
    EXPECT_EQ(body["code"], "bad_parameter") << target;
    EXPECT_FALSE(body["message"].get<std::string>().empty());
  }
  auto bad_json = http_request(port(), "POST", "/function/compute", "{nope",
                               {{"Content-Type", "application/json"}});
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_EQ(http_get(port(), "/function/sleep?ms=%zz").status, 400);
  auto deadline = http_get(port(), "/function/echo", {{"X-P2pfaas-Deadline-Seconds", "soon"}});
  EXPECT_EQ(deadline.status, 400);
  EXPECT_NE(deadline.body.find("X-P2pfaas-Deadline-Seconds"), std::string::npos);
}

TEST_F(FunctionsTest, BodyOverTheLimitIs413) {
  auto r = http_request(port(), "POST", "/function/echo", std::string(4097, 'x'));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(json_body(r)["code"], "body_too_large");
  EXPECT_EQ(http_request(port(), "POST", "/function/echo", std::string(4096, 'x')).status, 200);
}

TEST_F(FunctionsTest, RejectHeaderIs503) {
  auto r = http_get(port(), "/function/echo", {{"X-P2pfaas-Scheduler-Reject", "1"}});
  EXPECT_EQ(r.status, 503);
  expect_call_headers(r);
}

TEST_F(FunctionsTest, CallIdIsKept) {
  auto r = http_get(port(), "/function/echo", {{"X-Call-Id", "trace-me-42"}});
  EXPECT_EQ(r.header("X-Call-Id"), "trace-me-42");
  EXPECT_EQ(r.header("X-P2pfaas-Executed-On"), "a");
  EXPECT_EQ(r.header("X-P2pfaas-Scheduler"), "NoScheduler");
}

TEST_F(FunctionsTest, MonitoringLoadInBodyAndHeaders) {
  auto r = http_get(port(), "/monitoring/load");
  ASSERT_EQ(r.status, 200);
  auto body = json_body(r);
  EXPECT_EQ(body["scheduler_name"], "NoScheduler");
  EXPECT_EQ(body["functions_running_max"], 2);
  EXPECT_EQ(body["functions_running"], 0);
  EXPECT_EQ(body["queue_length"], 0);
  EXPECT_TRUE(body.contains("queue_length_max"));
  EXPECT_EQ(r.header("X-P2pfaas-Maxload"), "2");
  EXPECT_EQ(r.header("X-P2pfaas-Load"), "0");
  EXPECT_EQ(r.header("X-P2pfaas-Queue-Length"), "0");
}

TEST_F(FunctionsTest, KeepAliveAndPipelining) {
  std::string two =
      "GET /function/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
      "GET /function/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\ntwo";
  std::string out = raw_exchange(port(), two);
  auto one = out.find("\r\n\r\none"), second = out.find("\r\n\r\ntwo");
  ASSERT_NE(one, std::string::npos) << out;
  ASSERT_NE(second, std::string::npos) << out;
  EXPECT_LT(one, second);
}

TEST(FunctionsLimits, FullNodeAnswers429WithRetryAfter) {
  daemon_process node({"--slots", "1", "--queue", "0"});
  auto busy = std::async(std::launch::async,
                         [&] { return http_get(node.port(), "/function/sleep?ms=1500"); });
  ASSERT_TRUE(eventually([&] {
    return json::parse(http_get(node.port(), "/monitoring/load").body)["functions_running"] == 1;
  }));
  auto second = http_get(node.port(), "/function/echo");
  EXPECT_EQ(second.status, 429);
  EXPECT_EQ(json_body(second)["code"], "full");
  ASSERT_TRUE(second.has_header("Retry-After"));
  EXPECT_GE(std::stoi(second.header("Retry-After")), 1);
  expect_call_headers(second);
  EXPECT_EQ(busy.get().status, 200);
}

TEST(FunctionsLimits, CallPastItsTimeoutIs504Promptly) {
  daemon_process node({"--set", "executor.timeout_seconds=0.3"});
  auto start = std::chrono::steady_clock::now();
  auto r = http_get(node.port(), "/function/sleep?ms=10000");
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 504);
  EXPECT_EQ(json_body(r)["code"], "timed_out");
  EXPECT_LT(elapsed, 5s);
  // The timed-out body was stopped, so the slot is free again soon.
  EXPECT_TRUE(eventually([&] {
    return json::parse(http_get(node.port(), "/monitoring/load").body)["functions_running"] == 0;
  }));
}

TEST(FunctionsLimits, PerFunctionTimeoutOverridesTheExecutors) {
  daemon_process node({"--set", "functions.sleep.timeout_seconds=0.2"});
  EXPECT_EQ(http_get(node.port(), "/function/sleep?ms=3000").status, 504);
  EXPECT_EQ(http_get(node.port(), "/function/compute?n=10").status, 200);
}

}  // namespace
}  // namespace p2pfaas::testing
