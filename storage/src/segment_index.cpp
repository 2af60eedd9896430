#include "sharpeyes/storage/segment_index.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <span>

#include "chain.h"
#include "db.h"
#include "sharpeyes/core/util.h"
#include "sharpeyes/storage/database.h"

namespace sharpeyes::storage {
namespace detail {

std::string segmentChainHash(const std::string& prevChain, const core::Segment& s) {
  // Fields separated by a byte that cannot occur in any of them, so no two rows collide.
  std::string text = prevChain;
  for (const std::string& f :
       {s.camera.str(), std::to_string(core::toUnixMicros(s.start)),
        std::to_string(core::toUnixMicros(s.end)),
        std::to_string(
            std::chrono::duration_cast<std::chrono::microseconds>(s.mediaDuration).count()),
        s.path, std::to_string(s.bytes), s.sha256}) {
    text.push_back('\x1f');
    text += f;
  }
  return core::sha256Hex(text);
}

}  // namespace detail

namespace {

using core::ErrorCode;
using core::makeError;
using detail::micros;
using detail::nowMicros;
using detail::Row;

// Ids per batched statement: well inside SQLite's limit on bound parameters (999 in old builds).
constexpr size_t kIdsPerStatement = 500;
using detail::Value;

constexpr const char* kColumns =
    "id, camera, start_us, end_us, media_duration_us, path, bytes, codec, width, height, sha256";

core::Segment toSegment(const Row& r) {
  core::Segment s;
  s.id = r.i64(0);
  s.camera = core::CameraId::parse(r.str(1)).valueOr(core::CameraId{});
  s.start = core::fromUnixMicros(r.i64(2));
  s.end = core::fromUnixMicros(r.i64(3));
  s.mediaDuration = std::chrono::microseconds(r.i64(4));
  s.path = r.str(5);
  s.bytes = static_cast<uint64_t>(r.i64(6));
  s.codec = r.str(7);
  s.width = static_cast<int>(r.i64(8));
  s.height = static_cast<int>(r.i64(9));
  s.sha256 = r.str(10);
  return s;
}

std::vector<core::Segment> toSegments(const std::vector<Row>& rows) {
  std::vector<core::Segment> out;
  out.reserve(rows.size());
  for (const Row& r : rows) out.push_back(toSegment(r));
  return out;
}

class DbSegmentIndex final : public SegmentIndex {
 public:
  using SegmentIndex::markGarbageMany;
  using SegmentIndex::remove;
  explicit DbSegmentIndex(std::shared_ptr<Database> database)
      : database_(std::move(database)), db_(database_->db()) {}

  core::Result<int64_t> insert(const core::Segment& segment) override {
    auto tx = detail::Tx::begin(db_);
    if (!tx) return tx.error();
    auto id = insertLocked(segment);
    if (!id) return id;
    auto c = (*tx)->commit();
    if (!c) return c.error();
    return id;
  }

  core::Result<int64_t> insertMany(const std::vector<core::Segment>& segments) override {
    auto tx = detail::Tx::begin(db_);
    if (!tx) return tx.error();
    for (const auto& s : segments) {
      auto id = insertLocked(s);
      if (!id) return id.error();
    }
    auto c = (*tx)->commit();
    if (!c) return c.error();
    return static_cast<int64_t>(segments.size());
  }

  core::Result<std::vector<core::Segment>> query(const core::CameraId& camera,
                                                 const core::TimeRange& range) override {
    auto rows =
        db_.query(std::string("SELECT ") + kColumns + kOverlapping + " ORDER BY start_us, id",
                  overlapping(camera, range));
    if (!rows) return rows.error();
    return toSegments(*rows);
  }

  core::Result<std::vector<core::Segment>> all() override {
    auto rows = db_.query(std::string("SELECT ") + kColumns +
                          " FROM segments ORDER BY camera, start_us, id");
    if (!rows) return rows.error();
    return toSegments(*rows);
  }

