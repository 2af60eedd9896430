// One camera's analytics pipeline: scale -> tamper checks -> motion -> tracker -> classes -> rules.
// Single-threaded by contract (the Engine gives each camera to one worker at a time).

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>

#include "geometry.h"
#include "motion.h"
#include "sharpeyes/analytics/engine.h"
#include "sharpeyes/core/util.h"
#include "tamper.h"
#include "tracker.h"

namespace sharpeyes::analytics {
namespace {

using core::Duration;
using core::WallTime;
using detail::Track;
using namespace std::chrono_literals;

constexpr Duration kLeaveGrace = 600ms;  // outside this long before a zone counts as left
constexpr Duration kCrowdEndGrace = 2s;
constexpr Duration kMotionEndAfter = 3s;
constexpr Duration kRebaseMovedAfter = 10s;  // a moved camera's new view becomes the reference
constexpr double kTripwireMargin = 0.006;    // frame units either side of the line (hysteresis)
constexpr int kMaxDimension = 8192;

double seconds(Duration d) {
  return std::chrono::duration<double>(d).count();
}

bool classAllowed(const RuleConfig& rule, const std::string& cls) {
  return rule.classes.empty() ||
         std::find(rule.classes.begin(), rule.classes.end(), cls) != rule.classes.end();
}

int localMinuteOfDay(WallTime t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(
      std::chrono::time_point_cast<std::chrono::system_clock::duration>(t));
  std::tm tm{};
  localtime_r(&secs, &tm);
  return tm.tm_hour * 60 + tm.tm_min;
}

bool scheduleActive(const RuleConfig& rule, WallTime t) {
  if (rule.schedule.empty()) return true;
  const int m = localMinuteOfDay(t);
  for (const TimeWindow& w : rule.schedule) {
    if (w.beginMinute < w.endMinute ? (m >= w.beginMinute && m < w.endMinute)
                                    : (m >= w.beginMinute || m < w.endMinute)) {
      return true;
    }
  }
  return false;
}

std::string utcDate(WallTime t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(
      std::chrono::time_point_cast<std::chrono::system_clock::duration>(t));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y%m%d", &tm);
  return buf;
}

std::string directionName(double deg) {
  static const char* kNames[] = {"east", "southeast", "south", "southwest",
                                 "west", "northwest", "north", "northeast"};
  return kNames[int(std::lround(deg / 45.0)) % 8];
}

}  // namespace

struct CameraAnalyzer::Impl {
  struct Active {
    core::Event event;
    WallTime lastUpdate{};
  };
  struct PerTrack {
    bool inside = false;
    bool fired = false;
    WallTime enteredAt{}, lastInside{};
    int side = 0;
    Point lastAnchor;
    struct Crossing {
      WallTime at;
      Duration media;
      bool aToB;
    };
    std::vector<Crossing> pending;
  };
  struct RuleState {
    const RuleConfig* cfg = nullptr;
    const Zone* zone = nullptr;
    std::optional<WallTime> lastStart;
    std::map<int64_t, PerTrack> perTrack;
    std::map<std::string, Active> active;
    std::set<std::string> firedKeys;  // non-track conditions already reported (or suppressed)
    std::optional<WallTime> since, belowSince, lastSeen;
    int lastCount = -1;
  };

  CameraAnalyticsConfig config;
  EngineOptions options;
  EventSink sink;
  std::unique_ptr<Detector> detector;
  detail::MotionDetector motion;
  detail::Tracker tracker;
  detail::TamperDetector tamper;
  CameraStats stats;
  std::vector<RuleState> rules;

  cv::Size frameSize;
  cv::Mat frameView;  // the frame being processed (borrowed)
  cv::Mat small, gray;
  double aspect = 9.0 / 16.0;  // height / width of the frame
  WallTime lastTime{};
  bool haveTime = false;
  Duration mediaNow{};
  uint64_t corruptLogged = 0;
  bool snapshotWarned = false;

