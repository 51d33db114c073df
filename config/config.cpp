#include "config/config.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "config/detail/codec.hpp"
#include "config/detail/schema.hpp"
#include "config/json_input.hpp"
#include "config/numbers.hpp"

namespace p2pfaas::config {
namespace detail {
namespace {

using json = nlohmann::json;

constexpr std::size_t shown_limit = 80;

std::string show_json(const json& value) {
  if (value.is_string()) return quote(value.get_ref<const std::string&>());
  // Not dump(): that would walk the whole value to show 80 characters of it.
  return describe_json(value, shown_limit);
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view space = " \t\r\n";
  const auto first = text.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(space) - first + 1);
}

// "a:1, b:2" is how lists arrive from the environment and flags; empty items are dropped so a
// trailing comma or an empty value means "no items".
std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> items;
  while (true) {
    const auto comma = text.find(',');
    const auto item = trim(text.substr(0, comma));
    if (!item.empty()) items.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return items;
}

// The spellings people and tools write; YAML's "yes"/"on" are left out, as yaml_to_json leaves
// out YAML 1.1's other guesses.
std::optional<bool> parse_bool(std::string_view text) {
  if (text == "true" || text == "True" || text == "TRUE" || text == "1") return true;
  if (text == "false" || text == "False" || text == "FALSE" || text == "0") return false;
  return std::nullopt;
}

// Reads a JSON document into the fields it describes; collects type problems and unknown keys,
// never throws on bad input.
class reader {
 public:
  reader(const json& object, std::string prefix, problems& out)
      : object_(object), prefix_(std::move(prefix)), out_(out) {}

  template <class T, class... Rules>
  void operator()(std::string_view name, T& field, const Rules&...) {
    known_.push_back(name);
    const auto it = object_.find(std::string(name));
    if (it == object_.end()) return;
    read(*it, join_path(prefix_, name), field, has_scalars_as_strings<Rules...>);
  }

  void report_unknown_keys() const {
    for (const auto& [key, value] : object_.items()) {
      if (std::find(known_.begin(), known_.end(), key) == known_.end()) {
        out_.push_back({join_path(prefix_, key), "unknown key"});
      }
    }
  }

  // Objects: null counts as an empty object, so a YAML section whose keys are all commented out
  // is not an error.
  template <section S>
  void read(const json& value, const std::string& path, S& field, bool) {
    if (value.is_null()) return;
    if (!value.is_object()) {
      out_.push_back({path, "must be an object (got " + show_json(value) + ")"});
      return;
    }
    reader nested(value, path, out_);
    fields(nested, field);
    nested.report_unknown_keys();
  }

  template <section S>
  void read(const json& value, const std::string& path, std::map<std::string, S>& field, bool) {
    if (value.is_null()) return;
    if (!value.is_object()) {
      out_.push_back({path, "must be an object (got " + show_json(value) + ")"});
      return;
    }
    for (const auto& [name, entry] : value.items()) {
      const std::string entry_path = join_path(path, name);
      if (!entry.is_null() && !entry.is_object()) {
        out_.push_back({entry_path, "must be an object (got " + show_json(entry) + ")"});
        continue;
      }
      read(entry, entry_path, field[name], false);
    }
  }

  void read(const json& value, const std::string& path, std::string& field, bool) {
    if (missing(value, path)) return;
    if (!value.is_string()) {
      out_.push_back({path, "must be a string (got " + show_json(value) + ")"});
      return;
    }
    field = value.get<std::string>();
  }

  template <integer T>
  void read(const json& value, const std::string& path, T& field, bool) {
    if (missing(value, path)) return;
    // Both signed and unsigned wide forms, so "-1" for an unsigned field and 2^63 for a signed one
    // are reported as out of range instead of wrapping.
    std::optional<std::int64_t> negative;
    std::optional<std::uint64_t> positive;
    if (value.is_number_unsigned()) {
      positive = value.get<std::uint64_t>();
    } else if (value.is_number_integer()) {
      const auto v = value.get<std::int64_t>();
      if (v < 0) {
        negative = v;
      } else {
        positive = static_cast<std::uint64_t>(v);
      }
    } else if (value.is_string()) {
      const auto& text = value.get_ref<const std::string&>();
      if (text.starts_with('-')) {
        negative = parse_whole<std::int64_t>(text);
      } else {
        positive = parse_whole<std::uint64_t>(text);
      }
    }
    if (!negative && !positive) {
      out_.push_back({path, "must be an integer (got " + show_json(value) + ")"});
      return;
    }
    const bool fits = negative ? std::in_range<T>(*negative) : std::in_range<T>(*positive);
    if (!fits) {
      out_.push_back({path, "must be between " + show_number(std::numeric_limits<T>::min()) +
                                " and " + show_number(std::numeric_limits<T>::max()) + " (got " +
                                (negative ? show_number(*negative) : show_number(*positive)) +
                                ")"});
      return;
    }
    field = negative ? static_cast<T>(*negative) : static_cast<T>(*positive);
  }