  core::Result<std::optional<core::Segment>> findByPath(const std::string& path) override {
    auto rows =
        db_.query(std::string("SELECT ") + kColumns + " FROM segments WHERE path = $1", {path});
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<core::Segment>{};
    return std::optional<core::Segment>(toSegment(rows->front()));
  }

  core::Result<std::optional<core::Segment>> get(int64_t id) override {
    auto rows = db_.query(std::string("SELECT ") + kColumns + " FROM segments WHERE id = $1", {id});
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<core::Segment>{};
    return std::optional<core::Segment>(toSegment(rows->front()));
  }

  core::Result<void> remove(int64_t id, const std::string& reason,
                            const std::function<core::Result<void>()>& alsoInTransaction) override {
    return dropWithTombstone(id, reason, alsoInTransaction);
  }

  core::Result<std::string> integrityCheck() override { return db_.integrityCheck(); }

  core::Result<std::vector<core::CameraId>> cameras() override {
    auto rows = db_.query("SELECT camera FROM segment_chain_heads ORDER BY camera");
    if (!rows) return rows.error();
    std::vector<core::CameraId> out;
    for (const Row& r : *rows) {
      if (auto id = core::CameraId::parse(r.str(0))) out.push_back(*id);
    }
    return out;
  }

  core::Result<void> describeCameras(const std::vector<CameraLabel>& labels) override {
    for (const auto& label : labels) {
      if (label.division.empty()) {
        return core::makeError(core::ErrorCode::kInvalidArgument,
                               "camera " + label.camera.str() + ": a label needs a division code");
      }
    }
    auto tx = detail::Tx::begin(db_);
    if (!tx) return tx.error();
    for (const auto& label : labels) {
      auto n = db_.execute(
          "INSERT INTO camera_directory (camera, name, division, updated_us) VALUES ($1, $2, $3, "
          "$4) ON CONFLICT (camera) DO UPDATE SET name = excluded.name, division = "
          "excluded.division, updated_us = excluded.updated_us WHERE camera_directory.name <> "
          "excluded.name OR camera_directory.division <> excluded.division",
          {label.camera.str(), label.name, label.division.str(), nowMicros()});
      if (!n) return n.error();
    }
    auto c = (*tx)->commit();
    if (!c) return c.error();
    return core::okResult();
  }

  core::Result<std::optional<CameraLabel>> cameraLabel(const core::CameraId& camera) override {
    auto rows =
        db_.query("SELECT name, division FROM camera_directory WHERE camera = $1", {camera.str()});
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<CameraLabel>{};
    auto division = core::DivisionCode::parse(rows->front().str(1));
    if (!division) {
      return core::makeError(core::ErrorCode::kCorrupt, "camera_directory: camera " + camera.str() +
                                                            " has a bad division '" +
                                                            rows->front().str(1) + "'");
    }
    return std::optional<CameraLabel>(CameraLabel{camera, rows->front().str(0), *division});
  }

  core::Result<std::vector<core::Segment>> oldest(const std::optional<core::CameraId>& camera,
                                                  int limit) override {
    std::string sql = std::string("SELECT ") + kColumns +
                      " FROM segments s WHERE NOT EXISTS (SELECT 1 FROM segment_garbage g "
                      "WHERE g.segment_id = s.id) AND NOT EXISTS (SELECT 1 FROM holds h WHERE "
                      "h.camera = s.camera AND h.lifted_us IS NULL AND h.begin_us < s.end_us AND "
                      "h.end_us > s.start_us)";
    std::vector<Value> params{static_cast<int64_t>(limit)};
    if (camera) {
      sql += " AND camera = $2";
      params.emplace_back(camera->str());
    }
    sql += " ORDER BY start_us, id LIMIT $1";
    auto rows = db_.query(sql, params);
    if (!rows) return rows.error();
    return toSegments(*rows);
  }

  core::Result<uint64_t> totalBytes() override {
    // Kept per camera by every insert and deletion (migration 11): never a scan of the rows.
    auto rows = db_.query("SELECT COALESCE(SUM(bytes), 0) FROM segment_chain_heads");
    if (!rows) return rows.error();
    return static_cast<uint64_t>(rows->front().i64(0));
  }

