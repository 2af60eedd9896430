// The gSOAP service operations of the simulated device (declared by the generated soapStub.h,
// dispatched by the generated soapServer.cpp). Each operation finds its camera from the request
// path (RequestContext in soap->user), checks WS-Security and answers from the simulator.

#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string_view>

#include "device_impl.h"

using sharpeyes::sim::ViewWindow;
using sharpeyes::sim::onvif_device::DeviceImpl;
using sharpeyes::sim::onvif_device::RequestContext;

namespace {

constexpr const char* kVideoSource = "vs0";
constexpr const char* kAxisEventNs = "http://www.axis.com/2009/event";
constexpr const char* kWsa5Ns = "http://www.w3.org/2005/08/addressing";
constexpr const char* kPtzNode = "ptznode0";
constexpr const char* kPanTiltPosition =
    "http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace";
constexpr const char* kZoomPosition =
    "http://www.onvif.org/ver10/tptz/ZoomSpaces/PositionGenericSpace";
constexpr const char* kPanTiltVelocity =
    "http://www.onvif.org/ver10/tptz/PanTiltSpaces/VelocityGenericSpace";
constexpr const char* kZoomVelocity =
    "http://www.onvif.org/ver10/tptz/ZoomSpaces/VelocityGenericSpace";

int fault(struct soap* soap, const char* subcode, const char* reason) {
  return soap_sender_fault_subcode(soap, subcode, reason, nullptr);
}

RequestContext* ctxOf(struct soap* soap) {
  return static_cast<RequestContext*>(soap->user);
}

// "http://host:port/onvif/cam01/subscription/3?x" -> "/onvif/cam01/subscription/3"
std::string pathOf(std::string_view url) {
  if (auto scheme = url.find("://"); scheme != std::string_view::npos) {
    url.remove_prefix(scheme + 3);
    const auto slash = url.find('/');
    url = slash == std::string_view::npos ? std::string_view("/") : url.substr(slash);
  }
  if (auto q = url.find('?'); q != std::string_view::npos) url = url.substr(0, q);
  return std::string(url);
}

// WS-Addressing on an operation addressed to a subscription, as strict cameras check it: wsa:To
// must name this subscription (its reference address; only the path is compared, the host may
// be spelt differently behind NAT), and wsa:Action, when sent, must be this operation's.
int checkAddressing(struct soap* soap, const SOAP_ENV__Header* h, const char* action) {
  const char* to = h != nullptr ? h->wsa5__To : nullptr;
  if (to == nullptr || *to == '\0') {
    return fault(soap, "wsa5:MessageAddressingHeaderRequired",
                 "wsa:To required: the subscription reference address");
  }
  if (pathOf(to) != pathOf(soap->path)) {
    return fault(
        soap, "wsa5:DestinationUnreachable",
        soap_strdup(
            soap,
            ("wsa:To does not name this subscription: " + std::string(to).substr(0, 200)).c_str()));
  }
  if (h->wsa5__Action != nullptr && std::strcmp(h->wsa5__Action, action) != 0) {
    return fault(soap, "wsa5:ActionNotSupported", "wsa:Action does not match the operation");
  }
  // An echoed SubscriptionId reference parameter must name this subscription too.
  const std::string path = pathOf(soap->path);
  const std::string id = path.substr(path.rfind('/') + 1);
  for (const soap_dom_element& e : h->__any) {
    const char* ns = soap_elt_get_ns(&e);
    const char* tag = soap_elt_get_tag(&e);
    if (ns == nullptr || tag == nullptr || std::strcmp(ns, kAxisEventNs) != 0) continue;
    std::string_view name = tag;
    if (auto colon = name.rfind(':'); colon != std::string_view::npos)
      name.remove_prefix(colon + 1);
    if (name != "SubscriptionId") continue;
    const char* text = soap_elt_get_text(&e);
    if (text == nullptr || id != text) {
      return fault(soap, "wsa5:InvalidAddressingHeader",
                   "SubscriptionId reference parameter does not name this subscription");
    }
    // Counted only when marked as WS-Addressing 2005/08 §3.3 asks.
    bool marked = false;
    for (const soap_dom_attribute* at = soap_att_first(const_cast<soap_dom_element*>(&e));
         at != nullptr; at = soap_att_next(at)) {
      const char* atNs = soap_att_get_ns(at);
      const char* atTag = soap_att_get_tag(at);
      std::string_view atName = atTag != nullptr ? atTag : "";
      if (auto colon = atName.rfind(':'); colon != std::string_view::npos) {
        atName.remove_prefix(colon + 1);
      }
      marked = marked || (atNs != nullptr && std::strcmp(atNs, kWsa5Ns) == 0 &&
                          atName == "IsReferenceParameter" && soap_att_is_true(at));
    }
    if (auto* ctx = ctxOf(soap); marked && ctx != nullptr && ctx->device != nullptr) {
      ++ctx->device->referenceParametersEchoed;
    }
  }
  return SOAP_OK;
}

// The response's header: never the request's (it carries the UsernameToken), but WS-Addressing
// RelatesTo = the request's MessageID and the response Action when the request was addressed.
SOAP_ENV__Header* replyHeader(struct soap* soap, const SOAP_ENV__Header* request) {
  if (request == nullptr ||
      (request->wsa5__MessageID == nullptr && request->wsa5__Action == nullptr))
    return nullptr;
  auto* h = soap_new_SOAP_ENV__Header(soap);
  h->wsa5__RelatesTo = request->wsa5__MessageID;
  if (request->wsa5__Action != nullptr) {
    // ".../PullMessagesRequest" -> ".../PullMessagesResponse", ".../GetProfiles" -> "...Response"
    std::string a = request->wsa5__Action;
    if (a.ends_with("Request")) a.resize(a.size() - 7);
    h->wsa5__Action = soap_strdup(soap, (a + "Response").c_str());
  }
  return h;
}

// Camera of the request, authorised (and, for subscription operations, addressed: `action`);
// -1 with a fault set otherwise.
int begin(struct soap* soap, bool authenticate = true, const char* action = nullptr) {
  const SOAP_ENV__Header* request = soap->header;
  SOAP_ENV__Header* reply = replyHeader(soap, request);
  auto done = [&](int camera) {
    soap->header = reply;  // also for a fault, which is sent after the operation returns
    return camera;
  };
  RequestContext* ctx = ctxOf(soap);
  if (ctx == nullptr || ctx->device == nullptr || ctx->camera < 0) {
    fault(soap, "ter:InvalidArgVal", "unknown device path");
    return done(-1);
  }
  if (authenticate && ctx->device->authorize(soap) != SOAP_OK) return done(-1);
  if (action != nullptr && checkAddressing(soap, request, action) != SOAP_OK) return done(-1);
  return done(ctx->camera);
}

std::string formatTime(sharpeyes::core::WallTime t) {
  return sharpeyes::onvif::soap_support::formatCreated(t);
}

// "PT5S", "PT1M30S", "PT0.5S", "P1D": a small xsd:duration reader (days, hours, minutes, secs).
std::optional<sharpeyes::core::Duration> parseDuration(const std::string& text) {
  if (text.size() < 3 || text[0] != 'P' || text.size() > 64) return std::nullopt;
  double total = 0;
  bool inTime = false;
  std::string num;
  for (size_t i = 1; i < text.size(); ++i) {
    const char c = text[i];
    if (c == 'T') {
      inTime = true;
      continue;
    }
    if ((c >= '0' && c <= '9') || c == '.') {
      num.push_back(c);
      continue;
    }
    if (num.empty()) return std::nullopt;
    const double v = std::strtod(num.c_str(), nullptr);
    num.clear();
    if (c == 'D' && !inTime)
      total += v * 86400;
    else if (c == 'H' && inTime)
      total += v * 3600;
    else if (c == 'M' && inTime)
      total += v * 60;
    else if (c == 'S' && inTime)
      total += v;
    else
      return std::nullopt;
  }
  if (!num.empty()) return std::nullopt;
  return std::chrono::duration_cast<sharpeyes::core::Duration>(
      std::chrono::duration<double>(total));
}

// InitialTerminationTime / TerminationTime: a duration or an absolute dateTime.
sharpeyes::core::Duration terminationFrom(const std::string* text, DeviceImpl& d) {
  using namespace std::chrono_literals;
  if (text == nullptr || text->empty()) return 60s;
  if (auto dur = parseDuration(*text)) return *dur;
  if (auto t = sharpeyes::core::parseIso8601(*text); t.ok()) return *t - d.deviceNow();
  return 60s;
}

tt__VideoEncoderConfiguration* encoder(struct soap* soap, int w, int h, int fps, int kbps,
                                       const char* token, const char* name) {
  auto* e = soap_new_tt__VideoEncoderConfiguration(soap);
  e->token = token;
  e->Name = name;
  e->UseCount = 1;
  e->Encoding = tt__VideoEncoding__H264;
  e->Resolution = soap_new_tt__VideoResolution(soap);
  e->Resolution->Width = w;
  e->Resolution->Height = h;
  e->Quality = 5;
  e->RateControl = soap_new_tt__VideoRateControl(soap);
  e->RateControl->FrameRateLimit = fps;
  e->RateControl->EncodingInterval = 1;
  e->RateControl->BitrateLimit = kbps;
  e->H264 = soap_new_tt__H264Configuration(soap);
  e->H264->GovLength = 2 * fps;
  e->H264->H264Profile = "Main";
  e->SessionTimeout = soap_new_std__string(soap);
  *e->SessionTimeout = "PT60S";
  return e;
}

tt__PTZVector* vectorOf(struct soap* soap, const ViewWindow& v) {
  auto* p = soap_new_tt__PTZVector(soap);
  p->PanTilt = soap_new_tt__Vector2D(soap);
  p->PanTilt->x = v.pan;
  p->PanTilt->y = v.tilt;
  p->PanTilt->space = soap_new_std__string(soap);
  *p->PanTilt->space = kPanTiltPosition;
  p->Zoom = soap_new_tt__Vector1D(soap);
  p->Zoom->x = v.zoom;
  p->Zoom->space = soap_new_std__string(soap);
  *p->Zoom->space = kZoomPosition;
  return p;
}

bool checkProfile(struct soap* soap, DeviceImpl& d, int camera, const std::string& token,
                  bool needPtz) {
  if (token != "main" && token != "sub") {
    fault(soap, "ter:NoProfile", "no such profile");
    return false;
  }
  if (needPtz && !d.isPtz(camera)) {
    fault(soap, "ter:NoPTZProfile", "this camera has no PTZ");
    return false;
  }
  return true;
}

}  // namespace

