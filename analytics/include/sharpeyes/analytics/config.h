#pragma once
// Per-camera analytics configuration: motion, tracking, detection, zones and rules.
// Every coordinate is normalised to the frame (0..1 on both axes, origin top-left, y down), so a
// configuration survives a resolution change of the analytics stream.
// Plain values; built by app/ from YAML (app/src/config_analytics.cpp) or by tests in code.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "sharpeyes/core/camera_id.h"
#include "sharpeyes/core/division.h"
#include "sharpeyes/core/result.h"
#include "sharpeyes/core/time.h"

namespace sharpeyes::analytics {

using namespace std::chrono_literals;

struct Point {
  float x = 0, y = 0;
  bool operator==(const Point&) const = default;
};
using Polygon = std::vector<Point>;

enum class MotionAlgorithm { kMog2, kKnn };
std::string_view toString(MotionAlgorithm a);  // "mog2", "knn"

struct MotionConfig {
  MotionAlgorithm algorithm = MotionAlgorithm::kMog2;
  bool shadowSuppression = true;  // shadows are modelled and not counted as foreground
  int morphology = 1;             // opening/closing radius in analysis pixels; 0 = none
  double minArea = 0.0012;        // smallest object, as a fraction of the frame area
  double sensitivity = 0.5;       // 0..1; higher = smaller intensity changes count as motion
  int analysisWidth = 160;        // frames are scaled down by an integer factor to about this width
  double historySeconds = 30;     // background memory; a still object fades in ~half of it
  // Foreground covering more than this fraction of the frame (or a mean brightness jump of more
  // than `globalBrightnessJump`) is a global change (light switched, iris, camera moved): the
  // background is re-learnt and no object is reported for that frame.
  double globalChangeFraction = 0.35;
  double globalBrightnessJump = 0.12;
  std::vector<Polygon> ignore;  // regions never analysed (a swaying tree, an on-screen clock)
};

struct TrackerConfig {
  int confirmFrames = 3;            // matched frames before a track is reported
  core::Duration maxLost = 1200ms;  // a track unseen this long is ended
  double maxSpeed = 1.5;            // frame widths per second; gates assignments
};

enum class DetectorKind { kNone, kHog, kCascade, kOnnx };
std::string_view toString(DetectorKind k);  // "none", "hog", "cascade", "onnx"

// Person detection refines the shape-based class of moving objects. It runs only on the regions of
// tracks whose class is not yet confirmed, at most once per `interval` per track.
struct DetectorConfig {
  DetectorKind kind = DetectorKind::kNone;
  // kCascade: a cascade XML (default: Debian opencv-data's haarcascade_fullbody.xml);
  // kOnnx: an ONNX model (YOLO-style output rows: cx, cy, w, h, objectness, class scores...).
  std::string modelPath;
  std::vector<std::string> classNames;  // kOnnx: index -> class ("person", "vehicle", ...)
  int inputSize = 320;                  // kOnnx: square network input
  float minScore = 0.5f;
  core::Duration interval = 1s;
};

struct Zone {
  std::string name;
  Polygon polygon;  // >= 3 points, inside 0..1
};

enum class RuleType { kMotion, kIntrusion, kTripwire, kLoitering, kCrowd, kTamper, kSignalLoss };
std::string_view toString(RuleType t);  // "motion", "intrusion", "tripwire", ...
core::Result<RuleType> parseRuleType(std::string_view text);

// Side A of a tripwire lies to the left of the line walked from `a` to `b` as seen on screen
// (for a line drawn left to right, A is above it and B below).
enum class CrossDirection { kAToB, kBToA, kBoth };
std::string_view toString(CrossDirection d);  // "a_to_b", "b_to_a", "both"
core::Result<CrossDirection> parseCrossDirection(std::string_view text);

// Active hours in gateway local time: [begin, end) minutes since midnight; end < begin wraps past
// midnight ("22:00-06:00").
struct TimeWindow {
  int beginMinute = 0;
  int endMinute = 24 * 60;
  bool operator==(const TimeWindow&) const = default;
};
core::Result<TimeWindow> parseTimeWindow(std::string_view text);  // "HH:MM-HH:MM"

struct TamperChecks {
  bool covered = true;
  bool defocus = true;
  bool moved = true;
  bool frozen = true;
};

// One rule. Fields not used by a type are ignored (the YAML parser rejects them).
struct RuleConfig {
  std::string name;  // unique per camera; appears in events
  RuleType type = RuleType::kIntrusion;
  bool enabled = true;
  int severity = 2;                  // 1..4: village, township, county, city
  std::vector<TimeWindow> schedule;  // empty = always active
  core::Duration cooldown = 5s;      // after an event ends, no new event of this rule this long
  // intrusion, loitering, crowd, motion (empty zone = whole frame for motion):
  std::string zone;
  std::vector<std::string> classes;  // "person", "vehicle", "unknown"; empty = any object
  core::Duration minDwell = 0s;      // intrusion: inside this long before the event starts
  core::Duration dwell = 30s;        // loitering: inside longer than this
  int maxObjects = 5;                // crowd: more than this many objects ...
  core::Duration duration = 10s;     // crowd: ... for this long
  // tripwire:
  Point lineA, lineB;
  CrossDirection direction = CrossDirection::kBoth;
  // tamper:
  TamperChecks tamper;
  core::Duration hold = 1500ms;  // tamper: the condition must last this long
};

struct CameraAnalyticsConfig {
  core::CameraId camera;
  core::DivisionCode division;
  bool enabled = true;
  MotionConfig motion;
  TrackerConfig tracker;
  DetectorConfig detector;
  std::vector<Zone> zones;
  std::vector<RuleConfig> rules;
  core::Duration preRoll = 5s;
  core::Duration postRoll = 10s;
  bool snapshots = true;
  core::Duration updateInterval = 5s;  // an active event sends an update at most this often
};

// Checks ranges, polygons inside the frame, unique names, rules naming known zones. The message
// names the camera, the rule or zone and the field.
core::Result<void> validate(const CameraAnalyticsConfig& config);

}  // namespace sharpeyes::analytics
