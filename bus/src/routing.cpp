#include "sharpeyes/bus/routing.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace sharpeyes::bus {

using core::DivisionLevel;

RoutingPolicy::RoutingPolicy()
    : bySeverity_{DivisionLevel::kVillage, DivisionLevel::kTownship, DivisionLevel::kCounty,
                  DivisionLevel::kCity} {}

namespace {

core::Error yamlError(std::string_view file, const YAML::Node& node, const std::string& key,
                      const std::string& msg) {
  const auto mark = node.Mark();
  return core::makeError(core::ErrorCode::kInvalidArgument,
                         std::string(file) + ":" + std::to_string(mark.line + 1) + ":" +
                             std::to_string(mark.column + 1) + ": " + key + ": " + msg);
}

// Only the four cascade levels may be named; a province has no centre in this system.
std::optional<DivisionLevel> cascadeLevel(const std::string& text) {
  auto level = core::parseDivisionLevel(text);
  if (!level || *level == DivisionLevel::kProvince) return std::nullopt;
  return *level;
}

}  // namespace

core::Result<RoutingPolicy> RoutingPolicy::parse(std::string_view text, std::string_view file) {
  RoutingPolicy policy;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return core::makeError(
        core::ErrorCode::kInvalidArgument,
        std::string(file) + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (root.IsNull()) return policy;
  if (!root.IsMap()) return yamlError(file, root, "(root)", "must be a mapping");
  try {
    for (const auto& kv : root) {
      const std::string key = kv.first.as<std::string>();
      if (key != "version" && key != "severity" && key != "rules") {
        return yamlError(file, kv.first, key, "unknown key (allowed: version, severity, rules)");
      }
    }
    if (root["version"] && root["version"].as<std::string>() != "1") {
      return yamlError(file, root["version"], "version", "only version 1 is understood");
    }
    if (const auto sev = root["severity"]) {
      if (!sev.IsMap()) return yamlError(file, sev, "severity", "must map 1..4 to a level");
      for (const auto& kv : sev) {
        int s = 0;
        try {
          s = kv.first.as<int>();
        } catch (const YAML::Exception&) {
          s = 0;
        }
        if (s < core::kMinSeverity || s > core::kMaxSeverity) {
          return yamlError(file, kv.first, "severity", "keys must be severities 1..4");
        }
        auto level = cascadeLevel(kv.second.as<std::string>());
        if (!level) {
          return yamlError(file, kv.second, "severity." + std::to_string(s),
                           "level must be village, township, county or city");
        }
        policy.bySeverity_[s - 1] = *level;
      }
    }
    if (const auto rules = root["rules"]) {
      if (!rules.IsSequence()) return yamlError(file, rules, "rules", "must be a list");
      for (size_t i = 0; i < rules.size(); ++i) {
        const auto r = rules[i];
        const std::string path = "rules[" + std::to_string(i) + "]";
        if (!r.IsMap()) return yamlError(file, r, path, "must be a mapping");
        RoutingRule rule;
        bool haveLevel = false;
        for (const auto& kv : r) {
          const std::string key = kv.first.as<std::string>();
          if (key == "type") {
            auto type = core::parseEventType(kv.second.as<std::string>());
            if (!type) return yamlError(file, kv.second, path + ".type", "unknown event type");
            rule.type = *type;
          } else if (key == "severity") {
            int s = 0;
            try {
              s = kv.second.as<int>();
            } catch (const YAML::Exception&) {
              s = 0;
            }
            if (s < core::kMinSeverity || s > core::kMaxSeverity) {
              return yamlError(file, kv.second, path + ".severity", "must be 1..4");
            }
            rule.severity = s;
          } else if (key == "level") {
            auto level = cascadeLevel(kv.second.as<std::string>());
            if (!level) {
              return yamlError(file, kv.second, path + ".level",
                               "must be village, township, county or city");
            }
            rule.highest = *level;
            haveLevel = true;
          } else {
            std::string where = path;
            where += '.';
            where += key;
            return yamlError(file, kv.first, where, "unknown key (allowed: type, severity, level)");
          }
        }
        if (!haveLevel) return yamlError(file, r, path + ".level", "required");
        policy.rules_.push_back(rule);
      }
    }
  } catch (const YAML::Exception& e) {
    return core::makeError(
        core::ErrorCode::kInvalidArgument,
        std::string(file) + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return policy;
}

core::Result<RoutingPolicy> RoutingPolicy::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return core::makeError(core::ErrorCode::kNotFound, "cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path);
}

DivisionLevel RoutingPolicy::highestLevel(const core::Event& event) const {
  for (const auto& rule : rules_) {
    if (rule.type && *rule.type != event.type) continue;
    if (rule.severity && *rule.severity != event.severity) continue;
    return rule.highest;
  }
  const int s = std::clamp(event.severity, core::kMinSeverity, core::kMaxSeverity);
  return bySeverity_[s - 1];
}

bool RoutingPolicy::mustForward(const core::Event& event, DivisionLevel centreLevel) const {
  // Lower levels have larger enum values: a village centre (5) passes on a county matter (3).
  return static_cast<int>(centreLevel) > static_cast<int>(highestLevel(event));
}

std::string alertTopic(const core::DivisionCode& division) {
  return "a/" + division.str();
}

std::string subscriptionTopic(const core::DivisionCode& division) {
  return "a/" + std::string(division.prefix());
}

}  // namespace sharpeyes::bus
