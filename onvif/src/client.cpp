#include "sharpeyes/onvif/client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>

#include "httpda.h"
#include "sharpeyes/core/util.h"
#include "soap_support.h"

namespace sharpeyes::onvif {

namespace ss = soap_support;
using core::ErrorCode;
using core::makeError;
using core::Result;

namespace {

// Actions of the event operations (ONVIF Event WSDL, WS-BaseNotification bw-2).
const char* kActionCreatePullPoint =
    "http://www.onvif.org/ver10/events/wsdl/EventPortType/CreatePullPointSubscriptionRequest";
const char* kActionPullMessages =
    "http://www.onvif.org/ver10/events/wsdl/PullPointSubscription/PullMessagesRequest";
const char* kActionRenew = "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/RenewRequest";
const char* kActionUnsubscribe =
    "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/UnsubscribeRequest";

const char* kPtzGenericPanTilt =
    "http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace";
const char* kPtzGenericZoom = "http://www.onvif.org/ver10/tptz/ZoomSpaces/PositionGenericSpace";
const char* kPtzVelocityPanTilt =
    "http://www.onvif.org/ver10/tptz/PanTiltSpaces/VelocityGenericSpace";
const char* kPtzVelocityZoom = "http://www.onvif.org/ver10/tptz/ZoomSpaces/VelocityGenericSpace";

std::string xsdDuration(core::Duration d) {
  const int64_t ms =
      std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  char buf[48];
  if (ms % 1000 == 0) {
    std::snprintf(buf, sizeof buf, "PT%lldS", static_cast<long long>(ms / 1000));
  } else {
    std::snprintf(buf, sizeof buf, "PT%lld.%03lldS", static_cast<long long>(ms / 1000),
                  static_cast<long long>(ms % 1000));
  }
  return buf;
}

std::string str(const std::string* s) {
  return s != nullptr ? *s : std::string();
}

ss::Limits limitsFrom(const CallOptions& o) {
  ss::Limits l;
  l.connectTimeout = o.connectTimeout;
  l.ioTimeout = o.ioTimeout;
  l.transferTimeout = o.transferTimeout;
  l.maxMessageBytes = o.maxResponseBytes;
  l.maxDepth = o.maxXmlDepth;
  l.maxOccurs = o.maxElementsPerArray;
  l.verifyTls = o.verifyTls;
  return l;
}

std::optional<PtzVector> toVector(const tt__PTZVector* v) {
  if (v == nullptr) return std::nullopt;
  PtzVector out;
  if (v->PanTilt != nullptr) {
    out.pan = v->PanTilt->x;
    out.tilt = v->PanTilt->y;
  }
  if (v->Zoom != nullptr) out.zoom = v->Zoom->x;
  return out;
}

}  // namespace

struct DeviceClient::Impl {
  Credentials credentials;
  CallOptions options;
  std::optional<ServiceAddresses> services;
  bool needsHttpDigest = false;  // learnt from a 401 challenge, kept for later calls
};

DeviceClient::DeviceClient(std::string deviceUrl, Credentials credentials, CallOptions options)
    : deviceUrl_(std::move(deviceUrl)), impl_(std::make_unique<Impl>()) {
  impl_->credentials = std::move(credentials);
  impl_->options = options;
}

DeviceClient::~DeviceClient() = default;

namespace {

// WS-Addressing 2005/08 headers for one call: the destination and the operation's action.
struct Addressing {
  const std::string& to;
  const char* action;
  const std::vector<ReferenceParameter>* referenceParameters = nullptr;
};

constexpr const char* kWsa5 = "http://www.w3.org/2005/08/addressing";

void addAddressing(struct soap* soap, const Addressing& wsa) {
  if (soap->header == nullptr) soap_header(soap);
  soap->header->wsa5__To = soap_strdup(soap, wsa.to.c_str());
  soap->header->wsa5__Action = soap_strdup(soap, wsa.action);
  soap->header->wsa5__MessageID = soap_strdup(soap, soap_wsa_rand_uuid(soap));
  soap->header->__any.clear();
  if (wsa.referenceParameters == nullptr) return;
  // WS-Addressing 2005/08 §3.3: each reference parameter becomes a header block of its own,
  // marked wsa:IsReferenceParameter="true".
  for (const ReferenceParameter& p : *wsa.referenceParameters) {
    soap_dom_element* e = soap_elt_new(soap, p.ns.empty() ? nullptr : p.ns.c_str(), p.name.c_str());
    soap_elt_text(e, p.value.c_str());
    soap_att_text(soap_att(e, kWsa5, "IsReferenceParameter"), "true");
    soap->header->__any.push_back(*e);
  }
}

// Simple (text) reference parameters of a subscription reference; bounded, so a hostile device
// cannot make every later call carry megabytes.
std::vector<ReferenceParameter> referenceParametersOf(const wsa5__ReferenceParametersType* params) {
  std::vector<ReferenceParameter> out;
  if (params == nullptr) return out;
  constexpr size_t kMaxParameters = 8;
  constexpr size_t kMaxValue = 1024;
  for (const soap_dom_element& e : params->__any) {
    if (out.size() >= kMaxParameters) break;
    const char* tag = soap_elt_get_tag(&e);
    if (tag == nullptr || e.elts != nullptr) continue;  // nameless or complex: not echoable
    std::string name = tag;
    if (auto colon = name.rfind(':'); colon != std::string::npos) name = name.substr(colon + 1);
    const char* ns = soap_elt_get_ns(&e);
    const char* text = soap_elt_get_text(&e);
    std::string value = text != nullptr ? text : "";
    if (name.empty() || value.size() > kMaxValue) continue;
    out.push_back({ns != nullptr ? ns : "", std::move(name), std::move(value)});
  }
  return out;
}

// Runs one SOAP call with authentication and limits. `call` fills the caller's response object;
// the returned context owns everything the response points at, so keep it alive while reading.
Result<ss::SoapPtr> runCall(const Credentials& creds, const CallOptions& opts, bool& httpDigest,
                            core::Duration clockOffset, bool authenticate, std::string_view op,
                            const std::string& url, const std::function<int(struct soap*)>& call,
                            const Addressing* wsa = nullptr) {
  ss::Limits limits = limitsFrom(opts);
  if (opts.deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        *opts.deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return makeError(ErrorCode::kTimeout, std::string(op) + " " + core::redactUrl(url) +
                                                ": overall deadline passed before the call");
    }
    limits.connectTimeout = std::min(limits.connectTimeout, left);
    limits.ioTimeout = std::min(limits.ioTimeout, left);
    limits.transferTimeout = std::min(limits.transferTimeout, left);
  }
  ss::SoapPtr soap = ss::newContext(limits);
  if (url.starts_with("https://")) ss::enableTls(soap.get(), limits);
  const bool withCreds = authenticate && !creds.empty();
  auto addToken = [&] {
    soap->header = nullptr;
    if (withCreds) {
      ss::addUsernameToken(soap.get(), creds.username, creds.password,
                           core::processClock().now() + clockOffset, !opts.usePasswordText);
    }
    if (wsa != nullptr) addAddressing(soap.get(), *wsa);
  };
  http_da_info info{};
  bool infoSaved = false;
  if (withCreds) soap_register_plugin(soap.get(), http_da);
  ss::CallGuard guard;
  auto arm = [&] {
    ss::armGuard(soap.get(), guard, limits);
    if (opts.deadline) guard.deadline = std::min(guard.deadline, *opts.deadline);
  };
  arm();
  addToken();
  int rc = call(soap.get());
  if (rc == 401 && withCreds && soap->authrealm != nullptr) {
    // The device (or a proxy in front of it) wants HTTP digest as well: answer the challenge.
    http_da_save(soap.get(), &info, soap->authrealm, creds.username.c_str(),
                 creds.password.c_str());
    infoSaved = true;
    httpDigest = true;
    addToken();
    arm();
    rc = call(soap.get());
  }
  if (infoSaved) http_da_release(soap.get(), &info);
  soap->user = nullptr;
  const std::string what = std::string(op) + " " + core::redactUrl(url);
  if (rc != SOAP_OK) {
    if (guard.tooLarge) {
      return makeError(
          ErrorCode::kResourceExhausted,
          what + ": response larger than " + std::to_string(guard.maxBytes) + " bytes");
    }
    if (guard.deadlineHit) {
      return makeError(ErrorCode::kTimeout, what + ": response not complete within the deadline");
    }
    return ss::errorFrom(soap.get(), what);
  }
  return soap;
}

}  // namespace

