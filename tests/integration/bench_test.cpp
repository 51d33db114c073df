// p2pfaas-bench against real p2pfaasd processes it launches itself.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/daemon_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/temp_dir.hpp"

namespace p2pfaas::testing {
namespace {

using namespace std::chrono_literals;

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> bench_command(std::vector<std::string> args) {
  args.insert(args.begin(), {binary_path("p2pfaas-bench").string(), "experiment"});
  return args;
}

TEST(Bench, SmokeScenarioWritesReportCsvAndDashboard) {
  temp_dir out;
  const auto started = std::chrono::steady_clock::now();
  const auto run = run_command(bench_command({source_path("bench/scenarios/smoke.yaml").string(),
                                              "--out", out.path().string()}),
                               120s);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(run.exit_code, 0) << run.output;
  std::cout << "smoke.yaml took " << seconds << " s\n";
  EXPECT_NE(run.output.find("dashboard: "), std::string::npos) << run.output;

  const auto report = nlohmann::json::parse(read_file(out / "report.json"));
  ASSERT_TRUE(report["runs"].is_array());
  ASSERT_FALSE(report["runs"].empty());
  EXPECT_EQ(report["scenario"]["name"], "smoke");
  std::set<std::string> policies;
  std::size_t profile_runs = 0;
  for (const auto& r : report["runs"]) {
    for (const char* key : {"policy", "profile", "workload", "requests", "ok", "rejected",
                            "deadline_met_ratio", "forwarded_ratio", "throughput_rps", "latency_ms",
                            "cpu_percent", "rss_mb", "cost", "security_score", "composite_score"}) {
      EXPECT_TRUE(r.contains(key)) << key << " in " << r.dump();
    }
    for (const char* key : {"p50", "p95", "p99", "mean"})
      EXPECT_TRUE(r["latency_ms"].contains(key)) << key;
    const auto requests = r["requests"].get<std::size_t>();
    EXPECT_GT(requests, 0u) << r.dump();
    EXPECT_EQ(r["ok"].get<std::size_t>() + r["rejected"].get<std::size_t>() +
                  r["errors"].get<std::size_t>(),
              requests)
        << r.dump();
    EXPECT_GT(r["ok"].get<std::size_t>(), 0u) << r.dump();
    EXPECT_GT(r["rss_mb"].get<double>(), 1) << "read from the nodes' /metrics: " << r.dump();
    EXPECT_GT(r["cpu_percent"].get<double>(), 0) << r.dump();
    EXPECT_GT(r["latency_ms"]["p50"].get<double>(), 0) << r.dump();
    if (r["profile"] != "") {
      ++profile_runs;
      EXPECT_GT(r["cost"].get<double>(), 0) << r.dump();
      EXPECT_GT(r["security_score"].get<double>(), 0) << r.dump();
    } else {
      policies.insert(
          r["policy"].get<std::string>().substr(0, r["policy"].get<std::string>().find(' ')));
    }
  }
  EXPECT_EQ(policies,
            (std::set<std::string>{"CentralJSQ", "ForwardScheduler", "LearningScheduler",
                                   "NoScheduler", "PowerOfNScheduler", "RoundRobinScheduler"}));
  EXPECT_GE(profile_runs, 2u);

  // metrics.csv: a header and one line per run.
  const std::string csv = read_file(out / "metrics.csv");
  EXPECT_TRUE(csv.starts_with("policy,profile,workload,")) << csv;
  EXPECT_EQ(static_cast<std::size_t>(std::count(csv.begin(), csv.end(), '\n')),
            report["runs"].size() + 1)
      << csv;

  // calls.csv: every measured call, each with its run.
  const std::string calls = read_file(out / "calls.csv");
  EXPECT_TRUE(calls.starts_with(
      "run,workload,at_seconds,node,status,latency_ms,executed_on,hops,deadline_met,error\n"))
      << calls.substr(0, 200);
  std::size_t total_requests = 0;
  for (const auto& r : report["runs"]) total_requests += r["requests"].get<std::size_t>();
  EXPECT_EQ(static_cast<std::size_t>(std::count(calls.begin(), calls.end(), '\n')),
            total_requests + 1);

  // The dashboard renders offline in headless Chromium (skipped when it is not installed).
  const auto dashboard = out / "dashboard.html";
  ASSERT_TRUE(std::filesystem::exists(dashboard));
  const auto render =
      run_command({"/usr/bin/python3", source_path("tests/dashboard/render_check.py").string(),
                   dashboard.string()},
                  180s);
  if (render.exit_code == 77) GTEST_SKIP() << render.output;
  EXPECT_EQ(render.exit_code, 0) << render.output;
}

TEST(Bench, ScenarioErrorsNameTheFieldAndLaunchNothing) {
  temp_dir dir;
  const auto file = dir.write("bad.yaml",
                              "workloads:\n  - function: sleep\n    weight: -1\n"
                              "load:\n  rates: [10, x]\npolicies:\n  - name: NoScheduler\n");
  const auto run = run_command(bench_command({file.string(), "--out", (dir / "out").string()}));
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("workloads[0].weight"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("load.rates[1]"), std::string::npos) << run.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "out"));
}

