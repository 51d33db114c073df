#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "learner/agent.hpp"

namespace p2pfaas::learner {

// The learner's parameters as GET /learner/parameters shows them: learner.* of the config.
nlohmann::json parameters_to_json(const config::learner_section& parameters);

// The Q-table as GET /learner/weights shows it:
// {"algorithm","actions":[names by number],"own_load_buckets","peer_load_buckets",
//  "states":{"task,own,peer":[Q of action 0..3]}}
nlohmann::json weights_to_json(const config::learner_section& parameters, const q_table& table);

struct table_result {
  std::optional<q_table> table;
  // The first config::max_listed_problems problems, each naming where: states["0,9,1"][2]: ...
  std::vector<std::string> errors;
  std::size_t more_errors = 0;  // problems found past those, counted but not kept
};
// Reads what weights_to_json writes, for a learner with `parameters`: every state within its
// buckets, four finite numbers each; the buckets and actions, when given, must be these.
table_result weights_from_json(const nlohmann::json& doc,
                               const config::learner_section& parameters);

// The learner file: {"format":1,"parameters":{...},"parameters_set_at_runtime","epsilon",
// "next_eid","weights":{...}}.
std::string encode(const snapshot& saved);
struct decoded {
  std::optional<snapshot> value;
  std::string error;  // why the text is not a usable snapshot
};
decoded decode(std::string_view text);

struct loaded_file {
  enum class status { missing, loaded, unusable } what = status::missing;
  snapshot value;
  std::string error;  // for unusable: why
};
loaded_file load_file(const std::filesystem::path& path);
// Atomic (temp file, fsync, rename); "" or why not.
std::string save_file(const std::filesystem::path& path, const snapshot& saved);
// Renames a file that will not be used to <name>.<why>-<UTC time>[-N] ("corrupt", ...) so it is
// kept for a look and never overwritten; the new name, or nullopt with `error` set.
std::optional<std::filesystem::path> set_aside(const std::filesystem::path& path,
                                               std::string_view why, std::string& error);

}  // namespace p2pfaas::learner