  core::Result<void> markGarbage(int64_t id, const std::string& reason) override {
    auto n = db_.execute(
        "INSERT INTO segment_garbage (segment_id, path, reason, marked_us) "
        "SELECT id, path, $2, $3 FROM segments WHERE id = $1 ON CONFLICT (segment_id) DO NOTHING",
        {id, reason, nowMicros()});
    if (!n) return n.error();
    return {};
  }

  core::Result<std::vector<GarbageEntry>> garbage() override {
    auto rows =
        db_.query("SELECT segment_id, path, reason FROM segment_garbage ORDER BY segment_id");
    if (!rows) return rows.error();
    std::vector<GarbageEntry> out;
    for (const Row& r : *rows) out.push_back({r.i64(0), r.str(1), r.str(2)});
    return out;
  }

  core::Result<void> dropGarbage(int64_t id) override {
    auto rows = db_.query("SELECT reason FROM segment_garbage WHERE segment_id = $1", {id});
    if (!rows) return rows.error();
    if (rows->empty()) {
      return makeError(ErrorCode::kNotFound, "segment " + std::to_string(id) + " is not garbage");
    }
    return dropWithTombstone(id, rows->front().str(0));
  }

  core::Result<bool> isGarbage(int64_t id) override {
    auto rows = db_.query("SELECT 1 FROM segment_garbage WHERE segment_id = $1", {id});
    if (!rows) return rows.error();
    return !rows->empty();
  }

  // Batched: a handful of statements per kIdsPerStatement ids instead of several per id, which
  // on PostgreSQL (one network round trip per statement) made retention crawl.
  core::Result<void> markGarbageMany(
      const std::vector<int64_t>& ids, const std::string& reason,
      const std::function<core::Result<void>()>& alsoInTransaction) override {
    auto tx = detail::Tx::begin(db_);
    if (!tx) return tx.error();
    const int64_t now = nowMicros();
    for (size_t at = 0; at < ids.size(); at += kIdsPerStatement) {
      const std::span<const int64_t> chunk(ids.data() + at,
                                           std::min(kIdsPerStatement, ids.size() - at));
      detail::Params p;
      const std::string r = p.add(reason);
      const std::string t = p.add(now);
      const std::string list = p.addList(chunk, [](int64_t id) { return Value(id); });
      auto n = db_.execute(
          std::string("INSERT INTO segment_garbage (segment_id, path, reason, marked_us) SELECT "
                      "id, path, ")
              .append(r)
              .append(", ")
              .append(t)
              .append(" FROM segments WHERE id IN (")
              .append(list)
              .append(") ON CONFLICT (segment_id) DO NOTHING"),
          p.values());
      if (!n) return n.error();
    }
    if (alsoInTransaction) {
      auto also = alsoInTransaction();
      if (!also) return also;
    }
    return (*tx)->commit();
  }

  // Same effect as dropGarbage() on each id, all or nothing: kNotFound (and nothing dropped)
  // when one of them is not a garbage row.
  core::Result<void> dropGarbageMany(const std::vector<int64_t>& ids) override {
    std::vector<int64_t> unique(ids);
    std::sort(unique.begin(), unique.end());
    unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
    auto tx = detail::Tx::begin(db_);
    if (!tx) return tx.error();
    std::vector<Doomed> doomed;
    doomed.reserve(unique.size());
    for (size_t at = 0; at < unique.size(); at += kIdsPerStatement) {
      const std::span<const int64_t> chunk(unique.data() + at,
                                           std::min(kIdsPerStatement, unique.size() - at));
      detail::Params p;
      const std::string list = p.addList(chunk, [](int64_t id) { return Value(id); });
      auto rows = db_.query(std::string("SELECT ") + kDoomedColumns +
                                " FROM segments s JOIN segment_garbage g ON g.segment_id = s.id "
                                "WHERE s.id IN (" +
                                list + ")",
                            p.values());
      if (!rows) return rows.error();
      if (rows->size() != chunk.size()) return notAllGarbage(chunk);
      for (const Row& r : *rows) doomed.push_back(toDoomed(r));
    }
    auto recorded = recordDeletions(std::move(doomed));
    if (!recorded) return recorded;
    for (size_t at = 0; at < unique.size(); at += kIdsPerStatement) {
      const std::span<const int64_t> chunk(unique.data() + at,
                                           std::min(kIdsPerStatement, unique.size() - at));
      detail::Params q;
      const std::string only = q.addList(chunk, [](int64_t id) { return Value(id); });
      auto d = db_.execute("DELETE FROM segments WHERE id IN (" + only + ")", q.values());
      if (!d) return d.error();
      auto g =
          db_.execute("DELETE FROM segment_garbage WHERE segment_id IN (" + only + ")", q.values());
      if (!g) return g.error();
    }
    return (*tx)->commit();
  }

