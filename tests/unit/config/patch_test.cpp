#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config.hpp"

namespace p2pfaas::config {
namespace {

using json = nlohmann::json;

std::vector<std::string> rendered(const problems& list) {
  std::vector<std::string> lines;
  for (const auto& p : list) lines.push_back(p.to_string());
  return lines;
}

config with_function() {
  config value = defaults();
  value.executor.queue = 9;
  value.functions["sleep"] = {1.5, 4, 2};
  return value;
}

TEST(ApplyPatch, ValidChangeOfSlots) {
  const config current = with_function();
  const auto result = apply_patch(current, {{"executor", {{"slots", 3}}}});
  ASSERT_TRUE(result.ok()) << rendered(result.errors)[0];
  config expected = current;
  expected.executor.slots = 3;
  EXPECT_EQ(result.value, expected);
}

TEST(ApplyPatch, AcceptsStringsLikeEveryOtherLayer) {
  const auto result = apply_patch(defaults(), {{"executor", {{"slots", "6"}}}});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.value.executor.slots, 6);
}

TEST(ApplyPatch, InvalidPatchChangesNothingAndListsEveryProblem) {
  const config current = with_function();
  const config copy = current;
  const json patch = {
      {"executor", {{"slots", 0}, {"queue", "x"}}},
      {"log", {{"level", "loud"}}},
      {"bogus", 1},
      {"node", {{"listen", "127.0.0.1:1"}}},  // valid on its own, must not leak through
  };
  const auto result = apply_patch(current, patch);
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(rendered(result.errors),
            (std::vector<std::string>{
                "executor.queue: must be an integer (got \"x\")",
                "bogus: unknown key",
                "executor.slots: must be >= 1 (got 0)",
                "log.level: must be one of trace, debug, info, warn, error (got \"loud\")",
            }));
  EXPECT_EQ(result.value, copy);
  EXPECT_EQ(current, copy);
}

TEST(ApplyPatch, NestedMergeKeepsSiblingKeys) {
  const config current = with_function();
  const auto result = apply_patch(current, {{"functions", {{"sleep", {{"task_type", 5}}}}},
                                            {"executor", {{"timeout_seconds", 2}}}});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.value.functions.at("sleep").deadline_seconds, 1.5);
  EXPECT_EQ(result.value.functions.at("sleep").timeout_seconds, 4);
  EXPECT_EQ(result.value.functions.at("sleep").task_type, 5);
  EXPECT_EQ(result.value.executor.queue, 9);
  EXPECT_EQ(result.value.executor.timeout_seconds, 2);
  EXPECT_EQ(result.value.node, current.node);
}

TEST(ApplyPatch, ListsAreReplacedNotMerged) {
  config current = defaults();
  current.cluster.join = {"a:1", "b:2"};
  const auto result = apply_patch(current, {{"cluster", {{"join", json::array({"c:3"})}}}});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.value.cluster.join, std::vector<std::string>{"c:3"});
}

TEST(ApplyPatch, NullRemovesAKeyBackToItsDefault) {
  const config current = with_function();
  const auto result = apply_patch(
      current, {{"executor", {{"queue", nullptr}}}, {"functions", {{"sleep", nullptr}}}});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.value.executor.queue, 64);
  EXPECT_TRUE(result.value.functions.empty());
  EXPECT_EQ(result.value.node.id, current.node.id);
}

TEST(ApplyPatch, LearnerFieldChangesOnlyThatField) {
  const config current = with_function();
  const auto result = apply_patch(current, {{"learner", {{"alpha", 0.5}}}});
  ASSERT_TRUE(result.ok()) << rendered(result.errors)[0];
  config expected = current;
  expected.learner.alpha = 0.5;
  EXPECT_EQ(result.value, expected);
}

TEST(ApplyPatch, LearnerListsAndBools) {
  config current = defaults();
  current.learner.own_load_buckets = {1, 2};
  const auto result = apply_patch(current, {{"learner",
                                             {{"own_load_buckets", nullptr},
                                              {"peer_load_buckets", json::array({0.1, "0.2"})},
                                              {"epsilon_decay_enabled", false}}}});
  ASSERT_TRUE(result.ok()) << rendered(result.errors)[0];
  EXPECT_EQ(result.value.learner.own_load_buckets, defaults().learner.own_load_buckets);
  EXPECT_EQ(result.value.learner.peer_load_buckets, (std::vector<double>{0.1, 0.2}));
  EXPECT_FALSE(result.value.learner.epsilon_decay_enabled);
}

TEST(ApplyPatch, LearnerUnknownKeyChangesNothing) {
  const config current = with_function();
  const auto result = apply_patch(current, {{"learner", {{"nope", 1}, {"alpha", 0.5}}}});
  EXPECT_EQ(rendered(result.errors), std::vector<std::string>{"learner.nope: unknown key"});
  EXPECT_EQ(result.value, current);

  const auto crossed =
      apply_patch(current, {{"learner", {{"epsilon_start", 0.1}, {"epsilon_min", 0.2}}}});
  EXPECT_EQ(rendered(crossed.errors),
            std::vector<std::string>{
                "learner.epsilon_min: must be <= learner.epsilon_start (0.1), got 0.2"});
  EXPECT_EQ(crossed.value, current);
}

TEST(ApplyPatch, RejectsANonObjectPatch) {
  const config current = with_function();
  for (const json& patch : {json::array({1}), json(5), json("x"), json(nullptr)}) {
    const auto result = apply_patch(current, patch);
    ASSERT_EQ(result.errors.size(), 1U) << patch.dump();
    EXPECT_EQ(result.errors[0].path, "");
    EXPECT_EQ(result.errors[0].message, "patch must be a JSON object (got " + patch.dump() + ")");
    EXPECT_EQ(result.value, current);
  }
}

TEST(ApplyPatch, EmptyPatchKeepsTheConfig) {
  const config current = with_function();
  const auto result = apply_patch(current, json::object());
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.value, current);
}

}  // namespace
}  // namespace p2pfaas::config
