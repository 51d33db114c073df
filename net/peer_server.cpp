#include "net/peer_server.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "net/log_limiter.hpp"

namespace p2pfaas::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

// Cancels remembered for calls still running; a cancel that crossed its reply on the wire is
// never matched, so the list is bounded rather than trusted to drain.
constexpr std::size_t max_remembered_cancels = 1024;

peer_reply failed_reply(http::status status, std::string_view code, std::string_view message,
                        const std::string& self_id) {
  peer_reply reply;
  reply.status = static_cast<int>(status);
  reply.content_type = "application/json";
  reply.body = json_error(status, code, message).body();
  reply.outcome = "error";
  reply.executed_on = self_id;
  reply.path = {self_id};
  reply.total_seconds = {0};
  reply.scheduling_seconds = {0};
  reply.probing_seconds = {0};
  return reply;
}

// Answers an upgrade request with an HTTP error and closes the connection.
asio::awaitable<void> refuse(beast::tcp_stream& stream, unsigned version, response res) {
  res.version(version ? version : 11);
  res.keep_alive(false);
  res.prepare_payload();
  stream.expires_after(std::chrono::seconds(2));
  co_await http::async_write(stream, res, use_tuple);
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream.close();
}

}  // namespace

struct peer_server::shared {
  shared(key_ring ring, std::string id, link_options opts, handler h,
         std::function<peer_load()> load)
      : keys(std::move(ring)),
        self_id(std::move(id)),
        options(opts),
        on_call(std::move(h)),
        load_source(std::move(load)),
        client_tokens(keys, options.replay_window, default_nonce_cache_size, peer_upgrade_label) {}

  const key_ring keys;
  const std::string self_id;
  const link_options options;
  const handler on_call;
  const std::function<peer_load()> load_source;

  std::mutex mutex;      // guards client_tokens, live and the closed transition
  opener client_tokens;  // opens the callers' upgrade credentials
  std::unordered_map<session*, std::weak_ptr<session>> live;
  std::atomic<bool> closed{false};
  // Refused upgrades and misbehaving links are logged, but not one line each: anyone who can
  // reach the port could otherwise write to the log as fast as they can connect.
  log_limiter log{5, std::chrono::seconds(10)};

  std::atomic<std::size_t> sessions{0};
  std::atomic<std::uint64_t> upgrades_accepted{0}, upgrades_refused{0}, calls{0}, replies{0},
      cancels{0}, protocol_errors{0}, load_queries{0};
};

// One link from a peer. Runs on the executor of the connection http_server handed over (a strand
// when the io_context has several threads).
struct peer_server::session : std::enable_shared_from_this<session> {
  session(beast::tcp_stream stream, std::string peer, std::shared_ptr<shared> state)
      : executor(stream.get_executor()),
        ws(std::move(stream)),
        peer_id(std::move(peer)),
        shared_(std::move(state)),
        out(std::min(shared_->options.max_frame_bytes, peer_batch_bytes)) {}

  asio::awaitable<void> serve();
  asio::awaitable<void> run_call(std::shared_ptr<session> self, std::uint64_t id, peer_call call);
  asio::awaitable<void> write_loop(std::shared_ptr<session> self);
  void send_reply(std::uint64_t id, const peer_reply& reply);
  void send_load(std::uint64_t id);
  void flush();
  void stop();
  bool on_message(std::string& problem);

  const asio::any_io_executor executor;  // the connection's: a strand with several io threads
  websocket::stream<beast::tcp_stream> ws;
  const std::string peer_id;
  const std::shared_ptr<shared> shared_;
  beast::flat_buffer in;
  frame_queue out;
  std::string writing;
  bool write_pending = false;
  bool closed = false;
  std::vector<std::uint64_t> cancelled;
};

asio::awaitable<void> peer_server::session::serve() {
  for (;;) {
    auto [ec, n] = co_await ws.async_read(in, use_tuple);
    if (ec || closed) break;
    std::string problem;
    if (!on_message(problem)) {
      shared_->protocol_errors.fetch_add(1, std::memory_order_relaxed);
      if (auto permit = shared_->log.admit("protocol error")) {
        spdlog::warn("peer link from {}: {}; closing it{}", peer_id, problem, permit.suffix());
      }
      // The close frame tells the caller why its calls failed.
      auto reason = websocket::close_reason(websocket::close_code::protocol_error);
      reason.reason = problem.substr(0, 120);  // a close frame carries at most 123 bytes
      co_await ws.async_close(reason, use_tuple);
      break;
    }
    in.consume(in.size());
    if (in.capacity() > peer_buffer_keep_bytes) in.shrink_to_fit();
  }
  stop();
}

