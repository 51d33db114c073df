#include "net/peer_link.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "net/http_server.hpp"
#include "net/peer_server.hpp"
#include "net/router.hpp"
#include "tests/support/daemon_process.hpp"
#include "tests/support/http_client.hpp"

namespace p2pfaas::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

key_ring ring_of(std::initializer_list<std::uint8_t> fills) {
  key_ring ring;
  for (auto fill : fills) ring.keys.emplace_back(32, fill);
  return ring;
}
const key_ring cluster = ring_of({1});

asio::awaitable<void> pause(steady::duration d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(use_tuple);
}

template <typename T>
T get(std::future<T>& future, steady::duration timeout = 10s) {
  if (future.wait_for(timeout) != std::future_status::ready) {
    ADD_FAILURE() << "no result within the test's timeout";
    return T{};
  }
  return future.get();
}

peer_call full_call() {
  peer_call c;
  c.function = "echo";
  c.path_rest = "rest/of/path";
  c.query = "a=1&b=%20";
  c.content_type = "text/plain";
  c.headers = {{"X-Call", "1"}, {"X-Other", "two"}};
  c.payload = std::string("payload\0with nul", 16);
  c.call_id = "id-1";
  c.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  c.timeout_ms = 12'000;
  c.deadline_seconds = 0.5;
  c.path = {"node-z", "node-a"};
  return c;
}

peer_reply full_reply() {
  peer_reply r;
  r.status = 201;
  r.content_type = "application/json";
  r.body = R"({"ok":true})";
  r.outcome = "ok";
  r.executed_on = "node-c";
  r.path = {"node-b", "node-c"};
  r.total_seconds = {0.3, 0.2};
  r.scheduling_seconds = {0.01, 0.02};
  r.probing_seconds = {0.001, 0};
  r.execution_seconds = 0.15;
  r.executed = true;
  r.cold_start = true;
  r.retry_after_seconds = 2;
  return r;
}

peer_call payload_call(std::string payload) {
  peer_call c;
  c.function = "echo";
  c.payload = std::move(payload);
  return c;
}

// One node's accepting side: an http_server with the peer_server as its /peer upgrade handler.
struct test_node {
  test_node(asio::io_context& io, key_ring keys, std::string id, link_options options,
            peer_server::handler handler, std::function<peer_load()> load_source,
            std::uint16_t port = 0)
      : server(std::move(keys), std::move(id), options, std::move(handler), std::move(load_source)),
        http(io, routes, {}, 2) {
    routes.add({http::verb::get}, "/hello", [](request_context&) -> asio::awaitable<response> {
      co_return json_response(http::status::ok, R"({"hello":"world"})");
    });
    http.set_upgrade_handler(std::string(peer_path), server.upgrade_handler());
    this->port = http.listen({asio::ip::make_address("127.0.0.1"), port}).port();
    http.start();
  }
  ~test_node() { kill(); }
  // As abrupt as a killed process: every link is cut, nothing more is answered.
  void kill() {
    server.close();
    http.stop();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }

  router routes;
  peer_server server;
  http_server http;
  std::uint16_t port = 0;
};

// A TCP relay that can stop passing bytes on, keeping its sockets open: a peer that hangs.
class freezable_proxy {
 public:
  explicit freezable_proxy(std::uint16_t target)
      : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}), target_(target) {
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~freezable_proxy() {
    io_.stop();
    thread_.join();
  }
  std::string address() const {
    return "127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  void freeze() { frozen_ = true; }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
      if (ec) co_return;
      auto client = std::make_shared<tcp::socket>(std::move(socket));
      auto server = std::make_shared<tcp::socket>(io_);
      auto [connect_ec] =
          co_await server->async_connect({asio::ip::make_address("127.0.0.1"), target_}, use_tuple);
      if (connect_ec) continue;
      asio::co_spawn(io_, pump(client, server), asio::detached);
      asio::co_spawn(io_, pump(server, client), asio::detached);
    }
  }
  asio::awaitable<void> pump(std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to) {
    std::array<char, 16384> buffer;
    for (;;) {
      auto [ec, n] = co_await from->async_read_some(asio::buffer(buffer), use_tuple);
      if (ec) break;
      while (frozen_) co_await pause(5ms);
      auto [write_ec, written] =
          co_await asio::async_write(*to, asio::buffer(buffer, n), use_tuple);
      if (write_ec) break;
    }
    boost::system::error_code ignored;
    from->close(ignored);
    to->close(ignored);
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::uint16_t target_;
  std::atomic<bool> frozen_{false};
  std::thread thread_;
};

class PeerLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  void TearDown() override {
    gate_ = true;
    if (client_) client_->close();
    if (node_) node_->kill();
    // Servers are destroyed only once their coroutines are done, as in a node's shutdown.
    work_.reset();
    for (auto& t : threads_) t.join();
  }

  // The handler most tests use: echoes the payload; "block" waits for the gate, "slow" takes
  // 300 ms, "throw" throws, "big" answers with a 100 KiB body.
  peer_server::handler handler() {
    return [this](peer_call call, const std::string& peer) -> asio::awaitable<peer_reply> {
      ++started_;
      {
        std::lock_guard lock(mutex_);
        last_call_ = call;
        last_peer_ = peer;
      }
      if (call.payload == "block") {
        const auto give_up = steady::now() + 30s;
        while (!gate_ && steady::now() < give_up) co_await pause(5ms);
      } else if (call.payload == "slow") {
        co_await pause(300ms);
      } else if (call.payload == "throw") {
        throw std::runtime_error("the function blew up");
      } else if (call.function == "full") {
        co_return full_reply();
      }
      peer_reply reply;
      reply.body = call.payload == "big" ? std::string(100 << 10, 'b') : std::move(call.payload);
      reply.outcome = "ok";
      reply.executed_on = "node-b";
      co_return reply;
    };
  }

  // Reports load_ unless the test gives its own source.
  void start_node(link_options options = {}, key_ring keys = cluster, std::string id = "node-b",
                  std::uint16_t port = 0, std::function<peer_load()> load_source = {}) {
    if (node_) {
      node_->kill();
      retired_.push_back(std::move(node_));
    }
    if (!load_source) {
      load_source = [this] {
        std::lock_guard lock(mutex_);
        return load_;
      };
    }
    node_ = std::make_unique<test_node>(io_, std::move(keys), std::move(id), options, handler(),
                                        std::move(load_source), port);
  }
  void start_client(link_options options = {}, key_ring keys = cluster) {
    client_ = std::make_unique<peer_client>(io_, std::move(keys), "node-a", options);
  }

  // Calls from a coroutine on a strand of its own, as an HTTP session would.
  std::future<peer_outcome> call_async(peer_call call, steady::duration timeout = 10s,
                                       std::string peer = "node-b", std::string address = {}) {
    if (address.empty()) address = node_->address();
    auto promise = std::make_shared<std::promise<peer_outcome>>();
    auto future = promise->get_future();
    auto strand = asio::make_strand(io_);
    asio::co_spawn(
        strand,
        [this, promise, strand, call = std::move(call), peer = std::move(peer),
         address = std::move(address), timeout]() mutable -> asio::awaitable<void> {
          auto outcome =
              co_await client_->call(peer, address, std::move(call), steady::now() + timeout);
          // The caller resumes on its own executor, not on the link's.
          if (!strand.running_in_this_thread()) outcome.message += " [resumed off its strand]";
          promise->set_value(std::move(outcome));
        },
        asio::detached);
    return future;
  }
  peer_outcome call(peer_call c, steady::duration timeout = 10s, std::string peer = "node-b",
                    std::string address = {}) {
    auto future = call_async(std::move(c), timeout, std::move(peer), std::move(address));
    return get(future);
  }

  // Probes as call_async calls.
  std::future<load_outcome> probe_async(steady::duration timeout = 10s, std::string peer = "node-b",
                                        std::string address = {}) {
    if (address.empty()) address = node_->address();
    auto promise = std::make_shared<std::promise<load_outcome>>();
    auto future = promise->get_future();
    auto strand = asio::make_strand(io_);
    asio::co_spawn(
        strand,
        [this, promise, strand, peer = std::move(peer), address = std::move(address),
         timeout]() mutable -> asio::awaitable<void> {
          auto outcome = co_await client_->probe(peer, address, steady::now() + timeout);
          if (!strand.running_in_this_thread()) outcome.message += " [resumed off its strand]";
          promise->set_value(std::move(outcome));
        },
        asio::detached);
    return future;
  }
  load_outcome probe(steady::duration timeout = 10s, std::string peer = "node-b",
                     std::string address = {}) {
    auto future = probe_async(timeout, std::move(peer), std::move(address));
    return get(future);
  }

  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::vector<std::thread> threads_;
  std::unique_ptr<test_node> node_;
  std::vector<std::unique_ptr<test_node>> retired_;
  std::unique_ptr<peer_client> client_;
  std::atomic<int> started_{0};
  std::atomic<bool> gate_{false};
  std::mutex mutex_;
  peer_call last_call_;
  std::string last_peer_;
  peer_load load_;  // what the node reports to probes
};

TEST_F(PeerLinkTest, CallRoundTripsEveryField) {
  start_node();
  start_client();
  peer_call sent = full_call();
  sent.function = "full";
  auto outcome = call(sent);
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_EQ(outcome.reply, full_reply());
  std::lock_guard lock(mutex_);
  EXPECT_EQ(last_call_, sent);
  EXPECT_EQ(last_peer_, "node-a");  // the id the caller proved with the key
}

TEST_F(PeerLinkTest, ConcurrentCallsComeBackToTheirCallers) {
  start_node();
  start_client();
  std::vector<std::future<peer_outcome>> futures;
  for (int i = 0; i < 200; ++i) {
    // Every 7th is slow, so replies come back out of order.
    futures.push_back(call_async(payload_call(i % 7 == 0 ? "slow" : "call " + std::to_string(i))));
  }
  for (int i = 0; i < 200; ++i) {
    auto outcome = get(futures[i]);
    ASSERT_TRUE(outcome.ok()) << i << ": " << outcome.message;
    EXPECT_EQ(outcome.reply.body, i % 7 == 0 ? "slow" : "call " + std::to_string(i));
  }
  EXPECT_EQ(client_->link_count(), 1u);
  EXPECT_EQ(client_->stats().links_opened, 1u);
  EXPECT_EQ(client_->stats().replies, 200u);
  EXPECT_EQ(node_->server.stats().upgrades_accepted, 1u);
}

