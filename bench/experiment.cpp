#include "bench/experiment.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>

#include "bench/latency_summary.hpp"
#include "bench/load_driver.hpp"
#include "config/atomic_file.hpp"
#include "config/numbers.hpp"

namespace p2pfaas::bench {

namespace asio = boost::asio;
using json = nlohmann::json;
using std::chrono::steady_clock;

namespace {

constexpr std::string_view central_jsq = "CentralJSQ";
constexpr double load_interval_seconds = 0.25;

std::string policy_label(const policy_spec& policy) {
  if (policy.parameters.empty()) return policy.name;
  return policy.name + " " + json(policy.parameters).dump();
}

std::string workload_label(const scenario& value, const std::vector<std::size_t>& workloads) {
  std::string out;
  for (std::size_t w : workloads) out += (out.empty() ? "" : "+") + value.workloads[w].name;
  return out;
}

// A fresh random cluster key, base64, in a file only its owner reads.
std::filesystem::path write_generated_key(const std::filesystem::path& dir) {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("cannot generate a cluster key");
  unsigned char text[64];
  const int length = EVP_EncodeBlock(text, raw, sizeof raw);
  const auto path = dir / "cluster.key";
  std::filesystem::create_directories(dir);
  {
    std::ofstream out(path, std::ios::trunc);
    out << std::string(reinterpret_cast<char*>(text), length) << '\n';
    if (!out) throw std::runtime_error("cannot write " + path.string());
  }
  ::chmod(path.c_str(), 0600);
  return path;
}

// The sum of every sample of `name` in a Prometheus text page (labels or not).
double metric_sum(const std::string& page, std::string_view name) {
  double total = 0;
  std::istringstream lines(page);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with(name) || line.size() <= name.size()) continue;
    const char next = line[name.size()];
    if (next != ' ' && next != '{') continue;
    total += config::parse_finite(std::string_view(line).substr(line.rfind(' ') + 1)).value_or(0);
  }
  return total;
}

struct node_usage {
  double cpu_seconds = 0;
  double rss_bytes = 0;
  steady_clock::time_point at;
};

asio::awaitable<std::vector<node_usage>> read_usage(const std::vector<endpoint>& nodes) {
  std::vector<node_usage> out;
  for (const auto& node : nodes) {
    const auto answer =
        co_await fetch(node, http::verb::get, "/metrics", "", "", std::chrono::milliseconds(2000));
    node_usage usage;
    usage.at = steady_clock::now();
    if (!answer.error && answer.response.result() == http::status::ok) {
      usage.cpu_seconds = metric_sum(answer.response.body(), "process_cpu_seconds_total");
      usage.rss_bytes = metric_sum(answer.response.body(), "process_resident_memory_bytes");
    }
    out.push_back(usage);
  }
  co_return out;
}

// In-flight + queued calls per slot, as /monitoring/load tells it (0 when it does not answer).
asio::awaitable<double> read_load(const endpoint& node) {
  const auto answer = co_await fetch(node, http::verb::get, "/monitoring/load", "", "",
                                     std::chrono::milliseconds(1000));
  if (answer.error || answer.response.result() != http::status::ok) co_return 0.0;
  const auto doc = json::parse(answer.response.body(), nullptr, false);
  if (!doc.is_object()) co_return 0.0;
  const double running = doc.value("functions_running", 0.0);
  const double queued = doc.value("queue_length", 0.0);
  const double slots = std::max(1.0, doc.value("functions_running_max", 1.0));
  co_return (running + queued) / slots;
}

// The body of a control call answered 200; anything else throws, naming the call and the node.
asio::awaitable<std::string> call_for_ok(const endpoint& node, http::verb method,
                                         const std::string& target, const std::string& body,
                                         const std::string& token) {
  const auto answer =
      co_await fetch(node, method, target, body, token, std::chrono::milliseconds(5000));
  const std::string call = std::string(http::to_string(method)) + " " + target;
  if (answer.error)
    throw std::runtime_error(call + " on " + node.text() + ": " + answer.error.message());
  if (answer.response.result() != http::status::ok) {
    throw std::runtime_error(call + (body.empty() ? "" : " " + body) + " on " + node.text() + ": " +
                             std::to_string(answer.response.result_int()) + " " +
                             answer.response.body());
  }
  co_return answer.response.body();
}

