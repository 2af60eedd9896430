// The native RTSP-over-TCP reader (ingest/src/rtsp_tcp_client.h) against the project's camera
// simulator (a real gst-rtsp-server): access units at the stream's frame rate with keyframes
// every 2 s, digest authentication, and a clear error for a wrong password, a refused port, a
// dropped connection; stop() unblocks a reader waiting for data. And a camera whose main stream
// is read natively (StreamSource::Reader::kNative) records decodable segments, goes stalled when
// the camera stops sending and reconnects when it drops the connection.
#include "rtsp_tcp_client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "native_recorder.h"
#include "process.h"
#include "rtsp_fixture.h"
#include "sharpeyes/core/util.h"
#include "sharpeyes/sim/sim.h"
#include "test_util.h"

namespace sharpeyes::ingest {
namespace {

using namespace std::chrono_literals;
using core::ErrorCode;

sim::SimOptions simOptions(int cameras) {
  sim::SimOptions o;
  o.cameras = cameras;
  o.distinctScenes = 1;
  o.loopSeconds = 4;
  o.main = {640, 360, 25, 800, 50};  // 2 s GOP
  o.sub = {320, 180, 25, 256, 50};
  o.cacheDir = INGEST_SIM_CACHE_DIR;
  return o;
}

struct SeenUnit {
  int64_t rtpTime = 0;
  bool keyframe = false;
  bool discont = false;
  bool startsWithStartCode = false;
  bool hasSps = false;
  bool hasPps = false;
};

// Runs a client on its own thread and records what it hands on.
class Reader {
 public:
  explicit Reader(RtspTcpOptions options) : client_(std::move(options)) {
    thread_ = std::thread([this] {
      auto r = client_.run(nullptr, [this](AccessUnit& au) { onUnit(au); });
      std::lock_guard lock(mutex_);
      result_ = std::move(r);
      done_ = true;
      changed_.notify_all();
    });
  }
  ~Reader() {
    client_.stop();
    thread_.join();
  }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  bool waitUnits(size_t n, std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return units_.size() >= n || done_; }) &&
           units_.size() >= n;
  }
  // The run's result, once it returned within `timeout`.
  std::optional<core::Result<void>> waitDone(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, timeout, [&] { return done_; })) return std::nullopt;
    return result_;
  }
  std::vector<SeenUnit> units() {
    std::lock_guard lock(mutex_);
    return units_;
  }
  RtspTcpClient& client() { return client_; }

 private:
  void onUnit(const AccessUnit& au) {
    SeenUnit s;
    s.rtpTime = au.rtpTime;
    s.keyframe = au.keyframe;
    s.discont = au.discont;
    const auto& d = au.data;
    s.startsWithStartCode = d.size() > 4 && d[0] == 0 && d[1] == 0 && d[2] == 0 && d[3] == 1;
    for (size_t i = 0; i + 4 < d.size(); ++i) {
      if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1) {
        s.hasSps = s.hasSps || (d[i + 3] & 0x1f) == 7;
        s.hasPps = s.hasPps || (d[i + 3] & 0x1f) == 8;
      }
    }
    std::lock_guard lock(mutex_);
    units_.push_back(s);
    changed_.notify_all();
  }

  RtspTcpClient client_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<SeenUnit> units_;
  core::Result<void> result_;
  bool done_ = false;
  std::thread thread_;
};

RtspTcpOptions optionsFor(const std::string& url) {
  RtspTcpOptions o;
  o.url = url;
  o.dataTimeout = 60s;  // so that only stop() or the server can end a run in these tests
  return o;
}

class RtspTcpClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto started = sim::SimServer::start(simOptions(3));
    ASSERT_TRUE(started.ok()) << started.error().describe();
    sim_ = std::move(started).value().release();
  }
  static void TearDownTestSuite() {
    if (sim_ != nullptr) sim_->stop();
    delete sim_;
    sim_ = nullptr;
  }
  static sim::SimServer* sim_;
};
sim::SimServer* RtspTcpClientTest::sim_ = nullptr;