  core::Result<ChainReport> verifyChain(const core::CameraId& camera) override {
    // One consistent snapshot of rows, deletion runs and head: the connection's mutex is held
    // until the last row is read. The rows are read and checked in batches by id, so the memory
    // is one batch's: read at once, one camera's 839 K rows (100 days) took ~780 MB.
    std::unique_lock lock(db_.mutex());
    auto idRows =
        db_.query("SELECT id FROM segments WHERE camera = $1 ORDER BY id", {camera.str()});
    if (!idRows) return idRows.error();
    std::vector<int64_t> ids;
    ids.reserve(idRows->size());
    for (const Row& r : *idRows) ids.push_back(r.i64(0));
    idRows->clear();
    idRows->shrink_to_fit();
    auto tombs =
        db_.query("SELECT prev_chain, chain, segments FROM segment_deletions WHERE camera = $1",
                  {camera.str()});
    if (!tombs) return tombs.error();
    auto head =
        db_.query("SELECT chain FROM segment_chain_heads WHERE camera = $1", {camera.str()});
    if (!head) return head.error();

    // A deletion run's last chain value -> (the value before its first row, rows it covers).
    std::map<std::string, std::pair<std::string, int64_t>> tombPrev;
    for (const Row& t : *tombs) tombPrev[t.str(1)] = {t.str(0), t.i64(2)};

    ChainReport report;
    std::string expected = detail::kGenesisChain;
    for (size_t at = 0; at < ids.size(); at += kIdsPerStatement) {
      const std::span<const int64_t> chunk(ids.data() + at,
                                           std::min(kIdsPerStatement, ids.size() - at));
      detail::Params p;
      const std::string list = p.addList(chunk, [](int64_t id) { return Value(id); });
      auto rows =
          db_.query(std::string("SELECT ") + kColumns +
                        ", prev_chain, chain FROM segments WHERE id IN (" + list + ") ORDER BY id",
                    p.values());
      if (!rows) return rows.error();
      checkChainRows(*rows, tombPrev, expected, report);
    }
    lock.unlock();
    if (!head->empty()) {
      std::string cur = head->front().str(0);
      while (cur != expected) {
        auto it = tombPrev.find(cur);
        if (it == tombPrev.end()) break;
        cur = it->second.first;
      }
      if (cur != expected) {
        report.problems.push_back("the newest segment rows of " + camera.str() +
                                  " were removed without a trace");
      }
    } else if (!ids.empty()) {
      report.problems.push_back("no chain head for " + camera.str());
    }
    return report;
  }

