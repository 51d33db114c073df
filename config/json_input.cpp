#include "config/json_input.hpp"

#include <vector>

namespace p2pfaas::config {
namespace {

using json = nlohmann::json;

// The longest prefix of `text` of at most `limit` bytes that does not end inside a UTF-8
// sequence (continuation bytes are 10xxxxxx), so a cut never makes valid text invalid. A
// sequence has at most three continuation bytes: backing off further would only be for text
// that is invalid anyway, which the callers' dump shows as U+FFFD.
std::string_view utf8_prefix(std::string_view text, std::size_t limit) {
  if (text.size() <= limit) return text;
  std::size_t end = limit;
  while (end > 0 && limit - end < 3 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
    --end;
  return text.substr(0, end);
}

std::string dump_string(std::string_view text) {
  return json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
}

// A scalar's JSON text; a string is cut to about `budget` characters first, so a 10 MiB string
// is never copied whole.
std::string scalar_text(const json& value, std::size_t budget) {
  switch (value.type()) {
    case json::value_t::string: {
      const auto& text = value.get_ref<const std::string&>();
      return dump_string(utf8_prefix(text, budget + 1));
    }
    case json::value_t::binary:
      // Never produced by the parser; only a value built in code can hold bytes.
      return "<binary>";
    case json::value_t::discarded:
      return "<discarded>";
    default:
      return value.dump();  // null, boolean, number: a few characters
  }
}

std::string size_of(const json& value) {
  const std::size_t n =
      value.is_string() ? value.get_ref<const std::string&>().size() : value.size();
  if (value.is_object())
    return "an object of " + std::to_string(n) + (n == 1 ? " member" : " members");
  if (value.is_array())
    return "an array of " + std::to_string(n) + (n == 1 ? " element" : " elements");
  if (value.is_string()) return "a string of " + std::to_string(n) + (n == 1 ? " byte" : " bytes");
  return std::string("a ") + value.type_name();
}

}  // namespace

std::size_t json_nesting_depth(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  std::size_t deepest = 0;
  bool in_string = false;
  const char* p = text.data();
  const char* const end = p + text.size();
  for (; p != end; ++p) {
    const char c = *p;
    if (in_string) {
      if (c == '\\') {
        // The escaped character, '"' and '\\' included, cannot end the string.
        if (++p == end) break;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > deepest) {
          deepest = depth;
          if (deepest > limit) return limit + 1;
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return deepest;
}

std::optional<json> parse_json_input(std::string_view text, std::string& error,
                                     std::size_t max_depth) {
  if (json_nesting_depth(text, max_depth) > max_depth) {
    error = "JSON nested deeper than " + std::to_string(max_depth) + " levels";
    return std::nullopt;
  }
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    error = "not valid JSON";
    return std::nullopt;
  }
  error.clear();
  return value;
}

std::string describe_json(const json& value, std::size_t max_chars) {
  // An explicit stack of open containers instead of recursion. Each level opened writes at least
  // one character and the walk stops once the text passes max_chars, so the stack stays small.
  struct open_container {
    const json* container;
    json::const_iterator next;
  };
  std::vector<open_container> stack;
  std::string out;
  const auto full = [&] { return out.size() > max_chars; };
  const auto start = [&](const json& v) {
    if (v.is_object() || v.is_array()) {
      out += v.is_object() ? '{' : '[';
      stack.push_back({&v, v.cbegin()});
    } else {
      out += scalar_text(v, max_chars - std::min(out.size(), max_chars));
    }
  };
  start(value);
  while (!stack.empty() && !full()) {
    open_container& top = stack.back();
    if (top.next == top.container->cend()) {
      out += top.container->is_object() ? '}' : ']';
      stack.pop_back();
      continue;
    }
    if (top.next != top.container->cbegin()) out += ',';
    const auto at = top.next++;  // before start(), which may reallocate the stack
    if (top.container->is_object()) {
      out += dump_string(utf8_prefix(at.key(), max_chars + 1));
      out += ':';
      if (full()) break;
    }
    start(at.value());
  }
  if (stack.empty() && !full()) return out;
  // The text so far is valid UTF-8 (strings went through dump's replacement), so cutting at a
  // character boundary keeps it valid.
  return size_of(value) + ": " + std::string(utf8_prefix(out, max_chars)) + "...";
}

std::string quote_input(std::string_view text, std::size_t max_chars) {
  const bool cut = text.size() > max_chars;
  std::string shown = dump_string(utf8_prefix(text, max_chars));
  if (cut) shown.insert(shown.size() - 1, "...");
  return shown;
}

std::string cut_input(std::string_view text, std::size_t max_chars) {
  if (text.size() <= max_chars) return std::string(text);
  return std::string(utf8_prefix(text, max_chars)) + "...";
}

}  // namespace p2pfaas::config
