// The learner's file (read from disk at start) and POST /learner/weights bodies: any bytes. What
// decodes must encode and decode again to the same snapshot, since the node saves what it loaded;
// an imported table must hold only states within the learner's buckets.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/json_input.hpp"
#include "learner/snapshot.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace p2pfaas::learner;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  decoded file = decode(text);
  if (file.value) {
    decoded again = decode(encode(*file.value));
    if (!again.value || !(again.value->parameters == file.value->parameters) ||
        again.value->table != file.value->table || again.value->next_eid != file.value->next_eid) {
      __builtin_trap();
    }
  } else if (file.error.empty()) {
    __builtin_trap();  // a refusal always says why
  }

  static const p2pfaas::config::learner_section parameters{};
  // As POST /learner/weights reads it: depth-limited.
  std::string error;
  const auto doc = p2pfaas::config::parse_json_input(text, error);
  if (!doc) return 0;
  table_result table = weights_from_json(*doc, parameters);
  if (table.table.has_value() == !table.errors.empty()) __builtin_trap();
  if (table.table) {
    const int own = static_cast<int>(parameters.own_load_buckets.size()) + 1;
    const int peer = static_cast<int>(parameters.peer_load_buckets.size()) + 1;
    for (const auto& [at, values] : *table.table) {
      if (at.own_load >= own || at.peer_load >= peer || at.task_type > max_task_type) {
        __builtin_trap();
      }
    }
  }
  return 0;
}
