#include "bench/scenario.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "config/detail/schema.hpp"
#include "config/numbers.hpp"
#include "config/yaml_file.hpp"

namespace p2pfaas::bench {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using config::problems;
using config::detail::join_path;
using config::detail::show_number;

constexpr std::size_t shown_limit = 80;
constexpr std::string_view central_jsq = "CentralJSQ";

// Keys of cluster.settings the bench sets itself on every node (from other scenario fields or
// per run); a setting for one of them would be overridden or would fight the bench.
constexpr std::string_view managed_settings[][2] = {
    {"node.id", "set by the bench"},
    {"node.listen", "set by the bench"},
    {"node.advertise", "set by the bench"},
    {"node.data_dir", "set by the bench"},
    {"cluster.join", "set by the bench"},
    {"cluster.key_file", "set by the bench: use cluster.key"},
    {"admin.token_file", "set by the bench"},
    {"executor.slots", "set by the bench: use cluster.slots"},
    {"executor.queue", "set by the bench: use cluster.queue"},
    {"executor.seed", "set by the bench: use cluster.seed"},
    {"scheduler.name", "set by the bench: use policies"},
    {"scheduler.parameters", "set by the bench: use policies"},
};

// A profile's numbers; the knobs among them are what the bench sets on the nodes (executor.<knob>,
// and replicas = how many nodes serve).
constexpr std::string_view profile_knobs[] = {"slots",           "queue",
                                              "memory_limit_mb", "per_call_overhead_ms",
                                              "cold_start_ms",   "keep_alive_seconds",
                                              "replicas"};
constexpr std::string_view profile_numbers[] = {"slots",
                                                "queue",
                                                "memory_limit_mb",
                                                "per_call_overhead_ms",
                                                "cold_start_ms",
                                                "keep_alive_seconds",
                                                "replicas",
                                                "price_per_gb_second",
                                                "price_per_request",
                                                "security_score"};

template <std::size_t N>
bool contains(const std::string_view (&names)[N], std::string_view name) {
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

std::string index_path(std::string_view path, std::size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

// Strings in JSON quotes (so "" and " 8" are visible), anything else as JSON; cut short.
std::string show(const json& value) {
  std::string shown = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (shown.size() > shown_limit) {
    const bool quoted = value.is_string();
    shown.resize(shown_limit);
    shown += quoted ? "...\"" : "...";
  }
  return shown;
}

bool is_name_char(char c, bool dots) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || (dots && c == '.');
}

bool is_name(std::string_view text, bool dots) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [dots](char c) { return is_name_char(c, dots); });
}

// Scalars arrive as strings (read_yaml_file keeps them so); numbers and bools are accepted too
// for documents built in code.
std::optional<std::string> scalar_text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number() || value.is_boolean()) return value.dump();
  return std::nullopt;
}

const json& empty_object() {
  static const json empty = json::object();
  return empty;
}

const json& empty_list() {
  static const json empty = json::array();
  return empty;
}

// An object field: null (all keys commented out) counts as empty; nullptr after a problem.
const json* as_object(const json& value, const std::string& path, problems& out) {
  if (value.is_null()) return &empty_object();
  if (value.is_object()) return &value;
  out.push_back({path, "must be an object (got " + show(value) + ")"});
  return nullptr;
}

const json* as_list(const json& value, const std::string& path, problems& out) {
  if (value.is_null()) return &empty_list();
  if (value.is_array()) return &value;
  out.push_back({path, "must be a list (got " + show(value) + ")"});
  return nullptr;
}

std::optional<std::string> as_text(const json& value, const std::string& path, problems& out) {
  if (value.is_null()) {
    out.push_back({path, "missing value"});
    return std::nullopt;
  }
  auto text = scalar_text(value);
  if (!text) out.push_back({path, "must be a string (got " + show(value) + ")"});
  return text;
}

