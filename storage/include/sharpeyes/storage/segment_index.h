#pragma once
// The segment index: one row per recorded segment file. SQLite (WAL) embedded by default;
// PostgreSQL behind the same interface at scale (storage issue).
//
// Thread-safety: every method may be called from any thread (the implementation serialises).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sharpeyes/core/camera_id.h"
#include "sharpeyes/core/clip.h"
#include "sharpeyes/core/result.h"
#include "sharpeyes/core/segment.h"

namespace sharpeyes::storage {

class SegmentIndex {
 public:
  virtual ~SegmentIndex() = default;

  // Opens (creating and migrating as needed) an SQLite database file in WAL mode.
  static core::Result<std::unique_ptr<SegmentIndex>> openSqlite(const std::string& path);

  // Commits a row; returns its id. The file must already be durable (see Recorder).
  virtual core::Result<int64_t> insert(const core::Segment& segment) = 0;
  // Segments of `camera` overlapping `range`, ordered by start.
  virtual core::Result<std::vector<core::Segment>> query(const core::CameraId& camera,
                                                         const core::TimeRange& range) = 0;
  // Every row (for reconcile and tests), ordered by camera then start.
  virtual core::Result<std::vector<core::Segment>> all() = 0;
  virtual core::Result<std::optional<core::Segment>> findByPath(const std::string& path) = 0;
  virtual core::Result<void> remove(int64_t id) = 0;
  // "ok" when the database passes PRAGMA integrity_check, the first problem otherwise.
  virtual core::Result<std::string> integrityCheck() = 0;
};

}  // namespace sharpeyes::storage
