// The ONVIF client against the simulated device, end to end over loopback: discovery (multicast
// and unicast), device/media, PTZ moving the simulator's view, pull-point events following the
// scene's ground truth, and authentication failures reported clearly.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "process.h"
#include "sharpeyes/onvif/client.h"
#include "sharpeyes/onvif/discovery.h"
#include "sharpeyes/onvif/runtime.h"
#include "sim_fixture.h"

namespace sharpeyes {
namespace {

using namespace std::chrono_literals;
using onvif::CallOptions;
using onvif::Credentials;
using onvif::DeviceClient;
using testing::waitFor;

uint16_t freeUdpPort();

class OnvifSimTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto s = sim::SimServer::start(testing::smallSimOptions(2, {0}));
    ASSERT_TRUE(s.ok()) << s.error().describe();
    sim_ = std::move(*s).release();
    sim::OnvifDeviceOptions o;
    o.username = "admin";
    o.password = "s3cret";
    o.discoveryPort = freeUdpPort();  // a private port: parallel tests never see each other
    o.clockOffset = 17min;            // beyond the 5 min skew: the client must learn the offset
    auto d = sim::OnvifDevice::start(*sim_, o);
    ASSERT_TRUE(d.ok()) << d.error().describe();
    device_ = std::move(*d).release();
  }
  static void TearDownTestSuite() {
    delete device_;
    device_ = nullptr;
    delete sim_;
    sim_ = nullptr;
  }

  static Credentials creds() { return {"admin", "s3cret"}; }
  static CallOptions fast() {
    CallOptions o;
    o.connectTimeout = 2000ms;
    o.ioTimeout = 5000ms;
    return o;
  }

  static sim::SimServer* sim_;
  static sim::OnvifDevice* device_;
};
sim::SimServer* OnvifSimTest::sim_ = nullptr;
sim::OnvifDevice* OnvifSimTest::device_ = nullptr;

uint16_t freeUdpPort() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  ::close(fd);
  return bound ? ntohs(a.sin_port) : 0;
}

TEST_F(OnvifSimTest, ResolvesMainAndSubStreamsWithClockOffset) {
  auto r = onvif::resolveStreams(device_->deviceUrl(1), creds(), fast());
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->mainUri, sim_->mainUrl(1));
  EXPECT_EQ(r->subUri, sim_->subUrl(1));
  EXPECT_EQ(r->mainProfile, "main");
  EXPECT_EQ(r->subProfile, "sub");
  EXPECT_EQ(r->device.manufacturer, "sharpeyes");
  EXPECT_EQ(r->device.model, "SimCam-1");
  EXPECT_FALSE(r->device.serialNumber.empty());
  EXPECT_NE(r->snapshotUri.find("/snapshot.jpg"), std::string::npos);
  // The device runs 17 minutes ahead; the digest was accepted only because Created used it.
  EXPECT_NEAR(std::chrono::duration<double>(r->clockOffset).count(), 17 * 60.0, 3.0);
}

TEST_F(OnvifSimTest, WithoutClockSyncTheDigestIsStale) {
  DeviceClient c(device_->deviceUrl(0), creds(), fast());
  auto info = c.deviceInformation();
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().code, core::ErrorCode::kPermissionDenied);
  EXPECT_NE(info.error().message.find("stale Created"), std::string::npos) << info.error().message;
  ASSERT_TRUE(c.syncClock().ok());
  auto again = c.deviceInformation();
  ASSERT_TRUE(again.ok()) << again.error().describe();
}

TEST_F(OnvifSimTest, ServicesProfilesAndCapabilities) {
  DeviceClient c(device_->deviceUrl(0), creds(), fast());
  ASSERT_TRUE(c.syncClock().ok());
  auto s = c.services();
  ASSERT_TRUE(s.ok()) << s.error().describe();
  EXPECT_EQ(s->media, device_->deviceUrl(0).substr(0, device_->deviceUrl(0).rfind('/')) + "/media");
  EXPECT_FALSE(s->ptz.empty());
  EXPECT_TRUE(s->pullPointSupported);
  auto p = c.profiles();
  ASSERT_TRUE(p.ok()) << p.error().describe();
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[0].encoding, "H264");
  EXPECT_EQ((*p)[0].width, 1920);
  EXPECT_EQ((*p)[1].width, 640);
  EXPECT_FALSE((*p)[0].ptzNodeToken.empty());
  auto snap = c.snapshotUri("main");
  ASSERT_TRUE(snap.ok());
  auto bad = c.streamUri("nope");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("NoProfile"), std::string::npos) << bad.error().message;
}