TEST_F(PeerLinkTest, LinkIsOpenedOnTheFirstCallAndReused) {
  start_node();
  start_client();
  EXPECT_EQ(client_->link_count(), 0u);
  EXPECT_EQ(node_->server.sessions(), 0u);
  for (int i = 0; i < 3; ++i) {
    auto outcome = call(payload_call("x"));
    ASSERT_TRUE(outcome.ok()) << outcome.message;
    EXPECT_EQ(client_->link_count(), 1u);
  }
  EXPECT_EQ(client_->stats().links_opened, 1u);
  EXPECT_EQ(node_->server.stats().upgrades_accepted, 1u);
  EXPECT_EQ(node_->server.sessions(), 1u);
}

TEST_F(PeerLinkTest, HttpServerHandsTheConnectionOver) {
  start_node();
  start_client();
  ASSERT_TRUE(call(payload_call("x")).ok());
  // The link's connection left the HTTP server's count...
  EXPECT_TRUE(testing::eventually([&] { return node_->http.connections() == 0; }));
  EXPECT_EQ(testing::http_get(node_->port, "/hello").status, 200);
  EXPECT_EQ(testing::http_get(node_->port, "/peer").status, 404);  // not an upgrade: routed
  // ...and its stop(): only the peer server closes links.
  node_->http.stop();
  auto outcome = call(payload_call("after stop"));
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_EQ(outcome.reply.body, "after stop");
}

// A synchronous WebSocket client, to act out callers with bad credentials.
struct upgrade_result {
  int status = 0;
  std::string body;
  std::string server_token;
};
upgrade_result try_upgrade(std::uint16_t port, std::optional<std::string> authorization) {
  asio::io_context io;
  websocket::stream<tcp::socket> ws(io);
  ws.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
  ws.set_option(websocket::stream_base::decorator([authorization](websocket::request_type& req) {
    if (authorization) req.set(http::field::authorization, *authorization);
  }));
  websocket::response_type res;
  boost::system::error_code ec;
  ws.handshake(res, "127.0.0.1", "/peer", ec);
  return {static_cast<int>(res.result_int()), res.body(),
          std::string(res[peer_auth_response_header])};
}