bool peer_server::session::on_message(std::string& problem) {
  const auto data = in.cdata();
  std::span<const std::uint8_t> message(static_cast<const std::uint8_t*>(data.data()), data.size());
  while (!message.empty()) {
    frame_view frame;
    if (auto e = next_frame(message, shared_->options.max_frame_bytes, frame);
        e != protocol_error::none) {
      problem = "malformed frame: " + std::string(to_string(e));
      return false;
    }
    if (frame.type == frame_type::cancel) {
      shared_->cancels.fetch_add(1, std::memory_order_relaxed);
      if (cancelled.size() >= max_remembered_cancels) cancelled.erase(cancelled.begin());
      cancelled.push_back(frame.request_id);
      continue;
    }
    if (frame.type == frame_type::load_query) {
      // Answered here, on the session's executor: a probe should measure the load, not add to it
      // or wait behind the calls that make it.
      shared_->load_queries.fetch_add(1, std::memory_order_relaxed);
      send_load(frame.request_id);
      continue;
    }
    if (frame.type != frame_type::call && frame.type != frame_type::admin_call) {
      problem = "unexpected frame type " + std::to_string(static_cast<int>(frame.type));
      return false;
    }
    peer_call call;
    if (auto e = decode(frame.body, call); e != protocol_error::none) {
      problem = "malformed call: " + std::string(to_string(e));
      return false;
    }
    call.kind = frame.type == frame_type::admin_call ? call_kind::admin : call_kind::function;
    shared_->calls.fetch_add(1, std::memory_order_relaxed);
    asio::co_spawn(executor, run_call(shared_from_this(), frame.request_id, std::move(call)),
                   asio::detached);
  }
  return true;
}

asio::awaitable<void> peer_server::session::run_call(std::shared_ptr<session> /*keep_alive*/,
                                                     std::uint64_t id, peer_call call) {
  peer_reply reply;
  try {
    reply = co_await shared_->on_call(std::move(call), peer_id);
  } catch (const std::exception& e) {
    reply = failed_reply(http::status::internal_server_error, "handler_failed", e.what(),
                         shared_->self_id);
  } catch (...) {
    reply = failed_reply(http::status::internal_server_error, "handler_failed",
                         "the call handler failed", shared_->self_id);
  }
  send_reply(id, reply);
}

void peer_server::session::send_reply(std::uint64_t id, const peer_reply& reply) {
  if (closed) return;
  if (!cancelled.empty()) {
    auto it = std::find(cancelled.begin(), cancelled.end(), id);
    if (it != cancelled.end()) {
      cancelled.erase(it);
      return;  // the caller has given up on it
    }
  }
  const auto max = shared_->options.max_frame_bytes;
  if (auto e = encode(id, reply, max, out.buffer(encoded_size(reply))); e != protocol_error::none) {
    const auto fallback = failed_reply(http::status::bad_gateway, "reply_too_large",
                                       "the reply of " + shared_->self_id +
                                           " cannot be carried back: " + std::string(to_string(e)),
                                       shared_->self_id);
    if (encode(id, fallback, max, out.buffer(encoded_size(fallback))) != protocol_error::none) {
      return;
    }
  }
  shared_->replies.fetch_add(1, std::memory_order_relaxed);
  flush();
}

void peer_server::session::send_load(std::uint64_t id) {
  if (closed) return;
  // A probe left unanswered times out at the caller, which then treats this node as it would an
  // unreachable one: better than a made-up load.
  peer_load load;
  try {
    load = shared_->load_source();
  } catch (const std::exception& e) {
    if (auto permit = shared_->log.admit("load report")) {
      spdlog::warn("peer link from {}: no load report: {}{}", peer_id, e.what(), permit.suffix());
    }
    return;
  }
  if (auto e = encode(id, load, shared_->options.max_frame_bytes, out.buffer(encoded_size(load)));
      e != protocol_error::none) {
    if (auto permit = shared_->log.admit("load report")) {
      spdlog::warn("peer link from {}: no load report: {}{}", peer_id, to_string(e),
                   permit.suffix());
    }
    return;
  }
  flush();
}

void peer_server::session::flush() {
  if (closed || write_pending || out.empty()) return;
  write_pending = true;
  asio::co_spawn(executor, write_loop(shared_from_this()), asio::detached);
}

asio::awaitable<void> peer_server::session::write_loop(std::shared_ptr<session> /*keep_alive*/) {
  // Replies that finish while a write is in flight go out together in the next one.
  while (!closed && !out.empty()) {
    out.take(writing);
    auto [ec, n] = co_await ws.async_write(asio::buffer(writing), use_tuple);
    if (writing.capacity() > peer_buffer_keep_bytes) std::string().swap(writing);
    if (ec) {
      stop();
      break;
    }
  }
  write_pending = false;
}

void peer_server::session::stop() {
  if (closed) return;
  closed = true;
  out.clear();
  beast::get_lowest_layer(ws).close();
}

