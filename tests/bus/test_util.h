#pragma once
// Helpers for the bus tests: temporary directories, events, waiting on conditions.

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "sharpeyes/core/event.h"
#include "sharpeyes/core/util.h"

namespace sharpeyes::bus::testing {

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() / ("sharpeyes-bus-" + core::newId());
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline core::Event makeEvent(const std::string& division, int severity,
                             core::EventType type = core::EventType::kIntrusion,
                             const std::string& camera = "cam-01") {
  core::Event e;
  e.id = core::newId();
  e.camera = core::CameraId::parse(camera).value();
  e.division = core::DivisionCode::parse(division).value();
  e.type = type;
  e.severity = severity;
  e.rule = "fence";
  e.objectClass = "person";
  e.start = core::processClock().now();
  e.clipStart = e.start;
  e.clipEnd = e.start;
  return e;
}

// Polls `pred` until it holds or `timeout` passes; true when it held. Waiting on a condition with
// a deadline, never a bare sleep.
inline bool waitFor(const std::function<bool()>& pred,
                    std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

}  // namespace sharpeyes::bus::testing