// A Fault sent to us as a message (WS-Addressing FaultTo): nothing to do but acknowledge.
int SOAP_ENV__Fault(struct soap* soap, char*, char*, char*, struct SOAP_ENV__Detail*,
                    struct SOAP_ENV__Code*, struct SOAP_ENV__Reason*, char*, char*,
                    struct SOAP_ENV__Detail*) {
  return soap_send_empty_response(soap, SOAP_OK);
}

// --- Device ----------------------------------------------------------------------------------

int __tds__GetDeviceInformation(struct soap* soap, _tds__GetDeviceInformation*,
                                _tds__GetDeviceInformationResponse& r) {
  const int cam = begin(soap);
  if (cam < 0) return soap->error;
  DeviceImpl& d = *ctxOf(soap)->device;
  r.Manufacturer = d.options().manufacturer;
  r.Model = d.options().model;
  r.FirmwareVersion = d.options().firmware;
  r.SerialNumber = "SIM-" + d.sim().cameraName(cam) + "-" + std::to_string(d.httpPort());
  r.HardwareId = d.isPtz(cam) ? "sim-ptz" : "sim-fixed";
  return SOAP_OK;
}

int __tds__GetCapabilities(struct soap* soap, _tds__GetCapabilities*,
                           _tds__GetCapabilitiesResponse& r) {
  const int cam = begin(soap);
  if (cam < 0) return soap->error;
  DeviceImpl& d = *ctxOf(soap)->device;
  const std::string base = d.baseUrl(cam);
  auto* c = soap_new_tt__Capabilities(soap);
  c->Device = soap_new_tt__DeviceCapabilities(soap);
  c->Device->XAddr = base + "/device_service";
  c->Media = soap_new_tt__MediaCapabilities(soap);
  c->Media->XAddr = base + "/media";
  c->Media->StreamingCapabilities = soap_new_tt__RealTimeStreamingCapabilities(soap);
  c->Media->StreamingCapabilities->RTP_USCORERTSP_USCORETCP = soap_new_bool(soap);
  *c->Media->StreamingCapabilities->RTP_USCORERTSP_USCORETCP = true;
  c->Events = soap_new_tt__EventCapabilities(soap);
  c->Events->XAddr = base + "/events";
  c->Events->WSPullPointSupport = soap_new_bool(soap);
  *c->Events->WSPullPointSupport = true;
  c->Events->WSSubscriptionPolicySupport = soap_new_bool(soap);
  *c->Events->WSSubscriptionPolicySupport = false;
  c->Events->WSPausableSubscriptionManagerInterfaceSupport = soap_new_bool(soap);
  *c->Events->WSPausableSubscriptionManagerInterfaceSupport = false;
  if (d.isPtz(cam)) {
    c->PTZ = soap_new_tt__PTZCapabilities(soap);
    c->PTZ->XAddr = base + "/ptz";
  }
  r.Capabilities = c;
  return SOAP_OK;
}

