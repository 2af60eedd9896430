// End-to-end tests of `sharpeyes gateway` against the simulator: continuous recording,
// stall and recovery, kill -9 and reconcile, an unreachable camera, a bad config.
// The gateway runs as a child process (kill -9 must be real); the simulator runs in-process.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "gateway_support.h"
#include "http_get.h"
#include "process.h"
#include "sharpeyes/core/util.h"
#include "sharpeyes/sim/sim.h"
#include "sharpeyes/storage/case_store.h"
#include "sharpeyes/storage/database.h"
#include "sharpeyes/storage/recorder.h"
#include "sharpeyes/storage/segment_index.h"

namespace sharpeyes::app {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using sharpeyes::testing::ChildProcess;
using sharpeyes::testing::waitFor;

constexpr auto kFrameInterval = 40ms;  // 25 fps

class GatewayTest : public testing::SimulatorSuite {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("gw-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (int i = 0; i < sim_->cameraCount(); ++i) sim_->injectFault(i, sim::Fault::kClear).ok();
  }

  std::string writeConfig(const std::string& extraCamera = "") {
    testing::GatewayConfig config("gw-test", dir_);
    config.defaults("recording: {segment_length: 4s}")
        .defaults("health: {stall_timeout: 2s, backoff_initial: 500ms, backoff_max: 2s}")
        // A quota, so that the host disk's fill (watermarks) never deletes the test's recordings.
        .storage("{quota_gb: 50}");
    for (int i = 0; i < sim_->cameraCount(); ++i) config.simCamera(*sim_, i, false);
    return config.extra(extraCamera).write();
  }

  // Starts the gateway and returns its HTTP base URL (read from its log).
  std::string startGateway(ChildProcess& gw, const std::string& config, const std::string& tag) {
    const uint16_t port = testing::startGateway(gw, config, (dir_ / tag).string());
    return port == 0 ? std::string() : "http://127.0.0.1:" + std::to_string(port);
  }

  static std::map<std::string, nlohmann::json> cameras(const std::string& url) {
    std::map<std::string, nlohmann::json> out;
    // Generous: a /status answer slowed by a loaded machine must not read as a camera that is
    // not streaming (the stalled-camera test checks the other cameras on every poll).
    auto r = httpGet(url + "/status", 10s);
    if (!r || r->status != 200) return out;
    const auto j = nlohmann::json::parse(r->body, nullptr, false);
    if (!j.is_array()) return out;
    for (const auto& c : j) out[c.value("id", "")] = c;
    return out;
  }

  // One field of one camera in /status; `fallback` while the camera is not listed yet.
  template <typename T>
  static T field(const std::string& url, const std::string& id, const char* key, T fallback) {
    const auto cams = cameras(url);
    const auto it = cams.find(id);
    if (it == cams.end() || !it->second.is_object()) return fallback;
    return it->second.value(key, fallback);
  }
  static std::string stateOf(const std::string& url, const std::string& id) {
    return field<std::string>(url, id, "state", "");
  }

  static bool allStreaming(const std::string& url, int n) {
    const auto cams = cameras(url);
    int streaming = 0;
    for (const auto& [id, c] : cams) streaming += c.value("state", "") == "streaming";
    return streaming == n;
  }

  std::vector<core::Segment> segmentsOf(const std::string& camera) {
    auto index = storage::SegmentIndex::openSqlite((dir_ / "index.db").string());
    EXPECT_TRUE(index.ok()) << index.error().describe();
    std::vector<core::Segment> out;
    if (!index) return out;
    auto all = (*index)->all();
    EXPECT_TRUE(all.ok());
    for (const auto& s : all.value()) {
      if (s.camera.str() == camera) out.push_back(s);
    }
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.start < b.start; });
    return out;
  }

  core::Duration recordedOf(const std::string& camera) {
    core::Duration total{};
    for (const auto& s : segmentsOf(camera)) total += s.mediaDuration;
    return total;
  }

  void expectSegmentsIntact(const std::vector<core::Segment>& segs) {
    for (const auto& s : segs) {
      const auto path = (dir_ / "recordings" / s.path).string();
      auto probe = storage::probeMedia(path, true);
      ASSERT_TRUE(probe.ok()) << path << ": " << probe.error().describe();
      EXPECT_GT(probe->decodedFrames, 0) << path;
      auto hash = core::sha256File(path);
      ASSERT_TRUE(hash.ok()) << path;
      EXPECT_EQ(hash.value(), s.sha256) << path;
    }
  }

  fs::path dir_;
};