#define SE_CALL(op, url, auth, expr)                                                               \
  runCall(impl_->credentials, impl_->options, impl_->needsHttpDigest, clockOffset_, auth, op, url, \
          [&](struct soap* soap) { return (expr); })
// The same with WS-Addressing To = url and the given Action (event subscription operations).
#define SE_CALL_WSA(op, url, action, expr) SE_CALL_WSA_REF(op, url, action, nullptr, expr)
#define SE_CALL_WSA_REF(op, url, action, refs, expr)                                             \
  [&] {                                                                                          \
    const Addressing wsa{url, action, refs};                                                     \
    return runCall(                                                                              \
        impl_->credentials, impl_->options, impl_->needsHttpDigest, clockOffset_, true, op, url, \
        [&](struct soap* soap) { return (expr); }, &wsa);                                        \
  }()

Result<core::Duration> DeviceClient::syncClock() {
  _tds__GetSystemDateAndTime req;
  _tds__GetSystemDateAndTimeResponse resp;
  const core::WallTime before = core::processClock().now();
  auto soap =
      SE_CALL("GetSystemDateAndTime", deviceUrl_, false,
              soap_call___tds__GetSystemDateAndTime(soap, deviceUrl_.c_str(), nullptr, &req, resp));
  if (!soap.ok()) return soap.error();
  const core::WallTime after = core::processClock().now();
  const tt__SystemDateTime* sdt = resp.SystemDateAndTime;
  if (sdt == nullptr || sdt->UTCDateTime == nullptr || sdt->UTCDateTime->Date == nullptr ||
      sdt->UTCDateTime->Time == nullptr) {
    return makeError(ErrorCode::kCorrupt, "GetSystemDateAndTime: device sent no UTC time");
  }
  std::tm tm{};
  tm.tm_year = sdt->UTCDateTime->Date->Year - 1900;
  tm.tm_mon = sdt->UTCDateTime->Date->Month - 1;
  tm.tm_mday = sdt->UTCDateTime->Date->Day;
  tm.tm_hour = sdt->UTCDateTime->Time->Hour;
  tm.tm_min = sdt->UTCDateTime->Time->Minute;
  tm.tm_sec = sdt->UTCDateTime->Time->Second;
  if (tm.tm_year < 70 || tm.tm_year > 1100 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
      tm.tm_mday > 31 || tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 ||
      tm.tm_sec < 0 || tm.tm_sec > 60) {
    return makeError(ErrorCode::kCorrupt, "GetSystemDateAndTime: invalid date");
  }
  const core::WallTime device = std::chrono::time_point_cast<core::Duration>(
      std::chrono::system_clock::from_time_t(timegm(&tm)));
  const core::WallTime mid = before + (after - before) / 2;
  // The device only reports whole seconds: offsets under a second are noise.
  core::Duration offset = device - mid;
  if (std::chrono::abs(offset) < std::chrono::seconds(1)) offset = core::Duration::zero();
  clockOffset_ = offset;
  return offset;
}

