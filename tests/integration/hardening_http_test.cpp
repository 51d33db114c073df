// Issue 15's HTTP defects against a real p2pfaasd: what one client could do with a request (or a
// few thousand connections) to crash, stall or exhaust a node. Each test is the reproduction of a
// defect; the node must give the answer the README documents and stay healthy. The unit tests in
// tests/unit/net/http_server_test.cpp check the same against an http_server in the test process.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/daemon_process.hpp"
#include "tests/support/http_client.hpp"

namespace p2pfaas::testing {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

constexpr std::uint64_t mib = 1024 * 1024;

// The node's peak resident memory is under `limit_mib`.
void expect_peak_rss_below(const daemon_process& node, long limit_mib) {
  const long peak = peak_rss_mib(node.pid());
  EXPECT_GT(peak, 0) << "no /proc/" << node.pid() << "/status";
  EXPECT_LT(peak, limit_mib);
}

// Status lines in raw bytes: how many answers came.
int answers_in(const std::string& raw) {
  static const std::regex status_line("HTTP/1\\.[01] [0-9]{3} ");
  return static_cast<int>(
      std::distance(std::sregex_iterator(raw.begin(), raw.end(), status_line), {}));
}

int count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

// The status of the first answer in raw bytes, 0 when there is none.
int status_of(const std::string& raw) {
  if (raw.size() < 12 || raw.rfind("HTTP/1.", 0) != 0) return 0;
  return std::atoi(raw.substr(9, 3).c_str());
}

// The "code" of a JSON error answer, in raw bytes.
std::string code_of(const std::string& raw) {
  const auto body = raw.find("\r\n\r\n");
  if (body == std::string::npos) return {};
  const json answer = json::parse(raw.substr(body + 4), nullptr, false);
  return answer.is_object() ? answer.value("code", "") : std::string{};
}

// A series' value in a /metrics text (name, or name and the start of its labels).
double metric_in(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

// Still running (and not a zombie), answering /health.
void expect_healthy(daemon_process& node) {
  EXPECT_FALSE(node.wait_exit(0ms).has_value()) << "p2pfaasd exited; log:\n" << node.log();
  EXPECT_EQ(http_get(node.port(), "/health").status, 200) << node.log();
}

// A blocking TCP client for raw bytes, optionally from a chosen loopback address. Every write is
// bounded by SO_SNDTIMEO and every read by a deadline, so nothing here can block forever.
class raw_client {
 public:
  explicit raw_client(std::uint16_t port, const std::string& source = {},
                      std::chrono::seconds send_timeout = 2s) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    const timeval tv{static_cast<time_t>(send_timeout.count()), 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // bounds connect() too
    if (!source.empty()) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, source.c_str(), &local.sin_addr);
      if (::bind(fd_, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) return;
    }
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0;
  }
  ~raw_client() {
    if (fd_ >= 0) ::close(fd_);
  }
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;

  bool connected() const { return connected_; }
  int fd() const { return fd_; }

  // Writes all of `bytes`; false once a write fails (the node closed, or SO_SNDTIMEO passed).
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Writes what the socket takes now, without waiting: bytes written, or -1 when it failed.
  long send_some(std::string_view bytes) {
    const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return n;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
  }

  // Reads what has arrived, without waiting; notes when the node closed its side.
  void drain() {
    std::array<char, 65536> chunk;
    while (!closed_) {
      const auto n = ::recv(fd_, chunk.data(), chunk.size(), MSG_DONTWAIT);
      if (n > 0) {
        received_.append(chunk.data(), static_cast<std::size_t>(n));
      } else if (n == 0) {
        closed_ = true;
      } else if (errno == EINTR) {
        continue;
      } else {
        if (errno != EAGAIN && errno != EWOULDBLOCK) closed_ = true;  // reset
        break;
      }
    }
  }
  // Reads until the node closes or `timeout` passes; true when it closed.
  bool read_until_close(std::chrono::milliseconds timeout) {
    read_while(timeout, [] { return false; });
    return closed_;
  }
  // Reads until an answer's status line and header fields are in, the node closes or `timeout`
  // passes; the answer's status, 0 when none came.
  int read_head(std::chrono::milliseconds timeout) {
    read_while(timeout, [this] { return received_.find("\r\n\r\n") != std::string::npos; });
    return received_.find("\r\n\r\n") == std::string::npos ? 0 : status_of(received_);
  }

  const std::string& received() const { return received_; }
  bool closed() const { return closed_; }

 private:
  template <class Done>
  void read_while(std::chrono::milliseconds timeout, Done done) {
    const auto deadline = clock::now() + timeout;
    drain();
    while (!closed_ && !done()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
      if (left <= 0ms) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0) break;
      drain();
    }
  }

  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::string received_;
};

