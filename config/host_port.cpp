#include "config/host_port.hpp"

#include <charconv>

namespace p2pfaas::config {
namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

bool is_ipv6_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
         c == '.';
}

bool valid_ipv6_literal(std::string_view host) {
  // A zone ("fe80::1%eth0") names an interface, so it follows interface naming, not hex.
  const auto zone = host.find('%');
  const std::string_view address = host.substr(0, zone);
  if (address.find(':') == std::string_view::npos) return false;
  for (char c : address) {
    if (!is_ipv6_char(c)) return false;
  }
  if (zone == std::string_view::npos) return true;
  const std::string_view name = host.substr(zone + 1);
  if (name.empty()) return false;
  for (char c : name) {
    if (!is_name_char(c)) return false;
  }
  return true;
}

}  // namespace

std::optional<std::pair<std::string, std::uint16_t>> split_host_port(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (!valid_ipv6_literal(host)) return std::nullopt;
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    // A bare IPv6 address would be ambiguous ("::1:80"), so it must be bracketed.
    if (host.empty()) return std::nullopt;
    for (char c : host) {
      if (!is_name_char(c)) return std::nullopt;
    }
  }
  // from_chars would accept a sign-less prefix of junk like "80x" only partially, and "+80" not at
  // all; requiring 1..5 digits and full consumption keeps "0080" fine but "80 " out.
  if (port.empty() || port.size() > 5) return std::nullopt;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size() || value > 65535) return std::nullopt;
  return std::pair{std::string(host), static_cast<std::uint16_t>(value)};
}

}  // namespace p2pfaas::config
