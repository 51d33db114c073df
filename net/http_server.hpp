#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "net/router.hpp"

namespace p2pfaas::net {

struct server_limits {
  std::uint64_t max_body_bytes = 10 * 1024 * 1024;
  std::uint32_t max_header_bytes = 16 * 1024;
  std::chrono::milliseconds read_timeout{30000};
  int max_connections = 4096;
};

// HTTP/1.1 server: one coroutine session per connection, each on its own strand. Requests on a
// connection are answered one at a time and in order, so pipelining is safe.
class http_server {
 public:
  // io_threads: how many threads run `io`. With one, that thread is already an implicit strand
  // for every connection, and explicit strands would only add a lock and a queue per handler
  // (15% of echo throughput, measured with bench/http_vs_nginx.sh).
  http_server(boost::asio::io_context& io, const router& routes, server_limits limits,
              int io_threads);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  // Binds and listens; returns the bound endpoint (port 0 picks a free one).
  boost::asio::ip::tcp::endpoint listen(const boost::asio::ip::tcp::endpoint& endpoint);
  void start();

  // A WebSocket upgrade request for exactly `path` is not routed: its connection and request are
  // handed to `handler` (on the connection's executor), and the connection leaves this server,
  // its count and stop() included. Call before start().
  using upgrade_handler = std::function<void(boost::beast::tcp_stream, request)>;
  void set_upgrade_handler(std::string path, upgrade_handler handler);

  // Limits apply to requests read from now on.
  void set_limits(const server_limits& limits);
  server_limits limits() const;

  // While draining, every answer closes its connection.
  void set_draining(bool draining) { draining_ = draining; }
  // Shutdown phase 2: stop accepting, close idle connections now and the others as soon as
  // their current answer is written.
  void stop();

  std::size_t connections() const { return connections_.load(); }
  std::uint64_t connections_accepted() const { return accepted_.load(); }
  std::uint64_t connections_refused() const { return refused_.load(); }

 private:
  struct connection;
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(std::shared_ptr<connection> conn);
  boost::asio::awaitable<void> refuse(boost::asio::ip::tcp::socket socket);

  boost::asio::any_io_executor connection_executor();

  boost::asio::io_context& io_;
  const router& routes_;
  const bool strands_;
  std::string upgrade_path_;  // set before start(), read-only after: no lock per request
  upgrade_handler upgrade_handler_;
  mutable std::mutex mutex_;  // guards limits_ and live_
  server_limits limits_;
  std::unordered_map<connection*, std::weak_ptr<connection>> live_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> draining_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<std::size_t> connections_{0};
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> refused_{0};
};

}  // namespace p2pfaas::net
