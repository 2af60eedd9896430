#pragma once
// OnvifRuntime: the threads that talk to ONVIF devices, so that no ingest, GStreamer or API
// thread ever waits on a camera. A small pool of workers runs blocking DeviceClient calls (each
// bounded by CallOptions timeouts) and a timer drives the pull-point loops of event watches.
//
// Ownership/threading: app/ creates one OnvifRuntime and keeps it alive longer than every
// camera that uses it. All methods are thread-safe and never block on a device. Every callback
// (resolve `done`, EventCallback, WatchStateCallback) runs on a runtime worker thread, never on
// the caller's: keep it short and non-blocking (post to your own loop). Callbacks of one watch
// are serial and in order; different watches and resolves may call back concurrently from
// different workers. After unwatch() a watch still delivers the end events of its open events
// and then kStopped (its last callback). The destructor stops accepting work, unsubscribes event
// watches (best effort, bounded by the call timeouts) and joins the workers: after it returns no
// callback runs.
//
// How the gateway wires it (app/src/gateway.cpp; a camera configured by ONVIF address instead of
// RTSP URLs):
//
//   onvif::OnvifRuntime onvif(2);  // member of the gateway, declared before the cameras
//   // start, and again whenever ingest reports the camera's stream failed (URIs change on
//   // reboot; concurrent requests for one camera share one resolution):
//   onvif.resolveStreams(cam.onvifAddress, {cam.user, password}, {}, std::chrono::seconds(20),
//       [gw, id = cam.id](core::Result<onvif::ResolvedStreams> r) {      // ONVIF worker
//         gw->post([=] { r.ok() ? gw->startIngest(id, r->mainUri, r->subUri)  // add creds with
//                               : gw->retryResolveLater(id, r.error()); });   // urlWithCredentials
//       });
//   // camera events beside analytics (motion -> kMotion, tamper -> kTamper, see events.h):
//   cam.watch = onvif.watchEvents({cam.id, cam.division, cam.onvifAddress, {cam.user, password}},
//       [gw](const core::Event& e) { gw->post([=] { gw->onEvent(e); }); },  // ONVIF worker
//       [gw, id = cam.id](onvif::WatchState s, const std::string& why) { /* metric, log */ });
//   onvif.unwatch(cam.watch);  // camera removed; its open events end, then kStopped

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
  uint64_t calls = 0;  // device operations started (a resolution counts once)
  uint64_t failedCalls = 0;
  uint64_t events = 0;
  size_t watches = 0;
  size_t queued = 0;
  uint64_t resolvesJoined = 0;  // resolve requests that joined one already in flight
};

class OnvifRuntime {
 public:
  explicit OnvifRuntime(int threads = 2);
  ~OnvifRuntime();
  OnvifRuntime(const OnvifRuntime&) = delete;
  OnvifRuntime& operator=(const OnvifRuntime&) = delete;

  // Runs `task` on a worker. Dropped silently after shutdown began.
  void post(std::function<void()> task);

  // Resolves main/sub RTSP URIs of a camera given by ONVIF address; `done` runs on a worker,
  // exactly once (never, if the request arrives while the runtime is being destroyed). Use it at
  // start and again whenever the camera's stream fails (URIs can change on reboot). `timeout`
  // bounds the whole resolution from this call on: waiting for a free worker and every device call
  // (clock, information, profiles, stream URIs); past it `done` gets kTimeout. While a resolution
  // of the same address and credentials is in flight, another request joins it (one set of device
  // calls, under the first request's timeout; every `done` gets the result): a flapping stream
  // cannot pile up work. A request whose address is not one fails with kInvalidArgument.
  void resolveStreams(std::string address, Credentials credentials, CallOptions options,
                      core::Duration timeout,
                      std::function<void(core::Result<ResolvedStreams>)> done);
  // The same, bounded only by the per-call timeouts of `options`.
  void resolveStreams(std::string address, Credentials credentials, CallOptions options,
                      std::function<void(core::Result<ResolvedStreams>)> done);

  // Subscribes to the camera's events (pull point) and keeps the subscription alive (renew,
  // re-subscribe with back-off after failures) until unwatch(). Returns a watch id. Events are
  // core::Event of the source's camera and division, attributes origin=camera and topic (type
  // mapping and start/end pairing: events.h); when a subscription is lost its open events end.
  // An address that is not one reports kStopped with the reason (on a worker) and stops.
  uint64_t watchEvents(EventSource source, EventCallback onEvent, WatchStateCallback onState = {});
  // Stops the watch; the device subscription is released in the background.
  void unwatch(uint64_t id);

  RuntimeStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sharpeyes::onvif
