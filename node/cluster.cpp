#include "node/cluster.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <cmath>

#include "config/host_port.hpp"

namespace p2pfaas::node {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

namespace {

std::chrono::milliseconds millis(double seconds) {
  return std::chrono::milliseconds(std::llround(seconds * 1000));
}

bool is_wildcard(const std::string& host) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  return !ec && address.is_unspecified();
}

std::string join_host_port(const std::string& host, std::uint16_t port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

// The local address the kernel would pick to reach `seed`: connecting a UDP socket sends nothing.
std::optional<std::string> source_address_towards(asio::io_context& io, const std::string& seed) {
  auto split = config::split_host_port(seed);
  if (!split) return std::nullopt;
  boost::system::error_code ec;
  asio::ip::udp::resolver resolver(io);
  auto results = resolver.resolve(split->first, std::to_string(split->second), ec);
  if (ec || results.empty()) return std::nullopt;
  asio::ip::udp::socket probe(io);
  auto remote = results.begin()->endpoint();
  probe.open(remote.protocol(), ec);
  if (!ec) probe.connect(remote, ec);
  if (ec) return std::nullopt;
  auto local = probe.local_endpoint(ec);
  if (ec || local.address().is_unspecified()) return std::nullopt;
  return local.address().to_string();
}

std::optional<std::string> hostname_address(asio::io_context& io) {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return std::nullopt;
  boost::system::error_code ec;
  asio::ip::udp::resolver resolver(io);
  auto results = resolver.resolve(asio::ip::udp::v4(), name, "0", ec);
  if (ec) return std::nullopt;
  for (const auto& r : results) {
    if (!r.endpoint().address().is_loopback()) return r.endpoint().address().to_string();
  }
  return std::nullopt;
}

net::link_options link_options_of(const config::config& cfg, int io_threads) {
  net::link_options o;
  o.max_in_flight = static_cast<std::size_t>(cfg.cluster.link_max_in_flight);
  o.connect_timeout = millis(cfg.cluster.link_connect_timeout_seconds);
  o.ping_interval = millis(cfg.cluster.link_ping_interval_seconds);
  // A forwarded call carries a whole request body, plus its headers and routing.
  o.max_frame_bytes = static_cast<std::size_t>(cfg.http.max_body_bytes) + (1u << 20);
  o.replay_window = millis(cfg.cluster.replay_window_seconds);
  o.strands = io_threads > 1;
  return o;
}

std::int64_t ms_since(clock::time_point then, clock::time_point now) {
  if (then == clock::time_point{}) return -1;
  return std::chrono::duration_cast<std::chrono::milliseconds>(now - then).count();
}

}  // namespace

std::string cluster::advertise_address(const config::config& cfg,
                                       const asio::ip::tcp::endpoint& bound) {
  if (!cfg.node.advertise.empty()) return cfg.node.advertise;
  auto [host, port] = *config::split_host_port(cfg.node.listen);
  if (!is_wildcard(host)) return join_host_port(host, bound.port());
  asio::io_context io;
  for (const auto& seed : cfg.cluster.join) {
    if (auto source = source_address_towards(io, seed))
      return join_host_port(*source, bound.port());
  }
  if (auto address = hostname_address(io)) return join_host_port(*address, bound.port());
  return join_host_port("127.0.0.1", bound.port());
}

cluster::cluster(asio::io_context& io, int io_threads, asio::io_context& gossip_io,
                 const config::config& cfg, net::key_ring keys, workloads::executor& executor,
                 call_handler on_call)
    : io_(io),
      gossip_io_(gossip_io),
      cfg_(cfg),
      id_(cfg.node.id),
      executor_(executor),
      keys_(std::move(keys)),
      load_timer_(gossip_io) {
  links_ = std::make_unique<net::peer_client>(io_, keys_, id_, link_options_of(cfg_, io_threads));
  server_ = std::make_unique<net::peer_server>(
      keys_, id_, link_options_of(cfg_, io_threads), std::move(on_call), [&executor] {
        auto l = executor.current_load();
        return net::peer_load{
            static_cast<std::uint32_t>(l.running), static_cast<std::uint32_t>(l.queued),
            static_cast<std::uint32_t>(l.slots), static_cast<std::uint32_t>(l.queue_capacity),
            l.recent_service_seconds};
      });
}

cluster::~cluster() {
  stop();
}

void cluster::start(const asio::ip::tcp::endpoint& http_endpoint) {
  advertise_ = advertise_address(cfg_, http_endpoint);
  discovery::gossip_options options = discovery::gossip_options_of(cfg_);
  options.advertise = advertise_;
  options.bind = asio::ip::udp::endpoint(http_endpoint.address(), http_endpoint.port());
  options.keys = keys_;
  gossip_ = std::make_unique<discovery::gossip_service>(gossip_io_, std::move(options));
  gossip_->on_event([this](const discovery::member_event& e) {
    if (on_member_event_) on_member_event_(e);
    // A peer that died or left takes its link with it, so calls pending on it fail now rather
    // than at their timeout.
    if (e.kind == discovery::event_kind::dead || e.kind == discovery::event_kind::left ||
        e.kind == discovery::event_kind::reaped) {
      links_->drop(e.id);
    }
  });
  gossip_->start();
  publish_load();
  spdlog::info("cluster: gossip on udp {}, advertised as {}, {} seed(s)", http_endpoint.port(),
               advertise_, cfg_.cluster.join.size());
}

void cluster::publish_load() {
  if (stopped_) return;
  const workloads::load load = executor_.current_load();
  discovery::load_record record;
  record.in_flight = static_cast<std::uint32_t>(load.running);
  record.queued = static_cast<std::uint32_t>(load.queued);
  record.slots = static_cast<std::uint32_t>(load.slots);
  record.recent_service_seconds = load.recent_service_seconds;
  gossip_->set_load(record);
  load_timer_.expires_after(
      std::max(millis(cfg_.cluster.load_publish_seconds), std::chrono::milliseconds(10)));
  load_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) publish_load();
  });
}

