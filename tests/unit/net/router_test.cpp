#include "net/router.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace p2pfaas::net {
namespace {

namespace asio = boost::asio;

handler answer(std::string text) {
  return [text](request_context& ctx) -> asio::awaitable<response> {
    response res{http::status::ok, 11};
    res.body() = text;
    for (const auto& [k, v] : ctx.params) res.body() += "|" + k + "=" + v;
    co_return res;
  };
}

response run(const router& r, http::verb method, std::string target) {
  asio::io_context io;
  request req{method, target, 11};
  auto [path, query] = split_target(req.target());
  request_context ctx{req, path, query, {}, {}};
  auto future = asio::co_spawn(io, r.handle(ctx), asio::use_future);
  io.run();
  return future.get();
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    routes.add({http::verb::get}, "/health", answer("health"));
    routes.add({}, "/function/{fn}/{rest...}", answer("function"));
    routes.add({http::verb::get, http::verb::post}, "/configuration", answer("config"));
    routes.add({http::verb::get}, "/items/{id}/detail", answer("detail"));
  }
  router routes;
};

TEST_F(RouterTest, MatchesLiteralPaths) {
  EXPECT_EQ(run(routes, http::verb::get, "/health").body(), "health");
  EXPECT_EQ(run(routes, http::verb::get, "/health?x=1").body(), "health");
}

TEST_F(RouterTest, FunctionWithAndWithoutRest) {
  EXPECT_EQ(run(routes, http::verb::post, "/function/echo").body(), "function|fn=echo|rest=");
  EXPECT_EQ(run(routes, http::verb::put, "/function/echo/a/b%20c").body(),
            "function|fn=echo|rest=a/b c");
  EXPECT_EQ(run(routes, http::verb::get, "/function/echo/").body(), "function|fn=echo|rest=");
}

TEST_F(RouterTest, PlusIsLiteralInPaths) {
  EXPECT_EQ(run(routes, http::verb::get, "/function/my+fn/a+b?q=x+y").body(),
            "function|fn=my+fn|rest=a+b");
}

TEST_F(RouterTest, ParamSegmentMustBeNonEmpty) {
  EXPECT_EQ(run(routes, http::verb::get, "/function/").result_int(), 404);
  EXPECT_EQ(run(routes, http::verb::get, "/items//detail").result_int(), 404);
  EXPECT_EQ(run(routes, http::verb::get, "/items/7/detail").body(), "detail|id=7");
}

TEST_F(RouterTest, UnknownPathIs404WithJsonError) {
  response res = run(routes, http::verb::get, "/nope");
  EXPECT_EQ(res.result_int(), 404);
  EXPECT_EQ(nlohmann::json::parse(res.body())["code"], "not_found");
  EXPECT_EQ(run(routes, http::verb::get, "/healthy").result_int(), 404);
  EXPECT_EQ(run(routes, http::verb::get, "/health/x").result_int(), 404);
}

TEST_F(RouterTest, WrongMethodIs405WithAllow) {
  response res = run(routes, http::verb::delete_, "/configuration");
  EXPECT_EQ(res.result_int(), 405);
  EXPECT_EQ(res[http::field::allow], "GET, POST");
  EXPECT_EQ(nlohmann::json::parse(res.body())["code"], "method_not_allowed");
}

TEST(Router, HandlerExceptionBecomes500) {
  router r;
  r.add({}, "/boom", [](request_context&) -> asio::awaitable<response> {
    throw std::runtime_error("kaboom");
    co_return response{};
  });
  response res = run(r, http::verb::get, "/boom");
  EXPECT_EQ(res.result_int(), 500);
  EXPECT_EQ(nlohmann::json::parse(res.body())["code"], "internal_error");
}

TEST(Router, RejectsBadPatterns) {
  router r;
  EXPECT_THROW(r.add({}, "no-slash", answer("x")), std::invalid_argument);
  EXPECT_THROW(r.add({}, "/a/{rest...}/b", answer("x")), std::invalid_argument);
}

}  // namespace
}  // namespace p2pfaas::net
