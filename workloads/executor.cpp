#include "workloads/executor.hpp"

#include <pthread.h>

#include <algorithm>
#include <exception>
#include <limits>
#include <random>
#include <stop_token>
#include <system_error>
#include <utility>

namespace p2pfaas::workloads {
namespace {

using clock = std::chrono::steady_clock;

// Weight of the newest sample: about the last ten calls dominate the estimate.
constexpr double service_ewma_weight = 0.2;

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

std::uint64_t random_seed() {
  std::random_device device;
  return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

executor_limits sanitized(executor_limits limits) {
  using std::chrono::microseconds;
  using std::chrono::milliseconds;
  limits.slots = std::max(limits.slots, 1);
  limits.queue = std::max(limits.queue, 0);
  limits.keep_alive = std::max(limits.keep_alive, milliseconds::zero());
  limits.cold_start = std::max(limits.cold_start, microseconds::zero());
  limits.per_call_overhead = std::max(limits.per_call_overhead, microseconds::zero());
  return limits;
}

int status_of(outcome value) {
  switch (value) {
    case outcome::completed:
      return 200;
    case outcome::full:
      return 429;
    case outcome::timed_out:
      return 504;
    case outcome::shut_down:
      return 503;
    case outcome::unknown_function:
      return 404;
  }
  return 500;
}

execution failed(outcome value, std::string_view message) {
  execution result;
  result.outcome = value;
  result.result = error_result(status_of(value), to_string(value), message);
  return result;
}

}  // namespace

std::string_view to_string(outcome value) {
  switch (value) {
    case outcome::completed:
      return "completed";
    case outcome::full:
      return "full";
    case outcome::timed_out:
      return "timed_out";
    case outcome::shut_down:
      return "shut_down";
    case outcome::unknown_function:
      return "unknown_function";
  }
  return "unknown";
}

struct executor::job {
  enum class phase { queued, ready, running, finished };

  invocation call;
  // A copy, so a call never depends on the registry entry it was admitted with.
  function_body body;
  clock::time_point submitted_at;
  clock::time_point started_at;
  clock::time_point timeout_at;
  std::stop_source stop;
  phase state = phase::queued;
  // Set once the completion has been handed out; the one guard of exactly-once completion, so
  // it is only read and written under mu_.
  bool claimed = false;
  completion complete;
  std::list<std::shared_ptr<job>>::iterator queue_position;
  std::multimap<clock::time_point, std::shared_ptr<job>>::iterator timer_position;
  bool timer_armed = false;
  // The share of call.source in sources_ while the call is queued or holds a slot; else null.
  source_share* share = nullptr;
};

executor::executor(const function_registry& registry, executor_limits limits)
    : registry_(registry),
      limits_(sanitized(std::move(limits))),
      data_dir_(std::make_shared<const std::filesystem::path>(limits_.data_dir)),
      memory_budget_(limits_.memory_budget_bytes) {
  seed_base_ = limits_.seed != 0 ? limits_.seed : random_seed();
  timer_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "p2pfaas-timer");
    timer_loop();
  });
}

executor::~executor() {
  shutdown();
}

