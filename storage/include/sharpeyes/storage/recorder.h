#pragma once
// Recorder: takes segment files that ingest has finished writing and makes them durable and
// indexed, in this order: fsync the file, fsync its directory, hash and probe it, then commit
// the index row. A crash at any point leaves either no row (the file is an orphan that
// reconcile() indexes or quarantines on the next start) or a row whose file is complete.
//
// Threading: submit() is called from ingest threads and only queues; the work runs on the
// Recorder's own worker thread(s).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sharpeyes/core/camera_id.h"
#include "sharpeyes/core/result.h"
#include "sharpeyes/core/segment.h"
#include "sharpeyes/core/time.h"

namespace sharpeyes::storage {

class CaseStore;
class SegmentIndex;

struct ClosedFile {
  core::CameraId camera;
  std::string path;  // absolute, under the recording root
  core::WallTime start{};
  core::Duration mediaDuration{};
  std::string codec;
  int width = 0;
  int height = 0;
};

struct ReconcileReport {
  int indexedOrphans = 0;            // complete files with no row: indexed
  int quarantined = 0;               // broken files: moved to <root>/quarantine/
  int droppedRows = 0;               // rows whose file is gone: removed
  int hashMismatches = 0;            // rows whose file changed: quarantined and row removed
  std::vector<std::string> actions;  // one line per action, for the log
};

struct RecorderStats {
  uint64_t committed = 0;
  uint64_t failed = 0;
  uint64_t queued = 0;
};

struct RecorderOptions {
  std::string root;  // recording root directory
  // Files in flight at once; a camera's files are still committed one at a time, in order.
  int workers = 1;
  // Called on a worker thread after each commit (for metrics and the event store); may be empty.
  std::function<void(const core::Segment&)> onCommitted;
  // Called on a worker thread when a file could not be made durable or indexed (disk full,
  // I/O error, broken media). `error.code` is kResourceExhausted when the disk is full: the
  // gateway turns that into a storage_full event. May be empty.
  std::function<void(const ClosedFile&, const core::Error&)> onFailed;
  // Called on a worker thread at each step of the durability order with the step's name:
  // "fsync_file", "fsync_dir", "probed", "hashed", "committed". For tests and tracing.
  std::function<void(std::string_view stage, const std::string& path)> onStage;
  // Where reconcile accounts for what it takes out of the evidence, as actor "reconcile" from
  // "gateway": action "delete" for a row whose file is gone or no longer matches its size or
  // SHA-256 (written in the transaction that drops the row when both stores share one
  // Database), "quarantine" for an unindexed file it moves aside. May be null (no entries).
  CaseStore* audit = nullptr;
};

class Recorder {
 public:
  virtual ~Recorder() = default;
  static core::Result<std::unique_ptr<Recorder>> create(RecorderOptions options,
                                                        SegmentIndex& index);

  // Thread-safe, non-blocking.
  virtual void submit(ClosedFile file) = 0;
  // Brings index and files into agreement; call before ingest starts. `verifyHashes` re-hashes
  // every indexed file (slow on large stores).
  virtual core::Result<ReconcileReport> reconcile(bool verifyHashes) = 0;
  // Waits until everything submitted so far is committed or failed.
  virtual void drain() = 0;
  virtual RecorderStats stats() const = 0;
  virtual void stop() = 0;
};

// Where ingest should write a segment, relative to the recording root:
// "<camera>/<YYYYMMDD>/<camera>_<YYYYMMDDTHHMMSS.ffffff>Z.<ext>" (UTC). reconcile() reads the
// camera and start time of an orphan file back from this name (falling back to the first path
// component and the file's mtime minus its duration for other names).
std::string segmentRelativePath(const core::CameraId& camera, core::WallTime start,
                                std::string_view extension = "mp4");
struct ParsedSegmentPath {
  core::CameraId camera;
  core::WallTime start{};
};
std::optional<ParsedSegmentPath> parseSegmentRelativePath(std::string_view relative);

// What libav says of a media file.
struct MediaProbe {
  std::string codec;  // "h264" | "hevc" ...
  int width = 0;
  int height = 0;
  core::Duration duration{};
  int64_t packets = 0;
  int64_t keyframes = 0;
  int64_t decodedFrames = 0;  // only when probing with decode
};

// Opens and demuxes the whole file (and with `decode`, decodes every video frame).
// An error when the file cannot be opened, has no video stream, or holds no complete frame.
core::Result<MediaProbe> probeMedia(const std::string& path, bool decode);

}  // namespace sharpeyes::storage
