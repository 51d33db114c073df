#include "net/http_server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <future>
#include <thread>

#include "tests/support/daemon_process.hpp"
#include "tests/support/http_client.hpp"

namespace p2pfaas::net {
namespace {

namespace asio = boost::asio;
using testing::http_get;
using testing::http_request;
using testing::raw_exchange;

class HttpServerTest : public ::testing::Test {
 protected:
  // Two threads run the context, so sessions need (and get) their strands.
  void start(server_limits limits = {}, std::size_t threads = 2) {
    routes_.add({http::verb::get}, "/hello", [](request_context&) -> asio::awaitable<response> {
      co_return json_response(http::status::ok, R"({"hello":"world"})");
    });
    routes_.add({http::verb::post}, "/echo", [](request_context& ctx) -> asio::awaitable<response> {
      response res{http::status::ok, 11};
      res.body() = ctx.req.body();
      co_return res;
    });
    routes_.add({http::verb::get}, "/slow", [this](request_context&) -> asio::awaitable<response> {
      ++slow_started_;
      asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(300));
      co_await timer.async_wait(asio::use_awaitable);
      co_return json_response(http::status::ok, R"({"slow":true})");
    });
    routes_.add({http::verb::get}, "/no-content",
                [](request_context&) -> asio::awaitable<response> {
                  response res{http::status::no_content, 11};
                  res.body() = "a body a 204 cannot have";
                  co_return res;
                });
    server_ = std::make_unique<http_server>(io_, routes_, limits, static_cast<int>(threads));
    port_ = server_->listen({asio::ip::make_address("127.0.0.1"), 0}).port();
    server_->start();
    for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  void TearDown() override {
    if (server_) server_->stop();
    work_.reset();
    for (auto& t : threads_) t.join();
  }

  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      io_.get_executor()};
  router routes_;
  std::unique_ptr<http_server> server_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  std::atomic<int> slow_started_{0};  // /slow handlers entered: the request was read whole
};

int count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1))
    ++n;
  return n;
}

TEST_F(HttpServerTest, AnswersAndRoutes) {
  start();
  auto r = http_get(port_, "/hello");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"hello":"world"})");
  EXPECT_EQ(http_get(port_, "/missing").status, 404);
}

TEST_F(HttpServerTest, SingleThreadWithoutStrandsServesPipelinedRequests) {
  start({}, 1);
  std::string out = raw_exchange(port_,
                                 "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                                 "GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(out.find("hello"), std::string::npos) << out;
  EXPECT_NE(out.find("slow"), std::string::npos) << out;
}

TEST_F(HttpServerTest, AnswersWhileOthersWait) {
  start({}, 1);
  std::promise<testing::reply> slow;
  std::thread caller([&] { slow.set_value(http_get(port_, "/slow")); });
  ASSERT_TRUE(testing::eventually([&] { return slow_started_ == 1; }));
  EXPECT_EQ(http_get(port_, "/hello").status, 200);  // not stuck behind /slow
  caller.join();
  EXPECT_EQ(slow.get_future().get().status, 200);
}

TEST_F(HttpServerTest, AnswersAndRoutesTwoThreads) {
  start({}, 2);
  auto r = http_get(port_, "/hello");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"hello":"world"})");
  EXPECT_EQ(http_get(port_, "/missing").status, 404);
}

TEST_F(HttpServerTest, PipelinedRequestsAnsweredInOrderOnOneConnection) {
  start();
  std::string two =
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfirst"
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nsecond"
      "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  std::string out = raw_exchange(port_, two);
  EXPECT_EQ(count(out, "HTTP/1.1 200 OK"), 3) << out;
  auto first = out.find("first"), second = out.find("second"), third = out.find("hello");
  ASSERT_NE(first, std::string::npos);
  ASSERT_NE(second, std::string::npos);
  ASSERT_NE(third, std::string::npos);
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
  EXPECT_EQ(server_->connections_accepted(), 1u);
}

TEST_F(HttpServerTest, BodyOverLimitIs413ByContentLength) {
  start({.max_body_bytes = 10});
  auto r = http_request(port_, "POST", "/echo", std::string(11, 'x'));
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("body_too_large"), std::string::npos);
  EXPECT_EQ(http_request(port_, "POST", "/echo", std::string(10, 'x')).status, 200);
}

TEST_F(HttpServerTest, ChunkedBodyOverLimitIs413) {
  start({.max_body_bytes = 10});
  std::string out =
      raw_exchange(port_,
                   "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n");
  EXPECT_NE(out.find("HTTP/1.1 413"), std::string::npos) << out;
}

TEST_F(HttpServerTest, HeadersOverLimitAre431) {
  start({.max_header_bytes = 1024});
  auto r = http_get(port_, "/hello", {{"X-Big", std::string(2000, 'a')}});
  EXPECT_EQ(r.status, 431);
}

