#pragma once
// Ingest: one GStreamer pipeline per camera pulling RTSP, recording the main stream without
// re-encoding, handing decoded frames (sub stream when configured) to analytics, watching
// health and reconnecting. One camera's trouble never touches another.
//
// Threading: IngestManager runs a fixed pool of GMainContext threads (IngestOptions::threads);
// each camera is pinned to one of them and all its state changes happen there. Listener
// callbacks run on those threads (or on GStreamer streaming threads for onFrame/onSegmentClosed,
// as documented below) and must not block: post work elsewhere.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sharpeyes/core/camera_id.h"
#include "sharpeyes/core/division.h"
#include "sharpeyes/core/frame.h"
#include "sharpeyes/core/result.h"
#include "sharpeyes/core/time.h"

namespace sharpeyes::ingest {

using namespace std::chrono_literals;

enum class Transport { kTcp, kUdp };

struct StreamSource {
  std::string url;       // rtsp://host:port/path, without credentials
  std::string username;  // empty: no auth
  std::string password;  // never logged
  Transport transport = Transport::kTcp;
  // Over TCP, RTP arrives in order, so packets are timestamped from the RTP clock in the
  // connection's own thread (false) instead of passing through rtpjitterbuffer and its thread,
  // which costs about a quarter of the recording CPU (docs/benchmarks.md). True brings the
  // jitterbuffer back (config `tcp_jitter_buffer: true`), for a camera whose RTP clock is too
  // irregular to timestamp from.
  bool jitterBufferOverTcp = false;
  // Over TCP, kNative reads the RTSP connection with our own reader (ingest/src/
  // rtsp_tcp_client.h: large reads, whole access units into the pipeline) instead of rtspsrc and
  // a depayloader, whose per-RTP-packet work is most of the receive cost (docs/benchmarks.md).
  // It stamps frames in arrival order, so a stream whose frames arrive out of presentation order
  // (B-frames) is switched to rtspsrc by itself at its first reordered frame, for as long as the
  // camera runs (one warning; CameraStatus::reader says which reader is in use). Opt-in while it
  // proves itself; UDP always uses rtspsrc.
  enum class Reader { kRtspsrc, kNative };
  Reader reader = Reader::kRtspsrc;
};

struct RecordingOptions {
  bool enabled = true;
  std::string directory;  // root; files go to <directory>/<camera>/<YYYYMMDD>/...
  // Cut at keyframes: a segment holds the whole GOPs that fit in this length (plus 100 ms of
  // slack for timestamp jitter), so a GOP that divides it gives segments of exactly this length;
  // a GOP longer than it gives one-GOP segments.
  core::Duration segmentLength = 10s;
};

struct AnalyticsFeedOptions {
  bool enabled = false;
  int width = 640;
  int height = 360;
  double fps = 5.0;
  // With no sub stream: decode only the main stream's keyframes (cheap) instead of everything.
  bool keyframesOnlyFromMain = true;
};

struct HealthOptions {
  core::Duration stallTimeout = 5s;     // no buffer for this long: stalled
  core::Duration connectTimeout = 10s;  // no first buffer after (re)connect for this long: retry
  core::Duration backoffInitial = 1s;
  core::Duration backoffMax = 30s;
  int offlineAfterFailures = 3;  // consecutive failed attempts before the state reads offline
};

struct CameraConfig {
  core::CameraId id;
  std::string name;
  core::DivisionCode division;
  StreamSource main;
  std::optional<StreamSource> sub;
  RecordingOptions recording;
  AnalyticsFeedOptions analytics;
  HealthOptions health;
};

// Which of a camera's RTSP streams a live viewer watches.
enum class LiveStream { kMain, kSub };
std::string_view toString(LiveStream stream);  // "main", "sub"

enum class CameraState { kConnecting, kStreaming, kStalled, kReconnecting, kOffline, kStopped };
std::string_view toString(CameraState state);

struct CameraStatus {
  core::CameraId id;
  std::string name;
  core::DivisionCode division;
  CameraState state = CameraState::kConnecting;
  std::string reason;  // why it is in this state ("connection refused", "no data for 5 s", ...)
  core::WallTime since{};
  double fps = 0;         // main stream, frames/s over the last few seconds
  double bitrateBps = 0;  // main stream, bits/s over the last few seconds
  uint64_t bytesRecorded = 0;
  uint64_t segments = 0;  // segment files closed
  uint64_t reconnects = 0;
  uint64_t stalls = 0;
  uint64_t framesAnalysed = 0;  // frames handed to Listener::onFrame
  uint64_t framesDropped = 0;   // analytics frames dropped because the consumer was behind
  std::string codec;            // "h264" | "h265" once known
  // The main stream's reader: "rtspsrc" | "native" (StreamSource::reader; "rtspsrc" once a
  // native stream turned out to reorder frames).
  std::string reader;
  int width = 0;
  int height = 0;
};

// A segment file the recording branch has finished writing (not yet fsynced or indexed:
// storage does that, in the durability order).
struct SegmentClosed {
  core::CameraId camera;
  std::string path;                // absolute
  core::WallTime start{};          // receipt time of its first frame (anchored monotonic clock)
  core::Duration mediaDuration{};  // from the stream's timestamps
  std::string codec;
  int width = 0;
  int height = 0;
};

class Listener {
 public:
  virtual ~Listener() = default;
  // On the camera's context thread, once per transition.
  virtual void onStateChanged(const CameraStatus& status) {}
  // On the camera's context thread. Must return quickly (queue the durability work).
  virtual void onSegmentClosed(const SegmentClosed& segment) {}
  // On a GStreamer streaming thread. Must return quickly; keep `frame` (it owns its pixels)
  // to process it elsewhere. While a previous frame is still held the next may be dropped.
  virtual void onFrame(const core::Frame& frame) {}
  // On a GStreamer streaming thread (the live muxer's own, never the camera's); must return
  // quickly: a slow consumer only loses live fragments (up to the next keyframe), never recording
  // or analytics data. Fragmented MP4 bytes of the camera's own stream (not re-encoded): first an
  // init segment (ftyp+moov), then moof+mdat fragments, each fragment starting at a frame
  // boundary and holding one frame (low latency); the first fragment after an init segment, and
  // the first after a drop, starts at a keyframe, and a keyframe is flagged as a sync sample in
  // its fragment's tfhd/trun sample flags. Each call carries whole top-level boxes: one init
  // segment, or one moof+mdat. Media time starts at 0 with each init segment (mp4mux rebases
  // it), so a player should start afresh on every init segment, even an identical one. Called only
  // while live is wanted for that stream; after a reconnect (still wanted) onLiveEnded comes first,
  // then a new init segment.
  virtual void onLiveBytes(const core::CameraId& camera, LiveStream stream,
                           std::string_view bytes) {}
  // The live stream stopped (camera lost, or no longer wanted): once per stream that delivered
  // bytes, after its last onLiveBytes. On an ingest worker or GStreamer thread; must return
  // quickly.
  virtual void onLiveEnded(const core::CameraId& camera, LiveStream stream) {}
};

struct IngestOptions {
  int threads = 2;  // GMainContext threads
  // stop() waits this long for recorders to finish their open segments and pipelines to reach
  // NULL; whatever is still stuck after that (a dead camera's socket) is abandoned, not awaited.
  core::Duration stopTimeout = 5s;
  // Cameras setting up their main stream at once (0: no limit). The rest wait their turn, so a
  // restart with 200 cameras does not open 200 handshakes and pipelines in the same second. A
  // camera holds its turn until its first video, for at most 2 s: dead cameras do not block.
  int maxConnecting = 16;
};

class IngestManager {
 public:
  virtual ~IngestManager() = default;

