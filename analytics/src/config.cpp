#include "sharpeyes/analytics/config.h"

#include <charconv>
#include <cmath>
#include <set>

#include "sharpeyes/core/event.h"

namespace sharpeyes::analytics {
namespace {

using core::ErrorCode;
using core::makeError;

bool insideUnit(const Point& p) {
  return std::isfinite(p.x) && std::isfinite(p.y) && p.x >= 0 && p.x <= 1 && p.y >= 0 && p.y <= 1;
}

std::string describePoint(const Point& p) {
  return "(" + std::to_string(p.x) + ", " + std::to_string(p.y) + ")";
}

core::Result<void> checkPolygon(const Polygon& poly, const std::string& what) {
  if (poly.size() < 3) {
    return makeError(
        ErrorCode::kInvalidArgument,
        what + ": a polygon needs at least 3 points, has " + std::to_string(poly.size()));
  }
  for (const Point& p : poly) {
    if (!insideUnit(p)) {
      return makeError(ErrorCode::kInvalidArgument,
                       what + ": point " + describePoint(p) +
                           " is outside the image (coordinates are normalised 0..1)");
    }
  }
  double area2 = 0;
  for (size_t i = 0; i < poly.size(); ++i) {
    const Point& a = poly[i];
    const Point& b = poly[(i + 1) % poly.size()];
    area2 += double(a.x) * b.y - double(b.x) * a.y;
  }
  if (std::abs(area2) < 1e-8) {
    return makeError(ErrorCode::kInvalidArgument, what + ": the polygon has no area");
  }
  return core::okResult();
}

bool parseHhMm(std::string_view s, int& minutes) {
  if (s.size() != 5 || s[2] != ':') return false;
  int h = 0, m = 0;
  if (std::from_chars(s.data(), s.data() + 2, h).ptr != s.data() + 2) return false;
  if (std::from_chars(s.data() + 3, s.data() + 5, m).ptr != s.data() + 5) return false;
  if (h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0)) return false;
  minutes = h * 60 + m;
  return true;
}

}  // namespace

std::string_view toString(MotionAlgorithm a) {
  return a == MotionAlgorithm::kKnn ? "knn" : "mog2";
}

std::string_view toString(DetectorKind k) {
  switch (k) {
    case DetectorKind::kNone: return "none";
    case DetectorKind::kHog: return "hog";
    case DetectorKind::kCascade: return "cascade";
    case DetectorKind::kOnnx: return "onnx";
  }
  return "none";
}

std::string_view toString(RuleType t) {
  switch (t) {
    case RuleType::kMotion: return "motion";
    case RuleType::kIntrusion: return "intrusion";
    case RuleType::kTripwire: return "tripwire";
    case RuleType::kLoitering: return "loitering";
    case RuleType::kCrowd: return "crowd";
    case RuleType::kTamper: return "tamper";
    case RuleType::kSignalLoss: return "signal_loss";
  }
  return "motion";
}

core::Result<RuleType> parseRuleType(std::string_view text) {
  for (RuleType t :
       {RuleType::kMotion, RuleType::kIntrusion, RuleType::kTripwire, RuleType::kLoitering,
        RuleType::kCrowd, RuleType::kTamper, RuleType::kSignalLoss}) {
    if (toString(t) == text) return t;
  }
  return makeError(ErrorCode::kInvalidArgument,
                   "unknown rule type '" + std::string(text) +
                       "' (motion, intrusion, tripwire, loitering, crowd, tamper, signal_loss)");
}

std::string_view toString(CrossDirection d) {
  switch (d) {
    case CrossDirection::kAToB: return "a_to_b";
    case CrossDirection::kBToA: return "b_to_a";
    case CrossDirection::kBoth: return "both";
  }
  return "both";
}

core::Result<CrossDirection> parseCrossDirection(std::string_view text) {
  if (text == "a_to_b" || text == "A->B") return CrossDirection::kAToB;
  if (text == "b_to_a" || text == "B->A") return CrossDirection::kBToA;
  if (text == "both") return CrossDirection::kBoth;
  return makeError(ErrorCode::kInvalidArgument,
                   "unknown direction '" + std::string(text) + "' (a_to_b, b_to_a, both)");
}

core::Result<TimeWindow> parseTimeWindow(std::string_view text) {
  const auto dash = text.find('-');
  TimeWindow w;
  if (dash == std::string_view::npos || !parseHhMm(text.substr(0, dash), w.beginMinute) ||
      !parseHhMm(text.substr(dash + 1), w.endMinute) || w.beginMinute == w.endMinute) {
    return makeError(ErrorCode::kInvalidArgument,
                     "bad active hours '" + std::string(text) + "' (expected HH:MM-HH:MM)");
  }
  return w;
}

