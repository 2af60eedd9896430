#pragma once
// InMemoryBackend: a complete, self-contained Backend kept in memory (files under `workDir`).
// It is the reference implementation used by api/'s own tests, the browser test and the API
// benchmark; the gateway uses app/'s Backend over storage/ingest/bus instead. Not a mock: every
// method does the real thing on its own data (clips are copied from registered recording files,
// evidence packages are real tar files with a SHA-256 manifest).
// Thread-safe (one mutex).

#include <mutex>
#include <string>
#include <vector>

#include "sharpeyes/api/backend.h"

namespace sharpeyes::api {

class InMemoryBackend : public Backend {
 public:
  explicit InMemoryBackend(std::string workDir);

  // Seeding (tests, demo).
  void putCamera(const CameraInfo& c);
  void setState(const CameraState& s);
  void addEvent(const core::Event& e);
  // Raises an alert for `e` (also records the event); returns it at step kNew.
  Alert raiseAlert(const core::Event& e);
  // A recorded file covering `range` (any playable MP4); clips copy from it.
  void addRecording(const core::CameraId& cam, core::TimeRange range, const std::string& path);
  std::vector<AuditEntry> auditLog() const;
  std::vector<PtzCommand> ptzLog() const;

  core::Result<std::vector<CameraInfo>> listCameras() override;
  core::Result<CameraInfo> getCamera(const core::CameraId& id) override;
  core::Result<std::vector<CameraState>> cameraStates() override;
  core::Result<CameraInfo> addCamera(const CameraSpec& spec) override;
  core::Result<CameraInfo> updateCamera(const CameraSpec& spec) override;
  core::Result<void> removeCamera(const core::CameraId& id) override;
  core::Result<void> ptz(const core::CameraId& id, const PtzCommand& cmd) override;
  core::Result<EventPage> queryEvents(const EventQuery& q) override;
  core::Result<core::Event> getEvent(const std::string& id) override;
  core::Result<std::vector<Alert>> queryAlerts(const AlertQuery& q) override;
  core::Result<Alert> getAlert(const std::string& id) override;
  core::Result<Alert> advanceAlert(const std::string& id, AlertStep expected,
                                   const AlertStepRecord& record) override;
  core::Result<std::string> snapshotPath(const std::string& eventId) override;
  core::Result<Timeline> timeline(const core::CameraId& camera, core::TimeRange range) override;
  core::Result<core::Clip> createClip(const ClipRequest& req, const std::string& user) override;
  core::Result<core::Clip> getClip(const std::string& id) override;
  core::Result<std::string> clipFilePath(const std::string& id) override;
  core::Result<std::vector<Case>> listCases() override;
  core::Result<Case> getCase(const std::string& id) override;
  core::Result<Case> createCase(const Case& c) override;
  core::Result<Case> holdClip(const std::string& caseId, const std::string& clipId) override;
  core::Result<EvidencePackage> exportEvidence(const std::string& caseId,
                                               const std::string& user) override;
  core::Result<EvidencePackage> getEvidence(const std::string& id) override;
  core::Result<void> appendAudit(const AuditEntry& e) override;
  core::Result<std::vector<AuditEntry>> queryAudit(const AuditQuery& q) override;
  HealthReport health() override;

 private:
  struct Recording {
    core::CameraId camera;
    core::TimeRange range;
    std::string path;
  };
  std::string workDir_;
  mutable std::mutex mu_;
  std::vector<CameraInfo> cameras_;
  std::vector<CameraState> states_;
  std::vector<core::Event> events_;  // by start time
  std::vector<Alert> alerts_;
  std::vector<Recording> recordings_;
  std::vector<std::pair<core::Clip, std::string>> clips_;  // clip, absolute path
  std::vector<Case> cases_;
  std::vector<EvidencePackage> evidence_;
  std::vector<AuditEntry> audit_;
  std::vector<PtzCommand> ptzLog_;
};

}  // namespace sharpeyes::api