Result<DeviceInfo> DeviceClient::deviceInformation() {
  _tds__GetDeviceInformation req;
  _tds__GetDeviceInformationResponse resp;
  auto soap =
      SE_CALL("GetDeviceInformation", deviceUrl_, true,
              soap_call___tds__GetDeviceInformation(soap, deviceUrl_.c_str(), nullptr, &req, resp));
  if (!soap.ok()) return soap.error();
  return DeviceInfo{resp.Manufacturer, resp.Model, resp.FirmwareVersion, resp.SerialNumber,
                    resp.HardwareId};
}

Result<ServiceAddresses> DeviceClient::services() {
  if (impl_->services) return *impl_->services;
  ServiceAddresses out;
  out.device = deviceUrl_;
  {
    _tds__GetCapabilities req;
    req.Category.push_back(tt__CapabilityCategory__All);
    _tds__GetCapabilitiesResponse resp;
    auto soap =
        SE_CALL("GetCapabilities", deviceUrl_, true,
                soap_call___tds__GetCapabilities(soap, deviceUrl_.c_str(), nullptr, &req, resp));
    if (soap.ok() && resp.Capabilities != nullptr) {
      const tt__Capabilities* c = resp.Capabilities;
      if (c->Media != nullptr) out.media = c->Media->XAddr;
      if (c->PTZ != nullptr) out.ptz = c->PTZ->XAddr;
      if (c->Events != nullptr) {
        out.events = c->Events->XAddr;
        out.pullPointSupported =
            c->Events->WSPullPointSupport == nullptr || *c->Events->WSPullPointSupport;
      }
    } else if (!soap.ok() && soap.error().code == ErrorCode::kPermissionDenied) {
      return soap.error();
    }
  }
  if (out.media.empty()) {
    // Newer devices may answer GetServices only.
    _tds__GetServices req;
    req.IncludeCapability = false;
    _tds__GetServicesResponse resp;
    auto soap =
        SE_CALL("GetServices", deviceUrl_, true,
                soap_call___tds__GetServices(soap, deviceUrl_.c_str(), nullptr, &req, resp));
    if (!soap.ok()) return soap.error();
    for (const tds__Service* s : resp.Service) {
      if (s == nullptr) continue;
      if (s->Namespace == "http://www.onvif.org/ver10/media/wsdl") out.media = s->XAddr;
      if (s->Namespace == "http://www.onvif.org/ver20/ptz/wsdl") out.ptz = s->XAddr;
      if (s->Namespace == "http://www.onvif.org/ver10/events/wsdl") {
        out.events = s->XAddr;
        out.pullPointSupported = true;
      }
    }
  }
  if (out.media.empty()) {
    return makeError(ErrorCode::kUnsupported,
                     "device " + core::redactUrl(deviceUrl_) + " offers no media service");
  }
  impl_->services = out;
  return out;
}