  Impl(CameraAnalyticsConfig c, EngineOptions o, EventSink s)
      : config(std::move(c)),
        options(std::move(o)),
        sink(std::move(s)),
        motion(config.motion),
        tracker(config.tracker) {
    for (const RuleConfig& r : config.rules) {
      RuleState st;
      st.cfg = &r;
      for (const Zone& z : config.zones) {
        if (z.name == r.zone) st.zone = &z;
      }
      if (r.type == RuleType::kTripwire) stats.tripwires[r.name] = {};
      rules.push_back(std::move(st));
    }
  }

  // ---- events ---------------------------------------------------------------------------------

  bool mayStart(RuleState& rs, WallTime now) {
    const RuleConfig& r = *rs.cfg;
    if (!r.enabled) return false;
    if (!scheduleActive(r, now) || (rs.lastStart && now - *rs.lastStart < r.cooldown)) {
      ++stats.eventsSuppressed;
      return false;
    }
    return true;
  }

  core::Event newEvent(RuleState& rs, core::EventType type, WallTime now) {
    core::Event e;
    e.id = core::newId();
    e.phase = core::EventPhase::kStart;
    e.camera = config.camera;
    e.division = config.division;
    e.rule = rs.cfg->name;
    e.type = type;
    e.severity = rs.cfg->severity;
    e.zone = rs.cfg->zone;
    e.start = now;
    e.mediaTime = mediaNow;
    e.clipStart = now - config.preRoll;
    e.clipEnd = now + config.postRoll;
    return e;
  }

  void describeTrack(core::Event& e, const Track& t) {
    e.objectClass = t.objectClass;
    e.trackId = t.id;
    e.box = t.box();
    const double speed = t.speed(aspect);
    e.attributes["speed"] = std::to_string(speed).substr(0, 5);
    if (speed > 0.01) e.attributes["heading"] = directionName(t.directionDeg(aspect));
  }

  void emitStart(RuleState& rs, const std::string& key, core::Event e, bool instant) {
    rs.lastStart = e.start;
    ++stats.eventsStarted;
    e.snapshotPath = snapshot(e, rs);
    if (instant) e.end = e.start;
    sink(e);
    if (instant) {
      e.phase = core::EventPhase::kEnd;
      sink(e);
      return;
    }
    const WallTime start = e.start;
    rs.active[key] = Active{std::move(e), start};
  }

  void emitEnd(RuleState& rs, const std::string& key, WallTime now) {
    auto it = rs.active.find(key);
    if (it == rs.active.end()) return;
    core::Event e = std::move(it->second.event);
    rs.active.erase(it);
    e.phase = core::EventPhase::kEnd;
    e.end = std::max(now, e.start);
    e.clipEnd = *e.end + config.postRoll;
    sink(e);
  }

  void maybeUpdate(RuleState& rs, const std::string& key, WallTime now, const Track* t,
                   const std::map<std::string, std::string>& attrs = {}) {
    auto it = rs.active.find(key);
    if (it == rs.active.end()) return;
    Active& a = it->second;
    bool changed = false;
    for (const auto& [k, v] : attrs) {
      auto cur = a.event.attributes.find(k);
      if (cur == a.event.attributes.end() || cur->second != v) {
        a.event.attributes[k] = v;
        changed = true;
      }
    }
    if (!changed && now - a.lastUpdate < config.updateInterval) return;
    if (t) describeTrack(a.event, *t);
    a.lastUpdate = now;
    a.event.phase = core::EventPhase::kUpdate;
    a.event.clipEnd = now + config.postRoll;
    sink(a.event);
  }