std::optional<double> as_number(const json& value, const std::string& path, problems& out) {
  if (value.is_null()) {
    out.push_back({path, "missing value"});
    return std::nullopt;
  }
  std::optional<double> number;
  if (value.is_number()) {
    number = value.get<double>();
    if (!std::isfinite(*number)) number.reset();
  } else if (value.is_string()) {
    number = config::parse_finite(value.get_ref<const std::string&>());
  }
  if (!number) out.push_back({path, "must be a number (got " + show(value) + ")"});
  return number;
}

// [lo, hi], or (lo, hi] when lo_exclusive, with config's messages.
bool check_range(double value, double lo, double hi, bool lo_exclusive, const std::string& path,
                 problems& out) {
  return config::detail::range_rule<double>{lo, hi, lo_exclusive}(value, path, out);
}

// Reads the fields of one object, remembering which keys were asked for so the rest can be
// reported as unknown keys.
class object_fields {
 public:
  object_fields(const json& object, std::string prefix, problems& out)
      : object_(object), prefix_(std::move(prefix)), out_(out) {}

  std::string path(std::string_view name) const { return join_path(prefix_, name); }
  problems& out() { return out_; }

  // The value of `name`, or nullptr when absent.
  const json* find(std::string_view name) {
    known_.emplace_back(name);
    const auto it = object_.find(std::string(name));
    return it == object_.end() ? nullptr : &*it;
  }

  bool text(std::string_view name, std::string& field) {
    const json* value = find(name);
    if (!value) return false;
    auto text = as_text(*value, path(name), out_);
    if (text) field = std::move(*text);
    return text.has_value();
  }

  // A whole number in [lo, hi], read as `Whole` (std::int64_t, or std::uint64_t for seeds).
  template <class Whole, class T>
  bool whole(std::string_view name, T& field, Whole lo, Whole hi) {
    const json* value = find(name);
    if (!value) return false;
    const std::string at = path(name);
    if (value->is_null()) {
      out_.push_back({at, "missing value"});
      return false;
    }
    const auto text = scalar_text(*value);
    const auto number = text ? config::parse_whole<Whole>(*text) : std::nullopt;
    if (!number) {
      std::string expected = "must be an integer";
      // An unsigned field says its range: "-1" is refused as a number, before any range check.
      if constexpr (std::is_unsigned_v<Whole>)
        expected += " from " + std::to_string(lo) + " to " + std::to_string(hi);
      out_.push_back({at, expected + " (got " + show(*value) + ")"});
      return false;
    }
    if (*number < lo) {
      out_.push_back(
          {at, "must be >= " + std::to_string(lo) + " (got " + std::to_string(*number) + ")"});
      return false;
    }
    if (*number > hi) {
      out_.push_back(
          {at, "must be <= " + std::to_string(hi) + " (got " + std::to_string(*number) + ")"});
      return false;
    }
    field = static_cast<T>(*number);
    return true;
  }

  template <class T>
  bool integer(std::string_view name, T& field, std::int64_t lo, std::int64_t hi) {
    return whole<std::int64_t>(name, field, lo, hi);
  }

  bool unsigned64(std::string_view name, std::uint64_t& field, std::uint64_t lo) {
    return whole<std::uint64_t>(name, field, lo, std::numeric_limits<std::uint64_t>::max());
  }

  bool number(std::string_view name, double& field, double lo, double hi,
              bool lo_exclusive = false) {
    const json* value = find(name);
    if (!value) return false;
    const std::string at = path(name);
    const auto number = as_number(*value, at, out_);
    if (!number || !check_range(*number, lo, hi, lo_exclusive, at, out_)) return false;
    field = *number;
    return true;
  }

  template <class Enum>
  bool one_of(std::string_view name, Enum& field,
              std::initializer_list<std::pair<std::string_view, Enum>> allowed) {
    const json* value = find(name);
    if (!value) return false;
    const std::string at = path(name);
    const auto text = as_text(*value, at, out_);
    if (!text) return false;
    for (const auto& [spelling, choice] : allowed) {
      if (*text == spelling) {
        field = choice;
        return true;
      }
    }
    std::string message = "must be one of ";
    bool first = true;
    for (const auto& [spelling, choice] : allowed) {
      if (!first) message += ", ";
      first = false;
      message += spelling;
    }
    out_.push_back({at, message + " (got " + show(*value) + ")"});
    return false;
  }

