#include "config/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace p2pfaas::config {

std::string write_file_atomically(const std::filesystem::path& target, std::string_view content) {
  const std::filesystem::path temp = target.string() + ".tmp";
  auto failed = [&](const char* what) {
    const std::string why = std::strerror(errno);
    ::unlink(temp.c_str());
    return std::string("cannot write ") + target.string() + " (" + what + ": " + why + ")";
  };
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return failed("open");
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return failed("write");
    }
    done += static_cast<std::size_t>(n);
  }
  // Flushed before the rename, so a crash leaves the old file or the new one, never a torn one.
  if (::fsync(fd) != 0) {
    ::close(fd);
    return failed("fsync");
  }
  ::close(fd);
  if (::rename(temp.c_str(), target.c_str()) != 0) return failed("rename");
  const std::filesystem::path dir_path =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  if (int dir = ::open(dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return {};
}

}  // namespace p2pfaas::config
