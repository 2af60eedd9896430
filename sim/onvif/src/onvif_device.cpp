#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <cmath>
#include <opencv2/imgcodecs.hpp>

#include "device_impl.h"
#include "sharpeyes/core/util.h"
#include "wsseapi-lite.h"

namespace sharpeyes::sim {

namespace ss = onvif::soap_support;
using onvif_device::DeviceImpl;
using Clock = std::chrono::steady_clock;

namespace onvif_device {

namespace {
constexpr float kMaxSpeed = 0.5f;  // view units per second at velocity 1
constexpr auto kMoverTick = std::chrono::milliseconds(40);
constexpr double kFps = 25.0;
constexpr size_t kMaxSubscriptions = 4096;
constexpr auto kMaxPullWait = std::chrono::seconds(10);

ss::Limits serverLimits() {
  ss::Limits l;
  l.ioTimeout = std::chrono::milliseconds(5000);
  l.transferTimeout = std::chrono::milliseconds(10000);
  l.maxMessageBytes = uint64_t{256} * 1024;
  l.maxDepth = 32;
  l.maxOccurs = 256;
  return l;
}

float clampf(float v, float lo, float hi) {
  return std::min(hi, std::max(lo, v));
}

ViewWindow clampView(ViewWindow v) {
  return ViewWindow{clampf(v.pan, -1, 1), clampf(v.tilt, -1, 1), clampf(v.zoom, 0, 1)};
}

int fault(struct soap* soap, const char* subcode, const std::string& reason) {
  return soap_sender_fault_subcode(soap, subcode, soap_strdup(soap, reason.c_str()), nullptr);
}
}  // namespace

DeviceImpl::DeviceImpl(SimServer& sim, OnvifDeviceOptions options)
    : sim_(sim), options_(std::move(options)), startedAt_(Clock::now()) {
  const int n = sim_.cameraCount();
  ptzState_.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    // A PTZ camera is one whose view the simulator lets us set; setting the current view is a
    // no-op for it.
    ptz_.push_back(sim_.setView(i, sim_.view(i)).ok());
    renderers_.emplace_back(sim_.scene(i));
  }
}

DeviceImpl::~DeviceImpl() {
  stop();
}

std::string DeviceImpl::baseUrl(int camera) const {
  return "http://" + options_.address + ":" + std::to_string(httpPort_) + "/onvif/" +
         sim_.cameraName(camera);
}

std::string DeviceImpl::deviceUrl(int index) const {
  return baseUrl(index) + "/device_service";
}

std::string DeviceImpl::endpointReference(int index) const {
  // Stable per camera name and port, formatted as a UUID.
  std::string h = core::sha256Hex(sim_.cameraName(index) + ":" + std::to_string(httpPort_) + ":" +
                                  options_.address);
  return "urn:uuid:" + h.substr(0, 8) + "-" + h.substr(8, 4) + "-4" + h.substr(13, 3) + "-a" +
         h.substr(17, 3) + "-" + h.substr(20, 12);
}

bool DeviceImpl::isPtz(int index) const {
  return index >= 0 && index < static_cast<int>(ptz_.size()) && ptz_[static_cast<size_t>(index)];
}

OnvifDeviceStats DeviceImpl::stats() const {
  OnvifDeviceStats s;
  s.requests = requests;
  s.authRejected = authRejected;
  s.replayRejected = replayRejected;
  s.staleRejected = staleRejected;
  s.digestRejected = digestRejected;
  s.textRejected = textRejected;
  s.probesAnswered = probesAnswered;
  s.referenceParametersEchoed = referenceParametersEchoed;
  std::lock_guard lock(mu_);
  s.subscriptions = subscriptions_.size();
  return s;
}

core::WallTime DeviceImpl::deviceNow() const {
  return core::processClock().now() + options_.clockOffset;
}

int64_t DeviceImpl::frameIndexNow() const {
  const double secs = std::chrono::duration<double>(Clock::now() - startedAt_).count();
  return static_cast<int64_t>(secs * kFps);
}

bool DeviceImpl::motionNow(int camera) {
  const auto objects =
      renderers_[static_cast<size_t>(camera)].truthAt(frameIndexNow(), kFps, sim_.view(camera));
  return std::any_of(objects.begin(), objects.end(),
                     [](const ObjectTruth& o) { return o.visible; });
}

bool DeviceImpl::tamperNow(int camera) {
  const SceneSpec& spec = renderers_[static_cast<size_t>(camera)].spec();
  if (!spec.effects.coveredAt) return false;
  const double t = std::fmod(static_cast<double>(frameIndexNow()) / kFps, spec.loopSeconds);
  return t >= *spec.effects.coveredAt;
}

// --- WS-Security -----------------------------------------------------------------------------

int DeviceImpl::authorize(struct soap* soap) {
  if (options_.username.empty()) return SOAP_OK;
  auto reject = [&](std::atomic<uint64_t>* counter, const std::string& why) {
    ++authRejected;
    if (counter != nullptr) ++*counter;
    return fault(soap, "ter:NotAuthorized", "Sender not authorized: " + why);
  };
  _wsse__UsernameToken* token = soap_wsse_UsernameToken(soap, nullptr);
  if (token == nullptr || token->Username == nullptr || token->Password == nullptr ||
      token->Password->__item == nullptr) {
    return reject(nullptr, "WS-Security UsernameToken required");
  }
  const std::string user = token->Username;
  const std::string password = token->Password->__item;
  const bool userOk = CRYPTO_memcmp(user.data(), options_.username.data(),
                                    std::min(user.size(), options_.username.size())) == 0 &&
                      user.size() == options_.username.size();
  const std::string type = token->Password->Type != nullptr ? token->Password->Type : "";
  if (type.empty() || type.ends_with("#PasswordText")) {
    if (!options_.allowPasswordText) return reject(&textRejected, "PasswordText not allowed");
    const bool ok = password.size() == options_.password.size() &&
                    CRYPTO_memcmp(password.data(), options_.password.data(), password.size()) == 0;
    if (!ok || !userOk) return reject(&digestRejected, "wrong username or password");
    return SOAP_OK;
  }
  if (!type.ends_with("#PasswordDigest")) return reject(nullptr, "unknown password type");
  if (token->Nonce == nullptr || token->Nonce->__item == nullptr ||
      token->wsu__Created == nullptr) {
    return reject(nullptr, "PasswordDigest needs Nonce and Created");
  }
  auto created = core::parseIso8601(token->wsu__Created);
  if (!created.ok()) return reject(&staleRejected, "unreadable Created");
  const core::WallTime now = deviceNow();
  if (*created < now - options_.maxClockSkew) return reject(&staleRejected, "stale Created");
  if (*created > now + options_.maxClockSkew)
    return reject(&staleRejected, "Created in the future");
  auto nonce = ss::base64Decode(token->Nonce->__item);
  if (!nonce.ok() || nonce->empty() || nonce->size() > 64) {
    return reject(nullptr, "bad Nonce");
  }
  const std::string expected = ss::passwordDigest(*nonce, token->wsu__Created, options_.password);
  const bool digestOk = expected.size() == password.size() &&
                        CRYPTO_memcmp(expected.data(), password.data(), expected.size()) == 0;
  if (!digestOk || !userOk) return reject(&digestRejected, "wrong username or password digest");
  // Only a correct digest may enter the nonce cache (a wrong one must not block the real client).
  {
    std::lock_guard lock(mu_);
    const auto t = Clock::now();
    if (nonces_.size() > 100000) {
      std::erase_if(nonces_, [&](const auto& kv) { return kv.second < t; });
    }
    auto [it, inserted] = nonces_.emplace(
        *nonce, t + std::chrono::duration_cast<Clock::duration>(2 * options_.maxClockSkew));
    if (!inserted) {
      if (it->second >= t) return reject(&replayRejected, "replayed nonce");
      it->second = t + std::chrono::duration_cast<Clock::duration>(2 * options_.maxClockSkew);
    }
  }
  return SOAP_OK;
}

// --- PTZ -------------------------------------------------------------------------------------

void DeviceImpl::continuousMove(int camera, const ViewWindow& velocity,
                                std::optional<core::Duration> t) {
  {
    std::lock_guard lock(mu_);
    PtzState& s = ptzState_[static_cast<size_t>(camera)];
    s.velocity = ViewWindow{clampf(velocity.pan, -1, 1), clampf(velocity.tilt, -1, 1),
                            clampf(velocity.zoom, -1, 1)};
    s.moving = velocity.pan != 0 || velocity.tilt != 0 || velocity.zoom != 0;
    const core::Duration d = t.value_or(std::chrono::seconds(60));
    s.until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::clamp<core::Duration>(
                                 d, core::Duration::zero(), std::chrono::minutes(10)));
  }
  moveCv_.notify_all();
}

