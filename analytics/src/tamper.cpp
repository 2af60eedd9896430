#include "tamper.h"

#include <opencv2/imgproc.hpp>

namespace sharpeyes::analytics::detail {
namespace {
constexpr double kFlatContrast = 7.0;   // grey-level std dev of a covered lens
constexpr double kDefocusRatio = 0.45;  // sharpness below this fraction of the reference
constexpr double kMovedNcc = 0.45;      // correlation with the reference below this
constexpr int kWarmupFrames = 5;        // full evaluations, ~2 s
constexpr auto kFullEvery = std::chrono::milliseconds(400);
constexpr auto kRefreshEvery = std::chrono::seconds(30);  // follow slow daylight changes

void hold(std::optional<core::WallTime>& since, bool condition, core::WallTime now) {
  if (!condition) {
    since.reset();
  } else if (!since) {
    since = now;
  }
}
}  // namespace

// Normalised cross-correlation of two equal-size grey images (gain and offset invariant) over
// the pixels where `mask` is set (all when it is empty).
double TamperDetector::correlation(const cv::Mat& a, const cv::Mat& b, const cv::Mat& mask) {
  if (a.size() != b.size()) return 0;
  cv::Scalar ma, sa, mb, sb;
  cv::meanStdDev(a, ma, sa, mask);
  cv::meanStdDev(b, mb, sb, mask);
  if (sa[0] < 1e-3 || sb[0] < 1e-3) return 0;
  cv::Mat af, bf;
  a.convertTo(af, CV_32F);
  b.convertTo(bf, CV_32F);
  const double ab = cv::mean(af.mul(bf), mask)[0];
  return (ab - ma[0] * mb[0]) / (sa[0] * sb[0]);
}

void TamperDetector::reset() {
  haveFull_ = false;
  status_ = {};
  previous_.release();
  reference_.release();
  refSharpness_ = 0;
  warmup_ = 0;
  rebaseRequested_ = false;
}

void TamperDetector::rebase() {
  rebaseRequested_ = true;
}

const TamperStatus& TamperDetector::observe(const cv::Mat& gray, core::WallTime now,
                                            const cv::Mat& moving) {
  // Frozen needs every frame (and is cheap); the rest changes slowly and is evaluated a few times
  // a second, which adds at most kFullEvery to the time to detect.
  const bool identical = !previous_.empty() && previous_.size() == gray.size() &&
                         (cv::absdiff(gray, previous_, diff_), cv::countNonZero(diff_) == 0);
  gray.copyTo(previous_);
  hold(status_.frozen, identical, now);
  if (haveFull_ && now >= lastFull_ && now - lastFull_ < kFullEvery) return status_;
  haveFull_ = true;
  lastFull_ = now;

  cv::Scalar mean, stddev;
  cv::meanStdDev(gray, mean, stddev);
  status_.contrast = stddev[0];
  cv::GaussianBlur(gray, blurred_, cv::Size(5, 5), 0);
  cv::Laplacian(gray, lap_, CV_16S, 1);
  const double edge = cv::mean(cv::abs(lap_))[0];
  status_.sharpness = edge / (status_.contrast + 1.0);

  const bool flat = status_.contrast < kFlatContrast;
  hold(status_.covered, flat, now);

  if (reference_.empty() || rebaseRequested_) {
    if (!flat && !identical && ++warmup_ >= kWarmupFrames) {
      blurred_.copyTo(reference_);
      refSharpness_ = status_.sharpness;
      lastRefresh_ = now;
      rebaseRequested_ = false;
      status_.moved.reset();
      status_.defocus.reset();
    }
    status_.ncc = 1;
    return status_;
  }

  cv::Mat mask;
  if (!moving.empty() && moving.size() == gray.size()) {
    cv::bitwise_not(moving, still_);
    if (cv::countNonZero(still_) > int(still_.total() / 3)) mask = still_;
  }
  status_.ncc = flat ? 0 : correlation(blurred_, reference_, mask);
  hold(status_.moved, !flat && status_.ncc < kMovedNcc, now);
  hold(status_.defocus, !flat && status_.sharpness < kDefocusRatio * refSharpness_, now);

  const bool normal = !flat && !identical && !status_.moved && !status_.defocus;
  if (normal) {
    // Track the reference sharpness slowly; refresh the reference image now and then.
    refSharpness_ = 0.99 * refSharpness_ + 0.01 * status_.sharpness;
    if (now - lastRefresh_ > kRefreshEvery && status_.ncc > 0.8) {
      blurred_.copyTo(reference_);
      lastRefresh_ = now;
    }
  }
  return status_;
}

}  // namespace sharpeyes::analytics::detail
