#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "workloads/function.hpp"
#include "workloads/registry.hpp"

namespace p2pfaas::workloads {

struct executor_limits {
  int slots = 1;  // calls running at once; values below 1 are taken as 1
  int queue = 0;  // calls waiting (FIFO) when all slots are busy; negative is taken as 0
  std::chrono::milliseconds keep_alive{60000};     // an idle instance stays warm this long
  std::chrono::microseconds cold_start{0};         // emulated start delay of a new instance
  std::chrono::microseconds per_call_overhead{0};  // emulated platform overhead per call
  int memory_limit_mb = 512;
  // What every running call may hold at once (function_context::memory_budget).
  std::uint64_t memory_budget_bytes = std::uint64_t{1} << 30;
  // Fair admission between sources (invocation::source) when slots and queue are contended: a
  // full queue refuses the heaviest source's newest queued call in favour of a lighter source's
  // new one, and a freed slot goes to the queued call whose source runs the fewest calls. With
  // one source this is plain FIFO admission.
  bool fair_sources = true;
  std::filesystem::path data_dir;
  std::uint64_t seed = 0;  // 0 = random
};

enum class outcome {
  completed,  // the body returned; see result.status
  full,       // no slot and no queue space
  timed_out,
  shut_down,
  unknown_function,
};

// Also the "code" of the error body of each non-completed outcome.
std::string_view to_string(outcome value);

struct execution {
  workloads::outcome outcome = workloads::outcome::completed;
  // For completed, the body's answer; otherwise {"code","message"} with 429, 504, 503 or 404.
  function_result result;
  std::chrono::nanoseconds queue_wait{0};
  std::chrono::nanoseconds run_time{0};  // cold start + overhead + body
  bool cold_start = false;
};

struct load {
  int running = 0;  // calls holding a slot, including timed-out bodies that have not returned yet
  int queued = 0;
  int slots = 0;
  int queue_capacity = 0;
  double recent_service_seconds = 0;  // EWMA of run_time of completed calls
};

struct function_stats {
  std::string name;
  std::uint64_t cold_starts = 0, warm_starts = 0;
  int instances_idle = 0, instances_busy = 0;  // idle = still within keep-alive
};

// Runs function bodies on its own worker threads with admission control (slots + a queue that is
// FIFO per source, fair between sources), per-call timeouts, a node-wide memory budget for the
// bodies and emulated FaaS instances (cold/warm starts).
//
// The registry must outlive the executor and must not be modified while it runs.
class executor {
 public:
  // Invoked exactly once per submitted call. It runs on an executor thread, or on the caller's
  // thread for full, unknown_function and shut_down; it should only post the result to the
  // caller's own executor. It must not throw, and must not call shutdown() or destroy the
  // executor.
  using completion = std::function<void(execution)>;

  executor(const function_registry& registry, executor_limits limits);
  ~executor();  // = shutdown()
  executor(const executor&) = delete;
  executor& operator=(const executor&) = delete;

  // Admission: a free slot runs the call now; else queue space queues it; else, when the call's
  // source holds at least two calls fewer than the heaviest source with queued calls, that
  // source's newest queued call completes as full and this call takes its place; else the call
  // completes as full before submit returns. `timeout_at` covers queueing and running;
  // steady_clock::time_point::max() means no timeout.
  void submit(invocation call, std::chrono::steady_clock::time_point timeout_at,
              completion complete);

  // Applies at once: more slots start queued calls, fewer slots never stop running calls, a
  // smaller queue keeps the calls already queued. Keep-alive, delays, memory limit and data dir
  // apply to calls that start afterwards; a new seed to worker threads created afterwards.
  void set_limits(const executor_limits& limits);

  load current_load() const;
  std::vector<function_stats> stats() const;  // sorted by name
  std::size_t pending() const;                // running + queued
  // Queued calls refused in favour of a lighter source's call (see submit).
  std::uint64_t fair_evictions() const { return fair_evictions_.load(std::memory_order_relaxed); }
  const config::byte_budget& memory() const { return memory_budget_; }

