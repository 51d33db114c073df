// GET/POST /configuration: validation of a whole new copy, atomic application, admin access.
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>

#include "tests/support/daemon_process.hpp"
#include "tests/support/http_client.hpp"

namespace p2pfaas::testing {
namespace {

using json = nlohmann::json;

json config_of(const daemon_process& node, const header_list& headers = {}) {
  return json::parse(http_get(node.port(), "/configuration", headers).body);
}

int running(const daemon_process& node) {
  return json::parse(http_get(node.port(), "/monitoring/load").body)["functions_running"];
}

TEST(Configuration, InvalidPatchIs400NamingEveryProblemAndChangesNothing) {
  daemon_process node({"--slots", "2"});
  const json before = config_of(node);
  auto r = http_request(
      node.port(), "POST", "/configuration",
      R"({"executor":{"slots":0,"queue":"many"},"http":{"max_body_bytes":-1},"nope":1})");
  ASSERT_EQ(r.status, 400);
  auto body = json::parse(r.body);
  EXPECT_EQ(body["code"], "invalid_configuration");
  std::set<std::string> paths;
  for (const auto& p : body["problems"]) paths.insert(p["path"]);
  EXPECT_EQ(paths, (std::set<std::string>{"executor.slots", "executor.queue", "http.max_body_bytes",
                                          "nope"}));
  for (auto path : {"executor.slots", "executor.queue", "http.max_body_bytes", "nope"}) {
    EXPECT_NE(body["message"].get<std::string>().find(path), std::string::npos) << path;
  }
  EXPECT_EQ(config_of(node), before);
}

TEST(Configuration, FieldAndSchedulerProblemsAreReportedTogether) {
  daemon_process node;
  auto r = http_request(node.port(), "POST", "/configuration",
                        R"({"scheduler":{"name":"Bogus"},"executor":{"slots":0}})");
  ASSERT_EQ(r.status, 400);
  const json body = json::parse(r.body);
  std::set<std::string> paths;
  for (const auto& p : body["problems"]) paths.insert(p["path"]);
  EXPECT_EQ(paths, (std::set<std::string>{"executor.slots", "scheduler"})) << r.body;
}

TEST(Configuration, NotJsonIs400) {
  daemon_process node;
  auto r = http_request(node.port(), "POST", "/configuration", "{executor");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["code"], "bad_json");
}

TEST(Configuration, SlotsChangeTakesEffectWithoutRestart) {
  daemon_process node({"--slots", "1", "--queue", "0"});
  auto first = std::async(std::launch::async,
                          [&] { return http_get(node.port(), "/function/sleep?ms=1500"); });
  ASSERT_TRUE(eventually([&] { return running(node) == 1; }));
  EXPECT_EQ(http_get(node.port(), "/function/echo").status, 429);

  auto r = http_request(node.port(), "POST", "/configuration", R"({"executor":{"slots":2}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["executor"]["slots"], 2);
  EXPECT_EQ(json::parse(r.body)["executor"]["queue"], 0);  // siblings kept
  EXPECT_EQ(http_get(node.port(), "/function/echo").status, 200);
  EXPECT_EQ(json::parse(http_get(node.port(), "/monitoring/load").body)["functions_running_max"],
            2);
  EXPECT_EQ(first.get().status, 200);
}

TEST(Configuration, SchedulerChangeAppliesToNewCalls) {
  daemon_process node({"--slots", "1", "--queue", "4"});
  auto r = http_request(node.port(), "POST", "/configuration",
                        R"({"scheduler":{"name":"NoScheduler","parameters":["true"]}})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto busy = std::async(std::launch::async,
                         [&] { return http_get(node.port(), "/function/sleep?ms=1000"); });
  ASSERT_TRUE(eventually([&] { return running(node) == 1; }));
  EXPECT_EQ(http_get(node.port(), "/function/echo").status, 503);  // loss: no queueing
  EXPECT_EQ(busy.get().status, 200);

  auto bad = http_request(node.port(), "POST", "/configuration",
                          R"({"scheduler":{"name":"NoScheduler","parameters":["sometimes"]}})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("parameters[0] (loss)"), std::string::npos) << bad.body;
}

TEST(Configuration, RestartOnlyKeysAreRefused) {
  daemon_process node;
  auto r = http_request(node.port(), "POST", "/configuration", R"({"node":{"id":"other"}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("cannot be changed at runtime"), std::string::npos) << r.body;
  EXPECT_EQ(config_of(node)["node"]["id"], "a");
}

TEST(Configuration, AdminTokenIsRequiredWhenConfigured) {
  temp_dir dir;
  auto token = dir.write("token", "s3cret-token-0123456789\n");
  daemon_process node({"--admin-token-file", token.string()});
  EXPECT_EQ(http_get(node.port(), "/configuration").status, 401);
  EXPECT_EQ(http_get(node.port(), "/configuration", {{"Authorization", "Bearer wrong"}}).status,
            401);
  EXPECT_EQ(http_get(node.port(), "/configuration", {{"Authorization", "s3cret-token-0123456789"}})
                .status,
            401);
  auto ok = http_get(node.port(), "/configuration",
                     {{"Authorization", "Bearer s3cret-token-0123456789"}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(
      http_request(node.port(), "POST", "/configuration", R"({"executor":{"queue":3}})").status,
      401);
  // Non-admin endpoints stay open.
  EXPECT_EQ(http_get(node.port(), "/function/echo").status, 200);
  EXPECT_EQ(http_get(node.port(), "/metrics").status, 200);
}

TEST(Configuration, WithoutTokenLoopbackIsServed) {
  daemon_process node;
  EXPECT_EQ(http_get(node.port(), "/configuration").status, 200);
}

TEST(Configuration, WithoutTokenBrowserRequestsAreRefused) {
  // A web page on this machine can reach 127.0.0.1; its browser names the page's origin.
  daemon_process node;
  auto r = http_request(node.port(), "POST", "/configuration", R"({"executor":{"queue":0}})",
                        {{"Origin", "http://attacker.example"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(config_of(node)["executor"]["queue"], 0);
}

}  // namespace
}  // namespace p2pfaas::testing
