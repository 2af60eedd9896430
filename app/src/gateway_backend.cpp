#include "gateway_backend.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <nlohmann/json.hpp>

#include "sharpeyes/core/tar.h"
#include "sharpeyes/core/util.h"
#include "sharpeyes/storage/alert_store.h"
#include "sharpeyes/storage/case_store.h"
#include "sharpeyes/storage/clip_export.h"
#include "sharpeyes/storage/clip_store.h"
#include "sharpeyes/storage/event_store.h"
#include "sharpeyes/storage/integrity.h"
#include "sharpeyes/storage/segment_index.h"

namespace sharpeyes::app {

namespace fs = std::filesystem;
using core::ErrorCode;
using core::makeError;

namespace {

constexpr auto kGapTolerance = std::chrono::milliseconds(200);
// A clip longer than this is an export job, not something to cut on an HTTP thread.
constexpr auto kMaxClipLength = std::chrono::hours(2);

// storage and api name the five steps alike; the stored text is the common form.
storage::AlertStep toStorage(api::AlertStep s) {
  return storage::parseAlertStep(api::toString(s)).value();
}
api::AlertStep toApi(storage::AlertStep s) {
  return api::parseAlertStep(storage::toString(s)).value();
}

api::Case toApiCase(const storage::Case& c, const std::vector<storage::ClipRecord>& clips,
                    const std::vector<storage::Hold>& holds) {
  api::Case out;
  out.id = c.id;
  out.title = c.title;
  out.createdBy = c.createdBy;
  out.createdAt = c.created;
  out.open = true;
  for (const auto& r : clips) out.clipIds.push_back(r.clip.id);
  const auto active =
      std::count_if(holds.begin(), holds.end(), [](const auto& h) { return h.active(); });
  out.description = std::to_string(active) + " active hold(s)";
  return out;
}

api::EvidencePackage toApiEvidence(const storage::EvidenceRecord& r) {
  api::EvidencePackage p;
  p.id = r.id;
  p.caseId = r.caseId;
  p.path = r.path;
  p.bytes = r.bytes;
  p.sha256 = r.sha256;
  p.createdBy = r.createdBy;
  p.createdAt = r.createdAt;
  p.clipIds = r.clipIds;
  p.manifestJson = r.manifestJson;
  return p;
}

core::Error unmanaged() {
  return makeError(ErrorCode::kUnsupported,
                   "cameras are managed in the gateway's config file; edit it and restart");
}

}  // namespace

GatewayBackend::GatewayBackend(BackendStores stores, BackendPaths paths, BackendHooks hooks)
    : stores_(stores), paths_(std::move(paths)), hooks_(std::move(hooks)) {}

// ---- cameras ----------------------------------------------------------------------------------

core::Result<std::vector<api::CameraInfo>> GatewayBackend::listCameras() {
  return hooks_.cameras();
}

core::Result<api::CameraInfo> GatewayBackend::getCamera(const core::CameraId& id) {
  for (auto& c : hooks_.cameras()) {
    if (c.id == id) return c;
  }
  return makeError(ErrorCode::kNotFound, "no camera " + id.str());
}

core::Result<api::CameraInfo> GatewayBackend::recordedCamera(const core::CameraId& id) {
  auto configured = getCamera(id);
  if (configured || configured.error().code != ErrorCode::kNotFound) return configured;
  // Recordings outlive their camera until retention deletes them, and the clips and evidence cut
  // from them outlive the recordings: police must reach them all. The index keeps the hash chain
  // of every camera that ever recorded here (past retention, so the chain stays verifiable); that
  // is what makes a camera id one of ours rather than unknown.
  auto recorded = stores_.index->cameras();
  if (!recorded) return recorded.error();
  if (std::find(recorded->begin(), recorded->end(), id) == recorded->end()) return configured;
  api::CameraInfo info;
  info.id = id;
  info.name = id.str();
  info.enabled = false;
  auto label = stores_.index->cameraLabel(id);
  if (label && label->has_value()) {
    // As the gateway last described it: a village's user reaches its own village's recordings.
    info.name = (*label)->name.empty() ? id.str() : (*label)->name;
    info.division = (*label)->division;
  } else {
    // Recorded before the index kept labels (or the label is unreadable): the gateway's division
    // covers it; a user whose area covers the gateway's reaches it, a village's user does not.
    if (!label) spdlog::warn("camera {}: label unreadable: {}", id.str(), label.error().describe());
    info.division = paths_.division;
  }
  return info;
}

core::Result<std::vector<api::CameraInfo>> GatewayBackend::removedCameras() {
  auto recorded = stores_.index->cameras();
  if (!recorded) return recorded.error();
  const auto configured = hooks_.cameras();
  std::vector<api::CameraInfo> out;
  for (const auto& id : *recorded) {
    const bool running = std::any_of(configured.begin(), configured.end(),
                                     [&](const api::CameraInfo& c) { return c.id == id; });
    if (running) continue;
    auto info = recordedCamera(id);
    if (!info) return info.error();
    info->origin = "removed";
    out.push_back(std::move(*info));
  }
  return out;
}

core::Result<std::vector<api::CameraState>> GatewayBackend::cameraStates() {
  return hooks_.states();
}

core::Result<api::CameraInfo> GatewayBackend::addCamera(const api::CameraSpec& spec) {
  if (!hooks_.addCamera) return unmanaged();
  return hooks_.addCamera(spec);
}

core::Result<api::CameraInfo> GatewayBackend::updateCamera(const api::CameraSpec& spec) {
  if (!hooks_.updateCamera) return unmanaged();
  return hooks_.updateCamera(spec);
}

core::Result<void> GatewayBackend::removeCamera(const core::CameraId& id) {
  if (!hooks_.removeCamera) return unmanaged();
  return hooks_.removeCamera(id);
}

core::Result<void> GatewayBackend::ptz(const core::CameraId& id, const api::PtzCommand& cmd) {
  if (!hooks_.ptz) return makeError(ErrorCode::kUnsupported, "no PTZ on this gateway");
  return hooks_.ptz(id, cmd);
}

// ---- events and alerts ------------------------------------------------------------------------

core::Result<api::EventPage> GatewayBackend::queryEvents(const api::EventQuery& q) {
  storage::EventQuery sq;
  if (q.from || q.to) {
    sq.range =
        core::TimeRange{q.from.value_or(core::WallTime{}), q.to.value_or(core::WallTime::max())};
  }
  sq.cameras = q.cameras;
  // One scope is the normal case (a user has one division); several are filtered below.
  if (q.divisions.size() == 1) sq.division = q.divisions.front();
  if (q.type) sq.types = {*q.type};
  if (!q.objectClass.empty()) sq.objectClass = q.objectClass;
  sq.minSeverity = q.minSeverity;
  sq.limit = static_cast<int>(std::clamp<size_t>(q.limit, 1, 1000));
  sq.cursor = q.cursor;
  auto page = stores_.events->query(sq);
  if (!page) return page.error();
  api::EventPage out;
  out.nextCursor = page->nextCursor;
  for (auto& e : page->events) {
    if (q.divisions.size() > 1 &&
        std::none_of(q.divisions.begin(), q.divisions.end(),
                     [&](const core::DivisionCode& d) { return d.contains(e.division); })) {
      continue;
    }
    out.events.push_back(std::move(e));
  }
  return out;
}

core::Result<core::Event> GatewayBackend::getEvent(const std::string& id) {
  auto e = stores_.events->get(id);
  if (!e) return e.error();
  if (!e->has_value()) return makeError(ErrorCode::kNotFound, "no event " + id);
  return std::move(**e);
}

core::Result<api::Alert> GatewayBackend::toApiAlert(const storage::AlertRecord& r) {
  auto e = getEvent(r.eventId);
  return toApiAlert(r, e ? &*e : nullptr);
}

api::Alert GatewayBackend::toApiAlert(const storage::AlertRecord& r, const core::Event* event) {
  api::Alert a;
  a.id = r.id;
  if (event) {
    a.event = *event;
  } else {
    // The event row is gone (it never should be while its alert lives): show what the alert
    // itself knows rather than hiding the alert from the desk.
    a.event.id = r.eventId;
    a.event.camera = r.camera;
    a.event.division = r.division;
    a.event.severity = r.severity;
    a.event.type = r.type;
    a.event.rule = r.rule;
    a.event.start = r.eventStart;
  }
  a.event.severity = std::max(a.event.severity, r.severity);
  a.step = toApi(r.step);
  a.assignee = r.assignee;
  for (const auto& h : r.history) {
    a.history.push_back({toApi(h.step), h.user, h.at, h.note, h.assignee});
  }
  return a;
}

core::Result<std::vector<api::Alert>> GatewayBackend::queryAlerts(const api::AlertQuery& q) {
  storage::AlertQuery sq;
  sq.divisions = q.divisions;
  if (q.step) sq.step = toStorage(*q.step);
  sq.openOnly = q.openOnly;
  sq.minSeverity = q.minSeverity;
  sq.from = q.from;
  sq.to = q.to;
  sq.camera = q.camera;
  sq.limit = q.limit;
  auto records = stores_.alerts->query(sq);
  if (!records) return records.error();
  // One statement for the events of the whole page, not one per alert (a network round trip
  // each on PostgreSQL).
  std::vector<std::string> ids;
  ids.reserve(records->size());
  for (const auto& r : *records) ids.push_back(r.eventId);
  auto events = stores_.events->getMany(ids);
  if (!events) return events.error();
  std::vector<api::Alert> out;
  out.reserve(records->size());
  for (const auto& r : *records) {
    auto it = events->find(r.eventId);
    out.push_back(toApiAlert(r, it == events->end() ? nullptr : &it->second));
  }
  return out;
}

core::Result<api::Alert> GatewayBackend::getAlert(const std::string& id) {
  auto r = stores_.alerts->get(id);
  if (!r) return r.error();
  return toApiAlert(*r);
}

core::Result<api::Alert> GatewayBackend::advanceAlert(const std::string& id,
                                                      api::AlertStep expected,
                                                      const api::AlertStepRecord& record) {
  storage::AlertStepRecord next{toStorage(record.step), record.user, record.at, record.note,
                                record.assignee};
  auto r = stores_.alerts->advance(id, toStorage(expected), next);
  if (!r) return r.error();
  return toApiAlert(*r);
}

core::Result<std::string> GatewayBackend::snapshotPath(const std::string& eventId) {
  auto e = getEvent(eventId);
  if (!e) return e.error();
  if (e->snapshotPath.empty()) {
    return makeError(ErrorCode::kNotFound, "event " + eventId + " has no snapshot");
  }
  const fs::path rel(e->snapshotPath);
  const std::string path =
      rel.is_absolute() ? rel.string() : (fs::path(paths_.snapshotRoot) / rel).string();
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return makeError(ErrorCode::kNotFound, "the snapshot of event " + eventId + " is gone");
  }
  return path;
}

