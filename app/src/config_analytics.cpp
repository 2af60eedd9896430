#include "config_analytics.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "sharpeyes/core/event.h"

namespace sharpeyes::app {
namespace {

namespace an = sharpeyes::analytics;

std::string at(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

an::Point readPoint(const YAML::Node& n, const std::string& file, const std::string& path) {
  if (!n.IsSequence() || n.size() != 2) {
    YamlMap::failAt(n, file, path, "expected a point [x, y] with coordinates normalised 0..1");
  }
  an::Point p;
  try {
    p.x = n[0].as<float>();
    p.y = n[1].as<float>();
  } catch (const YAML::Exception&) {
    YamlMap::failAt(n, file, path, "expected a point [x, y] of numbers");
  }
  if (!std::isfinite(p.x) || !std::isfinite(p.y) || p.x < 0 || p.x > 1 || p.y < 0 || p.y > 1) {
    YamlMap::failAt(n, file, path,
                    "point [" + std::to_string(p.x) + ", " + std::to_string(p.y) +
                        "] is outside the image (coordinates are normalised 0..1)");
  }
  return p;
}

an::Polygon readPolygon(const YAML::Node& n, const std::string& file, const std::string& path) {
  if (!n.IsSequence() || n.size() < 3) {
    YamlMap::failAt(n, file, path, "expected a polygon: a list of at least 3 points [x, y]");
  }
  an::Polygon poly;
  for (size_t i = 0; i < n.size(); ++i) poly.push_back(readPoint(n[i], file, at(path, i)));
  return poly;
}

std::vector<std::string> readStrings(const YamlMap& m, const std::string& key) {
  std::vector<std::string> out;
  const auto items = m.sequence(key);
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].IsScalar())
      YamlMap::failAt(items[i], m.file(), at(m.childPath(key), i), "expected a name");
    out.push_back(items[i].Scalar());
  }
  return out;
}

void readMotion(const YamlMap& m, an::MotionConfig& c) {
  m.allowOnly({"algorithm", "shadows", "morphology", "min_area", "sensitivity", "analysis_width",
               "history", "global_change_fraction", "ignore"});
  const std::string algo = m.getString("algorithm", std::string(an::toString(c.algorithm)));
  if (algo == "mog2") {
    c.algorithm = an::MotionAlgorithm::kMog2;
  } else if (algo == "knn") {
    c.algorithm = an::MotionAlgorithm::kKnn;
  } else {
    m.fail("algorithm", "unknown background subtractor '" + algo + "' (mog2, knn)");
  }
  c.shadowSuppression = m.getBool("shadows", c.shadowSuppression);
  c.morphology = int(m.getInt("morphology", c.morphology, 0, 10));
  c.minArea = m.getDouble("min_area", c.minArea, 0.0, 0.5);
  c.sensitivity = m.getDouble("sensitivity", c.sensitivity, 0.0, 1.0);
  c.analysisWidth = int(m.getInt("analysis_width", c.analysisWidth, 64, 1920));
  const auto history =
      m.getDuration("history", std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::duration<double>(c.historySeconds)));
  if (history < std::chrono::seconds(1)) m.fail("history", "must be at least 1s");
  c.historySeconds = std::chrono::duration<double>(history).count();
  c.globalChangeFraction = m.getDouble("global_change_fraction", c.globalChangeFraction, 0.05, 1.0);
  if (m.has("ignore")) {
    c.ignore.clear();
    const auto polys = m.sequence("ignore");
    for (size_t i = 0; i < polys.size(); ++i) {
      c.ignore.push_back(readPolygon(polys[i], m.file(), at(m.childPath("ignore"), i)));
    }
  }
}

