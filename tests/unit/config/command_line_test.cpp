#include "config/command_line.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

namespace p2pfaas::config {
namespace {

using overrides_t = std::vector<std::pair<std::string, std::string>>;

struct run {
  command_line result;
  std::string out;
  std::string err;
};

run parse(std::vector<std::string> args) {
  args.insert(args.begin(), "p2pfaasd");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out;
  std::ostringstream err;
  auto result = parse_command_line(static_cast<int>(argv.size()), argv.data(), out, err);
  return {std::move(result), out.str(), err.str()};
}

TEST(CommandLine, NoFlagsMeansNoOverrides) {
  const auto r = parse({});
  EXPECT_FALSE(r.result.exit_code);
  EXPECT_FALSE(r.result.sources.file);
  EXPECT_TRUE(r.result.sources.overrides.empty());
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
}

TEST(CommandLine, EachFlagMapsToItsKey) {
  const std::vector<std::pair<std::string, std::string>> flags = {
      {"--node-id", "node.id"},
      {"--listen", "node.listen"},
      {"--advertise", "node.advertise"},
      {"--join", "cluster.join"},
      {"--data-dir", "node.data_dir"},
      {"--slots", "executor.slots"},
      {"--queue", "executor.queue"},
      {"--cluster-key-file", "cluster.key_file"},
      {"--admin-token-file", "admin.token_file"},
      {"--log-level", "log.level"},
  };
  for (const auto& [flag, key] : flags) {
    const auto spaced = parse({flag, "v1"});
    EXPECT_FALSE(spaced.result.exit_code) << flag << ": " << spaced.err;
    EXPECT_EQ(spaced.result.sources.overrides, (overrides_t{{key, "v1"}})) << flag;
    const auto joined = parse({flag + "=v2"});
    EXPECT_EQ(joined.result.sources.overrides, (overrides_t{{key, "v2"}})) << flag;
  }
}

TEST(CommandLine, ConfigFlagNamesTheFile) {
  const auto r = parse({"--config", "/etc/p2pfaas/node.yaml"});
  ASSERT_FALSE(r.result.exit_code);
  EXPECT_EQ(r.result.sources.file, std::filesystem::path("/etc/p2pfaas/node.yaml"));
  EXPECT_TRUE(r.result.sources.overrides.empty());
}

TEST(CommandLine, OverridesKeepCommandLineOrderAndSetRepeats) {
  const auto r = parse({"--set", "executor.slots=8", "--slots", "4", "--set",
                        "functions.sleep.deadline_seconds=0.5", "--set=scheduler.parameters=1,2",
                        "--join", "a:1,b:2", "--set", "node.advertise=", "--set", "x.y=a=b"});
  ASSERT_FALSE(r.result.exit_code) << r.err;
  EXPECT_EQ(r.result.sources.overrides, (overrides_t{
                                            {"executor.slots", "8"},
                                            {"executor.slots", "4"},
                                            {"functions.sleep.deadline_seconds", "0.5"},
                                            {"scheduler.parameters", "1,2"},
                                            {"cluster.join", "a:1,b:2"},
                                            {"node.advertise", ""},
                                            {"x.y", "a=b"},
                                        }));
}

TEST(CommandLine, NegativeNumbersReachValidation) {
  const auto r = parse({"--slots", "-1"});
  ASSERT_FALSE(r.result.exit_code) << r.err;
  EXPECT_EQ(r.result.sources.overrides, (overrides_t{{"executor.slots", "-1"}}));
}

TEST(CommandLine, BadCommandLinesExitWithStatusTwoAndOneLine) {
  const std::vector<std::vector<std::string>> bad = {
      {"--bogus"}, {"--slots"}, {"--set", "novalue"}, {"--set", "=5"}, {"stray"},
  };
  for (const auto& args : bad) {
    const auto r = parse(args);
    ASSERT_TRUE(r.result.exit_code) << args[0];
    EXPECT_EQ(*r.result.exit_code, 2) << args[0];
    EXPECT_EQ(r.out, "") << args[0];
    EXPECT_TRUE(r.err.starts_with("config error: ")) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_EQ(parse({"--set", "novalue"}).err,
            "config error: --set: expected dotted.key=value (got \"novalue\")\n");
}

TEST(CommandLine, HelpListsEveryFlagPrecedenceAndAnExample) {
  const auto r = parse({"--help"});
  ASSERT_TRUE(r.result.exit_code);
  EXPECT_EQ(*r.result.exit_code, 0);
  EXPECT_EQ(r.err, "");
  for (const char* flag :
       {"--config", "--node-id", "--listen", "--advertise", "--join", "--data-dir", "--slots",
        "--queue", "--cluster-key-file", "--admin-token-file", "--log-level", "--set", "--version",
        "--help", "P2PFAAS_<SECTION>_<KEY>", "Precedence", "Example:"}) {
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  }
}

TEST(CommandLine, VersionPrintsTheBuildVersion) {
  const auto r = parse({"--version"});
  ASSERT_TRUE(r.result.exit_code);
  EXPECT_EQ(*r.result.exit_code, 0);
  EXPECT_EQ(r.out, std::string("p2pfaasd ") + P2PFAAS_VERSION + "\n");
  EXPECT_EQ(r.err, "");
}

TEST(CommandLine, EnvironmentComesFromTheProcessP2pfaasVariablesOnly) {
  ASSERT_EQ(::setenv("P2PFAAS_EXECUTOR_QUEUE", "17", 1), 0);
  ASSERT_EQ(::setenv("NOT_P2PFAAS_EXECUTOR_QUEUE", "1", 1), 0);
  const auto r = parse({});
  ::unsetenv("P2PFAAS_EXECUTOR_QUEUE");
  ::unsetenv("NOT_P2PFAAS_EXECUTOR_QUEUE");
  const auto& env = r.result.sources.environment;
  EXPECT_NE(std::find(env.begin(), env.end(),
                      std::pair<std::string, std::string>{"P2PFAAS_EXECUTOR_QUEUE", "17"}),
            env.end());
  for (const auto& [name, value] : env) EXPECT_TRUE(name.starts_with("P2PFAAS_")) << name;
}

TEST(CommandLine, ValuesAreValidatedByLoad) {
  const auto r = parse({"--slots", "0", "--log-level", "loud"});
  ASSERT_FALSE(r.result.exit_code);
  auto sources = r.result.sources;
  sources.environment.clear();  // independent of the test runner's environment
  const auto result = load(sources);
  ASSERT_EQ(result.errors.size(), 2U);
  EXPECT_EQ(result.errors[0].to_string(), "executor.slots: must be >= 1 (got 0)");
  EXPECT_EQ(result.errors[1].to_string(),
            "log.level: must be one of trace, debug, info, warn, error (got \"loud\")");
}

// A --set value is everything after the first '=', commas included, so a list arrives whole.
TEST(CommandLine, SetReachesTheLearnerListsAndBools) {
  const auto r = parse({"--set", "learner.own_load_buckets=0.5,1,2", "--set",
                        "learner.epsilon_decay_enabled=false"});
  ASSERT_FALSE(r.result.exit_code) << r.err;
  auto sources = r.result.sources;
  sources.environment.clear();
  const auto result = load(sources);
  ASSERT_TRUE(result.ok()) << result.errors[0].to_string();
  EXPECT_EQ(result.value.learner.own_load_buckets, (std::vector<double>{0.5, 1, 2}));
  EXPECT_FALSE(result.value.learner.epsilon_decay_enabled);
}

}  // namespace
}  // namespace p2pfaas::config