TEST_F(PeerLinkTest, UpgradeWithoutTheKeyIs401) {
  start_node();
  // No credentials, seen by a plain HTTP client.
  auto plain = testing::http_get(node_->port, "/peer",
                                 {{"Upgrade", "websocket"},
                                  {"Connection", "Upgrade"},
                                  {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                                  {"Sec-WebSocket-Version", "13"}});
  EXPECT_EQ(plain.status, 401);
  EXPECT_NE(plain.body.find(R"("code":"unauthorized")"), std::string::npos) << plain.body;

  auto wrong_key =
      try_upgrade(node_->port, make_peer_token(ring_of({9}), "node-a", wall_clock::now()));
  EXPECT_EQ(wrong_key.status, 401);
  EXPECT_NE(wrong_key.body.find("not sealed with our cluster key"), std::string::npos);
  EXPECT_TRUE(wrong_key.server_token.empty());  // nothing proven to an unknown caller

  auto garbage = try_upgrade(node_->port, "P2pfaas-Peer !!!");
  EXPECT_EQ(garbage.status, 401);

  const auto token = make_peer_token(cluster, "node-a", wall_clock::now());
  auto first = try_upgrade(node_->port, token);
  EXPECT_EQ(first.status, 101);
  opener check(cluster, 30s, 16, peer_upgrade_label);
  std::string problem;
  EXPECT_EQ(open_peer_token(check, first.server_token, wall_clock::now(), problem), "node-b")
      << problem;
  auto replayed = try_upgrade(node_->port, token);
  EXPECT_EQ(replayed.status, 401);
  EXPECT_NE(replayed.body.find("replayed"), std::string::npos) << replayed.body;

  EXPECT_EQ(node_->server.stats().upgrades_refused, 4u);
  // Counted once the 101 is written, which may be just after the client has read it.
  EXPECT_TRUE(testing::eventually([&] { return node_->server.stats().upgrades_accepted == 1; }));
}

TEST_F(PeerLinkTest, ServerWithAnotherKeyRefusesTheCaller) {
  start_node({}, ring_of({2}));
  start_client();
  auto outcome = call(payload_call("x"));
  EXPECT_EQ(outcome.error, peer_error::unauthorized) << outcome.message;
  EXPECT_NE(outcome.message.find("refused our cluster key"), std::string::npos) << outcome.message;
  EXPECT_EQ(client_->link_count(), 0u);
}

TEST_F(PeerLinkTest, CallerRefusesAServerThatCannotProveTheKey) {
  // It accepts our key (any key of its ring opens) but seals with another: an impostor.
  start_node({}, ring_of({2, 1}));
  start_client();
  auto outcome = call(payload_call("x"));
  EXPECT_EQ(outcome.error, peer_error::unauthorized) << outcome.message;
  EXPECT_NE(outcome.message.find("did not prove the cluster key"), std::string::npos)
      << outcome.message;
  EXPECT_EQ(started_, 0);
}

TEST_F(PeerLinkTest, CallerRefusesANodeThatIsNotThePeerItCalled) {
  start_node({}, cluster, "node-c");
  start_client();
  auto outcome = call(payload_call("x"));
  EXPECT_EQ(outcome.error, peer_error::connect_failed);
  EXPECT_NE(outcome.message.find("is node node-c, not node-b"), std::string::npos)
      << outcome.message;
  EXPECT_EQ(started_, 0);
}

TEST_F(PeerLinkTest, FullLinkMakesCallsWaitForRoomUntilTheirDeadline) {
  start_node();
  start_client({.max_in_flight = 2});
  auto first = call_async(payload_call("block"));
  auto second = call_async(payload_call("block"));
  ASSERT_TRUE(testing::eventually([&] { return started_ == 2; }));
  auto third = call_async(payload_call("third"));
  const auto begin = steady::now();
  auto short_deadline = call(payload_call("short"), 150ms);
  EXPECT_EQ(short_deadline.error, peer_error::timed_out);
  EXPECT_NE(short_deadline.message.find("no room"), std::string::npos) << short_deadline.message;
  EXPECT_LT(steady::now() - begin, 1s);
  // Still waiting: the peer has seen only the two that fit.
  EXPECT_EQ(third.wait_for(0s), std::future_status::timeout);
  EXPECT_EQ(started_, 2);

  gate_ = true;
  for (auto* f : {&first, &second, &third}) {
    auto outcome = get(*f);
    EXPECT_TRUE(outcome.ok()) << outcome.message;
  }
  EXPECT_EQ(started_, 3);
}

TEST_F(PeerLinkTest, CallPastItsDeadlineTimesOutAndTheLinkCarriesOn) {
  start_node();
  start_client();
  ASSERT_TRUE(call(payload_call("warm up")).ok());
  const auto begin = steady::now();
  auto outcome = call(payload_call("slow"), 100ms);
  const auto took = steady::now() - begin;
  EXPECT_EQ(outcome.error, peer_error::timed_out);
  EXPECT_NE(outcome.message.find("no reply from node-b"), std::string::npos) << outcome.message;
  EXPECT_GE(took, 90ms);
  EXPECT_LT(took, 280ms);  // well before the handler's 300 ms
  // The caller told the peer, which drops the reply instead of sending it.
  EXPECT_TRUE(testing::eventually([&] { return node_->server.stats().cancels == 1; }));
  auto next = call(payload_call("next"));
  ASSERT_TRUE(next.ok()) << next.message;
  EXPECT_EQ(next.reply.body, "next");
  EXPECT_EQ(client_->stats().links_opened, 1u);
  EXPECT_EQ(client_->stats().failed_with(peer_error::timed_out), 1u);
}

TEST_F(PeerLinkTest, KilledPeerFailsPendingCallsAtOnce) {
  start_node();
  start_client();
  std::vector<std::future<peer_outcome>> pending;
  for (int i = 0; i < 5; ++i) pending.push_back(call_async(payload_call("block"), 30s));
  ASSERT_TRUE(testing::eventually([&] { return started_ == 5; }));
  const auto begin = steady::now();
  node_->kill();
  for (auto& f : pending) {
    auto outcome = get(f, 5s);
    EXPECT_EQ(outcome.error, peer_error::link_lost);
    EXPECT_NE(outcome.message.find("link to node-b lost"), std::string::npos) << outcome.message;
  }
  EXPECT_LT(steady::now() - begin, 1s);  // not the calls' 30 s
  EXPECT_TRUE(testing::eventually([&] { return client_->link_count() == 0; }));
}

TEST_F(PeerLinkTest, LinkReconnectsAfterBackoffWhenThePeerComesBack) {
  start_node();
  start_client();
  ASSERT_TRUE(call(payload_call("x")).ok());
  const auto port = node_->port;
  node_->kill();
  ASSERT_TRUE(testing::eventually([&] { return client_->link_count() == 0; }));
  // In backoff: fails at once, without trying the network.
  const auto begin = steady::now();
  auto refused = call(payload_call("x"), 5s);
  EXPECT_EQ(refused.error, peer_error::connect_failed) << refused.message;
  EXPECT_LT(steady::now() - begin, 500ms);

  start_node({}, cluster, "node-b", port);
  peer_outcome outcome;
  EXPECT_TRUE(testing::eventually([&] {
    outcome = call(payload_call("again"), 1s);
    return outcome.ok();
  })) << outcome.message;
  EXPECT_EQ(outcome.reply.body, "again");
  EXPECT_EQ(client_->stats().reconnects, 1u);
  EXPECT_EQ(client_->link_count(), 1u);
}

TEST_F(PeerLinkTest, UnreachablePeerFailsFastAndBacksOff) {
  const std::uint16_t closed_port = p2pfaas::testing::unused_loopback_port();
  start_client();
  const std::string address = "127.0.0.1:" + std::to_string(closed_port);
  auto first = call(payload_call("x"), 5s, "node-b", address);
  EXPECT_EQ(first.error, peer_error::connect_failed);
  EXPECT_NE(first.message.find("cannot reach node-b at " + address), std::string::npos)
      << first.message;
  auto second = call(payload_call("x"), 5s, "node-b", address);
  EXPECT_EQ(second.error, peer_error::connect_failed);
  EXPECT_NE(second.message.find("next attempt in"), std::string::npos) << second.message;

  // A new address for the peer is tried at once, backoff or not.
  start_node();
  auto moved = call(payload_call("moved"), 5s, "node-b", node_->address());
  EXPECT_TRUE(moved.ok()) << moved.message;

  auto nonsense = call(payload_call("x"), 5s, "node-x", "no-port-here");
  EXPECT_EQ(nonsense.error, peer_error::connect_failed) << nonsense.message;
  EXPECT_EQ(client_->stats().connect_failures, 2u);
}

TEST_F(PeerLinkTest, HostNamesAreResolved) {
  start_node();
  start_client();
  auto outcome =
      call(payload_call("by name"), 5s, "node-b", "localhost:" + std::to_string(node_->port));
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_EQ(outcome.reply.body, "by name");
}

TEST_F(PeerLinkTest, SilentPeerIsDetectedByPings) {
  const link_options fast{.ping_interval = 100ms};
  start_node(fast);
  start_client(fast);
  freezable_proxy proxy(node_->port);
  ASSERT_TRUE(call(payload_call("x"), 5s, "node-b", proxy.address()).ok());
  proxy.freeze();
  const auto begin = steady::now();
  auto outcome = call(payload_call("x"), 30s, "node-b", proxy.address());
  EXPECT_EQ(outcome.error, peer_error::link_lost);
  EXPECT_NE(outcome.message.find("no pong"), std::string::npos) << outcome.message;
  EXPECT_LT(steady::now() - begin, 1s);  // about 3 ping intervals, not the call's 30 s
}

TEST_F(PeerLinkTest, DropFailsPendingCallsAtOnceAndALaterCallOpensANewLink) {
  start_node();
  start_client();
  std::vector<std::future<peer_outcome>> pending;
  for (int i = 0; i < 3; ++i) pending.push_back(call_async(payload_call("block"), 30s));
  ASSERT_TRUE(testing::eventually([&] { return started_ == 3; }));
  const auto begin = steady::now();
  client_->drop("node-b");
  client_->drop("node-unknown");
  for (auto& f : pending) {
    auto outcome = get(f, 5s);
    EXPECT_EQ(outcome.error, peer_error::link_lost);
    EXPECT_NE(outcome.message.find("dropped"), std::string::npos) << outcome.message;
  }
  EXPECT_LT(steady::now() - begin, 500ms);
  EXPECT_EQ(client_->link_count(), 0u);
  auto later = call(payload_call("later"));
  ASSERT_TRUE(later.ok()) << later.message;
  EXPECT_EQ(client_->stats().links_opened, 2u);
}

TEST_F(PeerLinkTest, CloseFailsPendingAndLaterCalls) {
  start_node();
  start_client();
  auto pending = call_async(payload_call("block"), 30s);
  ASSERT_TRUE(testing::eventually([&] { return started_ == 1; }));
  client_->close();
  client_->close();
  auto outcome = get(pending, 2s);
  EXPECT_EQ(outcome.error, peer_error::shut_down) << outcome.message;
  auto later = call(payload_call("x"));
  EXPECT_EQ(later.error, peer_error::shut_down);
  EXPECT_EQ(client_->link_count(), 0u);
}

TEST_F(PeerLinkTest, MessageOverThePeersLimitClosesTheLink) {
  start_node({.max_frame_bytes = 16 << 10});
  start_client({.max_frame_bytes = 1 << 20});
  ASSERT_TRUE(call(payload_call("x")).ok());
  // Small enough to be written whole before the peer refuses it, so its close frame is read.
  auto outcome = call(payload_call(std::string(20 << 10, 'p')));
  EXPECT_EQ(outcome.error, peer_error::link_lost);
  EXPECT_NE(outcome.message.find("size limit"), std::string::npos) << outcome.message;
  // Small calls get through again on a new link.
  EXPECT_TRUE(testing::eventually([&] { return call(payload_call("small"), 1s).ok(); }));
}

TEST_F(PeerLinkTest, ReplyOverOurLimitClosesTheLink) {
  start_node({.max_frame_bytes = 1 << 20});
  start_client({.max_frame_bytes = 64 << 10});
  auto outcome = call(payload_call("big"));
  EXPECT_EQ(outcome.error, peer_error::link_lost);
  EXPECT_NE(outcome.message.find("over max_frame_bytes"), std::string::npos) << outcome.message;
}

TEST_F(PeerLinkTest, CallOverOurLimitFailsWithoutALink) {
  start_node();
  start_client({.max_frame_bytes = 64 << 10});
  auto outcome = call(payload_call(std::string(100 << 10, 'p')));
  EXPECT_EQ(outcome.error, peer_error::protocol);
  EXPECT_NE(outcome.message.find("over max_frame_bytes"), std::string::npos) << outcome.message;
  EXPECT_EQ(client_->stats().links_opened, 0u);
}

TEST_F(PeerLinkTest, MalformedFrameFromTheCallerClosesTheLinkWithAReason) {
  start_node();
  asio::io_context io;
  websocket::stream<tcp::socket> ws(io);
  ws.next_layer().connect({asio::ip::make_address("127.0.0.1"), node_->port});
  ws.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
    req.set(http::field::authorization, make_peer_token(cluster, "node-a", wall_clock::now()));
  }));
  ws.handshake("127.0.0.1", "/peer");
  ws.binary(true);
  ws.write(asio::buffer(std::string("\x05\x00\x00\x00garbage")));
  beast::flat_buffer buffer;
  boost::system::error_code ec;
  ws.read(buffer, ec);
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(ws.reason().code, websocket::close_code::protocol_error);
  EXPECT_NE(std::string(ws.reason().reason.data(), ws.reason().reason.size()).find("malformed"),
            std::string::npos);
  EXPECT_EQ(node_->server.stats().protocol_errors, 1u);
  EXPECT_EQ(started_, 0);
}

