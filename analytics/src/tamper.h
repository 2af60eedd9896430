#pragma once
// Camera tamper conditions from cheap whole-image statistics of the scaled grey frame:
//  covered  - the image is nearly flat (hand, cloth, paint over the lens);
//  defocus  - sharpness (edge energy relative to contrast, so independent of light level) fell
//             far below the learnt reference;
//  moved    - the scene no longer correlates with the learnt reference (normalised
//             cross-correlation is gain-invariant, so a light change is not a move);
//  frozen   - consecutive frames are identical (a real sensor always has noise).
// Each condition reports since when it has held; the rule decides how long is enough.

#include <opencv2/core.hpp>
#include <optional>

#include "sharpeyes/core/time.h"

namespace sharpeyes::analytics::detail {

struct TamperStatus {
  std::optional<core::WallTime> covered, defocus, moved, frozen;  // condition holding since
  double ncc = 1, sharpness = 0, contrast = 0;
};

class TamperDetector {
 public:
  void reset();
  // `moving`: the motion detector's latest foreground mask (may be empty); moving objects are
  // left out of the comparison with the reference, so a lorry filling half the view is not a
  // moved camera.
  const TamperStatus& observe(const cv::Mat& gray, core::WallTime now,
                              const cv::Mat& moving = cv::Mat());
  // Accept the current view as the new reference (after a move has been reported).
  void rebase();
  bool haveReference() const { return !reference_.empty(); }

 private:
  TamperStatus status_;
  cv::Mat blurred_, lap_, previous_, reference_, diff_;
  double refSharpness_ = 0;
  int warmup_ = 0;
  core::WallTime lastRefresh_{};
  bool rebaseRequested_ = false;
  bool haveFull_ = false;
  core::WallTime lastFull_{};
  static double correlation(const cv::Mat& a, const cv::Mat& b, const cv::Mat& mask);
  cv::Mat still_;
};

}  // namespace sharpeyes::analytics::detail