TEST_F(GatewayTest, RecordsContiguousDecodableSegmentsFor30Seconds) {
  ChildProcess gw;
  const auto url = startGateway(gw, writeConfig(), "gw");
  ASSERT_TRUE(waitFor([&] { return allStreaming(url, 3); }, 60s)) << gw.err();
  // The scenario is 30 s of recording per camera; wait until the index holds it.
  ASSERT_TRUE(waitFor(
      [&] {
        for (int i = 0; i < 3; ++i) {
          if (recordedOf(sim_->cameraName(i)) < 30s) return false;
        }
        return true;
      },
      120s))
      << gw.err();
  gw.kill(SIGTERM);
  ASSERT_EQ(gw.wait(30s), std::optional<int>(0)) << gw.err();

  for (int i = 0; i < 3; ++i) {
    const auto segs = segmentsOf(sim_->cameraName(i));
    ASSERT_GE(segs.size(), 7u) << sim_->cameraName(i);
    core::Duration summed{};
    for (size_t k = 0; k < segs.size(); ++k) {
      summed += segs[k].mediaDuration;
      EXPECT_EQ(segs[k].codec, "h264");
      EXPECT_EQ(segs[k].width, 1920);
      EXPECT_EQ(segs[k].height, 1080);
      if (k > 0) {
        const auto gap = segs[k].start - segs[k - 1].end;
        EXPECT_LT(std::chrono::abs(gap), kFrameInterval)
            << sim_->cameraName(i) << " segment " << k << " gap " << gap.count() << " ns";
      }
    }
    const auto wall = segs.back().end - segs.front().start;
    const double ratio =
        std::chrono::duration<double>(summed) / std::chrono::duration<double>(wall);
    EXPECT_NEAR(ratio, 1.0, 0.02) << sim_->cameraName(i);
    expectSegmentsIntact(segs);
  }
}

TEST_F(GatewayTest, StalledCameraReconnectsLeavesAGapAndOthersAreUnaffected) {
  ChildProcess gw;
  const auto url = startGateway(gw, writeConfig(), "gw");
  ASSERT_TRUE(waitFor([&] { return allStreaming(url, 3); }, 60s)) << gw.err();
  ASSERT_TRUE(waitFor([&] { return recordedOf("cam02") >= 4s; }, 60s));

  ASSERT_TRUE(sim_->injectFault(1, sim::Fault::kStopSending, 5s).ok());
  std::set<std::string> seen;
  ASSERT_TRUE(waitFor(
      [&] {
        seen.insert(stateOf(url, "cam02"));
        // cam01 and cam03 keep streaming throughout.
        EXPECT_EQ(stateOf(url, "cam01"), "streaming");
        EXPECT_EQ(stateOf(url, "cam03"), "streaming");
        return seen.count("stalled") && (seen.count("reconnecting") || seen.count("connecting"));
      },
      30s))
      << gw.err();
  ASSERT_TRUE(waitFor([&] { return stateOf(url, "cam02") == "streaming"; }, 60s)) << gw.err();
  EXPECT_GE(field(url, "cam02", "reconnects", 0), 1);
  EXPECT_GE(field(url, "cam02", "stalls", 0), 1);
  // Let cam02 record again after the gap.
  const auto before = recordedOf("cam02");
  ASSERT_TRUE(waitFor([&] { return recordedOf("cam02") >= before + 4s; }, 60s));
  gw.kill(SIGTERM);
  ASSERT_EQ(gw.wait(30s), std::optional<int>(0)) << gw.err();

  // The outage is a gap in the index, never a fake segment.
  const auto cam2 = segmentsOf("cam02");
  core::Duration largestGap{};
  for (size_t k = 1; k < cam2.size(); ++k)
    largestGap = std::max(largestGap, cam2[k].start - cam2[k - 1].end);
  EXPECT_GE(largestGap, 3s);
  for (const char* other : {"cam01", "cam03"}) {
    const auto segs = segmentsOf(other);
    for (size_t k = 1; k < segs.size(); ++k) {
      EXPECT_LT(std::chrono::abs(segs[k].start - segs[k - 1].end), kFrameInterval) << other;
    }
  }
  expectSegmentsIntact(cam2);
}

