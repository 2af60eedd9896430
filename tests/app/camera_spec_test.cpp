// API camera specs into the config file's camera format, read by the config loader's own reader;
// the API camera file written atomically and read back.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <variant>

#include "config.h"
#include "gateway_cameras.h"

namespace sharpeyes::app {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class CameraSpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / "camera-spec-test";
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    gw_ = parseGatewayConfig(
        "gateway: {id: gw, division: \"510603101000\", data_dir: " + dir_.string() +
            "}\n"
            "defaults: {recording: {segment_length: 4s}, transport: udp}\n"
            "cameras:\n  - {id: cam01, division: \"510603101201\", main: rtsp://h/1}\n",
        "gw.yaml");
  }

  api::CameraSpec spec() const {
    api::CameraSpec s;
    s.id = core::CameraId::parse("api1").value();
    s.name = "Gate";
    s.division = core::DivisionCode::parse("510603101202").value();
    s.mainUrl = "rtsp://10.0.0.9/main";
    return s;
  }

  // The entry the gateway would run, or the API's message.
  std::variant<CameraEntry, std::string> read(const api::CameraSpec& s,
                                              const YAML::Node* previous = nullptr) {
    auto p = prepareCamera(s, previous, (dir_ / "secrets").string());
    if (!p) return p.error().message;
    try {
      return parseCameraEntry(p->yaml, gw_, "request", "");
    } catch (const ConfigError& e) {
      return apiFieldMessage(e.what());
    }
  }

  fs::path dir_;
  GatewayConfig gw_;
};

TEST_F(CameraSpecTest, ASpecIsReadLikeAConfigCameraWithTheGatewaysDefaults) {
  auto s = spec();
  s.settingsJson = R"({"retention": "7d", "recording": {"segment_length": "6s"}})";
  auto r = read(s);
  ASSERT_TRUE(std::holds_alternative<CameraEntry>(r)) << std::get<std::string>(r);
  const auto& e = std::get<CameraEntry>(r);
  EXPECT_EQ(e.ingest.id.str(), "api1");
  EXPECT_EQ(e.ingest.name, "Gate");
  EXPECT_EQ(e.ingest.main.url, "rtsp://10.0.0.9/main");
  EXPECT_EQ(e.ingest.main.transport, ingest::Transport::kUdp);  // defaults.transport
  EXPECT_EQ(e.ingest.recording.segmentLength, 6s);
  EXPECT_EQ(e.retention, std::chrono::hours(24 * 7));
  EXPECT_FALSE(e.ingest.sub.has_value());
}

TEST_F(CameraSpecTest, ErrorsNameTheApiField) {
  auto message = [&](const api::CameraSpec& s) {
    auto r = read(s);
    return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : "(accepted)";
  };
  auto s = spec();
  s.division = core::DivisionCode::parse("510603102201").value();
  EXPECT_TRUE(message(s).starts_with("division: ")) << message(s);
  s = spec();
  s.mainUrl = "http://x/y";
  EXPECT_EQ(message(s), "main_url: expected an rtsp:// URL");
  s = spec();
  s.subUrl = "udp://x/y";
  EXPECT_EQ(message(s), "sub_url: expected an rtsp:// URL");
  s = spec();
  s.password = "pw";
  EXPECT_TRUE(message(s).starts_with("username: ")) << message(s);
  s.username = "u";
  s.credentialRef = "env:X";
  EXPECT_TRUE(message(s).starts_with("password: ")) << message(s);
  s.password.clear();
  s.credentialRef = "vault:x";
  EXPECT_TRUE(message(s).starts_with("credential_ref: ")) << message(s);
  s.credentialRef = "env:SHARPEYES_TEST_SURELY_UNSET";
  EXPECT_TRUE(message(s).starts_with("credential_ref: environment variable")) << message(s);
  s = spec();
  s.settingsJson = R"({"recording": {"segment_length": "0s"}})";
  EXPECT_TRUE(message(s).starts_with("recording.segment_length: ")) << message(s);
  s.settingsJson = R"({"transport": "carrier-pigeon"})";
  EXPECT_TRUE(message(s).starts_with("transport: ")) << message(s);
  s.settingsJson = R"({"analytics": {"rules": [{"name": "x", "type": "teleport"}]}})";
  EXPECT_TRUE(message(s).starts_with("analytics.rules[0]")) << message(s);
  s = spec();
  s.mainUrl.clear();
  EXPECT_TRUE(message(s).starts_with("main_url: ")) << message(s);
}