int __tds__GetServices(struct soap* soap, _tds__GetServices*, _tds__GetServicesResponse& r) {
  const int cam = begin(soap);
  if (cam < 0) return soap->error;
  DeviceImpl& d = *ctxOf(soap)->device;
  const std::string base = d.baseUrl(cam);
  auto add = [&](const char* ns, const std::string& xaddr, int major, int minor) {
    auto* s = soap_new_tds__Service(soap);
    s->Namespace = ns;
    s->XAddr = xaddr;
    s->Version = soap_new_tt__OnvifVersion(soap);
    s->Version->Major = major;
    s->Version->Minor = minor;
    r.Service.push_back(s);
  };
  add("http://www.onvif.org/ver10/device/wsdl", base + "/device_service", 2, 60);
  add("http://www.onvif.org/ver10/media/wsdl", base + "/media", 2, 60);
  add("http://www.onvif.org/ver10/events/wsdl", base + "/events", 2, 60);
  if (d.isPtz(cam)) add("http://www.onvif.org/ver20/ptz/wsdl", base + "/ptz", 2, 60);
  return SOAP_OK;
}

int __tds__GetSystemDateAndTime(struct soap* soap, _tds__GetSystemDateAndTime*,
                                _tds__GetSystemDateAndTimeResponse& r) {
  // Unauthenticated on purpose: clients need the clock before they can build a digest.
  const int cam = begin(soap, false);
  if (cam < 0) return soap->error;
  DeviceImpl& d = *ctxOf(soap)->device;
  const std::time_t t = std::chrono::system_clock::to_time_t(
      std::chrono::time_point_cast<std::chrono::seconds>(d.deviceNow()));
  std::tm tm{};
  gmtime_r(&t, &tm);
  auto* s = soap_new_tt__SystemDateTime(soap);
  s->DateTimeType = tt__SetDateTimeType__NTP;
  s->DaylightSavings = false;
  s->TimeZone = soap_new_tt__TimeZone(soap);
  s->TimeZone->TZ = "UTC0";
  auto mk = [&]() {
    auto* dt = soap_new_tt__DateTime(soap);
    dt->Time = soap_new_tt__Time(soap);
    dt->Time->Hour = tm.tm_hour;
    dt->Time->Minute = tm.tm_min;
    dt->Time->Second = tm.tm_sec;
    dt->Date = soap_new_tt__Date(soap);
    dt->Date->Year = tm.tm_year + 1900;
    dt->Date->Month = tm.tm_mon + 1;
    dt->Date->Day = tm.tm_mday;
    return dt;
  };
  s->UTCDateTime = mk();
  s->LocalDateTime = mk();
  r.SystemDateAndTime = s;
  return SOAP_OK;
}

