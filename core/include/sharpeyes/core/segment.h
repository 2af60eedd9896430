#pragma once
// A recorded segment of one camera's main stream: one self-contained file, cut at keyframes.

#include <cstdint>
#include <string>

#include "sharpeyes/core/camera_id.h"
#include "sharpeyes/core/time.h"

namespace sharpeyes::core {

struct Segment {
  int64_t id = 0;  // index row id; 0 until committed
  CameraId camera;
  WallTime start{};          // receipt time of the first frame (anchored monotonic clock)
  WallTime end{};            // start + mediaDuration
  Duration mediaDuration{};  // from the stream's own timestamps
  std::string path;          // relative to the recording root
  uint64_t bytes = 0;
  std::string codec;  // "h264" | "h265"
  int width = 0;
  int height = 0;
  std::string sha256;  // lowercase hex of the file's bytes
};

}  // namespace sharpeyes::core
