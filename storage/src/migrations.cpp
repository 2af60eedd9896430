// Versioned schema migrations, one list for both backends. A migration, once committed to the
// repository, is never edited: a change is a new migration. "@ID@" is the dialect's
// auto-increment primary key (ids are never reused in either backend: the hash chain and the
// event cursor rely on that).
#include <spdlog/spdlog.h>

#include <chrono>

#include "db.h"

namespace sharpeyes::storage::detail {
namespace {

struct Migration {
  int version;
  const char* name;
  const char* sql;
  const char* postgresOnly = nullptr;  // run after `sql` on PostgreSQL only
  const char* sqliteOnly = nullptr;    // run after `sql` on SQLite only
};

constexpr Migration kMigrations[] = {
    {1, "segments",
     R"sql(
CREATE TABLE segments (
  id @ID@,
  camera TEXT NOT NULL,
  start_us BIGINT NOT NULL,
  end_us BIGINT NOT NULL,
  media_duration_us BIGINT NOT NULL,
  path TEXT NOT NULL UNIQUE,
  bytes BIGINT NOT NULL,
  codec TEXT NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  prev_chain TEXT NOT NULL,
  chain TEXT NOT NULL,
  indexed_us BIGINT NOT NULL
);
CREATE INDEX segments_camera_start ON segments (camera, start_us);
CREATE INDEX segments_start ON segments (start_us);
CREATE TABLE segment_chain_heads (
  camera TEXT PRIMARY KEY,
  chain TEXT NOT NULL,
  last_id BIGINT NOT NULL
);
CREATE TABLE segment_tombstones (
  segment_id BIGINT PRIMARY KEY,
  camera TEXT NOT NULL,
  prev_chain TEXT NOT NULL,
  chain TEXT NOT NULL,
  path TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  reason TEXT NOT NULL,
  deleted_us BIGINT NOT NULL
);
CREATE INDEX segment_tombstones_chain ON segment_tombstones (camera, chain);
CREATE TABLE segment_garbage (
  segment_id BIGINT PRIMARY KEY,
  path TEXT NOT NULL,
  reason TEXT NOT NULL,
  marked_us BIGINT NOT NULL
);
)sql"},
    {2, "events",
     R"sql(
CREATE TABLE events (
  seq @ID@,
  id TEXT NOT NULL UNIQUE,
  phase TEXT NOT NULL,
  camera TEXT NOT NULL,
  division TEXT NOT NULL,
  rule TEXT NOT NULL,
  type TEXT NOT NULL,
  severity INTEGER NOT NULL,
  object_class TEXT NOT NULL,
  track_id BIGINT NOT NULL,
  box_x DOUBLE PRECISION NOT NULL,
  box_y DOUBLE PRECISION NOT NULL,
  box_w DOUBLE PRECISION NOT NULL,
  box_h DOUBLE PRECISION NOT NULL,
  zone TEXT NOT NULL,
  start_us BIGINT NOT NULL,
  end_us BIGINT,
  media_time_us BIGINT NOT NULL,
  snapshot_path TEXT NOT NULL,
  clip_start_us BIGINT NOT NULL,
  clip_end_us BIGINT NOT NULL,
  attributes TEXT NOT NULL,
  updated_us BIGINT NOT NULL
);
CREATE INDEX events_start ON events (start_us, seq);
CREATE INDEX events_camera_start ON events (camera, start_us, seq);
CREATE INDEX events_division_start ON events (division, start_us, seq);
CREATE INDEX events_type_start ON events (type, start_us, seq);
)sql"},
    {3, "cases_holds_audit",
     R"sql(
CREATE TABLE cases (
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_us BIGINT NOT NULL,
  closed_us BIGINT
);
CREATE TABLE case_items (
  seq @ID@,
  case_id TEXT NOT NULL REFERENCES cases (id),
  kind TEXT NOT NULL,
  ref TEXT NOT NULL,
  added_by TEXT NOT NULL,
  added_us BIGINT NOT NULL,
  UNIQUE (case_id, kind, ref)
);
CREATE TABLE holds (
  id TEXT PRIMARY KEY,
  case_id TEXT NOT NULL REFERENCES cases (id),
  camera TEXT NOT NULL,
  begin_us BIGINT NOT NULL,
  end_us BIGINT NOT NULL,
  reason TEXT NOT NULL,
  placed_by TEXT NOT NULL,
  placed_us BIGINT NOT NULL,
  lifted_by TEXT,
  lifted_us BIGINT,
  lift_reason TEXT
);
CREATE INDEX holds_camera ON holds (camera, begin_us);
CREATE TABLE audit_log (
  seq @ID@,
  at_us BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  origin TEXT NOT NULL,
  details TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE TABLE audit_head (
  one INTEGER PRIMARY KEY,
  seq BIGINT NOT NULL,
  hash TEXT NOT NULL
);
)sql"},
    {4, "alerts",
     // One alert per event (UNIQUE event_id makes raise idempotent). The step is stored as its
     // name; UNIQUE (alert_id, step) backs the compare-and-set: a step is written once at most.
     R"sql(
CREATE TABLE alerts (
  seq @ID@,
  id TEXT NOT NULL UNIQUE,
  event_id TEXT NOT NULL UNIQUE,
  camera TEXT NOT NULL,
  division TEXT NOT NULL,
  severity INTEGER NOT NULL,
  type TEXT NOT NULL,
  rule TEXT NOT NULL,
  event_start_us BIGINT NOT NULL,
  raised_us BIGINT NOT NULL,
  step TEXT NOT NULL,
  assignee TEXT NOT NULL,
  updated_us BIGINT NOT NULL
);
CREATE INDEX alerts_start ON alerts (event_start_us, seq);
CREATE INDEX alerts_division_start ON alerts (division, event_start_us, seq);
CREATE INDEX alerts_step_start ON alerts (step, event_start_us, seq);
CREATE TABLE alert_history (
  seq @ID@,
  alert_id TEXT NOT NULL REFERENCES alerts (id),
  step TEXT NOT NULL,
  actor TEXT NOT NULL,
  at_us BIGINT NOT NULL,
  note TEXT NOT NULL,
  assignee TEXT NOT NULL,
  UNIQUE (alert_id, step)
);
)sql"},
    {5, "clips_evidence",
     // Lists (gaps, source hashes) are JSON text: read back whole, never queried by element.
     // An evidence package's clips are rows, so "which packages hold clip X" stays a query.
     R"sql(
CREATE TABLE clips (
  seq @ID@,
  id TEXT NOT NULL UNIQUE,
  camera TEXT NOT NULL,
  requested_begin_us BIGINT NOT NULL,
  requested_end_us BIGINT NOT NULL,
  actual_begin_us BIGINT NOT NULL,
  actual_end_us BIGINT NOT NULL,
  gaps TEXT NOT NULL,
  path TEXT NOT NULL,
  bytes BIGINT NOT NULL,
  sha256 TEXT NOT NULL,
  source_sha256 TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_us BIGINT NOT NULL,
  event_id TEXT,
  case_id TEXT REFERENCES cases (id)
);
CREATE INDEX clips_event ON clips (event_id, seq);
CREATE INDEX clips_case ON clips (case_id, seq);
CREATE TABLE evidence (
  seq @ID@,
  id TEXT NOT NULL UNIQUE,
  case_id TEXT REFERENCES cases (id),
  path TEXT NOT NULL,
  bytes BIGINT NOT NULL,
  sha256 TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_us BIGINT NOT NULL,
  manifest TEXT NOT NULL
);
CREATE INDEX evidence_case ON evidence (case_id, seq);
CREATE TABLE evidence_clips (
  evidence_id TEXT NOT NULL REFERENCES evidence (id),
  position INTEGER NOT NULL,
  clip_id TEXT NOT NULL REFERENCES clips (id),
  PRIMARY KEY (evidence_id, position)
);
CREATE INDEX evidence_clips_clip ON evidence_clips (clip_id);
)sql"},
    {6, "event_filter_indexes",
     // Every equality filter of an event query gets an index that also yields the page order
     // (start_us, seq), so a filter matching few or no rows never walks the whole table: at
     // 10 M events a zone that matched nothing scanned events_start end to end (seconds). Type
     // and severity together: EventStore::query asks one severity value at a time, each an
     // ordered range of this index (see event_store.cpp).
     R"sql(
CREATE INDEX events_zone_start ON events (zone, start_us, seq);
CREATE INDEX events_class_start ON events (object_class, start_us, seq);
CREATE INDEX events_type_severity_start ON events (type, severity, start_us, seq);
)sql"},
    {7, "event_type_severity_statistics", "",
     // PostgreSQL estimates `type = 'motion' AND severity = 3` as the product of the two
     // columns' frequencies (1.1 M rows at 10 M events) although motion is never severe: with
     // LIMIT it then walked events_start backwards through the whole table looking for rows
     // that do not exist (34 s). The joint distribution fixes the estimate (1 row) and the plan
     // (events_type_severity_start, 17 ms). ANALYZE so it holds from this start on. SQLite has
     // no such statistics and picks the two-column equality index by itself.
     R"sql(
CREATE STATISTICS events_type_severity (mcv) ON type, severity FROM events;
ANALYZE events;
)sql"},
    {8, "segments_timeline_covering_index",
     // The recordings timeline reads only (start_us, end_us) of one camera's rows in start
     // order: with end_us in the index it never reads the table, whose rows are stored in the
     // order 100 cameras record them (a camera-day's 8 640 rows sat on ~8 640 table pages:
     // 52 ms p50 on SQLite, 1.7 s on PostgreSQL with a cold cache at 26 M rows). It replaces
     // (camera, start_us), its prefix, which every other per-camera query still finds in it.
     R"sql(
CREATE INDEX segments_camera_start_end ON segments (camera, start_us, end_us);
DROP INDEX segments_camera_start;
)sql"},
    {9, "camera_directory",
     // A camera's name and division as the gateway last knew them. Its recordings, clips and
     // evidence outlive its removal from the gateway; without this row police would reach them
     // under the gateway's division and the camera's id only (a village-scoped user not at all).
     R"sql(
CREATE TABLE camera_directory (
  camera TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  division TEXT NOT NULL,
  updated_us BIGINT NOT NULL
);
)sql"},
    {10, "segment_deletion_runs",
     // One row per run of deleted segments instead of one tombstone per segment. Retention
     // deletes a camera's oldest segments day after day, and per-segment tombstones (about 400 B
     // each with their indexes, plus an audit entry of about 370 B, measured on SQLite) grew
     // the database by more per deleted segment than a live row takes, forever: 100 cameras
     // at 8 640 segments a day added ~670 MB a day. A run is a stretch of one camera's chain
     // deleted for one reason: the chain value before its first row and the chain value of its last
     // row are all verifyChain() needs to step over it, and a deletion next to a run extends it. A
     // single deleted segment keeps its path and file hash. Tombstones of earlier versions
     // become one-segment runs (their times and sizes were not recorded: NULL).
     R"sql(
CREATE TABLE segment_deletions (
  id @ID@,
  camera TEXT NOT NULL,
  first_id BIGINT NOT NULL,
  last_id BIGINT NOT NULL,
  segments BIGINT NOT NULL,
  start_us BIGINT,
  end_us BIGINT,
  bytes BIGINT,
  prev_chain TEXT NOT NULL,
  chain TEXT NOT NULL,
  path TEXT,
  sha256 TEXT,
  reason TEXT NOT NULL,
  deleted_us BIGINT NOT NULL
);
INSERT INTO segment_deletions (camera, first_id, last_id, segments, prev_chain, chain, path,
                               sha256, reason, deleted_us)
  SELECT camera, segment_id, segment_id, 1, prev_chain, chain, path, sha256, reason, deleted_us
  FROM segment_tombstones ORDER BY segment_id;
DROP TABLE segment_tombstones;
CREATE INDEX segment_deletions_chain ON segment_deletions (camera, chain);
CREATE INDEX segment_deletions_prev_chain ON segment_deletions (camera, prev_chain);
)sql"},
    {11, "segment_bytes_per_camera",
     // Each camera's indexed bytes, kept up to date by every insert and deletion: retention
     // measures usage against a quota before every sweep, and SUM(bytes) over the segments
     // read the whole table (60-76 s at 100 cameras x 100 days on SQLite). Computed once here,
     // in one sequential pass: per camera through the (camera, ...) index, each row's bytes
     // would be a random read of the table (a camera's rows lie on nearly every page).
     R"sql(
ALTER TABLE segment_chain_heads ADD COLUMN bytes BIGINT NOT NULL DEFAULT 0;
)sql",
     R"sql(
UPDATE segment_chain_heads AS h SET bytes = t.b
FROM (SELECT camera, SUM(bytes) AS b FROM segments GROUP BY camera) AS t WHERE t.camera = h.camera;
)sql",
     R"sql(
UPDATE segment_chain_heads SET bytes = t.b
FROM (SELECT camera, SUM(bytes) AS b FROM segments NOT INDEXED GROUP BY camera) AS t
WHERE t.camera = segment_chain_heads.camera;
)sql"},
};

std::string forDialect(const std::string& sql, Dialect d) {
  const std::string id = d == Dialect::kSqlite
                             ? "INTEGER PRIMARY KEY AUTOINCREMENT"
                             : "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY";
  std::string out = sql;
  for (size_t pos; (pos = out.find("@ID@")) != std::string::npos;) out.replace(pos, 4, id);
  return out;
}

}  // namespace

