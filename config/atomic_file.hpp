#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace p2pfaas::config {

// Replaces `target` with `content` so that a crash at any point leaves either the old file or the
// new one, never a torn one: writes a temp file beside it, fsyncs it, renames it over the target
// and fsyncs the directory. Returns "" on success, otherwise what failed and why.
std::string write_file_atomically(const std::filesystem::path& target, std::string_view content);

}  // namespace p2pfaas::config
