#pragma once

// The node-wide budget of memory that function calls may hold at once (executor.memory_budget_mb).
// A call reserves what it needs before it allocates and gives it back when done, so the sum over
// every slot stays under the budget however many slots there are: a call that does not fit is
// refused (429) rather than pushing the node towards the OOM killer. Thread-safe and lock-free.

#include <atomic>
#include <cstdint>
#include <utility>

namespace p2pfaas::workloads {

class memory_budget {
 public:
  explicit memory_budget(std::uint64_t capacity_bytes) : capacity_(capacity_bytes) {}
  memory_budget(const memory_budget&) = delete;
  memory_budget& operator=(const memory_budget&) = delete;

  // Holds `bytes` of the budget until destroyed or released; empty when the reservation failed.
  class reservation {
   public:
    reservation() = default;
    reservation(reservation&& other) noexcept
        : budget_(std::exchange(other.budget_, nullptr)), bytes_(other.bytes_) {}
    reservation& operator=(reservation&& other) noexcept {
      if (this != &other) {
        release();
        budget_ = std::exchange(other.budget_, nullptr);
        bytes_ = other.bytes_;
      }
      return *this;
    }
    ~reservation() { release(); }
    explicit operator bool() const { return budget_ != nullptr; }
    void release() {
      if (budget_) budget_->held_.fetch_sub(bytes_, std::memory_order_acq_rel);
      budget_ = nullptr;
    }

   private:
    friend class memory_budget;
    reservation(memory_budget* budget, std::uint64_t bytes) : budget_(budget), bytes_(bytes) {}
    memory_budget* budget_ = nullptr;
    std::uint64_t bytes_ = 0;
  };

  // All or nothing: never reserves part of a request.
  reservation try_reserve(std::uint64_t bytes) {
    std::uint64_t held = held_.load(std::memory_order_relaxed);
    do {
      if (bytes > capacity() || held > capacity() - bytes) {
        refused_.fetch_add(1, std::memory_order_relaxed);
        return {};
      }
    } while (!held_.compare_exchange_weak(held, held + bytes, std::memory_order_acq_rel));
    return {this, bytes};
  }

  // A smaller capacity never takes back what is held; it only refuses new reservations sooner.
  void set_capacity(std::uint64_t bytes) { capacity_.store(bytes, std::memory_order_relaxed); }
  std::uint64_t capacity() const { return capacity_.load(std::memory_order_relaxed); }
  std::uint64_t held() const { return held_.load(std::memory_order_relaxed); }
  std::uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> capacity_;
  std::atomic<std::uint64_t> held_{0};
  std::atomic<std::uint64_t> refused_{0};
};

}  // namespace p2pfaas::workloads
