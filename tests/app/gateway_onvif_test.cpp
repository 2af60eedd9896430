// The gateway with a camera given only by its ONVIF address: the simulated device (a real
// gSOAP-speaking HTTP service over the simulator's real RTSP camera) answers the resolution, the
// camera records, PTZ commands from the API move the simulated view, and the camera's own ONVIF
// events reach the alert desk beside our analytics.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "gateway_support.h"
#include "process.h"
#include "sharpeyes/sim/onvif_device.h"
#include "sharpeyes/sim/sim.h"
#include "test_client.h"

namespace sharpeyes::app {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using sharpeyes::api::testing::Conn;
using sharpeyes::testing::ChildProcess;
using sharpeyes::testing::waitFor;

constexpr const char* kAdminPassword = "admin-pass-4711";
constexpr const char* kCameraPassword = "cam-secret-9";

// One PTZ camera (live-encoded, so PTZ moves its view) and its ONVIF device with digest login.
core::Result<std::unique_ptr<sim::SimServer>> startPtzSim() {
  sim::SimOptions o;
  o.cameras = 1;
  o.distinctScenes = 1;
  o.loopSeconds = 10;
  o.ptzCameras = {0};
  o.main = {1280, 720, 25, 2000, 50};
  o.cacheDir = SHARPEYES_TEST_CACHE_DIR;
  return sim::SimServer::start(o);
}

auto startDevice(sim::SimServer& sim) {
  sim::OnvifDeviceOptions d;
  d.discovery = false;
  d.username = "admin";
  d.password = kCameraPassword;
  return sim::OnvifDevice::start(sim, d);
}

// Each test: the PTZ simulator and its ONVIF device (stopped after the test's gateway), and a
// fresh data directory.
class GatewayOnvif : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("gw-onvif-" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto simServer = startPtzSim();
    ASSERT_TRUE(simServer.ok()) << simServer.error().describe();
    sim_ = std::move(*simServer);
    auto device = startDevice(*sim_);
    ASSERT_TRUE(device.ok()) << device.error().describe();
    device_ = std::move(*device);
  }
  void TearDown() override {
    if (device_) device_->stop();
    if (sim_) sim_->stop();
  }
  // The gateway's config: no camera in it, 2 s segments.
  testing::GatewayConfig config() const {
    return testing::GatewayConfig("gw-onvif", dir_).defaults("recording: {segment_length: 2s}");
  }

  fs::path dir_;
  std::unique_ptr<sim::SimServer> sim_;
  std::unique_ptr<sim::OnvifDevice> device_;
};

