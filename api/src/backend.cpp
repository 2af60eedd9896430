// Backend defaults (kUnsupported -> HTTP 501) and the alert workflow vocabulary.

#include "sharpeyes/api/backend.h"

namespace sharpeyes::api {

using core::ErrorCode;
using core::makeError;

std::string_view toString(AlertStep step) {
  switch (step) {
    case AlertStep::kNew: return "new";
    case AlertStep::kAccepted: return "accepted";
    case AlertStep::kDispatched: return "dispatched";
    case AlertStep::kHandling: return "handling";
    case AlertStep::kFeedback: return "feedback";
    case AlertStep::kClosed: return "closed";
  }
  return "new";
}

core::Result<AlertStep> parseAlertStep(std::string_view t) {
  for (auto s : {AlertStep::kNew, AlertStep::kAccepted, AlertStep::kDispatched,
                 AlertStep::kHandling, AlertStep::kFeedback, AlertStep::kClosed}) {
    if (toString(s) == t) return s;
  }
  return makeError(ErrorCode::kInvalidArgument,
                   "unknown alert step '" + std::string(t) +
                       "' (new, accepted, dispatched, handling, feedback, closed)");
}

std::optional<AlertStep> nextAlertStep(AlertStep current) {
  switch (current) {
    case AlertStep::kNew: return AlertStep::kAccepted;
    case AlertStep::kAccepted: return AlertStep::kDispatched;
    case AlertStep::kDispatched: return AlertStep::kHandling;
    case AlertStep::kHandling: return AlertStep::kFeedback;
    case AlertStep::kFeedback: return AlertStep::kClosed;
    case AlertStep::kClosed: return std::nullopt;
  }
  return std::nullopt;
}

namespace {
core::Error unsupported(const char* what) {
  return makeError(ErrorCode::kUnsupported,
                   std::string(what) + " is not available on this gateway");
}
}  // namespace

core::Result<std::vector<CameraInfo>> Backend::listCameras() {
  return unsupported("camera list");
}
core::Result<CameraInfo> Backend::getCamera(const core::CameraId&) {
  return unsupported("camera lookup");
}

core::Result<CameraInfo> Backend::recordedCamera(const core::CameraId& id) {
  return getCamera(id);
}
core::Result<std::vector<CameraInfo>> Backend::removedCameras() {
  return std::vector<CameraInfo>{};
}
core::Result<std::vector<CameraState>> Backend::cameraStates() {
  return unsupported("camera state");
}
core::Result<CameraInfo> Backend::addCamera(const CameraSpec&) {
  return unsupported("adding cameras");
}
core::Result<CameraInfo> Backend::updateCamera(const CameraSpec&) {
  return unsupported("editing cameras");
}
core::Result<void> Backend::removeCamera(const core::CameraId&) {
  return unsupported("removing cameras");
}
core::Result<void> Backend::ptz(const core::CameraId&, const PtzCommand&) {
  return unsupported("PTZ");
}
core::Result<EventPage> Backend::queryEvents(const EventQuery&) {
  return unsupported("event search");
}
core::Result<core::Event> Backend::getEvent(const std::string&) {
  return unsupported("event lookup");
}
core::Result<std::vector<Alert>> Backend::queryAlerts(const AlertQuery&) {
  return unsupported("alerts");
}
core::Result<Alert> Backend::getAlert(const std::string&) {
  return unsupported("alerts");
}
core::Result<Alert> Backend::advanceAlert(const std::string&, AlertStep, const AlertStepRecord&) {
  return unsupported("the alert workflow");
}
core::Result<std::string> Backend::snapshotPath(const std::string&) {
  return unsupported("snapshots");
}
core::Result<Timeline> Backend::timeline(const core::CameraId&, core::TimeRange) {
  return unsupported("recordings");
}
core::Result<core::Clip> Backend::createClip(const ClipRequest&, const std::string&) {
  return unsupported("clips");
}
core::Result<core::Clip> Backend::getClip(const std::string&) {
  return unsupported("clips");
}
core::Result<std::string> Backend::clipFilePath(const std::string&) {
  return unsupported("clips");
}
core::Result<RecordingsIntegrity> Backend::checkRecordings(const core::CameraId&, core::TimeRange,
                                                           bool) {
  return unsupported("recordings verification");
}
core::Result<std::vector<Case>> Backend::listCases() {
  return unsupported("cases");
}
core::Result<Case> Backend::getCase(const std::string&) {
  return unsupported("cases");
}
core::Result<Case> Backend::createCase(const Case&) {
  return unsupported("cases");
}
core::Result<Case> Backend::holdClip(const std::string&, const std::string&) {
  return unsupported("holds");
}
core::Result<EvidencePackage> Backend::exportEvidence(const std::string&, const std::string&) {
  return unsupported("evidence export");
}
core::Result<EvidencePackage> Backend::getEvidence(const std::string&) {
  return unsupported("evidence export");
}
core::Result<void> Backend::appendAudit(const AuditEntry&) {
  return unsupported("the audit log");
}
core::Result<std::vector<AuditEntry>> Backend::queryAudit(const AuditQuery&) {
  return unsupported("the audit log");
}
HealthReport Backend::health() {
  return HealthReport{};
}

}  // namespace sharpeyes::api
