// Request targets as a client sends them: split into path and query, the query decoded, the path
// routed with percent-decoded parameters. Nothing may crash, and decoding must keep its promises.
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "net/http.hpp"
#include "net/router.hpp"

namespace {

p2pfaas::net::router& routes() {
  static p2pfaas::net::router r = [] {
    p2pfaas::net::router made;
    auto nothing =
        [](p2pfaas::net::request_context&) -> boost::asio::awaitable<p2pfaas::net::response> {
      co_return p2pfaas::net::response{};
    };
    made.add({}, "/function/{fn}/{rest...}", nothing);
    made.add({p2pfaas::net::http::verb::get}, "/health", nothing);
    made.add({p2pfaas::net::http::verb::get}, "/items/{id}/detail", nothing);
    return made;
  }();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace p2pfaas::net;
  const std::string_view target(reinterpret_cast<const char*>(data), size);
  auto [path, query] = split_target(target);
  if (path.size() + query.size() > target.size()) __builtin_trap();

  query_list pairs;
  if (parse_query(query, pairs)) {
    for (const auto& [key, value] : pairs) {
      // Decoding never grows the text.
      if (key.size() + value.size() > query.size()) __builtin_trap();
    }
  }
  std::string decoded;
  if (percent_decode(path, decoded) && decoded.size() > path.size()) __builtin_trap();

  for (auto method : {http::verb::get, http::verb::post}) {
    auto match = routes().find(method, path);
    if (match.status == router::match_status::found && match.target == nullptr) __builtin_trap();
  }
  return 0;
}
