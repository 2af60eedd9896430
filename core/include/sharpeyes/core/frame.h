#pragma once
// A decoded video frame handed from ingest to analytics. The pixels are owned by `owner`
// (for example a mapped GStreamer buffer); keep the Frame alive as long as `data` is used.

#include <cstddef>
#include <cstdint>
#include <memory>

#include "sharpeyes/core/camera_id.h"
#include "sharpeyes/core/time.h"

namespace sharpeyes::core {

enum class PixelFormat { kBgr24, kGray8 };

struct Frame {
  CameraId camera;
  int width = 0;
  int height = 0;
  int stride = 0;  // bytes per row
  PixelFormat format = PixelFormat::kBgr24;
  const uint8_t* data = nullptr;
  size_t size = 0;
  std::shared_ptr<const void> owner;
  WallTime wallTime{};    // receipt time (anchored monotonic clock)
  Duration mediaTime{};   // stream timestamp
  uint64_t sequence = 0;  // frames handed so far for this camera, from 0
};

}  // namespace sharpeyes::core
