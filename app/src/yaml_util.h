#pragma once
// Strict YAML reading for configuration: every error names the file, line, column and key;
// unknown keys are errors. Throws ConfigError (start-up only; see STYLE.md).

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sharpeyes::app {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A YAML mapping being read; tracks the path ("cameras[2].analytics.zones[0]") for messages.
class YamlMap {
 public:
  YamlMap(const YAML::Node& node, std::string file, std::string path);

  // Fails on any key not in `allowed`.
  void allowOnly(std::initializer_list<std::string_view> allowed) const;
  bool has(const std::string& key) const;

  std::string requireString(const std::string& key) const;
  std::string getString(const std::string& key, const std::string& fallback) const;
  int64_t getInt(const std::string& key, int64_t fallback, int64_t min, int64_t max) const;
  double getDouble(const std::string& key, double fallback, double min, double max) const;
  bool getBool(const std::string& key, bool fallback) const;
  // "10s", "500ms", "2m", "1h", "3d" or a plain number of seconds.
  std::chrono::nanoseconds getDuration(const std::string& key,
                                       std::chrono::nanoseconds fallback) const;
  YamlMap map(const std::string& key) const;  // a required nested mapping
  std::optional<YamlMap> optionalMap(const std::string& key) const;
  YAML::Node node(const std::string& key) const;  // raw child (may be undefined)
  // A sequence child; each element's path is key[i].
  std::vector<YAML::Node> sequence(const std::string& key) const;

  // Throws ConfigError "file:line:col: path.key: message".
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;
  [[noreturn]] static void failAt(const YAML::Node& node, const std::string& file,
                                  const std::string& path, const std::string& message);

  const YAML::Node& raw() const { return node_; }
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }
  std::string childPath(const std::string& key) const;

 private:
  YAML::Node node_;
  std::string file_;
  std::string path_;
};

}  // namespace sharpeyes::app
