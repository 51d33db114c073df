#pragma once

#include <sys/types.h>

#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "bench/http_client.hpp"

namespace p2pfaas::bench {

// How to start the nodes of a local cluster.
struct local_cluster_options {
  std::filesystem::path binary;     // p2pfaasd
  std::filesystem::path directory;  // data dirs, logs and the key go here (made if missing)
  int nodes = 3;
  std::filesystem::path key_file;  // "" = no key (nodes run alone)
  // Per node: the --set dotted.key=value pairs (executor.slots, executor.seed...).
  std::vector<std::vector<std::pair<std::string, std::string>>> settings;
};

// p2pfaasd processes on ephemeral loopback ports. The first is started alone and the others join
// it. Children get SIGTERM if the bench dies (PR_SET_PDEATHSIG) and sit in their own process
// group, so a Ctrl-C at the terminal reaches only the bench, which stops them in order.
class local_cluster {
 public:
  explicit local_cluster(local_cluster_options options);
  ~local_cluster();  // stop()
  local_cluster(const local_cluster&) = delete;
  local_cluster& operator=(const local_cluster&) = delete;

  // Starts every node and waits until each answers /health and sees all the others alive.
  // Throws std::runtime_error naming the node and the end of its log when one cannot start.
  boost::asio::awaitable<void> start(std::chrono::milliseconds timeout);

  const std::vector<endpoint>& endpoints() const { return endpoints_; }
  const std::vector<std::string>& ids() const { return ids_; }

  // SIGTERM to every node, then up to `grace` for them to exit, then SIGKILL. Idempotent, safe
  // to call from anywhere (it waits with waitpid, not with the event loop).
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));

  // Pids of the nodes still running (for tests and for the end-of-run check).
  std::vector<pid_t> running() const;

 private:
  pid_t spawn(int index, const std::vector<std::string>& extra);
  boost::asio::awaitable<std::uint16_t> wait_for_port(
      int index, std::chrono::steady_clock::time_point deadline);
  std::string log_tail(int index) const;

  local_cluster_options options_;
  std::vector<pid_t> pids_;
  std::vector<endpoint> endpoints_;
  std::vector<std::string> ids_;
};

}  // namespace p2pfaas::bench
