#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace p2pfaas::scheduler {

// Reads P2PFaaS's string parameters. Each reader returns nullopt and appends a message naming
// the parameter when the text is not acceptable.
class parameter_reader {
 public:
  parameter_reader(std::string_view policy, const std::vector<std::string>& values,
                   std::vector<std::string> names);

  // Fails when more values are given than the policy has parameters.
  bool check_count();
  bool present(std::size_t index) const { return index < values_.size(); }
  std::optional<bool> boolean(std::size_t index, bool fallback);
  std::optional<int> integer(std::size_t index, int fallback, int min, int max);
  // One of `allowed`, exactly as spelled there.
  std::optional<std::string> choice(std::size_t index, std::string fallback,
                                    const std::vector<std::string>& allowed);

  const std::vector<std::string>& errors() const { return errors_; }
  std::string error_text() const;

 private:
  std::string label(std::size_t index) const;
  std::string_view policy_;
  const std::vector<std::string>& values_;
  std::vector<std::string> names_;
  std::vector<std::string> errors_;
};

// Go's strconv.ParseBool, which P2PFaaS uses: 1, t, T, TRUE, true, True, 0, f, F, FALSE, ...
std::optional<bool> parse_go_bool(std::string_view text);

}  // namespace p2pfaas::scheduler
