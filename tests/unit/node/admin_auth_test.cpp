#include "node/admin_auth.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>
#include <optional>
#include <string>

namespace p2pfaas::node {
namespace {

namespace http = net::http;
using boost::asio::ip::make_address;
using boost::asio::ip::tcp;

struct probe {
  net::request req;
  tcp::endpoint remote{make_address("127.0.0.1"), 40000};

  explicit probe(http::verb method = http::verb::get, std::string host = "127.0.0.1:18080") {
    req.method(method);
    req.target("/configuration");
    req.version(11);
    if (!host.empty()) req.set(http::field::host, host);
  }
  int status(const admin_auth& auth, admin_access access = admin_access::read) {
    net::request_context ctx{req, "/configuration", "", remote, {}};
    const auto refused = auth.refuse(ctx, access);
    return refused ? refused->result_int() : 200;
  }
};

const admin_auth no_token(std::nullopt, {"node-a", "edge-box.lan", "10.1.2.3:18080"});
const admin_auth with_token(std::string("0123456789abcdef"), {"node-a"});

TEST(AdminAuth, WithoutATokenLoopbackClientsThatAreNotPagesMayAdminister) {
  EXPECT_EQ(probe().status(no_token), 200);
  probe remote;
  remote.remote = tcp::endpoint(make_address("192.0.2.7"), 40000);
  EXPECT_EQ(remote.status(no_token), 401);
  probe page(http::verb::post);
  page.req.set(http::field::origin, "https://example.com");
  EXPECT_EQ(page.status(no_token, admin_access::change), 401);
}

TEST(AdminAuth, ADnsRebindingPageIsRefusedByItsHost) {
  EXPECT_EQ(probe(http::verb::get, "attacker.example:18080").status(no_token), 403);
  EXPECT_EQ(probe(http::verb::get, "attacker.example").status(no_token), 403);
  // The node's own names, localhost and literal addresses are fine.
  for (const char* host : {"localhost:18080", "LOCALHOST", "app.localhost", "node-a:18080",
                           "Edge-Box.lan.", "10.1.2.3", "[::1]:18080", "127.0.0.1"}) {
    EXPECT_EQ(probe(http::verb::get, host).status(no_token), 200) << host;
  }
  // HTTP/1.0 may omit Host; browsers never do.
  EXPECT_EQ(probe(http::verb::get, "").status(no_token), 200);
}

TEST(AdminAuth, AGetThatChangesStateNeedsTheToken) {
  probe get;
  EXPECT_EQ(get.status(no_token, admin_access::change), 405);
  EXPECT_EQ(probe(http::verb::post).status(no_token, admin_access::change), 200);
  EXPECT_EQ(get.status(with_token, admin_access::change), 401);
  get.req.set(http::field::authorization, "Bearer 0123456789abcdef");
  EXPECT_EQ(get.status(with_token, admin_access::change), 200);
}

TEST(AdminAuth, WithATokenOnlyTheTokenCounts) {
  probe local;
  EXPECT_EQ(local.status(with_token), 401);
  local.req.set(http::field::authorization, "Bearer 0123456789abcdeX");
  EXPECT_EQ(local.status(with_token), 401);
  local.req.set(http::field::authorization, "bearer 0123456789abcdef");  // scheme: any case
  EXPECT_EQ(local.status(with_token), 200);
  probe remote(http::verb::get, "attacker.example");
  remote.remote = tcp::endpoint(make_address("192.0.2.7"), 40000);
  remote.req.set(http::field::authorization, "Bearer 0123456789abcdef");
  EXPECT_EQ(remote.status(with_token), 200);
}

TEST(AdminAuth, OwnNamesComeFromTheConfig) {
  config::config cfg = config::defaults();
  cfg.node.id = "edge-7";
  cfg.node.listen = "10.0.0.5:18080";
  cfg.node.advertise = "edge-7.site.lan:18080";
  const admin_auth auth(std::nullopt, admin_auth::own_names(cfg));
  EXPECT_TRUE(auth.names_this_node("edge-7:18080"));
  EXPECT_TRUE(auth.names_this_node("EDGE-7.site.lan"));
  EXPECT_FALSE(auth.names_this_node("site.lan"));
}

}  // namespace
}  // namespace p2pfaas::node
