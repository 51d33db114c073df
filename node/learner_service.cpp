#include "node/learner_service.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <array>
#include <charconv>

#include "config/json_input.hpp"
#include "config/numbers.hpp"
#include "learner/snapshot.hpp"
#include "node/problems_response.hpp"

namespace p2pfaas::node {

namespace asio = boost::asio;
namespace http = net::http;
using json = nlohmann::json;
using net::json_error;

namespace {

net::response bad_request(std::string_view code, std::string_view message) {
  return json_error(http::status::bad_request, code, message);
}

// A JSON value P2PFaaS's tools may send as a number or as its text.
std::string text_of(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number()) return value.dump();
  return {};
}

json stats_json(const learner::stats& s, const std::string& algorithm) {
  json by_action = json::object();
  for (learner::action a : learner::all_actions) {
    by_action[std::string(learner::to_string(a))] = s.decisions_by_action[static_cast<int>(a)];
  }
  return {{"algorithm", algorithm},
          {"decisions", s.decisions},
          {"decisions_by_action", by_action},
          {"updates", s.updates},
          {"epsilon", s.epsilon},
          {"episodes", s.episodes},
          {"mean_reward_recent", s.mean_reward_recent},
          {"rewards_recent", s.rewards_recent},
          {"pending", s.pending},
          {"table_states", s.table_states},
          {"eid_max_seen", s.eid_max_seen},
          {"eid_last_trained", s.eid_last_trained},
          {"dropped", s.dropped},
          {"duplicates", s.duplicates},
          // The names P2PFaaS's learner uses, for its tools.
          {"inferences", s.decisions},
          {"trained_items", s.updates},
          {"pending_entries", s.pending}};
}

}  // namespace

body_reading<json> read_json_body(std::string_view body) {
  std::string error;
  std::optional<json> doc = config::parse_json_input(body, error);
  if (!doc) return {std::nullopt, bad_request("bad_json", "the body is " + error)};
  return {std::move(doc), {}};
}

body_reading<json> read_learner_parameters(const json& doc) {
  if (!doc.is_object()) {
    return {std::nullopt,
            bad_request("bad_parameters", "the body must be a JSON object of learner parameters")};
  }
  return {json{{"learner", doc}}, {}};
}

body_reading<learner::q_table> read_learner_weights(const json& doc,
                                                    const config::learner_section& parameters) {
  learner::table_result imported = learner::weights_from_json(doc, parameters);
  if (imported.table) return {std::move(imported.table), {}};
  problem_list problems;
  for (const auto& e : imported.errors) problems.add(e);
  problems.add_unlisted(imported.more_errors);
  return {std::nullopt, problems_response("bad_weights", problems)};
}

body_reading<std::vector<learner::experience>> read_experience_batch(const json& doc,
                                                                     int own_buckets,
                                                                     int peer_buckets) {
  if (!doc.is_array() || doc.empty()) {
    return {std::nullopt, bad_request("bad_experiences",
                                      "the body must be a non-empty list of {\"eid\",\"state\","
                                      "\"action\",\"reward\"}")};
  }
  std::vector<learner::experience> batch;
  problem_list problems;
  for (std::size_t i = 0; i < doc.size(); ++i) {
    const json& entry = doc[i];
    const std::string at = "[" + std::to_string(i) + "]";
    auto problem = [&](const std::string& text) { problems.add(at + text); };
    if (!entry.is_object()) {
      problem(": must be an object {\"eid\",\"state\",\"action\",\"reward\"}");
      continue;
    }
    auto field = [&](const char* name) {
      auto it = entry.find(name);
      return it == entry.end() ? std::string() : text_of(*it);
    };
    auto eid = learner::parse_eid(field("eid"));
    auto state = learner::parse_state(field("state"), own_buckets, peer_buckets);
    auto action = learner::parse_action(field("action"));
    auto reward = learner::parse_number(field("reward"));
    if (!eid) problem(".eid: must be a non-negative integer");
    if (!state) problem(".state: must be a state as the node emits it, \"task,own,peer\"");
    if (!action) problem(".action: must be 0, 1, 2 or 3");
    if (!reward) problem(".reward: must be a finite number");
    if (eid && state && action && reward) batch.push_back({*eid, *state, *action, *reward});
  }
  // All or nothing, so that a client can send the batch again once it is fixed.
  if (!problems.empty()) return {std::nullopt, problems_response("bad_experiences", problems)};
  return {std::move(batch), {}};
}