void readTracker(const YamlMap& m, an::TrackerConfig& c) {
  m.allowOnly({"confirm_frames", "max_lost", "max_speed"});
  c.confirmFrames = int(m.getInt("confirm_frames", c.confirmFrames, 1, 50));
  c.maxLost = m.getDuration("max_lost", c.maxLost);
  if (c.maxLost <= core::Duration::zero()) m.fail("max_lost", "must be positive");
  c.maxSpeed = m.getDouble("max_speed", c.maxSpeed, 0.01, 20.0);
}

void readDetector(const YamlMap& m, an::DetectorConfig& c) {
  m.allowOnly({"kind", "model", "classes", "input_size", "min_score", "interval"});
  const std::string kind = m.getString("kind", std::string(an::toString(c.kind)));
  if (kind == "none") {
    c.kind = an::DetectorKind::kNone;
  } else if (kind == "hog") {
    c.kind = an::DetectorKind::kHog;
  } else if (kind == "cascade") {
    c.kind = an::DetectorKind::kCascade;
  } else if (kind == "onnx") {
    c.kind = an::DetectorKind::kOnnx;
  } else {
    m.fail("kind", "unknown detector '" + kind + "' (none, hog, cascade, onnx)");
  }
  c.modelPath = m.getString("model", c.modelPath);
  if (c.kind == an::DetectorKind::kOnnx && c.modelPath.empty()) {
    m.fail("model", "kind onnx needs the path of an ONNX model");
  }
  if (m.has("classes")) c.classNames = readStrings(m, "classes");
  c.inputSize = int(m.getInt("input_size", c.inputSize, 32, 2048));
  c.minScore = float(m.getDouble("min_score", c.minScore, 0.0, 1.0));
  c.interval = m.getDuration("interval", c.interval);
}

