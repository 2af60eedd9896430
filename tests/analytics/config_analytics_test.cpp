// The YAML reader for a camera's `analytics:` section (app/src/config_analytics.cpp).

#include "config_analytics.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace sharpeyes::app {
namespace {

namespace an = sharpeyes::analytics;

const core::CameraId kCam = core::CameraId::parse("cam-7").value();
const core::DivisionCode kDiv = core::DivisionCode::parse("510603101201").value();

an::CameraAnalyticsConfig read(const std::string& yaml, const std::string& defaults = "") {
  const YAML::Node root = YAML::Load(yaml);
  const YAML::Node d = defaults.empty() ? YAML::Node() : YAML::Load(defaults)["analytics"];
  return readCameraAnalytics(root["analytics"], "cams.yaml", "cameras[0].analytics", kCam, kDiv, d);
}

std::string errorOf(const std::string& yaml, const std::string& defaults = "") {
  try {
    read(yaml, defaults);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(AnalyticsYaml, ReadsEverySection) {
  const auto c = read(R"(
analytics:
  pre_roll: 3s
  post_roll: 20s
  motion:
    algorithm: knn
    shadows: false
    min_area: 0.002
    sensitivity: 0.7
    history: 1m
    ignore:
      - [[0.0, 0.0], [0.3, 0.0], [0.3, 0.4]]
  tracker: {confirm_frames: 4, max_lost: 2s}
  detector: {kind: hog, interval: 500ms}
  zones:
    - name: yard
      polygon: [[0.5, 0.4], [0.95, 0.4], [0.95, 0.95], [0.5, 0.95]]
  rules:
    - name: fence
      type: intrusion
      zone: yard
      classes: [person]
      min_dwell: 2s
      severity: 3
      schedule: ["20:00-06:00"]
      cooldown: 30s
    - name: gate
      type: tripwire
      line: [[0.5, 0.2], [0.5, 1.0]]
      direction: a_to_b
    - name: tamper
      type: tamper
      checks: [covered, moved]
      hold: 2s
    - name: lost
      type: signal_loss
      severity: 4
)");
  EXPECT_EQ(c.camera, kCam);
  EXPECT_EQ(c.preRoll, std::chrono::seconds(3));
  EXPECT_EQ(c.motion.algorithm, an::MotionAlgorithm::kKnn);
  EXPECT_FALSE(c.motion.shadowSuppression);
  EXPECT_DOUBLE_EQ(c.motion.historySeconds, 60);
  ASSERT_EQ(c.motion.ignore.size(), 1u);
  EXPECT_EQ(c.tracker.confirmFrames, 4);
  EXPECT_EQ(c.detector.kind, an::DetectorKind::kHog);
  ASSERT_EQ(c.rules.size(), 4u);
  EXPECT_EQ(c.rules[0].type, an::RuleType::kIntrusion);
  EXPECT_EQ(c.rules[0].severity, 3);
  ASSERT_EQ(c.rules[0].schedule.size(), 1u);
  EXPECT_EQ(c.rules[0].schedule[0].beginMinute, 20 * 60);
  EXPECT_EQ(c.rules[0].cooldown, std::chrono::seconds(30));
  EXPECT_EQ(c.rules[1].direction, an::CrossDirection::kAToB);
  EXPECT_FLOAT_EQ(c.rules[1].lineB.y, 1.0f);
  EXPECT_TRUE(c.rules[2].tamper.covered);
  EXPECT_FALSE(c.rules[2].tamper.frozen);
  EXPECT_EQ(c.rules[3].type, an::RuleType::kSignalLoss);
}

TEST(AnalyticsYaml, ErrorsNameFileLineAndKey) {
  // Unknown key in a rule, on line 6.
  std::string e = errorOf(R"(
analytics:
  rules:
    - name: gate
      type: tripwire
      zone_name: yard
      line: [[0.5, 0.2], [0.5, 1.0]]
)");
  EXPECT_NE(e.find("cams.yaml:6:"), std::string::npos) << e;
  EXPECT_NE(e.find("cameras[0].analytics.rules[0].zone_name"), std::string::npos) << e;

  // Zone outside the image: the offending point, line 6.
  e = errorOf(R"(
analytics:
  zones:
    - name: yard
      polygon:
        - [0.5, 0.4]
        - [1.4, 0.4]
        - [0.9, 0.9]
)");
  EXPECT_NE(e.find("cams.yaml:7:"), std::string::npos) << e;
  EXPECT_NE(e.find("polygon[1]"), std::string::npos) << e;
  EXPECT_NE(e.find("outside the image"), std::string::npos) << e;

  // A rule naming an unknown zone: reported at the rule's zone key.
  e = errorOf(R"(
analytics:
  zones:
    - {name: yard, polygon: [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]}
  rules:
    - name: fence
      type: intrusion
      zone: gate
)");
  EXPECT_NE(e.find("cams.yaml:8:"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown zone 'gate'"), std::string::npos) << e;

  e = errorOf("analytics:\n  rules:\n    - {name: x, type: tripwire}\n");
  EXPECT_NE(e.find("needs a line"), std::string::npos) << e;
  e = errorOf("analytics:\n  rules:\n    - {name: x, type: fence}\n");
  EXPECT_NE(e.find("unknown rule type 'fence'"), std::string::npos) << e;
  e = errorOf("analytics:\n  rules:\n    - {name: x, type: signal_loss, severity: 5}\n");
  EXPECT_NE(e.find("severity"), std::string::npos) << e;
  e = errorOf("analytics:\n  motion: {algorithm: vibe}\n");
  EXPECT_NE(e.find("unknown background subtractor 'vibe'"), std::string::npos) << e;
  e = errorOf("analytics:\n  rules:\n    - {name: t, type: tamper, checks: [smoke]}\n");
  EXPECT_NE(e.find("unknown tamper check"), std::string::npos) << e;
  e = errorOf("analytics:\n  rules:\n    - {name: l, type: loitering, zone: a, max_objects: 3}\n");
  EXPECT_NE(e.find("unknown key for a loitering rule"), std::string::npos) << e;
  e = errorOf("analytics:\n  rules:\n    - {name: x, type: signal_loss, schedule: [\"8-18\"]}\n");
  EXPECT_NE(e.find("HH:MM-HH:MM"), std::string::npos) << e;
  e = errorOf("analytics:\n  detector: {kind: onnx}\n");
  EXPECT_NE(e.find("ONNX"), std::string::npos) << e;
  e = errorOf("analytics:\n  color: red\n");
  EXPECT_NE(e.find("cams.yaml:2:"), std::string::npos) << e;
}

TEST(AnalyticsYaml, DefaultsApplyAndCameraRefines) {
  const std::string defaults = R"(
analytics:
  post_roll: 15s
  rules:
    - {name: tamper, type: tamper}
    - {name: lost, type: signal_loss, severity: 2}
)";
  const auto c = read(R"(
analytics:
  rules:
    - {name: lost, severity: 4}
    - name: gate
      type: tripwire
      line: [[0.1, 0.5], [0.9, 0.5]]
)",
                      defaults);
  EXPECT_EQ(c.postRoll, std::chrono::seconds(15));
  ASSERT_EQ(c.rules.size(), 3u);
  EXPECT_EQ(c.rules[1].name, "lost");
  EXPECT_EQ(c.rules[1].type, an::RuleType::kSignalLoss);
  EXPECT_EQ(c.rules[1].severity, 4);
  EXPECT_EQ(c.rules[2].name, "gate");
  // No camera section at all: the defaults alone.
  const YAML::Node none;
  const auto d = readCameraAnalytics(none, "cams.yaml", "cameras[1].analytics", kCam, kDiv,
                                     YAML::Load(defaults)["analytics"]);
  EXPECT_EQ(d.rules.size(), 2u);
}

TEST(AnalyticsYaml, DocumentedExampleIsValid) {
  // docs/analytics.md carries the example between these markers; it must stay loadable.
  std::ifstream in(std::string(SHARPEYES_SOURCE_DIR) + "/docs/analytics.md");
  ASSERT_TRUE(in) << "docs/analytics.md missing";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const auto begin = doc.find("```yaml\n# example: camera analytics");
  ASSERT_NE(begin, std::string::npos);
  const auto end = doc.find("```", begin + 7);
  const std::string yaml = doc.substr(begin + 8, end - begin - 8);
  const YAML::Node root = YAML::Load(yaml);
  const auto c =
      readCameraAnalytics(root["cameras"][0]["analytics"], "analytics.md", "cameras[0].analytics",
                          kCam, kDiv, root["defaults"]["analytics"]);
  EXPECT_GE(c.rules.size(), 6u);
}

}  // namespace
}  // namespace sharpeyes::app
