#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/envelope.hpp"

namespace p2pfaas::net {

// What a peer_call asks for. Carried by the frame type (call or admin_call), not by the body, so a
// receiver that does not know admin calls refuses one as an unknown frame type instead of running
// it as a function.
enum class call_kind : std::uint8_t {
  function,  // run a function
  admin,     // apply an administrative change (a scheduler setting) on the receiver
};

// A call forwarded to a peer.
struct peer_call {
  std::string function, path_rest, query /*raw, after '?'*/, content_type;
  std::vector<std::pair<std::string, std::string>> headers;  // the request's X-* headers
  std::string payload;
  std::string call_id, traceparent;
  std::uint32_t timeout_ms = 0;   // time the call has left when sent
  double deadline_seconds = 0;    // soft deadline left, 0 = none
  std::vector<std::string> path;  // node ids the call went through, origin first, sender last
  call_kind kind = call_kind::function;

  friend bool operator==(const peer_call&, const peer_call&) = default;
};

struct peer_reply {
  int status = 200;
  std::string content_type, body;
  std::string outcome;            // the receiver's outcome name ("ok", "full", "timed_out", ...)
  std::string executed_on;        // node id that ran it
  std::vector<std::string> path;  // node ids from the receiver onward, receiver first
  std::vector<double> total_seconds, scheduling_seconds, probing_seconds;  // one per node of path
  double execution_seconds = 0;
  bool executed = false, cold_start = false;
  int retry_after_seconds = 0;  // 0 = none

  friend bool operator==(const peer_reply&, const peer_reply&) = default;
};

// A peer's load as it answers a load probe (for schedulers that pick the least loaded of a few).
struct peer_load {
  std::uint32_t running = 0, queued = 0, slots = 0, queue_capacity = 0;
  double recent_service_seconds = 0;  // finite and >= 0

