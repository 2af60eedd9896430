// Integration tests of the ingest module against a real RTSP server (gst-rtsp-server in the
// test process): recording, analytics frames, stalls, unreachable and dead cameras, H.265.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <regex>
#include <vector>

#include "rtsp_fixture.h"
#include "test_util.h"

namespace sharpeyes::ingest::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::unique_ptr<IngestManager> makeManager(Listener& l, IngestOptions o = {}) {
  auto m = IngestManager::create(o, l);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().describe());
  return std::move(m).value();
}

// A TCP port that accepts connections (the kernel completes the handshake) but never answers:
// a hung camera.
class SilentPort {
 public:
  SilentPort() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // A port that is not really there would make the tests that use it prove nothing.
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    socklen_t len = sizeof a;
    EXPECT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len), 0);
    port_ = ntohs(a.sin_port);
  }
  ~SilentPort() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A port nobody listens on: connection refused.
int closedPort() {
  SilentPort p;
  return p.port();  // closed again when `p` goes away
}

TEST(Ingest, RecordsKeyframeAlignedSegmentsAndFeedsFrames) {
  RtspFixture server;
  server.addMount("/cam1");
  TempDir dir;
  RecordingListener listener;
  auto ingest = makeManager(listener);
  auto cfg = testCamera("cam1", server.url("/cam1"), dir.str());
  cfg.analytics.enabled = true;
  cfg.analytics.width = 160;
  cfg.analytics.height = 120;
  cfg.analytics.fps = 5;
  cfg.analytics.keyframesOnlyFromMain = false;
  ASSERT_TRUE(ingest->addCamera(cfg).ok());

  ASSERT_TRUE(listener.waitState("cam1", CameraState::kStreaming, 15s));
  ASSERT_TRUE(listener.waitFor([&] { return listener.segmentsLocked("cam1").size() >= 3; }, 30s));
  ASSERT_TRUE(listener.waitFor([&] { return listener.framesLocked("cam1").size() >= 10; }, 10s));

  const auto st = ingest->status();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].state, CameraState::kStreaming);
  EXPECT_EQ(st[0].codec, "h264");
  EXPECT_EQ(st[0].width, 320);
  EXPECT_EQ(st[0].height, 240);
  EXPECT_GT(st[0].fps, 15.0);
  EXPECT_LT(st[0].fps, 35.0);
  EXPECT_GT(st[0].bitrateBps, 10'000.0);
  EXPECT_GE(st[0].segments, 3u);
  EXPECT_GT(st[0].bytesRecorded, 0u);
  EXPECT_GE(st[0].framesAnalysed, 10u);

  const size_t beforeStop = listener.segmentCount("cam1");
  ingest->stop();  // finishes the open segment (and whatever GOP the recorder still held)
  const auto segs = listener.segments("cam1");
  ASSERT_GE(segs.size(), 4u);
  const std::regex name(".*/cam1/[0-9]{8}/cam1-[0-9]{13}\\.mp4");
  for (size_t i = 0; i < segs.size(); ++i) {
    const auto& s = segs[i];
    SCOPED_TRACE(s.path);
    EXPECT_TRUE(std::regex_match(s.path, name));
    EXPECT_EQ(s.path.rfind(dir.str(), 0), 0u);
    EXPECT_EQ(s.codec, "h264");
    EXPECT_EQ(s.width, 320);
    EXPECT_EQ(s.height, 240);
    const auto p = probeFile(s.path);
    EXPECT_TRUE(p.ok) << p.output << " segment " << i << " of " << segs.size() << " bytes "
                      << std::filesystem::file_size(s.path);
    EXPECT_EQ(p.codec, "h264");
    // Our media duration agrees with what a player sees.
    EXPECT_NEAR(p.duration, secs(s.mediaDuration), 0.1);
    if (i > 0 && i < beforeStop) {
      // Full segments: 2 s, cut at a keyframe (1 s GOP), 25 fps. (The first one starts at the
      // first keyframe received and the ones finished by stop() end there, so they may be
      // shorter.)
      EXPECT_NEAR(secs(s.mediaDuration), 2.0, 0.05);
      EXPECT_NEAR(static_cast<double>(p.frames), 50.0, 2.0);
    } else {
      EXPECT_GT(secs(s.mediaDuration), 0.0);
      EXPECT_LT(secs(s.mediaDuration), 2.15);
    }
    if (i + 1 < segs.size()) {
      // Contiguous: the next one starts where this one ends (well under a frame interval).
      const auto gap = segs[i + 1].start - (s.start + s.mediaDuration);
      EXPECT_LT(std::abs(secs(gap)), 0.04);
    }
  }
  // Analytics frames: configured size, BGR, about 5 fps in media time, in sequence.
  const auto frames = listener.frames("cam1");
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].width, 160);
    EXPECT_EQ(frames[i].height, 120);
    EXPECT_TRUE(frames[i].bgrSized);
    EXPECT_EQ(frames[i].sequence, i);
  }
  expectRate(frames, 5.0);
  EXPECT_EQ(listener.states("cam1").back(), CameraState::kStopped);
}

