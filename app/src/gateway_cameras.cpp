#include "gateway_cameras.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "sharpeyes/core/util.h"

namespace sharpeyes::app {

namespace fs = std::filesystem;
using core::ErrorCode;
using core::makeError;
using nlohmann::json;

namespace {

core::Error errnoError(const std::string& what) {
  return makeError(ErrorCode::kIo, what + ": " + std::strerror(errno));
}

core::Result<void> fsyncFd(int fd, const std::string& what) {
  if (::fsync(fd) != 0) return errnoError("fsync " + what);
  return core::okResult();
}

core::Result<void> fsyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errnoError("open " + dir);
  auto r = fsyncFd(fd, dir);
  ::close(fd);
  return r;
}

// Writes `data` to a new file `path` (which must not exist) with `mode`, and fsyncs it.
core::Result<void> writeNewFile(const std::string& path, std::string_view data, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return errnoError("create " + path);
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      auto e = errnoError("write " + path);
      ::close(fd);
      ::unlink(path.c_str());
      return e;
    }
    done += static_cast<size_t>(n);
  }
  auto synced = fsyncFd(fd, path);
  ::close(fd);
  if (!synced) {
    ::unlink(path.c_str());
    return synced.error();
  }
  return core::okResult();
}

YAML::Node toYaml(const json& j) {
  switch (j.type()) {
    case json::value_t::object: {
      YAML::Node n(YAML::NodeType::Map);
      for (const auto& [k, v] : j.items()) n[k] = toYaml(v);
      return n;
    }
    case json::value_t::array: {
      YAML::Node n(YAML::NodeType::Sequence);
      for (const auto& v : j) n.push_back(toYaml(v));
      return n;
    }
    case json::value_t::string: return YAML::Node(j.get<std::string>());
    case json::value_t::boolean: return YAML::Node(j.get<bool>() ? "true" : "false");
    case json::value_t::null: return YAML::Node(YAML::NodeType::Null);
    default: return YAML::Node(j.dump());  // numbers, as JSON writes them
  }
}

core::Error badField(const std::string& field, const std::string& message) {
  return makeError(ErrorCode::kInvalidArgument, field + ": " + message);
}

}  // namespace

core::Result<PreparedCamera> prepareCamera(const api::CameraSpec& spec, const YAML::Node* previous,
                                           const std::string& secretsDir) {
  YAML::Node y(YAML::NodeType::Map);
  y["id"] = spec.id.str();
  if (!spec.name.empty()) y["name"] = spec.name;
  y["division"] = spec.division.str();
  if (!spec.mainUrl.empty()) y["main"] = spec.mainUrl;
  if (!spec.subUrl.empty()) y["sub"] = spec.subUrl;
  if (!spec.enabled) y["enabled"] = false;
  if (spec.ptz) y["ptz"] = true;
  if (!spec.settingsJson.empty()) {
    const json settings = json::parse(spec.settingsJson, nullptr, false);
    if (settings.is_discarded() || !settings.is_object()) {
      return makeError(ErrorCode::kInvalidArgument, "camera settings must be a JSON object");
    }
    for (const auto& [key, value] : settings.items()) y[key] = toYaml(value);
  }

  PreparedCamera out;
  const bool givesSecret = !spec.password.empty() || !spec.credentialRef.empty();
  if (givesSecret && spec.username.empty()) {
    return badField("username", "required with password or credential_ref");
  }
  if (!spec.password.empty() && !spec.credentialRef.empty()) {
    return badField("password", "give either password or credential_ref, not both");
  }
  if (!spec.username.empty()) {
    YAML::Node creds(YAML::NodeType::Map);
    creds["username"] = spec.username;
    if (!spec.credentialRef.empty()) {
      if (spec.credentialRef.starts_with("env:") && spec.credentialRef.size() > 4) {
        creds["password_env"] = spec.credentialRef.substr(4);
      } else if (spec.credentialRef.starts_with("file:/")) {
        creds["password_file"] = spec.credentialRef.substr(5);
      } else {
        return badField("credential_ref", "expected env:NAME or file:/absolute/path");
      }
    } else if (!spec.password.empty()) {
      if (spec.password.find_first_of("\r\n") != std::string::npos) {
        return badField("password", "must be a single line");
      }
      std::error_code ec;
      fs::create_directories(secretsDir, ec);
      if (ec) return makeError(ErrorCode::kIo, "cannot create " + secretsDir + ": " + ec.message());
      ::chmod(secretsDir.c_str(), 0700);
      // A new file per change: the running camera's file stays intact until the change is
      // committed, and a failed change leaves nothing behind but this file (removed by the caller).
      const std::string file =
          (fs::path(secretsDir) / (spec.id.str() + "-" + core::newId().substr(0, 12) + ".password"))
              .string();
      if (auto r = writeNewFile(file, spec.password, 0600); !r) return r.error();
      if (auto r = fsyncDir(secretsDir); !r) {
        ::unlink(file.c_str());
        return r.error();
      }
      creds["password_file"] = file;
      out.newSecretFile = file;
    }
    y["credentials"] = creds;
  } else if (previous != nullptr && (*previous)["credentials"]) {
    // An edit that says nothing about credentials keeps the camera's login.
    y["credentials"] = YAML::Clone((*previous)["credentials"]);
  }
  out.yaml = y;
  return out;
}

