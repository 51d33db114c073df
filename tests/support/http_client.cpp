#include "tests/support/http_client.hpp"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <sstream>

namespace p2pfaas::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {
std::string lower(std::string text) {
  std::ranges::transform(text, text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}
}  // namespace

std::string reply::header(const std::string& name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string{} : it->second;
}

bool reply::has_header(const std::string& name) const {
  return headers.contains(lower(name));
}

reply http_request(std::uint16_t port, const std::string& method, const std::string& target,
                   const std::string& body, const header_list& headers,
                   std::chrono::milliseconds timeout) {
  return http_request_to("127.0.0.1", port, method, target, body, headers, timeout);
}

reply http_request_to(const std::string& host, std::uint16_t port, const std::string& method,
                      const std::string& target, const std::string& body,
                      const header_list& headers, std::chrono::milliseconds timeout) {
  return http_request_from({}, host, port, method, target, body, headers, timeout);
}

reply http_request_from(const std::string& source, const std::string& host, std::uint16_t port,
                        const std::string& method, const std::string& target,
                        const std::string& body, const header_list& headers,
                        std::chrono::milliseconds timeout) {
  reply out;
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(timeout);
  if (!source.empty()) {
    const auto from = asio::ip::make_address(source);
    beast::error_code ec;
    stream.socket().open(from.is_v6() ? tcp::v6() : tcp::v4(), ec);
    if (!ec) stream.socket().bind(tcp::endpoint(from, 0), ec);
    if (ec) {
      out.error = "bind " + source + ": " + ec.message();
      return out;
    }
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1ull << 31);
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, host);
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  if (!body.empty() || method == "POST" || method == "PUT") req.prepare_payload();
  req.keep_alive(false);

  stream.async_connect(
      tcp::endpoint(asio::ip::make_address(host), port), [&](beast::error_code ec) {
        if (ec) {
          out.error = "connect: " + ec.message();
          return;
        }
        http::async_write(stream, req, [&](beast::error_code ec, std::size_t) {
          if (ec) {
            out.error = "write: " + ec.message();
            return;
          }
          http::async_read(stream, buffer, parser, [&](beast::error_code ec, std::size_t) {
            if (ec) out.error = "read: " + ec.message();
          });
        });
      });
  io.run();
  if (out.error.empty() && parser.is_done()) {
    auto res = parser.release();
    out.status = res.result_int();
    out.body = std::move(res.body());
    for (const auto& field : res) {
      out.headers[lower(std::string(field.name_string()))] = std::string(field.value());
    }
  }
  return out;
}

std::string raw_exchange(std::uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds timeout) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(timeout);
  std::string received;
  std::array<char, 4096> chunk;
  std::function<void()> read_more = [&] {
    stream.async_read_some(asio::buffer(chunk), [&](beast::error_code ec, std::size_t n) {
      received.append(chunk.data(), n);
      if (!ec) read_more();
    });
  };
  stream.async_connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), [&](beast::error_code ec) {
        if (ec) return;
        asio::async_write(stream, asio::buffer(bytes), [&](beast::error_code ec, std::size_t) {
          if (!ec) read_more();
        });
      });
  io.run();
  return received;
}

std::uint16_t unused_loopback_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

double metric_sum(std::uint16_t port, const std::string& series) {
  auto r = http_request(port, "GET", "/metrics");
  double total = 0;
  std::istringstream lines(r.body);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(series, 0) == 0) total += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return total;
}

}  // namespace p2pfaas::testing