TEST_F(RtspTcpClientTest, ReceivesAccessUnitsWithKeyframesEveryTwoSeconds) {
  Reader reader(optionsFor(sim_->mainUrl(0)));
  ASSERT_TRUE(reader.waitUnits(130, 60s)) << reader.units().size() << " units";
  reader.client().stop();
  const auto done = reader.waitDone(10s);
  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(done->ok()) << done->error().describe();

  const auto units = reader.units();
  ASSERT_GE(units.size(), 130U);
  EXPECT_TRUE(units[0].keyframe);  // the stream starts at a keyframe
  EXPECT_TRUE(units[0].discont);
  std::vector<int64_t> keyframes;
  size_t steps25fps = 0;
  for (size_t i = 0; i < units.size(); ++i) {
    EXPECT_TRUE(units[i].startsWithStartCode) << i;
    if (i > 0) {
      EXPECT_FALSE(units[i].discont) << i;
      if (units[i].rtpTime - units[i - 1].rtpTime == 3600) ++steps25fps;  // 90 kHz / 25
    }
    if (units[i].keyframe) {
      EXPECT_TRUE(units[i].hasSps && units[i].hasPps) << "keyframe " << i;
      keyframes.push_back(units[i].rtpTime);
    }
  }
  // 25 frames a second of media time (a loop restart may break one step).
  EXPECT_GE(steps25fps, units.size() - 3);
  ASSERT_GE(keyframes.size(), 3U);
  for (size_t i = 1; i < keyframes.size(); ++i) {
    EXPECT_EQ(keyframes[i] - keyframes[i - 1], 180000) << "keyframes 2 s apart, gap " << i;
  }
  const auto depay = reader.client().depayStats();
  EXPECT_EQ(depay.lostPackets, 0U);
  EXPECT_EQ(depay.damagedPackets, 0U);
  const auto stats = reader.client().stats();
  EXPECT_GT(stats.bytes, 0U);
  // SO_RCVLOWAT follows the measured bitrate: ~50 ms of an 800 kbit/s stream, within the clamp.
  EXPECT_GT(stats.rcvlowat, 1);
  EXPECT_LE(stats.rcvlowat, 64 * 1024);
  EXPECT_LT(stats.reads, static_cast<uint64_t>(depay.packets));  // batched, not per packet
  // TEARDOWN closed the session on the server.
  EXPECT_TRUE(sharpeyes::testing::waitFor([&] { return sim_->sessionCount(0) == 0; }, 10s));
}

TEST_F(RtspTcpClientTest, KeepalivesAreAnsweredWhileStreaming) {
  auto opts = optionsFor(sim_->mainUrl(0));
  opts.keepaliveInterval = 500ms;  // the simulator's session timeout (60 s) is too long to wait
  Reader reader(opts);
  ASSERT_TRUE(reader.waitUnits(5, 60s));
  ASSERT_TRUE(sharpeyes::testing::waitFor(
      [&] { return reader.client().stats().keepaliveReplies >= 3; }, 30s))
      << reader.client().stats().keepalives << " sent";
  const size_t before = reader.units().size();
  ASSERT_TRUE(reader.waitUnits(before + 10, 30s));  // media keeps flowing among the replies
  reader.client().stop();
  const auto done = reader.waitDone(10s);
  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(done->ok()) << done->error().describe();
}

