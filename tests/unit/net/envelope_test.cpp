#include "net/envelope.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>

namespace p2pfaas::net {
namespace {

using namespace std::chrono_literals;

std::vector<std::uint8_t> key_of(std::uint8_t fill, std::size_t size = 32) {
  return std::vector<std::uint8_t>(size, fill);
}

key_ring ring_of(std::initializer_list<std::uint8_t> fills) {
  key_ring ring;
  for (auto fill : fills) ring.keys.push_back(key_of(fill));
  return ring;
}

// A counter, so every datagram gets a distinct and reproducible nonce.
random_source counter_random() {
  auto counter = std::make_shared<std::uint64_t>(0);
  return [counter](std::span<std::uint8_t> out) {
    std::uint64_t v = ++*counter;
    for (auto& b : out) {
      b = static_cast<std::uint8_t>(v);
      v >>= 8;
    }
  };
}

// A fixed nonce, to tell the timestamp and the nonce apart in replay tests.
random_source fixed_random(std::uint8_t fill) {
  return [fill](std::span<std::uint8_t> out) { std::fill(out.begin(), out.end(), fill); };
}

const wall_time t0 = wall_time{} + 1'700'000'000'000ms;
const std::vector<std::uint8_t> payload = {'h', 'e', 'l', 'l', 'o', 0, 1, 2, 0xff};

std::string as_string(std::span<const std::uint8_t> bytes) {
  return std::string(bytes.begin(), bytes.end());
}

class Envelope : public ::testing::Test {
 protected:
  random_source random = counter_random();
};

TEST_F(Envelope, AnEnvelopeMadeForOnePurposeIsRefusedForAnother) {
  auto ring = ring_of({1});
  auto for_peer = seal(ring, payload, t0, random, peer_upgrade_label);
  opener gossip(ring);
  EXPECT_EQ(gossip.open(for_peer, t0).error, open_error::bad_tag);
  opener peer(ring, default_replay_window, default_nonce_cache_size, peer_upgrade_label);
  EXPECT_TRUE(peer.open(for_peer, t0).ok());
  EXPECT_EQ(peer.open(seal(ring, payload, t0, random), t0).error, open_error::bad_tag);
}

TEST_F(Envelope, RoundTrips) {
  auto ring = ring_of({1});
  auto datagram = seal(ring, payload, t0, random);
  ASSERT_EQ(datagram.size(), envelope_overhead + payload.size());
  EXPECT_EQ(datagram[0], envelope_version);

  opener o(ring);
  auto r = o.open(datagram, t0);
  ASSERT_TRUE(r.ok()) << to_string(r.error);
  EXPECT_EQ(as_string(r.payload), as_string(payload));
  EXPECT_EQ(r.payload.data(), datagram.data() + envelope_header_bytes);
  EXPECT_EQ(r.key_index, 0u);
  EXPECT_EQ(r.key_hint, key_hint(ring.keys[0]));
  EXPECT_EQ(o.stats().accepted, 1u);
}

TEST_F(Envelope, RoundTripsAnEmptyPayload) {
  auto ring = ring_of({1});
  auto datagram = seal(ring, {}, t0, random);
  EXPECT_EQ(datagram.size(), envelope_overhead);
  opener o(ring);
  auto r = o.open(datagram, t0);
  ASSERT_TRUE(r.ok()) << to_string(r.error);
  EXPECT_TRUE(r.payload.empty());
}

TEST_F(Envelope, WireLayoutIsAsDocumented) {
  auto ring = ring_of({1});
  auto datagram = seal(ring, payload, t0, fixed_random(0xab));
  std::uint64_t ms = 0;
  for (int i = 1; i <= 8; ++i) ms = (ms << 8) | datagram[i];
  EXPECT_EQ(ms, 1'700'000'000'000u);
  for (int i = 9; i < 21; ++i) EXPECT_EQ(datagram[i], 0xab) << i;
  EXPECT_EQ(datagram[21], key_hint(ring.keys[0]));
  EXPECT_EQ(as_string(std::span(datagram).subspan(22, payload.size())), as_string(payload));
}

TEST_F(Envelope, EveryKeyOfTheRingOpens) {
  auto receiver = ring_of({1, 2, 3});
  opener o(receiver);
  for (std::size_t i = 0; i < receiver.keys.size(); ++i) {
    auto r = o.open(seal(key_ring{{receiver.keys[i]}}, payload, t0, random), t0);
    ASSERT_TRUE(r.ok()) << i << ": " << to_string(r.error);
    EXPECT_EQ(r.key_index, i);
  }
}

TEST_F(Envelope, KeyOutsideTheRingIsBadTag) {
  opener o(ring_of({1, 2}));
  auto r = o.open(seal(ring_of({9}), payload, t0, random), t0);
  EXPECT_EQ(r.error, open_error::bad_tag);
  EXPECT_TRUE(r.payload.empty());
  EXPECT_EQ(r.key_hint, key_hint(key_of(9)));
  EXPECT_EQ(o.stats().bad_tag, 1u);
  EXPECT_EQ(o.stats().accepted, 0u);
}

TEST_F(Envelope, SameBytesOfADifferentLengthAreADifferentKey) {
  opener o(key_ring{{key_of(1, 16)}});
  EXPECT_EQ(o.open(seal(key_ring{{key_of(1, 17)}}, payload, t0, random), t0).error,
            open_error::bad_tag);
}

TEST_F(Envelope, RotationSendsWithTheFirstKeyAndAcceptsAny) {
  // Mid-rotation: the sender already puts the new key first, the receiver still lists it second.
  auto sender = ring_of({2, 1});
  auto receiver = ring_of({1, 2});
  opener o(receiver);
  auto r = o.open(seal(sender, payload, t0, random), t0);
  ASSERT_TRUE(r.ok()) << to_string(r.error);
  EXPECT_EQ(r.key_index, 1u);
  // And the other way round.
  opener back(sender);
  r = back.open(seal(receiver, payload, t0, random), t0);
  ASSERT_TRUE(r.ok()) << to_string(r.error);
  EXPECT_EQ(r.key_index, 1u);
}

TEST_F(Envelope, AnySingleBitFlipIsRejected) {
  auto ring = ring_of({1, 2});
  auto datagram = seal(ring, payload, t0, random);
  opener o(ring);
  std::size_t flips = 0;
  for (std::size_t byte = 0; byte < datagram.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      auto forged = datagram;
      forged[byte] ^= static_cast<std::uint8_t>(1u << bit);
      auto r = o.open(forged, t0);
      EXPECT_EQ(r.error, byte == 0 ? open_error::bad_version : open_error::bad_tag)
          << "byte " << byte << " bit " << bit;
      ++flips;
    }
  }
  EXPECT_EQ(o.stats().bad_version, 8u);
  EXPECT_EQ(o.stats().bad_tag, flips - 8);
  // Rejected datagrams leave no trace in the replay cache.
  EXPECT_EQ(o.cached_nonces(), 0u);
  EXPECT_TRUE(o.open(datagram, t0).ok());
}

TEST_F(Envelope, TruncatedDatagramsAreRejectedWithinBounds) {
  auto ring = ring_of({1});
  auto datagram = seal(ring, payload, t0, random);
  opener o(ring);
  for (std::size_t n = 0; n < datagram.size(); ++n) {
    // An exactly sized heap copy, so a read past the end trips AddressSanitizer.
    auto prefix = std::make_unique<std::uint8_t[]>(n == 0 ? 1 : n);
    std::copy_n(datagram.begin(), n, prefix.get());
    auto r = o.open(std::span<const std::uint8_t>(prefix.get(), n), t0);
    EXPECT_EQ(r.error, n < envelope_overhead ? open_error::too_short : open_error::bad_tag) << n;
  }
  EXPECT_EQ(o.stats().too_short, envelope_overhead);
  EXPECT_EQ(o.stats().bad_tag, payload.size());
}

TEST_F(Envelope, ExtraTrailingBytesAreRejected) {
  auto ring = ring_of({1});
  auto datagram = seal(ring, payload, t0, random);
  datagram.push_back(0);
  opener o(ring);
  EXPECT_EQ(o.open(datagram, t0).error, open_error::bad_tag);
}

TEST_F(Envelope, UnknownVersionIsBadVersion) {
  auto ring = ring_of({1});
  auto datagram = seal(ring, payload, t0, random);
  datagram[0] = 2;
  opener o(ring);
  EXPECT_EQ(o.open(datagram, t0).error, open_error::bad_version);
  EXPECT_EQ(o.open(std::vector<std::uint8_t>{7}, t0).error, open_error::bad_version);
  EXPECT_EQ(o.stats().bad_version, 2u);
}

TEST_F(Envelope, TimestampsJustInsideTheWindowAreFresh) {
  auto ring = ring_of({1});
  opener o(ring, 30s);
  // Sent 30 s before and 30 s after the receiver's clock: both exactly at the edge.
  EXPECT_TRUE(o.open(seal(ring, payload, t0 - 30s, random), t0).ok());
  EXPECT_TRUE(o.open(seal(ring, payload, t0 + 30s, random), t0).ok());
  EXPECT_EQ(o.stats().stale, 0u);
}

TEST_F(Envelope, TimestampsJustOutsideTheWindowAreStale) {
  auto ring = ring_of({1});
  opener o(ring, 30s);
  EXPECT_EQ(o.open(seal(ring, payload, t0 - 30s - 1ms, random), t0).error, open_error::stale);
  EXPECT_EQ(o.open(seal(ring, payload, t0 + 30s + 1ms, random), t0).error, open_error::stale);
  EXPECT_EQ(o.stats().stale, 2u);
  EXPECT_EQ(o.cached_nonces(), 0u);
}

TEST_F(Envelope, ADatagramGoesStaleAsTheReceiverClockAdvances) {
  auto ring = ring_of({1});
  auto datagram = seal(ring, payload, t0, random);
  opener o(ring, 30s);
  EXPECT_EQ(o.open(datagram, t0 + 30s + 1ms).error, open_error::stale);
}

TEST_F(Envelope, AClockSteppedBackDoesNotReopenTheWindow) {
  auto ring = ring_of({1});
  auto datagram = seal(ring, payload, t0, random);
  opener o(ring, 30s);
  ASSERT_TRUE(o.open(datagram, t0).ok());
  // Time passes until the nonce is forgotten, then the clock steps back: the datagram must not
  // become acceptable again.
  EXPECT_TRUE(o.open(seal(ring, payload, t0 + 31s, random), t0 + 31s).ok());
  EXPECT_EQ(o.cached_nonces(), 1u);
  EXPECT_EQ(o.open(datagram, t0).error, open_error::stale);
}

TEST_F(Envelope, ReplayIsRejectedAndANewNonceIsAccepted) {
  auto ring = ring_of({1});
  opener o(ring);
  auto datagram = seal(ring, payload, t0, random);
  ASSERT_TRUE(o.open(datagram, t0).ok());
  EXPECT_EQ(o.open(datagram, t0).error, open_error::replayed);
  EXPECT_EQ(o.open(datagram, t0 + 10s).error, open_error::replayed);
  // The same payload at the same time, sealed again with a fresh nonce, is a new datagram.
  EXPECT_TRUE(o.open(seal(ring, payload, t0, random), t0).ok());
  EXPECT_EQ(o.stats().replayed, 2u);
  EXPECT_EQ(o.stats().accepted, 2u);
}

TEST_F(Envelope, ReplayIsCaughtWhicheverKeyOpensIt) {
  auto ring = ring_of({1, 2});
  opener o(ring);
  auto datagram = seal(ring_of({2}), payload, t0, random);
  ASSERT_TRUE(o.open(datagram, t0).ok());
  EXPECT_EQ(o.open(datagram, t0).error, open_error::replayed);
}

TEST_F(Envelope, NonceCacheStaysBounded) {
  auto ring = ring_of({1});
  opener o(ring, 30s, 8);
  for (int i = 0; i < 1000; ++i) {
    auto now = t0 + std::chrono::milliseconds(i);
    ASSERT_TRUE(o.open(seal(ring, payload, now, random), now).ok()) << i;
    ASSERT_LE(o.cached_nonces(), 8u);
  }
  EXPECT_EQ(o.cached_nonces(), 8u);
  EXPECT_EQ(o.stats().nonces_evicted, 1000u - 8u);
}

TEST_F(Envelope, NonceCacheForgetsEntriesOlderThanTheWindow) {
  auto ring = ring_of({1});
  opener o(ring, 30s, 100);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(o.open(seal(ring, payload, t0, random), t0).ok());
  EXPECT_EQ(o.cached_nonces(), 5u);
  // Exactly one window later the entries are still acceptable, hence still remembered.
  EXPECT_TRUE(o.open(seal(ring, payload, t0 + 30s, random), t0 + 30s).ok());
  EXPECT_EQ(o.cached_nonces(), 6u);
  EXPECT_TRUE(o.open(seal(ring, payload, t0 + 30s + 1ms, random), t0 + 30s + 1ms).ok());
  EXPECT_EQ(o.cached_nonces(), 2u);
  EXPECT_EQ(o.stats().nonces_evicted, 0u);
}

TEST_F(Envelope, AReplayOfAnEvictedNonceIsStillRejected) {
  auto ring = ring_of({1});
  opener o(ring, 30s, 2);
  auto a = seal(ring, payload, t0, random);
  auto b = seal(ring, payload, t0 + 1ms, random);
  auto c = seal(ring, payload, t0 + 2ms, random);
  auto now = t0 + 2ms;
  ASSERT_TRUE(o.open(a, now).ok());
  ASSERT_TRUE(o.open(b, now).ok());
  ASSERT_TRUE(o.open(c, now).ok());  // evicts a, still inside the window
  EXPECT_EQ(o.stats().nonces_evicted, 1u);
  EXPECT_EQ(o.open(a, now).error, open_error::cache_overflow);
  EXPECT_EQ(o.open(b, now).error, open_error::replayed);
  // A genuine datagram as old as the forgotten one cannot be told from a replay either...
  EXPECT_EQ(o.open(seal(ring, payload, t0, random), now).error, open_error::cache_overflow);
  // ...but current traffic keeps flowing.
  EXPECT_TRUE(o.open(seal(ring, payload, now, random), now).ok());
  EXPECT_EQ(o.stats().cache_overflow, 2u);
}

TEST_F(Envelope, AFullCacheRefusesADatagramOlderThanAllItHolds) {
  auto ring = ring_of({1});
  opener o(ring, 30s, 2);
  auto now = t0 + 10ms;
  ASSERT_TRUE(o.open(seal(ring, payload, t0 + 5ms, random), now).ok());
  ASSERT_TRUE(o.open(seal(ring, payload, t0 + 6ms, random), now).ok());
  // Accepting it would mean evicting it at once, i.e. accepting it without remembering it.
  auto late = seal(ring, payload, t0 + 4ms, random);
  EXPECT_EQ(o.open(late, now).error, open_error::cache_overflow);
  EXPECT_EQ(o.stats().nonces_evicted, 0u);
  EXPECT_EQ(o.cached_nonces(), 2u);
}

TEST_F(Envelope, SameNonceAtAnotherTimeIsANewDatagram) {
  // The timestamp is part of the replay key: only a byte-identical authentic datagram is a replay.
  auto ring = ring_of({1});
  opener o(ring);
  EXPECT_TRUE(o.open(seal(ring, payload, t0, fixed_random(7)), t0).ok());
  EXPECT_TRUE(o.open(seal(ring, payload, t0 + 1ms, fixed_random(7)), t0).ok());
}

TEST_F(Envelope, StatsCountEachReason) {
  auto ring = ring_of({1});
  opener o(ring, 30s, 1);
  auto good = seal(ring, payload, t0, random);
  auto forged = good;
  forged.back() ^= 1;
  auto wrong_version = good;
  wrong_version[0] = 0;

  EXPECT_TRUE(o.open(good, t0).ok());
  EXPECT_EQ(o.open(good, t0).error, open_error::replayed);
  EXPECT_EQ(o.open(std::span(good).first(10), t0).error, open_error::too_short);
  EXPECT_EQ(o.open(wrong_version, t0).error, open_error::bad_version);
  EXPECT_EQ(o.open(forged, t0).error, open_error::bad_tag);
  EXPECT_EQ(o.open(seal(ring, payload, t0 - 31s, random), t0).error, open_error::stale);
  EXPECT_TRUE(o.open(seal(ring, payload, t0 + 1ms, random), t0).ok());  // evicts good
  EXPECT_EQ(o.open(good, t0).error, open_error::cache_overflow);

  const auto& s = o.stats();
  EXPECT_EQ(s.accepted, 2u);
  EXPECT_EQ(s.replayed, 1u);
  EXPECT_EQ(s.too_short, 1u);
  EXPECT_EQ(s.bad_version, 1u);
  EXPECT_EQ(s.bad_tag, 1u);
  EXPECT_EQ(s.stale, 1u);
  EXPECT_EQ(s.cache_overflow, 1u);
  EXPECT_EQ(s.nonces_evicted, 1u);
}

TEST_F(Envelope, InvalidConfigurationThrows) {
  EXPECT_THROW(seal(key_ring{}, payload, t0, random), std::invalid_argument);
  EXPECT_THROW(opener(key_ring{}), std::invalid_argument);
  EXPECT_THROW(opener(ring_of({1}), 0ms), std::invalid_argument);
  EXPECT_THROW(opener(ring_of({1}), max_replay_window + 1ms), std::invalid_argument);
  EXPECT_THROW(opener(ring_of({1}), 30s, 0), std::invalid_argument);
}

TEST_F(Envelope, SystemRandomGivesDistinctNonces) {
  auto ring = ring_of({1});
  opener o(ring);
  auto a = seal(ring, payload, t0, system_random);
  auto b = seal(ring, payload, t0, system_random);
  EXPECT_NE(a, b);
  EXPECT_TRUE(o.open(a, t0).ok());
  EXPECT_TRUE(o.open(b, t0).ok());
}

TEST(OpenError, HasNames) {
  EXPECT_EQ(to_string(open_error::bad_tag), "bad_tag");
  EXPECT_EQ(to_string(open_error::cache_overflow), "cache_overflow");
}

}  // namespace
}  // namespace p2pfaas::net
