// POST /configuration bodies: any bytes, parsed as JSON and applied as a patch over the defaults.
// A rejected patch must leave the config as it was; an accepted one must validate again when
// written out and read back (the node persists and re-reads what it accepted).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "config/json_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace p2pfaas::config;
  static const config base = [] {
    config c = defaults();
    c.node.id = "fuzz";
    return c;
  }();
  // As the node reads it: depth-limited.
  std::string error;
  const auto patch =
      parse_json_input(std::string_view(reinterpret_cast<const char*>(data), size), error);
  if (!patch) return 0;

  loaded result = apply_patch(base, *patch);
  if (!result.ok()) {
    if (!(result.value == base)) __builtin_trap();
    return 0;
  }
  const auto written =
      to_json(result.value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  config reread = defaults();
  if (!from_json(nlohmann::json::parse(written), reread).empty()) __builtin_trap();
  return 0;
}
