#include "net/peer_link.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <deque>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "net/http.hpp"

namespace p2pfaas::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

constexpr milliseconds min_backoff{100};
constexpr milliseconds max_backoff{5000};
// Client frames are masked through a buffer of this size, one write per buffer: large enough
// that a typical call is one write.
constexpr std::size_t mask_buffer_bytes = 64 * 1024;

using ws_stream = websocket::stream<beast::tcp_stream>;
// A strand when several threads run the io_context; the context's own executor when one does,
// since that thread already serialises the link and a strand would only add a lock and a queue
// per handler (as in http_server).
using strand_type = asio::any_io_executor;

struct host_port {
  std::string host, port;
};

// "host:port", "[v6]:port"; the host is not checked here (the resolver or make_address does).
std::optional<host_port> split_address(std::string_view address) {
  std::string_view host, port;
  if (!address.empty() && address.front() == '[') {
    auto close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() ||
        address[close + 1] != ':') {
      return std::nullopt;
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    auto colon = address.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  if (host.empty() || port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoul(std::string(port)) > 65535) {
    return std::nullopt;
  }
  return host_port{std::string(host), std::string(port)};
}

std::string ms_text(steady::duration d) {
  return std::to_string(std::chrono::duration_cast<milliseconds>(d).count()) + " ms";
}

std::string close_text(const websocket::close_reason& reason) {
  std::string text;
  switch (reason.code) {
    case websocket::close_code::too_big:
      text = "a message over its size limit";
      break;
    case websocket::close_code::going_away:
      text = "going away";
      break;
    case websocket::close_code::protocol_error:
      text = "protocol error";
      break;
    case websocket::close_code::normal:
      text = "normal close";
      break;
    default:
      text = "close code " + std::to_string(reason.code);
  }
  if (!reason.reason.empty())
    text += ": " + std::string(reason.reason.data(), reason.reason.size());
  return text;
}

}  // namespace

std::string_view to_string(peer_error error) {
  switch (error) {
    case peer_error::none:
      return "none";
    case peer_error::connect_failed:
      return "connect_failed";
    case peer_error::unauthorized:
      return "unauthorized";
    case peer_error::link_lost:
      return "link_lost";
    case peer_error::timed_out:
      return "timed_out";
    case peer_error::shut_down:
      return "shut_down";
    case peer_error::protocol:
      return "protocol";
  }
  return "unknown";
}

struct peer_client::shared {
  shared(key_ring ring, std::string id, link_options opts)
      : keys(std::move(ring)),
        self_id(std::move(id)),
        options(opts),
        server_tokens(keys, options.replay_window, default_nonce_cache_size, peer_upgrade_label) {}

  void count(const peer_outcome& outcome) {
    if (outcome.ok()) {
      replies.fetch_add(1, std::memory_order_relaxed);
    } else {
      failed[static_cast<std::size_t>(outcome.error)].fetch_add(1, std::memory_order_relaxed);
    }
  }
  void count(const load_outcome& outcome) {
    if (outcome.ok()) {
      probes_answered.fetch_add(1, std::memory_order_relaxed);
    } else {
      probes_failed[static_cast<std::size_t>(outcome.error)].fetch_add(1,
                                                                       std::memory_order_relaxed);
    }
  }

  const key_ring keys;
  const std::string self_id;
  const link_options options;
  std::mutex opener_mutex;  // guards server_tokens; used once per connection
  opener server_tokens;     // opens the servers' 101 credentials

  std::atomic<bool> closed{false};
  std::atomic<std::uint64_t> calls{0}, replies{0}, late_replies{0}, links_opened{0}, reconnects{0},
      connect_failures{0}, probes{0}, probes_answered{0};
  std::array<std::atomic<std::uint64_t>, peer_error_count> failed{}, probes_failed{};
  std::atomic<std::size_t> open_links{0};
};

