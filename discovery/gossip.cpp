#include "discovery/gossip.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cmath>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "config/config.hpp"
#include "config/host_port.hpp"
#include "net/envelope.hpp"

namespace p2pfaas::discovery {

namespace asio = boost::asio;
using asio::ip::udp;
using error_code = boost::system::error_code;

namespace {

std::chrono::milliseconds seconds_to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(seconds * 1000.0)));
}

// Sized for a burst of full-state push-pulls (up to max_message_bytes each) arriving while the
// process is descheduled: a full receive buffer drops acks and refutations, which is exactly what
// turns a slow node into a dead one. The kernel caps it at net.core.rmem_max.
constexpr int receive_buffer_bytes = 4 << 20;
constexpr int send_buffer_bytes = 1 << 20;
// Datagrams handled per wake-up before other handlers get a turn; the next receive is attempted at
// once (speculatively), so a backlog is still worked off before the next tick.
constexpr int max_batch = 256;
// A name that did not resolve is tried again after this; datagrams for it meanwhile are dropped.
constexpr auto resolve_retry = std::chrono::seconds(5);
constexpr std::size_t max_waiting_per_name = 16;
constexpr std::size_t max_names = 1024;
// last_heard alone does not justify a new snapshot more often than this.
constexpr auto heard_refresh = std::chrono::milliseconds(250);
constexpr auto reject_log_interval = std::chrono::seconds(10);
// Room for the envelope inside the datagram limit of the wire format.
constexpr std::size_t payload_budget = max_message_bytes - net::envelope_overhead;

bool same_values(const load_record& a, const load_record& b) {
  return a.in_flight == b.in_flight && a.queued == b.queued && a.slots == b.slots &&
         a.recent_service_seconds == b.recent_service_seconds;
}

// What a snapshot reader can act on; last_heard moves with every datagram and is refreshed on a
// timer instead (see heard_refresh).
bool same_member(const member_info& a, const member_info& b) {
  return a.id == b.id && a.address == b.address && a.state == b.state &&
         a.incarnation == b.incarnation && a.load == b.load && a.state_since == b.state_since;
}

std::string format_endpoint(const udp::endpoint& ep) {
  auto address = ep.address();
  // A v4 peer seen through a dual-stack socket reads as ::ffff:a.b.c.d; the plain form matches
  // what it advertises.
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  if (address.is_v6()) return "[" + address.to_string() + "]:" + std::to_string(ep.port());
  return address.to_string() + ":" + std::to_string(ep.port());
}

// Holds the run mutex for the current thread unless it already does: an event callback runs
// under it and may call stop() or leave().
thread_local const void* run_lock_holder = nullptr;

}  // namespace

membership_config membership_config_of(const config::cluster_section& cluster) {
  membership_config c;
  c.probe_interval = seconds_to_ms(cluster.probe_interval_seconds);
  c.probe_timeout = seconds_to_ms(cluster.probe_timeout_seconds);
  c.indirect_checks = cluster.indirect_checks;
  c.suspicion_multiplier = cluster.suspicion_multiplier;
  c.suspicion_max_multiplier = cluster.suspicion_max_multiplier;
  c.retransmit_multiplier = cluster.retransmit_multiplier;
  c.gossip_interval = seconds_to_ms(cluster.gossip_interval_seconds);
  c.gossip_fanout = cluster.gossip_fanout;
  c.push_pull_interval = seconds_to_ms(cluster.push_pull_interval_seconds);
  // Finding the other side of a healed partition is the same job as a push-pull, at its pace.
  c.reconnect_interval = c.push_pull_interval;
  c.join_retry_interval = seconds_to_ms(cluster.join_retry_seconds);
  c.reap_after = seconds_to_ms(cluster.reap_after_seconds);
  return c;
}

gossip_options gossip_options_of(const config::config& c) {
  gossip_options o;
  o.id = c.node.id;
  o.seeds = c.cluster.join;
  o.membership = membership_config_of(c.cluster);
  o.replay_window = seconds_to_ms(c.cluster.replay_window_seconds);
  o.load_publish_interval = seconds_to_ms(c.cluster.load_publish_seconds);
  return o;
}

