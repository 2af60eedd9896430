#include "sharpeyes/analytics/detector.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

namespace sharpeyes::analytics {
namespace {

using core::ErrorCode;
using core::makeError;

cv::Mat wrap(const ImageView& image) {
  const int type = image.format == core::PixelFormat::kGray8 ? CV_8UC1 : CV_8UC3;
  return cv::Mat(image.height, image.width, type, const_cast<uint8_t*>(image.data),
                 size_t(image.stride));
}

// The region grown by `margin` of its size on each side, in pixels, clipped to the image.
cv::Rect pixelRegion(const ImageView& image, const core::BoundingBox& r, float margin) {
  const float x = (r.x - r.w * margin) * image.width, y = (r.y - r.h * margin) * image.height;
  const float w = r.w * (1 + 2 * margin) * image.width, h = r.h * (1 + 2 * margin) * image.height;
  return cv::Rect(cvRound(x), cvRound(y), cvRound(w), cvRound(h)) &
         cv::Rect(0, 0, image.width, image.height);
}

core::BoundingBox normalise(const ImageView& image, const cv::Rect& r) {
  return {float(r.x) / image.width, float(r.y) / image.height, float(r.width) / image.width,
          float(r.height) / image.height};
}

// Window detectors need the person at least `minHeight` pixels tall: scale the crop up to that.
cv::Mat cropForWindow(const ImageView& image, const cv::Rect& roi, int minHeight, double& scale) {
  cv::Mat crop = wrap(image)(roi);
  scale = std::max(1.0, double(minHeight) / std::max(1, roi.height));
  scale = std::min(scale, 6.0);
  cv::Mat out;
  if (scale > 1.0) {
    cv::resize(crop, out, cv::Size(), scale, scale, cv::INTER_LINEAR);
  } else {
    out = crop;
  }
  return out;
}

class HogDetector : public Detector {
 public:
  explicit HogDetector(float minScore) : minScore_(minScore) {
    hog_.setSVMDetector(cv::HOGDescriptor::getDefaultPeopleDetector());
  }
  std::vector<Detection> detect(const ImageView& image, const core::BoundingBox& region) override {
    std::vector<Detection> out;
    try {
      const cv::Rect roi = pixelRegion(image, region, 0.25f);
      if (roi.width < 8 || roi.height < 16) return out;
      double scale = 1;
      cv::Mat crop = cropForWindow(image, roi, 160, scale);
      if (crop.cols < 64 || crop.rows < 128) {
        cv::Mat padded;
        cv::copyMakeBorder(crop, padded, 0, std::max(0, 128 - crop.rows), 0,
                           std::max(0, 64 - crop.cols), cv::BORDER_REPLICATE);
        crop = padded;
      }
      std::vector<cv::Rect> found;
      std::vector<double> weights;
      hog_.detectMultiScale(crop, found, weights, 0, cv::Size(8, 8), cv::Size(8, 8), 1.1);
      for (size_t i = 0; i < found.size(); ++i) {
        // SVM margins: ~0 at the boundary, >1 for a confident match; map to 0..1.
        const float score = float(1.0 / (1.0 + std::exp(-2.0 * weights[i])));
        if (score < minScore_) continue;
        cv::Rect r(cvRound(found[i].x / scale) + roi.x, cvRound(found[i].y / scale) + roi.y,
                   cvRound(found[i].width / scale), cvRound(found[i].height / scale));
        out.push_back(
            {normalise(image, r & cv::Rect(0, 0, image.width, image.height)), "person", score});
      }
    } catch (const cv::Exception& e) {
      spdlog::debug("analytics: HOG failed: {}", e.what());
    }
    return out;
  }
  std::string name() const override { return "hog"; }

 private:
  cv::HOGDescriptor hog_;
  float minScore_;
};

class CascadeDetector : public Detector {
 public:
  // OpenCV's classifier and net are reference-counted handles: copying one shares the model.
  explicit CascadeDetector(const cv::CascadeClassifier& c) : cascade_(c) {}
  std::vector<Detection> detect(const ImageView& image, const core::BoundingBox& region) override {
    std::vector<Detection> out;
    try {
      const cv::Rect roi = pixelRegion(image, region, 0.25f);
      if (roi.width < 8 || roi.height < 16) return out;
      double scale = 1;
      cv::Mat crop = cropForWindow(image, roi, 96, scale);
      cv::Mat gray;
      if (crop.channels() == 3) {
        cv::cvtColor(crop, gray, cv::COLOR_BGR2GRAY);
      } else {
        gray = crop;
      }
      std::vector<cv::Rect> found;
      cascade_.detectMultiScale(gray, found, 1.1, 3, 0, cv::Size(14, 28));
      for (const cv::Rect& f : found) {
        cv::Rect r(cvRound(f.x / scale) + roi.x, cvRound(f.y / scale) + roi.y,
                   cvRound(f.width / scale), cvRound(f.height / scale));
        out.push_back(
            {normalise(image, r & cv::Rect(0, 0, image.width, image.height)), "person", 1.0f});
      }
    } catch (const cv::Exception& e) {
      spdlog::debug("analytics: cascade failed: {}", e.what());
    }
    return out;
  }
  std::string name() const override { return "cascade"; }