  // One batch of a camera's rows, in id order, against the chain value expected before it.
  static void checkChainRows(const std::vector<Row>& rows,
                             const std::map<std::string, std::pair<std::string, int64_t>>& tombPrev,
                             std::string& expected, ChainReport& report) {
    for (const Row& r : rows) {
      const core::Segment s = toSegment(r);
      const std::string prev = r.str(11);
      const std::string chain = r.str(12);
      ++report.rowsChecked;
      if (detail::segmentChainHash(prev, s) != chain) {
        report.problems.push_back("segment " + std::to_string(s.id) + " (" + s.path +
                                  ") was altered: its chain hash does not match its fields");
      }
      if (prev != expected) {
        // Walk back over legitimately deleted rows.
        std::string cur = prev;
        int64_t crossed = 0;
        while (cur != expected) {
          auto it = tombPrev.find(cur);
          if (it == tombPrev.end()) break;
          cur = it->second.first;
          crossed += it->second.second;
        }
        if (cur != expected) {
          report.problems.push_back("chain broken before segment " + std::to_string(s.id) + " (" +
                                    s.path + "): a row is missing or was altered");
        } else {
          report.tombstonesCrossed += crossed;
        }
      }
      expected = chain;
    }
  }

  core::Result<std::vector<DeletionRun>> deletions(const core::CameraId& camera,
                                                   const core::TimeRange& range) override {
    auto rows = db_.query(
        "SELECT first_id, last_id, segments, start_us, end_us, bytes, reason, path, deleted_us "
        "FROM segment_deletions WHERE camera = $1 AND (start_us IS NULL OR (start_us < $3 AND "
        "end_us > $2)) ORDER BY first_id",
        {camera.str(), core::toUnixMicros(range.begin), core::toUnixMicros(range.end)});
    if (!rows) return rows.error();
    std::vector<DeletionRun> out;
    out.reserve(rows->size());
    for (const Row& r : *rows) {
      DeletionRun d;
      d.firstId = r.i64(0);
      d.lastId = r.i64(1);
      d.segments = r.i64(2);
      if (!r.isNull(3) && !r.isNull(4)) {
        d.recorded =
            core::TimeRange{core::fromUnixMicros(r.i64(3)), core::fromUnixMicros(r.i64(4))};
      }
      if (!r.isNull(5)) d.bytes = static_cast<uint64_t>(r.i64(5));
      d.reason = r.str(6);
      if (!r.isNull(7)) d.path = r.str(7);
      d.lastDeleted = core::fromUnixMicros(r.i64(8));
      out.push_back(std::move(d));
    }
    return out;
  }

  core::Result<Timeline> timeline(const core::CameraId& camera, const core::TimeRange& range,
                                  core::Duration tolerance) override {
    // Only the two times, in start order: served from the covering index
    // segments_camera_start_end (migration 8) without reading the table, whose rows lie in the
    // order all cameras recorded them (one camera-day touched ~8 640 table pages).
    auto rows =
        db_.query(std::string("SELECT start_us, end_us") + kOverlapping + " ORDER BY start_us",
                  overlapping(camera, range));
    if (!rows) return rows.error();
    Timeline t;
    for (const Row& r : *rows) {
      const core::WallTime b = std::max(core::fromUnixMicros(r.i64(0)), range.begin);
      const core::WallTime e = std::min(core::fromUnixMicros(r.i64(1)), range.end);
      if (e <= b) continue;
      if (!t.covered.empty() && b <= t.covered.back().end + tolerance) {
        t.covered.back().end = std::max(t.covered.back().end, e);
      } else {
        t.covered.push_back({b, e});
      }
    }
    core::WallTime cursor = range.begin;
    for (const auto& c : t.covered) {
      if (c.begin > cursor) t.gaps.push_back({cursor, c.begin});
      cursor = std::max(cursor, c.end);
      t.coveredTotal += c.end - c.begin;
    }
    if (cursor < range.end) t.gaps.push_back({cursor, range.end});
    return t;
  }

 private:
  // Longest segment the index expects (10 s default; an hour is far beyond any configuration).
  static constexpr int64_t kMaxSegmentUs = 3600LL * 1000 * 1000;

  // One camera's segments overlapping a range (parameters: overlapping()). Segments are at most
  // kMaxSegmentUs long: bounding start from below lets the (camera, start_us, ...) index do all
  // the work even on a year of rows.
  static constexpr const char* kOverlapping =
      " FROM segments WHERE camera = $1 AND start_us < $2 AND end_us > $3 AND start_us >= $4";
  static std::vector<Value> overlapping(const core::CameraId& camera,
                                        const core::TimeRange& range) {
    return {camera.str(), core::toUnixMicros(range.end), core::toUnixMicros(range.begin),
            core::toUnixMicros(range.begin) - kMaxSegmentUs};
  }