learner_service::learner_service(std::filesystem::path file, config::learner_section parameters,
                                 std::function<std::uint64_t()> random)
    : file_(std::move(file)),
      agent_(std::make_shared<learner::agent>(std::move(parameters), std::move(random))) {}

learner_service::~learner_service() {
  stop();
}

void learner_service::restore(config::learner_section& parameters) {
  learner::loaded_file saved = learner::load_file(file_);
  switch (saved.what) {
    case learner::loaded_file::status::missing:
      return;
    case learner::loaded_file::status::loaded: {
      learner::snapshot& s = saved.value;
      if (s.parameters_set_at_runtime) {
        parameters = s.parameters;
        runtime_parameters_ = true;
        agent_->restore(s);
        saved_changes_ = changes_.load();
        spdlog::info(
            "learner: {} states, epsilon {} and parameters restored from {} (the parameters were "
            "set at runtime and override learner.* of the configuration)",
            s.table.size(), s.epsilon, file_.string());
        return;
      }
      if (s.parameters.own_load_buckets == parameters.own_load_buckets &&
          s.parameters.peer_load_buckets == parameters.peer_load_buckets) {
        s.parameters = parameters;
        agent_->restore(s);
        spdlog::info("learner: {} states and epsilon {} restored from {}", s.table.size(),
                     s.epsilon, file_.string());
        return;
      }
      std::string error;
      if (auto aside = learner::set_aside(file_, "other-buckets", error)) {
        spdlog::warn(
            "learner: the Q-table in {} was learned over other load buckets than learner.* sets "
            "now; moved it to {} and starting afresh",
            file_.string(), aside->string());
      } else {
        persist_ = false;
        spdlog::error(
            "learner: the Q-table in {} was learned over other load buckets and {}; starting "
            "afresh and never saving, so that the file stays as it is",
            file_.string(), error);
      }
      // Eids go on growing all the same.
      agent_->restore({parameters, false, parameters.epsilon_start, s.next_eid, {}});
      return;
    }
    case learner::loaded_file::status::unusable: {
      std::string error;
      if (auto aside = learner::set_aside(file_, "corrupt", error)) {
        spdlog::warn("learner: {} is unusable ({}); moved it to {} and starting afresh",
                     file_.string(), saved.error, aside->string());
      } else {
        persist_ = false;
        spdlog::error(
            "learner: {} is unusable ({}) and {}; starting afresh and never saving, so that "
            "the file stays as it is",
            file_.string(), saved.error, error);
      }
      return;
    }
  }
}

void learner_service::start() {
  agent_->set_wakeup([this] {
    {
      std::lock_guard lock(wake_mutex_);
      wake_requested_ = true;
    }
    wake_.notify_one();
  });
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "p2pfaas-learner");
    run();
  });
}

void learner_service::run() {
  auto last_save = std::chrono::steady_clock::now();
  std::unique_lock lock(wake_mutex_);
  while (!stopping_) {
    // Wakes for updates as they become possible, and once a second to see whether a save is due.
    wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_ || wake_requested_; });
    wake_requested_ = false;
    lock.unlock();
    agent_->train_pending();
    const double interval = agent_->parameters().save_interval_seconds;
    const auto now = std::chrono::steady_clock::now();
    if (interval > 0 && now - last_save >= std::chrono::duration<double>(interval)) {
      save_if_changed();
      last_save = now;
    }
    lock.lock();
  }
}

