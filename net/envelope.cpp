#include "net/envelope.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

namespace p2pfaas::net {
namespace {

constexpr std::size_t timestamp_offset = 1;
constexpr std::size_t nonce_offset = timestamp_offset + 8;
constexpr std::size_t hint_offset = nonce_offset + envelope_nonce_bytes;
static_assert(hint_offset + 1 == envelope_header_bytes);

std::int64_t to_ms(wall_time t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

void put_u64(std::uint8_t* out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<std::uint8_t>(v);
    v >>= 8;
  }
}

std::uint64_t get_u64(const std::uint8_t* in) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | in[i];
  return v;
}

void tag_of(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data,
            std::uint8_t* out) {
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out,
           &length) == nullptr ||
      length != envelope_tag_bytes) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
}

}  // namespace

void system_random(std::span<std::uint8_t> out) {
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    throw std::runtime_error("the OpenSSL random generator failed");
  }
}

std::vector<std::uint8_t> seal(const key_ring& ring, std::span<const std::uint8_t> payload,
                               wall_time now, const random_source& random, std::string_view label) {
  if (ring.keys.empty()) throw std::invalid_argument("seal: the key ring is empty");
  const auto& key = ring.keys.front();

  std::vector<std::uint8_t> out(envelope_overhead + payload.size());
  out[0] = envelope_version;
  put_u64(out.data() + timestamp_offset, static_cast<std::uint64_t>(to_ms(now)));
  random(std::span(out).subspan(nonce_offset, envelope_nonce_bytes));
  out[hint_offset] = key_hint(key);
  std::copy(payload.begin(), payload.end(), out.begin() + envelope_header_bytes);

  auto derived = derive_key(key, label);
  auto body = std::span<const std::uint8_t>(out).first(envelope_header_bytes + payload.size());
  tag_of(derived, body, out.data() + body.size());
  OPENSSL_cleanse(derived.data(), derived.size());
  return out;
}

std::string_view to_string(open_error error) {
  switch (error) {
    case open_error::none:
      return "none";
    case open_error::too_short:
      return "too_short";
    case open_error::bad_version:
      return "bad_version";
    case open_error::bad_tag:
      return "bad_tag";
    case open_error::stale:
      return "stale";
    case open_error::replayed:
      return "replayed";
    case open_error::cache_overflow:
      return "cache_overflow";
  }
  return "unknown";
}

opener::opener(key_ring ring, std::chrono::milliseconds window, std::size_t nonce_cache_size,
               std::string_view label)
    : window_ms_(window.count()), capacity_(nonce_cache_size) {
  if (ring.keys.empty()) throw std::invalid_argument("opener: the key ring is empty");
  // Bounding the window keeps now ± window far from overflow for any system_clock time.
  if (window <= std::chrono::milliseconds::zero() || window > max_replay_window) {
    throw std::invalid_argument("opener: the replay window must be in (0, 24 h]");
  }
  if (nonce_cache_size == 0) throw std::invalid_argument("opener: the nonce cache size is 0");
  for (auto& key : ring.keys) {
    keys_.push_back(derive_key(key, label));
    OPENSSL_cleanse(key.data(), key.size());
  }
}

open_result opener::reject(open_result result, open_error error) {
  result.error = error;
  result.payload = {};
  switch (error) {
    case open_error::none:
      break;
    case open_error::too_short:
      ++stats_.too_short;
      break;
    case open_error::bad_version:
      ++stats_.bad_version;
      break;
    case open_error::bad_tag:
      ++stats_.bad_tag;
      break;
    case open_error::stale:
      ++stats_.stale;
      break;
    case open_error::replayed:
      ++stats_.replayed;
      break;
    case open_error::cache_overflow:
      ++stats_.cache_overflow;
      break;
  }
  return result;
}

void opener::expire() {
  // Strictly older than the window: a timestamp exactly `window` old is still accepted, so it
  // must still be remembered.
  while (!seen_.empty() && seen_.begin()->timestamp_ms < now_ms_ - window_ms_) {
    seen_.erase(seen_.begin());
  }
}

open_result opener::open(std::span<const std::uint8_t> datagram, wall_time now) {
  now_ms_ = std::max(now_ms_, to_ms(now));
  open_result result;
  if (datagram.empty()) return reject(result, open_error::too_short);
  if (datagram[0] != envelope_version) return reject(result, open_error::bad_version);
  if (datagram.size() < envelope_overhead) return reject(result, open_error::too_short);
  result.key_hint = datagram[hint_offset];

  // The tag is checked before anything the sender claims is believed, so only authentic
  // datagrams can count as stale or touch the replay cache.
  auto body = datagram.first(datagram.size() - envelope_tag_bytes);
  auto tag = datagram.last(envelope_tag_bytes);
  bool matched = false;
  std::array<std::uint8_t, envelope_tag_bytes> expected{};
  for (std::size_t i = 0; i < keys_.size() && !matched; ++i) {
    tag_of(keys_[i], body, expected.data());
    if (CRYPTO_memcmp(expected.data(), tag.data(), envelope_tag_bytes) == 0) {
      matched = true;
      result.key_index = i;
    }
  }
  if (!matched) return reject(result, open_error::bad_tag);

  seen_entry entry;
  entry.timestamp_ms = static_cast<std::int64_t>(get_u64(datagram.data() + timestamp_offset));
  std::copy_n(datagram.begin() + nonce_offset, envelope_nonce_bytes, entry.nonce.begin());
  if (entry.timestamp_ms < now_ms_ - window_ms_ || entry.timestamp_ms > now_ms_ + window_ms_) {
    return reject(result, open_error::stale);
  }

  expire();
  if (seen_.contains(entry)) return reject(result, open_error::replayed);
  if (entry.timestamp_ms <= floor_ms_) return reject(result, open_error::cache_overflow);
  if (seen_.size() >= capacity_) {
    // If the new entry is itself the oldest, it would be evicted at once, i.e. accepted without
    // being remembered: refuse it, as the floor would refuse it right after.
    if (entry < *seen_.begin()) return reject(result, open_error::cache_overflow);
    floor_ms_ = seen_.begin()->timestamp_ms;
    seen_.erase(seen_.begin());
    ++stats_.nonces_evicted;
  }
  seen_.insert(entry);

  ++stats_.accepted;
  result.payload = body.subspan(envelope_header_bytes);
  return result;
}

}  // namespace p2pfaas::net