  template <std::floating_point T>
  void read(const json& value, const std::string& path, T& field, bool) {
    if (missing(value, path)) return;
    std::optional<T> number;
    if (value.is_number()) {
      number = value.get<T>();
    } else if (value.is_string()) {
      number = parse_whole<T>(value.get_ref<const std::string&>());
      // from_chars accepts "inf" and "nan"; no field has a use for them and they defeat the
      // range checks.
      if (number && !std::isfinite(*number)) number.reset();
    }
    if (!number) {
      out_.push_back({path, "must be a number (got " + show_json(value) + ")"});
      return;
    }
    field = *number;
  }

  // Not a template: `integer` excludes bool, so this is the only overload a bool field matches.
  void read(const json& value, const std::string& path, bool& field, bool) {
    if (missing(value, path)) return;
    std::optional<bool> flag;
    if (value.is_boolean()) {
      flag = value.get<bool>();
    } else if (value.is_string()) {
      flag = parse_bool(value.get_ref<const std::string&>());
    }
    if (!flag) {
      out_.push_back({path, "must be a boolean (got " + show_json(value) + ")"});
      return;
    }
    field = *flag;
  }

  void read(const json& value, const std::string& path, std::vector<double>& field, bool) {
    if (missing(value, path)) return;
    std::vector<double> numbers;
    bool ok = true;
    const auto bad = [&](const std::string& element_path, const json& shown) {
      ok = false;
      out_.push_back({element_path, "must be a number (got " + show_json(shown) + ")"});
    };
    if (value.is_string()) {
      const auto items = split_list(value.get_ref<const std::string&>());
      for (std::size_t i = 0; i < items.size(); ++i) {
        if (const auto number = parse_finite(items[i])) {
          numbers.push_back(*number);
        } else {
          bad(path + "[" + std::to_string(i) + "]", items[i]);
        }
      }
    } else if (value.is_array()) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        const json& element = value[i];
        const std::string element_path = path + "[" + std::to_string(i) + "]";
        std::optional<double> number;
        if (element.is_number()) {
          number = element.get<double>();
          // Only a json built in code can hold these; a parsed document cannot.
          if (!std::isfinite(*number)) number.reset();
        } else if (element.is_string()) {
          number = parse_finite(element.get_ref<const std::string&>());
        }
        if (number) {
          numbers.push_back(*number);
        } else if (missing(element, element_path)) {
          ok = false;
        } else {
          bad(element_path, element);
        }
      }
    } else {
      out_.push_back(
          {path, "must be a list or a comma-separated string (got " + show_json(value) + ")"});
      return;
    }
    // All or nothing, as for string lists.
    if (ok) field = std::move(numbers);
  }

  void read(const json& value, const std::string& path, std::vector<std::string>& field,
            bool scalars) {
    if (missing(value, path)) return;
    if (value.is_string()) {
      field = split_list(value.get_ref<const std::string&>());
      return;
    }
    if (!value.is_array()) {
      out_.push_back(
          {path, "must be a list or a comma-separated string (got " + show_json(value) + ")"});
      return;
    }
    std::vector<std::string> items;
    bool ok = true;
    for (std::size_t i = 0; i < value.size(); ++i) {
      const json& element = value[i];
      const std::string element_path = path + "[" + std::to_string(i) + "]";
      if (element.is_string()) {
        items.push_back(element.get<std::string>());
      } else if (scalars && (element.is_number() || element.is_boolean())) {
        items.push_back(element.dump());
      } else {
        ok = false;
        if (!missing(element, element_path)) {
          out_.push_back({element_path, std::string(scalars ? "must be a string, number or bool"
                                                            : "must be a string") +
                                            " (got " + show_json(element) + ")"});
        }
      }
    }
    // All or nothing: a list with a bad element keeps its previous value.
    if (ok) field = std::move(items);
  }

 private:
  bool missing(const json& value, const std::string& path) {
    if (!value.is_null()) return false;
    out_.push_back({path, "missing value"});
    return true;
  }

  const json& object_;
  std::string prefix_;
  problems& out_;
  std::vector<std::string_view> known_;
};

