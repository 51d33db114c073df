#include "workloads/function.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>

namespace p2pfaas::workloads {

function_result error_result(int status, std::string_view code, std::string_view message) {
  const nlohmann::json body{{"code", code}, {"message", message}};
  // Messages may quote client input or exception text that is not valid UTF-8; an error answer
  // must never fail to serialise.
  return {status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
          "application/json"};
}

bool interruptible_sleep(std::stop_token stop, std::chrono::nanoseconds duration) {
  if (duration <= std::chrono::nanoseconds::zero()) return !stop.stop_requested();
  // steady_clock::now() + duration must not overflow inside wait_for.
  constexpr auto longest = std::chrono::hours(24 * 365);
  duration = std::min<std::chrono::nanoseconds>(duration, longest);
  std::mutex mutex;
  std::condition_variable_any cv;
  std::unique_lock lock(mutex);
  // Nothing else notifies this cv: the predicate stays false so only the deadline or the stop
  // request (which notifies through a stop_callback) ends the wait.
  cv.wait_for(lock, stop, duration, [] { return false; });
  return !stop.stop_requested();
}

}  // namespace p2pfaas::workloads