an::RuleConfig readRule(const YamlMap& m, const an::RuleConfig* base) {
  an::RuleConfig r = base ? *base : an::RuleConfig{};
  r.name = m.requireString("name");
  if (r.name.empty()) m.fail("name", "must not be empty");
  const std::string typeText =
      base && !m.has("type") ? std::string(an::toString(r.type)) : m.requireString("type");
  auto type = an::parseRuleType(typeText);
  if (!type) m.fail("type", type.error().message);
  r.type = type.value();

  const std::initializer_list<std::string_view> common = {"name",     "type",     "enabled",
                                                          "severity", "schedule", "cooldown"};
  std::vector<std::string_view> allowed(common);
  switch (r.type) {
    case an::RuleType::kIntrusion:
      allowed.insert(allowed.end(), {"zone", "classes", "min_dwell"});
      break;
    case an::RuleType::kLoitering:
      allowed.insert(allowed.end(), {"zone", "classes", "dwell"});
      break;
    case an::RuleType::kCrowd:
      allowed.insert(allowed.end(), {"zone", "classes", "max_objects", "duration"});
      break;
    case an::RuleType::kMotion: allowed.insert(allowed.end(), {"zone", "classes"}); break;
    case an::RuleType::kTripwire:
      allowed.insert(allowed.end(), {"line", "direction", "classes"});
      break;
    case an::RuleType::kTamper: allowed.insert(allowed.end(), {"checks", "hold"}); break;
    case an::RuleType::kSignalLoss: break;
  }
  for (const auto& kv : m.raw()) {
    const std::string key = kv.first.as<std::string>();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string known;
      for (auto k : allowed) known += (known.empty() ? "" : ", ") + std::string(k);
      YamlMap::failAt(kv.first, m.file(), m.childPath(key),
                      "unknown key for a " + std::string(an::toString(r.type)) +
                          " rule (known keys: " + known + ")");
    }
  }

  r.enabled = m.getBool("enabled", r.enabled);
  r.severity = int(m.getInt("severity", r.severity, core::kMinSeverity, core::kMaxSeverity));
  r.cooldown = m.getDuration("cooldown", r.cooldown);
  if (m.has("schedule")) {
    r.schedule.clear();
    const auto items = m.sequence("schedule");
    for (size_t i = 0; i < items.size(); ++i) {
      const std::string p = at(m.childPath("schedule"), i);
      if (!items[i].IsScalar()) YamlMap::failAt(items[i], m.file(), p, "expected \"HH:MM-HH:MM\"");
      auto w = an::parseTimeWindow(items[i].Scalar());
      if (!w) YamlMap::failAt(items[i], m.file(), p, w.error().message);
      r.schedule.push_back(w.value());
    }
  }
  r.zone = m.getString("zone", r.zone);
  if (m.has("classes")) {
    r.classes = readStrings(m, "classes");
    for (const std::string& cls : r.classes) {
      if (cls != "person" && cls != "vehicle" && cls != "unknown") {
        m.fail("classes", "unknown class '" + cls + "' (person, vehicle, unknown)");
      }
    }
  }
  r.minDwell = m.getDuration("min_dwell", r.minDwell);
  r.dwell = m.getDuration("dwell", r.dwell);
  r.maxObjects = int(m.getInt("max_objects", r.maxObjects, 0, 1000));
  r.duration = m.getDuration("duration", r.duration);
  r.hold = m.getDuration("hold", r.hold);
  if (m.has("line")) {
    const YAML::Node line = m.node("line");
    const std::string p = m.childPath("line");
    if (!line.IsSequence() || line.size() != 2) {
      YamlMap::failAt(line, m.file(), p, "expected a line: two points [[x, y], [x, y]]");
    }
    r.lineA = readPoint(line[0], m.file(), at(p, 0));
    r.lineB = readPoint(line[1], m.file(), at(p, 1));
    if (std::hypot(r.lineA.x - r.lineB.x, r.lineA.y - r.lineB.y) < 0.01) {
      YamlMap::failAt(line, m.file(), p, "the line is too short");
    }
  } else if (r.type == an::RuleType::kTripwire && !base) {
    m.fail("line", "a tripwire needs a line: [[x, y], [x, y]]");
  }
  if (m.has("direction")) {
    auto d = an::parseCrossDirection(m.getString("direction", ""));
    if (!d) m.fail("direction", d.error().message);
    r.direction = d.value();
  }
  if (m.has("checks")) {
    r.tamper = {false, false, false, false};
    for (const std::string& c : readStrings(m, "checks")) {
      if (c == "covered") {
        r.tamper.covered = true;
      } else if (c == "defocus") {
        r.tamper.defocus = true;
      } else if (c == "moved") {
        r.tamper.moved = true;
      } else if (c == "frozen") {
        r.tamper.frozen = true;
      } else {
        m.fail("checks", "unknown tamper check '" + c + "' (covered, defocus, moved, frozen)");
      }
    }
    if (!r.tamper.covered && !r.tamper.defocus && !r.tamper.moved && !r.tamper.frozen) {
      m.fail("checks", "no tamper check enabled");
    }
  }
  const bool needsZone = r.type == an::RuleType::kIntrusion || r.type == an::RuleType::kLoitering ||
                         r.type == an::RuleType::kCrowd;
  if (needsZone && r.zone.empty()) m.fail("zone", "a " + typeText + " rule needs a zone");
  return r;
}

// Reads one section (defaults or camera) on top of `c`. Remembers where each rule came from so
// an unknown zone is reported at the rule's own `zone` key.
struct RuleSource {
  YAML::Node zoneNode;
  std::string path;
};

