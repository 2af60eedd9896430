#pragma once
// The gateway's configuration: YAML into typed structs. Every error names file, line, column and
// key; unknown keys are errors (see yaml_util.h). Start-up only: throws ConfigError.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sharpeyes/analytics/config.h"
#include "sharpeyes/bus/publisher.h"
#include "sharpeyes/core/division.h"
#include "sharpeyes/ingest/ingest.h"
#include "yaml_util.h"

namespace sharpeyes::app {

struct OnvifSource {
  std::string address;  // http://host:port/onvif/device_service
  std::string username;
  std::string password;  // resolved from password_env / password_file; never logged
};

struct CameraEntry {
  ingest::CameraConfig ingest;
  bool enabled = true;               // false: validated, listed, not pulled
  std::optional<OnvifSource> onvif;  // streams resolved through ONVIF instead of fixed URLs
  YAML::Node
      analytics;  // the camera's `analytics:` section, parsed by the analytics module's reader
  std::string analyticsPath;  // "cameras[3].analytics", for messages
  // The camera's analytics (defaults.analytics merged with its own section); nullopt when it has
  // none or they are disabled.
  std::optional<analytics::CameraAnalyticsConfig> analyticsConfig;
  // Recordings older than this are deleted by retention (0: the storage default applies).
  core::Duration retention{0};
  bool ptz = false;  // offer PTZ controls (ONVIF cameras: from the device's PTZ service)
  // Added through the HTTP API (kept in <data_dir>/cameras.api.yaml), not from the config file.
  bool fromApi = false;
  YAML::Node source;  // the camera's YAML as given (what the API file stores)
};

struct HttpConfig {
  std::string address = "127.0.0.1";
  uint16_t port = 8080;
};

// `storage:` — retention and automatic event clips.
struct StorageSettings {
  core::Duration retention{std::chrono::hours(24 * 30)};  // default age limit; 0: none
  uint64_t quotaBytes = 0;  // 0: the file system's size is the capacity
  double highWatermark = 0.90;
  double lowWatermark = 0.80;
  core::Duration sweepInterval{std::chrono::seconds(60)};
  bool eventClips = true;   // cut a clip for each finished event (pre/post-roll from analytics)
  int minClipSeverity = 1;  // ... of at least this severity
  std::string signingKey;   // Ed25519 PEM for evidence; "" = <data_dir>/keys/evidence.pem
  // The index: "" = SQLite at <data_dir>/index.db; or a PostgreSQL URL / libpq conninfo (a
  // password belongs in ~/.pgpass or PGPASSWORD, not here).
  std::string database;
};

// `api:` — the HTTP API and the operators' page.
struct ApiSettings {
  std::string usersFile;  // "" = <data_dir>/users.json
  std::string tlsCert;    // both set: HTTPS
  std::string tlsKey;
  std::string webRoot;  // serve the page from this directory instead of the embedded one
  int threads = 4;
};

struct GatewayConfig {
  std::string file;  // where it was read from
  std::string id;
  core::DivisionCode division;
  std::string dataDir = "var";  // recordings in <dataDir>/recordings, index in <dataDir>/index.db
  HttpConfig http;
  int ingestThreads = 2;
  int maxConnecting = 16;  // ingest::IngestOptions::maxConnecting (0: no limit)
  std::vector<CameraEntry> cameras;
  YAML::Node bus;  // optional `bus:` section for the bus module's reader
  std::optional<bus::PublisherConfig> busConfig;  // parsed from `bus` at load
  StorageSettings storage;
  ApiSettings api;
  YAML::Node defaults;  // the `defaults:` section as given (cameras added later use it too)
  YAML::Node analyticsDefaults;

  std::string recordingDir() const { return dataDir + "/recordings"; }
  std::string indexPath() const {
    return storage.database.empty() ? dataDir + "/index.db" : storage.database;
  }
  std::string clipDir() const { return dataDir + "/clips"; }
  std::string usersPath() const {
    return api.usersFile.empty() ? dataDir + "/users.json" : api.usersFile;
  }
  // Cameras added through the HTTP API, in the config file's camera format.
  std::string apiCamerasPath() const { return dataDir + "/cameras.api.yaml"; }
  std::string secretsDir() const { return dataDir + "/secrets"; }
  std::string signingKeyPath() const {
    return storage.signingKey.empty() ? dataDir + "/keys/evidence.pem" : storage.signingKey;
  }
};

// Reads and validates a gateway config file. `env` lookups (password_env) use getenv.
GatewayConfig loadGatewayConfig(const std::string& path);
// The same from text (for tests); `file` names it in messages.
GatewayConfig parseGatewayConfig(const std::string& text, const std::string& file);
// One camera as an element of `cameras:` is read (same keys, same checks, the gateway's defaults
// and division), for cameras added after start. Does not check for duplicate ids. Throws
// ConfigError naming `file` and `path` (e.g. "cameras[2]").
CameraEntry parseCameraEntry(const YAML::Node& node, const GatewayConfig& gateway,
                             const std::string& file, const std::string& path);

}  // namespace sharpeyes::app