// A peer that passes the upgrade as `node_id`, reads one message and answers it with `answer`.
asio::awaitable<void> bad_peer(tcp::acceptor& acceptor, std::string answer,
                               std::string node_id = "node-b") {
  auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
  if (ec) co_return;
  websocket::stream<tcp::socket> ws(std::move(socket));
  ws.set_option(websocket::stream_base::decorator([node_id](websocket::response_type& res) {
    res.set(peer_auth_response_header, make_peer_token(cluster, node_id, wall_clock::now()));
  }));
  auto [accept_ec] = co_await ws.async_accept(use_tuple);
  if (accept_ec) co_return;
  beast::flat_buffer buffer;
  auto [read_ec, n] = co_await ws.async_read(buffer, use_tuple);
  if (read_ec) co_return;
  ws.binary(true);
  co_await ws.async_write(asio::buffer(answer), use_tuple);
  co_await ws.async_read(buffer, use_tuple);  // until the caller hangs up
}

TEST_F(PeerLinkTest, MalformedReplyFailsTheLinksCallsWithProtocol) {
  start_client();
  tcp::acceptor acceptor(io_, {asio::ip::make_address("127.0.0.1"), 0});
  const std::string address = "127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
  asio::co_spawn(io_, bad_peer(acceptor, "\x0e\x00\x00\x00\x01\x02 truncated"), asio::detached);
  auto outcome = call(payload_call("x"), 10s, "node-b", address);
  EXPECT_EQ(outcome.error, peer_error::protocol) << outcome.message;
  EXPECT_NE(outcome.message.find("link to node-b lost: malformed"), std::string::npos)
      << outcome.message;
  boost::system::error_code ignored;
  acceptor.close(ignored);
}

