#pragma once

#include <array>
#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace p2pfaas::config {

// The whole text must be the number: "8" is 8, "8x", " 8" and "" are not numbers.
template <class N>
std::optional<N> parse_whole(std::string_view text) {
  N value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// Like parse_whole, but "inf" and "nan" (which from_chars accepts) are not numbers: they defeat
// range checks and no value read from users has a use for them.
inline std::optional<double> parse_finite(std::string_view text) {
  auto number = parse_whole<double>(text);
  if (number && !std::isfinite(*number)) number.reset();
  return number;
}

// The shortest decimal text that reads back as `value` ("0.25", not "0.250000").
inline std::string shortest_text(double value) {
  std::array<char, 32> buffer{};
  const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return ec == std::errc() ? std::string(buffer.data(), end) : "0";
}

}  // namespace p2pfaas::config