void executor::submit(invocation call, clock::time_point timeout_at, completion complete) {
  const function_body* body = registry_.find(call.function);
  auto admitted = std::make_shared<job>();
  std::vector<std::thread> reaped;
  std::vector<ready_completion> evictions;
  {
    std::unique_lock lock(mu_);
    if (stopping_) {
      lock.unlock();
      complete(failed(outcome::shut_down, call.function + ": the executor is shutting down"));
      return;
    }
    if (body == nullptr) {
      lock.unlock();
      complete(failed(outcome::unknown_function, "unknown function '" + call.function + "'"));
      return;
    }
    const bool slot_free = active_ < limits_.slots;
    if (!slot_free && queue_.size() >= static_cast<std::size_t>(limits_.queue)) {
      auto victim = limits_.fair_sources ? fair_victim_locked(call.source) : nullptr;
      if (!victim) {
        const auto message = call.function + ": no free slot and the queue is full (slots " +
                             std::to_string(limits_.slots) + ", queue " +
                             std::to_string(limits_.queue) + ")";
        lock.unlock();
        complete(failed(outcome::full, message));
        return;
      }
      queue_.erase(victim->queue_position);
      leave_share_locked(*victim);
      victim->state = job::phase::finished;
      disarm_timer_locked(*victim);
      if (auto evicted = claim_locked(*victim)) {
        fair_evictions_.fetch_add(1, std::memory_order_relaxed);
        auto result =
            failed(outcome::full, victim->call.function +
                                      ": the queue is full and this client holds more of it than "
                                      "another that is waiting; its newest call makes room");
        result.queue_wait = clock::now() - victim->submitted_at;
        evictions.push_back({std::move(evicted), std::move(result)});
      }
    }
    admitted->call = std::move(call);
    admitted->body = *body;
    admitted->submitted_at = clock::now();
    admitted->timeout_at = timeout_at;
    admitted->complete = std::move(complete);
    admitted->state = job::phase::queued;
    take_share_locked(*admitted);
    if (slot_free) {
      start_locked(admitted);
    } else {
      admitted->queue_position = queue_.insert(queue_.end(), admitted);
    }
    arm_timer_locked(admitted);
    reaped.swap(retired_);
  }
  // Outside the lock, as every completion: it is foreign code.
  for (auto& [evicted, result] : evictions) evicted(std::move(result));
  for (auto& thread : reaped) thread.join();
}

void executor::set_limits(const executor_limits& limits) {
  auto updated = sanitized(limits);
  std::vector<std::thread> reaped;
  {
    std::lock_guard lock(mu_);
    if (updated.seed != limits_.seed) seed_base_ = updated.seed != 0 ? updated.seed : random_seed();
    limits_ = std::move(updated);
    memory_budget_.set_limit(limits_.memory_budget_bytes);
    if (limits_.data_dir != *data_dir_) {
      data_dir_ = std::make_shared<const std::filesystem::path>(limits_.data_dir);
    }
    if (!stopping_) promote_locked();
    reaped.swap(retired_);
  }
  // Wakes idle workers that became surplus so they exit.
  work_cv_.notify_all();
  for (auto& thread : reaped) thread.join();
}

load executor::current_load() const {
  std::lock_guard lock(mu_);
  load result;
  result.running = active_;
  result.queued = static_cast<int>(queue_.size());
  result.slots = limits_.slots;
  result.queue_capacity = limits_.queue;
  result.recent_service_seconds = service_ewma_seconds_;
  return result;
}

std::vector<function_stats> executor::stats() const {
  std::lock_guard lock(mu_);
  const auto now = clock::now();
  std::vector<function_stats> result;
  result.reserve(pools_.size());
  for (const auto& [name, pool] : pools_) {
    function_stats entry;
    entry.name = name;
    entry.cold_starts = pool.cold_starts;
    entry.warm_starts = pool.warm_starts;
    entry.instances_busy = pool.busy;
    entry.instances_idle = static_cast<int>(std::count_if(
        pool.idle.begin(), pool.idle.end(),
        [&](clock::time_point last_use) { return now - last_use < limits_.keep_alive; }));
    result.push_back(std::move(entry));
  }
  return result;
}

std::size_t executor::pending() const {
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(active_) + queue_.size();
}

