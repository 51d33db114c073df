#include "scheduler/parameters.hpp"

#include <algorithm>
#include <charconv>

#include "config/json_input.hpp"

namespace p2pfaas::scheduler {

std::optional<bool> parse_go_bool(std::string_view text) {
  for (std::string_view yes : {"1", "t", "T", "TRUE", "true", "True"}) {
    if (text == yes) return true;
  }
  for (std::string_view no : {"0", "f", "F", "FALSE", "false", "False"}) {
    if (text == no) return false;
  }
  return std::nullopt;
}

parameter_reader::parameter_reader(std::string_view policy, const std::vector<std::string>& values,
                                   std::vector<std::string> names)
    : policy_(policy), values_(values), names_(std::move(names)) {}

std::string parameter_reader::label(std::size_t index) const {
  return "parameters[" + std::to_string(index) + "] (" + names_.at(index) + ")";
}

bool parameter_reader::check_count() {
  if (values_.size() <= names_.size()) return true;
  std::string usage;
  for (const auto& name : names_) usage += (usage.empty() ? "" : ", ") + name;
  errors_.push_back(std::string(policy_) + " takes at most " + std::to_string(names_.size()) +
                    " parameter" + (names_.size() == 1 ? "" : "s") + " [" + usage + "] (got " +
                    std::to_string(values_.size()) + ")");
  return false;
}

std::optional<bool> parameter_reader::boolean(std::size_t index, bool fallback) {
  if (!present(index)) return fallback;
  if (auto value = parse_go_bool(values_[index])) return value;
  errors_.push_back(label(index) + ": must be true or false (got " +
                    config::quote_input(values_[index]) + ")");
  return std::nullopt;
}

std::optional<int> parameter_reader::integer(std::size_t index, int fallback, int min, int max) {
  if (!present(index)) return fallback;
  const std::string& text = values_[index];
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    errors_.push_back(label(index) + ": must be an integer (got " + config::quote_input(text) +
                      ")");
    return std::nullopt;
  }
  if (value < min || value > max) {
    errors_.push_back(label(index) + ": must be between " + std::to_string(min) + " and " +
                      std::to_string(max) + " (got " + text + ")");
    return std::nullopt;
  }
  return value;
}

std::optional<std::string> parameter_reader::choice(std::size_t index, std::string fallback,
                                                    const std::vector<std::string>& allowed) {
  if (!present(index)) return fallback;
  const std::string& text = values_[index];
  if (std::find(allowed.begin(), allowed.end(), text) != allowed.end()) return text;
  std::string options;
  for (const auto& a : allowed) options += (options.empty() ? "" : " or ") + a;
  errors_.push_back(label(index) + ": must be " + options + " (got " + config::quote_input(text) +
                    ")");
  return std::nullopt;
}

std::string parameter_reader::error_text() const {
  std::string text;
  for (const auto& e : errors_) text += (text.empty() ? "" : "; ") + e;
  return text;
}

}  // namespace p2pfaas::scheduler