  // name -> text; the values must be scalars.
  void text_map(std::string_view name, std::map<std::string, std::string>& field) {
    const json* value = find(name);
    if (!value) return;
    const std::string at = path(name);
    const json* object = as_object(*value, at, out_);
    if (!object) return;
    for (const auto& [key, entry] : object->items()) {
      const std::string entry_path = join_path(at, key);
      if (entry.is_null()) {
        out_.push_back({entry_path, "missing value"});
      } else if (auto text = scalar_text(entry)) {
        field[key] = std::move(*text);
      } else {
        out_.push_back({entry_path, "must be a string, number or bool (got " + show(entry) + ")"});
      }
    }
  }

  // A list of scalars (policy parameters, emulated field names).
  void text_list(std::string_view name, std::vector<std::string>& field) {
    const json* value = find(name);
    if (!value) return;
    const std::string at = path(name);
    const json* list = as_list(*value, at, out_);
    if (!list) return;
    std::vector<std::string> items;
    for (std::size_t i = 0; i < list->size(); ++i) {
      if (auto text = as_text((*list)[i], index_path(at, i), out_)) items.push_back(*text);
    }
    field = std::move(items);
  }

  bool has(std::string_view name) const { return object_.contains(std::string(name)); }

  void report_unknown_keys() const {
    for (const auto& [key, value] : object_.items()) {
      if (std::find(known_.begin(), known_.end(), key) == known_.end()) {
        out_.push_back({path(key), "unknown key"});
      }
    }
  }

 private:
  const json& object_;
  std::string prefix_;
  problems& out_;
  std::vector<std::string> known_;
};

// Reads a whole text file; "" and a problem at `path` when it cannot.
std::optional<std::string> read_text(const fs::path& file, const std::string& what,
                                     const std::string& path, problems& out) {
  std::error_code ec;
  if (fs::is_directory(file, ec)) {
    out.push_back({path, "cannot read " + what + " " + file.string() + ": is a directory"});
    return std::nullopt;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    out.push_back(
        {path, "cannot read " + what + " " + file.string() + ": " + std::strerror(errno)});
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    out.push_back({path, "cannot read " + what + " " + file.string() + ": read error"});
    return std::nullopt;
  }
  return text.str();
}

fs::path resolve(const fs::path& dir, const fs::path& relative) {
  return (relative.is_absolute() ? relative : dir / relative).lexically_normal();
}

// Problems of a file read on its own (path "" = the file as a whole) placed under `prefix`.
void append_under(const std::string& prefix, problems from, problems& to) {
  for (auto& p : from) {
    p.path = p.path.empty() ? prefix : join_path(prefix, p.path);
    to.push_back(std::move(p));
  }
}