TEST_F(PeerLinkTest, HandlerFailureIsA500Reply) {
  start_node();
  start_client();
  auto outcome = call(payload_call("throw"));
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_EQ(outcome.reply.status, 500);
  EXPECT_NE(outcome.reply.body.find("the function blew up"), std::string::npos);
  EXPECT_TRUE(call(payload_call("x")).ok());  // the link is fine
}

TEST_F(PeerLinkTest, DeadlineAlreadyPassedFailsAtOnce) {
  start_node();
  start_client();
  auto outcome = call(payload_call("x"), -1ms);
  EXPECT_EQ(outcome.error, peer_error::timed_out);
}

TEST_F(PeerLinkTest, ServerNeedsALoadSource) {
  EXPECT_THROW(peer_server(cluster, "node-b", {}, handler(), {}), std::invalid_argument);
}

TEST_F(PeerLinkTest, ProbeGetsTheServersLoad) {
  {
    std::lock_guard lock(mutex_);
    load_ = {.running = 3,
             .queued = 5,
             .slots = 4,
             .queue_capacity = 100,
             .recent_service_seconds = 0.125};
  }
  start_node();
  start_client();
  auto outcome = probe();
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_EQ(outcome.load, (peer_load{3, 5, 4, 100, 0.125}));
  EXPECT_EQ(started_, 0);  // no handler ran
  EXPECT_EQ(node_->server.stats().load_queries, 1u);
  EXPECT_EQ(node_->server.stats().calls, 0u);
  EXPECT_EQ(client_->link_count(), 1u);  // opened by the probe, kept for calls
  auto after = call(payload_call("after"));
  ASSERT_TRUE(after.ok()) << after.message;
  EXPECT_EQ(client_->stats().links_opened, 1u);
}

TEST_F(PeerLinkTest, ProbesAndCallsInterleaveOnOneLink) {
  auto queries = std::make_shared<std::atomic<std::uint32_t>>(0);
  // Every report differs, so a probe handed another's answer would show.
  start_node({}, cluster, "node-b", 0, [queries] {
    const std::uint32_t n = ++*queries;
    return peer_load{.running = n, .queued = 2 * n, .recent_service_seconds = n / 1000.0};
  });
  start_client();
  std::vector<std::future<peer_outcome>> calls;
  std::vector<std::future<load_outcome>> probes;
  for (int i = 0; i < 50; ++i) {
    calls.push_back(call_async(payload_call(i % 7 == 0 ? "slow" : "call " + std::to_string(i))));
    probes.push_back(probe_async());
  }
  for (int i = 0; i < 50; ++i) {
    auto outcome = get(calls[i]);
    ASSERT_TRUE(outcome.ok()) << i << ": " << outcome.message;
    EXPECT_EQ(outcome.reply.body, i % 7 == 0 ? "slow" : "call " + std::to_string(i));
  }
  std::set<std::uint32_t> seen;
  for (auto& f : probes) {
    auto outcome = get(f);
    ASSERT_TRUE(outcome.ok()) << outcome.message;
    EXPECT_EQ(outcome.load.queued, 2 * outcome.load.running);
    EXPECT_DOUBLE_EQ(outcome.load.recent_service_seconds, outcome.load.running / 1000.0);
    seen.insert(outcome.load.running);
  }
  EXPECT_EQ(seen.size(), 50u);
  EXPECT_EQ(*seen.begin(), 1u);
  EXPECT_EQ(*seen.rbegin(), 50u);
  EXPECT_EQ(client_->stats().links_opened, 1u);
  EXPECT_EQ(node_->server.stats().load_queries, 50u);
  EXPECT_EQ(node_->server.stats().calls, 50u);
}

