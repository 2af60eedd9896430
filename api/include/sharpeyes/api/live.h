#pragma once
// Live video to the browser: fragmented MP4 over WebSocket into Media Source Extensions.
//
// How ingest feeds it (wired by app/): for each camera and stream that someone watches, ingest
// runs its existing (not re-encoded) H.264/H.265 through a fragmenting MP4 muxer — e.g.
// GStreamer `h264parse ! mp4mux fragment-duration=200 streamable=true` or `isofmp4mux` into an
// appsink — and hands the muxer's byte output to LiveVideoHub::pushBytes(). The hub splits it
// into the init segment (ftyp+moov) and media fragments (moof+mdat), keeps the init segment and
// the fragments since the last keyframe, and fans them out to the WebSocket viewers.
// Alternatively ingest may call pushInit()/pushFragment() with already split pieces.
//
// Demand: the hub calls `onDemand(camera, stream, true)` when the first viewer of a stream
// arrives and `false` when the last one leaves, so ingest muxes only what is watched.
//
// Threads: push*() from any (ingest) thread; onDemand runs on an HTTP I/O thread and must not
// block. Viewers that cannot keep up lose fragments until the next keyframe (never unbounded
// buffering); the hub counts those drops.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "sharpeyes/core/camera_id.h"

namespace sharpeyes::api {

class WebSocketConnection;

enum class StreamKind { kMain, kSub };
std::string_view toString(StreamKind k);  // "main", "sub"

// Incremental parser of an ISO-BMFF byte stream into top-level boxes.
class Fmp4Splitter {
 public:
  struct Piece {
    enum class Kind { kInit, kFragment } kind;
    std::string bytes;
    bool keyframe = false;  // fragment starts with a sync sample (from the trun/tfhd flags)
  };
  // Appends bytes; returns the complete pieces found (init = ftyp..moov, fragment =
  // [styp] moof mdat). A malformed box size resets the parser and returns an error flag.
  std::vector<Piece> push(std::string_view data, bool* malformed = nullptr);
  // The codec string for MSE from the avcC/hvcC box in an init segment: "avc1.64001f".
  static std::string codecString(std::string_view init);
  // True when the first sample of a moof is a sync sample.
  static bool fragmentStartsWithKeyframe(std::string_view moofAndMdat);

 private:
  std::string buf_;
  std::string pending_;  // boxes of the piece being assembled
  bool inInit_ = false;
};

struct LiveStats {
  uint64_t fragmentsIn = 0;
  uint64_t bytesIn = 0;
  uint64_t fragmentsSent = 0;
  uint64_t fragmentsDropped = 0;  // slow viewers
  size_t viewers = 0;
  size_t streams = 0;
};

class LiveVideoHub {
 public:
  using DemandCallback = std::function<void(const core::CameraId&, StreamKind, bool wanted)>;
  explicit LiveVideoHub(DemandCallback onDemand = {});
  ~LiveVideoHub();

  // Ingest side.
  void pushBytes(const core::CameraId& cam, StreamKind kind, std::string_view data);
  void pushInit(const core::CameraId& cam, StreamKind kind, std::string init);
  void pushFragment(const core::CameraId& cam, StreamKind kind, std::string fragment,
                    bool keyframe);
  // The stream ended (camera offline); viewers get {"type":"ended"} and stay subscribed.
  void endStream(const core::CameraId& cam, StreamKind kind);

  // Viewer side (called by ApiService's WebSocket route).
  void addViewer(const core::CameraId& cam, StreamKind kind,
                 const std::shared_ptr<WebSocketConnection>& ws);
  void removeViewer(const std::shared_ptr<WebSocketConnection>& ws);

  LiveStats stats() const;
  // Cameras (with stream) that have had at least one viewer since start: for 建而不用.
  std::map<std::string, int64_t> lastViewedMillis() const;

 private:
  struct Stream;
  struct Viewer;
  Stream& streamLocked(const core::CameraId& cam, StreamKind kind);
  void deliverLocked(Stream& s, const std::string& bytes, bool keyframe);
  void sendStartLocked(Stream& s, Viewer& v);

  DemandCallback onDemand_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, std::unique_ptr<Stream>> streams_;
  std::map<std::string, int64_t> lastViewed_;
  LiveStats stats_;
};

}  // namespace sharpeyes::api