// cluster.settings: dotted keys (nested mappings are flattened: {log: {level: warn}} is
// log.level), each checked against the daemon's config the way p2pfaasd --set checks it.
void read_settings(const json& value, const std::string& path,
                   std::map<std::string, std::string>& field, problems& out) {
  const json* object = as_object(value, path, out);
  if (!object) return;
  std::vector<std::pair<std::string, std::string>> flat;
  const auto flatten = [&](auto& self, const json& node, const std::string& dotted) -> void {
    for (const auto& [key, entry] : node.items()) {
      const std::string name = dotted.empty() ? key : dotted + "." + key;
      const std::string entry_path = join_path(path, name);
      if (entry.is_object()) {
        self(self, entry, name);
      } else if (entry.is_null()) {
        out.push_back({entry_path, "missing value"});
      } else if (auto text = scalar_text(entry)) {
        flat.emplace_back(name, std::move(*text));
      } else {
        out.push_back({entry_path, "must be a string, number or bool (a list as \"a,b\") (got " +
                                       show(entry) + ")"});
      }
    }
  };
  flatten(flatten, *object, "");
  std::vector<std::pair<std::string, std::string>> checked;
  for (auto& [key, text] : flat) {
    const auto managed = std::find_if(std::begin(managed_settings), std::end(managed_settings),
                                      [&](const auto& entry) { return entry[0] == key; });
    if (managed != std::end(managed_settings)) {
      out.push_back({join_path(path, key), std::string((*managed)[1])});
      continue;
    }
    if (key == "log.level" && (text == "warn" || text == "error")) {
      out.push_back({join_path(path, key),
                     "must be trace, debug or info (got \"" + text +
                         "\"): the bench reads each node's port from its \"listening on\" line, "
                         "logged at info"});
      continue;
    }
    checked.emplace_back(key, text);
  }
  // The daemon's own decoding and validation, over its defaults: unknown keys and bad values are
  // found here rather than when the first node refuses to start.
  const auto loaded = config::load({.overrides = checked});
  for (const auto& p : loaded.errors) out.push_back({join_path(path, p.path), p.message});
  for (auto& [key, text] : checked) field[key] = std::move(text);
}

void read_cluster(const json& value, cluster_spec& cluster, const fs::path& dir, bool& nodes_ok,
                  problems& out) {
  const json* object = as_object(value, "cluster", out);
  if (!object) return;
  object_fields f(*object, "cluster", out);
  const bool has_nodes = f.has("nodes");
  nodes_ok = f.integer("nodes", cluster.nodes, 1, 64) || !has_nodes;
  f.integer("slots", cluster.slots, 1, 4096);
  f.integer("queue", cluster.queue, 0, 1000000);
  f.unsigned64("seed", cluster.seed, 1);
  if (f.text("key", cluster.key) && cluster.key != "generate" && cluster.key != "none") {
    if (cluster.key.empty()) {
      out.push_back({"cluster.key", "must be \"generate\", \"none\" or the path of a key file"});
    } else {
      const fs::path key_file = resolve(dir, cluster.key);
      std::error_code ec;
      if (!fs::is_regular_file(key_file, ec)) {
        out.push_back({"cluster.key", "no key file " + key_file.string() +
                                          " (give \"generate\", \"none\" or a key file's path, "
                                          "relative to the scenario file)"});
      }
      cluster.key = key_file.string();
    }
  }
  if (const json* settings = f.find("settings")) {
    read_settings(*settings, "cluster.settings", cluster.settings, out);
  }
  f.report_unknown_keys();
}

void read_workloads(const json* value, std::vector<workload_spec>& workloads, problems& out) {
  if (!value) {
    out.push_back({"workloads", "missing (at least one function to call)"});
    return;
  }
  const json* list = as_list(*value, "workloads", out);
  if (!list) return;
  if (list->empty()) {
    out.push_back({"workloads", "must list at least one workload"});
    return;
  }
  std::map<std::string, std::size_t> names;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string at = index_path("workloads", i);
    const json* object = as_object((*list)[i], at, out);
    if (!object) continue;
    object_fields f(*object, at, out);
    workload_spec w;
    const bool has_function = f.text("function", w.function);
    if (!f.has("function")) {
      out.push_back({f.path("function"), "missing"});
    } else if (has_function && !is_name(w.function, false)) {
      out.push_back({f.path("function"), "may contain only letters, digits, '_' and '-' (got " +
                                             show(w.function) + ")"});
    }
    const bool has_name = f.text("name", w.name);
    if (!f.has("name")) w.name = w.function;
    if (has_name && !is_name(w.name, true)) {
      out.push_back({f.path("name"), "may contain only letters, digits, '.', '_' and '-' (got " +
                                         show(w.name) + ")"});
    } else if (!w.name.empty()) {
      const auto [it, fresh] = names.emplace(w.name, i);
      if (!fresh) {
        out.push_back({f.path("name"), show(w.name) + " is also " +
                                           index_path("workloads", it->second) +
                                           "'s name (names must be unique; a name defaults to "
                                           "the function)"});
      }
    }
    f.text_map("parameters", w.parameters);
    f.number("weight", w.weight, 0, 1e6, true);
    f.number("deadline_seconds", w.deadline_seconds, 0, 3600);
    f.report_unknown_keys();
    workloads.push_back(std::move(w));
  }
}

