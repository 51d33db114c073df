#include "discovery/gossip.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "discovery/message.hpp"
#include "net/envelope.hpp"

// Real UDP sockets on 127.0.0.1, several services in one process on one io_context. Every wait
// polls with a generous deadline; timings that matter are taken from the observers' own event
// timestamps, so a test thread that is scheduled late does not make a fast cluster look slow.

namespace p2pfaas::discovery {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;
using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;

void figure(const std::string& what, const std::string& value) {
  std::cout << "[ figure   ] " << what << ": " << value << "\n";
}

net::key_ring ring_of(char fill) {
  return net::key_ring{{std::vector<std::uint8_t>(32, static_cast<std::uint8_t>(fill))}};
}

std::optional<ms> wait_until(const std::function<bool()>& done, ms limit) {
  auto start = clock::now();
  while (!done()) {
    if (clock::now() - start > limit) return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
  return std::chrono::duration_cast<ms>(clock::now() - start);
}

std::string local(std::uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

class cluster {
 public:
  struct node {
    std::string id;
    std::uint16_t port = 0;
    std::unique_ptr<gossip_service> service;
    mutable std::mutex mutex;
    std::vector<member_event> events;  // what this node observed
    std::size_t callbacks_after_stop = 0;
    bool stopped = false;
  };

  cluster() : guard_(asio::make_work_guard(io_)) {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~cluster() {
    for (auto& n : nodes_) stop(*n);
    guard_.reset();
    for (auto& t : threads_) t.join();  // hangs if a stopped service left work behind
  }

  struct add_options {
    std::vector<std::string> seeds;
    char key = 'a';
    std::uint16_t port = 0;
    std::string advertise = "127.0.0.1:0";
    std::optional<load_record> load_before_start;
  };

  node& add(const std::string& id, add_options o) {
    auto n = std::make_unique<node>();
    n->id = id;
    gossip_options options;
    options.id = id;
    options.advertise = o.advertise;
    options.bind = udp::endpoint(asio::ip::make_address("127.0.0.1"), o.port);
    options.seeds = o.seeds;
    options.keys = ring_of(o.key);
    n->service = std::make_unique<gossip_service>(io_, options);
    node* raw = n.get();
    n->service->on_event([raw](const member_event& e) {
      std::lock_guard lock(raw->mutex);
      if (raw->stopped) ++raw->callbacks_after_stop;
      raw->events.push_back(e);
    });
    if (o.load_before_start) n->service->set_load(*o.load_before_start);
    n->port = n->service->start().port();
    nodes_.push_back(std::move(n));
    return *nodes_.back();
  }

  // n nodes, each joining through the first.
  void add_joined(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      add_options o;
      if (i > 0) o.seeds = {local(nodes_.front()->port)};
      add("node-" + std::to_string(size()), o);
    }
  }

  void stop(node& n) {
    n.service->stop();
    std::lock_guard lock(n.mutex);
    n.stopped = true;
  }

  node& at(std::size_t i) { return *nodes_.at(i); }
  std::size_t size() const { return nodes_.size(); }

  std::optional<member_info> seen(std::size_t observer, const std::string& subject) {
    auto view = at(observer).service->snapshot();
    for (const auto& m : view->members) {
      if (m.id == subject) return m;
    }
    return std::nullopt;
  }
  std::optional<member_state> state_seen(std::size_t observer, const std::string& subject) {
    auto m = seen(observer, subject);
    if (!m) return std::nullopt;
    return m->state;
  }
  bool running(std::size_t i) {
    std::lock_guard lock(at(i).mutex);
    return !at(i).stopped;
  }
  // Every running node sees every running node (itself included) alive.
  bool all_see_all_alive() {
    for (std::size_t i = 0; i < size(); ++i) {
      if (!running(i)) continue;
      for (std::size_t j = 0; j < size(); ++j) {
        if (running(j) && state_seen(i, at(j).id) != member_state::alive) return false;
      }
    }
    return true;
  }
  bool others_see(const std::string& subject, member_state state,
                  const std::vector<std::size_t>& observers) {
    for (auto i : observers) {
      if (state_seen(i, subject) != state) return false;
    }
    return true;
  }
  // When each observer logged `kind` about `subject`, relative to t0 (the first such event).
  std::vector<ms> event_delays(const std::vector<std::size_t>& observers, event_kind kind,
                               const std::string& subject, time_point t0) {
    std::vector<ms> out;
    for (auto i : observers) {
      std::lock_guard lock(at(i).mutex);
      for (const auto& e : at(i).events) {
        if (e.kind == kind && e.id == subject && e.at >= t0) {
          out.push_back(std::chrono::duration_cast<ms>(e.at - t0));
          break;
        }
      }
    }
    return out;
  }
  std::size_t count_events(std::size_t observer, event_kind kind, const std::string& subject) {
    std::lock_guard lock(at(observer).mutex);
    std::size_t n = 0;
    for (const auto& e : at(observer).events) {
      if (e.kind == kind && e.id == subject) ++n;
    }
    return n;
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::vector<std::thread> threads_;
  std::vector<std::unique_ptr<node>> nodes_;
};

std::vector<std::size_t> range(std::size_t from, std::size_t to) {
  std::vector<std::size_t> out;
  for (auto i = from; i < to; ++i) out.push_back(i);
  return out;
}

ms max_of(const std::vector<ms>& v) {
  return v.empty() ? ms::max() : *std::max_element(v.begin(), v.end());
}

std::string join_ms(const std::vector<ms>& v) {
  std::string out;
  for (auto d : v) out += (out.empty() ? "" : "/") + std::to_string(d.count());
  return out;
}

// A plain UDP socket for the tests that play an attacker or a wire tap.
class raw_socket {
 public:
  raw_socket() : socket_(io_, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    socket_.non_blocking(true);
  }
  std::uint16_t port() const { return socket_.local_endpoint().port(); }
  void send_to(std::uint16_t port, const std::vector<std::uint8_t>& bytes) {
    socket_.send_to(asio::buffer(bytes), udp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  // The next datagram from `port` (others are skipped), or nullopt at the deadline.
  std::optional<std::vector<std::uint8_t>> receive_from(std::uint16_t port, ms limit) {
    std::vector<std::uint8_t> buffer(70000);
    std::optional<std::vector<std::uint8_t>> got;
    wait_until(
        [&] {
          for (;;) {
            udp::endpoint from;
            boost::system::error_code ec;
            auto n = socket_.receive_from(asio::buffer(buffer), from, 0, ec);
            if (ec) return false;
            if (from.port() == port) {
              got.emplace(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
              return true;
            }
          }
        },
        limit);
    return got;
  }

 private:
  asio::io_context io_;
  udp::socket socket_;
};

TEST(Gossip, FiveNodesJoinedThroughOneSeedSeeEachOtherAlive) {
  cluster c;
  auto t0 = clock::now();
  c.add_joined(3);
  // One node known by name and one joining through a name: the resolver path.
  c.add("node-3", {.seeds = {local(c.at(0).port)}, .advertise = "localhost:0"});
  c.add("node-4", {.seeds = {"localhost:" + std::to_string(c.at(0).port)}});
  auto took = wait_until([&] { return c.all_see_all_alive(); }, 20s);
  ASSERT_TRUE(took.has_value());
  figure("5 nodes over UDP, start to all alive everywhere, ms",
         std::to_string(std::chrono::duration_cast<ms>(clock::now() - t0).count()));
  EXPECT_EQ(c.seen(0, "node-3")->address, "localhost:" + std::to_string(c.at(3).port));
  for (std::size_t i = 0; i < c.size(); ++i) {
    auto s = c.at(i).service->stats();
    EXPECT_EQ(s.alive, 4u);
    EXPECT_GT(s.messages_sent, 0u);
    EXPECT_GT(s.messages_received, 0u);
    EXPECT_EQ(s.rejected.bad_tag + s.rejected.replayed + s.rejected.stale + s.rejected.decode, 0u);
    EXPECT_EQ(s.send_failures, 0u);
    auto view = c.at(i).service->snapshot();
    EXPECT_EQ(view->self, c.at(i).id);
    EXPECT_EQ(view->members.size(), 5u);
  }
}

TEST(Gossip, ARunningNodeJoinsSeedsGivenLater) {
  cluster c;
  c.add("node-0", {});
  c.add("node-1", {});
  // Two clusters of one; then node-1 is pointed at node-0, as P2PFaaS's init_servers do.
  c.at(1).service->join({local(c.at(0).port)});
  EXPECT_TRUE(wait_until([&] { return c.all_see_all_alive(); }, 20s).has_value());
}

TEST(Gossip, AbruptStopIsDeclaredDeadAndARestartRejoinsAbove) {
  cluster c;
  c.add_joined(5);
  ASSERT_TRUE(wait_until([&] { return c.all_see_all_alive(); }, 20s));
  auto survivors = range(0, 4);

  auto t0 = clock::now();
  c.stop(c.at(4));  // no leave: as a crash looks from outside
  ASSERT_TRUE(
      wait_until([&] { return c.others_see("node-4", member_state::dead, survivors); }, 20s));
  auto delays = c.event_delays(survivors, event_kind::dead, "node-4", t0);
  figure("5 nodes over UDP, stop to dead at each survivor, ms", join_ms(delays));
  EXPECT_EQ(delays.size(), 4u);
  EXPECT_LE(max_of(delays), 8s);
  {
    std::lock_guard lock(c.at(4).mutex);
    EXPECT_EQ(c.at(4).callbacks_after_stop, 0u);
  }
  EXPECT_FALSE(c.at(4).service->running());
  auto dead_incarnation = c.seen(0, "node-4")->incarnation;

  // Same id, same port, fresh state.
  auto t1 = clock::now();
  auto& again = c.add("node-4", {.seeds = {local(c.at(0).port)}, .port = c.at(4).port});
  EXPECT_EQ(again.port, c.at(4).port);
  ASSERT_TRUE(wait_until(
      [&] {
        for (auto i : survivors) {
          auto m = c.seen(i, "node-4");
          if (!m || m->state != member_state::alive || m->incarnation <= dead_incarnation)
            return false;
        }
        return true;
      },
      20s));
  figure("restart on the same port, alive again everywhere, ms",
         join_ms(c.event_delays(survivors, event_kind::alive, "node-4", t1)));
  EXPECT_GT(again.service->stats().incarnation, dead_incarnation);
  EXPECT_TRUE(wait_until([&] { return c.all_see_all_alive(); }, 20s));
}

TEST(Gossip, LeaveIsSeenWithinOneSecondAndTheLeaverStopsAfterItsLinger) {
  cluster c;
  c.add_joined(5);
  ASSERT_TRUE(wait_until([&] { return c.all_see_all_alive(); }, 20s));
  auto others = range(0, 4);
  auto t0 = clock::now();
  c.at(4).service->leave();
  ASSERT_TRUE(wait_until([&] { return c.others_see("node-4", member_state::left, others); }, 20s));
  auto delays = c.event_delays(others, event_kind::left, "node-4", t0);
  figure("leave to left at each member, ms", join_ms(delays));
  EXPECT_EQ(delays.size(), 4u);
  EXPECT_LT(max_of(delays), 1s);
  EXPECT_EQ(c.seen(4, "node-4")->state, member_state::left);

  auto lingered = wait_until([&] { return !c.at(4).service->running(); }, 20s);
  ASSERT_TRUE(lingered.has_value());
  // Some protocol periods later the others still do not hold it for dead: left is final.
  auto probes = c.at(0).service->stats().probes_sent;
  ASSERT_TRUE(wait_until([&] { return c.at(0).service->stats().probes_sent >= probes + 15; }, 20s));
  for (auto i : others) {
    EXPECT_EQ(c.state_seen(i, "node-4"), member_state::left);
    EXPECT_EQ(c.count_events(i, event_kind::dead, "node-4"), 0u);
  }
}

TEST(Gossip, ANodeWithAnotherKeyIsNeverAdmitted) {
  cluster c;
  c.add_joined(3);
  ASSERT_TRUE(wait_until([&] { return c.all_see_all_alive(); }, 20s));
  auto& stranger = c.add("stranger", {.seeds = {local(c.at(0).port)}, .key = 'b'});
  // Its join is retried every second: three rejected attempts are plenty.
  ASSERT_TRUE(wait_until([&] { return c.at(0).service->stats().rejected.bad_tag >= 3; }, 20s));
  for (std::size_t i = 0; i < 3; ++i) EXPECT_FALSE(c.seen(i, "stranger").has_value());
  EXPECT_EQ(stranger.service->snapshot()->members.size(), 1u);
  EXPECT_EQ(stranger.service->stats().messages_received, 0u);
  EXPECT_EQ(c.at(0).service->stats().alive, 2u);
}

TEST(Gossip, ACapturedDatagramReplayedIsCountedAndChangesNothing) {
  cluster c;
  c.add_joined(3);
  ASSERT_TRUE(wait_until([&] { return c.all_see_all_alive(); }, 20s));
  raw_socket tap;
  // A node that believes the tap is its seed: its push-pull is the captured datagram.
  auto& source = c.add("source", {.seeds = {local(tap.port())}});
  auto captured = tap.receive_from(source.port, 20s);
  ASSERT_TRUE(captured.has_value());

  // First delivery (the tap forwarding it): genuine, accepted and answered.
  tap.send_to(c.at(0).port, *captured);
  ASSERT_TRUE(tap.receive_from(c.at(0).port, 20s).has_value()) << "no push-pull reply";
  ASSERT_TRUE(wait_until([&] { return c.seen(0, "source").has_value(); }, 20s));
  auto before = c.at(0).service->stats();

  tap.send_to(c.at(0).port, *captured);
  ASSERT_TRUE(wait_until(
      [&] { return c.at(0).service->stats().rejected.replayed == before.rejected.replayed + 1; },
      20s));
  // Nothing answers a replay. Waiting for an absence needs a bound; 300 ms is dozens of round
  // trips on loopback.
  EXPECT_FALSE(tap.receive_from(c.at(0).port, 300ms).has_value());
  EXPECT_EQ(c.at(0).service->stats().rejected.replayed, before.rejected.replayed + 1);
}

TEST(Gossip, GarbageStaleAndUndecodableDatagramsAreCountedByReason) {
  cluster c;
  c.add_joined(2);
  ASSERT_TRUE(wait_until([&] { return c.all_see_all_alive(); }, 20s));
  raw_socket attacker;
  auto target = c.at(0).port;
  auto before = c.at(0).service->stats();

  attacker.send_to(target, {});                                    // too_short (empty)
  attacker.send_to(target, {net::envelope_version, 0, 0});         // too_short
  attacker.send_to(target, std::vector<std::uint8_t>(200, 0xff));  // bad_version
  std::vector<std::uint8_t> forged(200, 0x5a);
  forged[0] = net::envelope_version;
  attacker.send_to(target, forged);  // bad_tag
  // Authentic but an hour old.
  message ping{.type = message_type::gossip, .sender_id = "intruder"};
  auto payload = encode(ping);
  ASSERT_TRUE(payload.has_value());
  attacker.send_to(target, net::seal(ring_of('a'), *payload, net::wall_clock::now() - 1h,
                                     net::system_random));  // stale
  std::vector<std::uint8_t> junk(40, 0x11);
  attacker.send_to(target,
                   net::seal(ring_of('a'), junk, net::wall_clock::now(), net::system_random));

  ASSERT_TRUE(wait_until(
      [&] {
        auto s = c.at(0).service->stats();
        return s.rejected.too_short == before.rejected.too_short + 2 &&
               s.rejected.bad_version == before.rejected.bad_version + 1 &&
               s.rejected.bad_tag == before.rejected.bad_tag + 1 &&
               s.rejected.stale == before.rejected.stale + 1 &&
               s.rejected.decode == before.rejected.decode + 1;
      },
      20s))
      << "rejection counters did not reach the expected values";
  EXPECT_FALSE(c.seen(0, "intruder").has_value());
  EXPECT_TRUE(c.all_see_all_alive());
}

TEST(Gossip, LoadSpreadsAndIsRateLimited) {
  cluster c;
  c.add_joined(3);
  c.add("late", {.seeds = {local(c.at(0).port)}, .load_before_start = load_record{1, 2, 4, 0.5}});
  ASSERT_TRUE(wait_until([&] { return c.all_see_all_alive(); }, 20s));
  ASSERT_TRUE(wait_until([&] { return c.seen(0, "late")->load.slots == 4; }, 20s))
      << "a load set before start() was not published";

  auto before = c.at(1).service->stats();
  auto t0 = clock::now();
  constexpr int calls = 20000;
  for (int i = 0; i < calls; ++i) {
    c.at(1).service->set_load({static_cast<std::uint32_t>(i % 7), 0, 8, 0.01});
  }
  c.at(1).service->set_load({42, 3, 8, 0.25});
  auto elapsed = std::chrono::duration_cast<ms>(clock::now() - t0);
  auto took = wait_until(
      [&] {
        for (std::size_t i : {0u, 2u, 3u}) {
          auto m = c.seen(i, "node-1");
          if (!m || m->load.in_flight != 42 || m->load.queued != 3) return false;
        }
        return c.seen(1, "node-1")->load.in_flight == 42;
      },
      20s);
  ASSERT_TRUE(took.has_value());
  auto published = c.at(1).service->stats().loads_published - before.loads_published;
  figure("set_load calls, ms spent, loads published, ms until all peers saw the last",
         std::to_string(calls + 1) + ", " + std::to_string(elapsed.count()) + ", " +
             std::to_string(published) + ", " + std::to_string(took->count()));
  EXPECT_GE(published, 1u);
  // One per 50 ms interval, plus the first one at once and the last one at the end.
  EXPECT_LE(published, static_cast<std::uint64_t>(elapsed / 50ms) + 3);

  // An unchanged value publishes nothing: of these, only the last is news.
  auto settled = c.at(1).service->stats().loads_published;
  for (int i = 0; i < 100; ++i) c.at(1).service->set_load({42, 3, 8, 0.25});
  c.at(1).service->set_load({43, 3, 8, 0.25});
  ASSERT_TRUE(wait_until([&] { return c.seen(0, "node-1")->load.in_flight == 43; }, 20s));
  EXPECT_EQ(c.at(1).service->stats().loads_published, settled + 1);
}

TEST(Gossip, StopIsIdempotentAndStartNeedsAKey) {
  asio::io_context io;
  gossip_options options;
  options.id = "x";
  options.bind = udp::endpoint(asio::ip::make_address("127.0.0.1"), 0);
  EXPECT_THROW(gossip_service(io, options), std::invalid_argument);
  options.keys = ring_of('a');
  {
    gossip_service never_started(io, options);
    never_started.stop();
    never_started.stop();
    EXPECT_EQ(never_started.snapshot()->members.size(), 1u);
  }
  gossip_service s(io, options);
  auto bound = s.start();
  EXPECT_NE(bound.port(), 0);
  EXPECT_EQ(s.snapshot()->members.front().address, local(bound.port()));
  EXPECT_THROW(s.start(), std::logic_error);
  // Binding a port in use fails loudly.
  options.bind = bound;
  gossip_service clash(io, options);
  EXPECT_THROW(clash.start(), std::system_error);
  s.stop();
  s.stop();
  EXPECT_FALSE(s.running());
  io.run();  // what stop() left pending completes without doing anything, and nothing is left
}

TEST(Gossip, ConfigTimingsMapToTheMembership) {
  config::config c;
  c.node.id = "n1";
  c.cluster.join = {"10.0.0.1:18080"};
  c.cluster.probe_interval_seconds = 0.5;
  c.cluster.probe_timeout_seconds = 0.25;
  c.cluster.gossip_fanout = 5;
  c.cluster.reap_after_seconds = 120;
  c.cluster.replay_window_seconds = 10;
  c.cluster.load_publish_seconds = 0.1;
  auto o = gossip_options_of(c);
  EXPECT_EQ(o.id, "n1");
  EXPECT_EQ(o.seeds, c.cluster.join);
  EXPECT_EQ(o.membership.probe_interval, 500ms);
  EXPECT_EQ(o.membership.probe_timeout, 250ms);
  EXPECT_EQ(o.membership.gossip_fanout, 5);
  EXPECT_EQ(o.membership.reap_after, 120s);
  EXPECT_EQ(o.replay_window, 10s);
  EXPECT_EQ(o.load_publish_interval, 100ms);
}

}  // namespace
}  // namespace p2pfaas::discovery