int latestSchemaVersion() {
  return kMigrations[std::size(kMigrations) - 1].version;
}

core::Result<void> migrate(Db& db) {
  auto created = db.execScript(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
      "name TEXT NOT NULL, applied_us BIGINT NOT NULL)");
  if (!created) return created;
  auto before = db.query("SELECT COUNT(*) FROM schema_migrations", {});
  if (!before) return before.error();
  const bool upgrading = before->front().i64(0) > 0;  // not a new, empty database
  for (const Migration& m : kMigrations) {
    auto tx = Tx::begin(db);
    if (!tx) return tx.error();
    if (db.dialect() == Dialect::kPostgres) {
      // Two processes starting at once against one server: the second waits here.
      auto lock = db.query("SELECT pg_advisory_xact_lock(7370616)", {});
      if (!lock) return lock.error();
    }
    auto seen = db.query("SELECT 1 FROM schema_migrations WHERE version = $1",
                         {static_cast<int64_t>(m.version)});
    if (!seen) return seen.error();
    if (!seen->empty()) continue;
    // Some steps rewrite or scan every segment row (migration 11 took 5 min 25 s at 85 M rows):
    // say so before, so that a gateway that seems stuck at start is seen to be upgrading.
    if (upgrading) {
      spdlog::info(
          "storage: {}: applying schema migration {} ({}); on a large index this can take "
          "minutes",
          db.describe(), m.version, m.name);
    }
    const auto began = std::chrono::steady_clock::now();
    core::Result<void> applied;
    if (*m.sql != '\0') applied = db.execScript(forDialect(m.sql, db.dialect()));
    if (applied && m.postgresOnly != nullptr && db.dialect() == Dialect::kPostgres) {
      applied = db.execScript(m.postgresOnly);
    }
    if (applied && m.sqliteOnly != nullptr && db.dialect() == Dialect::kSqlite) {
      applied = db.execScript(m.sqliteOnly);
    }
    if (!applied) {
      return core::makeError(applied.error().code, "migration " + std::to_string(m.version) + " (" +
                                                       m.name +
                                                       ") failed: " + applied.error().message);
    }
    auto rec =
        db.execute("INSERT INTO schema_migrations (version, name, applied_us) VALUES ($1, $2, $3)",
                   {static_cast<int64_t>(m.version), std::string(m.name), nowMicros()});
    if (!rec) return rec.error();
    auto done = (*tx)->commit();
    if (!done) return done;
    spdlog::info("storage: {} migrated to schema version {} ({}) in {} ms", db.describe(),
                 m.version, m.name,
                 std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - began)
                     .count());
  }
  auto newest = db.query("SELECT MAX(version) FROM schema_migrations", {});
  if (!newest) return newest.error();
  if (!newest->empty() && (*newest)[0].i64(0) > latestSchemaVersion()) {
    return core::makeError(core::ErrorCode::kUnsupported,
                           "database schema version " + std::to_string((*newest)[0].i64(0)) +
                               " is newer than this build (" +
                               std::to_string(latestSchemaVersion()) + ")");
  }
  return {};
}

}  // namespace sharpeyes::storage::detail