std::string apiFieldMessage(const std::string& configError) {
  std::string m = configError;
  // "request: key: message" or, for a node with a position, "request:L:C: key: message".
  if (m.starts_with("request")) {
    const auto sep = m.find(": ");
    if (sep != std::string::npos) m = m.substr(sep + 2);
  }
  static const std::pair<std::string_view, std::string_view> kNames[] = {
      {"credentials.password_file", "credential_ref"},
      {"credentials.password_env", "credential_ref"},
      {"credentials.username", "username"},
      {"credentials", "credential_ref"},
      {"main", "main_url"},
      {"sub", "sub_url"},
  };
  for (const auto& [yamlKey, apiKey] : kNames) {
    if (m.starts_with(yamlKey) &&
        (m.size() == yamlKey.size() || m[yamlKey.size()] == ':' || m[yamlKey.size()] == '.')) {
      return std::string(apiKey) + m.substr(yamlKey.size());
    }
  }
  return m;
}

std::string ownedSecretFile(const YAML::Node& camera, const std::string& secretsDir) {
  const YAML::Node creds = camera["credentials"];
  if (!creds || !creds.IsMap()) return "";
  const YAML::Node file = creds["password_file"];
  if (!file || !file.IsScalar()) return "";
  const fs::path p = fs::path(file.Scalar()).lexically_normal();
  return p.parent_path() == fs::path(secretsDir).lexically_normal() ? p.string() : "";
}

core::Result<std::vector<YAML::Node>> ApiCameraFile::load() const {
  std::error_code ec;
  if (!fs::exists(path_, ec)) return std::vector<YAML::Node>{};
  YAML::Node root;
  try {
    root = YAML::LoadFile(path_);
  } catch (const YAML::BadFile&) {
    return makeError(ErrorCode::kCorrupt, path_ + ": cannot read the file");
  } catch (const YAML::Exception& e) {
    return makeError(ErrorCode::kCorrupt, path_ + ":" + std::to_string(e.mark.line + 1) + ":" +
                                              std::to_string(e.mark.column + 1) +
                                              ": YAML syntax error: " + e.msg);
  }
  if (root.IsNull()) return std::vector<YAML::Node>{};
  try {
    // The config reader's checks, so that a hand-edited mistake is named like one in the config
    // file: place, key, what is wrong.
    const YamlMap top(root, path_, "");
    top.allowOnly({"cameras"});
    return top.sequence("cameras");
  } catch (const ConfigError& e) {
    return makeError(ErrorCode::kCorrupt, e.what());
  }
}

core::Result<void> ApiCameraFile::save(const std::vector<YAML::Node>& cameras) const {
  YAML::Emitter em;
  em << YAML::Comment(
            "Cameras added through the HTTP API; written by the gateway (same keys as `cameras:` "
            "in the config file). Read at start; the config file wins on a duplicate id.")
     << YAML::Newline;
  YAML::Node root(YAML::NodeType::Map);
  YAML::Node seq(YAML::NodeType::Sequence);
  for (const auto& c : cameras) seq.push_back(c);
  root["cameras"] = seq;
  em << root;
  if (!em.good()) return makeError(ErrorCode::kInternal, "cannot write YAML: " + em.GetLastError());
  std::string text = em.c_str();
  text += "\n";

  const fs::path target(path_);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string tmp =
      (dir / ("." + target.filename().string() + ".tmp-" + core::newId())).string();
  if (auto r = writeNewFile(tmp, text, 0600); !r) return r;
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) {
    auto e = errnoError("rename " + tmp + " to " + path_);
    ::unlink(tmp.c_str());
    return e;
  }
  return fsyncDir(dir.string());
}

core::Result<std::vector<CameraEntry>> readApiCameras(const ApiCameraFile& file,
                                                      const GatewayConfig& gateway) {
  auto nodes = file.load();
  if (!nodes) return nodes.error();
  std::vector<CameraEntry> out;
  out.reserve(nodes->size());
  for (size_t i = 0; i < nodes->size(); ++i) {
    const YAML::Node& node = (*nodes)[i];
    try {
      out.push_back(
          parseCameraEntry(node, gateway, file.path(), "cameras[" + std::to_string(i) + "]"));
    } catch (const ConfigError& e) {
      return makeError(ErrorCode::kInvalidArgument, e.what());
    } catch (const YAML::Exception& e) {
      const YAML::Mark at = node.Mark();
      return makeError(ErrorCode::kInvalidArgument,
                       file.path() + ":" + std::to_string(at.line + 1) + ":" +
                           std::to_string(at.column + 1) + ": cameras[" + std::to_string(i) +
                           "]: " + e.msg);
    }
    out.back().fromApi = true;
    out.back().source = node;
  }
  return out;
}

std::vector<bool> shadowedApiCameras(const std::vector<CameraEntry>& configured,
                                     const std::vector<CameraEntry>& api) {
  std::set<std::string> ids;
  for (const auto& cam : configured) ids.insert(cam.ingest.id.str());
  std::vector<bool> out;
  out.reserve(api.size());
  for (const auto& cam : api) out.push_back(!ids.insert(cam.ingest.id.str()).second);
  return out;
}

}  // namespace sharpeyes::app
