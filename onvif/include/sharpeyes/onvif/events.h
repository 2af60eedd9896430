#pragma once
// Camera events (ONVIF pull point) as core::Event: motion and tamper topics map to kMotion and
// kTamper, everything else to kCameraEvent. Property events (State/IsMotion/IsTamper = true/false)
// become a start and an end sharing one id; other notifications become a start with end = start.

#include <map>
#include <optional>
#include <string>

#include "sharpeyes/core/camera_id.h"
#include "sharpeyes/core/division.h"
#include "sharpeyes/core/event.h"
#include "sharpeyes/onvif/client.h"

namespace sharpeyes::onvif {

// Keeps the open events of one camera. Not thread-safe: one per subscription.
class EventMapper {
 public:
  EventMapper(core::CameraId camera, core::DivisionCode division, int severity = core::kMinSeverity)
      : camera_(std::move(camera)), division_(std::move(division)), severity_(severity) {}

  // nullopt when the notification changes nothing (a repeated "true", a "false" for an event
  // that never started).
  std::optional<core::Event> map(const Notification& n, core::WallTime receivedAt);
  // Ends every open event (subscription lost): the gateway must not keep a motion open forever.
  std::vector<core::Event> closeAll(core::WallTime at);

 private:
  core::CameraId camera_;
  core::DivisionCode division_;
  int severity_;
  std::map<std::string, core::Event> open_;  // key: topic + source items
};

// The event type a topic maps to ("tns1:VideoSource/MotionAlarm" -> kMotion, ...).
core::EventType eventTypeForTopic(std::string_view topic);

}  // namespace sharpeyes::onvif
