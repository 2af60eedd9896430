#pragma once
// Cameras added through the HTTP API. A spec is turned into the config file's camera format (one
// element of `cameras:`), so that the config loader's own reader checks it: same keys, same
// checks, same defaults. The accepted cameras are kept in <data_dir>/cameras.api.yaml (written
// atomically) and read again at start; passwords given through the API go to 0600 files under
// <data_dir>/secrets/ that the YAML references (password_file), never into the YAML itself.
//
// Threads: free functions, no shared state; the gateway serialises camera changes.

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "config.h"
#include "sharpeyes/api/backend.h"
#include "sharpeyes/core/result.h"

namespace sharpeyes::app {

// The camera's YAML (config-file format) for an API spec, plus the secret file written for it.
struct PreparedCamera {
  YAML::Node yaml;
  std::string newSecretFile;  // "" when the spec carried no password
};

// `previous`: the camera's current YAML on an edit (its credentials are kept when the spec gives
// none), null on an add. A password is written to a new 0600 file in `secretsDir`.
// kInvalidArgument names the API field that is wrong.
core::Result<PreparedCamera> prepareCamera(const api::CameraSpec& spec, const YAML::Node* previous,
                                           const std::string& secretsDir);

// A config reader's message about a camera read from "request" ("request: main: expected an
// rtsp:// URL") in the API's field names ("main_url: expected an rtsp:// URL").
std::string apiFieldMessage(const std::string& configError);

// The secret file that `camera` (its YAML) references inside `secretsDir`; "" when none.
std::string ownedSecretFile(const YAML::Node& camera, const std::string& secretsDir);

// <data_dir>/cameras.api.yaml: `cameras:` as in the config file.
class ApiCameraFile {
 public:
  explicit ApiCameraFile(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }
  // The elements of `cameras:`; empty when the file does not exist. Nodes keep their marks, so
  // the config reader's messages name this file's lines. kCorrupt when the file cannot be read or
  // is not `cameras:` with a list ("FILE:line:column: key: message" where the YAML has a place).
  core::Result<std::vector<YAML::Node>> load() const;
  // Temp file, fsync, rename over the old one, fsync the directory: after a crash the file is
  // the old or the new list, never a torn one.
  core::Result<void> save(const std::vector<YAML::Node>& cameras) const;

 private:
  std::string path_;
};

// The cameras of `file` read with the config file's reader, in order, as the gateway reads them at
// start and as `gateway --check` checks them: the gateway's defaults and division apply, each
// entry has fromApi and source set. Ids are not checked against each other or the config file's
// (the config file wins at start). The first wrong entry: kInvalidArgument
// "FILE:line:column: cameras[i].key: message", like loadGatewayConfig's ConfigError.
core::Result<std::vector<CameraEntry>> readApiCameras(const ApiCameraFile& file,
                                                      const GatewayConfig& gateway);

// Which of `api` (readApiCameras) the gateway does not use: an entry whose id the config file's
// `configured` cameras or an earlier entry already define (the first definition wins, the config
// file's before the API's). One flag per entry of `api`.
std::vector<bool> shadowedApiCameras(const std::vector<CameraEntry>& configured,
                                     const std::vector<CameraEntry>& api);

}  // namespace sharpeyes::app