void readSection(const YamlMap& m, an::CameraAnalyticsConfig& c,
                 std::map<std::string, RuleSource>& sources) {
  m.allowOnly({"enabled", "pre_roll", "post_roll", "snapshots", "update_interval", "motion",
               "tracker", "detector", "zones", "rules"});
  c.enabled = m.getBool("enabled", c.enabled);
  c.preRoll = m.getDuration("pre_roll", c.preRoll);
  c.postRoll = m.getDuration("post_roll", c.postRoll);
  c.snapshots = m.getBool("snapshots", c.snapshots);
  c.updateInterval = m.getDuration("update_interval", c.updateInterval);
  if (auto s = m.optionalMap("motion")) readMotion(*s, c.motion);
  if (auto s = m.optionalMap("tracker")) readTracker(*s, c.tracker);
  if (auto s = m.optionalMap("detector")) readDetector(*s, c.detector);

  std::set<std::string> seen;
  const auto zones = m.sequence("zones");
  for (size_t i = 0; i < zones.size(); ++i) {
    const YamlMap z(zones[i], m.file(), at(m.childPath("zones"), i));
    z.allowOnly({"name", "polygon"});
    an::Zone zone;
    zone.name = z.requireString("name");
    if (zone.name.empty()) z.fail("name", "must not be empty");
    if (!seen.insert(zone.name).second) z.fail("name", "zone '" + zone.name + "' is defined twice");
    if (!z.has("polygon")) z.fail("polygon", "required key is missing");
    zone.polygon = readPolygon(z.node("polygon"), m.file(), z.childPath("polygon"));
    auto same = std::find_if(c.zones.begin(), c.zones.end(),
                             [&](const an::Zone& o) { return o.name == zone.name; });
    if (same != c.zones.end()) {
      *same = zone;
    } else {
      c.zones.push_back(zone);
    }
  }

  seen.clear();
  const auto rules = m.sequence("rules");
  for (size_t i = 0; i < rules.size(); ++i) {
    const YamlMap rm(rules[i], m.file(), at(m.childPath("rules"), i));
    const std::string name = rm.requireString("name");
    if (!seen.insert(name).second) rm.fail("name", "rule '" + name + "' is defined twice");
    auto same = std::find_if(c.rules.begin(), c.rules.end(),
                             [&](const an::RuleConfig& o) { return o.name == name; });
    // A camera rule named like a default one refines it (e.g. only its severity).
    const an::RuleConfig rule = readRule(rm, same != c.rules.end() ? &*same : nullptr);
    if (same != c.rules.end()) {
      *same = rule;
    } else {
      c.rules.push_back(rule);
    }
    sources[name] = {rm.has("zone") ? rm.node("zone") : rules[i],
                     rm.has("zone") ? rm.childPath("zone") : rm.path()};
  }
}

}  // namespace

analytics::CameraAnalyticsConfig readCameraAnalytics(
    const YAML::Node& section, const std::string& file, const std::string& path,
    const core::CameraId& camera, const core::DivisionCode& division, const YAML::Node& defaults,
    const std::string& defaultsPath) {
  an::CameraAnalyticsConfig c;
  c.camera = camera;
  c.division = division;
  std::map<std::string, RuleSource> sources;
  if (defaults.IsDefined() && !defaults.IsNull()) {
    readSection(YamlMap(defaults, file, defaultsPath), c, sources);
  }
  // A reference, not a YAML::Node assigned later: assigning to a Node that shares the defaults'
  // node would make the defaults themselves point at this camera's section (yaml-cpp's Node
  // assignment writes through), and every later camera would inherit it.
  const bool own = section.IsDefined() && !section.IsNull();
  if (own) readSection(YamlMap(section, file, path), c, sources);
  const YAML::Node& where = own ? section : defaults;
  const std::string& wherePath = own ? path : defaultsPath;
  for (const an::RuleConfig& r : c.rules) {
    if (r.zone.empty()) continue;
    const bool known = std::any_of(c.zones.begin(), c.zones.end(),
                                   [&](const an::Zone& z) { return z.name == r.zone; });
    if (!known) {
      const RuleSource& s = sources[r.name];
      YamlMap::failAt(s.zoneNode, file, s.path,
                      "rule '" + r.name + "' names unknown zone '" + r.zone + "'");
    }
  }
  if (auto v = an::validate(c); !v) YamlMap::failAt(where, file, wherePath, v.error().message);
  return c;
}

}  // namespace sharpeyes::app
