#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace p2pfaas::net {

// Bounds-checked little-endian reads for the binary codecs (gossip datagrams, peer frames):
// every read fails, without moving, when too few bytes are left. Little-endian whatever the
// host, so an ARM64 Pi and an x86-64 box agree.
class byte_reader {
 public:
  explicit byte_reader(std::span<const std::uint8_t> in) : in_(in) {}

  bool u8(std::uint8_t& v) {
    if (left() < 1) return false;
    v = in_[pos_++];
    return true;
  }
  bool u16(std::uint16_t& v) { return get(v, 2); }
  bool u32(std::uint32_t& v) { return get(v, 4); }
  bool u64(std::uint64_t& v) { return get(v, 8); }
  bool f64(double& v) {
    std::uint64_t bits = 0;
    if (!get(bits, 8)) return false;
    v = std::bit_cast<double>(bits);
    return true;
  }
  bool bytes(std::string& s, std::size_t n) {
    if (left() < n) return false;
    s.assign(reinterpret_cast<const char*>(in_.data() + pos_), n);
    pos_ += n;
    return true;
  }
  std::size_t left() const { return in_.size() - pos_; }

 private:
  template <typename T>
  bool get(T& v, int n) {
    if (left() < static_cast<std::size_t>(n)) return false;
    std::uint64_t r = 0;
    for (int i = 0; i < n; ++i) r |= std::uint64_t{in_[pos_ + i]} << (8 * i);
    pos_ += n;
    v = static_cast<T>(r);
    return true;
  }

  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
};

}  // namespace p2pfaas::net
