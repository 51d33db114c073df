// p2pfaas-bench: runs the experiments of a scenario file and writes metrics.csv, report.json and
// dashboard.html (see API.md and the README).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "bench/experiment.hpp"
#include "bench/scenario.hpp"
#include "config/secret_file.hpp"

namespace {

namespace asio = boost::asio;
namespace bench = p2pfaas::bench;
namespace config = p2pfaas::config;

// The p2pfaasd next to this binary (both are built into build/bin/).
std::filesystem::path sibling_daemon() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path("p2pfaasd") : self.parent_path() / "p2pfaasd";
}

int experiment_command(const std::filesystem::path& scenario_file,
                       const std::filesystem::path& out_dir,
                       const std::vector<std::string>& target_texts,
                       const std::filesystem::path& daemon,
                       const std::filesystem::path& token_file) {
  auto read = bench::read_scenario(scenario_file);
  if (!read.value) {
    for (const auto& problem : read.errors)
      std::cerr << "scenario error: " << problem.to_string() << '\n';
    return 2;
  }
  bench::experiment_options options;
  for (const auto& text : target_texts) {
    const auto parsed = bench::parse_endpoint(text);
    if (!parsed) {
      std::cerr << "--targets: not a URL or host:port: " << text << '\n';
      return 2;
    }
    const auto resolved = bench::resolve(*parsed);
    if (!resolved) {
      std::cerr << "--targets: cannot resolve " << parsed->host << '\n';
      return 2;
    }
    options.targets.push_back(*resolved);
  }
  if (!token_file.empty()) {
    std::string error;
    const auto token = config::read_admin_token(token_file, error);
    if (!token) {
      std::cerr << "--admin-token-file: " << error << '\n';
      return 2;
    }
    options.admin_token = *token;
  }
  options.p2pfaasd = daemon.empty() ? sibling_daemon() : daemon;
  if (options.targets.empty() && ::access(options.p2pfaasd.c_str(), X_OK) != 0) {
    std::cerr << "cannot run " << options.p2pfaasd.string()
              << " (build it, or give --p2pfaasd PATH)\n";
    return 2;
  }
  char work_template[] = "/tmp/p2pfaas-bench-XXXXXX";
  if (::mkdtemp(work_template) == nullptr) {
    std::cerr << "cannot create a temp dir\n";
    return 1;
  }
  options.work_dir = work_template;
  // A line rewritten in place on a terminal; plain lines otherwise (logs, CI).
  const bool terminal = ::isatty(STDERR_FILENO) != 0;
  options.progress = [terminal](const std::string& line, bool finished) {
    if (terminal) {
      std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), finished ? "\n" : "");
    } else if (finished) {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fflush(stderr);
  };

  // The experiment outlives the event loop: stopping it mid-run leaves coroutine frames that the
  // io_context destroys, and they refer to the experiment.
  bench::experiment run(*read.value, options);
  asio::io_context io;
  int status = 0;
  std::string failure;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    status = 128 + signal;
    failure = std::string("interrupted (") + (signal == SIGINT ? "SIGINT" : "SIGTERM") + ")";
    io.stop();
  });
  asio::co_spawn(io, run.run(), [&](std::exception_ptr error) {
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        failure = e.what();
      }
      status = 1;
    }
    signals.cancel();
  });
  io.run();
  run.stop_cluster();  // whatever happened, no node is left running
  std::error_code ec;
  if (status == 1 && options.targets.empty()) {  // the nodes' logs may say why
    std::cerr << (terminal ? "\n" : "") << "p2pfaas-bench: " << failure
              << "; nodes stopped; their logs are in " << options.work_dir.string() << '\n';
    return status;
  }
  if (status != 0) {
    std::filesystem::remove_all(options.work_dir, ec);
    std::cerr << (terminal ? "\n" : "") << "p2pfaas-bench: " << failure
              << (options.targets.empty() ? "; nodes stopped\n" : "\n");
    return status;
  }
  std::filesystem::remove_all(options.work_dir, ec);
  const auto scenario = bench::scenario_json(*read.value);
  bench::write_outputs(out_dir, run.results(), run.details(), scenario, run.calls_csv());
  std::cout << bench::summary_table(run.results()) << '\n'
            << "wrote " << (out_dir / "metrics.csv").string() << ", "
            << (out_dir / "report.json").string() << ", " << (out_dir / "calls.csv").string()
            << '\n'
            << "dashboard: " << std::filesystem::absolute(out_dir / "dashboard.html").string()
            << '\n';
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"p2pfaas-bench: reproducible experiments on a p2pfaas cluster"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(P2PFAAS_VERSION));
  auto* experiment = app.add_subcommand("experiment", "run a scenario file and write the report");
  std::filesystem::path scenario_file, out_dir = "results", daemon, token_file;
  std::vector<std::string> targets;
  experiment->add_option("scenario", scenario_file, "scenario YAML (bench/scenarios/*.yaml)")
      ->required();
  experiment->add_option("--out", out_dir, "where metrics.csv, report.json, dashboard.html go")
      ->capture_default_str();
  experiment
      ->add_option("--targets", targets,
                   "running nodes to use (URL or host:port, comma-separated) "
                   "instead of launching a local cluster")
      ->delimiter(',');
  experiment->add_option("--p2pfaasd", daemon,
                         "the p2pfaasd to launch (default: the one next to this binary)");
  experiment->add_option("--admin-token-file", token_file, "admin token of the --targets nodes");
  CLI11_PARSE(app, argc, argv);
  try {
    return experiment_command(scenario_file, out_dir, targets, daemon, token_file);
  } catch (const std::exception& e) {
    std::cerr << "p2pfaas-bench: " << e.what() << '\n';
    return 1;
  }
}
