#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace p2pfaas::net {

// Short keys are guessable and HMAC-SHA256 hashes keys longer than its 64-byte block, so longer
// keys would add nothing but a false sense of strength.
inline constexpr std::size_t min_key_bytes = 16;
inline constexpr std::size_t max_key_bytes = 64;

// The cluster keys of this node, in key-file order. keys[0] seals what this node sends; every key
// opens what it receives, so a rotation can add the new key everywhere first and retire the old
// one once no node sends with it any more.
struct key_ring {
  std::vector<std::vector<std::uint8_t>> keys;
};

// A key file has one base64 key per line (standard alphabet, canonical padding); blank lines and
// lines starting with '#' are skipped. Errors name the line and never quote it, so a typo in a key
// cannot leak the key into a log.
std::variant<key_ring, std::string> parse_key_ring(std::string_view text);
std::variant<key_ring, std::string> load_key_ring(const std::filesystem::path& path);

// A key for one purpose (HMAC-SHA256 of `label` under the cluster key): the datagram envelope and
// the /peer upgrade use distinct labels, so a tag made for one can never be replayed as the other.
std::vector<std::uint8_t> derive_key(std::span<const std::uint8_t> key, std::string_view label);

// One byte that tells keys apart in logs ("sealed with key 3a, ours are 12 and 7f") without saying
// anything useful about the key itself.
std::uint8_t key_hint(std::span<const std::uint8_t> key);

}  // namespace p2pfaas::net