TEST_F(OnvifSimTest, AuthenticationFailuresAreClear) {
  {
    DeviceClient c(device_->deviceUrl(0), {"admin", "wrong"}, fast());
    ASSERT_TRUE(c.syncClock().ok());
    auto r = c.deviceInformation();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, core::ErrorCode::kPermissionDenied);
    EXPECT_NE(r.error().message.find("authentication failed"), std::string::npos);
    EXPECT_NE(r.error().message.find("wrong username or password digest"), std::string::npos)
        << r.error().message;
    EXPECT_EQ(r.error().message.find("wrong\""), std::string::npos);  // no password echoed
  }
  {
    CallOptions text = fast();
    text.usePasswordText = true;
    DeviceClient c(device_->deviceUrl(0), creds(), text);
    ASSERT_TRUE(c.syncClock().ok());
    auto r = c.deviceInformation();
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("PasswordText not allowed"), std::string::npos)
        << r.error().message;
  }
  {
    DeviceClient c(device_->deviceUrl(0), {}, fast());
    auto r = c.deviceInformation();
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("UsernameToken required"), std::string::npos)
        << r.error().message;
  }
  const auto before = device_->stats();
  EXPECT_GE(before.digestRejected, 1u);
  EXPECT_GE(before.textRejected, 1u);
  EXPECT_GE(before.staleRejected, 0u);
}

TEST_F(OnvifSimTest, MulticastDiscoveryOnLoopbackFindsEveryCamera) {
  onvif::DiscoveryOptions o;
  o.port = device_->discoveryPort();
  o.interfaceAddress = "127.0.0.1";
  // Each camera answers within APP_MAX_DELAY (500 ms); the rest is headroom for a loaded machine.
  o.wait = 3000ms;
  auto found = onvif::discover(o);
  ASSERT_TRUE(found.ok()) << found.error().describe();
  ASSERT_EQ(found->size(), 2u);
  std::set<std::string> xaddrs;
  for (const auto& d : *found) {
    ASSERT_FALSE(d.xaddrs.empty());
    xaddrs.insert(d.xaddrs.front());
    EXPECT_TRUE(d.endpoint.starts_with("urn:uuid:"));
    EXPECT_EQ(d.model, "SimCam-1");
    EXPECT_FALSE(d.name.empty());
  }
  EXPECT_TRUE(xaddrs.count(device_->deviceUrl(0)));
  EXPECT_TRUE(xaddrs.count(device_->deviceUrl(1)));
  onvif::enrich(*found, creds(), fast());
  for (const auto& d : *found) {
    EXPECT_TRUE(d.error.empty()) << d.error;
    EXPECT_EQ(d.manufacturer, "sharpeyes");
    EXPECT_TRUE(d.serialNumber.starts_with("SIM-")) << d.serialNumber;
  }
}

TEST_F(OnvifSimTest, UnicastProbe) {
  onvif::DiscoveryOptions o;
  o.wait = 3000ms;  // as above: APP_MAX_DELAY (500 ms) plus headroom
  auto found = onvif::probe("127.0.0.1:" + std::to_string(device_->discoveryPort()), o);
  ASSERT_TRUE(found.ok()) << found.error().describe();
  EXPECT_EQ(found->size(), 2u);
}

