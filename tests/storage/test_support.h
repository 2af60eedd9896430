#pragma once
// Shared helpers for the storage tests: temporary directories, generated media, backends.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "sharpeyes/core/util.h"

namespace sharpeyes::storage::testing {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "sharpeyes-storage-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Encodes `frames` frames of a test pattern (25 fps, 1 s GOP) into a fragmented MP4 with 0.5 s
// fragments, the form the recorder keeps. Returns true on success.
inline bool makeFragmentedMp4(const fs::path& out, int frames, int width = 160, int height = 120) {
  fs::create_directories(out.parent_path());
  std::ostringstream cmd;
  cmd << "gst-launch-1.0 -q videotestsrc num-buffers=" << frames
      << " pattern=ball ! video/x-raw,width=" << width << ",height=" << height
      << ",framerate=25/1 ! x264enc key-int-max=25 speed-preset=ultrafast ! h264parse ! "
         "mp4mux fragment-duration=500 ! filesink location='"
      << out.string() << "' > /dev/null 2>&1";
  return std::system(cmd.str().c_str()) == 0 && fs::exists(out) && fs::file_size(out) > 0;
}

inline void truncateTo(const fs::path& p, uintmax_t size) {
  fs::resize_file(p, size);
}

inline void writeBytes(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

inline std::string readAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The PostgreSQL server the CTest fixture started (tests/storage/pg_fixture.sh), as a libpq
// conninfo; empty when the test runs outside CTest.
inline std::string postgresConninfo() {
  if (const char* env = std::getenv("SHARPEYES_TEST_PG")) return env;
  const char* file = std::getenv("SHARPEYES_TEST_PG_FILE");
  if (file == nullptr) return {};
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace sharpeyes::storage::testing
