#pragma once
// ONVIF device client: device, media, PTZ and pull-point event calls on one device.
//
// Threading: a DeviceClient is used by one thread at a time (it is not internally locked). Every
// call blocks the calling thread for at most about CallOptions::connectTimeout +
// CallOptions::transferTimeout, so call it from an OnvifRuntime worker (runtime.h), never from an
// ingest or GStreamer thread. Nothing here throws; every call returns a Result.
//
// Authentication: WS-Security UsernameToken with PasswordDigest (fresh 16-byte random nonce per
// call; Created = local time + the device's clock offset learnt by syncClock()), and HTTP digest
// when the device answers 401 with a digest challenge. https:// service addresses use TLS.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sharpeyes/core/result.h"
#include "sharpeyes/core/time.h"

namespace sharpeyes::onvif {

struct Credentials {
  std::string username;
  std::string password;  // never logged
  bool empty() const { return username.empty(); }
};

struct CallOptions {
  std::chrono::milliseconds connectTimeout{3000};
  std::chrono::milliseconds ioTimeout{5000};         // each send and each receive
  std::chrono::milliseconds transferTimeout{10000};  // a whole response (slow-loris devices)
  uint64_t maxResponseBytes = 2u << 20;              // bigger responses fail: ResourceExhausted
  unsigned maxXmlDepth = 64;
  size_t maxElementsPerArray = 4096;
  bool verifyTls = false;        // verify https certificates against the system CA store
  bool usePasswordText = false;  // PasswordText instead of PasswordDigest (only for old devices)
  // Absolute limit across calls (unset: none): a call that would start after it fails with
  // kTimeout at once, a call under way is cut off at it. Bounds multi-call operations such as
  // resolveStreams() as a whole (OnvifRuntime sets it from its `timeout`).
  std::optional<std::chrono::steady_clock::time_point> deadline;
};

struct DeviceInfo {
  std::string manufacturer;
  std::string model;
  std::string firmwareVersion;
  std::string serialNumber;
  std::string hardwareId;
};

// Service addresses from GetCapabilities (or GetServices when capabilities are incomplete).
struct ServiceAddresses {
  std::string device;
  std::string media;
  std::string ptz;     // empty: no PTZ
  std::string events;  // empty: no events
  bool pullPointSupported = false;
};

struct MediaProfile {
  std::string token;
  std::string name;
  std::string encoding;  // "H264", "JPEG", "MPEG4", "" when the profile has no encoder
  int width = 0;
  int height = 0;
  int frameRateLimit = 0;
  int bitrateLimitKbps = 0;
  std::string ptzNodeToken;  // non-empty when the profile has a PTZ configuration
};

// What the gateway needs for a camera given by ONVIF address.
struct ResolvedStreams {
  std::string mainUri;  // RTSP, no credentials inside (add them with core::urlWithCredentials)
  std::string subUri;   // equals mainUri when the device has a single profile
  std::string mainProfile;
  std::string subProfile;
  std::string snapshotUri;  // may be empty
  DeviceInfo device;
  core::Duration clockOffset{};  // device clock - our clock
};

// Pan/tilt in the generic space -1..1, zoom 0..1; velocities -1..1.
struct PtzVector {
  float pan = 0;
  float tilt = 0;
  float zoom = 0;
};

struct PtzNode {
  std::string token;
  std::string name;
  int maxPresets = 0;
  bool homeSupported = false;
  bool absolutePanTilt = false;
  bool absoluteZoom = false;
  bool continuousPanTilt = false;
  bool continuousZoom = false;
};

struct PtzPreset {
  std::string token;
  std::string name;
  std::optional<PtzVector> position;
};

struct PtzStatus {
  std::optional<PtzVector> position;
  bool moving = false;
};

// A camera-side event as received (before mapping to core::Event, see events.h).
struct Notification {
  std::string topic;  // "tns1:VideoSource/MotionAlarm" (prefix as sent by the device)
  std::string utcTime;
  std::string operation;                                    // "Initialized", "Changed", "Deleted"
  std::vector<std::pair<std::string, std::string>> source;  // SimpleItem Name/Value
  std::vector<std::pair<std::string, std::string>> data;
};

// A WS-Addressing reference parameter of a subscription reference (e.g. Axis's
// {http://www.axis.com/2009/event}SubscriptionId): echoed as a SOAP header, marked
// wsa:IsReferenceParameter, on every operation addressed to the subscription. Only simple
// (text) parameters are kept; that is what cameras send.
struct ReferenceParameter {
  std::string ns;  // namespace URI
  std::string name;
  std::string value;
};

struct PullPoint {
  std::string address;  // the subscription manager / pull point URL (sent as wsa:To)
  std::optional<core::WallTime> terminationTime;
  std::vector<ReferenceParameter> referenceParameters;
};

// Turns "192.168.1.10", "192.168.1.10:8080", "https://cam/onvif/device_service" into a device
// service URL (default path /onvif/device_service). Error for anything that is not a host.
core::Result<std::string> deviceServiceUrl(std::string_view address);

class DeviceClient {
 public:
  DeviceClient(std::string deviceUrl, Credentials credentials, CallOptions options = {});
  ~DeviceClient();
  DeviceClient(const DeviceClient&) = delete;
  DeviceClient& operator=(const DeviceClient&) = delete;

  const std::string& deviceUrl() const { return deviceUrl_; }

  // GetSystemDateAndTime (unauthenticated, as the standard allows) and remembers the offset.
  core::Result<core::Duration> syncClock();
  core::Duration clockOffset() const { return clockOffset_; }

  core::Result<DeviceInfo> deviceInformation();
  // Cached after the first success.
  core::Result<ServiceAddresses> services();

  core::Result<std::vector<MediaProfile>> profiles();
  core::Result<std::string> streamUri(const std::string& profileToken);
  core::Result<std::string> snapshotUri(const std::string& profileToken);
  // syncClock + services + profiles + stream URIs: the largest H.264 profile is main, the
  // smallest is sub.
  core::Result<ResolvedStreams> resolveStreams();

  core::Result<std::vector<PtzNode>> ptzNodes();
  core::Result<void> continuousMove(const std::string& profileToken, const PtzVector& velocity,
                                    std::optional<core::Duration> timeout = std::nullopt);
  core::Result<void> stop(const std::string& profileToken);
  core::Result<void> absoluteMove(const std::string& profileToken, const PtzVector& position);
  core::Result<std::vector<PtzPreset>> presets(const std::string& profileToken);
  core::Result<std::string> setPreset(const std::string& profileToken, const std::string& name);
  core::Result<void> gotoPreset(const std::string& profileToken, const std::string& presetToken);
  core::Result<PtzStatus> ptzStatus(const std::string& profileToken);

  core::Result<PullPoint> createPullPoint(core::Duration initialTermination);
  // `wait`: how long the device may hold the request for new messages (0: answer now).
  core::Result<std::vector<Notification>> pullMessages(const PullPoint& pullPoint,
                                                       core::Duration wait, int limit);
  core::Result<PullPoint> renew(const PullPoint& pullPoint, core::Duration termination);
  core::Result<void> unsubscribe(const PullPoint& pullPoint);

 private:
  struct Impl;
  std::string deviceUrl_;
  core::Duration clockOffset_{};
  std::unique_ptr<Impl> impl_;
};

// One-shot for the gateway: device address + credentials -> main and sub RTSP URIs.
core::Result<ResolvedStreams> resolveStreams(std::string_view address,
                                             const Credentials& credentials,
                                             const CallOptions& options = {});

}  // namespace sharpeyes::onvif
