#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "net/http.hpp"

namespace p2pfaas::net {

// What a handler gets: the parsed request, its path parameters and the client's address.
struct request_context {
  request& req;
  std::string_view path;   // without the query string
  std::string_view query;  // raw, after '?'
  boost::asio::ip::tcp::endpoint remote;
  std::vector<std::pair<std::string, std::string>> params;  // from {name} segments, decoded

  std::string_view param(std::string_view name) const;
};

using handler = std::function<boost::asio::awaitable<response>(request_context&)>;

// Routes by method and path pattern. A pattern is made of literal segments, `{name}` (one
// non-empty segment) and a final `{name...}` (the rest of the path, possibly empty). Routes are
// tried in the order they were added.
class router {
 public:
  // An empty method list accepts every method.
  void add(std::initializer_list<http::verb> methods, std::string pattern, handler h);

  enum class match_status { found, not_found, method_not_allowed };
  struct match {
    match_status status = match_status::not_found;
    const handler* target = nullptr;
    std::vector<std::pair<std::string, std::string>> params;
    std::string allow;  // for method_not_allowed: the Allow header value
  };
  match find(http::verb method, std::string_view path) const;

  // Routes, answers 404/405 itself, and turns an escaping exception into a 500 so that every
  // request gets exactly one answer.
  boost::asio::awaitable<response> handle(request_context& ctx) const;

 private:
  struct segment {
    std::string text;
    enum class kind { literal, param, rest } type;
  };
  struct route {
    std::vector<http::verb> methods;
    std::vector<segment> segments;
    handler target;
  };
  static bool match_route(const route& r, std::string_view path,
                          std::vector<std::pair<std::string, std::string>>& params);
  std::vector<route> routes_;
};

}  // namespace p2pfaas::net
