// Whole HTTP requests as any client may send them: the bytes go over a loopback connection to a
// real http_server (its request parser, RFC 9112 framing checks, limits and a router), and what
// comes back is checked. Nothing may crash or hang; the answer is a sequence of well-formed
// responses (interim 100s included) or nothing at all (a clean close); no answer after one that
// closed the connection; and never a 5xx, since every handler here succeeds: a 5xx could only be
// the server failing on the framing of the request itself.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "net/http_server.hpp"
#include "net/router.hpp"

namespace {

namespace asio = boost::asio;
using namespace p2pfaas::net;

// Handlers answer JSON only, so that a body never starts with "HTTP/": the checker can then tell
// a HEAD answer (Content-Length, no body) from one with a body without knowing the request.
asio::awaitable<response> describe(request_context& ctx) {
  co_return json_response(http::status::ok,
                          "{\"bytes\":" + std::to_string(ctx.req.body().size()) + "}");
}

struct harness {
  harness() {
    routes.add({}, "/echo", describe);
    routes.add({http::verb::get}, "/hello", describe);
    routes.add({}, "/function/{fn}/{rest...}", describe);
    server_limits limits;
    limits.max_body_bytes = 64 * 1024;
    limits.max_header_bytes = 4096;
    limits.read_timeout = std::chrono::seconds(2);
    limits.max_connections = 256;
    limits.body_budget_bytes = 256 * 1024 * 1024;
    server = std::make_unique<http_server>(io, routes, limits, 1);
    port = server->listen({asio::ip::make_address("127.0.0.1"), 0}).port();
    server->start();
    std::thread([this] { io.run(); }).detach();
  }

  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  router routes;
  std::unique_ptr<http_server> server;
  std::uint16_t port = 0;
};

// Sends `input`, half-closes, and reads until the server closes. Traps if it does not within
// the deadline: the server stalled on these bytes.
std::string exchange(std::uint16_t port, std::string_view input) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) __builtin_trap();
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) __builtin_trap();
  for (std::size_t sent = 0; sent < input.size();) {
    const auto n = ::send(fd, input.data() + sent, input.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server answered and closed before reading it all
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  char chunk[16384];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) __builtin_trap();
    const auto n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n == 0 || (n < 0 && errno == ECONNRESET)) break;
    if (n < 0) __builtin_trap();
    output.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return output;
}

void check_answers(std::string_view out) {
  bool closed = false;
  while (!out.empty()) {
    if (closed) __builtin_trap();  // bytes after an answer that closed the connection
    const auto end = out.find("\r\n\r\n");
    if (end == std::string_view::npos) __builtin_trap();  // a truncated or malformed header
    const std::string_view head = out.substr(0, end + 4);
    out.remove_prefix(head.size());

    http::response_parser<http::empty_body> parser;
    parser.skip(true);  // the header only; the body is measured below
    boost::beast::error_code ec;
    parser.put(asio::buffer(head.data(), head.size()), ec);
    if (ec || !parser.is_done()) __builtin_trap();
    const auto& res = parser.get();
    const unsigned status = res.result_int();
    if (status >= 500) __builtin_trap();
    if (status >= 100 && status < 200) continue;  // interim: the final answer follows

    const auto length_field = res[http::field::content_length];
    if (length_field.empty()) __builtin_trap();  // every answer of this server has one
    const std::size_t length = std::stoul(std::string(length_field));
    // An answer to HEAD has the length but not the body: what follows is the next answer.
    const bool body_follows = length > 0 && !out.empty() && !out.starts_with("HTTP/");
    if (body_follows) {
      if (out.size() < length || out.front() != '{') __builtin_trap();
      out.remove_prefix(length);
    }
    closed = !res.keep_alive();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Never destroyed: the fuzzer exits with the server still running on its thread.
  static harness* h = new harness;
  check_answers(exchange(h->port, {reinterpret_cast<const char*>(data), size}));
  return 0;
}
