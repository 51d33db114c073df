#pragma once

#include <optional>
#include <ostream>

#include "config/config.hpp"

namespace p2pfaas::config {

struct command_line {
  // Set when the process should exit now with this status (--help and --version: 0, a bad command
  // line: 2); whatever had to be said was already written.
  std::optional<int> exit_code;
  ::p2pfaas::config::sources sources;
};

// Parses p2pfaasd's flags into config sources. Values are not checked here: they become
// `overrides` (in command-line order) and load() validates them with the other layers, so a bad
// value is reported the same way wherever it came from. The environment is read from `environ`
// (only P2PFAAS_* variables are kept).
command_line parse_command_line(int argc, const char* const* argv, std::ostream& out,
                                std::ostream& err);

}  // namespace p2pfaas::config
