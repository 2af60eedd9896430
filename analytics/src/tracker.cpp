#include "tracker.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <tuple>

namespace sharpeyes::analytics::detail {
namespace {
constexpr double kPi = 3.14159265358979323846;
constexpr double kAccelNoise = 0.5;      // (frame units / s^2)^2: people and cars turn, slow down
constexpr double kMeasureNoise = 4e-5;   // (frame units)^2: blob centres jitter by ~0.6 %
constexpr double kSizeSmoothing = 0.35;  // new size weight
}  // namespace

void Axis::predict(double dt, double q) {
  p += v * dt;
  const double dt2 = dt * dt;
  const double n00 = p00 + dt * (2 * p01 + dt * p11) + q * dt2 * dt2 / 4;
  const double n01 = p01 + dt * p11 + q * dt2 * dt / 2;
  const double n11 = p11 + q * dt2;
  p00 = n00;
  p01 = n01;
  p11 = n11;
}

void Axis::update(double z, double r) {
  const double s = p00 + r;
  const double k0 = p00 / s, k1 = p01 / s;
  const double innov = z - p;
  p += k0 * innov;
  v += k1 * innov;
  const double n00 = (1 - k0) * p00;
  const double n01 = (1 - k0) * p01;
  const double n11 = p11 - k1 * p01;
  p00 = n00;
  p01 = n01;
  p11 = n11;
}

core::BoundingBox Track::box() const {
  return {float(x.p - w / 2), float(y.p - h / 2), float(w), float(h)};
}

double Track::speed(double aspect) const {
  return std::hypot(x.v, y.v * aspect);
}

double Track::directionDeg(double aspect) const {
  double deg = std::atan2(y.v * aspect, x.v) * 180.0 / kPi;
  if (deg < 0) deg += 360;
  return deg;
}

std::vector<int64_t> Tracker::update(const std::vector<core::BoundingBox>& meas, core::WallTime now,
                                     double aspect) {
  double dt = 0.2;
  if (haveLast_) dt = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  haveLast_ = true;
  std::vector<int64_t> ended;
  if (dt < 0 || dt > 10) {  // clock jump or a long gap: nothing carries over
    ended = clear();
    dt = 0.2;
  }

  for (Track& t : tracks_) {
    t.x.predict(dt, kAccelNoise);
    t.y.predict(dt, kAccelNoise / (aspect * aspect));
    t.matched = false;
  }

  // Candidate pairs within the gate, cheapest first.
  std::vector<std::tuple<double, size_t, size_t>> pairs;
  for (size_t ti = 0; ti < tracks_.size(); ++ti) {
    const Track& t = tracks_[ti];
    const double sinceSeen = std::chrono::duration<double>(now - t.lastSeen).count();
    // Young tracks have no velocity yet: anything up to maxSpeed. Established ones are predicted
    // well, so the gate only allows for a change of pace; it does not grow to maxSpeed while a
    // track coasts (otherwise a lost track would grab a newcomer across the frame).
    const double pace =
        t.hits < 3 ? config_.maxSpeed : std::min(config_.maxSpeed, 0.5 * t.speed(aspect) + 0.15);
    const double gate = pace * std::max(sinceSeen, dt) + 0.5 * std::max(t.w, t.h * aspect) + 0.02;
    for (size_t mi = 0; mi < meas.size(); ++mi) {
      const auto& m = meas[mi];
      const double dx = (m.x + m.w / 2) - t.x.p;
      const double dy = ((m.y + m.h / 2) - t.y.p) * aspect;
      const double d = std::hypot(dx, dy);
      if (d > gate) continue;
      // Penalise size mismatch so two crossing objects keep their ids.
      const double sizeRatio = std::max(m.w * m.h, 1e-6f) / std::max(t.w * t.h, 1e-6);
      const double cost = d + 0.02 * std::abs(std::log(sizeRatio));
      pairs.emplace_back(cost, ti, mi);
    }
  }
  std::sort(pairs.begin(), pairs.end());
  std::vector<bool> measUsed(meas.size(), false);
  for (const auto& [cost, ti, mi] : pairs) {
    Track& t = tracks_[ti];
    if (t.matched || measUsed[mi]) continue;
    const auto& m = meas[mi];
    t.x.update(m.x + m.w / 2, kMeasureNoise);
    t.y.update(m.y + m.h / 2, kMeasureNoise / (aspect * aspect));
    t.w = (1 - kSizeSmoothing) * t.w + kSizeSmoothing * m.w;
    t.h = (1 - kSizeSmoothing) * t.h + kSizeSmoothing * m.h;
    t.matched = true;
    measUsed[mi] = true;
    ++t.hits;
    t.consecutiveMisses = 0;
    t.lastSeen = now;
    if (t.hits >= config_.confirmFrames) t.confirmed = true;
  }

  for (Track& t : tracks_) {
    if (!t.matched) ++t.consecutiveMisses;
  }
  const auto stale = [&](const Track& t) {
    if (t.matched) return false;
    // A tentative track that misses is noise; a confirmed one coasts up to maxLost.
    if (!t.confirmed) return true;
    return now - t.lastSeen > config_.maxLost;
  };
  for (const Track& t : tracks_) {
    if (stale(t)) ended.push_back(t.id);
  }
  std::erase_if(tracks_, stale);

  for (size_t mi = 0; mi < meas.size(); ++mi) {
    if (measUsed[mi]) continue;
    const auto& m = meas[mi];
    Track t;
    t.id = nextId_++;
    t.x.p = m.x + m.w / 2;
    t.y.p = m.y + m.h / 2;
    t.x.p00 = kMeasureNoise;
    t.y.p00 = kMeasureNoise / (aspect * aspect);
    t.x.p11 = 0.25;
    t.y.p11 = 0.25 / (aspect * aspect);
    t.w = m.w;
    t.h = m.h;
    t.hits = 1;
    t.matched = true;
    t.born = t.lastSeen = now;
    t.confirmed = config_.confirmFrames <= 1;
    tracks_.push_back(std::move(t));
  }
  return ended;
}

std::vector<int64_t> Tracker::clear() {
  std::vector<int64_t> ids;
  for (const Track& t : tracks_) ids.push_back(t.id);
  tracks_.clear();
  return ids;
}

}  // namespace sharpeyes::analytics::detail
