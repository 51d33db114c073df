#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace p2pfaas::config {

// A token or key kept in a file of its own (admin.token_file, the bench's --admin-token-file):
// the whole text less trailing whitespace, so an editor's final newline is not part of it.
// nullopt, with `error` saying why, when the file cannot be read or holds nothing.
std::optional<std::string> read_secret_file(const std::filesystem::path& path, std::string& error);

}  // namespace p2pfaas::config