void read_policy(const json& value, const std::string& at, policy_spec& policy, problems& out) {
  const json* object = as_object(value, at, out);
  if (!object) return;
  object_fields f(*object, at, out);
  policy.parameters.clear();
  if (!f.text("name", policy.name)) {
    if (!f.has("name")) out.push_back({f.path("name"), "missing"});
  } else if (policy.name.empty()) {
    out.push_back({f.path("name"), "must not be empty"});
  }
  f.text_list("parameters", policy.parameters);
  if (policy.name == central_jsq && !policy.parameters.empty()) {
    out.push_back({f.path("parameters"),
                   "must be empty for CentralJSQ (the bench dispatches; nodes run NoScheduler)"});
  }
  f.report_unknown_keys();
}

void read_policies(const json& value, std::vector<policy_spec>& policies, problems& out) {
  const json* list = as_list(value, "policies", out);
  if (!list) return;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string at = index_path("policies", i);
    policy_spec policy;
    read_policy((*list)[i], at, policy, out);
    for (std::size_t j = 0; j < policies.size(); ++j) {
      if (!policy.name.empty() && policies[j].name == policy.name &&
          policies[j].parameters == policy.parameters) {
        out.push_back({at, "same policy and parameters as " + index_path("policies", j)});
        break;
      }
    }
    policies.push_back(std::move(policy));
  }
}

void read_load(const json& value, load_spec& load, const fs::path& dir, int nodes, bool nodes_ok,
               problems& out) {
  const json* object = as_object(value, "load", out);
  if (!object) return;
  object_fields f(*object, "load", out);
  const bool arrivals_ok = f.one_of("arrivals", load.arrivals,
                                    {{"poisson", arrival_kind::poisson},
                                     {"constant", arrival_kind::constant},
                                     {"trace", arrival_kind::trace}}) ||
                           !f.has("arrivals");
  f.integer("closed_loop_clients", load.closed_loop_clients, 0, 1000);
  f.integer("requests", load.requests, 0, 100000000);
  f.number("timeout_seconds", load.timeout_seconds, 0, 3600, true);

  bool rates_ok = true;
  if (const json* rates = f.find("rates")) {
    const std::string at = f.path("rates");
    std::vector<double> values;
    if (rates->is_array()) {
      for (std::size_t i = 0; i < rates->size(); ++i) {
        const std::string element = index_path(at, i);
        const auto number = as_number((*rates)[i], element, out);
        if (number && check_range(*number, 0, 1e6, false, element, out)) {
          values.push_back(*number);
        } else {
          rates_ok = false;
        }
      }
    } else if (rates->is_null()) {
      out.push_back({at, "missing value"});
      rates_ok = false;
    } else {
      const auto text = scalar_text(*rates);
      const auto number = text ? config::parse_finite(*text) : std::nullopt;
      if (!number) {
        out.push_back({at, "must be a number or a list of numbers (got " + show(*rates) + ")"});
        rates_ok = false;
      } else if (check_range(*number, 0, 1e6, false, at, out)) {
        values.push_back(*number);
      } else {
        rates_ok = false;
      }
    }
    if (rates_ok) {
      if (values.empty()) {
        out.push_back({at, "must have 1 value or one per node (got none)"});
        rates_ok = false;
      } else if (values.size() != 1 && nodes_ok &&
                 values.size() != static_cast<std::size_t>(nodes)) {
        out.push_back({at, "must have 1 value (the same for every node) or cluster.nodes (" +
                               std::to_string(nodes) +
                               ") values, one per node of the launched cluster (got " +
                               std::to_string(values.size()) + ")"});
        rates_ok = false;
      }
      load.rates = std::move(values);
    }
  }
  if (load.closed_loop_clients > 0) {
    for (const char* unused : {"rates", "arrivals", "trace"}) {
      if (f.has(unused)) {
        out.push_back({f.path(unused),
                       "not used by a closed loop (load.closed_loop_clients > 0): "
                       "remove it or set closed_loop_clients to 0"});
      }
    }
  } else if (rates_ok && std::all_of(load.rates.begin(), load.rates.end(),
                                     [](double rate) { return rate == 0; })) {
    out.push_back({f.path("rates"), "must not all be 0 (no call would be sent)"});
  }

  std::string trace;
  if (f.text("trace", trace) && load.closed_loop_clients == 0) {
    if (trace.empty()) {
      out.push_back({f.path("trace"), "must not be empty"});
    } else if (arrivals_ok && load.arrivals != arrival_kind::trace) {
      out.push_back({f.path("trace"), "only used with load.arrivals: trace"});
    } else {
      load.trace = resolve(dir, trace);
      if (auto text = read_text(load.trace, "trace", f.path("trace"), out)) {
        auto parsed = parse_rate_trace(*text, load.trace.string());
        if (!parsed.error.empty()) {
          out.push_back({f.path("trace"), parsed.error});
        } else {
          load.trace_steps = std::move(parsed.steps);
        }
      }
    }
  } else if (arrivals_ok && load.arrivals == arrival_kind::trace && !f.has("trace") &&
             load.closed_loop_clients == 0) {
    out.push_back({f.path("trace"), "missing (load.arrivals: trace needs a \"seconds,rate\" CSV)"});
  }
  f.report_unknown_keys();
}

