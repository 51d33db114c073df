#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace p2pfaas::bench {

namespace http = boost::beast::http;

// Where a node answers HTTP: "127.0.0.1:18080" or "http://host:port".
struct endpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string text() const { return host + ":" + std::to_string(port); }
};
// Parses "http://host:port", "host:port" or "[v6]:port"; nullopt when it is not one.
std::optional<endpoint> parse_endpoint(std::string_view text);

// One kept-alive HTTP/1.1 connection and its read buffer.
struct connection {
  explicit connection(const boost::asio::any_io_executor& executor) : stream(executor) {}
  boost::beast::tcp_stream stream;
  boost::beast::flat_buffer buffer;
};

struct exchange_result {
  boost::system::error_code error;  // set when there is no complete answer
  http::response<http::string_body> response;
};

// Sends `request` on `conn` (connecting first when `connect_to` is given) and reads the whole
// answer, all of it before `deadline`.
boost::asio::awaitable<exchange_result> exchange(connection& conn,
                                                 const http::request<http::string_body>& request,
                                                 const boost::asio::ip::tcp::endpoint* connect_to,
                                                 std::chrono::steady_clock::time_point deadline);

// One request on a fresh connection, for the bench's control calls (/nodes, /metrics,
// /configuration...). `token` is sent as a bearer token when not empty.
boost::asio::awaitable<exchange_result> fetch(const endpoint& to, http::verb method,
                                              std::string target, std::string body,
                                              const std::string& token,
                                              std::chrono::milliseconds timeout);

// The address of a numeric host; nullopt for a name. The bench talks to addresses only: names
// are resolved once, at start, with `resolve`, not on every call.
std::optional<boost::asio::ip::tcp::endpoint> to_tcp(const endpoint& to);
// `to` with its host name replaced by its first address (unchanged when already numeric);
// nullopt when the name does not resolve. Blocks.
std::optional<endpoint> resolve(const endpoint& to);

}  // namespace p2pfaas::bench
