#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <random>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/byte_budget.hpp"

namespace p2pfaas::workloads {

// What a function body sees of one call.
struct invocation {
  std::string function;
  std::string path_rest;  // what followed /function/<fn>/ in the URL, may be ""
  std::string payload;
  std::string content_type;                                  // may be ""
  std::vector<std::pair<std::string, std::string>> query;    // decoded, in request order
  std::vector<std::pair<std::string, std::string>> headers;  // X-* request headers
  // Who sent it, for fair admission: the client's IP address, or "peer:<node id>" for a call
  // forwarded by a peer. Calls with the same source (or none) share one fair share.
  std::string source;
};

struct function_result {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

// Built by the executor for each call.
struct function_context {
  std::stop_token stop;  // requested when the call times out or the executor shuts down
  const std::filesystem::path& data_dir;  // outlives the call
  int memory_limit_mb;
  std::mt19937_64& rng;  // per worker thread, so bodies need no locking to draw from it
  // The node's budget for function memory (executor.memory_budget_mb): a body reserves what it
  // allocates first. Null in contexts that have none (then only memory_limit_mb applies).
  config::byte_budget* memory_budget = nullptr;
};

using function_body = std::function<function_result(const invocation&, function_context&)>;

// The API's error shape: `status` with the JSON body {"code","message"}.
function_result error_result(int status, std::string_view code, std::string_view message);

// Waits `duration` unless `stop` is requested first; true when the whole duration elapsed.
// Wakes as soon as stop is requested rather than polling for it.
bool interruptible_sleep(std::stop_token stop, std::chrono::nanoseconds duration);

}  // namespace p2pfaas::workloads
