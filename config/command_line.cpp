#include "config/command_line.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>
#include <utility>

namespace p2pfaas::config {
namespace {

constexpr std::string_view env_prefix = "P2PFAAS_";

constexpr const char* footer =
    R"(Precedence (lowest first): built-in defaults < YAML file (--config) < environment
variables P2PFAAS_<SECTION>_<KEY> (e.g. P2PFAAS_EXECUTOR_SLOTS=4) < flags and --set, applied in
the order given. Any config key can be set with --set section.key=value
(functions: --set functions.<name>.<key>=value).

Example:
  p2pfaasd --config node.yaml --node-id edge-1 --listen 0.0.0.0:18080 \
    --join 10.0.0.2:18080,10.0.0.3:18080 --cluster-key-file cluster.key \
    --set executor.timeout_seconds=5 --set functions.sleep.deadline_seconds=0.5)";

std::vector<std::pair<std::string, std::string>> p2pfaas_environment() {
  std::vector<std::pair<std::string, std::string>> variables;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (!text.starts_with(env_prefix)) continue;
    const auto equals = text.find('=');
    if (equals == std::string_view::npos) continue;
    variables.emplace_back(std::string(text.substr(0, equals)),
                           std::string(text.substr(equals + 1)));
  }
  return variables;
}

}  // namespace

command_line parse_command_line(int argc, const char* const* argv, std::ostream& out,
                                std::ostream& err) {
  command_line result;
  auto& overrides = result.sources.overrides;

  CLI::App app("p2pfaasd: peer-to-peer FaaS node daemon", "p2pfaasd");
  app.footer(footer);
  app.set_version_flag("--version", std::string("p2pfaasd ") + P2PFAAS_VERSION);

  app.add_option_function<std::string>(
         "--config", [&](const std::string& file) { result.sources.file = file; },
         "YAML config file")
      ->type_name("FILE");

  // Each flag appends to `overrides` as it is parsed (trigger_on_parse), which keeps the
  // command-line order across different flags: `--slots 4 --set executor.slots=8` ends with 8.
  const auto flag = [&](const char* name, const char* key, const char* type, const char* help) {
    app.add_option_function<std::string>(
           name,
           [&overrides, key](const std::string& value) { overrides.emplace_back(key, value); },
           help)
        ->type_name(type)
        ->trigger_on_parse();
  };
  flag("--node-id", "node.id", "ID", "node id (node.id; default: hostname)");
  flag("--listen", "node.listen", "HOST:PORT", "HTTP and gossip address (node.listen)");
  flag("--advertise", "node.advertise", "HOST:PORT",
       "address peers use to reach this node (node.advertise)");
  flag("--join", "cluster.join", "HOST:PORT[,HOST:PORT...]", "peers to join (cluster.join)");
  flag("--data-dir", "node.data_dir", "DIR", "data directory (node.data_dir)");
  flag("--slots", "executor.slots", "N",
       "concurrent function runs (executor.slots; default: cores)");
  flag("--queue", "executor.queue", "N", "calls waiting for a slot (executor.queue)");
  flag("--cluster-key-file", "cluster.key_file", "FILE",
       "cluster key for peer traffic (cluster.key_file)");
  flag("--admin-token-file", "admin.token_file", "FILE",
       "bearer token for admin endpoints (admin.token_file)");
  flag("--log-level", "log.level", "trace|debug|info|warn|error", "log level (log.level)");

  app.add_option_function<std::string>(
         "--set",
         [&overrides](const std::string& assignment) {
           const auto equals = assignment.find('=');
           if (equals == std::string::npos || equals == 0) {
             throw CLI::ValidationError("--set",
                                        "expected dotted.key=value (got \"" + assignment + "\")");
           }
           overrides.emplace_back(assignment.substr(0, equals), assignment.substr(equals + 1));
         },
         "set any config key, repeatable")
      ->type_name("dotted.key=value")
      ->trigger_on_parse();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    result.exit_code = app.exit(e, out, err);
    return result;
  } catch (const CLI::CallForVersion& e) {
    result.exit_code = app.exit(e, out, err);
    return result;
  } catch (const CLI::ParseError& e) {
    err << "config error: " << e.what() << '\n';
    result.exit_code = 2;
    return result;
  }
  result.sources.environment = p2pfaas_environment();
  return result;
}

}  // namespace p2pfaas::config
