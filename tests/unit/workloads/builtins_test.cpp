#include "workloads/builtins.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "workloads/registry.hpp"

namespace p2pfaas::workloads {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;
using json = nlohmann::json;
using query_list = std::vector<std::pair<std::string, std::string>>;

// RFC 4231, test case 2.
constexpr const char* rfc4231_key = "Jefe";
constexpr const char* rfc4231_data = "what do ya want for nothing?";
constexpr const char* rfc4231_hmac =
    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";

invocation make_call(std::string function, query_list query = {}, std::string payload = {},
                     std::string content_type = {}) {
  invocation call;
  call.function = std::move(function);
  call.query = std::move(query);
  call.payload = std::move(payload);
  call.content_type = std::move(content_type);
  return call;
}

class Builtins : public ::testing::Test {
 protected:
  void SetUp() override {
    register_builtin_functions(registry_);
    static std::atomic<int> sequence{0};
    root_ =
        std::filesystem::temp_directory_path() /
        ("p2pfaas-builtins-test-" + std::to_string(::getpid()) + "-" + std::to_string(sequence++));
    std::filesystem::create_directories(root_);
    data_dir_ = root_;
  }
  // Tests may point data_dir_ elsewhere under root_; everything goes with root_.
  void TearDown() override { std::filesystem::remove_all(root_); }

  function_result run(const invocation& call, std::stop_token stop = {}) {
    const auto* body = registry_.find(call.function);
    EXPECT_NE(body, nullptr) << call.function;
    if (body == nullptr) return {};
    function_context context{std::move(stop), data_dir_, memory_limit_mb_, rng_, budget_};
    return (*body)(call, context);
  }

  json run_ok(const invocation& call) {
    const auto result = run(call);
    EXPECT_EQ(result.status, 200) << result.body;
    EXPECT_EQ(result.content_type, "application/json");
    auto body = json::parse(result.body, nullptr, false);
    EXPECT_TRUE(body.is_object()) << result.body;
    if (!body.is_object()) return json::object();
    EXPECT_EQ(body.value("function", ""), call.function);
    EXPECT_TRUE(body.contains("duration_ms") && body["duration_ms"].is_number()) << result.body;
    return body;
  }

  // A 400 bad_parameter whose message names `parameter`.
  void expect_bad_parameter(const invocation& call, const std::string& parameter) {
    const auto result = run(call);
    EXPECT_EQ(result.status, 400) << result.body;
    const auto body = json::parse(result.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << result.body;
    EXPECT_EQ(body.value("code", ""), "bad_parameter") << result.body;
    EXPECT_EQ(body.value("message", "").rfind(parameter + ": ", 0), 0u) << result.body;
  }

  std::vector<std::filesystem::path> files_under(const std::filesystem::path& dir) {
    std::vector<std::filesystem::path> files;
    if (!std::filesystem::exists(dir)) return files;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir))
      if (!entry.is_directory()) files.push_back(entry.path());
    return files;
  }

  function_registry registry_;
  std::filesystem::path root_;
  std::filesystem::path data_dir_;
  int memory_limit_mb_ = 64;
  config::byte_budget* budget_ = nullptr;
  std::mt19937_64 rng_{12345};
};

TEST_F(Builtins, AreTheSixWorkloads) {
  EXPECT_EQ(registry_.names(),
            (std::vector<std::string>{"compute", "echo", "io", "memory", "sleep", "verify"}));
}

TEST_F(Builtins, EchoReturnsThePayloadWithItsContentType) {
  const auto result = run(make_call("echo", {{"ms", "5"}}, "{\"a\":1}", "application/json"));
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(result.body, "{\"a\":1}");
  EXPECT_EQ(result.content_type, "application/json");
}

TEST_F(Builtins, EchoKeepsBinaryPayloadsAndDefaultsToOctetStream) {
  const std::string payload("a\0b\xff\n", 5);
  const auto result = run(make_call("echo", {}, payload));
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(result.body, payload);
  EXPECT_EQ(result.content_type, "application/octet-stream");
}

