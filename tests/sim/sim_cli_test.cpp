// `sharpeyes sim` as a process: prints URLs and "ready", serves, stops cleanly on SIGTERM/SIGINT;
// bad arguments exit with 2.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "rtsp_probe.h"

namespace sharpeyes::sim {
namespace {

using namespace std::chrono_literals;

class Child {
 public:
  explicit Child(std::vector<std::string> args) {
    int out[2];
    EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(SHARPEYES_BINARY));
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(SHARPEYES_BINARY, argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    fd_ = out[0];
  }
  ~Child() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) ::close(fd_);
  }

  // Reads stdout until a line starting with `prefix` (or EOF / deadline).
  std::optional<std::string> waitLine(const std::string& prefix,
                                      std::chrono::seconds timeout = 120s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      size_t nl;
      while ((nl = buf_.find('\n')) != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        lines_.push_back(line);
        if (line.rfind(prefix, 0) == 0) return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char tmp[4096];
      const ssize_t n = ::read(fd_, tmp, sizeof tmp);
      if (n <= 0) return std::nullopt;
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }

  // Exit code, or nullopt if still running at the deadline.
  std::optional<int> waitExit(std::chrono::seconds timeout = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int st = 0;
      const pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return status_;
      }
      // Polling a child's exit has no event to wait on short of SIGCHLD plumbing.
      std::this_thread::sleep_for(20ms);
    }
    return std::nullopt;
  }

  void signal(int sig) { ::kill(pid_, sig); }
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  std::string buf_;
  std::vector<std::string> lines_;
  std::optional<int> status_;
};

// The "camNN <main> <sub>" line printed before "ready".
std::string cameraLine(const Child& sim, const std::string& name) {
  for (const auto& l : sim.lines()) {
    if (l.rfind(name + " ", 0) == 0) return l;
  }
  return {};
}

std::vector<std::string> baseArgs() {
  // Same scene/loop as sim_server_test's default options: the cache is shared, nothing encodes.
  return {"sim",
          "--cameras",
          "2",
          "--port",
          "0",
          "--control-port",
          "0",
          "--scenes",
          "1",
          "--loop-seconds",
          "4",
          "--cache-dir",
          SIM_TEST_CACHE_DIR};
}

TEST(SimCli, PrintsUrlsServesAndStopsOnSigterm) {
  Child sim(baseArgs());
  const auto ready = sim.waitLine("ready ");
  ASSERT_TRUE(ready) << "no ready line";
  const std::string first = cameraLine(sim, "cam01");
  ASSERT_EQ(first.rfind("cam01 rtsp://127.0.0.1:", 0), 0u) << first;
  EXPECT_EQ(cameraLine(sim, "cam02").rfind("cam02 rtsp://127.0.0.1:", 0), 0u);
  const std::string mainUrl = first.substr(6, first.find(' ', 6) - 6);
  const std::string subUrl = first.substr(first.rfind(' ') + 1);
  EXPECT_TRUE(mainUrl.ends_with("/cam01/main"));
  EXPECT_TRUE(subUrl.ends_with("/cam01/sub"));
  {
    testing::RtspProbe probe({subUrl});
    ASSERT_TRUE(probe.waitFrames(10)) << probe.endReason();
  }
  sim.signal(SIGTERM);
  const auto code = sim.waitExit();
  ASSERT_TRUE(code) << "sim did not stop on SIGTERM";
  EXPECT_EQ(*code, 0);
}

TEST(SimCli, StopsOnSigintWithAClientConnected) {
  Child sim(baseArgs());
  ASSERT_TRUE(sim.waitLine("ready "));
  const std::string first = cameraLine(sim, "cam01");
  ASSERT_FALSE(first.empty());
  testing::RtspProbe probe({first.substr(first.rfind(' ') + 1)});
  ASSERT_TRUE(probe.waitFrames(5));
  sim.signal(SIGINT);
  const auto code = sim.waitExit();
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0);
}

TEST(SimCli, BadArgumentsExitWithTwo) {
  {
    Child sim({"sim", "--cameras", "0"});
    const auto code = sim.waitExit();
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 2);
  }
  {
    ::unsetenv("SHARPEYES_SIM_TEST_NO_SUCH_VAR");
    auto args = baseArgs();
    args.insert(args.end(),
                {"--user", "admin", "--password-env", "SHARPEYES_SIM_TEST_NO_SUCH_VAR"});
    Child sim(args);
    const auto code = sim.waitExit();
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 2);
  }
  {
    auto args = baseArgs();
    args.insert(args.end(), {"--ptz", "7"});
    Child sim(args);
    const auto code = sim.waitExit();
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 2);
  }
}

}  // namespace
}  // namespace sharpeyes::sim
