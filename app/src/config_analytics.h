#pragma once
// Reads a camera's `analytics:` YAML section into analytics::CameraAnalyticsConfig.
// Schema and an example: docs/analytics.md. Start-up only: every error throws ConfigError naming
// file, line, column and key (yaml_util.h); the result has passed analytics::validate().

#include <yaml-cpp/yaml.h>

#include <string>

#include "sharpeyes/analytics/config.h"
#include "sharpeyes/core/camera_id.h"
#include "sharpeyes/core/division.h"
#include "yaml_util.h"

namespace sharpeyes::app {

// `defaults` is the `defaults.analytics` section (may be undefined/null): it is read first, then
// the camera's section on top of it — scalars override, zones and rules with the same name
// replace the default's, others are added (so a default tamper + signal_loss rule applies to
// every camera). `section` may be undefined: the camera then gets the defaults only.
analytics::CameraAnalyticsConfig readCameraAnalytics(
    const YAML::Node& section, const std::string& file, const std::string& path,
    const core::CameraId& camera, const core::DivisionCode& division,
    const YAML::Node& defaults = YAML::Node(),
    const std::string& defaultsPath = "defaults.analytics");

}  // namespace sharpeyes::app
