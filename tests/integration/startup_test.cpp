// Start-up: readiness, command line, and config errors reported with their field and exit 2.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/daemon_process.hpp"
#include "tests/support/http_client.hpp"

namespace p2pfaas::testing {
namespace {

using json = nlohmann::json;

int count_lines(const std::string& text, const std::string& prefix) {
  int n = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (text.compare(start, prefix.size(), prefix) == 0) ++n;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return n;
}

TEST(Startup, ReadyWithinOneSecondAndHealthy) {
  daemon_process node;
  EXPECT_LT(node.ready_after(), std::chrono::seconds(1));
  auto health = http_get(node.port(), "/health");
  ASSERT_EQ(health.status, 200);
  auto body = json::parse(health.body);
  EXPECT_EQ(body["status"], "ok");
  EXPECT_EQ(body["node"], "a");
  EXPECT_EQ(http_get(node.port(), "/healthz").status, 200);
}

TEST(Startup, VersionAndHelp) {
  auto version = run_command(daemon_argv({"--version"}));
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.output.find("p2pfaasd " P2PFAAS_VERSION), std::string::npos);
  auto help = run_command(daemon_argv({"--help"}));
  EXPECT_EQ(help.exit_code, 0);
  for (auto flag : {"--config", "--node-id", "--listen", "--advertise", "--join", "--data-dir",
                    "--slots", "--queue", "--cluster-key-file", "--admin-token-file", "--log-level",
                    "--set", "--version"}) {
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag;
  }
}

TEST(Startup, BadFlagValueExits2NamingTheField) {
  auto r = run_command(daemon_argv({"--slots", "0", "--listen", "127.0.0.1:0"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("config error: executor.slots: must be >= 1 (got 0)"), std::string::npos)
      << r.output;
}

TEST(Startup, UnknownFlagExits2) {
  auto r = run_command(daemon_argv({"--no-such-flag"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(count_lines(r.output, "config error: "), 1) << r.output;
}

TEST(Startup, BadConfigFileReportsEveryProblemOnItsOwnLine) {
  temp_dir dir;
  auto file = dir.write("node.yaml",
                        "node:\n  listen: \"127.0.0.1:0\"\n"
                        "executor:\n  slots: 0\n  queue: lots\n"
                        "log:\n  level: loud\n"
                        "colour: blue\n");
  auto r = run_command(daemon_argv({"--config", file.string()}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(count_lines(r.output, "config error: "), 4) << r.output;
  for (auto path : {"executor.slots:", "executor.queue:", "log.level:", "colour:"}) {
    EXPECT_NE(r.output.find(std::string("config error: ") + path), std::string::npos) << path;
  }
}

TEST(Startup, UnknownSchedulerExits2) {
  auto r = run_command(daemon_argv({"--listen", "127.0.0.1:0", "--set", "scheduler.name=Magic"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("config error: scheduler: unknown scheduler \"Magic\""),
            std::string::npos)
      << r.output;
}

TEST(Startup, MissingConfigFileExits2) {
  auto r = run_command(daemon_argv({"--config", "/nonexistent/node.yaml"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("/nonexistent/node.yaml"), std::string::npos) << r.output;
}

TEST(Startup, DataDirThatCannotBeCreatedExits2) {
  auto r =
      run_command(daemon_argv({"--listen", "127.0.0.1:0", "--data-dir", "/proc/p2pfaas-nope"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("config error: node.data_dir: cannot create /proc/p2pfaas-nope"),
            std::string::npos)
      << r.output;
}

TEST(Startup, PortInUseExits1WithAReason) {
  daemon_process first;
  auto r = run_command(
      daemon_argv({"--listen", "127.0.0.1:" + std::to_string(first.port()), "--data-dir", "/tmp"}));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("cannot start"), std::string::npos) << r.output;
}

TEST(Startup, PrecedenceFileThenFlagsThenSet) {
  temp_dir dir;
  auto file = dir.write("node.yaml", "executor:\n  slots: 3\n  queue: 7\n");
  daemon_process node(
      {"--config", file.string(), "--queue", "9", "--set", "executor.timeout_seconds=12"});
  auto cfg = json::parse(http_get(node.port(), "/configuration").body);
  EXPECT_EQ(cfg["executor"]["slots"], 3);
  EXPECT_EQ(cfg["executor"]["queue"], 9);
  EXPECT_EQ(cfg["executor"]["timeout_seconds"], 12.0);
}

TEST(Startup, EnvironmentSitsBetweenFileAndFlags) {
  temp_dir dir;
  auto file = dir.write("node.yaml", "executor:\n  queue: 3\n  slots: 3\n");
  setenv("P2PFAAS_EXECUTOR_QUEUE", "5", 1);
  setenv("P2PFAAS_EXECUTOR_SLOTS", "4", 1);
  daemon_process node({"--config", file.string(), "--slots", "6"});
  unsetenv("P2PFAAS_EXECUTOR_QUEUE");
  unsetenv("P2PFAAS_EXECUTOR_SLOTS");
  auto cfg = json::parse(http_get(node.port(), "/configuration").body);
  EXPECT_EQ(cfg["executor"]["queue"], 5);  // env over file
  EXPECT_EQ(cfg["executor"]["slots"], 6);  // flag over env
}

TEST(Startup, JsonLogsAreOneObjectPerLine) {
  daemon_process node({"--set", "log.format=json"});
  ASSERT_EQ(http_get(node.port(), "/health").status, 200);
  std::istringstream lines(node.log());
  int parsed = 0;
  for (std::string line; std::getline(lines, line);) {
    auto entry = json::parse(line, nullptr, false);
    ASSERT_FALSE(entry.is_discarded()) << line;
    EXPECT_TRUE(entry.contains("time") && entry.contains("level") && entry.contains("message"));
    ++parsed;
  }
  EXPECT_GE(parsed, 1);
}

}  // namespace
}  // namespace p2pfaas::testing
