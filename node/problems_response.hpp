#pragma once

// Error answers that list problems with what a client sent. However much a client sends wrong, the
// answer stays small: it names at most config::max_listed_problems problems, each cut short, and
// then says how many more there were. Every handler that lists problems goes through here.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/json_input.hpp"
#include "net/http.hpp"

namespace p2pfaas::node {

// A listed problem is cut to this many bytes: messages quote client input already cut short, but
// a path or a key in a message may hold a client's key as it came.
inline constexpr std::size_t max_problem_chars = 320;

// Problems found in one request: keeps the first config::max_listed_problems, counts the rest.
class problem_list {
 public:
  void add(std::string_view text);
  // "path: message", the path cut shorter than the message (a long one holds a client's key).
  void add(const config::problem& problem);
  // Problems a reader found but did not keep: counted in "and N more".
  void add_unlisted(std::size_t count) { count_ += count; }

  bool empty() const { return count_ == 0; }
  std::size_t size() const { return count_; }
  const std::vector<std::string>& listed() const { return listed_; }
  // "a; b; c", then "; and N more" when there were more than were listed.
  std::string message() const;

 private:
  std::vector<std::string> listed_;
  std::size_t count_ = 0;
};

// 400 {"code","message"} with the problems' message.
net::response problems_response(std::string_view code, const problem_list& problems);

// 400 {"code":"invalid_configuration","message":"a: x; b: y","problems":[{"path","message"}]}:
// each listed problem with the field it is about, and "more_problems": N when not all are listed.
net::response problems_response(const config::problems& problems);

}  // namespace p2pfaas::node
