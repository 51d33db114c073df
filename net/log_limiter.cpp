#include "net/log_limiter.hpp"

#include <iterator>
#include <utility>

namespace p2pfaas::net {

std::string log_permit::suffix() const {
  if (suppressed == 0) return {};
  return " (" + std::to_string(suppressed) + " more suppressed)";
}

log_limiter::log_limiter(std::size_t lines, clock::duration interval,
                         std::function<clock::time_point()> now)
    : lines_(lines), interval_(interval), now_(std::move(now)) {}

log_permit log_limiter::admit(std::string_view key) {
  const auto now = now_();
  std::lock_guard lock(mutex_);
  auto it = windows_.find(std::string(key));
  if (it == windows_.end()) {
    if (windows_.size() >= max_keys) {
      // Forget keys whose window is over and owes no count: nothing about them is lost.
      std::erase_if(windows_, [&](const auto& entry) {
        return now - entry.second.start >= interval_ && entry.second.suppressed == 0;
      });
      if (windows_.size() >= max_keys) windows_.erase(windows_.begin());
    }
    it = windows_.emplace(std::string(key), window{now}).first;
  }
  window& w = it->second;
  if (now - w.start >= interval_) {
    w.start = now;
    w.lines = 0;
  }
  if (w.lines >= lines_) {
    ++w.suppressed;
    return {};
  }
  ++w.lines;
  return {true, std::exchange(w.suppressed, 0)};
}

}  // namespace p2pfaas::net