  std::string snapshot(const core::Event& e, const RuleState& rs) {
    if (options.snapshotRoot.empty() || !config.snapshots || frameView.empty()) return {};
    try {
      cv::Mat img;
      if (frameView.channels() == 1) {
        cv::cvtColor(frameView, img, cv::COLOR_GRAY2BGR);
      } else {
        frameView.copyTo(img);
      }
      const double W = img.cols, H = img.rows;
      auto px = [&](Point p) { return cv::Point(cvRound(p.x * W), cvRound(p.y * H)); };
      if (rs.zone) {
        std::vector<cv::Point> pts;
        for (const Point& p : rs.zone->polygon) pts.push_back(px(p));
        cv::polylines(img, pts, true, cv::Scalar(0, 220, 255), 2);
      }
      if (rs.cfg->type == RuleType::kTripwire) {
        cv::line(img, px(rs.cfg->lineA), px(rs.cfg->lineB), cv::Scalar(0, 220, 255), 2);
      }
      for (const Track& t : tracker.tracks()) {
        if (!t.confirmed) continue;
        const core::BoundingBox b = t.box();
        const bool mine = t.id == e.trackId;
        const cv::Rect r(cvRound(b.x * W), cvRound(b.y * H), cvRound(b.w * W), cvRound(b.h * H));
        cv::rectangle(img, r, mine ? cv::Scalar(0, 0, 255) : cv::Scalar(0, 200, 0), mine ? 2 : 1);
        cv::putText(img, t.objectClass + " #" + std::to_string(t.id), r.tl() + cv::Point(0, -3),
                    cv::FONT_HERSHEY_SIMPLEX, 0.4, cv::Scalar(255, 255, 255), 1);
      }
      cv::putText(img, e.rule + " " + std::string(core::toString(e.type)), cv::Point(6, 18),
                  cv::FONT_HERSHEY_SIMPLEX, 0.55, cv::Scalar(0, 0, 255), 2);
      const std::filesystem::path rel = std::filesystem::path(options.snapshotDir) /
                                        config.camera.str() / utcDate(e.start) / (e.id + ".jpg");
      const std::filesystem::path full = std::filesystem::path(options.snapshotRoot) / rel;
      std::filesystem::create_directories(full.parent_path());
      if (!cv::imwrite(full.string(), img, {cv::IMWRITE_JPEG_QUALITY, options.jpegQuality})) {
        throw std::runtime_error("imwrite failed");
      }
      return rel.string();
    } catch (const std::exception& ex) {
      if (!snapshotWarned) {
        spdlog::warn("analytics: camera {}: cannot write snapshots under {}: {}",
                     config.camera.str(), options.snapshotRoot, ex.what());
        snapshotWarned = true;
      }
      return {};
    }
  }

  // ---- frames ---------------------------------------------------------------------------------

  bool frameOk(const core::Frame& f) {
    const int bpp = f.format == core::PixelFormat::kGray8 ? 1 : 3;
    if (f.data == nullptr || f.width <= 0 || f.height <= 0 || f.width > kMaxDimension ||
        f.height > kMaxDimension || f.stride < f.width * bpp) {
      return false;
    }
    const size_t need = size_t(f.stride) * size_t(f.height - 1) + size_t(f.width) * bpp;
    return f.size >= need;
  }

  void endTrackEvents(const std::vector<int64_t>& ended, WallTime now) {
    for (RuleState& rs : rules) {
      for (int64_t id : ended) {
        emitEnd(rs, std::to_string(id), now);
        rs.perTrack.erase(id);
      }
    }
  }

  void resetScene(WallTime now) {
    endTrackEvents(tracker.clear(), now);
    motion.reset(cv::Size());
    tamper.reset();
  }

