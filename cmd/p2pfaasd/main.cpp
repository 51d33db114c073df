// p2pfaasd: command line -> config -> node -> serve until SIGTERM/SIGINT -> drain -> exit 0.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <iostream>
#include <thread>

#include "config/command_line.hpp"
#include "config/config.hpp"
#include "net/http_server.hpp"
#include "node/logging.hpp"
#include "node/node.hpp"

namespace {

int report(const p2pfaas::config::problems& problems) {
  for (const auto& p : problems) std::cerr << "config error: " << p.to_string() << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace p2pfaas;
  // Signals are taken synchronously by the main thread (sigwait); every thread started later
  // inherits this mask, so no handler ever runs on an I/O or worker thread.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto cli = config::parse_command_line(argc, argv, std::cout, std::cerr);
  if (cli.exit_code) return *cli.exit_code;
  config::loaded loaded = config::load(cli.sources);
  if (!loaded.ok()) return report(loaded.errors);
  if (auto problems = node::node::check(loaded.value); !problems.empty()) return report(problems);

  node::configure_logging(loaded.value.log.format, loaded.value.log.level);
  // The default soft limit (often 1024) is below http.max_connections; the HTTP server logs the
  // connection limit it can keep if even the hard limit is.
  net::raise_open_file_limit();
  std::unique_ptr<node::node> daemon;
  try {
    daemon = std::make_unique<node::node>(loaded.value);
    daemon->start();
  } catch (const std::exception& e) {
    spdlog::error("cannot start: {}", e.what());
    return 1;
  }

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("received {}: leaving", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  // A second signal while draining means "now".
  std::thread([&stop_signals] {
    int again = 0;
    sigwait(&stop_signals, &again);
    // Other threads may still be logging: flush, do not tear the logger down.
    spdlog::warn("second signal: exiting without finishing calls");
    spdlog::default_logger()->flush();
    _exit(1);
  }).detach();
  daemon->shutdown();
  daemon.reset();
  spdlog::shutdown();
  return 0;
}