TEST_F(GatewayOnvif, CameraGivenByOnvifAddressStreamsMovesAndReportsItsEvents) {
  const fs::path& dir = dir_;
  auto& sim = *sim_;
  const std::string camera = sim.cameraName(0);
  const auto config = this->config()
                          .extra("  - id: " + camera +
                                 "\n    division: \"510603101201\"\n    ptz: true\n"
                                 "    onvif: {address: \"" +
                                 device_->deviceUrl(0) +
                                 "\"}\n"
                                 "    credentials: {username: admin, password_env: "
                                 "GW_TEST_CAMERA_PASSWORD}\n")
                          .write();

  ChildProcess gw;
  const uint16_t port =
      testing::startGateway(gw, config, (dir / "gw").string(),
                            {std::string("SHARPEYES_ADMIN_PASSWORD=") + kAdminPassword,
                             std::string("GW_TEST_CAMERA_PASSWORD=") + kCameraPassword});
  ASSERT_NE(port, 0);

  // Login, then the camera: resolved through ONVIF, streaming, its URL without credentials.
  std::string token;
  {
    const auto r = Conn(port).request("POST", "/api/login", {{"Content-Type", "application/json"}},
                                      json{{"user", "admin"}, {"password", kAdminPassword}}.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    token = json::parse(r.body).value("token", "");
  }
  const std::vector<std::pair<std::string, std::string>> auth = {
      {"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}};
  json cam;
  ASSERT_TRUE(waitFor(
      [&] {
        const auto r = Conn(port).request("GET", "/api/cameras/" + camera, auth);
        if (r.status != 200) return false;
        cam = json::parse(r.body);
        return cam.contains("state") && cam["state"].value("state", "") == "streaming";
      },
      90s))
      << cam.dump() << gw.err();
  EXPECT_EQ(cam.value("main_url", "").rfind("rtsp://", 0), 0u) << cam.dump();
  EXPECT_EQ(cam.dump().find(kCameraPassword), std::string::npos);

  // PTZ from the API moves the simulated camera's view (a continuous pan, then stop).
  const auto before = sim.view(0);
  {
    const auto r =
        Conn(port).request("POST", "/api/cameras/" + camera + "/ptz", auth,
                           json{{"action", "move"}, {"pan", 0.8}, {"timeout_ms", 800}}.dump());
    ASSERT_EQ(r.status, 200) << r.body << gw.err();
  }
  ASSERT_TRUE(waitFor([&] { return sim.view(0).pan != before.pan; }, 10s))
      << "the view did not move";
  EXPECT_EQ(
      Conn(port)
          .request("POST", "/api/cameras/" + camera + "/ptz", auth, json{{"action", "stop"}}.dump())
          .status,
      200);

  // The camera's own events (the device reports the scene's motion) are on the alert desk: this
  // camera has no analytics rules, so every event of it came over ONVIF.
  json alert;
  ASSERT_TRUE(waitFor(
      [&] {
        const auto r = Conn(port).request("GET", "/api/alerts?camera=" + camera, auth);
        if (r.status != 200) return false;
        const auto alerts = json::parse(r.body).value("alerts", json::array());
        if (alerts.empty()) return false;
        alert = alerts.front();
        return true;
      },
      90s))
      << gw.err();
  EXPECT_EQ(alert["event"].value("camera", ""), camera);
  EXPECT_EQ(alert["event"].value("division", ""), "510603101201");

  gw.kill(SIGTERM);
  EXPECT_EQ(gw.wait(30s), std::optional<int>(0)) << gw.err();
  // The camera's password appears in no log line.
  EXPECT_EQ(gw.err().find(kCameraPassword), std::string::npos);
}

// The same camera added through the API while the gateway runs (no camera in its config file):
// resolved through ONVIF, streaming and moving at once; removed, its pipeline stops.
TEST_F(GatewayOnvif, CameraAddedThroughTheApiByItsOnvifAddress) {
  const fs::path& dir = dir_;
  auto& sim = *sim_;
  const auto config = this->config().write();
  ChildProcess gw;
  const uint16_t port =
      testing::startGateway(gw, config, (dir / "gw").string(),
                            {std::string("SHARPEYES_ADMIN_PASSWORD=") + kAdminPassword});
  ASSERT_NE(port, 0);
  testing::Api admin(port, "admin", kAdminPassword);
  ASSERT_TRUE(admin.ok()) << gw.err();
  std::string responses;

  {
    const auto r = admin.call("POST", "/api/cameras",
                              {{"id", "ptz-gate"},
                               {"division", "510603101201"},
                               {"ptz", true},
                               {"onvif", {{"address", device_->deviceUrl(0)}}},
                               {"username", "admin"},
                               {"password", kCameraPassword}});
    responses += r.body;
    ASSERT_EQ(r.status, 201) << r.body << gw.err();
  }
  json cam;
  ASSERT_TRUE(waitFor(
      [&] {
        const auto r = admin.call("GET", "/api/cameras/ptz-gate");
        responses += r.body;
        if (r.status != 200) return false;
        cam = json::parse(r.body);
        return cam["state"].is_object() && cam["state"].value("state", "") == "streaming" &&
               cam["state"].value("segments", 0) >= 1;
      },
      90s))
      << cam.dump() << gw.err();
  EXPECT_EQ(cam.value("main_url", "").rfind("rtsp://", 0), 0u) << cam.dump();
  const auto before = sim.view(0);
  {
    const auto r = admin.call("POST", "/api/cameras/ptz-gate/ptz",
                              {{"action", "move"}, {"pan", 0.8}, {"timeout_ms", 800}});
    ASSERT_EQ(r.status, 200) << r.body << gw.err();
  }
  ASSERT_TRUE(waitFor([&] { return sim.view(0).pan != before.pan; }, 10s))
      << "the view did not move";

  // Started once: an API add that raced the gateway's start of its listed cameras was started
  // again by it (a second event watch, the first one leaked).
  {
    const std::string log = gw.err();
    const std::string started = "camera ptz-gate: ptz-gate (510603101201) resolving streams";
    const size_t first = log.find(started);
    ASSERT_NE(first, std::string::npos) << log;
    EXPECT_EQ(log.find(started, first + 1), std::string::npos) << log;
  }

  ASSERT_EQ(admin.call("DELETE", "/api/cameras/ptz-gate").status, 200);
  ASSERT_TRUE(gw.waitForOutput("camera ptz-gate: stopped", 30s)) << gw.err();
  // Its ONVIF event subscription is released too.
  EXPECT_TRUE(gw.waitForOutput("camera ptz-gate: ONVIF events stopped", 30s)) << gw.err();
  EXPECT_EQ(admin.call("GET", "/api/cameras/ptz-gate").status, 404);
  EXPECT_EQ(admin.call("POST", "/api/cameras/ptz-gate/ptz", {{"action", "stop"}}).status, 404);

  gw.kill(SIGTERM);
  EXPECT_EQ(gw.wait(30s), std::optional<int>(0)) << gw.err();
  EXPECT_EQ((gw.out() + gw.err() + responses).find(kCameraPassword), std::string::npos);
  EXPECT_EQ(fs::exists(dir / "secrets")
                ? std::distance(fs::directory_iterator(dir / "secrets"), fs::directory_iterator())
                : 0,
            0);
}

}  // namespace
}  // namespace sharpeyes::app