TEST_F(OnvifSimTest, PtzMovesTheSimulatorView) {
  DeviceClient c(device_->deviceUrl(0), creds(), fast());
  ASSERT_TRUE(c.syncClock().ok());
  auto nodes = c.ptzNodes();
  ASSERT_TRUE(nodes.ok()) << nodes.error().describe();
  ASSERT_EQ(nodes->size(), 1u);
  EXPECT_TRUE((*nodes)[0].absolutePanTilt);
  EXPECT_TRUE((*nodes)[0].continuousPanTilt);

  ASSERT_TRUE(c.absoluteMove("main", {0.5f, -0.25f, 0.3f}).ok());
  EXPECT_FLOAT_EQ(sim_->view(0).pan, 0.5f);
  EXPECT_FLOAT_EQ(sim_->view(0).tilt, -0.25f);
  EXPECT_FLOAT_EQ(sim_->view(0).zoom, 0.3f);

  auto preset = c.setPreset("main", "gate");
  ASSERT_TRUE(preset.ok()) << preset.error().describe();
  ASSERT_TRUE(c.absoluteMove("main", {-0.5f, 0, 0}).ok());
  ASSERT_TRUE(c.continuousMove("main", {1.0f, 0, 0}, 20s).ok());
  EXPECT_TRUE(waitFor([&] { return sim_->view(0).pan > 0.0f; }, 10s)) << sim_->view(0).pan;
  auto moving = c.ptzStatus("main");
  ASSERT_TRUE(moving.ok());
  ASSERT_TRUE(c.stop("main").ok());
  // Stopped: the view no longer changes.
  const float stoppedAt = sim_->view(0).pan;
  auto status = c.ptzStatus("main");
  ASSERT_TRUE(status.ok());
  EXPECT_FALSE(status->moving);
  ASSERT_TRUE(status->position.has_value());
  EXPECT_NEAR(status->position->pan, sim_->view(0).pan, 1e-4);
  EXPECT_NEAR(sim_->view(0).pan, stoppedAt, 0.05f);

  auto list = c.presets("main");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "gate");
  ASSERT_TRUE(c.gotoPreset("main", *preset).ok());
  EXPECT_FLOAT_EQ(sim_->view(0).pan, 0.5f);
  EXPECT_FLOAT_EQ(sim_->view(0).tilt, -0.25f);

  // A fixed camera offers no PTZ service.
  DeviceClient fixed(device_->deviceUrl(1), creds(), fast());
  ASSERT_TRUE(fixed.syncClock().ok());
  auto none = fixed.absoluteMove("main", {0.1f, 0, 0});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, core::ErrorCode::kUnsupported);
}

TEST_F(OnvifSimTest, PullPointEventsFollowTheScene) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<core::Event> events;
  std::vector<onvif::WatchState> states;
  // Declared after the state its callbacks touch: destroyed first, it joins its workers
  // (which deliver the watch's final states) before that state goes.
  onvif::OnvifRuntime runtime(2);
  onvif::EventSource src;
  src.camera = *core::CameraId::parse("cam02");
  src.division = *core::DivisionCode::parse("510603101201");
  src.address = device_->deviceUrl(1);
  src.credentials = creds();
  src.call = fast();
  src.watch.pollInterval = 150ms;
  const uint64_t id = runtime.watchEvents(
      src,
      [&](const core::Event& e) {
        std::lock_guard lock(mu);
        events.push_back(e);
        cv.notify_all();
      },
      [&](onvif::WatchState s, const std::string&) {
        std::lock_guard lock(mu);
        states.push_back(s);
        cv.notify_all();
      });
  auto has = [&](core::EventPhase phase) {
    return std::any_of(events.begin(), events.end(), [&](const core::Event& e) {
      return e.type == core::EventType::kMotion && e.phase == phase;
    });
  };
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(
        lock, 30s, [&] { return has(core::EventPhase::kStart) && has(core::EventPhase::kEnd); }))
        << "events: " << events.size();
    const core::Event* start = nullptr;
    const core::Event* end = nullptr;
    for (const auto& e : events) {
      if (e.type != core::EventType::kMotion) continue;
      if (e.phase == core::EventPhase::kStart && start == nullptr) start = &e;
      if (e.phase == core::EventPhase::kEnd && start != nullptr && e.id == start->id) end = &e;
    }
    ASSERT_NE(start, nullptr);
    EXPECT_EQ(start->camera.str(), "cam02");
    EXPECT_EQ(start->division.str(), "510603101201");
    EXPECT_EQ(start->attributes.at("origin"), "camera");
    EXPECT_EQ(start->attributes.at("topic"), "tns1:VideoSource/MotionAlarm");
    if (end != nullptr) {
      EXPECT_GE(*end->end, start->start);
    }
    // The device clock runs 17 minutes ahead: event times must be on our clock nonetheless.
    const auto skew = start->start - core::processClock().now();
    EXPECT_LT(std::chrono::abs(skew), 2min) << "event time not moved to our clock";
    EXPECT_EQ(states.front(), onvif::WatchState::kConnecting);
    EXPECT_NE(std::find(states.begin(), states.end(), onvif::WatchState::kSubscribed),
              states.end());
  }
  EXPECT_EQ(device_->stats().subscriptions, 1u);
  runtime.unwatch(id);
  EXPECT_TRUE(waitFor([&] { return device_->stats().subscriptions == 0; }, 10s));
}

