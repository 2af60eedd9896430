#pragma once
// Backend: everything the HTTP API needs from the rest of the gateway (ingest, storage, bus,
// onvif), as one interface that app/ implements by delegating to those modules. api/ depends on
// core only; these DTOs are the API's own vocabulary where core has none.
//
// Every method has a default that returns kUnsupported (HTTP 501), so the lead can wire a Backend
// piece by piece. Methods are called on the HTTP server's I/O threads, concurrently: an
// implementation must be thread-safe and may block (database queries). Authorisation (roles,
// division scope) is done by ApiService before a call; the Backend just does the work.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sharpeyes/core/camera_id.h"
#include "sharpeyes/core/clip.h"
#include "sharpeyes/core/division.h"
#include "sharpeyes/core/event.h"
#include "sharpeyes/core/result.h"
#include "sharpeyes/core/time.h"

namespace sharpeyes::api {

// ---- cameras ----------------------------------------------------------------------------------

struct CameraInfo {
  core::CameraId id;
  std::string name;
  core::DivisionCode division;
  bool ptz = false;
  bool hasSubStream = false;
  std::string mainUrl;  // always redacted (core::redactUrl) by the Backend
  std::string subUrl;
  bool enabled = true;
  std::optional<double> latitude;
  std::optional<double> longitude;
  // Where the camera is defined: "config" (the gateway's config file; edited there) or "api"
  // (added through the API; editable through it). "" when the Backend does not say.
  std::string origin;
};

// Health as ingest sees it. state: "connecting" | "streaming" | "stalled" | "reconnecting" |
// "offline" | "disabled".
struct CameraState {
  core::CameraId id;
  std::string state = "offline";
  std::string reason;
  core::WallTime since{};  // when `state` was entered
  double fps = 0;
  double bitrateKbps = 0;
  uint64_t bytesRecorded = 0;
  uint64_t segments = 0;
  uint64_t reconnects = 0;
  uint64_t stalls = 0;
  // What reads the main stream: "native" | "rtspsrc" (ingest's CameraStatus::reader; "rtspsrc"
  // once a native stream turned out to reorder frames). "" while nothing reads it (disabled, ONVIF
  // streams still resolving).
  std::string reader;
  bool tampered = false;  // lens covered / moved, from analytics
  std::optional<core::WallTime> tamperedSince;
};

// Add/edit. Credentials are a reference (env:NAME or file:/path) or a password that the Backend
// keeps in a private file; neither is ever returned nor logged.
struct CameraSpec {
  core::CameraId id;
  std::string name;
  core::DivisionCode division;
  std::string mainUrl;  // "" when `settingsJson` names an ONVIF device instead
  std::string subUrl;
  std::string credentialRef;
  std::string username;  // the camera login, with credentialRef or password
  std::string password;  // secret: write-only
  bool ptz = false;
  bool enabled = true;
  // The camera's other settings as a JSON object in the config file's camera format (keys
  // transport, recording, health, feed, analytics, retention, onvif); "" when none were given.
  std::string settingsJson;
};

// PTZ: continuous move (speeds -1..1) until stop, or go to a preset.
struct PtzCommand {
  enum class Action { kMove, kStop, kGotoPreset, kSetPreset };
  Action action = Action::kStop;
  float pan = 0, tilt = 0, zoom = 0;
  int preset = 0;
  int timeoutMs = 1000;  // a move stops by itself after this
};

// ---- events and alerts ------------------------------------------------------------------------

struct EventQuery {
  std::optional<core::WallTime> from;
  std::optional<core::WallTime> to;
  std::vector<core::CameraId> cameras;  // empty: all
  // Only events whose division lies in one of these (ApiService always sets the caller's scope).
  std::vector<core::DivisionCode> divisions;
  std::optional<core::EventType> type;
  std::string objectClass;  // "" = any
  int minSeverity = core::kMinSeverity;
  size_t limit = 100;
  std::string cursor;  // opaque, from EventPage::nextCursor
};

struct EventPage {
  std::vector<core::Event> events;
  std::string nextCursor;  // "" when there is no more
};

// The five-step closed loop 受理 → 分流 → 办理 → 反馈 → 结单. kNew is before 受理.
enum class AlertStep { kNew, kAccepted, kDispatched, kHandling, kFeedback, kClosed };
std::string_view toString(AlertStep step);  // "new", "accepted", "dispatched", ...
core::Result<AlertStep> parseAlertStep(std::string_view text);
// The step that may follow `current` (kClosed has none).
std::optional<AlertStep> nextAlertStep(AlertStep current);

struct AlertStepRecord {
  AlertStep step = AlertStep::kNew;
  std::string user;  // who did it
  core::WallTime at{};
  std::string note;
  std::string assignee;  // for kDispatched: the unit/person it went to
};

struct Alert {
  std::string id;
  core::Event event;  // the event that raised it (division, severity, snapshot, clip range)
  AlertStep step = AlertStep::kNew;
  std::string assignee;
  std::vector<AlertStepRecord> history;  // in order; history[0] is kNew (raised)
};

struct AlertQuery {
  std::vector<core::DivisionCode> divisions;  // caller's scope, always set by ApiService
  std::optional<AlertStep> step;
  bool openOnly = false;  // step != kClosed
  int minSeverity = core::kMinSeverity;
  std::optional<core::WallTime> from;
  std::optional<core::WallTime> to;
  core::CameraId camera;  // empty: any
  size_t limit = 200;
};

// ---- recordings, clips, cases, evidence -------------------------------------------------------

struct Timeline {
  core::CameraId camera;
  core::TimeRange range;
  std::vector<core::TimeRange> recorded;  // merged contiguous recorded spans
  std::vector<core::TimeRange> gaps;      // parts of `range` without recording
};

// What `sharpeyes recordings verify` reports (storage's checkRecordings), for police before they
// rely on a camera's recordings over a range.
struct DeletionRun {  // a stretch of the camera's chain deleted for one reason
  int64_t firstId = 0;
  int64_t lastId = 0;
  int64_t segments = 0;
  std::optional<core::TimeRange> recorded;  // unknown for deletions before the index kept it
  std::optional<uint64_t> bytes;
  std::string reason;  // "age", "quota", "file_missing", "altered", "removed"
  std::string path;    // a single deleted segment's file; "" for longer runs
  core::WallTime lastDeleted{};
};

struct ExplainedGap {
  core::TimeRange gap;
  std::vector<DeletionRun> deletedBy;  // empty: never recorded (camera off or unreachable)
};

struct FileProblem {
  int64_t segmentId = 0;
  std::string path;     // relative to the recording root
  std::string problem;  // "missing", "size N, indexed M", "SHA-256 differs from the index's"
};

struct RecordingsIntegrity {
  core::CameraId camera;
  core::TimeRange range;
  // The camera's whole hash chain, not only the range.
  bool chainOk = false;
  int64_t rowsChecked = 0;
  int64_t deletedRowsCrossed = 0;
  std::vector<std::string> chainProblems;
  core::Duration coveredTotal{};
  std::vector<core::TimeRange> covered;
  std::vector<ExplainedGap> gaps;
  std::vector<DeletionRun> undatedDeletions;
  bool filesChecked = false;  // every file in range hashed
  int64_t files = 0;
  std::vector<FileProblem> fileProblems;
  // The chain verifies and no checked file differs; gaps alone do not fail it.
  bool intact() const { return chainOk && fileProblems.empty(); }
};

struct ClipRequest {
  core::CameraId camera;
  core::TimeRange range;
  std::string caseId;  // optional: attach to this case (and hold its segments)
};

struct Case {
  std::string id;
  std::string title;
  std::string description;
  std::string createdBy;
  core::WallTime createdAt{};
  bool open = true;
  std::vector<std::string> clipIds;  // clips held for this case (kept from deletion)
};

struct EvidencePackage {
  std::string id;
  std::string caseId;
  std::string path;  // absolute path of the package file (zip/tar) on this gateway
  uint64_t bytes = 0;
  std::string sha256;
  std::string createdBy;
  core::WallTime createdAt{};
  std::vector<std::string> clipIds;
  std::string manifestJson;  // the hashes and chain of custody inside the package
};

// ---- audit and health -------------------------------------------------------------------------

struct AuditEntry {
  core::WallTime at{};
  std::string user;
  std::string action;  // "live.view", "clip.download", "evidence.export", "login", ...
  std::string target;  // camera id, clip id, case id
  std::string detail;
  std::string remoteAddress;
};

struct AuditQuery {
  std::optional<core::WallTime> from;
  std::optional<core::WallTime> to;
  std::string user;
  std::string action;
  size_t limit = 500;
};

struct HealthReport {
  bool ok = true;
  std::map<std::string, std::string> checks;  // "storage": "ok", "disk": "12% free", ...
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Cameras.
  virtual core::Result<std::vector<CameraInfo>> listCameras();
  virtual core::Result<CameraInfo> getCamera(const core::CameraId& id);
  // The camera as its recordings, clips and events know it: a configured camera (getCamera), or
  // one removed since that left recordings here, so that police still reach what it recorded.
  // The default is getCamera.
  virtual core::Result<CameraInfo> recordedCamera(const core::CameraId& id);
  // Cameras no longer configured whose recordings (or their hash chain) are still here, as
  // recordedCamera() describes them (origin "removed"). The default is none.
  virtual core::Result<std::vector<CameraInfo>> removedCameras();
  virtual core::Result<std::vector<CameraState>> cameraStates();
  virtual core::Result<CameraInfo> addCamera(const CameraSpec& spec);
  virtual core::Result<CameraInfo> updateCamera(const CameraSpec& spec);
  virtual core::Result<void> removeCamera(const core::CameraId& id);
  virtual core::Result<void> ptz(const core::CameraId& id, const PtzCommand& cmd);

