// Live tap (IngestManager::setLive, Listener::onLiveBytes/onLiveEnded) against the project's
// camera simulator (real RTSP): nothing is muxed until wanted; then an init segment and
// keyframe-first moof+mdat fragments that a real demuxer/decoder (ffprobe, libav) plays at the
// camera's size; the sub stream runs for live alone when analytics does not need it (and is
// tapped, not pulled twice, when it does); the end is reported when no longer wanted and when
// the camera drops us (and a new init follows on reconnect); a consumer that blocks never holds
// up recording. H.265 through the in-process
// gst-rtsp-server fixture (the simulator serves H.264 only).
#include <gtest/gtest.h>

#include <fstream>

#include "rtsp_fixture.h"
#include "sharpeyes/sim/sim.h"
#include "test_util.h"

namespace sharpeyes::ingest::testing {
namespace {

uint32_t be32(std::string_view s, size_t at) {
  const auto* u = reinterpret_cast<const unsigned char*>(s.data() + at);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}

// Top-level ISO-BMFF boxes of a piece: (type, body), or empty when the sizes do not add up.
std::vector<std::pair<std::string, std::string_view>> boxes(std::string_view s) {
  std::vector<std::pair<std::string, std::string_view>> out;
  size_t off = 0;
  while (off < s.size()) {
    if (s.size() - off < 8) return {};
    const uint32_t size = be32(s, off);
    if (size < 8 || size > s.size() - off) return {};
    out.emplace_back(std::string(s.substr(off + 4, 4)), s.substr(off + 8, size - 8));
    off += size;
  }
  return out;
}

std::string_view child(std::string_view body, const std::string& type) {
  for (const auto& [t, b] : boxes(body))
    if (t == type) return b;
  return {};
}

std::vector<std::string> types(std::string_view piece) {
  std::vector<std::string> out;
  for (const auto& [t, b] : boxes(piece)) out.push_back(t);
  return out;
}

// Whether the first sample of a moof+mdat piece is a sync sample (ISO/IEC 14496-12 sample flags:
// trun first-sample-flags, else the first per-sample flags, else tfhd default-sample-flags).
bool firstSampleIsSync(std::string_view piece) {
  const auto traf = child(child(piece, "moof"), "traf");
  const auto tfhd = child(traf, "tfhd");
  const auto trun = child(traf, "trun");
  std::optional<uint32_t> flags;
  if (trun.size() >= 8) {
    const uint32_t f = be32(trun, 0) & 0xffffff;
    size_t off = 8 + ((f & 0x1) ? 4 : 0);
    if (f & 0x4) {
      flags = be32(trun, off);
    } else if (f & 0x400) {
      off += ((f & 0x100) ? 4 : 0) + ((f & 0x200) ? 4 : 0);
      if (off + 4 <= trun.size()) flags = be32(trun, off);
    }
  }
  if (!flags && tfhd.size() >= 8) {
    const uint32_t f = be32(tfhd, 0) & 0xffffff;
    size_t off =
        8 + ((f & 0x1) ? 8 : 0) + ((f & 0x2) ? 4 : 0) + ((f & 0x8) ? 4 : 0) + ((f & 0x10) ? 4 : 0);
    if ((f & 0x20) && off + 4 <= tfhd.size()) flags = be32(tfhd, off);
  }
  EXPECT_TRUE(flags.has_value()) << "fragment carries no sample flags";
  return flags && (*flags & 0x00010000u) == 0;
}

// baseMediaDecodeTime of a moof+mdat piece (tfdt version 0 or 1).
uint64_t decodeTime(std::string_view piece) {
  const auto tfdt = child(child(child(piece, "moof"), "traf"), "tfdt");
  if (tfdt.size() < 8) return 0;
  if (tfdt[0] == 1 && tfdt.size() >= 12) return (uint64_t{be32(tfdt, 4)} << 32) | be32(tfdt, 8);
  return be32(tfdt, 4);
}

struct LiveEvent {
  bool ended = false;
  std::string bytes;
};

class LiveListener : public RecordingListener {
 public:
  void onLiveBytes(const core::CameraId& camera, LiveStream stream,
                   std::string_view bytes) override {
    std::unique_lock lock(liveMutex_);
    events_[key(camera, stream)].push_back({false, std::string(bytes)});
    liveChanged_.notify_all();
    if (blockFragments_ && types(bytes).front() == "moof") {
      // A consumer that stops reading (a stuck network write, say) until the test lets it go.
      blocked_ = true;
      liveChanged_.notify_all();
      liveChanged_.wait(lock, [&] { return !blockFragments_; });
      blocked_ = false;
    }
  }
  void onLiveEnded(const core::CameraId& camera, LiveStream stream) override {
    std::lock_guard lock(liveMutex_);
    events_[key(camera, stream)].push_back({true, {}});
    liveChanged_.notify_all();
  }