// A chunked request's head.
std::string chunked_head(const std::string& target, const std::string& extra_fields = {}) {
  return "POST " + target + " HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n" +
         extra_fields + "\r\n";
}

struct flood_result {
  std::uint64_t sent = 0;  // bytes after the head
  bool write_failed = false;
  std::string answer;
  bool closed = false;
};

// Sends `head`, then `piece` over and over until `limit` bytes are sent, a write fails (the node
// closed) or the node answers and shuts its side, reading as it goes: a client that does not
// stop on its own, as in the reproduction.
flood_result flood(std::uint16_t port, const std::string& head, const std::string& piece,
                   std::uint64_t limit) {
  flood_result out;
  raw_client client(port);
  EXPECT_TRUE(client.connected());
  EXPECT_TRUE(client.send(head));
  while (out.sent < limit && !client.closed()) {
    if (!client.send(piece)) {
      out.write_failed = true;
      break;
    }
    out.sent += piece.size();
    client.drain();
  }
  out.closed = client.read_until_close(5s);
  out.answer = client.received();
  return out;
}

// Samples a metric of a node every 10 ms on a thread of its own (back to back, /metrics would
// take a core from the node), keeping the highest value seen.
class gauge_watcher {
 public:
  gauge_watcher(std::uint16_t port, std::string series)
      : thread_([this, port, series = std::move(series)] {
          std::unique_lock lock(mutex_);
          while (!wake_.wait_for(lock, 10ms, [this] { return done_; })) {
            lock.unlock();
            const double value = metric_sum(port, series);
            lock.lock();
            most_ = std::max(most_, value);
            ++samples_;
          }
        }) {}
  ~gauge_watcher() { stop(); }
  gauge_watcher(const gauge_watcher&) = delete;
  gauge_watcher& operator=(const gauge_watcher&) = delete;

  // Stops sampling; how many samples were taken, and the highest value.
  std::pair<int, double> stop() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    return {samples_, most_};
  }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool done_ = false;
  int samples_ = 0;
  double most_ = 0;
  std::thread thread_;  // last: starts once the rest is ready
};

// --- 1. one trailer field too large for the parser aborted the process --------------------------

TEST(HardeningHttp, AnOversizedTrailerFieldIs431NotAnAbort) {
  daemon_process node;
  const std::string out = raw_exchange(
      node.port(), chunked_head("/function/echo") +
                       "5\r\nhello\r\n0\r\nX-Big: " + std::string(65600, 'a') + "\r\n\r\n");
  EXPECT_EQ(status_of(out), 431) << out.substr(0, 300);
  EXPECT_EQ(code_of(out), "headers_too_large") << out.substr(0, 300);
  EXPECT_NE(out.find("Connection: close"), std::string::npos) << out.substr(0, 300);
  expect_healthy(node);
}

TEST(HardeningHttp, AHeaderLimitOverWhatTheParserCanHoldStopsStartUp) {
  const run_result r = run_command(
      daemon_argv({"--listen", "127.0.0.1:0", "--set", "http.max_header_bytes=70000"}), 10s);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("config error: http.max_header_bytes"), std::string::npos) << r.output;
}

// --- 2. unbounded lines: a chunk extension or a trailer section was buffered whole ---------------