TEST_F(Builtins, SleepFixedMs) {
  const auto start = clock::now();
  const auto body = run_ok(make_call("sleep", {{"ms", "20"}}));
  EXPECT_GE(clock::now() - start, 20ms);
  EXPECT_DOUBLE_EQ(body.value("requested_ms", -1.0), 20.0);
  EXPECT_GE(body.value("slept_ms", 0.0), 20.0);
  EXPECT_GE(body.value("duration_ms", 0.0), body.value("slept_ms", 0.0));
}

TEST_F(Builtins, SleepTakesParametersFromAJsonBody) {
  const auto body = run_ok(make_call("sleep", {}, R"({"ms": 3})", "application/json"));
  EXPECT_DOUBLE_EQ(body.value("requested_ms", -1.0), 3.0);
}

TEST_F(Builtins, AJsonObjectBodyCountsWithoutAContentType) {
  const auto body = run_ok(make_call("sleep", {}, R"({"ms": "2"})"));
  EXPECT_DOUBLE_EQ(body.value("requested_ms", -1.0), 2.0);
}

TEST_F(Builtins, TheQueryWinsOverTheBody) {
  const auto body =
      run_ok(make_call("sleep", {{"ms", "1"}}, R"({"ms": 600000})", "application/json"));
  EXPECT_DOUBLE_EQ(body.value("requested_ms", -1.0), 1.0);
}

TEST_F(Builtins, ABodyThatIsNotJsonIsJustPayload) {
  run_ok(make_call("sleep", {{"ms", "1"}}, "{not json at all", "text/plain"));
  run_ok(make_call("sleep", {{"ms", "1"}}, "\x01\x02 binary"));
}

TEST_F(Builtins, DeclaredJsonThatDoesNotParseIs400) {
  const auto result =
      run(make_call("sleep", {{"ms", "1"}}, "{\"ms\": ", "application/json; charset=utf-8"));
  EXPECT_EQ(result.status, 400);
  EXPECT_EQ(json::parse(result.body).value("code", ""), "bad_json");
}

TEST_F(Builtins, SleepRejectsBadParameters) {
  expect_bad_parameter(make_call("sleep"), "ms");
  expect_bad_parameter(make_call("sleep", {{"ms", "abc"}}), "ms");
  expect_bad_parameter(make_call("sleep", {{"ms", "-1"}}), "ms");
  expect_bad_parameter(make_call("sleep", {{"ms", "600001"}}), "ms");
  expect_bad_parameter(make_call("sleep", {{"ms", " 5"}}), "ms");
  expect_bad_parameter(make_call("sleep", {{"ms", "nan"}}), "ms");
  expect_bad_parameter(make_call("sleep", {{"ms", "5"}, {"mean_ms", "5"}}), "ms");
  expect_bad_parameter(make_call("sleep", {{"mean_ms", "0"}}), "mean_ms");
  expect_bad_parameter(make_call("sleep", {{"mean_ms", "700000"}}), "mean_ms");
  expect_bad_parameter(make_call("sleep", {{"mean_ms", "x"}}), "mean_ms");
  expect_bad_parameter(make_call("sleep", {}, R"({"ms": true})", "application/json"), "ms");
  expect_bad_parameter(make_call("sleep", {}, R"({"ms": "x"})", "application/json"), "ms");
}

TEST_F(Builtins, SleepEndsEarlyWhenStopped) {
  std::stop_source source;
  // The delay only makes it likely that the stop lands inside the wait; the assertions hold
  // whether it lands before or during it.
  std::jthread stopper([&source] {
    std::this_thread::sleep_for(50ms);
    source.request_stop();
  });
  const auto start = clock::now();
  const auto result = run(make_call("sleep", {{"ms", "600000"}}), source.get_token());
  EXPECT_LT(clock::now() - start, 10s);
  EXPECT_EQ(result.status, 503) << result.body;
  EXPECT_EQ(json::parse(result.body).value("code", ""), "cancelled");
}

