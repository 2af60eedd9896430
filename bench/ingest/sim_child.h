#pragma once
// The camera simulator in a child process of an ingest bench, so that the bench's own CPU figures
// (getrusage of itself) hold only what it measures and the simulator's are read apart. The child is
// the bench program run again with "--serve-child FD CAMERAS SCENES CACHE_DIR" (exec, not just
// fork: the bench already runs GStreamer threads, and GLib in a forked copy of a threaded process
// is not safe). Call serveSimulatorIfChild first thing in main.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "sharpeyes/sim/sim.h"

namespace sharpeyes::bench {

// In the child: serves until killed and never returns. In the bench itself: returns at once.
inline void serveSimulatorIfChild(int argc, char** argv) {
  if (argc != 6 || std::strcmp(argv[1], "--serve-child") != 0) return;
  const int readyFd = std::atoi(argv[2]);
  sim::SimOptions o;
  o.cameras = std::atoi(argv[3]);
  o.distinctScenes = std::atoi(argv[4]);
  o.cacheDir = argv[5];
  auto started = sim::SimServer::start(o);
  if (!started.ok()) {
    std::fprintf(stderr, "simulator: %s\n", started.error().describe().c_str());
    _exit(1);
  }
  const int port = started.value()->rtspPort();
  if (write(readyFd, &port, sizeof port) != sizeof port) _exit(1);
  close(readyFd);
  while (true) pause();
}

// Starts the child with `cameras` cameras showing `scenes` distinct scenes (encoded once into
// `cacheDir`); returns its RTSP port once it serves, 0 when it did not start. `pid`: the child.
inline int startSimulator(int cameras, int scenes, const std::string& cacheDir, pid_t& pid) {
  int fds[2];
  if (pipe(fds) != 0) return 0;
  pid = fork();
  if (pid == 0) {
    close(fds[0]);
    const std::string fd = std::to_string(fds[1]);
    const std::string n = std::to_string(cameras);
    const std::string k = std::to_string(scenes);
    execl("/proc/self/exe", "sim-child", "--serve-child", fd.c_str(), n.c_str(), k.c_str(),
          cacheDir.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  int port = 0;
  if (read(fds[0], &port, sizeof port) != sizeof port) port = 0;
  close(fds[0]);
  return port;
}

inline void stopSimulator(pid_t pid) {
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

}  // namespace sharpeyes::bench