asio::awaitable<void> post_json(const endpoint& node, const std::string& target, const json& body,
                                const std::string& token) {
  co_await call_for_ok(node, http::verb::post, target, body.dump(), token);
}

asio::awaitable<json> get_json(const endpoint& node, const std::string& target,
                               const std::string& token) {
  const std::string body = co_await call_for_ok(node, http::verb::get, target, "", token);
  auto doc = json::parse(body, nullptr, false);
  if (!doc.is_object())
    throw std::runtime_error("GET " + target + " on " + node.text() + ": not a JSON object");
  co_return doc;
}

asio::awaitable<std::string> node_id(const endpoint& node) {
  const json doc = co_await get_json(node, "/nodes", "");
  if (!doc.contains("self") || !doc["self"].is_string()) {
    throw std::runtime_error("GET /nodes on " + node.text() + ": no \"self\"");
  }
  co_return doc["self"].get<std::string>();
}

// Query string of a workload: its parameters, percent-encoded.
std::string function_target(const workload_spec& workload) {
  std::string target = "/function/" + workload.function;
  char separator = '?';
  auto encode = [](const std::string& text) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
        out += static_cast<char>(c);
      } else {
        out += '%';
        out += hex[c >> 4];
        out += hex[c & 15];
      }
    }
    return out;
  };
  for (const auto& [key, value] : workload.parameters) {
    target += separator + encode(key) + "=" + encode(value);
    separator = '&';
  }
  return target;
}

std::vector<double> split_rates(const scenario& value, std::size_t nodes, bool profile) {
  const auto& rates = value.load.rates;  // one for every node, or one per node
  const auto rate_of = [&](std::size_t node) { return rates[node % rates.size()]; };
  const std::size_t cluster_nodes = static_cast<std::size_t>(value.cluster.nodes);
  if (!profile || nodes == cluster_nodes) {
    std::vector<double> out(nodes);
    for (std::size_t i = 0; i < nodes; ++i) out[i] = rate_of(i);
    return out;
  }
  // A profile serves the scenario's whole offered load with its own number of replicas.
  double total = 0;
  for (std::size_t i = 0; i < cluster_nodes; ++i) total += rate_of(i);
  return std::vector<double>(nodes, total / static_cast<double>(nodes));
}

// Picks the workload of each call by the workloads' weights.
std::discrete_distribution<std::size_t> workload_mix(const scenario& value,
                                                     const std::vector<std::size_t>& workloads) {
  std::vector<double> weights;
  for (std::size_t w : workloads) weights.push_back(value.workloads[w].weight);
  return {weights.begin(), weights.end()};
}

// Coroutines get these from plain functions: GCC 12 miscompiles braced lists of string literals
// in a coroutine body ("array used as initializer").
using settings = std::vector<std::pair<std::string, std::string>>;

// The executor knobs of a run: the scenario's cluster, or the profile's.
settings node_knobs(const scenario& value, const run_plan& plan) {
  settings knobs = {{"executor.slots", std::to_string(value.cluster.slots)},
                    {"executor.queue", std::to_string(value.cluster.queue)}};
  if (plan.profile) {
    const auto& p = *plan.profile;
    knobs = {{"executor.slots", std::to_string(p.slots)},
             {"executor.queue", std::to_string(p.queue)},
             {"executor.memory_limit_mb", std::to_string(p.memory_limit_mb)},
             {"executor.per_call_overhead_ms", config::shortest_text(p.per_call_overhead_ms)},
             {"executor.cold_start_ms", config::shortest_text(p.cold_start_ms)},
             {"executor.keep_alive_seconds", config::shortest_text(p.keep_alive_seconds)}};
  }
  return knobs;
}

// Node i's --set pairs: the knobs, its seed, a short drain, then the scenario's own settings.
settings launch_settings(const scenario& value, const settings& knobs, int i) {
  settings set = knobs;
  set.push_back(
      {"executor.seed", std::to_string(value.cluster.seed + static_cast<std::uint64_t>(i))});
  set.push_back({"node.drain_timeout_seconds", "2"});
  for (const auto& [key, setting] : value.cluster.settings) set.push_back({key, setting});
  return set;
}