// ---- recordings and clips ---------------------------------------------------------------------

core::Result<api::Timeline> GatewayBackend::timeline(const core::CameraId& camera,
                                                     core::TimeRange range) {
  if (range.end <= range.begin) {
    return makeError(ErrorCode::kInvalidArgument, "the range ends before it begins");
  }
  auto t = stores_.index->timeline(camera, range, kGapTolerance);
  if (!t) return t.error();
  api::Timeline out;
  out.camera = camera;
  out.range = range;
  out.recorded = t->covered;
  out.gaps = t->gaps;
  return out;
}

core::Result<api::RecordingsIntegrity> GatewayBackend::checkRecordings(const core::CameraId& camera,
                                                                       core::TimeRange range,
                                                                       bool checkFiles) {
  if (range.end <= range.begin) {
    return makeError(ErrorCode::kInvalidArgument, "the range ends before it begins");
  }
  auto r =
      storage::checkRecordings(*stores_.index, paths_.recordingRoot, camera, range, checkFiles);
  if (!r) return r.error();
  auto run = [](const storage::DeletionRun& d) {
    return api::DeletionRun{d.firstId, d.lastId, d.segments, d.recorded,
                            d.bytes,   d.reason, d.path,     d.lastDeleted};
  };
  api::RecordingsIntegrity out;
  out.camera = r->camera;
  out.range = r->range;
  out.chainOk = r->chain.ok();
  out.rowsChecked = r->chain.rowsChecked;
  out.deletedRowsCrossed = r->chain.tombstonesCrossed;
  out.chainProblems = r->chain.problems;
  out.coveredTotal = r->timeline.coveredTotal;
  out.covered = r->timeline.covered;
  for (const auto& g : r->gaps) {
    api::ExplainedGap eg{g.gap, {}};
    std::transform(g.deletedBy.begin(), g.deletedBy.end(), std::back_inserter(eg.deletedBy), run);
    out.gaps.push_back(std::move(eg));
  }
  std::transform(r->undatedDeletions.begin(), r->undatedDeletions.end(),
                 std::back_inserter(out.undatedDeletions), run);
  out.filesChecked = r->filesChecked;
  out.files = r->files;
  for (const auto& f : r->fileProblems) {
    out.fileProblems.push_back({f.segmentId, f.path, f.problem});
  }
  return out;
}

