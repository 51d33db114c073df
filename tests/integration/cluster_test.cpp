// Real p2pfaasd processes forming a cluster on loopback: gossip membership, failure detection,
// authentication, forwarding over peer links.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>

#include "tests/support/daemon_process.hpp"
#include "tests/support/http_client.hpp"

namespace p2pfaas::testing {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

// Base64 of "0123456789abcdef0123456789abcdef" and of "fedcba9876543210fedcba9876543210".
const std::string cluster_key(test_cluster_key);
const std::string other_key = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

json nodes_of(const daemon_process& node) {
  auto r = http_request_to(node.host(), node.port(), "GET", "/nodes", {}, {}, 2s);
  if (r.status != 200) return json::object();
  return json::parse(r.body, nullptr, false);
}

// The state `observer` has for `id`, or "" when it does not know it.
std::string state_seen(const daemon_process& observer, const std::string& id) {
  json doc = nodes_of(observer);
  if (!doc.contains("nodes")) return "";
  for (const auto& n : doc["nodes"]) {
    if (n["id"] == id) return n["state"];
  }
  return "";
}

double metric(const daemon_process& node, const std::string& series) {
  return metric_sum(node.port(), series);
}

class Cluster : public ::testing::Test {
 protected:
  Cluster() {
    key_file_ = keys_.write("cluster.key", cluster_key + "\n");
    wrong_key_file_ = keys_.write("other.key", other_key + "\n");
    chmod(key_file_.c_str(), 0600);
    chmod(wrong_key_file_.c_str(), 0600);
  }

  // A node with the cluster key, joining through `seed` when given.
  std::unique_ptr<daemon_process> start(const std::string& id, const daemon_process* seed = nullptr,
                                        std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--cluster-key-file", key_file_.string()};
    if (seed) {
      args.push_back("--join");
      args.push_back("127.0.0.1:" + std::to_string(seed->port()));
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<daemon_process>(args, id);
  }

  static bool everyone_sees(const std::vector<const daemon_process*>& observers,
                            const std::vector<std::string>& ids, const std::string& state) {
    for (const auto* o : observers) {
      for (const auto& id : ids) {
        if (state_seen(*o, id) != state) return false;
      }
    }
    return true;
  }

  temp_dir keys_;
  std::filesystem::path key_file_;
  std::filesystem::path wrong_key_file_;
};

TEST_F(Cluster, FiveNodesJoinedThroughOneSeedAllSeeEachOtherAliveWithinThreeSeconds) {
  auto seed = start("n0");
  std::vector<std::unique_ptr<daemon_process>> nodes;
  for (int i = 1; i < 5; ++i) nodes.push_back(start("n" + std::to_string(i), seed.get()));
  const auto started = clock::now();
  std::vector<const daemon_process*> all{seed.get()};
  for (auto& n : nodes) all.push_back(n.get());
  const std::vector<std::string> ids{"n0", "n1", "n2", "n3", "n4"};
  ASSERT_TRUE(eventually([&] { return everyone_sees(all, ids, "alive"); }, 3s))
      << nodes_of(*seed).dump(2);
  std::printf(
      "[ figures ] 5 nodes all alive everywhere %lld ms after the last start\n",
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started).count()));

  // /nodes has self with its own load; /list (P2PFaaS form) lists the 4 others.
  json doc = nodes_of(*nodes[0]);
  EXPECT_EQ(doc["self"], "n1");
  EXPECT_EQ(doc["nodes"].size(), 5U);
  auto list = json::parse(http_get(nodes[0]->port(), "/list").body);
  ASSERT_EQ(list.size(), 4U);
  for (const auto& peer : list) {
    EXPECT_NE(peer["name"], "n1");
    EXPECT_EQ(peer["ip"], "127.0.0.1");
    EXPECT_TRUE(peer["alive"].get<bool>());
    EXPECT_GT(peer["port"].get<int>(), 0);
    EXPECT_EQ(peer["group_name"], "default");
  }
  EXPECT_GT(metric(*seed, "p2pfaas_gossip_messages_total{direction=\"in\""), 0);
  EXPECT_EQ(metric(*seed, "p2pfaas_cluster_members{state=\"alive\"}"), 5);
}

