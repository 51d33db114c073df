#include "net/http_server.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
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
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <limits>

namespace p2pfaas::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::uint64_t open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    return std::numeric_limits<std::uint64_t>::max();
  }
  return limit.rlim_cur;
}

std::uint64_t raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    // An infinite hard limit is more than the kernel takes (fs.nr_open): leave the soft one.
    setrlimit(RLIMIT_NOFILE, &raised);
  }
  return open_file_limit();
}

int effective_connection_limit(int configured, std::uint64_t open_files) {
  const std::uint64_t room = open_files > static_cast<std::uint64_t>(reserved_descriptors) + 1
                                 ? open_files - static_cast<std::uint64_t>(reserved_descriptors)
                                 : 1;
  return static_cast<int>(
      std::clamp<std::uint64_t>(room, 1, static_cast<std::uint64_t>(std::max(1, configured))));
}

namespace {

asio::awaitable<void> linger_close(beast::tcp_stream& stream);

// Where a connection stands, for stop() and for eviction. Changed by the session, except that
// another connection's admission may move `waiting` or `reading` to `evicted`.
enum class phase : std::uint8_t {
  waiting,  // for a request's first byte or the rest of its header (idle keep-alive, trickler)
  reading,  // the header is read, the body is being read
  busy,     // the handler runs or the answer is being written
  evicted,  // closed to make room for another client's connection
};

// One client, for fairness: an IPv4 address, or an IPv6 /64, since one host commonly holds a
// whole /64 and could otherwise pose as many clients.
asio::ip::address source_of(const tcp::endpoint& remote) {
  const auto address = remote.address();
  if (!address.is_v6()) return address;
  auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, v6);
  auto bytes = v6.to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return asio::ip::address_v6(bytes);
}

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

response too_many_connections(std::string_view why) {
  response res = json_error(http::status::service_unavailable, "too_many_connections", why);
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

std::string out_of_descriptors_answer() {
  const response res = too_many_connections("the node is out of file descriptors");
  return serialize_head(res) + res.body();
}

}  // namespace

struct http_server::connection {
  explicit connection(tcp::socket socket) : stream(std::move(socket)) {
    boost::system::error_code ec;
    remote = stream.socket().remote_endpoint(ec);
    source = source_of(remote);
  }
  // Moves from `from` to `to` unless another thread moved it elsewhere (to evicted) first.
  bool enter(phase from, phase to) { return state.compare_exchange_strong(from, to); }

  beast::tcp_stream stream;
  tcp::endpoint remote;
  asio::ip::address source;
  std::atomic<phase> state{phase::waiting};
  // Guarded by the server's registry_mutex_.
  bool registered = false;
  connection_list::iterator in_source;
};

http_server::http_server(asio::io_context& io, const router& routes, server_limits limits,
                         int io_threads)
    : io_(io),
      routes_(routes),
      strands_(io_threads > 1),
      limits_(limits),
      budget_(limits.body_budget_bytes),
      max_connections_(limits.max_connections),
      acceptor_(asio::make_strand(io)),
      out_of_descriptors_answer_(out_of_descriptors_answer()),
      accept_log_(1, std::chrono::seconds(10)) {
  update_connection_limit(limits);
}

asio::any_io_executor http_server::connection_executor() {
  if (strands_) return asio::make_strand(io_);
  return io_.get_executor();
}

http_server::~http_server() {
  stop();
  if (reserve_fd_ >= 0) ::close(reserve_fd_);
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
  // For the synchronous accept of refuse_with_reserve(), which must not wait; asynchronous
  // accepts are not affected.
  acceptor_.non_blocking(true);
  return acceptor_.local_endpoint();
}

void http_server::start() {
  reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const server_limits limits = this->limits();
  update_connection_limit(limits);
  if (max_connections() < limits.max_connections) {
    spdlog::warn(
        "http: serving at most {} connections, not http.max_connections {}: the open-file limit "
        "is {} and {} descriptors are kept for the node's other files",
        max_connections(), limits.max_connections, open_file_limit(), reserved_descriptors);
  }
  asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached);
}