std::string GatewayBackend::absoluteClipPath(const core::Clip& clip) const {
  const fs::path p(clip.path);
  return p.is_absolute() ? p.string() : (fs::path(paths_.recordingRoot) / p).string();
}

core::Result<core::Clip> GatewayBackend::createClip(const api::ClipRequest& req,
                                                    const std::string& user) {
  if (req.range.end <= req.range.begin) {
    return makeError(ErrorCode::kInvalidArgument, "the clip ends before it begins");
  }
  if (req.range.length() > kMaxClipLength) {
    return makeError(ErrorCode::kInvalidArgument, "a clip may be at most 2 h long");
  }
  if (!req.caseId.empty()) {
    auto c = stores_.cases->getCase(req.caseId);
    if (!c) return c.error();
    if (!c->has_value()) return makeError(ErrorCode::kNotFound, "no case " + req.caseId);
  }
  const fs::path dir = fs::path(paths_.clipDir) / req.camera.str();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return makeError(ErrorCode::kIo, "cannot create " + dir.string() + ": " + ec.message());
  storage::ClipRequest cr;
  cr.camera = req.camera;
  cr.range = req.range;
  cr.outputPath = (dir / (core::newId() + ".mp4")).string();
  auto clip = storage::exportClip(*stores_.index, paths_.recordingRoot, cr);
  if (!clip) return clip.error();
  auto rec = stores_.clips->recordClip(
      *clip, user, std::nullopt,
      req.caseId.empty() ? std::nullopt : std::optional<std::string>(req.caseId));
  if (!rec) {
    fs::remove(cr.outputPath, ec);
    return rec.error();
  }
  if (!req.caseId.empty()) {
    if (auto h = holdClip(req.caseId, clip->id); !h) return h.error();
  }
  return rec->clip;
}

