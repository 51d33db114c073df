#include "node/problems_response.hpp"

#include <nlohmann/json.hpp>

namespace p2pfaas::node {

net::response problems_response(const config::problems& problems) {
  nlohmann::json list = nlohmann::json::array();
  std::string message;
  for (const auto& p : problems) {
    list.push_back({{"path", p.path}, {"message", p.message}});
    message += (message.empty() ? "" : "; ") + p.to_string();
  }
  nlohmann::json body{{"code", "invalid_configuration"}, {"message", message}, {"problems", list}};
  return net::json_response(net::http::status::bad_request, body.dump());
}

}  // namespace p2pfaas::node
