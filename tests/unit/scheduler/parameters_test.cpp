#include "scheduler/parameters.hpp"

#include <gtest/gtest.h>

namespace p2pfaas::scheduler {
namespace {

TEST(ParseGoBool, AcceptsWhatStrconvAccepts) {
  for (auto text : {"1", "t", "T", "TRUE", "true", "True"})
    EXPECT_EQ(parse_go_bool(text), true) << text;
  for (auto text : {"0", "f", "F", "FALSE", "false", "False"})
    EXPECT_EQ(parse_go_bool(text), false) << text;
  for (auto text : {"", "yes", "tRUE", "2", " true"})
    EXPECT_EQ(parse_go_bool(text), std::nullopt) << text;
}

TEST(ParameterReader, FallsBackWhenAbsent) {
  std::vector<std::string> none;
  parameter_reader reader("P", none, {"a", "b"});
  EXPECT_TRUE(reader.check_count());
  EXPECT_EQ(reader.boolean(0, true), true);
  EXPECT_EQ(reader.integer(1, 7, 0, 10), 7);
  EXPECT_TRUE(reader.errors().empty());
}

TEST(ParameterReader, NamesTheBadParameter) {
  std::vector<std::string> values{"maybe", "11", "x"};
  parameter_reader reader("P", values, {"loss", "fanout", "hops"});
  EXPECT_EQ(reader.boolean(0, false), std::nullopt);
  EXPECT_EQ(reader.integer(1, 1, 1, 10), std::nullopt);
  EXPECT_EQ(reader.integer(2, 1, 1, 10), std::nullopt);
  ASSERT_EQ(reader.errors().size(), 3u);
  EXPECT_EQ(reader.errors()[0], "parameters[0] (loss): must be true or false (got \"maybe\")");
  EXPECT_EQ(reader.errors()[1], "parameters[1] (fanout): must be between 1 and 10 (got 11)");
  EXPECT_EQ(reader.errors()[2], "parameters[2] (hops): must be an integer (got \"x\")");
}

TEST(ParameterReader, TooManyValues) {
  std::vector<std::string> values{"true", "2"};
  parameter_reader reader("NoScheduler", values, {"loss"});
  EXPECT_FALSE(reader.check_count());
  EXPECT_EQ(reader.error_text(), "NoScheduler takes at most 1 parameter [loss] (got 2)");
}

}  // namespace
}  // namespace p2pfaas::scheduler
