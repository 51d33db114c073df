#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "net/cluster_key.hpp"
#include "net/http.hpp"
#include "net/peer_link.hpp"
#include "net/peer_protocol.hpp"

namespace p2pfaas::net {

struct peer_server_stats {
  std::size_t sessions = 0;  // open links from peers
  std::uint64_t upgrades_accepted = 0;
  std::uint64_t upgrades_refused = 0;  // 401 (credentials) and 503 (closed)
  std::uint64_t calls = 0;             // calls received, admin calls included
  std::uint64_t replies = 0;           // replies written to the link (not dropped)
  std::uint64_t cancels = 0;           // cancel frames received
  std::uint64_t protocol_errors = 0;   // links closed for a malformed frame
  std::uint64_t load_queries = 0;      // load probes received
};

// The accepting side of the peer links. Installed as the http_server's upgrade handler for
// peer_path; authenticates the upgrade (401 otherwise) and then serves the link: every call runs
// concurrently as its own coroutine on the link's executor, a load probe is answered at once, and
// replies and load reports go out through one write queue. Thread-safe.
class peer_server {
 public:
  // The peer id is the node id the caller proved with the cluster key. The handler runs on the
  // link's executor for calls of either kind (call.kind says which); an exception it throws
  // becomes a 500 reply.
  using handler =
      std::function<boost::asio::awaitable<peer_reply>(peer_call, const std::string& peer_id)>;

  // `load_source` answers load probes: it runs on the link's executor, inline, so it must be
  // quick and must not block. Throws std::invalid_argument for an empty key ring, handler or
  // load source, or an unusable option.
  peer_server(key_ring keys, std::string self_id, link_options options, handler on_call,
              std::function<peer_load()> load_source);
  ~peer_server();  // close()
  peer_server(const peer_server&) = delete;
  peer_server& operator=(const peer_server&) = delete;

  // Takes over a connection whose request asks for the WebSocket upgrade (see
  // http_server::set_upgrade_handler).
  void accept(boost::beast::tcp_stream stream, request req);
  // accept() as an http_server upgrade handler; the server must outlive the http_server's use.
  std::function<void(boost::beast::tcp_stream, request)> upgrade_handler();

  // Shutdown: refuse new links (503) and close the open ones now; the replies of calls still
  // running are dropped. Idempotent.
  void close();

  std::size_t sessions() const;
  peer_server_stats stats() const;

  // Defined in peer_server.cpp; public only so that its helpers can name them.
  struct shared;
  struct session;

 private:
  std::shared_ptr<shared> shared_;  // kept alive by the sessions
};

}  // namespace p2pfaas::net