  core::Result<int64_t> insertLocked(const core::Segment& s) {
    if (s.camera.empty() || s.path.empty()) {
      return makeError(ErrorCode::kInvalidArgument, "segment without camera or path");
    }
    if (s.end < s.start) {
      return makeError(ErrorCode::kInvalidArgument, "segment " + s.path + " ends before it starts");
    }
    auto head =
        db_.query("SELECT chain FROM segment_chain_heads WHERE camera = $1", {s.camera.str()});
    if (!head) return head.error();
    const std::string prev = head->empty() ? detail::kGenesisChain : head->front().str(0);
    const std::string chain = detail::segmentChainHash(prev, s);
    auto rows = db_.query(
        "INSERT INTO segments (camera, start_us, end_us, media_duration_us, path, bytes, codec, "
        "width, height, sha256, prev_chain, chain, indexed_us) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        {s.camera.str(), core::toUnixMicros(s.start), core::toUnixMicros(s.end),
         micros(s.mediaDuration), s.path, static_cast<int64_t>(s.bytes), s.codec,
         static_cast<int64_t>(s.width), static_cast<int64_t>(s.height), s.sha256, prev, chain,
         nowMicros()});
    if (!rows) return rows.error();
    const int64_t id = rows->front().i64(0);
    auto up = db_.execute(
        "INSERT INTO segment_chain_heads (camera, chain, last_id, bytes) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (camera) DO UPDATE SET chain = excluded.chain, last_id = excluded.last_id, "
        "bytes = segment_chain_heads.bytes + excluded.bytes",
        {s.camera.str(), chain, id, static_cast<int64_t>(s.bytes)});
    if (!up) return up.error();
    return id;
  }

  // The error dropGarbageMany() reports: the first id that is not a garbage row (or has no
  // segment row left), as dropGarbage() would for it.
  core::Error notAllGarbage(std::span<const int64_t> ids) {
    for (int64_t id : ids) {
      auto rows = db_.query(
          "SELECT 1 FROM segment_garbage g JOIN segments s ON s.id = g.segment_id "
          "WHERE g.segment_id = $1",
          {id});
      if (!rows) return rows.error();
      if (rows->empty()) {
        return makeError(ErrorCode::kNotFound,
                         "segment " + std::to_string(id) + " is not garbage (or has no row)");
      }
    }
    return makeError(ErrorCode::kInternal, "garbage rows changed during a drop");
  }

  core::Result<void> dropWithTombstone(
      int64_t id, const std::string& reason,
      const std::function<core::Result<void>()>& alsoInTransaction = {}) {
    auto tx = detail::Tx::begin(db_);
    if (!tx) return tx.error();
    auto rows = db_.query(std::string("SELECT ") + kDoomedColumns +
                              " FROM segments s LEFT JOIN segment_garbage g ON g.segment_id = "
                              "s.id WHERE s.id = $1",
                          {id});
    if (!rows) return rows.error();
    if (rows->empty()) {
      return makeError(ErrorCode::kNotFound, "no segment " + std::to_string(id));
    }
    Doomed d = toDoomed(rows->front());
    d.reason = reason;
    auto recorded = recordDeletions({std::move(d)});
    if (!recorded) return recorded;
    auto del = db_.execute("DELETE FROM segments WHERE id = $1", {id});
    if (!del) return del.error();
    auto g = db_.execute("DELETE FROM segment_garbage WHERE segment_id = $1", {id});
    if (!g) return g.error();
    if (alsoInTransaction) {
      auto also = alsoInTransaction();
      if (!also) return also;
    }
    return (*tx)->commit();
  }

  // --- Deletion runs (migration 10) ---

