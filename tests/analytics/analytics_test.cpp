// Unit tests of the analytics pipeline on frames the tests draw themselves (synth.h).

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "sharpeyes/analytics/config.h"
#include "sharpeyes/analytics/detector.h"
#include "sharpeyes/analytics/engine.h"
#include "synth.h"

namespace sharpeyes::analytics {
namespace {

using test::DrawBox;
using test::Synth;

core::CameraId cam(const char* id = "cam-1") {
  return core::CameraId::parse(id).value();
}

CameraAnalyticsConfig baseConfig() {
  CameraAnalyticsConfig c;
  c.camera = cam();
  c.division = core::DivisionCode::parse("510603101201").value();
  return c;
}

Zone zone(const std::string& name, float x0, float y0, float x1, float y1) {
  return {name, {{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}};
}

RuleConfig rule(const std::string& name, RuleType type) {
  RuleConfig r;
  r.name = name;
  r.type = type;
  r.cooldown = 0s;
  return r;
}

struct Collector {
  std::mutex m;
  std::vector<core::Event> events;
  EventSink sink() {
    return [this](const core::Event& e) {
      std::lock_guard lock(m);
      events.push_back(e);
    };
  }
  std::vector<core::Event> starts(core::EventType type) {
    std::lock_guard lock(m);
    std::vector<core::Event> out;
    for (const auto& e : events) {
      if (e.type == type && e.phase == core::EventPhase::kStart) out.push_back(e);
    }
    return out;
  }
  size_t count(core::EventPhase phase) {
    std::lock_guard lock(m);
    size_t n = 0;
    for (const auto& e : events) n += e.phase == phase ? 1 : 0;
    return n;
  }
};

std::unique_ptr<CameraAnalyzer> make(const CameraAnalyticsConfig& c, Collector& col,
                                     const EngineOptions& opts = {}) {
  auto a = CameraAnalyzer::create(c, opts, col.sink());
  EXPECT_TRUE(a.ok()) << (a.ok() ? "" : a.error().describe());
  return a.ok() ? std::move(a.value()) : nullptr;
}

// Drives `frames` frames; `boxes(i)` gives the objects of frame i.
template <typename F>
void run(CameraAnalyzer& a, Synth& s, int first, int frames, F boxes, double gain = 1.0) {
  for (int i = first; i < first + frames; ++i) {
    a.process(Synth::frame(s.render(boxes(i), gain), a.config().camera, i));
  }
}

// ---- configuration ---------------------------------------------------------------------------

TEST(AnalyticsConfig, RejectsZoneOutsideImage) {
  auto c = baseConfig();
  c.zones.push_back(zone("yard", 0.2f, 0.2f, 1.3f, 0.8f));
  auto r = validate(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("zone 'yard'"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("outside the image"), std::string::npos);
}

TEST(AnalyticsConfig, RejectsRuleWithUnknownZone) {
  auto c = baseConfig();
  c.zones.push_back(zone("yard", 0.2f, 0.2f, 0.8f, 0.8f));
  auto r1 = rule("fence", RuleType::kIntrusion);
  r1.zone = "gate";
  c.rules.push_back(r1);
  auto r = validate(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("unknown zone 'gate'"), std::string::npos) << r.error().message;
  // And the analyzer refuses it too.
  Collector col;
  EXPECT_FALSE(CameraAnalyzer::create(c, {}, col.sink()).ok());
}

TEST(AnalyticsConfig, RejectsBadValues) {
  auto c = baseConfig();
  auto t = rule("line", RuleType::kTripwire);
  t.lineA = {0.5f, 0.5f};
  t.lineB = {0.5f, 0.502f};
  c.rules.push_back(t);
  EXPECT_FALSE(validate(c).ok());  // too short
  c.rules.back().lineB = {0.5f, 0.9f};
  EXPECT_TRUE(validate(c).ok());
  c.rules.back().severity = 5;
  EXPECT_FALSE(validate(c).ok());
  c.rules.back().severity = 4;
  c.rules.push_back(c.rules.back());
  EXPECT_FALSE(validate(c).ok());  // duplicate name
  c.rules.pop_back();
  c.rules.back().classes = {"dragon"};
  EXPECT_FALSE(validate(c).ok());
}

TEST(AnalyticsConfig, ParsesTimeWindowsAndEnums) {
  auto w = parseTimeWindow("22:00-06:30");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->beginMinute, 22 * 60);
  EXPECT_EQ(w->endMinute, 6 * 60 + 30);
  EXPECT_FALSE(parseTimeWindow("25:00-06:00").ok());
  EXPECT_FALSE(parseTimeWindow("0600").ok());
  EXPECT_EQ(parseCrossDirection("b_to_a").value(), CrossDirection::kBToA);
  EXPECT_EQ(parseRuleType("signal_loss").value(), RuleType::kSignalLoss);
  EXPECT_FALSE(parseRuleType("fence").ok());
}

// ---- rules -----------------------------------------------------------------------------------

// A person-shaped box walks horizontally across the frame at ~0.1 frame widths per second.
DrawBox walker(double x, double y = 0.4) {
  return {x, y, 0.04, 0.16, {30, 30, 30}};
}

TEST(AnalyticsRules, TripwireCountsBothDirectionsOnce) {
  auto c = baseConfig();
  auto t = rule("gate-line", RuleType::kTripwire);
  t.lineA = {0.5f, 0.1f};  // drawn downwards: A is on the right, B on the left
  t.lineB = {0.5f, 0.95f};
  c.rules.push_back(t);
  Collector col;
  auto a = make(c, col);
  Synth s;
  run(*a, s, 0, 10, [](int) { return std::vector<DrawBox>{}; });
  // Left to right (B -> A) over 40 frames, then back (A -> B).
  run(*a, s, 10, 40, [](int i) { return std::vector<DrawBox>{walker(0.2 + 0.015 * (i - 10))}; });
  run(*a, s, 50, 40, [](int i) { return std::vector<DrawBox>{walker(0.8 - 0.015 * (i - 50))}; });
  run(*a, s, 90, 10, [](int) { return std::vector<DrawBox>{}; });
  const auto& counts = a->stats().tripwires.at("gate-line");
  EXPECT_EQ(counts.bToA, 1u);
  EXPECT_EQ(counts.aToB, 1u);
  auto starts = col.starts(core::EventType::kTripwire);
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_EQ(starts[0].attributes.at("direction"), "B->A");
  EXPECT_EQ(starts[1].attributes.at("direction"), "A->B");
  EXPECT_EQ(starts[0].objectClass, "person");
  EXPECT_GE(starts[0].trackId, 1);
  EXPECT_EQ(starts[0].division.str(), "510603101201");
  // Each crossing is a closed event: start then end, same id.
  EXPECT_EQ(col.count(core::EventPhase::kEnd), 2u);
  // The crossing happened around frame 10 + (0.5-0.04/2-0.2)/0.015 ~ frame 29 (t = 5.8 s).
  const double t0 = std::chrono::duration<double>(starts[0].mediaTime).count();
  EXPECT_NEAR(t0, 5.8, 0.8);
  EXPECT_EQ(starts[0].clipStart, starts[0].start - 5s);
  EXPECT_EQ(starts[0].clipEnd, starts[0].start + 10s);
}

TEST(AnalyticsRules, TripwireDirectionFilterStillCounts) {
  auto c = baseConfig();
  auto t = rule("in-only", RuleType::kTripwire);
  t.lineA = {0.5f, 0.1f};
  t.lineB = {0.5f, 0.95f};
  t.direction = CrossDirection::kAToB;
  c.rules.push_back(t);
  Collector col;
  auto a = make(c, col);
  Synth s;
  run(*a, s, 0, 5, [](int) { return std::vector<DrawBox>{}; });
  run(*a, s, 5, 40, [](int i) { return std::vector<DrawBox>{walker(0.2 + 0.015 * (i - 5))}; });
  EXPECT_EQ(a->stats().tripwires.at("in-only").bToA, 1u);
  EXPECT_TRUE(col.starts(core::EventType::kTripwire).empty());
}

TEST(AnalyticsRules, IntrusionWaitsForDwellAndEndsOnLeaving) {
  auto c = baseConfig();
  c.zones.push_back(zone("yard", 0.4f, 0.2f, 0.9f, 0.9f));
  auto r = rule("fence", RuleType::kIntrusion);
  r.zone = "yard";
  r.minDwell = 2s;
  r.classes = {"person"};
  r.severity = 3;
  c.rules.push_back(r);
  Collector col;
  auto a = make(c, col);
  Synth s;
  run(*a, s, 0, 5, [](int) { return std::vector<DrawBox>{}; });
  // Walks into the zone (anchor enters at x ~ 0.38+0.02 -> frame ~ 5 + 12), stays, walks out.
  run(*a, s, 5, 20, [](int i) { return std::vector<DrawBox>{walker(0.2 + 0.015 * (i - 5))}; });
  EXPECT_TRUE(col.starts(core::EventType::kIntrusion).empty() ||
              col.starts(core::EventType::kIntrusion)[0].start >=
                  Synth::frame(cv::Mat(1, 1, CV_8UC3), cam(), 17 + 10).wallTime - 1s);
  run(*a, s, 25, 20, [](int) { return std::vector<DrawBox>{walker(0.5)}; });
  auto starts = col.starts(core::EventType::kIntrusion);
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].zone, "yard");
  EXPECT_EQ(starts[0].severity, 3);
  EXPECT_EQ(starts[0].objectClass, "person");
  EXPECT_NEAR(starts[0].box.x, 0.5, 0.03);
  // Dwell: the event starts at least 2 s after entering (entry ~ frame 17 = 3.4 s).
  EXPECT_GE(std::chrono::duration<double>(starts[0].mediaTime).count(), 3.4 + 2.0 - 0.3);
  EXPECT_EQ(col.count(core::EventPhase::kEnd), 0u);
  run(*a, s, 45, 30, [](int i) { return std::vector<DrawBox>{walker(0.5 - 0.03 * (i - 45))}; });
  EXPECT_EQ(col.count(core::EventPhase::kEnd), 1u);
}

TEST(AnalyticsRules, ClassFilterIgnoresVehicles) {
  auto c = baseConfig();
  c.zones.push_back(zone("yard", 0.0f, 0.0f, 1.0f, 1.0f));
  auto r = rule("people-only", RuleType::kIntrusion);
  r.zone = "yard";
  r.classes = {"person"};
  c.rules.push_back(r);
  auto v = rule("cars", RuleType::kIntrusion);
  v.zone = "yard";
  v.classes = {"vehicle"};
  c.rules.push_back(v);
  Collector col;
  auto a = make(c, col);
  Synth s;
  run(*a, s, 0, 5, [](int) { return std::vector<DrawBox>{}; });
  run(*a, s, 5, 25, [](int i) {
    return std::vector<DrawBox>{{0.1 + 0.02 * (i - 5), 0.5, 0.16, 0.12, {200, 60, 60}}};
  });
  auto starts = col.starts(core::EventType::kIntrusion);
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].rule, "cars");
  EXPECT_EQ(starts[0].objectClass, "vehicle");
}

