// A camera configured with the native reader (StreamSource::Reader::kNative) that sends B-frames
// (an in-process gst-rtsp-server with x264enc bframes=2, frames out of presentation order on
// the wire) ends up recording through rtspsrc by itself: one warning naming the camera, status
// reader "rtspsrc", and every segment it recorded, the native reader's before the switch and
// rtspsrc's after, decodes frame for frame with strictly increasing decode times and keeps its
// B-frames. Cameras configured with rtspsrc, over TCP and over UDP, get the same treatment (that
// chain had no decode times for reordered frames either). A camera without B-frames beside them
// stays on the native reader, unaffected.
#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "rtsp_fixture.h"
#include "test_util.h"

namespace sharpeyes::ingest::testing {
namespace {

constexpr const char* kPassword = "pw-never-logged-7731";
constexpr const char* kSwitchWarning = "frames arrive out of presentation order";

// Every log line, to count the fallback warning and look for secrets.
class CapturingSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string line(msg.payload.data(), msg.payload.size());
    if (msg.level == spdlog::level::warn) line = "[warn] " + line;
    lines_.push_back(std::move(line));
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;
};

struct Packet {
  int64_t pts = 0;
  int64_t dts = 0;
};

// The video packets of a file in stored (decode) order, as libav's demuxer reads them.
std::vector<Packet> packetsOf(const std::string& path) {
  std::vector<Packet> out;
  const auto run = runCommand(
      "ffprobe -v error -select_streams v:0 -show_entries packet=pts,dts -of "
      "csv=p=0 '" +
      path + "' 2>&1");
  if (!run) return out;
  for (const std::string& line : run->lines) {
    long long pts = 0, dts = 0;
    if (std::sscanf(line.c_str(), "%lld,%lld", &pts, &dts) == 2) out.push_back({pts, dts});
  }
  return out;
}

// Frames the decoder reports as B pictures.
int bFramesOf(const std::string& path) {
  const auto run = runCommand(
      "ffprobe -v error -select_streams v:0 -show_entries frame=pict_type -of "
      "csv=p=0 '" +
      path + "' 2>&1");
  if (!run) return -1;
  int n = 0;
  for (const std::string& line : run->lines) n += !line.empty() && line[0] == 'B' ? 1 : 0;
  return n;
}

// Every segment plays: each packet decodes (frames == packets), decode times strictly increase,
// no frame is presented before it is decoded. Returns how many segments hold reordered frames.
int checkSegments(const std::vector<SegmentClosed>& segments, const std::string& codec = "h264") {
  int reorderedSegments = 0;
  for (const auto& s : segments) {
    const auto probe = probeFile(s.path);
    EXPECT_TRUE(probe.ok) << s.path << ": " << probe.output;
    EXPECT_EQ(probe.codec, codec) << s.path;
    EXPECT_EQ(probe.width, 320) << s.path;
    const auto packets = packetsOf(s.path);
    EXPECT_FALSE(packets.empty()) << s.path;
    EXPECT_EQ(probe.frames, static_cast<long>(packets.size())) << s.path;
    bool reordered = false;
    for (size_t i = 0; i < packets.size(); ++i) {
      if (i > 0) {
        EXPECT_GT(packets[i].dts, packets[i - 1].dts) << s.path << " packet " << i;
      }
      EXPECT_GE(packets[i].pts, packets[i].dts) << s.path << " packet " << i;
      if (packets[i].pts != packets[i].dts) reordered = true;
    }
    if (reordered) ++reorderedSegments;
  }
  return reorderedSegments;
}

std::vector<SegmentClosed> inStartOrder(std::vector<SegmentClosed> segments) {
  // The first session's segment is reported by its teardown thread: not always first.
  std::sort(segments.begin(), segments.end(),
            [](const auto& a, const auto& b) { return a.start < b.start; });
  return segments;
}

std::string statusReader(IngestManager& ingest, const std::string& id) {
  for (const auto& s : ingest.status())
    if (s.id.str() == id) return s.reader;
  return "(no such camera)";
}

TEST(NativeReaderReordering, BFrameCameraSwitchesToRtspsrcAndOthersStayNative) {
  auto sink = std::make_shared<CapturingSink>();
  spdlog::default_logger()->sinks().push_back(sink);
  struct Unhook {
    std::shared_ptr<CapturingSink> sink;
    ~Unhook() {
      auto& sinks = spdlog::default_logger()->sinks();
      sinks.erase(std::remove(sinks.begin(), sinks.end(), sink), sinks.end());
    }
  } unhook{sink};

  RtspFixture server;
  server.addMount("/bframes", false, 320, 240, 25, /*bframes=*/2);
  // Its own mount: the first session starts the media, at a keyframe, as a camera's stream
  // starts for a client (rtspsrc joining a running stream mid-GOP is another matter).
  server.addMount("/bframes2", false, 320, 240, 25, /*bframes=*/2);
  server.addMount("/bframes3", false, 320, 240, 25, /*bframes=*/2);
  server.addMount("/plain", false, 320, 240, 25);
  TempDir dir;
  RecordingListener listener;
  auto made = IngestManager::create({}, listener);
  ASSERT_TRUE(made.ok()) << made.error().describe();
  auto ingest = std::move(made).value();

  auto reordering = testCamera("bframes", server.url("/bframes"), dir.str());
  auto viaRtspsrc = testCamera("bframes-rtspsrc", server.url("/bframes2"), dir.str());
  auto overUdp = testCamera("bframes-udp", server.url("/bframes3"), dir.str());
  auto plain = testCamera("plain", server.url("/plain"), dir.str());
  for (auto* cam : {&reordering, &viaRtspsrc, &overUdp, &plain}) {
    cam->main.reader = StreamSource::Reader::kNative;
    cam->main.username = "viewer";  // the fixture asks for no login; it must still never show
    cam->main.password = kPassword;
    cam->health.offlineAfterFailures = 100;
  }
  viaRtspsrc.main.reader = StreamSource::Reader::kRtspsrc;
  overUdp.main.reader = StreamSource::Reader::kRtspsrc;  // what `reader: auto` picks for UDP
  overUdp.main.transport = Transport::kUdp;
  ASSERT_TRUE(ingest->addCamera(reordering).ok());
  ASSERT_TRUE(ingest->addCamera(viaRtspsrc).ok());
  ASSERT_TRUE(ingest->addCamera(overUdp).ok());
  ASSERT_TRUE(ingest->addCamera(plain).ok());

  // The first session's segment (cut at the switch) and then 2 s ones built for reordering.
  ASSERT_TRUE(listener.waitFor(
      [&] {
        return listener.segmentsLocked("bframes").size() >= 4 &&
               listener.segmentsLocked("bframes-rtspsrc").size() >= 4 &&
               listener.segmentsLocked("bframes-udp").size() >= 4 &&
               listener.segmentsLocked("plain").size() >= 3;
      },
      90s))
      << listener.segmentCount("bframes") << " / " << listener.segmentCount("bframes-rtspsrc")
      << " / " << listener.segmentCount("bframes-udp") << " / " << listener.segmentCount("plain")
      << " segments";
  EXPECT_EQ(statusReader(*ingest, "bframes"), "rtspsrc");
  EXPECT_EQ(statusReader(*ingest, "bframes-rtspsrc"), "rtspsrc");
  EXPECT_EQ(statusReader(*ingest, "bframes-udp"), "rtspsrc");
  EXPECT_EQ(statusReader(*ingest, "plain"), "native");
  for (const auto& s : ingest->status()) {
    EXPECT_EQ(s.state, CameraState::kStreaming) << s.id.str() << ": " << s.reason;
    if (s.id.str() == "plain") {
      EXPECT_EQ(s.reconnects, 0U) << s.reason;
    }
  }
  ingest->stop();

  for (const char* id : {"bframes", "bframes-rtspsrc", "bframes-udp"}) {
    SCOPED_TRACE(id);
    const auto segments = inStartOrder(listener.segments(id));
    ASSERT_GE(segments.size(), 4U);
    // The sessions built for reordering kept the B-frames, in decode order with their own
    // decode times; the first session's segment stopped before the first reordered frame.
    EXPECT_GE(checkSegments(segments), 3);
    EXPECT_EQ(checkSegments({segments.front()}), 0) << "frames only up to the first reordered one";
    int bFrames = 0;
    for (const auto& s : segments) bFrames += bFramesOf(s.path);
    EXPECT_GT(bFrames, 0);
  }
  // The native reader's segments: no reordering (there is none to keep).
  EXPECT_EQ(checkSegments(listener.segments("plain")), 0);

  // One warning per B-frame camera, naming it and its reader; no password in any line.
  std::map<std::string, int> warnings;
  for (const auto& line : sink->lines()) {
    EXPECT_EQ(line.find(kPassword), std::string::npos) << line;
    if (line.find(kSwitchWarning) == std::string::npos) continue;
    EXPECT_EQ(line.rfind("[warn] ", 0), 0U) << line;
    if (line.find("camera bframes main stream") != std::string::npos) {
      ++warnings["bframes"];
      EXPECT_NE(line.find("the native reader cannot record them"), std::string::npos) << line;
    } else if (line.find("camera bframes-rtspsrc main stream") != std::string::npos) {
      ++warnings["bframes-rtspsrc"];
    } else if (line.find("camera bframes-udp main stream") != std::string::npos) {
      ++warnings["bframes-udp"];
    } else {
      ADD_FAILURE() << "a warning for another camera: " << line;
    }
  }
  EXPECT_EQ(warnings["bframes"], 1);
  EXPECT_EQ(warnings["bframes-rtspsrc"], 1);
  EXPECT_EQ(warnings["bframes-udp"], 1);
}

// H.265 the same way: the native reader's detector works on RTP time whatever the codec, and the
// rtspsrc session gets h265timestamper.
TEST(NativeReaderReordering, H265BFrameCameraSwitchesToRtspsrc) {
  RtspFixture server;
  server.addMount("/hevc-bframes", /*h265=*/true, 320, 240, 25, /*bframes=*/2);
  TempDir dir;
  RecordingListener listener;
  auto made = IngestManager::create({}, listener);
  ASSERT_TRUE(made.ok()) << made.error().describe();
  auto ingest = std::move(made).value();
  auto cam = testCamera("hevc", server.url("/hevc-bframes"), dir.str());
  cam.main.reader = StreamSource::Reader::kNative;
  cam.health.offlineAfterFailures = 100;
  ASSERT_TRUE(ingest->addCamera(cam).ok());
  ASSERT_TRUE(listener.waitFor([&] { return listener.segmentsLocked("hevc").size() >= 3; }, 90s))
      << listener.segmentCount("hevc") << " segments";
  EXPECT_EQ(statusReader(*ingest, "hevc"), "rtspsrc");
  ingest->stop();

  const auto segments = inStartOrder(listener.segments("hevc"));
  ASSERT_GE(segments.size(), 3U);
  EXPECT_EQ(checkSegments({segments.front()}, "hevc"), 0);
  EXPECT_GE(checkSegments({segments.begin() + 1, segments.end()}, "hevc"), 1);
  int bFrames = 0;
  for (const auto& s : segments) bFrames += bFramesOf(s.path);
  EXPECT_GT(bFrames, 0);
}

}  // namespace
}  // namespace sharpeyes::ingest::testing
