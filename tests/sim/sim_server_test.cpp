// SimServer with real RTSP clients (rtspsrc): caps, frame rate and GOP over TCP and UDP,
// digest auth, each fault, the cache, the control protocol and ground truth in served pixels.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "rtsp_probe.h"
#include "sharpeyes/core/util.h"
#include "sharpeyes/sim/sim.h"

namespace sharpeyes::sim {
namespace {

using testing::RtspProbe;
using namespace std::chrono_literals;

const std::string kCache = std::string(SIM_TEST_CACHE_DIR);

SimOptions baseOptions(int cameras) {
  SimOptions o;
  o.cameras = cameras;
  o.distinctScenes = 1;
  o.loopSeconds = 4;
  o.cacheDir = kCache;
  return o;
}

std::unique_ptr<SimServer> startOrDie(const SimOptions& o) {
  auto r = SimServer::start(o);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().describe());
  return r.ok() ? std::move(*r) : nullptr;
}

// Sends one control line, returns the full reply (up to and including the final ok/error line).
std::string control(uint16_t port, const std::string& line) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "connect failed";
  }
  const std::string msg = line + "\n";
  [[maybe_unused]] auto n = ::send(fd, msg.data(), msg.size(), 0);
  std::string reply;
  char buf[4096];
  for (;;) {
    const ssize_t got = ::recv(fd, buf, sizeof buf, 0);
    if (got <= 0) break;
    reply.append(buf, static_cast<size_t>(got));
    // The reply ends with a line starting "ok" or "error" (list sends "camera ..." lines first).
    if (reply.back() == '\n') {
      const size_t start = reply.find_last_of('\n', reply.size() - 2);
      const std::string last = reply.substr(start == std::string::npos ? 0 : start + 1);
      if (last.starts_with("ok") || last.starts_with("error")) break;
    }
  }
  ::close(fd);
  return reply;
}

void expectGoodStream(const RtspProbe& p, int width, int height) {
  EXPECT_EQ(p.capsName(), "video/x-h264");
  EXPECT_EQ(p.width(), width);
  EXPECT_EQ(p.height(), height);
  const auto units = p.units();
  ASSERT_GE(units.size(), 60u);
  EXPECT_TRUE(units.front().keyframe) << "a session starts on a keyframe";
  // 25 fps: consecutive timestamps 40 ms apart.
  const double span = static_cast<double>(units.back().pts - units.front().pts) / 1e9;
  EXPECT_NEAR(span / static_cast<double>(units.size() - 1), 0.040, 0.0005);
  // Keyframe every 50 frames (2 s).
  std::vector<size_t> keys;
  for (size_t i = 0; i < units.size(); ++i) {
    if (units[i].keyframe) keys.push_back(i);
  }
  ASSERT_GE(keys.size(), 2u);
  for (size_t k = 1; k < keys.size(); ++k) EXPECT_EQ(keys[k] - keys[k - 1], 50u);
}

TEST(SimServer, ServesMainAndSubOverTcpAndUdp) {
  auto sim = startOrDie(baseOptions(2));
  ASSERT_TRUE(sim);
  EXPECT_EQ(sim->cameraName(0), "cam01");
  EXPECT_EQ(sim->mainUrl(1), "rtsp://127.0.0.1:" + std::to_string(sim->rtspPort()) + "/cam02/main");
  RtspProbe mainTcp({sim->mainUrl(0)}), subTcp({sim->subUrl(0)});
  RtspProbe mainUdp({sim->mainUrl(1), true}), subUdp({sim->subUrl(1), true});
  // Two full GOPs plus the start: 110 frames, 4.4 s of media.
  for (auto* p : {&mainTcp, &subTcp, &mainUdp, &subUdp}) {
    ASSERT_TRUE(p->waitFrames(110, 30s))
        << "frames so far " << p->frames() << " " << p->endReason();
  }
  expectGoodStream(mainTcp, 1920, 1080);
  expectGoodStream(mainUdp, 1920, 1080);
  expectGoodStream(subTcp, 640, 360);
  expectGoodStream(subUdp, 640, 360);
  EXPECT_EQ(sim->sessionCount(0), 2);
  // Shared media: one feed per served mount, however many clients.
  RtspProbe second({sim->subUrl(0)});
  ASSERT_TRUE(second.waitFrames(5));
  EXPECT_EQ(sim->stats().activeFeeds, 4);
}

