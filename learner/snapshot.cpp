#include "learner/snapshot.hpp"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "config/atomic_file.hpp"
#include "config/json_input.hpp"

namespace p2pfaas::learner {

using json = nlohmann::json;

namespace {

constexpr int file_format = 1;

json action_names() {
  json names = json::array();
  for (action a : all_actions) names.push_back(std::string(to_string(a)));
  return names;
}

}  // namespace

json parameters_to_json(const config::learner_section& parameters) {
  return config::to_json(config::config{.learner = parameters})["learner"];
}

json weights_to_json(const config::learner_section& parameters, const q_table& table) {
  json states = json::object();
  for (const auto& [at, values] : table) states[to_string(at)] = values;
  return {{"algorithm", parameters.algorithm},
          {"actions", action_names()},
          {"own_load_buckets", parameters.own_load_buckets},
          {"peer_load_buckets", parameters.peer_load_buckets},
          {"states", std::move(states)}};
}

table_result weights_from_json(const json& doc, const config::learner_section& parameters) {
  table_result out;
  // A table of a million bad states must not make a million messages.
  auto error = [&out](std::string text) {
    if (out.errors.size() < config::max_listed_problems) {
      out.errors.push_back(std::move(text));
    } else {
      ++out.more_errors;
    }
  };
  if (!doc.is_object()) {
    error("must be an object with \"states\"");
    return out;
  }
  for (const auto& [key, value] : doc.items()) {
    if (key != "algorithm" && key != "actions" && key != "own_load_buckets" &&
        key != "peer_load_buckets" && key != "states") {
      error(config::cut_input(key, 80) + ": unknown key");
    }
  }
  if (auto it = doc.find("actions"); it != doc.end() && *it != action_names()) {
    error("actions: must be " + action_names().dump() + " (got " + config::describe_json(*it) +
          ")");
  }
  // A table learned over other buckets means other things by the same indices.
  for (const auto& [name, mine] : {std::pair{"own_load_buckets", &parameters.own_load_buckets},
                                   std::pair{"peer_load_buckets", &parameters.peer_load_buckets}}) {
    auto it = doc.find(name);
    if (it == doc.end()) continue;
    const bool same = it->is_array() && it->size() == mine->size() &&
                      std::equal(it->begin(), it->end(), mine->begin(),
                                 [](const json& a, double b) { return a.is_number() && a == b; });
    if (!same) {
      error(std::string(name) + ": the table was learned with " + config::describe_json(*it) +
            ", this learner uses " + json(*mine).dump() + " (change learner." + name + " first)");
    }
  }
  auto states = doc.find("states");
  if (states == doc.end() || !states->is_object()) {
    error("states: must be an object of \"task,own,peer\": [4 numbers]");
    return out;
  }
  const int own = static_cast<int>(parameters.own_load_buckets.size()) + 1;
  const int peer = static_cast<int>(parameters.peer_load_buckets.size()) + 1;
  q_table table;
  for (const auto& [key, value] : states->items()) {
    const std::string where = "states[" + config::quote_input(key) + "]";
    auto at = parse_state(key, own, peer);
    if (!at) {
      error(where + ": not a state \"task,own,peer\" with task 0.." +
            std::to_string(max_task_type) + ", own 0.." + std::to_string(own - 1) + ", peer 0.." +
            std::to_string(peer - 1));
      continue;
    }
    if (!value.is_array() || value.size() != action_count) {
      error(where + ": must be a list of " + std::to_string(action_count) + " numbers");
      continue;
    }
    q_values values{};
    bool good = true;
    for (int a = 0; a < action_count; ++a) {
      const json& v = value[a];
      if (!v.is_number() || !std::isfinite(v.get<double>())) {
        error(where + "[" + std::to_string(a) + "]: must be a finite number (got " +
              config::describe_json(v) + ")");
        good = false;
        continue;
      }
      values[a] = v.get<double>();
    }
    if (good) table[*at] = values;
  }
  if (out.errors.empty()) out.table = std::move(table);
  return out;
}

std::string encode(const snapshot& saved) {
  json doc = {{"format", file_format},
              {"parameters", parameters_to_json(saved.parameters)},
              {"parameters_set_at_runtime", saved.parameters_set_at_runtime},
              {"epsilon", saved.epsilon},
              {"next_eid", saved.next_eid},
              {"weights", weights_to_json(saved.parameters, saved.table)}};
  return doc.dump(1) + "\n";
}

decoded decode(std::string_view text) {
  std::string error;
  const std::optional<json> parsed = config::parse_json_input(text, error);
  if (!parsed) return {std::nullopt, error};
  const json& doc = *parsed;
  if (!doc.is_object()) return {std::nullopt, "not a JSON object"};
  if (doc.value("format", json()) != file_format) {
    return {std::nullopt, "format must be " + std::to_string(file_format)};
  }
  snapshot out;
  // The parameters go through the config's own reader and rules, field paths and all.
  config::config base = config::defaults();
  auto params = doc.find("parameters");
  if (params == doc.end() || !params->is_object()) {
    return {std::nullopt, "parameters: must be an object"};
  }
  config::loaded patched = config::apply_patch(base, {{"learner", *params}});
  if (!patched.ok()) return {std::nullopt, patched.errors.front().to_string()};
  out.parameters = patched.value.learner;
  if (auto runtime = doc.find("parameters_set_at_runtime"); runtime != doc.end()) {
    if (!runtime->is_boolean()) return {std::nullopt, "parameters_set_at_runtime: must be a bool"};
    out.parameters_set_at_runtime = runtime->get<bool>();
  }

  auto epsilon = doc.find("epsilon");
  if (epsilon == doc.end() || !epsilon->is_number() || !(epsilon->get<double>() >= 0) ||
      epsilon->get<double>() > 1) {
    return {std::nullopt, "epsilon: must be a number in [0, 1]"};
  }
  out.epsilon = epsilon->get<double>();
  auto next_eid = doc.find("next_eid");
  if (next_eid == doc.end() || !next_eid->is_number_unsigned()) {
    return {std::nullopt, "next_eid: must be an unsigned integer"};
  }
  out.next_eid = next_eid->get<std::uint64_t>();
  auto weights = doc.find("weights");
  if (weights == doc.end()) return {std::nullopt, "weights: missing"};
  table_result table = weights_from_json(*weights, out.parameters);
  if (!table.table) return {std::nullopt, "weights." + table.errors.front()};
  out.table = std::move(*table.table);
  return {std::move(out), {}};
}

loaded_file load_file(const std::filesystem::path& path) {
  loaded_file out;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec) && !ec) return out;  // missing
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    out.what = loaded_file::status::unusable;
    out.error = std::string("cannot read it: ") + std::strerror(errno);
    return out;
  }
  decoded d = decode(text.str());
  if (!d.value) {
    out.what = loaded_file::status::unusable;
    out.error = d.error;
    return out;
  }
  out.what = loaded_file::status::loaded;
  out.value = std::move(*d.value);
  return out;
}

std::string save_file(const std::filesystem::path& path, const snapshot& saved) {
  return config::write_file_atomically(path, encode(saved));
}

std::optional<std::filesystem::path> set_aside(const std::filesystem::path& path,
                                               std::string_view why, std::string& error) {
  std::array<char, 32> stamp{};
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::strftime(stamp.data(), stamp.size(), "%Y%m%dT%H%M%SZ", &utc);
  const std::string base = path.string() + "." + std::string(why) + "-" + stamp.data();
  for (int n = 0; n < 1000; ++n) {
    std::filesystem::path target = n == 0 ? base : base + "-" + std::to_string(n);
    std::error_code ec;
    if (std::filesystem::exists(target, ec)) continue;
    // link + unlink rather than rename: link fails instead of replacing a file that appeared
    // meanwhile.
    if (::link(path.c_str(), target.c_str()) == 0) {
      ::unlink(path.c_str());
      return target;
    }
    if (errno == EEXIST) continue;
    error = std::string("cannot move it aside: ") + std::strerror(errno);
    return std::nullopt;
  }
  error = "cannot move it aside: too many corrupt copies";
  return std::nullopt;
}

}  // namespace p2pfaas::learner