json policy_json(const policy_spec& policy) {
  return {{"name", policy.name}, {"parameters", policy.parameters}};
}

}  // namespace

std::optional<profile_spec> read_profile(const fs::path& file, const std::string& path_prefix,
                                         problems& errors) {
  const std::size_t before = errors.size();
  problems file_errors;
  const auto doc = config::read_yaml_file(
      file, "profile file", "profile fields (name:, slots:, cold_start_ms:, ...)", file_errors);
  append_under(path_prefix, std::move(file_errors), errors);
  if (!doc) return std::nullopt;

  profile_spec p;
  p.file = file;
  p.name = file.stem().string();
  object_fields f(doc->is_null() ? empty_object() : *doc, path_prefix, errors);
  if (f.text("name", p.name) && p.name.empty()) {
    errors.push_back({f.path("name"), "must not be empty"});
  }
  f.text("description", p.description);
  // The daemon's ranges for the executor knobs (config/detail/schema.hpp).
  f.integer("slots", p.slots, 1, 4096);
  f.integer("queue", p.queue, 0, 1000000);
  f.integer("memory_limit_mb", p.memory_limit_mb, 1, 1048576);
  f.number("per_call_overhead_ms", p.per_call_overhead_ms, 0, 600000);
  f.number("cold_start_ms", p.cold_start_ms, 0, 600000);
  f.number("keep_alive_seconds", p.keep_alive_seconds, 0, 86400);
  f.integer("replicas", p.replicas, 1, 64);
  f.number("price_per_gb_second", p.price_per_gb_second, 0, 1);
  f.number("price_per_request", p.price_per_request, 0, 1);
  f.number("security_score", p.security_score, 0, 10);
  f.text_map("security_rubric", p.security_rubric);
  f.text_map("sources", p.sources);
  f.text_list("emulated", p.emulated);

  for (const auto& [field, text] : p.sources) {
    const std::string at = join_path(f.path("sources"), field);
    if (!contains(profile_numbers, field)) {
      errors.push_back({at,
                        "not a number of the profile (sources name where each number of the "
                        "profile comes from)"});
    } else if (!f.has(field)) {
      errors.push_back({at, "names the source of " + field + ", which the profile does not set"});
    } else if (text.empty()) {
      errors.push_back({at, "must not be empty"});
    }
  }
  for (const auto field : profile_numbers) {
    if (f.has(field) && !p.sources.contains(std::string(field))) {
      errors.push_back(
          {join_path(f.path("sources"), field), "missing (every number names its source)"});
    }
  }
  std::set<std::string> listed;
  for (std::size_t i = 0; i < p.emulated.size(); ++i) {
    const std::string& field = p.emulated[i];
    const std::string at = index_path(f.path("emulated"), i);
    if (!contains(profile_knobs, field)) {
      errors.push_back({at,
                        "must be a knob of the profile (slots, queue, memory_limit_mb, "
                        "per_call_overhead_ms, cold_start_ms, keep_alive_seconds, replicas) "
                        "(got " +
                            show(field) + ")"});
    } else if (!f.has(field)) {
      errors.push_back({at, field + " is not set in the profile"});
    } else if (!listed.insert(field).second) {
      errors.push_back({at, field + " is listed twice"});
    }
  }
  f.report_unknown_keys();
  if (errors.size() > before) return std::nullopt;
  return p;
}