  void process(const core::Frame& f) {
    const auto t0 = std::chrono::steady_clock::now();
    ++stats.framesIn;
    if (!frameOk(f)) {
      ++stats.framesCorrupt;
      // Logged once, then at every power of two, so a broken camera does not flood the log.
      if ((stats.framesCorrupt & (stats.framesCorrupt - 1)) == 0) {
        spdlog::warn(
            "analytics: camera {}: skipping corrupt frame #{} ({}x{} stride {} size {}); {} so far",
            config.camera.str(), f.sequence, f.width, f.height, f.stride, f.size,
            stats.framesCorrupt);
      }
      return;
    }
    const WallTime now = f.wallTime;
    mediaNow = f.mediaTime;
    const cv::Size size(f.width, f.height);
    if (frameSize.area() > 0 && size != frameSize) {
      ++stats.resolutionChanges;
      spdlog::warn("analytics: camera {}: resolution changed {}x{} -> {}x{}; re-learning the scene",
                   config.camera.str(), frameSize.width, frameSize.height, size.width, size.height);
      resetScene(now);
    }
    frameSize = size;
    aspect = double(f.height) / f.width;

    const int type = f.format == core::PixelFormat::kGray8 ? CV_8UC1 : CV_8UC3;
    frameView = cv::Mat(f.height, f.width, type, const_cast<uint8_t*>(f.data), size_t(f.stride));
    // An integer reduction factor keeps area averaging on OpenCV's fast path (a 3.33x factor
    // costs several times more); the few edge pixels beyond a multiple of it are left out.
    const int k = std::max(1, int(std::lround(double(f.width) / config.motion.analysisWidth)));
    const int aw = f.width / k;
    const int ah = std::max(1, f.height / k);
    cv::resize(frameView(cv::Rect(0, 0, aw * k, ah * k)), small, cv::Size(aw, ah), 0, 0,
               cv::INTER_AREA);
    if (small.channels() == 3) {
      cv::cvtColor(small, gray, cv::COLOR_BGR2GRAY);
    } else {
      small.copyTo(gray);
    }

    double dt = 0.2;
    if (haveTime) dt = seconds(now - lastTime);
    lastTime = now;
    haveTime = true;

    const detail::TamperStatus& ts = tamper.observe(gray, now, motion.foreground());
    std::vector<core::BoundingBox> measurements;
    if (!ts.covered && !ts.frozen) {
      // Colour lets the shadow test tell a shadow (darker, same hue) from a dark object.
      const detail::MotionResult mr =
          motion.apply(config.motion.shadowSuppression ? small : gray, gray, dt);
      if (mr.globalChange) ++stats.globalChanges;
      for (const cv::Rect& r : mr.blobs) {
        measurements.push_back(
            {float(r.x) / aw, float(r.y) / ah, float(r.width) / aw, float(r.height) / ah});
      }
    }
    const std::vector<int64_t> ended = tracker.update(measurements, now, aspect);
    endTrackEvents(ended, now);
    classify(f, now);
    for (RuleState& rs : rules) evaluate(rs, now, ts);

    stats.activeTracks = 0;
    for (const Track& t : tracker.tracks()) stats.activeTracks += t.confirmed ? 1 : 0;
    ++stats.framesProcessed;
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    stats.meanProcessMs += (ms - stats.meanProcessMs) / double(stats.framesProcessed);
    frameView = cv::Mat();
  }

  void classify(const core::Frame& f, WallTime now) {
    for (Track& t : tracker.tracks()) {
      if (!t.matched || t.classLocked) continue;
      const double pw = t.w * f.width, ph = t.h * f.height;
      const double ratio = ph / std::max(1.0, pw);
      const double area = t.w * t.h;
      std::string vote = "unknown";
      if (ratio >= 1.5) {
        vote = "person";
      } else if (ratio <= 1.1 && area >= 3.0 * config.motion.minArea) {
        vote = "vehicle";
      }
      ++t.votes[vote];
      int best = -1;
      for (const auto& [cls, n] : t.votes) {
        if (n > best) {
          best = n;
          t.objectClass = cls;
        }
      }
      if (detector && t.confirmed &&
          (!t.detectorTried || now - t.lastDetectorRun >= config.detector.interval)) {
        t.detectorTried = true;
        t.lastDetectorRun = now;
        const ImageView view{f.width, f.height, f.stride, f.format, f.data};
        const core::BoundingBox box = t.box();
        for (const Detection& d : detector->detect(view, box)) {
          if (d.score >= config.detector.minScore && detail::iou(d.box, box) >= 0.2f) {
            t.objectClass = d.objectClass;
            t.classLocked = true;
            break;
          }
        }
      }
    }
  }

  // ---- rules ----------------------------------------------------------------------------------