Result<std::vector<MediaProfile>> DeviceClient::profiles() {
  auto svc = services();
  if (!svc.ok()) return svc.error();
  const std::string url = svc->media;
  _trt__GetProfiles req;
  _trt__GetProfilesResponse resp;
  auto soap = SE_CALL("GetProfiles", url, true,
                      soap_call___trt__GetProfiles(soap, url.c_str(), nullptr, &req, resp));
  if (!soap.ok()) return soap.error();
  std::vector<MediaProfile> out;
  for (const tt__Profile* p : resp.Profiles) {
    if (p == nullptr) continue;
    MediaProfile m;
    m.token = p->token;
    m.name = p->Name;
    if (const tt__VideoEncoderConfiguration* v = p->VideoEncoderConfiguration) {
      m.encoding = v->Encoding == tt__VideoEncoding__H264   ? "H264"
                   : v->Encoding == tt__VideoEncoding__JPEG ? "JPEG"
                                                            : "MPEG4";
      if (v->Resolution != nullptr) {
        m.width = v->Resolution->Width;
        m.height = v->Resolution->Height;
      }
      if (v->RateControl != nullptr) {
        m.frameRateLimit = v->RateControl->FrameRateLimit;
        m.bitrateLimitKbps = v->RateControl->BitrateLimit;
      }
    }
    if (p->PTZConfiguration != nullptr) m.ptzNodeToken = p->PTZConfiguration->NodeToken;
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::string> DeviceClient::streamUri(const std::string& profileToken) {
  auto svc = services();
  if (!svc.ok()) return svc.error();
  const std::string url = svc->media;
  _trt__GetStreamUri req;
  tt__StreamSetup setup;
  tt__Transport transport;
  transport.Protocol = tt__TransportProtocol__RTSP;
  transport.Tunnel = nullptr;
  setup.Stream = tt__StreamType__RTP_Unicast;
  setup.Transport = &transport;
  req.StreamSetup = &setup;
  req.ProfileToken = profileToken;
  _trt__GetStreamUriResponse resp;
  auto soap = SE_CALL("GetStreamUri", url, true,
                      soap_call___trt__GetStreamUri(soap, url.c_str(), nullptr, &req, resp));
  if (!soap.ok()) return soap.error();
  if (resp.MediaUri == nullptr || resp.MediaUri->Uri.empty()) {
    return makeError(ErrorCode::kCorrupt, "GetStreamUri: empty URI");
  }
  return resp.MediaUri->Uri;
}

Result<std::string> DeviceClient::snapshotUri(const std::string& profileToken) {
  auto svc = services();
  if (!svc.ok()) return svc.error();
  const std::string url = svc->media;
  _trt__GetSnapshotUri req;
  req.ProfileToken = profileToken;
  _trt__GetSnapshotUriResponse resp;
  auto soap = SE_CALL("GetSnapshotUri", url, true,
                      soap_call___trt__GetSnapshotUri(soap, url.c_str(), nullptr, &req, resp));
  if (!soap.ok()) return soap.error();
  if (resp.MediaUri == nullptr || resp.MediaUri->Uri.empty()) {
    return makeError(ErrorCode::kCorrupt, "GetSnapshotUri: empty URI");
  }
  return resp.MediaUri->Uri;
}

Result<ResolvedStreams> DeviceClient::resolveStreams() {
  ResolvedStreams out;
  // A device that refuses the unauthenticated clock query still works with offset 0.
  if (auto offset = syncClock(); offset.ok()) {
    out.clockOffset = *offset;
  } else if (offset.error().code == ErrorCode::kTimeout ||
             offset.error().code == ErrorCode::kUnavailable) {
    return offset.error();
  }
  auto info = deviceInformation();
  if (!info.ok()) return info.error();
  out.device = *info;
  auto list = profiles();
  if (!list.ok()) return list.error();
  std::vector<MediaProfile> video;
  for (const auto& p : *list) {
    if (!p.encoding.empty()) video.push_back(p);
  }
  if (video.empty()) return makeError(ErrorCode::kUnsupported, "device has no video profile");
  // Prefer H.264 (what ingest records); among those, largest is main, smallest is sub.
  std::vector<MediaProfile> h264;
  for (const auto& p : video) {
    if (p.encoding == "H264") h264.push_back(p);
  }
  std::vector<MediaProfile>& pool = h264.empty() ? video : h264;
  auto area = [](const MediaProfile& p) { return int64_t{p.width} * p.height; };
  std::stable_sort(pool.begin(), pool.end(),
                   [&](const MediaProfile& a, const MediaProfile& b) { return area(a) > area(b); });
  out.mainProfile = pool.front().token;
  out.subProfile = pool.back().token;
  auto mainUri = streamUri(out.mainProfile);
  if (!mainUri.ok()) return mainUri.error();
  out.mainUri = *mainUri;
  if (out.subProfile == out.mainProfile) {
    out.subUri = out.mainUri;
  } else {
    auto subUri = streamUri(out.subProfile);
    if (!subUri.ok()) return subUri.error();
    out.subUri = *subUri;
  }
  if (auto snap = snapshotUri(out.mainProfile); snap.ok()) out.snapshotUri = *snap;
  return out;
}

Result<std::vector<PtzNode>> DeviceClient::ptzNodes() {
  auto svc = services();
  if (!svc.ok()) return svc.error();
  if (svc->ptz.empty()) return makeError(ErrorCode::kUnsupported, "device has no PTZ service");
  const std::string url = svc->ptz;
  _tptz__GetNodes req;
  _tptz__GetNodesResponse resp;
  auto soap = SE_CALL("GetNodes", url, true,
                      soap_call___tptz__GetNodes(soap, url.c_str(), nullptr, &req, resp));
  if (!soap.ok()) return soap.error();
  std::vector<PtzNode> out;
  for (const tt__PTZNode* n : resp.PTZNode) {
    if (n == nullptr) continue;
    PtzNode node;
    node.token = n->token;
    node.name = str(n->Name);
    node.maxPresets = n->MaximumNumberOfPresets;
    node.homeSupported = n->HomeSupported;
    if (const tt__PTZSpaces* s = n->SupportedPTZSpaces) {
      node.absolutePanTilt = !s->AbsolutePanTiltPositionSpace.empty();
      node.absoluteZoom = !s->AbsoluteZoomPositionSpace.empty();
      node.continuousPanTilt = !s->ContinuousPanTiltVelocitySpace.empty();
      node.continuousZoom = !s->ContinuousZoomVelocitySpace.empty();
    }
    out.push_back(std::move(node));
  }
  return out;
}

namespace {
Result<std::string> ptzUrl(Result<ServiceAddresses> svc) {
  if (!svc.ok()) return svc.error();
  if (svc->ptz.empty()) return makeError(ErrorCode::kUnsupported, "device has no PTZ service");
  return svc->ptz;
}
}  // namespace

Result<void> DeviceClient::continuousMove(const std::string& profileToken,
                                          const PtzVector& velocity,
                                          std::optional<core::Duration> timeout) {
  auto url = ptzUrl(services());
  if (!url.ok()) return url.error();
  std::string space2 = kPtzVelocityPanTilt;
  std::string space1 = kPtzVelocityZoom;
  tt__Vector2D pt;
  pt.x = velocity.pan;
  pt.y = velocity.tilt;
  pt.space = &space2;
  tt__Vector1D z;
  z.x = velocity.zoom;
  z.space = &space1;
  tt__PTZSpeed speed;
  speed.PanTilt = &pt;
  speed.Zoom = &z;
  _tptz__ContinuousMove req;
  req.ProfileToken = profileToken;
  req.Velocity = &speed;
  std::string t;
  if (timeout) {
    t = xsdDuration(*timeout);
    req.Timeout = &t;
  }
  _tptz__ContinuousMoveResponse resp;
  auto soap = SE_CALL("ContinuousMove", *url, true,
                      soap_call___tptz__ContinuousMove(soap, url->c_str(), nullptr, &req, resp));
  if (!soap.ok()) return soap.error();
  return core::okResult();
}

Result<void> DeviceClient::stop(const std::string& profileToken) {
  auto url = ptzUrl(services());
  if (!url.ok()) return url.error();
  bool yes = true;
  _tptz__Stop req;
  req.ProfileToken = profileToken;
  req.PanTilt = &yes;
  req.Zoom = &yes;
  _tptz__StopResponse resp;
  auto soap =
      SE_CALL("Stop", *url, true, soap_call___tptz__Stop(soap, url->c_str(), nullptr, &req, resp));
  if (!soap.ok()) return soap.error();
  return core::okResult();
}

Result<void> DeviceClient::absoluteMove(const std::string& profileToken,
                                        const PtzVector& position) {
  auto url = ptzUrl(services());
  if (!url.ok()) return url.error();
  std::string space2 = kPtzGenericPanTilt;
  std::string space1 = kPtzGenericZoom;
  tt__Vector2D pt;
  pt.x = position.pan;
  pt.y = position.tilt;
  pt.space = &space2;
  tt__Vector1D z;
  z.x = position.zoom;
  z.space = &space1;
  tt__PTZVector vec;
  vec.PanTilt = &pt;
  vec.Zoom = &z;
  _tptz__AbsoluteMove req;
  req.ProfileToken = profileToken;
  req.Position = &vec;
  _tptz__AbsoluteMoveResponse resp;
  auto soap = SE_CALL("AbsoluteMove", *url, true,
                      soap_call___tptz__AbsoluteMove(soap, url->c_str(), nullptr, &req, resp));
  if (!soap.ok()) return soap.error();
  return core::okResult();
}

Result<std::vector<PtzPreset>> DeviceClient::presets(const std::string& profileToken) {
  auto url = ptzUrl(services());
  if (!url.ok()) return url.error();
  _tptz__GetPresets req;
  req.ProfileToken = profileToken;
  _tptz__GetPresetsResponse resp;
  auto soap = SE_CALL("GetPresets", *url, true,
                      soap_call___tptz__GetPresets(soap, url->c_str(), nullptr, &req, resp));
  if (!soap.ok()) return soap.error();
  std::vector<PtzPreset> out;
  for (const tt__PTZPreset* p : resp.Preset) {
    if (p == nullptr) continue;
    out.push_back(PtzPreset{str(p->token), str(p->Name), toVector(p->PTZPosition)});
  }
  return out;
}

Result<std::string> DeviceClient::setPreset(const std::string& profileToken,
                                            const std::string& name) {
  auto url = ptzUrl(services());
  if (!url.ok()) return url.error();
  std::string n = name;
  _tptz__SetPreset req;
  req.ProfileToken = profileToken;
  req.PresetName = &n;
  _tptz__SetPresetResponse resp;
  auto soap = SE_CALL("SetPreset", *url, true,
                      soap_call___tptz__SetPreset(soap, url->c_str(), nullptr, &req, resp));
  if (!soap.ok()) return soap.error();
  return resp.PresetToken;
}

Result<void> DeviceClient::gotoPreset(const std::string& profileToken,
                                      const std::string& presetToken) {
  auto url = ptzUrl(services());
  if (!url.ok()) return url.error();
  _tptz__GotoPreset req;
  req.ProfileToken = profileToken;
  req.PresetToken = presetToken;
  _tptz__GotoPresetResponse resp;
  auto soap = SE_CALL("GotoPreset", *url, true,
                      soap_call___tptz__GotoPreset(soap, url->c_str(), nullptr, &req, resp));
  if (!soap.ok()) return soap.error();
  return core::okResult();
}

Result<PtzStatus> DeviceClient::ptzStatus(const std::string& profileToken) {
  auto url = ptzUrl(services());
  if (!url.ok()) return url.error();
  _tptz__GetStatus req;
  req.ProfileToken = profileToken;
  _tptz__GetStatusResponse resp;
  auto soap = SE_CALL("GetStatus", *url, true,
                      soap_call___tptz__GetStatus(soap, url->c_str(), nullptr, &req, resp));
  if (!soap.ok()) return soap.error();
  PtzStatus out;
  if (resp.PTZStatus != nullptr) {
    out.position = toVector(resp.PTZStatus->Position);
    if (const tt__PTZMoveStatus* m = resp.PTZStatus->MoveStatus) {
      out.moving = (m->PanTilt != nullptr && *m->PanTilt == tt__MoveStatus__MOVING) ||
                   (m->Zoom != nullptr && *m->Zoom == tt__MoveStatus__MOVING);
    }
  }
  return out;
}

namespace {
std::optional<core::WallTime> deviceTimeToLocal(const std::string& text, core::Duration offset) {
  auto t = core::parseIso8601(text);
  if (!t.ok()) return std::nullopt;
  return *t - offset;
}
}  // namespace

Result<PullPoint> DeviceClient::createPullPoint(core::Duration initialTermination) {
  auto svc = services();
  if (!svc.ok()) return svc.error();
  if (svc->events.empty()) {
    return makeError(ErrorCode::kUnsupported, "device has no event service");
  }
  const std::string url = svc->events;
  std::string term = xsdDuration(initialTermination);
  _tev__CreatePullPointSubscription req;
  req.InitialTerminationTime = &term;
  _tev__CreatePullPointSubscriptionResponse resp;
  auto soap = SE_CALL_WSA(
      "CreatePullPointSubscription", url, kActionCreatePullPoint,
      soap_call___tev__CreatePullPointSubscription(soap, url.c_str(), nullptr, &req, resp));
  if (!soap.ok()) return soap.error();
  if (resp.SubscriptionReference.Address.empty()) {
    return makeError(ErrorCode::kCorrupt, "CreatePullPointSubscription: no address");
  }
  return PullPoint{resp.SubscriptionReference.Address,
                   deviceTimeToLocal(resp.wsnt__TerminationTime, clockOffset_),
                   referenceParametersOf(resp.SubscriptionReference.ReferenceParameters)};
}

Result<std::vector<Notification>> DeviceClient::pullMessages(const PullPoint& pullPoint,
                                                             core::Duration wait, int limit) {
  _tev__PullMessages req;
  req.Timeout = xsdDuration(wait);
  req.MessageLimit = std::max(1, limit);
  _tev__PullMessagesResponse resp;
  const std::string& url = pullPoint.address;
  auto soap =
      SE_CALL_WSA_REF("PullMessages", url, kActionPullMessages, &pullPoint.referenceParameters,
                      soap_call___tev__PullMessages(soap, url.c_str(), nullptr, &req, resp));
  if (!soap.ok()) return soap.error();
  std::vector<Notification> out;
  for (const wsnt__NotificationMessageHolderType* m : resp.wsnt__NotificationMessage) {
    if (m == nullptr) continue;
    Notification n;
    if (m->Topic != nullptr) {
      n.topic = m->Topic->__mixed;
      // Mixed content keeps surrounding whitespace.
      const auto b = n.topic.find_first_not_of(" \t\r\n");
      const auto e = n.topic.find_last_not_of(" \t\r\n");
      n.topic = b == std::string::npos ? std::string() : n.topic.substr(b, e - b + 1);
    }
    if (const _tt__Message* tm = m->Message.tt__Message) {
      n.utcTime = tm->UtcTime;
      if (tm->PropertyOperation != nullptr) {
        n.operation = *tm->PropertyOperation == tt__PropertyOperation__Initialized ? "Initialized"
                      : *tm->PropertyOperation == tt__PropertyOperation__Deleted   ? "Deleted"
                                                                                   : "Changed";
      }
      if (tm->Source != nullptr) {
        for (const auto& item : tm->Source->SimpleItem)
          n.source.emplace_back(item.Name, item.Value);
      }
      if (tm->Data != nullptr) {
        for (const auto& item : tm->Data->SimpleItem) n.data.emplace_back(item.Name, item.Value);
      }
    }
    out.push_back(std::move(n));
  }
  return out;
}

Result<PullPoint> DeviceClient::renew(const PullPoint& pullPoint, core::Duration termination) {
  _wsnt__Renew req;
  req.TerminationTime = xsdDuration(termination);
  _wsnt__RenewResponse resp;
  const std::string& url = pullPoint.address;
  auto soap = SE_CALL_WSA_REF("Renew", url, kActionRenew, &pullPoint.referenceParameters,
                              soap_call___tev__Renew(soap, url.c_str(), nullptr, &req, resp));
  if (!soap.ok()) return soap.error();
  return PullPoint{url, deviceTimeToLocal(resp.TerminationTime, clockOffset_),
                   pullPoint.referenceParameters};
}

Result<void> DeviceClient::unsubscribe(const PullPoint& pullPoint) {
  _wsnt__Unsubscribe req;
  _wsnt__UnsubscribeResponse resp;
  const std::string& url = pullPoint.address;
  auto soap =
      SE_CALL_WSA_REF("Unsubscribe", url, kActionUnsubscribe, &pullPoint.referenceParameters,
                      soap_call___tev__Unsubscribe(soap, url.c_str(), nullptr, &req, resp));
  if (!soap.ok()) return soap.error();
  return core::okResult();
}

Result<ResolvedStreams> resolveStreams(std::string_view address, const Credentials& credentials,
                                       const CallOptions& options) {
  auto url = deviceServiceUrl(address);
  if (!url.ok()) return url.error();
  DeviceClient client(*url, credentials, options);
  return client.resolveStreams();
}

}  // namespace sharpeyes::onvif