// One peer's link. Everything below runs on its strand_; the link is kept alive by its coroutines
// and timers, so dropping it from the client's map never pulls it from under them.
class peer_client::link : public std::enable_shared_from_this<link> {
 public:
  // The caller's completion handler and its executor, kept apart because Asio 1.26 cannot post
  // to the type-erased executor of an any_completion_handler. Outcome is peer_outcome for a call,
  // load_outcome for a probe.
  template <typename Outcome>
  struct handler_of {
    using erased = asio::any_completion_handler<void(Outcome)>;
    handler_of() = default;
    handler_of(erased h, asio::any_io_executor ex)
        : complete(std::move(h)), executor(std::move(ex)) {}
    handler_of(handler_of&&) noexcept = default;
    // Asio 1.26's any_completion_handler move assignment recurses without end (it copies its
    // argument as an lvalue into its converting constructor); swapping is safe.
    handler_of& operator=(handler_of&& other) noexcept {
      handler_of old(std::move(other));
      complete.swap(old.complete);
      executor.swap(old.executor);
      return *this;
    }
    erased complete;
    asio::any_io_executor executor;
  };
  using call_handler = handler_of<peer_outcome>;
  using probe_handler = handler_of<load_outcome>;

  // Hands a call (Outcome = peer_outcome) or a probe (load_outcome, `call` unused) to the link's
  // strand; the caller resumes on its own executor.
  template <typename Outcome>
  static asio::awaitable<Outcome> submit(std::shared_ptr<link> target, peer_call call,
                                         std::string address, steady::time_point deadline);

  link(asio::io_context& io, std::shared_ptr<shared> state, std::string peer_id)
      : strand_(state->options.strands ? strand_type(asio::make_strand(io))
                                       : strand_type(io.get_executor())),
        shared_(std::move(state)),
        peer_id_(std::move(peer_id)) {}

  const strand_type& strand() const { return strand_; }

  template <typename Outcome>
  void start(handler_of<Outcome> handler, peer_call call, std::string address,
             steady::time_point deadline);
  // Final: fails everything pending and every later call with `error`.
  void shut_down(peer_error error, std::string message);

 private:
  enum class link_state { idle, connecting, open, backoff, closed };
  enum class slot_state { free, waiting, sent };
  enum class slot_kind { call, probe };

  // A call or probe from start() to its completion. Slots are reused, so a busy link allocates
  // nothing per call for them; the request id carries the slot index and a generation that
  // changes on every reuse, so a late answer can never be taken for the slot's next request.
  struct slot {
    explicit slot(const strand_type& strand) : timer(strand) {}
    std::uint32_t generation = 0;
    slot_state state = slot_state::free;
    slot_kind kind = slot_kind::call;
    call_handler on_reply;  // a call's
    probe_handler on_load;  // a probe's
    peer_call call;         // a call's, until sent
    steady::time_point started;
    asio::steady_timer timer;  // the request's deadline
  };

  struct connection {
    connection(const strand_type& strand, std::size_t max_frame_bytes)
        : ws(strand), out(std::min(max_frame_bytes, peer_batch_bytes)) {}
    ws_stream ws;
    beast::flat_buffer in;
    frame_queue out;
    std::string writing;  // the message being written
    bool write_pending = false;
    bool counted = false;  // in shared::open_links
    bool dead = false;
  };

  static std::uint64_t request_id(std::uint32_t index, std::uint32_t generation) {
    return (std::uint64_t{generation} << 32) | index;
  }

  template <typename Outcome>
  void finish_now(handler_of<Outcome> handler, peer_error error, std::string message);
  template <typename Outcome>
  void finish(handler_of<Outcome> handler, Outcome outcome);
  std::uint32_t acquire();
  void release(std::uint32_t index);
  void complete(std::uint32_t index, peer_outcome outcome);
  void complete(std::uint32_t index, load_outcome outcome);
  void fail(std::uint32_t index, peer_error error, std::string message);
  void fail_all(peer_error error, const std::string& message);
  void on_deadline(std::uint32_t index, std::uint32_t generation);
  void send(std::uint32_t index);
  void pump();
  void flush();

  void connect();
  asio::awaitable<void> run(std::shared_ptr<link> self, std::shared_ptr<connection> conn);
  asio::awaitable<bool> open(connection& conn, peer_error& error, std::string& problem);
  asio::awaitable<void> read_loop(std::shared_ptr<connection> conn);
  asio::awaitable<void> write_loop(std::shared_ptr<link> self, std::shared_ptr<connection> conn);
  bool on_message(connection& conn, std::string& problem);
  void on_open(const std::shared_ptr<connection>& conn);
  void on_connect_failed(const std::shared_ptr<connection>& conn, peer_error error,
                         const std::string& problem);
  void lost(const std::shared_ptr<connection>& conn, peer_error error, const std::string& problem);
  void close_connection();
  void enter_backoff(const std::string& problem);
  std::string describe(const boost::system::error_code& ec, connection& conn) const;

