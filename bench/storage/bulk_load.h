#pragma once
// The storage benchmark's loader: fills a freshly migrated index with realistic events and a
// hash-chained segment history as fast as the backend allows. This is not the product's insert
// path (that is measured separately, one durable commit per row): the loader drops the secondary
// indexes the migrations created, bulk-loads (SQLite: one prepared INSERT in big transactions
// with journal and sync off; PostgreSQL: COPY FROM STDIN), recreates every dropped index from
// the definition the database itself recorded (so exactly as the migrations wrote it), runs
// ANALYZE and restores the product's settings before anything is measured.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sharpeyes::bench {

struct LoadSpec {
  int64_t events = 0;
  int eventDays = 365;  // events spread over this many days from the epoch
  int cameras = 0;
  int segmentDays = 0;  // days of 10 s segments per camera
  int64_t epochUs = 0;
};

struct LoadReport {
  double eventSeconds = 0;
  double segmentSeconds = 0;
  double indexSeconds = 0;  // recreating the dropped indexes
  double analyzeSeconds = 0;
  int64_t segmentRows = 0;
};

// One event row in the column order of kEventColumns; one segment row in kSegmentColumns.
inline constexpr const char* kEventColumns =
    "seq, id, phase, camera, division, rule, type, severity, object_class, track_id, box_x, "
    "box_y, box_w, box_h, zone, start_us, end_us, media_time_us, snapshot_path, clip_start_us, "
    "clip_end_us, attributes, updated_us";
inline constexpr const char* kSegmentColumns =
    "id, camera, start_us, end_us, media_duration_us, path, bytes, codec, width, height, sha256, "
    "prev_chain, chain, indexed_us";

// Generators shared by both loaders (deterministic: the same spec gives the same rows).
class EventGenerator {
 public:
  explicit EventGenerator(const LoadSpec& spec);
  void next(int64_t seq, std::vector<std::string>& out);  // seq from 1, in time order
  static const std::vector<std::string>& zones();
  static const std::vector<std::string>& classes();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

class SegmentGenerator {
 public:
  explicit SegmentGenerator(const LoadSpec& spec);
  // Fills the next row (time-major: every camera's k-th segment, then the (k+1)-th), false at
  // the end. Row ids count from 1.
  bool next(std::vector<std::string>& out);
  // After the last row: each camera's chain head and last row id.
  const std::vector<std::string>& heads() const;
  const std::vector<int64_t>& lastIds() const;
  const std::vector<int64_t>& bytes() const;  // each camera's segment bytes
  int64_t rows() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// Integer columns (by position) of the two row layouts; the rest are text.
bool eventColumnIsInteger(size_t column);
bool eventColumnIsReal(size_t column);
bool segmentColumnIsInteger(size_t column);

// `path`: an SQLite index file already migrated by storage::Database::open and closed again.
LoadReport loadSqlite(const std::string& path, const LoadSpec& spec,
                      const std::function<void(const std::string&)>& progress);
// `conninfo`: a PostgreSQL database already migrated (libpq conninfo).
LoadReport loadPostgres(const std::string& conninfo, const LoadSpec& spec,
                        const std::function<void(const std::string&)>& progress);

}  // namespace sharpeyes::bench
