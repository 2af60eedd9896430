// SceneRenderer: everything is a pure function of (spec, frame index within the loop, view), so
// the cache, a PTZ live encoder and a test that re-renders a frame all agree pixel for pixel.
//
// Geometry: object coordinates are in the "default view" (0..1 both axes). The world around it
// spans -0.5..1.5 on both axes so a ViewWindow can pan/tilt over it; the world texture for an
// output size WxH is rendered once at 2W x 2H (1 texel per output pixel at zoom 0).

#include "sharpeyes/sim/scene.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <numbers>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <utility>

namespace sharpeyes::sim {
namespace {

constexpr int kNoiseMargin = 64;  // per-frame noise is a random window of a larger noise plane

uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t mix(uint64_t a, uint64_t b) {
  return splitmix(a ^ splitmix(b));
}

// Deterministic uniform [0,1) from a counter-based stream.
class Rand {
 public:
  explicit Rand(uint64_t seed) : state_(seed) {}
  double uniform() {
    state_ = splitmix(state_);
    return static_cast<double>(state_ >> 11) * (1.0 / 9007199254740992.0);
  }
  double range(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int below(int n) { return static_cast<int>(uniform() * n); }

 private:
  uint64_t state_;
};

struct ViewGeom {
  double u0 = 0, v0 = 0, vw = 1;  // visible part of the default-view plane
};

ViewGeom viewGeom(const ViewWindow& view) {
  const double pan = std::clamp<double>(view.pan, -1, 1);
  const double tilt = std::clamp<double>(view.tilt, -1, 1);
  const double zoom = std::clamp<double>(view.zoom, 0, 1);
  ViewGeom g;
  g.vw = 1.0 / (1.0 + 3.0 * zoom);
  g.u0 = 0.5 + 0.5 * pan - g.vw / 2;
  g.v0 = 0.5 + 0.5 * tilt - g.vw / 2;
  return g;
}

struct SizeCache {
  cv::Mat world[2];  // [0] normal, [1] after "camera turned"
  cv::Mat noisePos, noiseNeg;
};

cv::Scalar bgr(double b, double g, double r) {
  return {b, g, r};
}

// A plausible rural view: fields with blotchy colour, a road band with a dashed centre line,
// a row of houses, fine grain. `variant` 1 is the scene after the camera was turned.
cv::Mat makeWorld(uint64_t seed, int width, int height, int variant) {
  const int ww = 2 * width, wh = 2 * height;
  Rand rnd(mix(seed, 0x776f726c64ULL + variant));
  // Low-frequency colour field.
  cv::Mat coarse(18, 32, CV_8UC3);
  for (int y = 0; y < coarse.rows; ++y) {
    for (int x = 0; x < coarse.cols; ++x) {
      const double g = rnd.range(70, 130);
      coarse.at<cv::Vec3b>(y, x) =
          variant == 0
              ? cv::Vec3b(cv::saturate_cast<uint8_t>(g * 0.55), cv::saturate_cast<uint8_t>(g),
                          cv::saturate_cast<uint8_t>(g * 0.8))
              : cv::Vec3b(cv::saturate_cast<uint8_t>(g * 0.8), cv::saturate_cast<uint8_t>(g * 0.85),
                          cv::saturate_cast<uint8_t>(g));
    }
  }
  cv::Mat world;
  cv::resize(coarse, world, cv::Size(ww, wh), 0, 0, cv::INTER_CUBIC);
  auto wx = [&](double u) { return static_cast<int>(std::lround((u + 0.5) * width)); };
  auto wy = [&](double v) { return static_cast<int>(std::lround((v + 0.5) * height)); };

  if (variant == 0) {
    // Sky strip at the very top of the world.
    cv::rectangle(world, cv::Point(0, 0), cv::Point(ww, wy(0.05)), bgr(200, 170, 140), cv::FILLED);
    // Houses along the far side.
    for (double u = -0.45; u < 1.45;) {
      const double hw = rnd.range(0.08, 0.16), hh = rnd.range(0.10, 0.18);
      const double base = 0.42;
      const cv::Scalar wall = bgr(rnd.range(150, 210), rnd.range(160, 215), rnd.range(170, 225));
      cv::rectangle(world, cv::Point(wx(u), wy(base - hh)), cv::Point(wx(u + hw), wy(base)), wall,
                    cv::FILLED);
      std::vector<cv::Point> roof{{wx(u - 0.01), wy(base - hh)},
                                  {wx(u + hw / 2), wy(base - hh - 0.06)},
                                  {wx(u + hw + 0.01), wy(base - hh)}};
      cv::fillConvexPoly(world, roof, bgr(rnd.range(40, 80), rnd.range(40, 70), rnd.range(90, 150)),
                         cv::LINE_AA);
      cv::rectangle(world, cv::Point(wx(u + hw * 0.4), wy(base - hh * 0.5)),
                    cv::Point(wx(u + hw * 0.6), wy(base)), bgr(50, 60, 80), cv::FILLED);
      u += hw + rnd.range(0.04, 0.12);
    }
    // Road.
    cv::rectangle(world, cv::Point(0, wy(0.62)), cv::Point(ww, wy(0.82)), bgr(95, 95, 100),
                  cv::FILLED);
    for (double u = -0.5; u < 1.5; u += 0.08) {
      cv::rectangle(world, cv::Point(wx(u), wy(0.717)), cv::Point(wx(u + 0.04), wy(0.723)),
                    bgr(210, 210, 210), cv::FILLED);
    }
  } else {
    // A wall and a field seen after the camera was turned: strong, different structure.
    cv::rectangle(world, cv::Point(0, wy(0.3)), cv::Point(ww, wy(0.55)), bgr(120, 130, 150),
                  cv::FILLED);
    for (double u = -0.5; u < 1.5; u += 0.05) {
      cv::line(world, cv::Point(wx(u), wy(0.3)), cv::Point(wx(u), wy(0.55)), bgr(90, 95, 110),
               std::max(1, width / 400));
    }
  }
  // Fine grain so the texture is not flat (encoders and detectors both see texture).
  cv::Mat grain(wh, ww, CV_16SC1);
  cv::RNG rng(mix(seed, 0x6772616eULL + variant));
  rng.fill(grain, cv::RNG::NORMAL, 0, 6);
  cv::Mat grain3;
  cv::Mat channels[3] = {grain, grain, grain};
  cv::merge(channels, 3, grain3);
  cv::Mat world16;
  world.convertTo(world16, CV_16SC3);
  world16 += grain3;
  world16.convertTo(world, CV_8UC3);
  return world;
}

std::optional<std::pair<double, double>> positionAt(const ScriptedObject& obj, double t) {
  const auto& p = obj.path;
  if (p.empty() || t < p.front().t || t > p.back().t) return std::nullopt;
  for (size_t i = 1; i < p.size(); ++i) {
    if (t <= p[i].t) {
      const double span = p[i].t - p[i - 1].t;
      const double a = span > 0 ? (t - p[i - 1].t) / span : 1.0;
      return std::make_pair(p[i - 1].x + a * (p[i].x - p[i - 1].x),
                            p[i - 1].y + a * (p[i].y - p[i - 1].y));
    }
  }
  return std::make_pair(static_cast<double>(p.back().x), static_cast<double>(p.back().y));
}

cv::Scalar objectColour(uint64_t seed, int id) {
  // Saturated colours, far from the greens/greys of the background.
  static const cv::Scalar kPalette[] = {bgr(40, 40, 220),  bgr(220, 60, 40),   bgr(30, 200, 240),
                                        bgr(200, 40, 200), bgr(240, 240, 250), bgr(20, 20, 30),
                                        bgr(0, 140, 255),  bgr(160, 30, 90)};
  return kPalette[mix(seed, static_cast<uint64_t>(id)) % std::size(kPalette)];
}

void drawPerson(cv::Mat& img, const cv::Rect2d& r, const cv::Scalar& shirt, double t) {
  const double cx = r.x + r.width / 2;
  const double headR = std::max(1.0, std::min(0.1 * r.height, 0.4 * r.width));
  cv::circle(img, cv::Point2d(cx, r.y + headR), static_cast<int>(std::lround(headR)),
             bgr(120, 160, 210), cv::FILLED, cv::LINE_AA);
  const double bodyTop = r.y + 2 * headR, bodyBottom = r.y + 0.62 * r.height;
  cv::ellipse(img, cv::Point2d(cx, (bodyTop + bodyBottom) / 2),
              cv::Size2d(r.width / 2, (bodyBottom - bodyTop) / 2), 0, 0, 360, shirt, cv::FILLED,
              cv::LINE_AA);
  const int legW = std::max(1, static_cast<int>(std::lround(0.28 * r.width)));
  const double swing = std::sin(t * 2 * std::numbers::pi * 1.6) * (r.width / 2 - legW / 2.0);
  const double footY = r.y + r.height - legW / 2.0;
  const double hipY = r.y + 0.58 * r.height;
  cv::line(img, cv::Point2d(cx - 0.15 * r.width, hipY), cv::Point2d(cx + swing, footY),
           bgr(60, 40, 30), legW, cv::LINE_AA);
  cv::line(img, cv::Point2d(cx + 0.15 * r.width, hipY), cv::Point2d(cx - swing, footY),
           bgr(60, 40, 30), legW, cv::LINE_AA);
}

void drawVehicle(cv::Mat& img, const cv::Rect2d& r, const cv::Scalar& paint) {
  const double wheelR = 0.17 * r.height;
  cv::rectangle(img, cv::Point2d(r.x, r.y + 0.35 * r.height),
                cv::Point2d(r.x + r.width, r.y + r.height - wheelR), paint, cv::FILLED);
  cv::rectangle(img, cv::Point2d(r.x + 0.2 * r.width, r.y),
                cv::Point2d(r.x + 0.8 * r.width, r.y + 0.4 * r.height), paint, cv::FILLED);
  cv::rectangle(img, cv::Point2d(r.x + 0.25 * r.width, r.y + 0.06 * r.height),
                cv::Point2d(r.x + 0.75 * r.width, r.y + 0.34 * r.height), bgr(70, 50, 40),
                cv::FILLED);
  for (double fx : {0.2, 0.8}) {
    cv::circle(img, cv::Point2d(r.x + fx * r.width, r.y + r.height - wheelR),
               static_cast<int>(std::lround(wheelR)), bgr(25, 25, 25), cv::FILLED, cv::LINE_AA);
  }
}

void drawAnimal(cv::Mat& img, const cv::Rect2d& r, const cv::Scalar& fur) {
  const double headR = 0.22 * r.height;
  cv::ellipse(img, cv::Point2d(r.x + 0.45 * r.width, r.y + 0.45 * r.height),
              cv::Size2d(0.4 * r.width, 0.25 * r.height), 0, 0, 360, fur, cv::FILLED, cv::LINE_AA);
  cv::circle(img, cv::Point2d(r.x + r.width - headR, r.y + headR),
             static_cast<int>(std::lround(headR)), fur, cv::FILLED, cv::LINE_AA);
  const int legW = std::max(1, static_cast<int>(0.06 * r.width));
  for (double fx : {0.15, 0.3, 0.6, 0.75}) {
    cv::line(img, cv::Point2d(r.x + fx * r.width, r.y + 0.6 * r.height),
             cv::Point2d(r.x + fx * r.width, r.y + r.height - legW / 2.0), fur, legW);
  }
}

}  // namespace

std::string_view toString(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kPerson: return "person";
    case ObjectKind::kVehicle: return "vehicle";
    case ObjectKind::kAnimal: return "animal";
  }
  return "unknown";
}

SceneSpec defaultScene(uint64_t seed, double loopSeconds) {
  SceneSpec spec;
  spec.seed = seed;
  spec.loopSeconds = loopSeconds;
  Rand rnd(mix(seed, 0x7363656e65ULL));
  int id = 1;
  const double maxSpan = 0.9 * loopSeconds;
  auto crossing = [&](ScriptedObject obj, double y, double speed, bool pause) {
    const bool leftToRight = rnd.uniform() < 0.5;
    const double x0 = leftToRight ? -obj.width / 2 - 0.01 : 1 + obj.width / 2 + 0.01;
    const double x1 = leftToRight ? 1 + obj.width / 2 + 0.01 : -obj.width / 2 - 0.01;
    const double y1 = y + rnd.range(-0.04, 0.04);
    const double pauseSeconds = pause ? std::min(3.0, 0.2 * loopSeconds) : 0;
    double duration = std::abs(x1 - x0) / speed;
    duration = std::min(duration, maxSpan - pauseSeconds);
    const double t0 = rnd.range(0, std::max(0.0, loopSeconds - duration - pauseSeconds - 0.05));
    obj.path.push_back({t0, static_cast<float>(x0), static_cast<float>(y)});
    if (pause) {
      const double mid = t0 + duration / 2;
      const float xm = static_cast<float>((x0 + x1) / 2), ym = static_cast<float>((y + y1) / 2);
      obj.path.push_back({mid, xm, ym});
      obj.path.push_back({mid + pauseSeconds, xm, ym});
    }
    obj.path.push_back(
        {t0 + duration + pauseSeconds, static_cast<float>(x1), static_cast<float>(y1)});
    spec.objects.push_back(std::move(obj));
  };
  for (int i = 0; i < 3; ++i) {
    ScriptedObject person;
    person.id = id++;
    person.kind = ObjectKind::kPerson;
    const double feet = rnd.range(0.5, 0.95);
    person.height = static_cast<float>(0.10 + 0.10 * (feet - 0.5) / 0.45);
    person.width = person.height * 0.32f;
    const double centre = feet - person.height / 2;
    crossing(std::move(person), centre, rnd.range(0.07, 0.13), i == 0);
  }
  for (int i = 0; i < 2; ++i) {
    ScriptedObject car;
    car.id = id++;
    car.kind = ObjectKind::kVehicle;
    car.height = 0.09f;
    car.width = 0.16f;
    crossing(std::move(car), rnd.range(0.66, 0.74), rnd.range(0.2, 0.35), false);
  }
  return spec;
}

struct SceneRenderer::Impl {
  SceneSpec spec;
  mutable std::mutex mu;
  mutable std::map<std::pair<int, int>, std::shared_ptr<SizeCache>> caches;