// --- Media -----------------------------------------------------------------------------------

int __trt__GetProfiles(struct soap* soap, _trt__GetProfiles*, _trt__GetProfilesResponse& r) {
  const int cam = begin(soap);
  if (cam < 0) return soap->error;
  DeviceImpl& d = *ctxOf(soap)->device;
  auto source = soap_new_tt__VideoSourceConfiguration(soap);
  source->token = "vsc0";
  source->Name = "VideoSource";
  source->UseCount = 2;
  source->SourceToken = kVideoSource;
  source->Bounds = soap_new_tt__IntRectangle(soap);
  source->Bounds->x = 0;
  source->Bounds->y = 0;
  source->Bounds->width = 1920;
  source->Bounds->height = 1080;
  auto profile = [&](const char* token, const char* name, tt__VideoEncoderConfiguration* enc) {
    auto* p = soap_new_tt__Profile(soap);
    p->token = token;
    p->fixed = soap_new_bool(soap);
    *p->fixed = true;
    p->Name = name;
    p->VideoSourceConfiguration = source;
    p->VideoEncoderConfiguration = enc;
    if (d.isPtz(cam)) {
      p->PTZConfiguration = soap_new_tt__PTZConfiguration(soap);
      p->PTZConfiguration->token = "ptz0";
      p->PTZConfiguration->Name = "PTZ";
      p->PTZConfiguration->UseCount = 2;
      p->PTZConfiguration->NodeToken = kPtzNode;
    }
    r.Profiles.push_back(p);
  };
  profile("main", "MainStream", encoder(soap, 1920, 1080, 25, 4000, "vec_main", "Main"));
  profile("sub", "SubStream", encoder(soap, 640, 360, 25, 512, "vec_sub", "Sub"));
  return SOAP_OK;
}