  strand_type strand_;
  const std::shared_ptr<shared> shared_;
  const std::string peer_id_;
  std::string address_;

  link_state state_ = link_state::idle;
  std::shared_ptr<connection> conn_;  // while connecting or open
  bool was_open_ = false;
  milliseconds backoff_ = min_backoff;
  steady::time_point retry_at_;
  std::string last_error_;
  peer_error closed_error_ = peer_error::shut_down;
  std::string closed_message_;

  std::vector<std::unique_ptr<slot>> slots_;
  std::vector<std::uint32_t> free_;
  std::size_t in_flight_ = 0;  // calls sent and not answered
  struct queued {
    std::uint32_t index, generation;
  };
  std::deque<queued> waiting_;         // calls, for a link or for room, in call order
  std::deque<queued> waiting_probes_;  // probes, for a link only: they take no room
};

template <typename Outcome>
asio::awaitable<Outcome> peer_client::link::submit(std::shared_ptr<link> target, peer_call call,
                                                   std::string address,
                                                   steady::time_point deadline) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(Outcome)>(
      [](auto handler, std::shared_ptr<link> l, peer_call c, std::string a, steady::time_point d) {
        const strand_type strand = l->strand();
        asio::any_io_executor executor = asio::get_associated_executor(handler);
        handler_of<Outcome> h(typename handler_of<Outcome>::erased(std::move(handler)),
                              std::move(executor));
        asio::dispatch(strand,
                       [l = std::move(l), h = std::move(h), c = std::move(c), a = std::move(a),
                        d]() mutable { l->start(std::move(h), std::move(c), std::move(a), d); });
      },
      asio::use_awaitable, std::move(target), std::move(call), std::move(address), deadline);
}

template <typename Outcome>
void peer_client::link::start(handler_of<Outcome> handler, peer_call call, std::string address,
                              steady::time_point deadline) {
  constexpr bool probe = std::is_same_v<Outcome, load_outcome>;
  if (!address.empty() && address != address_) {
    address_ = std::move(address);
    // The backoff was earned by the old address; the new one deserves a try now.
    if (state_ == link_state::backoff) {
      state_ = link_state::idle;
      backoff_ = min_backoff;
    }
  }
  if (state_ == link_state::closed) {
    return finish_now(std::move(handler), closed_error_, closed_message_);
  }
  const auto now = steady::now();
  if (deadline <= now) {
    return finish_now(std::move(handler), peer_error::timed_out,
                      std::string("the deadline passed before the ") + (probe ? "probe" : "call") +
                          " to " + peer_id_ + " was sent");
  }
  if (state_ == link_state::backoff) {
    if (now < retry_at_) {
      return finish_now(std::move(handler), peer_error::connect_failed,
                        "no link to " + peer_id_ + " (" + last_error_ + "); next attempt in " +
                            ms_text(retry_at_ - now));
    }
    state_ = link_state::idle;
  }

  const std::uint32_t index = acquire();
  slot& s = *slots_[index];
  s.state = slot_state::waiting;
  if constexpr (probe) {
    s.kind = slot_kind::probe;
    s.on_load = std::move(handler);
  } else {
    s.kind = slot_kind::call;
    s.on_reply = std::move(handler);
    s.call = std::move(call);
  }
  s.started = now;
  s.timer.expires_at(deadline);
  s.timer.async_wait([self = shared_from_this(), index,
                      generation = s.generation](const boost::system::error_code& ec) {
    if (!ec) self->on_deadline(index, generation);
  });

  // A probe takes no room, so it never waits behind calls.
  if (state_ == link_state::open &&
      (probe || (waiting_.empty() && in_flight_ < shared_->options.max_in_flight))) {
    send(index);
    flush();
    return;
  }
  (probe ? waiting_probes_ : waiting_).push_back({index, s.generation});
  if (state_ == link_state::idle) connect();
}

template <typename Outcome>
void peer_client::link::finish_now(handler_of<Outcome> handler, peer_error error,
                                   std::string message) {
  finish(std::move(handler), Outcome{error, std::move(message), {}});
}

