#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/temp_dir.hpp"

namespace p2pfaas::testing {

// A cluster key for tests (base64 of "0123456789abcdef0123456789abcdef").
inline constexpr std::string_view test_cluster_key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

// Path of a binary of this build tree (its bin/ directory).
std::filesystem::path binary_path(const std::string& name);
// A file of the source tree.
std::filesystem::path source_path(const std::string& relative);

// p2pfaasd of this build tree with `args`, for run_command.
std::vector<std::string> daemon_argv(std::vector<std::string> args);

// Peak resident memory of a process in MiB (VmHWM): what it held at its worst, not just now;
// -1 when it cannot be read.
long peak_rss_mib(pid_t pid);

struct run_result {
  int exit_code = -1;  // -1 when killed by a signal or timed out
  std::string output;  // stdout and stderr together
};
// Runs a command to completion (bounded by `timeout`, then SIGKILL).
run_result run_command(const std::vector<std::string>& argv,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30));

// A real p2pfaasd process on an ephemeral loopback port, with its own data dir. Its log (stderr)
// goes to a file; the port is read back from the "listening on" line.
class daemon_process {
 public:
  // `command_prefix` runs the daemon through another command, e.g. {"/usr/sbin/ip", "netns",
  // "exec", "ns1"} (which execs it, so pid() is still the daemon's).
  explicit daemon_process(std::vector<std::string> extra_args = {}, std::string node_id = "a",
                          std::vector<std::string> command_prefix = {});
  ~daemon_process();  // SIGKILL if still running
  daemon_process(const daemon_process&) = delete;
  daemon_process& operator=(const daemon_process&) = delete;

  std::uint16_t port() const { return port_; }
  // Where to reach it: the address it listens on, or 127.0.0.1 for a wildcard.
  const std::string& host() const { return host_; }
  pid_t pid() const { return pid_; }
  const std::filesystem::path& data_dir() const { return data_dir_; }
  std::chrono::milliseconds ready_after() const { return ready_after_; }
  std::string log() const;

  void signal(int number) const;
  // Waits for the process to end; nullopt if it is still running at the deadline.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

 private:
  temp_dir dir_;
  std::filesystem::path data_dir_;
  std::filesystem::path log_path_;
  pid_t pid_ = -1;
  bool exited_ = false;
  std::uint16_t port_ = 0;
  std::string host_ = "127.0.0.1";
  std::chrono::milliseconds ready_after_{0};
};

// Polls `condition` until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace p2pfaas::testing
