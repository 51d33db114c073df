#pragma once

// Entry points the loading layers share with from_json. Private to the config module.

#include <nlohmann/json.hpp>
#include <string_view>

#include "config/config.hpp"

namespace p2pfaas::config::detail {

// Reads `doc` over `out` without range checks: type errors and unknown keys only. Layers are
// decoded one after another and validated once at the end, so a later layer may fix a value an
// earlier one got wrong.
void decode(const nlohmann::json& doc, config& out, problems& errors);

enum class key_kind { unknown, leaf, section, section_map };

// What `section.key` names, for the layers that address fields by flat names (environment,
// overrides). An empty key asks about the section itself.
key_kind lookup_key(std::string_view section, std::string_view key);

}  // namespace p2pfaas::config::detail