TEST(AnalyticsRules, LoiteringAfterDwell) {
  auto c = baseConfig();
  c.zones.push_back(zone("atm", 0.3f, 0.2f, 0.7f, 0.9f));
  auto r = rule("linger", RuleType::kLoitering);
  r.zone = "atm";
  r.dwell = 4s;
  c.rules.push_back(r);
  Collector col;
  auto a = make(c, col);
  Synth s;
  run(*a, s, 0, 5, [](int) { return std::vector<DrawBox>{}; });
  // Paces slowly inside the zone.
  run(*a, s, 5, 15, [](int i) { return std::vector<DrawBox>{walker(0.4 + 0.005 * (i - 5))}; });
  EXPECT_TRUE(col.starts(core::EventType::kLoitering).empty());  // 3 s so far
  run(*a, s, 20, 15, [](int i) { return std::vector<DrawBox>{walker(0.475 - 0.005 * (i - 20))}; });
  auto starts = col.starts(core::EventType::kLoitering);
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_NEAR(std::chrono::duration<double>(starts[0].mediaTime).count(), 1.0 + 0.6 + 4.0, 0.8);
}

TEST(AnalyticsRules, CrowdWhenMoreThanNForT) {
  auto c = baseConfig();
  c.zones.push_back(zone("square", 0.1f, 0.1f, 0.9f, 0.95f));
  auto r = rule("gathering", RuleType::kCrowd);
  r.zone = "square";
  r.maxObjects = 2;
  r.duration = 2s;
  c.rules.push_back(r);
  Collector col;
  auto a = make(c, col);
  Synth s;
  run(*a, s, 0, 5, [](int) { return std::vector<DrawBox>{}; });
  auto three = [](int i) {
    const double d = 0.004 * (i % 10);
    return std::vector<DrawBox>{walker(0.2 + d, 0.3), walker(0.45 - d, 0.5), walker(0.7 + d, 0.4)};
  };
  run(*a, s, 5, 8, three);
  EXPECT_TRUE(col.starts(core::EventType::kCrowd).empty());
  run(*a, s, 13, 10, three);
  auto starts = col.starts(core::EventType::kCrowd);
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].attributes.at("count"), "3");
  EXPECT_GT(starts[0].box.w, 0.4f);  // encloses the group
  run(*a, s, 23, 20, [](int) { return std::vector<DrawBox>{}; });
  EXPECT_EQ(col.count(core::EventPhase::kEnd), 1u);
}