  std::shared_ptr<SizeCache> cacheFor(int width, int height, bool needTurned) const {
    std::lock_guard lock(mu);
    auto& c = caches[{width, height}];
    if (!c) {
      c = std::make_shared<SizeCache>();
      c->world[0] = makeWorld(spec.seed, width, height, 0);
      cv::Mat noise(height + kNoiseMargin, width + kNoiseMargin, CV_16SC3);
      cv::RNG rng(mix(spec.seed, 0x6e6f697365ULL));
      rng.fill(noise, cv::RNG::NORMAL, 0, std::max(0.0, spec.effects.noiseSigma));
      cv::Mat pos = cv::max(noise, 0), neg = cv::max(-noise, 0);
      pos.convertTo(c->noisePos, CV_8UC3);
      neg.convertTo(c->noiseNeg, CV_8UC3);
    }
    if (needTurned && c->world[1].empty()) {
      c->world[1] = makeWorld(spec.seed, width, height, 1);
    }
    return c;
  }

  int64_t loopFrames(double fps) const {
    return std::max<int64_t>(1, std::llround(spec.loopSeconds * fps));
  }

  // Frame index within the loop after the "frozen" effect (a frozen camera repeats one frame).
  int64_t effectiveIndex(int64_t index, double fps) const {
    const int64_t n = loopFrames(fps);
    int64_t i = ((index % n) + n) % n;
    if (spec.effects.frozenAt) {
      const int64_t frozen = std::llround(*spec.effects.frozenAt * fps);
      if (frozen >= 0 && i > frozen) i = frozen;
    }
    return i;
  }

