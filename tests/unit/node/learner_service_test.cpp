// The pure readers of the learner's POST bodies (the service's handlers apply what they read).
#include "node/learner_service.hpp"

#include <gtest/gtest.h>

#include <string>

namespace p2pfaas::node {
namespace {

using json = nlohmann::json;

std::string deeply_nested() {
  return std::string(100000, '[') + std::string(100000, ']');
}

json body_of(const net::response& res) {
  return json::parse(res.body());
}

TEST(LearnerBodies, DeeplyNestedJsonIsRefusedNotACrash) {
  const body_reading<json> read = read_json_body(R"({"alpha":)" + deeply_nested() + "}");
  ASSERT_FALSE(read.value);
  EXPECT_EQ(read.refused.result(), net::http::status::bad_request);
  EXPECT_EQ(
      body_of(read.refused),
      json({{"code", "bad_json"}, {"message", "the body is JSON nested deeper than 64 levels"}}));
  EXPECT_EQ(body_of(read_json_body("{nope").refused)["message"], "the body is not valid JSON");
}

TEST(LearnerBodies, ParametersAreAPatchOfTheLearnerSection) {
  const body_reading<json> read = read_learner_parameters({{"alpha", 0.5}});
  ASSERT_TRUE(read.value);
  EXPECT_EQ(*read.value, json({{"learner", {{"alpha", 0.5}}}}));
  const body_reading<json> refused = read_learner_parameters(json::array());
  ASSERT_FALSE(refused.value);
  EXPECT_EQ(body_of(refused.refused)["code"], "bad_parameters");
}

TEST(LearnerBodies, ATableFullOfMistakesGetsABoundedAnswer) {
  json states = json::object();
  // ~10 MiB of bad keys, as in issue 15.
  const std::string padding(1000, 'x');
  for (int i = 0; i < 10000; ++i) states[padding + std::to_string(i)] = {0, 0, 0, 0};
  const body_reading<learner::q_table> read =
      read_learner_weights({{"states", states}}, config::learner_section{});
  ASSERT_FALSE(read.value);
  EXPECT_LT(read.refused.body().size(), 10000U);
  const json body = body_of(read.refused);
  EXPECT_EQ(body["code"], "bad_weights");
  EXPECT_TRUE(body["message"].get<std::string>().ends_with("; and 9980 more"))
      << body["message"].get<std::string>().substr(0, 300);
}

TEST(LearnerBodies, AGoodTableIsRead) {
  const body_reading<learner::q_table> read =
      read_learner_weights({{"states", {{"0,0,0", {1, 2, 3, 4}}}}}, config::learner_section{});
  ASSERT_TRUE(read.value);
  EXPECT_EQ(read.value->size(), 1U);
}

TEST(LearnerBodies, ABatchFullOfMistakesGetsABoundedAnswer) {
  json batch = json::array();
  for (int i = 0; i < 10000; ++i) batch.push_back({{"eid", "x"}, {"state", "0,0,0"}});
  const body_reading<std::vector<learner::experience>> read = read_experience_batch(batch, 3, 3);
  ASSERT_FALSE(read.value);
  EXPECT_LT(read.refused.body().size(), 5000U);
  const json body = body_of(read.refused);
  EXPECT_EQ(body["code"], "bad_experiences");
  const std::string message = body["message"];
  EXPECT_TRUE(message.starts_with("[0].eid: must be a non-negative integer; [0].action:"))
      << message;
  EXPECT_TRUE(message.ends_with("; and 29980 more")) << message;
}

TEST(LearnerBodies, AGoodBatchIsRead) {
  const json batch = json::parse(R"([{"eid":1,"state":"0,1,2","action":"1","reward":0.5},
      {"eid":"2","state":"3,0,0","action":3,"reward":"1"}])");
  const body_reading<std::vector<learner::experience>> read = read_experience_batch(batch, 3, 3);
  ASSERT_TRUE(read.value) << read.refused.body();
  ASSERT_EQ(read.value->size(), 2U);
  EXPECT_EQ((*read.value)[1].eid, 2U);
  EXPECT_EQ((*read.value)[1].taken, learner::action::forward_least_loaded);
  EXPECT_EQ(body_of(read_experience_batch(json::array(), 3, 3).refused)["code"], "bad_experiences");
}

}  // namespace
}  // namespace p2pfaas::node
