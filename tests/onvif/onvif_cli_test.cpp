// The real `sharpeyes` binary end to end: `sharpeyes sim --onvif` as a child process, and
// `sharpeyes discover` / `sharpeyes onvif info|resolve|ptz|events` run against it, checked on
// their output and exit codes (app/src/commands.h: 0 ok, 1 the device failed, 2 bad arguments).
// The ONVIF password travels only in the environment and must never appear in any output.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "process.h"

namespace sharpeyes {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;

constexpr const char* kPassword = "cli-Test-pw-7391";
const std::string kPasswordEnv = std::string("SHARPEYES_ONVIF_PASSWORD=") + kPassword;

std::string logDir() {
  static const std::string dir = [] {
    auto d = std::filesystem::temp_directory_path() /
             ("sharpeyes-onvif-cli-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d.string();
  }();
  return dir;
}

struct CliRun {
  std::optional<int> code;
  std::string out;
  std::string err;
};

// Runs `sharpeyes args...` to completion.
CliRun run(const std::vector<std::string>& args,
           const std::vector<std::string>& env = {kPasswordEnv},
           std::chrono::seconds timeout = 60s) {
  static int n = 0;
  ChildProcess p;
  const std::string prefix = logDir() + "/run-" + std::to_string(++n);
  EXPECT_TRUE(p.start(SHARPEYES_BINARY, args, prefix, env));
  CliRun r;
  r.code = p.wait(timeout);
  r.out = p.out();
  r.err = p.err();
  return r;
}

std::string describe(const CliRun& r) {
  return "exit " + (r.code ? std::to_string(*r.code) : std::string("(still running)")) +
         "\n--- stdout\n" + r.out + "\n--- stderr\n" + r.err;
}

class OnvifCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Afresh on every run of the suite (--gtest_repeat runs it again in this process).
    deviceUrls_.clear();
    ptz_.clear();
    mainUrl_.clear();
    discoveryPort_.clear();
    sim_ = new ChildProcess();
    // Same scene and loop as sim_cli_test, sharing its encoded-stream cache; cam01 is PTZ
    // (encoded live, only while an RTSP client watches it).
    ASSERT_TRUE(sim_->start(SHARPEYES_BINARY,
                            {"sim",
                             "--cameras",
                             "2",
                             "--ptz",
                             "1",
                             "--port",
                             "0",
                             "--control-port",
                             "0",
                             "--scenes",
                             "1",
                             "--loop-seconds",
                             "4",
                             "--cache-dir",
                             SIM_TEST_CACHE_DIR,
                             "--onvif",
                             "--onvif-port",
                             "0",
                             "--discovery-port",
                             "0",
                             "--multicast-interface",
                             "127.0.0.1"},
                            logDir() + "/sim", {kPasswordEnv}));
    // The line on stdout, not the sim's "streams ready" log line on stderr.
    ASSERT_TRUE(testing::waitFor(
        [] { return sim_->out().find("ready rtsp-port=") != std::string::npos; }, 300s))
        << sim_->err();
    std::istringstream in(sim_->out());
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream words(line);
      std::string first, name, url, flag;
      words >> first;
      if (first == "onvif") {
        words >> name >> url >> flag;
        deviceUrls_.push_back(url);
        ptz_.push_back(flag == "ptz");
      } else if (first == "cam01") {
        words >> mainUrl_;
      } else if (first == "ready") {
        std::string kv;
        while (words >> kv) {
          if (kv.starts_with("discovery-port=")) discoveryPort_ = kv.substr(15);
        }
      }
    }
  }
  static void TearDownTestSuite() {
    delete sim_;  // kills it if a test stopped early
    sim_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(sim_->running()) << "sim not running";
    ASSERT_EQ(deviceUrls_.size(), 2u) << sim_->out();
    ASSERT_FALSE(discoveryPort_.empty());
  }

  static void expectNoPassword(const CliRun& r) {
    EXPECT_EQ(r.out.find(kPassword), std::string::npos) << "password in stdout";
    EXPECT_EQ(r.err.find(kPassword), std::string::npos) << "password in stderr";
  }

  static ChildProcess* sim_;
  static std::vector<std::string> deviceUrls_;
  static std::vector<bool> ptz_;
  static std::string mainUrl_;
  static std::string discoveryPort_;
};
ChildProcess* OnvifCliTest::sim_ = nullptr;
std::vector<std::string> OnvifCliTest::deviceUrls_;
std::vector<bool> OnvifCliTest::ptz_;
std::string OnvifCliTest::mainUrl_;
std::string OnvifCliTest::discoveryPort_;

TEST_F(OnvifCliTest, SimPrintsOneDeviceUrlPerCamera) {
  EXPECT_TRUE(deviceUrls_[0].starts_with("http://127.0.0.1:")) << deviceUrls_[0];
  EXPECT_TRUE(deviceUrls_[0].ends_with("/onvif/cam01/device_service"));
  EXPECT_TRUE(deviceUrls_[1].ends_with("/onvif/cam02/device_service"));
  EXPECT_TRUE(ptz_[0]);
  EXPECT_FALSE(ptz_[1]);
  EXPECT_NE(sim_->out().find(" onvif-port="), std::string::npos);
}

