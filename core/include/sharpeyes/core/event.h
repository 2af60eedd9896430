#pragma once
// Event: what analytics (or a camera, or the gateway itself) reports. Events have a life cycle:
// a start, zero or more updates, an end; all phases of one event share its id.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sharpeyes/core/camera_id.h"
#include "sharpeyes/core/division.h"
#include "sharpeyes/core/result.h"
#include "sharpeyes/core/time.h"

namespace sharpeyes::core {

enum class EventType {
  kMotion,
  kIntrusion,    // entered an electronic fence (zone)
  kTripwire,     // crossed a line
  kLoitering,    // stayed in a zone longer than allowed
  kCrowd,        // too many objects in a zone
  kTamper,       // lens covered, defocused, moved, frozen
  kSignalLoss,   // from ingest health: no video
  kCameraEvent,  // reported by the camera itself (ONVIF)
  kStorageFull,  // gateway's own disk
  kOther,
};
std::string_view toString(EventType type);  // "motion", "intrusion", ...
Result<EventType> parseEventType(std::string_view text);

enum class EventPhase { kStart, kUpdate, kEnd };
std::string_view toString(EventPhase phase);
Result<EventPhase> parseEventPhase(std::string_view text);

// Severity 1..4: the level that must see the event: village, township, county, city.
inline constexpr int kMinSeverity = 1;
inline constexpr int kMaxSeverity = 4;

// Normalised to the frame: 0..1 on both axes, so it survives a resolution change.
struct BoundingBox {
  float x = 0, y = 0, w = 0, h = 0;
  bool operator==(const BoundingBox&) const = default;
};

struct Event {
  std::string id;  // newId()
  EventPhase phase = EventPhase::kStart;
  CameraId camera;
  DivisionCode division;
  std::string rule;  // the configured rule's name
  EventType type = EventType::kOther;
  int severity = kMinSeverity;
  std::string objectClass;  // "person", "vehicle", "" when unknown
  int64_t trackId = -1;
  BoundingBox box;
  std::string zone;
  WallTime start{};
  std::optional<WallTime> end;
  Duration mediaTime{};      // stream timestamp of the frame that started it
  std::string snapshotPath;  // annotated JPEG, relative to the storage root; may be empty
  WallTime clipStart{};      // start - pre-roll
  WallTime clipEnd{};        // end (or start) + post-roll
  std::map<std::string, std::string> attributes;  // rule specifics: "direction": "A->B", ...
};

}  // namespace sharpeyes::core