template <typename Outcome>
void peer_client::link::finish(handler_of<Outcome> handler, Outcome outcome) {
  shared_->count(outcome);
  // Posted, never run inline: the caller's coroutine may call again right away, which must not
  // re-enter the link while it walks its slots.
  auto executor = std::move(handler.executor);
  asio::post(executor, [h = std::move(handler.complete), o = std::move(outcome)]() mutable {
    std::move(h)(std::move(o));
  });
}

std::uint32_t peer_client::link::acquire() {
  if (!free_.empty()) {
    auto index = free_.back();
    free_.pop_back();
    return index;
  }
  slots_.push_back(std::make_unique<slot>(strand_));
  return static_cast<std::uint32_t>(slots_.size() - 1);
}

// Frees the slot; its handler must have been taken.
void peer_client::link::release(std::uint32_t index) {
  slot& s = *slots_[index];
  if (s.state == slot_state::sent && s.kind == slot_kind::call) --in_flight_;
  s.timer.cancel();
  s.state = slot_state::free;
  ++s.generation;
  if (!s.call.payload.empty() || !s.call.headers.empty()) s.call = peer_call{};
  free_.push_back(index);
}

void peer_client::link::complete(std::uint32_t index, peer_outcome outcome) {
  auto handler = std::move(slots_[index]->on_reply);
  release(index);
  finish(std::move(handler), std::move(outcome));
}

void peer_client::link::complete(std::uint32_t index, load_outcome outcome) {
  auto handler = std::move(slots_[index]->on_load);
  release(index);
  finish(std::move(handler), std::move(outcome));
}

void peer_client::link::fail(std::uint32_t index, peer_error error, std::string message) {
  if (slots_[index]->kind == slot_kind::probe) {
    complete(index, load_outcome{error, std::move(message), {}});
  } else {
    complete(index, peer_outcome{error, std::move(message), {}});
  }
}

void peer_client::link::fail_all(peer_error error, const std::string& message) {
  waiting_.clear();
  waiting_probes_.clear();
  for (std::uint32_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i]->state != slot_state::free) fail(i, error, message);
  }
  in_flight_ = 0;
}

void peer_client::link::on_deadline(std::uint32_t index, std::uint32_t generation) {
  if (index >= slots_.size()) return;
  slot& s = *slots_[index];
  if (s.generation != generation || s.state == slot_state::free) return;
  const std::string waited = ms_text(steady::now() - s.started);
  std::string message;
  if (s.state == slot_state::sent && s.kind == slot_kind::probe) {
    // Nothing runs on the peer for a probe, so there is nothing to cancel.
    message = "no load report from " + peer_id_ + " within " + waited;
  } else if (s.state == slot_state::sent) {
    message = "no reply from " + peer_id_ + " within " + waited;
    if (conn_ && !conn_->dead) {
      // The peer may stop the call, and at least drops its reply.
      encode_cancel(request_id(index, generation), conn_->out.buffer(peer_frame_header_bytes));
    }
  } else if (state_ == link_state::open && s.kind == slot_kind::call) {
    message = "no room on the link to " + peer_id_ + " within " + waited + " (" +
              std::to_string(shared_->options.max_in_flight) + " calls in flight)";
  } else {
    message = "no link to " + peer_id_ + " within " + waited + " (still connecting)";
  }
  fail(index, peer_error::timed_out, std::move(message));
  pump();
}

void peer_client::link::send(std::uint32_t index) {
  slot& s = *slots_[index];
  if (s.kind == slot_kind::probe) {
    encode_load_query(request_id(index, s.generation), conn_->out.buffer(peer_frame_header_bytes));
    s.state = slot_state::sent;
    return;
  }
  const auto e = encode(request_id(index, s.generation), s.call, shared_->options.max_frame_bytes,
                        conn_->out.buffer(encoded_size(s.call)));
  if (e != protocol_error::none) {
    complete(index, peer_outcome{
                        peer_error::protocol,
                        "the call to " + peer_id_ + " cannot be sent: " + std::string(to_string(e)),
                        {}});
    return;
  }
  s.state = slot_state::sent;
  ++in_flight_;
  s.call = peer_call{};  // the payload is in the frame now; free it rather than keep it twice
}

