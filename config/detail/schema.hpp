#pragma once

// The one description of every config field: name, storage and rules. The JSON reader, the JSON
// writer, the validator and the key lookup used by the environment and override layers are all
// visitors over these `fields` functions, so adding a field here is the whole job.
//
// Private to the config module.

#include <array>
#include <charconv>
#include <concepts>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "config/host_port.hpp"

namespace p2pfaas::config::detail {

// --- how values are shown in messages -----------------------------------------------------------

// Strings in JSON quotes (so "" and " 8" are visible), cut short so a huge value cannot flood the
// log.
std::string quote(std::string_view text);

template <class N>
std::string show_number(N value) {
  if constexpr (std::is_floating_point_v<N>) {
    // Shortest round-trip digits: 0.5 stays "0.5" and 30 is "30", not "30.000000". Plain notation
    // in the range people write by hand, so a bound of 600000 does not come out as "6e+05".
    std::array<char, 64> buffer{};
    const auto magnitude = value < 0 ? -value : value;
    const bool plain = magnitude == 0 || (magnitude >= 1e-4 && magnitude < 1e15);
    const auto result = plain ? std::to_chars(buffer.data(), buffer.data() + buffer.size(), value,
                                              std::chars_format::fixed)
                              : std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
    return std::string(buffer.data(), result.ptr);
  } else {
    return std::to_string(value);
  }
}

inline std::string join_path(std::string_view prefix, std::string_view name) {
  if (prefix.empty()) return std::string(name);
  std::string path(prefix);
  path += '.';
  path += name;
  return path;
}

// --- rules --------------------------------------------------------------------------------------
// A rule is called as rule(value, path, problems) and returns false after adding a problem. The
// validator stops at a field's first failing rule so each field reports one problem.

template <class N>
struct range_rule {
  N lo;
  N hi;
  bool lo_exclusive;

  template <class T>
  bool operator()(const T& value, const std::string& path, problems& out) const {
    if (lo_exclusive ? !(value > lo) : value < lo) {
      out.push_back({path, std::string(lo_exclusive ? "must be > " : "must be >= ") +
                               show_number(lo) + " (got " + show_number(value) + ")"});
      return false;
    }
    if (value > hi) {
      out.push_back({path, "must be <= " + show_number(hi) + " (got " + show_number(value) + ")"});
      return false;
    }
    return true;
  }
};

// Inclusive on both ends.
template <class N>
range_rule<N> in_range(N lo, N hi) {
  return {lo, hi, false};
}

// Exclusive lower bound, inclusive upper bound: for durations where zero would mean "never".
template <class N>
range_rule<N> above(N lo, N hi) {
  return {lo, hi, true};
}

struct not_empty_rule {
  bool operator()(const std::string& value, const std::string& path, problems& out) const;
};
inline not_empty_rule not_empty() {
  return {};
}

struct max_length_rule {
  std::size_t limit;
  bool operator()(const std::string& value, const std::string& path, problems& out) const;
};
inline max_length_rule max_length(std::size_t limit) {
  return {limit};
}

// [A-Za-z0-9._-]: safe in URLs, file names, metric labels and dotted override keys.
struct name_chars_rule {
  bool operator()(const std::string& value, const std::string& path, problems& out) const;
};
inline name_chars_rule name_chars() {
  return {};
}

struct host_port_rule {
  std::uint16_t min_port;
  bool allow_empty;
  bool operator()(const std::string& value, const std::string& path, problems& out) const;
};
inline host_port_rule host_port(std::uint16_t min_port) {
  return {min_port, false};
}
inline host_port_rule empty_or_host_port(std::uint16_t min_port) {
  return {min_port, true};
}

struct one_of_rule {
  std::span<const std::string_view> allowed;
  bool operator()(const std::string& value, const std::string& path, problems& out) const;
};
inline one_of_rule one_of(std::span<const std::string_view> allowed) {
  return {allowed};
}

// Bucket boundaries: min_size..max_size finite values, each > 0 and strictly above the one before,
// so every load maps to exactly one bucket. A problem names the element ("x[2]").
struct ascending_boundaries_rule {
  std::size_t min_size;
  std::size_t max_size;
  bool operator()(const std::vector<double>& values, const std::string& path, problems& out) const;
};
inline ascending_boundaries_rule ascending_boundaries(std::size_t min_size, std::size_t max_size) {
  return {min_size, max_size};
}

// Applies rules to every element of a list, each with its own path ("cluster.join[2]").
template <class... Rules>
struct each_rule {
  std::tuple<Rules...> rules;

