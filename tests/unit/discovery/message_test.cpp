#include "discovery/message.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace p2pfaas::discovery {
namespace {

message sample() {
  message m;
  m.type = message_type::ping_req;
  m.sender_id = "node-a";
  m.sequence = 0x0102030405060708ULL;
  m.target_id = "node-b";
  m.target_address = "10.0.0.2:7000";
  m.updates.push_back(
      {"node-c", "10.0.0.3:7000", member_state::suspect, 7, "node-a", {3, 4, 8, 0.125, 42}});
  m.updates.push_back({"node-d", "10.0.0.4:7000", member_state::left, 1, "node-d", {}});
  return m;
}

std::vector<std::uint8_t> bytes_of(const message& m) {
  auto bytes = encode(m);
  EXPECT_TRUE(bytes.has_value());
  return bytes.value_or(std::vector<std::uint8_t>{});
}

TEST(Message, RoundTripsEveryField) {
  auto m = sample();
  auto bytes = bytes_of(m);
  std::size_t expected = encoded_header_size(m);
  for (const auto& u : m.updates) expected += encoded_size(u);
  EXPECT_EQ(bytes.size(), expected);
  auto decoded = decode(bytes);
  ASSERT_TRUE(decoded.ok()) << to_string(decoded.error);
  EXPECT_EQ(decoded.value, m);
}

TEST(Message, RoundTripsEveryType) {
  for (auto type :
       {message_type::ping, message_type::ack, message_type::ping_req, message_type::nack,
        message_type::push_pull, message_type::push_pull_reply, message_type::gossip}) {
    message m{.type = type, .sender_id = "x"};
    auto decoded = decode(bytes_of(m));
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(decoded.value, m);
  }
}

TEST(Message, EveryTruncationIsRejected) {
  auto bytes = bytes_of(sample());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto decoded = decode(std::span(bytes.data(), n));
    EXPECT_FALSE(decoded.ok()) << "accepted a prefix of " << n << " bytes";
    EXPECT_TRUE(decoded.value.updates.empty());
  }
}

TEST(Message, RejectsWrongHeaderFields) {
  auto bytes = bytes_of(sample());
  auto with = [&](std::size_t at, std::uint8_t v) {
    auto copy = bytes;
    copy[at] = v;
    return decode(copy).error;
  };
  EXPECT_EQ(with(0, 'X'), decode_error::bad_magic);
  EXPECT_EQ(with(2, wire_version + 1), decode_error::unsupported_version);
  EXPECT_EQ(with(3, 0), decode_error::bad_type);
  EXPECT_EQ(with(3, 99), decode_error::bad_type);
}

TEST(Message, RejectsBadMemberStateAndLoad) {
  message m{.type = message_type::gossip, .sender_id = "a"};
  m.updates.push_back({"b", "addr", member_state::alive, 1, "a", {}});
  auto bytes = bytes_of(m);
  // The state byte follows the update's id and address.
  std::size_t state_at = encoded_header_size(m) + 2 + 1 + 4;
  ASSERT_EQ(bytes[state_at], 0);
  bytes[state_at] = 4;
  EXPECT_EQ(decode(bytes).error, decode_error::bad_state);

  for (double bad :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(), -1.0}) {
    m.updates[0].load.recent_service_seconds = bad;
    EXPECT_EQ(decode(bytes_of(m)).error, decode_error::bad_load) << bad;
  }
}

TEST(Message, RejectsTrailingBytesAndOversizedInput) {
  auto bytes = bytes_of(sample());
  bytes.push_back(0);
  EXPECT_EQ(decode(bytes).error, decode_error::trailing_bytes);
  std::vector<std::uint8_t> huge(max_message_bytes + 1, 0);
  EXPECT_EQ(decode(huge).error, decode_error::too_large);
}

TEST(Message, RejectsAnUpdateCountAboveTheLimit) {
  message m{.type = message_type::gossip, .sender_id = "a"};
  auto bytes = bytes_of(m);
  // The count is the last two bytes of an update-less message, little-endian.
  auto count = static_cast<std::uint16_t>(max_updates + 1);
  bytes[bytes.size() - 2] = static_cast<std::uint8_t>(count & 0xff);
  bytes[bytes.size() - 1] = static_cast<std::uint8_t>(count >> 8);
  EXPECT_EQ(decode(bytes).error, decode_error::too_many_updates);
}

TEST(Message, EncodeRefusesWhatDecodeWouldRefuse) {
  message m{.type = message_type::gossip, .sender_id = std::string(max_string_bytes + 1, 'x')};
  EXPECT_FALSE(encode(m).has_value());
  m.sender_id = "a";
  m.updates.resize(max_updates + 1, member_update{"b", "c"});
  EXPECT_FALSE(encode(m).has_value());
  m.updates.resize(max_updates);
  for (auto& u : m.updates) u.address = std::string(200, 'y');  // 512 * ~250 bytes > 65000
  EXPECT_FALSE(encode(m).has_value());
}

TEST(Message, RandomBytesNeverCrashTheDecoder) {
  std::mt19937_64 rng(7);
  auto valid = bytes_of(sample());
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    auto bytes = valid;
    // Mostly flip a few bytes of a valid message, which reaches deeper than pure noise.
    for (int flips = 1 + static_cast<int>(rng() % 4); flips > 0; --flips) {
      bytes[rng() % bytes.size()] = static_cast<std::uint8_t>(rng());
    }
    if (rng() % 4 == 0) bytes.resize(rng() % (bytes.size() + 1));
    auto decoded = decode(bytes);
    if (decoded.ok()) {
      ++accepted;
      // Whatever is accepted must encode back to the same bytes.
      EXPECT_EQ(encode(decoded.value), bytes);
    }
  }
  EXPECT_GT(accepted, 0);
}

}  // namespace
}  // namespace p2pfaas::discovery
