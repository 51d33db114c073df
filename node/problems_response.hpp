#pragma once

#include "config/config.hpp"
#include "net/http.hpp"

namespace p2pfaas::node {

// 400 {"code":"invalid_configuration","message":"a: x; b: y","problems":[{"path","message"}]}:
// every problem, each with the field it is about.
net::response problems_response(const config::problems& problems);

}  // namespace p2pfaas::node