  bool at(const std::optional<double>& when, double t) const { return when && t >= *when; }
};

SceneRenderer::SceneRenderer(SceneSpec spec) : impl_(std::make_unique<Impl>()) {
  impl_->spec = std::move(spec);
}
SceneRenderer::~SceneRenderer() = default;
SceneRenderer::SceneRenderer(SceneRenderer&&) noexcept = default;
SceneRenderer& SceneRenderer::operator=(SceneRenderer&&) noexcept = default;

const SceneSpec& SceneRenderer::spec() const {
  return impl_->spec;
}

std::vector<ObjectTruth> SceneRenderer::truthAt(int64_t index, double fps) const {
  return truthAt(index, fps, ViewWindow{});
}

std::vector<ObjectTruth> SceneRenderer::truthAt(int64_t index, double fps,
                                                const ViewWindow& view) const {
  const auto& spec = impl_->spec;
  const int64_t i = impl_->effectiveIndex(index, fps);
  const double t = static_cast<double>(i) / fps;
  const bool hidden = impl_->at(spec.effects.coveredAt, t) || impl_->at(spec.effects.turnedAt, t);
  const ViewGeom g = viewGeom(view);
  std::vector<ObjectTruth> out;
  for (const auto& obj : spec.objects) {
    ObjectTruth truth;
    truth.id = obj.id;
    truth.kind = obj.kind;
    const auto pos = positionAt(obj, t);
    if (pos && !hidden) {
      const double x0 = (pos->first - obj.width / 2 - g.u0) / g.vw;
      const double y0 = (pos->second - obj.height / 2 - g.v0) / g.vw;
      const double x1 = x0 + obj.width / g.vw, y1 = y0 + obj.height / g.vw;
      const double cx0 = std::clamp(x0, 0.0, 1.0), cy0 = std::clamp(y0, 0.0, 1.0);
      const double cx1 = std::clamp(x1, 0.0, 1.0), cy1 = std::clamp(y1, 0.0, 1.0);
      if (cx1 > cx0 && cy1 > cy0) {
        truth.visible = true;
        truth.box = {static_cast<float>(cx0), static_cast<float>(cy0),
                     static_cast<float>(cx1 - cx0), static_cast<float>(cy1 - cy0)};
      }
    }
    out.push_back(truth);
  }
  return out;
}

void SceneRenderer::render(int64_t index, double fps, int width, int height, uint8_t* bgrOut,
                           const ViewWindow& view) const {
  const auto& spec = impl_->spec;
  const auto& fx = spec.effects;
  const int64_t i = impl_->effectiveIndex(index, fps);
  const double t = static_cast<double>(i) / fps;
  const bool turned = impl_->at(fx.turnedAt, t);
  const auto cache = impl_->cacheFor(width, height, turned);
  cv::Mat out(height, width, CV_8UC3, bgrOut);
  const uint64_t frameSeed = mix(spec.seed, static_cast<uint64_t>(i));

  if (impl_->at(fx.coveredAt, t)) {
    out.setTo(cv::Scalar(14, 14, 14));
  } else {
    const ViewGeom g = viewGeom(view);
    double shakeX = 0, shakeY = 0;
    if (fx.shakeAmplitudePx > 0) {
      Rand r(mix(frameSeed, 0x7368616b65ULL));
      shakeX = std::round(r.range(-fx.shakeAmplitudePx, fx.shakeAmplitudePx));
      shakeY = std::round(r.range(-fx.shakeAmplitudePx, fx.shakeAmplitudePx));
    }
    const cv::Mat m = (cv::Mat_<double>(2, 3) << g.vw, 0, (g.u0 + 0.5) * width + shakeX, 0, g.vw,
                       (g.v0 + 0.5) * height + shakeY);
    cv::warpAffine(cache->world[turned ? 1 : 0], out, m, out.size(),
                   cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_REFLECT);
    // Default-view normalised coordinates to output pixels (shake moves the whole picture).
    auto toPx = [&](double u, double v) {
      return cv::Point2d((u - g.u0) / g.vw * width - shakeX, (v - g.v0) / g.vw * height - shakeY);
    };
    const double scaleX = width / g.vw, scaleY = height / g.vw;

    if (!turned && fx.swayingRegion) {
      // Foliage swaying in the wind, clipped to the region so nothing outside it moves.
      const auto& reg = *fx.swayingRegion;
      const cv::Point2d a = toPx(reg.x, reg.y), b = toPx(reg.x + reg.w, reg.y + reg.h);
      const cv::Rect roi =
          cv::Rect(
              cv::Point(static_cast<int>(std::lround(a.x)), static_cast<int>(std::lround(a.y))),
              cv::Point(static_cast<int>(std::lround(b.x)), static_cast<int>(std::lround(b.y)))) &
          cv::Rect(0, 0, width, height);
      if (roi.area() > 0) {
        cv::Mat tree = out(roi);
        const cv::Point2d o(roi.x, roi.y);
        Rand r(mix(spec.seed, 0x74726565ULL));
        cv::rectangle(tree, toPx(reg.x + reg.w * 0.45, reg.y + reg.h * 0.6) - o,
                      toPx(reg.x + reg.w * 0.55, reg.y + reg.h) - o, bgr(30, 50, 70), cv::FILLED);
        for (int k = 0; k < 40; ++k) {
          const double fu = r.range(0.15, 0.85), fv = r.range(0.1, 0.65);
          const double phase = r.range(0, 2 * std::numbers::pi);
          const double sway = 0.08 * std::sin(2 * std::numbers::pi * 0.7 * t + phase) * (1 - fv);
          const double rad = r.range(0.08, 0.16) * reg.w * scaleX;
          const double shade = r.range(0.6, 1.0);
          cv::circle(tree, toPx(reg.x + (fu + sway) * reg.w, reg.y + fv * reg.h) - o,
                     std::max(1, static_cast<int>(rad)), bgr(30 * shade, 120 * shade, 50 * shade),
                     cv::FILLED, cv::LINE_AA);
        }
      }
    }

    if (!turned) {
      for (const auto& obj : spec.objects) {
        const auto pos = positionAt(obj, t);
        if (!pos) continue;
        const cv::Point2d tl = toPx(pos->first - obj.width / 2, pos->second - obj.height / 2);
        const cv::Rect2d r(tl.x, tl.y, obj.width * scaleX, obj.height * scaleY);
        if (r.x > width || r.y > height || r.x + r.width < 0 || r.y + r.height < 0) continue;
        const cv::Scalar colour = objectColour(spec.seed, obj.id);
        switch (obj.kind) {
          case ObjectKind::kPerson: drawPerson(out, r, colour, t); break;
          case ObjectKind::kVehicle: drawVehicle(out, r, colour); break;
          case ObjectKind::kAnimal: drawAnimal(out, r, bgr(60, 90, 130)); break;
        }
      }
    }

    if (!turned && fx.slowShadow) {
      // Drifts right by a third of the frame per loop, like a cloud shadow.
      const auto& s = *fx.slowShadow;
      const double drift = 0.33 * t / std::max(1e-3, spec.loopSeconds);
      const cv::Point2d a = toPx(s.x + drift, s.y), b = toPx(s.x + drift + s.w, s.y + s.h);
      const cv::Rect roi = cv::Rect(cv::Point(static_cast<int>(a.x), static_cast<int>(a.y)),
                                    cv::Point(static_cast<int>(b.x), static_cast<int>(b.y))) &
                           cv::Rect(0, 0, width, height);
      if (roi.area() > 0) {
        cv::Mat mask(roi.size(), CV_32F, cv::Scalar(0));
        const cv::Point2d c = (a + b) * 0.5 - cv::Point2d(roi.x, roi.y);
        cv::ellipse(mask, c, cv::Size2d((b.x - a.x) / 2 * 0.8, (b.y - a.y) / 2 * 0.8), 0, 0, 360,
                    cv::Scalar(1), cv::FILLED);
        const int k = (std::max(3, static_cast<int>((b.x - a.x) * 0.1)) | 1);
        cv::GaussianBlur(mask, mask, cv::Size(k, k), 0);
        cv::Mat gain = 1.0 - 0.4 * mask;
        cv::Mat region = out(roi), f;
        region.convertTo(f, CV_32FC3);
        cv::Mat gain3;
        cv::Mat ch[3] = {gain, gain, gain};
        cv::merge(ch, 3, gain3);
        cv::multiply(f, gain3, f);
        f.convertTo(region, CV_8UC3);
      }
    }

    if (fx.rain) {
      Rand r(mix(frameSeed, 0x7261696eULL));
      const int streaks = width * height / 3000;
      const double len = 0.04 * height;
      for (int k = 0; k < streaks; ++k) {
        const cv::Point2d p(r.range(0, width), r.range(-len, height));
        cv::line(out, p, p + cv::Point2d(len * 0.25, len), bgr(185, 185, 190), 1, cv::LINE_AA);
      }
    }

    if (impl_->at(fx.illuminationAt, t)) {
      out.convertTo(out, -1, fx.illuminationFactor, 0);
    }
  }

  if (fx.noiseSigma > 0) {
    Rand r(mix(frameSeed, 0x6e6f6973ULL));
    const cv::Rect roi(r.below(kNoiseMargin), r.below(kNoiseMargin), width, height);
    cv::add(out, cache->noisePos(roi), out);
    cv::subtract(out, cache->noiseNeg(roi), out);
  }
}

}  // namespace sharpeyes::sim
