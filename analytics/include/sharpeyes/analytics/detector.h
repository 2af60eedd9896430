#pragma once
// Object detectors that refine the class of moving objects. Built in: OpenCV's HOG people detector,
// a Haar/LBP cascade (Debian opencv-data's full-body cascade) and an ONNX model run by OpenCV DNN.
// Anything else can be plugged in through DetectorFactory (EngineOptions::detectorFactory).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sharpeyes/analytics/config.h"
#include "sharpeyes/core/event.h"
#include "sharpeyes/core/frame.h"
#include "sharpeyes/core/result.h"

namespace sharpeyes::analytics {

// Borrowed pixels of one frame (valid during the call only).
struct ImageView {
  int width = 0;
  int height = 0;
  int stride = 0;
  core::PixelFormat format = core::PixelFormat::kBgr24;
  const uint8_t* data = nullptr;
};

struct Detection {
  core::BoundingBox box;  // normalised to the whole image
  std::string objectClass;
  float score = 0;
};

// One instance per camera; called on that camera's worker thread only (never concurrently).
class Detector {
 public:
  virtual ~Detector() = default;
  // Objects found inside `region` (normalised). Must not throw; an internal failure returns {}.
  virtual std::vector<Detection> detect(const ImageView& image,
                                        const core::BoundingBox& region) = 0;
  virtual std::string name() const = 0;
};

using DetectorFactory =
    std::function<core::Result<std::unique_ptr<Detector>>(const DetectorConfig& config)>;

// The built-in detectors. kNone gives a null pointer. Errors (missing model, unreadable cascade)
// are returned, never thrown.
core::Result<std::unique_ptr<Detector>> makeBuiltinDetector(const DetectorConfig& config);

// Where Debian's opencv-data puts the full-body cascade.
inline constexpr const char* kDefaultFullBodyCascade =
    "/usr/share/opencv4/haarcascades/haarcascade_fullbody.xml";

}  // namespace sharpeyes::analytics