TEST(SimServer, DigestAuthRejectsAWrongPassword) {
  SimOptions o = baseOptions(1);
  o.username = "viewer";
  o.password = "s3cret-" + core::newId().substr(0, 6);
  auto sim = startOrDie(o);
  ASSERT_TRUE(sim);
  RtspProbe wrong({sim->subUrl(0), false, "viewer", "not-the-password"});
  RtspProbe none({sim->subUrl(0)});
  RtspProbe right({sim->subUrl(0), false, "viewer", o.password});
  ASSERT_TRUE(right.waitFrames(10)) << right.endReason();
  ASSERT_TRUE(wrong.waitEnded()) << "a wrong password must end the session";
  ASSERT_TRUE(none.waitEnded());
  EXPECT_EQ(wrong.frames(), 0u);
  EXPECT_EQ(none.frames(), 0u);
  EXPECT_NE(wrong.endReason().find("nauthorized"), std::string::npos) << wrong.endReason();
}

TEST(SimServer, StopSendingKeepsTheSessionButSendsNothing) {
  auto sim = startOrDie(baseOptions(2));
  ASSERT_TRUE(sim);
  RtspProbe a({sim->subUrl(0)}), b({sim->subUrl(1)});
  ASSERT_TRUE(a.waitFrames(5));
  ASSERT_TRUE(b.waitFrames(5));
  ASSERT_TRUE(sim->injectFault(0, Fault::kStopSending).ok());
  const size_t aAtFault = a.frames();
  const size_t bAtFault = b.frames();
  // The other camera is our clock: 2 s of its frames.
  ASSERT_TRUE(b.waitFrames(bAtFault + 50));
  EXPECT_LE(a.frames(), aAtFault + 3) << "frames in flight only";
  EXPECT_FALSE(a.ended());
  EXPECT_EQ(sim->sessionCount(0), 1) << "the session stays open";
  ASSERT_TRUE(sim->injectFault(0, Fault::kClear).ok());
  const size_t aAtClear = a.frames();
  ASSERT_TRUE(a.waitFrames(aAtClear + 10)) << "media resumes after clear";
  const auto units = a.units();
  // Resumes on a keyframe, timestamps keep increasing across the gap.
  size_t resume = aAtClear;
  while (resume < units.size() && units[resume].pts <= units[aAtClear - 1].pts + 100'000'000) {
    ++resume;
  }
  ASSERT_LT(resume, units.size());
  EXPECT_TRUE(units[resume].keyframe);
  for (size_t i = 1; i < units.size(); ++i) EXPECT_GT(units[i].pts, units[i - 1].pts);
}

TEST(SimServer, DropConnectionsClosesOnlyThatCamerasSessions) {
  auto sim = startOrDie(baseOptions(2));
  ASSERT_TRUE(sim);
  RtspProbe a({sim->subUrl(0)}), udp({sim->mainUrl(0), true}), b({sim->subUrl(1)});
  ASSERT_TRUE(a.waitFrames(5));
  ASSERT_TRUE(udp.waitFrames(5));
  ASSERT_TRUE(b.waitFrames(5));
  ASSERT_TRUE(sim->injectFault(0, Fault::kDropConnections).ok());
  ASSERT_TRUE(a.waitEnded(10s)) << "TCP client sees the connection go";
  EXPECT_EQ(sim->sessionCount(0), 0);
  const size_t bNow = b.frames();
  ASSERT_TRUE(b.waitFrames(bNow + 25)) << "other camera keeps streaming";
  EXPECT_FALSE(b.ended());
  // Reachable again at once (no duration).
  RtspProbe again({sim->subUrl(0)});
  ASSERT_TRUE(again.waitFrames(5)) << again.endReason();
}