void http_server::set_upgrade_handler(std::string path, upgrade_handler handler) {
  upgrade_path_ = std::move(path);
  upgrade_handler_ = std::move(handler);
}

void http_server::set_limits(const server_limits& limits) {
  {
    std::lock_guard lock(mutex_);
    limits_ = limits;
  }
  budget_.set_limit(limits.body_budget_bytes);
  update_connection_limit(limits);
}

void http_server::update_connection_limit(const server_limits& limits) {
  max_connections_.store(effective_connection_limit(limits.max_connections, open_file_limit()),
                         std::memory_order_relaxed);
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
  std::lock_guard lock(registry_mutex_);
  for (auto& [address, list] : sources_) {
    for (auto& weak : list) {
      if (auto conn = weak.lock()) {
        // A waiting connection is closed now; one whose request is being read or answered
        // writes its answer first and then closes, because keep-alive is off once stopped_ is
        // set.
        asio::dispatch(conn->stream.get_executor(), [conn] {
          if (conn->state.load() != phase::waiting) return;
          boost::system::error_code ignored;
          conn->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
          conn->stream.socket().close(ignored);
        });
      }
    }
  }
}

bool http_server::admit(const std::shared_ptr<connection>& conn) {
  std::shared_ptr<connection> victim;
  {
    std::lock_guard lock(registry_mutex_);
    if (static_cast<int>(connections_.load()) >= max_connections()) {
      victim = evict_for(conn->source);
      if (!victim) return false;
    }
    auto& list = sources_[conn->source];
    conn->in_source = list.insert(list.end(), conn);
    conn->registered = true;
    ++connections_;
  }
  ++accepted_;
  if (victim) {
    asio::dispatch(victim->stream.get_executor(), [victim] {
      boost::system::error_code ignored;
      victim->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      victim->stream.socket().close(ignored);
    });
  }
  return true;
}

// Called at the connection limit only, with registry_mutex_ held. Takes a connection from the
// address holding the most, if that leaves the addresses more even than refusing the newcomer
// would: moving one connection between two addresses one apart only trades places.
std::shared_ptr<http_server::connection> http_server::evict_for(const asio::ip::address& newcomer) {
  std::size_t mine = 0, heaviest = 0;
  if (auto it = sources_.find(newcomer); it != sources_.end()) mine = it->second.size();
  for (const auto& [address, list] : sources_) heaviest = std::max(heaviest, list.size());
  if (mine + 1 >= heaviest) return nullptr;
  for (auto& [address, list] : sources_) {
    if (list.size() != heaviest) continue;
    for (auto& weak : list) {
      auto conn = weak.lock();
      if (!conn) continue;
      if (!conn->enter(phase::waiting, phase::evicted) &&
          !conn->enter(phase::reading, phase::evicted)) {
        continue;  // running a handler: its client is owed that answer
      }
      ++evicted_;
      forget(*conn);
      return conn;
    }
  }
  return nullptr;
}

// With registry_mutex_ held.
void http_server::forget(connection& conn) {
  if (!conn.registered) return;
  conn.registered = false;
  auto it = sources_.find(conn.source);
  it->second.erase(conn.in_source);
  if (it->second.empty()) sources_.erase(it);
  --connections_;
}

