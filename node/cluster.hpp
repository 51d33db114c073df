#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "config/config.hpp"
#include "discovery/gossip.hpp"
#include "net/cluster_key.hpp"
#include "net/peer_link.hpp"
#include "net/peer_server.hpp"
#include "scheduler/peer_network.hpp"
#include "workloads/executor.hpp"

namespace p2pfaas::node {

// This node's part in the cluster: gossip membership (who is alive, how loaded), WebSocket links
// to peers for forwarded calls, and the /peer endpoint that receives them. Exists only when the
// node has a cluster key.
class cluster final : public scheduler::peer_network {
 public:
  using call_handler = std::function<boost::asio::awaitable<net::peer_reply>(
      net::peer_call, const std::string& peer_id)>;

  // `io` runs the peer links; `gossip_io` runs gossip alone, on a thread of its own, so that
  // probes are answered on time however busy the HTTP threads are (a late ack is how a healthy
  // node gets suspected).
  cluster(boost::asio::io_context& io, int io_threads, boost::asio::io_context& gossip_io,
          const config::config& cfg, net::key_ring keys, workloads::executor& executor,
          call_handler on_call);
  ~cluster() override;

  // Set before start(): sees every membership change (for metrics), on the gossip strand.
  void on_member_event(std::function<void(const discovery::member_event&)> f) {
    on_member_event_ = std::move(f);
  }

  // Binds gossip on the UDP port matching the HTTP endpoint, joins the seeds and starts
  // publishing this node's load. Throws std::system_error when the port cannot be bound.
  void start(const boost::asio::ip::tcp::endpoint& http_endpoint);
  // Shutdown phase 1: announce `left` so peers stop sending calls here.
  void leave();
  // Shutdown phase 2: close links (their pending calls fail) and stop gossip. Idempotent.
  void stop();

  std::vector<scheduler::peer_info> alive_peers() const override;
  boost::asio::awaitable<net::peer_outcome> forward(
      const scheduler::peer_info& peer, net::peer_call call,
      std::chrono::steady_clock::time_point deadline) override;

  boost::asio::awaitable<std::optional<scheduler::peer_load>> probe_load(
      const scheduler::peer_info& peer, std::chrono::steady_clock::time_point deadline) override;
  // Contacts more seeds now (P2PFaaS's discovery init_servers, set at runtime).
  void join(std::vector<std::string> seeds);

  // For the /peer upgrade: authenticates and serves the link, or answers 401.
  void accept_peer(boost::beast::tcp_stream stream, net::request req);

  const std::string& advertised() const { return advertise_; }
  nlohmann::json nodes_json() const;  // GET /nodes
  nlohmann::json list_json() const;   // GET /list, P2PFaaS form

  const discovery::gossip_service& gossip() const { return *gossip_; }
  const net::peer_client& links() const { return *links_; }
  const net::peer_server& peer_endpoint() const { return *server_; }

  // "host:port" peers should use to reach this node: node.advertise, else the listen host
  // when it is a specific address, else the address this host would use to reach the first
  // seed (or its hostname's address), with the bound port.
  static std::string advertise_address(const config::config& cfg,
                                       const boost::asio::ip::tcp::endpoint& bound);

 private:
  void publish_load();

  boost::asio::io_context& io_;
  boost::asio::io_context& gossip_io_;
  const config::config cfg_;
  const std::string id_;
  workloads::executor& executor_;
  net::key_ring keys_;
  std::string advertise_;
  std::unique_ptr<discovery::gossip_service> gossip_;
  std::unique_ptr<net::peer_client> links_;
  std::unique_ptr<net::peer_server> server_;
  boost::asio::steady_timer load_timer_;
  std::function<void(const discovery::member_event&)> on_member_event_;
  std::atomic<bool> stopped_{false};
};

}  // namespace p2pfaas::node