void DeviceImpl::stopMove(int camera) {
  std::lock_guard lock(mu_);
  ptzState_[static_cast<size_t>(camera)].moving = false;
}

bool DeviceImpl::isMoving(int camera) {
  std::lock_guard lock(mu_);
  return ptzState_[static_cast<size_t>(camera)].moving;
}

core::Result<void> DeviceImpl::absoluteMove(int camera, const ViewWindow& position) {
  stopMove(camera);
  return sim_.setView(camera, clampView(position));
}

std::string DeviceImpl::setPreset(int camera, const std::string& name) {
  const ViewWindow v = sim_.view(camera);
  std::lock_guard lock(mu_);
  PtzState& s = ptzState_[static_cast<size_t>(camera)];
  for (auto& [token, p] : s.presets) {
    if (p.first == name) {
      p.second = v;
      return token;
    }
  }
  std::string token = "preset" + std::to_string(s.nextPreset++);
  s.presets[token] = {name.empty() ? token : name, v};
  return token;
}

bool DeviceImpl::gotoPreset(int camera, const std::string& token) {
  ViewWindow v;
  {
    std::lock_guard lock(mu_);
    PtzState& s = ptzState_[static_cast<size_t>(camera)];
    auto it = s.presets.find(token);
    if (it == s.presets.end()) return false;
    v = it->second.second;
    s.moving = false;
  }
  return sim_.setView(camera, v).ok();
}

