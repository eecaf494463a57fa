// write_file_atomically (file_io.hpp).
#include <ember/runtime/file_io.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <ember/runtime/error.hpp>

namespace ember::runtime {

void write_file_atomically(const std::string& path, std::string_view bytes, std::string_view who) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  EMBER_CHECK(fd >= 0, who, ": cannot create '", tmp, "' to write '", path, "': ", std::strerror(errno));
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      ::close(fd);
      std::remove(tmp.c_str());
      EMBER_FAIL(who, ": writing '", tmp, "' for '", path, "' failed after ", written, " of ", bytes.size(),
                 " bytes: ", std::strerror(err));
    }
    written += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  const int sync_err = errno;
  const bool closed = ::close(fd) == 0;
  if (!synced || !closed) {
    const int err = !synced ? sync_err : errno;
    std::remove(tmp.c_str());
    EMBER_FAIL(who, ": could not flush '", tmp, "' for '", path, "': ", std::strerror(err));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    EMBER_FAIL(who, ": could not rename '", tmp, "' to '", path, "': ", std::strerror(err));
  }
}

}  // namespace ember::runtime