int __trt__GetVideoSources(struct soap* soap, _trt__GetVideoSources*,
                           _trt__GetVideoSourcesResponse& r) {
  if (begin(soap) < 0) return soap->error;
  auto* v = soap_new_tt__VideoSource(soap);
  v->token = kVideoSource;
  v->Framerate = 25;
  v->Resolution = soap_new_tt__VideoResolution(soap);
  v->Resolution->Width = 1920;
  v->Resolution->Height = 1080;
  r.VideoSources.push_back(v);
  return SOAP_OK;
}

int __trt__GetStreamUri(struct soap* soap, _trt__GetStreamUri* req, _trt__GetStreamUriResponse& r) {
  const int cam = begin(soap);
  if (cam < 0) return soap->error;
  DeviceImpl& d = *ctxOf(soap)->device;
  if (req == nullptr || !checkProfile(soap, d, cam, req->ProfileToken, false)) return soap->error;
  if (req->StreamSetup != nullptr && req->StreamSetup->Stream == tt__StreamType__RTP_Multicast) {
    return fault(soap, "ter:InvalidStreamSetup", "multicast is not supported");
  }
  r.MediaUri = soap_new_tt__MediaUri(soap);
  r.MediaUri->Uri = req->ProfileToken == "main" ? d.sim().mainUrl(cam) : d.sim().subUrl(cam);
  r.MediaUri->InvalidAfterConnect = false;
  r.MediaUri->InvalidAfterReboot = false;
  r.MediaUri->Timeout = "PT0S";
  return SOAP_OK;
}

int __trt__GetSnapshotUri(struct soap* soap, _trt__GetSnapshotUri* req,
                          _trt__GetSnapshotUriResponse& r) {
  const int cam = begin(soap);
  if (cam < 0) return soap->error;
  DeviceImpl& d = *ctxOf(soap)->device;
  if (req == nullptr || !checkProfile(soap, d, cam, req->ProfileToken, false)) return soap->error;
  r.MediaUri = soap_new_tt__MediaUri(soap);
  r.MediaUri->Uri = d.baseUrl(cam) + "/snapshot.jpg";
  r.MediaUri->InvalidAfterConnect = false;
  r.MediaUri->InvalidAfterReboot = false;
  r.MediaUri->Timeout = "PT0S";
  return SOAP_OK;
}

// --- PTZ -------------------------------------------------------------------------------------

int __tptz__GetNodes(struct soap* soap, _tptz__GetNodes*, _tptz__GetNodesResponse& r) {
  const int cam = begin(soap);
  if (cam < 0) return soap->error;
  if (!ctxOf(soap)->device->isPtz(cam)) return fault(soap, "ter:NoPTZProfile", "no PTZ");
  auto range = [&](float lo, float hi) {
    auto* f = soap_new_tt__FloatRange(soap);
    f->Min = lo;
    f->Max = hi;
    return f;
  };
  auto space2 = [&](const char* uri) {
    auto* s = soap_new_tt__Space2DDescription(soap);
    s->URI = uri;
    s->XRange = range(-1, 1);
    s->YRange = range(-1, 1);
    return s;
  };
  auto space1 = [&](const char* uri, float lo) {
    auto* s = soap_new_tt__Space1DDescription(soap);
    s->URI = uri;
    s->XRange = range(lo, 1);
    return s;
  };
  auto* n = soap_new_tt__PTZNode(soap);
  n->token = kPtzNode;
  n->Name = soap_new_std__string(soap);
  *n->Name = "SimPTZ";
  n->SupportedPTZSpaces = soap_new_tt__PTZSpaces(soap);
  n->SupportedPTZSpaces->AbsolutePanTiltPositionSpace.push_back(space2(kPanTiltPosition));
  n->SupportedPTZSpaces->AbsoluteZoomPositionSpace.push_back(space1(kZoomPosition, 0));
  n->SupportedPTZSpaces->ContinuousPanTiltVelocitySpace.push_back(space2(kPanTiltVelocity));
  n->SupportedPTZSpaces->ContinuousZoomVelocitySpace.push_back(space1(kZoomVelocity, -1));
  n->MaximumNumberOfPresets = 64;
  n->HomeSupported = false;
  r.PTZNode.push_back(n);
  return SOAP_OK;
}