std::vector<std::tuple<std::string, std::string, ViewWindow>> DeviceImpl::presets(int camera) {
  std::lock_guard lock(mu_);
  std::vector<std::tuple<std::string, std::string, ViewWindow>> out;
  for (const auto& [token, p] : ptzState_[static_cast<size_t>(camera)].presets) {
    out.emplace_back(token, p.first, p.second);
  }
  return out;
}

void DeviceImpl::moverLoop() {
  auto last = Clock::now();
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const bool any =
        std::any_of(ptzState_.begin(), ptzState_.end(), [](const PtzState& s) { return s.moving; });
    if (!any) {
      moveCv_.wait(lock);
      last = Clock::now();
      continue;
    }
    moveCv_.wait_for(lock, kMoverTick);
    const auto now = Clock::now();
    const float dt = std::chrono::duration<float>(now - last).count();
    last = now;
    for (size_t i = 0; i < ptzState_.size(); ++i) {
      PtzState& s = ptzState_[i];
      if (!s.moving) continue;
      if (now >= s.until) {
        s.moving = false;
        continue;
      }
      const int cam = static_cast<int>(i);
      ViewWindow v = sim_.view(cam);
      v.pan += s.velocity.pan * kMaxSpeed * dt;
      v.tilt += s.velocity.tilt * kMaxSpeed * dt;
      v.zoom += s.velocity.zoom * kMaxSpeed * dt;
      (void)sim_.setView(cam, clampView(v));
    }
  }
}

// --- Events ----------------------------------------------------------------------------------

