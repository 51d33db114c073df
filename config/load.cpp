#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>

#include "config/config.hpp"
#include "config/detail/codec.hpp"
#include "config/yaml_file.hpp"

namespace p2pfaas::config {
namespace {

using json = nlohmann::json;

constexpr std::string_view env_prefix = "P2PFAAS_";

std::pair<std::string_view, std::string_view> split_once(std::string_view text, char separator) {
  const auto at = text.find(separator);
  if (at == std::string_view::npos) return {text, {}};
  return {text.substr(0, at), text.substr(at + 1)};
}

// Builds the one-field document that a flat key addresses. Returns nullopt when the key names no
// field; a section or the functions map itself is still returned so the decoder reports the
// wrong shape ("executor: must be an object").
std::optional<json> document_for(std::string_view dotted, const std::string& value) {
  const auto [section, key] = split_once(dotted, '.');
  const std::string section_name(section);
  switch (detail::lookup_key(section, key)) {
    case detail::key_kind::leaf:
      return json{{section_name, {{std::string(key), value}}}};
    case detail::key_kind::section:
      return json{{section_name, value}};
    case detail::key_kind::section_map: {
      if (key.empty()) return json{{section_name, value}};
      // Function names may contain dots, field names never do.
      const auto last_dot = key.rfind('.');
      if (last_dot == std::string_view::npos)
        return json{{section_name, {{std::string(key), value}}}};
      return json{{section_name,
                   {{std::string(key.substr(0, last_dot)),
                     {{std::string(key.substr(last_dot + 1)), value}}}}}};
    }
    case detail::key_kind::unknown:
      break;
  }
  return std::nullopt;
}

void append(problems& to, problems from, std::string_view suffix = {}) {
  for (auto& p : from) {
    p.message += suffix;
    to.push_back(std::move(p));
  }
}

}  // namespace

loaded load(const sources& from) {
  loaded result{defaults(), {}};
  problems& errors = result.errors;

  if (from.file) {
    if (auto doc =
            read_yaml_file(*from.file, "config file", "sections (node:, executor:, ...)", errors))
      detail::decode(*doc, result.value, errors);
  }

  // Field path -> variable that set it last, so a range problem found at the end can still say
  // which variable to fix. A later override of the same key takes the blame away.
  std::map<std::string, std::string> from_environment;

  for (const auto& [name, value] : from.environment) {
    if (!name.starts_with(env_prefix)) continue;
    std::string flat = name.substr(env_prefix.size());
    std::transform(flat.begin(), flat.end(), flat.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const auto [section, key] = split_once(flat, '_');
    const std::string path =
        key.empty() ? std::string(section) : std::string(section) + "." + std::string(key);
    const std::string origin = " (from environment variable " + name + ")";
    const auto kind = detail::lookup_key(section, key);
    if (kind == detail::key_kind::section_map) {
      errors.push_back({std::string(section),
                        "cannot be set from the environment" + origin + "; use the file or --set"});
      continue;
    }
    if (kind != detail::key_kind::leaf) {
      errors.push_back({path, "unknown key" + origin});
      continue;
    }
    problems layer;
    detail::decode(json{{std::string(section), {{std::string(key), value}}}}, result.value, layer);
    append(errors, std::move(layer), origin);
    from_environment[path] = name;
  }

  for (const auto& [dotted, value] : from.overrides) {
    const auto doc = document_for(dotted, value);
    if (!doc) {
      errors.push_back({dotted, "unknown key"});
      continue;
    }
    detail::decode(*doc, result.value, errors);
    from_environment.erase(dotted);
  }

  for (auto& p : validate(result.value)) {
    for (const auto& [path, variable] : from_environment) {
      if (p.path == path || (p.path.starts_with(path) && p.path[path.size()] == '[')) {
        p.message += " (from environment variable " + variable + ")";
        break;
      }
    }
    errors.push_back(std::move(p));
  }
  return result;
}

}  // namespace p2pfaas::config
