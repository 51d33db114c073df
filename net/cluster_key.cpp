#include "net/cluster_key.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

namespace p2pfaas::net {
namespace {

// Wipes a buffer that held key material when it goes out of scope, so keys linger in freed heap
// memory no longer than needed.
template <typename Buffer>
struct wipe_on_exit {
  Buffer& buffer;
  ~wipe_on_exit() { OPENSSL_cleanse(buffer.data(), buffer.size()); }
};
// Spelled out because clang 14 (the fuzz build) does not deduce aggregate templates.
template <typename Buffer>
wipe_on_exit(Buffer&) -> wipe_on_exit<Buffer>;

std::string_view trim(std::string_view s) {
  constexpr std::string_view blanks = " \t\r";
  auto first = s.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  auto last = s.find_last_not_of(blanks);
  return s.substr(first, last - first + 1);
}

// Strict base64: EVP_DecodeBlock alone tolerates non-canonical input (stray bits in the last
// character, whitespace) and counts padding as zero bytes, so the result is re-encoded and must
// match the input exactly.
std::optional<std::vector<std::uint8_t>> decode_base64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::vector<std::uint8_t> out(text.size() / 4 * 3);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) {
    OPENSSL_cleanse(out.data(), out.size());
    return std::nullopt;
  }
  std::size_t padding = 0;
  while (padding < 2 && text[text.size() - 1 - padding] == '=') ++padding;
  out.resize(static_cast<std::size_t>(n) - padding);

  std::vector<char> again(text.size() + 1);
  wipe_on_exit wipe_again{again};
  int m = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(again.data()), out.data(),
                          static_cast<int>(out.size()));
  if (m < 0 || std::string_view(again.data(), static_cast<std::size_t>(m)) != text) {
    OPENSSL_cleanse(out.data(), out.size());
    return std::nullopt;
  }
  return out;
}

std::array<std::uint8_t, 32> hmac_sha256(std::span<const std::uint8_t> key, std::string_view data) {
  std::array<std::uint8_t, 32> out{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &length);
  return out;
}

}  // namespace

std::variant<key_ring, std::string> parse_key_ring(std::string_view text) {
  key_ring ring;
  std::size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    auto end = text.find('\n');
    auto line = trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (line.empty() || line.front() == '#') continue;

    auto where = "line " + std::to_string(line_number) + ": ";
    auto key = decode_base64(line);
    if (!key) return where + "not a valid base64 key";
    if (key->size() < min_key_bytes || key->size() > max_key_bytes) {
      auto size = key->size();
      OPENSSL_cleanse(key->data(), key->size());
      return where + "key is " + std::to_string(size) + " bytes, need " +
             std::to_string(min_key_bytes) + " to " + std::to_string(max_key_bytes);
    }
    ring.keys.push_back(std::move(*key));
  }
  if (ring.keys.empty()) return std::string("no key (only blank lines and comments)");
  return ring;
}

std::variant<key_ring, std::string> load_key_ring(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "cannot read key file " + path.string() + ": " + std::strerror(errno);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return "cannot read key file " + path.string();
  std::string text = std::move(buffer).str();
  wipe_on_exit wipe_text{text};
  auto result = parse_key_ring(text);
  if (auto* error = std::get_if<std::string>(&result)) *error = path.string() + ": " + *error;
  return result;
}

std::vector<std::uint8_t> derive_key(std::span<const std::uint8_t> key, std::string_view label) {
  auto derived = hmac_sha256(key, label);
  std::vector<std::uint8_t> out(derived.begin(), derived.end());
  OPENSSL_cleanse(derived.data(), derived.size());
  return out;
}

std::uint8_t key_hint(std::span<const std::uint8_t> key) {
  return hmac_sha256(key, "p2pfaas key hint v1")[0];
}

}  // namespace p2pfaas::net
