#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/http_client.hpp"

namespace p2pfaas::bench {

// One call of an open-loop plan: when it is sent and what it runs.
struct planned_call {
  double at = 0;         // seconds from the start of the run
  std::size_t node = 0;  // whose arrival process made it (and where it goes, unless JSQ)
  std::size_t workload = 0;
};

// What happened to one call.
struct call_record {
  double at = 0;  // its scheduled send time, seconds from the start of the run
  std::size_t workload = 0;
  std::size_t target = 0;  // the node it was sent to
  int status = 0;          // HTTP status; 0 = no answer (connection failed, timed out)
  // From the scheduled send time to the whole answer (or the failure): a call that waited for
  // the bench or for a connection counts that wait (no coordinated omission).
  double latency_ms = 0;
  std::string executed_on;       // X-P2pfaas-Executed-On
  int hops = 0;                  // X-P2pfaas-Hops
  double execution_seconds = 0;  // X-P2pfaas-Timing-Execution-Time-Seconds
  std::string error;             // why there was no answer
};

// The request one workload sends: GET /function/<fn>?<query> with its deadline header.
struct call_template {
  std::string target;           // "/function/sleep?mean_ms=20"
  double deadline_seconds = 0;  // 0 = no deadline header
};

struct load_options {
  std::vector<endpoint> nodes;
  std::vector<call_template> workloads;
  // CentralJSQ: each call goes to the node with the fewest calls outstanding from the bench
  // (ties rotate), instead of the node whose arrival process made it.
  bool least_outstanding = false;
  std::chrono::milliseconds timeout{10000};
};

// Sends calls over kept-alive connections (one pool per node; a new connection whenever all are
// busy, so an open loop never waits for an answer to send).
class load_driver {
 public:
  explicit load_driver(load_options options);

  // Open loop: sends each planned call at its time (plan sorted by `at`) and returns once every
  // call has its record (in plan order).
  boost::asio::awaitable<std::vector<call_record>> run_open(std::vector<planned_call> plan);

  // Closed loop: `clients_per_node` clients on each node, each sending its next call as soon as
  // its previous one is answered, until `seconds` have passed or `max_measured` calls were sent
  // at or after `measured_from` seconds (0 = no limit). `choose_workload` picks each call's
  // workload.
  boost::asio::awaitable<std::vector<call_record>> run_closed(
      int clients_per_node, double seconds, double measured_from, std::size_t max_measured,
      std::function<std::size_t()> choose_workload);

  // For the progress line.
  std::size_t sent() const { return sent_; }
  std::size_t answered() const { return answered_; }
  double elapsed_seconds() const;

 private:
  boost::asio::awaitable<call_record> send(double at, std::size_t node, std::size_t workload);
  std::size_t pick_node(std::size_t planned);

  load_options options_;
  std::vector<boost::asio::ip::tcp::endpoint> addresses_;
  std::vector<std::vector<std::unique_ptr<connection>>> idle_;
  std::vector<std::size_t> outstanding_;
  std::size_t next_tie_ = 0;
  std::size_t sent_ = 0;
  std::size_t answered_ = 0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace p2pfaas::bench
