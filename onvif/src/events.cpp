#include "sharpeyes/onvif/events.h"

#include <algorithm>
#include <cctype>

#include "sharpeyes/core/util.h"

namespace sharpeyes::onvif {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The boolean state a property event carries, if any.
std::optional<bool> stateOf(const Notification& n) {
  static const char* kNames[] = {"state",        "ismotion", "istamper", "value",
                                 "logicalstate", "alarm",    "active"};
  for (const char* name : kNames) {
    for (const auto& [k, v] : n.data) {
      if (lower(k) != name) continue;
      const std::string value = lower(v);
      if (value == "true" || value == "1") return true;
      if (value == "false" || value == "0") return false;
    }
  }
  return std::nullopt;
}

}  // namespace

core::EventType eventTypeForTopic(std::string_view topic) {
  const std::string t = lower(topic);
  if (t.find("motion") != std::string::npos) return core::EventType::kMotion;
  if (t.find("tamper") != std::string::npos || t.find("globalscenechange") != std::string::npos ||
      t.find("imagetoo") != std::string::npos) {
    return core::EventType::kTamper;
  }
  return core::EventType::kCameraEvent;
}

std::optional<core::Event> EventMapper::map(const Notification& n, core::WallTime receivedAt,
                                            core::Duration deviceClockOffset) {
  std::string key = n.topic;
  for (const auto& [k, v] : n.source) {
    key += '|';
    key += k;
    key += '=';
    key += v;
  }
  std::optional<bool> state = stateOf(n);
  // The property is gone (e.g. a rule deleted): whatever it signalled is over.
  if (n.operation == "Deleted") state = false;
  // Our clock, so that camera events line up with recordings and our own analytics.
  constexpr auto kMaxSkew = std::chrono::minutes(5);
  core::WallTime at = receivedAt;
  bool timeFromDevice = false;
  if (auto t = core::parseIso8601(n.utcTime); t.ok()) {
    const core::WallTime local = *t - deviceClockOffset;
    if (local > receivedAt - kMaxSkew && local < receivedAt + kMaxSkew) {
      at = local;
      timeFromDevice = true;
    }
  }

  auto fill = [&](core::Event& e) {
    e.camera = camera_;
    e.division = division_;
    e.type = eventTypeForTopic(n.topic);
    e.rule = "onvif:" + n.topic;
    e.severity = severity_;
    e.attributes["origin"] = "camera";
    e.attributes["topic"] = n.topic;
    for (const auto& [k, v] : n.source) e.attributes["source." + k] = v;
    for (const auto& [k, v] : n.data) e.attributes["data." + k] = v;
    if (!timeFromDevice) e.attributes["time"] = "received";
  };

  if (!state) {
    // A one-off notification: an instant event.
    core::Event e;
    e.id = core::newId();
    fill(e);
    e.phase = core::EventPhase::kStart;
    e.start = at;
    e.end = at;
    e.clipStart = at;
    e.clipEnd = at;
    return e;
  }
  auto it = open_.find(key);
  if (*state) {
    if (it != open_.end()) return std::nullopt;  // still active
    core::Event e;
    e.id = core::newId();
    fill(e);
    e.phase = core::EventPhase::kStart;
    e.start = at;
    e.clipStart = at;
    e.clipEnd = at;
    open_.emplace(key, e);
    return e;
  }
  if (it == open_.end()) return std::nullopt;  // "false" for something never started
  core::Event e = it->second;
  open_.erase(it);
  fill(e);
  e.phase = core::EventPhase::kEnd;
  e.end = std::max(at, e.start);
  e.clipEnd = *e.end;
  return e;
}

std::vector<core::Event> EventMapper::closeAll(core::WallTime at) {
  std::vector<core::Event> out;
  for (auto& [key, e] : open_) {
    e.phase = core::EventPhase::kEnd;
    e.end = std::max(at, e.start);
    e.clipEnd = *e.end;
    e.attributes["closed"] = "subscription lost";
    out.push_back(e);
  }
  open_.clear();
  return out;
}

}  // namespace sharpeyes::onvif