TEST(AnalyticsRules, CooldownSuppressesButCountsStillCount) {
  auto c = baseConfig();
  auto t = rule("line", RuleType::kTripwire);
  t.lineA = {0.5f, 0.05f};
  t.lineB = {0.5f, 0.95f};
  t.cooldown = 60s;
  c.rules.push_back(t);
  Collector col;
  auto a = make(c, col);
  Synth s;
  run(*a, s, 0, 5, [](int) { return std::vector<DrawBox>{}; });
  run(*a, s, 5, 45, [](int i) {
    return std::vector<DrawBox>{walker(0.2 + 0.015 * (i - 5), 0.1),
                                walker(0.1 + 0.015 * (i - 5), 0.6)};
  });
  EXPECT_EQ(a->stats().tripwires.at("line").bToA, 2u);
  EXPECT_EQ(col.starts(core::EventType::kTripwire).size(), 1u);
  EXPECT_EQ(a->stats().eventsSuppressed, 1u);
}

TEST(AnalyticsRules, ScheduleOutsideActiveHoursSuppresses) {
  auto c = baseConfig();
  auto t = rule("line", RuleType::kTripwire);
  t.lineA = {0.5f, 0.05f};
  t.lineB = {0.5f, 0.95f};
  // The frames' wall time is fixed (synth.h); pick a one-minute window that cannot contain it
  // in any time zone: the minute 12 hours away.
  const auto wt = Synth::frame(cv::Mat(1, 1, CV_8UC3), cam(), 0).wallTime;
  const std::time_t secs = std::chrono::system_clock::to_time_t(
      std::chrono::time_point_cast<std::chrono::system_clock::duration>(wt));
  std::tm tm{};
  localtime_r(&secs, &tm);
  const int away = (tm.tm_hour * 60 + tm.tm_min + 12 * 60) % (24 * 60);
  t.schedule = {{away, (away + 1) % (24 * 60)}};
  c.rules.push_back(t);
  Collector col;
  auto a = make(c, col);
  Synth s;
  run(*a, s, 0, 5, [](int) { return std::vector<DrawBox>{}; });
  run(*a, s, 5, 40, [](int i) { return std::vector<DrawBox>{walker(0.2 + 0.015 * (i - 5))}; });
  EXPECT_EQ(a->stats().tripwires.at("line").bToA, 1u);
  EXPECT_TRUE(col.starts(core::EventType::kTripwire).empty());
  EXPECT_EQ(a->stats().eventsSuppressed, 1u);
}

