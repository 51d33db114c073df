#include "node/problems_response.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace p2pfaas::node {
namespace {

using json = nlohmann::json;

TEST(ProblemList, NamesTwentyThenSaysHowManyMore) {
  problem_list problems;
  EXPECT_TRUE(problems.empty());
  for (int i = 0; i < 5000; ++i) problems.add("p" + std::to_string(i));
  EXPECT_EQ(problems.size(), 5000U);
  EXPECT_EQ(problems.listed().size(), 20U);
  const std::string message = problems.message();
  EXPECT_TRUE(message.starts_with("p0; p1; ")) << message;
  EXPECT_TRUE(message.ends_with("; p19; and 4980 more")) << message;
}

TEST(ProblemList, FewProblemsAreAllNamed) {
  problem_list problems;
  problems.add("a");
  problems.add("b");
  EXPECT_EQ(problems.message(), "a; b");
  problems.add_unlisted(3);  // found by a reader that kept only some
  EXPECT_EQ(problems.message(), "a; b; and 3 more");
}

TEST(ProblemList, EachProblemIsCutShort) {
  problem_list problems;
  problems.add(std::string(1 << 20, 'x'));
  problems.add(config::problem{std::string(1 << 20, 'k'), "unknown key"});
  ASSERT_EQ(problems.listed().size(), 2U);
  for (const auto& p : problems.listed()) EXPECT_LE(p.size(), max_problem_chars + 3);
  EXPECT_TRUE(problems.listed()[1].ends_with("...: unknown key")) << problems.listed()[1];
}

TEST(ProblemsResponse, ThousandsOfConfigProblemsMakeASmallAnswer) {
  config::problems problems;
  for (int i = 0; i < 5000; ++i) {
    problems.push_back({"key" + std::to_string(i) + std::string(1000, 'k'), "unknown key"});
  }
  problems.push_back({"bad\xff", std::string(1 << 20, 'm')});
  const net::response res = problems_response(problems);
  EXPECT_EQ(res.result(), net::http::status::bad_request);
  EXPECT_LT(res.body().size(), 20000U);
  const json body = json::parse(res.body());
  EXPECT_EQ(body["code"], "invalid_configuration");
  EXPECT_EQ(body["problems"].size(), 20U);
  EXPECT_EQ(body["more_problems"], 4981);
  EXPECT_TRUE(body["message"].get<std::string>().ends_with("; and 4981 more"));
  EXPECT_TRUE(body["problems"][0]["path"].get<std::string>().starts_with("key0kkk"));
}

TEST(ProblemsResponse, AFewProblemsAreListedAsTheyAre) {
  const net::response res =
      problems_response({{"executor.slots", "must be >= 1 (got 0)"}, {"nope", "unknown key"}});
  const json body = json::parse(res.body());
  EXPECT_EQ(body["message"], "executor.slots: must be >= 1 (got 0); nope: unknown key");
  const json expected =
      json::array({{{"path", "executor.slots"}, {"message", "must be >= 1 (got 0)"}},
                   {{"path", "nope"}, {"message", "unknown key"}}});
  EXPECT_EQ(body["problems"], expected);
  EXPECT_FALSE(body.contains("more_problems"));
}

TEST(ProblemsResponse, WithACode) {
  problem_list problems;
  problems.add("[0].eid: must be a non-negative integer");
  const json body = json::parse(problems_response("bad_experiences", problems).body());
  EXPECT_EQ(body, json({{"code", "bad_experiences"},
                        {"message", "[0].eid: must be a non-negative integer"}}));
}

}  // namespace
}  // namespace p2pfaas::node