void peer_client::link::pump() {
  if (state_ != link_state::open) return;
  for (const queued next : waiting_probes_) {
    const slot& s = *slots_[next.index];
    if (s.generation == next.generation && s.state == slot_state::waiting) send(next.index);
  }
  waiting_probes_.clear();
  while (in_flight_ < shared_->options.max_in_flight && !waiting_.empty()) {
    const queued next = waiting_.front();
    waiting_.pop_front();
    const slot& s = *slots_[next.index];
    if (s.generation == next.generation && s.state == slot_state::waiting) send(next.index);
  }
  flush();
}

void peer_client::link::flush() {
  if (!conn_ || conn_->dead || conn_->write_pending || conn_->out.empty()) return;
  conn_->write_pending = true;
  asio::co_spawn(strand_, write_loop(shared_from_this(), conn_), asio::detached);
}

asio::awaitable<void> peer_client::link::write_loop(std::shared_ptr<link> /*keep_alive*/,
                                                    std::shared_ptr<connection> conn) {
  // Frames queued while a write is in flight go out together in the next one.
  while (!conn->dead && !conn->out.empty()) {
    conn->out.take(conn->writing);
    auto [ec, n] = co_await conn->ws.async_write(asio::buffer(conn->writing), use_tuple);
    if (conn->writing.capacity() > peer_buffer_keep_bytes) std::string().swap(conn->writing);
    if (ec) {
      lost(conn, peer_error::link_lost, describe(ec, *conn));
      break;
    }
  }
  conn->write_pending = false;
}

void peer_client::link::connect() {
  state_ = link_state::connecting;
  conn_ = std::make_shared<connection>(strand_, shared_->options.max_frame_bytes);
  asio::co_spawn(strand_, run(shared_from_this(), conn_), asio::detached);
}

asio::awaitable<void> peer_client::link::run(std::shared_ptr<link> /*keep_alive*/,
                                             std::shared_ptr<connection> conn) {
  peer_error error = peer_error::connect_failed;
  std::string problem;
  bool ok = false;
  try {
    ok = co_await open(*conn, error, problem);
  } catch (const std::exception& e) {
    // The random generator or a resolver that throws; the link must still fail its calls.
    problem = e.what();
  }
  if (conn->dead) co_return;  // shut down while connecting: its calls have already failed
  if (!ok) {
    on_connect_failed(conn, error, problem);
    co_return;
  }
  on_open(conn);
  co_await read_loop(conn);
}