asio::awaitable<void> http_server::accept_loop() {
  while (!stopped_) {
    auto [ec, socket] = co_await acceptor_.async_accept(connection_executor(), use_tuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || stopped_) co_return;
      const bool out_of_descriptors = ec == boost::system::errc::too_many_files_open ||
                                      ec == boost::system::errc::too_many_files_open_in_system;
      if (out_of_descriptors) {
        const auto outcome = refuse_with_reserve();
        if (outcome == reserve_outcome::refused) continue;
        if (outcome == reserve_outcome::nothing_pending) {
          // Linux fails accept() for want of a descriptor before it looks for a connection: wait
          // for one to arrive rather than retry in a loop.
          co_await acceptor_.async_wait(tcp::acceptor::wait_read, use_tuple);
          continue;
        }
      }
      if (auto permit = accept_log_.admit("accept")) {
        spdlog::warn("accept failed: {}{}", ec.message(), permit.suffix());
      }
      // Back off instead of spinning on the error.
      asio::steady_timer pause(acceptor_.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    auto conn = std::make_shared<connection>(std::move(socket));
    if (!admit(conn)) {
      ++refused_;
      auto refused = conn->stream.release_socket();
      auto executor = refused.get_executor();
      asio::co_spawn(executor, refuse(std::move(refused)), asio::detached);
      continue;
    }
    asio::co_spawn(conn->stream.get_executor(), serve(conn), asio::detached);
  }
}

// Out of descriptors, a connection cannot even be accepted to be refused, and its client would
// wait in the backlog until it gives up. So one descriptor is kept open for this moment: it is
// given up to accept the client, answer 503 and close, and then taken back.
http_server::reserve_outcome http_server::refuse_with_reserve() {
  if (reserve_fd_ < 0) {
    reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    return reserve_outcome::no_reserve;
  }
  ::close(reserve_fd_);
  reserve_fd_ = -1;
  boost::system::error_code ec;
  tcp::socket socket(io_);
  acceptor_.accept(socket, ec);
  if (!ec) {
    ++refused_;
    boost::system::error_code io_ec;
    socket.non_blocking(true, io_ec);
    // Reads what the request already sent, so that closing does not reset the connection
    // before the client has read the answer. Never waits: this is the accept loop.
    std::array<char, 16384> sink;
    for (int i = 0; i < 4 && !io_ec; ++i) socket.read_some(asio::buffer(sink), io_ec);
    boost::system::error_code ignored;
    if (socket.non_blocking()) socket.send(asio::buffer(out_of_descriptors_answer_), 0, ignored);
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    socket.close(ignored);
  }
  reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    return reserve_outcome::nothing_pending;
  }
  if (ec) return reserve_outcome::no_reserve;
  if (auto permit = accept_log_.admit("out of descriptors")) {
    spdlog::warn("out of file descriptors: refusing connections with 503{}", permit.suffix());
  }
  return reserve_outcome::refused;
}

asio::awaitable<void> http_server::refuse(tcp::socket socket) {
  response res = too_many_connections("the node has reached http.max_connections");
  beast::tcp_stream stream(std::move(socket));
  stream.expires_after(std::chrono::seconds(2));
  auto [ec, n] = co_await http::async_write(stream, res, use_tuple);
  if (!ec) co_await linger_close(stream);
}

namespace {

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
  stream.expires_after(std::chrono::seconds(5));
  auto [ec, n] = co_await http::async_write(stream, res, use_tuple);
  if (!ec) co_await linger_close(stream);
}

response headers_too_large() {
  return json_error(http::status::request_header_fields_too_large, "headers_too_large",
                    "request headers (or trailers) over the limit");
}

// The answer to a request that could not be read (not a disconnect).
response read_error_answer(const boost::system::error_code& ec, const server_limits& limits,
                           bool header_done) {
  if (ec == http::error::body_limit) {
    return json_error(
        http::status::payload_too_large, "body_too_large",
        "request body is over http.max_body_bytes (" + std::to_string(limits.max_body_bytes) + ")");
  }
  if (ec == http::error::header_limit || ec == request_error::field_too_large ||
      ec == request_error::trailers_too_large) {
    return headers_too_large();
  }
  if (ec == http::error::buffer_overflow) {
    // The read buffer is full of one unfinished line: a header, a chunk-size line with its
    // extensions, or a trailer section.
    if (!header_done) return headers_too_large();
    return json_error(http::status::bad_request, "bad_request",
                      "a chunk-size line or the trailer section is too long");
  }
  if (ec == request_error::body_budget) {
    response res = json_error(http::status::service_unavailable, "body_budget",
                              "the node holds all the request body bytes it may "
                              "(http.body_budget_bytes); retry later");
    res.set(http::field::retry_after, "1");
    return res;
  }
  if (ec == request_error::out_of_memory) {
    response res = json_error(http::status::service_unavailable, "out_of_memory",
                              "no memory to hold the request; retry later");
    res.set(http::field::retry_after, "1");
    return res;
  }
  return json_error(http::status::bad_request, "bad_request", ec.message());
}

