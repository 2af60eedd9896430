#pragma once
// Camera events (ONVIF pull point) as core::Event, beside our own analytics.
//
// Type mapping (eventTypeForTopic, case-insensitive on the topic path):
//   topic contains "Motion"                        -> kMotion   e.g. tns1:VideoSource/MotionAlarm
//                                                     (State), tns1:RuleEngine/CellMotionDetector/
//                                                     Motion (IsMotion; Hikvision, Dahua)
//   "Tamper", "GlobalSceneChange" or "ImageToo"    -> kTamper   e.g.
//   tns1:RuleEngine/TamperDetector/
//                                                     Tamper (IsTamper), tns1:VideoSource/
//                                                     GlobalSceneChange/ImagingService (State),
//                                                     tns1:VideoSource/ImageTooDark/...
//   anything else                                  -> kCameraEvent (digital inputs, ...)
// Property events (a data item State/IsMotion/IsTamper/LogicalState/Value/Alarm/Active that is
// true/false, 1/0) become a start and an end sharing one id; "Deleted" ends the event too. Other
// notifications become an instant event (start with end = start). Every event carries
// attributes origin=camera, topic, source.<item>, data.<item>; rule = "onvif:<topic>".
// Times are on our clock: the device's UtcTime minus its clock offset (DeviceClient::syncClock);
// a time still more than 5 minutes from receipt (a device clock that is plainly wrong) is
// replaced by the receipt time, with attribute time=received.

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
  // `deviceClockOffset`: device clock - our clock (DeviceClient::clockOffset()).
  std::optional<core::Event> map(const Notification& n, core::WallTime receivedAt,
                                 core::Duration deviceClockOffset = {});
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
