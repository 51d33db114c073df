#include <memory>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "config/config.hpp"

namespace p2pfaas::config {

holder::holder(config initial) : current_(std::make_shared<const config>(std::move(initial))) {}

std::shared_ptr<const config> holder::get() const {
  std::lock_guard lock(mutex_);
  return current_;
}

void holder::set(std::shared_ptr<const config> next) {
  if (!next) throw std::invalid_argument("config::holder::set: null config");
  {
    std::lock_guard lock(mutex_);
    current_.swap(next);
  }
  // `next` now holds the previous config; when this was its last reference it is destroyed here,
  // outside the lock.
}

}  // namespace p2pfaas::config