TEST(SimServer, RefuseRejectsNewSessionsUntilCleared) {
  auto sim = startOrDie(baseOptions(2));
  ASSERT_TRUE(sim);
  RtspProbe existing({sim->subUrl(0)});
  ASSERT_TRUE(existing.waitFrames(5));
  ASSERT_TRUE(sim->injectFault(0, Fault::kRefuse).ok());
  RtspProbe refused({sim->subUrl(0)});
  ASSERT_TRUE(refused.waitEnded());
  EXPECT_EQ(refused.frames(), 0u);
  EXPECT_NE(refused.endReason().find("ot found"), std::string::npos) << refused.endReason();
  RtspProbe other({sim->subUrl(1)});
  ASSERT_TRUE(other.waitFrames(5)) << "other cameras still accept sessions";
  const size_t e = existing.frames();
  ASSERT_TRUE(existing.waitFrames(e + 10)) << "open sessions keep streaming";
  // A timed refuse clears itself.
  ASSERT_TRUE(sim->injectFault(0, Fault::kRefuse, 1500ms).ok());
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  bool served = false;
  while (!served && std::chrono::steady_clock::now() < deadline) {
    RtspProbe retry({sim->subUrl(0)});
    served = retry.waitFor([&] { return retry.framesLocked() > 0 || retry.endedLocked(); }) &&
             !retry.ended();
  }
  EXPECT_TRUE(served) << "refuse with a duration must clear itself";
}

TEST(SimServer, RestartDropsAndStartsAgainFromAKeyframe) {
  auto sim = startOrDie(baseOptions(2));
  ASSERT_TRUE(sim);
  RtspProbe a({sim->subUrl(0)}), b({sim->subUrl(1)});
  ASSERT_TRUE(a.waitFrames(30));
  ASSERT_TRUE(b.waitFrames(5));
  const uint64_t pushedBefore = sim->stats().framesPushed;
  ASSERT_TRUE(sim->injectFault(0, Fault::kRestart).ok());
  ASSERT_TRUE(a.waitEnded(10s));
  RtspProbe again({sim->subUrl(0)});
  ASSERT_TRUE(again.waitFrames(5));
  EXPECT_TRUE(again.units().front().keyframe);
  EXPECT_GT(sim->stats().framesPushed, pushedBefore);
  const size_t bNow = b.frames();
  ASSERT_TRUE(b.waitFrames(bNow + 10));
  EXPECT_FALSE(b.ended());
}

TEST(SimServer, ControlProtocol) {
  SimOptions o = baseOptions(2);
  o.ptzCameras = {1};
  o.sub = {320, 180, 25, 256, 50};
  o.main = {640, 360, 25, 512, 50};
  auto sim = startOrDie(o);
  ASSERT_TRUE(sim);
  const uint16_t port = sim->controlPort();
  EXPECT_EQ(control(port, "ping"), "ok\n");
  const std::string list = control(port, "list");
  EXPECT_NE(list.find("camera cam01 fault=clear sessions=0 ptz=no"), std::string::npos) << list;
  EXPECT_NE(list.find("camera cam02"), std::string::npos);
  EXPECT_TRUE(list.ends_with("ok\n"));
  EXPECT_EQ(control(port, "fault cam01 stop-sending 5"), "ok\n");
  EXPECT_NE(control(port, "list").find("cam01 fault=stop-sending"), std::string::npos);
  EXPECT_EQ(control(port, "clear cam01"), "ok\n");
  EXPECT_TRUE(control(port, "fault cam09 stop-sending").starts_with("error unknown camera"));
  EXPECT_TRUE(control(port, "fault cam01 explode").starts_with("error unknown fault"));
  EXPECT_TRUE(control(port, "fault cam01 refuse -3").starts_with("error bad duration"));
  EXPECT_TRUE(control(port, "view cam01 0.5 0 0").starts_with("error"));
  EXPECT_TRUE(control(port, "frobnicate").starts_with("error"));
  EXPECT_EQ(control(port, "view cam02 0.5 -0.25 0.5"), "ok\n");
  const ViewWindow v = sim->view(1);
  EXPECT_FLOAT_EQ(v.pan, 0.5f);
  EXPECT_FLOAT_EQ(v.tilt, -0.25f);
  EXPECT_FLOAT_EQ(v.zoom, 0.5f);
  EXPECT_EQ(control(port, "view cam02"), "ok 0.5000 -0.2500 0.5000\n");
}