  void evaluate(RuleState& rs, WallTime now, const detail::TamperStatus& ts) {
    switch (rs.cfg->type) {
      case RuleType::kIntrusion:
      case RuleType::kLoitering: zoneDwell(rs, now); break;
      case RuleType::kTripwire: tripwire(rs, now); break;
      case RuleType::kCrowd: crowd(rs, now); break;
      case RuleType::kMotion: motionRule(rs, now); break;
      case RuleType::kTamper: tamperRule(rs, now, ts); break;
      case RuleType::kSignalLoss: break;
    }
  }

  bool inZone(const RuleState& rs, const Track& t) const {
    return rs.zone == nullptr ||
           detail::pointInPolygon(rs.zone->polygon, detail::anchorOf(t.box()));
  }

  void zoneDwell(RuleState& rs, WallTime now) {
    const bool intrusion = rs.cfg->type == RuleType::kIntrusion;
    const Duration need = intrusion ? rs.cfg->minDwell : rs.cfg->dwell;
    for (const Track& t : tracker.tracks()) {
      if (!t.confirmed || !t.matched) continue;
      PerTrack& st = rs.perTrack[t.id];
      const std::string key = std::to_string(t.id);
      if (inZone(rs, t) && classAllowed(*rs.cfg, t.objectClass)) {
        if (!st.inside) {
          st.inside = true;
          st.enteredAt = now;
        }
        st.lastInside = now;
        if (!st.fired && now - st.enteredAt >= need) {
          st.fired = true;
          if (mayStart(rs, now)) {
            core::Event e = newEvent(
                rs, intrusion ? core::EventType::kIntrusion : core::EventType::kLoitering, now);
            describeTrack(e, t);
            e.attributes["dwell_s"] = std::to_string(int(seconds(now - st.enteredAt)));
            emitStart(rs, key, std::move(e), false);
          }
        } else {
          maybeUpdate(rs, key, now, &t);
        }
      } else if (st.inside && now - st.lastInside > kLeaveGrace) {
        st.inside = false;
        st.fired = false;
        emitEnd(rs, key, now);
      }
    }
  }

  void tripwire(RuleState& rs, WallTime now) {
    const RuleConfig& r = *rs.cfg;
    for (const Track& t : tracker.tracks()) {
      if (!t.matched) continue;
      PerTrack& st = rs.perTrack[t.id];
      const Point a = detail::anchorOf(t.box());
      const double d = detail::sideOf(r.lineA, r.lineB, a);
      const int s = d < -kTripwireMargin ? -1 : (d > kTripwireMargin ? 1 : 0);
      if (s != 0) {
        const double jump = std::hypot(a.x - st.lastAnchor.x, (a.y - st.lastAnchor.y) * aspect);
        // A jump across the line is a track switching objects, not a crossing.
        if (st.side != 0 && s != st.side && jump < 0.3) {
          const Point mid{(a.x + st.lastAnchor.x) / 2, (a.y + st.lastAnchor.y) / 2};
          const double along = detail::along(r.lineA, r.lineB, mid);
          if (along >= -0.02 && along <= 1.02) {
            st.pending.push_back({now, mediaNow, st.side < 0});
          }
        }
        st.side = s;
        st.lastAnchor = a;
      }
      if (!t.confirmed) continue;
      for (const PerTrack::Crossing& c : st.pending) {
        if (!classAllowed(r, t.objectClass)) continue;
        TripwireCounts& counts = stats.tripwires[r.name];
        ++(c.aToB ? counts.aToB : counts.bToA);
        const bool wanted = r.direction == CrossDirection::kBoth ||
                            (r.direction == CrossDirection::kAToB) == c.aToB;
        if (wanted && mayStart(rs, c.at)) {
          core::Event e = newEvent(rs, core::EventType::kTripwire, c.at);
          e.mediaTime = c.media;
          describeTrack(e, t);
          e.attributes["direction"] = c.aToB ? "A->B" : "B->A";
          e.attributes["count_a_to_b"] = std::to_string(counts.aToB);
          e.attributes["count_b_to_a"] = std::to_string(counts.bToA);
          emitStart(rs, std::to_string(t.id), std::move(e), true);
        }
      }
      st.pending.clear();
    }
  }

