// bench/analytics_eval: accuracy of the analytics against the simulator's ground truth, plus a
// look at real footage when present. Prints per rule precision, recall, count error and latency.
//
//   sharpeyes_analytics_eval [--snapshots DIR] [--only NAME] [--media FILE...]

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <string>
#include <vector>

#include "scenarios.h"
#include "sharpeyes/analytics/engine.h"

using namespace sharpeyes;
using namespace sharpeyes::analytics;

namespace {

// Real footage: no ground truth; report what the analytics sees (tracks, classes, events).
void runFootage(const std::string& path, DetectorKind detectorKind) {
  cv::VideoCapture cap(path);
  if (!cap.isOpened()) {
    std::printf("  %-40s cannot open\n", path.c_str());
    return;
  }
  const double fps = cap.get(cv::CAP_PROP_FPS) > 0 ? cap.get(cv::CAP_PROP_FPS) : 25;
  const int step = std::max(1, int(std::lround(fps / 5.0)));  // analyse at ~5 fps
  CameraAnalyticsConfig c;
  c.camera = core::CameraId::parse("footage").value();
  c.detector.kind = detectorKind;
  c.zones.push_back({"all", {{0, 0}, {1, 0}, {1, 1}, {0, 1}}});
  RuleConfig motion;
  motion.name = "motion";
  motion.type = RuleType::kMotion;
  motion.cooldown = core::Duration::zero();
  c.rules.push_back(motion);
  RuleConfig fence = motion;
  fence.name = "fence";
  fence.type = RuleType::kIntrusion;
  fence.zone = "all";
  c.rules.push_back(fence);
  RuleConfig line = motion;
  line.name = "midline";
  line.type = RuleType::kTripwire;
  line.lineA = {0.5f, 0.0f};
  line.lineB = {0.5f, 1.0f};
  c.rules.push_back(line);
  RuleConfig tamper = motion;
  tamper.name = "tamper";
  tamper.type = RuleType::kTamper;
  c.rules.push_back(tamper);
  std::map<std::string, int> byRule;
  std::map<std::string, int> byClass;
  auto a = CameraAnalyzer::create(c, {}, [&](const core::Event& e) {
             if (e.phase != core::EventPhase::kStart) return;
             ++byRule[e.rule];
             if (e.type == core::EventType::kIntrusion) ++byClass[e.objectClass];
           }).value();
  cv::Mat frame, small;
  int64_t index = 0, analysed = 0;
  double cpuMs = 0;
  const auto t0 = core::WallTime(std::chrono::seconds(1'790'000'000));
  while (cap.read(frame)) {
    if (index++ % step) continue;
    // Analyse at the sub-stream size the gateway would use.
    cv::resize(frame, small, cv::Size(640, int(std::lround(640.0 * frame.rows / frame.cols))));
    core::Frame f;
    f.camera = c.camera;
    f.width = small.cols;
    f.height = small.rows;
    f.stride = int(small.step[0]);
    f.data = small.data;
    f.size = small.total() * 3;
    f.mediaTime = std::chrono::duration_cast<core::Duration>(
        std::chrono::duration<double>(double(index) / fps));
    f.wallTime = t0 + f.mediaTime;
    a->process(f);
    ++analysed;
  }
  cpuMs = a->stats().meanProcessMs;
  std::string classes;
  for (const auto& [k, v] : byClass) classes += k + "=" + std::to_string(v) + " ";
  const auto& tw = a->stats().tripwires.at("midline");
  std::printf(
      "  %-34s %5lld frames  %.2f ms/frame  objects(intrusion starts)=%d [%s] "
      "midline L->R=%llu R->L=%llu  motion=%d tamper=%d\n",
      std::filesystem::path(path).filename().c_str(), (long long)analysed, cpuMs, byRule["fence"],
      classes.c_str(), (unsigned long long)tw.bToA, (unsigned long long)tw.aToB, byRule["motion"],
      byRule["tamper"]);
}

}  // namespace

int main(int argc, char** argv) {
  std::string snapshots, only;
  std::vector<std::string> media;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--snapshots") && i + 1 < argc) {
      snapshots = argv[++i];
    } else if (!std::strcmp(argv[i], "--only") && i + 1 < argc) {
      only = argv[++i];
    } else if (!std::strcmp(argv[i], "--media") && i + 1 < argc) {
      media.push_back(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--snapshots DIR] [--only NAME] [--media FILE]...\n",
                   argv[0]);
      return 2;
    }
  }
  std::printf(
      "analytics_eval: synthetic scenes, 640x360 at 5 fps, scored against ground truth\n\n");
  std::printf("%-24s %-6s %5s %5s %5s %4s %8s  %s\n", "scenario", "kind", "truth", "rep", "match",
              "FP", "ms/frm", "what");
  std::map<std::string, std::map<std::string, eval::RuleScore>> totals;  // group -> type
  int distractorEvents = 0, illuminationEvents = 0;
  double msSum = 0;
  int msN = 0;
  for (const eval::Scenario& s : eval::allScenarios()) {
    if (!only.empty() && s.name != only) continue;
    const eval::ScenarioResult r = eval::runScenario(s, snapshots);
    int truth = 0, rep = 0, match = 0;
    for (const auto& [type, score] : r.byType) {
      totals[s.group][type].add(score);
      truth += score.truth;
      rep += score.reported;
      match += score.matched;
    }
    if (s.distractor) distractorEvents += rep;
    if (s.name.rfind("illumination", 0) == 0) illuminationEvents += rep;
    msSum += r.meanProcessMs;
    ++msN;
    std::printf("%-24s %-6s %5d %5d %5d %4d %8.2f  %s\n", s.name.c_str(),
                s.distractor ? "distr" : "true", truth, rep, match, r.falsePositives,
                r.meanProcessMs, s.what.c_str());
  }
  for (const auto& [group, total] : totals) {
    std::printf("\n[%s set]\n%-10s %6s %6s %6s %9s %9s %12s %12s\n", group.c_str(), "rule", "truth",
                "P", "R", "count", "cnt.err", "lat.mean s", "lat.max s");
    for (const auto& [type, s] : total) {
      char count[32] = "-", err[32] = "-";
      if (type == "tripwire") {
        std::snprintf(count, sizeof count, "%ld/%ld", s.reportedCount, s.truthCount);
        std::snprintf(err, sizeof err, "%.1f%%", 100 * s.countError());
      }
      std::printf("%-10s %6d %6.3f %6.3f %9s %9s %12.2f %12.2f\n", type.c_str(), s.truth,
                  s.precision(), s.recall(), count, err, s.meanLatency(), s.maxLatency());
    }
  }
  std::printf("\nevents in distractor scenes: %d   events from illumination changes: %d\n",
              distractorEvents, illuminationEvents);
  std::printf(
      "mean analyzer wall time per frame over the scenes: %.2f ms (single thread, loaded "
      "machine; see bench/analytics for CPU time)\n",
      msN ? msSum / msN : 0.0);

  std::vector<std::string> footage = media;
  if (media.empty() && only.empty()) {
    for (const char* dir : {"/work/shared/media"}) {
      std::error_code ec;
      for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        if (e.path().extension() == ".mp4") footage.push_back(e.path().string());
      }
    }
    const char* vtest = "/usr/share/doc/opencv-doc/examples/data/vtest.avi";
    if (std::filesystem::exists(vtest)) footage.push_back(vtest);
  }
  if (!footage.empty()) {
    std::printf("\nreal footage (no ground truth; analysed at 640 wide, ~5 fps):\n");
    for (const auto& f : footage) {
      runFootage(f, DetectorKind::kNone);
      runFootage(f, DetectorKind::kHog);
    }
  }
  return 0;
}
