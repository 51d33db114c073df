#include "net/request_parser.hpp"

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <exception>
#include <limits>

namespace p2pfaas::net {

namespace beast = boost::beast;

namespace {

class request_error_category_impl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "p2pfaas.http.request"; }
  std::string message(int value) const override {
    switch (static_cast<request_error>(value)) {
      case request_error::body_budget:
        return "the node holds as many request body bytes as http.body_budget_bytes allows";
      case request_error::trailers_too_large:
        return "the trailer section is over the header limit";
      case request_error::field_too_large:
        return "a header field is too large";
      case request_error::out_of_memory:
        return "no memory to hold the request";
    }
    return "request error";
  }
};

// Beast keeps a field's name and value in 16-bit offsets, with two bytes of separator.
bool beast_can_hold(std::string_view name, std::string_view value) {
  return name.size() + 2 <= max_header_limit && value.size() + 2 <= max_header_limit;
}

}  // namespace

const boost::system::error_category& request_error_category() {
  static const request_error_category_impl category;
  return category;
}

boost::system::error_code make_error_code(request_error e) {
  return {static_cast<int>(e), request_error_category()};
}

request_parser::request_parser(std::uint32_t header_limit, std::uint64_t body_limit,
                               body_budget* budget)
    : header_limit_(std::min(header_limit, max_header_limit)),
      body_limit_(body_limit),
      budget_(budget) {
  this->header_limit(header_limit_);
  this->body_limit(body_limit_);
}

request_parser::~request_parser() {
  if (budget_ && charged_) budget_->give_back(charged_);
}

void request_parser::discard() {
  std::string().swap(req_.body());
  if (budget_ && charged_) budget_->give_back(charged_);
  charged_ = 0;
}

bool request_parser::reserve_body(std::uint64_t bytes) {
  error_code ec;
  return ensure_capacity(bytes, ec);
}

bool request_parser::ensure_capacity(std::uint64_t needed, error_code& ec) {
  std::string& body = req_.body();
  if (needed <= std::max<std::uint64_t>(charged_, body.capacity())) return true;
  // Grows geometrically, like the string itself would, but within the body limit; the charge is
  // the capacity, which is what the node holds.
  const std::uint64_t doubled = std::max<std::uint64_t>(needed, 2 * charged_);
  const std::uint64_t want = std::max(needed, std::min(doubled, body_limit_));
  if (budget_ && !budget_->try_take(want - charged_)) {
    ec = request_error::body_budget;
    return false;
  }
  try {
    if (want > body.max_size()) throw std::length_error("body too large");
    body.reserve(static_cast<std::size_t>(want));
  } catch (const std::exception&) {
    if (budget_) budget_->give_back(want - charged_);
    ec = request_error::out_of_memory;
    return false;
  }
  charged_ = want;
  return true;
}

void request_parser::on_request_impl(http::verb method, string_view method_str, string_view target,
                                     int version, error_code& ec) {
  try {
    req_.target(target);
    if (method != http::verb::unknown) {
      req_.method(method);
    } else {
      req_.method_string(method_str);
    }
    req_.version(version);
  } catch (const std::exception&) {
    ec = request_error::out_of_memory;
  }
}

void request_parser::on_response_impl(int, string_view, int, error_code& ec) {
  ec = beast::http::error::bad_version;  // never called: this parser reads requests
}

void request_parser::on_field_impl(http::field name, string_view name_string, string_view value,
                                   error_code& ec) {
  if (header_done_) {
    // A trailer field. RFC 9110 6.5.1 lets a recipient discard trailers; keeping them apart from
    // the header would still invite code to trust them, so they are only counted.
    trailer_bytes_ += name_string.size() + value.size() + 4;  // ": " and CRLF
    if (trailer_bytes_ > header_limit_) ec = request_error::trailers_too_large;
    return;
  }
  if (!beast_can_hold(name_string, value)) {
    ec = request_error::field_too_large;
    return;
  }
  try {
    req_.insert(name, name_string, value);
  } catch (const std::exception&) {
    ec = request_error::out_of_memory;
  }
}

void request_parser::on_header_impl(error_code&) {
  header_done_ = true;
}

void request_parser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                                       error_code& ec) {
  if (content_length) ensure_capacity(*content_length, ec);
}

std::size_t request_parser::on_body_impl(string_view body, error_code& ec) {
  // Within the capacity reserved for the Content-Length: no allocation, nothing to charge.
  if (!ensure_capacity(req_.body().size() + body.size(), ec)) return 0;
  req_.body().append(body.data(), body.size());
  return body.size();
}

void request_parser::on_chunk_header_impl(std::uint64_t size, string_view, error_code& ec) {
  // Charged when the chunk is announced, before its bytes are read. Extensions are ignored
  // (RFC 9112 7.1.1); the read buffer's limit bounds how long they can be.
  if (size > 0) ensure_capacity(req_.body().size() + size, ec);
}

std::size_t request_parser::on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) {
  if (!ensure_capacity(req_.body().size() + body.size(), ec)) return 0;
  req_.body().append(body.data(), body.size());
  return body.size();
}

void request_parser::on_finish_impl(error_code&) {}

namespace {

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Every Transfer-Encoding field line together names exactly one coding, "chunked" (list
// elements may be empty, RFC 9110 5.6.1).
bool chunked_only(const request& req) {
  int codings = 0;
  // The whole list, not equal_range: Beast's equal_range spans the fields in between too.
  for (const auto& field : req) {
    if (field.name() != http::field::transfer_encoding) continue;
    std::string_view list(field.value().data(), field.value().size());
    while (true) {
      const auto comma = list.find(',');
      const std::string_view element = trim_ows(list.substr(0, comma));
      if (!element.empty()) {
        if (!beast::iequals(element, "chunked") || ++codings > 1) return false;
      }
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  return codings == 1;
}

}  // namespace

std::optional<framing_problem> check_framing(const request_parser& parser) {
  const request& req = parser.get();
  const bool has_transfer_encoding = req.count(http::field::transfer_encoding) > 0;
  if (has_transfer_encoding) {
    if (req.version() < 11) {
      return framing_problem{http::status::bad_request, "bad_transfer_encoding",
                             "Transfer-Encoding is not allowed in an HTTP/1.0 request"};
    }
    if (req.count(http::field::content_length) > 0) {
      return framing_problem{http::status::bad_request, "bad_transfer_encoding",
                             "a request may not have both Transfer-Encoding and Content-Length"};
    }
    if (!chunked_only(req) || !parser.chunked()) {
      return framing_problem{http::status::bad_request, "bad_transfer_encoding",
                             "Transfer-Encoding must be exactly \"chunked\", the only coding "
                             "this server decodes"};
    }
  }
  const std::size_t hosts = req.count(http::field::host);
  if (hosts > 1) {
    return framing_problem{http::status::bad_request, "bad_host",
                           "a request may have only one Host header"};
  }
  if (hosts == 0 && req.version() >= 11) {
    return framing_problem{http::status::bad_request, "bad_host",
                           "an HTTP/1.1 request must have a Host header"};
  }
  return std::nullopt;
}

}  // namespace p2pfaas::net