class writer {
 public:
  explicit writer(json& object) : object_(object) {}

  template <class T, class... Rules>
  void operator()(std::string_view name, const T& field, const Rules&...) {
    object_[std::string(name)] = write(field);
  }

  template <class T>
  static json write(const T& value) {
    if constexpr (section<const T>) {
      json object = json::object();
      writer nested(object);
      fields(nested, value);
      return object;
    } else if constexpr (section_map<T>) {
      json object = json::object();
      for (const auto& [name, entry] : value) object[name] = write(entry);
      return object;
    } else {
      return json(value);
    }
  }

 private:
  json& object_;
};

class validator {
 public:
  validator(std::string prefix, problems& out) : prefix_(std::move(prefix)), out_(out) {}

  template <class T, class... Rules>
  void operator()(std::string_view name, const T& field, const Rules&... rules) {
    const std::string path = join_path(prefix_, name);
    // Short-circuits: a field reports only its first broken rule.
    (void)(check(rules, field, path) && ...);
    if constexpr (section<const T>) {
      validator nested(path, out_);
      fields(nested, field);
    } else if constexpr (section_map<T>) {
      for (const auto& [entry_name, entry] : field) {
        validator nested(join_path(path, entry_name), out_);
        fields(nested, entry);
      }
    }
  }

 private:
  template <class Rule, class T>
  bool check(const Rule& rule, const T& value, const std::string& path) {
    if constexpr (std::is_invocable_r_v<bool, const Rule&, const T&, const std::string&,
                                        problems&>) {
      return rule(value, path, out_);
    } else {
      return true;  // a marker such as scalars_as_strings, not a check
    }
  }

  std::string prefix_;
  problems& out_;
};

// Finds what a flat name such as ("executor", "slots") refers to.
class key_finder {
 public:
  key_finder(std::string_view wanted, std::string_view nested) : wanted_(wanted), nested_(nested) {}

  template <class T, class... Rules>
  void operator()(std::string_view name, T& field, const Rules&...) {
    if (name != wanted_) return;
    if constexpr (section<T>) {
      if (nested_.empty()) {
        found_ = key_kind::section;
        return;
      }
      key_finder inner(nested_, {});
      fields(inner, field);
      found_ = inner.found_;
    } else if constexpr (section_map<T>) {
      found_ = key_kind::section_map;
    } else {
      found_ = nested_.empty() ? key_kind::leaf : key_kind::unknown;
    }
  }

  key_kind found() const { return found_; }

 private:
  std::string_view wanted_;
  std::string_view nested_;
  key_kind found_ = key_kind::unknown;
};

std::string node_id_from_hostname() {
  std::array<char, 256> buffer{};
  std::string id;
  if (::gethostname(buffer.data(), buffer.size() - 1) == 0) id = buffer.data();
  // The default must pass the node.id rule whatever the host is called.
  std::replace_if(
      id.begin(), id.end(), [](char c) { return !is_name_char(c); }, '-');
  if (id.size() > 64) id.resize(64);
  if (id.empty()) id = "p2pfaas-node";
  return id;
}

}  // namespace

std::string quote(std::string_view text) {
  return quote_input(text, shown_limit);
}

bool not_empty_rule::operator()(const std::string& value, const std::string& path,
                                problems& out) const {
  if (!value.empty()) return true;
  out.push_back({path, "must not be empty"});
  return false;
}

bool max_length_rule::operator()(const std::string& value, const std::string& path,
                                 problems& out) const {
  if (value.size() <= limit) return true;
  out.push_back({path, "must be at most " + std::to_string(limit) + " characters (got " +
                           std::to_string(value.size()) + ")"});
  return false;
}

bool name_chars_rule::operator()(const std::string& value, const std::string& path,
                                 problems& out) const {
  if (std::all_of(value.begin(), value.end(), is_name_char)) return true;
  out.push_back(
      {path, "may contain only letters, digits, '.', '_' and '-' (got " + quote(value) + ")"});
  return false;
}

bool host_port_rule::operator()(const std::string& value, const std::string& path,
                                problems& out) const {
  if (allow_empty && value.empty()) return true;
  const auto parsed = split_host_port(value);
  if (parsed && parsed->second >= min_port) return true;
  out.push_back({path, std::string(allow_empty ? "must be empty or " : "must be ") +
                           "HOST:PORT or [IPV6]:PORT with port " + std::to_string(min_port) +
                           "..65535 (got " + quote(value) + ")"});
  return false;
}