TEST_F(Builtins, SleepMeanIsExponentialAndDeterministicForASeed) {
  constexpr int draws = 3000;
  constexpr double mean_ms = 0.02;
  rng_.seed(7);
  std::vector<double> requested;
  for (int i = 0; i < draws; ++i) {
    const auto body = run_ok(make_call("sleep", {{"mean_ms", "0.02"}}));
    requested.push_back(body.value("requested_ms", -1.0));
    ASSERT_GE(requested.back(), 0.0);
  }
  double sum = 0;
  int above_mean = 0;
  for (const double value : requested) {
    sum += value;
    if (value > mean_ms) ++above_mean;
  }
  // Standard error of the mean is mean/sqrt(3000) ≈ 1.8%; P(X > mean) = 1/e for an exponential.
  EXPECT_NEAR(sum / draws, mean_ms, mean_ms * 0.06);
  EXPECT_NEAR(static_cast<double>(above_mean) / draws, std::exp(-1.0), 0.03);

  rng_.seed(7);
  for (int i = 0; i < 20; ++i) {
    const auto body = run_ok(make_call("sleep", {{"mean_ms", "0.02"}}));
    EXPECT_DOUBLE_EQ(body.value("requested_ms", -1.0), requested[static_cast<std::size_t>(i)]);
  }
}

TEST_F(Builtins, ComputeCountsPrimesBelowN) {
  const std::vector<std::pair<std::string, int>> cases{
      {"1", 0}, {"2", 0}, {"3", 1}, {"100", 25}, {"7920", 1000}, {"100000", 9592}};
  for (const auto& [n, primes] : cases) {
    const auto body = run_ok(make_call("compute", {{"n", n}}));
    EXPECT_EQ(body.value("n", -1), std::stoi(n));
    EXPECT_EQ(body.value("primes_below_n", -1), primes) << "n=" << n;
  }
  const auto from_json = run_ok(make_call("compute", {}, R"({"n": 10.0})", "application/json"));
  EXPECT_EQ(from_json.value("primes_below_n", -1), 4);
}

TEST_F(Builtins, ComputeRejectsBadParameters) {
  expect_bad_parameter(make_call("compute"), "n");
  expect_bad_parameter(make_call("compute", {{"n", "0"}}), "n");
  expect_bad_parameter(make_call("compute", {{"n", "100000001"}}), "n");
  expect_bad_parameter(make_call("compute", {{"n", "99999999999999999999999"}}), "n");
  expect_bad_parameter(make_call("compute", {{"n", "1.5"}}), "n");
  expect_bad_parameter(make_call("compute", {{"n", "1e3"}}), "n");
  expect_bad_parameter(make_call("compute", {}, R"({"n": 10.5})", "application/json"), "n");
  expect_bad_parameter(make_call("compute", {}, R"({"n": 1e20})", "application/json"), "n");
  expect_bad_parameter(
      make_call("compute", {}, R"({"n": 18446744073709551615})", "application/json"), "n");
  expect_bad_parameter(make_call("compute", {}, R"({"n": [1]})", "application/json"), "n");
}

TEST_F(Builtins, ComputeStopsWhenAsked) {
  std::stop_source source;
  source.request_stop();
  const auto start = clock::now();
  const auto result = run(make_call("compute", {{"n", "100000000"}}), source.get_token());
  EXPECT_LT(clock::now() - start, 5s);
  EXPECT_EQ(result.status, 503) << result.body;
  EXPECT_EQ(json::parse(result.body).value("code", ""), "cancelled");
}