core::Result<std::string> DeviceImpl::createSubscription(int camera, core::Duration termination) {
  std::lock_guard lock(mu_);
  const auto now = Clock::now();
  std::erase_if(subscriptions_, [&](const auto& kv) { return kv.second.expires < now; });
  if (subscriptions_.size() >= kMaxSubscriptions) {
    return core::makeError(core::ErrorCode::kResourceExhausted, "too many subscriptions");
  }
  Subscription s;
  s.id = std::to_string(nextSubscription_++) + "-" + core::newId().substr(0, 8);
  s.camera = camera;
  s.expires = now + std::chrono::duration_cast<Clock::duration>(std::clamp<core::Duration>(
                        termination, std::chrono::seconds(1), std::chrono::hours(1)));
  const std::string id = s.id;
  subscriptions_.emplace(id, std::move(s));
  return id;
}

bool DeviceImpl::renewSubscription(const std::string& id, core::Duration termination,
                                   Clock::time_point* expires) {
  std::lock_guard lock(mu_);
  auto it = subscriptions_.find(id);
  if (it == subscriptions_.end() || it->second.expires < Clock::now()) return false;
  it->second.expires =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::clamp<core::Duration>(
                         termination, std::chrono::seconds(1), std::chrono::hours(1)));
  *expires = it->second.expires;
  return true;
}

bool DeviceImpl::deleteSubscription(const std::string& id) {
  std::lock_guard lock(mu_);
  return subscriptions_.erase(id) > 0;
}

core::Result<std::vector<DeviceImpl::Change>> DeviceImpl::pull(const std::string& id,
                                                               core::Duration wait,
                                                               Clock::time_point* expires) {
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::clamp<core::Duration>(wait, core::Duration::zero(), kMaxPullWait));
  for (;;) {
    int camera = -1;
    {
      std::lock_guard lock(mu_);
      auto it = subscriptions_.find(id);
      if (it == subscriptions_.end() || it->second.expires < Clock::now()) {
        return core::makeError(core::ErrorCode::kNotFound, "no such subscription");
      }
      camera = it->second.camera;
    }
    const bool motion = motionNow(camera);
    const bool tamper = tamperNow(camera);
    std::vector<Change> changes;
    {
      std::lock_guard lock(mu_);
      auto it = subscriptions_.find(id);
      if (it == subscriptions_.end()) {
        return core::makeError(core::ErrorCode::kNotFound, "no such subscription");
      }
      Subscription& s = it->second;
      *expires = s.expires;
      if (!s.motion || *s.motion != motion) {
        changes.push_back(
            Change{"tns1:VideoSource/MotionAlarm", "Source", "vs0", motion, !s.motion.has_value()});
        s.motion = motion;
      }
      if (!s.tamper || *s.tamper != tamper) {
        changes.push_back(Change{"tns1:VideoSource/GlobalSceneChange/ImagingService", "Source",
                                 "vs0", tamper, !s.tamper.has_value()});
        s.tamper = tamper;
      }
    }
    if (!changes.empty() || Clock::now() >= deadline || stopping_) return changes;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // scene time advances
  }
}

// --- Snapshot --------------------------------------------------------------------------------

int DeviceImpl::serveSnapshot(struct soap* soap, int camera) {
  constexpr int kW = 640, kH = 360;
  std::vector<uint8_t> bgr(static_cast<size_t>(kW * kH * 3));
  renderers_[static_cast<size_t>(camera)].render(frameIndexNow(), kFps, kW, kH, bgr.data(),
                                                 sim_.view(camera));
  std::vector<uint8_t> jpeg;
  cv::imencode(".jpg", cv::Mat(kH, kW, CV_8UC3, bgr.data()), jpeg);
  soap->http_content = "image/jpeg";
  soap->length = jpeg.size();
  if (soap_response(soap, SOAP_FILE) ||
      soap_send_raw(soap, reinterpret_cast<const char*>(jpeg.data()), jpeg.size()) ||
      soap_end_send(soap)) {
    return soap_closesock(soap);
  }
  return SOAP_OK;
}

// --- Serving ---------------------------------------------------------------------------------