  // Events and alerts.
  virtual core::Result<EventPage> queryEvents(const EventQuery& q);
  virtual core::Result<core::Event> getEvent(const std::string& id);
  virtual core::Result<std::vector<Alert>> queryAlerts(const AlertQuery& q);
  virtual core::Result<Alert> getAlert(const std::string& id);
  // Appends `record` if alert `id` is currently at `expected` (compare-and-set, so two operators
  // cannot both accept); kAlreadyExists (HTTP 409) when it moved meanwhile.
  virtual core::Result<Alert> advanceAlert(const std::string& id, AlertStep expected,
                                           const AlertStepRecord& record);
  // Absolute path of an event's snapshot JPEG.
  virtual core::Result<std::string> snapshotPath(const std::string& eventId);

  // Recordings.
  virtual core::Result<Timeline> timeline(const core::CameraId& camera, core::TimeRange range);
  // A playable file for [range] (a clip cut on the fly or a segment) for browser playback.
  virtual core::Result<core::Clip> createClip(const ClipRequest& req, const std::string& user);
  virtual core::Result<core::Clip> getClip(const std::string& id);
  // Absolute path of the clip file, for download with Range.
  virtual core::Result<std::string> clipFilePath(const std::string& id);
  // The integrity of `camera`'s recordings over `range`: hash chain, coverage, why each gap is
  // there; with `checkFiles`, every file in range hashed against the index (reads them all, so
  // this blocks the calling thread for as long as the disk takes).
  virtual core::Result<RecordingsIntegrity> checkRecordings(const core::CameraId& camera,
                                                            core::TimeRange range, bool checkFiles);

  // Cases, holds, evidence.
  virtual core::Result<std::vector<Case>> listCases();
  virtual core::Result<Case> getCase(const std::string& id);
  virtual core::Result<Case> createCase(const Case& c);
  virtual core::Result<Case> holdClip(const std::string& caseId, const std::string& clipId);
  virtual core::Result<EvidencePackage> exportEvidence(const std::string& caseId,
                                                       const std::string& user);
  virtual core::Result<EvidencePackage> getEvidence(const std::string& id);

  // Audit log (ApiService writes an entry for every video view, download and export).
  virtual core::Result<void> appendAudit(const AuditEntry& e);
  virtual core::Result<std::vector<AuditEntry>> queryAudit(const AuditQuery& q);

  // Health for /api/health (not /healthz, which the lead registers itself).
  virtual HealthReport health();
};

}  // namespace sharpeyes::api