// Everything runs under run_mutex_: the strand's handlers (the strand keeps them from queueing
// on the mutex), and start(), leave() and stop() from whatever thread calls them, so those act at
// once and stop() can promise that nothing runs after it. Every call on the socket and the timer
// is made under the mutex too, which is why the I/O is written with completion handlers rather
// than coroutines: a coroutine initiates its operation after it has suspended, outside any lock.
struct gossip_service::impl : std::enable_shared_from_this<impl>, transport {
  impl(asio::io_context& io, gossip_options o)
      : options_(std::move(o)),
        strand_(asio::make_strand(io)),
        socket_(strand_),
        timer_(strand_),
        resolver_(strand_),
        opener_(options_.keys, options_.replay_window),
        rng_(std::random_device{}()),
        rx_(max_message_bytes + 1024),
        drain_rx_(max_message_bytes + 1024) {
    auto v = std::make_shared<view>();
    v->self = options_.id;
    member_info self;
    self.id = options_.id;
    self.address = options_.advertise;
    self.state_since = clock::now();
    v->members.push_back(self);
    snapshot_ = current_ = v;
  }

  class run_lock {
   public:
    explicit run_lock(impl& s) : s_(s), previous_(run_lock_holder), owned_(previous_ != &s) {
      if (!owned_) return;
      s_.run_mutex_.lock();
      run_lock_holder = &s_;
    }
    ~run_lock() {
      if (!owned_) return;
      run_lock_holder = previous_;
      s_.run_mutex_.unlock();
    }
    run_lock(const run_lock&) = delete;
    run_lock& operator=(const run_lock&) = delete;

   private:
    impl& s_;
    const void* previous_;
    bool owned_;
  };

  udp::endpoint start();
  void join(std::vector<std::string> seeds);
  void leave();
  void stop_locked();
  void set_load(const load_record& load);

  // transport
  void send(const std::string& address, const message& m) override;

  std::optional<std::vector<std::uint8_t>> seal_message(const message& m);
  std::optional<udp::endpoint> fit_family(const udp::endpoint& ep) const;
  void transmit(const udp::endpoint& to, std::vector<std::uint8_t> datagram);
  void resolve(const std::string& address, const std::string& host, std::uint16_t port);
  void on_resolved(const std::string& address, const error_code& ec,
                   const udp::resolver::results_type& results);

  void start_receive();
  void on_receive(const error_code& ec, std::size_t n);
  void drain();
  void handle_datagram(std::span<const std::uint8_t> bytes, const udp::endpoint& from);
  void count_rejection(net::open_error error, const udp::endpoint& from);

  time_point next_wake() const;
  void arm(time_point deadline);
  void on_timer(std::uint64_t generation);
  void on_load_posted();
  void publish_load(time_point now);
  // After every handler that touched the membership: events, timer, snapshot, stats.
  void settle(time_point now);
  void publish(time_point now);

  const gossip_options options_;
  asio::strand<asio::io_context::executor_type> strand_;

  // Guarded by run_mutex_.
  std::mutex run_mutex_;
  // Also read without the mutex, by running().
  std::atomic<bool> stopped_{false};
  std::atomic<bool> started_{false};
  udp::socket socket_;
  asio::steady_timer timer_;
  udp::resolver resolver_;
  net::opener opener_;
  std::mt19937_64 rng_;
  std::function<void(const member_event&)> on_event_;
  std::unique_ptr<membership> membership_;
  udp::endpoint bound_;
  std::vector<std::uint8_t> rx_;        // the pending async receive's buffer
  std::vector<std::uint8_t> drain_rx_;  // synchronous drains, while that receive may be pending
  udp::endpoint rx_from_;
  time_point armed_ = time_point::max();
  bool timer_waiting_ = false;
  std::uint64_t timer_generation_ = 0;
  time_point load_due_ = time_point::max();
  time_point last_load_publish_ = time_point::min();
  time_point linger_until_ = time_point::max();
  struct resolution {
    std::optional<udp::endpoint> endpoint;
    bool pending = false;
    time_point retry_at = time_point::min();
    std::vector<std::vector<std::uint8_t>> waiting;  // sealed while the name was resolving
  };
  std::map<std::string, resolution> names_;  // "host:port" of non-numeric hosts
  gossip_stats counters_;  // the transport's own counters; the rest is filled in by publish()
  std::shared_ptr<const view> current_;  // what snapshot_ holds, readable without publish_mutex_
  bool dirty_ = false;                   // the membership may have changed since publish()
  time_point last_publish_ = time_point::min();
  std::uint64_t rejected_since_log_ = 0;
  time_point last_reject_log_ = time_point::min();

