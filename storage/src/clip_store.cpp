#include "sharpeyes/storage/clip_store.h"

#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "db.h"
#include "sharpeyes/core/util.h"
#include "sharpeyes/storage/database.h"

namespace sharpeyes::storage {
namespace {

using core::ErrorCode;
using core::makeError;
using detail::nowMicros;
using detail::Params;
using detail::Row;
using detail::Value;
using json = nlohmann::json;

constexpr const char* kClipColumns =
    "id, camera, requested_begin_us, requested_end_us, actual_begin_us, actual_end_us, gaps, "
    "path, bytes, sha256, source_sha256, created_by, created_us, event_id, case_id";

std::string gapsJson(const std::vector<core::TimeRange>& gaps) {
  json out = json::array();
  for (const auto& g : gaps) {
    out.push_back({core::toUnixMicros(g.begin), core::toUnixMicros(g.end)});
  }
  return out.dump();
}

std::vector<core::TimeRange> parseGaps(const std::string& text) {
  std::vector<core::TimeRange> out;
  auto j = json::parse(text, nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& g : j) {
    if (g.is_array() && g.size() == 2 && g[0].is_number_integer() && g[1].is_number_integer()) {
      out.push_back(
          {core::fromUnixMicros(g[0].get<int64_t>()), core::fromUnixMicros(g[1].get<int64_t>())});
    }
  }
  return out;
}

std::vector<std::string> parseStrings(const std::string& text) {
  std::vector<std::string> out;
  auto j = json::parse(text, nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& s : j) {
    if (s.is_string()) out.push_back(s.get<std::string>());
  }
  return out;
}

Value optionalText(const std::optional<std::string>& s) {
  return s ? Value(*s) : Value(std::monostate{});
}

ClipRecord toClip(const Row& r) {
  ClipRecord c;
  c.clip.id = r.str(0);
  c.clip.camera = core::CameraId::parse(r.str(1)).valueOr(core::CameraId{});
  c.clip.requested = {core::fromUnixMicros(r.i64(2)), core::fromUnixMicros(r.i64(3))};
  c.clip.actual = {core::fromUnixMicros(r.i64(4)), core::fromUnixMicros(r.i64(5))};
  c.clip.gaps = parseGaps(r.str(6));
  c.clip.path = r.str(7);
  c.clip.bytes = static_cast<uint64_t>(r.i64(8));
  c.clip.sha256 = r.str(9);
  c.clip.sourceSegmentSha256 = parseStrings(r.str(10));
  c.createdBy = r.str(11);
  c.createdAt = core::fromUnixMicros(r.i64(12));
  c.eventId = r.str(13);  // NULL reads as ""
  c.caseId = r.str(14);
  return c;
}

constexpr const char* kEvidenceColumns =
    "id, case_id, path, bytes, sha256, created_by, created_us, manifest";

EvidenceRecord toEvidence(const Row& r) {
  EvidenceRecord e;
  e.id = r.str(0);
  e.caseId = r.str(1);
  e.path = r.str(2);
  e.bytes = static_cast<uint64_t>(r.i64(3));
  e.sha256 = r.str(4);
  e.createdBy = r.str(5);
  e.createdAt = core::fromUnixMicros(r.i64(6));
  e.manifestJson = r.str(7);
  return e;
}

class DbClipStore final : public ClipStore {
 public:
  explicit DbClipStore(std::shared_ptr<Database> database)
      : database_(std::move(database)), db_(database_->db()) {}

  core::Result<ClipRecord> recordClip(const core::Clip& clip, const std::string& createdBy,
                                      const std::optional<std::string>& eventId,
                                      const std::optional<std::string>& caseId) override {
    if (clip.id.empty() || clip.camera.empty() || clip.path.empty()) {
      return makeError(ErrorCode::kInvalidArgument, "a clip needs an id, a camera and a path");
    }
    if ((eventId && eventId->empty()) || (caseId && caseId->empty())) {
      return makeError(ErrorCode::kInvalidArgument,
                       "clip " + clip.id + ": an event or case id, when given, is not empty");
    }
    auto tx = detail::Tx::begin(db_);
    if (!tx) return tx.error();
    if (caseId) {
      auto exists = requireCase(*caseId);
      if (!exists) return exists.error();
    }
    json sources = clip.sourceSegmentSha256;
    const int64_t now = nowMicros();
    auto r = db_.execute(
        "INSERT INTO clips (id, camera, requested_begin_us, requested_end_us, actual_begin_us, "
        "actual_end_us, gaps, path, bytes, sha256, source_sha256, created_by, created_us, "
        "event_id, case_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
        "$15)",
        {clip.id, clip.camera.str(), core::toUnixMicros(clip.requested.begin),
         core::toUnixMicros(clip.requested.end), core::toUnixMicros(clip.actual.begin),
         core::toUnixMicros(clip.actual.end), gapsJson(clip.gaps), clip.path,
         static_cast<int64_t>(clip.bytes), clip.sha256, sources.dump(), createdBy, now,
         optionalText(eventId), optionalText(caseId)});
    if (!r) {
      if (r.error().code == ErrorCode::kAlreadyExists) {
        return makeError(ErrorCode::kAlreadyExists, "clip " + clip.id + " is already recorded");
      }
      return r.error();
    }
    auto c = (*tx)->commit();
    if (!c) return c.error();
    return ClipRecord{clip, createdBy, core::fromUnixMicros(now), eventId.value_or(""),
                      caseId.value_or("")};
  }

  core::Result<ClipRecord> getClip(const std::string& id) override {
    auto rows =
        db_.query(std::string("SELECT ") + kClipColumns + " FROM clips WHERE id = $1", {id});
    if (!rows) return rows.error();
    if (rows->empty()) return makeError(ErrorCode::kNotFound, "no clip " + id);
    return toClip(rows->front());
  }