void executor::shutdown() {
  std::lock_guard serial(shutdown_mu_);
  if (joined_) return;
  std::vector<ready_completion> completions;
  std::vector<std::stop_source> to_stop;
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    const auto now = clock::now();
    for (auto& queued : queue_) {
      queued->share = nullptr;
      queued->state = job::phase::finished;
      if (auto complete = claim_locked(*queued)) {
        auto result =
            failed(outcome::shut_down, queued->call.function + ": shut down while queued");
        result.queue_wait = now - queued->submitted_at;
        completions.push_back({std::move(complete), std::move(result)});
      }
    }
    queue_.clear();
    // A ready call has no worker yet and never will: its slot is given back here.
    for (auto& ready : ready_) {
      ready->share = nullptr;
      ready->state = job::phase::finished;
      --active_;
      if (auto complete = claim_locked(*ready)) {
        auto result =
            failed(outcome::shut_down, ready->call.function + ": shut down before it started");
        result.queue_wait = now - ready->submitted_at;
        completions.push_back({std::move(complete), std::move(result)});
      }
    }
    ready_.clear();
    ready_count_.store(0, std::memory_order_relaxed);
    // Running bodies keep their slot until they return; their callers are answered now.
    for (const auto& running : running_) {
      to_stop.push_back(running->stop);
      if (auto complete = claim_locked(*running)) {
        auto result =
            failed(outcome::shut_down, running->call.function + ": shut down while running");
        result.queue_wait = running->started_at - running->submitted_at;
        result.run_time = now - running->started_at;
        completions.push_back({std::move(complete), std::move(result)});
      }
    }
    for (auto& [deadline, timed] : timers_) timed->timer_armed = false;
    timers_.clear();
    // Running calls keep their slots (active_) until they return, but fairness is over.
    for (const auto& running : running_) running->share = nullptr;
    sources_.clear();
    for (auto& [id, thread] : workers_) threads.push_back(std::move(thread));
    workers_.clear();
    for (auto& thread : retired_) threads.push_back(std::move(thread));
    retired_.clear();
  }
  work_cv_.notify_all();
  timer_cv_.notify_all();
  // Outside the lock: stop callbacks and completions are foreign code that may call back in.
  for (auto& source : to_stop) source.request_stop();
  for (auto& [complete, result] : completions) complete(std::move(result));
  for (auto& thread : threads) thread.join();
  if (timer_thread_.joinable()) timer_thread_.join();
  joined_ = true;
}

void executor::start_locked(const std::shared_ptr<job>& call) {
  if (call->share) {
    --call->share->queued;
    ++call->share->active;
  }
  call->state = job::phase::ready;
  ++active_;
  ready_.push_back(call);
  ready_count_.store(ready_.size(), std::memory_order_relaxed);
  ensure_workers_locked();
  wake_worker_locked();
}

// Wakes one parked worker unless one is already on its way: a spinner, or a worker notified
// and not yet running. A burst of calls thus wakes one worker, which wakes the next as it takes
// a call while more are ready (run_one). Short calls are then run back to back by the workers
// already awake, at one futex wake-up and context switch per burst instead of one per call;
// long calls still start one wake-up apart, each on its own worker.
void executor::wake_worker_locked() {
  if (parked_ == 0 || wakes_pending_ > 0 || spinners_.load(std::memory_order_acquire) != 0) return;
  ++wakes_pending_;
  work_cv_.notify_one();
}

void executor::promote_locked() {
  while (active_ < limits_.slots && !queue_.empty()) {
    const auto position = next_to_promote_locked();
    auto next = std::move(*position);
    queue_.erase(position);
    start_locked(next);
  }
}

// The oldest queued call of the source that runs the fewest calls (then: queues the fewest), so
// a light client is not stuck behind a heavy one's backlog. With one source, the front.
std::list<std::shared_ptr<executor::job>>::iterator executor::next_to_promote_locked() {
  if (!limits_.fair_sources || sources_.size() <= 1) return queue_.begin();
  const source_share* lightest = nullptr;
  for (const auto& [source, share] : sources_) {
    if (share.queued > 0 && (!lightest || std::pair(share.active, share.queued) <
                                              std::pair(lightest->active, lightest->queued))) {
      lightest = &share;
    }
  }
  const auto found = std::find_if(queue_.begin(), queue_.end(),
                                  [&](const auto& queued) { return queued->share == lightest; });
  return found == queue_.end() ? queue_.begin() : found;
}