core::Result<core::Clip> GatewayBackend::getClip(const std::string& id) {
  auto r = stores_.clips->getClip(id);
  if (!r) return r.error();
  return r->clip;
}

core::Result<std::string> GatewayBackend::clipFilePath(const std::string& id) {
  auto r = stores_.clips->getClip(id);
  if (!r) return r.error();
  const std::string path = absoluteClipPath(r->clip);
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return makeError(ErrorCode::kNotFound, "the file of clip " + id + " is gone");
  }
  return path;
}

// ---- cases and evidence -----------------------------------------------------------------------

core::Result<api::Case> GatewayBackend::getCase(const std::string& id) {
  auto c = stores_.cases->getCase(id);
  if (!c) return c.error();
  if (!c->has_value()) return makeError(ErrorCode::kNotFound, "no case " + id);
  auto clips = stores_.clips->clipsForCase(id);
  if (!clips) return clips.error();
  auto holds = stores_.cases->holds(id);
  if (!holds) return holds.error();
  return toApiCase(**c, *clips, *holds);
}

core::Result<std::vector<api::Case>> GatewayBackend::listCases() {
  auto cases = stores_.cases->listCases();
  if (!cases) return cases.error();
  std::vector<api::Case> out;
  for (const auto& c : *cases) {
    auto full = getCase(c.id);
    if (!full) return full.error();
    out.push_back(std::move(*full));
  }
  return out;
}