TEST(OnvifSimTamper, CoveredLensArrivesAsTamperEvents) {
  // Its own simulator: one camera whose lens is covered for the second half of each 4 s loop.
  auto opts = testing::smallSimOptions(1, {});
  sim::SceneSpec scene = testing::blinkingScene(11);
  scene.effects.coveredAt = 2.0;
  opts.scenes = {scene};
  auto simServer = sim::SimServer::start(opts);
  ASSERT_TRUE(simServer.ok()) << simServer.error().describe();
  sim::OnvifDeviceOptions o;
  o.password = "tamper-pw";
  o.discovery = false;
  auto device = sim::OnvifDevice::start(**simServer, o);
  ASSERT_TRUE(device.ok()) << device.error().describe();

  std::mutex mu;
  std::condition_variable cv;
  std::vector<core::Event> tamper;
  // Declared after the state its callbacks touch: destroyed first, it joins its workers
  // (which deliver the watch's final states) before that state goes.
  onvif::OnvifRuntime runtime(1);
  onvif::EventSource src;
  src.camera = *core::CameraId::parse("cam01");
  src.division = *core::DivisionCode::parse("510603101201");
  src.address = (*device)->deviceUrl(0);
  src.credentials = {"admin", "tamper-pw"};
  src.watch.pollInterval = 150ms;
  const auto id = runtime.watchEvents(src, [&](const core::Event& e) {
    if (e.type != core::EventType::kTamper) return;
    std::lock_guard lock(mu);
    tamper.push_back(e);
    cv.notify_all();
  });
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 30s,
                          [&] {
                            return std::any_of(tamper.begin(), tamper.end(),
                                               [](const core::Event& e) {
                                                 return e.phase == core::EventPhase::kEnd;
                                               });
                          }))
      << "tamper events: " << tamper.size();
  const auto end = std::find_if(tamper.begin(), tamper.end(), [](const core::Event& e) {
    return e.phase == core::EventPhase::kEnd;
  });
  const auto start = std::find_if(tamper.begin(), tamper.end(), [&](const core::Event& e) {
    return e.phase == core::EventPhase::kStart && e.id == end->id;
  });
  ASSERT_NE(start, tamper.end()) << "an end without its start";
  EXPECT_EQ(start->attributes.at("topic"), "tns1:VideoSource/GlobalSceneChange/ImagingService");
  EXPECT_EQ(start->attributes.at("origin"), "camera");
  EXPECT_EQ(start->camera.str(), "cam01");
  lock.unlock();
  runtime.unwatch(id);
}

TEST_F(OnvifSimTest, EventWatchReportsAuthFailureAndRetries) {
  std::mutex mu;
  std::condition_variable cv;
  std::string detail;
  // Declared after the state its callbacks touch: destroyed first, it joins its workers
  // (which deliver the watch's final states) before that state goes.
  onvif::OnvifRuntime runtime(1);
  onvif::EventSource src;
  src.camera = *core::CameraId::parse("cam01");
  src.address = device_->deviceUrl(0);
  src.credentials = {"admin", "nope"};
  src.call = fast();
  runtime.watchEvents(src, {}, [&](onvif::WatchState s, const std::string& d) {
    if (s != onvif::WatchState::kRetrying) return;
    std::lock_guard lock(mu);
    detail = d;
    cv.notify_all();
  });
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 20s, [&] { return !detail.empty(); }));
  EXPECT_NE(detail.find("permission_denied"), std::string::npos) << detail;
}

// --- OnvifRuntime as the gateway uses it ----------------------------------------------------

// Blocks the runtime's only worker until released, to make requests queue behind it. Declared
// after the runtime, it goes first: the worker shares its state (it may still be leaving the task
// when the blocker goes), and an early return of the test releases it, so that the runtime's
// destructor never joins a worker parked on it.
class WorkerBlocker {
 public:
  explicit WorkerBlocker(onvif::OnvifRuntime& runtime) {
    runtime.post([s = state_] {
      std::unique_lock lock(s->mu);
      s->started = true;
      s->cv.notify_all();
      s->cv.wait(lock, [&] { return s->released; });
    });
    std::unique_lock lock(state_->mu);
    state_->cv.wait(lock, [&] { return state_->started; });
  }
  ~WorkerBlocker() { release(); }
  WorkerBlocker(const WorkerBlocker&) = delete;
  WorkerBlocker& operator=(const WorkerBlocker&) = delete;
  void release() {
    std::lock_guard lock(state_->mu);
    state_->released = true;
    state_->cv.notify_all();
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    bool started = false;
    bool released = false;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

struct ResolveResults {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<core::Result<onvif::ResolvedStreams>> results;
  std::vector<std::thread::id> threads;
  auto callback() {
    return [this](core::Result<onvif::ResolvedStreams> r) {
      std::lock_guard lock(mu);
      results.push_back(std::move(r));
      threads.push_back(std::this_thread::get_id());
      cv.notify_all();
    };
  }
  bool waitCount(size_t n, std::chrono::seconds timeout) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, [&] { return results.size() >= n; });
  }
};

