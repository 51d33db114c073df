#include "net/http_server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

namespace p2pfaas::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {
asio::awaitable<void> linger_close(beast::tcp_stream& stream);
}  // namespace

struct http_server::connection {
  explicit connection(tcp::socket socket) : stream(std::move(socket)) {
    boost::system::error_code ec;
    remote = stream.socket().remote_endpoint(ec);
  }
  beast::tcp_stream stream;
  tcp::endpoint remote;
  bool busy = false;  // between reading a request's header and writing its answer; on the strand
};

http_server::http_server(asio::io_context& io, const router& routes, server_limits limits,
                         int io_threads)
    : io_(io),
      routes_(routes),
      strands_(io_threads > 1),
      limits_(limits),
      acceptor_(asio::make_strand(io)) {}

asio::any_io_executor http_server::connection_executor() {
  if (strands_) return asio::make_strand(io_);
  return io_.get_executor();
}

http_server::~http_server() {
  stop();
}

tcp::endpoint http_server::listen(const tcp::endpoint& endpoint) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  if (endpoint.address().is_v6()) {
    // "[::]" serves IPv6 only, so that an IPv4 node on the same port is a separate listener.
    acceptor_.set_option(asio::ip::v6_only(true));
  }
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  return acceptor_.local_endpoint();
}

void http_server::start() {
  asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
}

void http_server::set_upgrade_handler(std::string path, upgrade_handler handler) {
  upgrade_path_ = std::move(path);
  upgrade_handler_ = std::move(handler);
}

void http_server::set_limits(const server_limits& limits) {
  std::lock_guard lock(mutex_);
  limits_ = limits;
}

server_limits http_server::limits() const {
  std::lock_guard lock(mutex_);
  return limits_;
}

void http_server::stop() {
  if (stopped_.exchange(true)) return;
  asio::dispatch(acceptor_.get_executor(), [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });
  std::lock_guard lock(mutex_);
  for (auto& [raw, weak] : live_) {
    if (auto conn = weak.lock()) {
      // An idle connection is closed now; a busy one writes its answer first and then closes,
      // because keep-alive is off once stopped_ is set.
      asio::dispatch(conn->stream.get_executor(), [conn] {
        if (conn->busy) return;
        boost::system::error_code ignored;
        conn->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        conn->stream.socket().close(ignored);
      });
    }
  }
}

asio::awaitable<void> http_server::accept_loop() {
  while (!stopped_) {
    auto [ec, socket] = co_await acceptor_.async_accept(connection_executor(), use_tuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || stopped_) co_return;
      // Out of file descriptors and the like: back off instead of spinning on the error.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer pause(acceptor_.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    if (static_cast<int>(connections_.load()) >= limits().max_connections) {
      ++refused_;
      auto executor = socket.get_executor();
      asio::co_spawn(executor, refuse(std::move(socket)), asio::detached);
      continue;
    }
    ++accepted_;
    ++connections_;
    auto conn = std::make_shared<connection>(std::move(socket));
    {
      std::lock_guard lock(mutex_);
      live_.emplace(conn.get(), conn);
    }
    asio::co_spawn(conn->stream.get_executor(), serve(conn), asio::detached);
  }
}

asio::awaitable<void> http_server::refuse(tcp::socket socket) {
  response res = json_error(http::status::service_unavailable, "too_many_connections",
                            "the node has reached http.max_connections");
  res.keep_alive(false);
  res.prepare_payload();
  beast::tcp_stream stream(std::move(socket));
  stream.expires_after(std::chrono::seconds(2));
  auto [ec, n] = co_await http::async_write(stream, res, use_tuple);
  if (!ec) co_await linger_close(stream);
}

namespace {

// The status line and header fields, serialised once. Beast's generic serializer walks a chain of
// buffer views per write, which showed up at several percent of a small call's CPU time.
std::string serialize_head(const response& res) {
  std::string head;
  head.reserve(512);
  head += res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  head += std::to_string(res.result_int());
  head += ' ';
  head += res.reason().empty() ? http::obsolete_reason(res.result()) : res.reason();
  head += "\r\n";
  for (const auto& field : res.base()) {
    head += field.name_string();
    head += ": ";
    head += field.value();
    head += "\r\n";
  }
  head += "\r\n";
  return head;
}

bool is_disconnect(const boost::system::error_code& ec) {
  return ec == http::error::end_of_stream || ec == beast::error::timeout ||
         ec == asio::error::operation_aborted || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::bad_descriptor;
}

// Closes after an answer that leaves request bytes unread. Closing a socket with unread data
// makes the kernel send RST, and a client still sending its body would lose the answer just
// written; so first stop sending, then read and drop what arrives, bounded in time and size.
asio::awaitable<void> linger_close(beast::tcp_stream& stream) {
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.expires_after(std::chrono::seconds(2));
  std::array<char, 16384> sink;
  for (std::size_t drained = 0; drained < (64u << 20);) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), use_tuple);
    if (ec) break;
    drained += n;
  }
}