void learner_service::stop() {
  {
    std::lock_guard lock(wake_mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_one();
  // A node that never started has made no decision: nothing to update or save.
  if (!thread_.joinable()) return;
  thread_.join();
  agent_->set_wakeup({});
  agent_->train_pending();
  if (auto error = save_if_changed(); !error.empty()) spdlog::error("learner: {}", error);
}

std::string learner_service::save_now() {
  if (!persist_) return {};
  const learner::stats before = agent_->current_stats();
  const std::uint64_t changes = changes_.load();
  learner::snapshot now = agent_->save();
  now.parameters_set_at_runtime = runtime_parameters_;
  std::string error = learner::save_file(file_, now);
  if (error.empty()) {
    saved_updates_ = before.updates;
    saved_changes_ = changes;
    if (save_failing_) spdlog::info("learner: saving to {} works again", file_.string());
    save_failing_ = false;
  } else if (!save_failing_) {
    save_failing_ = true;
    spdlog::warn("learner: {}", error);
  }
  return error;
}

std::string learner_service::save_if_changed() {
  std::lock_guard lock(save_mutex_);
  if (agent_->current_stats().updates == saved_updates_ && changes_.load() == saved_changes_) {
    return {};
  }
  return save_now();
}

std::string learner_service::apply(const config::learner_section& next) {
  std::lock_guard lock(save_mutex_);
  if (persist_) {
    // What the agent will hold once they apply, saved first: parameters that would not survive
    // a restart are refused.
    learner::snapshot after = agent_->save();
    if (after.parameters.own_load_buckets != next.own_load_buckets ||
        after.parameters.peer_load_buckets != next.peer_load_buckets) {
      after.table.clear();
    }
    after.parameters = next;
    after.parameters_set_at_runtime = true;
    after.epsilon = std::clamp(after.epsilon, next.epsilon_min, next.epsilon_start);
    if (auto error = learner::save_file(file_, after); !error.empty()) {
      return "cannot save the learner: " + error;
    }
  }
  if (agent_->set_parameters(next)) {
    spdlog::info("learner: new load buckets, so the Q-table starts afresh");
  }
  runtime_parameters_ = true;
  ++changes_;
  return {};
}

net::response learner_service::stats_response() const {
  return net::json_response(
      http::status::ok, stats_json(agent_->current_stats(), agent_->parameters().algorithm).dump());
}

net::response learner_service::parameters_post(const std::string& body) {
  const body_reading<json> doc = read_json_body(body);
  if (!doc.value) return doc.refused;
  const body_reading<json> patch = read_learner_parameters(*doc.value);
  if (!patch.value) return patch.refused;
  if (auto problems = patch_(*patch.value); !problems.empty()) {
    return problems_response(problems);
  }
  return net::json_response(http::status::ok,
                            learner::parameters_to_json(agent_->parameters()).dump());
}

net::response learner_service::weights_post(const std::string& body) {
  const body_reading<json> doc = read_json_body(body);  // parsed before taking the lock
  if (!doc.value) return doc.refused;
  std::lock_guard lock(save_mutex_);
  body_reading<learner::q_table> imported = read_learner_weights(*doc.value, agent_->parameters());
  if (!imported.value) return imported.refused;
  const std::size_t states = imported.value->size();
  agent_->replace_table(std::move(*imported.value));
  ++changes_;
  if (auto error = save_now(); !error.empty()) {
    return json_error(http::status::internal_server_error, "not_saved",
                      "the table was imported but could not be saved: " + error);
  }
  return net::json_response(http::status::ok, json{{"states", states}}.dump());
}

net::response learner_service::reset() {
  std::lock_guard lock(save_mutex_);
  agent_->reset();
  ++changes_;
  if (auto error = save_now(); !error.empty()) {
    return json_error(http::status::internal_server_error, "not_saved",
                      "the learner was reset but could not be saved: " + error);
  }
  return stats_response();
}

net::response learner_service::train_batch(const std::string& body) {
  const body_reading<json> doc = read_json_body(body);
  if (!doc.value) return doc.refused;
  const body_reading<std::vector<learner::experience>> batch =
      read_experience_batch(*doc.value, agent_->own_buckets(), agent_->peer_buckets());
  if (!batch.value) return batch.refused;
  learner::train_summary done = agent_->submit(*batch.value);
  return net::json_response(
      http::status::ok, json{{"accepted", done.accepted}, {"duplicates", done.duplicates}}.dump());
}

net::response learner_service::train_from_headers(const net::request& req) {
  std::string problems;
  auto header = [&](const char* name) -> std::optional<std::string> {
    auto it = req.find(name);
    if (it == req.end() || it->value().empty()) {
      problems += (problems.empty() ? "" : "; ") + std::string(name) + ": missing";
      return std::nullopt;
    }
    return std::string(it->value());
  };
  auto check = [&](const char* name, const std::optional<std::string>& text, bool ok,
                   const char* wanted) {
    if (text && !ok) problems += (problems.empty() ? "" : "; ") + std::string(name) + wanted;
  };
  auto eid_text = header("X-P2pfaas-Learning-Eid");
  auto state_text = header("X-P2pfaas-Learning-State");
  auto action_text = header("X-P2pfaas-Learning-Action");
  auto reward_text = header("X-P2pfaas-Learning-Reward");
  auto eid = eid_text ? learner::parse_eid(*eid_text) : std::nullopt;
  auto state =
      state_text ? learner::parse_state(*state_text, agent_->own_buckets(), agent_->peer_buckets())
                 : std::nullopt;
  auto action = action_text ? learner::parse_action(*action_text) : std::nullopt;
  auto reward = reward_text ? learner::parse_number(*reward_text) : std::nullopt;
  check("X-P2pfaas-Learning-Eid", eid_text, eid.has_value(), ": must be a non-negative integer");
  check("X-P2pfaas-Learning-State", state_text, state.has_value(),
        ": must be a state as the node emits it, \"task,own,peer\"");
  check("X-P2pfaas-Learning-Action", action_text, action.has_value(), ": must be 0, 1, 2 or 3");
  check("X-P2pfaas-Learning-Reward", reward_text, reward.has_value(), ": must be a finite number");
  if (!problems.empty()) return bad_request("bad_experience", problems);
  learner::train_summary done = agent_->submit({{*eid, *state, *action, *reward}});
  return net::json_response(
      http::status::ok, json{{"accepted", done.accepted}, {"duplicates", done.duplicates}}.dump());
}

net::response learner_service::act(const net::request& req) {
  auto it = req.find("X-P2pfaas-Learning-State");
  if (it == req.end()) {
    return bad_request("bad_state", "X-P2pfaas-Learning-State: missing");
  }
  auto state = learner::parse_state(it->value(), agent_->own_buckets(), agent_->peer_buckets());
  if (!state) {
    return bad_request("bad_state",
                       "X-P2pfaas-Learning-State: must be a state as the node emits it, "
                       "\"task,own,peer\" (got \"" +
                           std::string(it->value()) + "\")");
  }
  learner::choice made = agent_->act_untracked(*state);
  // P2PFaaS's form: the action number as the body, epsilon in a header.
  net::response res{http::status::ok, 11};
  res.set(http::field::content_type, "text/plain");
  res.set("X-P2pfaas-Eps", config::shortest_text(made.epsilon));
  res.body() = std::to_string(static_cast<int>(made.taken));
  return res;
}

void learner_service::add_routes(net::router& routes, admin_check admin, config_patcher patch) {
  using verb = http::verb;
  patch_ = std::move(patch);
  // Every learner endpoint is an admin one: it reads or changes what the node decides. A GET
  // that changes state is P2PFaaS's form, kept for its scripts; admin_auth decides who may use it.
  auto guarded = [admin](auto handle, admin_access access = admin_access::read) {
    return [admin, handle, access](net::request_context& ctx) -> asio::awaitable<net::response> {
      const bool changes = access == admin_access::change || ctx.req.method() != verb::get;
      if (auto refused = admin(ctx, changes ? admin_access::change : admin_access::read)) {
        co_return *refused;
      }
      co_return handle(ctx);
    };
  };
  routes.add({verb::get}, "/learner/stats",
             guarded([this](net::request_context&) { return stats_response(); }));
  routes.add({verb::get, verb::post}, "/learner/parameters",
             guarded([this](net::request_context& ctx) {
               if (ctx.req.method() == verb::post) return parameters_post(ctx.req.body());
               return net::json_response(http::status::ok,
                                         learner::parameters_to_json(agent_->parameters()).dump());
             }));
  routes.add({verb::get, verb::post}, "/learner/weights",
             guarded([this](net::request_context& ctx) {
               if (ctx.req.method() == verb::post) return weights_post(ctx.req.body());
               return net::json_response(
                   http::status::ok,
                   learner::weights_to_json(agent_->parameters(), agent_->table()).dump());
             }));
  routes.add({verb::post, verb::get}, "/learner/reset",
             guarded([this](net::request_context&) { return reset(); }, admin_access::change));
  routes.add({verb::get, verb::post}, "/train",
             guarded(
                 [this](net::request_context& ctx) {
                   // P2PFaaS's one experience in headers, as GET or as a POST without a body.
                   const bool batch = ctx.req.method() == verb::post &&
                                      !(ctx.req.body().empty() &&
                                        ctx.req.find("X-P2pfaas-Learning-Eid") != ctx.req.end());
                   if (batch) return train_batch(ctx.req.body());
                   return train_from_headers(ctx.req);
                 },
                 admin_access::change));
  routes.add({verb::post}, "/train_batch",
             guarded([this](net::request_context& ctx) { return train_batch(ctx.req.body()); }));
  routes.add({verb::get}, "/act",
             guarded([this](net::request_context& ctx) { return act(ctx.req); }));
}

void learner_service::add_metrics(registry& metrics) {
  auto read = [agent = agent_](auto field) {
    return [agent, field] { return std::vector<sample>{{{}, field(agent->current_stats())}}; };
  };
  metrics.computed(
      "p2pfaas_learner_decisions_total", "counter", "Decisions of the learner, by action.",
      [agent = agent_] {
        const learner::stats s = agent->current_stats();
        std::vector<sample> out;
        for (learner::action a : learner::all_actions) {
          out.push_back({{{"action", std::string(learner::to_string(a))}},
                         static_cast<double>(s.decisions_by_action[static_cast<int>(a)])});
        }
        return out;
      });
  metrics.computed("p2pfaas_learner_updates_total", "counter", "Q-table updates made.",
                   read([](const learner::stats& s) { return static_cast<double>(s.updates); }));
  metrics.computed("p2pfaas_learner_epsilon", "gauge", "Exploration rate of the next decision.",
                   read([](const learner::stats& s) { return s.epsilon; }));
  metrics.computed("p2pfaas_learner_reward_mean", "gauge",
                   "Mean reward of the last learner.window_size updates.",
                   read([](const learner::stats& s) { return s.mean_reward_recent; }));
  metrics.computed(
      "p2pfaas_learner_table_states", "gauge", "States in the Q-table.",
      read([](const learner::stats& s) { return static_cast<double>(s.table_states); }));
  metrics.computed("p2pfaas_learner_pending", "gauge",
                   "Decisions waiting for their reward or for the next decision.",
                   read([](const learner::stats& s) { return static_cast<double>(s.pending); }));
}

}  // namespace p2pfaas::node
