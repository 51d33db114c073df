// Every reader of JSON parameters from outside the node: the bounded parser itself, each
// built-in's parameter reader, the scheduler choice, the learner's parameters, weights and
// training batch, and a config patch. The first byte picks the reader (and, for the built-ins,
// whether the body is declared JSON); the rest is the JSON text. Nothing may crash (nesting is
// what used to), anything nested deeper than the limit must be refused, and a refusal must be a
// small {"code","message"} whatever the size of the input.
#include <array>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "config/json_input.hpp"
#include "learner/agent.hpp"
#include "node/learner_service.hpp"
#include "node/problems_response.hpp"
#include "node/scheduler_choice.hpp"
#include "scheduler/policy_registry.hpp"
#include "workloads/builtins.hpp"

namespace {

using json = nlohmann::json;
namespace config = p2pfaas::config;
namespace node = p2pfaas::node;

// What an answer may hold at most: 20 problems of max_problem_chars (and "..."), separators, and
// "and N more".
constexpr std::size_t max_message_chars =
    config::max_listed_problems * (node::max_problem_chars + 5) + 64;
constexpr std::size_t max_builtin_message_chars = 512;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

bool too_deep(std::string_view text) {
  return config::json_nesting_depth(text, config::max_json_depth) > config::max_json_depth;
}

// A refusal: 4xx with {"code","message"}, the message bounded, any problem list too.
void check_refusal(int status, const std::string& body, std::size_t max_chars) {
  check(status >= 400 && status < 500);
  const json answer = json::parse(body, nullptr, false);
  check(answer.is_object());
  check(answer.contains("code") && answer["code"].is_string());
  check(answer.contains("message") && answer["message"].is_string());
  const auto& message = answer["message"].get_ref<const std::string&>();
  check(!message.empty() && message.size() <= max_chars);
  if (answer.contains("problems")) {
    check(answer["problems"].is_array() &&
          answer["problems"].size() <= config::max_listed_problems);
  }
}

void check_refusal(const p2pfaas::net::response& res) {
  check_refusal(static_cast<int>(res.result_int()), res.body(), max_message_chars);
}

// A refusal of a body nested too deep says so.
void check_depth_refusal(const p2pfaas::net::response& res) {
  check_refusal(res);
  check(res.body().find("nested deeper than") != std::string::npos);
}

// A body the learner endpoints refuse before reading it: not JSON, or nested too deep.
void check_body_refusal(std::string_view text, const p2pfaas::net::response& res) {
  if (too_deep(text)) {
    check_depth_refusal(res);
  } else {
    check_refusal(res);
  }
}

const config::config& base() {
  static const config::config value = [] {
    config::config c = config::defaults();
    c.node.id = "fuzz";
    return c;
  }();
  return value;
}

void fuzz_parser(std::string_view text) {
  std::string error;
  const auto value = config::parse_json_input(text, error);
  if (!value) {
    check(error == "not valid JSON" ||
          error == "JSON nested deeper than " + std::to_string(config::max_json_depth) + " levels");
    return;
  }
  check(!too_deep(text));
  const std::string shown = config::describe_json(*value);
  check(shown.size() <= 80 + 64);
  (void)json(shown).dump();  // valid UTF-8: the strict handler would throw
}

void fuzz_builtin(const char* function, bool declared_json, std::string_view text) {
  p2pfaas::workloads::invocation call;
  call.function = function;
  call.payload = std::string(text);
  if (declared_json) call.content_type = "application/json";
  const auto refused = p2pfaas::workloads::check_builtin_parameters(call, 64);
  const bool payload_only = std::string_view(function) == "echo";
  if (!refused) {
    check(payload_only || !declared_json || !too_deep(text));
    return;
  }
  check(!payload_only);
  check_refusal(refused->status, refused->body, max_builtin_message_chars);
}

void fuzz_scheduler_choice(std::string_view text) {
  node::scheduler_choice choice = node::read_scheduler_choice(text);
  if (!choice.ok()) {
    check(!choice.message.empty() && choice.message.size() <= max_message_chars);
    check(choice.code == "bad_json" || choice.code == "invalid_scheduler");
    return;
  }
  check(!too_deep(text));
  config::loaded patched = config::apply_patch(base(), choice.patch);
  if (!patched.ok()) {
    check_refusal(node::problems_response(patched.errors));
    return;
  }
  // The node builds the policy next: its refusal quotes the client's strings too.
  static const p2pfaas::scheduler::policy_registry policies = [] {
    p2pfaas::scheduler::policy_registry r;
    p2pfaas::scheduler::register_builtin_policies(r);
    return r;
  }();
  static const p2pfaas::scheduler::policy_dependencies dependencies{
      [] { return std::uint64_t{4}; },
      std::make_shared<p2pfaas::learner::agent>(config::learner_section{},
                                                [] { return std::uint64_t{4}; })};
  const auto built = policies.build(patched.value.scheduler.name,
                                    patched.value.scheduler.parameters, dependencies);
  if (!built.built) check(built.error.size() <= 2 * max_message_chars);
}

void fuzz_learner_parameters(std::string_view text) {
  const auto doc = node::read_json_body(text);
  if (!doc.value) return check_body_refusal(text, doc.refused);
  check(!too_deep(text));
  const auto patch = node::read_learner_parameters(*doc.value);
  if (!patch.value) return check_refusal(patch.refused);
  config::loaded patched = config::apply_patch(base(), *patch.value);
  if (!patched.ok()) check_refusal(node::problems_response(patched.errors));
}

void fuzz_learner_weights(std::string_view text) {
  const auto doc = node::read_json_body(text);
  if (!doc.value) return check_body_refusal(text, doc.refused);
  static const config::learner_section parameters{};
  const auto table = node::read_learner_weights(*doc.value, parameters);
  if (!table.value) check_refusal(table.refused);
}

void fuzz_train_batch(std::string_view text) {
  const auto doc = node::read_json_body(text);
  if (!doc.value) return check_body_refusal(text, doc.refused);
  const auto batch = node::read_experience_batch(*doc.value, 3, 6);
  if (!batch.value) return check_refusal(batch.refused);
  check(!batch.value->empty());
  for (const auto& e : *batch.value) check(e.at.own_load < 3 && e.at.peer_load < 6);
}

void fuzz_config_patch(std::string_view text) {
  std::string error;
  const auto patch = config::parse_json_input(text, error);
  if (!patch) return;
  config::loaded patched = config::apply_patch(base(), *patch);
  if (!patched.ok()) check_refusal(node::problems_response(patched.errors));
}

constexpr std::array<const char*, 6> builtins{"compute", "sleep", "memory", "io", "verify", "echo"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t selector = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  // 0 parser, 1..6 built-ins declared JSON, 7..12 the same undeclared, 13.. the others.
  switch (selector % 18) {
    case 0:
      fuzz_parser(text);
      break;
    case 1:
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
      fuzz_builtin(builtins[selector % 18 - 1], true, text);
      break;
    case 7:
    case 8:
    case 9:
    case 10:
    case 11:
    case 12:
      fuzz_builtin(builtins[selector % 18 - 7], false, text);
      break;
    case 13:
      fuzz_scheduler_choice(text);
      break;
    case 14:
      fuzz_learner_parameters(text);
      break;
    case 15:
      fuzz_learner_weights(text);
      break;
    case 16:
      fuzz_train_batch(text);
      break;
    case 17:
      fuzz_config_patch(text);
      break;
  }
  return 0;
}