TEST_F(OnvifCliTest, DiscoverMulticastListsBothCamerasWithDeviceInformation) {
  // --wait: each camera answers within APP_MAX_DELAY (500 ms); the rest is headroom for a loaded
  // machine (the simulator is another process).
  const CliRun r = run({"discover", "--interface", "127.0.0.1", "--port", discoveryPort_, "--user",
                        "admin", "--wait", "3", "--json"});
  ASSERT_EQ(r.code, 0) << describe(r);
  expectNoPassword(r);
  const auto list = nlohmann::json::parse(r.out);
  ASSERT_EQ(list.size(), 2u) << r.out;
  std::set<std::string> addresses;
  for (const auto& d : list) {
    addresses.insert(d.at("addresses").at(0).get<std::string>());
    EXPECT_EQ(d.at("manufacturer"), "sharpeyes");
    EXPECT_EQ(d.at("model"), "SimCam-1");
    EXPECT_TRUE(d.at("serial").get<std::string>().starts_with("SIM-")) << d.dump();
    EXPECT_EQ(d.at("error"), "") << d.dump();
  }
  EXPECT_TRUE(addresses.count(deviceUrls_[0]));
  EXPECT_TRUE(addresses.count(deviceUrls_[1]));
}

TEST_F(OnvifCliTest, DiscoverTableAndUnicastProbe) {
  const CliRun r =
      run({"discover", "--probe", "127.0.0.1:" + discoveryPort_, "--user", "admin", "--wait", "3"});
  ASSERT_EQ(r.code, 0) << describe(r);
  EXPECT_TRUE(r.out.starts_with("ADDRESS\tMANUFACTURER\tMODEL\tSERIAL\tNAME")) << r.out;
  EXPECT_NE(r.out.find(deviceUrls_[0] + "\tsharpeyes\tSimCam-1\tSIM-cam01"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(deviceUrls_[1] + "\tsharpeyes\tSimCam-1\tSIM-cam02"), std::string::npos);
  // Without credentials the devices are still listed (from their scopes), with the reason.
  const CliRun anon =
      run({"discover", "--probe", "127.0.0.1:" + discoveryPort_, "--wait", "3"}, {});
  ASSERT_EQ(anon.code, 0) << describe(anon);
  EXPECT_NE(anon.out.find("UsernameToken required"), std::string::npos) << anon.out;
}

TEST_F(OnvifCliTest, InfoShowsServicesAndProfiles) {
  const CliRun r = run({"onvif", "info", deviceUrls_[0], "--user", "admin"});
  ASSERT_EQ(r.code, 0) << describe(r);
  expectNoPassword(r);
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("manufacturer"), "sharpeyes");
  EXPECT_EQ(
      j.at("services").at("ptz").get<std::string>().find("/onvif/cam01/ptz") != std::string::npos,
      true)
      << r.out;
  EXPECT_EQ(j.at("services").at("pullPoint"), true);
  ASSERT_EQ(j.at("profiles").size(), 2u);
  EXPECT_EQ(j.at("profiles").at(0).at("encoding"), "H264");
  // cam02 is not PTZ: no PTZ service.
  const CliRun fixed = run({"onvif", "info", deviceUrls_[1], "--user", "admin"});
  ASSERT_EQ(fixed.code, 0) << describe(fixed);
  EXPECT_EQ(nlohmann::json::parse(fixed.out).at("services").at("ptz"), "");
}

TEST_F(OnvifCliTest, ResolveGivesTheSimulatorsRtspUrls) {
  const CliRun r = run({"onvif", "resolve", deviceUrls_[0], "--user", "admin"});
  ASSERT_EQ(r.code, 0) << describe(r);
  expectNoPassword(r);
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("main"), mainUrl_);
  EXPECT_TRUE(j.at("sub").get<std::string>().ends_with("/cam01/sub")) << r.out;
  EXPECT_EQ(j.at("model"), "SimCam-1");
}

TEST_F(OnvifCliTest, PtzMovesAndReportsThePosition) {
  const CliRun r = run({"onvif", "ptz", deviceUrls_[0], "--user", "admin", "--absolute", "0.25",
                        "-0.5", "0.4", "--status"});
  ASSERT_EQ(r.code, 0) << describe(r);
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_NEAR(j.at("pan").get<double>(), 0.25, 1e-3);
  EXPECT_NEAR(j.at("tilt").get<double>(), -0.5, 1e-3);
  EXPECT_NEAR(j.at("zoom").get<double>(), 0.4, 1e-3);

  const CliRun preset =
      run({"onvif", "ptz", deviceUrls_[0], "--user", "admin", "--set-preset", "gate"});
  ASSERT_EQ(preset.code, 0) << describe(preset);
  ASSERT_TRUE(preset.out.starts_with("preset ")) << preset.out;
  const CliRun list = run({"onvif", "ptz", deviceUrls_[0], "--user", "admin", "--presets"});
  ASSERT_EQ(list.code, 0) << describe(list);
  EXPECT_NE(list.out.find("\tgate"), std::string::npos) << list.out;

  // A fixed camera: a clear failure, exit 1.
  const CliRun fixed =
      run({"onvif", "ptz", deviceUrls_[1], "--user", "admin", "--absolute", "0.1", "0", "0"});
  EXPECT_EQ(fixed.code, 1) << describe(fixed);
  EXPECT_NE(fixed.err.find("PTZ"), std::string::npos) << fixed.err;
}