TEST(SimServer, CacheIsReusedOnTheSecondStart) {
  const std::string dir = kCache + "/reuse-" + core::newId().substr(0, 8);
  SimOptions o = baseOptions(3);
  o.cacheDir = dir;
  o.loopSeconds = 2;
  o.main = {640, 360, 25, 800, 50};
  o.sub = {320, 180, 25, 256, 50};
  {
    auto sim = startOrDie(o);
    ASSERT_TRUE(sim);
    EXPECT_EQ(sim->stats().streamsEncoded, 2) << "one scene, two profiles, encoded once";
    EXPECT_EQ(sim->stats().streamsFromCache, 0);
  }
  {
    auto sim = startOrDie(o);
    ASSERT_TRUE(sim);
    EXPECT_EQ(sim->stats().streamsEncoded, 0) << "second start must not encode";
    EXPECT_EQ(sim->stats().streamsFromCache, 2);
    RtspProbe p({sim->subUrl(2)});
    ASSERT_TRUE(p.waitFrames(5));
  }
  o.seed = 99;  // another scene is another cache entry
  {
    auto sim = startOrDie(o);
    ASSERT_TRUE(sim);
    EXPECT_EQ(sim->stats().streamsEncoded, 2);
  }
  std::filesystem::remove_all(dir);
}

// One person and one car, no noise: the decoded sub stream must show them where truthAt says.
SceneSpec truthScene(bool withObjects) {
  SceneSpec spec;
  spec.seed = 4242;
  spec.loopSeconds = 4;
  spec.effects.noiseSigma = 0;
  if (!withObjects) return spec;
  ScriptedObject person;
  person.id = 1;
  person.kind = ObjectKind::kPerson;
  person.width = 0.05f;
  person.height = 0.25f;
  person.path = {{0, 0.05f, 0.45f}, {4, 0.95f, 0.5f}};
  ScriptedObject car;
  car.id = 2;
  car.kind = ObjectKind::kVehicle;
  car.width = 0.18f;
  car.height = 0.12f;
  car.path = {{0, 0.9f, 0.75f}, {4, 0.1f, 0.72f}};
  spec.objects = {person, car};
  return spec;
}

double meanAbsDiff(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat d;
  cv::absdiff(a, b, d);
  const cv::Scalar m = cv::mean(d);
  return (m[0] + m[1] + m[2]) / 3;
}

// Finds which loop frame a decoded image is (best match among all frames of the loop).
int64_t matchFrame(const SceneRenderer& r, const cv::Mat& decoded, const ViewWindow& view,
                   double* bestDiff) {
  cv::Mat candidate(decoded.rows, decoded.cols, CV_8UC3);
  int64_t best = -1;
  *bestDiff = 1e9;
  for (int64_t i = 0; i < 100; ++i) {
    r.render(i, 25, decoded.cols, decoded.rows, candidate.data, view);
    const double d = meanAbsDiff(decoded, candidate);
    if (d < *bestDiff) {
      *bestDiff = d;
      best = i;
    }
  }
  return best;
}

// Pixels where two images differ by more than `threshold` in any colour channel. A grey-level
// difference would miss an object whose colour has the luminance of the background behind it.
cv::Mat differs(const cv::Mat& a, const cv::Mat& b, int threshold) {
  cv::Mat d, channels[3], most;
  cv::absdiff(a, b, d);
  cv::split(d, channels);
  cv::max(channels[0], channels[1], most);
  cv::max(most, channels[2], most);
  cv::Mat mask;
  cv::threshold(most, mask, threshold, 255, cv::THRESH_BINARY);
  return mask;
}

cv::Rect truthRect(const ObjectTruth& t, const cv::Mat& image) {
  return cv::Rect(static_cast<int>(t.box.x * image.cols), static_cast<int>(t.box.y * image.rows),
                  static_cast<int>(t.box.w * image.cols), static_cast<int>(t.box.h * image.rows));
}

bool wellInside(const ObjectTruth& t) {
  return t.visible && t.box.x > 0.01f && t.box.x + t.box.w < 0.99f;
}

cv::Rect searchAround(const cv::Rect& box, const cv::Mat& image) {
  return (box + cv::Size(24, 24) - cv::Point(12, 12)) & cv::Rect(0, 0, image.cols, image.rows);
}

