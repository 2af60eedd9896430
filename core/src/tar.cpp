#include "sharpeyes/core/tar.h"

#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>

namespace sharpeyes::core {

TarWriter::TarWriter(const std::string& path)
    : path_(path), out_(path, std::ios::binary | std::ios::trunc) {}

Result<void> TarWriter::header(const std::string& name, uint64_t size) {
  if (name.empty() || name.size() > 99) {
    return makeError(ErrorCode::kInvalidArgument, "tar member name too long: " + name);
  }
  char h[512];
  std::memset(h, 0, sizeof h);
  std::memcpy(h, name.data(), name.size());
  std::snprintf(h + 100, 8, "%07o", 0644);
  std::snprintf(h + 108, 8, "%07o", 0);
  std::snprintf(h + 116, 8, "%07o", 0);
  std::snprintf(h + 124, 12, "%011llo", static_cast<unsigned long long>(size));
  std::snprintf(h + 136, 12, "%011llo", static_cast<unsigned long long>(std::time(nullptr)));
  h[156] = '0';
  std::memcpy(h + 257, "ustar", 6);
  std::memcpy(h + 263, "00", 2);
  std::snprintf(h + 265, 32, "sharpeyes");
  std::snprintf(h + 297, 32, "sharpeyes");
  // The checksum is computed with its own field read as spaces.
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(h + 148, 8, "%06o", sum);
  h[154] = '\0';
  h[155] = ' ';
  out_.write(h, 512);
  if (!out_) return makeError(ErrorCode::kIo, "cannot write " + path_);
  return okResult();
}

void TarWriter::pad(uint64_t size) {
  static const char zeros[512] = {};
  const size_t n = static_cast<size_t>((512 - size % 512) % 512);
  out_.write(zeros, static_cast<std::streamsize>(n));
}

Result<void> TarWriter::add(const std::string& name, std::string_view data) {
  if (auto r = header(name, data.size()); !r) return r;
  out_.write(data.data(), static_cast<std::streamsize>(data.size()));
  pad(data.size());
  if (!out_) return makeError(ErrorCode::kIo, "cannot write " + path_);
  return okResult();
}

Result<void> TarWriter::addFile(const std::string& name, const std::string& sourcePath) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(sourcePath, ec);
  if (ec) return makeError(ErrorCode::kIo, "cannot read " + sourcePath + ": " + ec.message());
  std::ifstream in(sourcePath, std::ios::binary);
  if (!in) return makeError(ErrorCode::kIo, "cannot open " + sourcePath);
  if (auto r = header(name, size); !r) return r;
  char buf[64 * 1024];
  uint64_t copied = 0;
  while (copied < size) {
    in.read(buf, static_cast<std::streamsize>(std::min<uint64_t>(sizeof buf, size - copied)));
    const auto got = in.gcount();
    if (got <= 0) break;
    out_.write(buf, got);
    copied += static_cast<uint64_t>(got);
  }
  // A file that shrank under us would leave a corrupt archive: refuse rather than pad it.
  if (copied != size) {
    return makeError(ErrorCode::kIo, sourcePath + " changed while it was archived");
  }
  pad(size);
  if (!out_) return makeError(ErrorCode::kIo, "cannot write " + path_);
  return okResult();
}

Result<void> TarWriter::finish() {
  static const char zeros[1024] = {};
  out_.write(zeros, sizeof zeros);
  out_.close();
  if (out_.fail()) return makeError(ErrorCode::kIo, "cannot finish " + path_);
  return okResult();
}

}  // namespace sharpeyes::core
