#include "bench/local_cluster.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace p2pfaas::bench {

namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

asio::awaitable<void> pause(std::chrono::milliseconds how_long) {
  asio::steady_timer timer(co_await asio::this_coro::executor, how_long);
  co_await timer.async_wait(asio::use_awaitable);
}

}  // namespace

local_cluster::local_cluster(local_cluster_options options) : options_(std::move(options)) {
  options_.settings.resize(options_.nodes);
}

local_cluster::~local_cluster() {
  stop();
}

pid_t local_cluster::spawn(int index, const std::vector<std::string>& extra) {
  const std::string id = "node-" + std::to_string(index + 1);
  const auto data_dir = options_.directory / id;
  std::filesystem::create_directories(data_dir);
  std::vector<std::string> args = {
      options_.binary.string(), "--node-id", id, "--listen", "127.0.0.1:0", "--data-dir",
      data_dir.string()};
  if (!options_.key_file.empty()) {
    args.push_back("--cluster-key-file");
    args.push_back(options_.key_file.string());
  }
  for (const auto& [key, value] : options_.settings[index]) {
    args.push_back("--set");
    args.push_back(key + "=" + value);
  }
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  const std::string log_path = (options_.directory / (id + ".log")).string();
  const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log < 0) throw std::runtime_error("cannot create " + log_path);
  const pid_t parent = ::getpid();
  // Until exec, the child would run the bench's own signal handlers (Asio's, which only tell the
  // bench's event loop): a SIGTERM sent to a node in that window would be lost and the node live
  // on. So SIGINT and SIGTERM stay blocked across fork, and the child restores their default
  // action before unblocking them; one that came meanwhile then ends it.
  sigset_t stop_signals, previous;
  ::sigemptyset(&stop_signals);
  ::sigaddset(&stop_signals, SIGINT);
  ::sigaddset(&stop_signals, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &stop_signals, &previous);
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    ::sigaction(SIGINT, &default_action, nullptr);
    ::sigaction(SIGTERM, &default_action, nullptr);
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    ::sigprocmask(SIG_SETMASK, &previous, nullptr);
    if (::getppid() != parent) ::_exit(127);  // the bench died before prctl
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  ::close(log);
  if (pid < 0)
    throw std::runtime_error("cannot start " + options_.binary.string() + ": fork failed");
  ids_.push_back(id);
  pids_.push_back(pid);
  return pid;
}

std::string local_cluster::log_tail(int index) const {
  std::ifstream in(options_.directory / (ids_[index] + ".log"));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::string out;
  for (std::size_t i = lines.size() > 5 ? lines.size() - 5 : 0; i < lines.size(); ++i) {
    out += "\n  " + lines[i];
  }
  return out;
}

asio::awaitable<std::uint16_t> local_cluster::wait_for_port(int index,
                                                            steady_clock::time_point deadline) {
  static const std::regex listening(R"(listening on 127\.0\.0\.1:(\d+))");
  const auto log_path = options_.directory / (ids_[index] + ".log");
  while (true) {
    std::ifstream in(log_path);
    std::stringstream text;
    text << in.rdbuf();
    std::smatch match;
    const std::string content = text.str();
    if (std::regex_search(content, match, listening)) {
      co_return static_cast<std::uint16_t>(std::stoi(match[1].str()));
    }
    int status = 0;
    if (::waitpid(pids_[index], &status, WNOHANG) == pids_[index]) {
      pids_[index] = -1;
      throw std::runtime_error(ids_[index] + " exited during start-up:" + log_tail(index));
    }
    if (steady_clock::now() > deadline) {
      throw std::runtime_error(ids_[index] + " did not start in time:" + log_tail(index));
    }
    co_await pause(std::chrono::milliseconds(10));
  }
}

asio::awaitable<void> local_cluster::start(std::chrono::milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  spawn(0, {});
  // (co_await outside braced lists and call arguments: GCC 12 mishandles temporaries there.)
  const std::uint16_t first_port = co_await wait_for_port(0, deadline);
  endpoints_.push_back(endpoint{"127.0.0.1", first_port});
  const std::vector<std::string> join = {"--join", endpoints_[0].text()};
  for (int i = 1; i < options_.nodes; ++i)
    spawn(i, options_.key_file.empty() ? std::vector<std::string>{} : join);
  for (int i = 1; i < options_.nodes; ++i) {
    const std::uint16_t port = co_await wait_for_port(i, deadline);
    endpoints_.push_back(endpoint{"127.0.0.1", port});
  }

  // Converged: every node answers /nodes and (with a key) sees every node alive.
  const std::size_t expected =
      options_.key_file.empty() ? 1 : static_cast<std::size_t>(options_.nodes);
  for (int i = 0; i < options_.nodes; ++i) {
    while (true) {
      const auto answer = co_await fetch(endpoints_[i], http::verb::get, "/nodes", "", "",
                                         std::chrono::milliseconds(1000));
      std::size_t alive = 0;
      if (!answer.error && answer.response.result() == http::status::ok) {
        const auto doc = nlohmann::json::parse(answer.response.body(), nullptr, false);
        if (doc.is_object() && doc.contains("nodes") && doc["nodes"].is_array()) {
          for (const auto& node : doc["nodes"]) {
            if (node.value("state", "") == "alive") ++alive;
          }
        }
      }
      if (alive >= expected) break;
      if (steady_clock::now() > deadline) {
        throw std::runtime_error(ids_[i] + " sees " + std::to_string(alive) + " of " +
                                 std::to_string(expected) + " nodes alive after " +
                                 std::to_string(timeout.count()) + " ms:" + log_tail(i));
      }
      co_await pause(std::chrono::milliseconds(20));
    }
  }
}

void local_cluster::stop(std::chrono::milliseconds grace) {
  for (pid_t pid : pids_) {
    if (pid > 0) ::kill(pid, SIGTERM);
  }
  const auto deadline = steady_clock::now() + grace;
  while (true) {
    bool any = false;
    for (pid_t& pid : pids_) {
      if (pid <= 0) continue;
      int status = 0;
      const pid_t done = ::waitpid(pid, &status, WNOHANG);
      if (done == pid || (done < 0 && errno == ECHILD)) {
        pid = -1;
      } else {
        any = true;
      }
    }
    if (!any) return;
    if (steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (pid_t& pid : pids_) {
    if (pid <= 0) continue;
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
  }
}

std::vector<pid_t> local_cluster::running() const {
  std::vector<pid_t> out;
  for (pid_t pid : pids_) {
    if (pid > 0) out.push_back(pid);
  }
  return out;
}

}  // namespace p2pfaas::bench