  // A segment row about to be deleted, as its deletion run needs it.
  struct Doomed {
    int64_t id = 0;
    std::string camera;
    int64_t startUs = 0;
    int64_t endUs = 0;
    int64_t bytes = 0;
    std::string path;
    std::string sha256;
    std::string prevChain;
    std::string chain;
    std::string reason;
  };
  static constexpr const char* kDoomedColumns =
      "s.id, s.camera, s.start_us, s.end_us, s.bytes, s.path, s.sha256, s.prev_chain, s.chain, "
      "g.reason";
  static Doomed toDoomed(const Row& r) {
    return {r.i64(0), r.str(1), r.i64(2), r.i64(3), r.i64(4),
            r.str(5), r.str(6), r.str(7), r.str(8), r.isNull(9) ? std::string() : r.str(9)};
  }

  // Consecutive rows of one camera's chain deleted for one reason. Times and bytes are unknown
  // (nullopt) in runs that include a tombstone of a version before migration 10.
  struct Run {
    int64_t rowId = 0;  // in segment_deletions; 0 for a run not stored yet
    int64_t firstId = 0;
    int64_t lastId = 0;
    int64_t segments = 0;
    std::optional<int64_t> startUs;
    std::optional<int64_t> endUs;
    std::optional<int64_t> bytes;
    std::string prevChain;
    std::string chain;
    std::optional<std::string> path;  // of a one-segment run only
    std::optional<std::string> sha256;
  };
  static constexpr const char* kRunColumns =
      "id, first_id, last_id, segments, start_us, end_us, bytes, prev_chain, chain, path, sha256";
  static Run toRun(const Row& r) {
    auto opt = [&](size_t i) { return r.isNull(i) ? std::nullopt : std::optional(r.i64(i)); };
    auto optStr = [&](size_t i) { return r.isNull(i) ? std::nullopt : std::optional(r.str(i)); };
    return {r.i64(0), r.i64(1), r.i64(2), r.i64(3),  opt(4),    opt(5),
            opt(6),   r.str(7), r.str(8), optStr(9), optStr(10)};
  }
  // `a` directly followed by `b` in the chain, as one run (stored as `a`'s row if it has one).
  static Run joined(const Run& a, const Run& b) {
    Run r;
    r.rowId = a.rowId != 0 ? a.rowId : b.rowId;
    r.firstId = a.firstId;
    r.lastId = b.lastId;
    r.segments = a.segments + b.segments;
    if (a.startUs && b.startUs) r.startUs = std::min(*a.startUs, *b.startUs);
    if (a.endUs && b.endUs) r.endUs = std::max(*a.endUs, *b.endUs);
    if (a.bytes && b.bytes) r.bytes = *a.bytes + *b.bytes;
    r.prevChain = a.prevChain;
    r.chain = b.chain;
    return r;
  }

  // Records the deletion of `rows` (inside the caller's transaction, before the rows go):
  // rows that follow each other in a camera's chain with one reason form a run, and a run that
  // touches a stored run of the same reason (before or after it) is merged into it. Retention
  // deleting a camera's oldest rows day after day therefore keeps extending one row. Their
  // bytes come off their camera's total in segment_chain_heads (migration 11).
  core::Result<void> recordDeletions(std::vector<Doomed> rows) {
    std::sort(rows.begin(), rows.end(), [](const Doomed& a, const Doomed& b) {
      return a.camera != b.camera ? a.camera < b.camera : a.id < b.id;
    });
    const int64_t now = nowMicros();
    std::map<std::string, int64_t> bytesGone;  // per camera, off segment_chain_heads.bytes
    for (const Doomed& r : rows) bytesGone[r.camera] += r.bytes;
    for (const auto& [camera, bytes] : bytesGone) {
      auto n = db_.execute("UPDATE segment_chain_heads SET bytes = bytes - $2 WHERE camera = $1",
                           {camera, bytes});
      if (!n) return n.error();
    }
    for (size_t i = 0; i < rows.size();) {
      const Doomed& first = rows[i];
      Run run;
      run.firstId = first.id;
      run.startUs = first.startUs;
      run.endUs = first.endUs;
      run.bytes = 0;
      run.prevChain = first.prevChain;
      size_t j = i;
      for (; j < rows.size(); ++j) {
        const Doomed& r = rows[j];
        if (j > i && (r.camera != first.camera || r.reason != first.reason ||
                      r.prevChain != rows[j - 1].chain)) {
          break;
        }
        run.lastId = r.id;
        ++run.segments;
        run.startUs = std::min(*run.startUs, r.startUs);
        run.endUs = std::max(*run.endUs, r.endUs);
        *run.bytes += r.bytes;
        run.chain = r.chain;
      }
      if (run.segments == 1) {
        run.path = first.path;
        run.sha256 = first.sha256;
      }
      auto stored = storeRun(first.camera, first.reason, std::move(run), now);
      if (!stored) return stored;
      i = j;
    }
    return core::okResult();
  }

