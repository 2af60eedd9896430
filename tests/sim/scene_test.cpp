// SceneRenderer: determinism, ground truth against the rendered pixels, and each effect.

#include "sharpeyes/sim/scene.h"

#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "sharpeyes/sim/sim.h"

namespace sharpeyes::sim {
namespace {

constexpr int kW = 640, kH = 360;
constexpr double kFps = 25;

cv::Mat renderFrame(const SceneRenderer& r, int64_t index, const ViewWindow& view = {}, int w = kW,
                    int h = kH) {
  cv::Mat img(h, w, CV_8UC3);
  r.render(index, kFps, w, h, img.data, view);
  return img;
}

double meanAbsDiff(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat d;
  cv::absdiff(a, b, d);
  const cv::Scalar m = cv::mean(d);
  return (m[0] + m[1] + m[2]) / 3;
}

// Pixels that differ from `background` by more than a few grey levels.
cv::Mat changedMask(const cv::Mat& img, const cv::Mat& background) {
  cv::Mat d, grey, mask;
  cv::absdiff(img, background, d);
  cv::cvtColor(d, grey, cv::COLOR_BGR2GRAY);
  cv::threshold(grey, mask, 8, 255, cv::THRESH_BINARY);
  return mask;
}

cv::Rect toPixels(const core::BoundingBox& b, int w = kW, int h = kH) {
  return cv::Rect(
      cv::Point(static_cast<int>(std::lround(b.x * w)), static_cast<int>(std::lround(b.y * h))),
      cv::Point(static_cast<int>(std::lround((b.x + b.w) * w)),
                static_cast<int>(std::lround((b.y + b.h) * h))));
}

void expectNear(const cv::Rect& a, const cv::Rect& b, int tol) {
  EXPECT_NEAR(a.x, b.x, tol);
  EXPECT_NEAR(a.y, b.y, tol);
  EXPECT_NEAR(a.br().x, b.br().x, tol);
  EXPECT_NEAR(a.br().y, b.br().y, tol);
}

// One person walking left to right, one car driving right to left, no noise.
SceneSpec twoObjects() {
  SceneSpec spec;
  spec.seed = 42;
  spec.loopSeconds = 4;
  spec.effects.noiseSigma = 0;
  ScriptedObject person;
  person.id = 1;
  person.kind = ObjectKind::kPerson;
  person.width = 0.04f;
  person.height = 0.2f;
  person.path = {{0, 0.1f, 0.45f}, {4, 0.9f, 0.5f}};
  ScriptedObject car;
  car.id = 2;
  car.kind = ObjectKind::kVehicle;
  car.width = 0.16f;
  car.height = 0.1f;
  car.path = {{0, 0.85f, 0.75f}, {4, 0.15f, 0.72f}};
  spec.objects = {person, car};
  return spec;
}

SceneSpec withoutObjects(SceneSpec spec) {
  spec.objects.clear();
  return spec;
}

TEST(SceneRenderer, SameSpecSameFrameSamePixels) {
  const SceneSpec spec = defaultScene(7, 4);
  SceneRenderer a(spec), b(spec);
  const cv::Mat a7 = renderFrame(a, 7), b7 = renderFrame(b, 7);
  EXPECT_EQ(cv::norm(a7, b7, cv::NORM_INF), 0);
  // Sensor noise is seeded per frame: consecutive frames differ even where nothing moves.
  EXPECT_GT(cv::norm(a7, renderFrame(a, 8), cv::NORM_L1), 0);
  // The loop repeats exactly.
  EXPECT_EQ(cv::norm(a7, renderFrame(a, 7 + 4 * 25), cv::NORM_INF), 0);
  // Another seed is another scene.
  SceneRenderer c(defaultScene(8, 4));
  EXPECT_GT(meanAbsDiff(a7, renderFrame(c, 7)), 5);
}

TEST(SceneRenderer, BackgroundIsTexturedWithNoise) {
  SceneRenderer r(defaultScene(3, 4));
  const cv::Mat img = renderFrame(r, 0);
  cv::Scalar mean, stddev;
  cv::meanStdDev(img, mean, stddev);
  EXPECT_GT(stddev[1], 10) << "background must not be flat";
  SceneSpec quiet = defaultScene(3, 4);
  quiet.effects.noiseSigma = 0;
  quiet.objects.clear();
  SceneSpec noisy = quiet;
  noisy.effects.noiseSigma = 3;
  const double d =
      meanAbsDiff(renderFrame(SceneRenderer(quiet), 0), renderFrame(SceneRenderer(noisy), 0));
  EXPECT_GT(d, 1.0);
  EXPECT_LT(d, 5.0);
}

TEST(SceneRenderer, TruthBoxesAreWhereTheObjectPixelsAre) {
  const SceneSpec spec = twoObjects();
  SceneRenderer scene(spec), empty(withoutObjects(spec));
  for (int64_t index : {10, 50, 90}) {
    const auto truth = scene.truthAt(index, kFps);
    ASSERT_EQ(truth.size(), 2u);
    const cv::Mat mask = changedMask(renderFrame(scene, index), renderFrame(empty, index));
    cv::Mat remaining = mask.clone();
    for (const auto& t : truth) {
      ASSERT_TRUE(t.visible) << "object " << t.id << " at frame " << index;
      const cv::Rect box = toPixels(t.box);
      // Look for the object's pixels around its truth box; they must fill it edge to edge.
      const cv::Rect search = (box + cv::Size(16, 16) - cv::Point(8, 8)) & cv::Rect(0, 0, kW, kH);
      const cv::Rect found = cv::boundingRect(mask(search)) + search.tl();
      SCOPED_TRACE("object " + std::to_string(t.id) + " frame " + std::to_string(index));
      expectNear(found, box, 3);
      remaining(search).setTo(0);
      if (t.kind == ObjectKind::kPerson) {
        EXPECT_GT(box.height, 2 * box.width);
      } else {
        EXPECT_GT(box.width, box.height);
      }
    }
    EXPECT_EQ(cv::countNonZero(remaining), 0) << "pixels changed outside every truth box";
  }
}

TEST(SceneRenderer, ObjectsAreDistinctFromBackground) {
  const SceneSpec spec = twoObjects();
  SceneRenderer scene(spec), empty(withoutObjects(spec));
  const auto truth = scene.truthAt(50, kFps);
  const cv::Mat mask = changedMask(renderFrame(scene, 50), renderFrame(empty, 50));
  for (const auto& t : truth) {
    const cv::Rect box = toPixels(t.box);
    const double fill = cv::countNonZero(mask(box)) / static_cast<double>(box.area());
    EXPECT_GT(fill, t.kind == ObjectKind::kPerson ? 0.45 : 0.7) << "object " << t.id;
  }
}

TEST(SceneRenderer, TruthOutsideThePathIsInvisible) {
  SceneSpec spec = twoObjects();
  spec.loopSeconds = 8;  // objects' paths end at 4 s
  SceneRenderer scene(spec);
  for (const auto& t : scene.truthAt(150, kFps)) EXPECT_FALSE(t.visible);
  for (const auto& t : scene.truthAt(0, kFps)) EXPECT_TRUE(t.visible);
}

TEST(SceneRenderer, DefaultSceneHasPeopleAndCarsCrossingTheView) {
  const double loop = 20;
  SceneRenderer scene(defaultScene(11, loop));
  int people = 0, cars = 0;
  for (const auto& o : scene.spec().objects) {
    people += o.kind == ObjectKind::kPerson;
    cars += o.kind == ObjectKind::kVehicle;
  }
  EXPECT_GE(people, 2);
  EXPECT_GE(cars, 1);
  std::map<int, int> visibleFrames;
  std::map<int, float> minX, maxX;
  for (int64_t i = 0; i < static_cast<int64_t>(loop * kFps); ++i) {
    for (const auto& t : scene.truthAt(i, kFps)) {
      if (!t.visible) continue;
      ++visibleFrames[t.id];
      minX.try_emplace(t.id, 1.f);
      maxX.try_emplace(t.id, 0.f);
      minX[t.id] = std::min(minX[t.id], t.box.x);
      maxX[t.id] = std::max(maxX[t.id], t.box.x + t.box.w);
    }
  }
  for (const auto& o : scene.spec().objects) {
    EXPECT_GT(visibleFrames[o.id], 25) << "object " << o.id;
    EXPECT_LT(minX[o.id], 0.02) << "object " << o.id << " enters at an edge";
    EXPECT_GT(maxX[o.id], 0.98) << "object " << o.id << " leaves at an edge";
  }
  // Short loops (tests) still fit each crossing inside the loop.
  SceneRenderer shortScene(defaultScene(11, 4));
  for (const auto& o : shortScene.spec().objects) {
    EXPECT_LE(o.path.back().t, 4.0);
  }
}

TEST(SceneEffects, IlluminationStepScalesBrightness) {
  SceneSpec spec = twoObjects();
  spec.effects.illuminationAt = 2.0;
  spec.effects.illuminationFactor = 0.5;
  SceneRenderer lit(spec), plain(twoObjects());
  EXPECT_EQ(cv::norm(renderFrame(lit, 49), renderFrame(plain, 49), cv::NORM_INF), 0);
  const double before = cv::mean(renderFrame(plain, 50))[1];
  const double after = cv::mean(renderFrame(lit, 50))[1];
  EXPECT_NEAR(after / before, 0.5, 0.02);
}

TEST(SceneEffects, CoveredLensIsDarkAndFlatAndHidesObjects) {
  SceneSpec spec = twoObjects();
  spec.effects.coveredAt = 1.0;
  spec.effects.noiseSigma = 2;
  SceneRenderer r(spec);
  cv::Scalar mean, stddev;
  cv::meanStdDev(renderFrame(r, 30), mean, stddev);
  EXPECT_LT(mean[1], 25);
  EXPECT_LT(stddev[1], 4);
  cv::meanStdDev(renderFrame(r, 20), mean, stddev);
  EXPECT_GT(stddev[1], 10);
  for (const auto& t : r.truthAt(30, kFps)) EXPECT_FALSE(t.visible);
}

TEST(SceneEffects, FrozenImageRepeatsOneFrame) {
  SceneSpec spec = defaultScene(5, 4);
  spec.effects.frozenAt = 2.0;
  SceneRenderer r(spec);
  const cv::Mat frozen = renderFrame(r, 50);
  EXPECT_EQ(cv::norm(frozen, renderFrame(r, 60), cv::NORM_INF), 0);
  EXPECT_EQ(cv::norm(frozen, renderFrame(r, 99), cv::NORM_INF), 0);
  EXPECT_GT(cv::norm(renderFrame(r, 40), renderFrame(r, 41), cv::NORM_L1), 0);
}

TEST(SceneEffects, TurnedCameraShowsAnotherBackground) {
  SceneSpec spec = twoObjects();
  spec.effects.turnedAt = 2.0;
  SceneRenderer turned(spec), plain(twoObjects());
  EXPECT_LT(meanAbsDiff(renderFrame(turned, 49), renderFrame(plain, 49)), 0.01);
  EXPECT_GT(meanAbsDiff(renderFrame(turned, 60), renderFrame(plain, 60)), 15);
  for (const auto& t : turned.truthAt(60, kFps)) EXPECT_FALSE(t.visible);
}

TEST(SceneEffects, RainAddsStreaksEveryFrame) {
  SceneSpec spec = withoutObjects(twoObjects());
  spec.effects.rain = true;
  SceneRenderer rain(spec), dry(withoutObjects(twoObjects()));
  const cv::Mat mask = changedMask(renderFrame(rain, 10), renderFrame(dry, 10));
  const double share = cv::countNonZero(mask) / static_cast<double>(kW * kH);
  EXPECT_GT(share, 0.01);
  EXPECT_LT(share, 0.3);
  // Streaks move between frames, and are deterministic.
  EXPECT_GT(meanAbsDiff(renderFrame(rain, 10), renderFrame(rain, 11)), 0.5);
  EXPECT_EQ(cv::norm(renderFrame(rain, 10), renderFrame(SceneRenderer(spec), 10), cv::NORM_INF), 0);
}

TEST(SceneEffects, SwayingRegionMovesOnlyInsideIt) {
  SceneSpec spec = withoutObjects(twoObjects());
  spec.effects.swayingRegion = NormRect{0.6f, 0.1f, 0.2f, 0.4f};
  SceneRenderer r(spec);
  const cv::Mat mask = changedMask(renderFrame(r, 0), renderFrame(r, 12));
  const cv::Rect region = toPixels({0.6f, 0.1f, 0.2f, 0.4f});
  EXPECT_GT(cv::countNonZero(mask(region)), 200);
  cv::Mat outside = mask.clone();
  outside(region).setTo(0);
  EXPECT_EQ(cv::countNonZero(outside), 0);
}

TEST(SceneEffects, SlowShadowDarkensAndDrifts) {
  SceneSpec spec = withoutObjects(twoObjects());
  spec.effects.slowShadow = NormRect{0.1f, 0.3f, 0.3f, 0.3f};
  SceneRenderer shadow(spec), plain(withoutObjects(twoObjects()));
  const cv::Rect core = toPixels({0.2f, 0.4f, 0.1f, 0.1f});
  const cv::Mat s0 = renderFrame(shadow, 0), p0 = renderFrame(plain, 0);
  EXPECT_LT(cv::mean(s0(core))[1], 0.75 * cv::mean(p0(core))[1]);
  // Later in the loop the shadow has moved right: its centre is darker than where it started.
  const cv::Mat s99 = renderFrame(shadow, 99);
  const cv::Rect later = toPixels({0.45f, 0.4f, 0.1f, 0.1f});
  EXPECT_LT(cv::mean(s99(later))[1], 0.75 * cv::mean(p0(later))[1]);
  EXPECT_GT(meanAbsDiff(s0, s99), 1.0);
}

TEST(SceneEffects, ShakeShiftsTheWholeImage) {
  SceneSpec spec = twoObjects();
  spec.effects.shakeAmplitudePx = 4;
  SceneRenderer shaky(spec), still(twoObjects());
  int shifted = 0;
  for (int64_t i = 0; i < 10; ++i) {
    const cv::Mat a = renderFrame(shaky, i), b = renderFrame(still, i);
    // Find the shift that best explains the shaky frame.
    double best = 1e9;
    int bestDx = 0, bestDy = 0;
    for (int dy = -4; dy <= 4; ++dy) {
      for (int dx = -4; dx <= 4; ++dx) {
        const cv::Rect inner(8, 8, kW - 16, kH - 16);
        const double d = meanAbsDiff(a(inner), b(inner + cv::Point(dx, dy)));
        if (d < best) {
          best = d;
          bestDx = dx;
          bestDy = dy;
        }
      }
    }
    EXPECT_LT(best, 1.0) << "frame " << i << " is a shifted copy";
    shifted += (bestDx != 0 || bestDy != 0);
  }
  EXPECT_GE(shifted, 5);
}

TEST(ViewWindow, ZoomAndPanCropAWiderWorld) {
  const SceneSpec spec = twoObjects();
  SceneRenderer scene(spec), empty(withoutObjects(spec));
  const int64_t index = 50;
  const ViewWindow zoomed{0.0f, 0.0f, 1.0f / 3.0f};  // 2x: view is half the default frame
  const auto wide = scene.truthAt(index, kFps);
  const auto tele = scene.truthAt(index, kFps, zoomed);
  ASSERT_TRUE(wide[0].visible);
  ASSERT_TRUE(tele[0].visible);
  EXPECT_NEAR(tele[0].box.h, 2 * wide[0].box.h, 1e-3);
  EXPECT_NEAR(tele[0].box.x, (wide[0].box.x - 0.25f) * 2, 1e-3);
  const cv::Mat mask =
      changedMask(renderFrame(scene, index, zoomed), renderFrame(empty, index, zoomed));
  const cv::Rect box = toPixels(tele[0].box);
  const cv::Rect search = (box + cv::Size(16, 16) - cv::Point(8, 8)) & cv::Rect(0, 0, kW, kH);
  expectNear(cv::boundingRect(mask(search)) + search.tl(), box, 3);
  // Panning fully left shows world left of the default frame: the car (right half) is gone.
  const auto panned = scene.truthAt(index, kFps, ViewWindow{-1, 0, 0});
  EXPECT_NEAR(panned[0].box.x, wide[0].box.x + 0.5f, 1e-3);
  EXPECT_GT(meanAbsDiff(renderFrame(empty, index, {-1, 0, 0}), renderFrame(empty, index)), 5);
}

TEST(Fault, NamesRoundTripAndAliasesParse) {
  for (Fault f : {Fault::kClear, Fault::kStopSending, Fault::kDropConnections, Fault::kRefuse,
                  Fault::kRestart}) {
    auto parsed = parseFault(toString(f));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, f);
  }
  EXPECT_EQ(*parseFault("stall"), Fault::kStopSending);
  EXPECT_EQ(*parseFault("drop"), Fault::kDropConnections);
  EXPECT_EQ(*parseFault("none"), Fault::kClear);
  EXPECT_EQ(parseFault("explode").error().code, core::ErrorCode::kInvalidArgument);
}

TEST(SimServer, RejectsBadOptionsWithoutStarting) {
  SimOptions o;
  o.cameras = 0;
  EXPECT_EQ(SimServer::start(o).error().code, core::ErrorCode::kInvalidArgument);
  o.cameras = 2;
  o.ptzCameras = {5};
  EXPECT_EQ(SimServer::start(o).error().code, core::ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace sharpeyes::sim
