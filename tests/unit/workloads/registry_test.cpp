#include "workloads/registry.hpp"

#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace p2pfaas::workloads {
namespace {

function_body answering(std::string text) {
  return [text](const invocation&, function_context&) {
    return function_result{200, text, "text/plain"};
  };
}

function_result call(const function_body& body) {
  std::mt19937_64 rng(1);
  function_context context{{}, {}, 64, rng};
  return body(invocation{}, context);
}

TEST(FunctionRegistry, FindsWhatWasAdded) {
  function_registry registry;
  registry.add("hello", answering("hi"));
  const auto* body = registry.find("hello");
  ASSERT_NE(body, nullptr);
  EXPECT_EQ(call(*body).body, "hi");
}

TEST(FunctionRegistry, UnknownNameIsNull) {
  function_registry registry;
  registry.add("hello", answering("hi"));
  EXPECT_EQ(registry.find("hell"), nullptr);
  EXPECT_EQ(registry.find(""), nullptr);
}

TEST(FunctionRegistry, AddReplacesAnExistingFunction) {
  function_registry registry;
  registry.add("f", answering("old"));
  registry.add("f", answering("new"));
  ASSERT_NE(registry.find("f"), nullptr);
  EXPECT_EQ(call(*registry.find("f")).body, "new");
  EXPECT_EQ(registry.names().size(), 1u);
}

TEST(FunctionRegistry, NamesAreSorted) {
  function_registry registry;
  registry.add("zeta", answering("z"));
  registry.add("alpha", answering("a"));
  registry.add("mid", answering("m"));
  EXPECT_EQ(registry.names(), (std::vector<std::string>{"alpha", "mid", "zeta"}));
}

TEST(FunctionRegistry, RejectsEmptyNameOrBody) {
  function_registry registry;
  EXPECT_THROW(registry.add("", answering("x")), std::invalid_argument);
  EXPECT_THROW(registry.add("f", function_body{}), std::invalid_argument);
  EXPECT_TRUE(registry.names().empty());
}

}  // namespace
}  // namespace p2pfaas::workloads