// Two claims, checked apart so that neither depends on where a frame happens to land:
// the renderer draws each object inside its ground-truth box (deterministic, every loop frame),
// and the served stream carries the rendered object pixels where the renderer put them.
void expectObjectsWhereTruthSays(const SceneRenderer& scene, const SceneRenderer& empty,
                                 const cv::Mat& decoded, const ViewWindow& view) {
  double diff = 0;
  const int64_t index = matchFrame(scene, decoded, view, &diff);
  ASSERT_GE(index, 0);
  EXPECT_LT(diff, 6.0) << "decoded frame must look like the rendered frame " << index;
  cv::Mat rendered(decoded.rows, decoded.cols, CV_8UC3),
      background(decoded.rows, decoded.cols, CV_8UC3);
  scene.render(index, 25, decoded.cols, decoded.rows, rendered.data, view);
  empty.render(index, 25, decoded.cols, decoded.rows, background.data, view);
  const cv::Mat drawn = differs(rendered, background, 40);
  cv::Mat served = differs(decoded, background, 40);
  // Compression leaves isolated differing pixels at edges; objects are solid blobs.
  cv::morphologyEx(served, served, cv::MORPH_OPEN, cv::Mat::ones(3, 3, CV_8U));
  int checked = 0;
  for (const auto& t : scene.truthAt(index, 25, view)) {
    if (!wellInside(t)) continue;
    const cv::Rect search = searchAround(truthRect(t, decoded), decoded);
    const cv::Rect expected = cv::boundingRect(drawn(search)) + search.tl();
    const cv::Rect found = cv::boundingRect(served(search)) + search.tl();
    SCOPED_TRACE("object " + std::to_string(t.id) + " frame " + std::to_string(index));
    EXPECT_NEAR(found.x, expected.x, 6);
    EXPECT_NEAR(found.y, expected.y, 6);
    EXPECT_NEAR(found.br().x, expected.br().x, 6);
    EXPECT_NEAR(found.br().y, expected.br().y, 6);
    ++checked;
  }
  EXPECT_GE(checked, 1);
}

TEST(SimScene, ObjectsAreDrawnInsideTheirTruthBoxes) {
  SceneRenderer scene(truthScene(true)), empty(truthScene(false));
  cv::Mat rendered(360, 640, CV_8UC3), background(360, 640, CV_8UC3);
  int checked = 0;
  for (int64_t index = 0; index < 100; ++index) {
    scene.render(index, 25, 640, 360, rendered.data, ViewWindow{});
    empty.render(index, 25, 640, 360, background.data, ViewWindow{});
    const cv::Mat drawn = differs(rendered, background, 1);
    for (const auto& t : scene.truthAt(index, 25)) {
      if (!wellInside(t)) continue;
      const cv::Rect box = truthRect(t, rendered);
      const cv::Rect search = searchAround(box, rendered);
      const cv::Rect got = cv::boundingRect(drawn(search)) + search.tl();
      SCOPED_TRACE("object " + std::to_string(t.id) + " frame " + std::to_string(index));
      // Anti-aliased edges spill one pixel past the box, and truncating x and w apart to whole
      // pixels moves the far edge by up to two more.
      EXPECT_NEAR(got.x, box.x, 3);
      EXPECT_NEAR(got.y, box.y, 3);
      EXPECT_NEAR(got.br().x, box.br().x, 3);
      EXPECT_NEAR(got.br().y, box.br().y, 3);
      ++checked;
    }
  }
  EXPECT_GT(checked, 100);
}

TEST(SimServer, ServedPixelsMatchGroundTruth) {
  SimOptions o = baseOptions(2);
  o.scenes = {truthScene(true)};
  o.main = {1280, 720, 25, 2000, 50};
  o.ptzCameras = {1};
  auto sim = startOrDie(o);
  ASSERT_TRUE(sim);
  SceneRenderer scene(truthScene(true)), empty(truthScene(false));
  {
    RtspProbe p({sim->subUrl(0), false, "", "", true});
    ASSERT_TRUE(p.waitFrames(30)) << p.endReason();
    ASSERT_EQ(p.width(), 640);
    const auto bytes = p.lastFrame();
    ASSERT_EQ(bytes.size(), 640u * 360 * 3);
    const cv::Mat decoded(360, 640, CV_8UC3, const_cast<uint8_t*>(bytes.data()));
    expectObjectsWhereTruthSays(scene, empty, decoded.clone(), ViewWindow{});
  }
  // The PTZ camera is encoded live at its current view.
  const ViewWindow zoomed{0.2f, 0.3f, 0.3f};
  ASSERT_TRUE(sim->setView(1, zoomed).ok());
  EXPECT_EQ(sim->setView(0, zoomed).error().code, core::ErrorCode::kUnsupported);
  RtspProbe ptz({sim->subUrl(1), false, "", "", true});
  ASSERT_TRUE(ptz.waitFrames(30)) << ptz.endReason();
  const auto bytes = ptz.lastFrame();
  ASSERT_EQ(bytes.size(), 640u * 360 * 3);
  const cv::Mat decoded = cv::Mat(360, 640, CV_8UC3, const_cast<uint8_t*>(bytes.data())).clone();
  double atView = 0, atDefault = 0;
  matchFrame(scene, decoded, zoomed, &atView);
  matchFrame(scene, decoded, ViewWindow{}, &atDefault);
  EXPECT_LT(atView, 6.0);
  EXPECT_GT(atDefault, 2 * atView) << "the served picture is the moved view";
}