core::Result<api::Case> GatewayBackend::createCase(const api::Case& c) {
  if (c.title.empty()) return makeError(ErrorCode::kInvalidArgument, "a case needs a title");
  // Police give their own case number; without one the gateway numbers it by date.
  std::string id = c.id;
  if (id.empty()) {
    id = "C" + core::formatIso8601(core::processClock().now()).substr(0, 10) + "-" +
         core::newId().substr(0, 6);
    std::erase(id, '-');
  }
  auto made = stores_.cases->createCase(id, c.title, storage::Actor{c.createdBy, ""});
  if (!made) return made.error();
  return getCase(made->id);
}

core::Result<api::Case> GatewayBackend::holdClip(const std::string& caseId,
                                                 const std::string& clipId) {
  auto clip = stores_.clips->getClip(clipId);
  if (!clip) return clip.error();
  const storage::Actor actor{clip->createdBy, ""};
  // The hold covers what the clip actually holds (from its keyframe), so no source segment of
  // the clip can be deleted while the case is open.
  auto hold = stores_.cases->placeHold(caseId, clip->clip.camera, clip->clip.actual,
                                       "clip " + clipId, actor);
  if (!hold) return hold.error();
  if (auto r = stores_.cases->attach(caseId, "clip", clipId, actor); !r) return r.error();
  return getCase(caseId);
}

core::Result<api::EvidencePackage> GatewayBackend::exportEvidence(const std::string& caseId,
                                                                  const std::string& user) {
  auto kase = getCase(caseId);
  if (!kase) return kase.error();
  auto clips = stores_.clips->clipsForCase(caseId);
  if (!clips) return clips.error();
  if (clips->empty()) {
    return makeError(ErrorCode::kInvalidArgument,
                     "case " + caseId + " holds no clips; cut and hold a clip first");
  }
  const std::string id = core::newId();
  const fs::path dir = fs::path(paths_.evidenceDir) / id;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return makeError(ErrorCode::kIo, "cannot create " + dir.string() + ": " + ec.message());

  // One signed package per clip (storage's format, checked by `sharpeyes verify`), all in one
  // tar with a case manifest naming them.
  nlohmann::json items = nlohmann::json::array();
  std::vector<std::string> clipIds;
  for (const auto& r : *clips) {
    storage::EvidenceInfo info;
    info.division = hooks_.division ? hooks_.division(r.clip.camera).value_or(core::DivisionCode{})
                                    : core::DivisionCode{};
    info.exporter = user;
    info.caseId = caseId;
    info.gatewayId = paths_.gatewayId;
    auto manifest = storage::writeEvidencePackage(r.clip, absoluteClipPath(r.clip), info,
                                                  paths_.signingKey, (dir / r.clip.id).string());
    if (!manifest) return manifest.error();
    items.push_back({{"clip_id", r.clip.id},
                     {"camera", r.clip.camera.str()},
                     {"from", core::formatIso8601(r.clip.actual.begin)},
                     {"to", core::formatIso8601(r.clip.actual.end)},
                     {"clip_sha256", r.clip.sha256},
                     {"manifest_sha256", core::sha256Hex(*manifest)},
                     {"directory", r.clip.id}});
    clipIds.push_back(r.clip.id);
  }
  storage::EvidenceRecord rec;
  rec.id = id;
  rec.caseId = caseId;
  rec.createdBy = user;
  rec.createdAt = core::processClock().now();
  rec.clipIds = clipIds;
  rec.manifestJson = nlohmann::json{
      {"package", id},
      {"gateway", paths_.gatewayId},
      {"case", {{"id", caseId}, {"title", kase->title}}},
      {"exported_by", user},
      {"exported_at", core::formatIso8601(rec.createdAt)},
      {"items", items}}.dump(2);
  rec.path = (fs::path(paths_.evidenceDir) / (id + ".tar")).string();
  {
    core::TarWriter tar(rec.path);
    if (!tar.ok()) return makeError(ErrorCode::kIo, "cannot write " + rec.path);
    if (auto r = tar.add(id + "/case.json", rec.manifestJson); !r) return r.error();
    for (const auto& clipId : clipIds) {
      for (const char* name : {"manifest.json", "manifest.sig", "signer.pub.pem", "clip.mp4"}) {
        const fs::path src = dir / clipId / name;
        if (!fs::exists(src, ec)) continue;
        std::string member = id;
        member += '/';
        member += clipId;
        member += '/';
        member += name;
        if (auto r = tar.addFile(member, src.string()); !r) {
          return r.error();
        }
      }
    }
    if (auto r = tar.finish(); !r) return r.error();
  }
  auto hash = core::sha256File(rec.path);
  if (!hash) return hash.error();
  rec.sha256 = *hash;
  rec.bytes = fs::file_size(rec.path, ec);
  auto stored = stores_.clips->recordEvidence(rec);
  if (!stored) return stored.error();
  return toApiEvidence(*stored);
}

