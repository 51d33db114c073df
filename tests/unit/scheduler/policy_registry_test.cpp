#include "scheduler/policy_registry.hpp"

#include <gtest/gtest.h>

namespace p2pfaas::scheduler {
namespace {

policy_dependencies deps() {
  return {[] { return std::uint64_t{42}; }};
}

TEST(PolicyRegistry, BuildsBuiltinsByName) {
  policy_registry registry;
  register_builtin_policies(registry);
  EXPECT_EQ(registry.names(),
            (std::vector<std::string>{"ForwardScheduler", "LearningScheduler", "NoScheduler",
                                      "PowerOfNScheduler", "RoundRobinScheduler"}));
  auto built = registry.build("NoScheduler", {"true"}, deps());
  ASSERT_TRUE(built.built) << built.error;
  EXPECT_EQ(built.built->name(), "NoScheduler");
  EXPECT_EQ(built.built->parameters(), std::vector<std::string>{"true"});
}

TEST(PolicyRegistry, UnknownNameListsKnownOnes) {
  policy_registry registry;
  register_builtin_policies(registry);
  auto built = registry.build("MagicScheduler", {}, deps());
  EXPECT_FALSE(built.built);
  EXPECT_EQ(built.error,
            "unknown scheduler \"MagicScheduler\" (known: ForwardScheduler, LearningScheduler, "
            "NoScheduler, PowerOfNScheduler, RoundRobinScheduler)");
}

TEST(PolicyRegistry, BadParametersAreRefusedWithTheReason) {
  policy_registry registry;
  register_builtin_policies(registry);
  auto built = registry.build("NoScheduler", {"perhaps"}, deps());
  EXPECT_FALSE(built.built);
  EXPECT_EQ(built.error, "parameters[0] (loss): must be true or false (got \"perhaps\")");
}

}  // namespace
}  // namespace p2pfaas::scheduler