// The newest queued call of the source holding the most calls, when the arriving source holds
// at least two fewer (so that taking one call's place never just swaps who is heavier).
std::shared_ptr<executor::job> executor::fair_victim_locked(const std::string& arriving_source) {
  const source_share* heaviest = nullptr;
  for (const auto& [source, share] : sources_) {
    if (share.queued > 0 &&
        (!heaviest || share.active + share.queued > heaviest->active + heaviest->queued)) {
      heaviest = &share;
    }
  }
  if (!heaviest) return nullptr;
  const auto arriving = sources_.find(arriving_source);
  const int arriving_holds =
      arriving == sources_.end() ? 0 : arriving->second.active + arriving->second.queued;
  if (arriving_holds + 2 > heaviest->active + heaviest->queued) return nullptr;
  for (auto it = queue_.rbegin(); it != queue_.rend(); ++it) {
    if ((*it)->share == heaviest) return *it;
  }
  return nullptr;
}

void executor::take_share_locked(job& call) {
  source_share& share = sources_[call.call.source];
  call.share = &share;
  if (call.state == job::phase::queued) {
    ++share.queued;
  } else {
    ++share.active;
  }
}

// Before the call's state changes: queued calls count in `queued`, the others in `active`.
void executor::leave_share_locked(job& call) {
  if (!call.share) return;
  if (call.state == job::phase::queued) {
    --call.share->queued;
  } else {
    --call.share->active;
  }
  if (call.share->queued == 0 && call.share->active == 0) sources_.erase(call.call.source);
  call.share = nullptr;
}

// Invariant: at least as many idle workers as ready calls, so every ready call is picked up
// without waiting for a busy worker (after at most one wake-up per call before it).
void executor::ensure_workers_locked() {
  while (!stopping_ && idle_ < ready_.size()) {
    const auto id = next_worker_id_++;
    const auto seed = splitmix64(seed_base_ + id);
    auto [slot, inserted] = workers_.try_emplace(id);
    try {
      slot->second = std::thread([this, id, seed] {
        pthread_setname_np(pthread_self(), "p2pfaas-worker");
        worker_loop(id, seed);
      });
    } catch (const std::system_error&) {
      // Out of threads: the ready calls wait for a busy worker instead (a later submit tries
      // again), and the timer still answers them by their deadline. Throwing here would leave
      // the caller unsure whether its call was admitted.
      workers_.erase(slot);
      return;
    }
    ++idle_;
  }
}

bool executor::surplus_worker_locked() const {
  return !stopping_ && workers_.size() > static_cast<std::size_t>(limits_.slots) &&
         idle_ > ready_.size();
}

void executor::arm_timer_locked(const std::shared_ptr<job>& call) {
  if (call->timeout_at == clock::time_point::max()) return;
  call->timer_position = timers_.emplace(call->timeout_at, call);
  call->timer_armed = true;
  // Waking the timer thread costs a context switch; it is needed only when this deadline comes
  // before the time the thread already sleeps until. With equal timeouts (the common case) a
  // busy executor wakes it about once per timeout period instead of once per call.
  if (call->timeout_at < timer_wakes_at_) timer_cv_.notify_one();
}

void executor::disarm_timer_locked(job& call) {
  if (!call.timer_armed) return;
  timers_.erase(call.timer_position);
  call.timer_armed = false;
}

executor::completion executor::claim_locked(job& call) {
  if (call.claimed) return {};
  call.claimed = true;
  return std::move(call.complete);
}

bool executor::acquire_instance_locked(instance_pool& pool, clock::time_point now) {
  // Expired instances are dropped only when someone looks: no background sweeper is needed.
  while (!pool.idle.empty() && now - pool.idle.front() >= limits_.keep_alive) pool.idle.pop_front();
  ++pool.busy;
  if (pool.idle.empty()) {
    ++pool.cold_starts;
    return false;
  }
  // The most recently used instance, so the others age out when load drops.
  pool.idle.pop_back();
  ++pool.warm_starts;
  return true;
}

