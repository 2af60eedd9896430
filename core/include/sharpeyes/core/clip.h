#pragma once
// A clip: a time range of one camera cut from its segments (no re-encoding).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sharpeyes/core/camera_id.h"
#include "sharpeyes/core/time.h"

namespace sharpeyes::core {

struct TimeRange {
  WallTime begin{};
  WallTime end{};
  Duration length() const { return end - begin; }
  bool operator==(const TimeRange&) const = default;
};

struct Clip {
  std::string id;
  CameraId camera;
  TimeRange requested;
  TimeRange actual;             // starts at the keyframe at or before requested.begin
  std::vector<TimeRange> gaps;  // parts of the request with no recording
  std::string path;             // relative to the storage root
  uint64_t bytes = 0;
  std::string sha256;
  std::vector<std::string> sourceSegmentSha256;
};

}  // namespace sharpeyes::core