int __tptz__ContinuousMove(struct soap* soap, _tptz__ContinuousMove* req,
                           _tptz__ContinuousMoveResponse&) {
  const int cam = begin(soap);
  if (cam < 0) return soap->error;
  DeviceImpl& d = *ctxOf(soap)->device;
  if (req == nullptr || !checkProfile(soap, d, cam, req->ProfileToken, true)) return soap->error;
  ViewWindow v;
  if (req->Velocity != nullptr && req->Velocity->PanTilt != nullptr) {
    v.pan = req->Velocity->PanTilt->x;
    v.tilt = req->Velocity->PanTilt->y;
  }
  if (req->Velocity != nullptr && req->Velocity->Zoom != nullptr) v.zoom = req->Velocity->Zoom->x;
  if (!std::isfinite(v.pan) || !std::isfinite(v.tilt) || !std::isfinite(v.zoom)) {
    return fault(soap, "ter:InvalidArgVal", "velocity is not a number");
  }
  std::optional<sharpeyes::core::Duration> timeout;
  if (req->Timeout != nullptr) {
    timeout = parseDuration(*req->Timeout);
    if (!timeout) return fault(soap, "ter:InvalidArgVal", "bad Timeout");
  }
  d.continuousMove(cam, v, timeout);
  return SOAP_OK;
}

int __tptz__Stop(struct soap* soap, _tptz__Stop* req, _tptz__StopResponse&) {
  const int cam = begin(soap);
  if (cam < 0) return soap->error;
  DeviceImpl& d = *ctxOf(soap)->device;
  if (req == nullptr || !checkProfile(soap, d, cam, req->ProfileToken, true)) return soap->error;
  d.stopMove(cam);
  return SOAP_OK;
}

int __tptz__AbsoluteMove(struct soap* soap, _tptz__AbsoluteMove* req,
                         _tptz__AbsoluteMoveResponse&) {
  const int cam = begin(soap);
  if (cam < 0) return soap->error;
  DeviceImpl& d = *ctxOf(soap)->device;
  if (req == nullptr || !checkProfile(soap, d, cam, req->ProfileToken, true)) return soap->error;
  ViewWindow v = d.sim().view(cam);
  if (req->Position != nullptr && req->Position->PanTilt != nullptr) {
    v.pan = req->Position->PanTilt->x;
    v.tilt = req->Position->PanTilt->y;
  }
  if (req->Position != nullptr && req->Position->Zoom != nullptr) v.zoom = req->Position->Zoom->x;
  if (!std::isfinite(v.pan) || !std::isfinite(v.tilt) || !std::isfinite(v.zoom) ||
      std::fabs(v.pan) > 1 || std::fabs(v.tilt) > 1 || v.zoom < 0 || v.zoom > 1) {
    return fault(soap, "ter:InvalidPosition", "position outside the generic space");
  }
  if (!d.absoluteMove(cam, v).ok()) return fault(soap, "ter:NoPTZProfile", "view cannot move");
  return SOAP_OK;
}

int __tptz__GetPresets(struct soap* soap, _tptz__GetPresets* req, _tptz__GetPresetsResponse& r) {
  const int cam = begin(soap);
  if (cam < 0) return soap->error;
  DeviceImpl& d = *ctxOf(soap)->device;
  if (req == nullptr || !checkProfile(soap, d, cam, req->ProfileToken, true)) return soap->error;
  for (const auto& [token, name, view] : d.presets(cam)) {
    auto* p = soap_new_tt__PTZPreset(soap);
    p->token = soap_new_std__string(soap);
    *p->token = token;
    p->Name = soap_new_std__string(soap);
    *p->Name = name;
    p->PTZPosition = vectorOf(soap, view);
    r.Preset.push_back(p);
  }
  return SOAP_OK;
}