  // Guarded by load_mutex_: set_load() must never wait for the strand.
  std::mutex load_mutex_;
  load_record pending_load_;
  bool load_pending_ = false;  // pending_load_ holds a value not yet handed to the membership
  bool load_posted_ = false;   // a publication is posted or scheduled

  // Guarded by publish_mutex_.
  mutable std::mutex publish_mutex_;
  std::shared_ptr<const view> snapshot_;
  gossip_stats stats_;
};

// ---- start, leave, stop ---------------------------------------------------------------------

udp::endpoint gossip_service::impl::start() {
  run_lock lock(*this);
  if (started_ || stopped_)
    throw std::logic_error("gossip_service: start() after start() or stop()");
  const auto& bind = options_.bind;
  try {
    // std::system_error rather than Asio's own, which is not one.
    error_code ec;
    auto check = [&](const char* what) {
      if (ec) {
        throw std::system_error(
            ec, std::string("gossip: cannot ") + what + " udp " + format_endpoint(bind));
      }
    };
    socket_.open(bind.protocol(), ec);
    check("open");
    // Like the HTTP listener: "[::]" serves IPv6 only, an IPv4 node on the same port is separate.
    // No SO_REUSEADDR: for UDP it would let a second daemon share the port and half our traffic.
    if (bind.address().is_v6()) {
      socket_.set_option(asio::ip::v6_only(true), ec);
      check("set up");
    }
    socket_.bind(bind, ec);
    check("bind");
    error_code ignored;
    socket_.set_option(asio::socket_base::receive_buffer_size(receive_buffer_bytes), ignored);
    socket_.set_option(asio::socket_base::send_buffer_size(send_buffer_bytes), ignored);
    socket_.non_blocking(true);  // for drain(): synchronous reads until the queue is empty
    bound_ = socket_.local_endpoint();

    std::string advertise = options_.advertise;
    if (advertise.empty()) {
      if (bound_.address().is_unspecified()) {
        throw std::invalid_argument("gossip: bound to " + format_endpoint(bound_) +
                                    ", an advertised address is needed");
      }
      advertise = format_endpoint(bound_);
    } else {
      auto split = config::split_host_port(advertise);
      if (!split) throw std::invalid_argument("gossip: bad advertised address '" + advertise + "'");
      if (split->second == 0) {
        auto host =
            split->first.find(':') != std::string::npos ? "[" + split->first + "]" : split->first;
        advertise = host + ":" + std::to_string(bound_.port());
      }
    }

    auto now = clock::now();
    membership_ = std::make_unique<membership>(
        options_.membership, options_.id, advertise,
        membership_dependencies{*this, [this] { return rng_(); }}, now);
    started_ = true;
    {
      std::lock_guard load_lock(load_mutex_);
      if (load_pending_) {
        // Before the join, so the first push-pull carries it.
        membership_->set_load(pending_load_);
        ++counters_.loads_published;
        last_load_publish_ = now;
        load_pending_ = false;
        load_posted_ = false;
      }
    }
    error_code rcvbuf_ec;
    asio::socket_base::receive_buffer_size rcvbuf;
    socket_.get_option(rcvbuf, rcvbuf_ec);
    spdlog::info("gossip: udp {} as '{}', advertised as {}, receive buffer {} KiB",
                 format_endpoint(bound_), options_.id, advertise,
                 rcvbuf_ec ? -1 : rcvbuf.value() / 1024);
    if (options_.seeds.empty()) spdlog::info("gossip: no seeds, first node of its cluster");
    membership_->join(options_.seeds, now);
    start_receive();
    dirty_ = true;
    settle(now);
  } catch (...) {
    error_code ignored;
    socket_.close(ignored);
    membership_.reset();
    started_ = false;
    throw;
  }
  return bound_;
}

void gossip_service::impl::join(std::vector<std::string> seeds) {
  run_lock lock(*this);
  if (stopped_ || !membership_ || membership_->leaving()) return;
  auto now = clock::now();
  spdlog::info("gossip: joining {} seed(s)", seeds.size());
  membership_->join(std::move(seeds), now);
  dirty_ = true;
  settle(now);
}

