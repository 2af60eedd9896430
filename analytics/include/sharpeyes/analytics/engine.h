#pragma once
// The analytics stage. Two levels:
//  - CameraAnalyzer: one camera's whole pipeline (motion -> tracker -> classes -> rules -> events),
//    single-threaded and deterministic; used by the Engine, by the accuracy bench and by tests.
//  - Engine: many cameras, a pool of worker threads, a bounded slot per camera. Ingest hands
//    frames in from its streaming threads and is never blocked: when a camera's analysis falls
//    behind, the oldest waiting frame is dropped and counted.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sharpeyes/analytics/config.h"
#include "sharpeyes/analytics/detector.h"
#include "sharpeyes/core/camera_id.h"
#include "sharpeyes/core/event.h"
#include "sharpeyes/core/frame.h"
#include "sharpeyes/core/result.h"
#include "sharpeyes/core/time.h"

namespace sharpeyes::analytics {

// Receives every phase of every event. Called on a worker thread (several cameras' events may
// arrive concurrently): it must be thread-safe and should return quickly (post to a queue).
using EventSink = std::function<void(const core::Event& event)>;

struct EngineOptions {
  int workers = 0;     // 0 = one per hardware thread
  int queueDepth = 2;  // frames waiting per camera; beyond, the oldest is dropped
  // Annotated JPEG snapshots go to snapshotRoot/snapshotDir/<camera>/<yyyymmdd>/<event id>.jpg;
  // Event::snapshotPath is relative to snapshotRoot (the storage root). Empty root = no snapshots.
  std::string snapshotRoot;
  std::string snapshotDir = "snapshots";
  int jpegQuality = 85;
  // OpenCV's own thread pool competes with our workers on small images; by default the engine
  // makes OpenCV single-threaded (process-wide: cv::setNumThreads(1)).
  bool singleThreadedOpenCv = true;
  DetectorFactory detectorFactory;  // empty = makeBuiltinDetector
};

struct TripwireCounts {
  uint64_t aToB = 0;
  uint64_t bToA = 0;
};

struct CameraStats {
  uint64_t framesIn = 0;  // handed to submit()/process()
  uint64_t framesProcessed = 0;
  uint64_t framesDropped = 0;      // analysis fell behind (Engine only)
  uint64_t framesCorrupt = 0;      // size/stride/data inconsistent; skipped
  uint64_t resolutionChanges = 0;  // each one re-learns the background
  uint64_t globalChanges = 0;      // frames treated as a global change (light, camera moved)
  uint64_t eventsStarted = 0;
  uint64_t eventsSuppressed = 0;  // by cooldown or schedule
  int activeTracks = 0;
  double meanProcessMs = 0;                         // wall time per processed frame
  std::map<std::string, TripwireCounts> tripwires;  // by rule name; counts ignore cooldown
  bool signalLost = false;
};

// A tracked object, as of the last processed frame (for tests, benches and a live overlay).
struct TrackInfo {
  int64_t id = 0;
  std::string objectClass;  // "person", "vehicle", "unknown"
  core::BoundingBox box;
  float speed = 0;         // frame widths per second
  float directionDeg = 0;  // direction of motion, 0 = right, 90 = down (image convention)
  bool confirmed = false;
};

class CameraAnalyzer {
 public:
  // Validates `config`; creates the detector (options.detectorFactory or the built-in one).
  static core::Result<std::unique_ptr<CameraAnalyzer>> create(CameraAnalyticsConfig config,
                                                              const EngineOptions& options,
                                                              EventSink sink);
  ~CameraAnalyzer();
  CameraAnalyzer(const CameraAnalyzer&) = delete;
  CameraAnalyzer& operator=(const CameraAnalyzer&) = delete;

  // Not thread-safe: one caller at a time. Never throws; a bad frame is counted and logged once.
  void process(const core::Frame& frame);
  // Video present or lost (from ingest health); emits signal-loss events.
  void reportSignal(bool present, const std::string& reason, core::WallTime at);
  // Ends every active event (camera removed, gateway stopping).
  void finish(core::WallTime at);

  const CameraStats& stats() const;
  std::vector<TrackInfo> tracks() const;
  const CameraAnalyticsConfig& config() const;

 private:
  struct Impl;
  explicit CameraAnalyzer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class Engine {
 public:
  // Starts the worker threads. `sink` receives events (see EventSink).
  Engine(EngineOptions options, EventSink sink);
  ~Engine();  // stop()
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Any thread. Fails on an invalid configuration or an already-added camera.
  core::Result<void> addCamera(CameraAnalyticsConfig config);
  // Any thread. Ends the camera's active events; waits for its frame in progress, if any.
  void removeCamera(const core::CameraId& camera);

  // Called on ingest's streaming thread. Never blocks on analysis. The frame's pixels are kept
  // alive through Frame::owner; a frame without an owner is copied. Frames of unknown cameras are
  // ignored (counted in unknownFrames()).
  void submit(const core::Frame& frame);
  // Called by the gateway on every health state change of a camera (any thread): present=false
  // when the camera leaves "streaming" (stalled, reconnecting, offline), true when it is back.
  void reportSignal(const core::CameraId& camera, bool present, const std::string& reason,
                    core::WallTime at);

  std::optional<CameraStats> stats(const core::CameraId& camera) const;
  std::vector<TrackInfo> tracks(const core::CameraId& camera) const;
  uint64_t unknownFrames() const;
  int workerCount() const;

  // Waits until every queued frame has been processed (tests, benches). False on timeout.
  bool waitIdle(core::Duration timeout);
  // Ends all active events, stops the workers. Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sharpeyes::analytics
