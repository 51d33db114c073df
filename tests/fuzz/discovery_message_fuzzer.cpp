// Gossip datagrams as they arrive from the network (after authentication). Decoding never crashes
// or reads out of bounds, and whatever it accepts encodes back to exactly the same bytes, so no
// two readings of one datagram can differ.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "discovery/message.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace p2pfaas::discovery;
  const auto decoded = decode(std::span<const std::uint8_t>(data, size));
  if (!decoded.ok()) return 0;
  const auto encoded = encode(decoded.value);
  if (!encoded || encoded->size() != size || !std::equal(encoded->begin(), encoded->end(), data)) {
    __builtin_trap();
  }
  return 0;
}
