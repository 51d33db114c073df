#pragma once

// Secrets kept in files of their own: the admin token (admin.token_file, the bench's
// --admin-token-file) and the rules a usable token follows, and the check that such a file is
// not open to other users. The cluster key's own format is read by net/cluster_key.

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace p2pfaas::config {

// The whole text less trailing whitespace, so an editor's final newline is not part of it.
// nullopt, with `error` saying why, when the file cannot be read, is larger than
// max_secret_file_bytes or holds nothing.
inline constexpr std::size_t max_secret_file_bytes = 64 * 1024;
std::optional<std::string> read_secret_file(const std::filesystem::path& path, std::string& error);

// An admin token must be guessable by nobody and sendable as `Authorization: Bearer <token>`:
// at least min_admin_token_chars visible ASCII characters (no spaces, no line breaks). "" when
// it is, else why not.
inline constexpr std::size_t min_admin_token_chars = 16;
inline constexpr std::size_t max_admin_token_chars = 4096;
std::string admin_token_problem(std::string_view token);

// read_secret_file, then admin_token_problem: the token, or nullopt with `error`.
std::optional<std::string> read_admin_token(const std::filesystem::path& path, std::string& error);

// "" when only the owner may read or write `path` (or it cannot be looked at), else a warning
// naming its mode: a secret others can read is no secret (ssh refuses such private keys).
std::string loose_permissions_warning(const std::filesystem::path& path);

}  // namespace p2pfaas::config