TEST(HardeningHttp, AHugeChunkExtensionIs400EarlyAndBuffersNothing) {
  daemon_process node;
  // "5;" and then up to 1 GiB of extension: the node held all of it, waiting for the line's end.
  const flood_result r = flood(node.port(), chunked_head("/function/echo") + "5;",
                               std::string(mib, 'a'), std::uint64_t{1} << 30);
  EXPECT_EQ(status_of(r.answer), 400) << r.answer.substr(0, 300);
  EXPECT_NE(r.answer.find("chunk-size line or the trailer section is too long"), std::string::npos)
      << r.answer.substr(0, 300);
  EXPECT_TRUE(r.closed);
  EXPECT_LT(r.sent, 128 * mib) << "the node did not stop the client early";
  expect_peak_rss_below(node, 64);
  expect_healthy(node);
}

TEST(HardeningHttp, AFloodOfSmallTrailerFieldsIsRefusedEarlyAndBuffersNothing) {
  daemon_process node;
  // Each field is under the 64 KiB a field may have; 17 of them make a 1 MiB piece, and up to
  // 512 MiB of them follow the last chunk.
  std::string piece;
  for (int i = 0; i < 17; ++i) {
    piece += "X-T" + std::to_string(i) + ": " + std::string(61000, 't') + "\r\n";
  }
  const flood_result r =
      flood(node.port(), chunked_head("/function/echo") + "5\r\nhello\r\n0\r\n", piece, 512 * mib);
  // The section outgrows the read buffer (http.max_header_bytes + 64 KiB) before it ends, and the
  // node cannot tell it from an over-long chunk-size line: README, "Limits and hardening": "400
  // or 431, closed; nothing is buffered past it". A section that fits the buffer is counted
  // against http.max_header_bytes: 431 (AnOversizedTrailerFieldIs431NotAnAbort).
  const int status = status_of(r.answer);
  EXPECT_TRUE(status == 431 || status == 400) << r.answer.substr(0, 300);
  if (status == 400) {
    EXPECT_NE(r.answer.find("chunk-size line or the trailer section is too long"),
              std::string::npos)
        << r.answer.substr(0, 300);
  }
  EXPECT_TRUE(r.closed);
  EXPECT_LT(r.sent, 128 * mib) << "the node did not stop the client early";
  expect_peak_rss_below(node, 64);
  expect_healthy(node);
}

// --- 3. slow uploads: every connection could hold a whole body -----------------------------------