core::Result<api::EvidencePackage> GatewayBackend::getEvidence(const std::string& id) {
  auto r = stores_.clips->getEvidence(id);
  if (!r) return r.error();
  return toApiEvidence(*r);
}

// ---- audit and health -------------------------------------------------------------------------

core::Result<void> GatewayBackend::appendAudit(const api::AuditEntry& e) {
  auto r = stores_.cases->appendAudit(storage::Actor{e.user, e.remoteAddress}, e.action, e.target,
                                      e.detail);
  if (!r) return r.error();
  return core::okResult();
}

core::Result<std::vector<api::AuditEntry>> GatewayBackend::queryAudit(const api::AuditQuery& q) {
  // The chain is read in order and filtered here; the newest `limit` matches are kept.
  std::vector<api::AuditEntry> out;
  int64_t after = 0;
  for (;;) {
    auto page = stores_.cases->auditLog(after, 1000);
    if (!page) return page.error();
    if (page->empty()) break;
    for (const auto& e : *page) {
      after = e.seq;
      if (q.from && e.at < *q.from) continue;
      if (q.to && e.at >= *q.to) continue;
      if (!q.user.empty() && e.actor != q.user) continue;
      if (!q.action.empty() && e.action != q.action) continue;
      out.push_back({e.at, e.actor, e.action, e.target, e.details, e.origin});
    }
  }
  std::reverse(out.begin(), out.end());
  if (out.size() > q.limit) out.resize(q.limit);
  return out;
}

api::HealthReport GatewayBackend::health() {
  api::HealthReport h;
  storage::EventQuery probe;
  probe.limit = 1;
  if (auto r = stores_.events->query(probe); r) {
    h.checks["storage"] = "ok";
  } else {
    h.ok = false;
    h.checks["storage"] = r.error().describe();
  }
  std::error_code ec;
  const auto space = fs::space(paths_.recordingRoot, ec);
  if (ec || space.capacity == 0) {
    h.ok = false;
    h.checks["disk"] = "unknown: " + ec.message();
  } else {
    const double freePct =
        100.0 * static_cast<double>(space.available) / static_cast<double>(space.capacity);
    h.checks["disk"] = std::to_string(static_cast<int>(freePct)) + "% free";
    if (freePct < 2.0) h.ok = false;
  }
  const auto states = hooks_.states();
  const auto streaming = std::count_if(states.begin(), states.end(),
                                       [](const auto& s) { return s.state == "streaming"; });
  h.checks["cameras"] =
      std::to_string(streaming) + "/" + std::to_string(states.size()) + " streaming";
  return h;
}

}  // namespace sharpeyes::app