namespace {
// "/onvif/cam01/media" -> camera index, service
void parsePath(DeviceImpl& d, SimServer& sim, const char* path, RequestContext& ctx) {
  ctx.device = &d;
  std::string p = path != nullptr ? path : "";
  if (auto q = p.find('?'); q != std::string::npos) p.resize(q);
  const std::string prefix = "/onvif/";
  if (!p.starts_with(prefix)) return;
  p = p.substr(prefix.size());
  const auto slash = p.find('/');
  if (slash == std::string::npos) return;
  const std::string cam = p.substr(0, slash);
  std::string rest = p.substr(slash + 1);
  for (int i = 0; i < sim.cameraCount(); ++i) {
    if (sim.cameraName(i) == cam) {
      ctx.camera = i;
      break;
    }
  }
  if (rest.starts_with("subscription/")) {
    ctx.service = "subscription";
    ctx.subscriptionId = rest.substr(std::string("subscription/").size());
  } else {
    ctx.service = rest;
  }
}

int httpGet(struct soap* soap) {
  auto* ctx = static_cast<RequestContext*>(soap->user);
  if (ctx == nullptr || ctx->device == nullptr) return 404;
  parsePath(*ctx->device, ctx->device->sim(), soap->path, *ctx);
  if (ctx->camera >= 0 && ctx->service == "snapshot.jpg") {
    return ctx->device->serveSnapshot(soap, ctx->camera);
  }
  return 404;
}
}  // namespace

core::Result<void> DeviceImpl::startServing() {
  master_ = ss::newContext(serverLimits());
  master_->bind_flags = SO_REUSEADDR;
  if (!soap_valid_socket(
          soap_bind(master_.get(), options_.address.c_str(), options_.httpPort, 128))) {
    return core::makeError(core::ErrorCode::kUnavailable, "onvif sim: cannot bind HTTP " +
                                                              options_.address + ":" +
                                                              std::to_string(options_.httpPort));
  }
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  getsockname(master_->master, reinterpret_cast<sockaddr*>(&sa), &len);
  httpPort_ = ntohs(sa.sin_port);
  master_->accept_timeout = -200000;  // check stopping_ every 200 ms

  if (options_.discovery) {
    udp_ = ss::newContext(ss::Limits{}, SOAP_IO_UDP);
    udp_->bind_flags = SO_REUSEADDR;
    if (!soap_valid_socket(soap_bind(udp_.get(), nullptr, options_.discoveryPort, 16))) {
      return core::makeError(
          core::ErrorCode::kUnavailable,
          "onvif sim: cannot bind WS-Discovery UDP port " + std::to_string(options_.discoveryPort));
    }
    sockaddr_in ua{};
    socklen_t ulen = sizeof ua;
    getsockname(udp_->master, reinterpret_cast<sockaddr*>(&ua), &ulen);
    discoveryPort_ = ntohs(ua.sin_port);
    ip_mreq mreq{};
    inet_pton(AF_INET, options_.multicastGroup.c_str(), &mreq.imr_multiaddr);
    inet_pton(AF_INET, options_.multicastInterface.c_str(), &mreq.imr_interface);
    if (setsockopt(udp_->master, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) != 0) {
      spdlog::warn("onvif sim: cannot join {} on {} (unicast probes only)", options_.multicastGroup,
                   options_.multicastInterface);
    }
  }
  for (int i = 0; i < std::max(1, options_.threads); ++i) {
    workers_.emplace_back([this] { workerLoop(); });
  }
  acceptor_ = std::thread([this] { acceptLoop(); });
  mover_ = std::thread([this] { moverLoop(); });
  if (udp_) {
    answerer_ = std::thread([this] { answerLoop(); });
    discovery_ = std::thread([this] { discoveryLoop(); });
  }
  return core::okResult();
}

void DeviceImpl::acceptLoop() {
  while (!stopping_) {
    SOAP_SOCKET s = soap_accept(master_.get());
    if (!soap_valid_socket(s)) continue;  // timeout (or a failed accept): poll stopping_
    {
      std::lock_guard lock(queueMu_);
      sockets_.push_back(s);
    }
    queueCv_.notify_one();
  }
}

