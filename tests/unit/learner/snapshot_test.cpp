#include "learner/snapshot.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/support/temp_dir.hpp"

namespace p2pfaas::learner {
namespace {

using json = nlohmann::json;

snapshot sample() {
  snapshot s;
  s.parameters.algorithm = "sarsa";
  s.parameters.alpha = 0.25;
  s.parameters.own_load_buckets = {1, 2};
  s.parameters_set_at_runtime = true;
  s.epsilon = 0.123456789012345;
  s.next_eid = 987654321;
  // Values that need all 17 digits to come back the same.
  s.table = {{{0, 0, 0}, {0.1, 0.2, 1.0 / 3, -2e-9}}, {{7, 2, 5}, {0, 1, 0.7000000000000001, 0}}};
  return s;
}

std::string read(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(Weights, RoundTripsThroughJsonExactly) {
  const snapshot s = sample();
  const json doc = weights_to_json(s.parameters, s.table);
  EXPECT_EQ(doc["actions"], json({"reject", "run_here", "probe_one", "forward"}));
  EXPECT_EQ(doc["states"]["7,2,5"][1], 1);
  table_result back = weights_from_json(json::parse(doc.dump()), s.parameters);
  ASSERT_TRUE(back.table) << back.errors.front();
  EXPECT_EQ(*back.table, s.table);
}

TEST(Weights, ImportNamesEveryProblem) {
  const config::learner_section p = sample().parameters;  // own: 3 buckets, peer: 6
  auto errors = [&](const json& doc) { return weights_from_json(doc, p).errors; };
  EXPECT_EQ(errors(json::array()), std::vector<std::string>{"must be an object with \"states\""});
  EXPECT_EQ(errors({{"states", {{"0,3,0", {0, 0, 0, 0}}}}}),
            std::vector<std::string>{
                "states[\"0,3,0\"]: not a state \"task,own,peer\" with task 0..1023, own 0..2, "
                "peer 0..5"});
  EXPECT_EQ(errors({{"states", {{"0,0,0", {0, 0, 0}}}}}),
            std::vector<std::string>{"states[\"0,0,0\"]: must be a list of 4 numbers"});
  EXPECT_EQ(errors({{"states", {{"0,0,0", {0, "1", 0, 0}}}}}),
            std::vector<std::string>{"states[\"0,0,0\"][1]: must be a finite number (got \"1\")"});
  EXPECT_EQ(errors({{"states", json::object()}, {"extra", 1}}),
            std::vector<std::string>{"extra: unknown key"});
  EXPECT_EQ(errors({{"states", json::object()}, {"own_load_buckets", {0.5, 1}}}),
            std::vector<std::string>{"own_load_buckets: the table was learned with [0.5,1], this "
                                     "learner uses [1.0,2.0] (change learner.own_load_buckets "
                                     "first)"});
  EXPECT_EQ(errors({{"states", json::object()}, {"actions", {"a"}}}).size(), 1U);
  EXPECT_EQ(errors(json::object()).size(), 1U);
  EXPECT_TRUE(errors({{"states", json::object()}}).empty());
}

TEST(Snapshot, EncodesAndDecodesEverything) {
  const snapshot s = sample();
  decoded back = decode(encode(s));
  ASSERT_TRUE(back.value) << back.error;
  EXPECT_EQ(back.value->parameters, s.parameters);
  EXPECT_TRUE(back.value->parameters_set_at_runtime);
  EXPECT_EQ(back.value->epsilon, s.epsilon);
  EXPECT_EQ(back.value->next_eid, s.next_eid);
  EXPECT_EQ(back.value->table, s.table);
}

TEST(Snapshot, RefusesWhatItDidNotWrite) {
  json good = json::parse(encode(sample()));
  auto error_of = [](const json& doc) { return decode(doc.dump()).error; };
  EXPECT_EQ(decode("{\"format\":1,").error, "not valid JSON");
  EXPECT_EQ(decode("[]").error, "not a JSON object");
  json bad = good;
  bad["format"] = 2;
  EXPECT_EQ(error_of(bad), "format must be 1");
  bad = good;
  bad["parameters"]["alpha"] = 5;
  EXPECT_EQ(error_of(bad), "learner.alpha: must be <= 1 (got 5)");
  bad = good;
  bad["epsilon"] = 1.5;
  EXPECT_EQ(error_of(bad), "epsilon: must be a number in [0, 1]");
  bad = good;
  bad["next_eid"] = -1;
  EXPECT_EQ(error_of(bad), "next_eid: must be an unsigned integer");
  bad = good;
  bad["weights"]["states"]["0,9,0"] = {0, 0, 0, 0};
  EXPECT_EQ(error_of(bad),
            "weights.states[\"0,9,0\"]: not a state \"task,own,peer\" with task 0..1023, own "
            "0..2, peer 0..5");
}

TEST(LearnerFile, SavesAtomicallyAndLoadsTheSame) {
  testing::temp_dir dir;
  const auto file = dir / "learner.json";
  EXPECT_EQ(load_file(file).what, loaded_file::status::missing);
  ASSERT_EQ(save_file(file, sample()), "");
  EXPECT_FALSE(std::filesystem::exists(dir / "learner.json.tmp"));
  loaded_file back = load_file(file);
  ASSERT_EQ(back.what, loaded_file::status::loaded) << back.error;
  EXPECT_EQ(back.value.table, sample().table);
  EXPECT_EQ(back.value.parameters, sample().parameters);
}

TEST(LearnerFile, ACorruptFileIsMovedAsideIntact) {
  testing::temp_dir dir;
  const auto file = dir / "learner.json";
  std::string text = encode(sample());
  text.resize(text.size() / 2);  // torn
  dir.write("learner.json", text);
  loaded_file broken = load_file(file);
  ASSERT_EQ(broken.what, loaded_file::status::unusable);
  EXPECT_EQ(broken.error, "not valid JSON");

  std::string error;
  auto aside = set_aside(file, "corrupt", error);
  ASSERT_TRUE(aside) << error;
  EXPECT_FALSE(std::filesystem::exists(file));
  EXPECT_EQ(read(*aside), text);
  EXPECT_TRUE(aside->filename().string().starts_with("learner.json.corrupt-"));

  // A second one in the same second never replaces the first.
  dir.write("learner.json", "garbage");
  auto second = set_aside(file, "corrupt", error);
  ASSERT_TRUE(second) << error;
  EXPECT_NE(*second, *aside);
  EXPECT_EQ(read(*aside), text);
  EXPECT_EQ(read(*second), "garbage");
}

TEST(LearnerFile, AnUnwritablePlaceIsReportedNotThrown) {
  testing::temp_dir dir;
  const std::string error = save_file(dir / "missing-dir" / "learner.json", sample());
  EXPECT_NE(error.find("cannot write"), std::string::npos) << error;
  EXPECT_NE(error.find("No such file or directory"), std::string::npos) << error;
}

TEST(Snapshot, ADeeplyNestedFileIsRefusedNotACrash) {
  const std::size_t levels = 100000;
  const std::string text =
      R"({"format":1,"weights":)" + std::string(levels, '[') + std::string(levels, ']') + "}";
  EXPECT_EQ(decode(text).error, "JSON nested deeper than 64 levels");
}

TEST(Snapshot, ATableFullOfMistakesListsTwentyAndCountsTheRest) {
  json states = json::object();
  for (int i = 0; i < 10000; ++i) states["bad" + std::to_string(i)] = {0, 0, 0, 0};
  states[std::string(1 << 20, 'k')] = {0, 0, 0, 0};
  json bad_values = json::array();
  for (int i = 0; i < 100000; ++i) bad_values.push_back("x");
  states["0,0,0"] = {bad_values, 0, 0, 0};
  const table_result read = weights_from_json({{"states", states}}, config::learner_section{});
  EXPECT_FALSE(read.table);
  EXPECT_EQ(read.errors.size(), 20U);
  EXPECT_EQ(read.errors.size() + read.more_errors, 10002U);
  std::size_t total = 0;
  for (const auto& e : read.errors) {
    EXPECT_LT(e.size(), 300U) << e.substr(0, 300);
    total += e.size();
  }
  EXPECT_LT(total, 20U * 300U);
  // The huge key and the huge value are among the first listed (the keys are sorted): cut short.
  const table_result huge = weights_from_json(
      {{"states", {{std::string(1 << 20, 'k'), {0, 0, 0, 0}}, {"0,0,0", {bad_values, 0, 0, 0}}}}},
      config::learner_section{});
  ASSERT_EQ(huge.errors.size(), 2U);
  for (const auto& e : huge.errors) EXPECT_LT(e.size(), 300U) << e.substr(0, 300);
}

}  // namespace
}  // namespace p2pfaas::learner
