#include "node/node.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "config/atomic_file.hpp"
#include "config/host_port.hpp"
#include "config/json_input.hpp"
#include "config/secret_file.hpp"
#include "learner/agent.hpp"
#include "net/cluster_key.hpp"
#include "node/cluster.hpp"
#include "node/learner_service.hpp"
#include "node/logging.hpp"
#include "node/problems_response.hpp"
#include "node/process_stats.hpp"
#include "node/scheduler_choice.hpp"
#include "workloads/builtins.hpp"

namespace p2pfaas::node {

namespace asio = boost::asio;
namespace http = net::http;
using net::json_error;
using clock = std::chrono::steady_clock;

namespace {

constexpr std::string_view version = P2PFAAS_VERSION;

workloads::executor_limits executor_limits_of(const config::config& cfg) {
  const auto& e = cfg.executor;
  workloads::executor_limits limits;
  limits.slots = e.slots;
  limits.queue = e.queue;
  limits.keep_alive =
      std::chrono::milliseconds(static_cast<std::int64_t>(e.keep_alive_seconds * 1000));
  limits.cold_start = std::chrono::microseconds(static_cast<std::int64_t>(e.cold_start_ms * 1000));
  limits.per_call_overhead =
      std::chrono::microseconds(static_cast<std::int64_t>(e.per_call_overhead_ms * 1000));
  limits.memory_limit_mb = e.memory_limit_mb;
  limits.memory_budget_bytes = static_cast<std::uint64_t>(e.memory_budget_mb) << 20;
  limits.fair_sources = e.fair_sources;
  limits.data_dir = cfg.node.data_dir;
  limits.seed = e.seed;
  return limits;
}

net::server_limits server_limits_of(const config::config& cfg) {
  // At least 1 ms: a smaller value would round to 0 and time every read out at once.
  const auto read_timeout =
      std::max<std::int64_t>(1, std::llround(cfg.http.read_timeout_seconds * 1000));
  return {static_cast<std::uint64_t>(cfg.http.max_body_bytes),
          static_cast<std::uint32_t>(cfg.http.max_header_bytes),
          std::chrono::milliseconds(read_timeout), cfg.http.max_connections,
          static_cast<std::uint64_t>(cfg.http.body_budget_bytes)};
}

std::function<std::uint64_t()> random_source_of(const config::config& cfg) {
  auto engine = std::make_shared<std::mt19937_64>(cfg.executor.seed ? cfg.executor.seed
                                                                    : std::random_device{}());
  auto mutex = std::make_shared<std::mutex>();
  return [engine, mutex] {
    std::lock_guard lock(*mutex);
    return (*engine)();
  };
}

// `agent` is the node's learner; without one (a check before the node exists), a throwaway one
// lets LearningScheduler's parameters be checked all the same.
scheduler::policy_dependencies policy_dependencies_of(
    const config::config& cfg, std::shared_ptr<learner::agent> agent = nullptr) {
  auto random = random_source_of(cfg);
  if (!agent) agent = std::make_shared<learner::agent>(cfg.learner, random);
  return {std::move(random), std::move(agent)};
}

// Keys whose new value only a restart can apply: the node refuses to pretend otherwise.
const std::vector<std::pair<std::string, std::string>> restart_only_keys = {
    {"node", ""},      {"cluster", ""},      {"admin", ""},
    {"log", "format"}, {"executor", "seed"}, {"compat", ""}};

// By default half the cores do I/O: the executor's workers need the rest for function bodies,
// and on a 2-core box one I/O thread serves small calls faster than two fighting for a core.
int io_threads_of(const config::config& cfg) {
  if (cfg.node.io_threads > 0) return cfg.node.io_threads;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency() / 2));
}

std::string random_call_id() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  static constexpr char digits[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int half = 0; half < 2; ++half) {
    std::uint64_t bits = engine();
    for (int i = 0; i < 16; ++i, bits >>= 4) id[half * 16 + i] = digits[bits & 0xf];
  }
  return id;
}

// Shortest round-trip form of a number of seconds, formatted without allocating.
struct seconds_text {
  explicit seconds_text(double seconds, bool as_list = false) {
    char* out = buffer;
    if (as_list) *out++ = '[';
    out = std::to_chars(out, buffer + sizeof(buffer) - 1, seconds).ptr;
    if (as_list) *out++ = ']';
    size = static_cast<std::size_t>(out - buffer);
  }
  std::string_view view() const { return {buffer, size}; }
  char buffer[40];
  std::size_t size = 0;
};

bool has_header(const net::request& req, std::string_view name) {
  return req.find(name) != req.end();
}

// Like ssh with a private key: a cluster key others can read lets them join the cluster, an admin
// token lets them run it.
void warn_if_readable_by_others(std::string_view key, const std::string& path) {
  if (auto warning = config::loose_permissions_warning(path); !warning.empty()) {
    spdlog::warn("{} {}", key, warning);
  }
}

// HOST:PORT as an endpoint to bind; a name such as "localhost" gives its first address.
asio::ip::tcp::endpoint listen_endpoint(asio::io_context& io, const std::string& text,
                                        const char* key) {
  auto [host, port] = *config::split_host_port(text);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) {
    asio::ip::tcp::resolver resolver(io);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) {
      throw std::system_error(ec, std::string("cannot resolve ") + key + " host " + host);
    }
    address = results.begin()->endpoint().address();
  }
  return {address, port};
}

// Binds `server`; a failure names the config key and the address, without Asio's source location.
asio::ip::tcp::endpoint listen_on(net::http_server& server, const asio::ip::tcp::endpoint& at,
                                  const char* key) {
  try {
    return server.listen(at);
  } catch (const boost::system::system_error& e) {
    throw std::system_error(e.code().value(), std::generic_category(),
                            std::string(key) + ": cannot listen on " + at.address().to_string() +
                                ":" + std::to_string(at.port()));
  }
}

// The list headers: one entry per node that handled the call, origin first.
template <class Field>
std::string json_list(const std::vector<scheduler::node_timing>& route, Field field) {
  std::string out = "[";
  for (const auto& t : route) {
    if (out.size() > 1) out += ',';
    if constexpr (std::is_same_v<decltype(field(t)), const std::string&>) {
      out += nlohmann::json(field(t)).dump();
    } else {
      out += seconds_text(field(t)).view();
    }
  }
  out += ']';
  return out;
}

// Counts a handler as busy for as long as it lives: drain waits for these to finish, forwarded
// calls included (the executor alone does not see calls running on peers).
struct busy_guard {
  explicit busy_guard(std::atomic<int>& n) : count(n) { ++count; }
  ~busy_guard() { --count; }
  busy_guard(const busy_guard&) = delete;
  busy_guard& operator=(const busy_guard&) = delete;
  std::atomic<int>& count;
};

// The scheduler's name and parameters as API.md shows them.
nlohmann::json scheduler_body(const std::string& name, const std::vector<std::string>& parameters) {
  return {{"name", name}, {"parameters", parameters}};
}

}  // namespace

