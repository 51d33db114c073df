#include "node/admin_auth.hpp"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/string.hpp>
#include <cctype>

#include "config/host_port.hpp"

namespace p2pfaas::node {

namespace http = net::http;
namespace beast = boost::beast;

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::ranges::transform(out, out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// "[::1]:18080" → "::1", "node-a:18080" → "node-a", "node-a." → "node-a".
std::string_view host_part(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    return close == std::string_view::npos ? std::string_view{} : host.substr(1, close - 1);
  }
  if (const auto colon = host.find(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return host;
}

bool is_ip_literal(std::string_view host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(std::string(host), ec);
  return !ec;
}

}  // namespace

admin_auth::admin_auth(std::optional<std::string> token, std::vector<std::string> own_names)
    : token_(std::move(token)) {
  for (const auto& name : own_names) {
    if (!name.empty()) own_names_.push_back(lower(host_part(name)));
  }
}

std::vector<std::string> admin_auth::own_names(const config::config& cfg) {
  std::vector<std::string> names{cfg.node.id};
  char hostname[256] = {};
  if (::gethostname(hostname, sizeof hostname - 1) == 0) names.emplace_back(hostname);
  for (const std::string* address : {&cfg.node.advertise, &cfg.node.listen}) {
    if (auto parts = config::split_host_port(*address)) names.push_back(parts->first);
  }
  return names;
}

bool admin_auth::names_this_node(std::string_view host) const {
  const std::string name = lower(host_part(host));
  if (name.empty()) return false;
  // A rebinding page always uses a name of its own; a literal address names where it connects.
  if (is_ip_literal(name)) return true;
  if (name == "localhost" || name.ends_with(".localhost")) return true;
  return std::ranges::find(own_names_, name) != own_names_.end();
}

std::optional<net::response> admin_auth::refuse(const net::request_context& ctx,
                                                admin_access access) const {
  if (token_) {
    std::string_view auth = ctx.req[http::field::authorization];
    constexpr std::string_view bearer = "Bearer ";
    if (auth.size() > bearer.size() && beast::iequals(auth.substr(0, bearer.size()), bearer) &&
        net::constant_time_equal(auth.substr(bearer.size()), *token_)) {
      return std::nullopt;
    }
    auto res = net::json_error(http::status::unauthorized, "unauthorized",
                               "this endpoint needs Authorization: Bearer <admin token>");
    res.set(http::field::www_authenticate, "Bearer");
    return res;
  }
  const auto method = ctx.req.method();
  if (access == admin_access::change && (method == http::verb::get || method == http::verb::head)) {
    auto res = net::json_error(
        http::status::method_not_allowed, "use_post",
        std::string(ctx.path) +
            " changes state: send it as POST (GET is served only with the admin token, since "
            "any web page can make a browser send a GET)");
    res.set(http::field::allow, "POST");
    return res;
  }
  if (!net::is_loopback(ctx.remote.address()) ||
      ctx.req.find(http::field::origin) != ctx.req.end()) {
    return net::json_error(http::status::unauthorized, "unauthorized",
                           "no admin token is configured, so admin endpoints serve loopback "
                           "clients only (and not browser requests)");
  }
  // HTTP/1.0 may omit Host; a browser never does.
  const auto host = ctx.req.find(http::field::host);
  if (host != ctx.req.end() && !names_this_node(host->value())) {
    return net::json_error(http::status::forbidden, "foreign_host",
                           "Host is not a name of this node; without an admin token, admin "
                           "endpoints answer only to localhost, an IP address or the node's own "
                           "names");
  }
  return std::nullopt;
}

}  // namespace p2pfaas::node