TEST_F(HttpServerTest, MalformedRequestIs400AndCloses) {
  start();
  std::string out = raw_exchange(port_, "BLAH\r\n\r\n");
  EXPECT_NE(out.find("HTTP/1.1 400"), std::string::npos) << out;
  EXPECT_NE(out.find("bad_request"), std::string::npos);
}

TEST_F(HttpServerTest, ExpectContinueGetsInterimAnswer) {
  start();
  std::string out =
      raw_exchange(port_,
                   "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"
                   "Connection: close\r\n\r\nok");
  EXPECT_EQ(out.rfind("HTTP/1.1 100 Continue", 0), 0u) << out;
  EXPECT_NE(out.find("HTTP/1.1 200 OK"), std::string::npos);
}

TEST_F(HttpServerTest, IdleConnectionClosedAfterReadTimeout) {
  start({.read_timeout = std::chrono::milliseconds(200)});
  auto begin = std::chrono::steady_clock::now();
  // Sends a partial request and then nothing: the server must hang up by itself.
  std::string out = raw_exchange(port_, "GET /hello HTTP/1.1\r\n", std::chrono::seconds(10));
  auto elapsed = std::chrono::steady_clock::now() - begin;
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  EXPECT_TRUE(testing::eventually([&] { return server_->connections() == 0; }));
}

TEST_F(HttpServerTest, ConnectionsOverLimitAreRefusedWith503) {
  start({.max_connections = 1});
  std::promise<std::string> first;
  std::thread holder([&] {
    // Keeps connection 1 busy on /slow while connection 2 arrives.
    first.set_value(
        raw_exchange(port_, "GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  });
  ASSERT_TRUE(testing::eventually([&] { return server_->connections() == 1; }));
  auto second = http_get(port_, "/hello");
  EXPECT_EQ(second.status, 503);
  EXPECT_NE(second.body.find("too_many_connections"), std::string::npos);
  holder.join();
  EXPECT_NE(first.get_future().get().find("200 OK"), std::string::npos);
  EXPECT_EQ(server_->connections_refused(), 1u);
}

TEST_F(HttpServerTest, StopLetsBusyConnectionFinishItsAnswer) {
  start();
  std::promise<testing::reply> slow;
  std::thread caller([&] { slow.set_value(http_get(port_, "/slow")); });
  // Busy means its request was read: an accepted connection whose request is still unread is
  // idle, and stop() closes idle connections at once.
  ASSERT_TRUE(testing::eventually([&] { return slow_started_ == 1; }));
  server_->stop();
  caller.join();
  auto r = slow.get_future().get();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("connection"), "close");
  EXPECT_EQ(http_get(port_, "/hello").status, 0);  // no longer accepting
}

// A client that sends in timed steps, to act out slow or idle clients.
class stepped_client {
 public:
  explicit stepped_client(std::uint16_t port) : socket_(io_) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
  }
  void send(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  std::string read_all() {
    std::string out;
    std::array<char, 4096> chunk;
    boost::system::error_code ec;
    while (!ec) {
      std::size_t n = socket_.read_some(asio::buffer(chunk), ec);
      out.append(chunk.data(), n);
    }
    return out;
  }

 private:
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
};

TEST_F(HttpServerTest, IdleTimeBeforeARequestDoesNotCountAgainstItsBody) {
  start({.read_timeout = std::chrono::milliseconds(600)});
  stepped_client client(port_);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // idle on keep-alive
  client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // a slow but timely body
  client.send("body");
  std::string out = client.read_all();
  EXPECT_NE(out.find("HTTP/1.1 200 OK"), std::string::npos) << out;
  EXPECT_NE(out.find("body"), std::string::npos);
}

TEST_F(HttpServerTest, LargeBodyOverTheLimitStillGetsIts413) {
  start({.max_body_bytes = 1024});
  // The client sends its whole 4 MiB before reading: the server must read and drop it rather
  // than reset the connection, or the client never sees the answer.
  auto r = http_request(port_, "POST", "/echo", std::string(4 << 20, 'x'));
  EXPECT_EQ(r.status, 413) << r.error;
}

TEST_F(HttpServerTest, NoInterimContinueForHttp10) {
  start();
  std::string out = raw_exchange(
      port_, "POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok");
  EXPECT_EQ(out.find("100 Continue"), std::string::npos) << out;
  EXPECT_EQ(out.rfind("HTTP/1.0 200 OK", 0), 0u) << out;
}

TEST_F(HttpServerTest, ResponseThatCannotCarryItsBodyBecomes500) {
  start();
  auto r = http_get(port_, "/no-content");
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("bad_response"), std::string::npos);
  EXPECT_TRUE(testing::eventually([&] { return server_->connections() == 0; }));
  EXPECT_EQ(http_get(port_, "/hello").status, 200);
}

}  // namespace
}  // namespace p2pfaas::net