TEST_F(GatewayTest, KillNineMidSegmentThenRestartReconcilesAndEverySegmentIsIntact) {
  const auto config = writeConfig();
  {
    ChildProcess gw;
    const auto url = startGateway(gw, config, "gw1");
    ASSERT_TRUE(waitFor([&] { return allStreaming(url, 3); }, 60s)) << gw.err();
    ASSERT_TRUE(waitFor([&] { return segmentsOf("cam01").size() >= 2; }, 60s));
    // Mid-segment: a segment is 4 s; one more second into the next.
    const auto n = segmentsOf("cam01").size();
    ASSERT_TRUE(waitFor([&] { return segmentsOf("cam01").size() > n; }, 30s));
    std::this_thread::sleep_for(1500ms);  // position inside the segment, not synchronisation
    gw.kill(SIGKILL);
  }
  // A recorded file goes missing while the gateway is down (a disk fault, or someone's hand).
  const core::Segment lost = segmentsOf("cam01").front();
  ASSERT_TRUE(fs::remove(dir_ / "recordings" / lost.path));
  ChildProcess gw;
  const auto url = startGateway(gw, config, "gw2");
  ASSERT_TRUE(gw.waitForOutput("reconcile:", 30s));
  ASSERT_TRUE(waitFor([&] { return allStreaming(url, 3); }, 60s)) << gw.err();
  gw.kill(SIGTERM);
  ASSERT_EQ(gw.wait(30s), std::optional<int>(0)) << gw.err();
  // Every file the killed gateway left was either indexed (complete up to its last fragment) or
  // quarantined; nothing indexed is broken.
  EXPECT_NE(gw.err().find("orphan file(s) indexed"), std::string::npos) << gw.err();
  auto index = storage::SegmentIndex::openSqlite((dir_ / "index.db").string());
  ASSERT_TRUE(index.ok());
  EXPECT_EQ((*index)->integrityCheck().value(), "ok");
  for (int i = 0; i < 3; ++i) expectSegmentsIntact(segmentsOf(sim_->cameraName(i)));
  // Its row left the index with an audit entry saying so, and the chain still verifies.
  EXPECT_TRUE((*index)->verifyChain(core::CameraId::parse("cam01").value())->ok());
  auto db = storage::Database::open((dir_ / "index.db").string());
  ASSERT_TRUE(db) << db.error().describe();
  auto cases = storage::CaseStore::open(*db);
  ASSERT_TRUE(cases);
  const auto log = (*cases)->auditLog(0, 1000);
  ASSERT_TRUE(log);
  int missing = 0;
  for (const auto& e : *log) {
    // (A file the kill cut before its first fragment is quarantined: action "quarantine".)
    if (e.actor != "reconcile" || e.action != "delete") continue;
    EXPECT_EQ(e.target, "cam01");
    EXPECT_EQ(
        e.details.rfind(
            "file missing: segment id " + std::to_string(lost.id) + ", " + lost.path + ",", 0),
        0u)
        << e.details;
    ++missing;
  }
  EXPECT_EQ(missing, 1);
  EXPECT_TRUE((*cases)->verifyAudit()->ok());
}

TEST_F(GatewayTest, UnreachableCameraGoesOfflineWhileOthersRecord) {
  // A port nobody listens on.
  const std::string dead =
      "  - id: cam-dead\n    division: \"510603101209\"\n    main: rtsp://127.0.0.1:9/nothing\n";
  ChildProcess gw;
  const auto url = startGateway(gw, writeConfig(dead), "gw");
  ASSERT_TRUE(waitFor([&] { return stateOf(url, "cam-dead") == "offline"; }, 60s)) << gw.err();
  ASSERT_TRUE(waitFor([&] { return allStreaming(url, 3); }, 60s));
  ASSERT_TRUE(waitFor([&] { return recordedOf("cam01") >= 4s; }, 60s));
  EXPECT_FALSE(field<std::string>(url, "cam-dead", "reason", "").empty());
  gw.kill(SIGTERM);
  EXPECT_EQ(gw.wait(30s), std::optional<int>(0)) << gw.err();
}

TEST_F(GatewayTest, BadConfigExitsWithCodeTwoAndAClearMessage) {
  const auto path = (dir_ / "bad.yaml").string();
  std::ofstream(path) << "gateway:\n  id: gw\n  division: \"510603101000\"\n  colour: blue\n";
  ChildProcess gw;
  ASSERT_TRUE(gw.start(SHARPEYES_BINARY, {"gateway", "--config", path}, (dir_ / "bad").string()));
  EXPECT_EQ(gw.wait(30s), std::optional<int>(2));
  EXPECT_NE(gw.err().find(path + ":4:3: gateway.colour: unknown key"), std::string::npos)
      << gw.err();

  ChildProcess missing;
  ASSERT_TRUE(missing.start(SHARPEYES_BINARY, {"gateway", "--config", path + ".nope"},
                            (dir_ / "missing").string()));
  EXPECT_EQ(missing.wait(30s), std::optional<int>(2));
  EXPECT_NE(missing.err().find("cannot open config file"), std::string::npos);
}

}  // namespace
}  // namespace sharpeyes::app
