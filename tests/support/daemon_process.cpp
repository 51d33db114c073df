#include "tests/support/daemon_process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/http_client.hpp"

namespace p2pfaas::testing {

using clock = std::chrono::steady_clock;

std::filesystem::path binary_path(const std::string& name) {
  return std::filesystem::path(P2PFAAS_TEST_BIN_DIR) / name;
}

std::filesystem::path source_path(const std::string& relative) {
  return std::filesystem::path(P2PFAAS_TEST_SOURCE_DIR) / relative;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  while (clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

namespace {

pid_t spawn(const std::vector<std::string>& argv, const std::filesystem::path& output) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int fd = open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
    // The test runner may block signals; the child starts with a clean mask.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

std::optional<int> wait_for(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::vector<std::string> daemon_argv(std::vector<std::string> args) {
  args.insert(args.begin(), binary_path("p2pfaasd").string());
  return args;
}

long peak_rss_mib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6)) / 1024;
  }
  return -1;
}

run_result run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  temp_dir dir;
  auto output = dir / "output";
  pid_t pid = spawn(argv, output);
  run_result result;
  if (auto code = wait_for(pid, timeout)) {
    result.exit_code = *code;
  } else {
    kill(pid, SIGKILL);
    wait_for(pid, std::chrono::seconds(5));
  }
  result.output = read_file(output);
  return result;
}

daemon_process::daemon_process(std::vector<std::string> extra_args, std::string node_id,
                               std::vector<std::string> command_prefix)
    : data_dir_(dir_ / "data"), log_path_(dir_ / "p2pfaasd.log") {
  std::vector<std::string> argv{binary_path("p2pfaasd").string(), "--node-id", node_id,
                                "--data-dir", data_dir_.string()};
  bool has_listen = false;
  for (std::size_t i = 0; i < extra_args.size(); ++i) {
    if (extra_args[i] != "--listen") continue;
    has_listen = true;
    // A specific address (one in a test namespace) is where the daemon is reached from here.
    if (i + 1 < extra_args.size()) {
      std::string host = extra_args[i + 1].substr(0, extra_args[i + 1].rfind(':'));
      if (host != "0.0.0.0" && host != "[::]" && !host.empty()) host_ = host;
    }
  }
  if (!has_listen) {
    argv.push_back("--listen");
    argv.push_back("127.0.0.1:0");
  }
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  argv.insert(argv.begin(), command_prefix.begin(), command_prefix.end());

  const auto started = clock::now();
  pid_ = spawn(argv, log_path_);
  const std::regex listening(R"(listening on [0-9a-fA-F.:\[\]]+:(\d+))");
  const bool ready = eventually([&] {
    std::smatch m;
    std::string text = read_file(log_path_);
    if (std::regex_search(text, m, listening)) {
      port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
      return true;
    }
    return wait_for(pid_, std::chrono::milliseconds(0)).has_value() && (exited_ = true);
  });
  if (!ready || exited_ || port_ == 0) {
    throw std::runtime_error("p2pfaasd did not start; log:\n" + read_file(log_path_));
  }
  if (!eventually([&] { return http_request_to(host_, port_, "GET", "/health").status == 200; })) {
    throw std::runtime_error("p2pfaasd never answered /health; log:\n" + read_file(log_path_));
  }
  ready_after_ = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started);
}

daemon_process::~daemon_process() {
  if (!exited_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    wait_for(pid_, std::chrono::seconds(5));
  }
}

std::string daemon_process::log() const {
  return read_file(log_path_);
}

void daemon_process::signal(int number) const {
  kill(pid_, number);
}

std::optional<int> daemon_process::wait_exit(std::chrono::milliseconds timeout) {
  auto code = wait_for(pid_, timeout);
  if (code) exited_ = true;
  return code;
}

}  // namespace p2pfaas::testing
