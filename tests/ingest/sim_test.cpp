// Ingest against the project's camera simulator (sim::SimServer): a camera that stops sending
// for 5 s goes stalled -> reconnecting -> streaming while the other camera keeps recording, and
// the sub stream feeds analytics frames at the configured size and rate.
#include "sharpeyes/sim/sim.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace sharpeyes::ingest::testing {
namespace {

TEST(IngestSim, StoppedCameraRecoversOthersUnaffected) {
  sim::SimOptions o;
  o.cameras = 2;
  o.distinctScenes = 1;
  o.loopSeconds = 4;
  o.main = {640, 360, 25, 800, 50};
  o.sub = {320, 180, 25, 256, 50};
  o.cacheDir = INGEST_SIM_CACHE_DIR;
  auto started = sim::SimServer::start(o);
  ASSERT_TRUE(started.ok()) << started.error().describe();
  auto simServer = std::move(started).value();

  TempDir dir;
  RecordingListener listener;
  auto m = IngestManager::create({}, listener);
  ASSERT_TRUE(m.ok());
  auto ingest = std::move(m).value();
  auto a = testCamera("sima", simServer->mainUrl(0), dir.str());
  a.health.offlineAfterFailures = 100;
  a.sub = StreamSource{simServer->subUrl(0)};
  a.analytics.enabled = true;
  a.analytics.width = 160;
  a.analytics.height = 90;
  a.analytics.fps = 5;
  auto b = testCamera("simb", simServer->mainUrl(1), dir.str());
  ASSERT_TRUE(ingest->addCamera(a).ok());
  ASSERT_TRUE(ingest->addCamera(b).ok());
  ASSERT_TRUE(listener.waitState("sima", CameraState::kStreaming, 20s));
  ASSERT_TRUE(listener.waitState("simb", CameraState::kStreaming, 20s));
  ASSERT_TRUE(listener.waitFor([&] { return listener.framesLocked("sima").size() >= 5; }, 15s));

  ASSERT_TRUE(simServer->injectFault(0, sim::Fault::kStopSending, 5s).ok());
  ASSERT_TRUE(listener.waitState("sima", CameraState::kStalled, 10s));
  const size_t bAtStall = listener.segmentCount("simb");
  const auto stalledAt = static_cast<size_t>(listener.stateIndex("sima", CameraState::kStalled));
  ASSERT_TRUE(listener.waitState("sima", CameraState::kReconnecting, 10s, stalledAt));
  ASSERT_TRUE(listener.waitState("sima", CameraState::kStreaming, 30s, stalledAt));
  EXPECT_GT(listener.segmentCount("simb"), bAtStall);  // B recorded through A's outage
  for (auto s : listener.states("simb")) {
    EXPECT_TRUE(s == CameraState::kConnecting || s == CameraState::kStreaming) << toString(s);
  }
  ingest->stop();
  simServer->stop();
  const auto frames = listener.frames("sima");
  for (const auto& f : frames) {
    EXPECT_EQ(f.width, 160);
    EXPECT_EQ(f.height, 90);
  }
  for (const auto& s : listener.segments("simb")) {
    const auto p = probeFile(s.path);
    EXPECT_TRUE(p.ok) << s.path << ": " << p.output;
    EXPECT_EQ(s.width, 640);
  }
}

}  // namespace
}  // namespace sharpeyes::ingest::testing