TEST_F(OnvifSimTest, RuntimeJoinsConcurrentResolvesOfOneCameraOnAWorker) {
  // Results outlive the runtime: its workers (joined by its destructor) may still be inside a
  // callback when the test's wait returns.
  ResolveResults got;
  ResolveResults wrong;  // the other credentials' answer, below
  onvif::OnvifRuntime runtime(1);
  WorkerBlocker blocker(runtime);
  // A flapping stream asks four times while the first resolution has not even started.
  for (int i = 0; i < 4; ++i) {
    runtime.resolveStreams(device_->deviceUrl(0), creds(), fast(), 30s, got.callback());
  }
  blocker.release();
  ASSERT_TRUE(got.waitCount(4, 60s));
  for (size_t i = 0; i < got.results.size(); ++i) {
    ASSERT_TRUE(got.results[i].ok()) << got.results[i].error().describe();
    EXPECT_EQ(got.results[i]->mainUri, sim_->mainUrl(0));
    EXPECT_EQ(got.results[i]->subUri, sim_->subUrl(0));
    EXPECT_NE(got.threads[i], std::this_thread::get_id());
  }
  EXPECT_EQ(runtime.stats().calls, 1u);
  EXPECT_EQ(runtime.stats().resolvesJoined, 3u);
  // Once finished, the next failure of the stream re-resolves for real.
  runtime.resolveStreams(device_->deviceUrl(0), creds(), fast(), 30s, got.callback());
  ASSERT_TRUE(got.waitCount(5, 60s));
  EXPECT_TRUE(got.results[4].ok());
  EXPECT_EQ(runtime.stats().calls, 2u);
  // Other credentials do not join: a wrong password gets its own (failed) answer.
  runtime.resolveStreams(device_->deviceUrl(0), {"admin", "wrong"}, fast(), 30s, wrong.callback());
  ASSERT_TRUE(wrong.waitCount(1, 60s));
  ASSERT_FALSE(wrong.results[0].ok());
  EXPECT_EQ(wrong.results[0].error().code, core::ErrorCode::kPermissionDenied);
}

TEST_F(OnvifSimTest, RuntimeResolveTimeoutBoundsTheWholeResolution) {
  // A device that accepts the connection and never answers: per call the client would wait
  // ioTimeout (5 s here); the overall timeout of 1 s must end it much sooner.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const std::string silent = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));

  // Results outlive the runtime: its workers (joined by its destructor) may still be inside a
  // callback when the test's wait returns.
  ResolveResults got;
  onvif::OnvifRuntime runtime(1);
  const auto t0 = std::chrono::steady_clock::now();
  runtime.resolveStreams(silent, creds(), fast(), 1s, got.callback());
  ASSERT_TRUE(got.waitCount(1, 30s));
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(got.results[0].ok());
  EXPECT_EQ(got.results[0].error().code, core::ErrorCode::kTimeout)
      << got.results[0].error().describe();
  EXPECT_LT(took, 4500ms) << "the overall timeout did not cut the silent call short";
  ::close(fd);
}

TEST_F(OnvifSimTest, RuntimeResolveTimeoutCountsTheWaitForAWorker) {
  // Results outlive the runtime: its workers (joined by its destructor) may still be inside a
  // callback when the test's wait returns.
  ResolveResults got;
  onvif::OnvifRuntime runtime(1);
  const auto deadline = std::chrono::steady_clock::now() + 300ms;
  // The only worker is busy (another camera's slow call) until after the request's deadline.
  runtime.post([deadline] { std::this_thread::sleep_until(deadline + 200ms); });
  runtime.resolveStreams(device_->deviceUrl(0), creds(), fast(), 300ms, got.callback());
  ASSERT_TRUE(got.waitCount(1, 30s));
  ASSERT_FALSE(got.results[0].ok());
  EXPECT_EQ(got.results[0].error().code, core::ErrorCode::kTimeout);
  EXPECT_NE(got.results[0].error().message.find("no ONVIF worker free"), std::string::npos)
      << got.results[0].error().describe();
}

