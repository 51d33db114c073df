#include "discovery/membership.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>

#include "tests/unit/discovery/fake_network.hpp"

namespace p2pfaas::discovery {
namespace {

using namespace std::chrono_literals;
using testing::fake_network;
using ms = std::chrono::milliseconds;

// Figures the tests observe, printed so a run documents the timings it checked.
void figure(const std::string& what, const std::string& value) {
  std::cout << "[ figure   ] " << what << ": " << value << "\n";
}

fake_network converged(std::uint64_t seed, std::size_t n, membership_config config = {}) {
  fake_network net(seed, config);
  net.add_cluster(n);
  EXPECT_TRUE(net.run_until([&] { return net.all_see_all_alive(); }, 10s).has_value());
  return net;
}

TEST(Membership, JoinThroughOneSeed) {
  fake_network net(1);
  net.add_cluster(5);
  auto took = net.run_until([&] { return net.all_see_all_alive(); }, 3s);
  ASSERT_TRUE(took.has_value());
  figure("5 nodes joined through one seed, all alive everywhere after ms",
         std::to_string(took->count()));
  for (std::size_t i = 0; i < net.size(); ++i) EXPECT_TRUE(net.node(i).joined());
}

TEST(Membership, JoinRetriesUntilTheSeedAnswers) {
  fake_network net(2);
  net.add_cluster(2);
  net.block(0, 1);  // the seed's replies are lost
  net.run_for(3s);
  EXPECT_FALSE(net.node(1).joined());
  net.heal();
  auto took = net.run_until([&] { return net.all_see_all_alive(); }, 2s);
  ASSERT_TRUE(took.has_value());
  EXPECT_TRUE(net.node(1).joined());
}

TEST(Membership, CrashedNodeIsSuspectedThenDeadEverywhere) {
  std::vector<ms> times;
  for (std::uint64_t trial = 0; trial < 10; ++trial) {
    auto net = converged(100 + trial, 5);
    net.run_for(ms(1000 + 37 * trial));  // crash at a different phase each trial
    net.crash(4);
    auto took = net.run_until([&] { return net.all_see(4, member_state::dead); }, 10s);
    ASSERT_TRUE(took.has_value()) << "trial " << trial;
    times.push_back(*took);
    EXPECT_GT(net.count_events(event_kind::suspect, 4), 0u);
    // No survivor was accused on the way.
    for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(net.count_events(event_kind::dead, i), 0u);
  }
  std::sort(times.begin(), times.end());
  auto median = (times[4] + times[5]) / 2;
  figure("5 nodes, crash to dead at every survivor, median ms", std::to_string(median.count()));
  figure("5 nodes, crash to dead at every survivor, min/max ms",
         std::to_string(times.front().count()) + "/" + std::to_string(times.back().count()));
  EXPECT_LE(median, 3s);
  EXPECT_LE(times.back(), 5s);
}

TEST(Membership, FalseSuspicionIsRefutedWithAHigherIncarnation) {
  auto net = converged(3, 5);
  ASSERT_EQ(net.node(4).incarnation(), 0u);
  net.isolate(4);
  ASSERT_TRUE(net.run_until([&] { return net.count_events(event_kind::suspect, 4) > 0; }, 5s));
  net.heal();
  auto took = net.run_until(
      [&] {
        if (!net.all_see(4, member_state::alive)) return false;
        for (std::size_t i = 0; i < 4; ++i) {
          if (net.node(i).find(net.id(4))->incarnation == 0) return false;
        }
        return true;
      },
      5s);
  ASSERT_TRUE(took.has_value());
  figure("suspicion refuted everywhere after heal, ms", std::to_string(took->count()));
  EXPECT_GT(net.node(4).incarnation(), 0u);
  EXPECT_GT(net.node(4).stats().refutations, 0u);
  EXPECT_EQ(net.count_events(event_kind::dead), 0u);
}

TEST(Membership, IndirectProbeAvoidsSuspicionWhenOnlyTheDirectPathDrops) {
  auto net = converged(4, 5);
  net.block_both(0, 1);
  auto ping_reqs_before = net.node(0).stats().ping_reqs_sent;
  net.run_for(30s);
  EXPECT_GT(net.node(0).stats().ping_reqs_sent, ping_reqs_before);
  EXPECT_EQ(net.count_events(event_kind::suspect), 0u);
  EXPECT_EQ(net.count_events(event_kind::dead), 0u);
  EXPECT_TRUE(net.all_see_all_alive());
  // Helpers answered (nacks aside), so node 0 does not think itself unhealthy.
  EXPECT_LE(net.node(0).awareness(), 1);
}

// A transport that answers every ping at once, so the node's own probes always succeed and only
// gossiped accusations drive the suspicion under test.
struct answering_transport : transport {
  std::vector<std::pair<std::string, message>> sent;
  void send(const std::string& address, const message& m) override { sent.push_back({address, m}); }
};

ms time_to_dead(int confirmations) {
  answering_transport out;
  std::uint64_t counter = 0;
  time_point t0{std::chrono::hours(1)};
  membership node({}, "self", "self:1", {out, [&] { return counter++ * 0x9e3779b97f4a7c15ULL; }},
                  t0);
  message hello{.type = message_type::gossip, .sender_id = "p1"};
  for (int i = 1; i <= 7; ++i) {
    auto id = "p" + std::to_string(i);
    hello.updates.push_back({id, id + ":1", member_state::alive, 0, id, {}});
  }
  node.receive("p1:1", hello, t0);
  auto accuse = [&](const std::string& who, time_point at) {
    message m{.type = message_type::gossip, .sender_id = who};
    m.updates.push_back({"p7", "p7:1", member_state::suspect, 0, who, {}});
    node.receive(who + ":1", m, at);
  };
  accuse("p1", t0);
  for (int i = 0; i < confirmations; ++i) accuse("p" + std::to_string(2 + i), t0 + 10ms);
  node.take_events();
  for (auto now = t0; now < t0 + 20s; now += 5ms) {
    node.tick(now);
    auto sent = std::exchange(out.sent, {});
    for (const auto& [address, m] : sent) {
      if (m.type == message_type::ping) {
        node.receive(
            address,
            message{.type = message_type::ack, .sender_id = m.target_id, .sequence = m.sequence},
            now);
      }
    }
    for (const auto& e : node.take_events()) {
      if (e.kind == event_kind::dead && e.id == "p7")
        return std::chrono::duration_cast<ms>(now - t0);
    }
  }
  return ms::max();
}

TEST(Membership, ConfirmationsShortenTheSuspicion) {
  auto lone = time_to_dead(0);
  auto one = time_to_dead(1);
  auto two = time_to_dead(2);
  auto five = time_to_dead(5);
  figure("8 members, suspicion to dead with 0/1/2/5 confirmations, ms",
         std::to_string(lone.count()) + "/" + std::to_string(one.count()) + "/" +
             std::to_string(two.count()) + "/" + std::to_string(five.count()));
  // max = 4 * 4 * 200 ms, min = 4 * 200 ms for n <= 10; 5 ms ticks.
  EXPECT_NEAR(lone.count(), 3200, 10);
  EXPECT_LT(one, lone);
  EXPECT_LT(two, one);
  EXPECT_NEAR(two.count(), 800 + 10, 10);  // the confirmations came 10 ms after the accusation
  EXPECT_EQ(five, two);                    // never below the minimum
}

TEST(Membership, SuspicionTimeoutGrowsWithLogN) {
  answering_transport out;
  membership node({}, "self", "self:1", {out, [] { return 0; }}, time_point{});
  EXPECT_EQ(node.suspicion_timeout(8, 0), 3200ms);
  EXPECT_EQ(node.suspicion_timeout(8, 2), 800ms);
  EXPECT_EQ(node.suspicion_timeout(100, 2), 1600ms);
  EXPECT_EQ(node.suspicion_timeout(100, 0), 6400ms);
  // Three nodes: nobody can confirm, so a lone accuser gets the minimum.
  EXPECT_EQ(node.suspicion_timeout(3, 0), 800ms);
}

TEST(Membership, DisseminationReachesAllOf32InLogNPeriods) {
  auto net = converged(5, 32);
  net.run_for(5s);  // let join news settle so the queues are quiet
  net.node(0).set_load({.in_flight = 3, .queued = 1, .slots = 4, .recent_service_seconds = 0.25});
  auto version = net.node(0).load().version;
  auto took = net.run_until(
      [&] {
        for (std::size_t i = 1; i < net.size(); ++i) {
          if (net.node(i).find(net.id(0))->load.version != version) return false;
        }
        return true;
      },
      10s);
  ASSERT_TRUE(took.has_value());
  auto periods = took->count() / 200.0;
  figure("32 nodes, a load record reaches all, ms (protocol periods)",
         std::to_string(took->count()) + " (" + std::to_string(periods) + ")");
  // Fanout-3 gossip quadruples the informed set each round: log4(32) = 2.5 rounds; allow log2(32).
  EXPECT_LE(periods, 5.0);
  EXPECT_EQ(net.node(31).find(net.id(0))->load.in_flight, 3u);
}

TEST(Membership, ThirtyTwoNodesConvergeQuickly) {
  fake_network net(6);
  net.add_cluster(32);
  auto took = net.run_until([&] { return net.all_see_all_alive(); }, 5s);
  ASSERT_TRUE(took.has_value());
  figure("32 nodes joined through one seed, all alive everywhere after ms",
         std::to_string(took->count()));
}

TEST(Membership, IdleClusterRaisesNoSuspicionInFiveMinutes) {
  auto net = converged(13, 8);
  net.run_for(5min);
  EXPECT_EQ(net.count_events(event_kind::suspect), 0u);
  EXPECT_EQ(net.count_events(event_kind::dead), 0u);
  for (std::size_t i = 0; i < net.size(); ++i) EXPECT_EQ(net.node(i).awareness(), 0);
  figure("8 idle nodes, 5 min: datagrams per node per second, mean bytes each",
         std::to_string(net.delivered() / 8.0 / 300) + ", " +
             std::to_string(net.delivered_bytes() / std::max<std::uint64_t>(net.delivered(), 1)));
}

TEST(Membership, TwentyPercentLossForFiveMinutesKillsNobody) {
  for (std::uint64_t seed : {7, 21, 22}) {
    auto net = converged(seed, 8);
    net.set_loss(0.2);
    net.run_for(5min);
    std::uint64_t refutations = 0;
    for (std::size_t i = 0; i < net.size(); ++i) refutations += net.node(i).stats().refutations;
    // Suspicions are expected (a probe fails outright ~2.7% of the time at 20% loss); deaths not.
    figure("8 nodes, 5 min at 20% loss: suspect events, refutations, dead events",
           std::to_string(net.count_events(event_kind::suspect)) + ", " +
               std::to_string(refutations) + ", " +
               std::to_string(net.count_events(event_kind::dead)));
    EXPECT_EQ(net.count_events(event_kind::dead), 0u) << "seed " << seed;
    net.set_loss(0);
    EXPECT_TRUE(net.run_until([&] { return net.all_see_all_alive(); }, 5s));
  }
}

TEST(Membership, SlowNodeDoesNotDeclareHealthyPeersDead) {
  auto net = converged(8, 8);
  // Everything node 0 sends arrives 400 ms late: past the probe timeout and the whole period.
  net.set_outgoing_delay(0, 400ms);
  int max_awareness = 0;
  for (int i = 0; i < 60 * 200; ++i) {
    net.step();
    max_awareness = std::max(max_awareness, net.node(0).awareness());
  }
  std::size_t dead_by_0 = 0;
  for (const auto& e : net.events()) {
    if (e.observer == 0 && e.event.kind == event_kind::dead) ++dead_by_0;
  }
  figure("slow node over 60 s: max awareness, suspicions it raised, dead it declared",
         std::to_string(max_awareness) + ", " +
             std::to_string(net.node(0).stats().suspicions_raised) + ", " +
             std::to_string(dead_by_0));
  figure("slow node over 60 s: times it was declared dead by a peer, its incarnation",
         std::to_string(net.count_events(event_kind::dead, 0)) + ", " +
             std::to_string(net.node(0).incarnation()));
  EXPECT_GT(max_awareness, 0);
  EXPECT_EQ(dead_by_0, 0u);
  for (std::size_t i = 1; i < net.size(); ++i) EXPECT_EQ(net.count_events(event_kind::dead, i), 0u);
}

TEST(Membership, PartitionThenHealConvergesToAllAlive) {
  auto net = converged(9, 8);
  net.partition({0, 1, 2, 3}, {4, 5, 6, 7});
  ASSERT_TRUE(net.run_until(
      [&] {
        return net.state_seen(0, 7) == member_state::dead &&
               net.state_seen(7, 0) == member_state::dead;
      },
      30s));
  net.run_for(10s);
  net.heal();
  auto took = net.run_until([&] { return net.all_see_all_alive(); }, 30s);
  ASSERT_TRUE(took.has_value());
  figure("8 nodes, 4/4 partition healed: all alive again after ms", std::to_string(took->count()));
  EXPECT_LE(*took, 20s);  // one reconnect interval plus spreading
}

TEST(Membership, RestartWithTheSameIdRejoinsAboveItsOldIncarnation) {
  auto net = converged(10, 5);
  net.crash(4);
  ASSERT_TRUE(net.run_until([&] { return net.all_see(4, member_state::dead); }, 10s));
  auto old = net.node(0).find(net.id(4))->incarnation;
  net.restart(4);
  auto took = net.run_until([&] { return net.all_see_all_alive(); }, 5s);
  ASSERT_TRUE(took.has_value());
  figure("restarted node alive everywhere after ms", std::to_string(took->count()));
  EXPECT_GT(net.node(4).incarnation(), old);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(net.node(i).find(net.id(4))->incarnation, net.node(4).incarnation());
  }
}

// A restart faster than failure detection keeps the old incarnation: without a rule for it, peers
// would keep the previous life's load record (a higher version at the same incarnation) until the
// new life's version counter caught up, which for an idle node is never.
TEST(Membership, QuickRestartReplacesThePreviousLifesLoad) {
  auto net = converged(13, 5);
  for (std::uint32_t i = 1; i <= 5; ++i) net.node(4).set_load({i, 0, 8, 0.1, 0});
  ASSERT_TRUE(net.run_until(
      [&] {
        for (std::size_t i = 0; i < 4; ++i) {
          if (net.node(i).find(net.id(4))->load.version != 5) return false;
        }
        return true;
      },
      5s));
  net.crash(4);
  net.restart(4);  // before anyone suspects it: same incarnation as before
  net.node(4).set_load({0, 0, 8, 0, 0});
  auto took = net.run_until(
      [&] {
        for (std::size_t i = 0; i < 4; ++i) {
          auto info = net.node(i).find(net.id(4));
          if (!info || info->state != member_state::alive || info->load.in_flight != 0)
            return false;
        }
        return true;
      },
      30s);
  ASSERT_TRUE(took.has_value()) << "peers still hold the previous life's load";
  figure("quick restart: new load seen everywhere after ms", std::to_string(took->count()));
  EXPECT_GT(net.node(4).incarnation(), 0u);
  EXPECT_EQ(net.count_events(event_kind::dead), 0u);
}

TEST(Membership, GracefulLeaveIsSeenEverywhereAtOnce) {
  auto net = converged(11, 5);
  net.node(4).leave(net.now());
  auto took = net.run_until([&] { return net.all_see(4, member_state::left); }, 1s);
  ASSERT_TRUE(took.has_value());
  figure("left seen everywhere after ms", std::to_string(took->count()));
  net.run_for(2s);  // the leaver keeps gossiping a little, then stops
  net.crash(4);
  net.run_for(10s);
  EXPECT_TRUE(net.all_see(4, member_state::left));
  EXPECT_EQ(net.count_events(event_kind::dead), 0u);
  EXPECT_EQ(net.count_events(event_kind::suspect), 0u);
}

TEST(Membership, DeadAndLeftMembersAreReapedAfterTheConfiguredTime) {
  membership_config config;
  config.reap_after = 5s;
  auto net = converged(12, 5, config);
  net.node(4).leave(net.now());
  net.run_for(500ms);
  net.crash(4);
  net.crash(3);
  ASSERT_TRUE(net.run_until([&] { return net.all_see(3, member_state::dead); }, 10s));
  auto dead_at = net.now();
  net.run_for(4s);
  EXPECT_TRUE(net.all_see(3, member_state::dead));  // not yet
  auto took = net.run_until(
      [&] {
        for (std::size_t i = 0; i < 3; ++i) {
          if (net.node(i).find(net.id(3)) || net.node(i).find(net.id(4))) return false;
        }
        return true;
      },
      5s);
  ASSERT_TRUE(took.has_value());
  EXPECT_GE(net.now() - dead_at, 4s);  // dead was declared up to a gossip round apart
  EXPECT_EQ(net.count_events(event_kind::reaped), 6u);
  // Stale gossip about a reaped member does not bring it back.
  net.run_for(20s);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_FALSE(net.node(i).find(net.id(3)));
}

TEST(Membership, AckCarriesTheResponderLoad) {
  answering_transport out;
  time_point t0{};
  membership node({}, "self", "self:1", {out, [] { return 0; }}, t0);
  message hello{.type = message_type::gossip, .sender_id = "p"};
  hello.updates.push_back({"p", "p:1", member_state::alive, 0, "p", {}});
  node.receive("p:1", hello, t0);
  message ack{.type = message_type::ack, .sender_id = "p", .sequence = 999};
  ack.updates.push_back({"p", "p:1", member_state::alive, 0, "p", {5, 2, 8, 0.5, 3}});
  node.receive("p:1", ack, t0);
  EXPECT_EQ(node.find("p")->load.in_flight, 5u);
  // An older version does not replace it; a new incarnation (a restart) does.
  ack.updates[0].load = {1, 0, 8, 0.1, 2};
  node.receive("p:1", ack, t0);
  EXPECT_EQ(node.find("p")->load.in_flight, 5u);
  ack.updates[0].incarnation = 1;
  node.receive("p:1", ack, t0);
  EXPECT_EQ(node.find("p")->load.in_flight, 1u);
}

}  // namespace
}  // namespace p2pfaas::discovery
