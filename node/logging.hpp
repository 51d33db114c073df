#pragma once

#include <string_view>

namespace p2pfaas::node {

// Sets up the process-wide logger on stderr: "text" (human-readable) or "json" (one object per
// line, for log shippers). level is one of trace, debug, info, warn, error.
void configure_logging(std::string_view format, std::string_view level);
void set_log_level(std::string_view level);

}  // namespace p2pfaas::node
