#pragma once
// Frames drawn by the tests themselves: a textured background, sensor noise and solid boxes.

#include <chrono>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "sharpeyes/analytics/engine.h"
#include "sharpeyes/core/frame.h"

namespace sharpeyes::analytics::test {

struct DrawBox {
  double x = 0, y = 0, w = 0.04, h = 0.15;  // normalised top-left and size
  cv::Scalar color{40, 40, 40};
};

class Synth {
 public:
  explicit Synth(int width = 640, int height = 360, uint64_t seed = 7)
      : width_(width), height_(height), rng_(seed) {
    cv::Mat coarse(height / 20 + 1, width / 20 + 1, CV_8UC3);
    cv::RNG texture(seed * 31 + 1);
    texture.fill(coarse, cv::RNG::UNIFORM, cv::Scalar(90, 90, 90), cv::Scalar(170, 170, 170));
    cv::resize(coarse, background_, cv::Size(width, height), 0, 0, cv::INTER_CUBIC);
    // Fine, sharp-edged detail (bricks, leaves) on top, as real scenes have.
    cv::Mat fine(height / 4 + 1, width / 4 + 1, CV_8UC3), fineUp;
    texture.fill(fine, cv::RNG::UNIFORM, cv::Scalar(0, 0, 0), cv::Scalar(60, 60, 60));
    cv::resize(fine, fineUp, cv::Size(width, height), 0, 0, cv::INTER_NEAREST);
    cv::addWeighted(background_, 1.0, fineUp, 1.0, -30.0, background_);
  }
  void setBackgroundSeed(uint64_t seed) { *this = Synth(width_, height_, seed); }

  cv::Mat render(const std::vector<DrawBox>& boxes, double gain = 1.0, double noise = 2.0) {
    cv::Mat img;
    background_.convertTo(img, CV_8UC3, gain);
    for (const DrawBox& b : boxes) {
      cv::rectangle(img,
                    cv::Rect(cvRound(b.x * width_), cvRound(b.y * height_), cvRound(b.w * width_),
                             cvRound(b.h * height_)),
                    b.color * gain, cv::FILLED);
    }
    if (noise > 0) {
      // A few pre-drawn noise fields, cycled: cheap, and still never two equal frames in a row.
      if (noise_.empty() || noiseSigma_ != noise) {
        noise_.clear();
        noiseSigma_ = noise;
        for (int k = 0; k < 7; ++k) {
          cv::Mat n(img.size(), CV_16SC3);
          rng_.fill(n, cv::RNG::NORMAL, 0, noise);
          noise_.push_back(n);
        }
      }
      const cv::Mat& n = noise_[next_++ % noise_.size()];
      cv::Mat s;
      img.convertTo(s, CV_16SC3);
      s += n;
      s.convertTo(img, CV_8UC3);
    }
    return img;
  }

  static core::Frame frame(const cv::Mat& img, const core::CameraId& cam, int64_t index,
                           double fps = 5.0) {
    auto keep = std::make_shared<cv::Mat>(img.clone());
    core::Frame f;
    f.camera = cam;
    f.width = keep->cols;
    f.height = keep->rows;
    f.stride = int(keep->step[0]);
    f.format = keep->channels() == 1 ? core::PixelFormat::kGray8 : core::PixelFormat::kBgr24;
    f.data = keep->data;
    f.size = keep->total() * keep->elemSize();
    f.owner = keep;
    const auto t =
        std::chrono::duration_cast<core::Duration>(std::chrono::duration<double>(index / fps));
    f.wallTime = core::WallTime(std::chrono::seconds(1'790'000'000)) + t;
    f.mediaTime = t;
    f.sequence = uint64_t(index);
    return f;
  }

  int width() const { return width_; }
  int height() const { return height_; }

 private:
  int width_, height_;
  cv::RNG rng_;
  cv::Mat background_;
  std::vector<cv::Mat> noise_;
  double noiseSigma_ = 0;
  size_t next_ = 0;
};

}  // namespace sharpeyes::analytics::test