// The same knobs as a /configuration patch, for nodes the bench did not launch.
json executor_json(const settings& knobs) {
  json executor = json::object();
  for (const auto& [key, value] : knobs) {
    const std::string name = key.substr(key.find('.') + 1);
    if (const auto whole = config::parse_whole<std::int64_t>(value)) {
      executor[name] = *whole;
    } else {
      executor[name] = config::parse_finite(value).value_or(0);
    }
  }
  return {{"executor", executor}};
}

// What /configuration/scheduler gets: CentralJSQ's nodes run every call they are sent.
json scheduler_json(const policy_spec& policy) {
  if (policy.name == central_jsq) return {{"name", "NoScheduler"}, {"parameters", {"false"}}};
  return {{"name", policy.name}, {"parameters", policy.parameters}};
}

// What gives a node its executor and scheduler settings back, from its GET /configuration.
std::pair<json, json> restore_patches(const json& saved) {
  const json& scheduler = saved.at("scheduler");
  return {{{"executor", saved.at("executor")}},
          {{"name", scheduler.at("name")}, {"parameters", scheduler.at("parameters")}}};
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace

std::string run_plan::label() const {
  std::string out = profile ? profile->name + " / " : "";
  return out + policy_label(policy) + " #" + std::to_string(repetition + 1);
}

std::vector<run_plan> plan_runs(const scenario& value) {
  std::vector<std::vector<std::size_t>> groups;
  if (value.runs == workload_runs::each) {
    for (std::size_t w = 0; w < value.workloads.size(); ++w) groups.push_back({w});
  } else {
    groups.emplace_back();
    for (std::size_t w = 0; w < value.workloads.size(); ++w) groups.back().push_back(w);
  }
  std::vector<run_plan> plans;
  for (int repetition = 0; repetition < value.repetitions; ++repetition) {
    for (const auto& group : groups) {
      for (const auto& policy : value.policies)
        plans.push_back({policy, std::nullopt, group, repetition});
      for (const auto& profile : value.profiles)
        plans.push_back({value.profile_policy, profile, group, repetition});
    }
  }
  return plans;
}

std::vector<planned_call> plan_calls(const scenario& value, const std::vector<double>& rates,
                                     const std::vector<std::size_t>& workloads, int repetition,
                                     std::size_t max_measured) {
  const double end = value.warmup_seconds + value.duration_seconds;
  const std::uint64_t base = value.seed + static_cast<std::uint64_t>(repetition) * 1000003;
  std::vector<planned_call> plan;
  for (std::size_t node = 0; node < rates.size(); ++node) {
    if (rates[node] <= 0) continue;
    std::unique_ptr<arrival_process> process;
    switch (value.load.arrivals) {
      case arrival_kind::poisson:
        process = poisson_arrivals(rates[node], base + node);
        break;
      case arrival_kind::constant:
        process = constant_arrivals(rates[node]);
        break;
      case arrival_kind::trace: {
        auto steps = value.load.trace_steps;
        for (auto& step : steps) step.rate *= rates[node];
        process = trace_arrivals(std::move(steps), base + node);
        break;
      }
    }
    for (double at = process->next(); at < end; at = process->next()) plan.push_back({at, node, 0});
  }
  std::sort(plan.begin(), plan.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
  auto choose = workload_mix(value, workloads);
  std::mt19937_64 rng(base ^ 0x9e3779b97f4a7c15ULL);
  for (auto& call : plan) call.workload = workloads[choose(rng)];
  if (max_measured > 0) {
    std::size_t measured = 0;
    std::size_t keep = 0;
    for (; keep < plan.size(); ++keep) {
      if (plan[keep].at >= value.warmup_seconds && ++measured > max_measured) break;
    }
    plan.resize(keep);
  }
  return plan;
}

experiment::experiment(scenario value, experiment_options options)
    : scenario_(std::move(value)), options_(std::move(options)) {}

void experiment::stop_cluster() {
  if (cluster_) cluster_->stop();
}

asio::awaitable<void> experiment::run() {
  if (options_.targets.empty() && scenario_.cluster.key == "generate") {
    key_file_ = write_generated_key(options_.work_dir);
  } else if (options_.targets.empty() && scenario_.cluster.key != "none") {
    key_file_ = scenario_.cluster.key;
  }
  // Nodes the bench did not launch keep their own executor settings for policy runs, and get
  // their scheduler and executor settings back at the end.
  for (const auto& node : options_.targets) {
    json config = co_await get_json(node, "/configuration", options_.admin_token);
    saved_targets_.push_back(std::move(config));
  }
  const auto plans = plan_runs(scenario_);
  for (std::size_t i = 0; i < plans.size(); ++i) co_await run_one(plans[i], i, plans.size());
  for (std::size_t i = 0; i < options_.targets.size(); ++i) {
    const auto [executor, scheduler] = restore_patches(saved_targets_[i]);
    co_await post_json(options_.targets[i], "/configuration", executor, options_.admin_token);
    co_await post_json(options_.targets[i], "/configuration/scheduler", scheduler,
                       options_.admin_token);
  }
  score_runs(results_);
}

asio::awaitable<void> experiment::run_one(const run_plan& plan, std::size_t index,
                                          std::size_t total) {
  const auto executor = co_await asio::this_coro::executor;
  const bool jsq = plan.policy.name == central_jsq;
  const std::string title = "[" + std::to_string(index + 1) + "/" + std::to_string(total) + "] " +
                            plan.label() + " / " + workload_label(scenario_, plan.workloads);

  const auto knobs = node_knobs(scenario_, plan);
  std::vector<endpoint> nodes;
  if (options_.targets.empty()) {
    local_cluster_options launch;
    launch.binary = options_.p2pfaasd;
    launch.directory = options_.work_dir / ("run-" + std::to_string(index + 1));
    launch.nodes = plan.profile ? plan.profile->replicas : scenario_.cluster.nodes;
    launch.key_file = key_file_;
    launch.settings.resize(launch.nodes);
    for (int i = 0; i < launch.nodes; ++i) {
      launch.settings[i] = launch_settings(scenario_, knobs, i);
    }
    options_.progress(title + ": starting " + std::to_string(launch.nodes) +
                          (launch.nodes == 1 ? " node" : " nodes"),
                      false);
    cluster_ = std::make_unique<local_cluster>(std::move(launch));
    co_await cluster_->start(std::chrono::milliseconds(15000));
    nodes = cluster_->endpoints();
  } else {
    const std::size_t count =
        plan.profile ? static_cast<std::size_t>(plan.profile->replicas) : options_.targets.size();
    if (count > options_.targets.size()) {
      throw std::runtime_error(plan.profile->name + " needs " + std::to_string(count) +
                               " nodes; --targets gives " +
                               std::to_string(options_.targets.size()));
    }
    nodes.assign(options_.targets.begin(),
                 options_.targets.begin() + static_cast<std::ptrdiff_t>(count));
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      const json executor_patch =
          plan.profile ? executor_json(knobs) : restore_patches(saved_targets_[i]).first;
      co_await post_json(nodes[i], "/configuration", executor_patch, options_.admin_token);
    }
  }

  // The policy on every node.
  const json policy = scheduler_json(plan.policy);
  std::vector<std::string> ids;
  for (const auto& node : nodes) {
    co_await post_json(node, "/configuration/scheduler", policy, options_.admin_token);
    std::string id = co_await node_id(node);
    ids.push_back(std::move(id));
  }

  load_options load;
  load.nodes = nodes;
  load.least_outstanding = jsq;
  load.timeout =
      std::chrono::milliseconds(static_cast<std::int64_t>(scenario_.load.timeout_seconds * 1000));
  for (const auto& workload : scenario_.workloads)
    load.workloads.push_back({function_target(workload), workload.deadline_seconds});
  load_driver driver(load);

  // Sampling while the load runs, every 250 ms: the progress line; from the end of the warm-up,
  // each node's load, and the nodes' CPU time and memory once at its start.
  run_details detail;
  detail.nodes = ids;
  detail.load_interval_seconds = load_interval_seconds;
  detail.node_load.resize(nodes.size());
  std::vector<node_usage> usage_before;
  bool load_done = false;
  bool sampler_done = false;
  const double warmup = scenario_.warmup_seconds;
  const double planned_seconds = warmup + scenario_.duration_seconds;
  asio::co_spawn(
      executor,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(executor);
        const auto begin = steady_clock::now();
        auto next = begin;
        bool measuring = false;
        double last_progress = -1;
        while (!load_done) {
          const double elapsed = std::chrono::duration<double>(steady_clock::now() - begin).count();
          if (!measuring && elapsed >= warmup) {
            measuring = true;
            usage_before = co_await read_usage(nodes);
          }
          for (std::size_t i = 0; measuring && i < nodes.size(); ++i) {
            const double load = co_await read_load(nodes[i]);
            detail.node_load[i].push_back(load);
          }
          if (elapsed - last_progress >= 0.5) {
            last_progress = elapsed;
            std::ostringstream line;
            line.precision(1);
            line << std::fixed << title << ": " << elapsed << "/" << planned_seconds << " s"
                 << (measuring ? "" : " (warm-up)") << ", " << driver.sent() << " sent, "
                 << driver.sent() - driver.answered() << " outstanding";
            options_.progress(line.str(), false);
          }
          next += std::chrono::duration_cast<steady_clock::duration>(
              std::chrono::duration<double>(load_interval_seconds));
          timer.expires_at(next);
          co_await timer.async_wait(asio::use_awaitable);
        }
      },
      [&](std::exception_ptr) { sampler_done = true; });

  std::vector<call_record> records;
  if (scenario_.load.closed_loop_clients > 0) {
    auto choose = workload_mix(scenario_, plan.workloads);
    std::mt19937_64 rng(scenario_.seed + static_cast<std::uint64_t>(plan.repetition) * 1000003);
    records = co_await driver.run_closed(scenario_.load.closed_loop_clients, planned_seconds,
                                         warmup, scenario_.load.requests,
                                         [&] { return plan.workloads[choose(rng)]; });
  } else {
    const auto rates = split_rates(scenario_, nodes.size(), plan.profile.has_value());
    records = co_await driver.run_open(
        plan_calls(scenario_, rates, plan.workloads, plan.repetition, scenario_.load.requests));
  }
  load_done = true;
  const auto usage_after = co_await read_usage(nodes);
  {
    asio::steady_timer timer(executor);
    while (!sampler_done) {
      timer.expires_after(std::chrono::milliseconds(5));
      co_await timer.async_wait(asio::use_awaitable);
    }
  }

  // The run's figures, from the calls sent at or after the warm-up.
  run_result result;
  result.policy = policy_label(plan.policy);
  result.profile = plan.profile ? plan.profile->name : "";
  result.workload = workload_label(scenario_, plan.workloads);
  result.repetition = plan.repetition;
  std::vector<double> latencies;
  std::size_t met = 0, forwarded = 0;
  double last_answer = warmup, execution_seconds = 0;
  for (const auto& call : records) {
    if (call.at < warmup) continue;
    ++result.requests;
    last_answer = std::max(last_answer, call.at + call.latency_ms / 1000);
    const double deadline = scenario_.workloads[call.workload].deadline_seconds;
    const bool deadline_met =
        call.status == 200 && (deadline <= 0 || call.latency_ms <= deadline * 1000);
    if (call.status == 200) {
      ++result.ok;
      latencies.push_back(call.latency_ms);
      execution_seconds += call.execution_seconds;
      if (deadline_met) ++met;
    } else if (call.status == 429 || call.status == 503) {
      ++result.rejected;
    } else {
      ++result.errors;
    }
    if (!call.executed_on.empty() && call.executed_on != ids[call.target]) ++forwarded;
    calls_csv_ += std::to_string(results_.size()) + ',' +
                  csv_field(scenario_.workloads[call.workload].name) + ',' +
                  config::shortest_text(call.at - warmup) + ',' + csv_field(ids[call.target]) +
                  ',' + std::to_string(call.status) + ',' + config::shortest_text(call.latency_ms) +
                  ',' + csv_field(call.executed_on) + ',' + std::to_string(call.hops) + ',' +
                  (deadline_met ? "1" : "0") + ',' + csv_field(call.error) + '\n';
  }
  const double n = static_cast<double>(std::max<std::size_t>(result.requests, 1));
  result.duration_seconds = std::max(last_answer - warmup, 1e-3);
  result.deadline_met_ratio = static_cast<double>(met) / n;
  result.forwarded_ratio = static_cast<double>(forwarded) / n;
  result.throughput_rps = static_cast<double>(result.ok) / result.duration_seconds;
  result.goodput_rps = static_cast<double>(met) / result.duration_seconds;
  result.latency_ms = summarize(latencies);
  detail.latency_cdf = cdf_points(latencies, 200);
  if (usage_before.size() == usage_after.size()) {
    for (std::size_t i = 0; i < usage_after.size(); ++i) {
      const double wall =
          std::chrono::duration<double>(usage_after[i].at - usage_before[i].at).count();
      if (wall > 0)
        result.cpu_percent +=
            100 * (usage_after[i].cpu_seconds - usage_before[i].cpu_seconds) / wall;
      result.rss_mb += usage_after[i].rss_bytes / (1024.0 * 1024.0);
    }
  }
  if (plan.profile) {
    const auto& p = *plan.profile;
    const double mean_execution =
        result.ok > 0 ? execution_seconds / static_cast<double>(result.ok) : 0;
    result.cost = 1e6 * (p.price_per_request +
                         p.memory_limit_mb / 1024.0 * mean_execution * p.price_per_gb_second);
    result.security_score = p.security_score;
  }
  if (const auto problem = check_counts(result); !problem.empty())
    throw std::runtime_error(problem);

  if (cluster_) {
    cluster_->stop();
    cluster_.reset();
  }
  std::ostringstream line;
  line.precision(3);
  line << title << ": " << result.requests << " calls, ok " << result.ok << ", rejected "
       << result.rejected << ", errors " << result.errors << ", deadline met "
       << result.deadline_met_ratio << ", p95 " << result.latency_ms.p95 << " ms";
  options_.progress(line.str(), true);
  results_.push_back(std::move(result));
  details_.push_back(std::move(detail));
}