TEST_F(Builtins, IoWritesReadsBackAndLeavesNoFile) {
  const auto body = run_ok(make_call("io", {{"kb", "200"}}));
  EXPECT_EQ(body.value("kb", -1), 200);
  EXPECT_GE(body.value("write_ms", -1.0), 0.0);
  EXPECT_GE(body.value("read_ms", -1.0), 0.0);
  EXPECT_TRUE(std::filesystem::is_directory(data_dir_ / "tmp"));
  EXPECT_TRUE(files_under(data_dir_).empty());
}

TEST_F(Builtins, IoCreatesAMissingDataDir) {
  data_dir_ /= "nested/deeper";
  run_ok(make_call("io", {}, R"({"kb": 1})", "application/json"));
  EXPECT_TRUE(std::filesystem::is_directory(data_dir_ / "tmp"));
  EXPECT_TRUE(files_under(data_dir_).empty());
}

TEST_F(Builtins, IoRejectsBadParameters) {
  expect_bad_parameter(make_call("io"), "kb");
  expect_bad_parameter(make_call("io", {{"kb", "0"}}), "kb");
  expect_bad_parameter(make_call("io", {{"kb", "1048577"}}), "kb");
  expect_bad_parameter(make_call("io", {{"kb", "lots"}}), "kb");
  EXPECT_TRUE(files_under(data_dir_).empty());
}

TEST_F(Builtins, IoFailureIs500AndLeavesNothing) {
  // A regular file where the data dir should be: tmp/ cannot be created under it.
  const auto blocker = root_ / "not-a-dir";
  std::ofstream(blocker) << "x";
  data_dir_ = blocker;
  const auto result = run(make_call("io", {{"kb", "4"}}));
  EXPECT_EQ(result.status, 500) << result.body;
  EXPECT_EQ(json::parse(result.body).value("code", ""), "io_failed");
  EXPECT_EQ(files_under(root_), std::vector<std::filesystem::path>{blocker});
}

TEST_F(Builtins, IoStoppedLeavesNoFile) {
  std::stop_source source;
  source.request_stop();
  const auto result = run(make_call("io", {{"kb", "1024"}}), source.get_token());
  EXPECT_EQ(result.status, 503) << result.body;
  EXPECT_TRUE(files_under(data_dir_).empty());
}

TEST_F(Builtins, MemoryAllocatesAndAnswersADeterministicChecksum) {
  const auto first = run_ok(make_call("memory", {{"mb", "8"}}));
  const auto second = run_ok(make_call("memory", {}, R"({"mb": 8})", "application/json"));
  EXPECT_EQ(first.value("mb", -1), 8);
  ASSERT_TRUE(first.contains("checksum"));
  EXPECT_EQ(first["checksum"], second["checksum"]);
  const auto other = run_ok(make_call("memory", {{"mb", "9"}}));
  EXPECT_NE(first["checksum"], other["checksum"]);
}

TEST_F(Builtins, MemoryRefusesMoreThanTheLimit) {
  memory_limit_mb_ = 16;
  run_ok(make_call("memory", {{"mb", "16"}}));
  expect_bad_parameter(make_call("memory", {{"mb", "17"}}), "mb");
  const auto result = run(make_call("memory", {{"mb", "17"}}));
  EXPECT_NE(json::parse(result.body).value("message", "").find("16"), std::string::npos);
}

TEST_F(Builtins, MemoryTakesItsBlockFromTheNodeBudget) {
  config::byte_budget budget(std::uint64_t{12} << 20);
  budget_ = &budget;
  auto held_elsewhere = budget.try_reserve(std::uint64_t{6} << 20);
  const auto refused = run(make_call("memory", {{"mb", "8"}}));
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(json::parse(refused.body).value("code", ""), "memory_budget");
  EXPECT_EQ(budget.held(), std::uint64_t{6} << 20);
  run_ok(make_call("memory", {{"mb", "6"}}));
  EXPECT_EQ(budget.held(), std::uint64_t{6} << 20);  // given back when the call returned
}