TEST(Ingest, H265StreamIsRecordedWithoutReencoding) {
  RtspFixture server;
  server.addMount("/hevc", /*h265=*/true);
  TempDir dir;
  RecordingListener listener;
  auto ingest = makeManager(listener);
  auto cfg = testCamera("hevc", server.url("/hevc"), dir.str());
  cfg.health.connectTimeout = 8s;  // x265 start-up on a loaded machine
  ASSERT_TRUE(ingest->addCamera(cfg).ok());
  ASSERT_TRUE(listener.waitFor([&] { return !listener.segmentsLocked("hevc").empty(); }, 30s));
  ingest->stop();
  const auto segs = listener.segments("hevc");
  ASSERT_FALSE(segs.empty());
  EXPECT_EQ(segs[0].codec, "h265");
  const auto p = probeFile(segs[0].path);
  EXPECT_TRUE(p.ok) << p.output;
  EXPECT_EQ(p.codec, "hevc");
  EXPECT_EQ(p.width, 320);
}

TEST(Ingest, StalledCameraReconnectsAndOthersAreUnaffected) {
  RtspFixture server;
  server.addMount("/a");
  server.addMount("/b");
  TempDir dir;
  RecordingListener listener;
  auto ingest = makeManager(listener);
  auto a = testCamera("cam-a", server.url("/a"), dir.str());
  a.health.offlineAfterFailures = 100;  // this test is about stall -> reconnect
  ASSERT_TRUE(ingest->addCamera(a).ok());
  ASSERT_TRUE(ingest->addCamera(testCamera("cam-b", server.url("/b"), dir.str())).ok());
  ASSERT_TRUE(listener.waitState("cam-a", CameraState::kStreaming, 15s));
  ASSERT_TRUE(listener.waitState("cam-b", CameraState::kStreaming, 15s));

  server.setStopped("/a", true);
  ASSERT_TRUE(listener.waitState("cam-a", CameraState::kStalled, 10s));
  const size_t bSegmentsAtStall = listener.segmentCount("cam-b");
  // The camera stays silent: reconnect attempts find no data. B keeps recording meanwhile.
  ASSERT_TRUE(listener.waitFor(
      [&] { return listener.segmentsLocked("cam-b").size() >= bSegmentsAtStall + 2; }, 15s));
  server.setStopped("/a", false);
  const auto stalledAt = static_cast<size_t>(listener.stateIndex("cam-a", CameraState::kStalled));
  ASSERT_TRUE(listener.waitState("cam-a", CameraState::kStreaming, 20s, stalledAt));

  const auto sa = listener.states("cam-a");
  const auto it = std::find(sa.begin(), sa.end(), CameraState::kStalled);
  ASSERT_NE(it, sa.end());
  const auto rec = std::find(it, sa.end(), CameraState::kReconnecting);
  EXPECT_NE(rec, sa.end()) << "stalled must be followed by reconnecting";
  EXPECT_NE(std::find(rec, sa.end(), CameraState::kStreaming), sa.end());
  const auto status = ingest->status();
  EXPECT_GE(status[0].stalls, 1u);
  EXPECT_GE(status[0].reconnects, 1u);

  // B never left streaming.
  const auto sb = listener.states("cam-b");
  ASSERT_FALSE(sb.empty());
  for (size_t i = 0; i < sb.size(); ++i) {
    EXPECT_TRUE(sb[i] == CameraState::kConnecting || sb[i] == CameraState::kStreaming)
        << "cam-b state " << toString(sb[i]);
  }
  EXPECT_EQ(status[1].stalls, 0u);
  EXPECT_EQ(status[1].reconnects, 0u);
  ingest->stop();
  // The segment open when A stalled was finished, and A's segments all play.
  for (const auto& s : listener.segments("cam-a")) {
    const auto p = probeFile(s.path);
    EXPECT_TRUE(p.ok) << s.path << ": " << p.output;
  }
}