TEST(HardeningHttp, SlowUploadsStayWithinTheBodyBudget) {
  daemon_process node;
  constexpr int uploads = 150;
  constexpr std::uint64_t body = 10 * mib;     // http.max_body_bytes, the default
  constexpr std::uint64_t budget = 128 * mib;  // http.body_budget_bytes, the default
  constexpr int fit = static_cast<int>(budget / body);
  const std::string head =
      "POST /function/echo HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(body) +
      "\r\n\r\n";
  const std::string piece(mib, 'u');

  // The gauge must never show more than the budget.
  gauge_watcher held(node.port(), "p2pfaas_http_body_bytes_held");

  struct upload {
    std::unique_ptr<raw_client> client;
    std::uint64_t sent = 0;  // head and body
    bool failed = false;
  };
  // Everything but the body's last byte: never finishes.
  const std::uint64_t to_send = head.size() + body - 1;
  std::vector<upload> all(uploads);
  for (auto& u : all) {
    u.client = std::make_unique<raw_client>(node.port());
    ASSERT_TRUE(u.client->connected());
  }
  auto wants_to_send = [&](const upload& u) {
    return !u.failed && u.sent < to_send && u.client->received().empty() && !u.client->closed();
  };
  // Settled: answered and closed by the node, or all sent and holding.
  auto settled = [&](const upload& u) {
    return u.client->closed() || (!wants_to_send(u) && u.client->received().empty());
  };
  const auto deadline = clock::now() + 15s;
  while (clock::now() < deadline) {
    std::vector<pollfd> fds;
    std::vector<upload*> polled;
    for (auto& u : all) {
      if (settled(u)) continue;
      fds.push_back(
          {u.client->fd(), static_cast<short>(POLLIN | (wants_to_send(u) ? POLLOUT : 0)), 0});
      polled.push_back(&u);
    }
    if (fds.empty()) break;
    if (::poll(fds.data(), fds.size(), 100) < 0 && errno != EINTR) break;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      upload& u = *polled[i];
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) u.client->drain();
      if ((fds[i].revents & POLLOUT) && wants_to_send(u)) {
        const std::string_view bytes =
            u.sent < head.size() ? std::string_view(head).substr(u.sent)
                                 : std::string_view(piece).substr(
                                       0, std::min<std::uint64_t>(piece.size(), to_send - u.sent));
        const long n = u.client->send_some(bytes);
        if (n < 0) u.failed = true;
        if (n > 0) u.sent += static_cast<std::uint64_t>(n);
      }
    }
  }

  int holding = 0, refused = 0;
  for (auto& u : all) {
    u.client->drain();
    const std::string& answer = u.client->received();
    if (answer.empty()) {
      EXPECT_EQ(u.sent, to_send) << "neither answered nor done sending";
      holding += u.sent == to_send;
      continue;
    }
    EXPECT_EQ(status_of(answer), 503) << answer.substr(0, 300);
    EXPECT_EQ(code_of(answer), "body_budget") << answer.substr(0, 300);
    EXPECT_NE(answer.find("Retry-After: "), std::string::npos) << answer.substr(0, 300);
    refused += status_of(answer) == 503;
  }
  EXPECT_EQ(holding, fit);
  EXPECT_EQ(refused, uploads - fit);

  // Meanwhile another client is served, body and all.
  const reply echo = http_request(node.port(), "POST", "/function/echo", "hello", {}, 5s);
  EXPECT_EQ(echo.status, 200) << echo.error << echo.body;
  EXPECT_EQ(echo.body, "hello");

  const auto [samples, most_held] = held.stop();
  EXPECT_GT(samples, 0);
  EXPECT_LE(most_held, static_cast<double>(budget));
  EXPECT_GE(most_held, static_cast<double>(fit * body));  // the watcher saw them
  EXPECT_GE(metric_sum(node.port(), "p2pfaas_http_body_budget_refused_total"), refused);
  EXPECT_GT(metric_sum(node.port(), "p2pfaas_http_body_budget_refused_total"), 0);
  expect_peak_rss_below(node, 256);

  all.clear();  // the uploads give up: what they held is given back
  EXPECT_TRUE(
      eventually([&] { return metric_sum(node.port(), "p2pfaas_http_body_bytes_held") == 0; }, 5s));
  expect_healthy(node);
}

// --- 4. request smuggling: a body the node did not read was read as the next request -------------

// Sends `bytes` whose body is a second request; the node must answer once, 400, and close.
void expect_one_400_and_closed(std::uint16_t port, const std::string& bytes,
                               const std::string& what) {
  SCOPED_TRACE(what);
  const auto sent = clock::now();
  const std::string out = raw_exchange(port, bytes, 5s);
  EXPECT_LT(clock::now() - sent, 4s) << "the connection was not closed";
  EXPECT_EQ(status_of(out), 400) << out;
  EXPECT_EQ(answers_in(out), 1) << out;  // the smuggled request is never answered
  EXPECT_NE(out.find("Connection: close"), std::string::npos) << out;
}

TEST(HardeningHttp, ATransferEncodingOtherThanChunkedIs400AndNothingIsSmuggled) {
  daemon_process node;
  const std::string smuggled = "GET /function/echo?x HTTP/1.1\r\nHost: a\r\n\r\n";
  for (const std::string coding : {"gzip", "chunked, identity", "xchunked"}) {
    expect_one_400_and_closed(node.port(),
                              "POST /function/echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: " +
                                  coding + "\r\n\r\n" + smuggled,
                              coding);
  }
  expect_one_400_and_closed(node.port(),
                            "POST /function/echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
                            "chunked\r\nContent-Length: " +
                                std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled,
                            "Transfer-Encoding and Content-Length");
  expect_healthy(node);
}