  core::Result<std::vector<ClipRecord>> clipsForEvent(const std::string& eventId) override {
    return clips(" WHERE event_id = $1 ORDER BY seq", {eventId});
  }

  core::Result<std::vector<ClipRecord>> clipsForCase(const std::string& caseId) override {
    return clips(
        " WHERE case_id = $1 OR id IN (SELECT ref FROM case_items WHERE case_id = $1 AND kind = "
        "'clip') ORDER BY seq",
        {caseId});
  }

  core::Result<EvidenceRecord> recordEvidence(const EvidenceRecord& in) override {
    if (in.path.empty())
      return makeError(ErrorCode::kInvalidArgument, "an evidence package needs a path");
    EvidenceRecord e = in;
    if (e.id.empty()) e.id = core::newId();
    const int64_t createdUs =
        e.createdAt == core::WallTime{} ? nowMicros() : core::toUnixMicros(e.createdAt);
    e.createdAt = core::fromUnixMicros(createdUs);
    auto tx = detail::Tx::begin(db_);
    if (!tx) return tx.error();
    if (!e.caseId.empty()) {
      auto exists = requireCase(e.caseId);
      if (!exists) return exists.error();
    }
    auto r = db_.execute(
        "INSERT INTO evidence (id, case_id, path, bytes, sha256, created_by, created_us, manifest) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        {e.id, e.caseId.empty() ? Value(std::monostate{}) : Value(e.caseId), e.path,
         static_cast<int64_t>(e.bytes), e.sha256, e.createdBy, createdUs, e.manifestJson});
    if (!r) {
      if (r.error().code == ErrorCode::kAlreadyExists) {
        return makeError(ErrorCode::kAlreadyExists,
                         "evidence package " + e.id + " is already recorded");
      }
      return r.error();
    }
    for (size_t i = 0; i < e.clipIds.size(); ++i) {
      // Checked here rather than left to the foreign key: SQLite reports a broken reference as
      // a constraint (kAlreadyExists), which would mislead the caller.
      auto known = db_.query("SELECT 1 FROM clips WHERE id = $1", {e.clipIds[i]});
      if (!known) return known.error();
      if (known->empty()) {
        return makeError(ErrorCode::kNotFound, "evidence package " + e.id + ": no clip " +
                                                   e.clipIds[i] + " was recorded");
      }
      auto c = db_.execute(
          "INSERT INTO evidence_clips (evidence_id, position, clip_id) VALUES ($1, $2, $3)",
          {e.id, static_cast<int64_t>(i), e.clipIds[i]});
      if (!c) return c.error();
    }
    auto c = (*tx)->commit();
    if (!c) return c.error();
    return e;
  }

  core::Result<EvidenceRecord> getEvidence(const std::string& id) override {
    auto out = evidence(" WHERE id = $1", {id});
    if (!out) return out.error();
    if (out->empty()) return makeError(ErrorCode::kNotFound, "no evidence package " + id);
    return std::move(out->front());
  }

  core::Result<std::vector<EvidenceRecord>> evidenceForCase(const std::string& caseId) override {
    return evidence(" WHERE case_id = $1 ORDER BY seq", {caseId});
  }

 private:
  core::Result<void> requireCase(const std::string& caseId) {
    auto rows = db_.query("SELECT 1 FROM cases WHERE id = $1", {caseId});
    if (!rows) return rows.error();
    if (rows->empty()) return makeError(ErrorCode::kNotFound, "no case " + caseId);
    return {};
  }

  core::Result<std::vector<ClipRecord>> clips(const std::string& whereOrder,
                                              const std::vector<Value>& params) {
    auto rows =
        db_.query(std::string("SELECT ") + kClipColumns + " FROM clips" + whereOrder, params);
    if (!rows) return rows.error();
    std::vector<ClipRecord> out;
    out.reserve(rows->size());
    for (const Row& r : *rows) out.push_back(toClip(r));
    return out;
  }

  // Packages with their clip lists (one statement for the lists of all of them).
  core::Result<std::vector<EvidenceRecord>> evidence(const std::string& whereOrder,
                                                     const std::vector<Value>& params) {
    std::unique_lock lock(db_.mutex());
    auto rows = db_.query(std::string("SELECT ") + kEvidenceColumns + " FROM evidence" + whereOrder,
                          params);
    if (!rows) return rows.error();
    std::vector<EvidenceRecord> out;
    out.reserve(rows->size());
    for (const Row& r : *rows) out.push_back(toEvidence(r));
    if (out.empty()) return out;
    Params ids;
    const std::string list = ids.addList(out, [](const EvidenceRecord& e) { return Value(e.id); });
    auto clipRows =
        db_.query("SELECT evidence_id, clip_id FROM evidence_clips WHERE evidence_id IN (" + list +
                      ") ORDER BY evidence_id, position",
                  ids.values());
    if (!clipRows) return clipRows.error();
    std::map<std::string, EvidenceRecord*> byId;
    for (auto& e : out) byId[e.id] = &e;
    for (const Row& r : *clipRows) {
      auto it = byId.find(r.str(0));
      if (it != byId.end()) it->second->clipIds.push_back(r.str(1));
    }
    return out;
  }

  std::shared_ptr<Database> database_;
  detail::Db& db_;
};

}  // namespace

core::Result<std::unique_ptr<ClipStore>> ClipStore::open(std::shared_ptr<Database> db) {
  if (!db) return makeError(ErrorCode::kInvalidArgument, "no database");
  return std::unique_ptr<ClipStore>(new DbClipStore(std::move(db)));
}

}  // namespace sharpeyes::storage
