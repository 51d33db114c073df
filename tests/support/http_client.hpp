#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace p2pfaas::testing {

struct reply {
  int status = 0;  // 0 when no answer came (connection refused, reset or timeout)
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string error;

  std::string header(const std::string& name) const;  // "" when absent; name in any case
  bool has_header(const std::string& name) const;
};

using header_list = std::vector<std::pair<std::string, std::string>>;

// One request on a fresh connection to 127.0.0.1:port, with a deadline.
reply http_request(std::uint16_t port, const std::string& method, const std::string& target,
                   const std::string& body = {}, const header_list& headers = {},
                   std::chrono::milliseconds timeout = std::chrono::seconds(20));

// The same to another host (an address of a test network namespace).
reply http_request_to(const std::string& host, std::uint16_t port, const std::string& method,
                      const std::string& target, const std::string& body = {},
                      const header_list& headers = {},
                      std::chrono::milliseconds timeout = std::chrono::seconds(20));

// The same from a chosen local address (e.g. 127.0.0.2 or 127.0.0.3: every 127/8 address is
// loopback on Linux), so a test can play two clients; "" = any.
reply http_request_from(const std::string& source, const std::string& host, std::uint16_t port,
                        const std::string& method, const std::string& target,
                        const std::string& body = {}, const header_list& headers = {},
                        std::chrono::milliseconds timeout = std::chrono::seconds(20));

inline reply http_get(std::uint16_t port, const std::string& target,
                      const header_list& headers = {}) {
  return http_request(port, "GET", target, {}, headers);
}

// A loopback TCP port nobody listens on right now (bound once, then closed): for a peer that
// refuses connections, or a listener the daemon binds itself.
std::uint16_t unused_loopback_port();

// The sum of the samples of /metrics whose line starts with `series` (a name, or a name and the
// start of its labels); 0 when there are none.
double metric_sum(std::uint16_t port, const std::string& series);

// Writes raw bytes and reads until the peer closes or `timeout` passes: for pipelining and
// malformed-request tests.
std::string raw_exchange(std::uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace p2pfaas::testing