TEST_F(CameraSpecTest, APasswordGoesToAPrivateFileAndAnEditKeepsTheLogin) {
  auto s = spec();
  s.username = "viewer";
  s.password = "pw-1234";
  auto p = prepareCamera(s, nullptr, (dir_ / "secrets").string());
  ASSERT_TRUE(p.ok()) << p.error().describe();
  ASSERT_FALSE(p->newSecretFile.empty());
  struct stat st {};
  ASSERT_EQ(::stat(p->newSecretFile.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  YAML::Emitter em;
  em << p->yaml;
  EXPECT_EQ(std::string(em.c_str()).find("pw-1234"), std::string::npos) << em.c_str();
  EXPECT_EQ(ownedSecretFile(p->yaml, (dir_ / "secrets").string()), p->newSecretFile);
  const auto entry = parseCameraEntry(p->yaml, gw_, "request", "");
  EXPECT_EQ(entry.ingest.main.username, "viewer");
  EXPECT_EQ(entry.ingest.main.password, "pw-1234");

  // An edit without credentials keeps them.
  auto edit = spec();
  edit.mainUrl = "rtsp://10.0.0.10/main";
  auto q = prepareCamera(edit, &p->yaml, (dir_ / "secrets").string());
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(q->newSecretFile.empty());
  EXPECT_EQ(ownedSecretFile(q->yaml, (dir_ / "secrets").string()), p->newSecretFile);
  EXPECT_EQ(parseCameraEntry(q->yaml, gw_, "request", "").ingest.main.password, "pw-1234");
}

TEST_F(CameraSpecTest, TheApiFileIsWrittenWholeAndReadBack) {
  ApiCameraFile file((dir_ / "cameras.api.yaml").string());
  EXPECT_TRUE(file.load().value().empty());  // no file yet
  std::vector<YAML::Node> nodes;
  for (const char* id : {"a1", "a2"}) {
    auto s = spec();
    s.id = core::CameraId::parse(id).value();
    nodes.push_back(prepareCamera(s, nullptr, (dir_ / "secrets").string()).value().yaml);
  }
  ASSERT_TRUE(file.save(nodes).ok());
  ASSERT_TRUE(file.save(nodes).ok());  // over an existing file
  auto back = file.load();
  ASSERT_TRUE(back.ok()) << back.error().describe();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ(parseCameraEntry((*back)[1], gw_, file.path(), "cameras[1]").ingest.id.str(), "a2");
  // Only the file itself is left behind (no temporaries).
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 1u);

  // A hand-edited mistake is reported with the file's line.
  std::ofstream(file.path()) << "cameras:\n  - id: a1\n    division: \"510603101202\"\n"
                                "    main: http://x/y\n";
  auto bad = file.load();
  ASSERT_TRUE(bad.ok());
  try {
    parseCameraEntry((*bad)[0], gw_, file.path(), "cameras[0]");
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("cameras.api.yaml:4:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cameras[0].main"), std::string::npos) << e.what();
  }
}

// Two cameras of the config file: cam01 with a tripwire of its own, cam02 with none; `defaults`
// is the `defaults:` section (YAML, ending in a newline).
GatewayConfig parseTripwireCam01AndPlainCam02(const std::string& defaults) {
  return parseGatewayConfig(
      "gateway: {id: gw, division: \"510603101000\"}\n" + defaults +
          "cameras:\n"
          "  - id: cam01\n    division: \"510603101201\"\n    main: rtsp://h/1\n"
          "    analytics:\n      rules:\n"
          "        - {name: gate-line, type: tripwire, line: [[0.5, 0.0], [0.5, 1.0]]}\n"
          "  - {id: cam02, division: \"510603101202\", main: rtsp://h/2}\n",
      "gw.yaml");
}

// The config file's own cameras after the reader was shared with the API: each camera gets its
// own analytics and nothing of another's.
TEST(ConfigCamerasTest, AnalyticsStayWithTheirCamera) {
  const auto cfg = parseTripwireCam01AndPlainCam02("defaults: {feed: {enabled: false}}\n");
  ASSERT_EQ(cfg.cameras.size(), 2u);
  ASSERT_TRUE(cfg.cameras[0].analyticsConfig.has_value());
  EXPECT_EQ(cfg.cameras[0].analyticsConfig->rules.size(), 1u);
  EXPECT_FALSE(cfg.cameras[1].analyticsConfig.has_value());
}

// defaults.analytics apply to every camera; one camera's own section never leaks into the next.
TEST(ConfigCamerasTest, DefaultAnalyticsAreNotOverwrittenByACamerasOwn) {
  const auto cfg = parseTripwireCam01AndPlainCam02(
      "defaults:\n  analytics:\n    rules: [{name: dark, type: signal_loss}]\n");
  ASSERT_EQ(cfg.cameras.size(), 2u);
  ASSERT_TRUE(cfg.cameras[1].analyticsConfig.has_value());
  ASSERT_EQ(cfg.cameras[1].analyticsConfig->rules.size(), 1u);
  EXPECT_EQ(cfg.cameras[1].analyticsConfig->rules[0].name, "dark");
  ASSERT_TRUE(cfg.cameras[0].analyticsConfig.has_value());
  EXPECT_EQ(cfg.cameras[0].analyticsConfig->rules.size(), 2u);
}

}  // namespace
}  // namespace sharpeyes::app