  bool waitLive(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    std::unique_lock lock(liveMutex_);
    return liveChanged_.wait_for(lock, timeout, pred);
  }
  // Under the lock (inside waitLive) or through the copy below.
  std::vector<LiveEvent>& eventsLocked(const std::string& cam, LiveStream s) {
    return events_[cam + "/" + std::string(toString(s))];
  }
  std::vector<LiveEvent> events(const std::string& cam, LiveStream s) {
    std::lock_guard lock(liveMutex_);
    return eventsLocked(cam, s);
  }
  size_t pieces(const std::string& cam, LiveStream s) {
    std::lock_guard lock(liveMutex_);
    return eventsLocked(cam, s).size();
  }
  void setBlocking(bool block) {
    std::lock_guard lock(liveMutex_);
    blockFragments_ = block;
    liveChanged_.notify_all();
  }
  bool blockedLocked() const { return blocked_; }

 private:
  static std::string key(const core::CameraId& c, LiveStream s) {
    return c.str() + "/" + std::string(toString(s));
  }
  std::mutex liveMutex_;
  std::condition_variable liveChanged_;
  std::map<std::string, std::vector<LiveEvent>> events_;
  bool blockFragments_ = false;
  bool blocked_ = false;
};

// Checks one run of live output (init, then fragments, first one a keyframe) and decodes it with
// ffprobe the way a player would. Returns the decoded frame count.
long checkAndDecode(const std::vector<LiveEvent>& run, const TempDir& dir, const std::string& name,
                    const std::string& codec, int width, int height) {
  EXPECT_GE(run.size(), 2u);
  if (run.size() < 2) return 0;
  EXPECT_FALSE(run[0].ended);
  EXPECT_EQ(types(run[0].bytes), (std::vector<std::string>{"ftyp", "moov"}));
  EXPECT_NE(run[0].bytes.find(codec == "h264" ? "avcC" : "hvcC"), std::string::npos);
  size_t fragments = 0;
  for (size_t i = 1; i < run.size(); ++i) {
    EXPECT_FALSE(run[i].ended) << i;
    EXPECT_EQ(types(run[i].bytes), (std::vector<std::string>{"moof", "mdat"})) << i;
    ++fragments;
  }
  EXPECT_TRUE(firstSampleIsSync(run[1].bytes)) << "a viewer must start at a keyframe";
  const std::string path = (dir.path() / (name + ".mp4")).string();
  {
    std::ofstream f(path, std::ios::binary);
    for (const auto& e : run) f.write(e.bytes.data(), static_cast<std::streamsize>(e.bytes.size()));
  }
  const auto p = probeFile(path);
  EXPECT_TRUE(p.ok) << p.output;
  EXPECT_EQ(p.codec, codec);
  EXPECT_EQ(p.width, width);
  EXPECT_EQ(p.height, height);
  // One frame per fragment (fragments are a frame long for latency).
  EXPECT_EQ(static_cast<size_t>(p.frames), fragments);
  return p.frames;
}

std::unique_ptr<sim::SimServer> startSim() {
  sim::SimOptions o;
  o.cameras = 1;
  o.distinctScenes = 1;
  o.loopSeconds = 4;
  o.main = {640, 360, 25, 800, 25};
  o.sub = {320, 180, 25, 256, 25};
  o.cacheDir = INGEST_SIM_CACHE_DIR;
  auto started = sim::SimServer::start(o);
  EXPECT_TRUE(started.ok()) << started.error().describe();
  return started.ok() ? std::move(started).value() : nullptr;
}

// testCamera() with the default stall and connect timeouts: these tests count live ends, which a
// spurious reconnect on a loaded machine (1 s stall timeout) would add to.
CameraConfig liveCamera(const std::string& id, const std::string& url, const std::string& dir) {
  auto c = testCamera(id, url, dir);
  c.health.stallTimeout = 5s;
  c.health.connectTimeout = 10s;
  return c;
}

std::unique_ptr<IngestManager> makeManager(Listener& l) {
  auto m = IngestManager::create({}, l);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().describe());
  return m.ok() ? std::move(m).value() : nullptr;
}

TEST(IngestLive, OnDemandMainAndSubDecodeAndEnd) {
  auto simServer = startSim();
  ASSERT_TRUE(simServer);
  TempDir dir;
  LiveListener listener;
  auto ingest = makeManager(listener);
  ASSERT_TRUE(ingest);
  auto cam = liveCamera("live1", simServer->mainUrl(0), dir.str());
  cam.sub = StreamSource{simServer->subUrl(0)};  // analytics off: the sub runs only for live
  ASSERT_TRUE(ingest->addCamera(cam).ok());
  ASSERT_TRUE(listener.waitState("live1", CameraState::kStreaming, 20s));
  // Recording runs for a whole segment with nobody watching: nothing is muxed for live, and the
  // sub stream is not even pulled.
  ASSERT_TRUE(listener.waitFor([&] { return listener.segmentsLocked("live1").size() >= 1; }, 20s));
  EXPECT_EQ(listener.pieces("live1", LiveStream::kMain), 0u);
  EXPECT_EQ(listener.pieces("live1", LiveStream::kSub), 0u);
  EXPECT_EQ(simServer->sessionCount(0), 1);

  ASSERT_TRUE(
      ingest->setLive(core::CameraId::parse("live1").value(), LiveStream::kMain, true).ok());
  ASSERT_TRUE(ingest->setLive(core::CameraId::parse("live1").value(), LiveStream::kSub, true).ok());
  // Two seconds of each (25 fps, a fragment per frame).
  ASSERT_TRUE(listener.waitLive(
      [&] {
        return listener.eventsLocked("live1", LiveStream::kMain).size() >= 51 &&
               listener.eventsLocked("live1", LiveStream::kSub).size() >= 51;
      },
      30s));
  EXPECT_EQ(simServer->sessionCount(0), 2);  // the sub stream was started for the live viewer

  const auto id = core::CameraId::parse("live1").value();
  ASSERT_TRUE(ingest->setLive(id, LiveStream::kMain, false).ok());
  ASSERT_TRUE(listener.waitLive(
      [&] {
        const auto& ev = listener.eventsLocked("live1", LiveStream::kMain);
        return !ev.empty() && ev.back().ended;
      },
      15s));
  // Main ended; sub goes on, and main stays silent meanwhile.
  const size_t mainAfterEnd = listener.pieces("live1", LiveStream::kMain);
  const size_t subBefore = listener.pieces("live1", LiveStream::kSub);
  ASSERT_TRUE(listener.waitLive(
      [&] { return listener.eventsLocked("live1", LiveStream::kSub).size() >= subBefore + 25; },
      15s));
  EXPECT_EQ(listener.pieces("live1", LiveStream::kMain), mainAfterEnd);

  ASSERT_TRUE(ingest->setLive(id, LiveStream::kSub, false).ok());
  ASSERT_TRUE(listener.waitLive(
      [&] {
        const auto& ev = listener.eventsLocked("live1", LiveStream::kSub);
        return !ev.empty() && ev.back().ended;
      },
      15s));
  // The live-only sub session is closed again.
  EXPECT_TRUE(listener.waitFor([&] { return simServer->sessionCount(0) == 1; }, 15s));

  auto mainEv = listener.events("live1", LiveStream::kMain);
  auto subEv = listener.events("live1", LiveStream::kSub);
  ASSERT_EQ(std::count_if(mainEv.begin(), mainEv.end(), [](auto& e) { return e.ended; }), 1);
  ASSERT_EQ(std::count_if(subEv.begin(), subEv.end(), [](auto& e) { return e.ended; }), 1);
  mainEv.pop_back();
  subEv.pop_back();
  checkAndDecode(mainEv, dir, "main", "h264", 640, 360);
  checkAndDecode(subEv, dir, "sub", "h264", 320, 180);

  // Wanted again: a fresh init segment and keyframe start.
  ASSERT_TRUE(ingest->setLive(id, LiveStream::kMain, true).ok());
  ASSERT_TRUE(listener.waitLive(
      [&] { return listener.eventsLocked("live1", LiveStream::kMain).size() >= mainAfterEnd + 26; },
      20s));
  ingest->stop();
  auto again = listener.events("live1", LiveStream::kMain);
  ASSERT_TRUE(again.back().ended) << "stop() ends a watched stream";
  std::vector<LiveEvent> second(again.begin() + static_cast<long>(mainAfterEnd), again.end() - 1);
  checkAndDecode(second, dir, "main2", "h264", 640, 360);
  simServer->stop();
}

TEST(IngestLive, SubStreamOfAnalyticsIsTappedNotPulledTwice) {
  auto simServer = startSim();
  ASSERT_TRUE(simServer);
  TempDir dir;
  LiveListener listener;
  auto ingest = makeManager(listener);
  ASSERT_TRUE(ingest);
  auto cam = liveCamera("ana", simServer->mainUrl(0), dir.str());
  cam.sub = StreamSource{simServer->subUrl(0)};
  cam.analytics.enabled = true;
  cam.analytics.width = 160;
  cam.analytics.height = 90;
  cam.analytics.fps = 5;
  ASSERT_TRUE(ingest->addCamera(cam).ok());
  ASSERT_TRUE(listener.waitFor([&] { return listener.framesLocked("ana").size() >= 5; }, 30s));
  EXPECT_EQ(simServer->sessionCount(0), 2);  // main (recording) + sub (analytics)
  const auto id = core::CameraId::parse("ana").value();
  ASSERT_TRUE(ingest->setLive(id, LiveStream::kSub, true).ok());
  ASSERT_TRUE(listener.waitLive(
      [&] { return listener.eventsLocked("ana", LiveStream::kSub).size() >= 51; }, 30s));
  // The analytics session was tapped: no third RTSP session, and analytics frames keep coming.
  EXPECT_EQ(simServer->sessionCount(0), 2);
  const size_t frames = listener.frames("ana").size();
  EXPECT_TRUE(
      listener.waitFor([&] { return listener.framesLocked("ana").size() >= frames + 5; }, 15s));
  ASSERT_TRUE(ingest->setLive(id, LiveStream::kSub, false).ok());
  ASSERT_TRUE(listener.waitLive(
      [&] {
        const auto& ev = listener.eventsLocked("ana", LiveStream::kSub);
        return !ev.empty() && ev.back().ended;
      },
      15s));
  // Analytics still needs the sub stream: it stays up.
  const size_t after = listener.frames("ana").size();
  EXPECT_TRUE(
      listener.waitFor([&] { return listener.framesLocked("ana").size() >= after + 5; }, 15s));
  EXPECT_EQ(simServer->sessionCount(0), 2);
  EXPECT_EQ(listener.pieces("ana", LiveStream::kMain), 0u);
  ingest->stop();
  auto ev = listener.events("ana", LiveStream::kSub);
  ev.pop_back();
  checkAndDecode(ev, dir, "ana-sub", "h264", 320, 180);
  simServer->stop();
}

TEST(IngestLive, UnknownCameraAndMissingSubAreErrors) {
  TempDir dir;  // the camera's recording directory outlives the manager
  LiveListener listener;
  auto ingest = makeManager(listener);
  ASSERT_TRUE(ingest);
  const auto unknown =
      ingest->setLive(core::CameraId::parse("nosuch").value(), LiveStream::kMain, true);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, core::ErrorCode::kNotFound);
  // Never reachable; setLive does not wait for the camera anyway.
  auto cam = testCamera("nosub", "rtsp://127.0.0.1:9/none", dir.str());
  ASSERT_TRUE(ingest->addCamera(cam).ok());
  const auto id = core::CameraId::parse("nosub").value();
  const auto sub = ingest->setLive(id, LiveStream::kSub, true);
  ASSERT_FALSE(sub.ok());
  EXPECT_EQ(sub.error().code, core::ErrorCode::kUnsupported);
  EXPECT_NE(sub.error().message.find("sub stream"), std::string::npos) << sub.error().message;
  EXPECT_TRUE(ingest->setLive(id, LiveStream::kMain, true).ok());
  EXPECT_TRUE(ingest->setLive(id, LiveStream::kMain, false).ok());
  ingest->stop();
  EXPECT_EQ(listener.pieces("nosub", LiveStream::kMain), 0u);  // nothing ever arrived to end
}

