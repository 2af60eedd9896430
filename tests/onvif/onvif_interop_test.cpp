// Interoperability: the `onvif` npm package (agsh/onvif, a client we did not write) drives the
// simulated device through connect (GetSystemDateAndTime, GetServices, GetProfiles,
// GetVideoSources), device information, stream and snapshot URIs, PTZ, pull-point events and a
// wrong password. Our reading of the protocol must match what real-world clients send and expect.

#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "sharpeyes/sim/onvif_device.h"
#include "sim_fixture.h"

namespace sharpeyes {
namespace {

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

TEST(OnvifInterop, NodeOnvifClientDrivesTheSimulatedDevice) {
  auto sim = sim::SimServer::start(testing::smallSimOptions(2, {0}));
  ASSERT_TRUE(sim.ok()) << sim.error().describe();
  sim::OnvifDeviceOptions o;
  o.username = "operator";
  o.password = "pa55word";
  o.discovery = false;
  o.clockOffset = std::chrono::minutes(9);  // the client must learn the device's clock too
  auto device = sim::OnvifDevice::start(**sim, o);
  ASSERT_TRUE(device.ok()) << device.error().describe();

  const std::string cmd = "NODE_PATH='" SHARPEYES_INTEROP_DIR
                          "/node_modules' node '" SHARPEYES_SOURCE_DIR
                          "/tests/onvif/interop/interop.js' 127.0.0.1 " +
                          std::to_string((*device)->httpPort()) + " /onvif/" +
                          (*sim)->cameraName(0) + "/device_service operator pa55word 2>&1";
  const std::string out = run(cmd);
  // The script prints one JSON line last; anything before it is node's own output.
  std::string last = out;
  while (!last.empty() && (last.back() == '\n' || last.back() == '\r')) last.pop_back();
  if (const auto nl = last.rfind('\n'); nl != std::string::npos) last = last.substr(nl + 1);
  const auto j = nlohmann::json::parse(last, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  ASSERT_FALSE(j.contains("error")) << j.dump(2);

  EXPECT_EQ(j["profiles"], nlohmann::json::array({"main", "sub"}));
  EXPECT_EQ(j["defaultProfile"], "main");
  EXPECT_EQ(j["manufacturer"], "sharpeyes");
  EXPECT_EQ(j["model"], "SimCam-1");
  EXPECT_EQ(j["mainUri"], (*sim)->mainUrl(0));
  EXPECT_EQ(j["subUri"], (*sim)->subUrl(0));
  EXPECT_NE(j["snapshotUri"].get<std::string>().find("/snapshot.jpg"), std::string::npos);
  // Their AbsoluteMove moved our simulator's view, and their GetStatus read it back.
  const sim::ViewWindow v = (*sim)->view(0);
  EXPECT_FLOAT_EQ(v.pan, 0.25f);
  EXPECT_FLOAT_EQ(v.tilt, -0.5f);
  EXPECT_FLOAT_EQ(v.zoom, 0.4f);
  EXPECT_NEAR(j["position"]["x"].get<double>(), 0.25, 1e-6) << j.dump(2);
  EXPECT_NEAR(j["position"]["y"].get<double>(), -0.5, 1e-6);
  EXPECT_NEAR(j["position"]["zoom"].get<double>(), 0.4, 1e-6);
  // The first pull reports the initial motion and tamper states.
  const auto topics = j["topics"].dump();
  EXPECT_NE(topics.find("VideoSource/MotionAlarm"), std::string::npos) << topics;
  EXPECT_NE(topics.find("GlobalSceneChange"), std::string::npos) << topics;
  EXPECT_EQ((*device)->stats().subscriptions, 0u);  // they unsubscribed
  // They read our Axis-style SubscriptionId reference parameter and echoed it (pull, unsubscribe)
  // marked wsa:IsReferenceParameter, as they do for Axis cameras.
  EXPECT_GE((*device)->stats().referenceParametersEchoed, 2u);
  EXPECT_NE(j["badPassword"], "accepted");
  EXPECT_GE((*device)->stats().digestRejected, 1u);
}

}  // namespace
}  // namespace sharpeyes