  // Refuses new calls, completes queued and running calls with shut_down, requests stop on the
  // running bodies and joins every thread (so it waits for those bodies to return). Idempotent.
  void shutdown();

 private:
  using clock = std::chrono::steady_clock;
  struct job;
  // What one source holds: calls with a slot (ready or running) and calls queued.
  struct source_share {
    int active = 0;
    int queued = 0;
  };
  struct instance_pool {
    std::deque<clock::time_point> idle;  // last use of each idle instance, oldest first
    int busy = 0;
    std::uint64_t cold_starts = 0;
    std::uint64_t warm_starts = 0;
  };
  struct ready_completion {
    completion complete;
    execution result;
  };

  void worker_loop(std::uint64_t id, std::uint64_t seed);
  void run_one(std::unique_lock<std::mutex>& lock, std::mt19937_64& rng);
  void timer_loop();

  // The *_locked helpers expect mu_ to be held.
  void start_locked(const std::shared_ptr<job>& call);
  void promote_locked();
  std::list<std::shared_ptr<job>>::iterator next_to_promote_locked();
  std::shared_ptr<job> fair_victim_locked(const std::string& arriving_source);
  void take_share_locked(job& call);
  void leave_share_locked(job& call);
  void ensure_workers_locked();
  void wake_worker_locked();
  void note_spin_outcome_locked(bool hit);
  bool surplus_worker_locked() const;
  void arm_timer_locked(const std::shared_ptr<job>& call);
  void disarm_timer_locked(job& call);
  completion claim_locked(job& call);
  bool acquire_instance_locked(instance_pool& pool, clock::time_point now);

  const function_registry& registry_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;   // workers: a ready call, shutdown, or surplus to retire
  std::condition_variable timer_cv_;  // timer: an earlier deadline, or shutdown
  executor_limits limits_;
  // limits_.data_dir shared with running calls, so starting one copies a pointer, not a path.
  std::shared_ptr<const std::filesystem::path> data_dir_;
  std::uint64_t seed_base_ = 0;
  bool stopping_ = false;

  std::list<std::shared_ptr<job>> queue_;  // waiting for a slot, in arrival order
  // Sources holding a call; element addresses are stable, so a job keeps a pointer to its own.
  std::unordered_map<std::string, source_share> sources_;
  std::atomic<std::uint64_t> fair_evictions_{0};
  config::byte_budget memory_budget_;
  std::deque<std::shared_ptr<job>> ready_;            // holds a slot, waiting for a worker
  std::unordered_set<std::shared_ptr<job>> running_;  // taken by a worker
  std::multimap<clock::time_point, std::shared_ptr<job>> timers_;
  // When the timer thread wakes next on its own (max: never; min: it is not waiting).
  clock::time_point timer_wakes_at_ = clock::time_point::max();
  std::atomic<std::size_t> ready_count_{0};  // ready_.size(), readable without the lock
  static constexpr std::chrono::microseconds spin_before_park{50};
  std::atomic<int> spinners_{0};
  // How often a spin finds (or would have found) a call before it ends, in 1/1024ths. Workers
  // spin only while nine in ten do: when calls arrive in bursts further apart than the spin
  // (forwarded batches, light load) a spin mostly burns the time slices the I/O threads need.
  static constexpr int spin_hits_wanted = 922;
  int spin_hits_ = 1024;
  int active_ = 0;  // slots taken: ready_ + running_
  std::map<std::string, instance_pool, std::less<>> pools_;
  double service_ewma_seconds_ = 0;
  bool has_service_sample_ = false;

  std::unordered_map<std::uint64_t, std::thread> workers_;
  std::vector<std::thread> retired_;  // exited surplus workers, joined later
  std::size_t idle_ = 0;              // workers not holding a call
  std::size_t parked_ = 0;            // of those, waiting on work_cv_
  std::size_t wakes_pending_ = 0;     // notified and not yet back from the wait
  std::uint64_t next_worker_id_ = 0;
  std::thread timer_thread_;

  std::mutex shutdown_mu_;  // serialises shutdown() callers; the later ones wait for the join
  bool joined_ = false;
};

}  // namespace p2pfaas::workloads
