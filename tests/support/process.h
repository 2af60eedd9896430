#pragma once
// Child processes for integration tests: start the built `sharpeyes` binary with arguments,
// capture its output to files, wait for a line, signal it, reap it. Header-only on purpose so
// every test folder can use it without another library.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace sharpeyes::testing {

// Polls `condition` every 50 ms until it holds or `timeout` passes. Returns whether it held.
// This is how tests wait on an observable event of another process (a log line, a file, an HTTP
// answer) that offers nothing to block on.
inline bool waitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

inline std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { kill(SIGKILL); }

  // stdout and stderr go to `logPrefix`.out / .err. `env` entries ("NAME=value") are added to
  // this process's environment, replacing an inherited NAME.
  bool start(const std::string& binary, const std::vector<std::string>& args,
             const std::string& logPrefix, const std::vector<std::string>& env = {}) {
    outPath_ = logPrefix + ".out";
    errPath_ = logPrefix + ".err";
    // Everything the child needs is made before fork: the tests' processes run threads (the
    // simulator's, GStreamer's) that may hold a lock malloc or putenv needs at the moment of the
    // fork, and the child may only call async-signal-safe functions until it execs.
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<std::string> environment;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry(*e);
      const auto name = entry.substr(0, entry.find('=') + 1);
      const bool replaced = std::any_of(env.begin(), env.end(), [&](const std::string& x) {
        return x.compare(0, name.size(), name) == 0;
      });
      if (!replaced) environment.push_back(entry);
    }
    environment.insert(environment.end(), env.begin(), env.end());
    std::vector<char*> envp;
    for (auto& e : environment) envp.push_back(e.data());
    envp.push_back(nullptr);
    // The logs are emptied here, not in the child: a wait for output that starts right after
    // start() must never read what an earlier process left under the same prefix.
    const int out = ::open(outPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const int err = ::open(errPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    pid_ = out >= 0 && err >= 0 ? ::fork() : -1;
    if (pid_ == 0) {
      ::dup2(out, STDOUT_FILENO);
      ::dup2(err, STDERR_FILENO);
      ::execve(binary.c_str(), argv.data(), envp.data());
      ::_exit(127);
    }
    if (out >= 0) ::close(out);
    if (err >= 0) ::close(err);
    return pid_ > 0;
  }

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  std::string out() const { return readFile(outPath_); }
  std::string err() const { return readFile(errPath_); }

  // Waits for `text` in stdout or stderr.
  bool waitForOutput(const std::string& text, std::chrono::milliseconds timeout) const {
    return waitFor(
        [&] {
          return out().find(text) != std::string::npos || err().find(text) != std::string::npos;
        },
        timeout);
  }

  void kill(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    if (sig == SIGKILL) wait(std::chrono::seconds(10));
  }

  // Reaps the child; its exit code (128+signal when killed), or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return exitCode_;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        exitCode_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return exitCode_;
      }
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

 private:
  pid_t pid_ = -1;
  std::optional<int> exitCode_;
  std::string outPath_, errPath_;
};

}  // namespace sharpeyes::testing
