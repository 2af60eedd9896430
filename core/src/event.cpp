#include "sharpeyes/core/event.h"

#include <array>
#include <utility>

namespace sharpeyes::core {
namespace {

constexpr std::array<std::pair<EventType, std::string_view>, 10> kTypeNames{{
    {EventType::kMotion, "motion"},
    {EventType::kIntrusion, "intrusion"},
    {EventType::kTripwire, "tripwire"},
    {EventType::kLoitering, "loitering"},
    {EventType::kCrowd, "crowd"},
    {EventType::kTamper, "tamper"},
    {EventType::kSignalLoss, "signal_loss"},
    {EventType::kCameraEvent, "camera_event"},
    {EventType::kStorageFull, "storage_full"},
    {EventType::kOther, "other"},
}};

constexpr std::array<std::pair<EventPhase, std::string_view>, 3> kPhaseNames{{
    {EventPhase::kStart, "start"},
    {EventPhase::kUpdate, "update"},
    {EventPhase::kEnd, "end"},
}};

}  // namespace

std::string_view toString(EventType type) {
  for (const auto& [t, name] : kTypeNames) {
    if (t == type) return name;
  }
  return "other";
}

Result<EventType> parseEventType(std::string_view text) {
  for (const auto& [t, name] : kTypeNames) {
    if (name == text) return t;
  }
  return makeError(ErrorCode::kInvalidArgument, "unknown event type '" + std::string(text) + "'");
}

std::string_view toString(EventPhase phase) {
  for (const auto& [p, name] : kPhaseNames) {
    if (p == phase) return name;
  }
  return "start";
}

Result<EventPhase> parseEventPhase(std::string_view text) {
  for (const auto& [p, name] : kPhaseNames) {
    if (name == text) return p;
  }
  return makeError(ErrorCode::kInvalidArgument, "unknown event phase '" + std::string(text) + "'");
}

}  // namespace sharpeyes::core
