#pragma once
// The gateway's configuration: YAML into typed structs. Every error names file, line, column and
// key; unknown keys are errors (see yaml_util.h). Start-up only: throws ConfigError.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sharpeyes/analytics/config.h"
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
};

struct HttpConfig {
  std::string address = "127.0.0.1";
  uint16_t port = 8080;
};

struct GatewayConfig {
  std::string file;  // where it was read from
  std::string id;
  core::DivisionCode division;
  std::string dataDir = "var";  // recordings in <dataDir>/recordings, index in <dataDir>/index.db
  HttpConfig http;
  int ingestThreads = 2;
  std::vector<CameraEntry> cameras;
  YAML::Node bus;  // optional `bus:` section for the bus module's reader
  YAML::Node analyticsDefaults;

  std::string recordingDir() const { return dataDir + "/recordings"; }
  std::string indexPath() const { return dataDir + "/index.db"; }
};

// Reads and validates a gateway config file. `env` lookups (password_env) use getenv.
GatewayConfig loadGatewayConfig(const std::string& path);
// The same from text (for tests); `file` names it in messages.
GatewayConfig parseGatewayConfig(const std::string& text, const std::string& file);

}  // namespace sharpeyes::app
