#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "config/config.hpp"

namespace p2pfaas::config {

// Reads a YAML file whose top level is a mapping, as JSON with every scalar kept as a string (the
// field decoders know which ones are numbers; YAML 1.1's guesses, "yes" as a bool or "1:30" as
// sexagesimal, would only get in the way). Problems name the file, and the line and column of a
// syntax error. `kind` names the file in messages ("config file"), `mapping_hint` says what the
// top level holds ("sections (node:, executor:, ...)").
std::optional<nlohmann::json> read_yaml_file(const std::filesystem::path& path,
                                             std::string_view kind, std::string_view mapping_hint,
                                             problems& out);

}  // namespace p2pfaas::config
