#include "config/secret_file.hpp"

#include <cctype>
#include <fstream>
#include <iterator>

namespace p2pfaas::config {

std::optional<std::string> read_secret_file(const std::filesystem::path& path, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot read " + path.string();
    return std::nullopt;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (text.empty()) {
    error = path.string() + " is empty";
    return std::nullopt;
  }
  return text;
}

}  // namespace p2pfaas::config