void gossip_service::impl::leave() {
  run_lock lock(*this);
  if (stopped_ || !membership_ || membership_->leaving()) return;
  auto now = clock::now();
  spdlog::info("gossip: leaving the cluster");
  membership_->leave(now);
  linger_until_ = now + options_.leave_linger;
  dirty_ = true;
  settle(now);
}

void gossip_service::impl::stop_locked() {
  if (stopped_.exchange(true)) return;
  error_code ignored;
  socket_.close(ignored);
  timer_.cancel();
  resolver_.cancel();
  names_.clear();
  if (started_) spdlog::info("gossip: stopped");
}

// ---- load -----------------------------------------------------------------------------------

void gossip_service::impl::set_load(const load_record& load) {
  {
    std::lock_guard lock(load_mutex_);
    pending_load_ = load;
    load_pending_ = true;
    if (load_posted_) return;  // the scheduled publication will take this value
    load_posted_ = true;
  }
  asio::post(strand_, [self = shared_from_this()] { self->on_load_posted(); });
}

void gossip_service::impl::on_load_posted() {
  run_lock lock(*this);
  if (stopped_ || !membership_) return;  // before start(), start() publishes it
  auto now = clock::now();
  auto due = last_load_publish_ == time_point::min()
                 ? now
                 : last_load_publish_ + options_.load_publish_interval;
  if (now >= due) {
    publish_load(now);
  } else {
    load_due_ = due;
  }
  settle(now);
}

void gossip_service::impl::publish_load(time_point now) {
  load_due_ = time_point::max();
  load_record load;
  {
    std::lock_guard lock(load_mutex_);
    load_posted_ = false;
    if (!load_pending_) return;
    load_pending_ = false;
    load = pending_load_;
  }
  if (membership_->load().version != 0 && same_values(load, membership_->load())) return;
  membership_->set_load(load);
  ++counters_.loads_published;
  last_load_publish_ = now;
  dirty_ = true;
}

// ---- sending --------------------------------------------------------------------------------

std::optional<std::vector<std::uint8_t>> gossip_service::impl::seal_message(const message& m) {
  auto bytes = encode(m);
  if (!bytes || bytes->size() > payload_budget) {
    // Only a full state can be too big (piggybacking is capped far below): send what fits and
    // leave the rest to gossip, as the membership does past one datagram.
    if (m.type != message_type::push_pull && m.type != message_type::push_pull_reply) {
      ++counters_.send_failures;
      spdlog::debug("gossip: unencodable {} message dropped", static_cast<int>(m.type));
      return std::nullopt;
    }
    message trimmed{.type = m.type,
                    .sender_id = m.sender_id,
                    .sequence = m.sequence,
                    .target_id = m.target_id,
                    .target_address = m.target_address};
    std::size_t used = encoded_header_size(trimmed);
    for (const auto& u : m.updates) {
      used += encoded_size(u);
      if (used > payload_budget || trimmed.updates.size() >= max_updates) break;
      trimmed.updates.push_back(u);
    }
    ++counters_.push_pulls_trimmed;
    bytes = encode(trimmed);
    if (!bytes || bytes->size() > payload_budget) {
      ++counters_.send_failures;
      return std::nullopt;
    }
  }
  try {
    return net::seal(options_.keys, *bytes, net::wall_clock::now(), net::system_random);
  } catch (const std::exception& error) {
    // The CSPRNG failed: better no datagram than one with a predictable nonce.
    ++counters_.send_failures;
    spdlog::error("gossip: cannot seal a datagram: {}", error.what());
    return std::nullopt;
  }
}

std::optional<udp::endpoint> gossip_service::impl::fit_family(const udp::endpoint& ep) const {
  const bool v6_socket = bound_.address().is_v6();
  if (ep.address().is_v6() == v6_socket) return ep;
  if (!v6_socket && ep.address().to_v6().is_v4_mapped()) {
    return udp::endpoint(asio::ip::make_address_v4(asio::ip::v4_mapped, ep.address().to_v6()),
                         ep.port());
  }
  return std::nullopt;  // an IPv6-only socket cannot reach an IPv4 peer, nor the reverse
}

