#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "learner/agent.hpp"
#include "net/router.hpp"
#include "node/admin_auth.hpp"
#include "node/metrics.hpp"

namespace p2pfaas::node {

// The node's learner: the agent LearningScheduler asks, its HTTP API (API.md's /learner/*,
// /train, /train_batch and /act), its metrics, and its file. Updates and saves run on a thread of
// their own, so neither a call nor an I/O thread ever waits for them.
class learner_service {
 public:
  // Refuses a request that lacks admin rights for that kind of access (the node's rule), or
  // nullopt.
  using admin_check =
      std::function<std::optional<net::response>(const net::request_context&, admin_access)>;
  // Applies a config patch the way POST /configuration does; every problem, or none.
  using config_patcher = std::function<config::problems(const nlohmann::json&)>;

  learner_service(std::filesystem::path file, config::learner_section parameters,
                  std::function<std::uint64_t()> random);
  ~learner_service();
  learner_service(const learner_service&) = delete;
  learner_service& operator=(const learner_service&) = delete;

  // Takes up what an earlier run saved: the Q-table, epsilon and eids, and the parameters when
  // they had been set at runtime (they replace `parameters` then). A table learned over other
  // buckets than `parameters` has, or a file that cannot be used, is moved aside with a warning;
  // if even that fails, this run never writes the file, so nothing is overwritten.
  void restore(config::learner_section& parameters);

  const std::shared_ptr<learner::agent>& agent() const { return agent_; }

  // Starts the thread that makes updates and saves every learner.save_interval_seconds.
  void start();
  // Joins the thread, makes the last updates and saves (when it was started). Idempotent.
  void stop();

  // New parameters from the config: saved with the table they leave, then applied. "" or why
  // they could not be saved (and then nothing changed).
  std::string apply(const config::learner_section& next);

  void add_routes(net::router& routes, admin_check admin, config_patcher patch);
  void add_metrics(registry& metrics);

 private:
  net::response stats_response() const;
  net::response parameters_post(const std::string& body);
  net::response weights_post(const std::string& body);
  net::response reset();
  net::response train_batch(const std::string& body);
  net::response train_from_headers(const net::request& req);
  net::response act(const net::request& req);
  // Saves now when something changed since the last save; "" or why not.
  std::string save_if_changed();
  std::string save_now();
  void run();

  const std::filesystem::path file_;
  const std::shared_ptr<learner::agent> agent_;
  config_patcher patch_;
  bool persist_ = true;  // false once the file could be neither used nor moved aside
  // Whether the parameters were set at runtime (or restored as such): the file says so, and then
  // they win over the config at the next start.
  std::atomic<bool> runtime_parameters_{false};

  std::mutex save_mutex_;  // one save at a time; guards the two fields below
  std::uint64_t saved_updates_ = 0;
  std::atomic<std::uint64_t> changes_{1};  // parameters, imports and resets; saved when > saved_
  std::uint64_t saved_changes_ = 0;
  bool save_failing_ = false;  // logs a failing save once, not every interval

  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool wake_requested_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

// Readers of the bodies of POST /learner/parameters, /learner/weights and /train: pure, so the
// handlers and the fuzzer share them. Each gives what the body holds, or the 400 answer that
// refuses it (every listed problem bounded, see problems_response.hpp).
template <class T>
struct body_reading {
  std::optional<T> value;
  net::response refused;  // when there is no value
};
// Any of these bodies, depth-limited (config/json_input.hpp).
body_reading<nlohmann::json> read_json_body(std::string_view body);
// The config patch {"learner": doc} that sets the parameters of `doc`; the node validates it.
body_reading<nlohmann::json> read_learner_parameters(const nlohmann::json& doc);
// The Q-table of `doc`, for a learner with `parameters`.
body_reading<learner::q_table> read_learner_weights(const nlohmann::json& doc,
                                                    const config::learner_section& parameters);
// The experiences of a batch, states within those bucket counts; all or nothing.
body_reading<std::vector<learner::experience>> read_experience_batch(const nlohmann::json& doc,
                                                                     int own_buckets,
                                                                     int peer_buckets);

}  // namespace p2pfaas::node