void executor::worker_loop(std::uint64_t id, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::unique_lock lock(mu_);
  bool spun = false;  // since this worker last ran a call or was woken
  for (;;) {
    if (!ready_.empty()) {
      run_one(lock, rng);
      spun = false;
      continue;
    }
    if (stopping_) return;
    if (surplus_worker_locked()) {
      // Fewer slots than workers: this idle one leaves; it is joined by a later caller.
      auto self = workers_.find(id);
      retired_.push_back(std::move(self->second));
      workers_.erase(self);
      --idle_;
      return;
    }
    // A short spin before parking: under load the next call usually arrives within
    // microseconds, and a parked worker costs the submitting I/O thread a futex wake-up and
    // a context switch per call. Yielding keeps the spin from starving other threads.
    // One spinner at a time: on a small box every extra spinning worker takes a core's
    // time slices from the I/O threads that produce the work (measured on 2 cores with two
    // nodes forwarding to each other: the second spinner cost a fifth of the throughput).
    int expected = 0;
    if (!spun && spin_hits_ >= spin_hits_wanted &&
        spinners_.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
      spun = true;
      lock.unlock();
      const auto spin_until = clock::now() + spin_before_park;
      while (ready_count_.load(std::memory_order_relaxed) == 0 && clock::now() < spin_until) {
        std::this_thread::yield();
      }
      spinners_.store(0, std::memory_order_release);
      lock.lock();
      note_spin_outcome_locked(!ready_.empty());
      continue;
    }
    // One wait, not a predicate loop: a notified worker must come back to count its wake-up
    // as done, even when another worker took the call meanwhile.
    ++parked_;
    const auto parked_at = clock::now();
    work_cv_.wait(lock);
    --parked_;
    if (wakes_pending_ > 0) --wakes_pending_;
    // Would a spin have caught this call? That keeps the estimate honest while nobody spins.
    if (!spun && !ready_.empty()) {
      note_spin_outcome_locked(ready_.front()->submitted_at - parked_at < spin_before_park);
    }
    spun = false;
  }
}

void executor::note_spin_outcome_locked(bool hit) {
  // An exponential average with weight 1/16, in 1/1024ths.
  spin_hits_ += ((hit ? 1024 : 0) - spin_hits_) / 16;
}

