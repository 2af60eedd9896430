#pragma once
// Routing on the cascade village -> township -> county -> city
// ("小事不出村、大事不出乡、难事不出县"). A policy maps an event's type and severity to the highest
// level that must receive it; a centre at a level below that passes the event to its upstream, a
// centre at or above it keeps it. Topics are built on division codes so that a prefix subscription
// receives exactly one subtree.
//
// Immutable after construction: safe to share between threads.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sharpeyes/core/division.h"
#include "sharpeyes/core/event.h"
#include "sharpeyes/core/result.h"

namespace sharpeyes::bus {

struct RoutingRule {
  std::optional<core::EventType> type;  // any type when empty
  std::optional<int> severity;          // any severity when empty
  core::DivisionLevel highest = core::DivisionLevel::kVillage;
};

class RoutingPolicy {
 public:
  // Severity 1..4 -> village, township, county, city; no per-type rules.
  RoutingPolicy();

  // YAML text (see docs/bus-protocol.md "Routing policy"); unknown keys, bad levels, bad types
  // and out-of-range severities are errors naming file, line and key.
  static core::Result<RoutingPolicy> parse(std::string_view yamlText, std::string_view file);
  static core::Result<RoutingPolicy> load(const std::string& path);

  // The highest level that must receive the event: the first matching rule, else the severity
  // default (severities outside 1..4 are clamped).
  core::DivisionLevel highestLevel(const core::Event& event) const;
  // True when a centre at `centreLevel` must not keep the event to itself.
  bool mustForward(const core::Event& event, core::DivisionLevel centreLevel) const;

  const std::vector<RoutingRule>& rules() const { return rules_; }

 private:
  core::DivisionLevel bySeverity_[4];
  std::vector<RoutingRule> rules_;
};

// "a/510603101201": the topic an alert of that division is published on.
std::string alertTopic(const core::DivisionCode& division);
// "a/510603101": subscribing to it yields that division's whole subtree and nothing else.
std::string subscriptionTopic(const core::DivisionCode& division);
// The heartbeat topic a centre publishes on; it never collides with an alert topic.
inline constexpr std::string_view kHeartbeatTopic = "hb";

}  // namespace sharpeyes::bus
