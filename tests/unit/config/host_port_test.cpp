#include "config/host_port.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace p2pfaas::config {
namespace {

using split = std::pair<std::string, std::uint16_t>;

TEST(SplitHostPort, AcceptsNamesAddressesAndBracketedIpv6) {
  EXPECT_EQ(split_host_port("127.0.0.1:80"), (split{"127.0.0.1", 80}));
  EXPECT_EQ(split_host_port("0.0.0.0:18080"), (split{"0.0.0.0", 18080}));
  EXPECT_EQ(split_host_port("localhost:0"), (split{"localhost", 0}));
  EXPECT_EQ(split_host_port("edge-1.local_net:65535"), (split{"edge-1.local_net", 65535}));
  EXPECT_EQ(split_host_port("[::1]:18080"), (split{"::1", 18080}));
  EXPECT_EQ(split_host_port("[::]:0"), (split{"::", 0}));
  EXPECT_EQ(split_host_port("[::ffff:10.0.0.1]:9"), (split{"::ffff:10.0.0.1", 9}));
  EXPECT_EQ(split_host_port("[fe80::1%eth0]:80"), (split{"fe80::1%eth0", 80}));
  EXPECT_EQ(split_host_port("h:0080"), (split{"h", 80}));
}

TEST(SplitHostPort, RejectsMalformedText) {
  for (const char* text : {"",           "host",        "host:",          ":80",
                           "host:65536", "host:123456", "host:-1",        "host:+80",
                           "host:80x",   "host: 80",    "ho st:80",       "a/b:80",
                           "::1:80",     "[::1]80",     "[::1]",          "[::1]:",
                           "[]:80",      "[zz::1]:80",  "[127.0.0.1]:80", "[fe80::1%]:80",
                           "[::1:80",    "host:80:90"}) {
    EXPECT_EQ(split_host_port(text), std::nullopt) << text;
  }
}

}  // namespace
}  // namespace p2pfaas::config