void executor::run_one(std::unique_lock<std::mutex>& lock, std::mt19937_64& rng) {
  auto call = std::move(ready_.front());
  ready_.pop_front();
  ready_count_.store(ready_.size(), std::memory_order_relaxed);
  --idle_;
  // The next ready call gets a worker of its own while this one runs (see wake_worker_locked).
  if (!ready_.empty()) wake_worker_locked();
  const auto start = clock::now();
  call->started_at = start;
  const auto queue_wait = start - call->submitted_at;

  // Past its deadline before it started (the timer may not have fired yet, or it already
  // answered the caller): the body must not run.
  if (call->claimed || start >= call->timeout_at) {
    leave_share_locked(*call);
    call->state = job::phase::finished;
    disarm_timer_locked(*call);
    auto complete = claim_locked(*call);
    --active_;
    ++idle_;
    promote_locked();
    if (!complete) return;
    lock.unlock();
    auto result = failed(outcome::timed_out, call->call.function + ": timed out before it started");
    result.queue_wait = queue_wait;
    complete(std::move(result));
    lock.lock();
    return;
  }

  call->state = job::phase::running;
  running_.insert(call);
  auto pool = pools_.find(call->call.function);
  if (pool == pools_.end()) pool = pools_.emplace(call->call.function, instance_pool{}).first;
  const bool warm = acquire_instance_locked(pool->second, start);
  // Only what the call needs, copied under the lock without allocating.
  const auto cold_start = limits_.cold_start;
  const auto per_call_overhead = limits_.per_call_overhead;
  const int memory_limit_mb = limits_.memory_limit_mb;
  const auto data_dir = data_dir_;
  const auto stop = call->stop.get_token();
  lock.unlock();

  const bool instance_up = warm || interruptible_sleep(stop, cold_start);
  function_result result;
  if (instance_up && interruptible_sleep(stop, per_call_overhead)) {
    function_context context{stop, *data_dir, memory_limit_mb, rng, &memory_budget_};
    try {
      result = call->body(call->call, context);
    } catch (const std::exception& error) {
      result = error_result(500, "function_failed", call->call.function + ": " + error.what());
    } catch (...) {
      result = error_result(500, "function_failed", call->call.function + ": unknown exception");
    }
  }
  const auto run_time = clock::now() - start;

  lock.lock();
  --pool->second.busy;
  // An instance whose cold start was interrupted never came up, so it is not kept.
  if (instance_up) pool->second.idle.push_back(clock::now());
  running_.erase(call);
  leave_share_locked(*call);
  call->state = job::phase::finished;
  disarm_timer_locked(*call);
  // Stop is only ever requested by whoever claims the call, so a call still unclaimed here got
  // through both waits and ran its body.
  auto complete = claim_locked(*call);
  if (complete) {
    const double seconds = std::chrono::duration<double>(run_time).count();
    service_ewma_seconds_ =
        has_service_sample_
            ? service_ewma_weight * seconds + (1 - service_ewma_weight) * service_ewma_seconds_
            : seconds;
    has_service_sample_ = true;
  }
  --active_;
  ++idle_;
  promote_locked();
  if (!complete) return;
  lock.unlock();
  execution done;
  done.outcome = outcome::completed;
  done.result = std::move(result);
  done.queue_wait = queue_wait;
  done.run_time = run_time;
  done.cold_start = !warm;
  complete(std::move(done));
  lock.lock();
}

void executor::timer_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (timers_.empty()) {
      timer_wakes_at_ = clock::time_point::max();
      timer_cv_.wait(lock);
      continue;
    }
    const auto next = timers_.begin()->first;
    if (clock::now() < next) {
      timer_wakes_at_ = next;
      timer_cv_.wait_until(lock, next);
      continue;
    }
    timer_wakes_at_ = clock::time_point::min();  // busy: it looks at the map again when done
    std::vector<ready_completion> completions;
    std::vector<std::stop_source> to_stop;
    const auto now = clock::now();
    while (!timers_.empty() && timers_.begin()->first <= now) {
      auto call = std::move(timers_.begin()->second);
      timers_.erase(timers_.begin());
      call->timer_armed = false;
      auto complete = claim_locked(*call);
      if (!complete) continue;
      execution result;
      if (call->state == job::phase::queued) {
        queue_.erase(call->queue_position);
        leave_share_locked(*call);
        call->state = job::phase::finished;
        result = failed(outcome::timed_out, call->call.function + ": timed out while queued");
        result.queue_wait = now - call->submitted_at;
      } else if (call->state == job::phase::ready) {
        // Keeps its slot until a worker takes it and sees it claimed.
        result = failed(outcome::timed_out, call->call.function + ": timed out before it started");
        result.queue_wait = now - call->submitted_at;
      } else {
        // The slot stays taken until the body returns; its late result is dropped.
        to_stop.push_back(call->stop);
        result = failed(outcome::timed_out, call->call.function + ": timed out while running");
        result.queue_wait = call->started_at - call->submitted_at;
        result.run_time = now - call->started_at;
      }
      completions.push_back({std::move(complete), std::move(result)});
    }
    lock.unlock();
    for (auto& source : to_stop) source.request_stop();
    for (auto& [complete, result] : completions) complete(std::move(result));
    lock.lock();
  }
}

}  // namespace p2pfaas::workloads