TEST(HardeningHttp, AnHttp11RequestWithoutExactlyOneHostIs400) {
  daemon_process node;
  const std::string smuggled = "GET /function/echo?x HTTP/1.1\r\nHost: a\r\n\r\n";
  expect_one_400_and_closed(node.port(), "GET /function/echo HTTP/1.1\r\n\r\n" + smuggled,
                            "no Host");
  expect_one_400_and_closed(node.port(),
                            "GET /function/echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" + smuggled,
                            "two Hosts");
  EXPECT_EQ(code_of(raw_exchange(node.port(), "GET /function/echo HTTP/1.1\r\n\r\n")), "bad_host");
  expect_healthy(node);
}

// --- 5. trailers were merged into the header: a trailer could carry the admin token -------------

TEST(HardeningHttp, ATrailerNeverAuthorizesAnAdminCall) {
  temp_dir dir;
  const std::string token = "0123456789abcdef-trailer-test";
  const auto token_file = dir.write("admin.token", token + "\n");
  ::chmod(token_file.c_str(), 0600);
  daemon_process node({"--admin-token-file", token_file.string()});
  const std::string body = "2\r\n{}\r\n0\r\n";
  const std::string in_trailer =
      raw_exchange(node.port(), chunked_head("/configuration", "Connection: close\r\n") + body +
                                    "Authorization: Bearer " + token + "\r\n\r\n");
  EXPECT_EQ(status_of(in_trailer), 401) << in_trailer;
  const std::string in_header = raw_exchange(
      node.port(), chunked_head("/configuration",
                                "Connection: close\r\nAuthorization: Bearer " + token + "\r\n") +
                       body + "\r\n");
  EXPECT_EQ(status_of(in_header), 200) << in_header.substr(0, 300);
  expect_healthy(node);
}

// --- 6. one client trickling every connection locked out the others ------------------------------

