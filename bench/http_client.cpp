#include "bench/http_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>

#include "net/http.hpp"

namespace p2pfaas::bench {

namespace asio = boost::asio;
using asio::ip::tcp;

std::optional<endpoint> parse_endpoint(std::string_view text) {
  if (text.starts_with("http://")) text.remove_prefix(7);
  while (text.ends_with('/')) text.remove_suffix(1);
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  if (host.starts_with('[')) {
    if (!host.ends_with(']')) return std::nullopt;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return std::nullopt;  // an IPv6 address needs its brackets
  }
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535 || host.empty()) {
    return std::nullopt;
  }
  return endpoint{std::string(host), static_cast<std::uint16_t>(port)};
}

std::optional<tcp::endpoint> to_tcp(const endpoint& to) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(to.host, ec);
  if (ec) return std::nullopt;
  return tcp::endpoint(address, to.port);
}

std::optional<endpoint> resolve(const endpoint& to) {
  if (to_tcp(to)) return to;
  boost::system::error_code ec;
  asio::io_context io;
  tcp::resolver resolver(io);
  const auto found = resolver.resolve(to.host, std::to_string(to.port), ec);
  if (ec || found.empty()) return std::nullopt;
  return endpoint{found.begin()->endpoint().address().to_string(), to.port};
}

asio::awaitable<exchange_result> exchange(connection& conn,
                                          const http::request<http::string_body>& request,
                                          const tcp::endpoint* connect_to,
                                          std::chrono::steady_clock::time_point deadline) {
  exchange_result result;
  conn.stream.expires_at(deadline);
  if (connect_to != nullptr) {
    auto [ec] =
        co_await conn.stream.async_connect(*connect_to, asio::as_tuple(asio::use_awaitable));
    if (ec) {
      result.error = ec;
      co_return result;
    }
    conn.stream.socket().set_option(tcp::no_delay(true), ec);
  }
  auto [write_error, written] =
      co_await http::async_write(conn.stream, request, asio::as_tuple(asio::use_awaitable));
  if (write_error) {
    result.error = write_error;
    co_return result;
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  auto [read_error, read] = co_await http::async_read(conn.stream, conn.buffer, parser,
                                                      asio::as_tuple(asio::use_awaitable));
  if (read_error) {
    result.error = read_error;
    co_return result;
  }
  result.response = parser.release();
  co_return result;
}

asio::awaitable<exchange_result> fetch(const endpoint& to, http::verb method, std::string target,
                                       std::string body, const std::string& token,
                                       std::chrono::milliseconds timeout) {
  const auto address = to_tcp(to);
  if (!address) {
    exchange_result failed;
    failed.error = asio::error::host_not_found;
    co_return failed;
  }
  connection conn(co_await asio::this_coro::executor);
  http::request<http::string_body> request(method, target, 11);
  request.set(http::field::host, to.text());
  request.set(http::field::connection, "close");
  if (!token.empty()) request.set(http::field::authorization, "Bearer " + token);
  if (!body.empty()) request.set(http::field::content_type, "application/json");
  request.body() = std::move(body);
  request.prepare_payload();
  co_return co_await exchange(conn, request, &*address, std::chrono::steady_clock::now() + timeout);
}

}  // namespace p2pfaas::bench