TEST_F(OnvifSimTest, RuntimeReportsABadAddressOnAWorker) {
  ResolveResults got;  // outlives the runtime (see above)
  std::mutex mu;
  std::condition_variable cv;
  std::optional<std::pair<onvif::WatchState, std::thread::id>> state;
  std::string why;
  // Declared after the state its callbacks touch: destroyed first, it joins its workers
  // (which deliver the watch's final states) before that state goes.
  onvif::OnvifRuntime runtime(1);
  onvif::EventSource src;
  src.camera = *core::CameraId::parse("cam09");
  src.address = "not a host!";
  runtime.watchEvents(src, {}, [&](onvif::WatchState s, const std::string& detail) {
    std::lock_guard lock(mu);
    state.emplace(s, std::this_thread::get_id());
    why = detail;
    cv.notify_all();
  });
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return state.has_value(); }));
  EXPECT_EQ(state->first, onvif::WatchState::kStopped);
  EXPECT_NE(state->second, std::this_thread::get_id());
  EXPECT_NE(why.find("ONVIF address must be"), std::string::npos) << why;
  lock.unlock();
  runtime.resolveStreams("not a host!", creds(), fast(), 5s, got.callback());
  ASSERT_TRUE(got.waitCount(1, 10s));
  ASSERT_FALSE(got.results[0].ok());
  EXPECT_EQ(got.results[0].error().code, core::ErrorCode::kInvalidArgument);
}

// --- WS-Security on the wire: hand-built requests, independent of our client -----------------

std::string b64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  out.resize(static_cast<size_t>(EVP_EncodeBlock(
      reinterpret_cast<unsigned char*>(out.data()),
      reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()))));
  return out;
}

std::string sha1(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha1(), nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}

std::string isoUtc(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string envelope(const std::string& user, const std::string& passwordField,
                     const std::string& type, const std::string& nonceB64,
                     const std::string& created) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
         "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Header>"
         "<Security s:mustUnderstand=\"1\" xmlns=\"http://docs.oasis-open.org/wss/2004/01/"
         "oasis-200401-wss-wssecurity-secext-1.0.xsd\"><UsernameToken><Username>" +
         user +
         "</Username><Password Type=\"http://docs.oasis-open.org/wss/2004/01/"
         "oasis-200401-wss-username-token-profile-1.0#" +
         type + "\">" + passwordField +
         "</Password><Nonce EncodingType=\"http://docs.oasis-open.org/wss/2004/01/"
         "oasis-200401-wss-soap-message-security-1.0#Base64Binary\">" +
         nonceB64 +
         "</Nonce><Created xmlns=\"http://docs.oasis-open.org/wss/2004/01/"
         "oasis-200401-wss-wssecurity-utility-1.0.xsd\">" +
         created +
         "</Created></UsernameToken></Security></s:Header><s:Body>"
         "<GetDeviceInformation xmlns=\"http://www.onvif.org/ver10/device/wsdl\"/>"
         "</s:Body></s:Envelope>";
}

// One HTTP POST on a fresh connection; returns the whole response (status line and body).
std::string post(uint16_t port, const std::string& path, const std::string& body) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "connect failed";
  }
  const std::string req = "POST " + path +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Content-Type: application/soap+xml; charset=utf-8\r\n"
                          "Content-Length: " +
                          std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

TEST_F(OnvifSimTest, ServerEnforcesWsSecurityOnTheWire) {
  const uint16_t port = device_->httpPort();
  const std::string path = "/onvif/cam01/device_service";
  const auto deviceNow = std::chrono::system_clock::now() + 17min;
  auto digestRequest = [&](const std::string& password, std::chrono::system_clock::time_point t,
                           const std::string& nonce) {
    const std::string created = isoUtc(t);
    return envelope("admin", b64(sha1(nonce + created + password)), "PasswordDigest", b64(nonce),
                    created);
  };
  const std::string nonce = "0123456789abcdef";
  const std::string good = digestRequest("s3cret", deviceNow, nonce);
  const std::string first = post(port, path, good);
  EXPECT_NE(first.find(" 200 "), std::string::npos) << first.substr(0, 400);
  EXPECT_NE(first.find("SimCam-1"), std::string::npos);

  const std::string replay = post(port, path, good);
  EXPECT_EQ(replay.find(" 200 "), std::string::npos);
  EXPECT_NE(replay.find("replayed nonce"), std::string::npos) << replay.substr(0, 600);
  EXPECT_NE(replay.find("NotAuthorized"), std::string::npos);

  const std::string stale =
      post(port, path, digestRequest("s3cret", deviceNow - 1h, "nonce-2-abcdefgh"));
  EXPECT_NE(stale.find("stale Created"), std::string::npos) << stale.substr(0, 600);
  const std::string future =
      post(port, path, digestRequest("s3cret", deviceNow + 1h, "nonce-3-abcdefgh"));
  EXPECT_NE(future.find("Created in the future"), std::string::npos) << future.substr(0, 600);
  const std::string wrong = post(port, path, digestRequest("guess", deviceNow, "nonce-4-abcdefgh"));
  EXPECT_NE(wrong.find("wrong username or password digest"), std::string::npos);
  // A wrong digest must not burn the nonce for the real client.
  const std::string after =
      post(port, path, digestRequest("s3cret", deviceNow, "nonce-4-abcdefgh"));
  EXPECT_NE(after.find(" 200 "), std::string::npos) << after.substr(0, 600);
  const std::string text =
      post(port, path,
           envelope("admin", "s3cret", "PasswordText", b64("nonce-5-abcdefgh"), isoUtc(deviceNow)));
  EXPECT_NE(text.find("PasswordText not allowed"), std::string::npos) << text.substr(0, 600);
  const auto st = device_->stats();
  EXPECT_GE(st.replayRejected, 1u);
  EXPECT_GE(st.staleRejected, 2u);
}