asio::awaitable<bool> peer_client::link::open(connection& conn, peer_error& error,
                                              std::string& problem) {
  const auto& options = shared_->options;
  const std::string where = peer_id_ + " at " + address_;
  auto target = split_address(address_);
  if (!target) {
    problem = "cannot reach " + where + ": not a host:port address";
    co_return false;
  }
  auto& tcp_layer = beast::get_lowest_layer(conn.ws);
  const auto give_up = steady::now() + options.connect_timeout;
  tcp_layer.expires_at(give_up);

  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(target->host, ec);
  if (!ec) {
    const auto port = static_cast<std::uint16_t>(std::stoul(target->port));
    auto [connect_ec] = co_await tcp_layer.async_connect(tcp::endpoint(ip, port), use_tuple);
    ec = connect_ec;
  } else {
    // The resolver has no deadline of its own; a timer cancels it. Shared, because the timer's
    // handler may run after this frame has moved on.
    auto resolver = std::make_shared<tcp::resolver>(strand_);
    asio::steady_timer guard(strand_, give_up);
    guard.async_wait([weak = std::weak_ptr<tcp::resolver>(resolver)](boost::system::error_code e) {
      if (auto r = weak.lock(); r && !e) r->cancel();
    });
    auto [resolve_ec, results] =
        co_await resolver->async_resolve(target->host, target->port, use_tuple);
    guard.cancel();
    ec = resolve_ec;
    if (!ec && !conn.dead) {
      auto [connect_ec, endpoint] = co_await tcp_layer.async_connect(results, use_tuple);
      ec = connect_ec;
    }
  }
  if (conn.dead) co_return false;
  if (ec) {
    problem = "cannot reach " + where + ": " +
              (ec == beast::error::timeout || ec == asio::error::operation_aborted
                   ? "no connection within " + ms_text(options.connect_timeout)
                   : ec.message());
    co_return false;
  }

  boost::system::error_code ignored;
  tcp_layer.socket().set_option(tcp::no_delay(true), ignored);
  // From here on the WebSocket layer keeps the time: the handshake timeout, then idle pings.
  tcp_layer.expires_never();
  const auto left = std::max<steady::duration>(give_up - steady::now(), milliseconds(1));
  websocket::stream_base::timeout timeouts;
  timeouts.handshake_timeout = left;
  timeouts.idle_timeout = 3 * options.ping_interval;
  timeouts.keep_alive_pings = true;
  conn.ws.set_option(timeouts);
  conn.ws.read_message_max(options.max_frame_bytes);
  conn.ws.auto_fragment(false);
  conn.ws.binary(true);
  conn.ws.write_buffer_bytes(mask_buffer_bytes);
  conn.ws.set_option(websocket::stream_base::decorator(
      [token = make_peer_token(shared_->keys, shared_->self_id, wall_clock::now())](
          websocket::request_type& req) {
        req.set(http::field::authorization, token);
        req.set(http::field::user_agent, "p2pfaasd/" P2PFAAS_VERSION);
      }));

  websocket::response_type res;
  auto [handshake_ec] = co_await conn.ws.async_handshake(res, address_, peer_path, use_tuple);
  if (conn.dead) co_return false;
  if (handshake_ec) {
    if (res.result() == http::status::unauthorized) {
      error = peer_error::unauthorized;
      problem = where + " refused our cluster key (401 " + res.body().substr(0, 300) + ")";
    } else if (handshake_ec == websocket::error::upgrade_declined) {
      problem = where + " declined the upgrade (" + std::to_string(res.result_int()) + ")";
    } else if (handshake_ec == beast::error::timeout) {
      problem = where + " did not complete the upgrade within " + ms_text(options.connect_timeout);
    } else {
      problem = "upgrade to " + where + " failed: " + handshake_ec.message();
    }
    co_return false;
  }

  std::string why;
  std::optional<std::string> server_id;
  {
    std::lock_guard lock(shared_->opener_mutex);
    server_id = open_peer_token(shared_->server_tokens, res[peer_auth_response_header],
                                wall_clock::now(), why);
  }
  if (!server_id) {
    error = peer_error::unauthorized;
    problem = where + " did not prove the cluster key: " + why;
    co_return false;
  }
  if (*server_id != peer_id_) {
    // Stale membership: the address now belongs to another node, which must not run calls meant
    // for this one (paths and hop limits count node ids).
    problem = address_ + " is node " + *server_id + ", not " + peer_id_;
    co_return false;
  }
  co_return true;
}

void peer_client::link::on_open(const std::shared_ptr<connection>& conn) {
  state_ = link_state::open;
  backoff_ = min_backoff;
  conn->counted = true;
  shared_->open_links.fetch_add(1, std::memory_order_relaxed);
  shared_->links_opened.fetch_add(1, std::memory_order_relaxed);
  if (was_open_) shared_->reconnects.fetch_add(1, std::memory_order_relaxed);
  was_open_ = true;
  pump();
}

void peer_client::link::on_connect_failed(const std::shared_ptr<connection>& conn, peer_error error,
                                          const std::string& problem) {
  if (conn != conn_) return;
  close_connection();
  shared_->connect_failures.fetch_add(1, std::memory_order_relaxed);
  spdlog::debug("peer link: {}", problem);
  enter_backoff(problem);
  fail_all(error, problem);
}

void peer_client::link::lost(const std::shared_ptr<connection>& conn, peer_error error,
                             const std::string& problem) {
  if (conn != conn_ || conn->dead) return;
  close_connection();
  std::string message = "link to " + peer_id_ + " lost: " + problem;
  spdlog::info("{}", message);
  enter_backoff(problem);
  fail_all(error, message);
}

void peer_client::link::close_connection() {
  auto conn = std::move(conn_);
  conn_.reset();
  if (!conn) return;
  conn->dead = true;
  if (conn->counted) shared_->open_links.fetch_sub(1, std::memory_order_relaxed);
  conn->counted = false;
  conn->out.clear();
  // Aborts whatever is pending on it (connect, handshake, read, write) at once.
  beast::get_lowest_layer(conn->ws).close();
}

void peer_client::link::enter_backoff(const std::string& problem) {
  if (state_ == link_state::closed) return;
  state_ = link_state::backoff;
  retry_at_ = steady::now() + backoff_;
  backoff_ = std::min(backoff_ * 2, max_backoff);
  last_error_ = problem;
}

