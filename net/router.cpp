#include "net/router.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

#include "net/log_limiter.hpp"

namespace p2pfaas::net {

std::string_view request_context::param(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return {};
}

void router::add(std::initializer_list<http::verb> methods, std::string pattern, handler h) {
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("route pattern must start with '/': " + pattern);
  }
  route r{std::vector<http::verb>(methods), {}, std::move(h)};
  std::string_view rest = std::string_view(pattern).substr(1);
  while (true) {
    auto slash = rest.find('/');
    std::string_view text = rest.substr(0, slash);
    if (text.size() > 5 && text.starts_with('{') && text.ends_with("...}")) {
      if (slash != std::string_view::npos) {
        throw std::invalid_argument("a {rest...} segment must be last: " + pattern);
      }
      r.segments.push_back({std::string(text.substr(1, text.size() - 5)), segment::kind::rest});
    } else if (text.size() > 2 && text.starts_with('{') && text.ends_with('}')) {
      r.segments.push_back({std::string(text.substr(1, text.size() - 2)), segment::kind::param});
    } else {
      r.segments.push_back({std::string(text), segment::kind::literal});
    }
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  routes_.push_back(std::move(r));
}

bool router::match_route(const route& r, std::string_view path,
                         std::vector<std::pair<std::string, std::string>>& params) {
  params.clear();
  if (path.empty() || path.front() != '/') return false;
  std::string_view rest = path.substr(1);
  bool exhausted = false;
  for (std::size_t i = 0; i < r.segments.size(); ++i) {
    const segment& seg = r.segments[i];
    if (seg.type == segment::kind::rest) {
      std::string decoded;
      if (!percent_decode(exhausted ? std::string_view{} : rest, decoded)) return false;
      params.emplace_back(seg.text, std::move(decoded));
      return true;
    }
    if (exhausted) return false;
    auto slash = rest.find('/');
    std::string_view text = rest.substr(0, slash);
    if (slash == std::string_view::npos) {
      exhausted = true;
    } else {
      rest = rest.substr(slash + 1);
    }
    if (seg.type == segment::kind::literal) {
      if (text != seg.text) return false;
    } else {
      std::string decoded;
      if (text.empty() || !percent_decode(text, decoded)) return false;
      params.emplace_back(seg.text, std::move(decoded));
    }
  }
  return exhausted;
}

router::match router::find(http::verb method, std::string_view path) const {
  match result;
  std::vector<std::pair<std::string, std::string>> params;
  for (const route& r : routes_) {
    if (!match_route(r, path, params)) continue;
    if (r.methods.empty() || std::ranges::find(r.methods, method) != r.methods.end()) {
      result.status = match_status::found;
      result.target = &r.target;
      result.params = std::move(params);
      return result;
    }
    result.status = match_status::method_not_allowed;
    for (http::verb v : r.methods) {
      std::string_view name = http::to_string(v);
      if (result.allow.find(name) != std::string::npos) continue;
      if (!result.allow.empty()) result.allow += ", ";
      result.allow += name;
    }
  }
  return result;
}

boost::asio::awaitable<response> router::handle(request_context& ctx) const {
  match m = find(ctx.req.method(), ctx.path);
  if (m.status == match_status::not_found) {
    co_return json_error(http::status::not_found, "not_found",
                         "no endpoint " + std::string(ctx.path));
  }
  if (m.status == match_status::method_not_allowed) {
    response res = json_error(http::status::method_not_allowed, "method_not_allowed",
                              std::string(ctx.req.method_string()) + " is not allowed on " +
                                  std::string(ctx.path) + "; allowed: " + m.allow);
    res.set(http::field::allow, m.allow);
    co_return res;
  }
  ctx.params = std::move(m.params);
  // A client that finds a request making a handler throw can repeat it as fast as it likes.
  static log_limiter log(5, std::chrono::seconds(10));
  try {
    co_return co_await (*m.target)(ctx);
  } catch (const std::exception& e) {
    if (auto permit = log.admit("handler failed")) {
      spdlog::error("handler for {} failed: {}{}", ctx.path, e.what(), permit.suffix());
    }
  } catch (...) {
    if (auto permit = log.admit("handler failed")) {
      spdlog::error("handler for {} failed with a non-standard exception{}", ctx.path,
                    permit.suffix());
    }
  }
  co_return json_error(http::status::internal_server_error, "internal_error",
                       "the request could not be handled");
}

}  // namespace p2pfaas::net