void DeviceImpl::workerLoop() {
  ss::SoapPtr soap(soap_copy(master_.get()));
  soap->fget = httpGet;
  for (;;) {
    SOAP_SOCKET s;
    {
      std::unique_lock lock(queueMu_);
      queueCv_.wait(lock, [&] { return stopping_ || !sockets_.empty(); });
      if (stopping_ && sockets_.empty()) return;
      s = sockets_.front();
      sockets_.pop_front();
    }
    soap->socket = s;
    serveOne(soap.get());
  }
}

void DeviceImpl::serveOne(struct soap* soap) {
  RequestContext ctx;
  ctx.device = this;
  soap->user = &ctx;
  ++requests;
  // soap_begin_serve reads the HTTP header (and runs fget for GET); the path is then known.
  if (soap_begin_serve(soap) == SOAP_OK) {
    parsePath(*this, sim_, soap->path, ctx);
    if (soap_serve_request(soap) != SOAP_OK && soap->error != SOAP_STOP) soap_send_fault(soap);
  } else if (soap->error != SOAP_EOF && soap->error != SOAP_STOP && soap->error != SOAP_OK) {
    soap_send_fault(soap);
  }
  soap_destroy(soap);
  soap_end(soap);
  soap_closesock(soap);
  soap->user = nullptr;
}

namespace {
constexpr int kAppMaxDelayMs = 500;
constexpr size_t kMaxPendingMatches = size_t{64} * 1024;

void sendProbeMatch(DeviceImpl& d, int camera, const std::string& to,
                    const std::string& relatesTo) {
  ss::SoapPtr reply = ss::newContext(ss::Limits{}, SOAP_IO_UDP);
  wsdd__ProbeMatchesType matches;
  soap_wsdd_init_ProbeMatches(reply.get(), &matches);
  const std::string scopes =
      "onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/Profile/Streaming "
      "onvif://www.onvif.org/name/" +
      d.sim().cameraName(camera) + " onvif://www.onvif.org/hardware/" + d.options().model +
      " onvif://www.onvif.org/mfr/" + d.options().manufacturer +
      " onvif://www.onvif.org/location/sim" +
      (d.isPtz(camera) ? " onvif://www.onvif.org/type/ptz" : "");
  const std::string endpoint = d.endpointReference(camera);
  const std::string xaddr = d.deviceUrl(camera);
  soap_wsdd_add_ProbeMatch(reply.get(), &matches, endpoint.c_str(),
                           "dn:NetworkVideoTransmitter tds:Device", scopes.c_str(), nullptr,
                           xaddr.c_str(), 1);
  // The plugin's own APP_MAX_DELAY sleep is compiled out (onvif/CMakeLists.txt): the delay was
  // applied when this answer was scheduled.
  if (soap_wsdd_ProbeMatches(reply.get(), to.c_str(), soap_wsa_rand_uuid(reply.get()),
                             relatesTo.empty() ? nullptr : relatesTo.c_str(), nullptr,
                             &matches) == SOAP_OK) {
    ++d.probesAnswered;
  }
}

class ProbeResponder : public ss::WsddHandler {
 public:
  explicit ProbeResponder(DeviceImpl& d) : d_(d) {}

  soap_wsdd_mode onProbe(struct soap* soap, const char* messageId, const char*, const char* types,
                         const char*, const char*, struct wsdd__ProbeMatchesType*) override {
    // Empty Types matches everything; otherwise one of ours must be asked for.
    const std::string t = types != nullptr ? types : "";
    if (!t.empty() && t.find("NetworkVideoTransmitter") == std::string::npos &&
        t.find("Device") == std::string::npos) {
      return SOAP_WSDD_ADHOC;
    }
    char host[INET6_ADDRSTRLEN] = {0};
    uint16_t port = 0;
    if (soap->peer.addr.sa_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&soap->peer.addr);
      inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
      port = ntohs(in->sin_port);
    } else {
      return SOAP_WSDD_ADHOC;
    }
    // The listener goes straight back to listening; a sender thread answers later.
    d_.scheduleProbeMatches("soap.udp://" + std::string(host) + ":" + std::to_string(port),
                            messageId != nullptr ? messageId : "");
    return SOAP_WSDD_ADHOC;
  }

