#include "node/node.hpp"

#include <fmt/format.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <charconv>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <random>

#include "config/host_port.hpp"
#include "net/cluster_key.hpp"
#include "node/cluster.hpp"
#include "node/logging.hpp"
#include "node/process_stats.hpp"
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
          std::chrono::milliseconds(read_timeout), cfg.http.max_connections};
}

scheduler::policy_dependencies policy_dependencies_of(const config::config& cfg) {
  auto engine = std::make_shared<std::mt19937_64>(cfg.executor.seed ? cfg.executor.seed
                                                                    : std::random_device{}());
  auto mutex = std::make_shared<std::mutex>();
  return {[engine, mutex] {
    std::lock_guard lock(*mutex);
    return (*engine)();
  }};
}

std::optional<std::string> read_secret_file(const std::string& path, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot read " + path;
    return std::nullopt;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (text.empty()) {
    error = path + " is empty";
    return std::nullopt;
  }
  return text;
}

// Keys whose new value only a restart can apply: the node refuses to pretend otherwise.
const std::vector<std::pair<std::string, std::string>> restart_only_keys = {
    {"node", ""}, {"cluster", ""}, {"admin", ""}, {"log", "format"}, {"executor", "seed"}};

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

// Like ssh with a private key: a cluster key others can read lets them join the cluster.
void warn_if_readable_by_others(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    spdlog::warn("cluster.key_file {} is accessible by group or others (mode {:o}): chmod 600 it",
                 path, st.st_mode & 0777);
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

}  // namespace

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
  if (!cfg.admin.token_file.empty() && !read_secret_file(cfg.admin.token_file, error)) {
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
  if (!cfg.admin.token_file.empty()) {
    std::string error;
    admin_token_ = read_secret_file(cfg.admin.token_file, error);
    if (!admin_token_) throw std::runtime_error("admin.token_file: " + error);
  }
  workloads::register_builtin_functions(functions_);
  scheduler::register_builtin_policies(policies_);
  executor_ = std::make_unique<workloads::executor>(functions_, executor_limits_of(cfg));
  if (!cfg.cluster.key_file.empty()) {
    auto keys = net::load_key_ring(cfg.cluster.key_file);
    if (auto* why = std::get_if<std::string>(&keys)) {
      throw std::runtime_error("cluster.key_file: " + *why);
    }
    warn_if_readable_by_others(cfg.cluster.key_file);
    cluster_ = std::make_unique<cluster>(io_, io_threads_, gossip_io_, cfg,
                                         std::get<net::key_ring>(std::move(keys)), *executor_,
                                         [this](net::peer_call call, const std::string& peer) {
                                           return handle_peer_call(std::move(call), peer);
                                         });
  }
  dispatcher_ = std::make_unique<scheduler::dispatcher>(*executor_, id_, cluster_.get());
  server_ = std::make_unique<net::http_server>(io_, routes_, server_limits_of(cfg), io_threads_);
  if (auto problems = apply(cfg, true); !problems.empty()) {
    throw std::runtime_error(problems.front().to_string());
  }
  add_metrics();
  add_routes();
}

node::~node() {
  shutdown();
}

asio::ip::tcp::endpoint node::start() {
  const auto cfg = config_.get();
  auto [host, port] = *config::split_host_port(cfg->node.listen);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) {
    // A name such as "localhost": take its first address.
    asio::ip::tcp::resolver resolver(io_);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) {
      throw std::system_error(ec, "cannot resolve node.listen host " + host);
    }
    address = results.begin()->endpoint().address();
  }
  auto bound = server_->listen({address, port});
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
  server_->start();
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
    policy =
        policies_
            .build(next.scheduler.name, next.scheduler.parameters, policy_dependencies_of(next))
            .built;
  }
  config_.set(std::make_shared<const config::config>(next));
  executor_->set_limits(executor_limits_of(next));
  server_->set_limits(server_limits_of(next));
  dispatcher_->set_policy(std::move(policy));
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

std::optional<net::response> node::refuse_admin(const net::request_context& ctx) const {
  if (admin_token_) {
    std::string_view auth = ctx.req[http::field::authorization];
    constexpr std::string_view bearer = "Bearer ";
    if (auth.size() > bearer.size() && auth.substr(0, bearer.size()) == bearer &&
        net::constant_time_equal(auth.substr(bearer.size()), *admin_token_)) {
      return std::nullopt;
    }
    auto res = json_error(http::status::unauthorized, "unauthorized",
                          "this endpoint needs Authorization: Bearer <admin token>");
    res.set(http::field::www_authenticate, "Bearer");
    return res;
  }
  // Without a token, trust rests on the client being local. A browser page can reach loopback
  // too (a "simple" cross-site POST needs no preflight), and browsers always say where such a
  // request comes from: so a request that names an Origin is not trusted this way.
  if (net::is_loopback(ctx.remote.address()) &&
      ctx.req.find(http::field::origin) == ctx.req.end()) {
    return std::nullopt;
  }
  return json_error(http::status::unauthorized, "unauthorized",
                    "no admin token is configured, so admin endpoints serve loopback clients only "
                    "(and not browser requests)");
}

asio::awaitable<net::response> node::handle_configuration(net::request_context& ctx) {
  if (auto refused = refuse_admin(ctx)) co_return *refused;
  if (ctx.req.method() == http::verb::post) {
    nlohmann::json patch = nlohmann::json::parse(ctx.req.body(), nullptr, false);
    if (patch.is_discarded()) {
      co_return json_error(http::status::bad_request, "bad_json", "the body is not valid JSON");
    }
    config::problems problems = apply_patch(patch);
    if (!problems.empty()) {
      nlohmann::json list = nlohmann::json::array();
      std::string message;
      for (const auto& p : problems) {
        list.push_back({{"path", p.path}, {"message", p.message}});
        message += (message.empty() ? "" : "; ") + p.to_string();
      }
      nlohmann::json body{
          {"code", "invalid_configuration"}, {"message", message}, {"problems", list}};
      co_return net::json_response(http::status::bad_request, body.dump());
    }
  }
  // Strings from flags or the environment may hold invalid UTF-8; show them, never fail on them.
  co_return net::json_response(http::status::ok,
                               config::to_json(*config_.get())
                                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
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
