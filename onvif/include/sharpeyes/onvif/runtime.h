#pragma once
// OnvifRuntime: the threads that talk to ONVIF devices, so that no ingest, GStreamer or API
// thread ever waits on a camera. A small pool of workers runs blocking DeviceClient calls (each
// bounded by CallOptions timeouts) and a timer drives the pull-point loops of event watches.
//
// Ownership/threading: app/ creates one OnvifRuntime and keeps it alive longer than every
// watch. All methods are thread-safe. Callbacks run on a runtime worker thread: keep them short
// and non-blocking (post to your own loop). The destructor stops accepting work, unsubscribes
// event watches (best effort, bounded by the call timeouts) and joins the workers.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "sharpeyes/core/camera_id.h"
#include "sharpeyes/core/division.h"
#include "sharpeyes/core/event.h"
#include "sharpeyes/core/result.h"
#include "sharpeyes/onvif/client.h"

namespace sharpeyes::onvif {

struct EventWatchOptions {
  core::Duration pollInterval = std::chrono::seconds(1);  // between PullMessages
  core::Duration pullWait = std::chrono::seconds(0);      // device-side wait per PullMessages
  int messageLimit = 64;
  core::Duration termination = std::chrono::seconds(60);  // renewed when half has elapsed
  core::Duration retryMin = std::chrono::seconds(1);      // reconnect back-off
  core::Duration retryMax = std::chrono::seconds(30);
};

struct EventSource {
  core::CameraId camera;
  core::DivisionCode division;
  std::string address;  // ONVIF address: "host[:port]" or a device service URL
  Credentials credentials;
  CallOptions call;
  EventWatchOptions watch;
  int severity = core::kMinSeverity;
};

enum class WatchState { kConnecting, kSubscribed, kRetrying, kStopped };
std::string_view toString(WatchState state);

using EventCallback = std::function<void(const core::Event&)>;
// `detail` explains kRetrying (e.g. "permission_denied: ... authentication failed").
using WatchStateCallback = std::function<void(WatchState, const std::string& detail)>;

struct RuntimeStats {
  uint64_t calls = 0;
  uint64_t failedCalls = 0;
  uint64_t events = 0;
  size_t watches = 0;
  size_t queued = 0;
};

class OnvifRuntime {
 public:
  explicit OnvifRuntime(int threads = 2);
  ~OnvifRuntime();
  OnvifRuntime(const OnvifRuntime&) = delete;
  OnvifRuntime& operator=(const OnvifRuntime&) = delete;

  // Runs `task` on a worker. Dropped silently after shutdown began.
  void post(std::function<void()> task);

  // Resolves main/sub RTSP URIs of a camera given by ONVIF address; `done` runs on a worker.
  // Use it at start and again whenever the camera's stream fails (URIs can change on reboot).
  void resolveStreams(std::string address, Credentials credentials, CallOptions options,
                      std::function<void(core::Result<ResolvedStreams>)> done);

  // Subscribes to the camera's events and keeps the subscription alive (renew, re-subscribe
  // with back-off after failures) until unwatch(). Returns a watch id.
  uint64_t watchEvents(EventSource source, EventCallback onEvent, WatchStateCallback onState = {});
  // Stops the watch; the device subscription is released in the background.
  void unwatch(uint64_t id);

  RuntimeStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sharpeyes::onvif
