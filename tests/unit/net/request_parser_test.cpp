#include "net/request_parser.hpp"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <string>

namespace p2pfaas::net {
namespace {

// Feeds `bytes` as one buffer, the way the server's read loop does when they arrive together.
boost::system::error_code feed(request_parser& parser, const std::string& bytes) {
  boost::system::error_code ec;
  parser.eager(true);
  std::size_t used = 0;
  while (used < bytes.size() && !parser.is_done()) {
    const auto n = parser.put(boost::asio::buffer(bytes.data() + used, bytes.size() - used), ec);
    used += n;
    if (ec || n == 0) break;
  }
  return ec;
}

std::optional<framing_problem> framing_of(const std::string& head) {
  request_parser parser(8192, 1 << 20, nullptr);
  parser.eager(false);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(head), ec);
  EXPECT_FALSE(ec) << ec.message() << " for " << head;
  EXPECT_TRUE(parser.is_header_done()) << head;
  return check_framing(parser);
}

TEST(RequestParser, ReadsAContentLengthBody) {
  body_budget budget(1 << 20);
  request_parser parser(8192, 1 << 20, &budget);
  const std::string body = "hello, a body longer than a short string";
  EXPECT_FALSE(feed(parser, "POST /a?b=1 HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body));
  ASSERT_TRUE(parser.is_done());
  EXPECT_EQ(parser.get().method(), http::verb::post);
  EXPECT_EQ(parser.get().target(), "/a?b=1");
  EXPECT_EQ(parser.get().body(), body);
  EXPECT_EQ(budget.held(), body.size());
  parser.discard();
  EXPECT_EQ(budget.held(), 0u);
}

TEST(RequestParser, KeepsAnUnknownMethod) {
  request_parser parser(8192, 1 << 20, nullptr);
  EXPECT_FALSE(feed(parser, "BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(parser.get().method(), http::verb::unknown);
  EXPECT_EQ(parser.get().method_string(), "BREW");
}

TEST(RequestParser, DropsTrailersButCountsThem) {
  request_parser parser(1024, 1 << 20, nullptr);
  EXPECT_FALSE(feed(parser,
                    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "3;ext=1\r\nabc\r\n0\r\nX-Secret: yes\r\nHost: evil\r\n\r\n"));
  ASSERT_TRUE(parser.is_done());
  EXPECT_EQ(parser.get().body(), "abc");
  EXPECT_EQ(parser.get()["X-Secret"], "");
  EXPECT_EQ(parser.get().count(http::field::host), 1u);
  EXPECT_EQ(parser.get()[http::field::host], "x");

  request_parser small(1024, 1 << 20, nullptr);
  const auto ec = feed(small,
                       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "0\r\nX-Big: " +
                           std::string(1100, 'a') + "\r\n\r\n");
  EXPECT_EQ(ec, request_error::trailers_too_large);
}

TEST(RequestParser, AFieldBeastCannotHoldIsAnErrorNotAnException) {
  request_parser parser(1 << 20, 1 << 20, nullptr);  // clamped to 65535
  const auto ec =
      feed(parser, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(70000, 'a') + "\r\n\r\n");
  EXPECT_EQ(ec, http::error::header_limit);
}

TEST(RequestParser, ChunkedBodyIsChargedBeforeItIsStored) {
  body_budget budget(100);
  {
    request_parser parser(8192, 1 << 20, &budget);
    const auto ec = feed(parser,
                         "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "32\r\n" +
                             std::string(50, 'a') + "\r\n40\r\n" + std::string(64, 'b') + "\r\n");
    EXPECT_EQ(ec, request_error::body_budget);
    EXPECT_EQ(budget.held(), 50u);
    EXPECT_EQ(budget.refused(), 1u);
  }
  EXPECT_EQ(budget.held(), 0u);  // given back with the parser
}

TEST(RequestParser, ReserveBodyRefusesWhatDoesNotFit) {
  body_budget budget(1000);
  request_parser first(8192, 1 << 20, &budget);
  EXPECT_TRUE(first.reserve_body(600));
  request_parser second(8192, 1 << 20, &budget);
  EXPECT_FALSE(second.reserve_body(600));
  EXPECT_TRUE(second.reserve_body(400));
  EXPECT_EQ(budget.held(), 1000u);
  EXPECT_EQ(budget.refused(), 1u);
}

TEST(BodyBudget, NeverHoldsMoreThanItsLimit) {
  body_budget budget(10);
  EXPECT_TRUE(budget.try_take(10));
  EXPECT_FALSE(budget.try_take(1));
  budget.give_back(4);
  EXPECT_FALSE(budget.try_take(5));
  EXPECT_TRUE(budget.try_take(4));
  EXPECT_EQ(budget.held(), 10u);
  budget.set_limit(5);  // lowered below what is held: nothing more until enough is released
  budget.give_back(7);
  EXPECT_FALSE(budget.try_take(3));
  EXPECT_TRUE(budget.try_take(2));
  EXPECT_FALSE(budget.try_take(std::numeric_limits<std::uint64_t>::max()));
}

TEST(Framing, AcceptsPlainRequests) {
  EXPECT_FALSE(framing_of("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_FALSE(framing_of("GET / HTTP/1.0\r\n\r\n"));
  EXPECT_FALSE(framing_of("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n"));
  EXPECT_FALSE(framing_of("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  EXPECT_FALSE(framing_of("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ,CHUNKED ,\r\n\r\n"));
}

TEST(Framing, TransferEncodingMustBeExactlyChunked) {
  for (std::string coding : {"gzip", "xchunked", "chunked, identity", "gzip, chunked",
                             "chunked, chunked", "chunked;a=b", " "}) {
    auto problem =
        framing_of("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + coding + "\r\n\r\n");
    ASSERT_TRUE(problem) << coding;
    EXPECT_EQ(problem->status, http::status::bad_request);
    EXPECT_EQ(problem->code, "bad_transfer_encoding");
  }
  // Beast refuses a second Transfer-Encoding after chunked itself; gzip then chunked is ours.
  EXPECT_TRUE(
      framing_of("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: "
                 "chunked\r\n\r\n"));
}

TEST(Framing, TransferEncodingWithContentLengthOrInHttp10) {
  auto both = framing_of(
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\n");
  ASSERT_TRUE(both);
  EXPECT_NE(both->message.find("Content-Length"), std::string::npos);
  auto old = framing_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n");
  ASSERT_TRUE(old);
  EXPECT_NE(old->message.find("HTTP/1.0"), std::string::npos);
}

TEST(Framing, HostCount) {
  auto none = framing_of("GET / HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->code, "bad_host");
  EXPECT_TRUE(framing_of("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"));
  EXPECT_TRUE(framing_of("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"));
}

}  // namespace
}  // namespace p2pfaas::net