void gossip_service::impl::send(const std::string& address, const message& m) {
  if (stopped_) return;
  auto split = config::split_host_port(address);
  if (!split || split->second == 0) {
    ++counters_.send_failures;
    spdlog::debug("gossip: cannot send to malformed address '{}'", address);
    return;
  }
  const auto& [host, port] = *split;
  error_code ec;
  auto ip = asio::ip::make_address(host, ec);
  if (!ec) {
    auto to = fit_family(udp::endpoint(ip, port));
    if (!to) {
      ++counters_.send_failures;
      return;
    }
    if (auto datagram = seal_message(m)) transmit(*to, std::move(*datagram));
    return;
  }

  if (names_.size() >= max_names && !names_.contains(address)) {
    ++counters_.send_failures;  // a membership of thousands of names is not a LAN edge cluster
    return;
  }
  auto& name = names_[address];
  if (name.endpoint) {
    if (auto datagram = seal_message(m)) transmit(*name.endpoint, std::move(*datagram));
    return;
  }
  if (!name.pending && clock::now() < name.retry_at) {
    ++counters_.send_failures;  // failed recently: not worth a resolver thread per datagram
    return;
  }
  if (name.waiting.size() >= max_waiting_per_name) {
    ++counters_.send_failures;
  } else if (auto datagram = seal_message(m)) {
    name.waiting.push_back(std::move(*datagram));
  }
  if (!name.pending) {
    name.pending = true;
    resolve(address, host, port);
  }
}

void gossip_service::impl::resolve(const std::string& address, const std::string& host,
                                   std::uint16_t port) {
  // getaddrinfo runs on Asio's private resolver thread, not on the strand.
  resolver_.async_resolve(
      host, std::to_string(port), udp::resolver::numeric_service,
      [self = shared_from_this(), address](const error_code& ec, udp::resolver::results_type r) {
        run_lock lock(*self);
        if (self->stopped_) return;
        self->on_resolved(address, ec, r);
      });
}

void gossip_service::impl::on_resolved(const std::string& address, const error_code& ec,
                                       const udp::resolver::results_type& results) {
  auto it = names_.find(address);
  if (it == names_.end()) return;
  auto& name = it->second;
  name.pending = false;
  if (!ec) {
    for (const auto& entry : results) {
      if (auto fit = fit_family(entry.endpoint())) {
        name.endpoint = *fit;
        break;
      }
    }
  }
  if (!name.endpoint) {
    ++counters_.resolves_failed;
    counters_.send_failures += name.waiting.size();
    name.waiting.clear();
    name.retry_at = clock::now() + resolve_retry;
    spdlog::warn("gossip: cannot resolve {}: {}", address,
                 ec ? ec.message() : "no address of the socket's family");
    return;
  }
  spdlog::debug("gossip: {} is {}", address, format_endpoint(*name.endpoint));
  for (auto& datagram : std::exchange(name.waiting, {})) {
    transmit(*name.endpoint, std::move(datagram));
  }
  settle(clock::now());
}

void gossip_service::impl::transmit(const udp::endpoint& to, std::vector<std::uint8_t> datagram) {
  auto buffer = std::make_shared<const std::vector<std::uint8_t>>(std::move(datagram));
  // Asio tries the send at once; the handler only counts.
  socket_.async_send_to(
      asio::buffer(*buffer), to,
      [self = shared_from_this(), buffer, to](const error_code& ec, std::size_t n) {
        run_lock lock(*self);
        if (self->stopped_) return;
        if (ec) {
          ++self->counters_.send_failures;
          spdlog::debug("gossip: send to {} failed: {}", format_endpoint(to), ec.message());
          return;
        }
        ++self->counters_.messages_sent;
        self->counters_.bytes_sent += n;
      });
}

// ---- receiving ------------------------------------------------------------------------------

void gossip_service::impl::start_receive() {
  socket_.async_receive_from(asio::buffer(rx_), rx_from_,
                             [self = shared_from_this()](const error_code& ec, std::size_t n) {
                               self->on_receive(ec, n);
                             });
}

