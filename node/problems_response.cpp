#include "node/problems_response.hpp"

#include <nlohmann/json.hpp>

namespace p2pfaas::node {
namespace {

// A path longer than this holds a client's key, not a field name.
constexpr std::size_t max_path_chars = 100;

config::problem shortened(const config::problem& p) {
  return {config::cut_input(p.path, max_path_chars),
          config::cut_input(p.message, max_problem_chars - max_path_chars - 10)};
}

}  // namespace

void problem_list::add(std::string_view text) {
  if (++count_ <= config::max_listed_problems) {
    listed_.push_back(config::cut_input(text, max_problem_chars));
  }
}

void problem_list::add(const config::problem& problem) {
  if (count_ < config::max_listed_problems) {
    add(shortened(problem).to_string());
  } else {
    ++count_;
  }
}

std::string problem_list::message() const {
  std::string text;
  for (const auto& p : listed_) text += (text.empty() ? "" : "; ") + p;
  if (count_ > listed_.size()) {
    text += (text.empty() ? "" : "; ") + std::string("and ") +
            std::to_string(count_ - listed_.size()) + " more";
  }
  return text;
}

net::response problems_response(std::string_view code, const problem_list& problems) {
  return net::json_error(net::http::status::bad_request, code, problems.message());
}

net::response problems_response(const config::problems& problems) {
  nlohmann::json list = nlohmann::json::array();
  problem_list message;
  for (const auto& p : problems) {
    if (list.size() < config::max_listed_problems) {
      const config::problem shown = shortened(p);
      list.push_back({{"path", shown.path}, {"message", shown.message}});
    }
    message.add(p);
  }
  nlohmann::json body{
      {"code", "invalid_configuration"}, {"message", message.message()}, {"problems", list}};
  if (problems.size() > list.size()) body["more_problems"] = problems.size() - list.size();
  // Replace, not throw: a path holds a key as it was written, and only a key from a JSON body is
  // sure to be UTF-8.
  return net::json_response(net::http::status::bad_request,
                            body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace p2pfaas::node