  bool operator()(const std::vector<std::string>& values, const std::string& path,
                  problems& out) const {
    bool ok = true;
    for (std::size_t i = 0; i < values.size(); ++i) {
      const std::string element_path = path + "[" + std::to_string(i) + "]";
      ok = std::apply([&](const auto&... r) { return (r(values[i], element_path, out) && ...); },
                      rules) &&
           ok;
    }
    return ok;
  }
};
template <class... Rules>
each_rule<Rules...> each(Rules... rules) {
  return {{rules...}};
}

// Applies rules to every key of a map ("functions.<name>").
template <class... Rules>
struct keys_rule {
  std::tuple<Rules...> rules;

  template <class V>
  bool operator()(const std::map<std::string, V>& values, const std::string& path,
                  problems& out) const {
    bool ok = true;
    for (const auto& entry : values) {
      // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
      const std::string& key = entry.first;
      const std::string key_path = join_path(path, key);
      ok =
          std::apply([&](const auto&... r) { return (r(key, key_path, out) && ...); }, rules) && ok;
    }
    return ok;
  }
};
template <class... Rules>
keys_rule<Rules...> keys(Rules... rules) {
  return {{rules...}};
}

// Marker for a string list whose elements may also be written as numbers or bools (P2PFaaS
// scheduler parameters are strings, but users write `[2, true]`). Not a check: validators skip it.
struct scalars_as_strings_t {};
inline constexpr scalars_as_strings_t scalars_as_strings{};

inline constexpr std::array<std::string_view, 5> log_levels{"trace", "debug", "info", "warn",
                                                            "error"};
inline constexpr std::array<std::string_view, 2> log_formats{"text", "json"};
inline constexpr std::array<std::string_view, 2> learner_algorithms{"q_learning", "sarsa"};
inline constexpr std::array<std::string_view, 2> reward_sources{"node", "client"};

// --- the fields ---------------------------------------------------------------------------------
// `S` is the section type or its const version, so the writer can walk a const config.

template <class S, class T>
concept view_of = std::same_as<std::remove_const_t<S>, T>;

template <class V, view_of<node_section> S>
void fields(V& v, S& s) {
  v("id", s.id, not_empty(), max_length(64), name_chars());
  v("listen", s.listen, host_port(0));
  v("advertise", s.advertise, empty_or_host_port(1));
  v("data_dir", s.data_dir, not_empty());
  v("group", s.group, not_empty());
  v("io_threads", s.io_threads, in_range(0, 256));
  v("drain_timeout_seconds", s.drain_timeout_seconds, in_range(0.0, 3600.0));
}

template <class V, view_of<http_section> S>
void fields(V& v, S& s) {
  v("max_body_bytes", s.max_body_bytes, in_range<std::int64_t>(1, 1073741824));
  // At most 65535: the HTTP parser (Beast) keeps a field in 16-bit offsets, and this limit is
  // what keeps every header and trailer field within that.
  v("max_header_bytes", s.max_header_bytes, in_range(1024, 65535));
  v("read_timeout_seconds", s.read_timeout_seconds, above(0.0, 3600.0));
  v("max_connections", s.max_connections, in_range(1, 1000000));
  // 1 MiB .. 64 GiB; config.cpp also checks it is >= max_body_bytes.
  v("body_budget_bytes", s.body_budget_bytes,
    in_range<std::int64_t>(1048576, std::int64_t{68719476736}));
}

template <class V, view_of<executor_section> S>
void fields(V& v, S& s) {
  v("slots", s.slots, in_range(1, 4096));
  v("queue", s.queue, in_range(0, 1000000));
  v("timeout_seconds", s.timeout_seconds, above(0.0, 86400.0));
  v("memory_limit_mb", s.memory_limit_mb, in_range(1, 1048576));
  v("memory_budget_mb", s.memory_budget_mb, in_range(1, 1048576));
  v("fair_sources", s.fair_sources);
  v("keep_alive_seconds", s.keep_alive_seconds, in_range(0.0, 86400.0));
  v("cold_start_ms", s.cold_start_ms, in_range(0.0, 600000.0));
  v("per_call_overhead_ms", s.per_call_overhead_ms, in_range(0.0, 600000.0));
  v("seed", s.seed);
}

template <class V, view_of<cluster_section> S>
void fields(V& v, S& s) {
  v("join", s.join, each(host_port(1)));
  v("key_file", s.key_file);
  v("probe_interval_seconds", s.probe_interval_seconds, above(0.0, 60.0));
  v("probe_timeout_seconds", s.probe_timeout_seconds, above(0.0, 60.0));
  v("indirect_checks", s.indirect_checks, in_range(0, 16));
  v("suspicion_multiplier", s.suspicion_multiplier, above(0.0, 100.0));
  v("suspicion_max_multiplier", s.suspicion_max_multiplier, in_range(1.0, 100.0));
  v("retransmit_multiplier", s.retransmit_multiplier, in_range(1, 32));
  v("gossip_interval_seconds", s.gossip_interval_seconds, above(0.0, 60.0));
  v("gossip_fanout", s.gossip_fanout, in_range(0, 32));
  v("push_pull_interval_seconds", s.push_pull_interval_seconds, above(0.0, 3600.0));
  v("join_retry_seconds", s.join_retry_seconds, above(0.0, 3600.0));
  v("reap_after_seconds", s.reap_after_seconds, above(0.0, 86400.0));
  v("replay_window_seconds", s.replay_window_seconds, above(0.0, 86400.0));
  v("load_publish_seconds", s.load_publish_seconds, in_range(0.0, 60.0));
  v("link_max_in_flight", s.link_max_in_flight, in_range(1, 1000000));
  v("link_connect_timeout_seconds", s.link_connect_timeout_seconds, above(0.0, 60.0));
  v("link_ping_interval_seconds", s.link_ping_interval_seconds, above(0.0, 3600.0));
}

template <class V, view_of<admin_section> S>
void fields(V& v, S& s) {
  v("token_file", s.token_file);
}

template <class V, view_of<scheduler_section> S>
void fields(V& v, S& s) {
  v("name", s.name, not_empty());
  v("parameters", s.parameters, scalars_as_strings);
  v("probe_timeout_seconds", s.probe_timeout_seconds, above(0.0, 10.0));
}

template <class V, view_of<learner_section> S>
void fields(V& v, S& s) {
  v("algorithm", s.algorithm, one_of(learner_algorithms));
  v("alpha", s.alpha, above(0.0, 1.0));
  // Below 1 so Q stays bounded in a task that never ends.
  v("discount", s.discount, in_range(0.0, 0.999));
  v("epsilon_start", s.epsilon_start, in_range(0.0, 1.0));
  v("epsilon_min", s.epsilon_min, in_range(0.0, 1.0));
  v("epsilon_decay", s.epsilon_decay, above(0.0, 1.0));
  v("epsilon_decay_enabled", s.epsilon_decay_enabled);
  v("own_load_buckets", s.own_load_buckets, ascending_boundaries(1, 32));
  v("peer_load_buckets", s.peer_load_buckets, ascending_boundaries(1, 32));
  v("reward_met", s.reward_met, in_range(-1000.0, 1000.0));
  v("reward_missed", s.reward_missed, in_range(-1000.0, 1000.0));
  v("reward_rejected", s.reward_rejected, in_range(-1000.0, 1000.0));
  v("reward_source", s.reward_source, one_of(reward_sources));
  v("window_size", s.window_size, in_range(1, 1000000));
  v("save_interval_seconds", s.save_interval_seconds, in_range(0.0, 86400.0));
}

template <class V, view_of<compat_section> S>
void fields(V& v, S& s) {
  v("discovery_listen", s.discovery_listen, empty_or_host_port(0));
  v("learner_listen", s.learner_listen, empty_or_host_port(0));
}

template <class V, view_of<log_section> S>
void fields(V& v, S& s) {
  v("level", s.level, one_of(log_levels));
  v("format", s.format, one_of(log_formats));
}

template <class V, view_of<function_section> S>
void fields(V& v, S& s) {
  v("deadline_seconds", s.deadline_seconds, in_range(0.0, 86400.0));
  v("timeout_seconds", s.timeout_seconds, in_range(0.0, 86400.0));
  v("task_type", s.task_type, in_range(0, 1023));
}

template <class V, view_of<config> S>
void fields(V& v, S& c) {
  v("node", c.node);
  v("http", c.http);
  v("executor", c.executor);
  v("cluster", c.cluster);
  v("admin", c.admin);
  v("scheduler", c.scheduler);
  v("learner", c.learner);
  v("compat", c.compat);
  v("log", c.log);
  v("functions", c.functions, keys(not_empty(), name_chars()));
}

// --- field kinds the visitors switch on ---------------------------------------------------------

struct any_visitor {
  template <class... A>
  void operator()(A&&...) {}
};

// A struct with its own `fields`: read and written as a nested object.
template <class T>
concept section = requires(any_visitor& v, T& t) {
  fields(v, t);
};

// A map from user-chosen names to sections ("functions").
template <class T>
struct is_section_map : std::false_type {};
template <section S>
struct is_section_map<std::map<std::string, S>> : std::true_type {};
template <class T>
concept section_map = is_section_map<std::remove_const_t<T>>::value;

template <class T>
concept integer = std::integral<T> && !std::same_as<T, bool>;

template <class... Rules>
inline constexpr bool has_scalars_as_strings = (std::same_as<Rules, scalars_as_strings_t> || ...);

}  // namespace p2pfaas::config::detail