// The dispatcher's reports as metrics.
class node::decision_metrics final : public scheduler::dispatch_observer {
 public:
  explicit decision_metrics(registry& metrics)
      : decisions_(metrics.counter("p2pfaas_scheduler_decisions_total",
                                   "Scheduling decisions, by policy (\"header\" when an "
                                   "X-P2pfaas-Scheduler-* header decided) and outcome.",
                                   {"policy", "outcome"})),
        probes_(metrics.histogram(
            "p2pfaas_scheduler_probe_duration_seconds",
            "Time to learn peers' load by probing, by whether the peer answered in time.",
            {"result"}, {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1})),
        failures_(metrics.counter("p2pfaas_scheduler_forward_failures_total",
                                  "Forwards that did not end with the peer running the call, by "
                                  "reason.",
                                  {"reason"})) {}

  void decided(std::string_view policy, scheduler::decision_outcome outcome) override {
    decisions_.add({std::string(policy), std::string(scheduler::to_string(outcome))});
  }
  void probed(double seconds, bool answered) override {
    probes_.observe({answered ? "answered" : "failed"}, seconds);
  }
  void forward_failed(scheduler::forward_failure failure) override {
    failures_.add({std::string(scheduler::to_string(failure))});
  }

 private:
  counter_family& decisions_;
  histogram_family& probes_;
  counter_family& failures_;
};

config::problems node::check(const config::config& cfg) {
  config::problems problems;
  scheduler::policy_registry policies;
  scheduler::register_builtin_policies(policies);
  auto built =
      policies.build(cfg.scheduler.name, cfg.scheduler.parameters, policy_dependencies_of(cfg));
  if (!built.built) problems.push_back({"scheduler", built.error});

  workloads::function_registry functions;
  workloads::register_builtin_functions(functions);
  for (const auto& [name, section] : cfg.functions) {
    if (!functions.find(name)) {
      std::string known;
      for (const auto& n : functions.names()) known += (known.empty() ? "" : ", ") + n;
      problems.push_back({"functions." + name, "unknown function (known: " + known + ")"});
    }
  }
  if (std::error_code ec; !std::filesystem::create_directories(cfg.node.data_dir, ec) && ec) {
    problems.push_back(
        {"node.data_dir", "cannot create " + cfg.node.data_dir + ": " + ec.message()});
  } else if (access(cfg.node.data_dir.c_str(), W_OK) != 0) {
    problems.push_back({"node.data_dir", cfg.node.data_dir + " is not writable"});
  }
  if (!config::split_host_port(cfg.node.listen)) {
    problems.push_back({"node.listen", "must be HOST:PORT (got \"" + cfg.node.listen + "\")"});
  }
  std::string error;
  if (!cfg.admin.token_file.empty() && !config::read_admin_token(cfg.admin.token_file, error)) {
    problems.push_back({"admin.token_file", error});
  }
  if (!cfg.cluster.key_file.empty()) {
    auto keys = net::load_key_ring(cfg.cluster.key_file);
    if (auto* why = std::get_if<std::string>(&keys)) {
      problems.push_back({"cluster.key_file", *why});
    }
  }
  return problems;
}

node::node(config::config cfg)
    : id_(cfg.node.id), config_(cfg), io_threads_(io_threads_of(cfg)), io_(io_threads_) {
  // The data dir is created by check(), which apply() below runs; a failure throws from there.
  std::optional<std::string> admin_token;
  if (!cfg.admin.token_file.empty()) {
    std::string error;
    admin_token = config::read_admin_token(cfg.admin.token_file, error);
    if (!admin_token) throw std::runtime_error("admin.token_file: " + error);
    warn_if_readable_by_others("admin.token_file", cfg.admin.token_file);
  }
  admin_ = std::make_unique<admin_auth>(std::move(admin_token), admin_auth::own_names(cfg));
  workloads::register_builtin_functions(functions_);
  scheduler::register_builtin_policies(policies_);
  executor_ = std::make_unique<workloads::executor>(functions_, executor_limits_of(cfg));
  if (!cfg.cluster.key_file.empty()) {
    auto keys = net::load_key_ring(cfg.cluster.key_file);
    if (auto* why = std::get_if<std::string>(&keys)) {
      throw std::runtime_error("cluster.key_file: " + *why);
    }
    warn_if_readable_by_others("cluster.key_file", cfg.cluster.key_file);
    cluster_ = std::make_unique<cluster>(io_, io_threads_, gossip_io_, cfg,
                                         std::get<net::key_ring>(std::move(keys)), *executor_,
                                         [this](net::peer_call call, const std::string& peer) {
                                           return handle_peer_call(std::move(call), peer);
                                         });
  }
  decision_metrics_ = std::make_unique<decision_metrics>(metrics_);
  dispatcher_ = std::make_unique<scheduler::dispatcher>(
      *executor_, id_, cluster_.get(), std::function<std::uint64_t()>{}, decision_metrics_.get());
  server_ = std::make_unique<net::http_server>(io_, routes_, server_limits_of(cfg), io_threads_);
  learner_ =
      std::make_unique<learner_service>(std::filesystem::path(cfg.node.data_dir) / "learner.json",
                                        cfg.learner, random_source_of(cfg));
  learner_->restore(cfg.learner);
  restore_scheduler(cfg);
  if (auto problems = apply(cfg, true); !problems.empty()) {
    throw std::runtime_error(problems.front().to_string());
  }
  add_metrics();
  add_routes();
  add_compat_routes();
}

node::~node() {
  shutdown();
}

asio::ip::tcp::endpoint node::start() {
  const auto cfg = config_.get();
  auto bound =
      listen_on(*server_, listen_endpoint(io_, cfg->node.listen, "node.listen"), "node.listen");
  for (const auto& [key, address, routes] :
       {std::tuple{"compat.discovery_listen", &cfg->compat.discovery_listen, &discovery_routes_},
        std::tuple{"compat.learner_listen", &cfg->compat.learner_listen, &learner_routes_}}) {
    if (address->empty()) continue;
    auto& compat = compat_servers_.emplace_back(
        std::make_unique<net::http_server>(io_, *routes, server_limits_of(*cfg), io_threads_));
    auto at = listen_on(*compat, listen_endpoint(io_, *address, key), key);
    spdlog::info("{}: P2PFaaS-compatible API on {}:{}", key, at.address().to_string(), at.port());
  }
  if (cluster_) {
    server_->set_upgrade_handler("/peer",
                                 [this](boost::beast::tcp_stream stream, net::request req) {
                                   cluster_->accept_peer(std::move(stream), std::move(req));
                                 });
    cluster_->start(bound);
    gossip_work_.emplace(gossip_io_.get_executor());
    gossip_thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "p2pfaas-gossip");
      gossip_io_.run();
    });
  }
  learner_->start();
  server_->start();
  for (auto& compat : compat_servers_) compat->start();
  work_.emplace(io_.get_executor());
  const int threads = io_threads_;
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "p2pfaas-io");
      io_.run();
    });
  }

  spdlog::info("node {} listening on {}:{} ({} I/O threads, {} slots, queue {}, scheduler {})", id_,
               bound.address().to_string(), bound.port(), threads, cfg->executor.slots,
               cfg->executor.queue, cfg->scheduler.name);
  if (!cluster_) {
    if (!cfg->cluster.join.empty()) {
      spdlog::warn(
          "cluster.join is set but there is no cluster key (--cluster-key-file): the node "
          "refuses peers and runs alone");
    } else {
      spdlog::info("no cluster key: the node refuses peers and runs alone");
    }
  }
  return bound;
}

