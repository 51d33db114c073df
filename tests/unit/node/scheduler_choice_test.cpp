#include "node/scheduler_choice.hpp"

#include <gtest/gtest.h>

#include <string>

namespace p2pfaas::node {
namespace {

using json = nlohmann::json;

TEST(SchedulerChoice, IsTheConfigPatchThatAppliesIt) {
  const scheduler_choice choice =
      read_scheduler_choice(R"({"name":"PowerOfNScheduler","parameters":["1","2","true","1"]})");
  ASSERT_TRUE(choice.ok()) << choice.message;
  const json expected = {
      {"scheduler", {{"name", "PowerOfNScheduler"}, {"parameters", {"1", "2", "true", "1"}}}}};
  EXPECT_EQ(choice.patch, expected);
}

TEST(SchedulerChoice, OmittedParametersAreThePolicysDefaults) {
  const scheduler_choice choice = read_scheduler_choice(R"({"name":"NoScheduler"})");
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice.patch["scheduler"]["parameters"], json::array());
}

TEST(SchedulerChoice, RefusesWhatIsNotAChoice) {
  EXPECT_EQ(read_scheduler_choice("not json").code, "bad_json");
  EXPECT_EQ(read_scheduler_choice("not json").message, "the body is not valid JSON");
  EXPECT_EQ(read_scheduler_choice("[]").code, "invalid_scheduler");
  EXPECT_EQ(read_scheduler_choice(R"({"parameters":[]})").code, "invalid_scheduler");
  const scheduler_choice extra = read_scheduler_choice(R"({"name":"NoScheduler","x":1})");
  EXPECT_EQ(extra.code, "invalid_scheduler");
  EXPECT_EQ(extra.message, R"(unknown key "x" (a scheduler is {"name", "parameters"}))");
}

TEST(SchedulerChoice, DeeplyNestedJsonIsRefusedNotACrash) {
  const std::string body = R"({"name":"NoScheduler","parameters":)" + std::string(100000, '[') +
                           std::string(100000, ']') + "}";
  const scheduler_choice choice = read_scheduler_choice(body);
  EXPECT_EQ(choice.code, "bad_json");
  EXPECT_EQ(choice.message, "the body is JSON nested deeper than 64 levels");
}

TEST(SchedulerChoice, AHugeUnknownKeyIsCutShort) {
  const scheduler_choice choice =
      read_scheduler_choice(R"({"name":"NoScheduler",")" + std::string(1 << 20, 'k') + R"(":1})");
  EXPECT_EQ(choice.code, "invalid_scheduler");
  EXPECT_LT(choice.message.size(), 200U) << choice.message.substr(0, 200);
}

}  // namespace
}  // namespace p2pfaas::node