void peer_client::link::shut_down(peer_error error, std::string message) {
  if (state_ == link_state::closed) return;
  state_ = link_state::closed;
  closed_error_ = error;
  closed_message_ = std::move(message);
  close_connection();
  fail_all(error, closed_message_);
}

std::string peer_client::link::describe(const boost::system::error_code& ec,
                                        connection& conn) const {
  // A peer that refuses a message sends a close frame and drops the connection with our message
  // still unread, so the socket is reset: answering the close fails with "broken pipe". The
  // close frame's reason is the better explanation.
  if (ec == websocket::error::closed || conn.ws.reason().code != websocket::close_code::none) {
    return "the peer closed it (" + close_text(conn.ws.reason()) + ")";
  }
  if (ec == beast::error::timeout) {
    return "no pong or frame for " + ms_text(3 * shared_->options.ping_interval);
  }
  if (ec == websocket::error::message_too_big) {
    return "a message over max_frame_bytes (" + std::to_string(shared_->options.max_frame_bytes) +
           ")";
  }
  return ec.message();
}

asio::awaitable<void> peer_client::link::read_loop(std::shared_ptr<connection> conn) {
  for (;;) {
    auto [ec, n] = co_await conn->ws.async_read(conn->in, use_tuple);
    if (conn->dead) co_return;
    if (ec) {
      lost(conn, peer_error::link_lost, describe(ec, *conn));
      co_return;
    }
    std::string problem;
    if (!on_message(*conn, problem)) {
      lost(conn, peer_error::protocol, problem);
      co_return;
    }
    conn->in.consume(conn->in.size());
    if (conn->in.capacity() > peer_buffer_keep_bytes) conn->in.shrink_to_fit();
    pump();
  }
}

