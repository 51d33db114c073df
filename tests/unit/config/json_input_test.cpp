#include "config/json_input.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace p2pfaas::config {
namespace {

using json = nlohmann::json;

std::string nested_arrays(std::size_t levels) {
  return std::string(levels, '[') + std::string(levels, ']');
}

// {"n":{"n":...[ ... ]...}}: objects and arrays mixed, `levels` deep in all.
std::string nested_mixed(std::size_t levels) {
  std::string open, close;
  for (std::size_t i = 0; i < levels; ++i) {
    if (i % 2 == 0) {
      open += R"({"n":)";
      close = "}" + close;
    } else {
      open += "[";
      close = "]" + close;
    }
  }
  return open + "1" + close;
}

TEST(ParseJsonInput, AcceptsTheDeepestAllowedAndRefusesOneMore) {
  std::string error;
  EXPECT_TRUE(parse_json_input(nested_arrays(64), error).has_value()) << error;
  EXPECT_TRUE(parse_json_input(nested_mixed(64), error).has_value()) << error;

  EXPECT_FALSE(parse_json_input(nested_arrays(65), error).has_value());
  EXPECT_EQ(error, "JSON nested deeper than 64 levels");
  EXPECT_FALSE(parse_json_input(nested_mixed(65), error).has_value());
  EXPECT_EQ(error, "JSON nested deeper than 64 levels");
}

TEST(ParseJsonInput, TheLimitCanBeChosen) {
  std::string error;
  EXPECT_TRUE(parse_json_input("[[1]]", error, 2).has_value());
  EXPECT_FALSE(parse_json_input("[[[1]]]", error, 2).has_value());
  EXPECT_EQ(error, "JSON nested deeper than 2 levels");
  EXPECT_TRUE(parse_json_input("7", error, 0).has_value());
  EXPECT_FALSE(parse_json_input("[]", error, 0).has_value());
}

TEST(ParseJsonInput, AHundredThousandLevelsAreRefusedFastWithoutACrash) {
  const std::string body = R"({"n":)" + nested_arrays(100000) + "}";
  std::string error;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(parse_json_input(body, error).has_value());
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(error, "JSON nested deeper than 64 levels");
  // The scan stops at level 65: microseconds, whatever follows. Generous for a loaded machine.
  EXPECT_LT(took, std::chrono::milliseconds(50));
}

TEST(ParseJsonInput, BracketsInsideStringsDoNotCount) {
  const std::string brackets(200, '[');
  std::string error;
  auto value = parse_json_input(R"({"a":")" + brackets + R"(","b":"\"{{{{{{{{"})", error);
  ASSERT_TRUE(value.has_value()) << error;
  EXPECT_EQ((*value)["a"], brackets);
  // An escaped quote does not end the string, so the brackets after it are still inside it.
  value = parse_json_input("[\"\\\"" + brackets + "\"]", error);
  ASSERT_TRUE(value.has_value()) << error;
  EXPECT_EQ((*value)[0], "\"" + brackets);
  // A string whose own backslash is escaped does end at the next quote: what follows counts.
  EXPECT_FALSE(parse_json_input("[\"\\\\\"," + nested_arrays(64) + "]", error).has_value());
  EXPECT_EQ(error, "JSON nested deeper than 64 levels");
  EXPECT_TRUE(parse_json_input("[\"\\\\\"," + nested_arrays(63) + "]", error).has_value()) << error;
}

TEST(ParseJsonInput, InvalidJsonSaysSo) {
  std::string error;
  for (const char* text : {"", "{nope", "[1,]", "{\"a\":1} x", "\"\xff\""}) {
    EXPECT_FALSE(parse_json_input(text, error).has_value()) << text;
    EXPECT_EQ(error, "not valid JSON") << text;
  }
}

TEST(ParseJsonInput, ValidJsonIsTheParsedValue) {
  std::string error = "left over";
  const auto value = parse_json_input(R"({"a":[1,2,{"b":null}],"c":"x"})", error);
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(*value, json::parse(R"({"a":[1,2,{"b":null}],"c":"x"})"));
  EXPECT_EQ(error, "");
}

