// Crash safety of the recording format: a process recording a camera is killed with SIGKILL
// mid-segment; every finished segment must play on its own and the cut-off one must play up to
// its last complete fragment.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "rtsp_fixture.h"
#include "test_util.h"

namespace sharpeyes::ingest::testing {
namespace {

// Complete movie fragments (moof followed by a whole mdat) in a possibly cut-off fMP4 file.
int completeFragments(const std::filesystem::path& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return 0;
  std::fseek(f, 0, SEEK_END);
  const long end = std::ftell(f);
  long offset = 0;
  int n = 0;
  bool afterMoof = false;
  unsigned char h[8];
  while (std::fseek(f, offset, SEEK_SET) == 0 && std::fread(h, 1, 8, f) == 8) {
    const long size = (long{h[0]} << 24) | (long{h[1]} << 16) | (long{h[2]} << 8) | long{h[3]};
    if (size < 8 || offset + size > end) break;
    const std::string type(reinterpret_cast<char*>(h + 4), 4);
    if (type == "moof") afterMoof = true;
    if (type == "mdat" && afterMoof) {
      ++n;
      afterMoof = false;
    }
    offset += size;
  }
  std::fclose(f);
  return n;
}

// Runs only inside the child process started by the test below: records until killed.
TEST(IngestCrashChild, RecordUntilKilled) {
  const char* url = std::getenv("SHARPEYES_CRASH_URL");
  const char* dir = std::getenv("SHARPEYES_CRASH_DIR");
  if (!url || !dir) GTEST_SKIP() << "only run as the crash test's child";
  RecordingListener listener;
  auto m = IngestManager::create({}, listener);
  ASSERT_TRUE(m.ok());
  auto ingest = std::move(m).value();
  ASSERT_TRUE(ingest->addCamera(testCamera("crash", url, dir)).ok());
  // Wait for the SIGKILL (the parent gives up after 60 s).
  listener.waitFor([] { return false; }, 60s);
  std::_Exit(3);
}

TEST(IngestCrash, KillNineLosesAtMostTheLastFragment) {
  RtspFixture server;
  server.addMount("/c");
  TempDir dir;
  // Everything the child needs is prepared before fork: only exec runs in the child.
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  env.push_back("SHARPEYES_CRASH_URL=" + server.url("/c"));
  env.push_back("SHARPEYES_CRASH_DIR=" + dir.str());
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    execle("/proc/self/exe", "ingest_crash_test", "--gtest_filter=IngestCrashChild.*",
           static_cast<char*>(nullptr), envp.data());
    _exit(127);
  }
  // Wait until two segments are finished and the third has at least one complete fragment
  // (a moof after 2 s + 1.x s of recording), polling the directory with a deadline.
  namespace fs = std::filesystem;
  const auto files = [&] {
    std::vector<fs::path> v;
    std::error_code ec;
    for (auto& e : fs::recursive_directory_iterator(dir.path(), ec))
      if (e.path().extension() == ".mp4") v.push_back(e.path());
    std::sort(v.begin(), v.end());
    return v;
  };
  const auto deadline = std::chrono::steady_clock::now() + 40s;
  bool ready = false;
  while (!ready && std::chrono::steady_clock::now() < deadline) {
    const auto v = files();
    ready = v.size() >= 3 && completeFragments(v.back()) >= 1;
    if (!ready) std::this_thread::sleep_for(100ms);  // polling the file system, not a sync
  }
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(ready) << "the child did not record in time: " << files().size() << " files";
  ASSERT_TRUE(WIFSIGNALED(status));

  const auto v = files();
  ASSERT_GE(v.size(), 3u);
  for (size_t i = 0; i < v.size(); ++i) {
    const auto p = probeFile(v[i].string());
    SCOPED_TRACE(v[i].string());
    if (i + 1 < v.size()) {
      EXPECT_TRUE(p.ok) << p.output;
      if (i > 0) {
        EXPECT_NEAR(p.duration, 2.0, 0.1);
      }
    } else {
      // The segment being written: plays up to its last fragment (1 s fragments).
      EXPECT_GT(p.frames, 0) << p.output;
      EXPECT_EQ(p.codec, "h264");
    }
  }
}

}  // namespace
}  // namespace sharpeyes::ingest::testing