TEST_F(PeerLinkTest, ProbesAreCountedApartFromCalls) {
  const std::uint16_t closed_port = p2pfaas::testing::unused_loopback_port();
  start_node();
  start_client();
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(call(payload_call("x")).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(probe().ok());
  EXPECT_FALSE(probe(5s, "node-c", "127.0.0.1:" + std::to_string(closed_port)).ok());
  const auto stats = client_->stats();
  EXPECT_EQ(stats.calls, 2u);
  EXPECT_EQ(stats.replies, 2u);
  for (auto n : stats.failed) EXPECT_EQ(n, 0u);
  EXPECT_EQ(stats.probes, 4u);
  EXPECT_EQ(stats.probes_answered, 3u);
  EXPECT_EQ(stats.probes_failed_with(peer_error::connect_failed), 1u);
  EXPECT_EQ(node_->server.stats().calls, 2u);
  EXPECT_EQ(node_->server.stats().replies, 2u);
  EXPECT_EQ(node_->server.stats().load_queries, 3u);
}

TEST_F(PeerLinkTest, ProbeToAPortNobodyListensOnFailsFast) {
  const std::uint16_t closed_port = p2pfaas::testing::unused_loopback_port();
  start_client();
  const std::string address = "127.0.0.1:" + std::to_string(closed_port);
  const auto begin = steady::now();
  auto first = probe(5s, "node-b", address);
  EXPECT_EQ(first.error, peer_error::connect_failed);
  EXPECT_NE(first.message.find("cannot reach node-b at " + address), std::string::npos)
      << first.message;
  // In backoff now: fails at once, calls and probes alike.
  auto second = probe(5s, "node-b", address);
  EXPECT_EQ(second.error, peer_error::connect_failed);
  EXPECT_NE(second.message.find("next attempt in"), std::string::npos) << second.message;
  EXPECT_EQ(call(payload_call("x"), 5s, "node-b", address).error, peer_error::connect_failed);
  EXPECT_LT(steady::now() - begin, 500ms);
  EXPECT_EQ(client_->stats().connect_failures, 1u);
}

TEST_F(PeerLinkTest, ProbeDoesNotWaitForRoomOnAFullLink) {
  start_node();
  start_client({.max_in_flight = 1});
  auto blocked = call_async(payload_call("block"));
  ASSERT_TRUE(testing::eventually([&] { return started_ == 1; }));
  auto queued = call_async(payload_call("queued"));
  const auto begin = steady::now();
  auto outcome = probe(1s);
  EXPECT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_LT(steady::now() - begin, 500ms);
  EXPECT_EQ(queued.wait_for(0s), std::future_status::timeout);  // still waiting for room
  gate_ = true;
  EXPECT_TRUE(get(blocked).ok());
  EXPECT_EQ(get(queued).reply.body, "queued");
}

TEST_F(PeerLinkTest, ProbesFailAtOnceWhenTheLinkIsDroppedOrClosed) {
  start_node();
  start_client();
  freezable_proxy proxy(node_->port);
  ASSERT_TRUE(probe(5s, "node-b", proxy.address()).ok());
  proxy.freeze();
  auto pending_probe = probe_async(30s, "node-b", proxy.address());
  auto pending_call = call_async(payload_call("x"), 30s, "node-b", proxy.address());
  std::this_thread::sleep_for(50ms);  // both written into the frozen relay
  auto begin = steady::now();
  client_->drop("node-b");
  auto dropped = get(pending_probe, 5s);
  EXPECT_EQ(dropped.error, peer_error::link_lost) << dropped.message;
  EXPECT_NE(dropped.message.find("dropped"), std::string::npos) << dropped.message;
  EXPECT_EQ(get(pending_call, 5s).error, peer_error::link_lost);
  EXPECT_LT(steady::now() - begin, 500ms);

  // Waiting for a link whose upgrade hangs in the relay.
  auto connecting = probe_async(30s, "node-b", proxy.address());
  std::this_thread::sleep_for(50ms);
  begin = steady::now();
  client_->close();
  auto closed = get(connecting, 5s);
  EXPECT_EQ(closed.error, peer_error::shut_down) << closed.message;
  EXPECT_LT(steady::now() - begin, 500ms);
  EXPECT_EQ(probe().error, peer_error::shut_down);
  EXPECT_EQ(client_->stats().probes_failed_with(peer_error::link_lost), 1u);
  EXPECT_EQ(client_->stats().probes_failed_with(peer_error::shut_down), 2u);
}

// What a raw peer read, frame type by frame type.
struct frame_log {
  void add(frame_type type) {
    std::lock_guard lock(mutex);
    types.push_back(type);
  }
  std::vector<frame_type> get() {
    std::lock_guard lock(mutex);
    return types;
  }
  std::mutex mutex;
  std::vector<frame_type> types;
};

// A peer that passes the upgrade, logs every frame it reads and answers each load query `delay`
// after it came (never a call).
asio::awaitable<void> slow_load_peer(tcp::acceptor& acceptor, steady::duration delay,
                                     std::shared_ptr<frame_log> log) {
  auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
  if (ec) co_return;
  websocket::stream<tcp::socket> ws(std::move(socket));
  ws.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
    res.set(peer_auth_response_header, make_peer_token(cluster, "node-b", wall_clock::now()));
  }));
  auto [accept_ec] = co_await ws.async_accept(use_tuple);
  if (accept_ec) co_return;
  ws.binary(true);
  beast::flat_buffer buffer;
  for (;;) {
    auto [read_ec, n] = co_await ws.async_read(buffer, use_tuple);
    if (read_ec) co_return;
    const auto data = buffer.cdata();
    std::span<const std::uint8_t> message(static_cast<const std::uint8_t*>(data.data()),
                                          data.size());
    std::string answers;
    frame_view frame;
    while (!message.empty() && next_frame(message, 1 << 20, frame) == protocol_error::none) {
      log->add(frame.type);
      if (frame.type == frame_type::load_query) {
        (void)encode(frame.request_id, peer_load{.running = 7}, 1 << 20, answers);
      }
    }
    buffer.consume(buffer.size());
    if (answers.empty()) continue;
    co_await pause(delay);
    auto [write_ec, written] = co_await ws.async_write(asio::buffer(answers), use_tuple);
    if (write_ec) co_return;
  }
}

