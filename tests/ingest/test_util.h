#pragma once
// Shared helpers for the ingest integration tests: a Listener that records everything and lets
// a test wait for a condition with a deadline, camera configs with short timeouts, ffprobe.

#include <gtest/gtest.h>
#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sharpeyes/core/util.h"
#include "sharpeyes/ingest/ingest.h"

namespace sharpeyes::ingest::testing {

using namespace std::chrono_literals;

struct FrameSeen {
  std::string camera;
  int width = 0, height = 0, stride = 0;
  size_t size = 0;
  core::Duration mediaTime{};
  uint64_t sequence = 0;
  bool bgrSized = false;
};

class RecordingListener : public Listener {
 public:
  void onStateChanged(const CameraStatus& s) override {
    std::lock_guard lock(mutex_);
    states_[s.id.str()].push_back(s.state);
    changed_.notify_all();
  }
  void onSegmentClosed(const SegmentClosed& seg) override {
    std::lock_guard lock(mutex_);
    segments_[seg.camera.str()].push_back(seg);
    changed_.notify_all();
  }
  void onFrame(const core::Frame& f) override {
    FrameSeen seen{f.camera.str(),
                   f.width,
                   f.height,
                   f.stride,
                   f.size,
                   f.mediaTime,
                   f.sequence,
                   f.data != nullptr && f.size >= static_cast<size_t>(f.stride) * f.height &&
                       f.stride >= f.width * 3};
    std::lock_guard lock(mutex_);
    frames_[seen.camera].push_back(seen);
    changed_.notify_all();
  }

  // Waits until `pred` (called under the lock) holds; false on timeout.
  bool waitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, pred);
  }
  bool waitState(const std::string& cam, CameraState state, std::chrono::milliseconds timeout,
                 size_t after = 0) {
    return waitFor([&] { return stateIndexLocked(cam, state, after) >= 0; }, timeout);
  }
  // Index of the first `state` at or after position `after` (-1 if none). Takes the lock: the
  // camera's states keep coming from ingest threads meanwhile.
  int stateIndex(const std::string& cam, CameraState state, size_t after = 0) {
    std::lock_guard lock(mutex_);
    return stateIndexLocked(cam, state, after);
  }
  // The same, for use inside waitFor predicates (the lock held).
  int stateIndexLocked(const std::string& cam, CameraState state, size_t after = 0) {
    auto& v = states_[cam];
    for (size_t i = after; i < v.size(); ++i)
      if (v[i] == state) return static_cast<int>(i);
    return -1;
  }
  size_t segmentCount(const std::string& cam) {
    std::lock_guard lock(mutex_);
    return segments_[cam].size();
  }
  // Unlocked accessors for use inside waitFor predicates.
  std::vector<SegmentClosed>& segmentsLocked(const std::string& cam) { return segments_[cam]; }
  std::vector<FrameSeen>& framesLocked(const std::string& cam) { return frames_[cam]; }

  std::vector<CameraState> states(const std::string& cam) {
    std::lock_guard lock(mutex_);
    return states_[cam];
  }
  std::vector<SegmentClosed> segments(const std::string& cam) {
    std::lock_guard lock(mutex_);
    return segments_[cam];
  }
  std::vector<FrameSeen> frames(const std::string& cam) {
    std::lock_guard lock(mutex_);
    return frames_[cam];
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, std::vector<CameraState>> states_;
  std::map<std::string, std::vector<SegmentClosed>> segments_;
  std::map<std::string, std::vector<FrameSeen>> frames_;
};

inline CameraConfig testCamera(const std::string& id, const std::string& url,
                               const std::string& dir) {
  CameraConfig c;
  c.id = core::CameraId::parse(id).value();
  c.name = id;
  c.main.url = url;
  c.recording.directory = dir;
  c.recording.segmentLength = 2s;
  c.health.stallTimeout = 1s;
  c.health.connectTimeout = 4s;
  c.health.backoffInitial = 200ms;
  c.health.backoffMax = 1s;
  c.health.offlineAfterFailures = 3;
  return c;
}

class TempDir {
 public:
  TempDir()
      : path_(std::filesystem::temp_directory_path() / ("sharpeyes-ingest-" + core::newId())) {
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string str() const { return path_.string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct Probe {
  bool ok = false;
  std::string codec;
  int width = 0, height = 0;
  long frames = 0;
  double duration = 0;
  std::string output;
};

// A shell command's output lines (without their newlines) and its exit status as pclose()
// gives it; none when the command could not be started.
struct CommandOutput {
  std::vector<std::string> lines;
  int status = -1;
};
inline std::optional<CommandOutput> runCommand(const std::string& cmd) {
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return std::nullopt;
  CommandOutput out;
  char* line = nullptr;
  size_t capacity = 0;
  for (ssize_t n; (n = getline(&line, &capacity, f)) >= 0;) {
    std::string s(line, static_cast<size_t>(n));
    if (!s.empty() && s.back() == '\n') s.pop_back();
    out.lines.push_back(std::move(s));
  }
  free(line);  // NOLINT(cppcoreguidelines-no-malloc): getline's buffer
  out.status = pclose(f);
  return out;
}

// Decodes every frame of the file with ffprobe (libav), as a user's player would.
inline Probe probeFile(const std::string& path) {
  Probe p;
  const auto out = runCommand(
      "ffprobe -v error -count_frames -select_streams v:0 -show_entries "
      "stream=codec_name,width,height,nb_read_frames -show_entries format=duration -of "
      "default=nw=1 '" +
      path + "' 2>&1");
  if (!out) return p;
  for (const std::string& s : out->lines) {
    p.output += s + "\n";
    const auto eq = s.find('=');
    if (eq == std::string::npos) continue;
    const std::string k = s.substr(0, eq), v = s.substr(eq + 1);
    try {
      if (k == "codec_name") p.codec = v;
      if (k == "width") p.width = std::stoi(v);
      if (k == "height") p.height = std::stoi(v);
      if (k == "nb_read_frames") p.frames = std::stol(v);
      if (k == "duration") p.duration = std::stod(v);
    } catch (...) {
    }
  }
  p.ok = out->status == 0 && p.frames > 0 && p.output.find("rror") == std::string::npos;
  return p;
}

inline double secs(core::Duration d) {
  return std::chrono::duration<double>(d).count();
}

// Analytics frames come at the configured rate: never faster, and at that rate unless the
// machine drops some (each drop is counted in framesDropped, so they are not hidden).
inline void expectRate(const std::vector<FrameSeen>& frames, double fps) {
  ASSERT_GE(frames.size(), 3u);
  std::vector<double> gaps;
  for (size_t i = 1; i < frames.size(); ++i) {
    gaps.push_back(secs(frames[i].mediaTime - frames[i - 1].mediaTime));
    EXPECT_GT(gaps.back(), 0.75 / fps) << "frame " << i;
  }
  std::sort(gaps.begin(), gaps.end());
  EXPECT_NEAR(gaps[gaps.size() / 2], 1.0 / fps, 0.2 / fps);
}

}  // namespace sharpeyes::ingest::testing
