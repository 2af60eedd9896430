#include "motion.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

namespace sharpeyes::analytics::detail {

MotionDetector::MotionDetector(const MotionConfig& config) : config_(config) {}

cv::Ptr<cv::BackgroundSubtractor> MotionDetector::make() const {
  // sensitivity 0 / 0.5 / 1 -> 4 / 2 / 1 standard deviations (squared: 16x, 4x, 1x of base).
  const double scale = std::pow(16.0, 0.5 - config_.sensitivity);
  if (config_.algorithm == MotionAlgorithm::kKnn) {
    auto knn = cv::createBackgroundSubtractorKNN(500, 400.0 * scale, config_.shadowSuppression);
    return knn;
  }
  auto mog = cv::createBackgroundSubtractorMOG2(500, 16.0 * scale, config_.shadowSuppression);
  mog->setNMixtures(3);
  // A new mode joins the background once the old one's weight falls below this: with the
  // learning rate dt/history that takes -ln(0.6) * history, about 15 s for the default 30 s, so
  // a person standing still stays foreground that long.
  mog->setBackgroundRatio(0.6);
  return mog;
}

void MotionDetector::reset(cv::Size size) {
  size_ = size;
  bg_ = make();
  framesSinceReset_ = 0;
  cellAverage_.release();
  ignoreMask_ = cv::Mat(size, CV_8U, cv::Scalar(255));
  for (const Polygon& poly : config_.ignore) {
    std::vector<cv::Point> pts;
    for (const Point& p : poly) {
      pts.emplace_back(cvRound(p.x * size.width), cvRound(p.y * size.height));
    }
    cv::fillPoly(ignoreMask_, std::vector<std::vector<cv::Point>>{pts}, cv::Scalar(0));
  }
  const int r = config_.morphology;
  if (r > 0) {
    openKernel_ = cv::getStructuringElement(cv::MORPH_RECT, cv::Size(2 * r + 1, 2 * r + 1));
    closeKernel_ = cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(4 * r + 1, 6 * r + 1));
  }
}

void MotionDetector::relearn(const cv::Mat& input, const cv::Mat& gray) {
  bg_->apply(input, fg_, 1.0);
  fg_.setTo(0);  // nothing is known to move in a freshly learnt scene
  gray.convertTo(average_, CV_32F);
  framesSinceReset_ = 1;
}

bool MotionDetector::lightingChangeOnly(const cv::Mat& gray, const cv::Rect& r) const {
  // Normalised cross-correlation of the blob's foreground pixels with the average background:
  // an object hides the background's texture (low correlation); light falling differently keeps
  // it (high correlation). Flat patches cannot tell, so they stay objects.
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  int n = 0;
  for (int y = r.y; y < r.y + r.height; ++y) {
    const uint8_t* m = fg_.ptr<uint8_t>(y);
    const uint8_t* a = gray.ptr<uint8_t>(y);
    const float* b = average_.ptr<float>(y);
    for (int x = r.x; x < r.x + r.width; ++x) {
      if (!m[x]) continue;
      const double va = a[x], vb = b[x];
      sa += va, sb += vb, saa += va * va, sbb += vb * vb, sab += va * vb;
      ++n;
    }
  }
  if (n < 8) return false;
  const double ma = sa / n, mb = sb / n;
  const double va = saa / n - ma * ma, vb = sbb / n - mb * mb;
  if (va < 16 || vb < 16) return false;
  const double ncc = (sab / n - ma * mb) / std::sqrt(va * vb);
  // Light changes the contrast by the same gain as the brightness, within reason; an object
  // on a plain road has far more contrast than the road.
  const double contrastRatio = std::sqrt(va / vb);
  return ncc > 0.7 && contrastRatio > 0.33 && contrastRatio < 3.0;
}

MotionResult MotionDetector::apply(const cv::Mat& input, const cv::Mat& gray, double dtSeconds) {
  MotionResult out;
  if (input.size() != size_ || !bg_) reset(input.size());

  // A global light change moves the brightness of most of the picture the same way; a big bright
  // lorry changes only its part. Compare a 4x4 grid of cell means with their running average.
  cv::resize(gray, cells_, cv::Size(4, 4), 0, 0, cv::INTER_AREA);
  cells_.convertTo(cellsF_, CV_32F);
  bool jump = false;
  if (!cellAverage_.empty()) {
    int up = 0, down = 0;
    for (int i = 0; i < 16; ++i) {
      const float now = cellsF_.at<float>(i / 4, i % 4), avg = cellAverage_.at<float>(i / 4, i % 4);
      const float limit = float(config_.globalBrightnessJump) * std::max(avg, 8.0f);
      up += now - avg > limit;
      down += avg - now > limit;
    }
    jump = up >= 12 || down >= 12;
  }
  if (framesSinceReset_ == 0 || jump) {
    relearn(input, gray);
    cellsF_.copyTo(cellAverage_);
    out.globalChange = jump;
    return out;
  }
  cv::accumulateWeighted(cellsF_, cellAverage_, 0.2);

  ++framesSinceReset_;
  // Learn fast for the first few frames after a reset, then at the configured memory.
  const double rate = framesSinceReset_ <= 4
                          ? 1.0 / framesSinceReset_
                          : std::clamp(dtSeconds, 0.0, 5.0) / config_.historySeconds;
  bg_->apply(input, fg_, std::min(rate, 1.0));
  // Shadows are marked 127 by both subtractors; keep only definite foreground.
  cv::threshold(fg_, fg_, 200, 255, cv::THRESH_BINARY);
  cv::bitwise_and(fg_, ignoreMask_, fg_);
  out.foregroundFraction = double(cv::countNonZero(fg_)) / double(fg_.total());
  if (out.foregroundFraction > config_.globalChangeFraction) {
    relearn(input, gray);
    out.globalChange = true;
    return out;
  }
  if (config_.morphology > 0) {
    cv::morphologyEx(fg_, fg_, cv::MORPH_OPEN, openKernel_);
    cv::morphologyEx(fg_, fg_, cv::MORPH_CLOSE, closeKernel_);
  }
  const int n = cv::connectedComponentsWithStats(fg_, labels_, stats_, centroids_, 8, CV_32S);
  const double minPixels = config_.minArea * double(gray.total());
  std::vector<cv::Rect> boxes;
  for (int i = 1; i < n; ++i) {
    const int area = stats_.at<int>(i, cv::CC_STAT_AREA);
    if (area < minPixels) continue;
    const cv::Rect r(stats_.at<int>(i, cv::CC_STAT_LEFT), stats_.at<int>(i, cv::CC_STAT_TOP),
                     stats_.at<int>(i, cv::CC_STAT_WIDTH), stats_.at<int>(i, cv::CC_STAT_HEIGHT));
    if (lightingChangeOnly(gray, r)) continue;
    boxes.push_back(r);
  }
  // The average follows the scene where nothing moves.
  gray.convertTo(grayF_, CV_32F);
  cv::accumulateWeighted(grayF_, average_, std::min(1.0, 5 * rate), ~fg_);
  // Parts of one object (head and legs split by a background-coloured band) are merged when
  // their boxes overlap.
  bool merged = true;
  while (merged) {
    merged = false;
    for (size_t i = 0; i < boxes.size() && !merged; ++i) {
      for (size_t j = i + 1; j < boxes.size(); ++j) {
        if ((boxes[i] & boxes[j]).area() > 0) {
          boxes[i] |= boxes[j];
          boxes.erase(boxes.begin() + long(j));
          merged = true;
          break;
        }
      }
    }
  }
  out.blobs = std::move(boxes);
  return out;
}

}  // namespace sharpeyes::analytics::detail