// A correctly signed request (fresh nonce, device clock) with extra headers and a body.
std::string signedEnvelope(const std::string& extraHeaders, const std::string& body) {
  static int counter = 0;
  const std::string nonce = "wsa-nonce-" + std::to_string(++counter) + "-0123456789";
  const std::string created = isoUtc(std::chrono::system_clock::now() + 17min);
  std::string e = envelope("admin", b64(sha1(nonce + created + "s3cret")), "PasswordDigest",
                           b64(nonce), created);
  e.replace(e.find("<s:Body>"), std::string::npos, "");
  e.replace(e.find("</s:Header>"), std::string::npos, "");
  return e + extraHeaders + "</s:Header><s:Body>" + body + "</s:Body></s:Envelope>";
}

TEST_F(OnvifSimTest, SubscriptionOperationsNeedWsAddressingTo) {
  DeviceClient c(device_->deviceUrl(0), creds(), fast());
  ASSERT_TRUE(c.syncClock().ok());
  auto pp = c.createPullPoint(60s);
  ASSERT_TRUE(pp.ok()) << pp.error().describe();
  const std::string path = pp->address.substr(pp->address.find("/onvif/"));
  // The device hands out an Axis-style reference parameter with the subscription.
  const std::string subscriptionId = pp->address.substr(pp->address.rfind('/') + 1);
  ASSERT_EQ(pp->referenceParameters.size(), 1u);
  EXPECT_EQ(pp->referenceParameters[0].ns, "http://www.axis.com/2009/event");
  EXPECT_EQ(pp->referenceParameters[0].name, "SubscriptionId");
  EXPECT_EQ(pp->referenceParameters[0].value, subscriptionId);
  const std::string wsa = "xmlns:a=\"http://www.w3.org/2005/08/addressing\"";
  const std::string pullAction =
      "http://www.onvif.org/ver10/events/wsdl/PullPointSubscription/PullMessagesRequest";
  const std::string pull =
      "<PullMessages xmlns=\"http://www.onvif.org/ver10/events/wsdl\"><Timeout>PT0S</Timeout>"
      "<MessageLimit>10</MessageLimit></PullMessages>";
  auto header = [&](const std::string& to, const std::string& action, const std::string& id) {
    std::string h;
    if (!action.empty())
      h += "<a:Action s:mustUnderstand=\"1\" " + wsa + ">" + action + "</a:Action>";
    if (!id.empty()) h += "<a:MessageID " + wsa + ">" + id + "</a:MessageID>";
    if (!to.empty()) h += "<a:To s:mustUnderstand=\"1\" " + wsa + ">" + to + "</a:To>";
    return h;
  };
  const uint16_t port = device_->httpPort();

  // No To: refused, as Hikvision/Dahua/Axis firmwares refuse it.
  const std::string noTo = post(port, path, signedEnvelope(header("", pullAction, ""), pull));
  EXPECT_EQ(noTo.find(" 200 "), std::string::npos) << noTo.substr(0, 600);
  EXPECT_NE(noTo.find("MessageAddressingHeaderRequired"), std::string::npos) << noTo;
  // To naming another subscription: refused.
  const std::string other = pp->address.substr(0, pp->address.rfind('/') + 1) + "999999";
  const std::string wrongTo = post(port, path, signedEnvelope(header(other, pullAction, ""), pull));
  EXPECT_EQ(wrongTo.find(" 200 "), std::string::npos);
  EXPECT_NE(wrongTo.find("DestinationUnreachable"), std::string::npos) << wrongTo;
  // The wrong Action: refused.
  const std::string wrongAction = post(
      port, path, signedEnvelope(header(pp->address, "http://example.com/NotThisOne", ""), pull));
  EXPECT_NE(wrongAction.find("ActionNotSupported"), std::string::npos) << wrongAction;
  // Right To, Action and MessageID: answered, with RelatesTo = our MessageID and the response
  // Action, and without echoing our UsernameToken.
  const std::string ok = post(
      port, path, signedEnvelope(header(pp->address, pullAction, "urn:uuid:1234-wsa-test"), pull));
  EXPECT_NE(ok.find(" 200 "), std::string::npos) << ok.substr(0, 800);
  EXPECT_NE(ok.find("PullMessagesResponse"), std::string::npos);
  EXPECT_NE(ok.find("RelatesTo>urn:uuid:1234-wsa-test<"), std::string::npos) << ok;
  EXPECT_NE(ok.find("PullPointSubscription/PullMessagesResponse<"), std::string::npos) << ok;
  EXPECT_EQ(ok.find("UsernameToken"), std::string::npos) << ok;

  // A SubscriptionId reference parameter naming another subscription: refused.
  const std::string wrongRef =
      "<SubscriptionId xmlns=\"http://www.axis.com/2009/event\" a:IsReferenceParameter=\"true\" " +
      wsa + ">999999</SubscriptionId>";
  const std::string wrongId =
      post(port, path, signedEnvelope(header(pp->address, pullAction, "") + wrongRef, pull));
  EXPECT_NE(wrongId.find("InvalidAddressingHeader"), std::string::npos) << wrongId;

  // Our client addresses Renew, PullMessages and Unsubscribe itself, echoing the reference
  // parameter on each.
  const uint64_t echoedBefore = device_->stats().referenceParametersEchoed;
  EXPECT_TRUE(c.pullMessages(*pp, 0s, 10).ok());
  auto renewed = c.renew(*pp, 60s);
  ASSERT_TRUE(renewed.ok()) << renewed.error().describe();
  EXPECT_EQ(renewed->referenceParameters.size(), 1u);
  EXPECT_TRUE(c.unsubscribe(*renewed).ok());
  EXPECT_EQ(device_->stats().referenceParametersEchoed, echoedBefore + 3);
}