scenario_result read_scenario(const fs::path& file) {
  scenario_result result;
  problems& out = result.errors;
  const auto doc = config::read_yaml_file(
      file, "scenario file", "scenario fields (cluster:, workloads:, load:, policies:, ...)", out);
  if (!doc) return result;

  std::error_code ec;
  fs::path absolute = fs::absolute(file, ec);
  if (ec) absolute = file;
  absolute = absolute.lexically_normal();
  const fs::path dir = absolute.parent_path();

  scenario s;
  s.file = absolute;
  s.name = file.stem().string();
  object_fields f(doc->is_null() ? empty_object() : *doc, "", out);

  if (f.text("name", s.name) && s.name.empty()) out.push_back({"name", "must not be empty"});
  f.text("description", s.description);

  bool nodes_ok = true;
  if (const json* cluster = f.find("cluster"))
    read_cluster(*cluster, s.cluster, dir, nodes_ok, out);

  read_workloads(f.find("workloads"), s.workloads, out);
  f.one_of("runs", s.runs, {{"together", workload_runs::together}, {"each", workload_runs::each}});
  if (const json* load = f.find("load")) {
    read_load(*load, s.load, dir, s.cluster.nodes, nodes_ok, out);
  }
  f.number("duration_seconds", s.duration_seconds, 0, 3600, true);
  f.number("warmup_seconds", s.warmup_seconds, 0, 3600);
  f.integer("repetitions", s.repetitions, 1, 100);
  f.unsigned64("seed", s.seed, 0);

  if (const json* policies = f.find("policies")) read_policies(*policies, s.policies, out);

  if (const json* profiles = f.find("profiles")) {
    if (const json* list = as_list(*profiles, "profiles", out)) {
      std::map<std::string, std::size_t> names;
      for (std::size_t i = 0; i < list->size(); ++i) {
        const std::string at = index_path("profiles", i);
        const auto path = as_text((*list)[i], at, out);
        if (!path) continue;
        if (path->empty()) {
          out.push_back({at, "must be the path of a profile file (got \"\")"});
          continue;
        }
        auto profile = read_profile(resolve(dir, *path), at, out);
        if (!profile) continue;
        const auto [it, fresh] = names.emplace(profile->name, i);
        if (!fresh) {
          out.push_back({at, "profile name " + show(profile->name) + " is also " +
                                 index_path("profiles", it->second) + "'s"});
        }
        s.profiles.push_back(std::move(*profile));
      }
    }
  }
  // A profile run sets these on its nodes; a cluster setting would silently replace them.
  if (!s.profiles.empty()) {
    for (const auto knob : profile_knobs) {
      const std::string key = "executor." + std::string(knob);
      if (s.cluster.settings.contains(key)) {
        out.push_back({"cluster.settings." + key,
                       "set by each profile in profile runs: remove it (or give it in the "
                       "profiles)"});
      }
    }
  }
  if (const json* policy = f.find("profile_policy")) {
    read_policy(*policy, "profile_policy", s.profile_policy, out);
    if (!f.has("profiles")) {
      out.push_back({"profile_policy", "only used with profiles (profiles: is missing)"});
    }
  }
  // At least one policy or profile; a list of the wrong type has been reported already.
  enum class listing { absent, empty, some, wrong_type };
  const auto listed = [&](std::string_view name) {
    if (!doc->is_object()) return listing::absent;
    const auto it = doc->find(std::string(name));
    if (it == doc->end()) return listing::absent;
    if (it->is_null() || (it->is_array() && it->empty())) return listing::empty;
    return it->is_array() ? listing::some : listing::wrong_type;
  };
  const listing policies = listed("policies");
  const listing profiles = listed("profiles");
  if (policies != listing::some && profiles != listing::some && policies != listing::wrong_type &&
      profiles != listing::wrong_type) {
    const bool neither = policies == listing::absent && profiles == listing::absent;
    out.push_back({"policies", std::string(neither ? "missing" : "empty") +
                                   ": list at least one policy (policies:) or platform profile "
                                   "(profiles:) to compare"});
  }
  f.report_unknown_keys();

  if (out.empty()) result.value = std::move(s);
  return result;
}