core::Result<void> validate(const CameraAnalyticsConfig& c) {
  const std::string cam = "camera " + (c.camera.empty() ? std::string("?") : c.camera.str());
  auto bad = [&](const std::string& msg) -> core::Result<void> {
    return makeError(ErrorCode::kInvalidArgument, cam + ": " + msg);
  };
  if (c.camera.empty()) return bad("analytics needs a camera id");
  const MotionConfig& m = c.motion;
  if (m.minArea < 0 || m.minArea > 0.5) return bad("motion.min_area must be in 0..0.5");
  if (m.sensitivity < 0 || m.sensitivity > 1) return bad("motion.sensitivity must be in 0..1");
  if (m.morphology < 0 || m.morphology > 10) return bad("motion.morphology must be in 0..10");
  if (m.analysisWidth < 64 || m.analysisWidth > 1920)
    return bad("motion.analysis_width must be in 64..1920");
  if (m.historySeconds <= 0) return bad("motion.history must be positive");
  if (m.globalChangeFraction <= 0 || m.globalChangeFraction > 1)
    return bad("motion.global_change_fraction must be in 0..1");
  for (size_t i = 0; i < m.ignore.size(); ++i) {
    if (auto r = checkPolygon(m.ignore[i], "motion.ignore[" + std::to_string(i) + "]"); !r)
      return bad(r.error().message);
  }
  if (c.tracker.confirmFrames < 1 || c.tracker.confirmFrames > 50)
    return bad("tracker.confirm_frames must be in 1..50");
  if (c.tracker.maxLost <= core::Duration::zero()) return bad("tracker.max_lost must be positive");
  if (c.tracker.maxSpeed <= 0) return bad("tracker.max_speed must be positive");
  if (c.detector.kind == DetectorKind::kOnnx && c.detector.modelPath.empty())
    return bad("detector: kind onnx needs a model path");
  if (c.preRoll < core::Duration::zero() || c.postRoll < core::Duration::zero())
    return bad("pre_roll/post_roll must not be negative");

  std::set<std::string> zones;
  for (const Zone& z : c.zones) {
    if (z.name.empty()) return bad("a zone has no name");
    if (!zones.insert(z.name).second) return bad("zone '" + z.name + "' is defined twice");
    if (auto r = checkPolygon(z.polygon, "zone '" + z.name + "'"); !r)
      return bad(r.error().message);
  }
  std::set<std::string> rules;
  for (const RuleConfig& r : c.rules) {
    const std::string what = "rule '" + r.name + "'";
    if (r.name.empty()) return bad("a rule has no name");
    if (!rules.insert(r.name).second) return bad(what + " is defined twice");
    if (r.severity < core::kMinSeverity || r.severity > core::kMaxSeverity)
      return bad(what + ": severity must be 1..4 (village, township, county, city)");
    if (r.cooldown < core::Duration::zero()) return bad(what + ": cooldown must not be negative");
    for (const std::string& cls : r.classes) {
      if (cls != "person" && cls != "vehicle" && cls != "unknown") {
        std::string msg = what;
        msg += ": unknown class '";
        msg += cls;
        msg += "' (person, vehicle, unknown)";
        return bad(msg);
      }
    }
    const bool needsZone = r.type == RuleType::kIntrusion || r.type == RuleType::kLoitering ||
                           r.type == RuleType::kCrowd;
    if (needsZone && r.zone.empty()) return bad(what + ": needs a zone");
    if (!r.zone.empty() && !zones.count(r.zone))
      return bad(what + ": names unknown zone '" + r.zone + "'");
    if (r.type == RuleType::kTripwire) {
      if (!insideUnit(r.lineA) || !insideUnit(r.lineB))
        return bad(what + ": line end outside the image (coordinates are normalised 0..1)");
      const double len = std::hypot(r.lineA.x - r.lineB.x, r.lineA.y - r.lineB.y);
      if (len < 0.01) return bad(what + ": line is too short");
    }
    if (r.type == RuleType::kCrowd && r.maxObjects < 0) return bad(what + ": max_objects < 0");
    if (r.minDwell < core::Duration::zero() || r.dwell < core::Duration::zero() ||
        r.duration < core::Duration::zero() || r.hold < core::Duration::zero())
      return bad(what + ": durations must not be negative");
    if (r.type == RuleType::kTamper && !r.tamper.covered && !r.tamper.defocus && !r.tamper.moved &&
        !r.tamper.frozen)
      return bad(what + ": no tamper check enabled");
  }
  return core::okResult();
}

}  // namespace sharpeyes::analytics