int __tptz__SetPreset(struct soap* soap, _tptz__SetPreset* req, _tptz__SetPresetResponse& r) {
  const int cam = begin(soap);
  if (cam < 0) return soap->error;
  DeviceImpl& d = *ctxOf(soap)->device;
  if (req == nullptr || !checkProfile(soap, d, cam, req->ProfileToken, true)) return soap->error;
  r.PresetToken = d.setPreset(cam, req->PresetName != nullptr ? *req->PresetName : "");
  return SOAP_OK;
}

int __tptz__GotoPreset(struct soap* soap, _tptz__GotoPreset* req, _tptz__GotoPresetResponse&) {
  const int cam = begin(soap);
  if (cam < 0) return soap->error;
  DeviceImpl& d = *ctxOf(soap)->device;
  if (req == nullptr || !checkProfile(soap, d, cam, req->ProfileToken, true)) return soap->error;
  if (!d.gotoPreset(cam, req->PresetToken)) return fault(soap, "ter:NoToken", "no such preset");
  return SOAP_OK;
}

int __tptz__GetStatus(struct soap* soap, _tptz__GetStatus* req, _tptz__GetStatusResponse& r) {
  const int cam = begin(soap);
  if (cam < 0) return soap->error;
  DeviceImpl& d = *ctxOf(soap)->device;
  if (req == nullptr || !checkProfile(soap, d, cam, req->ProfileToken, true)) return soap->error;
  r.PTZStatus = soap_new_tt__PTZStatus(soap);
  r.PTZStatus->Position = vectorOf(soap, d.sim().view(cam));
  r.PTZStatus->MoveStatus = soap_new_tt__PTZMoveStatus(soap);
  const bool moving = d.isMoving(cam);
  r.PTZStatus->MoveStatus->PanTilt = soap_new_tt__MoveStatus(soap);
  *r.PTZStatus->MoveStatus->PanTilt = moving ? tt__MoveStatus__MOVING : tt__MoveStatus__IDLE;
  r.PTZStatus->MoveStatus->Zoom = soap_new_tt__MoveStatus(soap);
  *r.PTZStatus->MoveStatus->Zoom = moving ? tt__MoveStatus__MOVING : tt__MoveStatus__IDLE;
  r.PTZStatus->UtcTime = formatTime(d.deviceNow());
  return SOAP_OK;
}

// --- Events ----------------------------------------------------------------------------------

int __tev__CreatePullPointSubscription(struct soap* soap, _tev__CreatePullPointSubscription* req,
                                       _tev__CreatePullPointSubscriptionResponse& r) {
  const int cam = begin(soap);
  if (cam < 0) return soap->error;
  DeviceImpl& d = *ctxOf(soap)->device;
  const auto term = terminationFrom(req != nullptr ? req->InitialTerminationTime : nullptr, d);
  auto id = d.createSubscription(cam, term);
  if (!id.ok()) {
    return soap_receiver_fault_subcode(soap, "ter:MaxNotificationProducersReached",
                                       "too many subscriptions", nullptr);
  }
  r.SubscriptionReference.Address = d.baseUrl(cam) + "/subscription/" + *id;
  // Like Axis firmwares: a reference parameter the client must echo as a header.
  r.SubscriptionReference.ReferenceParameters = soap_new_wsa5__ReferenceParametersType(soap);
  soap_dom_element* sid = soap_elt_new(soap, kAxisEventNs, "SubscriptionId");
  soap_elt_text(sid, soap_strdup(soap, id->c_str()));
  r.SubscriptionReference.ReferenceParameters->__any.push_back(*sid);
  const auto now = d.deviceNow();
  r.wsnt__CurrentTime = formatTime(now);
  r.wsnt__TerminationTime = formatTime(now + term);
  return SOAP_OK;
}