TEST(HardeningHttp, OneClientTricklingEveryConnectionDoesNotLockOutAnother) {
  constexpr int limit = 64;
  daemon_process node({"--set", "http.max_connections=" + std::to_string(limit)});
  const std::string trickle = "GET /health HTTP/1.1\r\nHo";
  // The open connections as the node counts them, this one included. Read until the node
  // closes, so that this connection is no longer counted when it returns.
  auto connections = [&] {
    const std::string out =
        raw_exchange(node.port(), "GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    return metric_in(out, "p2pfaas_http_connections");
  };
  std::vector<std::unique_ptr<raw_client>> tricklers;
  auto open_trickler = [&] {
    tricklers.push_back(std::make_unique<raw_client>(node.port(), "127.0.0.2"));
    ASSERT_TRUE(tricklers.back()->connected());
    ASSERT_TRUE(tricklers.back()->send(trickle));
  };
  // Two short of the limit first, so that counting them cannot evict one of them.
  for (int i = 0; i < limit - 2; ++i) open_trickler();
  ASSERT_TRUE(eventually([&] { return connections() == limit - 1; }, 5s)) << connections();
  open_trickler();
  open_trickler();

  // The trickling client is the heaviest: one more of its connections is refused...
  raw_client extra(node.port(), "127.0.0.2");
  ASSERT_TRUE(extra.connected());
  extra.send(trickle);
  EXPECT_TRUE(extra.read_until_close(2s));
  EXPECT_EQ(status_of(extra.received()), 503) << extra.received();
  EXPECT_EQ(code_of(extra.received()), "too_many_connections") << extra.received();

  // ...while another client takes the place of one of its connections.
  const reply other = http_request_from("127.0.0.3", "127.0.0.1", node.port(), "POST",
                                        "/function/echo", "hi", {}, 5s);
  EXPECT_EQ(other.status, 200) << other.error << other.body;
  EXPECT_EQ(other.body, "hi");
  EXPECT_GE(metric_sum(node.port(), "p2pfaas_http_connections_evicted_total"), 1);
  // The evicted connection was closed, without an answer.
  EXPECT_TRUE(eventually(
      [&] {
        for (auto& t : tricklers) {
          t->drain();
          if (t->closed()) return t->received().empty();
        }
        return false;
      },
      2s));
  expect_healthy(node);
}

// --- 7. an open-file limit below http.max_connections left clients waiting forever --------------

TEST(HardeningHttp, AnOpenFileLimitBelowMaxConnectionsLeavesNoClientWaiting) {
  const std::string prlimit = "/usr/bin/prlimit";
  if (!std::filesystem::exists(prlimit)) GTEST_SKIP() << "no " << prlimit;
  // prlimit sets its own limit and execs the daemon, so pid() is the daemon's.
  daemon_process node({}, "a", {prlimit, "--nofile=128:128"});
  {
    std::ifstream comm("/proc/" + std::to_string(node.pid()) + "/comm");
    std::string name;
    std::getline(comm, name);
    ASSERT_EQ(name, "p2pfaasd");
  }
  EXPECT_TRUE(eventually(
      [&] { return node.log().find("serving at most 64 connections") != std::string::npos; }, 2s))
      << node.log();

  constexpr int clients = 80;
  std::vector<std::unique_ptr<raw_client>> open;
  int served = 0, refused = 0;
  for (int i = 0; i < clients; ++i) {
    SCOPED_TRACE(i);
    const auto sent = clock::now();
    open.push_back(std::make_unique<raw_client>(node.port(), "127.0.0.2"));
    raw_client& c = *open.back();
    ASSERT_TRUE(c.connected());
    c.send("GET /health HTTP/1.1\r\nHost: a\r\n\r\n");  // and keep the connection
    const int status = c.read_head(2s);
    EXPECT_LT(clock::now() - sent, 2s);
    EXPECT_TRUE(status == 200 || status == 503) << "status " << status << c.received();
    if (status == 503) {
      EXPECT_EQ(code_of(c.received()), "too_many_connections") << c.received();
    }
    served += status == 200;
    refused += status == 503;
  }
  EXPECT_EQ(served + refused, clients);
  EXPECT_LE(served, 64);
  EXPECT_GE(served, 63);  // 64, or 63 while the node still counted start-up's /health call
  EXPECT_GE(refused, clients - 64);

  const reply other =
      http_request_from("127.0.0.3", "127.0.0.1", node.port(), "GET", "/health", {}, {}, 2s);
  EXPECT_EQ(other.status, 200) << other.error << other.body;
  expect_healthy(node);
  EXPECT_LE(count(node.log(), "accept failed"), 5) << node.log();
}

// --- 8. a warning per refused peer upgrade: a client could fill the disk with log ---------------

std::string bad_upgrade() {
  return "GET /peer HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
         "Authorization: Bearer bm90LWEtcGVlci10b2tlbg==\r\n\r\n";
}

TEST(HardeningHttp, RefusedPeerUpgradesAreWarnedAboutAtALimitedRate) {
  temp_dir keys;
  const auto key_file = keys.write("cluster.key", std::string(test_cluster_key) + "\n");
  ::chmod(key_file.c_str(), 0600);
  daemon_process node({"--cluster-key-file", key_file.string()});
  for (int i = 0; i < 300; ++i) {
    const std::string out = raw_exchange(node.port(), bad_upgrade(), 2s);
    ASSERT_EQ(status_of(out), 401) << i << ": " << out;
  }
  EXPECT_LE(count(node.log(), "peer upgrade from"), 10) << node.log();
  expect_healthy(node);
  // The count of the lines left out comes with the first line let through after the limiter's
  // window (10 s): one more refused upgrade now and then until it does.
  const std::regex summary(R"(peer upgrade from [^\n]* \((\d+) more suppressed\))");
  std::smatch m;
  std::string log;
  auto last = clock::now() - 1s;
  ASSERT_TRUE(eventually(
      [&] {
        if (clock::now() - last >= 200ms) {
          last = clock::now();
          EXPECT_EQ(status_of(raw_exchange(node.port(), bad_upgrade(), 2s)), 401);
        }
        log = node.log();
        return std::regex_search(log, m, summary);
      },
      15s))
      << node.log();
  EXPECT_GE(std::stoi(m[1]), 290) << m[0];  // all but the few lines let through
  EXPECT_LE(count(node.log(), "peer upgrade from"), 15) << node.log();
}

}  // namespace
}  // namespace p2pfaas::testing
