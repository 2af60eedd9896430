#include "config.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "config_analytics.h"
#include "config_bus.h"
#include "sharpeyes/core/util.h"

namespace sharpeyes::app {
namespace {

using namespace std::chrono_literals;

std::string readPasswordFile(const YamlMap& m, const std::string& key, const std::string& path) {
  std::ifstream in(path);
  if (!in) m.fail(key, "cannot read password file '" + path + "'");
  std::string secret;
  std::getline(in, secret);
  if (secret.empty()) m.fail(key, "password file '" + path + "' is empty");
  return secret;
}

// credentials: {username: x, password_env: VAR | password_file: path}
void readCredentials(const YamlMap& m, std::string& user, std::string& password) {
  m.allowOnly({"username", "password_env", "password_file"});
  user = m.requireString("username");
  if (m.has("password_env") && m.has("password_file")) {
    m.fail("password_file", "give either password_env or password_file, not both");
  }
  if (m.has("password_env")) {
    const std::string var = m.getString("password_env", "");
    const char* value = std::getenv(var.c_str());
    if (value == nullptr || *value == '\0') {
      m.fail("password_env", "environment variable '" + var + "' is not set");
    }
    password = value;
  } else if (m.has("password_file")) {
    password = readPasswordFile(m, "password_file", m.getString("password_file", ""));
  }
}

ingest::StreamSource readStream(const YamlMap& cam, const std::string& key,
                                ingest::Transport transport) {
  ingest::StreamSource s;
  s.url = cam.getString(key, "");
  if (!s.url.starts_with("rtsp://") && !s.url.starts_with("rtsps://")) {
    cam.fail(key, "expected an rtsp:// URL");
  }
  if (core::redactUrl(s.url) != s.url || s.url.find('@') < s.url.find('/', 7)) {
    cam.fail(key, "put the user name and password under `credentials`, not in the URL");
  }
  s.transport = transport;
  return s;
}

ingest::Transport readTransport(const YamlMap& m, ingest::Transport fallback) {
  const std::string t =
      m.getString("transport", fallback == ingest::Transport::kTcp ? "tcp" : "udp");
  if (t == "tcp") return ingest::Transport::kTcp;
  if (t == "udp") return ingest::Transport::kUdp;
  m.fail("transport", "expected tcp or udp, got '" + t + "'");
}

using Reader = ingest::StreamSource::Reader;

// `reader: rtspsrc | native | auto` (see ingest::StreamSource::reader). `auto` is the native
// reader where it can read (TCP) and rtspsrc elsewhere (UDP), so one `defaults: {reader: auto}`
// fits a mixed site; `native` asks for the native reader and refuses UDP. Either way a stream
// that turns out to reorder frames (B-frames) moves to rtspsrc by itself.
enum class ReaderChoice { kRtspsrc, kNative, kAuto };

ReaderChoice readReader(const YamlMap& m, ReaderChoice fallback) {
  const char* name = fallback == ReaderChoice::kNative ? "native"
                     : fallback == ReaderChoice::kAuto ? "auto"
                                                       : "rtspsrc";
  const std::string r = m.getString("reader", name);
  if (r == "rtspsrc") return ReaderChoice::kRtspsrc;
  if (r == "native") return ReaderChoice::kNative;
  if (r == "auto") return ReaderChoice::kAuto;
  m.fail("reader", "expected rtspsrc, native or auto, got '" + r + "'");
}

void readRecording(const YamlMap& m, ingest::RecordingOptions& r) {
  m.allowOnly({"enabled", "segment_length"});
  r.enabled = m.getBool("enabled", r.enabled);
  r.segmentLength = m.getDuration("segment_length", r.segmentLength);
  if (r.segmentLength < 1s || r.segmentLength > 3600s) {
    m.fail("segment_length", "must be between 1s and 1h");
  }
}

void readHealth(const YamlMap& m, ingest::HealthOptions& h) {
  m.allowOnly({"stall_timeout", "connect_timeout", "backoff_initial", "backoff_max",
               "offline_after_failures"});
  h.stallTimeout = m.getDuration("stall_timeout", h.stallTimeout);
  h.connectTimeout = m.getDuration("connect_timeout", h.connectTimeout);
  h.backoffInitial = m.getDuration("backoff_initial", h.backoffInitial);
  h.backoffMax = m.getDuration("backoff_max", h.backoffMax);
  h.offlineAfterFailures =
      static_cast<int>(m.getInt("offline_after_failures", h.offlineAfterFailures, 1, 1000));
  if (h.stallTimeout < 500ms) m.fail("stall_timeout", "must be at least 500ms");
  if (h.backoffInitial < 100ms) m.fail("backoff_initial", "must be at least 100ms");
  if (h.backoffMax < h.backoffInitial) m.fail("backoff_max", "must not be below backoff_initial");
}

void readFeed(const YamlMap& m, ingest::AnalyticsFeedOptions& f) {
  m.allowOnly({"enabled", "width", "height", "fps", "keyframes_only"});
  f.enabled = m.getBool("enabled", f.enabled);
  f.width = static_cast<int>(m.getInt("width", f.width, 16, 3840));
  f.height = static_cast<int>(m.getInt("height", f.height, 16, 2160));
  f.fps = m.getDouble("fps", f.fps, 0.1, 60);
  f.keyframesOnlyFromMain = m.getBool("keyframes_only", f.keyframesOnlyFromMain);
}

void readStorage(const YamlMap& m, StorageSettings& s) {
  m.allowOnly({"retention", "quota_gb", "high_watermark", "low_watermark", "sweep_interval",
               "event_clips", "event_clip_min_severity", "signing_key", "database"});
  s.retention = m.getDuration("retention", s.retention);
  if (s.retention < 0s) m.fail("retention", "must not be negative");
  s.quotaBytes = static_cast<uint64_t>(m.getDouble("quota_gb", 0, 0, 1e6) * (1ull << 30));
  s.highWatermark = m.getDouble("high_watermark", s.highWatermark, 0.05, 1.0);
  s.lowWatermark = m.getDouble("low_watermark", s.lowWatermark, 0.0, 1.0);
  if (s.lowWatermark >= s.highWatermark) m.fail("low_watermark", "must be below high_watermark");
  s.sweepInterval = m.getDuration("sweep_interval", s.sweepInterval);
  if (s.sweepInterval < 1s) m.fail("sweep_interval", "must be at least 1s");
  s.eventClips = m.getBool("event_clips", s.eventClips);
  s.minClipSeverity = static_cast<int>(m.getInt("event_clip_min_severity", s.minClipSeverity,
                                                core::kMinSeverity, core::kMaxSeverity));
  s.signingKey = m.getString("signing_key", s.signingKey);
  s.database = m.getString("database", s.database);
  if (!s.database.empty() && !s.database.starts_with("postgresql://") &&
      !s.database.starts_with("postgres://") && s.database.find('=') == std::string::npos &&
      !s.database.starts_with("sqlite:")) {
    m.fail("database", "expected a postgresql:// URL, a libpq conninfo or sqlite:PATH");
  }
}

void readApi(const YamlMap& m, ApiSettings& a) {
  m.allowOnly({"users", "tls_cert", "tls_key", "web_root", "threads"});
  a.usersFile = m.getString("users", a.usersFile);
  a.tlsCert = m.getString("tls_cert", a.tlsCert);
  a.tlsKey = m.getString("tls_key", a.tlsKey);
  if (a.tlsCert.empty() != a.tlsKey.empty()) {
    m.fail(a.tlsCert.empty() ? "tls_cert" : "tls_key", "tls_cert and tls_key go together");
  }
  a.webRoot = m.getString("web_root", a.webRoot);
  a.threads = static_cast<int>(m.getInt("threads", a.threads, 1, 64));
}

struct Defaults {
  ingest::RecordingOptions recording;
  ingest::HealthOptions health;
  ingest::AnalyticsFeedOptions feed;
  ingest::Transport transport = ingest::Transport::kTcp;
  bool tcpJitterBuffer = false;  // see ingest::StreamSource::jitterBufferOverTcp
  ReaderChoice reader = ReaderChoice::kRtspsrc;
};

CameraEntry readCamera(const YamlMap& cam, const Defaults& d, const GatewayConfig& gw,
                       const std::string& recordingDir) {
  cam.allowOnly({"id", "name", "division", "main", "sub", "onvif", "transport", "tcp_jitter_buffer",
                 "reader", "credentials", "recording", "health", "feed", "analytics", "enabled",
                 "retention", "ptz"});
  CameraEntry e;
  auto& c = e.ingest;
  auto id = core::CameraId::parse(cam.requireString("id"));
  if (!id) cam.fail("id", id.error().message);
  c.id = id.value();
  c.name = cam.getString("name", c.id.str());
  e.enabled = cam.getBool("enabled", true);
  e.retention = cam.getDuration("retention", e.retention);
  if (e.retention < 0s) cam.fail("retention", "must not be negative");
  e.ptz = cam.getBool("ptz", false);
  auto div = core::DivisionCode::parse(cam.requireString("division"));
  if (!div) cam.fail("division", div.error().message);
  c.division = div.value();
  if (!gw.division.contains(c.division)) {
    cam.fail("division", "camera division " + c.division.str() +
                             " is outside the gateway's division " + gw.division.str());
  }
  const auto transport = readTransport(cam, d.transport);
  const bool tcpJitterBuffer = cam.getBool("tcp_jitter_buffer", d.tcpJitterBuffer);
  const ReaderChoice choice = readReader(cam, d.reader);
  if (choice == ReaderChoice::kNative && transport == ingest::Transport::kUdp) {
    cam.fail(cam.has("reader") ? "reader" : "transport",
             "the native reader reads RTSP over TCP only; use transport: tcp or reader: rtspsrc "
             "(or auto)");
  }
  const Reader reader = choice == ReaderChoice::kRtspsrc || (choice == ReaderChoice::kAuto &&
                                                             transport == ingest::Transport::kUdp)
                            ? Reader::kRtspsrc
                            : Reader::kNative;
  std::string user, password;
  if (auto creds = cam.optionalMap("credentials")) readCredentials(*creds, user, password);
  // What the main and sub URLs share: how they are pulled and with which login.
  const auto pullAs = [&](ingest::StreamSource& s) {
    s.username = user;
    s.password = password;
    s.jitterBufferOverTcp = tcpJitterBuffer;
    s.reader = reader;
  };

  if (cam.has("onvif")) {
    if (cam.has("main")) cam.fail("main", "give either main/sub URLs or onvif, not both");
    const YamlMap o = cam.map("onvif");
    o.allowOnly({"address"});
    OnvifSource src;
    src.address = o.requireString("address");
    if (!src.address.starts_with("http://") && !src.address.starts_with("https://")) {
      o.fail("address", "expected an http:// or https:// device service address");
    }
    src.username = user;
    src.password = password;
    e.onvif = src;
    // The stream URIs come from the camera later; how to pull them is decided here.
    c.main.transport = transport;
    c.main.jitterBufferOverTcp = tcpJitterBuffer;
    c.main.reader = reader;
  } else {
    if (!cam.has("main")) cam.fail("main", "required key is missing (or give onvif)");
    c.main = readStream(cam, "main", transport);
    pullAs(c.main);
    if (cam.has("sub")) {
      auto sub = readStream(cam, "sub", transport);
      pullAs(sub);
      c.sub = sub;
    }
  }
  c.recording = d.recording;
  c.recording.directory = recordingDir;
  if (auto r = cam.optionalMap("recording")) readRecording(*r, c.recording);
  c.health = d.health;
  if (auto h = cam.optionalMap("health")) readHealth(*h, c.health);
  c.analytics = d.feed;
  if (auto f = cam.optionalMap("feed")) readFeed(*f, c.analytics);
  if (cam.has("analytics")) {
    e.analytics = cam.node("analytics");
    e.analyticsPath = cam.childPath("analytics");
  }
  return e;
}

// `defaults:` of the config file (kept in GatewayConfig so that cameras added later through the
// API get the same defaults as the file's own).
Defaults readDefaults(const GatewayConfig& cfg) {
  Defaults d;
  if (!cfg.defaults.IsDefined() || cfg.defaults.IsNull()) return d;
  const YamlMap defaults(cfg.defaults, cfg.file, "defaults");
  defaults.allowOnly(
      {"transport", "tcp_jitter_buffer", "reader", "recording", "health", "feed", "analytics"});
  d.transport = readTransport(defaults, d.transport);
  d.tcpJitterBuffer = defaults.getBool("tcp_jitter_buffer", d.tcpJitterBuffer);
  d.reader = readReader(defaults, d.reader);
  if (auto r = defaults.optionalMap("recording")) readRecording(*r, d.recording);
  if (auto h = defaults.optionalMap("health")) readHealth(*h, d.health);
  if (auto f = defaults.optionalMap("feed")) readFeed(*f, d.feed);
  return d;
}

// One camera with its analytics, as the config file and the API both give it.
CameraEntry readFullCamera(const YamlMap& cam, const Defaults& d, const GatewayConfig& cfg) {
  auto entry = readCamera(cam, d, cfg, cfg.recordingDir());
  // The analytics section is read here so that a bad rule fails at start with its line.
  auto ac = readCameraAnalytics(entry.analytics, cam.file(), cam.childPath("analytics"),
                                entry.ingest.id, entry.ingest.division, cfg.analyticsDefaults);
  if (ac.enabled && !ac.rules.empty()) {
    // Rules that look at pictures need the decoded feed; signal loss alone does not.
    const bool needsFrames = std::any_of(ac.rules.begin(), ac.rules.end(), [](const auto& r) {
      return r.enabled && r.type != analytics::RuleType::kSignalLoss;
    });
    if (needsFrames && !cam.optionalMap("feed").has_value()) entry.ingest.analytics.enabled = true;
    entry.analyticsConfig = std::move(ac);
  }
  return entry;
}

GatewayConfig parseRoot(const YAML::Node& root, const std::string& file) {
  const YamlMap top(root, file, "");
  top.allowOnly({"gateway", "defaults", "cameras", "bus", "storage", "api"});
  GatewayConfig cfg;
  cfg.file = file;

  const YamlMap gw = top.map("gateway");
  gw.allowOnly({"id", "division", "data_dir", "http", "ingest_threads", "max_connecting"});
  cfg.id = gw.requireString("id");
  if (!core::CameraId::parse(cfg.id))
    gw.fail("id", "may contain only letters, digits, '-' and '_'");
  auto div = core::DivisionCode::parse(gw.requireString("division"));
  if (!div) gw.fail("division", div.error().message);
  cfg.division = div.value();
  cfg.dataDir = gw.getString("data_dir", cfg.dataDir);
  if (cfg.dataDir.empty()) gw.fail("data_dir", "must not be empty");
  cfg.ingestThreads = static_cast<int>(gw.getInt("ingest_threads", cfg.ingestThreads, 1, 64));
  cfg.maxConnecting = static_cast<int>(gw.getInt("max_connecting", cfg.maxConnecting, 0, 10000));
  if (auto http = gw.optionalMap("http")) {
    http->allowOnly({"address", "port"});
    cfg.http.address = http->getString("address", cfg.http.address);
    cfg.http.port = static_cast<uint16_t>(http->getInt("port", cfg.http.port, 0, 65535));
  }

  if (top.has("defaults")) cfg.defaults = top.node("defaults");
  const Defaults d = readDefaults(cfg);
  if (auto defaults = top.optionalMap("defaults"); defaults && defaults->has("analytics")) {
    cfg.analyticsDefaults = defaults->node("analytics");
  }

  const auto cams = top.sequence("cameras");
  std::set<std::string> ids;
  for (size_t i = 0; i < cams.size(); ++i) {
    const YamlMap cam(cams[i], file, "cameras[" + std::to_string(i) + "]");
    auto entry = readFullCamera(cam, d, cfg);
    if (!ids.insert(entry.ingest.id.str()).second) {
      cam.fail("id", "duplicate camera id '" + entry.ingest.id.str() + "'");
    }
    cfg.cameras.push_back(std::move(entry));
  }
  if (top.has("bus")) cfg.bus = top.node("bus");
  cfg.busConfig = parseBusConfig(cfg.bus, file, cfg.id, cfg.dataDir);
  if (auto s = top.optionalMap("storage")) readStorage(*s, cfg.storage);
  if (auto a = top.optionalMap("api")) readApi(*a, cfg.api);
  return cfg;
}

}  // namespace

GatewayConfig parseGatewayConfig(const std::string& text, const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(file + ":" + std::to_string(e.mark.line + 1) + ":" +
                      std::to_string(e.mark.column + 1) + ": YAML syntax error: " + e.msg);
  }
  return parseRoot(root, file);
}

CameraEntry parseCameraEntry(const YAML::Node& node, const GatewayConfig& gateway,
                             const std::string& file, const std::string& path) {
  const Defaults d = readDefaults(gateway);
  const YamlMap cam(node, file, path);
  return readFullCamera(cam, d, gateway);
}

GatewayConfig loadGatewayConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot open config file");
  std::stringstream ss;
  ss << in.rdbuf();
  return parseGatewayConfig(ss.str(), path);
}

}  // namespace sharpeyes::app
