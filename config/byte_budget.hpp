#pragma once

// A node-wide budget of bytes that many threads take from and give back to: the request bodies
// all HTTP connections hold (http.body_budget_bytes) and the memory all running function calls
// hold (executor.memory_budget_mb). Taking is all or nothing and checked before the bytes are
// used, so what is held never exceeds the limit, not even briefly. Lock-free.

#include <atomic>
#include <cstdint>
#include <utility>

namespace p2pfaas::config {

class byte_budget {
 public:
  explicit byte_budget(std::uint64_t limit) : limit_(limit) {}
  byte_budget(const byte_budget&) = delete;
  byte_budget& operator=(const byte_budget&) = delete;

  // Takes `bytes` if they fit, else counts a refusal. A compare-exchange rather than
  // add-then-check: a refused attempt never makes another one fail.
  bool try_take(std::uint64_t bytes) {
    std::uint64_t held = held_.load(std::memory_order_relaxed);
    do {
      const std::uint64_t limit = this->limit();
      if (bytes > limit || held > limit - bytes) {
        refused_.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
    } while (!held_.compare_exchange_weak(held, held + bytes, std::memory_order_acq_rel));
    return true;
  }
  void give_back(std::uint64_t bytes) { held_.fetch_sub(bytes, std::memory_order_acq_rel); }

  // `bytes` held until the reservation is destroyed or released; empty when they did not fit.
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
      if (budget_) budget_->give_back(bytes_);
      budget_ = nullptr;
    }

   private:
    friend class byte_budget;
    reservation(byte_budget* budget, std::uint64_t bytes) : budget_(budget), bytes_(bytes) {}
    byte_budget* budget_ = nullptr;
    std::uint64_t bytes_ = 0;
  };
  [[nodiscard]] reservation try_reserve(std::uint64_t bytes) {
    return try_take(bytes) ? reservation(this, bytes) : reservation();
  }

  // A lower limit never takes back what is held; it only refuses new takes sooner.
  void set_limit(std::uint64_t bytes) { limit_.store(bytes, std::memory_order_relaxed); }
  std::uint64_t limit() const { return limit_.load(std::memory_order_relaxed); }
  std::uint64_t held() const { return held_.load(std::memory_order_relaxed); }
  std::uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> limit_;
  std::atomic<std::uint64_t> held_{0};
  std::atomic<std::uint64_t> refused_{0};
};

}  // namespace p2pfaas::config