TEST(SimServer, ServesAMediaFileLooped) {
  // A 3 s test file made here; the loop is cut to whole GOPs (2 s).
  const std::string file = kCache + "/clip-" + core::newId().substr(0, 8) + ".mp4";
  {
    gst_init(nullptr, nullptr);
    const std::string launch =
        "videotestsrc num-buffers=75 pattern=ball ! video/x-raw,width=320,height=240,framerate=25/1"
        " ! x264enc ! mp4mux ! filesink location=" +
        file;
    GstElement* p = gst_parse_launch(launch.c_str(), nullptr);
    ASSERT_TRUE(p);
    gst_element_set_state(p, GST_STATE_PLAYING);
    GstBus* bus = gst_element_get_bus(p);
    GstMessage* m = gst_bus_timed_pop_filtered(
        bus, 60 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    ASSERT_TRUE(m);
    EXPECT_EQ(GST_MESSAGE_TYPE(m), GST_MESSAGE_EOS);
    gst_message_unref(m);
    gst_object_unref(bus);
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(p);
  }
  SimOptions o = baseOptions(1);
  o.mediaFile = file;
  o.main = {640, 360, 25, 800, 50};
  auto sim = startOrDie(o);
  ASSERT_TRUE(sim);
  RtspProbe p({sim->subUrl(0)});
  ASSERT_TRUE(p.waitFrames(60)) << p.endReason();
  EXPECT_EQ(p.width(), 640);
  const auto units = p.units();
  // Looping a 50-frame loop: keyframes at 0 and 50, timestamps still increasing.
  EXPECT_TRUE(units[0].keyframe);
  EXPECT_TRUE(units[50].keyframe);
  for (size_t i = 1; i < units.size(); ++i) EXPECT_GT(units[i].pts, units[i - 1].pts);
  sim.reset();
  std::filesystem::remove(file);
  SimOptions missing = baseOptions(1);
  missing.mediaFile = kCache + "/no-such-file.mp4";
  auto r = SimServer::start(missing);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, core::ErrorCode::kNotFound);
}

