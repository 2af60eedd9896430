// The ustar writer is checked with the system's own tar: what we write, tar must list and
// extract byte for byte.
#include "sharpeyes/core/tar.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "sharpeyes/core/util.h"

namespace sharpeyes::core {
namespace {

namespace fs = std::filesystem;

std::string run(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  std::string out;
  char buf[4096];
  size_t n = 0;
  while (pipe && (n = fread(buf, 1, sizeof buf, pipe.get())) > 0) out.append(buf, n);
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

class TarTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sharpeyes-tar-" + newId());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(TarTest, SystemTarExtractsWhatWeWrote) {
  // A file spanning several 64 KiB copy buffers and not a multiple of 512 bytes.
  std::string big(300 * 1024 + 17, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131) % 251);
  { std::ofstream(dir_ / "big.bin", std::ios::binary) << big; }

  TarWriter tar((dir_ / "out.tar").string());
  ASSERT_TRUE(tar.ok());
  ASSERT_TRUE(tar.add("manifest.json", "{\"a\":1}\n").ok());
  ASSERT_TRUE(tar.add("empty.txt", "").ok());
  ASSERT_TRUE(tar.addFile("clips/c1/clip.mp4", (dir_ / "big.bin").string()).ok());
  ASSERT_TRUE(tar.finish().ok());

  const std::string listing = run("tar -tf " + (dir_ / "out.tar").string());
  EXPECT_EQ(listing, "manifest.json\nempty.txt\nclips/c1/clip.mp4\n");
  fs::create_directories(dir_ / "x");
  ASSERT_EQ(
      std::system(
          ("tar -xf " + (dir_ / "out.tar").string() + " -C " + (dir_ / "x").string()).c_str()),
      0);
  EXPECT_EQ(slurp(dir_ / "x" / "manifest.json"), "{\"a\":1}\n");
  EXPECT_EQ(slurp(dir_ / "x" / "empty.txt"), "");
  EXPECT_EQ(slurp(dir_ / "x" / "clips" / "c1" / "clip.mp4"), big);
}

TEST_F(TarTest, RefusesWhatUstarCannotHold) {
  TarWriter tar((dir_ / "out.tar").string());
  auto r = tar.add(std::string(120, 'n'), "x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  auto missing = tar.addFile("a", (dir_ / "does-not-exist").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kIo);
}

}  // namespace
}  // namespace sharpeyes::core
