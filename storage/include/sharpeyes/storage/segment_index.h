#pragma once
// The segment index: one row per recorded segment file. SQLite (WAL) embedded by default;
// PostgreSQL behind the same interface at scale (storage issue).
//
// Every row also carries a per-camera SHA-256 hash chain: chain = SHA-256(previous row's chain,
// the row's camera, times, path, size and file SHA-256). A row removed or altered in the middle
// breaks the chain; rows deleted through the garbage path (retention, quarantine) are recorded as
// deletion runs (the chain values around each stretch deleted for one reason), so legitimate
// deletions do not read as tampering and cost one row per stretch, not one per segment.
//
// Thread-safety: every method may be called from any thread (the implementation serialises).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sharpeyes/core/camera_id.h"
#include "sharpeyes/core/clip.h"
#include "sharpeyes/core/division.h"
#include "sharpeyes/core/result.h"
#include "sharpeyes/core/segment.h"

namespace sharpeyes::storage {

class Database;

// A row queued for deletion: the file may or may not still exist.
struct GarbageEntry {
  int64_t segmentId = 0;
  std::string path;  // relative to the recording root
  std::string reason;
};

struct ChainReport {
  int64_t rowsChecked = 0;
  int64_t tombstonesCrossed = 0;      // legitimately deleted rows the chain steps over
  std::vector<std::string> problems;  // empty when the chain is intact
  bool ok() const { return problems.empty(); }
};

// What the index remembers of a camera besides its segments: how it was named and where it sits,
// as the gateway last described it (kept after the camera is removed, with its recordings).
struct CameraLabel {
  core::CameraId camera;
  std::string name;
  core::DivisionCode division;
};

// A stretch of one camera's chain deleted for one reason ("age", "quota", "file_missing",
// "altered", "removed"). Deletions before schema 10 became one-segment runs whose recorded time
// and bytes were never kept.
struct DeletionRun {
  int64_t firstId = 0;
  int64_t lastId = 0;
  int64_t segments = 0;
  std::optional<core::TimeRange> recorded;  // first segment's start to last segment's end
  std::optional<uint64_t> bytes;
  std::string reason;
  std::string path;              // a single deleted segment's file name; empty for longer runs
  core::WallTime lastDeleted{};  // when the run was last extended
};

// Recording coverage of one camera over a range.
struct Timeline {
  std::vector<core::TimeRange> covered;  // merged runs of contiguous segments
  std::vector<core::TimeRange> gaps;     // parts of the range with no segment
  core::Duration coveredTotal{};
};

class SegmentIndex {
 public:
  virtual ~SegmentIndex() = default;

  // Opens (creating and migrating as needed) an SQLite database file in WAL mode.
  static core::Result<std::unique_ptr<SegmentIndex>> openSqlite(const std::string& path);
  // On a shared database (SQLite or PostgreSQL).
  static core::Result<std::unique_ptr<SegmentIndex>> open(std::shared_ptr<Database> db);

  // Commits a row; returns its id. The file must already be durable (see Recorder).
  virtual core::Result<int64_t> insert(const core::Segment& segment) = 0;
  // Many rows in one transaction (bulk import, benchmarks). Returns how many were inserted.
  virtual core::Result<int64_t> insertMany(const std::vector<core::Segment>& segments) = 0;
  // Segments of `camera` overlapping `range`, ordered by start.
  virtual core::Result<std::vector<core::Segment>> query(const core::CameraId& camera,
                                                         const core::TimeRange& range) = 0;
  // Every row (for reconcile and tests), ordered by camera then start.
  virtual core::Result<std::vector<core::Segment>> all() = 0;
  virtual core::Result<std::optional<core::Segment>> findByPath(const std::string& path) = 0;
  virtual core::Result<std::optional<core::Segment>> get(int64_t id) = 0;
  // Removes a row outright, recording its deletion for `reason` (the chain stays verifiable).
  // `alsoInTransaction` (may be empty) runs in the same transaction after the row is gone; its
  // error keeps the row. Reconcile writes the audit entry of a row whose file is gone there.
  virtual core::Result<void> remove(
      int64_t id, const std::string& reason,
      const std::function<core::Result<void>()>& alsoInTransaction) = 0;
  core::Result<void> remove(int64_t id) { return remove(id, "removed", {}); }
  // "ok" when the database passes PRAGMA integrity_check, the first problem otherwise.
  virtual core::Result<std::string> integrityCheck() = 0;

  virtual core::Result<std::vector<core::CameraId>> cameras() = 0;
  // Records (or replaces) cameras' labels, in one transaction (a label that did not change is
  // not rewritten). The gateway calls it with every camera it runs whenever its list changes.
  virtual core::Result<void> describeCameras(const std::vector<CameraLabel>& labels) = 0;
  // The last label recorded for `camera`, none if it was never described.
  virtual core::Result<std::optional<CameraLabel>> cameraLabel(const core::CameraId& camera) = 0;
  // Oldest segments first (across cameras when `camera` is empty), at most `limit`; rows
  // already marked as garbage and rows under an active evidence hold are skipped.
  virtual core::Result<std::vector<core::Segment>> oldest(
      const std::optional<core::CameraId>& camera, int limit) = 0;
  virtual core::Result<uint64_t> totalBytes() = 0;

  // Deletion through a garbage row: mark (this), then the caller unlinks the file and fsyncs
  // its directory, then dropGarbage() removes row and garbage entry (recording the deletion).
  virtual core::Result<void> markGarbage(int64_t id, const std::string& reason) = 0;
  virtual core::Result<std::vector<GarbageEntry>> garbage() = 0;
  virtual core::Result<void> dropGarbage(int64_t id) = 0;
  virtual core::Result<bool> isGarbage(int64_t id) = 0;
  // The same for many rows, each in one transaction (retention sweeps). `alsoInTransaction`
  // runs inside the marking transaction, after the rows are marked: its error rolls the marks
  // back. Retention writes its audit entries there, so that a deletion (certain once marked:
  // reconcile finishes it after a crash) is never without its entry, nor an entry without it,
  // when the audit log is on the same Database.
  virtual core::Result<void> markGarbageMany(
      const std::vector<int64_t>& ids, const std::string& reason,
      const std::function<core::Result<void>()>& alsoInTransaction) = 0;
  core::Result<void> markGarbageMany(const std::vector<int64_t>& ids, const std::string& reason) {
    return markGarbageMany(ids, reason, {});
  }
  virtual core::Result<void> dropGarbageMany(const std::vector<int64_t>& ids) = 0;

  virtual core::Result<ChainReport> verifyChain(const core::CameraId& camera) = 0;
  // The deletion runs of `camera` whose recorded time overlaps `range`, and those whose time is
  // unknown (older than schema 10), in chain order.
  virtual core::Result<std::vector<DeletionRun>> deletions(const core::CameraId& camera,
                                                           const core::TimeRange& range) = 0;
  // Coverage: segments closer than `tolerance` to each other count as contiguous.
  virtual core::Result<Timeline> timeline(const core::CameraId& camera,
                                          const core::TimeRange& range,
                                          core::Duration tolerance) = 0;
};

}  // namespace sharpeyes::storage
