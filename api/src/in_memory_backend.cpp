// InMemoryBackend: api/'s reference Backend (see the header for what it is and is not).

#include "sharpeyes/api/in_memory_backend.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "sharpeyes/core/tar.h"
#include "sharpeyes/core/util.h"

namespace sharpeyes::api {

using core::ErrorCode;
using core::makeError;
namespace fs = std::filesystem;

namespace {

bool inScope(const std::vector<core::DivisionCode>& divisions, const core::DivisionCode& d) {
  if (divisions.empty()) return true;
  return std::any_of(divisions.begin(), divisions.end(),
                     [&](const core::DivisionCode& s) { return s.contains(d); });
}

std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

InMemoryBackend::InMemoryBackend(std::string workDir) : workDir_(std::move(workDir)) {
  std::error_code ec;
  fs::create_directories(fs::path(workDir_) / "clips", ec);
  fs::create_directories(fs::path(workDir_) / "evidence", ec);
}

void InMemoryBackend::putCamera(const CameraInfo& c) {
  std::lock_guard lock(mu_);
  for (auto& x : cameras_) {
    if (x.id == c.id) {
      x = c;
      return;
    }
  }
  cameras_.push_back(c);
}

void InMemoryBackend::setState(const CameraState& s) {
  std::lock_guard lock(mu_);
  for (auto& x : states_) {
    if (x.id == s.id) {
      x = s;
      return;
    }
  }
  states_.push_back(s);
}

void InMemoryBackend::addEvent(const core::Event& e) {
  std::lock_guard lock(mu_);
  auto pos = std::upper_bound(events_.begin(), events_.end(), e.start,
                              [](core::WallTime t, const core::Event& x) { return t < x.start; });
  events_.insert(pos, e);
}

Alert InMemoryBackend::raiseAlert(const core::Event& e) {
  addEvent(e);
  Alert a;
  a.id = core::newId();
  a.event = e;
  a.history.push_back({AlertStep::kNew, "system", e.start, e.rule, ""});
  std::lock_guard lock(mu_);
  alerts_.push_back(a);
  return a;
}

void InMemoryBackend::addRecording(const core::CameraId& cam, core::TimeRange range,
                                   const std::string& path) {
  std::lock_guard lock(mu_);
  recordings_.push_back({cam, range, path});
  std::sort(recordings_.begin(), recordings_.end(),
            [](const Recording& a, const Recording& b) { return a.range.begin < b.range.begin; });
}

std::vector<AuditEntry> InMemoryBackend::auditLog() const {
  std::lock_guard lock(mu_);
  return audit_;
}

std::vector<PtzCommand> InMemoryBackend::ptzLog() const {
  std::lock_guard lock(mu_);
  return ptzLog_;
}

core::Result<std::vector<CameraInfo>> InMemoryBackend::listCameras() {
  std::lock_guard lock(mu_);
  return cameras_;
}

core::Result<CameraInfo> InMemoryBackend::getCamera(const core::CameraId& id) {
  std::lock_guard lock(mu_);
  for (const auto& c : cameras_) {
    if (c.id == id) return c;
  }
  return makeError(ErrorCode::kNotFound, "camera " + id.str() + " is not configured");
}

core::Result<std::vector<CameraState>> InMemoryBackend::cameraStates() {
  std::lock_guard lock(mu_);
  return states_;
}

core::Result<CameraInfo> InMemoryBackend::addCamera(const CameraSpec& spec) {
  std::lock_guard lock(mu_);
  for (const auto& c : cameras_) {
    if (c.id == spec.id) {
      return makeError(ErrorCode::kAlreadyExists, "camera " + spec.id.str() + " exists");
    }
  }
  CameraInfo c{spec.id,
               spec.name,
               spec.division,
               spec.ptz,
               !spec.subUrl.empty(),
               core::redactUrl(spec.mainUrl),
               core::redactUrl(spec.subUrl),
               spec.enabled};
  cameras_.push_back(c);
  CameraState s;
  s.id = spec.id;
  s.state = spec.enabled ? "connecting" : "disabled";
  s.since = core::processClock().now();
  states_.push_back(s);
  return c;
}

core::Result<CameraInfo> InMemoryBackend::updateCamera(const CameraSpec& spec) {
  std::lock_guard lock(mu_);
  for (auto& c : cameras_) {
    if (c.id == spec.id) {
      c.name = spec.name;
      c.division = spec.division;
      c.ptz = spec.ptz;
      c.hasSubStream = !spec.subUrl.empty();
      c.mainUrl = core::redactUrl(spec.mainUrl);
      c.subUrl = core::redactUrl(spec.subUrl);
      c.enabled = spec.enabled;
      return c;
    }
  }
  return makeError(ErrorCode::kNotFound, "camera " + spec.id.str() + " is not configured");
}

core::Result<void> InMemoryBackend::removeCamera(const core::CameraId& id) {
  std::lock_guard lock(mu_);
  auto n = std::erase_if(cameras_, [&](const CameraInfo& c) { return c.id == id; });
  std::erase_if(states_, [&](const CameraState& s) { return s.id == id; });
  if (n == 0) return makeError(ErrorCode::kNotFound, "camera " + id.str() + " is not configured");
  return core::okResult();
}

core::Result<void> InMemoryBackend::ptz(const core::CameraId& id, const PtzCommand& cmd) {
  std::lock_guard lock(mu_);
  ptzLog_.push_back(cmd);
  return core::okResult();
}

core::Result<EventPage> InMemoryBackend::queryEvents(const EventQuery& q) {
  std::lock_guard lock(mu_);
  EventPage page;
  size_t start = 0;
  if (!q.cursor.empty()) {
    try {
      start = std::stoul(q.cursor);
    } catch (...) {
      return makeError(ErrorCode::kInvalidArgument, "bad cursor");
    }
  }
  // Newest first.
  size_t matched = 0;
  for (auto it = events_.rbegin(); it != events_.rend(); ++it) {
    const auto& e = *it;
    if (q.from && e.start < *q.from) continue;
    if (q.to && e.start >= *q.to) continue;
    if (!q.cameras.empty() &&
        std::find(q.cameras.begin(), q.cameras.end(), e.camera) == q.cameras.end()) {
      continue;
    }
    if (!inScope(q.divisions, e.division)) continue;
    if (q.type && e.type != *q.type) continue;
    if (!q.objectClass.empty() && e.objectClass != q.objectClass) continue;
    if (e.severity < q.minSeverity) continue;
    if (matched++ < start) continue;
    if (page.events.size() == q.limit) {
      page.nextCursor = std::to_string(start + q.limit);
      break;
    }
    page.events.push_back(e);
  }
  return page;
}

core::Result<core::Event> InMemoryBackend::getEvent(const std::string& id) {
  std::lock_guard lock(mu_);
  for (const auto& e : events_) {
    if (e.id == id) return e;
  }
  return makeError(ErrorCode::kNotFound, "no event " + id);
}

core::Result<std::vector<Alert>> InMemoryBackend::queryAlerts(const AlertQuery& q) {
  std::lock_guard lock(mu_);
  std::vector<Alert> out;
  for (auto it = alerts_.rbegin(); it != alerts_.rend() && out.size() < q.limit; ++it) {
    const auto& a = *it;
    if (!inScope(q.divisions, a.event.division)) continue;
    if (q.step && a.step != *q.step) continue;
    if (q.openOnly && a.step == AlertStep::kClosed) continue;
    if (a.event.severity < q.minSeverity) continue;
    if (q.from && a.event.start < *q.from) continue;
    if (q.to && a.event.start >= *q.to) continue;
    if (!q.camera.empty() && a.event.camera != q.camera) continue;
    out.push_back(a);
  }
  return out;
}

core::Result<Alert> InMemoryBackend::getAlert(const std::string& id) {
  std::lock_guard lock(mu_);
  for (const auto& a : alerts_) {
    if (a.id == id) return a;
  }
  return makeError(ErrorCode::kNotFound, "no alert " + id);
}

core::Result<Alert> InMemoryBackend::advanceAlert(const std::string& id, AlertStep expected,
                                                  const AlertStepRecord& record) {
  std::lock_guard lock(mu_);
  for (auto& a : alerts_) {
    if (a.id != id) continue;
    if (a.step != expected) {
      return makeError(ErrorCode::kAlreadyExists,
                       "alert moved to '" + std::string(toString(a.step)) + "' meanwhile");
    }
    a.step = record.step;
    if (!record.assignee.empty()) a.assignee = record.assignee;
    a.history.push_back(record);
    return a;
  }
  return makeError(ErrorCode::kNotFound, "no alert " + id);
}

core::Result<std::string> InMemoryBackend::snapshotPath(const std::string& eventId) {
  auto e = getEvent(eventId);
  if (!e) return e.error();
  if (e->snapshotPath.empty()) return makeError(ErrorCode::kNotFound, "event has no snapshot");
  return e->snapshotPath;
}

core::Result<Timeline> InMemoryBackend::timeline(const core::CameraId& camera,
                                                 core::TimeRange range) {
  std::lock_guard lock(mu_);
  Timeline t;
  t.camera = camera;
  t.range = range;
  core::WallTime cursor = range.begin;
  for (const auto& r : recordings_) {
    if (r.camera != camera || r.range.end <= range.begin || r.range.begin >= range.end) continue;
    core::TimeRange part{std::max(r.range.begin, range.begin), std::min(r.range.end, range.end)};
    if (part.begin > cursor) t.gaps.push_back({cursor, part.begin});
    if (!t.recorded.empty() && t.recorded.back().end >= part.begin) {
      t.recorded.back().end = std::max(t.recorded.back().end, part.end);
    } else {
      t.recorded.push_back(part);
    }
    cursor = std::max(cursor, part.end);
  }
  if (cursor < range.end) t.gaps.push_back({cursor, range.end});
  return t;
}

core::Result<core::Clip> InMemoryBackend::createClip(const ClipRequest& req,
                                                     const std::string& user) {
  auto tl = timeline(req.camera, req.range);
  if (!tl) return tl.error();
  std::string source;
  core::TimeRange actual{};
  {
    std::lock_guard lock(mu_);
    for (const auto& r : recordings_) {
      if (r.camera == req.camera && r.range.end > req.range.begin &&
          r.range.begin < req.range.end) {
        source = r.path;
        actual = r.range;
        break;
      }
    }
  }
  if (source.empty()) {
    return makeError(ErrorCode::kNotFound, "no recording of " + req.camera.str() + " in range");
  }
  core::Clip clip;
  clip.id = core::newId();
  clip.camera = req.camera;
  clip.requested = req.range;
  clip.actual = actual;
  clip.gaps = tl->gaps;
  std::string path = (fs::path(workDir_) / "clips" / (clip.id + ".mp4")).string();
  std::error_code ec;
  fs::copy_file(source, path, fs::copy_options::overwrite_existing, ec);
  if (ec) return makeError(ErrorCode::kIo, "cannot write clip: " + ec.message());
  clip.path = "clips/" + clip.id + ".mp4";
  clip.bytes = fs::file_size(path, ec);
  auto h = core::sha256File(path);
  if (!h) return h.error();
  clip.sha256 = *h;
  auto src = core::sha256File(source);
  if (src) clip.sourceSegmentSha256.push_back(*src);
  {
    std::lock_guard lock(mu_);
    clips_.emplace_back(clip, path);
  }
  if (!req.caseId.empty()) {
    auto held = holdClip(req.caseId, clip.id);
    if (!held) return held.error();
  }
  return clip;
}

core::Result<core::Clip> InMemoryBackend::getClip(const std::string& id) {
  std::lock_guard lock(mu_);
  for (const auto& [c, p] : clips_) {
    if (c.id == id) return c;
  }
  return makeError(ErrorCode::kNotFound, "no clip " + id);
}

core::Result<std::string> InMemoryBackend::clipFilePath(const std::string& id) {
  std::lock_guard lock(mu_);
  for (const auto& [c, p] : clips_) {
    if (c.id == id) return p;
  }
  return makeError(ErrorCode::kNotFound, "no clip " + id);
}

core::Result<std::vector<Case>> InMemoryBackend::listCases() {
  std::lock_guard lock(mu_);
  return cases_;
}

core::Result<Case> InMemoryBackend::getCase(const std::string& id) {
  std::lock_guard lock(mu_);
  for (const auto& c : cases_) {
    if (c.id == id) return c;
  }
  return makeError(ErrorCode::kNotFound, "no case " + id);
}

core::Result<Case> InMemoryBackend::createCase(const Case& c) {
  Case k = c;
  k.id = core::newId();
  std::lock_guard lock(mu_);
  cases_.push_back(k);
  return k;
}

core::Result<Case> InMemoryBackend::holdClip(const std::string& caseId, const std::string& clipId) {
  std::lock_guard lock(mu_);
  for (auto& c : cases_) {
    if (c.id != caseId) continue;
    if (std::find(c.clipIds.begin(), c.clipIds.end(), clipId) == c.clipIds.end()) {
      c.clipIds.push_back(clipId);
    }
    return c;
  }
  return makeError(ErrorCode::kNotFound, "no case " + caseId);
}

core::Result<EvidencePackage> InMemoryBackend::exportEvidence(const std::string& caseId,
                                                              const std::string& user) {
  auto k = getCase(caseId);
  if (!k) return k.error();
  if (k->clipIds.empty()) {
    return makeError(ErrorCode::kInvalidArgument, "case " + caseId + " holds no clips");
  }
  EvidencePackage p;
  p.id = core::newId();
  p.caseId = caseId;
  p.createdBy = user;
  p.createdAt = core::processClock().now();
  p.clipIds = k->clipIds;
  p.path = (fs::path(workDir_) / "evidence" / (p.id + ".tar")).string();
  nlohmann::json items = nlohmann::json::array();
  core::TarWriter tar(p.path);
  if (!tar.ok()) return makeError(ErrorCode::kIo, "cannot write " + p.path);
  for (const auto& id : k->clipIds) {
    auto clip = getClip(id);
    auto path = clipFilePath(id);
    if (!clip || !path) return makeError(ErrorCode::kNotFound, "clip " + id + " is gone");
    std::string data = readFile(*path);
    std::string hash = core::sha256Hex(data);
    if (hash != clip->sha256) {
      return makeError(ErrorCode::kCorrupt, "clip " + id + " no longer matches its hash");
    }
    if (auto r = tar.add("clips/" + id + ".mp4", data); !r) return r.error();
    items.push_back({{"file", "clips/" + id + ".mp4"},
                     {"clip_id", id},
                     {"camera", clip->camera.str()},
                     {"from", core::formatIso8601(clip->actual.begin)},
                     {"to", core::formatIso8601(clip->actual.end)},
                     {"sha256", hash},
                     {"source_segment_sha256", clip->sourceSegmentSha256}});
  }
  nlohmann::json manifest = {{"package", p.id},
                             {"case", {{"id", k->id}, {"title", k->title}}},
                             {"exported_by", user},
                             {"exported_at", core::formatIso8601(p.createdAt)},
                             {"items", items}};
  p.manifestJson = manifest.dump(2);
  if (auto r = tar.add("manifest.json", p.manifestJson); !r) return r.error();
  if (auto r = tar.add("manifest.sha256", core::sha256Hex(p.manifestJson) + "  manifest.json\n");
      !r) {
    return r.error();
  }
  if (auto r = tar.finish(); !r) return r.error();
  auto h = core::sha256File(p.path);
  if (!h) return h.error();
  p.sha256 = *h;
  std::error_code ec;
  p.bytes = fs::file_size(p.path, ec);
  std::lock_guard lock(mu_);
  evidence_.push_back(p);
  return p;
}

core::Result<EvidencePackage> InMemoryBackend::getEvidence(const std::string& id) {
  std::lock_guard lock(mu_);
  for (const auto& p : evidence_) {
    if (p.id == id) return p;
  }
  return makeError(ErrorCode::kNotFound, "no evidence package " + id);
}

core::Result<void> InMemoryBackend::appendAudit(const AuditEntry& e) {
  std::lock_guard lock(mu_);
  audit_.push_back(e);
  return core::okResult();
}

core::Result<std::vector<AuditEntry>> InMemoryBackend::queryAudit(const AuditQuery& q) {
  std::lock_guard lock(mu_);
  std::vector<AuditEntry> out;
  for (auto it = audit_.rbegin(); it != audit_.rend() && out.size() < q.limit; ++it) {
    if (q.from && it->at < *q.from) continue;
    if (q.to && it->at >= *q.to) continue;
    if (!q.user.empty() && it->user != q.user) continue;
    if (!q.action.empty() && it->action != q.action) continue;
    out.push_back(*it);
  }
  return out;
}

HealthReport InMemoryBackend::health() {
  HealthReport h;
  h.checks["backend"] = "in-memory";
  return h;
}

}  // namespace sharpeyes::api