// ---- distractors and tamper ------------------------------------------------------------------

CameraAnalyticsConfig everythingConfig() {
  auto c = baseConfig();
  c.zones.push_back(zone("all", 0.0f, 0.0f, 1.0f, 1.0f));
  auto i = rule("fence", RuleType::kIntrusion);
  i.zone = "all";
  c.rules.push_back(i);
  c.rules.push_back(rule("motion", RuleType::kMotion));
  auto tw = rule("line", RuleType::kTripwire);
  tw.lineA = {0.5f, 0.0f};
  tw.lineB = {0.5f, 1.0f};
  c.rules.push_back(tw);
  c.rules.push_back(rule("tamper", RuleType::kTamper));
  return c;
}

TEST(AnalyticsDistractors, IlluminationStepRaisesNothing) {
  Collector col;
  auto a = make(everythingConfig(), col);
  Synth s;
  run(*a, s, 0, 20, [](int) { return std::vector<DrawBox>{}; });
  run(
      *a, s, 20, 30, [](int) { return std::vector<DrawBox>{}; }, 0.6);
  run(
      *a, s, 50, 30, [](int) { return std::vector<DrawBox>{}; }, 1.3);
  EXPECT_EQ(col.count(core::EventPhase::kStart), 0u);
  EXPECT_GE(a->stats().globalChanges, 2u);
}

TEST(AnalyticsDistractors, NoiseAloneRaisesNothing) {
  Collector col;
  auto c = everythingConfig();
  c.motion.sensitivity = 0.8;
  auto a = make(c, col);
  Synth s;
  for (int i = 0; i < 60; ++i) {
    a->process(Synth::frame(s.render({}, 1.0, 6.0), c.camera, i));
  }
  EXPECT_EQ(col.count(core::EventPhase::kStart), 0u);
}

TEST(AnalyticsTamper, CoveredLensWithinThreeSeconds) {
  Collector col;
  auto a = make(everythingConfig(), col);
  Synth s;
  run(*a, s, 0, 20, [](int) { return std::vector<DrawBox>{}; });
  for (int i = 20; i < 40; ++i) {
    cv::Mat dark(360, 640, CV_8UC3, cv::Scalar(8, 8, 8));
    a->process(Synth::frame(dark, cam(), i));
  }
  auto starts = col.starts(core::EventType::kTamper);
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].attributes.at("kind"), "covered");
  EXPECT_LE(std::chrono::duration<double>(starts[0].mediaTime).count() - 4.0, 3.0);
  EXPECT_TRUE(col.starts(core::EventType::kIntrusion).empty());
  run(*a, s, 40, 10, [](int) { return std::vector<DrawBox>{}; });
  EXPECT_EQ(col.count(core::EventPhase::kEnd), 1u);  // uncovered: the event ended
}

TEST(AnalyticsTamper, FrozenImage) {
  Collector col;
  auto a = make(everythingConfig(), col);
  Synth s;
  run(*a, s, 0, 20, [](int) { return std::vector<DrawBox>{}; });
  const cv::Mat still = s.render({});
  for (int i = 20; i < 40; ++i) a->process(Synth::frame(still, cam(), i));
  auto starts = col.starts(core::EventType::kTamper);
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].attributes.at("kind"), "frozen");
  EXPECT_LE(std::chrono::duration<double>(starts[0].mediaTime).count() - 4.0, 3.0);
}