void write_outputs(const std::filesystem::path& dir, const std::vector<run_result>& runs,
                   const std::vector<run_details>& details, const json& scenario,
                   const std::string& calls_csv) {
  std::filesystem::create_directories(dir);
  const auto write = [&](const char* name, const std::string& content) {
    if (const auto error = config::write_file_atomically(dir / name, content); !error.empty())
      throw std::runtime_error(error);
  };
  write("calls.csv", calls_csv);
  write("metrics.csv", metrics_csv(runs));
  write("report.json", report_json(runs, scenario).dump(2) + "\n");
  write("dashboard.html", dashboard_html(runs, details, scenario));
}

std::string summary_table(const std::vector<run_result>& runs) {
  struct group {
    std::string policy, profile, workload;
    std::vector<const run_result*> runs;
  };
  std::vector<group> groups;
  for (const auto& run : runs) {
    auto found = std::find_if(groups.begin(), groups.end(), [&](const group& g) {
      return g.policy == run.policy && g.profile == run.profile && g.workload == run.workload;
    });
    if (found == groups.end()) {
      groups.push_back({run.policy, run.profile, run.workload, {}});
      found = groups.end() - 1;
    }
    found->runs.push_back(&run);
  }
  auto column = [](const group& g, auto field) {
    std::vector<double> values;
    for (const auto* run : g.runs) values.push_back(field(*run));
    return median(values);
  };
  std::ostringstream out;
  char line[512];
  std::snprintf(line, sizeof line, "%-44s %-10s %6s %8s %8s %9s %8s %8s %9s\n",
                "run (median of repetitions)", "workload", "reps", "met", "goodput", "fwd",
                "p50 ms", "p95 ms", "composite");
  out << line;
  for (const auto& g : groups) {
    std::string name = g.profile.empty() ? g.policy : g.profile + " / " + g.policy;
    if (name.size() > 44) name = name.substr(0, 41) + "...";
    std::snprintf(line, sizeof line, "%-44s %-10s %6zu %8.3f %8.1f %9.3f %8.1f %8.1f %9.1f\n",
                  name.c_str(), g.workload.substr(0, 10).c_str(), g.runs.size(),
                  column(g, [](const run_result& r) { return r.deadline_met_ratio; }),
                  column(g, [](const run_result& r) { return r.goodput_rps; }),
                  column(g, [](const run_result& r) { return r.forwarded_ratio; }),
                  column(g, [](const run_result& r) { return r.latency_ms.p50; }),
                  column(g, [](const run_result& r) { return r.latency_ms.p95; }),
                  column(g, [](const run_result& r) { return r.composite_score; }));
    out << line;
  }
  return out.str();
}

}  // namespace p2pfaas::bench
