#pragma once

// The node's HTTP/1.1 server: accepting connections, reading requests within limits, routing
// them and writing the answers. It owns everything one client could use to hurt the others:
// the connection limit (with fairness between client addresses), the read buffer and header
// limits, the node-wide budget of body bytes, and the open-file reserve that lets it refuse a
// client with 503 even when the process is out of descriptors.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "net/log_limiter.hpp"
#include "net/request_parser.hpp"
#include "net/router.hpp"

namespace p2pfaas::net {

struct server_limits {
  std::uint64_t max_body_bytes = 10 * 1024 * 1024;
  // At most max_header_limit (65535), which bounds each header field and the whole trailer
  // section; a larger value is treated as 65535.
  std::uint32_t max_header_bytes = 16 * 1024;
  std::chrono::milliseconds read_timeout{30000};
  int max_connections = 4096;
  // Bytes of request bodies all connections may hold together. A body that does not fit now is
  // answered 503 with Retry-After; make it at least max_body_bytes, or such a body never fits.
  std::uint64_t body_budget_bytes = 128 * 1024 * 1024;
};

// Descriptors kept out of the connection limit for the node's other files and sockets (peer
// links, gossip, function processes, logs, the Q-table file).
inline constexpr int reserved_descriptors = 64;

// Raises the soft RLIMIT_NOFILE to the hard limit, as a server that holds thousands of
// connections needs; returns the soft limit in force afterwards.
std::uint64_t raise_open_file_limit();
// The soft RLIMIT_NOFILE now.
std::uint64_t open_file_limit();
// The connections a server may hold: `configured`, but no more than the open-file limit leaves
// after reserved_descriptors, and at least 1.
int effective_connection_limit(int configured, std::uint64_t open_files);

// HTTP/1.1 server: one coroutine session per connection, each on its own strand. Requests on a
// connection are answered one at a time and in order, so pipelining is safe.
//
// At the connection limit, a new connection from a client address (IPv6: its /64) that holds at
// least two fewer connections than the heaviest address takes the place of one of the heaviest
// address's connections that is not running a handler (idle, or still sending its request); one
// apart, the two would only trade places. So one client trickling thousands of connections
// cannot lock the others out, while a lone client can still use them all.
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
  // limits().max_connections, lowered to what the open-file limit allows (see
  // effective_connection_limit), as computed by the last set_limits() or start().
  int max_connections() const { return max_connections_.load(std::memory_order_relaxed); }

  // While draining, every answer closes its connection.
  void set_draining(bool draining) { draining_ = draining; }
  // Shutdown phase 2: stop accepting, close idle connections now and the others as soon as
  // their current answer is written.
  void stop();

  std::size_t connections() const { return connections_.load(); }
  std::uint64_t connections_accepted() const { return accepted_.load(); }
  std::uint64_t connections_refused() const { return refused_.load(); }
  // Connections closed to make room for a client with fewer connections.
  std::uint64_t connections_evicted() const { return evicted_.load(); }
  // Bytes of request bodies held now, and requests refused because they did not fit.
  std::uint64_t body_bytes_held() const { return budget_.held(); }
  std::uint64_t body_budget_refused() const { return budget_.refused(); }

 private:
  struct connection;
  using connection_list = std::list<std::weak_ptr<connection>>;  // oldest first
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(std::shared_ptr<connection> conn);
  boost::asio::awaitable<void> session(connection& conn);
  boost::asio::awaitable<void> refuse(boost::asio::ip::tcp::socket socket);
  bool admit(const std::shared_ptr<connection>& conn);
  std::shared_ptr<connection> evict_for(const boost::asio::ip::address& newcomer);
  void forget(connection& conn);
  enum class reserve_outcome { refused, nothing_pending, no_reserve };
  reserve_outcome refuse_with_reserve();
  void update_connection_limit(const server_limits& limits);

  boost::asio::any_io_executor connection_executor();

  boost::asio::io_context& io_;
  const router& routes_;
  const bool strands_;
  std::string upgrade_path_;  // set before start(), read-only after: no lock per request
  upgrade_handler upgrade_handler_;
  mutable std::mutex mutex_;  // guards limits_
  server_limits limits_;
  body_budget budget_;
  std::atomic<int> max_connections_;

  // Connections by client address, for fairness and for stop(). Touched once when a connection
  // opens and once when it closes, never per request.
  std::mutex registry_mutex_;
  std::unordered_map<boost::asio::ip::address, connection_list> sources_;

  boost::asio::ip::tcp::acceptor acceptor_;
  int reserve_fd_ = -1;  // /dev/null, given up to accept and refuse when out of descriptors
  const std::string out_of_descriptors_answer_;
  log_limiter accept_log_;
  std::atomic<bool> draining_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<std::size_t> connections_{0};
  std::atomic<std::uint64_t> accepted_{0};
  std::atomic<std::uint64_t> refused_{0};
  std::atomic<std::uint64_t> evicted_{0};
};

}  // namespace p2pfaas::net
