#pragma once
// The simulated ONVIF device: every camera of a SimServer also answers ONVIF (device, media, PTZ,
// events) and WS-Discovery, like a real IP camera would.
//
// Layout: one HTTP port for all cameras, one path prefix per camera:
//   http://<address>:<httpPort>/onvif/<camNN>/device_service   device (tds)
//   .../media  (trt)   .../ptz  (tptz, PTZ cameras only)   .../events  (tev)
//   .../subscription/<id>   pull point of one event subscription
//   .../snapshot.jpg        a JPEG of the scene in the camera's current view
// WS-Discovery: a UDP responder on `discoveryPort` that answers multicast probes sent to
// `multicastGroup` (joined on `multicastInterface`) and unicast probes, one ProbeMatches per
// camera, XAddrs = the camera's device_service URL.
//
// Behaviour that follows the simulator: GetStreamUri returns the SimServer's RTSP URLs; PTZ moves
// call SimServer::setView, so the streamed picture moves (PTZ cameras are those the SimServer
// accepts setView for); event state follows the scene's ground truth at the time elapsed since
// start(): MotionAlarm is true while an object is visible in the current view,
// GlobalSceneChange (tamper) while the lens is covered.
//
// Security: every operation except GetSystemDateAndTime needs a WS-Security UsernameToken
// (when `username` is set). PasswordDigest is checked against the password, Created must lie
// within ±maxClockSkew of the device clock, a nonce is accepted once, PasswordText is refused
// unless allowPasswordText. Failures are SOAP faults env:Sender/ter:NotAuthorized whose reason
// says why ("replayed nonce", "stale Created", ...).
//
// WS-Addressing: subscription references carry a reference parameter, Axis-style
// {http://www.axis.com/2009/event}SubscriptionId. PullMessages/Renew/Unsubscribe must carry
// wsa:To naming the subscription; an echoed SubscriptionId header, when present, must match.
//
// Threading: start() returns once both ports listen; the device owns its threads (acceptor,
// workers, discovery, PTZ mover). Methods are thread-safe. The SimServer must outlive it.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "sharpeyes/core/result.h"
#include "sharpeyes/core/time.h"
#include "sharpeyes/sim/sim.h"

namespace sharpeyes::sim {

struct OnvifDeviceOptions {
  std::string address = "127.0.0.1";  // bound and advertised
  uint16_t httpPort = 0;              // 0: pick a free port (read it back with httpPort())
  bool discovery = true;
  uint16_t discoveryPort = 3702;  // 0: pick a free port (unicast probes only, tests)
  std::string multicastGroup = "239.255.255.250";
  std::string multicastInterface = "127.0.0.1";  // IPv4 of the interface to join the group on
  std::string username = "admin";                // empty: no authentication
  std::string password = "admin";
  bool allowPasswordText = false;
  core::Duration maxClockSkew = std::chrono::minutes(5);
  core::Duration clockOffset{};  // the simulated device's clock runs ahead by this much
  int threads = 8;               // HTTP workers (a long-polling PullMessages holds one)
  std::string manufacturer = "sharpeyes";
  std::string model = "SimCam-1";
  std::string firmware = "1.0";
};

struct OnvifDeviceStats {
  uint64_t requests = 0;
  uint64_t authRejected = 0;  // all reasons
  uint64_t replayRejected = 0;
  uint64_t staleRejected = 0;
  uint64_t digestRejected = 0;
  uint64_t textRejected = 0;
  uint64_t probesAnswered = 0;
  // Subscription requests that echoed SubscriptionId marked wsa:IsReferenceParameter="true".
  uint64_t referenceParametersEchoed = 0;
  size_t subscriptions = 0;
};

class OnvifDevice {
 public:
  virtual ~OnvifDevice() = default;
  static core::Result<std::unique_ptr<OnvifDevice>> start(SimServer& sim,
                                                          const OnvifDeviceOptions& options);
  virtual uint16_t httpPort() const = 0;
  virtual uint16_t discoveryPort() const = 0;
  virtual std::string deviceUrl(int index) const = 0;
  virtual std::string endpointReference(int index) const = 0;  // urn:uuid:...
  virtual bool isPtz(int index) const = 0;
  virtual OnvifDeviceStats stats() const = 0;
  virtual void stop() = 0;  // idempotent; also done by the destructor
};

// For `sharpeyes sim --onvif` (app/src/cmd_sim.cpp): starts the device and logs one line per
// camera with its device URL. Same as OnvifDevice::start plus the log lines.
core::Result<std::unique_ptr<OnvifDevice>> startOnvifSimulator(SimServer& sim,
                                                               const OnvifDeviceOptions& options);

}  // namespace sharpeyes::sim
