#pragma once
// The native RTSP-over-TCP reader: a blocking client that plays one camera's video with RTP
// interleaved on the RTSP connection and hands on whole access units (Annex-B), ~25 per second,
// instead of rtspsrc's GStreamer buffer per RTP packet (~360 per second at 4 Mbit/s).
//
// Why blocking, one thread per camera: the cost we remove is per packet (a wakeup and two reads
// each, docs/benchmarks.md); the reader reads the socket in >= 64 KiB chunks and sets
// SO_RCVLOWAT to ~50 ms of the stream's measured bitrate, so the kernel wakes it ~20 times a
// second whatever the packet rate. Parsing is rtsp_wire.h and h26x_depay.h (sans I/O).
//
// Threading: run() blocks the calling thread (the camera's reader thread) and calls the
// callbacks on it. stop() may be called from any thread at any time, before or during run():
// an eventfd in every poll() makes run() return promptly (after a TEARDOWN bounded by
// teardownTimeout when the stream was playing). One run() per client.
//
// Secrets: the password is never logged nor put in an error message (URLs go through
// core::redactUrl).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "h26x_depay.h"
#include "rtsp_wire.h"
#include "sharpeyes/core/result.h"

namespace sharpeyes::ingest {

struct RtspTcpOptions {
  std::string url;       // rtsp://[user[:password]@]host[:port]/path
  std::string username;  // when non-empty, instead of the URL's credentials
  std::string password;
  std::string userAgent = "sharpeyes";
  std::chrono::milliseconds connectTimeout{5000};
  std::chrono::milliseconds responseTimeout{10000};  // per request during set-up
  std::chrono::milliseconds dataTimeout{10000};      // nothing received this long after PLAY
  std::chrono::milliseconds teardownTimeout{500};
  size_t readBytes = size_t{64} * 1024;            // per read(); at least 64 KiB
  std::chrono::milliseconds lowatLatency{50};      // SO_RCVLOWAT target; 0: never set
  int maxLowatBytes = 64 * 1024;                   // SO_RCVLOWAT clamp (and at least 1)
  std::chrono::milliseconds maxPollWait{200};      // bytes below SO_RCVLOWAT wait at most this
  std::chrono::milliseconds keepaliveInterval{0};  // 0: half the session timeout
};

// Counters, readable from any thread while run() runs.
struct RtspTcpStats {
  uint64_t bytes = 0;
  uint64_t reads = 0;
  uint64_t accessUnits = 0;
  uint64_t keyframes = 0;
  uint64_t keepalives = 0;        // sent
  uint64_t keepaliveReplies = 0;  // answered with 2xx
  int rcvlowat = 0;               // current SO_RCVLOWAT (0: not set)
};

class RtspTcpClient {
 public:
  // Called once, after PLAY succeeded, with the stream's description.
  using OnPlaying = std::function<void(const rtsp::SdpVideo&)>;
  // Every complete access unit, in order; the callee may move `data` out.
  using OnAccessUnit = std::function<void(AccessUnit&)>;

  explicit RtspTcpClient(RtspTcpOptions options);
  ~RtspTcpClient();
  RtspTcpClient(const RtspTcpClient&) = delete;
  RtspTcpClient& operator=(const RtspTcpClient&) = delete;

  // Connects, sets up and plays, then reads until stop() (ok), an error or the server closing
  // the connection. Errors: kUnavailable (refused, closed, non-2xx status), kTimeout (connect,
  // response or data), kPermissionDenied (credentials refused), kNotFound (404), kUnsupported
  // (no H.264/H.265 video, no interleaved transport, an unanswerable challenge), kCorrupt
  // (not RTSP), kCancelled (stop() before PLAY).
  core::Result<void> run(const OnPlaying& onPlaying, const OnAccessUnit& onAccessUnit);

  // Any thread; idempotent.
  void stop();

  RtspTcpStats stats() const;
  DepayStats depayStats() const;  // after run() returned

 private:
  struct Connection;

  RtspTcpOptions options_;
  int stopFd_ = -1;
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> reads_{0};
  std::atomic<uint64_t> accessUnits_{0};
  std::atomic<uint64_t> keyframes_{0};
  std::atomic<uint64_t> keepalives_{0};
  std::atomic<uint64_t> keepaliveReplies_{0};
  std::atomic<int> rcvlowat_{0};
  DepayStats depayStats_;
};

}  // namespace sharpeyes::ingest