TEST_F(OnvifSimTest, ServerRefusesDeeplyNestedRequest) {
  // tt:Transport nests through Tunnel: a recursive type, so depth is what bounds the parser's
  // recursion. The device (maxlevel 32) must refuse, and keep serving.
  std::string open, close;
  for (int i = 0; i < 2000; ++i) {  // ~100 KB: inside the size limit, far beyond the depth limit
    open += "<tt:Tunnel><tt:Protocol>RTSP</tt:Protocol>";
    close += "</tt:Tunnel>";
  }
  const std::string body =
      "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" "
      "xmlns:tt=\"http://www.onvif.org/ver10/schema\" "
      "xmlns:trt=\"http://www.onvif.org/ver10/media/wsdl\"><s:Body><trt:GetStreamUri>"
      "<trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>RTSP"
      "</tt:Protocol>" +
      open + close +
      "</tt:Transport></trt:StreamSetup>"
      "<trt:ProfileToken>main</trt:ProfileToken></trt:GetStreamUri></s:Body></s:Envelope>";
  const std::string answer = post(device_->httpPort(), "/onvif/cam01/media", body);
  EXPECT_EQ(answer.find(" 200 "), std::string::npos) << answer.substr(0, 300);
  DeviceClient c(device_->deviceUrl(0), creds(), fast());
  ASSERT_TRUE(c.syncClock().ok());
  EXPECT_TRUE(c.deviceInformation().ok());
}

TEST_F(OnvifSimTest, SnapshotIsAJpeg) {
  const std::string path = "/onvif/cam01/snapshot.jpg";
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(device_->httpPort());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  EXPECT_NE(out.find(" 200 "), std::string::npos) << out.substr(0, 200);
  EXPECT_NE(out.find("image/jpeg"), std::string::npos);
  const auto body = out.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos);
  EXPECT_EQ(static_cast<unsigned char>(out[body + 4]), 0xFF);  // JPEG SOI
  EXPECT_EQ(static_cast<unsigned char>(out[body + 5]), 0xD8);
}

}  // namespace
}  // namespace sharpeyes
