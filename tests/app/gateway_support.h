#pragma once
// What the gateway end-to-end tests share: the simulator they run against and starting the real
// `sharpeyes gateway` binary as a child process.

#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
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
