#include "discovery/message.hpp"

#include <bit>
#include <cmath>

#include "net/byte_reader.hpp"

namespace p2pfaas::discovery {
namespace {

// "P2" then the wire version: a datagram from another protocol on the same port is refused early.
constexpr std::uint8_t magic_0 = 'P';
constexpr std::uint8_t magic_1 = '2';

constexpr std::size_t load_bytes = 4 + 4 + 4 + 8 + 8;

std::size_t string_size(const std::string& s) {
  return 1 + s.size();
}

class writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { put(v, 2); }
  void u32(std::uint32_t v) { put(v, 4); }
  void u64(std::uint64_t v) { put(v, 8); }
  void str(const std::string& s) {
    u8(static_cast<std::uint8_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }
  std::vector<std::uint8_t> take() { return std::move(out_); }

 private:
  // Little-endian whatever the host, so an ARM64 Pi and an x86-64 box agree.
  void put(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  }
  std::vector<std::uint8_t> out_;
};

// Strings carry an 8-bit length.
class reader : public net::byte_reader {
 public:
  using net::byte_reader::byte_reader;
  bool str(std::string& s) {
    std::uint8_t n = 0;
    return u8(n) && bytes(s, n);
  }
};

bool valid_type(std::uint8_t t) {
  return t >= static_cast<std::uint8_t>(message_type::ping) &&
         t <= static_cast<std::uint8_t>(message_type::gossip);
}

bool fits(const std::string& s) {
  return s.size() <= max_string_bytes;
}

}  // namespace

std::string_view to_string(member_state state) {
  switch (state) {
    case member_state::alive:
      return "alive";
    case member_state::suspect:
      return "suspect";
    case member_state::dead:
      return "dead";
    case member_state::left:
      return "left";
  }
  return "unknown";
}

std::string_view to_string(decode_error error) {
  switch (error) {
    case decode_error::none:
      return "none";
    case decode_error::truncated:
      return "truncated";
    case decode_error::bad_magic:
      return "bad magic";
    case decode_error::unsupported_version:
      return "unsupported version";
    case decode_error::bad_type:
      return "bad message type";
    case decode_error::bad_state:
      return "bad member state";
    case decode_error::bad_load:
      return "bad load record";
    case decode_error::too_large:
      return "too large";
    case decode_error::too_many_updates:
      return "too many updates";
    case decode_error::trailing_bytes:
      return "trailing bytes";
  }
  return "unknown";
}

std::size_t encoded_size(const member_update& u) {
  return string_size(u.id) + string_size(u.address) + 1 + 8 + string_size(u.origin) + load_bytes;
}

std::size_t encoded_header_size(const message& m) {
  return 2 + 1 + 1 + string_size(m.sender_id) + 8 + string_size(m.target_id) +
         string_size(m.target_address) + 2;
}

std::optional<std::vector<std::uint8_t>> encode(const message& m) {
  if (!fits(m.sender_id) || !fits(m.target_id) || !fits(m.target_address)) return std::nullopt;
  if (m.updates.size() > max_updates) return std::nullopt;
  std::size_t total = encoded_header_size(m);
  for (const auto& u : m.updates) {
    if (!fits(u.id) || !fits(u.address) || !fits(u.origin)) return std::nullopt;
    total += encoded_size(u);
  }
  if (total > max_message_bytes) return std::nullopt;

  writer w;
  w.u8(magic_0);
  w.u8(magic_1);
  w.u8(wire_version);
  w.u8(static_cast<std::uint8_t>(m.type));
  w.str(m.sender_id);
  w.u64(m.sequence);
  w.str(m.target_id);
  w.str(m.target_address);
  w.u16(static_cast<std::uint16_t>(m.updates.size()));
  for (const auto& u : m.updates) {
    w.str(u.id);
    w.str(u.address);
    w.u8(static_cast<std::uint8_t>(u.state));
    w.u64(u.incarnation);
    w.str(u.origin);
    w.u32(u.load.in_flight);
    w.u32(u.load.queued);
    w.u32(u.load.slots);
    w.u64(std::bit_cast<std::uint64_t>(u.load.recent_service_seconds));
    w.u64(u.load.version);
  }
  return w.take();
}

decode_result decode(std::span<const std::uint8_t> bytes) {
  decode_result result;
  auto fail = [&](decode_error e) {
    result.value = {};
    result.error = e;
    return result;
  };
  if (bytes.size() > max_message_bytes) return fail(decode_error::too_large);

  reader r(bytes);
  std::uint8_t m0 = 0, m1 = 0, version = 0, type = 0;
  if (!r.u8(m0) || !r.u8(m1)) return fail(decode_error::truncated);
  if (m0 != magic_0 || m1 != magic_1) return fail(decode_error::bad_magic);
  if (!r.u8(version)) return fail(decode_error::truncated);
  if (version != wire_version) return fail(decode_error::unsupported_version);
  if (!r.u8(type)) return fail(decode_error::truncated);
  if (!valid_type(type)) return fail(decode_error::bad_type);

  message& m = result.value;
  m.type = static_cast<message_type>(type);
  std::uint16_t count = 0;
  if (!r.str(m.sender_id) || !r.u64(m.sequence) || !r.str(m.target_id) ||
      !r.str(m.target_address) || !r.u16(count)) {
    return fail(decode_error::truncated);
  }
  if (count > max_updates) return fail(decode_error::too_many_updates);
  m.updates.reserve(count);
  for (std::uint16_t i = 0; i < count; ++i) {
    member_update u;
    std::uint8_t state = 0;
    std::uint64_t service_bits = 0;
    if (!r.str(u.id) || !r.str(u.address) || !r.u8(state) || !r.u64(u.incarnation) ||
        !r.str(u.origin) || !r.u32(u.load.in_flight) || !r.u32(u.load.queued) ||
        !r.u32(u.load.slots) || !r.u64(service_bits) || !r.u64(u.load.version)) {
      return fail(decode_error::truncated);
    }
    if (state > static_cast<std::uint8_t>(member_state::left)) return fail(decode_error::bad_state);
    u.state = static_cast<member_state>(state);
    u.load.recent_service_seconds = std::bit_cast<double>(service_bits);
    // A NaN would poison every comparison a scheduling policy makes with it.
    if (!std::isfinite(u.load.recent_service_seconds) || u.load.recent_service_seconds < 0) {
      return fail(decode_error::bad_load);
    }
    m.updates.push_back(std::move(u));
  }
  if (r.left() != 0) return fail(decode_error::trailing_bytes);
  return result;
}

}  // namespace p2pfaas::discovery
