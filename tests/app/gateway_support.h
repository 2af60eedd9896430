#pragma once
// What the gateway end-to-end tests share: the simulator they run against and starting the real
// `sharpeyes gateway` binary as a child process.

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "process.h"
#include "sharpeyes/sim/sim.h"
#include "test_client.h"

namespace sharpeyes::app::testing {

using namespace std::chrono_literals;

// The 3-camera simulator (one 10 s scene) of the gateway suites; nullptr after a failed start
// (the failure is reported). The caller owns it (stop + delete in TearDownTestSuite).
inline sim::SimServer* startSuiteSimulator() {
  sim::SimOptions o;
  o.cameras = 3;
  o.distinctScenes = 1;
  o.loopSeconds = 10;
  o.cacheDir = SHARPEYES_TEST_CACHE_DIR;
  auto s = sim::SimServer::start(o);
  EXPECT_TRUE(s.ok()) << s.error().describe();
  return s.ok() ? std::move(s.value()).release() : nullptr;
}

// A fixture base for the suites that share one simulator (startSuiteSimulator) across their tests.
class SimulatorSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    sim_ = startSuiteSimulator();
    ASSERT_NE(sim_, nullptr);
  }
  static void TearDownTestSuite() {
    if (sim_ != nullptr) sim_->stop();
    delete sim_;
    sim_ = nullptr;
  }

  // One binary runs one such suite at a time, so one pointer serves every fixture derived here.
  inline static sim::SimServer* sim_ = nullptr;
};

// The gateway's YAML config as the end-to-end suites write it, in this order: the gateway section
// (DATA_DIR, an ephemeral loopback HTTP port), `defaults:`, `storage:`, `cameras:`, then any extra
// YAML as given. One builder, so that a change of the config format is made in one place.
class GatewayConfig {
 public:
  GatewayConfig(std::string gatewayId, std::filesystem::path dataDir)
      : id_(std::move(gatewayId)), dataDir_(std::move(dataDir)) {}

  // One entry under `defaults:`, unindented, e.g. "recording: {segment_length: 2s}".
  GatewayConfig& defaults(const std::string& entry) {
    defaults_ += "  " + entry + "\n";
    return *this;
  }
  // The `storage:` section as a flow map, e.g. "{quota_gb: 50}".
  GatewayConfig& storage(const std::string& flowMap) {
    storage_ = flowMap;
    return *this;
  }
  // A camera; `more`: further lines of its entry, each indented by 4 and ending in a newline.
  GatewayConfig& camera(const std::string& id, const std::string& division,
                        const std::string& mainUrl, const std::string& subUrl = "",
                        const std::string& more = "") {
    cameras_ +=
        "  - id: " + id + "\n    division: \"" + division + "\"\n    main: " + mainUrl + "\n";
    if (!subUrl.empty()) cameras_ += "    sub: " + subUrl + "\n";
    cameras_ += more;
    return *this;
  }
  // The simulator's camera `index` (main stream, and the sub stream when `withSub`), in village
  // 51060310120<index + 1>.
  GatewayConfig& simCamera(const sim::SimServer& sim, int index, bool withSub,
                           const std::string& more = "") {
    return camera(sim.cameraName(index), "51060310120" + std::to_string(index + 1),
                  sim.mainUrl(index), withSub ? sim.subUrl(index) : "", more);
  }
  // YAML appended as it is after the cameras (another camera entry, or further sections).
  GatewayConfig& extra(const std::string& yaml) {
    extra_ += yaml;
    return *this;
  }

  std::string text() const {
    std::ostringstream y;
    y << "gateway:\n  id: " << id_
      << "\n  division: \"510603101000\"\n  data_dir: " << dataDir_.string()
      << "\n  http: {address: 127.0.0.1, port: 0}\n";
    if (!defaults_.empty()) y << "defaults:\n" << defaults_;
    if (!storage_.empty()) y << "storage: " << storage_ << "\n";
    y << "cameras:\n" << cameras_ << extra_;
    return y.str();
  }
  // Writes DATA_DIR/gateway.yaml and returns its path.
  std::string write() const {
    const auto path = (dataDir_ / "gateway.yaml").string();
    std::ofstream(path) << text();
    return path;
  }

 private:
  std::string id_;
  std::filesystem::path dataDir_;
  std::string defaults_;
  std::string storage_;
  std::string cameras_;
  std::string extra_;
};

// Starts `sharpeyes gateway --config CONFIG` (output in LOGPREFIX.out/.err) and returns the HTTP
// port it reports in its "listening on" log line; 0 (and a test failure) when it never does.
inline uint16_t startGateway(sharpeyes::testing::ChildProcess& gw, const std::string& config,
                             const std::string& logPrefix,
                             const std::vector<std::string>& env = {}) {
  EXPECT_TRUE(gw.start(SHARPEYES_BINARY, {"gateway", "--config", config}, logPrefix, env));
  uint16_t port = 0;
  EXPECT_TRUE(sharpeyes::testing::waitFor(
      [&] {
        std::smatch m;
        const std::string log = gw.err();
        static const std::regex re("listening on 127\\.0\\.0\\.1:(\\d+)");
        if (!std::regex_search(log, m, re)) return false;
        port = static_cast<uint16_t>(std::stoi(m[1].str()));
        return true;
      },
      30s))
      << gw.err();
  return port;
}

// A logged-in API client (Bearer token).
class Api {
 public:
  Api(uint16_t port, const std::string& user, const std::string& password) : port_(port) {
    const auto r =
        call("POST", "/api/login", nlohmann::json{{"user", user}, {"password", password}});
    status_ = r.status;
    if (r.status == 200) token_ = nlohmann::json::parse(r.body).value("token", "");
  }
  bool ok() const { return !token_.empty(); }
  int loginStatus() const { return status_; }
  const std::string& token() const { return token_; }

  sharpeyes::api::testing::Reply call(
      const std::string& method, const std::string& target, const nlohmann::json& body = nullptr,
      std::vector<std::pair<std::string, std::string>> headers = {}) const {
    sharpeyes::api::testing::Conn c(port_);
    if (!token_.empty()) headers.emplace_back("Authorization", "Bearer " + token_);
    std::string payload;
    if (!body.is_null()) {
      headers.emplace_back("Content-Type", "application/json");
      payload = body.dump();
    }
    return c.request(method, target, headers, payload);
  }
  nlohmann::json get(const std::string& target) const {
    const auto r = call("GET", target);
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
    return nlohmann::json::parse(r.body, nullptr, false);
  }

 private:
  uint16_t port_;
  std::string token_;
  int status_ = 0;
};

}  // namespace sharpeyes::app::testing
