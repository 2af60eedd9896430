#pragma once
// The camera simulator: a real RTSP server (gst-rtsp-server) serving N cameras, each with a
// main stream (1920x1080, 25 fps, H.264 ~4 Mbit/s, 2 s GOP) and a sub stream (640x360, 25 fps,
// ~512 kbit/s) of a synthetic scene (scene.h) or a real file, looped. Encoding happens once,
// into a cache on disk; serving costs no encoding. Faults can be injected per camera.
//
// Threading: SimServer owns its threads (the RTSP server's GMainLoop and the feeders).
// Every public method is thread-safe.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sharpeyes/core/result.h"
#include "sharpeyes/core/time.h"
#include "sharpeyes/sim/scene.h"

namespace sharpeyes::sim {

struct StreamProfile {
  int width = 1920;
  int height = 1080;
  int fps = 25;
  int bitrateKbps = 4000;
  int gopFrames = 50;  // 2 s at 25 fps
};

// What start() did with the cache, and what is being served now (tests, benchmarks).
struct SimStats {
  int streamsEncoded = 0;     // access-unit loops encoded during start()
  int streamsFromCache = 0;   // loops loaded from the cache directory
  double encodeSeconds = 0;   // wall time spent encoding
  int activeFeeds = 0;        // media pipelines currently fed (one per served mount)
  uint64_t framesPushed = 0;  // access units (or live frames) handed to RTSP pipelines
};

struct SimOptions {
  int cameras = 8;
  std::string address = "127.0.0.1";
  uint16_t rtspPort = 0;     // 0: pick a free port (read it back with rtspPort())
  uint16_t controlPort = 0;  // fault-injection control (line protocol over TCP); 0: pick one
  uint64_t seed = 1;
  int distinctScenes = 0;  // 0: one scene per camera; K: cameras reuse K scenes (benchmarks)
  double loopSeconds = 20;
  StreamProfile main{};
  StreamProfile sub{640, 360, 25, 512, 50};
  std::string cacheDir;  // encoded streams; empty: $XDG_CACHE_HOME or var/sim-cache
  std::string username;  // non-empty: RTSP digest auth required
  std::string password;
  std::optional<std::string> mediaFile;  // serve this file (looped) instead of synthetic scenes
  std::vector<SceneSpec> scenes;         // explicit scenes (camera i gets scenes[i % size])
  std::vector<int> ptzCameras;           // indices of PTZ cameras (live-encoded, view movable)
  // Live-encoded (PTZ) cameras draw their render time into each frame (see readClockStamp), for
  // glass-to-glass latency measurements. Off by default; cached (deterministic) scenes never
  // carry it.
  bool stampLiveClock = false;
};

// The clock stamp: a row of kClockStampBits black/white square blocks across the top of the
// frame, each width / kClockStampBits pixels (at least 8): the render time in Unix milliseconds
// (low 32 bits, most significant bit first), then an 8-bit check. Big enough to survive H.264 at
// sub-stream bitrates.
inline constexpr int kClockStampBits = 40;
// Reads the stamp from a decoded frame's luma (Y or grey) plane: the low 32 bits of the Unix
// milliseconds, or nothing when the frame carries no (intact) stamp.
std::optional<uint32_t> readClockStamp(const uint8_t* luma, int width, int height, int stride);

// Faults with a duration (injectFault, control "fault camNN <fault> <seconds>") clear
// themselves after it. kDropConnections and kRestart are momentary without a duration; with
// one, the camera also refuses new sessions until it ends (a camera that is off, or rebooting).
enum class Fault {
  kClear,            // back to normal
  kStopSending,      // sessions stay open, no more media
  kDropConnections,  // close every client session of the camera now
  kRefuse,           // refuse new sessions (404 on DESCRIBE)
  kRestart,          // drop sessions, restart the stream from frame 0 (timestamps restart)
};
std::string_view toString(Fault fault);
core::Result<Fault> parseFault(std::string_view text);

// The path name of camera `index` (0-based) of `cameras`: "cam" and the number zero-padded to at
// least two digits and to the width of the count (cam01..cam99; cam001..cam200).
std::string simCameraName(int index, int cameras);

class SimServer {
 public:
  virtual ~SimServer() = default;
  // Encodes (or loads from the cache) and starts serving; returns once the server listens.
  static core::Result<std::unique_ptr<SimServer>> start(const SimOptions& options);

  virtual uint16_t rtspPort() const = 0;
  virtual uint16_t controlPort() const = 0;
  virtual int cameraCount() const = 0;
  // "cam01", "cam02", ...
  virtual std::string cameraName(int index) const = 0;
  // rtsp://address:port/cam01/main and .../sub (no credentials in the URL).
  virtual std::string mainUrl(int index) const = 0;
  virtual std::string subUrl(int index) const = 0;
  // Applies a fault now; `duration` > 0 clears it automatically after that long.
  virtual core::Result<void> injectFault(int index, Fault fault,
                                         core::Duration duration = core::Duration::zero()) = 0;
  // The scene camera `index` shows (for ground truth).
  virtual const SceneSpec& scene(int index) const = 0;
  // PTZ: moves the virtual camera's view. Only cameras listed in SimOptions::ptzCameras move
  // (they are encoded live, not from the cache); others return kUnsupported.
  virtual core::Result<void> setView(int index, const ViewWindow& view) = 0;
  virtual ViewWindow view(int index) const = 0;
  // RTSP sessions currently open on camera `index` (main and sub together).
  virtual int sessionCount(int index) const = 0;
  virtual SimStats stats() const = 0;
  // Closes every session and stops serving; idempotent; also done by the destructor.
  virtual void stop() = 0;
};

}  // namespace sharpeyes::sim
