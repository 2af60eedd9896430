#pragma once
// Internals of the simulated ONVIF device shared by the server loop (onvif_device.cpp) and the
// gSOAP service operations (services.cpp).

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "sharpeyes/sim/onvif_device.h"
#include "sharpeyes/sim/scene.h"
#include "soap_support.h"

namespace sharpeyes::sim::onvif_device {

struct Subscription {
  std::string id;
  int camera = 0;
  std::chrono::steady_clock::time_point expires;
  std::optional<bool> motion;  // last state reported
  std::optional<bool> tamper;
};

struct PtzState {
  ViewWindow velocity{};  // pan/tilt/zoom per second, -1..1 scaled by kMaxSpeed
  bool moving = false;
  std::chrono::steady_clock::time_point until{};
  std::map<std::string, std::pair<std::string, ViewWindow>> presets;  // token -> name, view
  int nextPreset = 1;
};

class DeviceImpl;

// What a request is about, set from the URL path before dispatch (soap->user).
struct RequestContext {
  DeviceImpl* device = nullptr;
  int camera = -1;
  std::string service;         // device_service, media, ptz, events, subscription
  std::string subscriptionId;  // for subscription/<id>
};

class DeviceImpl final : public OnvifDevice {
 public:
  DeviceImpl(SimServer& sim, OnvifDeviceOptions options);
  ~DeviceImpl() override;
  core::Result<void> startServing();

  uint16_t httpPort() const override { return httpPort_; }
  uint16_t discoveryPort() const override { return discoveryPort_; }
  std::string deviceUrl(int index) const override;
  std::string endpointReference(int index) const override;
  bool isPtz(int index) const override;
  OnvifDeviceStats stats() const override;
  void stop() override;

  // --- used by the service operations ---
  std::string baseUrl(int camera) const;  // http://host:port/onvif/camNN
  // SOAP_OK or a fault already set on `soap`.
  int authorize(struct soap* soap);
  SimServer& sim() { return sim_; }
  const OnvifDeviceOptions& options() const { return options_; }
  core::WallTime deviceNow() const;
  int cameraCount() const { return sim_.cameraCount(); }

  // PTZ (thread-safe)
  void continuousMove(int camera, const ViewWindow& velocity, std::optional<core::Duration> t);
  void stopMove(int camera);
  core::Result<void> absoluteMove(int camera, const ViewWindow& position);
  std::string setPreset(int camera, const std::string& name);
  bool gotoPreset(int camera, const std::string& token);
  std::vector<std::tuple<std::string, std::string, ViewWindow>> presets(int camera);
  bool isMoving(int camera);

  // Events
  core::Result<std::string> createSubscription(int camera, core::Duration termination);
  bool renewSubscription(const std::string& id, core::Duration termination,
                         std::chrono::steady_clock::time_point* expires);
  bool deleteSubscription(const std::string& id);
  struct Change {
    std::string topic;
    std::string sourceName;
    std::string sourceValue;
    bool state = false;
    bool initialized = false;
  };
  // Changes since the last pull; waits up to `wait` for one when there is none.
  core::Result<std::vector<Change>> pull(const std::string& id, core::Duration wait,
                                         std::chrono::steady_clock::time_point* expires);

  // Ground truth now (scene time = time since start).
  bool motionNow(int camera);
  bool tamperNow(int camera);
  int64_t frameIndexNow() const;

  int serveSnapshot(struct soap* soap, int camera);

  // WS-Discovery: answers (one ProbeMatches per camera) to the prober at `to`, each after its own
  // random delay within APP_MAX_DELAY, as independent devices would answer.
  void scheduleProbeMatches(const std::string& to, const std::string& relatesTo);

 private:
  void acceptLoop();
  void workerLoop();
  void discoveryLoop();
  void moverLoop();
  void answerLoop();
  void serveOne(struct soap* soap);

  SimServer& sim_;
  OnvifDeviceOptions options_;
  std::vector<bool> ptz_;
  std::vector<SceneRenderer> renderers_;
  std::chrono::steady_clock::time_point startedAt_;
  uint16_t httpPort_ = 0;
  uint16_t discoveryPort_ = 0;
  onvif::soap_support::SoapPtr master_;
  onvif::soap_support::SoapPtr udp_;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_, discovery_, mover_, answerer_;
  std::vector<std::thread> workers_;
  std::mutex queueMu_;
  std::condition_variable queueCv_;
  std::deque<SOAP_SOCKET> sockets_;

  mutable std::mutex mu_;  // ptz_state_, subscriptions_, nonces_
  std::condition_variable moveCv_;
  std::vector<PtzState> ptzState_;
  std::map<std::string, Subscription> subscriptions_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> nonces_;
  uint64_t nextSubscription_ = 1;

  struct PendingMatch {
    int camera = 0;
    std::string to;  // soap.udp://host:port of the prober
    std::string relatesTo;
  };
  std::mutex answerMu_;  // pending_, rng_
  std::condition_variable answerCv_;
  std::multimap<std::chrono::steady_clock::time_point, PendingMatch> pending_;
  std::mt19937_64 rng_{std::random_device{}()};

 public:
  std::atomic<uint64_t> requests{0}, authRejected{0}, replayRejected{0}, staleRejected{0},
      digestRejected{0}, textRejected{0}, probesAnswered{0}, referenceParametersEchoed{0};
};

}  // namespace sharpeyes::sim::onvif_device
