// WebSocket messages of the /peer links as they arrive from an authenticated peer: one or more
// frames. Splitting and decoding never crash or read out of bounds, and every frame accepted
// encodes back to exactly its own bytes, so no two readings of one frame can differ.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "net/peer_protocol.hpp"

namespace {

void check_same(const std::string& again, std::span<const std::uint8_t> bytes) {
  if (again.size() != bytes.size() ||
      !std::equal(again.begin(), again.end(), bytes.begin(),
                  [](char a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; })) {
    __builtin_trap();
  }
}

template <typename Body>
void check_round_trip(const p2pfaas::net::frame_view& frame, const Body& body,
                      std::span<const std::uint8_t> bytes) {
  std::string again;
  if (p2pfaas::net::encode(frame.request_id, body, frame.size, again) !=
      p2pfaas::net::protocol_error::none) {
    __builtin_trap();
  }
  check_same(again, bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace p2pfaas::net;
  // Small enough that the size limit itself gets exercised.
  constexpr std::size_t max_frame_bytes = 1 << 16;
  std::span<const std::uint8_t> message(data, size);
  while (!message.empty()) {
    const auto before = message;
    frame_view frame;
    if (next_frame(message, max_frame_bytes, frame) != protocol_error::none) return 0;
    if (frame.size == 0 || frame.size > max_frame_bytes ||
        message.size() + frame.size != before.size()) {
      __builtin_trap();
    }
    const auto bytes = before.first(frame.size);
    switch (frame.type) {
      case frame_type::call:
      case frame_type::admin_call: {
        peer_call call;
        if (decode(frame.body, call) == protocol_error::none) {
          // The kind comes from the frame type, as the receiver sets it.
          call.kind = frame.type == frame_type::admin_call ? call_kind::admin : call_kind::function;
          check_round_trip(frame, call, bytes);
        }
        break;
      }
      case frame_type::reply: {
        peer_reply reply;
        if (decode(frame.body, reply) == protocol_error::none) {
          check_round_trip(frame, reply, bytes);
        }
        break;
      }
      case frame_type::load_report: {
        peer_load load;
        if (decode(frame.body, load) == protocol_error::none) check_round_trip(frame, load, bytes);
        break;
      }
      case frame_type::cancel: {
        std::string again;
        encode_cancel(frame.request_id, again);
        check_same(again, bytes);
        break;
      }
      case frame_type::load_query: {
        std::string again;
        encode_load_query(frame.request_id, again);
        check_same(again, bytes);
        break;
      }
    }
  }
  return 0;
}
