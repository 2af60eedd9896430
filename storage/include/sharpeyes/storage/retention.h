#pragma once
// Retention: deletes the oldest recordings by per-camera age and by disk quota (high/low
// watermarks), never a segment under an active evidence hold. Each deletion goes through a
// garbage row (mark, unlink, fsync the directory, drop the row) so that a crash in between
// leaves nothing inconsistent (Recorder::reconcile finishes interrupted deletions), and is
// written to the audit log.
//
// planRetention() is the policy alone, without I/O, so it is tested on its own. Retention runs
// it against the index and the disk.
//
// Threading: the gateway calls sweep() from one thread of its own (every minute, and at once
// when the Recorder reports a full disk); sweeps are serialised internally.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sharpeyes/core/camera_id.h"
#include "sharpeyes/core/clip.h"
#include "sharpeyes/core/result.h"
#include "sharpeyes/core/time.h"

namespace sharpeyes::storage {

class SegmentIndex;
class CaseStore;

struct RetentionPolicy {
  std::map<core::CameraId, core::Duration> maxAge;  // per camera; overrides defaultMaxAge
  core::Duration defaultMaxAge{0};                  // 0: no age limit
  // Capacity for the watermarks: quotaBytes > 0 counts the bytes of indexed segments against
  // it; otherwise the file system's own size and free space are used.
  uint64_t quotaBytes = 0;
  double highWatermark = 0.90;  // start deleting above this fraction of capacity
  double lowWatermark = 0.80;   // ... until usage is at or below this fraction
};

struct RetentionCandidate {
  int64_t id = 0;
  core::CameraId camera;
  core::TimeRange range;
  uint64_t bytes = 0;
};

struct HoldRange {
  core::CameraId camera;
  core::TimeRange range;
};

struct RetentionDecision {
  int64_t id = 0;
  std::string reason;  // "age" | "quota"
};

struct RetentionPlan {
  std::vector<RetentionDecision> deletions;
  uint64_t bytesFreed = 0;
  bool overHighWatermark = false;  // usage was above the high watermark
  bool quotaUnreachable = false;   // still above the high watermark after every allowed deletion
};

// `oldestFirst`: deletable candidates in order of start. `used`/`capacity`: bytes now.
// `continuing`: a sweep that began above the high watermark goes on (across batches) down to
// the low one, so the quota part starts at the low watermark instead.
// Pure function: no I/O, no clock.
RetentionPlan planRetention(const RetentionPolicy& policy, core::WallTime now, uint64_t used,
                            uint64_t capacity, const std::vector<RetentionCandidate>& oldestFirst,
                            const std::vector<HoldRange>& holds, bool continuing = false);

struct StorageFullAlert {
  uint64_t used = 0;
  uint64_t capacity = 0;
  std::string reason;  // "segments under hold fill the disk", "disk full while recording", ...
};

struct RetentionReport {
  int64_t deleted = 0;
  uint64_t bytesFreed = 0;
  bool storageFull = false;
  // One line per camera and reason in each batch (as in the audit log), not one per segment.
  std::vector<std::string> actions;
};

struct RetentionOptions {
  std::string root;  // the recording root
  RetentionPolicy policy;
  int batch = 2000;  // candidates read per round
  // On the sweeping thread when usage stays above the high watermark after a sweep: the gateway
  // raises a storage_full event. May be empty.
  std::function<void(const StorageFullAlert&)> onStorageFull;
};

class Retention {
 public:
  virtual ~Retention() = default;
  // `index` and `cases` must outlive the Retention; `cases` may be null (no holds, no audit).
  static core::Result<std::unique_ptr<Retention>> create(RetentionOptions options,
                                                         SegmentIndex& index, CaseStore* cases);
  virtual core::Result<RetentionReport> sweep(core::WallTime now) = 0;
};

}  // namespace sharpeyes::storage