// --targets: the bench drives nodes it did not start, with an admin token, and gives them their
// scheduler and executor settings back at the end.
TEST(Bench, TargetsAreDrivenAndTheirSettingsRestored) {
  temp_dir dir;
  const auto key = dir.write("cluster.key", std::string(test_cluster_key) + "\n");
  ::chmod(key.c_str(), 0600);
  const auto token = dir.write("admin.token", "bench-test-token\n");
  const std::vector<std::string> common = {"--cluster-key-file", key.string(), "--admin-token-file",
                                           token.string(),       "--slots",    "3"};
  daemon_process a(common, "a");
  auto with_join = common;
  with_join.insert(with_join.end(), {"--join", "127.0.0.1:" + std::to_string(a.port())});
  daemon_process b(with_join, "b");
  const header_list auth = {{"Authorization", "Bearer bench-test-token"}};
  ASSERT_TRUE(eventually(
      [&] { return http_get(a.port(), "/list").body.find("\"b\"") != std::string::npos; }));
  const std::string before = http_get(a.port(), "/configuration/scheduler", auth).body;

  const auto scenario = dir.write(
      "targets.yaml",
      "cluster:\n  nodes: 2\nworkloads:\n  - function: sleep\n    parameters:\n"
      "      ms: 2\nload:\n  rates: [20, 5]\nduration_seconds: 1\nwarmup_seconds: 0\n"
      "policies:\n  - name: CentralJSQ\n  - name: ForwardScheduler\n    parameters: [\"1\"]\n"
      "profiles: [" +
          source_path("bench/profiles/unikernel.yaml").string() + "]\n");
  const auto targets =
      "http://127.0.0.1:" + std::to_string(a.port()) + ",127.0.0.1:" + std::to_string(b.port());
  const auto run =
      run_command(bench_command({scenario.string(), "--out", (dir / "out").string(), "--targets",
                                 targets, "--admin-token-file", token.string()}),
                  60s);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto report = nlohmann::json::parse(read_file(dir / "out" / "report.json"));
  ASSERT_EQ(report["runs"].size(), 3u);
  EXPECT_GT(report["runs"][1]["forwarded_ratio"].get<double>(), 0.5) << report["runs"][1].dump();
  for (const auto& r : report["runs"]) EXPECT_GT(r["ok"].get<std::size_t>(), 0u) << r.dump();

  EXPECT_EQ(http_get(a.port(), "/configuration/scheduler", auth).body, before);
  const auto config = nlohmann::json::parse(http_get(b.port(), "/configuration", auth).body);
  EXPECT_EQ(config["executor"]["slots"], 3) << "the unikernel profile's 1 slot was undone";
  EXPECT_EQ(config["scheduler"]["name"], "NoScheduler");

  // A wrong token: the bench says which node refused what, and stops.
  const auto wrong = dir.write("wrong.token", "wrong-token-0123456789\n");
  const auto refused =
      run_command(bench_command({scenario.string(), "--out", (dir / "out2").string(), "--targets",
                                 targets, "--admin-token-file", wrong.string()}),
                  60s);
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("401"), std::string::npos) << refused.output;
}

// The pids of a process's children, from /proc.
std::vector<pid_t> children_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  std::vector<pid_t> out;
  for (pid_t child; in >> child;) out.push_back(child);
  return out;
}

// Ctrl-C while the nodes start (`delay` 0) and while the load runs: the bench exits 130 and no
// node it launched is left.
void interrupt_after(std::chrono::milliseconds delay) {
  temp_dir dir;
  const auto scenario = dir.write(
      "long.yaml",
      "cluster:\n  nodes: 3\nworkloads:\n  - function: sleep\n    parameters:\n"
      "      ms: 5\nload:\n  rates: [20]\nduration_seconds: 60\nwarmup_seconds: 0\n"
      "policies:\n  - name: PowerOfNScheduler\n    parameters: [\"2\", \"1\", \"false\", \"1\"]\n");
  const auto log = dir / "bench.log";
  auto argv_text = bench_command({scenario.string(), "--out", (dir / "out").string()});
  std::vector<char*> argv;
  for (auto& arg : argv_text) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t bench = ::fork();
  if (bench == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ASSERT_GT(bench, 0);
  // Wait until the three nodes run and calls flow.
  std::vector<pid_t> nodes;
  const bool running = eventually(
      [&] {
        nodes = children_of(bench);
        return nodes.size() == 3;
      },
      20s);
  std::this_thread::sleep_for(delay);
  ::kill(bench, SIGINT);
  int status = 0;
  bool exited = eventually([&] { return ::waitpid(bench, &status, WNOHANG) == bench; }, 20s);
  if (!exited) {
    ::kill(bench, SIGKILL);
    ::waitpid(bench, &status, 0);
  }
  ASSERT_TRUE(running) << read_file(log);
  ASSERT_TRUE(exited) << read_file(log);
  EXPECT_TRUE(WIFEXITED(status)) << read_file(log);
  EXPECT_EQ(WEXITSTATUS(status), 130) << read_file(log);
  EXPECT_NE(read_file(log).find("interrupted"), std::string::npos) << read_file(log);
  for (pid_t node : nodes) {
    EXPECT_TRUE(eventually([&] { return ::kill(node, 0) != 0 && errno == ESRCH; }, 5s))
        << "node " << node << " left";
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "out" / "report.json"));
}

TEST(Bench, CtrlCWhileNodesStartLeavesNoNode) {
  interrupt_after(0ms);
}

TEST(Bench, CtrlCDuringTheLoadLeavesNoNode) {
  interrupt_after(3s);
}

}  // namespace
}  // namespace p2pfaas::testing