TEST_F(Builtins, MemoryRejectsBadParameters) {
  expect_bad_parameter(make_call("memory"), "mb");
  expect_bad_parameter(make_call("memory", {{"mb", "0"}}), "mb");
  expect_bad_parameter(make_call("memory", {{"mb", "-3"}}), "mb");
  expect_bad_parameter(make_call("memory", {{"mb", "99999999999999"}}), "mb");
}

TEST_F(Builtins, VerifyQueryFormAcceptsTheRightSignature) {
  const auto body = run_ok(make_call("verify", {{"key", rfc4231_key}, {"signature", rfc4231_hmac}},
                                     rfc4231_data, "text/plain"));
  EXPECT_EQ(body.value("valid", false), true);
  EXPECT_EQ(body.value("bytes", 0u), std::string(rfc4231_data).size());
  EXPECT_FALSE(body.contains("computed"));  // never an oracle for valid signatures
}

TEST_F(Builtins, VerifyAcceptsUppercaseHex) {
  std::string upper = rfc4231_hmac;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const auto body =
      run_ok(make_call("verify", {{"key", rfc4231_key}, {"signature", upper}}, rfc4231_data));
  EXPECT_EQ(body.value("valid", false), true);
}

TEST_F(Builtins, VerifyRejectsAWrongSignature) {
  std::string wrong = rfc4231_hmac;
  wrong.back() = wrong.back() == '3' ? '4' : '3';
  auto body =
      run_ok(make_call("verify", {{"key", rfc4231_key}, {"signature", wrong}}, rfc4231_data));
  EXPECT_EQ(body.value("valid", true), false);
  EXPECT_FALSE(body.contains("computed"));

  body = run_ok(make_call("verify", {{"key", "jefe"}, {"signature", rfc4231_hmac}}, rfc4231_data));
  EXPECT_EQ(body.value("valid", true), false);

  body = run_ok(make_call("verify", {{"key", rfc4231_key}, {"signature", "abcd"}}, rfc4231_data));
  EXPECT_EQ(body.value("valid", true), false);
}

TEST_F(Builtins, VerifyQueryFormSignsTheRawBodyEvenWhenItIsJson) {
  // HMAC-SHA256("other", key "k"), from: echo -n other | openssl dgst -sha256 -hmac k
  const std::string other_hmac = "70fd23680ba170b61b6c07277454066a2c9eceb80f305cfe8011004ccdb55bfb";
  const std::string raw = R"({"payload":"other"})";
  EXPECT_EQ(run_ok(make_call("verify", {{"key", "k"}, {"signature", other_hmac}}, raw))
                .value("valid", true),
            false);
  EXPECT_EQ(
      run_ok(make_call("verify", {},
                       R"({"payload":"other","key":"k","signature":")" + other_hmac + R"("})"))
          .value("valid", false),
      true);
}

TEST_F(Builtins, VerifyJsonForm) {
  const json request{{"payload", rfc4231_data}, {"key", rfc4231_key}, {"signature", rfc4231_hmac}};
  const auto body = run_ok(make_call("verify", {}, request.dump(), "application/json"));
  EXPECT_EQ(body.value("valid", false), true);

  json wrong = request;
  wrong["payload"] = "what do ya want for something?";
  EXPECT_EQ(run_ok(make_call("verify", {}, wrong.dump(), "application/json")).value("valid", true),
            false);
}