TEST_F(RtspTcpClientTest, RefusedPortIsAClearError) {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  ::close(s);  // bound, never listening: nothing there now

  RtspTcpClient client(optionsFor("rtsp://127.0.0.1:" + std::to_string(port) + "/cam01/main"));
  auto r = client.run(nullptr, [](AccessUnit&) {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message.find("refused"), std::string::npos) << r.error().describe();
}

TEST_F(RtspTcpClientTest, UnknownPathIsNotFound) {
  std::string url = sim_->mainUrl(0);
  url.replace(url.find("cam01"), 5, "nosuchcam");
  RtspTcpClient client(optionsFor(url));
  auto r = client.run(nullptr, [](AccessUnit&) {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound) << r.error().describe();
  EXPECT_NE(r.error().message.find("404"), std::string::npos);
}

TEST_F(RtspTcpClientTest, ServerDroppingTheConnectionIsAClearError) {
  Reader reader(optionsFor(sim_->mainUrl(1)));
  ASSERT_TRUE(reader.waitUnits(5, 60s));
  ASSERT_TRUE(sim_->injectFault(1, sim::Fault::kDropConnections).ok());
  const auto done = reader.waitDone(30s);
  ASSERT_TRUE(done.has_value()) << "run() did not return after the server dropped us";
  ASSERT_FALSE(done->ok());
  EXPECT_EQ(done->error().code, ErrorCode::kUnavailable) << done->error().describe();
  EXPECT_NE(done->error().message.find("closed the connection"), std::string::npos)
      << done->error().describe();
}

TEST_F(RtspTcpClientTest, StopUnblocksAReaderWaitingForData) {
  Reader reader(optionsFor(sim_->mainUrl(2)));
  ASSERT_TRUE(reader.waitUnits(5, 60s));
  ASSERT_TRUE(sim_->injectFault(2, sim::Fault::kStopSending, 60s).ok());
  // Blocked: no access unit for a whole second (the data timeout is 60 s).
  size_t last = 0;
  auto quietSince = std::chrono::steady_clock::now();
  ASSERT_TRUE(sharpeyes::testing::waitFor(
      [&] {
        const size_t n = reader.units().size();
        const auto now = std::chrono::steady_clock::now();
        if (n != last) {
          last = n;
          quietSince = now;
        }
        return now - quietSince > 1s;
      },
      30s));
  const auto stopAt = std::chrono::steady_clock::now();
  reader.client().stop();
  const auto done = reader.waitDone(10s);
  ASSERT_TRUE(done.has_value()) << "stop() did not unblock run()";
  EXPECT_TRUE(done->ok()) << done->error().describe();
  // Generous for a loaded machine; the data timeout (60 s) is far away.
  EXPECT_LT(std::chrono::steady_clock::now() - stopAt, 5s);
  ASSERT_TRUE(sim_->injectFault(2, sim::Fault::kClear).ok());
}

TEST_F(RtspTcpClientTest, CameraRecordsThroughTheNativeReaderStallsAndReconnects) {
  testing::TempDir dir;
  testing::RecordingListener listener;
  auto m = IngestManager::create({}, listener);
  ASSERT_TRUE(m.ok());
  auto ingest = std::move(m).value();
  auto cam = testing::testCamera("native", sim_->mainUrl(0), dir.str());
  cam.main.reader = StreamSource::Reader::kNative;
  cam.health.offlineAfterFailures = 100;
  ASSERT_TRUE(ingest->addCamera(cam).ok());
  ASSERT_TRUE(listener.waitState("native", CameraState::kStreaming, 30s));
  ASSERT_TRUE(listener.waitFor([&] { return listener.segmentsLocked("native").size() >= 2; }, 30s));

  // The stall watchdog sees the native reader's data through the parser probe.
  ASSERT_TRUE(sim_->injectFault(0, sim::Fault::kStopSending, 3s).ok());
  ASSERT_TRUE(listener.waitState("native", CameraState::kStalled, 20s));
  const auto stalledAt = static_cast<size_t>(listener.stateIndex("native", CameraState::kStalled));
  ASSERT_TRUE(listener.waitState("native", CameraState::kStreaming, 30s, stalledAt));

  // A dropped connection is a reader error on the bus: the camera reconnects.
  const size_t before = listener.states("native").size();
  ASSERT_TRUE(sim_->injectFault(0, sim::Fault::kDropConnections).ok());
  ASSERT_TRUE(listener.waitState("native", CameraState::kReconnecting, 20s, before));
  const auto reconnectAt =
      static_cast<size_t>(listener.stateIndex("native", CameraState::kReconnecting, before));
  ASSERT_TRUE(listener.waitState("native", CameraState::kStreaming, 30s, reconnectAt));
  const size_t segmentsBefore = listener.segmentCount("native");
  ASSERT_TRUE(listener.waitFor(
      [&] { return listener.segmentsLocked("native").size() > segmentsBefore; }, 30s));
  ingest->stop();

  const auto segments = listener.segments("native");
  ASSERT_GE(segments.size(), 3U);
  for (const auto& s : segments) {
    const auto p = testing::probeFile(s.path);
    EXPECT_TRUE(p.ok) << s.path << ": " << p.output;
    EXPECT_EQ(p.codec, "h264");
    EXPECT_EQ(p.width, 640);
    EXPECT_EQ(s.width, 640) << s.path << " (" << testing::secs(s.mediaDuration) << " s)";
  }
}

// The native reader records on its own thread (native_recorder.h): whole 2 s GOPs in 4 s
// segments that follow each other without a gap, every frame in its file, and the pipeline
// still feeds analytics from the main stream's keyframes while recording bypasses it.
TEST_F(RtspTcpClientTest, NativeRecorderWritesContiguousWholeGopSegmentsAndFeedsAnalytics) {
  testing::TempDir dir;
  testing::RecordingListener listener;
  auto m = IngestManager::create({}, listener);
  ASSERT_TRUE(m.ok());
  auto ingest = std::move(m).value();
  auto cam = testing::testCamera("natrec", sim_->mainUrl(1), dir.str());
  cam.main.reader = StreamSource::Reader::kNative;
  cam.recording.segmentLength = 4s;
  cam.health.stallTimeout = 5s;
  cam.health.connectTimeout = 10s;
  cam.analytics.enabled = true;  // no sub stream: keyframes of the main stream are decoded
  cam.analytics.width = 320;
  cam.analytics.height = 180;
  ASSERT_TRUE(ingest->addCamera(cam).ok());
  ASSERT_TRUE(listener.waitFor([&] { return listener.segmentsLocked("natrec").size() >= 4; }, 60s));
  ASSERT_TRUE(listener.waitFor([&] { return listener.framesLocked("natrec").size() >= 2; }, 30s));
  ingest->stop();

  const auto segments = listener.segments("natrec");
  ASSERT_GE(segments.size(), 4U);
  // The last one was cut by stop(): whatever it holds, from a keyframe on.
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    const auto& s = segments[i];
    const double seconds = std::chrono::duration<double>(s.mediaDuration).count();
    // The first may start mid-way (the reader joins at any keyframe), later ones are 4 s.
    if (i > 0) {
      EXPECT_NEAR(seconds, 4.0, 0.001) << s.path;
    }
    const auto p = testing::probeFile(s.path);
    ASSERT_TRUE(p.ok) << s.path << ": " << p.output;
    EXPECT_EQ(p.codec, "h264");
    EXPECT_EQ(p.width, 640);
    EXPECT_EQ(p.height, 360);
    EXPECT_EQ(s.width, 640);
    EXPECT_EQ(s.height, 360);
    // Every frame of its media time is in the file, and the file says how long it lasts.
    EXPECT_EQ(p.frames, std::lround(seconds * 25)) << s.path;
    EXPECT_NEAR(p.duration, seconds, 0.05) << s.path;
    if (i > 0) {
      const auto& prev = segments[i - 1];
      const auto gap = s.start - (prev.start + prev.mediaDuration);
      EXPECT_LT(std::chrono::abs(gap), 40ms) << "between " << prev.path << " and " << s.path;
    }
  }
  const auto last = testing::probeFile(segments.back().path);
  EXPECT_TRUE(last.ok) << segments.back().path << ": " << last.output;
  EXPECT_GT(listener.frames("natrec").size(), 1U);
}

// The writer on its own, fed by the reader: a file that cannot be created is a clear error,
// and recording resumes at the next keyframe with complete segments.
TEST_F(RtspTcpClientTest, NativeSegmentWriterReportsACreateErrorAndResumesAtAKeyframe) {
  testing::TempDir dir;
  int named = 0;
  NativeSegmentWriter::Options o;
  o.segmentLength = 2s;
  o.nameSegment = [&](uint64_t rt) {
    ++named;
    // The first file goes to a directory that does not exist.
    const auto sub = named == 1 ? dir.path() / "missing" : dir.path();
    return (sub / ("seg-" + std::to_string(rt) + ".mp4")).string();
  };
  NativeSegmentWriter writer(o);
  std::vector<NativeSegmentWriter::Closed> closed;
  std::vector<core::Error> errors;
  std::mutex mu;
  std::condition_variable cv;
  RtspTcpClient client(optionsFor(sim_->mainUrl(2)));
  std::optional<int64_t> firstRtp;  // reader thread only
  std::thread reader([&] {
    (void)client.run(nullptr, [&](AccessUnit& au) {
      // Media time from the RTP clock (90 kHz), as the session gives it.
      if (!firstRtp) firstRtp = au.rtpTime;
      const auto rt = static_cast<uint64_t>((au.rtpTime - *firstRtp) * 100000 / 9);
      auto out = writer.write(au, rt);
      std::lock_guard lock(mu);
      if (out.closed) closed.push_back(*out.closed);
      if (out.error) errors.push_back(*out.error);
      cv.notify_all();
    });
  });
  {
    std::unique_lock lock(mu);
    const bool enough = cv.wait_for(lock, 60s, [&] { return closed.size() >= 2; });
    EXPECT_TRUE(enough);
  }
  client.stop();
  reader.join();
  auto last = writer.close();
  ASSERT_TRUE(last.ok()) << last.error().describe();

  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].code, ErrorCode::kUnavailable);
  EXPECT_NE(errors[0].message.find("cannot create"), std::string::npos) << errors[0].message;
  EXPECT_NE(errors[0].message.find("missing"), std::string::npos) << errors[0].message;
  ASSERT_GE(closed.size(), 2U);
  EXPECT_EQ(closed[1].endRt - closed[0].endRt, 2'000'000'000ULL);  // one 2 s GOP a segment
  for (const auto& c : closed) {
    const auto p = testing::probeFile(c.path);
    ASSERT_TRUE(p.ok) << c.path << ": " << p.output;
    EXPECT_EQ(p.frames, 50) << c.path;
  }
  EXPECT_EQ(writer.width(), 640);
  EXPECT_EQ(writer.height(), 360);
}