TEST_F(OnvifCliTest, EventsPrintsTheCamerasMotion) {
  // The sim's default scene has people and cars crossing within every 4 s loop: the first pull
  // reports the motion state, and it changes within the window.
  const CliRun r = run({"onvif", "events", deviceUrls_[1], "--user", "admin", "--seconds", "9"});
  ASSERT_EQ(r.code, 0) << describe(r);
  expectNoPassword(r);
  int motion = 0;
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    const auto e = nlohmann::json::parse(line);
    if (e.at("type") != "motion") continue;
    ++motion;
    EXPECT_EQ(e.at("attributes").at("origin"), "camera");
    EXPECT_EQ(e.at("attributes").at("topic"), "tns1:VideoSource/MotionAlarm");
  }
  EXPECT_GE(motion, 1) << describe(r);
  EXPECT_NE(r.err.find("events: subscribed"), std::string::npos) << r.err;
}

TEST_F(OnvifCliTest, FailuresAreClearWithTheRightExitCode) {
  // Wrong password: the device's reason, exit 1.
  const CliRun wrong = run({"onvif", "resolve", deviceUrls_[0], "--user", "admin"},
                           {"SHARPEYES_ONVIF_PASSWORD=not-the-password"});
  EXPECT_EQ(wrong.code, 1) << describe(wrong);
  EXPECT_NE(wrong.err.find("authentication failed"), std::string::npos) << wrong.err;
  const CliRun wrongEvents =
      run({"onvif", "events", deviceUrls_[0], "--user", "admin", "--seconds", "30"},
          {"SHARPEYES_ONVIF_PASSWORD=not-the-password"});
  EXPECT_EQ(wrongEvents.code, 1) << describe(wrongEvents);
  EXPECT_NE(wrongEvents.err.find("authentication failed"), std::string::npos);

  // Not an address: exit 2, for every device command.
  for (const char* cmd : {"info", "resolve", "ptz", "events"}) {
    const CliRun bad = run({"onvif", cmd, "not a host!", "--user", "admin"});
    EXPECT_EQ(bad.code, 2) << cmd << "\n" << describe(bad);
    EXPECT_NE(bad.err.find("ONVIF address must be"), std::string::npos) << bad.err;
  }
  // Nobody listening: exit 1 naming the failure.
  const CliRun refused =
      run({"onvif", "resolve", "127.0.0.1:1", "--user", "admin", "--timeout", "2"});
  EXPECT_EQ(refused.code, 1) << describe(refused);
  EXPECT_NE(refused.err.find("cannot connect"), std::string::npos) << refused.err;
  // A user without the password variable: exit 2 naming the variable.
  const CliRun noPassword = run({"onvif", "info", deviceUrls_[0], "--user", "admin"}, {});
  EXPECT_EQ(noPassword.code, 2) << describe(noPassword);
  EXPECT_NE(noPassword.err.find("SHARPEYES_ONVIF_PASSWORD"), std::string::npos);
  // Unknown subcommand / missing address: CLI11's own usage error.
  const CliRun usage = run({"onvif", "resolve"});
  EXPECT_NE(usage.code, 0) << describe(usage);
}

TEST_F(OnvifCliTest, SimWithOnvifNeedsAPassword) {
  const CliRun r = run({"sim", "--cameras", "1", "--port", "0", "--control-port", "0", "--onvif"},
                       {"SHARPEYES_ONVIF_PASSWORD="});
  EXPECT_EQ(r.code, 2) << describe(r);
  EXPECT_NE(r.err.find("--onvif-no-auth"), std::string::npos) << r.err;
}

// Last in the suite (tests run in definition order): the simulator stops cleanly on SIGTERM and
// never printed the password.
TEST_F(OnvifCliTest, SimStopsOnSigtermWithoutPrintingThePassword) {
  sim_->kill(SIGTERM);
  const auto code = sim_->wait(30s);
  ASSERT_TRUE(code) << "sim did not stop";
  EXPECT_EQ(*code, 0) << sim_->err();
  EXPECT_EQ(sim_->out().find(kPassword), std::string::npos);
  EXPECT_EQ(sim_->err().find(kPassword), std::string::npos);
}

}  // namespace
}  // namespace sharpeyes
