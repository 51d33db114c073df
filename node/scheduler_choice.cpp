#include "node/scheduler_choice.hpp"

#include "config/json_input.hpp"

namespace p2pfaas::node {

scheduler_choice read_scheduler_choice(std::string_view body) {
  scheduler_choice out;
  auto refuse = [&out](std::string code, std::string message) {
    out.code = std::move(code);
    out.message = std::move(message);
    return out;
  };
  std::string error;
  const std::optional<nlohmann::json> doc = config::parse_json_input(body, error);
  if (!doc) return refuse("bad_json", "the body is " + error);
  if (!doc->is_object() || !doc->contains("name")) {
    return refuse("invalid_scheduler",
                  R"(the body must be {"name": "<policy>", "parameters": ["<string>", ...]})");
  }
  for (const auto& [key, value] : doc->items()) {
    if (key != "name" && key != "parameters") {
      return refuse("invalid_scheduler", "unknown key " + config::quote_input(key) +
                                             " (a scheduler is {\"name\", \"parameters\"})");
    }
  }
  out.patch = {{"scheduler", {{"name", doc->at("name")}}}};
  out.patch["scheduler"]["parameters"] =
      doc->contains("parameters") ? doc->at("parameters") : nlohmann::json::array();
  return out;
}

}  // namespace p2pfaas::node