TEST_F(PeerLinkTest, ProbePastItsDeadlineTimesOutWithoutACancel) {
  start_client();
  tcp::acceptor acceptor(io_, {asio::ip::make_address("127.0.0.1"), 0});
  const std::string address = "127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
  auto log = std::make_shared<frame_log>();
  asio::co_spawn(io_, slow_load_peer(acceptor, 300ms, log), asio::detached);

  const auto begin = steady::now();
  auto late = probe(100ms, "node-b", address);
  const auto took = steady::now() - begin;
  EXPECT_EQ(late.error, peer_error::timed_out);
  EXPECT_NE(late.message.find("no load report from node-b"), std::string::npos) << late.message;
  EXPECT_GE(took, 100ms);  // not before its deadline
  EXPECT_LT(took, 250ms);  // nor long after it, and well before the peer's 300 ms
  // Its report comes anyway, and is dropped as late; the link carries on.
  EXPECT_TRUE(testing::eventually([&] { return client_->stats().late_replies == 1; }));
  auto next = probe(5s, "node-b", address);
  ASSERT_TRUE(next.ok()) << next.message;
  EXPECT_EQ(next.load.running, 7u);
  // Nothing to stop on the peer, so no cancel went out between the two queries.
  EXPECT_EQ(log->get(), (std::vector<frame_type>{frame_type::load_query, frame_type::load_query}));
  EXPECT_EQ(client_->stats().links_opened, 1u);
  EXPECT_EQ(client_->stats().probes_failed_with(peer_error::timed_out), 1u);
  EXPECT_EQ(client_->stats().failed_with(peer_error::timed_out), 0u);
  boost::system::error_code ignored;
  acceptor.close(ignored);
}

TEST_F(PeerLinkTest, AnswerOfTheWrongKindClosesTheLink) {
  start_client();
  // The first request on a new link has request id 0 (slot 0, generation 0).
  std::string report, reply;
  ASSERT_EQ(encode(0, peer_load{}, 1 << 20, report), protocol_error::none);
  ASSERT_EQ(encode(0, peer_reply{}, 1 << 20, reply), protocol_error::none);
  tcp::acceptor acceptor(io_, {asio::ip::make_address("127.0.0.1"), 0});
  const std::string address = "127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());

  asio::co_spawn(io_, bad_peer(acceptor, report), asio::detached);
  auto call_outcome = call(payload_call("x"), 10s, "node-b", address);
  EXPECT_EQ(call_outcome.error, peer_error::protocol) << call_outcome.message;
  EXPECT_NE(call_outcome.message.find("load report for a call"), std::string::npos)
      << call_outcome.message;

  // Another peer, so another link: node-b's is in backoff.
  asio::co_spawn(io_, bad_peer(acceptor, reply, "node-c"), asio::detached);
  auto probe_outcome = probe(10s, "node-c", address);
  EXPECT_EQ(probe_outcome.error, peer_error::protocol) << probe_outcome.message;
  EXPECT_NE(probe_outcome.message.find("reply to a load probe"), std::string::npos)
      << probe_outcome.message;
  boost::system::error_code ignored;
  acceptor.close(ignored);
}

TEST_F(PeerLinkTest, AdminCallReachesTheHandlerWithItsKind) {
  start_node();
  start_client();
  peer_call admin = payload_call("scheduler settings");
  admin.kind = call_kind::admin;
  auto outcome = call(admin);
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_EQ(outcome.reply.body, "scheduler settings");
  {
    std::lock_guard lock(mutex_);
    EXPECT_EQ(last_call_.kind, call_kind::admin);
    EXPECT_EQ(last_call_, admin);
  }
  ASSERT_TRUE(call(payload_call("plain")).ok());
  {
    std::lock_guard lock(mutex_);
    EXPECT_EQ(last_call_.kind, call_kind::function);
  }
  EXPECT_EQ(node_->server.stats().calls, 2u);
  EXPECT_EQ(client_->stats().calls, 2u);
}

TEST_F(PeerLinkTest, AdminCallIsCancelledLikeAnyCall) {
  start_node();
  start_client();
  peer_call admin = payload_call("slow");
  admin.kind = call_kind::admin;
  auto outcome = call(admin, 100ms);
  EXPECT_EQ(outcome.error, peer_error::timed_out);
  EXPECT_TRUE(testing::eventually([&] { return node_->server.stats().cancels == 1; }));
  // The cancelled call's reply is dropped, not written: after the handler's 300 ms, the next
  // reply is the only one.
  std::this_thread::sleep_for(400ms);
  ASSERT_TRUE(call(payload_call("next")).ok());
  EXPECT_EQ(node_->server.stats().replies, 1u);
  EXPECT_EQ(client_->stats().late_replies, 0u);
}

TEST_F(PeerLinkTest, ProbeWithItsDeadlinePassedFailsAtOnce) {
  start_node();
  start_client();
  auto outcome = probe(-1ms);
  EXPECT_EQ(outcome.error, peer_error::timed_out);
  EXPECT_NE(outcome.message.find("before the probe"), std::string::npos) << outcome.message;
}

}  // namespace
}  // namespace p2pfaas::net