 private:
  cv::CascadeClassifier cascade_;
};

// A single-output detection network: rows of (cx, cy, w, h, objectness, class scores...) in input
// pixels (YOLOv5 style), or, when there is no objectness column, (cx, cy, w, h, class scores...)
// laid out as columns (YOLOv8 style). Runs on the region, letterboxed to the square input.
class OnnxDetector : public Detector {
 public:
  OnnxDetector(const cv::dnn::Net& net, DetectorConfig config)
      : net_(net), config_(std::move(config)) {}
  std::vector<Detection> detect(const ImageView& image, const core::BoundingBox& region) override {
    std::vector<Detection> out;
    try {
      const cv::Rect roi = pixelRegion(image, region, 0.25f);
      if (roi.width < 4 || roi.height < 4) return out;
      cv::Mat crop = wrap(image)(roi);
      if (crop.channels() == 1) cv::cvtColor(crop, crop, cv::COLOR_GRAY2BGR);
      const int side = config_.inputSize;
      const double scale = double(side) / std::max(roi.width, roi.height);
      cv::Mat square(side, side, CV_8UC3, cv::Scalar(114, 114, 114));
      cv::Mat resized;
      cv::resize(crop, resized,
                 cv::Size(std::max(1, cvRound(roi.width * scale)),
                          std::max(1, cvRound(roi.height * scale))));
      resized.copyTo(square(cv::Rect(0, 0, resized.cols, resized.rows)));
      cv::Mat blob = cv::dnn::blobFromImage(square, 1.0 / 255.0, cv::Size(side, side), cv::Scalar(),
                                            true, false);
      net_.setInput(blob);
      cv::Mat result = net_.forward();
      // Flatten to rows x attributes.
      cv::Mat rows;
      if (result.dims == 3) {
        rows = cv::Mat(result.size[1], result.size[2], CV_32F, result.ptr<float>());
      } else if (result.dims == 2) {
        rows = result;
      } else {
        return out;
      }
      const int classes = std::max<int>(1, int(config_.classNames.size()));
      bool objectness = rows.cols == 5 + classes;
      if (!objectness && rows.rows == 4 + classes && rows.cols != 4 + classes) {
        rows = rows.t();
      }
      objectness = rows.cols == 5 + classes;
      const int first = objectness ? 5 : 4;
      if (rows.cols < first + 1) return out;
      for (int i = 0; i < rows.rows; ++i) {
        const float* r = rows.ptr<float>(i);
        int best = 0;
        for (int c = 1; c < rows.cols - first; ++c) {
          if (r[first + c] > r[first + best]) best = c;
        }
        const float score = (objectness ? r[4] : 1.0f) * r[first + best];
        if (score < config_.minScore) continue;
        const double cx = r[0] / scale + roi.x, cy = r[1] / scale + roi.y;
        const double w = r[2] / scale, h = r[3] / scale;
        cv::Rect box(cvRound(cx - w / 2), cvRound(cy - h / 2), cvRound(w), cvRound(h));
        box &= cv::Rect(0, 0, image.width, image.height);
        if (box.area() <= 0) continue;
        const std::string cls = best < int(config_.classNames.size())
                                    ? config_.classNames[size_t(best)]
                                    : std::string("unknown");
        out.push_back({normalise(image, box), cls, score});
      }
    } catch (const cv::Exception& e) {
      spdlog::debug("analytics: ONNX detector failed: {}", e.what());
    }
    return out;
  }
  std::string name() const override { return "onnx"; }

 private:
  cv::dnn::Net net_;
  DetectorConfig config_;
};

}  // namespace

core::Result<std::unique_ptr<Detector>> makeBuiltinDetector(const DetectorConfig& config) {
  switch (config.kind) {
    case DetectorKind::kNone: return std::unique_ptr<Detector>();
    case DetectorKind::kHog:
      return std::unique_ptr<Detector>(std::make_unique<HogDetector>(config.minScore));
    case DetectorKind::kCascade: {
      const std::string path =
          config.modelPath.empty() ? std::string(kDefaultFullBodyCascade) : config.modelPath;
      cv::CascadeClassifier cascade;
      try {
        if (!std::filesystem::exists(path) || !cascade.load(path) || cascade.empty()) {
          return makeError(ErrorCode::kNotFound,
                           "cannot load cascade " + path + " (Debian package opencv-data)");
        }
      } catch (const cv::Exception& e) {
        return makeError(ErrorCode::kCorrupt, "cannot load cascade " + path + ": " + e.what());
      }
      return std::unique_ptr<Detector>(std::make_unique<CascadeDetector>(std::move(cascade)));
    }
    case DetectorKind::kOnnx: {
      if (!std::filesystem::exists(config.modelPath)) {
        return makeError(ErrorCode::kNotFound, "ONNX model not found: " + config.modelPath);
      }
      try {
        cv::dnn::Net net = cv::dnn::readNetFromONNX(config.modelPath);
        if (net.empty()) {
          return makeError(ErrorCode::kCorrupt, "cannot load ONNX model " + config.modelPath);
        }
        net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
        return std::unique_ptr<Detector>(std::make_unique<OnnxDetector>(std::move(net), config));
      } catch (const cv::Exception& e) {
        return makeError(ErrorCode::kCorrupt,
                         "cannot load ONNX model " + config.modelPath + ": " + e.what());
      }
    }
  }
  return std::unique_ptr<Detector>();
}

}  // namespace sharpeyes::analytics