TEST(AnalyticsTamper, CameraTurnedThenSettles) {
  Collector col;
  auto a = make(everythingConfig(), col);
  Synth s(640, 360, 7);
  run(*a, s, 0, 20, [](int) { return std::vector<DrawBox>{}; });
  Synth other(640, 360, 99);
  run(*a, other, 20, 80, [](int) { return std::vector<DrawBox>{}; });
  auto starts = col.starts(core::EventType::kTamper);
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].attributes.at("kind"), "moved");
  EXPECT_LE(std::chrono::duration<double>(starts[0].mediaTime).count() - 4.0, 3.0);
  EXPECT_EQ(col.starts(core::EventType::kIntrusion).size(), 0u);
  EXPECT_EQ(col.count(core::EventPhase::kEnd), 1u);  // the new view became the reference
}

TEST(AnalyticsTamper, Defocus) {
  Collector col;
  auto a = make(everythingConfig(), col);
  Synth s;
  run(*a, s, 0, 20, [](int) { return std::vector<DrawBox>{}; });
  for (int i = 20; i < 40; ++i) {
    cv::Mat blurred;
    cv::GaussianBlur(s.render({}, 1.0, 0.5), blurred, cv::Size(0, 0), 3);
    a->process(Synth::frame(blurred, cam(), i));
  }
  auto starts = col.starts(core::EventType::kTamper);
  ASSERT_GE(starts.size(), 1u);
  EXPECT_EQ(starts[0].attributes.at("kind"), "defocus");
}

// ---- bad input -------------------------------------------------------------------------------

TEST(AnalyticsBadInput, CorruptFramesAndResolutionChangeAreSurvived) {
  auto c = baseConfig();
  auto t = rule("line", RuleType::kTripwire);
  t.lineA = {0.5f, 0.05f};
  t.lineB = {0.5f, 0.95f};
  c.rules.push_back(t);
  Collector col;
  auto a = make(c, col);
  Synth s;
  run(*a, s, 0, 5, [](int) { return std::vector<DrawBox>{}; });
  core::Frame bad = Synth::frame(s.render({}), cam(), 5);
  bad.size = 1000;  // claims 640x360 but carries 1000 bytes
  a->process(bad);
  bad.data = nullptr;
  a->process(bad);
  core::Frame zero = Synth::frame(s.render({}), cam(), 6);
  zero.width = 0;
  a->process(zero);
  core::Frame stride = Synth::frame(s.render({}), cam(), 7);
  stride.stride = 10;
  a->process(stride);
  EXPECT_EQ(a->stats().framesCorrupt, 4u);
  // Resolution change mid-stream: 640x360 -> 320x180, normalised rules keep working.
  Synth half(320, 180);
  run(*a, half, 8, 5, [](int) { return std::vector<DrawBox>{}; });
  run(*a, half, 13, 40, [](int i) { return std::vector<DrawBox>{walker(0.2 + 0.015 * (i - 13))}; });
  EXPECT_EQ(a->stats().resolutionChanges, 1u);
  EXPECT_EQ(a->stats().tripwires.at("line").bToA, 1u);
  // Grey frames are accepted too.
  cv::Mat grey(180, 320, CV_8UC1, cv::Scalar(120));
  a->process(Synth::frame(grey, cam(), 60));
  EXPECT_EQ(a->stats().resolutionChanges, 1u);
}

TEST(AnalyticsSignal, LossStartsAndRecoveryEnds) {
  auto c = baseConfig();
  auto r = rule("video-lost", RuleType::kSignalLoss);
  r.severity = 3;
  c.rules.push_back(r);
  Collector col;
  auto a = make(c, col);
  const auto t0 = core::WallTime(std::chrono::seconds(1'790'000'000));
  a->reportSignal(false, "stalled: no data for 10 s", t0);
  a->reportSignal(false, "reconnecting", t0 + 1s);  // same state: nothing new
  a->reportSignal(true, "streaming", t0 + 30s);
  auto starts = col.starts(core::EventType::kSignalLoss);
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].severity, 3);
  EXPECT_EQ(starts[0].attributes.at("reason"), "stalled: no data for 10 s");
  ASSERT_EQ(col.count(core::EventPhase::kEnd), 1u);
  EXPECT_EQ(*col.events.back().end, t0 + 30s);
  EXPECT_EQ(col.events.back().id, starts[0].id);
}

// ---- detectors -------------------------------------------------------------------------------