TEST(IngestLive, BlockedConsumerNeverStallsRecording) {
  auto simServer = startSim();
  ASSERT_TRUE(simServer);
  TempDir dir;
  LiveListener listener;
  auto ingest = makeManager(listener);
  ASSERT_TRUE(ingest);
  auto cam = liveCamera("slow", simServer->mainUrl(0), dir.str());
  ASSERT_TRUE(ingest->addCamera(cam).ok());
  ASSERT_TRUE(listener.waitState("slow", CameraState::kStreaming, 20s));
  listener.setBlocking(true);
  // Goes before the manager: on an early return the consumer is let go, so that the manager's
  // destructor does not leave a streaming thread parked in onLiveBytes on a destroyed listener.
  struct Unblock {
    LiveListener& listener;
    ~Unblock() { listener.setBlocking(false); }
  } unblock{listener};
  ASSERT_TRUE(ingest->setLive(core::CameraId::parse("slow").value(), LiveStream::kMain, true).ok());
  ASSERT_TRUE(listener.waitLive([&] { return listener.blockedLocked(); }, 20s));
  // While the consumer is stuck inside onLiveBytes, segments keep closing (2 s each) and the
  // camera stays streaming.
  const size_t before = listener.segmentCount("slow");
  const bool recorded =
      listener.waitFor([&] { return listener.segmentsLocked("slow").size() >= before + 3; }, 30s);
  bool stillBlocked = false;
  listener.waitLive(
      [&] {
        stillBlocked = listener.blockedLocked();
        return true;
      },
      0ms);
  listener.setBlocking(false);
  EXPECT_TRUE(recorded) << "recording stalled behind a blocked live consumer";
  EXPECT_TRUE(stillBlocked);
  for (auto s : listener.states("slow")) EXPECT_NE(s, CameraState::kStalled);
  // Released, the consumer gets what was queued (at most about a second), then live again from
  // the next keyframe on.
  const size_t got = listener.pieces("slow", LiveStream::kMain);
  EXPECT_TRUE(listener.waitLive(
      [&] { return listener.eventsLocked("slow", LiveStream::kMain).size() >= got + 100; }, 30s));
  ingest->stop();
  // Seconds behind, the tap dropped rather than queue without bound, and resumed at a keyframe:
  // wherever media time jumps, the fragment is a sync sample, and the whole still decodes.
  auto ev = listener.events("slow", LiveStream::kMain);
  while (!ev.empty() && ev.back().ended) ev.pop_back();
  ASSERT_GE(ev.size(), 30u);
  std::vector<uint64_t> deltas;
  for (size_t i = 2; i < ev.size(); ++i)
    deltas.push_back(decodeTime(ev[i].bytes) - decodeTime(ev[i - 1].bytes));
  std::vector<uint64_t> sorted = deltas;
  std::sort(sorted.begin(), sorted.end());
  const uint64_t frame = sorted[sorted.size() / 2];
  ASSERT_GT(frame, 0u);
  int jumps = 0;
  for (size_t i = 0; i < deltas.size(); ++i) {
    if (deltas[i] > frame * 3 / 2) {
      ++jumps;
      EXPECT_TRUE(firstSampleIsSync(ev[i + 2].bytes)) << "resumed mid-GOP at piece " << i + 2;
    }
  }
  EXPECT_GE(jumps, 1) << "a consumer blocked for seconds must cause a drop";

  checkAndDecode(ev, dir, "slow", "h264", 640, 360);
  for (const auto& s : listener.segments("slow")) {
    const auto p = probeFile(s.path);
    EXPECT_TRUE(p.ok) << s.path << ": " << p.output;
  }
  simServer->stop();
}