TEST_F(RtspTcpClientTest, StopBeforeRunCancels) {
  RtspTcpClient client(optionsFor(sim_->mainUrl(0)));
  client.stop();
  auto r = client.run(nullptr, [](AccessUnit&) {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kCancelled);
}

// H.265 from a real rtph265pay (the in-process fixture: x265, a keyframe every 25 frames).
TEST(RtspTcpClientH265, DepayloadsAndRecordsH265) {
  testing::RtspFixture server;
  server.addMount("/hevc", /*h265=*/true);
  {
    Reader reader(optionsFor(server.url("/hevc")));
    ASSERT_TRUE(reader.waitUnits(60, 60s));
    reader.client().stop();
    ASSERT_TRUE(reader.waitDone(10s).has_value());
    std::vector<int64_t> keyframes;
    for (const auto& u : reader.units()) {
      EXPECT_TRUE(u.startsWithStartCode);
      if (u.keyframe) keyframes.push_back(u.rtpTime);
    }
    ASSERT_GE(keyframes.size(), 2U);
    EXPECT_EQ(keyframes[1] - keyframes[0], 90000);  // 25 frames at 25 fps
    EXPECT_EQ(reader.client().depayStats().lostPackets, 0U);
    EXPECT_EQ(reader.client().depayStats().damagedPackets, 0U);
  }
  testing::TempDir dir;
  testing::RecordingListener listener;
  auto m = IngestManager::create({}, listener);
  ASSERT_TRUE(m.ok());
  auto ingest = std::move(m).value();
  auto cam = testing::testCamera("hevc", server.url("/hevc"), dir.str());
  cam.main.reader = StreamSource::Reader::kNative;
  cam.health.connectTimeout = 8s;  // x265 start-up on a loaded machine
  ASSERT_TRUE(ingest->addCamera(cam).ok());
  ASSERT_TRUE(listener.waitFor([&] { return !listener.segmentsLocked("hevc").empty(); }, 30s));
  ingest->stop();
  const auto segments = listener.segments("hevc");
  ASSERT_FALSE(segments.empty());
  EXPECT_EQ(segments[0].codec, "h265");
  const auto p = testing::probeFile(segments[0].path);
  EXPECT_TRUE(p.ok) << p.output;
  EXPECT_EQ(p.codec, "hevc");
  EXPECT_EQ(p.width, 320);
}

TEST(RtspTcpClientAuth, DigestAuthenticationAndRefusedCredentials) {
  auto o = simOptions(1);
  o.username = "admin";
  o.password = "s3:c@ret/%";  // needs percent-encoding in a URL
  auto started = sim::SimServer::start(o);
  ASSERT_TRUE(started.ok()) << started.error().describe();
  auto simServer = std::move(started).value();

  {
    // Credentials in the URL (percent-encoded).
    Reader reader(
        optionsFor(core::urlWithCredentials(simServer->mainUrl(0), o.username, o.password)));
    ASSERT_TRUE(reader.waitUnits(10, 60s));
    EXPECT_TRUE(reader.units()[0].keyframe);
  }
  {
    // Credentials in the options.
    auto opts = optionsFor(simServer->mainUrl(0));
    opts.username = o.username;
    opts.password = o.password;
    Reader reader(opts);
    ASSERT_TRUE(reader.waitUnits(10, 60s));
  }
  {
    auto opts = optionsFor(simServer->mainUrl(0));
    opts.username = "admin";
    opts.password = "wrong-password";
    RtspTcpClient client(opts);
    auto r = client.run(nullptr, [](AccessUnit&) {});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied) << r.error().describe();
    EXPECT_NE(r.error().message.find("credentials for user 'admin' refused"), std::string::npos)
        << r.error().describe();
    EXPECT_EQ(r.error().message.find("wrong-password"), std::string::npos);
  }
  {
    RtspTcpClient client(optionsFor(simServer->mainUrl(0)));
    auto r = client.run(nullptr, [](AccessUnit&) {});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
    EXPECT_NE(r.error().message.find("none are configured"), std::string::npos);
  }
  simServer->stop();
}

}  // namespace
}  // namespace sharpeyes::ingest
