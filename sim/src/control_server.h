#pragma once
// A tiny line-protocol TCP server on 127.0.0.1 (the simulator's control port). One thread
// multiplexes every connection with poll(); each complete line is handed to the handler, whose
// reply (one or more lines, each ending in '\n') is written back. Private to sim/.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "sharpeyes/core/result.h"

namespace sharpeyes::sim::detail {

class ControlServer {
 public:
  // Called on the control thread, one line at a time (without the newline).
  using Handler = std::function<std::string(std::string_view line)>;

  ~ControlServer();
  // Binds address:port (0 = any free port) and starts the thread.
  core::Result<void> start(const std::string& address, uint16_t port, Handler handler);
  void stop();
  uint16_t port() const { return port_; }

 private:
  void run();

  Handler handler_;
  int listenFd_ = -1;
  int wakeFd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace sharpeyes::sim::detail
