// The learner on real p2pfaasd processes: its API (and the P2PFaaS learner port), the learning
// headers of LearningScheduler's answers and their way back through /train, and the Q-table's
// file across restarts and corruption.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/daemon_process.hpp"
#include "tests/support/http_client.hpp"

namespace p2pfaas::testing {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

json get_json(std::uint16_t port, const std::string& target) {
  return json::parse(http_get(port, target).body, nullptr, false);
}

reply post(std::uint16_t port, const std::string& target, const std::string& body) {
  return http_request(port, "POST", target, body);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const std::vector<std::string> learning{"--set", "scheduler.name=LearningScheduler", "--set",
                                        "scheduler.parameters=2"};

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

TEST(Learner, ParametersAreValidatedAndApplied) {
  daemon_process node(learning);
  json params = get_json(node.port(), "/learner/parameters");
  EXPECT_EQ(params["algorithm"], "q_learning");
  EXPECT_EQ(params["own_load_buckets"], json({0.5, 1, 1.5, 2, 3}));

  reply ok = post(node.port(), "/learner/parameters", R"({"alpha":0.5,"algorithm":"sarsa"})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(json::parse(ok.body)["alpha"], 0.5);
  EXPECT_EQ(get_json(node.port(), "/learner/parameters")["algorithm"], "sarsa");
  EXPECT_EQ(get_json(node.port(), "/configuration")["learner"]["alpha"], 0.5);

  for (const auto& [body, message] : std::vector<std::pair<std::string, std::string>>{
           {R"({"alpha":5})", "learner.alpha: must be <= 1 (got 5)"},
           {R"({"nope":1})", "learner.nope: unknown key"},
           {R"({"own_load_buckets":[1,0.5]})",
            "learner.own_load_buckets[1]: must be > learner.own_load_buckets[0] (1) (got 0.5)"},
           {R"({"epsilon_min":0.9,"epsilon_start":0.5})",
            "learner.epsilon_min: must be <= learner.epsilon_start"},
           {R"([1])", "must be a JSON object"},
           {R"({"alpha":)", "not valid JSON"}}) {
    reply r = post(node.port(), "/learner/parameters", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_NE(r.body.find(message), std::string::npos) << body << " -> " << r.body;
  }
  EXPECT_EQ(get_json(node.port(), "/learner/parameters")["alpha"], 0.5);  // refused: unchanged
}

TEST(Learner, WeightsAreExportedImportedAndValidated) {
  daemon_process node(learning);
  const json table = {{"states", {{"0,1,2", {0.1, 0.9, 0.2, 0.3}}, {"1,5,5", {0, 0, 0, 1}}}}};
  reply r = post(node.port(), "/learner/weights", table.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["states"], 2);
  json back = get_json(node.port(), "/learner/weights");
  EXPECT_EQ(back["states"], table["states"]);
  EXPECT_EQ(back["actions"], json({"reject", "run_here", "probe_one", "forward"}));

  for (const auto& [body, message] : std::vector<std::pair<std::string, std::string>>{
           {R"({"states":{"0,6,0":[0,0,0,0]}})", "states[\"0,6,0\"]: not a state"},
           {R"({"states":{"0,0,0":[0,0,0]}})", "must be a list of 4 numbers"},
           {R"({"states":{"0,0,0":[0,0,0,"x"]}})", "[3]: must be a finite number"},
           {R"({"states":{},"own_load_buckets":[9]})", "the table was learned with [9]"},
           {R"({"table":{}})", "table: unknown key"},
           {"nope", "not valid JSON"}}) {
    reply bad = post(node.port(), "/learner/weights", body);
    EXPECT_EQ(bad.status, 400) << body;
    const std::string said = json::parse(bad.body, nullptr, false).value("message", "");
    EXPECT_NE(said.find(message), std::string::npos) << body << " -> " << bad.body;
  }
  EXPECT_EQ(get_json(node.port(), "/learner/weights")["states"], table["states"]);

  // The greedy choice of /act follows the imported table.
  ASSERT_EQ(
      post(node.port(), "/learner/parameters", R"({"epsilon_start":0,"epsilon_min":0})").status,
      200);
  reply act = http_get(node.port(), "/act", {{"X-P2pfaas-Learning-State", "0,1,2"}});
  ASSERT_EQ(act.status, 200) << act.body;
  EXPECT_EQ(act.body, "1");
  EXPECT_EQ(act.header("X-P2pfaas-Eps"), "0");
  EXPECT_EQ(http_get(node.port(), "/act", {{"X-P2pfaas-Learning-State", "0,1"}}).status, 400);
  EXPECT_EQ(http_get(node.port(), "/act").status, 400);

  // Without an admin token a GET must not change state (any web page can send one).
  reply refused = http_get(node.port(), "/learner/reset");
  EXPECT_EQ(refused.status, 405) << refused.body;
  EXPECT_EQ(refused.header("Allow"), "POST");
  EXPECT_EQ(get_json(node.port(), "/learner/weights")["states"], table["states"]);
  reply reset = post(node.port(), "/learner/reset", "");
  ASSERT_EQ(reset.status, 200) << reset.body;
  EXPECT_EQ(get_json(node.port(), "/learner/weights")["states"], json::object());
  EXPECT_EQ(get_json(node.port(), "/learner/stats")["table_states"], 0);
}

TEST(Learner, TrainTakesBatchesAndHeadersAndRefusesBadExperiences) {
  daemon_process node(with(learning, {"--set", "learner.reward_source=client"}));
  const json batch =
      json::array({{{"eid", 1}, {"state", "0,0,0"}, {"action", 1}, {"reward", 1}},
                   {{"eid", "2"}, {"state", "0,3,5"}, {"action", "3.000000"}, {"reward", "0"}}});
  reply r = post(node.port(), "/train", batch.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body), json({{"accepted", 2}, {"duplicates", 0}}));
  r = post(node.port(), "/train_batch", batch.dump());  // P2PFaaS's name; the same eids again
  EXPECT_EQ(json::parse(r.body), json({{"accepted", 0}, {"duplicates", 2}}));
  ASSERT_TRUE(
      eventually([&] { return get_json(node.port(), "/learner/stats")["updates"] == 1; }, 5s));
  EXPECT_EQ(get_json(node.port(), "/learner/weights")["states"]["0,0,0"][1], 0.1);  // alpha 0.1

  for (
      const auto& [body, message] : std::vector<std::pair<std::string, std::string>>{
          {R"([{"eid":3,"state":"0,0","action":1,"reward":1}])", "[0].state: must be a state"},
          {R"([{"eid":3,"state":"0,0,0","action":1,"reward":1},{"eid":-4,"state":"0,0,0","action":7,"reward":"x"}])",
           "[1].eid: must be a non-negative integer; [1].action: must be 0, 1, 2 or 3; "
           "[1].reward: must be a finite number"},
          {R"([])", "non-empty list"},
          {R"({"eid":3})", "non-empty list"},
          {R"([1)", "not valid JSON"}}) {
    reply bad = post(node.port(), "/train", body);
    EXPECT_EQ(bad.status, 400) << body;
    EXPECT_NE(bad.body.find(message), std::string::npos) << body << " -> " << bad.body;
  }
  json many_bad = json::array();
  for (int i = 0; i < 1000; ++i)
    many_bad.push_back({{"eid", i}, {"state", "x"}, {"action", 1}, {"reward", 1}});
  reply long_answer = post(node.port(), "/train", many_bad.dump());
  EXPECT_EQ(long_answer.status, 400);
  EXPECT_NE(long_answer.body.find("[19].state"), std::string::npos);
  EXPECT_EQ(long_answer.body.find("[20].state"), std::string::npos);
  EXPECT_NE(long_answer.body.find("and 980 more"), std::string::npos) << long_answer.body;
  // All or nothing: eid 3 of the refused batch was not taken.
  EXPECT_EQ(get_json(node.port(), "/learner/stats")["eid_max_seen"], 2);

  reply bad =
      http_request(node.port(), "POST", "/train", "",
                   {{"X-P2pfaas-Learning-Eid", "5"}, {"X-P2pfaas-Learning-State", "0,0,9"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("X-P2pfaas-Learning-State: must be a state"), std::string::npos);
  EXPECT_NE(bad.body.find("X-P2pfaas-Learning-Action: missing"), std::string::npos);
  EXPECT_NE(bad.body.find("X-P2pfaas-Learning-Reward: missing"), std::string::npos);
}

TEST(Learner, EveryLearnedDecisionIsNamedInHeadersThatTrainAcceptsBack) {
  daemon_process node(with(learning, {"--set", "learner.reward_source=client"}));
  std::vector<reply> answers;
  for (int i = 0; i < 20; ++i) {
    answers.push_back(http_request(node.port(), "POST", "/function/echo", "x",
                                   {{"X-P2pfaas-Scheduler-Learning-Task-Type", "1"}}));
  }
  std::uint64_t last_eid = 0;
  for (const auto& a : answers) {
    // Alone, every choice runs here or is rejected; all are named.
    ASSERT_TRUE(a.status == 200 || a.status == 503) << a.status << " " << a.body;
    EXPECT_EQ(a.header("X-P2pfaas-Scheduler"), "LearningScheduler");
    const std::uint64_t eid = std::stoull(a.header("X-P2pfaas-Scheduler-Learning-Eid"));
    EXPECT_GT(eid, last_eid);
    last_eid = eid;
    EXPECT_EQ(a.header("X-P2pfaas-Scheduler-Learning-State"), "1,0,5");  // no peer: top bucket
    EXPECT_FALSE(a.header("X-P2pfaas-Scheduler-Learning-Action").empty());
    EXPECT_FALSE(a.header("X-P2pfaas-Scheduler-Learning-Eps").empty());
  }
  // The P2PFaaS way: the client computes the reward and sends the headers back.
  for (const auto& a : answers) {
    // As a POST without a body: a GET that changes state needs the admin token (see below).
    reply r = http_request(
        node.port(), "POST", "/train", "",
        {{"X-P2pfaas-Learning-Eid", a.header("X-P2pfaas-Scheduler-Learning-Eid")},
         {"X-P2pfaas-Learning-State", a.header("X-P2pfaas-Scheduler-Learning-State")},
         {"X-P2pfaas-Learning-Action", a.header("X-P2pfaas-Scheduler-Learning-Action")},
         {"X-P2pfaas-Learning-Reward", a.status == 200 ? "1" : "0"}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json::parse(r.body)["accepted"], 1);
  }
  ASSERT_TRUE(
      eventually([&] { return get_json(node.port(), "/learner/stats")["updates"] == 19; }, 5s));
  EXPECT_TRUE(get_json(node.port(), "/learner/weights")["states"].contains("1,0,5"));

  reply bad = http_request(node.port(), "POST", "/function/echo", "x",
                           {{"X-P2pfaas-Scheduler-Learning-Task-Type", "one"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("X-P2pfaas-Scheduler-Learning-Task-Type"), std::string::npos);
}

TEST(Learner, TheNodeRewardsItsOwnDecisionsAndCountsThem) {
  daemon_process node(learning);
  for (int i = 0; i < 30; ++i) http_request(node.port(), "POST", "/function/echo", "x");
  ASSERT_TRUE(
      eventually([&] { return get_json(node.port(), "/learner/stats")["updates"] == 29; }, 5s));
  const json stats = get_json(node.port(), "/learner/stats");
  EXPECT_EQ(stats["decisions"], 30);
  EXPECT_EQ(stats["inferences"], 30);  // P2PFaaS's name
  EXPECT_EQ(stats["pending"], 1);
  EXPECT_LT(stats["epsilon"].get<double>(), 1);
  EXPECT_EQ(metric_sum(node.port(), "p2pfaas_learner_decisions_total"), 30);
  EXPECT_EQ(metric_sum(node.port(), "p2pfaas_learner_updates_total"), 29);
  EXPECT_GT(metric_sum(node.port(), "p2pfaas_learner_table_states"), 0);
  EXPECT_GE(metric_sum(node.port(), "p2pfaas_learner_reward_mean"), 0);
  EXPECT_GT(metric_sum(node.port(), "p2pfaas_learner_epsilon"), 0);
}

TEST(Learner, TheTableAndParametersSurviveARestartUnchanged) {
  temp_dir data;
  const auto args = with(learning, {"--data-dir", data.path().string()});
  json weights_before, params_before;
  {
    daemon_process node(args);
    ASSERT_EQ(post(node.port(), "/learner/parameters", R"({"alpha":0.3,"discount":0.5})").status,
              200);
    for (int i = 0; i < 40; ++i) http_request(node.port(), "POST", "/function/echo", "x");
    ASSERT_TRUE(
        eventually([&] { return get_json(node.port(), "/learner/stats")["updates"] == 39; }, 5s));
    weights_before = get_json(node.port(), "/learner/weights");
    params_before = get_json(node.port(), "/learner/parameters");
    ASSERT_FALSE(weights_before["states"].empty());
    node.signal(SIGTERM);
    ASSERT_EQ(node.wait_exit(10s), 0);
  }
  daemon_process again(args);
  EXPECT_EQ(get_json(again.port(), "/learner/weights"), weights_before);
  EXPECT_EQ(get_json(again.port(), "/learner/parameters"), params_before);
  EXPECT_NE(again.log().find("restored from"), std::string::npos) << again.log();
  // Eids go on from where they were.
  reply r = http_request(again.port(), "POST", "/function/echo", "x");
  EXPECT_EQ(r.header("X-P2pfaas-Scheduler-Learning-Eid"), "41");
}

TEST(Learner, WithoutRuntimeChangesTheConfigsParametersApplyAndTheTableIsKept) {
  temp_dir data;
  const auto args = with(learning, {"--data-dir", data.path().string()});
  json weights_before;
  {
    daemon_process node(args);
    for (int i = 0; i < 10; ++i) http_request(node.port(), "POST", "/function/echo", "x");
    ASSERT_TRUE(
        eventually([&] { return get_json(node.port(), "/learner/stats")["updates"] == 9; }, 5s));
    weights_before = get_json(node.port(), "/learner/weights");
    node.signal(SIGTERM);
    ASSERT_EQ(node.wait_exit(10s), 0);
  }
  {
    // The operator edits learner.* in the config: it applies, the learned table stays.
    daemon_process again(with(args, {"--set", "learner.alpha=0.5"}));
    EXPECT_EQ(get_json(again.port(), "/learner/parameters")["alpha"], 0.5);
    EXPECT_EQ(get_json(again.port(), "/learner/weights"), weights_before);
    again.signal(SIGTERM);
    ASSERT_EQ(again.wait_exit(10s), 0);
  }
  // Other buckets: the old table means nothing for them; it is kept aside, not overwritten.
  daemon_process third(with(args, {"--set", "learner.own_load_buckets=1,2"}));
  EXPECT_EQ(get_json(third.port(), "/learner/stats")["table_states"], 0);
  EXPECT_NE(third.log().find("learned over other load buckets"), std::string::npos) << third.log();
  int aside = 0;
  for (const auto& entry : std::filesystem::directory_iterator(data.path())) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("learner.json.other-buckets-")) {
      ++aside;
      EXPECT_EQ(json::parse(read_file(entry.path()))["weights"]["states"],
                weights_before["states"]);
    }
  }
  EXPECT_EQ(aside, 1);
}

TEST(Learner, ACorruptFileIsMovedAsideAndTheNodeStartsAfresh) {
  temp_dir data;
  std::filesystem::create_directories(data.path());
  data.write("learner.json", "{\"format\":1,\"weights\":");  // torn
  const auto args = with(learning, {"--data-dir", data.path().string()});
  daemon_process node(args);
  EXPECT_EQ(http_get(node.port(), "/health").status, 200);
  EXPECT_NE(node.log().find("is unusable (not valid JSON); moved it to"), std::string::npos)
      << node.log();
  std::vector<std::filesystem::path> aside;
  for (const auto& entry : std::filesystem::directory_iterator(data.path())) {
    if (entry.path().filename().string().starts_with("learner.json.corrupt-")) {
      aside.push_back(entry.path());
    }
  }
  ASSERT_EQ(aside.size(), 1U);
  EXPECT_EQ(read_file(aside[0]), "{\"format\":1,\"weights\":");
  EXPECT_EQ(get_json(node.port(), "/learner/stats")["table_states"], 0);
  http_request(node.port(), "POST", "/function/echo", "x");
  node.signal(SIGTERM);
  ASSERT_EQ(node.wait_exit(10s), 0);
  // A fresh, valid file took its place; the corrupt copy is still there.
  EXPECT_EQ(json::parse(read_file(data / "learner.json"))["format"], 1);
  EXPECT_TRUE(std::filesystem::exists(aside[0]));
}

TEST(Learner, TheP2pfaasLearnerPortServesTheSameApi) {
  const std::uint16_t compat = unused_loopback_port();
  daemon_process node(
      with(learning, {"--set", "compat.learner_listen=127.0.0.1:" + std::to_string(compat)}));
  EXPECT_EQ(http_get(compat, "/learner/stats").status, 200);
  EXPECT_EQ(http_get(compat, "/learner/parameters").status, 200);
  EXPECT_EQ(http_get(compat, "/act", {{"X-P2pfaas-Learning-State", "0,0,0"}}).status, 200);
  reply r = http_request(compat, "POST", "/train_batch",
                         R"([{"eid":"1","state":"0,0,0","action":"1","reward":"1"}])");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(http_get(compat, "/function/echo").status, 404);  // only the learner's API there
}

TEST(Learner, WithAnAdminTokenTheApiNeedsIt) {
  temp_dir secrets;
  const auto token = secrets.write("admin.token", "s3cret-0123456789\n");
  daemon_process node(with(learning, {"--admin-token-file", token.string()}));
  EXPECT_EQ(http_get(node.port(), "/learner/stats").status, 401);
  EXPECT_EQ(post(node.port(), "/train", "[]").status, 401);
  const header_list auth{{"Authorization", "Bearer s3cret-0123456789"}};
  EXPECT_EQ(http_get(node.port(), "/learner/stats", auth).status, 200);
  // P2PFaaS's scripts change state with GET: served with the token (a page cannot add it).
  EXPECT_EQ(http_get(node.port(), "/learner/reset").status, 401);
  EXPECT_EQ(http_get(node.port(), "/learner/reset", auth).status, 200);
  header_list experience = auth;
  experience.insert(experience.end(), {{"X-P2pfaas-Learning-Eid", "1"},
                                       {"X-P2pfaas-Learning-State", "0,0,0"},
                                       {"X-P2pfaas-Learning-Action", "1"},
                                       {"X-P2pfaas-Learning-Reward", "1"}});
  reply trained = http_get(node.port(), "/train", experience);
  EXPECT_EQ(trained.status, 200) << trained.body;
}

}  // namespace
}  // namespace p2pfaas::testing