bool peer_client::link::on_message(connection& conn, std::string& problem) {
  const auto data = conn.in.cdata();
  std::span<const std::uint8_t> message(static_cast<const std::uint8_t*>(data.data()), data.size());
  while (!message.empty()) {
    frame_view frame;
    if (auto e = next_frame(message, shared_->options.max_frame_bytes, frame);
        e != protocol_error::none) {
      problem = "malformed frame from " + peer_id_ + ": " + std::string(to_string(e));
      return false;
    }
    if (frame.type != frame_type::reply && frame.type != frame_type::load_report) {
      problem = peer_id_ + " sent a frame of type " + std::to_string(static_cast<int>(frame.type)) +
                " on a calling link";
      return false;
    }
    const auto index = static_cast<std::uint32_t>(frame.request_id);
    const auto generation = static_cast<std::uint32_t>(frame.request_id >> 32);
    if (index >= slots_.size() || slots_[index]->generation != generation ||
        slots_[index]->state != slot_state::sent) {
      shared_->late_replies.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (frame.type == frame_type::load_report) {
      if (slots_[index]->kind != slot_kind::probe) {
        problem = peer_id_ + " sent a load report for a call";
        return false;
      }
      load_outcome outcome;
      if (auto e = decode(frame.body, outcome.load); e != protocol_error::none) {
        problem = "malformed load report from " + peer_id_ + ": " + std::string(to_string(e));
        return false;
      }
      complete(index, std::move(outcome));
      continue;
    }
    if (slots_[index]->kind != slot_kind::call) {
      problem = peer_id_ + " sent a reply to a load probe";
      return false;
    }
    peer_outcome outcome;
    if (auto e = decode(frame.body, outcome.reply); e != protocol_error::none) {
      problem = "malformed reply from " + peer_id_ + ": " + std::string(to_string(e));
      return false;
    }
    complete(index, std::move(outcome));
  }
  return true;
}

peer_client::peer_client(asio::io_context& io, key_ring keys, std::string self_id,
                         link_options options)
    : io_(io) {
  if (keys.keys.empty()) throw std::invalid_argument("peer_client: the key ring is empty");
  if (options.max_in_flight == 0 || options.connect_timeout <= milliseconds::zero() ||
      options.ping_interval <= milliseconds::zero() ||
      options.max_frame_bytes < peer_frame_header_bytes) {
    throw std::invalid_argument("peer_client: unusable link options");
  }
  shared_ = std::make_shared<shared>(std::move(keys), std::move(self_id), options);
}

peer_client::~peer_client() {
  close();
}

std::shared_ptr<peer_client::link> peer_client::find_or_add(const std::string& peer_id) {
  std::lock_guard lock(mutex_);
  // Checked under the lock that close() takes, so no link can be added after close() ran.
  if (shared_->closed.load()) return nullptr;
  auto it = links_.find(peer_id);
  if (it == links_.end())
    it = links_.emplace(peer_id, std::make_shared<link>(io_, shared_, peer_id)).first;
  return it->second;
}

asio::awaitable<peer_outcome> peer_client::call(std::string peer_id, std::string address,
                                                peer_call call, steady::time_point deadline) {
  shared& state = *shared_;
  state.calls.fetch_add(1, std::memory_order_relaxed);
  const auto size = encoded_size(call);
  if (size > state.options.max_frame_bytes) {
    peer_outcome outcome{peer_error::protocol,
                         "the call to " + peer_id + " is " + std::to_string(size) +
                             " bytes, over max_frame_bytes (" +
                             std::to_string(state.options.max_frame_bytes) + ")",
                         {}};
    state.count(outcome);
    co_return outcome;
  }
  auto target = find_or_add(peer_id);
  if (!target) {
    peer_outcome outcome{peer_error::shut_down, "peer links are shut down", {}};
    state.count(outcome);
    co_return outcome;
  }
  co_return co_await link::submit<peer_outcome>(std::move(target), std::move(call),
                                                std::move(address), deadline);
}

asio::awaitable<load_outcome> peer_client::probe(std::string peer_id, std::string address,
                                                 steady::time_point deadline) {
  shared& state = *shared_;
  state.probes.fetch_add(1, std::memory_order_relaxed);
  auto target = find_or_add(peer_id);
  if (!target) {
    load_outcome outcome{peer_error::shut_down, "peer links are shut down", {}};
    state.count(outcome);
    co_return outcome;
  }
  // A named object rather than a temporary: GCC 12 mishandles a class temporary in a co_await
  // expression (a peer_call{} there crashed when its strings were destroyed).
  peer_call unused;
  co_return co_await link::submit<load_outcome>(std::move(target), std::move(unused),
                                                std::move(address), deadline);
}

void peer_client::drop(const std::string& peer_id) {
  std::shared_ptr<link> gone;
  {
    std::lock_guard lock(mutex_);
    auto it = links_.find(peer_id);
    if (it == links_.end()) return;
    gone = std::move(it->second);
    links_.erase(it);
  }
  asio::dispatch(gone->strand(), [gone, peer_id] {
    gone->shut_down(peer_error::link_lost,
                    "link to " + peer_id + " dropped: the peer is dead or has left");
  });
}

void peer_client::close() {
  std::unordered_map<std::string, std::shared_ptr<link>> all;
  {
    std::lock_guard lock(mutex_);
    if (shared_->closed.exchange(true)) return;
    all.swap(links_);
  }
  for (auto& entry : all) {
    auto l = entry.second;
    auto message = "link to " + entry.first + " closed: this node is shutting down";
    asio::dispatch(l->strand(), [l, message = std::move(message)]() mutable {
      l->shut_down(peer_error::shut_down, std::move(message));
    });
  }
}

std::size_t peer_client::link_count() const {
  return shared_->open_links.load(std::memory_order_relaxed);
}

peer_client_stats peer_client::stats() const {
  const shared& s = *shared_;
  peer_client_stats out;
  out.calls = s.calls.load(std::memory_order_relaxed);
  out.replies = s.replies.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < peer_error_count; ++i) {
    out.failed[i] = s.failed[i].load(std::memory_order_relaxed);
  }
  out.late_replies = s.late_replies.load(std::memory_order_relaxed);
  out.links_opened = s.links_opened.load(std::memory_order_relaxed);
  out.reconnects = s.reconnects.load(std::memory_order_relaxed);
  out.connect_failures = s.connect_failures.load(std::memory_order_relaxed);
  out.open_links = s.open_links.load(std::memory_order_relaxed);
  out.probes = s.probes.load(std::memory_order_relaxed);
  out.probes_answered = s.probes_answered.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < peer_error_count; ++i) {
    out.probes_failed[i] = s.probes_failed[i].load(std::memory_order_relaxed);
  }
  return out;
}

}  // namespace p2pfaas::net