TEST_F(Cluster, ForcedForwardRunsOnAnotherNodeAndSaysSo) {
  auto a = start("fa");
  auto b = start("fb", a.get());
  ASSERT_TRUE(eventually(
      [&] {
        return everyone_sees({a.get(), b.get()}, {"fa", "fb"}, "alive");
      },
      5s));
  auto r =
      http_request(a->port(), "POST", "/function/echo?x=1", "hello over there",
                   {{"X-P2pfaas-Scheduler-Forward", "1"},
                    {"X-Call-Id", "call-42"},
                    {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "hello over there");
  EXPECT_EQ(r.header("X-P2pfaas-Executed-On"), "fb");
  EXPECT_EQ(r.header("X-P2pfaas-Externally-Executed"), "True");
  EXPECT_EQ(r.header("X-P2pfaas-Hops"), "1");
  EXPECT_EQ(json::parse(r.header("X-P2pfaas-Peers-List-Id")), json({"fa", "fb"}));
  EXPECT_EQ(r.header("X-Call-Id"), "call-42");
  for (const char* list :
       {"X-P2pfaas-Timing-Total-Seconds-List", "X-P2pfaas-Timing-Scheduling-Seconds-List",
        "X-P2pfaas-Timing-Probing-Seconds-List"}) {
    json values = json::parse(r.header(list));
    ASSERT_EQ(values.size(), 2U) << list;
  }
  json totals = json::parse(r.header("X-P2pfaas-Timing-Total-Seconds-List"));
  EXPECT_GE(totals[0].get<double>(), totals[1].get<double>());  // the origin waited for the peer

  // Query parameters travel: sleep reads its duration from them.
  auto slept = http_get(a->port(), "/function/sleep?ms=30", {{"X-P2pfaas-Scheduler-Forward", "1"}});
  ASSERT_EQ(slept.status, 200);
  EXPECT_EQ(slept.header("X-P2pfaas-Executed-On"), "fb");
  EXPECT_GE(json::parse(slept.body)["slept_ms"].get<double>(), 30);

  // Without the header, NoScheduler runs it here.
  auto local = http_get(a->port(), "/function/echo");
  EXPECT_EQ(local.header("X-P2pfaas-Executed-On"), "fa");
  EXPECT_FALSE(local.has_header("X-P2pfaas-Externally-Executed"));
  EXPECT_EQ(metric(*a, "p2pfaas_calls_total{function=\"echo\",outcome=\"ok\",where=\"remote\"}"),
            1);
  EXPECT_GE(metric(*b, "p2pfaas_peer_calls_received_total"), 2);
  EXPECT_GE(metric(*a, "p2pfaas_peer_links"), 1);
}

TEST_F(Cluster, ForcedForwardWithNoPeerRunsHere) {
  auto alone = start("solo");
  auto r = http_get(alone->port(), "/function/echo", {{"X-P2pfaas-Scheduler-Forward", "1"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-P2pfaas-Executed-On"), "solo");
}

TEST_F(Cluster, PeerKilledMidCallYields502LongBeforeTheTimeout) {
  auto a = start("ka");
  auto b = start("kb", a.get());
  ASSERT_TRUE(eventually(
      [&] {
        return everyone_sees({a.get(), b.get()}, {"ka", "kb"}, "alive");
      },
      5s));
  auto call = std::async(std::launch::async, [&] {
    return http_get(a->port(), "/function/sleep?ms=20000", {{"X-P2pfaas-Scheduler-Forward", "1"}});
  });
  ASSERT_TRUE(eventually([&] {
    auto r = http_get(b->port(), "/monitoring/load");
    return r.status == 200 && json::parse(r.body)["functions_running"] == 1;
  }));
  const auto killed = clock::now();
  b->signal(SIGKILL);
  ASSERT_EQ(call.wait_for(10s), std::future_status::ready) << "the call hung";
  auto r = call.get();
  const auto took = clock::now() - killed;
  EXPECT_EQ(r.status, 502) << r.body;
  EXPECT_EQ(json::parse(r.body)["code"], "peer_failed");
  EXPECT_LT(took, 5s);
  std::printf(
      "[ figures ] 502 %lld ms after the peer was killed\n",
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
}

TEST_F(Cluster, KilledNodeIsDeclaredDeadByEverySurvivor) {
  auto seed = start("d0");
  auto d1 = start("d1", seed.get());
  auto d2 = start("d2", seed.get());
  auto victim = start("dv", seed.get());
  std::vector<const daemon_process*> survivors{seed.get(), d1.get(), d2.get()};
  ASSERT_TRUE(eventually(
      [&] {
        return everyone_sees({seed.get(), d1.get(), d2.get(), victim.get()},
                             {"d0", "d1", "d2", "dv"}, "alive");
      },
      5s));
  const auto killed = clock::now();
  victim->signal(SIGKILL);
  ASSERT_TRUE(eventually([&] { return everyone_sees(survivors, {"dv"}, "dead"); }, 8s));
  const auto took = clock::now() - killed;
  EXPECT_LT(took, 5s);
  std::printf(
      "[ figures ] kill -9 seen dead by every survivor after %lld ms\n",
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  EXPECT_TRUE(everyone_sees(survivors, {"d0", "d1", "d2"}, "alive"));
  EXPECT_GE(metric(*seed, "p2pfaas_gossip_suspicions_total") +
                metric(*d1, "p2pfaas_gossip_suspicions_total") +
                metric(*d2, "p2pfaas_gossip_suspicions_total"),
            1);
}

TEST_F(Cluster, SigtermIsSeenAsLeftWithinOneSecond) {
  auto seed = start("l0");
  auto l1 = start("l1", seed.get());
  auto leaver = start("lx", seed.get());
  ASSERT_TRUE(eventually(
      [&] {
        return everyone_sees({seed.get(), l1.get(), leaver.get()}, {"l0", "l1", "lx"}, "alive");
      },
      5s));
  const auto signalled = clock::now();
  leaver->signal(SIGTERM);
  ASSERT_TRUE(eventually(
      [&] {
        return everyone_sees({seed.get(), l1.get()}, {"lx"}, "left");
      },
      1s));
  std::printf(
      "[ figures ] SIGTERM seen as left everywhere after %lld ms\n",
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - signalled).count()));
  EXPECT_EQ(leaver->wait_exit(5s), 0);
}

TEST_F(Cluster, RestartedNodeRejoinsAliveWithAHigherIncarnation) {
  auto seed = start("r0");
  auto node = start("r1", seed.get());
  ASSERT_TRUE(eventually([&] { return state_seen(*seed, "r1") == "alive"; }, 5s));
  const std::uint16_t port = node->port();
  node->signal(SIGKILL);
  ASSERT_TRUE(eventually([&] { return state_seen(*seed, "r1") == "dead"; }, 8s));
  std::uint64_t dead_incarnation = 0;
  for (const auto& n : nodes_of(*seed)["nodes"]) {
    if (n["id"] == "r1") dead_incarnation = n["incarnation"];
  }
  node.reset();
  auto again = start("r1", seed.get(), {"--listen", "127.0.0.1:" + std::to_string(port)});
  ASSERT_TRUE(eventually([&] { return state_seen(*seed, "r1") == "alive"; }, 5s));
  for (const auto& n : nodes_of(*seed)["nodes"]) {
    if (n["id"] == "r1") {
      EXPECT_GT(n["incarnation"].get<std::uint64_t>(), dead_incarnation);
    }
  }
  EXPECT_EQ(state_seen(*again, "r0"), "alive");
}

TEST_F(Cluster, NodeWithAWrongKeyOrNoKeyIsNeverAdmitted) {
  auto seed = start("w0");
  auto member = start("w1", seed.get());
  const std::string join = "127.0.0.1:" + std::to_string(seed->port());
  daemon_process intruder({"--cluster-key-file", wrong_key_file_.string(), "--join", join}, "evil");
  daemon_process keyless({"--join", join}, "nokey");
  EXPECT_NE(keyless.log().find("no cluster key"), std::string::npos) << keyless.log();
  ASSERT_TRUE(eventually([&] { return state_seen(*seed, "w1") == "alive"; }, 5s));
  // The intruder keeps knocking (join retries every second): give it a few tries.
  ASSERT_TRUE(eventually(
      [&] {
        return metric(*seed, "p2pfaas_gossip_datagrams_rejected_total{reason=\"bad_tag\"}") >= 2;
      },
      5s));
  EXPECT_EQ(state_seen(*seed, "evil"), "");
  EXPECT_EQ(state_seen(*member, "evil"), "");
  EXPECT_EQ(state_seen(*seed, "nokey"), "");
  EXPECT_EQ(state_seen(intruder, "w0"), "");
  EXPECT_EQ(json::parse(http_get(keyless.port(), "/nodes").body)["nodes"].size(), 0U);
}

TEST_F(Cluster, ForgedDatagramsAreDroppedAndCounted) {
  auto node = start("f0");
  int sock = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(sock, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(node->port());
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // A well-formed envelope header with a made-up tag, and plain garbage.
  std::string forged(200, 'x');
  forged[0] = 1;
  for (const std::string& datagram : {forged, std::string("hello"), std::string(1, '\0')}) {
    sendto(sock, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
  }
  close(sock);
  ASSERT_TRUE(eventually(
      [&] { return metric(*node, "p2pfaas_gossip_datagrams_rejected_total") >= 3; }, 3s));
  EXPECT_EQ(json::parse(http_get(node->port(), "/nodes").body)["nodes"].size(), 1U);
}

TEST_F(Cluster, PeerUpgradeWithoutAValidKeyGets401) {
  auto node = start("u0");
  const std::string upgrade =
      "GET /peer HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
  for (const std::string& auth :
       {std::string(), std::string("Authorization: P2pfaas-Peer AAAA\r\n"),
        std::string("Authorization: Bearer whatever\r\n")}) {
    std::string answer = raw_exchange(node->port(), upgrade + auth + "\r\n", 3s);
    EXPECT_EQ(answer.rfind("HTTP/1.1 401", 0), 0U) << answer;
  }
  // A node without a key accepts no peer at all.
  daemon_process keyless({}, "u1");
  std::string answer = raw_exchange(keyless.port(), upgrade + "\r\n", 3s);
  EXPECT_EQ(answer.rfind("HTTP/1.1 401", 0), 0U) << answer;
  EXPECT_GE(metric(*node, "p2pfaas_peer_upgrades_total{result=\"refused\"}"), 3);
}

}  // namespace
}  // namespace p2pfaas::testing
