#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace p2pfaas::net {

namespace http = boost::beast::http;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;
using query_list = std::vector<std::pair<std::string, std::string>>;

// Every error a client sees has this shape: {"code": "...", "message": "..."}.
response json_error(http::status status, std::string_view code, std::string_view message);
response json_response(http::status status, std::string body);

// Splits "/a/b?x=1" into path and query; the path keeps its percent-encoding.
std::pair<std::string_view, std::string_view> split_target(std::string_view target);

// Decodes "a=1&b=%20x" into pairs; '+' is a space as in HTML forms. Returns false on a malformed
// percent escape.
bool parse_query(std::string_view query, query_list& out);
// Decodes %XX escapes; '+' means a space only in a query (form encoding), not in a path.
enum class plus { literal, space };
bool percent_decode(std::string_view in, std::string& out, plus plus_sign = plus::literal);

bool is_loopback(const boost::asio::ip::address& address);

// Compares two secrets in time that does not depend on where they differ.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace p2pfaas::net