 private:
  DeviceImpl& d_;
};
}  // namespace

void DeviceImpl::scheduleProbeMatches(const std::string& to, const std::string& relatesTo) {
  // WS-Discovery 2005/04 §5.2 (APP_MAX_DELAY = 500 ms): a target service waits a random time
  // before answering a probe, so that a whole network's answers do not arrive at once. Every
  // simulated camera stands for one device, so each gets its own delay: 100 cameras' answers are
  // spread over 500 ms (not queued one after another, and not sent as one burst).
  const auto now = Clock::now();
  {
    std::lock_guard lock(answerMu_);
    // A probe flood must not grow the queue without bound: beyond this, probes go unanswered.
    if (pending_.size() > kMaxPendingMatches) return;
    std::uniform_int_distribution<int> delayMs(0, kAppMaxDelayMs - 1);
    for (int i = 0; i < cameraCount(); ++i) {
      pending_.emplace(now + std::chrono::milliseconds(delayMs(rng_)),
                       PendingMatch{i, to, relatesTo});
    }
  }
  answerCv_.notify_one();
}

void DeviceImpl::answerLoop() {
  std::unique_lock lock(answerMu_);
  while (!stopping_) {
    if (pending_.empty()) {
      answerCv_.wait(lock);
      continue;
    }
    const auto due = pending_.begin()->first;
    if (Clock::now() < due) {
      answerCv_.wait_until(lock, due);
      continue;
    }
    PendingMatch m = std::move(pending_.begin()->second);
    pending_.erase(pending_.begin());
    lock.unlock();
    sendProbeMatch(*this, m.camera, m.to, m.relatesTo);
    lock.lock();
  }
}

void DeviceImpl::discoveryLoop() {
  ProbeResponder responder(*this);
  udp_->user = &responder;
  while (!stopping_) {
    soap_wsdd_listen(udp_.get(), -200000);
  }
  udp_->user = nullptr;
}

void DeviceImpl::stop() {
  if (stopping_.exchange(true)) return;
  {
    // Taking the locks orders the flag before the waits below it (no lost wake-up).
    std::lock_guard a(mu_);
    std::lock_guard b(queueMu_);
    std::lock_guard c(answerMu_);
  }
  moveCv_.notify_all();
  queueCv_.notify_all();
  answerCv_.notify_all();
  if (acceptor_.joinable()) acceptor_.join();
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
  if (mover_.joinable()) mover_.join();
  if (discovery_.joinable()) discovery_.join();
  if (answerer_.joinable()) answerer_.join();
  std::lock_guard lock(queueMu_);
  for (SOAP_SOCKET s : sockets_) close(s);
  sockets_.clear();
}

}  // namespace onvif_device

core::Result<std::unique_ptr<OnvifDevice>> OnvifDevice::start(SimServer& sim,
                                                              const OnvifDeviceOptions& options) {
  auto d = std::make_unique<DeviceImpl>(sim, options);
  if (auto r = d->startServing(); !r.ok()) {
    d->stop();
    return r.error();
  }
  return std::unique_ptr<OnvifDevice>(std::move(d));
}

core::Result<std::unique_ptr<OnvifDevice>> startOnvifSimulator(SimServer& sim,
                                                               const OnvifDeviceOptions& options) {
  auto d = OnvifDevice::start(sim, options);
  if (!d.ok()) return d.error();
  for (int i = 0; i < sim.cameraCount(); ++i) {
    spdlog::info("onvif sim: {} {}{}", sim.cameraName(i), (*d)->deviceUrl(i),
                 (*d)->isPtz(i) ? " (PTZ)" : "");
  }
  if (options.discovery) {
    spdlog::info("onvif sim: WS-Discovery on UDP {} (group {} on {})", (*d)->discoveryPort(),
                 options.multicastGroup, options.multicastInterface);
  }
  return d;
}

}  // namespace sharpeyes::sim