  void crowd(RuleState& rs, WallTime now) {
    int count = 0;
    const Track* first = nullptr;
    for (const Track& t : tracker.tracks()) {
      if (t.confirmed && inZone(rs, t) && classAllowed(*rs.cfg, t.objectClass)) {
        ++count;
        if (!first) first = &t;
      }
    }
    const std::string key = "crowd";
    if (count > rs.cfg->maxObjects) {
      rs.belowSince.reset();
      if (!rs.since) rs.since = now;
      if (!rs.active.count(key) && !rs.firedKeys.count(key) &&
          now - *rs.since >= rs.cfg->duration) {
        rs.firedKeys.insert(key);
        if (mayStart(rs, now)) {
          core::Event e = newEvent(rs, core::EventType::kCrowd, now);
          if (first) {
            e.objectClass = first->objectClass;
            // The box encloses the whole group.
            float x0 = 1, y0 = 1, x1 = 0, y1 = 0;
            for (const Track& t : tracker.tracks()) {
              if (!t.confirmed || !inZone(rs, t)) continue;
              const core::BoundingBox b = t.box();
              x0 = std::min(x0, b.x), y0 = std::min(y0, b.y);
              x1 = std::max(x1, b.x + b.w), y1 = std::max(y1, b.y + b.h);
            }
            e.box = {x0, y0, std::max(0.f, x1 - x0), std::max(0.f, y1 - y0)};
          }
          e.attributes["count"] = std::to_string(count);
          emitStart(rs, key, std::move(e), false);
        }
      } else if (rs.active.count(key) && count != rs.lastCount) {
        maybeUpdate(rs, key, now, nullptr, {{"count", std::to_string(count)}});
      }
    } else {
      rs.since.reset();
      if (!rs.belowSince) rs.belowSince = now;
      if (now - *rs.belowSince >= kCrowdEndGrace) {
        rs.firedKeys.erase(key);
        emitEnd(rs, key, now);
      }
    }
    rs.lastCount = count;
  }

  void motionRule(RuleState& rs, WallTime now) {
    const std::string key = "motion";
    const Track* seen = nullptr;
    for (const Track& t : tracker.tracks()) {
      if (t.confirmed && t.matched && inZone(rs, t) && classAllowed(*rs.cfg, t.objectClass)) {
        seen = &t;
        break;
      }
    }
    if (seen) {
      rs.lastSeen = now;
      if (!rs.active.count(key) && !rs.firedKeys.count(key)) {
        rs.firedKeys.insert(key);
        if (mayStart(rs, now)) {
          core::Event e = newEvent(rs, core::EventType::kMotion, now);
          describeTrack(e, *seen);
          emitStart(rs, key, std::move(e), false);
        }
      } else {
        maybeUpdate(rs, key, now, seen);
      }
    } else if (rs.lastSeen && now - *rs.lastSeen >= kMotionEndAfter) {
      rs.firedKeys.erase(key);
      rs.lastSeen.reset();
      emitEnd(rs, key, now);
    }
  }

  void tamperRule(RuleState& rs, WallTime now, const detail::TamperStatus& ts) {
    const TamperChecks& c = rs.cfg->tamper;
    const std::optional<WallTime> none;
    const struct {
      const char* kind;
      bool enabled;
      const std::optional<WallTime>& since;
    } checks[] = {
        {"covered", c.covered, ts.covered},
        {"defocus", c.defocus, ts.defocus},
        {"moved", c.moved, ts.moved},
        // A covered lens may also look frozen; report the cause, not the symptom.
        {"frozen", c.frozen, ts.covered ? none : ts.frozen},
    };
    for (const auto& check : checks) {
      const std::string key = check.kind;
      if (!check.enabled) continue;
      if (check.since && now - *check.since >= rs.cfg->hold) {
        if (!rs.active.count(key) && !rs.firedKeys.count(key)) {
          rs.firedKeys.insert(key);
          if (mayStart(rs, now)) {
            core::Event e = newEvent(rs, core::EventType::kTamper, now);
            e.attributes["kind"] = key;
            e.attributes["since"] = core::formatIso8601(*check.since);
            e.box = {0, 0, 1, 1};
            emitStart(rs, key, std::move(e), false);
          }
        }
        if (key == "moved" && now - *check.since >= kRebaseMovedAfter) tamper.rebase();
      } else if (!check.since) {
        rs.firedKeys.erase(key);
        emitEnd(rs, key, now);
      }
    }
  }

