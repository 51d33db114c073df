#include "net/http.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace p2pfaas::net {
namespace {

TEST(SplitTarget, SeparatesPathAndQuery) {
  auto [path, query] = split_target("/function/sleep?ms=5&x=1");
  EXPECT_EQ(path, "/function/sleep");
  EXPECT_EQ(query, "ms=5&x=1");
  auto [only_path, no_query] = split_target("/health");
  EXPECT_EQ(only_path, "/health");
  EXPECT_TRUE(no_query.empty());
}

TEST(ParseQuery, DecodesPairsInOrder) {
  query_list q;
  ASSERT_TRUE(parse_query("b=2&a=hello%20world&flag&c=x+y&&", q));
  ASSERT_EQ(q.size(), 4u);
  EXPECT_EQ(q[0], (std::pair<std::string, std::string>{"b", "2"}));
  EXPECT_EQ(q[1], (std::pair<std::string, std::string>{"a", "hello world"}));
  EXPECT_EQ(q[2], (std::pair<std::string, std::string>{"flag", ""}));
  EXPECT_EQ(q[3], (std::pair<std::string, std::string>{"c", "x y"}));
}

TEST(ParseQuery, RejectsMalformedEscapes) {
  query_list q;
  EXPECT_FALSE(parse_query("a=%2", q));
  EXPECT_FALSE(parse_query("a=%zz", q));
  EXPECT_FALSE(parse_query("a=%", q));
  EXPECT_TRUE(parse_query("a=%41", q));
  EXPECT_EQ(q[0].second, "A");
}

TEST(JsonError, HasCodeAndMessage) {
  response res = json_error(http::status::too_many_requests, "full", "no \"slot\"");
  EXPECT_EQ(res.result_int(), 429);
  EXPECT_EQ(res[http::field::content_type], "application/json");
  auto body = nlohmann::json::parse(res.body());
  EXPECT_EQ(body["code"], "full");
  EXPECT_EQ(body["message"], "no \"slot\"");
}

TEST(IsLoopback, CoversV4V6AndMapped) {
  using boost::asio::ip::make_address;
  EXPECT_TRUE(is_loopback(make_address("127.0.0.1")));
  EXPECT_TRUE(is_loopback(make_address("127.8.9.10")));
  EXPECT_TRUE(is_loopback(make_address("::1")));
  EXPECT_TRUE(is_loopback(make_address("::ffff:127.0.0.1")));
  EXPECT_FALSE(is_loopback(make_address("10.0.0.1")));
  EXPECT_FALSE(is_loopback(make_address("::ffff:10.0.0.1")));
  EXPECT_FALSE(is_loopback(make_address("fe80::1")));
}

TEST(ConstantTimeEqual, ComparesContentAndLength) {
  EXPECT_TRUE(constant_time_equal("secret", "secret"));
  EXPECT_FALSE(constant_time_equal("secret", "secreT"));
  EXPECT_FALSE(constant_time_equal("secret", "secret2"));
  EXPECT_FALSE(constant_time_equal("secret2", "secret"));
  EXPECT_FALSE(constant_time_equal("", "x"));
}

}  // namespace
}  // namespace p2pfaas::net

namespace p2pfaas::net {
namespace {

TEST(JsonError, InvalidUtf8InTheMessageDoesNotThrow) {
  response res = json_error(http::status::not_found, "unknown_function", "no function \xff\xfe");
  EXPECT_EQ(res.result_int(), 404);
  EXPECT_NO_THROW(nlohmann::json::parse(res.body()));
}

}  // namespace
}  // namespace p2pfaas::net
