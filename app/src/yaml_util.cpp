#include "yaml_util.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace sharpeyes::app {
namespace {

std::string location(const YAML::Node& node, const std::string& file) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return file;
  return file + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

}  // namespace

YamlMap::YamlMap(const YAML::Node& node, std::string file, std::string path)
    : node_(node), file_(std::move(file)), path_(std::move(path)) {
  if (!node_.IsMap()) {
    failAt(node_, file_, path_.empty() ? "(top level)" : path_,
           node_.IsNull() || !node_.IsDefined() ? "expected a mapping, found nothing"
                                                : "expected a mapping");
  }
}

std::string YamlMap::childPath(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

void YamlMap::failAt(const YAML::Node& node, const std::string& file, const std::string& path,
                     const std::string& message) {
  throw ConfigError(location(node, file) + ": " + path + ": " + message);
}

void YamlMap::fail(const std::string& key, const std::string& message) const {
  const YAML::Node child = node_[key];
  failAt(child.IsDefined() ? child : node_, file_, childPath(key), message);
}

void YamlMap::allowOnly(std::initializer_list<std::string_view> allowed) const {
  for (const auto& kv : node_) {
    const auto key = kv.first.as<std::string>();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string known;
      for (auto k : allowed) {
        if (!known.empty()) known += ", ";
        known += k;
      }
      failAt(kv.first, file_, childPath(key), "unknown key (known keys: " + known + ")");
    }
  }
}

bool YamlMap::has(const std::string& key) const {
  const YAML::Node child = node_[key];
  return child.IsDefined() && !child.IsNull();
}

YAML::Node YamlMap::node(const std::string& key) const {
  return node_[key];
}

std::string YamlMap::requireString(const std::string& key) const {
  if (!has(key)) failAt(node_, file_, childPath(key), "required key is missing");
  return getString(key, "");
}

std::string YamlMap::getString(const std::string& key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  const YAML::Node child = node_[key];
  if (!child.IsScalar()) fail(key, "expected a string");
  return child.Scalar();
}

int64_t YamlMap::getInt(const std::string& key, int64_t fallback, int64_t min, int64_t max) const {
  if (!has(key)) return fallback;
  const YAML::Node child = node_[key];
  const std::string& s = child.IsScalar() ? child.Scalar() : std::string();
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (!child.IsScalar() || s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
    fail(key, "expected an integer, got '" + s + "'");
  }
  if (value < min || value > max) {
    fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
                  std::to_string(value));
  }
  return value;
}

double YamlMap::getDouble(const std::string& key, double fallback, double min, double max) const {
  if (!has(key)) return fallback;
  const YAML::Node child = node_[key];
  double value = 0;
  try {
    if (!child.IsScalar()) throw YAML::Exception(child.Mark(), "not a scalar");
    value = child.as<double>();
  } catch (const YAML::Exception&) {
    fail(key, "expected a number");
  }
  if (!std::isfinite(value) || value < min || value > max) {
    fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  }
  return value;
}

bool YamlMap::getBool(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  const YAML::Node child = node_[key];
  try {
    if (!child.IsScalar()) throw YAML::Exception(child.Mark(), "not a scalar");
    return child.as<bool>();
  } catch (const YAML::Exception&) {
    fail(key, "expected true or false");
  }
}

std::chrono::nanoseconds YamlMap::getDuration(const std::string& key,
                                              std::chrono::nanoseconds fallback) const {
  if (!has(key)) return fallback;
  const YAML::Node child = node_[key];
  const std::string s = child.IsScalar() ? child.Scalar() : std::string();
  double number = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), number);
  if (!child.IsScalar() || s.empty() || ec != std::errc() || number < 0 || !std::isfinite(number)) {
    fail(key, "expected a duration such as 500ms, 10s, 5m, 2h or 30d, got '" + s + "'");
  }
  const std::string_view unit(ptr, s.data() + s.size() - ptr);
  double seconds = 0;
  if (unit.empty() || unit == "s") {
    seconds = number;
  } else if (unit == "ms") {
    seconds = number / 1000.0;
  } else if (unit == "m" || unit == "min") {
    seconds = number * 60;
  } else if (unit == "h") {
    seconds = number * 3600;
  } else if (unit == "d") {
    seconds = number * 86400;
  } else {
    fail(key, "unknown duration unit '" + std::string(unit) + "' (use ms, s, m, h or d)");
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(seconds * 1e9)));
}

YamlMap YamlMap::map(const std::string& key) const {
  if (!has(key)) failAt(node_, file_, childPath(key), "required section is missing");
  return YamlMap(node_[key], file_, childPath(key));
}

std::optional<YamlMap> YamlMap::optionalMap(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  return YamlMap(node_[key], file_, childPath(key));
}

std::vector<YAML::Node> YamlMap::sequence(const std::string& key) const {
  std::vector<YAML::Node> out;
  if (!has(key)) return out;
  const YAML::Node child = node_[key];
  if (!child.IsSequence()) fail(key, "expected a list");
  for (const auto& item : child) out.push_back(item);
  return out;
}

}  // namespace sharpeyes::app
