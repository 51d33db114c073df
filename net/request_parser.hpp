#pragma once

// Reading one HTTP/1.x request off the wire, safely: the request parser the server uses (Beast's
// basic_parser with our own storage), the errors it adds to Beast's, the budget that bounds the
// body bytes all connections hold together, and the RFC 9112 framing checks a request must pass
// before its body is read. Everything here turns hostile input into an error code, never into an
// exception: parser callbacks run inside Asio completion handlers, where an exception would end
// the process.

#include <atomic>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

#include "config/byte_budget.hpp"
#include "net/http.hpp"

namespace p2pfaas::net {

// Beast stores a field in 16-bit offsets: a longer name or value throws from deep inside the
// parser. Header limits are kept at or below this so that no field can reach it.
inline constexpr std::uint32_t max_header_limit = 65535;

enum class request_error {
  body_budget = 1,     // the server's body budget cannot hold this body now (503)
  trailers_too_large,  // the trailer section is over the header limit (431)
  field_too_large,     // one field is longer than Beast can hold (431)
  out_of_memory,       // storing the request failed (503)
};
const boost::system::error_category& request_error_category();
boost::system::error_code make_error_code(request_error e);

// Bytes of request bodies held by all connections of a server, against one limit.
using body_budget = config::byte_budget;

// Parses one request into a `request`. Differences from beast::http::request_parser:
// - trailer fields are counted against the header limit and then dropped, never merged into the
//   header a handler sees (a proxy may have filtered a field that would come back as a trailer);
// - the body's storage is charged to a body_budget before it is allocated, and given back when
//   the parser is destroyed or discard() is called;
// - no callback throws: a field Beast cannot hold or a failed allocation is an error code.
class request_parser final : public boost::beast::http::basic_parser<true> {
 public:
  request_parser(std::uint32_t header_limit, std::uint64_t body_limit, body_budget* budget);
  ~request_parser() override;
  request_parser(const request_parser&) = delete;
  request_parser& operator=(const request_parser&) = delete;

  request& get() { return req_; }
  const request& get() const { return req_; }
  request release() { return std::move(req_); }

  // Charges a body of `bytes` (the Content-Length) before any of it is read, so that a body
  // that does not fit is refused while the client is still waiting to send it.
  bool reserve_body(std::uint64_t bytes);
  // Frees the body read so far and its charge: for a request answered with an error.
  void discard();

 private:
  using string_view = boost::beast::string_view;
  using error_code = boost::beast::error_code;

  bool ensure_capacity(std::uint64_t needed, error_code& ec);

  void on_request_impl(http::verb method, string_view method_str, string_view target, int version,
                       error_code& ec) override;
  void on_response_impl(int, string_view, int, error_code& ec) override;
  void on_field_impl(http::field name, string_view name_string, string_view value,
                     error_code& ec) override;
  void on_header_impl(error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         error_code& ec) override;
  std::size_t on_body_impl(string_view body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t size, string_view extensions, error_code& ec) override;
  std::size_t on_chunk_body_impl(std::uint64_t remain, string_view body, error_code& ec) override;
  void on_finish_impl(error_code& ec) override;

  request req_;
  const std::uint32_t header_limit_;
  const std::uint64_t body_limit_;
  body_budget* const budget_;
  std::uint64_t charged_ = 0;  // bytes of body storage reserved from budget_
  std::uint64_t trailer_bytes_ = 0;
  bool header_done_ = false;
};

// A request whose header says it cannot be read safely, and the answer it gets.
struct framing_problem {
  http::status status;
  std::string_view code;
  std::string message;
};

// RFC 9112 framing rules Beast does not enforce, checked once the header is read and before the
// body: a Transfer-Encoding must be exactly "chunked" (another final coding would leave the body
// to be read as the next request, §6.3; and chunked is the only coding this server decodes), may
// not come with Content-Length or in an HTTP/1.0 request (§6.1, §6.3), and an HTTP/1.1 request
// has exactly one Host (§3.2), no request more than one. Any problem is answered and the
// connection closed: the rest of the stream cannot be trusted to start at a request boundary.
// The parser's own reading of the header must agree: a Transfer-Encoding this function takes for
// "chunked" and Beast does not would again leave the body to be read as the next request.
std::optional<framing_problem> check_framing(const request_parser& parser);

}  // namespace p2pfaas::net

template <>
struct boost::system::is_error_code_enum<p2pfaas::net::request_error> : std::true_type {};