TEST_F(Builtins, VerifyRejectsBadParameters) {
  expect_bad_parameter(make_call("verify", {{"signature", rfc4231_hmac}}, rfc4231_data), "key");
  expect_bad_parameter(make_call("verify", {{"key", "k"}}, rfc4231_data), "signature");
  expect_bad_parameter(make_call("verify", {{"key", "k"}, {"signature", "zz"}}, "x"), "signature");
  expect_bad_parameter(make_call("verify", {{"key", "k"}, {"signature", "abc"}}, "x"), "signature");
  expect_bad_parameter(make_call("verify", {{"key", "k"}, {"signature", ""}}, "x"), "signature");
  expect_bad_parameter(
      make_call("verify", {}, R"({"key":"k","signature":"00"})", "application/json"), "payload");
  expect_bad_parameter(
      make_call("verify", {}, R"({"payload":1,"key":"k","signature":"00"})", "application/json"),
      "payload");
  expect_bad_parameter(
      make_call("verify", {}, R"({"payload":"p","key":5,"signature":"00"})", "application/json"),
      "key");
}

// {"<name>":[[[...]]]}: 100,000 levels, as in issue 15. Showing the value in an error message
// used to recurse once per level and overflow the stack.
std::string deeply_nested(const std::string& name) {
  constexpr std::size_t levels = 100000;
  return "{\"" + name + "\":" + std::string(levels, '[') + std::string(levels, ']') + "}";
}

TEST_F(Builtins, DeeplyNestedJsonIs400NotACrash) {
  for (const auto& [function, parameter] : std::vector<std::pair<std::string, std::string>>{
           {"compute", "n"}, {"sleep", "ms"}, {"memory", "mb"}, {"io", "kb"}, {"verify", "key"}}) {
    for (const std::string content_type : {"application/json", ""}) {
      const auto result = run(make_call(function, {}, deeply_nested(parameter), content_type));
      EXPECT_EQ(result.status, 400) << function << " " << result.body.substr(0, 200);
      EXPECT_LT(result.body.size(), 400u) << function;
    }
  }
  // echo never reads its payload: it answers it unchanged.
  const std::string body = deeply_nested("n");
  const auto echoed = run(make_call("echo", {}, body, "application/json"));
  EXPECT_EQ(echoed.status, 200);
  EXPECT_EQ(echoed.body, body);
}

TEST_F(Builtins, ParametersAreCheckedWithoutDoingTheWork) {
  const auto start = clock::now();
  EXPECT_FALSE(check_builtin_parameters(make_call("sleep", {{"ms", "600000"}}), 64));
  EXPECT_LT(clock::now() - start, 1s);  // read, not slept
  EXPECT_FALSE(check_builtin_parameters(make_call("compute", {{"n", "100000000"}}), 64));
  EXPECT_FALSE(check_builtin_parameters(make_call("memory", {{"mb", "64"}}), 64));
  EXPECT_FALSE(check_builtin_parameters(make_call("echo", {}, "{nope", "application/json"), 64));
  EXPECT_FALSE(check_builtin_parameters(
      make_call("verify", {{"key", "k"}, {"signature", rfc4231_hmac}}, "x"), 64));
  // A refusal is the answer the body gives.
  const invocation bad = make_call("memory", {{"mb", "65"}});
  const auto refused = check_builtin_parameters(bad, 64);
  ASSERT_TRUE(refused);
  memory_limit_mb_ = 64;
  const auto answered = run(bad);
  EXPECT_EQ(refused->status, answered.status);
  EXPECT_EQ(refused->body, answered.body);
  const auto nested = check_builtin_parameters(
      make_call("compute", {}, deeply_nested("n"), "application/json"), 64);
  ASSERT_TRUE(nested);
  EXPECT_EQ(nested->status, 400);
  EXPECT_NE(nested->body.find("nested deeper than 64 levels"), std::string::npos) << nested->body;
}

TEST_F(Builtins, AValueInAnErrorMessageIsCutShort) {
  std::string big = "[1";
  for (int i = 0; i < 50000; ++i) big += ",1";
  big += "]";
  const auto result = run(make_call("compute", {}, R"({"n":)" + big + "}", "application/json"));
  EXPECT_EQ(result.status, 400);
  EXPECT_LT(result.body.size(), 400u) << result.body.substr(0, 400);
}

}  // namespace
}  // namespace p2pfaas::workloads