TEST(Ingest, UnreachableAndDeadCamerasGoOfflineOthersRecordStopIsBounded) {
  RtspFixture server;
  server.addMount("/ok");
  SilentPort silent;
  TempDir dir;
  RecordingListener listener;
  IngestOptions options;
  options.stopTimeout = 4s;
  auto ingest = makeManager(listener, options);
  auto refused =
      testCamera("refused", "rtsp://127.0.0.1:" + std::to_string(closedPort()) + "/x", dir.str());
  refused.health.offlineAfterFailures = 2;
  auto dead =
      testCamera("dead", "rtsp://127.0.0.1:" + std::to_string(silent.port()) + "/x", dir.str());
  dead.health.connectTimeout = 1s;
  dead.health.offlineAfterFailures = 2;
  auto missing = testCamera("missing", server.url("/does-not-exist"), dir.str());
  missing.health.offlineAfterFailures = 2;
  ASSERT_TRUE(ingest->addCamera(refused).ok());
  ASSERT_TRUE(ingest->addCamera(dead).ok());
  ASSERT_TRUE(ingest->addCamera(missing).ok());
  ASSERT_TRUE(ingest->addCamera(testCamera("ok", server.url("/ok"), dir.str())).ok());

  EXPECT_TRUE(listener.waitState("refused", CameraState::kOffline, 15s));
  EXPECT_TRUE(listener.waitState("dead", CameraState::kOffline, 15s));
  EXPECT_TRUE(listener.waitState("missing", CameraState::kOffline, 15s));
  ASSERT_TRUE(listener.waitFor([&] { return listener.segmentsLocked("ok").size() >= 2; }, 20s));
  for (const auto& s : ingest->status()) {
    if (s.id.str() == "ok") {
      EXPECT_EQ(s.state, CameraState::kStreaming);
    } else {
      EXPECT_EQ(s.state, CameraState::kOffline) << s.id.str();
      EXPECT_FALSE(s.reason.empty());
      EXPECT_EQ(s.segments, 0u);
    }
  }
  // No files for cameras that never delivered: gaps stay gaps.
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "refused"));

  const auto t0 = std::chrono::steady_clock::now();
  ingest->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, options.stopTimeout + 2s);
  ingest->stop();  // idempotent
}

TEST(Ingest, ConnectionSlotsMakeCamerasTakeTurnsAndDeadOnesDoNotBlock) {
  RtspFixture server;
  server.addMount("/ok");
  SilentPort silent;
  TempDir dir;
  RecordingListener listener;
  IngestOptions options;
  options.maxConnecting = 1;
  auto ingest = makeManager(listener, options);
  ASSERT_TRUE(ingest);
  // A silent camera takes the only slot first. It never sends video, yet it gives the slot up
  // after 2 s (not after its 30 s connect timeout): "ok" streams, but not before that.
  auto dead =
      testCamera("dead", "rtsp://127.0.0.1:" + std::to_string(silent.port()) + "/x", dir.str());
  dead.health.connectTimeout = 30s;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(ingest->addCamera(dead).ok());
  ASSERT_TRUE(ingest->addCamera(testCamera("queued", server.url("/ok"), dir.str())).ok());
  ASSERT_TRUE(ingest->addCamera(testCamera("ok", server.url("/ok"), dir.str())).ok());
  // "queued" waits behind "dead" and is removed while waiting: its turn must pass on, not leak.
  ASSERT_TRUE(ingest->removeCamera(core::CameraId::parse("queued").value()).ok());
  ASSERT_TRUE(listener.waitState("ok", CameraState::kStreaming, 20s));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_LT(listener.stateIndex("queued", CameraState::kStreaming), 0);
  // Turns keep passing: two more cameras added later both stream, one after the other.
  ASSERT_TRUE(ingest->addCamera(testCamera("later1", server.url("/ok"), dir.str())).ok());
  ASSERT_TRUE(ingest->addCamera(testCamera("later2", server.url("/ok"), dir.str())).ok());
  EXPECT_TRUE(listener.waitState("later1", CameraState::kStreaming, 20s));
  EXPECT_TRUE(listener.waitState("later2", CameraState::kStreaming, 20s));
  ASSERT_TRUE(listener.waitFor([&] { return listener.segmentsLocked("ok").size() >= 1; }, 20s));
  ingest->stop();
}

