#include "scenarios.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "../../analytics/src/geometry.h"
#include "sharpeyes/analytics/engine.h"

namespace sharpeyes::analytics::eval {
namespace {

using sim::ObjectKind;
using sim::ScriptedObject;

// A person whose feet are at `feet` (normalised y): nearer the camera = lower = taller.
ScriptedObject person(int id, double t0, double x0, double x1, double feet, double speed) {
  ScriptedObject o;
  o.id = id;
  o.kind = ObjectKind::kPerson;
  o.height = float(std::clamp(0.10 + 0.10 * (feet - 0.5) / 0.45, 0.08, 0.22));
  o.width = o.height * 0.32f;
  const float cy = float(feet - o.height / 2);
  o.path.push_back({t0, float(x0), cy});
  o.path.push_back({t0 + std::abs(x1 - x0) / speed, float(x1), cy});
  return o;
}

// A person walking vertically at column `x` from feet `f0` to `f1`.
ScriptedObject personVertical(int id, double t0, double x, double f0, double f1, double speed) {
  ScriptedObject o;
  o.id = id;
  o.kind = ObjectKind::kPerson;
  o.height = float(std::clamp(0.10 + 0.10 * ((f0 + f1) / 2 - 0.5) / 0.45, 0.08, 0.22));
  o.width = o.height * 0.32f;
  o.path.push_back({t0, float(x), float(f0 - o.height / 2)});
  o.path.push_back({t0 + std::abs(f1 - f0) / speed, float(x), float(f1 - o.height / 2)});
  return o;
}

ScriptedObject car(int id, double t0, double x0, double x1, double cy, double speed) {
  ScriptedObject o;
  o.id = id;
  o.kind = ObjectKind::kVehicle;
  o.width = 0.16f;
  o.height = 0.09f;
  o.path.push_back({t0, float(x0), float(cy)});
  o.path.push_back({t0 + std::abs(x1 - x0) / speed, float(x1), float(cy)});
  return o;
}

Zone rect(const std::string& name, float x0, float y0, float x1, float y1) {
  return {name, {{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}};
}

RuleConfig tripwire(const std::string& name, Point a, Point b) {
  RuleConfig r;
  r.name = name;
  r.type = RuleType::kTripwire;
  r.lineA = a;
  r.lineB = b;
  r.cooldown = core::Duration::zero();
  return r;
}

RuleConfig zoneRule(const std::string& name, RuleType type, const std::string& zone) {
  RuleConfig r;
  r.name = name;
  r.type = type;
  r.zone = zone;
  r.cooldown = core::Duration::zero();
  return r;
}

Scenario base(const std::string& name, const std::string& what, double seconds, uint64_t seed) {
  Scenario s;
  s.name = name;
  s.what = what;
  s.seconds = seconds;
  s.scene.seed = seed;
  s.scene.loopSeconds = seconds + 10;  // never loops within the run
  s.config.camera = core::CameraId::parse("eval-" + name).valueOr(core::CameraId());
  s.config.division = core::DivisionCode::parse("510603101201").value();
  RuleConfig tamper;
  tamper.name = "tamper";
  tamper.type = RuleType::kTamper;
  tamper.cooldown = core::Duration::zero();
  s.config.rules.push_back(tamper);
  return s;
}

// Distractor scenes watch with every object rule, so any false alarm is counted.
void watchEverything(Scenario& s) {
  s.config.zones.push_back(rect("centre", 0.2f, 0.3f, 0.8f, 0.98f));
  s.config.rules.push_back(tripwire("line", {0.5f, 0.2f}, {0.5f, 1.0f}));
  s.config.rules.push_back(zoneRule("fence", RuleType::kIntrusion, "centre"));
  auto loiter = zoneRule("loiter", RuleType::kLoitering, "centre");
  loiter.dwell = std::chrono::seconds(6);
  s.config.rules.push_back(loiter);
}

double secs(core::Duration d) {
  return std::chrono::duration<double>(d).count();
}

std::string kindClass(ObjectKind k) {
  switch (k) {
    case ObjectKind::kPerson: return "person";
    case ObjectKind::kVehicle: return "vehicle";
    case ObjectKind::kAnimal: return "animal";
  }
  return "animal";
}

bool truthClassAllowed(const RuleConfig& r, ObjectKind k) {
  const std::string c = kindClass(k);
  if (r.classes.empty()) return c != "animal";  // an animal is never a true alarm
  return std::find(r.classes.begin(), r.classes.end(), c) != r.classes.end();
}

double windowFor(core::EventType t) {
  switch (t) {
    case core::EventType::kTripwire: return 2.0;
    case core::EventType::kCrowd: return 4.0;
    default: return 3.0;
  }
}

std::string typeKey(core::EventType t) {
  return std::string(core::toString(t));
}

}  // namespace

double RuleScore::meanLatency() const {
  if (latencies.empty()) return 0;
  double s = 0;
  for (double l : latencies) s += l;
  return s / double(latencies.size());
}

double RuleScore::maxLatency() const {
  return latencies.empty() ? 0 : *std::max_element(latencies.begin(), latencies.end());
}

void RuleScore::add(const RuleScore& o) {
  truth += o.truth;
  reported += o.reported;
  matched += o.matched;
  truthCount += o.truthCount;
  reportedCount += o.reportedCount;
  latencies.insert(latencies.end(), o.latencies.begin(), o.latencies.end());
}

std::vector<Scenario> allScenarios() {
  std::vector<Scenario> out;
  {
    auto s =
        base("people_cross_line", "6 people cross a vertical line, both ways, 3 lanes", 28, 11);
    s.scene.objects = {
        person(1, 0.5, -0.03, 1.03, 0.55, 0.10),  person(2, 1.0, 1.03, -0.03, 0.75, 0.10),
        person(3, 4.0, -0.03, 1.03, 0.95, 0.10),  person(4, 13.0, 1.03, -0.03, 0.55, 0.11),
        person(5, 14.0, -0.03, 1.03, 0.75, 0.12), person(6, 16.0, 1.03, -0.03, 0.95, 0.12)};
    s.config.rules.push_back(tripwire("gate", {0.5f, 0.3f}, {0.5f, 1.0f}));
    out.push_back(s);
  }
  {
    auto s = base("cars_cross_line", "5 cars on a two-lane road cross a line, both ways", 22, 12);
    s.scene.objects = {car(1, 1.0, -0.09, 1.09, 0.66, 0.25), car(2, 2.0, 1.09, -0.09, 0.80, 0.30),
                       car(3, 8.0, -0.09, 1.09, 0.66, 0.28), car(4, 10.0, 1.09, -0.09, 0.80, 0.25),
                       car(5, 14.0, -0.09, 1.09, 0.66, 0.30)};
    s.config.rules.push_back(tripwire("road", {0.45f, 0.5f}, {0.45f, 1.0f}));
    out.push_back(s);
  }
  {
    auto s =
        base("people_cross_horizontal", "5 people cross a horizontal line up and down", 22, 13);
    s.scene.objects = {personVertical(1, 1.0, 0.2, 0.35, 1.15, 0.1),
                       personVertical(2, 2.0, 0.45, 1.15, 0.35, 0.1),
                       personVertical(3, 5.0, 0.7, 0.35, 1.15, 0.12),
                       personVertical(4, 11.0, 0.2, 1.15, 0.35, 0.1),
                       personVertical(5, 12.0, 0.7, 1.15, 0.35, 0.12)};
    s.config.rules.push_back(tripwire("crossing", {0.05f, 0.62f}, {0.95f, 0.62f}));
    out.push_back(s);
  }
  {
    auto s = base("fence_people",
                  "3 people enter a fenced yard, 1 walks past, 1 car drives through", 22, 14);
    s.scene.objects = {
        person(1, 0.5, -0.03, 1.03, 0.62, 0.10), person(2, 3.0, 1.03, -0.03, 0.80, 0.10),
        person(3, 8.0, -0.03, 1.03, 0.93, 0.11), person(4, 2.0, -0.03, 1.03, 0.36, 0.10),
        car(5, 15.0, -0.09, 1.09, 0.72, 0.30)};
    s.config.zones.push_back(rect("yard", 0.55f, 0.45f, 0.97f, 0.98f));
    auto r = zoneRule("fence", RuleType::kIntrusion, "yard");
    r.classes = {"person"};
    r.minDwell = std::chrono::seconds(1);
    s.config.rules.push_back(r);
    out.push_back(s);
  }
  {
    auto s = base("loitering", "one person lingers 15 s by a shop, another passes by", 24, 15);
    ScriptedObject p = person(1, 0.5, -0.03, 0.4, 0.8, 0.1075);
    p.path.push_back({10.0, 0.6f, p.path.back().y});
    p.path.push_back({16.0, 0.42f, p.path.back().y});
    p.path.push_back({22.0, 1.03f, p.path.back().y});
    s.scene.objects = {p, person(2, 2.0, -0.03, 1.03, 0.6, 0.12)};
    s.config.zones.push_back(rect("shop", 0.3f, 0.5f, 0.7f, 0.95f));
    auto r = zoneRule("linger", RuleType::kLoitering, "shop");
    r.dwell = std::chrono::seconds(8);
    s.config.rules.push_back(r);
    out.push_back(s);
  }
  {
    auto s = base("crowd", "4 people gather in a square for 10 s, then leave", 26, 16);
    const double spots[4][2] = {{0.30, 0.62}, {0.45, 0.82}, {0.60, 0.62}, {0.72, 0.92}};
    for (int i = 0; i < 4; ++i) {
      const bool left = i % 2 == 0;
      ScriptedObject p =
          person(i + 1, 1.0 + i, left ? -0.03 : 1.03, spots[i][0], spots[i][1], 0.12);
      const float y = p.path.back().y;
      const double arrive = p.path.back().t;
      // Stand, shifting weight a little, until everyone leaves at 18 s.
      p.path.push_back({std::max(arrive + 0.5, 9.0), float(spots[i][0] + 0.01), y});
      p.path.push_back({18.0, float(spots[i][0]), y});
      p.path.push_back({24.0, left ? -0.03f : 1.03f, y});
      s.scene.objects.push_back(p);
    }
    s.config.zones.push_back(rect("square", 0.2f, 0.4f, 0.85f, 0.98f));
    auto r = zoneRule("gathering", RuleType::kCrowd, "square");
    r.maxObjects = 3;
    r.duration = std::chrono::seconds(3);
    s.config.rules.push_back(r);
    out.push_back(s);
  }
  // The simulator's own busy street (3 people, 2 cars on random tracks, one person pausing),
  // watched by a line and a fence: objects overlap and occlude each other here.
  for (uint64_t seed : {101, 202, 303, 404}) {
    auto s = base("busy_street_" + std::to_string(seed),
                  "sim default scene: 3 people, 2 cars, random paths", 30, seed);
    s.group = "occlusion";
    s.scene = sim::defaultScene(seed, 30);
    s.scene.loopSeconds = 40;  // no wrap-around inside the run
    s.config.rules.push_back(tripwire("mid", {0.5f, 0.3f}, {0.5f, 1.0f}));
    s.config.zones.push_back(rect("lot", 0.62f, 0.4f, 0.98f, 0.98f));
    auto r = zoneRule("lot-fence", RuleType::kIntrusion, "lot");
    r.minDwell = std::chrono::milliseconds(500);
    s.config.rules.push_back(r);
    out.push_back(s);
  }
  {
    auto s = base("illumination_step", "lights dim to 60% at 8 s (distractor)", 16, 17);
    s.distractor = true;
    s.scene.effects.illuminationAt = 8.0;
    s.scene.effects.illuminationFactor = 0.6;
    watchEverything(s);
    out.push_back(s);
  }
  {
    auto s = base("illumination_up", "lights brighten 1.5x at 6 s (distractor)", 14, 27);
    s.distractor = true;
    s.scene.effects.illuminationAt = 6.0;
    s.scene.effects.illuminationFactor = 1.5;
    watchEverything(s);
    out.push_back(s);
  }
  {
    auto s = base("sensor_noise", "heavy sensor noise, sigma 8 (distractor)", 16, 18);
    s.distractor = true;
    s.scene.effects.noiseSigma = 8;
    watchEverything(s);
    out.push_back(s);
  }
  {
    auto s = base("rain", "rain streaks; one person crosses the line", 18, 19);
    s.scene.effects.rain = true;
    s.scene.objects = {person(1, 2.0, -0.03, 1.03, 0.8, 0.1)};
    s.config.rules.push_back(tripwire("gate", {0.5f, 0.3f}, {0.5f, 1.0f}));
    out.push_back(s);
  }
  {
    auto s =
        base("swaying_tree_masked", "a swaying tree (masked); two people cross the line", 22, 20);
    s.scene.effects.swayingRegion = sim::NormRect{0.05f, 0.05f, 0.3f, 0.5f};
    s.config.motion.ignore.push_back(
        {{0.04f, 0.04f}, {0.36f, 0.04f}, {0.36f, 0.56f}, {0.04f, 0.56f}});
    s.scene.objects = {person(1, 1.0, -0.03, 1.03, 0.85, 0.1),
                       person(2, 8.0, 1.03, -0.03, 0.68, 0.1)};
    s.config.rules.push_back(tripwire("gate", {0.5f, 0.3f}, {0.5f, 1.0f}));
    out.push_back(s);
  }
  {
    auto s =
        base("slow_shadow", "a cloud shadow drifts over the watched area (distractor)", 20, 21);
    s.distractor = true;
    s.scene.effects.slowShadow = sim::NormRect{0.2f, 0.35f, 0.4f, 0.5f};
    s.scene.loopSeconds = 20;  // the drift speed follows the loop: a third of the frame per loop
    watchEverything(s);
    out.push_back(s);
  }
  {
    auto s = base("small_animal", "a dog trots across the line and the fence (distractor)", 16, 22);
    s.distractor = true;
    ScriptedObject dog;
    dog.id = 1;
    dog.kind = ObjectKind::kAnimal;
    dog.width = 0.035f;
    dog.height = 0.03f;
    dog.path = {{1.0, -0.02f, 0.8f}, {11.0, 1.02f, 0.78f}};
    s.scene.objects = {dog};
    watchEverything(s);
    out.push_back(s);
  }
  {
    auto s = base("camera_shake", "camera shakes +-2 px every frame (distractor)", 16, 23);
    s.distractor = true;
    s.scene.effects.shakeAmplitudePx = 2;
    watchEverything(s);
    out.push_back(s);
  }
  {
    auto s = base("shake_with_people", "camera shake +-2 px while two people cross", 22, 28);
    s.scene.effects.shakeAmplitudePx = 2;
    s.scene.objects = {person(1, 1.0, -0.03, 1.03, 0.85, 0.1),
                       person(2, 8.0, 1.03, -0.03, 0.65, 0.1)};
    s.config.rules.push_back(tripwire("gate", {0.5f, 0.3f}, {0.5f, 1.0f}));
    out.push_back(s);
  }
  {
    auto s = base("lens_covered", "lens covered at 10 s", 16, 24);
    s.scene.effects.coveredAt = 10.0;
    watchEverything(s);
    out.push_back(s);
  }
  {
    auto s = base("camera_turned", "camera turned to another view at 10 s", 18, 25);
    s.scene.effects.turnedAt = 10.0;
    watchEverything(s);
    out.push_back(s);
  }
  {
    auto s = base("frozen_image", "image frozen (same frame repeated) from 10 s", 16, 26);
    s.scene.effects.frozenAt = 10.0;
    watchEverything(s);
    out.push_back(s);
  }
  return out;
}

Scenario scenarioByName(const std::string& name) {
  for (Scenario& s : allScenarios()) {
    if (s.name == name) return s;
  }
  throw std::out_of_range("no scenario " + name);
}

std::vector<Occurrence> truthOf(const Scenario& s, std::map<std::string, long>* crossings) {
  sim::SceneRenderer scene(s.scene);
  const int frames = int(std::lround(s.seconds * s.fps));
  std::vector<Occurrence> out;
  const auto& fx = s.scene.effects;
  if (fx.coveredAt && *fx.coveredAt < s.seconds)
    out.push_back({"tamper", core::EventType::kTamper, *fx.coveredAt, "covered"});
  if (fx.turnedAt && *fx.turnedAt < s.seconds)
    out.push_back({"tamper", core::EventType::kTamper, *fx.turnedAt, "moved"});
  if (fx.frozenAt && *fx.frozenAt < s.seconds)
    out.push_back({"tamper", core::EventType::kTamper, *fx.frozenAt, "frozen"});

  std::vector<std::vector<sim::ObjectTruth>> truth;
  for (int i = 0; i < frames; ++i) truth.push_back(scene.truthAt(i, s.fps));

  for (const RuleConfig& r : s.config.rules) {
    const Zone* zone = nullptr;
    for (const Zone& z : s.config.zones) {
      if (z.name == r.zone) zone = &z;
    }
    if (r.type == RuleType::kTripwire) {
      std::map<int, double> lastSide;
      for (int i = 0; i < frames; ++i) {
        for (const auto& o : truth[size_t(i)]) {
          if (!o.visible || !truthClassAllowed(r, o.kind)) {
            if (!o.visible) lastSide.erase(o.id);
            continue;
          }
          const Point a = detail::anchorOf(o.box);
          const double side = detail::sideOf(r.lineA, r.lineB, a);
          const double along = detail::along(r.lineA, r.lineB, a);
          auto it = lastSide.find(o.id);
          if (it != lastSide.end() && (it->second < 0) != (side < 0) && along >= 0 && along <= 1) {
            const bool aToB = it->second < 0;
            out.push_back({r.name, core::EventType::kTripwire, i / s.fps, aToB ? "A->B" : "B->A"});
            if (crossings) ++(*crossings)[r.name];
          }
          lastSide[o.id] = side;
        }
      }
    } else if ((r.type == RuleType::kIntrusion || r.type == RuleType::kLoitering) && zone) {
      const double need = secs(r.type == RuleType::kIntrusion ? r.minDwell : r.dwell);
      std::map<int, double> enteredAt;
      std::map<int, bool> fired;
      for (int i = 0; i < frames; ++i) {
        const double t = i / s.fps;
        for (const auto& o : truth[size_t(i)]) {
          const bool inside = o.visible && truthClassAllowed(r, o.kind) &&
                              detail::pointInPolygon(zone->polygon, detail::anchorOf(o.box));
          if (!inside) {
            enteredAt.erase(o.id);
            fired[o.id] = false;
            continue;
          }
          if (!enteredAt.count(o.id)) enteredAt[o.id] = t;
          if (!fired[o.id] && t - enteredAt[o.id] >= need - 1e-9) {
            fired[o.id] = true;
            out.push_back({r.name,
                           r.type == RuleType::kIntrusion ? core::EventType::kIntrusion
                                                          : core::EventType::kLoitering,
                           t, ""});
          }
        }
      }
    } else if (r.type == RuleType::kCrowd && zone) {
      double since = -1;
      bool fired = false;
      for (int i = 0; i < frames; ++i) {
        const double t = i / s.fps;
        int count = 0;
        for (const auto& o : truth[size_t(i)]) {
          count += o.visible && truthClassAllowed(r, o.kind) &&
                   detail::pointInPolygon(zone->polygon, detail::anchorOf(o.box));
        }
        if (count > r.maxObjects) {
          if (since < 0) since = t;
          if (!fired && t - since >= secs(r.duration) - 1e-9) {
            fired = true;
            out.push_back({r.name, core::EventType::kCrowd, t, ""});
          }
        } else {
          since = -1;
          fired = false;
        }
      }
    }
  }
  return out;
}

ScenarioResult runScenario(const Scenario& s, const std::string& snapshotRoot) {
  ScenarioResult result;
  result.name = s.name;
  std::vector<core::Event> events;
  EngineOptions options;
  options.snapshotRoot = snapshotRoot;
  auto made =
      CameraAnalyzer::create(s.config, options, [&](const core::Event& e) { events.push_back(e); });
  if (!made) throw std::runtime_error(s.name + ": " + made.error().describe());
  CameraAnalyzer& analyzer = *made.value();

  sim::SceneRenderer scene(s.scene);
  const int frames = int(std::lround(s.seconds * s.fps));
  auto pixels = std::make_shared<std::vector<uint8_t>>(size_t(s.width) * s.height * 3);
  const core::WallTime t0 = core::WallTime(std::chrono::seconds(1'790'000'000));
  for (int i = 0; i < frames; ++i) {
    scene.render(i, s.fps, s.width, s.height, pixels->data());
    core::Frame f;
    f.camera = s.config.camera;
    f.width = s.width;
    f.height = s.height;
    f.stride = s.width * 3;
    f.data = pixels->data();
    f.size = pixels->size();
    f.owner = pixels;
    f.mediaTime =
        std::chrono::duration_cast<core::Duration>(std::chrono::duration<double>(i / s.fps));
    f.wallTime = t0 + f.mediaTime;
    f.sequence = uint64_t(i);
    analyzer.process(f);
  }
  analyzer.finish(t0 + std::chrono::seconds(int(s.seconds) + 1));
  result.frames = frames;
  result.meanProcessMs = analyzer.stats().meanProcessMs;

  std::map<std::string, long> truthCrossings;
  std::vector<Occurrence> truth = truthOf(s, &truthCrossings);
  std::vector<Occurrence> reported;
  const bool verbose = std::getenv("SHARPEYES_EVAL_VERBOSE") != nullptr;
  if (verbose) {
    for (const Occurrence& t : truth) {
      std::fprintf(stderr, "  truth    %-10s %-10s t=%6.2f %s\n", t.rule.c_str(),
                   typeKey(t.type).c_str(), t.t, t.direction.c_str());
    }
  }
  for (const core::Event& e : events) {
    if (e.phase != core::EventPhase::kStart) continue;
    if (verbose) {
      std::fprintf(stderr, "  reported %-10s %-10s t=%6.2f track %lld %s box %.2f %.2f %.2f %.2f\n",
                   e.rule.c_str(), typeKey(e.type).c_str(), secs(e.mediaTime), (long long)e.trackId,
                   e.objectClass.c_str(), e.box.x, e.box.y, e.box.w, e.box.h);
    }
    std::string dir;
    if (auto it = e.attributes.find("direction"); it != e.attributes.end()) dir = it->second;
    if (auto it = e.attributes.find("kind"); it != e.attributes.end()) dir = it->second;
    reported.push_back({e.rule, e.type, secs(e.mediaTime), dir});
  }

  std::vector<bool> used(reported.size(), false);
  for (const Occurrence& t : truth) {
    RuleScore& score = result.byType[typeKey(t.type)];
    ++score.truth;
    int best = -1;
    double bestDt = 1e9;
    for (size_t k = 0; k < reported.size(); ++k) {
      const Occurrence& r = reported[k];
      if (used[k] || r.rule != t.rule || r.type != t.type || r.direction != t.direction) continue;
      const double dt = r.t - t.t;
      if (dt < -1.0 || dt > windowFor(t.type)) continue;
      if (std::abs(dt) < std::abs(bestDt)) {
        bestDt = dt;
        best = int(k);
      }
    }
    if (best >= 0) {
      used[size_t(best)] = true;
      ++score.matched;
      score.latencies.push_back(bestDt);
    }
  }
  for (size_t k = 0; k < reported.size(); ++k) {
    RuleScore& score = result.byType[typeKey(reported[k].type)];
    ++score.reported;
    if (!used[k]) ++result.falsePositives;
  }
  for (const auto& [rule, counts] : analyzer.stats().tripwires) {
    RuleScore& score = result.byType["tripwire"];
    score.truthCount += truthCrossings[rule];
    score.reportedCount += long(counts.aToB + counts.bToA);
  }
  return result;
}

}  // namespace sharpeyes::analytics::eval
