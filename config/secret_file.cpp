#include "config/secret_file.hpp"

#include <sys/stat.h>

#include <cctype>
#include <cstdio>
#include <fstream>

namespace p2pfaas::config {

std::optional<std::string> read_secret_file(const std::filesystem::path& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read " + path.string();
    return std::nullopt;
  }
  // One byte more than allowed tells "too large" from "exactly the limit" without reading a
  // huge file (or /dev/zero) whole.
  std::string text(max_secret_file_bytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > max_secret_file_bytes) {
    error = path.string() + " is larger than " + std::to_string(max_secret_file_bytes) +
            " bytes: not a secret file";
    return std::nullopt;
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (text.empty()) {
    error = path.string() + " is empty";
    return std::nullopt;
  }
  return text;
}

std::string admin_token_problem(std::string_view token) {
  if (token.size() < min_admin_token_chars) {
    return "the token is " + std::to_string(token.size()) + " characters, need at least " +
           std::to_string(min_admin_token_chars) + " (e.g. openssl rand -hex 32)";
  }
  if (token.size() > max_admin_token_chars) {
    return "the token is longer than " + std::to_string(max_admin_token_chars) + " characters";
  }
  for (std::size_t i = 0; i < token.size(); ++i) {
    const auto c = static_cast<unsigned char>(token[i]);
    if (c < 0x21 || c > 0x7e) {
      return "the token has a space, line break or non-ASCII byte at character " +
             std::to_string(i + 1) + ": it must fit in one Authorization header";
    }
  }
  return {};
}

std::optional<std::string> read_admin_token(const std::filesystem::path& path, std::string& error) {
  auto token = read_secret_file(path, error);
  if (!token) return std::nullopt;
  if (auto problem = admin_token_problem(*token); !problem.empty()) {
    error = path.string() + ": " + problem;
    return std::nullopt;
  }
  return token;
}

std::string loose_permissions_warning(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || (st.st_mode & (S_IRWXG | S_IRWXO)) == 0) return {};
  char mode[8];
  std::snprintf(mode, sizeof mode, "%o", static_cast<unsigned>(st.st_mode & 0777));
  return path.string() + " is accessible by group or others (mode " + mode + "): chmod 600 it";
}

}  // namespace p2pfaas::config