// The bytes on the wire, read with a plain socket (RTSP over TCP, interleaved): what a camera
// sends. The SDP names the profile and carries SPS/PPS; every RTP packet fits the 1400-byte MTU;
// an access unit is AUD, (SPS, PPS, SEI before an IDR,) slice
// fragments, with the marker bit on its last packet only and one timestamp, 3600 ticks (40 ms)
// or a multiple after the previous one's. Not asserted: gap-free sequence numbers (gst-rtsp-server
// 1.22 was seen to lose one packet of a large IDR over TCP, before and after the serving changes).
TEST(SimServer, TcpWireLooksLikeACameras) {
  auto sim = startOrDie(baseOptions(1));
  ASSERT_TRUE(sim);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(sim->rtspPort());
  ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  timeval tv{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string in;
  auto fill = [&](size_t want) {
    char buf[65536];
    while (in.size() < want) {
      const ssize_t got = ::recv(fd, buf, sizeof buf, 0);
      if (got <= 0) return false;
      in.append(buf, static_cast<size_t>(got));
    }
    return true;
  };
  // One request, its reply's headers and body.
  auto request = [&](const std::string& text, std::string& body) {
    [[maybe_unused]] auto n = ::send(fd, text.data(), text.size(), 0);
    size_t end;
    while ((end = in.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(in.size() + 1)) return std::string();
    }
    std::string head = in.substr(0, end + 2);
    in.erase(0, end + 4);
    body.clear();
    if (const size_t cl = head.find("Content-Length: "); cl != std::string::npos) {
      const size_t len = std::stoul(head.substr(cl + 16));
      if (!fill(len)) return std::string();
      body = in.substr(0, len);
      in.erase(0, len);
    }
    return head;
  };
  const std::string url = sim->mainUrl(0);
  std::string sdp, body;
  ASSERT_NE(request("DESCRIBE " + url + " RTSP/1.0\r\nCSeq: 1\r\n\r\n", sdp).find("RTSP/1.0 200"),
            std::string::npos);
  EXPECT_NE(sdp.find("a=rtpmap:96 H264/90000"), std::string::npos) << sdp;
  EXPECT_NE(sdp.find("packetization-mode=1"), std::string::npos) << sdp;
  EXPECT_NE(sdp.find("sprop-parameter-sets="), std::string::npos) << sdp;
  EXPECT_NE(sdp.find("profile-level-id="), std::string::npos) << sdp;
  const std::string setup = request("SETUP " + url +
                                        "/stream=0 RTSP/1.0\r\nCSeq: 2\r\n"
                                        "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n",
                                    body);
  const size_t s = setup.find("Session: ");
  ASSERT_NE(s, std::string::npos) << setup;
  const std::string session = setup.substr(s + 9, setup.find_first_of(";\r", s) - s - 9);
  ASSERT_NE(
      request("PLAY " + url + " RTSP/1.0\r\nCSeq: 3\r\nSession: " + session + "\r\n\r\n", body)
          .find("RTSP/1.0 200"),
      std::string::npos);

  struct Packet {
    bool marker;
    uint32_t ts;
    int nal;  // NAL type, or the fragmented one's (FU-A)
    size_t size;
  };
  std::vector<Packet> packets;
  while (packets.size() < 2000) {
    ASSERT_TRUE(fill(4)) << "after " << packets.size() << " packets";
    ASSERT_EQ(in[0], '$') << "interleaved data only after PLAY";
    const auto* h = reinterpret_cast<const uint8_t*>(in.data());
    const size_t len = (size_t{h[2]} << 8) | h[3];
    ASSERT_TRUE(fill(4 + len));
    const auto* p = reinterpret_cast<const uint8_t*>(in.data()) + 4;
    if (h[1] == 0) {
      ASSERT_GE(len, 14u);
      const int type = p[12] & 0x1f;
      packets.push_back(
          {(p[1] & 0x80) != 0,
           (uint32_t{p[4]} << 24) | (uint32_t{p[5]} << 16) | (uint32_t{p[6]} << 8) | p[7],
           type == 28 ? (p[13] & 0x1f) : type, len});
      EXPECT_EQ(p[1] & 0x7f, 96);
    }
    in.erase(0, 4 + len);
  }
  ::close(fd);
  int frames = 0, keyframes = 0;
  for (size_t i = 0; i < packets.size(); ++i) {
    EXPECT_LE(packets[i].size, 1400u);
    const bool first = i == 0 || packets[i - 1].marker;
    if (first) {
      EXPECT_EQ(packets[i].nal, 9) << "an access unit starts with its AUD (packet " << i << ")";
      // A multiple of 40 ms: an overloaded simulator skips frames rather than bursting them.
      if (i > 0) {
        const uint32_t step = packets[i].ts - packets[i - 1].ts;
        EXPECT_TRUE(step > 0 && step % 3600 == 0) << "packet " << i << " step " << step;
      }
    } else {
      EXPECT_EQ(packets[i].ts, packets[i - 1].ts) << "one timestamp per access unit";
    }
    if (packets[i].nal == 5 && (i == 0 || packets[i - 1].nal != 5)) {
      ++keyframes;
      bool sps = false, pps = false;
      for (size_t k = i; k-- > 0 && !packets[k].marker;) {
        sps = sps || packets[k].nal == 7;
        pps = pps || packets[k].nal == 8;
      }
      EXPECT_TRUE(sps && pps) << "SPS and PPS before the IDR at packet " << i;
    }
    if (packets[i].marker) ++frames;
  }
  EXPECT_EQ(packets.front().nal, 9);
  EXPECT_GE(keyframes, 1);
  EXPECT_GE(frames, 20);
}

}  // namespace
}  // namespace sharpeyes::sim