void node::shutdown() {
  std::call_once(shutdown_once_, [this] {
    if (threads_.empty()) {
      if (cluster_) cluster_->stop();
      executor_->shutdown();
      learner_->stop();
      return;
    }
    const auto cfg = config_.get();
    draining_ = true;
    server_->set_draining(true);
    // Peers learn at once that calls should not come here any more.
    if (cluster_) cluster_->leave();
    const auto drain_deadline = clock::now() + std::chrono::milliseconds(static_cast<std::int64_t>(
                                                   cfg->node.drain_timeout_seconds * 1000));
    spdlog::info("draining: {} calls in flight, waiting up to {}s", busy_calls_.load(),
                 cfg->node.drain_timeout_seconds);
    while ((busy_calls_ > 0 || executor_->pending() > 0) && clock::now() < drain_deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (auto left = busy_calls_.load(); left > 0) {
      spdlog::warn("drain timeout: {} calls cut short", left);
    }
    // Links close before the server so that calls still waiting on a peer fail now.
    if (cluster_) {
      cluster_->stop();
      gossip_work_.reset();
      gossip_io_.stop();
      if (gossip_thread_.joinable()) gossip_thread_.join();
    }
    server_->stop();
    for (auto& compat : compat_servers_) compat->stop();
    executor_->shutdown();
    work_.reset();

    // Connections finish their last answer and close; should one hang, the I/O context is
    // stopped after a grace period so that shutdown always ends.
    std::mutex mutex;
    std::condition_variable joined;
    bool done = false;
    std::thread watchdog([&] {
      std::unique_lock lock(mutex);
      if (!joined.wait_for(lock, std::chrono::seconds(3), [&] { return done; })) {
        spdlog::warn("connections still open after the grace period: closing them");
        io_.stop();
      }
    });
    for (auto& t : threads_) t.join();
    {
      std::lock_guard lock(mutex);
      done = true;
    }
    joined.notify_one();
    watchdog.join();
    threads_.clear();
    // No call is left to decide or reward: the last updates, then the learner's file.
    learner_->stop();
    spdlog::info("node {} stopped", id_);
  });
}

config::problems node::apply(const config::config& next, bool at_start) {
  config::problems problems = check(next);
  if (!at_start) {
    const nlohmann::json before = config::to_json(*config_.get());
    const nlohmann::json after = config::to_json(next);
    for (const auto& [section, key] : restart_only_keys) {
      const auto& a = key.empty() ? before[section] : before[section][key];
      const auto& b = key.empty() ? after[section] : after[section][key];
      if (a != b) {
        problems.push_back({key.empty() ? section : section + "." + key,
                            "cannot be changed at runtime (restart the node with the new value)"});
      }
    }
  }
  if (!problems.empty()) return problems;

  std::shared_ptr<scheduler::policy> policy = dispatcher_->current_policy();
  const auto previous = config_.get();
  if (at_start || !policy || previous->scheduler.name != next.scheduler.name ||
      previous->scheduler.parameters != next.scheduler.parameters) {
    policy = policies_
                 .build(next.scheduler.name, next.scheduler.parameters,
                        policy_dependencies_of(next, learner_->agent()))
                 .built;
    // Saved before it takes effect: a choice that would not survive a restart is refused.
    if (!at_start) {
      if (auto error = save_scheduler(next.scheduler); !error.empty()) {
        return {{"scheduler", error}};
      }
    }
  }
  if (!at_start && previous->learner != next.learner) {
    if (auto error = learner_->apply(next.learner); !error.empty()) return {{"learner", error}};
  }
  config_.set(std::make_shared<const config::config>(next));
  executor_->set_limits(executor_limits_of(next));
  server_->set_limits(server_limits_of(next));
  dispatcher_->set_policy(std::move(policy));
  dispatcher_->set_probe_timeout(std::chrono::duration_cast<clock::duration>(
      std::chrono::duration<double>(next.scheduler.probe_timeout_seconds)));
  set_log_level(next.log.level);
  return {};
}

config::problems node::apply_patch(const nlohmann::json& patch) {
  std::lock_guard lock(apply_mutex_);
  const auto current = config_.get();
  config::loaded patched = config::apply_patch(*current, patch);
  config::problems problems = patched.ok() ? apply(patched.value, false) : patched.errors;
  if (!patched.ok() && patch.is_object()) {
    // Field errors elsewhere must not hide the node's own checks: run those on the parts of the
    // patch they concern, when these parts are valid by themselves, so one answer lists all.
    nlohmann::json part = nlohmann::json::object();
    for (const char* section : {"scheduler", "functions"}) {
      if (patch.contains(section)) part[section] = patch[section];
    }
    if (!part.empty()) {
      if (config::loaded alone = config::apply_patch(*current, part); alone.ok()) {
        for (auto& problem : check(alone.value)) problems.push_back(std::move(problem));
      }
    }
  }
  config_updates_->add({problems.empty() ? "applied" : "rejected"});
  if (problems.empty()) spdlog::info("configuration updated: {}", patch.dump());
  return problems;
}

void node::add_metrics() {
  calls_ = &metrics_.counter("p2pfaas_calls_total",
                             "Function calls answered, by function, outcome and where they ran.",
                             {"function", "outcome", "where"});
  call_seconds_ = &metrics_.histogram(
      "p2pfaas_call_duration_seconds", "Time from request to answer of function calls.",
      {"function"},
      {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60});
  deadline_ =
      &metrics_.counter("p2pfaas_calls_deadline_total",
                        "Calls that had a deadline, by whether it was met.", {"function", "met"});
  config_updates_ = &metrics_.counter("p2pfaas_config_updates_total",
                                      "Runtime configuration updates, by result.", {"result"});
  peers_calls_received_ =
      &metrics_.counter("p2pfaas_peer_calls_received_total",
                        "Calls forwarded here by peers, by outcome.", {"outcome"});
  if (cluster_) add_cluster_metrics();
  learner_->add_metrics(metrics_);

  auto load_gauge = [this](std::string name, std::string help, auto field) {
    metrics_.computed(std::move(name), "gauge", std::move(help), [this, field] {
      return std::vector<sample>{{{}, static_cast<double>(field(executor_->current_load()))}};
    });
  };
  load_gauge("p2pfaas_calls_in_flight", "Calls running now.",
             [](const workloads::load& l) { return l.running; });
  load_gauge("p2pfaas_queue_length", "Calls waiting for a slot.",
             [](const workloads::load& l) { return l.queued; });
  load_gauge("p2pfaas_slots", "Calls that may run at once (executor.slots).",
             [](const workloads::load& l) { return l.slots; });
  load_gauge("p2pfaas_queue_capacity", "Calls that may wait (executor.queue).",
             [](const workloads::load& l) { return l.queue_capacity; });

  auto per_function = [this](std::string name, std::string type, std::string help, auto field) {
    metrics_.computed(std::move(name), std::move(type), std::move(help), [this, field] {
      std::vector<sample> samples;
      for (const auto& s : executor_->stats()) field(s, samples);
      return samples;
    });
  };
  per_function("p2pfaas_function_cold_starts_total", "counter",
               "Calls that started a new function instance.",
               [](const workloads::function_stats& s, std::vector<sample>& out) {
                 out.push_back({{{"function", s.name}}, static_cast<double>(s.cold_starts)});
               });
  per_function("p2pfaas_function_warm_starts_total", "counter",
               "Calls served by an already warm instance.",
               [](const workloads::function_stats& s, std::vector<sample>& out) {
                 out.push_back({{{"function", s.name}}, static_cast<double>(s.warm_starts)});
               });
  per_function("p2pfaas_function_instances", "gauge", "Function instances, by state.",
               [](const workloads::function_stats& s, std::vector<sample>& out) {
                 out.push_back({{{"function", s.name}, {"state", "idle"}},
                                static_cast<double>(s.instances_idle)});
                 out.push_back({{{"function", s.name}, {"state", "busy"}},
                                static_cast<double>(s.instances_busy)});
               });
  metrics_.computed(
      "p2pfaas_function_memory_bytes", "gauge",
      "Function memory held by running calls, and the executor.memory_budget_mb.", [this] {
        const auto& budget = executor_->memory();
        return std::vector<sample>{{{{"kind", "held"}}, static_cast<double>(budget.held())},
                                   {{{"kind", "budget"}}, static_cast<double>(budget.limit())}};
      });
  metrics_.computed(
      "p2pfaas_function_memory_refused_total", "counter",
      "Calls refused (429) because their memory did not fit in the budget.", [this] {
        return std::vector<sample>{{{}, static_cast<double>(executor_->memory().refused())}};
      });
  metrics_.computed(
      "p2pfaas_fair_evictions_total", "counter",
      "Queued calls refused (429) to make room for a client holding fewer calls.", [this] {
        return std::vector<sample>{{{}, static_cast<double>(executor_->fair_evictions())}};
      });
  metrics_.computed("p2pfaas_http_connections", "gauge", "Open HTTP connections.", [this] {
    return std::vector<sample>{{{}, static_cast<double>(server_->connections())}};
  });
  metrics_.computed(
      "p2pfaas_http_connections_total", "counter",
      "HTTP connections accepted, and refused over http.max_connections.", [this] {
        return std::vector<sample>{
            {{{"result", "accepted"}}, static_cast<double>(server_->connections_accepted())},
            {{{"result", "refused"}}, static_cast<double>(server_->connections_refused())}};
      });
  metrics_.computed(
      "p2pfaas_http_connections_evicted_total", "counter",
      "HTTP connections closed at http.max_connections to admit a client holding fewer.", [this] {
        return std::vector<sample>{{{}, static_cast<double>(server_->connections_evicted())}};
      });
  metrics_.computed(
      "p2pfaas_http_body_bytes_held", "gauge",
      "Request body bytes held now, against http.body_budget_bytes.", [this] {
        return std::vector<sample>{{{}, static_cast<double>(server_->body_bytes_held())}};
      });
  metrics_.computed(
      "p2pfaas_http_body_budget_refused_total", "counter",
      "Requests answered 503 because their body did not fit http.body_budget_bytes.", [this] {
        return std::vector<sample>{{{}, static_cast<double>(server_->body_budget_refused())}};
      });
  metrics_.computed("p2pfaas_info", "gauge", "Constant 1, labelled with what this node runs.",
                    [this] {
                      return std::vector<sample>{
                          {{{"version", std::string(version)},
                            {"node", id_},
                            {"scheduler", std::string(dispatcher_->current_policy()->name())}},
                           1}};
                    });
  process_start_time_seconds();
  metrics_.computed("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", [] {
    return std::vector<sample>{{{}, static_cast<double>(read_process_stats().resident_bytes)}};
  });
  metrics_.computed("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", [] {
    return std::vector<sample>{{{}, static_cast<double>(read_process_stats().virtual_bytes)}};
  });
  metrics_.computed("process_cpu_seconds_total", "counter", "User and system CPU time in seconds.",
                    [] {
                      return std::vector<sample>{{{}, read_process_stats().cpu_seconds}};
                    });
  metrics_.computed("process_open_fds", "gauge", "Open file descriptors.", [] {
    return std::vector<sample>{{{}, static_cast<double>(read_process_stats().open_fds)}};
  });
  metrics_.computed("process_threads", "gauge", "OS threads of the process.", [] {
    return std::vector<sample>{{{}, static_cast<double>(read_process_stats().threads)}};
  });
  metrics_.computed("process_start_time_seconds", "gauge",
                    "Start time of the process since the Unix epoch in seconds.", [] {
                      return std::vector<sample>{{{}, process_start_time_seconds()}};
                    });
}

void node::add_cluster_metrics() {
  auto* events = &metrics_.counter("p2pfaas_cluster_member_events_total",
                                   "Membership changes this node saw, by kind.", {"kind"});
  cluster_->on_member_event(
      [events](const discovery::member_event& e) { events->add({discovery::to_string(e.kind)}); });
  metrics_.computed("p2pfaas_cluster_members", "gauge", "Known nodes by state, this one included.",
                    [this] {
                      std::map<std::string, double> by_state{
                          {"alive", 0}, {"suspect", 0}, {"dead", 0}, {"left", 0}};
                      for (const auto& m : cluster_->gossip().snapshot()->members) {
                        by_state[std::string(discovery::to_string(m.state))] += 1;
                      }
                      std::vector<sample> out;
                      for (const auto& [state, n] : by_state)
                        out.push_back({{{"state", state}}, n});
                      return out;
                    });
  auto gossip_counter = [this](std::string name, std::string help, auto field) {
    metrics_.computed(std::move(name), "counter", std::move(help), [this, field] {
      return std::vector<sample>{{{}, static_cast<double>(field(cluster_->gossip().stats()))}};
    });
  };
  metrics_.computed("p2pfaas_gossip_messages_total", "counter",
                    "Gossip datagrams sent, and received authenticated and well-formed.", [this] {
                      auto st = cluster_->gossip().stats();
                      return std::vector<sample>{
                          {{{"direction", "in"}}, static_cast<double>(st.messages_received)},
                          {{{"direction", "out"}}, static_cast<double>(st.messages_sent)}};
                    });
  metrics_.computed(
      "p2pfaas_gossip_bytes_total", "counter",
      "Gossip bytes on the wire (envelope included; rejected datagrams too).", [this] {
        auto st = cluster_->gossip().stats();
        return std::vector<sample>{{{{"direction", "in"}}, static_cast<double>(st.bytes_received)},
                                   {{{"direction", "out"}}, static_cast<double>(st.bytes_sent)}};
      });
  metrics_.computed(
      "p2pfaas_gossip_datagrams_rejected_total", "counter",
      "Datagrams dropped: forged or foreign key (bad_tag), replayed, stale, malformed.", [this] {
        auto r = cluster_->gossip().stats().rejected;
        std::vector<sample> out;
        for (const auto& [reason, n] : std::initializer_list<std::pair<const char*, std::uint64_t>>{
                 {"too_short", r.too_short},
                 {"bad_version", r.bad_version},
                 {"bad_tag", r.bad_tag},
                 {"stale", r.stale},
                 {"replayed", r.replayed},
                 {"cache_overflow", r.cache_overflow},
                 {"decode", r.decode}}) {
          out.push_back({{{"reason", reason}}, static_cast<double>(n)});
        }
        return out;
      });
  gossip_counter("p2pfaas_gossip_probes_total", "SWIM pings sent, direct and for others.",
                 [](const discovery::gossip_stats& s) { return s.probes_sent; });
  gossip_counter("p2pfaas_gossip_probes_failed_total",
                 "Probes that got no ack, directly or indirectly.",
                 [](const discovery::gossip_stats& s) { return s.probes_failed; });
  gossip_counter("p2pfaas_gossip_suspicions_total", "Suspicions this node raised.",
                 [](const discovery::gossip_stats& s) { return s.suspicions_raised; });
  gossip_counter("p2pfaas_gossip_refutations_total", "Suspicions of this node it refuted.",
                 [](const discovery::gossip_stats& s) { return s.refutations; });
  gossip_counter("p2pfaas_gossip_push_pulls_total", "Full-state exchanges this node started.",
                 [](const discovery::gossip_stats& s) { return s.push_pulls_sent; });
  metrics_.computed(
      "p2pfaas_gossip_awareness", "gauge",
      "Lifeguard local health score: 0 healthy, higher probes more slowly.", [this] {
        return std::vector<sample>{{{}, static_cast<double>(cluster_->gossip().stats().awareness)}};
      });
  metrics_.computed(
      "p2pfaas_peer_links", "gauge", "Open WebSocket links, by who opened them.", [this] {
        return std::vector<sample>{
            {{{"side", "client"}}, static_cast<double>(cluster_->links().link_count())},
            {{{"side", "server"}}, static_cast<double>(cluster_->peer_endpoint().sessions())}};
      });
  metrics_.computed("p2pfaas_peer_upgrades_total", "counter",
                    "/peer upgrade requests, by result (refused: bad or no credentials).", [this] {
                      auto st = cluster_->peer_endpoint().stats();
                      return std::vector<sample>{
                          {{{"result", "accepted"}}, static_cast<double>(st.upgrades_accepted)},
                          {{{"result", "refused"}}, static_cast<double>(st.upgrades_refused)}};
                    });
  metrics_.computed(
      "p2pfaas_forwarded_calls_total", "counter",
      "Calls this node sent to peers, by result (answered, or why not).", [this] {
        auto st = cluster_->links().stats();
        std::vector<sample> out{{{{"result", "answered"}}, static_cast<double>(st.replies)}};
        for (auto e : {net::peer_error::connect_failed, net::peer_error::unauthorized,
                       net::peer_error::link_lost, net::peer_error::timed_out,
                       net::peer_error::shut_down, net::peer_error::protocol}) {
          out.push_back({{{"result", std::string(net::to_string(e))}},
                         static_cast<double>(st.failed_with(e))});
        }
        return out;
      });
}

void node::add_routes() {
  using verb = http::verb;
  routes_.add({}, "/function/{fn}/{rest...}",
              [this](net::request_context& ctx) { return handle_function(ctx); });
  auto health = [this](net::request_context&) -> asio::awaitable<net::response> {
    co_return handle_health();
  };
  routes_.add({verb::get, verb::head}, "/health", health);
  routes_.add({verb::get, verb::head}, "/healthz", health);
  routes_.add({verb::get}, "/metrics",
              [this](net::request_context&) -> asio::awaitable<net::response> {
                net::response res{http::status::ok, 11};
                res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
                res.body() = metrics_.render();
                co_return res;
              });
  routes_.add(
      {verb::get}, "/monitoring/load",
      [this](net::request_context&) -> asio::awaitable<net::response> { co_return handle_load(); });
  routes_.add({verb::get, verb::post}, "/configuration",
              [this](net::request_context& ctx) { return handle_configuration(ctx); });
  routes_.add({verb::get, verb::post}, "/configuration/scheduler",
              [this](net::request_context& ctx) { return handle_scheduler(ctx); });
  routes_.add({verb::get}, "/nodes",
              [this](net::request_context&) -> asio::awaitable<net::response> {
                nlohmann::json body =
                    cluster_ ? cluster_->nodes_json()
                             : nlohmann::json{{"self", id_}, {"nodes", nlohmann::json::array()}};
                co_return net::json_response(http::status::ok, body.dump());
              });
  routes_.add(
      {verb::get}, "/list", [this](net::request_context&) -> asio::awaitable<net::response> {
        co_return net::json_response(
            http::status::ok, (cluster_ ? cluster_->list_json() : nlohmann::json::array()).dump());
      });
  learner_->add_routes(
      routes_,
      [this](const net::request_context& ctx, admin_access access) {
        return refuse_admin(ctx, access);
      },
      [this](const nlohmann::json& patch) { return apply_patch(patch); });
  // A WebSocket upgrade to /peer is taken over by the cluster before routing; what gets here is
  // a plain request, or any request when this node has no key.
  routes_.add({}, "/peer", [this](net::request_context&) -> asio::awaitable<net::response> {
    if (!cluster_) {
      co_return json_error(http::status::unauthorized, "unauthorized",
                           "this node has no cluster key: it accepts no peers");
    }
    net::response res = json_error(http::status::upgrade_required, "upgrade_required",
                                   "/peer is a WebSocket endpoint for authenticated peers");
    res.set(http::field::upgrade, "websocket");
    co_return res;
  });
}

std::optional<net::response> node::refuse_admin(const net::request_context& ctx,
                                                admin_access access) const {
  return admin_->refuse(ctx, access);
}

asio::awaitable<net::response> node::handle_configuration(net::request_context& ctx) {
  if (auto refused = refuse_admin(ctx)) co_return *refused;
  if (ctx.req.method() == http::verb::post) {
    std::string error;
    const std::optional<nlohmann::json> patch = config::parse_json_input(ctx.req.body(), error);
    if (!patch) co_return json_error(http::status::bad_request, "bad_json", "the body is " + error);
    config::problems problems = apply_patch(*patch);
    if (!problems.empty()) co_return problems_response(problems);
  }
  // Strings from flags or the environment may hold invalid UTF-8; show them, never fail on them.
  co_return net::json_response(http::status::ok,
                               config::to_json(*config_.get())
                                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::filesystem::path node::scheduler_file() const {
  return std::filesystem::path(config_.get()->node.data_dir) / "scheduler.json";
}

std::string node::save_scheduler(const config::scheduler_section& scheduler) const {
  const std::string text = scheduler_body(scheduler.name, scheduler.parameters).dump() + "\n";
  std::string error = config::write_file_atomically(scheduler_file(), text);
  if (!error.empty()) error = "cannot save the choice: " + error;
  return error;
}

void node::restore_scheduler(config::config& cfg) {
  const std::filesystem::path file = std::filesystem::path(cfg.node.data_dir) / "scheduler.json";
  std::ifstream in(file);
  if (!in) return;
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string problem;
  const nlohmann::json saved = config::parse_json_input(text, problem).value_or(nlohmann::json());
  config::loaded patched = config::apply_patch(cfg, {{"scheduler", saved}});
  if (!problem.empty()) {
    // Not JSON, or nested deeper than any file the node writes: `problem` says which.
  } else if (!saved.is_object() || !saved.contains("name") || !saved.contains("parameters")) {
    problem = "not a {\"name\",\"parameters\"} object";
  } else if (!patched.ok()) {
    problem = patched.errors.front().to_string();
  } else if (auto built =
                 policies_.build(patched.value.scheduler.name, patched.value.scheduler.parameters,
                                 policy_dependencies_of(patched.value));
             !built.built) {
    problem = built.error;
  }
  if (!problem.empty()) {
    spdlog::warn("ignoring {}: {}; using scheduler {} from the configuration", file.string(),
                 problem, cfg.scheduler.name);
    return;
  }
  cfg.scheduler.name = patched.value.scheduler.name;
  cfg.scheduler.parameters = patched.value.scheduler.parameters;
  spdlog::info(
      "scheduler {} {} restored from {} (set at runtime; delete the file to use the "
      "configuration's)",
      cfg.scheduler.name, nlohmann::json(cfg.scheduler.parameters).dump(), file.string());
}

nlohmann::json node::scheduler_json() const {
  auto active = dispatcher_->current_policy();
  return scheduler_body(std::string(active->name()), active->parameters());
}

std::pair<http::status, nlohmann::json> node::set_scheduler(std::string_view body) {
  auto refuse = [](std::string code, std::string message) {
    return std::pair{http::status::bad_request,
                     nlohmann::json{{"code", std::move(code)}, {"message", std::move(message)}}};
  };
  scheduler_choice choice = read_scheduler_choice(body);
  if (!choice.ok()) return refuse(std::move(choice.code), std::move(choice.message));
  config::problems problems = apply_patch(choice.patch);
  if (!problems.empty()) {
    problem_list listed;
    for (const auto& p : problems) listed.add(p);
    return refuse("invalid_scheduler", listed.message());
  }
  return {http::status::ok, scheduler_json()};
}

asio::awaitable<net::response> node::handle_scheduler(net::request_context& ctx) {
  if (auto refused = refuse_admin(ctx)) co_return *refused;
  if (ctx.req.method() == http::verb::get) {
    co_return net::json_response(http::status::ok, scheduler_json().dump());
  }
  net::query_list query;
  bool cluster_scope = false;
  if (net::parse_query(ctx.query, query)) {
    for (const auto& [key, value] : query) {
      if (key != "scope") continue;
      if (value == "cluster") {
        cluster_scope = true;
      } else if (value != "node") {
        co_return json_error(http::status::bad_request, "bad_query",
                             "scope must be node or cluster (got \"" + value + "\")");
      }
    }
  }
  auto [status, answer] = set_scheduler(ctx.req.body());
  if (!cluster_scope || status != http::status::ok) {
    co_return net::json_response(status, answer.dump());
  }
  // Applied here first, so a choice this node refuses never reaches the others.
  nlohmann::json nodes = nlohmann::json::array();
  nodes.push_back({{"node", id_}, {"status", 200}, {"result", answer}});
  nlohmann::json peers = co_await set_scheduler_on_peers(answer.dump());
  bool all = true;
  for (auto& entry : peers) {
    all = all && entry["status"] == 200;
    nodes.push_back(std::move(entry));
  }
  answer["nodes"] = std::move(nodes);
  // 502: the answer names the nodes that did not take it; those that did keep it.
  co_return net::json_response(all ? http::status::ok : http::status::bad_gateway, answer.dump());
}

asio::awaitable<nlohmann::json> node::set_scheduler_on_peers(std::string body) {
  nlohmann::json results = nlohmann::json::array();
  if (!cluster_) co_return results;
  const std::vector<scheduler::peer_info> peers = cluster_->alive_peers();
  if (peers.empty()) co_return results;
  constexpr auto limit = std::chrono::seconds(5);
  const auto deadline = clock::now() + limit;
  using call_op =
      decltype(asio::co_spawn(std::declval<asio::any_io_executor>(),
                              std::declval<asio::awaitable<net::peer_outcome>>(), asio::deferred));
  std::vector<call_op> calls;
  const auto executor = co_await asio::this_coro::executor;
  for (const auto& peer : peers) {
    net::peer_call call;
    call.kind = net::call_kind::admin;
    call.function = "scheduler";
    call.content_type = "application/json";
    call.payload = body;
    call.call_id = random_call_id();
    call.timeout_ms = static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(limit).count());
    call.path = {id_};
    calls.push_back(asio::co_spawn(executor, cluster_->forward(peer, std::move(call), deadline),
                                   asio::deferred));
  }
  auto [order, errors, outcomes] =
      co_await asio::experimental::make_parallel_group(std::move(calls))
          .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  (void)order;
  for (std::size_t i = 0; i < peers.size(); ++i) {
    nlohmann::json entry{{"node", peers[i].id}};
    if (errors[i] || !outcomes[i].ok()) {
      entry["status"] = 502;
      entry["error"] = errors[i] ? "the call failed" : outcomes[i].message;
    } else {
      entry["status"] = outcomes[i].reply.status;
      std::string error;
      std::optional<nlohmann::json> reply = config::parse_json_input(outcomes[i].reply.body, error);
      entry["result"] =
          reply ? std::move(*reply)
                : nlohmann::json(config::cut_input(outcomes[i].reply.body, max_problem_chars));
    }
    results.push_back(std::move(entry));
  }
  co_return results;
}

// Admin calls from peers: the cluster key that authenticated the link is the trust they rest on.
net::peer_reply node::handle_admin_call(const net::peer_call& call) {
  net::peer_reply reply;
  reply.executed_on = id_;
  reply.path = {id_};
  reply.total_seconds = {0};
  reply.scheduling_seconds = {0};
  reply.probing_seconds = {0};
  reply.content_type = "application/json";
  if (call.function != "scheduler") {
    reply.status = 404;
    reply.outcome = "not_found";
    reply.body = nlohmann::json{{"code", "unknown_admin_call"},
                                {"message", "no admin call named \"" + call.function + "\""}}
                     .dump();
    return reply;
  }
  auto [status, answer] = set_scheduler(call.payload);
  reply.status = static_cast<int>(status);
  reply.outcome = status == http::status::ok ? "ok" : "client_error";
  reply.executed = status == http::status::ok;
  reply.body = answer.dump();
  return reply;
}

nlohmann::json node::discovery_configuration() const {
  const auto cfg = config_.get();
  std::string host = cfg->node.advertise;
  if (cluster_ && !cluster_->advertised().empty()) host = cluster_->advertised();
  if (auto split = config::split_host_port(host)) host = split->first;
  std::vector<std::string> seeds = cfg->cluster.join;
  {
    std::lock_guard lock(seeds_mutex_);
    seeds.insert(seeds.end(), seeds_added_.begin(), seeds_added_.end());
  }
  return {{"machine_ip", host},
          {"machine_id", id_},
          {"machine_group_name", cfg->node.group},
          {"init_servers", seeds}};
}

net::response node::handle_discovery_configuration(net::request_context& ctx) {
  if (auto refused = refuse_admin(ctx)) return *refused;
  if (ctx.req.method() == http::verb::post) {
    std::string error;
    const std::optional<nlohmann::json> parsed = config::parse_json_input(ctx.req.body(), error);
    if (!parsed || !parsed->is_object()) {
      return json_error(http::status::bad_request, "bad_json",
                        parsed ? "the body must be a JSON object" : "the body is " + error);
    }
    const nlohmann::json& doc = *parsed;
    const nlohmann::json current = discovery_configuration();
    problem_list problems;
    auto problem = [&](const std::string& text) { problems.add(text); };
    std::vector<std::string> seeds;
    const auto port = config::split_host_port(config_.get()->node.listen)->second;
    for (const auto& [key, value] : doc.items()) {
      if (key == "init_servers") {
        if (!value.is_array()) {
          problem("init_servers: must be a list of addresses");
          continue;
        }
        for (const auto& seed : value) {
          if (!seed.is_string() || seed.get<std::string>().empty()) {
            problem("init_servers: every entry must be a HOST or HOST:PORT string");
            break;
          }
          // P2PFaaS lists bare IPs, every node on the same port: take this node's.
          std::string text = seed.get<std::string>();
          if (!config::split_host_port(text)) text += ":" + std::to_string(port);
          if (!config::split_host_port(text)) {
            problem("init_servers: not an address: " +
                    config::quote_input(seed.get_ref<const std::string&>()));
            break;
          }
          seeds.push_back(std::move(text));
        }
      } else if (key == "machine_ip" || key == "machine_id" || key == "machine_group_name") {
        if (value != current[key]) {
          problem(key + ": cannot be changed at runtime (it is node." +
                  (key == "machine_ip"   ? std::string("advertise")
                   : key == "machine_id" ? std::string("id")
                                         : std::string("group")) +
                  "; restart the node with the new value)");
        }
      } else {
        problem("unknown key " + config::quote_input(key));
      }
    }
    if (!seeds.empty() && !cluster_) {
      problem("init_servers: this node has no cluster key, so it cannot join peers");
    }
    if (!problems.empty()) {
      return json_error(http::status::bad_request, "invalid_configuration", problems.message());
    }
    if (!seeds.empty()) {
      {
        std::lock_guard lock(seeds_mutex_);
        for (const auto& seed : seeds) {
          if (std::find(seeds_added_.begin(), seeds_added_.end(), seed) == seeds_added_.end())
            seeds_added_.push_back(seed);
        }
      }
      cluster_->join(seeds);
    }
  }
  return net::json_response(http::status::ok, discovery_configuration().dump());
}

void node::add_compat_routes() {
  using verb = http::verb;
  discovery_routes_.add(
      {verb::get}, "/list", [this](net::request_context&) -> asio::awaitable<net::response> {
        co_return net::json_response(
            http::status::ok, (cluster_ ? cluster_->list_json() : nlohmann::json::array()).dump());
      });
  discovery_routes_.add({verb::get, verb::post}, "/configuration",
                        [this](net::request_context& ctx) -> asio::awaitable<net::response> {
                          co_return handle_discovery_configuration(ctx);
                        });
  learner_->add_routes(
      learner_routes_,
      [this](const net::request_context& ctx, admin_access access) {
        return refuse_admin(ctx, access);
      },
      [this](const nlohmann::json& patch) { return apply_patch(patch); });
}

net::response node::handle_health() const {
  const bool ok = !draining_;
  nlohmann::json body{
      {"status", ok ? "ok" : "draining"},
      {"node", id_},
      {"version", version},
      {"uptime_seconds", std::chrono::duration<double>(clock::now() - started_).count()}};
  return net::json_response(ok ? http::status::ok : http::status::service_unavailable, body.dump());
}

net::response node::handle_load() const {
  const workloads::load load = executor_->current_load();
  nlohmann::json body{{"node", id_},
                      {"scheduler_name", dispatcher_->current_policy()->name()},
                      {"functions_running", load.running},
                      {"functions_running_max", load.slots},
                      {"queue_length", load.queued},
                      {"queue_length_max", load.queue_capacity},
                      {"recent_service_seconds", load.recent_service_seconds}};
  net::response res = net::json_response(http::status::ok, body.dump());
  res.set("X-P2pfaas-Load", std::to_string(load.running + load.queued));
  res.set("X-P2pfaas-Maxload", std::to_string(load.slots));
  res.set("X-P2pfaas-Queue-Length", std::to_string(load.queued));
  return res;
}

asio::awaitable<net::response> node::handle_function(net::request_context& ctx) {
  busy_guard busy(busy_calls_);
  const clock::time_point received = clock::now();
  const net::request& req = ctx.req;
  const std::string function(ctx.param("fn"));
  std::string call_id(req["X-Call-Id"]);
  if (call_id.empty()) call_id = random_call_id();
  const auto cfg = config_.get();

  // Every answer of /function carries the same identifying headers, errors included.
  auto finish = [&](net::response res, const scheduler::call_result* result) {
    const double total = std::chrono::duration<double>(clock::now() - received).count();
    res.set("X-Call-Id", call_id);
    res.set("X-Duration-Seconds", seconds_text(total).view());
    res.set("X-P2pfaas-Version", version);
    res.set("X-P2pfaas-Scheduler",
            result ? result->policy_name : std::string(dispatcher_->current_policy()->name()));
    const bool elsewhere = result && result->route.size() > 1;
    res.set("X-P2pfaas-Executed-On",
            result && !result->executed_on.empty() ? result->executed_on : id_);
    if (elsewhere) {
      // This node's entry says what the client saw: the whole time, the answer's write aside.
      std::vector<scheduler::node_timing> route = result->route;
      route.front().total_seconds = total;
      res.set("X-P2pfaas-Timing-Total-Seconds-List",
              json_list(route, [](const scheduler::node_timing& t) { return t.total_seconds; }));
      res.set(
          "X-P2pfaas-Timing-Scheduling-Seconds-List",
          json_list(route, [](const scheduler::node_timing& t) { return t.scheduling_seconds; }));
      res.set("X-P2pfaas-Timing-Probing-Seconds-List",
              json_list(route, [](const scheduler::node_timing& t) { return t.probing_seconds; }));
      res.set("X-P2pfaas-Externally-Executed", "True");
      res.set("X-P2pfaas-Hops", std::to_string(route.size() - 1));
      res.set("X-P2pfaas-Peers-List-Id",
              json_list(route, [](const scheduler::node_timing& t) -> const std::string& {
                return t.node;
              }));
    } else {
      res.set("X-P2pfaas-Timing-Total-Seconds-List", seconds_text(total, true).view());
      res.set("X-P2pfaas-Timing-Scheduling-Seconds-List",
              seconds_text(result ? result->scheduling_seconds : 0, true).view());
      res.set("X-P2pfaas-Timing-Probing-Seconds-List",
              seconds_text(result ? result->probing_seconds : 0, true).view());
    }
    res.set("X-P2pfaas-Timing-Execution-Time-Seconds",
            seconds_text(result ? result->execution_seconds : 0).view());
    return res;
  };

  if (draining_) {
    co_return finish(
        json_error(http::status::service_unavailable, "draining", "the node is shutting down"),
        nullptr);
  }
  if (!functions_.find(function)) {
    co_return finish(json_error(http::status::not_found, "unknown_function",
                                "no function named \"" + function + "\""),
                     nullptr);
  }

  scheduler::call_request call;
  call.received = received;
  call.invocation.function = function;
  call.invocation.path_rest = std::string(ctx.param("rest"));
  if (!net::parse_query(ctx.query, call.invocation.query)) {
    co_return finish(json_error(http::status::bad_request, "bad_query",
                                "the query string has a malformed percent escape"),
                     nullptr);
  }
  call.raw_query = std::string(ctx.query);
  call.invocation.content_type = std::string(req[http::field::content_type]);
  call.invocation.payload = std::move(ctx.req.body());
  call.invocation.source = ctx.remote.address().to_string();
  for (const auto& field : req) {
    std::string_view name = field.name_string();
    if (name.size() > 2 && (name[0] == 'X' || name[0] == 'x') && name[1] == '-') {
      call.invocation.headers.emplace_back(std::string(name), std::string(field.value()));
    }
  }
  call.call_id = call_id;
  call.traceparent = std::string(req["traceparent"]);

  const auto fn_config = cfg->functions.find(function);
  call.timeout = function_timeout(*cfg, function);

  if (auto it = req.find("X-P2pfaas-Deadline-Seconds"); it != req.end()) {
    std::string text(it->value());
    char* end = nullptr;
    double seconds = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !(seconds > 0) || seconds > 86400) {
      co_return finish(json_error(http::status::bad_request, "bad_header",
                                  "X-P2pfaas-Deadline-Seconds: must be a number of seconds in "
                                  "(0, 86400] (got \"" +
                                      text + "\")"),
                       nullptr);
    }
    call.deadline = std::chrono::duration<double>(seconds);
  } else if (fn_config != cfg->functions.end() && fn_config->second.deadline_seconds > 0) {
    call.deadline = std::chrono::duration<double>(fn_config->second.deadline_seconds);
  }

  if (auto it = req.find("X-P2pfaas-Scheduler-Learning-Task-Type"); it != req.end()) {
    // P2PFaaS's clients send it as a number, "2" or "2.0".
    const std::string text(it->value());
    char* end = nullptr;
    const double type = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || !(type >= 0) ||
        type > learner::max_task_type || type != std::floor(type)) {
      co_return finish(json_error(http::status::bad_request, "bad_header",
                                  "X-P2pfaas-Scheduler-Learning-Task-Type: must be a whole "
                                  "number in 0..1023 (got \"" +
                                      text + "\")"),
                       nullptr);
    }
    call.task_type = static_cast<int>(type);
  } else if (fn_config != cfg->functions.end()) {
    call.task_type = fn_config->second.task_type;
  }

  if (has_header(req, "X-P2pfaas-Scheduler-Reject")) {
    call.forced = scheduler::forced_decision::reject;
  } else if (has_header(req, "X-P2pfaas-Scheduler-Bypass")) {
    call.forced = scheduler::forced_decision::bypass;
  } else if (has_header(req, "X-P2pfaas-Scheduler-Forward")) {
    call.forced = scheduler::forced_decision::forward;
  }

  scheduler::call_result result = co_await dispatcher_->dispatch(std::move(call));
  count_call(function, result);

  net::response res{static_cast<http::status>(result.status), 11};
  res.set(http::field::content_type, result.content_type);
  res.body() = std::move(result.body);
  if (result.retry_after_seconds) {
    res.set(http::field::retry_after, std::to_string(*result.retry_after_seconds));
  }
  if (result.cold_start) res.set("X-P2pfaas-Cold-Start", "true");
  for (const auto& [name, value] : result.headers) res.set(name, value);
  co_return finish(std::move(res), &result);
}

