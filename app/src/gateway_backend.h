#pragma once
// GatewayBackend: the HTTP API's view of this gateway (api::Backend) on top of storage — the
// event store, alerts, segment index, cases and audit, clips and evidence — plus hooks into the
// gateway for what lives in memory (camera list and health, PTZ, camera changes).
//
// Threads: every method runs on an HTTP I/O thread, concurrently; the stores serialise on their
// database connection and the hooks are thread-safe. Clip cutting and evidence packing block
// that thread for as long as the remux takes (seconds for minutes of video).

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sharpeyes/api/backend.h"

namespace sharpeyes::storage {
class AlertStore;
class CaseStore;
class ClipStore;
class EventStore;
class SegmentIndex;
struct AlertRecord;
}  // namespace sharpeyes::storage

namespace sharpeyes::app {

struct BackendStores {
  storage::EventStore* events = nullptr;
  storage::AlertStore* alerts = nullptr;
  storage::SegmentIndex* index = nullptr;
  storage::CaseStore* cases = nullptr;
  storage::ClipStore* clips = nullptr;
};

struct BackendPaths {
  std::string gatewayId;
  std::string recordingRoot;  // absolute; segment paths in the index are relative to it
  std::string clipDir;        // absolute; clips cut through the API go here
  std::string evidenceDir;    // absolute; evidence packages (directory + .tar)
  std::string signingKey;     // Ed25519 private key (PEM) that signs evidence manifests
  std::string snapshotRoot;   // absolute; event snapshot paths are relative to it
  // The gateway's division: all of its cameras lie inside it.
  core::DivisionCode division;
};

struct BackendHooks {
  std::function<std::vector<api::CameraInfo>()> cameras;
  std::function<std::vector<api::CameraState>()> states;
  std::function<core::Result<void>(const core::CameraId&, const api::PtzCommand&)> ptz;
  // Which division a camera belongs to (for the evidence manifest); nullopt when unknown.
  std::function<std::optional<core::DivisionCode>(const core::CameraId&)> division;
  // Camera management (cameras added through the API); unset: 501.
  std::function<core::Result<api::CameraInfo>(const api::CameraSpec&)> addCamera;
  std::function<core::Result<api::CameraInfo>(const api::CameraSpec&)> updateCamera;
  std::function<core::Result<void>(const core::CameraId&)> removeCamera;
};

class GatewayBackend : public api::Backend {
 public:
  GatewayBackend(BackendStores stores, BackendPaths paths, BackendHooks hooks);

  // The api::Alert for a stored alert record (loads its event). Used by the gateway to publish
  // alerts on the live WebSocket.
  core::Result<api::Alert> toApiAlert(const storage::AlertRecord& record);

  core::Result<std::vector<api::CameraInfo>> listCameras() override;
  core::Result<api::CameraInfo> getCamera(const core::CameraId& id) override;
  // A camera no longer configured (removed through the API or from the config file) that
  // recorded here: shown with the gateway's own division, its own being no longer known.
  core::Result<api::CameraInfo> recordedCamera(const core::CameraId& id) override;
  core::Result<std::vector<api::CameraInfo>> removedCameras() override;
  core::Result<std::vector<api::CameraState>> cameraStates() override;
  core::Result<api::CameraInfo> addCamera(const api::CameraSpec& spec) override;
  core::Result<api::CameraInfo> updateCamera(const api::CameraSpec& spec) override;
  core::Result<void> removeCamera(const core::CameraId& id) override;
  core::Result<void> ptz(const core::CameraId& id, const api::PtzCommand& cmd) override;

  core::Result<api::EventPage> queryEvents(const api::EventQuery& q) override;
  core::Result<core::Event> getEvent(const std::string& id) override;
  core::Result<std::vector<api::Alert>> queryAlerts(const api::AlertQuery& q) override;
  core::Result<api::Alert> getAlert(const std::string& id) override;
  core::Result<api::Alert> advanceAlert(const std::string& id, api::AlertStep expected,
                                        const api::AlertStepRecord& record) override;
  core::Result<std::string> snapshotPath(const std::string& eventId) override;

  core::Result<api::Timeline> timeline(const core::CameraId& camera,
                                       core::TimeRange range) override;
  core::Result<core::Clip> createClip(const api::ClipRequest& req,
                                      const std::string& user) override;
  core::Result<core::Clip> getClip(const std::string& id) override;
  core::Result<std::string> clipFilePath(const std::string& id) override;
  // storage::checkRecordings on the index and the recording root.
  core::Result<api::RecordingsIntegrity> checkRecordings(const core::CameraId& camera,
                                                         core::TimeRange range,
                                                         bool checkFiles) override;

  core::Result<std::vector<api::Case>> listCases() override;
  core::Result<api::Case> getCase(const std::string& id) override;
  core::Result<api::Case> createCase(const api::Case& c) override;
  core::Result<api::Case> holdClip(const std::string& caseId, const std::string& clipId) override;
  core::Result<api::EvidencePackage> exportEvidence(const std::string& caseId,
                                                    const std::string& user) override;
  core::Result<api::EvidencePackage> getEvidence(const std::string& id) override;

  core::Result<void> appendAudit(const api::AuditEntry& e) override;
  core::Result<std::vector<api::AuditEntry>> queryAudit(const api::AuditQuery& q) override;
  api::HealthReport health() override;

 private:
  std::string absoluteClipPath(const core::Clip& clip) const;
  // `event` null: the event row is missing; the alert's own copy of its fields is shown.
  api::Alert toApiAlert(const storage::AlertRecord& record, const core::Event* event);

  BackendStores stores_;
  BackendPaths paths_;
  BackendHooks hooks_;
};

}  // namespace sharpeyes::app