class EverythingIsACar : public Detector {
 public:
  explicit EverythingIsACar(std::atomic<int>& calls) : calls_(calls) {}
  std::vector<Detection> detect(const ImageView& image, const core::BoundingBox& r) override {
    ++calls_;
    EXPECT_EQ(image.width, 640);
    return {{r, "vehicle", 0.9f}};
  }
  std::string name() const override { return "fake-car"; }

 private:
  std::atomic<int>& calls_;
};

TEST(AnalyticsDetector, PluggedDetectorDecidesTheClass) {
  auto c = baseConfig();
  c.detector.kind = DetectorKind::kOnnx;  // what the factory is asked for
  c.detector.modelPath = "/nonexistent/model.onnx";
  c.zones.push_back(zone("all", 0, 0, 1, 1));
  auto r = rule("cars", RuleType::kIntrusion);
  r.zone = "all";
  r.classes = {"vehicle"};
  c.rules.push_back(r);
  std::atomic<int> calls{0};
  EngineOptions opts;
  opts.detectorFactory = [&](const DetectorConfig& dc) -> core::Result<std::unique_ptr<Detector>> {
    EXPECT_EQ(dc.modelPath, "/nonexistent/model.onnx");
    return std::unique_ptr<Detector>(std::make_unique<EverythingIsACar>(calls));
  };
  Collector col;
  auto a = make(c, col, opts);
  Synth s;
  run(*a, s, 0, 5, [](int) { return std::vector<DrawBox>{}; });
  run(*a, s, 5, 15, [](int i) { return std::vector<DrawBox>{walker(0.2 + 0.01 * (i - 5))}; });
  auto starts = col.starts(core::EventType::kIntrusion);
  ASSERT_EQ(starts.size(), 1u);
  EXPECT_EQ(starts[0].objectClass, "vehicle");  // the shape says person; the detector wins
  EXPECT_EQ(calls.load(), 1);                   // once per track: the class is then locked
}

TEST(AnalyticsDetector, BuiltinsLoadOrFailCleanly) {
  DetectorConfig hog;
  hog.kind = DetectorKind::kHog;
  auto h = makeBuiltinDetector(hog);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.value()->name(), "hog");
  DetectorConfig cascade;
  cascade.kind = DetectorKind::kCascade;
  auto cc = makeBuiltinDetector(cascade);
  if (std::filesystem::exists(kDefaultFullBodyCascade)) {
    ASSERT_TRUE(cc.ok()) << cc.error().describe();
    // Runs on a plain image without complaint.
    Synth s;
    cv::Mat img = s.render({walker(0.4)});
    ImageView v{img.cols, img.rows, int(img.step[0]), core::PixelFormat::kBgr24, img.data};
    (void)cc.value()->detect(v, {0.3f, 0.3f, 0.3f, 0.4f});
    (void)h.value()->detect(v, {0.3f, 0.3f, 0.3f, 0.4f});
  }
  DetectorConfig onnx;
  onnx.kind = DetectorKind::kOnnx;
  onnx.modelPath = "/nonexistent/model.onnx";
  auto o = makeBuiltinDetector(onnx);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().code, core::ErrorCode::kNotFound);
  // A file that is not a model: an error, not a crash.
  const auto junk = std::filesystem::temp_directory_path() / "sharpeyes_junk_model.onnx";
  { std::ofstream(junk) << "this is not protobuf"; }
  onnx.modelPath = junk.string();
  EXPECT_FALSE(makeBuiltinDetector(onnx).ok());
  std::filesystem::remove(junk);
  // And the analyzer refuses a camera whose detector cannot load.
  auto c = baseConfig();
  c.detector = onnx;
  c.detector.modelPath = "/nonexistent/model.onnx";
  Collector col;
  auto a = CameraAnalyzer::create(c, {}, col.sink());
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message.find("cam-1"), std::string::npos);
}

// ---- snapshots -------------------------------------------------------------------------------

TEST(AnalyticsSnapshot, AnnotatedJpegWrittenRelativeToRoot) {
  const auto root =
      std::filesystem::temp_directory_path() / ("sharpeyes_snap_" + std::to_string(::getpid()));
  std::filesystem::remove_all(root);
  auto c = baseConfig();
  auto t = rule("line", RuleType::kTripwire);
  t.lineA = {0.5f, 0.05f};
  t.lineB = {0.5f, 0.95f};
  c.rules.push_back(t);
  EngineOptions opts;
  opts.snapshotRoot = root.string();
  Collector col;
  auto a = make(c, col, opts);
  Synth s;
  run(*a, s, 0, 5, [](int) { return std::vector<DrawBox>{}; });
  run(*a, s, 5, 40, [](int i) { return std::vector<DrawBox>{walker(0.2 + 0.015 * (i - 5))}; });
  auto starts = col.starts(core::EventType::kTripwire);
  ASSERT_EQ(starts.size(), 1u);
  ASSERT_FALSE(starts[0].snapshotPath.empty());
  EXPECT_EQ(starts[0].snapshotPath.rfind("snapshots/cam-1/", 0), 0u) << starts[0].snapshotPath;
  cv::Mat jpeg = cv::imread((root / starts[0].snapshotPath).string());
  ASSERT_FALSE(jpeg.empty());
  EXPECT_EQ(jpeg.cols, 640);
  EXPECT_EQ(jpeg.rows, 360);
  // The event box is drawn in red.
  const auto& b = starts[0].box;
  const cv::Vec3b px = jpeg.at<cv::Vec3b>(cvRound((b.y + b.h / 2) * 360), cvRound(b.x * 640));
  EXPECT_GT(px[2], 150);
  EXPECT_LT(px[1], 100);
  std::filesystem::remove_all(root);
}