  void reportSignal(bool present, const std::string& reason, WallTime at) {
    if (present != stats.signalLost) return;  // no change
    stats.signalLost = !present;
    if (!present) endTrackEvents(tracker.clear(), at);
    for (RuleState& rs : rules) {
      if (rs.cfg->type != RuleType::kSignalLoss) continue;
      if (!present) {
        if (mayStart(rs, at)) {
          core::Event e = newEvent(rs, core::EventType::kSignalLoss, at);
          e.attributes["reason"] = reason;
          emitStart(rs, "signal", std::move(e), false);
        }
      } else {
        auto it = rs.active.find("signal");
        if (it != rs.active.end()) it->second.event.attributes["recovered"] = reason;
        emitEnd(rs, "signal", at);
      }
    }
  }

  void finish(WallTime at) {
    for (RuleState& rs : rules) {
      std::vector<std::string> keys;
      for (const auto& [k, a] : rs.active) keys.push_back(k);
      for (const std::string& k : keys) emitEnd(rs, k, at);
    }
  }
};

CameraAnalyzer::CameraAnalyzer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CameraAnalyzer::~CameraAnalyzer() = default;

core::Result<std::unique_ptr<CameraAnalyzer>> CameraAnalyzer::create(CameraAnalyticsConfig config,
                                                                     const EngineOptions& options,
                                                                     EventSink sink) {
  if (auto v = validate(config); !v) return v.error();
  if (!sink) sink = [](const core::Event&) {};
  std::unique_ptr<Detector> detector;
  if (config.detector.kind != DetectorKind::kNone) {
    auto made = options.detectorFactory ? options.detectorFactory(config.detector)
                                        : makeBuiltinDetector(config.detector);
    if (!made) {
      return core::makeError(made.error().code, "camera " + config.camera.str() +
                                                    ": detector: " + made.error().message);
    }
    detector = std::move(made.value());
  }
  auto impl = std::make_unique<Impl>(std::move(config), options, std::move(sink));
  impl->detector = std::move(detector);
  return std::unique_ptr<CameraAnalyzer>(new CameraAnalyzer(std::move(impl)));
}

void CameraAnalyzer::process(const core::Frame& frame) {
  try {
    impl_->process(frame);
  } catch (const std::exception& e) {
    // OpenCV throws on inputs we did not foresee; one bad frame must not take the camera down.
    ++impl_->stats.framesCorrupt;
    spdlog::warn("analytics: camera {}: frame #{} skipped: {}", impl_->config.camera.str(),
                 frame.sequence, e.what());
    impl_->frameView = cv::Mat();
  }
}

void CameraAnalyzer::reportSignal(bool present, const std::string& reason, core::WallTime at) {
  impl_->reportSignal(present, reason, at);
}

void CameraAnalyzer::finish(core::WallTime at) {
  impl_->finish(at);
}

const CameraStats& CameraAnalyzer::stats() const {
  return impl_->stats;
}

const CameraAnalyticsConfig& CameraAnalyzer::config() const {
  return impl_->config;
}

std::vector<TrackInfo> CameraAnalyzer::tracks() const {
  std::vector<TrackInfo> out;
  for (const Track& t : impl_->tracker.tracks()) {
    out.push_back({t.id, t.objectClass, t.box(), float(t.speed(impl_->aspect)),
                   float(t.directionDeg(impl_->aspect)), t.confirmed});
  }
  return out;
}

}  // namespace sharpeyes::analytics