TEST(JsonNestingDepth, CountsContainersNotScalars) {
  EXPECT_EQ(json_nesting_depth("1", 64), 0u);
  EXPECT_EQ(json_nesting_depth("[]", 64), 1u);
  EXPECT_EQ(json_nesting_depth(R"([{"a":[]},[]])", 64), 3u);
  EXPECT_EQ(json_nesting_depth(nested_arrays(1000), 64), 65u);  // stops past the limit
  EXPECT_EQ(json_nesting_depth("\"\\", 64), 0u);  // a trailing backslash ends the scan
}

TEST(DescribeJson, ShowsSmallValuesAsTheirJson) {
  EXPECT_EQ(describe_json(json(5)), "5");
  EXPECT_EQ(describe_json(json(nullptr)), "null");
  EXPECT_EQ(describe_json(json("abc")), R"("abc")");
  EXPECT_EQ(describe_json(json::parse(R"({"a":[1,true],"b":{}})")), R"({"a":[1,true],"b":{}})");
  EXPECT_EQ(describe_json(json::array()), "[]");
}

TEST(DescribeJson, ABigValueIsItsTypeSizeAndAShortPrefix) {
  json big = json::array();
  for (int i = 0; i < 50000; ++i) big.push_back(1);
  const std::string shown = describe_json(big, 20);
  EXPECT_EQ(shown, "an array of 50000 elements: [1,1,1,1,1,1,1,1,1,1...");

  json object = json::object();
  for (int i = 0; i < 1000; ++i) object["key" + std::to_string(i)] = i;
  EXPECT_EQ(describe_json(object, 12), R"(an object of 1000 members: {"key0":0,"k...)");

  EXPECT_EQ(describe_json(json(std::string(1 << 20, 'x')), 6),
            R"(a string of 1048576 bytes: "xxxxx...)");
  // A huge key is cut too.
  const std::string shown_key = describe_json(json{{std::string(1 << 20, 'k'), 1}});
  EXPECT_LT(shown_key.size(), 140u) << shown_key;
}

TEST(DescribeJson, AHundredThousandLevelsAreShownWithoutRecursion) {
  std::string error;
  // Built with a limit raised for the test: the parser and the destructor are iterative.
  const auto deep = parse_json_input(nested_arrays(100000), error, 200000);
  ASSERT_TRUE(deep.has_value()) << error;
  const std::string shown = describe_json(*deep);
  EXPECT_EQ(shown, "an array of 1 element: " + std::string(80, '[') + "...");
}

TEST(DescribeJson, CutsAtACharacterBoundary) {
  // "é" is two bytes: a cut in the middle would leave invalid UTF-8 in the message.
  std::string text;
  for (int i = 0; i < 100; ++i) text += "\xc3\xa9";
  const std::string shown = describe_json(json::array({text}), 10);
  EXPECT_NO_THROW((void)json(shown).dump()) << shown;  // the strict handler refuses bad UTF-8
}

TEST(QuoteInput, QuotesAndCutsShort) {
  EXPECT_EQ(quote_input("abc"), R"("abc")");
  EXPECT_EQ(quote_input(""), R"("")");
  EXPECT_EQ(quote_input(std::string(100, 'a'), 5), R"("aaaaa...")");
  EXPECT_EQ(quote_input("a\"b"), R"("a\"b")");
  EXPECT_EQ(quote_input("\xff"), "\"\xef\xbf\xbd\"");  // invalid UTF-8 shown as U+FFFD
  EXPECT_NO_THROW((void)json(quote_input("\xc3\xa9\xc3\xa9", 3)).dump());
}

TEST(CutInput, CutsLongTextOnly) {
  EXPECT_EQ(cut_input("short", 10), "short");
  EXPECT_EQ(cut_input("0123456789abc", 10), "0123456789...");
  EXPECT_EQ(cut_input("\xc3\xa9\xc3\xa9", 3), "\xc3\xa9...");
}

}  // namespace
}  // namespace p2pfaas::config
