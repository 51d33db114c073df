#pragma once

// JSON from outside the node (HTTP bodies, peer frames, files on disk) and how it may appear in
// messages. Every module reads such JSON through parse_json_input and shows a client's value only
// through describe_json, quote_input or cut_input.
//
// Why: nlohmann's parser and destructor are iterative, but dump(), merge_patch(), comparisons and
// any other recursive walk take a stack frame per level, so `[[[[...]]]]` 100,000 levels deep
// overflows the stack. Nesting is therefore refused before the value is built; and a value shown
// in an error message is cut short, so a 10 MiB body cannot make a 10 MiB answer.

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace p2pfaas::config {

// Deeper than any document the node reads (a config patch is 4 levels, a Q-table 3) and far
// shallower than what a recursive walk of the value can take on a 64 KiB thread stack.
inline constexpr std::size_t max_json_depth = 64;

// An error answer names at most this many problems and then says how many more there were.
inline constexpr std::size_t max_listed_problems = 20;

// The value of `text`, or nullopt with `error` set to "not valid JSON" or "JSON nested deeper
// than <max_depth> levels" (a phrase, for "the body is ..."). Arrays and objects count one level
// each: `[]` is 1 level, a scalar 0. The depth is checked by a linear scan before the parse, so
// an over-deep document costs one pass over its bytes and no allocation.
std::optional<nlohmann::json> parse_json_input(std::string_view text, std::string& error,
                                               std::size_t max_depth = max_json_depth);

// How deep arrays and objects nest in `text`, brackets inside strings not counted; the scan
// stops as soon as the depth passes `limit` (and then returns limit + 1). Exact for valid JSON;
// for invalid text it is only a bound the parser will refuse anyway.
std::size_t json_nesting_depth(std::string_view text, std::size_t limit);

// A value for an error message: its compact JSON text when that fits in max_chars, else its type
// and size and the first max_chars characters of its text, e.g.
// `an array of 50001 elements: [1,1,1,...`. Walks only as much of the value as it shows, without
// recursion, so neither the size nor the depth of the value matters.
std::string describe_json(const nlohmann::json& value, std::size_t max_chars = 80);

// Client text in JSON quotes (so "" and " 8" are visible), cut to max_chars with "..." inside the
// quotes; invalid UTF-8 is shown as U+FFFD.
std::string quote_input(std::string_view text, std::size_t max_chars = 80);

// `text` cut to at most max_chars bytes at a UTF-8 character boundary, "..." added when cut: for
// paths and messages that already quote what they hold.
std::string cut_input(std::string_view text, std::size_t max_chars);

}  // namespace p2pfaas::config
