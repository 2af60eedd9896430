#include "fs_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace sharpeyes::storage::detail {

core::Error errnoError(int err, const std::string& what) {
  core::ErrorCode code = core::ErrorCode::kIo;
  if (err == ENOSPC || err == EDQUOT) code = core::ErrorCode::kResourceExhausted;
  if (err == ENOENT) code = core::ErrorCode::kNotFound;
  if (err == EACCES || err == EPERM || err == EROFS) code = core::ErrorCode::kPermissionDenied;
  return core::makeError(code, what + ": " + std::strerror(err));
}

namespace {
core::Result<void> syncFd(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return errnoError(errno, "open " + path);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return errnoError(err, "fsync " + path);
  return {};
}
}  // namespace

core::Result<void> fsyncPath(const std::string& path) {
  return syncFd(path, O_RDONLY);
}

core::Result<void> fsyncDir(const std::string& dir) {
  return syncFd(dir.empty() ? "." : dir, O_RDONLY | O_DIRECTORY);
}

core::Result<void> durableRename(const std::string& from, const std::string& to) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(fs::path(to).parent_path(), ec);
  if (ec) return errnoError(ec.value(), "mkdir " + fs::path(to).parent_path().string());
  if (std::rename(from.c_str(), to.c_str()) != 0) {
    return errnoError(errno, "rename " + from + " -> " + to);
  }
  auto a = fsyncDir(fs::path(to).parent_path().string());
  if (!a) return a;
  return fsyncDir(fs::path(from).parent_path().string());
}

core::Result<void> durableUnlink(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errnoError(errno, "unlink " + path);
  auto r = fsyncDir(std::filesystem::path(path).parent_path().string());
  if (!r && r.error().code == core::ErrorCode::kNotFound) return {};  // the directory went too
  return r;
}

}  // namespace sharpeyes::storage::detail