TEST(IngestLive, CameraDropThenNewInitSegment) {
  auto simServer = startSim();
  ASSERT_TRUE(simServer);
  TempDir dir;
  LiveListener listener;
  auto ingest = makeManager(listener);
  ASSERT_TRUE(ingest);
  auto cam = liveCamera("drop", simServer->mainUrl(0), dir.str());
  cam.health.offlineAfterFailures = 100;
  ASSERT_TRUE(ingest->addCamera(cam).ok());
  ASSERT_TRUE(ingest->setLive(core::CameraId::parse("drop").value(), LiveStream::kMain, true).ok());
  ASSERT_TRUE(listener.waitLive(
      [&] { return listener.eventsLocked("drop", LiveStream::kMain).size() >= 26; }, 30s));
  ASSERT_TRUE(simServer->injectFault(0, sim::Fault::kDropConnections).ok());
  // Ended, then (still wanted) back by itself with a new init segment.
  ASSERT_TRUE(listener.waitLive(
      [&] {
        const auto& ev = listener.eventsLocked("drop", LiveStream::kMain);
        auto end = std::find_if(ev.begin(), ev.end(), [](auto& e) { return e.ended; });
        return end != ev.end() && ev.end() - end > 26;
      },
      40s));
  ingest->stop();
  auto ev = listener.events("drop", LiveStream::kMain);
  const auto end = std::find_if(ev.begin(), ev.end(), [](auto& e) { return e.ended; });
  std::vector<LiveEvent> first(ev.begin(), end);
  std::vector<LiveEvent> second(end + 1, ev.end());
  while (!second.empty() && second.back().ended) second.pop_back();
  ASSERT_FALSE(second.empty());
  checkAndDecode(first, dir, "before", "h264", 640, 360);
  checkAndDecode(second, dir, "after", "h264", 640, 360);
  simServer->stop();
}

TEST(IngestLive, H265IsMuxedWithoutReencoding) {
  RtspFixture server;
  server.addMount("/hevc", /*h265=*/true);
  TempDir dir;
  LiveListener listener;
  auto ingest = makeManager(listener);
  ASSERT_TRUE(ingest);
  auto cam = liveCamera("hevc", server.url("/hevc"), dir.str());
  ASSERT_TRUE(ingest->addCamera(cam).ok());
  ASSERT_TRUE(ingest->setLive(core::CameraId::parse("hevc").value(), LiveStream::kMain, true).ok());
  ASSERT_TRUE(listener.waitLive(
      [&] { return listener.eventsLocked("hevc", LiveStream::kMain).size() >= 40; }, 40s));
  ingest->stop();
  auto ev = listener.events("hevc", LiveStream::kMain);
  while (!ev.empty() && ev.back().ended) ev.pop_back();
  checkAndDecode(ev, dir, "hevc", "hevc", 320, 240);
}

}  // namespace
}  // namespace sharpeyes::ingest::testing
