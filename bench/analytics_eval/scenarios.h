#pragma once
// Scripted scenes (sim::SceneRenderer) with analytics rules and ground truth derived from the
// scene's known object boxes; scoring of the analytics events against that truth.
// Shared by bench/analytics_eval (all scenarios, printed table) and the integration test
// tests/analytics/eval_test.cpp (a few short ones, asserted).

#include <map>
#include <string>
#include <vector>

#include "sharpeyes/analytics/config.h"
#include "sharpeyes/core/event.h"
#include "sharpeyes/sim/scene.h"

namespace sharpeyes::analytics::eval {

struct Scenario {
  std::string name;
  std::string what;         // one line for the table
  bool distractor = false;  // no true event: anything reported is a false positive
  // "core": the designed set the targets apply to; "occlusion": busy random scenes where objects
  // overlap (reported separately: blob-based tracking merges overlapping objects).
  std::string group = "core";
  sim::SceneSpec scene;
  double seconds = 20;
  double fps = 5;
  int width = 640, height = 360;
  CameraAnalyticsConfig config;
};

// All scenarios of the accuracy bench (>= 12).
std::vector<Scenario> allScenarios();
Scenario scenarioByName(const std::string& name);  // throws std::out_of_range

// A true or reported event reduced to what is scored.
struct Occurrence {
  std::string rule;
  core::EventType type = core::EventType::kOther;
  double t = 0;           // seconds from the scenario start
  std::string direction;  // tripwire: "A->B" / "B->A"; tamper: kind
};

struct RuleScore {
  int truth = 0, reported = 0, matched = 0;
  long truthCount = 0, reportedCount = 0;  // tripwire crossings (counts, not events)
  std::vector<double> latencies;           // seconds, matched events only
  double precision() const { return reported ? double(matched) / reported : 1.0; }
  double recall() const { return truth ? double(matched) / truth : 1.0; }
  double countError() const {
    return truthCount ? std::abs(double(reportedCount - truthCount)) / double(truthCount) : 0.0;
  }
  double meanLatency() const;
  double maxLatency() const;
  void add(const RuleScore& o);
};

struct ScenarioResult {
  std::string name;
  std::map<std::string, RuleScore>
      byType;  // "tripwire", "intrusion", "loitering", "crowd", "tamper"
  int falsePositives = 0;
  double meanProcessMs = 0;  // analyzer wall time per frame
  int frames = 0;
};

// Renders the scenario frame by frame into a CameraAnalyzer (deterministic; nothing dropped)
// and scores the events. `snapshotRoot` empty = no snapshots.
ScenarioResult runScenario(const Scenario& s, const std::string& snapshotRoot = "");

// Ground truth of a scenario (exposed for tests of the scorer itself).
std::vector<Occurrence> truthOf(const Scenario& s,
                                std::map<std::string, long>* crossings = nullptr);

}  // namespace sharpeyes::analytics::eval