  // `listener` must outlive the manager.
  static core::Result<std::unique_ptr<IngestManager>> create(const IngestOptions& options,
                                                             Listener& listener);

  // Starts pulling at once; returns without waiting for the camera. Thread-safe.
  virtual core::Result<void> addCamera(const CameraConfig& config) = 0;
  // Stops and forgets the camera. Never blocks on a dead camera. Thread-safe. Returns at once;
  // the camera's open segment is finished in the background and still reported through
  // onSegmentClosed (at the latest before stop() returns), then the camera reads `stopped`.
  virtual core::Result<void> removeCamera(const core::CameraId& id) = 0;
  // Replaces a camera's stream URLs (ONVIF re-resolve) and reconnects. Thread-safe.
  virtual core::Result<void> updateSources(const core::CameraId& id, const StreamSource& main,
                                           const std::optional<StreamSource>& sub) = 0;
  // Start/stop muxing a camera's stream for live viewers (on demand: nothing is muxed while no one
  // watches). Thread-safe, returns at once. kNotFound for an unknown camera; kUnsupported for kSub
  // on a camera without a sub stream. A sub stream that analytics does not pull is pulled while
  // its live is wanted (and closed again after).
  virtual core::Result<void> setLive(const core::CameraId& id, LiveStream stream, bool wanted) = 0;
  // A snapshot of every camera. Thread-safe.
  virtual std::vector<CameraStatus> status() const = 0;
  // Stops every camera (EOS to the recorders so the open segments are finished) and joins the
  // threads. Bounded in time even when cameras are dead. Idempotent.
  virtual void stop() = 0;
};

}  // namespace sharpeyes::ingest