  core::Result<void> storeRun(const std::string& camera, const std::string& reason, Run run,
                              int64_t now) {
    auto find = [&](const char* column,
                    const std::string& value) -> core::Result<std::optional<Run>> {
      auto rows = db_.query(std::string("SELECT ") + kRunColumns +
                                " FROM segment_deletions WHERE camera = $1 AND reason = $2 AND " +
                                column + " = $3",
                            {camera, reason, value});
      if (!rows) return rows.error();
      if (rows->empty()) return std::optional<Run>{};
      return std::optional<Run>(toRun(rows->front()));
    };
    auto before = find("chain", run.prevChain);  // the stored run this one continues
    if (!before) return before.error();
    auto after = find("prev_chain", run.chain);  // the stored run that continues this one
    if (!after) return after.error();
    if (*before) run = joined(**before, run);
    if (*after) {
      if (run.rowId != 0) {
        auto gone = db_.execute("DELETE FROM segment_deletions WHERE id = $1", {(*after)->rowId});
        if (!gone) return gone.error();
        (*after)->rowId = 0;
      }
      run = joined(run, **after);
    }
    auto opt = [](const std::optional<int64_t>& v) { return v ? Value(*v) : Value(); };
    auto optStr = [](const std::optional<std::string>& v) { return v ? Value(*v) : Value(); };
    if (run.rowId != 0) {
      auto n = db_.execute(
          "UPDATE segment_deletions SET first_id = $2, last_id = $3, segments = $4, start_us = "
          "$5, end_us = $6, bytes = $7, prev_chain = $8, chain = $9, path = $10, sha256 = $11, "
          "deleted_us = $12 WHERE id = $1",
          {run.rowId, run.firstId, run.lastId, run.segments, opt(run.startUs), opt(run.endUs),
           opt(run.bytes), run.prevChain, run.chain, optStr(run.path), optStr(run.sha256), now});
      if (!n) return n.error();
      return core::okResult();
    }
    auto n = db_.execute(
        "INSERT INTO segment_deletions (camera, first_id, last_id, segments, start_us, end_us, "
        "bytes, prev_chain, chain, path, sha256, reason, deleted_us) VALUES ($1, $2, $3, $4, $5, "
        "$6, $7, $8, $9, $10, $11, $12, $13)",
        {camera, run.firstId, run.lastId, run.segments, opt(run.startUs), opt(run.endUs),
         opt(run.bytes), run.prevChain, run.chain, optStr(run.path), optStr(run.sha256), reason,
         now});
    if (!n) return n.error();
    return core::okResult();
  }

  std::shared_ptr<Database> database_;
  detail::Db& db_;
};

}  // namespace

core::Result<std::unique_ptr<SegmentIndex>> SegmentIndex::open(std::shared_ptr<Database> db) {
  if (!db) return makeError(ErrorCode::kInvalidArgument, "no database");
  return std::unique_ptr<SegmentIndex>(new DbSegmentIndex(std::move(db)));
}

core::Result<std::unique_ptr<SegmentIndex>> SegmentIndex::openSqlite(const std::string& path) {
  auto db = Database::open("sqlite:" + path);
  if (!db) return db.error();
  return open(std::move(*db));
}

}  // namespace sharpeyes::storage
