#include "config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

namespace sharpeyes::app {
namespace {

using namespace std::chrono_literals;

const char* kGood = R"(
gateway:
  id: gw-test
  division: "510603101000"
  data_dir: /tmp/sharpeyes-test
  http: {address: 127.0.0.1, port: 0}
defaults:
  recording: {segment_length: 6s}
  health: {stall_timeout: 2s, backoff_max: 10s}
cameras:
  - id: cam01
    name: 村口东
    division: "510603101201"
    main: rtsp://127.0.0.1:8554/cam01/main
    sub: rtsp://127.0.0.1:8554/cam01/sub
    credentials: {username: admin, password_env: SHARPEYES_TEST_PW}
    feed: {enabled: true, fps: 5}
  - id: cam02
    division: "510603101202"
    main: rtsp://127.0.0.1:8554/cam02/main
    transport: udp
    recording: {segment_length: 4s}
)";

std::string errorOf(const std::string& text) {
  try {
    parseGatewayConfig(text, "t.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { setenv("SHARPEYES_TEST_PW", "s3cret", 1); }
  void TearDown() override { unsetenv("SHARPEYES_TEST_PW"); }
};

TEST_F(ConfigTest, ReadsAGoodFileWithDefaultsAndOverrides) {
  const auto cfg = parseGatewayConfig(kGood, "t.yaml");
  EXPECT_EQ(cfg.id, "gw-test");
  EXPECT_EQ(cfg.division.str(), "510603101000");
  EXPECT_EQ(cfg.http.port, 0);
  ASSERT_EQ(cfg.cameras.size(), 2u);
  const auto& c1 = cfg.cameras[0].ingest;
  EXPECT_EQ(c1.name, "村口东");
  EXPECT_EQ(c1.main.username, "admin");
  EXPECT_EQ(c1.main.password, "s3cret");
  ASSERT_TRUE(c1.sub.has_value());
  EXPECT_EQ(c1.sub->password, "s3cret");
  EXPECT_EQ(c1.recording.segmentLength, 6s);
  EXPECT_EQ(c1.recording.directory, "/tmp/sharpeyes-test/recordings");
  EXPECT_EQ(c1.health.stallTimeout, 2s);
  EXPECT_TRUE(c1.analytics.enabled);
  const auto& c2 = cfg.cameras[1].ingest;
  EXPECT_EQ(c2.name, "cam02");
  EXPECT_EQ(c2.main.transport, ingest::Transport::kUdp);
  EXPECT_EQ(c2.recording.segmentLength, 4s);
  EXPECT_FALSE(c2.sub.has_value());
}

TEST_F(ConfigTest, TcpJitterBufferAndConnectionSlots) {
  // Defaults: TCP streams are timestamped without rtpjitterbuffer; 16 cameras connect at once.
  auto cfg = parseGatewayConfig(kGood, "t.yaml");
  EXPECT_EQ(cfg.maxConnecting, 16);
  EXPECT_FALSE(cfg.cameras[0].ingest.main.jitterBufferOverTcp);
  EXPECT_FALSE(cfg.cameras[0].ingest.sub->jitterBufferOverTcp);

  std::string text = kGood;
  text.replace(text.find("defaults:\n"), 10, "defaults:\n  tcp_jitter_buffer: true\n");
  text.replace(text.find("  http: {"), 9, "  max_connecting: 4\n  http: {");
  text.replace(text.find("    transport: udp"), 18, "    tcp_jitter_buffer: false");
  cfg = parseGatewayConfig(text, "t.yaml");
  EXPECT_EQ(cfg.maxConnecting, 4);
  EXPECT_TRUE(cfg.cameras[0].ingest.main.jitterBufferOverTcp);  // from defaults
  EXPECT_TRUE(cfg.cameras[0].ingest.sub->jitterBufferOverTcp);
  EXPECT_FALSE(cfg.cameras[1].ingest.main.jitterBufferOverTcp);  // the camera's own

  text = kGood;
  text.replace(text.find("  http: {"), 9, "  max_connecting: -1\n  http: {");
  EXPECT_NE(errorOf(text).find("gateway.max_connecting: must be between 0 and 10000"),
            std::string::npos)
      << errorOf(text);
  text = kGood;
  text.replace(text.find("    transport: udp"), 18, "    tcp_jitter_buffer: maybe");
  EXPECT_NE(errorOf(text).find("cameras[1].tcp_jitter_buffer"), std::string::npos) << errorOf(text);
}

TEST_F(ConfigTest, NativeReaderIsOptInAndTcpOnly) {
  using Reader = ingest::StreamSource::Reader;
  auto cfg = parseGatewayConfig(kGood, "t.yaml");
  EXPECT_EQ(cfg.cameras[0].ingest.main.reader, Reader::kRtspsrc);  // the default
  EXPECT_EQ(cfg.cameras[0].ingest.sub->reader, Reader::kRtspsrc);

  // From defaults for the TCP camera; the UDP camera keeps rtspsrc by its own key.
  std::string text = kGood;
  text.replace(text.find("defaults:\n"), 10, "defaults:\n  reader: native\n");
  text.replace(text.find("    transport: udp"), 18, "    transport: udp\n    reader: rtspsrc");
  cfg = parseGatewayConfig(text, "t.yaml");
  EXPECT_EQ(cfg.cameras[0].ingest.main.reader, Reader::kNative);
  EXPECT_EQ(cfg.cameras[0].ingest.sub->reader, Reader::kNative);
  EXPECT_EQ(cfg.cameras[1].ingest.main.reader, Reader::kRtspsrc);

  // native with UDP: refused, naming the key that asked for it.
  text = kGood;
  text.replace(text.find("    transport: udp"), 18, "    transport: udp\n    reader: native");
  EXPECT_NE(errorOf(text).find("cameras[1].reader: the native reader reads RTSP over TCP only"),
            std::string::npos)
      << errorOf(text);
  text = kGood;
  text.replace(text.find("defaults:\n"), 10, "defaults:\n  reader: native\n");
  EXPECT_NE(errorOf(text).find("cameras[1].transport: the native reader"), std::string::npos)
      << errorOf(text);
  text = kGood;
  text.replace(text.find("defaults:\n"), 10, "defaults:\n  reader: ffmpeg\n");
  EXPECT_NE(errorOf(text).find("defaults.reader: expected rtspsrc, native or auto, got 'ffmpeg'"),
            std::string::npos)
      << errorOf(text);
}

TEST_F(ConfigTest, AutoReaderIsNativeOverTcpAndRtspsrcOverUdp) {
  using Reader = ingest::StreamSource::Reader;
  // From defaults: the TCP camera (main and sub) reads natively, the UDP one with rtspsrc.
  std::string text = kGood;
  text.replace(text.find("defaults:\n"), 10, "defaults:\n  reader: auto\n");
  auto cfg = parseGatewayConfig(text, "t.yaml");
  EXPECT_EQ(cfg.cameras[0].ingest.main.reader, Reader::kNative);
  EXPECT_EQ(cfg.cameras[0].ingest.sub->reader, Reader::kNative);
  EXPECT_EQ(cfg.cameras[1].ingest.main.transport, ingest::Transport::kUdp);
  EXPECT_EQ(cfg.cameras[1].ingest.main.reader, Reader::kRtspsrc);

  // On the camera itself, and overridden there.
  text = kGood;
  text.replace(text.find("    transport: udp"), 18, "    transport: udp\n    reader: auto");
  cfg = parseGatewayConfig(text, "t.yaml");
  EXPECT_EQ(cfg.cameras[0].ingest.main.reader, Reader::kRtspsrc);  // the default stays rtspsrc
  EXPECT_EQ(cfg.cameras[1].ingest.main.reader, Reader::kRtspsrc);
  text = kGood;
  text.replace(text.find("defaults:\n"), 10, "defaults:\n  reader: auto\n");
  text.replace(text.find("    transport: udp"), 18, "    transport: tcp");
  cfg = parseGatewayConfig(text, "t.yaml");
  EXPECT_EQ(cfg.cameras[1].ingest.main.reader, Reader::kNative);
}

TEST_F(ConfigTest, UnknownKeyNamesFileLineAndKey) {
  std::string text = kGood;
  text.replace(text.find("    transport: udp"), 18, "    transprot: udp");
  const auto err = errorOf(text);
  EXPECT_NE(err.find("t.yaml:21:5: cameras[1].transprot: unknown key"), std::string::npos) << err;
}

TEST_F(ConfigTest, BadValuesAreRejectedWithTheirKey) {
  struct Case {
    std::string from, to, expect;
  };
  const std::vector<Case> cases = {
      {"division: \"510603101201\"", "division: \"5106031012\"",
       "cameras[0].division: division code"},
      {"division: \"510603101202\"", "division: \"510604101202\"",
       "outside the gateway's division"},
      {"id: cam02", "id: cam01", "duplicate camera id"},
      {"id: cam02", "id: \"cam 2\"", "cameras[1].id"},
      {"main: rtsp://127.0.0.1:8554/cam02/main", "main: http://x/", "expected an rtsp:// URL"},
      {"main: rtsp://127.0.0.1:8554/cam02/main", "main: rtsp://u:p@127.0.0.1/x", "not in the URL"},
      {"segment_length: 4s", "segment_length: 4 parsecs", "cameras[1].recording.segment_length"},
      {"fps: 5", "fps: -1", "cameras[0].feed.fps: must be between"},
      {"transport: udp", "transport: sctp", "expected tcp or udp"},
      {"password_env: SHARPEYES_TEST_PW", "password_env: SHARPEYES_UNSET_VAR_X",
       "environment variable 'SHARPEYES_UNSET_VAR_X' is not set"},
      {"port: 0", "port: 70000", "gateway.http.port: must be between"},
  };
  for (const auto& c : cases) {
    std::string text = kGood;
    const auto pos = text.find(c.from);
    ASSERT_NE(pos, std::string::npos) << c.from;
    text.replace(pos, c.from.size(), c.to);
    const auto err = errorOf(text);
    EXPECT_NE(err.find(c.expect), std::string::npos) << "for " << c.to << ": " << err;
    EXPECT_EQ(err.rfind("t.yaml:", 0), 0u) << err;
  }
}

TEST_F(ConfigTest, StorageApiAndRetentionSectionsAreReadAndChecked) {
  std::string text = kGood;
  text += R"(storage: {retention: 14d, quota_gb: 2, high_watermark: 0.9, low_watermark: 0.7,
          sweep_interval: 30s, event_clips: false}
api: {users: /etc/sharpeyes/users.json, threads: 8}
)";
  text.replace(text.find("    transport: udp"), 18, "    transport: udp\n    retention: 90d");
  const auto cfg = parseGatewayConfig(text, "t.yaml");
  EXPECT_EQ(cfg.storage.retention, std::chrono::hours(24 * 14));
  EXPECT_EQ(cfg.storage.quotaBytes, 2ull << 30);
  EXPECT_DOUBLE_EQ(cfg.storage.lowWatermark, 0.7);
  EXPECT_EQ(cfg.storage.sweepInterval, 30s);
  EXPECT_FALSE(cfg.storage.eventClips);
  EXPECT_EQ(cfg.usersPath(), "/etc/sharpeyes/users.json");
  EXPECT_EQ(cfg.api.threads, 8);
  EXPECT_EQ(cfg.cameras[1].retention, std::chrono::hours(24 * 90));
  EXPECT_EQ(cfg.cameras[0].retention.count(), 0);
  EXPECT_FALSE(cfg.busConfig.has_value());
  EXPECT_EQ(cfg.indexPath(), cfg.dataDir + "/index.db");  // SQLite by default
  const auto pg = parseGatewayConfig(
      std::string(kGood) + "storage: {database: \"postgresql://gw@db.county/sharpeyes\"}\n",
      "t.yaml");
  EXPECT_EQ(pg.indexPath(), "postgresql://gw@db.county/sharpeyes");

  const auto bad = [&](const std::string& section) {
    return errorOf(std::string(kGood) + section);
  };
  EXPECT_NE(bad("storage: {low_watermark: 0.95}\n").find("storage.low_watermark: must be below"),
            std::string::npos);
  EXPECT_NE(bad("storage: {sweep_interval: 10ms}\n").find("storage.sweep_interval"),
            std::string::npos);
  EXPECT_NE(bad("storage: {database: mysql://x/y}\n").find("storage.database: expected a"),
            std::string::npos);
  EXPECT_NE(bad("api: {tls_cert: a.pem}\n").find("api.tls_key: tls_cert and tls_key go together"),
            std::string::npos);
  // The bus section is read at load: a missing key file fails at start, naming the key.
  const auto busErr = bad(
      "bus: {upstream: \"tcp://127.0.0.1:7701\", upstream_key: /nonexistent/c.pub, key: /x.key}\n");
  EXPECT_NE(busErr.find("bus.upstream_key"), std::string::npos) << busErr;
  EXPECT_NE(bad("bus: {upstream: \"udp://x\"}\n").find("bus.upstream: expected tcp://"),
            std::string::npos);
}

TEST_F(ConfigTest, SyntaxErrorsAndMissingSectionsAreClear) {
  EXPECT_NE(errorOf("gateway: [unclosed").find("YAML syntax error"), std::string::npos);
  EXPECT_NE(errorOf("cameras: []").find("gateway: required section is missing"), std::string::npos);
  EXPECT_NE(errorOf("").find("expected a mapping"), std::string::npos);
}

TEST_F(ConfigTest, DisabledCamerasAreValidatedButNotRun) {
  std::string text = kGood;
  text.replace(text.find("    transport: udp"), 18, "    enabled: false");
  const auto cfg = parseGatewayConfig(text, "t.yaml");
  ASSERT_EQ(cfg.cameras.size(), 2u);
  EXPECT_TRUE(cfg.cameras[0].enabled);
  EXPECT_FALSE(cfg.cameras[1].enabled);
}

TEST_F(ConfigTest, PasswordFileIsReadAndMissingFileReported) {
  const std::string path = ::testing::TempDir() + "/pw.txt";
  std::ofstream(path) << "fromfile\n";
  std::string text = kGood;
  text.replace(text.find("password_env: SHARPEYES_TEST_PW"), 31, "password_file: " + path);
  EXPECT_EQ(parseGatewayConfig(text, "t.yaml").cameras[0].ingest.main.password, "fromfile");
  std::remove(path.c_str());
  EXPECT_NE(errorOf(text).find("cannot read password file"), std::string::npos);
}

TEST_F(ConfigTest, ErrorMessagesNeverContainThePassword) {
  // An error in the camera that holds the credentials never echoes the resolved password.
  std::string text = kGood;
  text.replace(text.find("fps: 5"), 6, "fps: x");
  const auto err = errorOf(text);
  EXPECT_NE(err.find("cameras[0].feed.fps"), std::string::npos) << err;
  EXPECT_EQ(err.find("s3cret"), std::string::npos) << err;
}

TEST(DemoConfig, TheShippedDemoConfigIsValid) {
  const auto cfg = loadGatewayConfig(std::string(SHARPEYES_SOURCE_DIR) + "/examples/demo.yaml");
  ASSERT_EQ(cfg.cameras.size(), 8u);
  for (const auto& cam : cfg.cameras) {
    EXPECT_TRUE(cfg.division.contains(cam.ingest.division)) << cam.ingest.id.str();
    ASSERT_TRUE(cam.analyticsConfig.has_value()) << cam.ingest.id.str();
    EXPECT_TRUE(cam.ingest.analytics.enabled);
  }
  // Defaults (tamper, video loss) plus cam01's own tripwire and fence.
  EXPECT_EQ(cfg.cameras[0].analyticsConfig->rules.size(), 4u);
  EXPECT_EQ(cfg.cameras[1].analyticsConfig->rules.size(), 2u);
}

}  // namespace
}  // namespace sharpeyes::app