nlohmann::json scenario_json(const scenario& value) {
  json cluster = {{"nodes", value.cluster.nodes}, {"slots", value.cluster.slots},
                  {"queue", value.cluster.queue}, {"key", value.cluster.key},
                  {"seed", value.cluster.seed},   {"settings", value.cluster.settings}};
  json workloads = json::array();
  for (const auto& w : value.workloads) {
    workloads.push_back({{"name", w.name},
                         {"function", w.function},
                         {"parameters", w.parameters},
                         {"weight", w.weight},
                         {"deadline_seconds", w.deadline_seconds}});
  }
  static constexpr std::string_view arrival_names[] = {"poisson", "constant", "trace"};
  json trace_steps = json::array();
  for (const auto& step : value.load.trace_steps) {
    trace_steps.push_back({{"at_seconds", step.at_seconds}, {"rate", step.rate}});
  }
  json load = {{"arrivals", arrival_names[static_cast<int>(value.load.arrivals)]},
               {"rates", value.load.rates},
               {"trace", value.load.trace.string()},
               {"trace_steps", std::move(trace_steps)},
               {"closed_loop_clients", value.load.closed_loop_clients},
               {"requests", value.load.requests},
               {"timeout_seconds", value.load.timeout_seconds}};
  json policies = json::array();
  for (const auto& policy : value.policies) policies.push_back(policy_json(policy));
  json profiles = json::array();
  for (const auto& p : value.profiles) {
    profiles.push_back({{"name", p.name},
                        {"file", p.file.string()},
                        {"description", p.description},
                        {"slots", p.slots},
                        {"queue", p.queue},
                        {"memory_limit_mb", p.memory_limit_mb},
                        {"per_call_overhead_ms", p.per_call_overhead_ms},
                        {"cold_start_ms", p.cold_start_ms},
                        {"keep_alive_seconds", p.keep_alive_seconds},
                        {"replicas", p.replicas},
                        {"price_per_gb_second", p.price_per_gb_second},
                        {"price_per_request", p.price_per_request},
                        {"security_score", p.security_score},
                        {"security_rubric", p.security_rubric},
                        {"sources", p.sources},
                        {"emulated", p.emulated}});
  }
  return {{"name", value.name},
          {"description", value.description},
          {"file", value.file.string()},
          {"cluster", std::move(cluster)},
          {"workloads", std::move(workloads)},
          {"runs", value.runs == workload_runs::each ? "each" : "together"},
          {"load", std::move(load)},
          {"duration_seconds", value.duration_seconds},
          {"warmup_seconds", value.warmup_seconds},
          {"repetitions", value.repetitions},
          {"seed", value.seed},
          {"policies", std::move(policies)},
          {"profiles", std::move(profiles)},
          {"profile_policy", policy_json(value.profile_policy)}};
}

}  // namespace p2pfaas::bench