TEST(Ingest, NegativeConnectionSlotsAreRejected) {
  RecordingListener listener;
  IngestOptions options;
  options.maxConnecting = -1;
  auto created = IngestManager::create(options, listener);
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.error().message.find("maxConnecting"), std::string::npos);
}

TEST(Ingest, SubStreamFeedsAnalyticsAndItsFailureDoesNotStopRecording) {
  RtspFixture server;
  server.addMount("/main");
  server.addMount("/sub", false, 320, 180);
  TempDir dir;
  RecordingListener listener;
  auto ingest = makeManager(listener);
  auto good = testCamera("withsub", server.url("/main"), dir.str());
  good.sub = StreamSource{server.url("/sub")};
  good.analytics.enabled = true;
  good.analytics.width = 192;
  good.analytics.height = 108;
  good.analytics.fps = 5;
  auto broken = testCamera("badsub", server.url("/main"), dir.str());
  broken.sub = StreamSource{server.url("/nope")};
  broken.analytics.enabled = true;
  ASSERT_TRUE(ingest->addCamera(good).ok());
  ASSERT_TRUE(ingest->addCamera(broken).ok());
  ASSERT_TRUE(listener.waitFor([&] { return listener.framesLocked("withsub").size() >= 8; }, 20s));
  ASSERT_TRUE(listener.waitFor([&] { return listener.segmentsLocked("badsub").size() >= 2; }, 20s));
  const auto st = ingest->status();
  EXPECT_EQ(st[0].id.str(), "badsub");
  EXPECT_EQ(st[0].state, CameraState::kStreaming);
  EXPECT_EQ(st[0].framesAnalysed, 0u);
  ingest->stop();
  const auto frames = listener.frames("withsub");
  expectRate(frames, 5.0);
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].width, 192);
    EXPECT_EQ(frames[i].height, 108);
  }
}

// Another client of a shared RTSP media (an NVR, a second gateway): an rtspsrc pipeline of its
// own that keeps the media playing and notes when each frame and keyframe arrives, so a test
// knows where in the GOP a camera joining the same media starts.
class GopWatcher {
 public:
  explicit GopWatcher(const std::string& url) {
    pipeline_ = gst_parse_launch(("rtspsrc location=" + url +
                                  " protocols=tcp latency=0 ! rtph264depay ! h264parse name=parse "
                                  "! fakesink sync=false async=false")
                                     .c_str(),
                                 nullptr);
    if (!pipeline_) return;
    GstElement* parse = gst_bin_get_by_name(GST_BIN(pipeline_), "parse");
    GstPad* pad = gst_element_get_static_pad(parse, "src");
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, &GopWatcher::onBuffer, this, nullptr);
    gst_object_unref(pad);
    gst_object_unref(parse);
    gst_element_set_state(pipeline_, GST_STATE_PLAYING);
  }
  ~GopWatcher() {
    if (!pipeline_) return;
    gst_element_set_state(pipeline_, GST_STATE_NULL);
    gst_object_unref(pipeline_);
  }
  GopWatcher(const GopWatcher&) = delete;
  GopWatcher& operator=(const GopWatcher&) = delete;

  // Waits until a keyframe received at `since` or later has been followed by `frames` frames.
  bool waitIntoGop(Clock::time_point since, int frames, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] {
      return !keyframes_.empty() && keyframes_.back() >= since && sinceKeyframe_ >= frames;
    });
  }
  // Whether a keyframe arrived within [from, to].
  bool keyframeWithin(Clock::time_point from, Clock::time_point to) {
    std::lock_guard lock(mutex_);
    return std::any_of(keyframes_.begin(), keyframes_.end(),
                       [&](Clock::time_point k) { return k >= from && k <= to; });
  }

 private:
  static GstPadProbeReturn onBuffer(GstPad*, GstPadProbeInfo* info, gpointer data) {
    auto* self = static_cast<GopWatcher*>(data);
    GstBuffer* buf = GST_PAD_PROBE_INFO_BUFFER(info);
    const bool keyframe = buf && !GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT);
    std::lock_guard lock(self->mutex_);
    if (keyframe) {
      self->keyframes_.push_back(Clock::now());
      self->sinceKeyframe_ = 0;
    } else {
      ++self->sinceKeyframe_;
    }
    self->changed_.notify_all();
    return GST_PAD_PROBE_OK;
  }

  GstElement* pipeline_ = nullptr;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Clock::time_point> keyframes_;
  int sinceKeyframe_ = 0;
};