namespace {
std::string subscriptionOf(struct soap* soap) {
  RequestContext* ctx = ctxOf(soap);
  return ctx != nullptr && ctx->service == "subscription" ? ctx->subscriptionId : std::string();
}
std::string deviceTimeOf(DeviceImpl& d, std::chrono::steady_clock::time_point expires) {
  return formatTime(d.deviceNow() + std::chrono::duration_cast<sharpeyes::core::Duration>(
                                        expires - std::chrono::steady_clock::now()));
}
}  // namespace

int __tev__PullMessages(struct soap* soap, _tev__PullMessages* req, _tev__PullMessagesResponse& r) {
  const int cam =
      begin(soap, true,
            "http://www.onvif.org/ver10/events/wsdl/PullPointSubscription/PullMessagesRequest");
  if (cam < 0) return soap->error;
  DeviceImpl& d = *ctxOf(soap)->device;
  const std::string id = subscriptionOf(soap);
  if (id.empty()) return fault(soap, "ter:InvalidArgVal", "PullMessages needs a subscription");
  auto wait = req != nullptr ? parseDuration(req->Timeout) : std::nullopt;
  if (!wait) return fault(soap, "ter:InvalidArgVal", "bad Timeout");
  std::chrono::steady_clock::time_point expires;
  auto changes = d.pull(id, *wait, &expires);
  if (!changes.ok()) {
    return fault(soap, "wsrf-rw:ResourceUnknownFault", "subscription unknown or expired");
  }
  const int limit = req->MessageLimit > 0 ? req->MessageLimit : 1;
  const std::string now = formatTime(d.deviceNow());
  r.CurrentTime = now;
  r.TerminationTime = deviceTimeOf(d, expires);
  for (const auto& c : *changes) {
    if (static_cast<int>(r.wsnt__NotificationMessage.size()) >= limit) break;
    auto* m = soap_new_wsnt__NotificationMessageHolderType(soap);
    m->Topic = soap_new_wsnt__TopicExpressionType(soap);
    m->Topic->__mixed = c.topic;
    m->Topic->Dialect = "http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet";
    auto* msg = soap_new__tt__Message(soap);
    msg->UtcTime = now;
    msg->PropertyOperation = soap_new_tt__PropertyOperation(soap);
    *msg->PropertyOperation =
        c.initialized ? tt__PropertyOperation__Initialized : tt__PropertyOperation__Changed;
    msg->Source = soap_new_tt__ItemList(soap);
    _tt__SimpleItem src;
    src.Name = c.sourceName;
    src.Value = c.sourceValue;
    msg->Source->SimpleItem.push_back(src);
    msg->Data = soap_new_tt__ItemList(soap);
    _tt__SimpleItem data;
    data.Name = "State";  // motion and tamper alike (ONVIF's IsMotion / IsTamper use "State")
    data.Value = c.state ? "true" : "false";
    msg->Data->SimpleItem.push_back(data);
    m->Message.tt__Message = msg;
    r.wsnt__NotificationMessage.push_back(m);
  }
  return SOAP_OK;
}

int __tev__Renew(struct soap* soap, _wsnt__Renew* req, _wsnt__RenewResponse& r) {
  const int cam =
      begin(soap, true, "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/RenewRequest");
  if (cam < 0) return soap->error;
  DeviceImpl& d = *ctxOf(soap)->device;
  const std::string id = subscriptionOf(soap);
  std::chrono::steady_clock::time_point expires;
  const auto term = terminationFrom(req != nullptr ? &req->TerminationTime : nullptr, d);
  if (id.empty() || !d.renewSubscription(id, term, &expires)) {
    return fault(soap, "wsrf-rw:ResourceUnknownFault", "subscription unknown or expired");
  }
  r.TerminationTime = deviceTimeOf(d, expires);
  r.CurrentTime = soap_new_std__string(soap);
  *r.CurrentTime = formatTime(d.deviceNow());
  return SOAP_OK;
}

int __tev__Unsubscribe(struct soap* soap, _wsnt__Unsubscribe*, _wsnt__UnsubscribeResponse&) {
  const int cam = begin(
      soap, true, "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/UnsubscribeRequest");
  if (cam < 0) return soap->error;
  DeviceImpl& d = *ctxOf(soap)->device;
  const std::string id = subscriptionOf(soap);
  if (id.empty() || !d.deleteSubscription(id)) {
    return fault(soap, "wsrf-rw:ResourceUnknownFault", "subscription unknown or expired");
  }
  return SOAP_OK;
}