void gossip_service::impl::on_receive(const error_code& ec, std::size_t n) {
  run_lock lock(*this);
  if (stopped_) return;
  if (ec) {
    // Unconnected UDP reports little (ICMP errors need IP_RECVERR); whatever it is, one bad
    // datagram must not end the loop.
    ++counters_.receive_errors;
    spdlog::debug("gossip: receive failed: {}", ec.message());
  } else {
    handle_datagram(std::span<const std::uint8_t>(rx_.data(), n), rx_from_);
    drain();
  }
  settle(clock::now());
  if (stopped_) return;
  if (!ec) {
    start_receive();
    return;
  }
  // A persistent error would otherwise spin: try again shortly.
  auto pause = std::make_shared<asio::steady_timer>(strand_, std::chrono::milliseconds(10));
  pause->async_wait([self = shared_from_this(), pause](const error_code&) {
    run_lock lock(*self);
    if (!self->stopped_) self->start_receive();
  });
}

void gossip_service::impl::drain() {
  for (int i = 0; i < max_batch && !stopped_; ++i) {
    udp::endpoint from;
    error_code ec;
    auto n = socket_.receive_from(asio::buffer(drain_rx_), from, 0, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) return;
    if (ec) {
      ++counters_.receive_errors;
      return;
    }
    handle_datagram(std::span<const std::uint8_t>(drain_rx_.data(), n), from);
  }
}

void gossip_service::impl::handle_datagram(std::span<const std::uint8_t> bytes,
                                           const udp::endpoint& from) {
  counters_.bytes_received += bytes.size();
  auto opened = opener_.open(bytes, net::wall_clock::now());
  if (!opened.ok()) {
    count_rejection(opened.error, from);
    return;
  }
  auto decoded = decode(opened.payload);
  if (!decoded.ok()) {
    ++counters_.rejected.decode;
    spdlog::debug("gossip: authentic datagram from {} does not decode: {}", format_endpoint(from),
                  to_string(decoded.error));
    return;
  }
  ++counters_.messages_received;
  membership_->receive(format_endpoint(from), decoded.value, clock::now());
  dirty_ = true;
}

void gossip_service::impl::count_rejection(net::open_error error, const udp::endpoint& from) {
  // The counts themselves are the opener's (see publish()); this only keeps the log readable
  // when a foreign cluster or a scanner sends a stream of them.
  ++rejected_since_log_;
  auto now = clock::now();
  if (last_reject_log_ != time_point::min() && now - last_reject_log_ < reject_log_interval) {
    return;
  }
  spdlog::warn("gossip: dropped {} unauthenticated or replayed datagram(s), the last from {}: {}",
               rejected_since_log_, format_endpoint(from), net::to_string(error));
  rejected_since_log_ = 0;
  last_reject_log_ = now;
}

// ---- timer ----------------------------------------------------------------------------------

time_point gossip_service::impl::next_wake() const {
  return std::min({membership_->next_deadline(), load_due_, linger_until_});
}

void gossip_service::impl::arm(time_point deadline) {
  // Waking early is harmless (tick() may run more often), so only an earlier deadline re-arms.
  if (timer_waiting_ && deadline >= armed_) return;
  armed_ = deadline;
  timer_waiting_ = true;
  auto generation = ++timer_generation_;
  timer_.expires_at(deadline);  // cancels a pending wait, whose handler then sees it is stale
  timer_.async_wait(
      [self = shared_from_this(), generation](const error_code&) { self->on_timer(generation); });
}

void gossip_service::impl::on_timer(std::uint64_t generation) {
  run_lock lock(*this);
  if (stopped_ || generation != timer_generation_) return;
  timer_waiting_ = false;
  // Whatever arrived before the deadline counts, even if this process got the CPU late: a tick
  // ahead of queued acks and refutations would fail probes that succeeded and let suspicions
  // expire that were refuted in time.
  drain();
  if (stopped_) return;
  auto now = clock::now();
  if (now >= linger_until_) {
    stop_locked();
    return;
  }
  if (now >= load_due_) publish_load(now);
  membership_->tick(now);
  dirty_ = true;
  settle(now);
}

// ---- publication ----------------------------------------------------------------------------