bool one_of_rule::operator()(const std::string& value, const std::string& path,
                             problems& out) const {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return true;
  std::string message = "must be one of ";
  for (std::size_t i = 0; i < allowed.size(); ++i) {
    if (i > 0) message += ", ";
    message += allowed[i];
  }
  out.push_back({path, message + " (got " + quote(value) + ")"});
  return false;
}

bool ascending_boundaries_rule::operator()(const std::vector<double>& values,
                                           const std::string& path, problems& out) const {
  if (values.size() < min_size || values.size() > max_size) {
    out.push_back({path, "must have " + std::to_string(min_size) + " to " +
                             std::to_string(max_size) + " boundaries (got " +
                             std::to_string(values.size()) + ")"});
    return false;
  }
  bool ok = true;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::string element_path = path + "[" + std::to_string(i) + "]";
    const double value = values[i];
    if (!std::isfinite(value)) {
      out.push_back({element_path, "must be a finite number (got " + show_number(value) + ")"});
    } else if (!(value > 0)) {
      out.push_back({element_path, "must be > 0 (got " + show_number(value) + ")"});
    } else if (i > 0 && std::isfinite(values[i - 1]) && !(value > values[i - 1])) {
      // Against the element before only: one misplaced value is one problem, not one per
      // element after it.
      out.push_back({element_path, "must be > " + path + "[" + std::to_string(i - 1) + "] (" +
                                       show_number(values[i - 1]) + ") (got " + show_number(value) +
                                       ")"});
    } else {
      continue;
    }
    ok = false;
  }
  return ok;
}

void decode(const json& doc, config& out, problems& errors) {
  if (doc.is_null()) return;
  if (!doc.is_object()) {
    errors.push_back({"", "must be an object (got " + show_json(doc) + ")"});
    return;
  }
  reader root(doc, "", errors);
  fields(root, out);
  root.report_unknown_keys();
}

key_kind lookup_key(std::string_view section_name, std::string_view key) {
  config probe;
  key_finder finder(section_name, key);
  fields(finder, probe);
  return finder.found();
}

}  // namespace detail

std::string problem::to_string() const {
  if (path.empty()) return message;
  return path + ": " + message;
}

config defaults() {
  config value;
  value.node.id = detail::node_id_from_hostname();
  value.executor.slots =
      static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1U, 4096U));
  return value;
}

problems validate(const config& value) {
  problems out;
  detail::validator root("", out);
  detail::fields(root, value);
  // Rules between fields, once each field is valid on its own. Decided once, so one of these
  // rules failing does not hide the next.
  const bool fields_valid = out.empty();
  const auto& h = value.http;
  if (fields_valid && h.body_budget_bytes < h.max_body_bytes) {
    out.push_back({"http.body_budget_bytes", "must be >= http.max_body_bytes (" +
                                                 detail::show_number(h.max_body_bytes) + "), got " +
                                                 detail::show_number(h.body_budget_bytes) +
                                                 ": a body the node allows could never be held"});
  }
  const auto& c = value.cluster;
  if (fields_valid && c.probe_timeout_seconds >= c.probe_interval_seconds) {
    out.push_back({"cluster.probe_timeout_seconds",
                   "must be < cluster.probe_interval_seconds (" +
                       detail::show_number(c.probe_interval_seconds) + "), got " +
                       detail::show_number(c.probe_timeout_seconds) +
                       ": an indirect probe needs the rest of the period"});
  }
  const auto& e = value.executor;
  if (fields_valid && e.memory_limit_mb > e.memory_budget_mb) {
    out.push_back(
        {"executor.memory_limit_mb", "must be <= executor.memory_budget_mb (" +
                                         detail::show_number(e.memory_budget_mb) + "), got " +
                                         detail::show_number(e.memory_limit_mb) +
                                         ": one call could never get what it is allowed"});
  }
  const auto& l = value.learner;
  if (fields_valid && l.epsilon_min > l.epsilon_start) {
    out.push_back({"learner.epsilon_min", "must be <= learner.epsilon_start (" +
                                              detail::show_number(l.epsilon_start) + "), got " +
                                              detail::show_number(l.epsilon_min)});
  }
  return out;
}

problems from_json(const nlohmann::json& doc, config& out) {
  problems errors;
  detail::decode(doc, out, errors);
  auto invalid = validate(out);
  errors.insert(errors.end(), std::make_move_iterator(invalid.begin()),
                std::make_move_iterator(invalid.end()));
  return errors;
}

nlohmann::json to_json(const config& value) {
  return detail::writer::write(value);
}

}  // namespace p2pfaas::config