// ---- engine ----------------------------------------------------------------------------------

TEST(AnalyticsEngine, SubmitNeverBlocksAndDropsAreCounted) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> inSink{false};
  EngineOptions opts;
  opts.workers = 1;
  opts.queueDepth = 2;
  Engine engine(opts, [&](const core::Event&) {
    inSink = true;
    released.wait();  // a slow consumer holds the only worker
  });
  // Goes before the engine: on an early return it lets the parked worker go, so that the
  // engine's destructor does not join it forever.
  struct Release {
    std::promise<void>& promise;
    bool done = false;
    void now() {
      if (!done) promise.set_value();
      done = true;
    }
    ~Release() { now(); }
  } releaser{release};
  auto c = baseConfig();
  c.rules.push_back(rule("lost", RuleType::kSignalLoss));
  ASSERT_TRUE(engine.addCamera(c).ok());
  EXPECT_FALSE(engine.addCamera(c).ok());  // twice: refused
  engine.reportSignal(cam(), false, "test", core::processClock().now());
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!inSink && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_TRUE(inSink.load());
  Synth s;
  const cv::Mat img = s.render({});
  for (int i = 0; i < 10; ++i) engine.submit(Synth::frame(img, cam(), i));  // must not block
  auto st = engine.stats(cam());
  ASSERT_TRUE(st);
  EXPECT_EQ(st->framesIn, 10u);
  EXPECT_EQ(st->framesDropped, 8u);
  releaser.now();
  ASSERT_TRUE(engine.waitIdle(30s));
  st = engine.stats(cam());
  EXPECT_EQ(st->framesProcessed, 2u);
  core::Frame unknown = Synth::frame(img, cam("cam-x"), 0);
  engine.submit(unknown);
  EXPECT_EQ(engine.unknownFrames(), 1u);
}

TEST(AnalyticsEngine, ManyCamerasInOrderAcrossWorkers) {
  Collector col;
  EngineOptions opts;
  opts.workers = 3;
  opts.queueDepth = 1000;  // nothing dropped: every frame must be analysed, in order
  Engine engine(opts, col.sink());
  std::vector<core::CameraId> ids;
  for (int k = 0; k < 4; ++k) {
    auto c = baseConfig();
    c.camera = cam(("cam-" + std::to_string(k)).c_str());
    auto t = rule("line", RuleType::kTripwire);
    t.lineA = {0.5f, 0.05f};
    t.lineB = {0.5f, 0.95f};
    c.rules.push_back(t);
    ASSERT_TRUE(engine.addCamera(c).ok());
    ids.push_back(c.camera);
  }
  Synth s;
  for (int i = 0; i < 50; ++i) {
    const cv::Mat img = i < 5 ? s.render({}) : s.render({walker(0.2 + 0.015 * (i - 5))});
    for (const auto& id : ids) engine.submit(Synth::frame(img, id, i));
  }
  ASSERT_TRUE(engine.waitIdle(60s));
  for (const auto& id : ids) {
    auto st = engine.stats(id);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->framesProcessed, 50u);
    EXPECT_EQ(st->framesDropped, 0u);
    // Out-of-order frames would break the track and the crossing.
    EXPECT_EQ(st->tripwires.at("line").bToA, 1u) << id.str();
  }
  EXPECT_EQ(col.starts(core::EventType::kTripwire).size(), 4u);
  engine.removeCamera(ids[0]);
  EXPECT_FALSE(engine.stats(ids[0]));
  engine.stop();
  engine.stop();  // idempotent
}

// ---- ONNX: a tiny model written by the test itself (no download) ------------------------------