// ffprobe's view of a recorded file: whether its first packet is a keyframe, how many packets it
// holds and how many of them decode into pictures, and what the decoder complained about.
struct DecodeCheck {
  bool firstPacketKey = false;
  long packets = -1;
  long frames = -2;
  std::string errors;
};
DecodeCheck checkDecode(const std::string& path) {
  DecodeCheck c;
  const auto flags =
      runCommand("ffprobe -v error -select_streams v:0 -show_entries packet=flags -of csv=p=0 '" +
                 path + "' 2>/dev/null");
  if (flags && !flags->lines.empty()) c.firstPacketKey = flags->lines[0].rfind('K', 0) == 0;
  const auto counts = runCommand(
      "ffprobe -v error -select_streams v:0 -count_frames -count_packets -show_entries "
      "stream=nb_read_frames,nb_read_packets -of default=nw=1 '" +
      path + "' 2>&1");
  // ffprobe says N/A for a stream of which no frame decodes at all.
  const auto number = [](const std::string& text, long fallback) {
    if (text == "N/A") return 0L;
    char* end = nullptr;
    const long n = std::strtol(text.c_str(), &end, 10);
    return end != text.c_str() && *end == '\0' ? n : fallback;
  };
  for (const std::string& line : counts ? counts->lines : std::vector<std::string>{}) {
    if (line.rfind("nb_read_frames=", 0) == 0) {
      c.frames = number(line.substr(15), c.frames);
    } else if (line.rfind("nb_read_packets=", 0) == 0) {
      c.packets = number(line.substr(16), c.packets);
    } else {
      c.errors += line + "\n";  // the decoder's errors (missing references, ...)
    }
  }
  return c;
}