  friend bool operator==(const peer_load&, const peer_load&) = default;
};

// Wire format, integers little-endian (as the gossip codec), doubles as their IEEE-754 bits.
// A WebSocket binary message carries one or more frames back to back, so a link can write every
// frame queued while the previous write was in flight in one go:
//   size        u32  bytes after this field
//   version     u8   peer_protocol_version
//   type        u8   frame_type
//   request id  u64  chosen by the caller, echoed by the reply
//   body            per type (see peer_protocol.cpp); a cancel and a load_query have none
// Strings are a u16 length and bytes; payload and body a u32 length, bounded only by the frame
// size limit; lists a u16 count. Decoding accepts exactly what encoding produces: no unknown flag
// bits, no trailing bytes, finite doubles. So a decoded frame encodes back to the same bytes.
inline constexpr std::uint8_t peer_protocol_version = 1;
inline constexpr std::size_t max_peer_string_bytes = 65535;
inline constexpr std::size_t max_peer_list_entries = 256;
inline constexpr std::size_t peer_frame_header_bytes = 4 + 1 + 1 + 8;
// A link's buffers keep their capacity between messages, except above this: one 10 MiB call
// should not pin 10 MiB per link for good.
inline constexpr std::size_t peer_buffer_keep_bytes = 1 << 20;
// Frames queued during a write are batched into messages of up to this size (a larger frame goes
// alone). Batching saves a write per frame for small frames; for large ones, messages of many
// MiB would only make both ends grow and copy their buffers.
inline constexpr std::size_t peer_batch_bytes = 256 << 10;

enum class frame_type : std::uint8_t {
  call = 1,
  reply = 2,
  // The caller gave up on the request (its deadline passed): the receiver may stop it, and
  // drops its reply.
  cancel = 3,
  // Asks for the receiver's load, answered at once by a load_report with the same request id.
  load_query = 4,
  load_report = 5,
  // A call of kind admin: the body of a call.
  admin_call = 6,
};

enum class protocol_error : std::uint8_t {
  none,
  truncated,
  bad_version,
  bad_type,
  frame_too_large,   // over the caller's max_frame_bytes
  string_too_long,   // over max_peer_string_bytes
  too_many_entries,  // a list over max_peer_list_entries
  bad_value,         // a non-finite or negative number, a status outside 100..999, unknown flags
  trailing_bytes,
};

std::string_view to_string(protocol_error error);

// One frame inside a message; `body` points into the message.
struct frame_view {
  frame_type type = frame_type::call;
  std::uint64_t request_id = 0;
  std::span<const std::uint8_t> body;
  std::size_t size = 0;  // bytes of the whole frame, header included
};

// Splits the first frame off the front of `message` and advances `message` past it. Never reads
// outside `message`; on error `message` is left as it was.
protocol_error next_frame(std::span<const std::uint8_t>& message, std::size_t max_frame_bytes,
                          frame_view& out);
// Decode a frame body; `out` is overwritten and unspecified on error. Never throws for malformed
// input (only std::bad_alloc could escape) and never reads outside `body`. A call and an
// admin_call share their body: decoding one leaves out.kind alone, for the receiver to set from
// the frame type.
protocol_error decode(std::span<const std::uint8_t> body, peer_call& out);
protocol_error decode(std::span<const std::uint8_t> body, peer_reply& out);
protocol_error decode(std::span<const std::uint8_t> body, peer_load& out);

// Bytes of the whole frame for this call, reply or load report (limits not checked).
std::size_t encoded_size(const peer_call& call);
std::size_t encoded_size(const peer_reply& reply);
std::size_t encoded_size(const peer_load& load);
// Append one frame to `out`, which is left unchanged when a limit is broken. A call is written as
// a call or an admin_call frame according to its kind.
protocol_error encode(std::uint64_t request_id, const peer_call& call, std::size_t max_frame_bytes,
                      std::string& out);
protocol_error encode(std::uint64_t request_id, const peer_reply& reply,
                      std::size_t max_frame_bytes, std::string& out);
protocol_error encode(std::uint64_t request_id, const peer_load& load, std::size_t max_frame_bytes,
                      std::string& out);
void encode_cancel(std::uint64_t request_id, std::string& out);
void encode_load_query(std::uint64_t request_id, std::string& out);

// Frames waiting for a link's one write in flight. Whatever piles up during a write goes out in
// the following writes, one message each, so a busy link makes one write per batch rather than
// one per frame. Frames are encoded straight into the message they will be sent in: a batch
// holds whole frames, up to batch_bytes (a larger frame goes alone), and is handed over without
// a copy.
class frame_queue {
 public:
  // batch_bytes must not exceed the peer's read limit (max_frame_bytes).
  explicit frame_queue(std::size_t batch_bytes) : batch_bytes_(batch_bytes) {}
  // The buffer to append a frame of `frame_bytes` bytes to (encode leaves it unchanged when it
  // fails).
  std::string& buffer(std::size_t frame_bytes);
  bool empty() const;
  // Moves the next batch into `message`, whose old content is dropped and whose capacity is
  // kept for a later batch.
  void take(std::string& message);
  void clear();

 private:
  std::size_t batch_bytes_;
  std::deque<std::string> batches_;  // only the last may be empty
  std::vector<std::string> spare_;   // emptied batches, for their capacity
};

// Upgrade authentication. The client's upgrade request carries
//   Authorization: P2pfaas-Peer <base64 of seal(keys, its node id, now, random,
//   peer_upgrade_label)>
// and the server's 101 answers with a value of the same form, sealed over the server's node id,
// in peer_auth_response_header. Each side opens the other's with an opener, so a stale or replayed
// value is refused like a forged one.
inline constexpr std::string_view peer_path = "/peer";
inline constexpr std::string_view peer_auth_scheme = "P2pfaas-Peer";
inline constexpr std::string_view peer_auth_response_header = "X-P2pfaas-Peer-Auth";
inline constexpr std::size_t max_node_id_bytes = 255;

// Throws std::invalid_argument for an empty ring (as seal does).
std::string make_peer_token(const key_ring& keys, std::string_view node_id, wall_time now,
                            const random_source& random = system_random);
// The node id sealed in `value`, or nullopt with `problem` saying why not (no secret in it).
std::optional<std::string> open_peer_token(opener& keys, std::string_view value, wall_time now,
                                           std::string& problem);

}  // namespace p2pfaas::net
