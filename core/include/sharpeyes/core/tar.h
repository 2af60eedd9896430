#pragma once
// A minimal POSIX ustar writer: enough for evidence packages that any `tar` lists and extracts.
// Names up to 99 bytes, regular files only. Not thread-safe; one writer per file.

#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>

#include "sharpeyes/core/result.h"

namespace sharpeyes::core {

class TarWriter {
 public:
  explicit TarWriter(const std::string& path);
  bool ok() const { return static_cast<bool>(out_); }
  // kInvalidArgument for a name too long for ustar; kIo when writing fails.
  Result<void> add(const std::string& name, std::string_view data);
  // Streams a file from disk (clips can be large) without holding it in memory.
  Result<void> addFile(const std::string& name, const std::string& sourcePath);
  // Writes the end-of-archive blocks and closes the file.
  Result<void> finish();

 private:
  Result<void> header(const std::string& name, uint64_t size);
  void pad(uint64_t size);

  std::string path_;
  std::ofstream out_;
};

}  // namespace sharpeyes::core
