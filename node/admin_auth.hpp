#pragma once

// Who may use the admin endpoints (API.md, "Security defaults").
// - With an admin token: whoever sends `Authorization: Bearer <token>`; nobody else (401).
// - Without one: loopback clients that are not a browser page. A page can reach loopback too, so
//   a request that names an Origin (every cross-site POST does) is refused, and so is one whose
//   Host is not a name of this node: a DNS-rebinding page talks to 127.0.0.1 under its own name.
// - A GET that changes state (P2PFaaS's GET /learner/reset, GET /train) is served only with the
//   token: any page can make a browser send a GET (an <img>) with no Origin. Without a token it
//   answers 405 and points to POST.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "net/router.hpp"

namespace p2pfaas::node {

enum class admin_access { read, change };

class admin_auth {
 public:
  // own_names: the names a local client may use for this node in Host (besides IP literals and
  // localhost), e.g. its id, the machine's hostname and its advertised host. Case-insensitive.
  admin_auth(std::optional<std::string> token, std::vector<std::string> own_names);
  // The node's own names from its config: node.id, the machine's hostname, and the hosts of
  // node.advertise and node.listen.
  static std::vector<std::string> own_names(const config::config& cfg);

  // The answer that refuses `ctx`, or nullopt when it may go on.
  std::optional<net::response> refuse(const net::request_context& ctx,
                                      admin_access access = admin_access::read) const;

  bool has_token() const { return token_.has_value(); }
  // Whether `host` (a Host header value, with or without port) names this node for a local
  // client: an IP literal, localhost, or one of own_names.
  bool names_this_node(std::string_view host) const;

 private:
  std::optional<std::string> token_;
  std::vector<std::string> own_names_;  // lower case
};

}  // namespace p2pfaas::node
