#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace p2pfaas::discovery {

enum class member_state : std::uint8_t { alive = 0, suspect = 1, dead = 2, left = 3 };

std::string_view to_string(member_state state);

// A node's executor occupancy as its peers see it. Only the owner writes it; `version` orders the
// owner's successive records within one incarnation.
struct load_record {
  std::uint32_t in_flight = 0;
  std::uint32_t queued = 0;
  std::uint32_t slots = 0;
  double recent_service_seconds = 0;
  std::uint64_t version = 0;  // 0: the owner never published a record

  friend bool operator==(const load_record&, const load_record&) = default;
};

// One piece of membership news; also the unit of a push-pull full state.
struct member_update {
  std::string id;
  std::string address;
  member_state state = member_state::alive;
  std::uint64_t incarnation = 0;
  // Who made the claim: for suspect, the accuser (distinct accusers shorten the suspicion).
  std::string origin;
  load_record load;

  friend bool operator==(const member_update&, const member_update&) = default;
};

enum class message_type : std::uint8_t {
  ping = 1,       // probe of target_id; answered by ack
  ack = 2,        // answers the ping with this sequence number
  ping_req = 3,   // asks the receiver to probe target_id at target_address for the sender
  nack = 4,       // the receiver of a ping_req got no ack in time (Lifeguard)
  push_pull = 5,  // carries the sender's full state; answered by push_pull_reply
  push_pull_reply = 6,
  gossip = 7,  // updates only
};

struct message {
  message_type type = message_type::gossip;
  std::string sender_id;
  std::uint64_t sequence = 0;
  std::string target_id;       // ping, ping_req
  std::string target_address;  // ping_req
  std::vector<member_update> updates;

  friend bool operator==(const message&, const message&) = default;
};

// Limits of the wire format; anything beyond them is refused by encode and decode alike.
inline constexpr std::size_t max_string_bytes = 255;
inline constexpr std::size_t max_updates = 512;
inline constexpr std::size_t max_message_bytes = 65000;  // fits one UDP datagram
inline constexpr std::uint8_t wire_version = 1;

enum class decode_error {
  none,
  truncated,
  bad_magic,
  unsupported_version,
  bad_type,
  bad_state,
  bad_load,
  too_large,
  too_many_updates,
  trailing_bytes,
};

std::string_view to_string(decode_error error);

struct decode_result {
  message value;
  decode_error error = decode_error::none;
  bool ok() const { return error == decode_error::none; }
};

// Bytes of `update` on the wire, so a sender can fill a datagram up to a budget.
std::size_t encoded_size(const member_update& update);
// Bytes of `m` without its updates.
std::size_t encoded_header_size(const message& m);

// nullopt when `m` breaks a limit above (a string too long, too many updates, too many bytes).
std::optional<std::vector<std::uint8_t>> encode(const message& m);
// Never throws and never reads outside `bytes`; malformed input yields an error.
decode_result decode(std::span<const std::uint8_t> bytes);

}  // namespace p2pfaas::discovery