// Big enough for a whole header and one read of body bytes; every line the parser must see
// whole (a header, a chunk-size line with extensions, the trailer section) is bounded by it.
std::size_t read_buffer_limit(const server_limits& limits) {
  return std::min(limits.max_header_bytes, max_header_limit) + std::size_t{65536};
}

}  // namespace

asio::awaitable<void> http_server::serve(std::shared_ptr<connection> conn) {
  // Runs however the session ends, an escaping exception included.
  struct bookkeeping {
    http_server& server;
    connection& conn;
    ~bookkeeping() {
      std::lock_guard lock(server.registry_mutex_);
      server.forget(conn);
    }
  } done{*this, *conn};

  try {
    co_await session(*conn);
  } catch (const std::exception& e) {
    // The last resort: Beast and the parser report errors as codes, handlers' exceptions become
    // a 500 in the router. Whatever gets here ends this connection only.
    static log_limiter log(1, std::chrono::seconds(10));
    if (auto permit = log.admit("session")) {
      spdlog::error("http connection from {} failed: {}{}", conn->remote.address().to_string(),
                    e.what(), permit.suffix());
    }
  } catch (...) {
    static log_limiter log(1, std::chrono::seconds(10));
    if (auto permit = log.admit("session")) {
      spdlog::error("http connection from {} failed{}", conn->remote.address().to_string(),
                    permit.suffix());
    }
  }
  if (conn->stream.socket().is_open()) {
    boost::system::error_code ignored;
    conn->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }
}

asio::awaitable<void> http_server::session(connection& conn) {
  beast::tcp_stream& stream = conn.stream;
  beast::flat_buffer buffer;
  while (!stopped_) {
    const server_limits limits = this->limits();
    // Declared before the request it yields and destroyed after it: the body's share of the
    // budget is given back once the answer is written or the connection is gone.
    request_parser parser(limits.max_header_bytes, limits.max_body_bytes, &budget_);
    buffer.max_size(std::max(buffer.size(), read_buffer_limit(limits)));

    stream.expires_after(limits.read_timeout);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
    if (!conn.enter(phase::waiting, phase::reading)) break;  // evicted meanwhile
    if (ec) {
      if (is_disconnect(ec)) break;
      co_await reply_and_close(stream, 11, read_error_answer(ec, limits, false));
      break;
    }
    const unsigned version = parser.get().version();
    if (auto problem = check_framing(parser)) {
      co_await reply_and_close(stream, version,
                               json_error(problem->status, problem->code, problem->message));
      break;
    }
    // Reserved before the body is read (and before 100 Continue), so that a body that does not
    // fit is refused while the client still holds it.
    if (auto length = parser.content_length(); length && *length > 0) {
      if (!parser.reserve_body(*length)) {
        co_await reply_and_close(
            stream, version,
            read_error_answer(make_error_code(request_error::body_budget), limits, true));
        break;
      }
    }
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
        parser.discard();
        co_await reply_and_close(stream, version, read_error_answer(body_ec, limits, true));
        break;
      }
    }
    if (!conn.enter(phase::reading, phase::busy)) break;  // evicted while reading the body

    request req = parser.release();
    // A handler may legitimately take as long as a function's timeout; the read deadline is for
    // idle or slow clients, not for our own work.
    stream.expires_never();
    auto [path, query] = split_target(req.target());
    if (!upgrade_path_.empty() && path == upgrade_path_ &&
        boost::beast::websocket::is_upgrade(req)) {
      // The connection stays busy, so a stop() racing with the hand-over leaves the moved-from
      // stream alone. A client sends nothing after an upgrade request until it has the 101, so
      // the read buffer holds nothing that belongs to the new owner.
      upgrade_handler_(std::move(stream), std::move(req));
      co_return;
    }
    request_context ctx{req, path, query, conn.remote, {}};
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
    conn.state.store(phase::waiting);
    if (write_ec || !keep_alive) break;
  }
}

}  // namespace p2pfaas::net