void cluster::leave() {
  if (gossip_) gossip_->leave();
}

void cluster::stop() {
  if (stopped_.exchange(true)) return;
  asio::post(gossip_io_, [this] { load_timer_.cancel(); });
  links_->close();
  server_->close();
  if (gossip_) gossip_->stop();
}

std::vector<scheduler::peer_info> cluster::alive_peers() const {
  std::vector<scheduler::peer_info> peers;
  if (!gossip_) return peers;
  auto view = gossip_->snapshot();
  peers.reserve(view->members.size());
  for (const auto& m : view->members) {
    if (m.id == view->self || m.state != discovery::member_state::alive) continue;
    peers.push_back(
        {m.id,
         m.address,
         {static_cast<int>(m.load.in_flight), static_cast<int>(m.load.queued),
          static_cast<int>(m.load.slots), m.load.recent_service_seconds, m.load.version}});
  }
  return peers;
}

asio::awaitable<net::peer_outcome> cluster::forward(const scheduler::peer_info& peer,
                                                    net::peer_call call,
                                                    clock::time_point deadline) {
  co_return co_await links_->call(peer.id, peer.address, std::move(call), deadline);
}

asio::awaitable<std::optional<scheduler::peer_load>> cluster::probe_load(
    const scheduler::peer_info& peer, clock::time_point deadline) {
  net::load_outcome answer = co_await links_->probe(peer.id, peer.address, deadline);
  if (!answer.ok()) co_return std::nullopt;
  const net::peer_load& l = answer.load;
  co_return scheduler::peer_load{static_cast<int>(l.running), static_cast<int>(l.queued),
                                 static_cast<int>(l.slots), l.recent_service_seconds};
}

void cluster::join(std::vector<std::string> seeds) {
  if (gossip_) gossip_->join(std::move(seeds));
}

void cluster::accept_peer(boost::beast::tcp_stream stream, net::request req) {
  server_->accept(std::move(stream), std::move(req));
}

nlohmann::json cluster::nodes_json() const {
  nlohmann::json nodes = nlohmann::json::array();
  if (!gossip_) return {{"self", id_}, {"nodes", nodes}};
  const auto now = clock::now();
  auto view = gossip_->snapshot();
  for (const auto& m : view->members) {
    const bool self = m.id == view->self;
    nodes.push_back({{"id", m.id},
                     {"address", m.address},
                     {"state", discovery::to_string(m.state)},
                     {"incarnation", m.incarnation},
                     {"load",
                      {{"in_flight", m.load.in_flight},
                       {"queued", m.load.queued},
                       {"slots", m.load.slots},
                       {"recent_service_seconds", m.load.recent_service_seconds},
                       {"version", m.load.version}}},
                     {"last_seen_ms", self ? 0 : ms_since(m.last_heard, now)},
                     {"state_age_ms", ms_since(m.state_since, now)}});
  }
  return {{"self", view->self}, {"nodes", nodes}};
}

nlohmann::json cluster::list_json() const {
  nlohmann::json list = nlohmann::json::array();
  if (!gossip_) return list;
  const auto now = clock::now();
  const double now_unix =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto view = gossip_->snapshot();
  for (const auto& m : view->members) {
    if (m.id == view->self || m.state != discovery::member_state::alive) continue;
    auto split = config::split_host_port(m.address);
    const double seen_ago = std::max<std::int64_t>(0, ms_since(m.last_heard, now)) / 1000.0;
    list.push_back({{"ip", split ? split->first : m.address},
                    {"port", split ? split->second : 0},
                    {"name", m.id},
                    {"group_name", cfg_.node.group},
                    {"alive", true},
                    // P2PFaaS measured a ping round trip; gossip hears from every peer every
                    // few hundred ms, so this is how long ago that was, in seconds.
                    {"ping", seen_ago},
                    {"last_update", static_cast<std::int64_t>(now_unix - seen_ago)}});
  }
  return list;
}

}  // namespace p2pfaas::node