// Answers a request that could not be read whole and closes: the rest of the stream cannot be
// trusted to start at a request boundary.
asio::awaitable<void> reply_and_close(beast::tcp_stream& stream, unsigned version, response res) {
  res.version(version ? version : 11);
  res.keep_alive(false);
  res.prepare_payload();
  auto [ec, n] = co_await http::async_write(stream, res, use_tuple);
  if (!ec) co_await linger_close(stream);
}

response body_too_large(std::uint64_t limit) {
  return json_error(http::status::payload_too_large, "body_too_large",
                    "request body is over http.max_body_bytes (" + std::to_string(limit) + ")");
}

}  // namespace

asio::awaitable<void> http_server::serve(std::shared_ptr<connection> conn) {
  // Runs however the session ends, an escaping exception included.
  struct bookkeeping {
    http_server& server;
    connection* conn;
    ~bookkeeping() {
      {
        std::lock_guard lock(server.mutex_);
        server.live_.erase(conn);
      }
      --server.connections_;
    }
  } done{*this, conn.get()};

  beast::tcp_stream& stream = conn->stream;
  beast::flat_buffer buffer;
  while (!stopped_) {
    const server_limits limits = this->limits();
    http::request_parser<http::string_body> parser;
    parser.header_limit(limits.max_header_bytes);
    parser.body_limit(limits.max_body_bytes);

    stream.expires_after(limits.read_timeout);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
    conn->busy = true;
    if (ec) {
      if (is_disconnect(ec)) break;
      if (ec == http::error::body_limit) {
        // Beast checks Content-Length against the body limit while reading the header.
        co_await reply_and_close(stream, parser.get().version(),
                                 body_too_large(limits.max_body_bytes));
      } else if (ec == http::error::header_limit) {
        co_await reply_and_close(stream, 11,
                                 json_error(http::status::request_header_fields_too_large,
                                            "headers_too_large", "request headers over the limit"));
      } else {
        co_await reply_and_close(
            stream, 11, json_error(http::status::bad_request, "bad_request", ec.message()));
      }
      break;
    }
    const unsigned version = parser.get().version();
    if (!parser.is_done()) {
      // The body gets a deadline of its own: time spent idle before the header does not count.
      stream.expires_after(limits.read_timeout);
      // HTTP/1.0 clients do not know 100 Continue (RFC 9110 10.1.1).
      if (version == 11 && beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        http::response<http::empty_body> go_on{http::status::continue_, version};
        co_await http::async_write(stream, go_on, use_tuple);
      }
      auto [body_ec, body_n] = co_await http::async_read(stream, buffer, parser, use_tuple);
      if (body_ec) {
        if (is_disconnect(body_ec)) break;
        if (body_ec == http::error::body_limit) {
          co_await reply_and_close(stream, version, body_too_large(limits.max_body_bytes));
        } else {
          co_await reply_and_close(
              stream, version,
              json_error(http::status::bad_request, "bad_request", body_ec.message()));
        }
        break;
      }
    }

    request req = parser.release();
    // A handler may legitimately take as long as a function's timeout; the read deadline is for
    // idle or slow clients, not for our own work.
    stream.expires_never();
    auto [path, query] = split_target(req.target());
    if (!upgrade_path_.empty() && path == upgrade_path_ &&
        boost::beast::websocket::is_upgrade(req)) {
      // busy stays set, so a stop() racing with the hand-over leaves the moved-from stream
      // alone. A client sends nothing after an upgrade request until it has the 101, so the
      // read buffer holds nothing that belongs to the new owner.
      upgrade_handler_(std::move(stream), std::move(req));
      co_return;
    }
    request_context ctx{req, path, query, conn->remote, {}};
    response res = co_await routes_.handle(ctx);

    const bool keep_alive = req.keep_alive() && res.keep_alive() && !draining_ && !stopped_;
    res.version(version);
    res.keep_alive(keep_alive);
    try {
      res.prepare_payload();
    } catch (const std::exception&) {
      // A status that cannot carry a body (1xx, 204, 304) came with one.
      res = json_error(http::status::internal_server_error, "bad_response",
                       "the handler answered status " + std::to_string(res.result_int()) +
                           " with a body, which HTTP does not allow");
      res.version(version);
      res.keep_alive(keep_alive);
      res.prepare_payload();
    }
    const std::string head = serialize_head(res);
    std::array<asio::const_buffer, 2> parts{asio::buffer(head), asio::buffer(res.body())};
    if (req.method() == http::verb::head) parts[1] = {};  // headers only, Content-Length kept
    stream.expires_after(limits.read_timeout);
    auto [write_ec, written] = co_await asio::async_write(stream, parts, use_tuple);
    conn->busy = false;
    if (write_ec || !keep_alive) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace p2pfaas::net