void gossip_service::impl::settle(time_point now) {
  if (!strand_.running_in_this_thread()) {
    // start() and leave() run on their caller's thread; the callback is promised the strand.
    asio::post(strand_, [self = shared_from_this()] {
      run_lock lock(*self);
      if (!self->stopped_) self->settle(clock::now());
    });
    if (!stopped_) arm(next_wake());
    publish(now);
    return;
  }
  for (auto& e : membership_->take_events()) {
    spdlog::info("gossip: member {} {} ({}, incarnation {})", e.id, to_string(e.kind), e.address,
                 e.incarnation);
    if (!on_event_) continue;
    try {
      on_event_(e);
    } catch (const std::exception& error) {
      spdlog::error("gossip: member event callback failed: {}", error.what());
    }
    if (stopped_) return;
  }
  if (stopped_) return;
  arm(next_wake());
  publish(now);
}

void gossip_service::impl::publish(time_point now) {
  if (dirty_) {
    dirty_ = false;
    auto members = membership_->members();
    if (auto self = membership_->find(options_.id)) members.push_back(std::move(*self));
    std::sort(members.begin(), members.end(),
              [](const member_info& a, const member_info& b) { return a.id < b.id; });
    const auto& old = current_->members;
    bool changed = !std::equal(members.begin(), members.end(), old.begin(), old.end(), same_member);
    if (changed || last_publish_ == time_point::min() || now - last_publish_ >= heard_refresh) {
      auto v = std::make_shared<view>();
      v->self = options_.id;
      v->members = std::move(members);
      v->version = current_->version + 1;
      current_ = std::move(v);
      last_publish_ = now;
    }
  }

  gossip_stats s = counters_;
  const auto& o = opener_.stats();
  s.rejected.too_short = o.too_short;
  s.rejected.bad_version = o.bad_version;
  s.rejected.bad_tag = o.bad_tag;
  s.rejected.stale = o.stale;
  s.rejected.replayed = o.replayed;
  s.rejected.cache_overflow = o.cache_overflow;
  const auto& m = membership_->stats();
  s.probes_sent = m.pings_sent;
  s.ping_reqs_sent = m.ping_reqs_sent;
  s.probes_failed = m.probes_failed;
  s.suspicions_raised = m.suspicions_raised;
  s.refutations = m.refutations;
  s.push_pulls_sent = m.push_pulls_sent;
  s.incarnation = membership_->incarnation();
  s.awareness = membership_->awareness();
  for (const auto& info : current_->members) {
    if (info.id == options_.id) continue;
    switch (info.state) {
      case member_state::alive:
        ++s.alive;
        break;
      case member_state::suspect:
        ++s.suspect;
        break;
      case member_state::dead:
        ++s.dead;
        break;
      case member_state::left:
        ++s.left;
        break;
    }
  }
  std::lock_guard lock(publish_mutex_);
  snapshot_ = current_;
  stats_ = s;
}

// ---- the public face ------------------------------------------------------------------------

gossip_service::gossip_service(asio::io_context& io, gossip_options options) {
  if (options.id.empty() || options.id.size() > max_string_bytes) {
    throw std::invalid_argument("gossip: the node id must be 1 to 255 bytes");
  }
  if (options.keys.keys.empty()) {
    throw std::invalid_argument("gossip: no cluster key; without one the node must not gossip");
  }
  impl_ = std::make_shared<impl>(io, std::move(options));
}

gossip_service::~gossip_service() {
  stop();
}

udp::endpoint gossip_service::start() {
  return impl_->start();
}

void gossip_service::set_load(const load_record& load) {
  impl_->set_load(load);
}

void gossip_service::join(std::vector<std::string> seeds) {
  impl_->join(std::move(seeds));
}

void gossip_service::leave() {
  impl_->leave();
}

void gossip_service::stop() {
  impl::run_lock lock(*impl_);
  impl_->stop_locked();
}

bool gossip_service::running() const {
  return impl_->started_ && !impl_->stopped_;
}

std::shared_ptr<const gossip_service::view> gossip_service::snapshot() const {
  std::lock_guard lock(impl_->publish_mutex_);
  return impl_->snapshot_;
}

gossip_stats gossip_service::stats() const {
  std::lock_guard lock(impl_->publish_mutex_);
  return impl_->stats_;
}

void gossip_service::on_event(std::function<void(const member_event&)> f) {
  impl::run_lock lock(*impl_);
  impl_->on_event_ = std::move(f);
}

}  // namespace p2pfaas::discovery
