#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace p2pfaas::config {

// Splits "HOST:PORT" or "[IPV6]:PORT". The host comes back without brackets so it can be handed
// to an address parser or resolver as is. Accepts port 0 (callers that need a connectable port
// check it themselves). Host names are letters, digits, '.', '-' and '_'; a bracketed host is an
// IPv6 literal (hex digits, ':' and '.', optionally a "%zone").
std::optional<std::pair<std::string, std::uint16_t>> split_host_port(std::string_view text);

}  // namespace p2pfaas::config