namespace onnx_writer {
// Just enough protobuf to write an ONNX ModelProto.
void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(char((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(char(v));
}
void key(std::string& out, int field, int wire) {
  varint(out, uint64_t(field) << 3 | uint64_t(wire));
}
void num(std::string& out, int field, uint64_t v) {
  key(out, field, 0);
  varint(out, v);
}
void bytes(std::string& out, int field, const std::string& b) {
  key(out, field, 2);
  varint(out, b.size());
  out += b;
}
std::string tensor(const std::string& name, const std::vector<int64_t>& dims, int type,
                   const std::string& raw) {
  std::string t;
  for (int64_t d : dims) num(t, 1, uint64_t(d));
  num(t, 2, uint64_t(type));
  bytes(t, 8, name);
  bytes(t, 9, raw);
  return t;
}
std::string valueInfo(const std::string& name, const std::vector<int64_t>& dims) {
  std::string shape;
  for (int64_t d : dims) {
    std::string dim;
    num(dim, 1, uint64_t(d));
    bytes(shape, 1, dim);
  }
  std::string tt;
  num(tt, 1, 1);  // FLOAT
  bytes(tt, 2, shape);
  std::string type;
  bytes(type, 1, tt);
  std::string vi;
  bytes(vi, 1, name);
  bytes(vi, 2, type);
  return vi;
}
std::string node(const std::vector<std::string>& in, const std::string& out,
                 const std::string& op) {
  std::string n;
  for (const auto& i : in) bytes(n, 1, i);
  bytes(n, 2, out);
  bytes(n, 3, out + "_node");
  bytes(n, 4, op);
  return n;
}
template <typename T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}
// A "detector" whose single output row is constant: Conv with zero weights over the whole
// S x S input and the row as bias, reshaped to [1, 1, 6] (cx, cy, w, h, objectness, class).
std::string constantDetector(int s, const std::vector<float>& row) {
  std::string g;
  std::string conv = node({"images", "w", "b"}, "conv", "Conv");
  std::string kernel;  // AttributeProto kernel_shape: INTS [s, s]
  bytes(kernel, 1, "kernel_shape");
  num(kernel, 8, uint64_t(s));
  num(kernel, 8, uint64_t(s));
  num(kernel, 20, 7);
  bytes(conv, 5, kernel);
  bytes(g, 1, conv);
  bytes(g, 1, node({"conv", "shape"}, "output", "Reshape"));
  bytes(g, 2, "tiny");
  bytes(g, 5, tensor("w", {6, 3, s, s}, 1, raw(std::vector<float>(size_t(6 * 3 * s * s), 0.f))));
  bytes(g, 5, tensor("b", {6}, 1, raw(row)));
  bytes(g, 5, tensor("shape", {3}, 7, raw(std::vector<int64_t>{1, 1, 6})));
  bytes(g, 11, valueInfo("images", {1, 3, s, s}));
  bytes(g, 12, valueInfo("output", {1, 1, 6}));
  std::string opset;
  bytes(opset, 1, "");
  num(opset, 2, 13);
  std::string m;
  num(m, 1, 7);  // IR version
  bytes(m, 2, "sharpeyes-test");
  bytes(m, 7, g);
  bytes(m, 8, opset);
  return m;
}
}  // namespace onnx_writer

TEST(AnalyticsDetector, OnnxModelRunsThroughOpenCvDnn) {
  const int s = 32;
  // A box filling the letterboxed region's left half, objectness 0.9, class score 0.8.
  const std::vector<float> row{8.f, 16.f, 16.f, 32.f, 0.9f, 0.8f};
  const auto path = std::filesystem::temp_directory_path() /
                    ("sharpeyes_tiny_" + std::to_string(::getpid()) + ".onnx");
  {
    std::ofstream out(path, std::ios::binary);
    out << onnx_writer::constantDetector(s, row);
  }
  DetectorConfig dc;
  dc.kind = DetectorKind::kOnnx;
  dc.modelPath = path.string();
  dc.inputSize = s;
  dc.classNames = {"person"};
  auto det = makeBuiltinDetector(dc);
  ASSERT_TRUE(det.ok()) << det.error().describe();
  Synth synth;
  cv::Mat img = synth.render({walker(0.4)});
  ImageView v{img.cols, img.rows, int(img.step[0]), core::PixelFormat::kBgr24, img.data};
  // Region 0.4,0.4 0.04x0.16 -> grown by 25 % each side: x 0.39..0.45, y 0.36..0.6 (38x86 px).
  const auto found = det.value()->detect(v, {0.4f, 0.4f, 0.04f, 0.16f});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].objectClass, "person");
  EXPECT_NEAR(found[0].score, 0.72f, 1e-3);
  // Mapped back to the frame: inside the grown region.
  EXPECT_GE(found[0].box.x, 0.38f);
  EXPECT_LE(found[0].box.x + found[0].box.w, 0.46f);
  EXPECT_GE(found[0].box.y, 0.35f);
  EXPECT_LE(found[0].box.y + found[0].box.h, 0.61f);
  // Below the score threshold: nothing.
  dc.minScore = 0.8f;
  auto strict = makeBuiltinDetector(dc);
  ASSERT_TRUE(strict.ok());
  EXPECT_TRUE(strict.value()->detect(v, {0.4f, 0.4f, 0.04f, 0.16f}).empty());
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace sharpeyes::analytics