void node::count_call(const std::string& function, const scheduler::call_result& result) {
  const std::string_view outcome = scheduler::to_string(result.outcome);
  calls_->add({function, outcome, scheduler::to_string(result.place)});
  call_seconds_->observe({function}, result.total_seconds);
  if (result.deadline_met) deadline_->add({function, *result.deadline_met ? "true" : "false"});
}

std::chrono::steady_clock::duration node::function_timeout(const config::config& cfg,
                                                           const std::string& function) {
  const auto fn_config = cfg.functions.find(function);
  const double seconds = fn_config != cfg.functions.end() && fn_config->second.timeout_seconds > 0
                             ? fn_config->second.timeout_seconds
                             : cfg.executor.timeout_seconds;
  return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(seconds));
}

// A call a peer forwarded here: it runs under this node's own admission rules and policy (which
// may forward it further, never back along its path), and the answer carries this node's timings
// first, then those of any node it went on to.
asio::awaitable<net::peer_reply> node::handle_peer_call(net::peer_call in,
                                                        const std::string& peer) {
  busy_guard busy(busy_calls_);
  net::peer_reply reply;
  reply.executed_on = id_;
  reply.path = {id_};
  auto refuse = [&](int status, std::string_view outcome, std::string_view code,
                    std::string_view message) {
    reply.status = status;
    reply.outcome = std::string(outcome);
    reply.content_type = "application/json";
    reply.body = nlohmann::json{{"code", code}, {"message", message}}.dump();
    reply.total_seconds = {0};
    reply.scheduling_seconds = {0};
    reply.probing_seconds = {0};
    return reply;
  };
  if (draining_) co_return refuse(503, "shut_down", "draining", "the node is shutting down");
  if (in.kind == net::call_kind::admin) co_return handle_admin_call(in);
  if (!functions_.find(in.function)) {
    co_return refuse(404, "not_found", "unknown_function",
                     "no function named \"" + in.function + "\" on " + id_);
  }
  scheduler::call_request call;
  call.invocation.function = std::move(in.function);
  call.invocation.path_rest = std::move(in.path_rest);
  if (!net::parse_query(in.query, call.invocation.query)) {
    co_return refuse(400, "client_error", "bad_query",
                     "the query string has a malformed percent escape");
  }
  call.raw_query = std::move(in.query);
  call.invocation.content_type = std::move(in.content_type);
  call.invocation.payload = std::move(in.payload);
  call.invocation.headers = std::move(in.headers);
  call.invocation.source = "peer:" + peer;
  call.call_id = std::move(in.call_id);
  call.traceparent = std::move(in.traceparent);
  call.path = std::move(in.path);
  if (call.path.empty() || call.path.back() != peer) call.path.push_back(peer);
  const auto cfg = config_.get();
  // The origin's timeout, as much as is left of it, unless this node allows less.
  call.timeout = std::min<clock::duration>(function_timeout(*cfg, call.invocation.function),
                                           std::chrono::milliseconds(in.timeout_ms));
  if (in.deadline_seconds > 0) call.deadline = std::chrono::duration<double>(in.deadline_seconds);

  const std::string function = call.invocation.function;
  scheduler::call_result result = co_await dispatcher_->dispatch(std::move(call));
  count_call(function, result);
  peers_calls_received_->add({scheduler::to_string(result.outcome)});

  reply.status = result.status;
  reply.content_type = std::move(result.content_type);
  reply.body = std::move(result.body);
  reply.outcome = std::string(scheduler::to_string(result.outcome));
  reply.executed_on = result.executed_on.empty() ? id_ : result.executed_on;
  reply.executed = result.executed;
  reply.cold_start = result.cold_start;
  reply.execution_seconds = result.execution_seconds;
  reply.retry_after_seconds = result.retry_after_seconds.value_or(0);
  reply.path.clear();
  for (const auto& t : result.route) {
    reply.path.push_back(t.node);
    reply.total_seconds.push_back(t.total_seconds);
    reply.scheduling_seconds.push_back(t.scheduling_seconds);
    reply.probing_seconds.push_back(t.probing_seconds);
  }
  co_return reply;
}

}  // namespace p2pfaas::node
