#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "net/http_server.hpp"
#include "net/peer_protocol.hpp"
#include "net/router.hpp"
#include "node/admin_auth.hpp"
#include "node/metrics.hpp"
#include "scheduler/dispatcher.hpp"
#include "scheduler/policy_registry.hpp"
#include "workloads/executor.hpp"

namespace p2pfaas::node {

class cluster;
class learner_service;

// The composition root: builds one node from its config and wires every module together.
class node {
 public:
  // Checks what the config module cannot: scheduler name and parameters, function names, and
  // files the config points at. Empty when the node can be built.
  static config::problems check(const config::config& cfg);

  // Precondition: check(cfg) is empty. Creates the data dir; throws std::runtime_error if it
  // cannot, or if a configured token file cannot be read.
  explicit node(config::config cfg);
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  // Binds the HTTP port and starts serving; returns the bound endpoint. Throws
  // std::system_error when the address cannot be bound.
  boost::asio::ip::tcp::endpoint start();

  // Two-phase shutdown: refuse new calls (503) and answer /health 503 while in-flight calls
  // finish, for at most node.drain_timeout_seconds; then stop accepting, close connections,
  // stop the executor and join every thread. Idempotent; blocks until done.
  void shutdown();

  // Validates the patched config as a whole and applies it atomically; returns every problem
  // (and changes nothing) otherwise.
  config::problems apply_patch(const nlohmann::json& patch);

  std::shared_ptr<const config::config> current_config() const { return config_.get(); }
  const std::string& id() const { return id_; }
  bool draining() const { return draining_.load(); }

 private:
  void add_routes();
  void add_metrics();
  config::problems apply(const config::config& next, bool at_start);

  // The scheduler choice made at runtime, kept in the data dir so that a restart keeps it.
  std::filesystem::path scheduler_file() const;
  // Writes it atomically (temp file, fsync, rename); "" or why not.
  std::string save_scheduler(const config::scheduler_section& scheduler) const;
  // A saved choice replaces cfg's, when it still builds; otherwise it is ignored with a warning.
  void restore_scheduler(config::config& cfg);
  nlohmann::json scheduler_json() const;  // {"name","parameters"} of the active policy
  // POST /configuration/scheduler's body applied here: the status and the answer's body.
  std::pair<net::http::status, nlohmann::json> set_scheduler(std::string_view body);
  boost::asio::awaitable<net::response> handle_scheduler(net::request_context& ctx);
  // Sends the scheduler body to every alive peer over its link; each node's result.
  boost::asio::awaitable<nlohmann::json> set_scheduler_on_peers(std::string body);
  net::peer_reply handle_admin_call(const net::peer_call& call);

  // The compatibility listeners (P2PFaaS's discovery and learner ports).
  void add_compat_routes();
  nlohmann::json discovery_configuration() const;
  net::response handle_discovery_configuration(net::request_context& ctx);

  boost::asio::awaitable<net::response> handle_function(net::request_context& ctx);
  boost::asio::awaitable<net::peer_reply> handle_peer_call(net::peer_call call,
                                                           const std::string& peer);
  void count_call(const std::string& function, const scheduler::call_result& result);
  static std::chrono::steady_clock::duration function_timeout(const config::config& cfg,
                                                              const std::string& function);
  void add_cluster_metrics();
  net::response handle_health() const;
  net::response handle_load() const;
  boost::asio::awaitable<net::response> handle_configuration(net::request_context& ctx);
  std::optional<net::response> refuse_admin(const net::request_context& ctx,
                                            admin_access access = admin_access::read) const;

  const std::string id_;
  config::holder config_;
  std::mutex apply_mutex_;  // serialises config updates (read-modify-write)
  std::unique_ptr<admin_auth> admin_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();

  workloads::function_registry functions_;
  scheduler::policy_registry policies_;
  std::unique_ptr<learner_service> learner_;
  std::unique_ptr<workloads::executor> executor_;
  std::unique_ptr<scheduler::dispatcher> dispatcher_;

  registry metrics_;
  class decision_metrics;
  std::unique_ptr<decision_metrics> decision_metrics_;
  counter_family* calls_ = nullptr;
  histogram_family* call_seconds_ = nullptr;
  counter_family* deadline_ = nullptr;
  counter_family* config_updates_ = nullptr;
  counter_family* peers_calls_received_ = nullptr;

  const int io_threads_;
  // The hint is the number of threads that run it: with one, Asio keeps handlers posted from that
  // thread in a private queue without taking the scheduler's lock.
  boost::asio::io_context io_;
  boost::asio::io_context gossip_io_{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>
      gossip_work_;
  std::thread gossip_thread_;
  // After the contexts: its timers and sockets must go before they do. Null without a key.
  std::unique_ptr<cluster> cluster_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  net::router routes_;
  std::unique_ptr<net::http_server> server_;
  net::router discovery_routes_;
  net::router learner_routes_;
  std::vector<std::unique_ptr<net::http_server>> compat_servers_;
  mutable std::mutex seeds_mutex_;
  std::vector<std::string> seeds_added_;  // by the discovery API's init_servers, at runtime
  std::vector<std::thread> threads_;
  std::atomic<bool> draining_{false};
  std::atomic<int> busy_calls_{0};  // /function and peer calls being handled
  std::once_flag shutdown_once_;
};

}  // namespace p2pfaas::node