namespace {

asio::awaitable<void> upgrade(std::shared_ptr<peer_server::shared> state, beast::tcp_stream stream,
                              request req) {
  using shared = peer_server::shared;
  if (state->closed) {
    state->upgrades_refused.fetch_add(1, std::memory_order_relaxed);
    co_await refuse(stream, req.version(),
                    json_error(http::status::service_unavailable, "shutting_down",
                               "this node is shutting down"));
    co_return;
  }
  std::string problem;
  std::optional<std::string> peer;
  {
    std::lock_guard lock(state->mutex);
    peer = open_peer_token(state->client_tokens, req[http::field::authorization], wall_clock::now(),
                           problem);
  }
  if (!peer) {
    state->upgrades_refused.fetch_add(1, std::memory_order_relaxed);
    if (auto permit = state->log.admit("upgrade refused")) {
      boost::system::error_code ec;
      const auto remote = stream.socket().remote_endpoint(ec);
      spdlog::warn("peer upgrade from {} refused: {}{}", remote.address().to_string(), problem,
                   permit.suffix());
    }
    co_await refuse(
        stream, req.version(),
        json_error(http::status::unauthorized, "unauthorized", "peer upgrade refused: " + problem));
    co_return;
  }

  boost::system::error_code ignored;
  stream.socket().set_option(tcp::no_delay(true), ignored);
  stream.expires_never();  // the WebSocket layer keeps the time from here on
  auto s = std::make_shared<peer_server::session>(std::move(stream), std::move(*peer), state);
  const auto& options = state->options;
  websocket::stream_base::timeout timeouts;
  timeouts.handshake_timeout = options.connect_timeout;
  timeouts.idle_timeout = 3 * options.ping_interval;
  timeouts.keep_alive_pings = true;
  s->ws.set_option(timeouts);
  s->ws.read_message_max(options.max_frame_bytes);
  s->ws.auto_fragment(false);
  s->ws.binary(true);
  s->ws.set_option(websocket::stream_base::decorator(
      [token = make_peer_token(state->keys, state->self_id, wall_clock::now())](
          websocket::response_type& res) {
        res.set(peer_auth_response_header, token);
        res.set(http::field::server, "p2pfaasd/" P2PFAAS_VERSION);
      }));

  {
    std::lock_guard lock(state->mutex);
    if (state->closed) co_return;  // close() ran meanwhile; dropping the session closes it
    state->live.emplace(s.get(), s);
  }
  state->sessions.fetch_add(1, std::memory_order_relaxed);
  // However the session ends, an escaping exception included.
  struct bookkeeping {
    shared& state;
    peer_server::session* session;
    ~bookkeeping() {
      {
        std::lock_guard lock(state.mutex);
        state.live.erase(session);
      }
      state.sessions.fetch_sub(1, std::memory_order_relaxed);
    }
  } done{*state, s.get()};

  auto [ec] = co_await s->ws.async_accept(req, use_tuple);
  if (ec || s->closed) {
    s->stop();
    co_return;
  }
  state->upgrades_accepted.fetch_add(1, std::memory_order_relaxed);
  spdlog::debug("peer link from {} open", s->peer_id);
  co_await s->serve();
}

}  // namespace

peer_server::peer_server(key_ring keys, std::string self_id, link_options options, handler on_call,
                         std::function<peer_load()> load_source) {
  if (keys.keys.empty()) throw std::invalid_argument("peer_server: the key ring is empty");
  if (!on_call) throw std::invalid_argument("peer_server: no call handler");
  if (!load_source) throw std::invalid_argument("peer_server: no load source");
  if (options.connect_timeout <= std::chrono::milliseconds::zero() ||
      options.ping_interval <= std::chrono::milliseconds::zero() ||
      options.max_frame_bytes < peer_frame_header_bytes) {
    throw std::invalid_argument("peer_server: unusable link options");
  }
  shared_ = std::make_shared<shared>(std::move(keys), std::move(self_id), options,
                                     std::move(on_call), std::move(load_source));
}

peer_server::~peer_server() {
  close();
}

void peer_server::accept(beast::tcp_stream stream, request req) {
  auto executor = stream.get_executor();
  asio::co_spawn(executor, upgrade(shared_, std::move(stream), std::move(req)), asio::detached);
}

std::function<void(beast::tcp_stream, request)> peer_server::upgrade_handler() {
  return
      [this](beast::tcp_stream stream, request req) { accept(std::move(stream), std::move(req)); };
}

void peer_server::close() {
  std::vector<std::shared_ptr<session>> open;
  {
    std::lock_guard lock(shared_->mutex);
    if (shared_->closed.exchange(true)) return;
    for (auto& entry : shared_->live) {
      if (auto s = entry.second.lock()) open.push_back(std::move(s));
    }
  }
  for (auto& s : open) {
    asio::dispatch(s->executor, [s] { s->stop(); });
  }
}

std::size_t peer_server::sessions() const {
  return shared_->sessions.load(std::memory_order_relaxed);
}

peer_server_stats peer_server::stats() const {
  const shared& s = *shared_;
  peer_server_stats out;
  out.sessions = s.sessions.load(std::memory_order_relaxed);
  out.upgrades_accepted = s.upgrades_accepted.load(std::memory_order_relaxed);
  out.upgrades_refused = s.upgrades_refused.load(std::memory_order_relaxed);
  out.calls = s.calls.load(std::memory_order_relaxed);
  out.replies = s.replies.load(std::memory_order_relaxed);
  out.cancels = s.cancels.load(std::memory_order_relaxed);
  out.protocol_errors = s.protocol_errors.load(std::memory_order_relaxed);
  out.load_queries = s.load_queries.load(std::memory_order_relaxed);
  return out;
}

}  // namespace p2pfaas::net