// A camera that joins a stream mid-GOP, on the default (rtspsrc) reader, records from the first
// keyframe on, at its first connect and again after a reconnect: the delta frames before it
// reference pictures the camera never received and do not decode. The media is shared and kept
// playing by another client, with a 6 s GOP: the camera connects 1 s into a GOP, and the test
// checks that no keyframe came while it was connecting.
TEST(Ingest, RecordingStartsAtAKeyframeWhenJoiningASharedStreamMidGop) {
  RtspFixture server;
  server.addMount("/shared", /*h265=*/false, 320, 240, /*gop=*/150);
  GopWatcher watcher(server.url("/shared"));
  ASSERT_TRUE(watcher.waitIntoGop(Clock::now(), 25, 30s)) << "the shared media does not play";

  TempDir dir;
  RecordingListener listener;
  auto ingest = makeManager(listener);
  auto cfg = testCamera("joiner", server.url("/shared"), dir.str());
  cfg.health.stallTimeout = 3s;  // generous: a loaded machine, and nothing here stalls
  cfg.health.connectTimeout = 8s;
  ASSERT_EQ(cfg.main.reader, StreamSource::Reader::kRtspsrc);
  const auto joining = Clock::now();
  ASSERT_TRUE(ingest->addCamera(cfg).ok());
  ASSERT_TRUE(listener.waitState("joiner", CameraState::kStreaming, 15s));
  const auto joined = Clock::now();
  ASSERT_FALSE(watcher.keyframeWithin(joining - 200ms, joined + 200ms))
      << "the camera did not join mid-GOP";
  // Into the next GOP: the recorder has started at its keyframe.
  ASSERT_TRUE(watcher.waitIntoGop(joined + 200ms, 25, 15s));

  // A reconnect (the same sources again: the session is replaced) joins mid-GOP too.
  const size_t statesBefore = listener.states("joiner").size();
  const auto rejoining = Clock::now();
  ASSERT_TRUE(ingest->updateSources(cfg.id, cfg.main, std::nullopt).ok());
  ASSERT_TRUE(listener.waitState("joiner", CameraState::kReconnecting, 10s, statesBefore));
  const auto reconnectingAt =
      static_cast<size_t>(listener.stateIndex("joiner", CameraState::kReconnecting, statesBefore));
  ASSERT_TRUE(listener.waitState("joiner", CameraState::kStreaming, 15s, reconnectingAt));
  const auto rejoined = Clock::now();
  ASSERT_FALSE(watcher.keyframeWithin(rejoining - 200ms, rejoined + 200ms))
      << "the camera did not rejoin mid-GOP";
  ASSERT_TRUE(watcher.waitIntoGop(rejoined + 200ms, 25, 15s));
  ingest->stop();

  // One segment from each session, each from its keyframe on.
  const auto segs = listener.segments("joiner");
  ASSERT_GE(segs.size(), 2u);
  for (const auto& s : segs) {
    SCOPED_TRACE(s.path);
    const auto c = checkDecode(s.path);
    EXPECT_TRUE(c.firstPacketKey);
    EXPECT_GT(c.packets, 0);
    EXPECT_EQ(c.frames, c.packets) << "frames that do not decode";
    EXPECT_EQ(c.errors, "");
  }
}

TEST(Ingest, RemoveAndReAddCameraAndRejectBadConfig) {
  RtspFixture server;
  server.addMount("/r");
  TempDir dir;
  RecordingListener listener;
  auto ingest = makeManager(listener);
  auto cfg = testCamera("r1", server.url("/r"), dir.str());
  ASSERT_TRUE(ingest->addCamera(cfg).ok());
  EXPECT_EQ(ingest->addCamera(cfg).error().code, core::ErrorCode::kAlreadyExists);
  auto bad = cfg;
  bad.id = core::CameraId::parse("bad").value();
  bad.main.url = "http://x";
  EXPECT_EQ(ingest->addCamera(bad).error().code, core::ErrorCode::kInvalidArgument);
  bad.main.url = server.url("/r");
  bad.recording.directory.clear();
  EXPECT_EQ(ingest->addCamera(bad).error().code, core::ErrorCode::kInvalidArgument);
  EXPECT_EQ(ingest->removeCamera(core::CameraId::parse("nope").value()).error().code,
            core::ErrorCode::kNotFound);

  ASSERT_TRUE(listener.waitState("r1", CameraState::kStreaming, 15s));
  ASSERT_TRUE(ingest->removeCamera(cfg.id).ok());
  EXPECT_TRUE(ingest->status().empty());
  ASSERT_TRUE(listener.waitState("r1", CameraState::kStopped, 10s));
  // The segment open at removal is finished and reported.
  ASSERT_TRUE(listener.waitFor([&] { return !listener.segmentsLocked("r1").empty(); }, 10s));
  const auto first = listener.segments("r1");
  EXPECT_TRUE(probeFile(first[0].path).ok);

  ASSERT_TRUE(ingest->addCamera(cfg).ok());
  const auto stopped = static_cast<size_t>(listener.stateIndex("r1", CameraState::kStopped));
  ASSERT_TRUE(listener.waitState("r1", CameraState::kStreaming, 15s, stopped));
  ASSERT_TRUE(ingest->updateSources(cfg.id, cfg.main, std::nullopt).ok());
  ingest->stop();
  EXPECT_EQ(listener.states("r1").back(), CameraState::kStopped);
}

}  // namespace
}  // namespace sharpeyes::ingest::testing
