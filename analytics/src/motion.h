#pragma once
// Background subtraction on the scaled-down grey frame: foreground blobs, or "global change".

#include <opencv2/core.hpp>
#include <opencv2/video/background_segm.hpp>
#include <vector>

#include "sharpeyes/analytics/config.h"

namespace sharpeyes::analytics::detail {

struct MotionResult {
  std::vector<cv::Rect> blobs;  // analysis pixels
  double foregroundFraction = 0;
  bool globalChange = false;
};

class MotionDetector {
 public:
  explicit MotionDetector(const MotionConfig& config);
  // A new model for frames of `size` (first frame, resolution change, global change).
  void reset(cv::Size size);
  // `dtSeconds`: time since the previous frame (learning rate follows it, so any fps works).
  // `input` is what the subtractor models (colour or grey), `gray` the same frame in grey.
  MotionResult apply(const cv::Mat& input, const cv::Mat& gray, double dtSeconds);
  // Relearn from this frame on, reporting nothing for it.
  void relearn(const cv::Mat& input, const cv::Mat& gray);
  // Foreground of the latest frame (255 = moving), analysis size; empty before the first.
  const cv::Mat& foreground() const { return fg_; }

 private:
  cv::Ptr<cv::BackgroundSubtractor> make() const;

  MotionConfig config_;
  cv::Ptr<cv::BackgroundSubtractor> bg_;
  cv::Size size_;
  cv::Mat ignoreMask_;  // 255 where analysed
  cv::Mat fg_, labels_, stats_, centroids_;
  cv::Mat openKernel_, closeKernel_;
  // A plain running average of the grey background, to test blobs for "same texture, other
  // light" (shadows, highlights, a cloud's trailing edge): the subtractor alone flags those.
  cv::Mat average_, grayF_;
  bool lightingChangeOnly(const cv::Mat& gray, const cv::Rect& r) const;
  cv::Mat cells_, cellsF_, cellAverage_;  // 4x4 grid of mean brightness
  int framesSinceReset_ = 0;
};

}  // namespace sharpeyes::analytics::detail
