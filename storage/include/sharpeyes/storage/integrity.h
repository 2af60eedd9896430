#pragma once
// Integrity of one camera's recordings over a time range, as police need it before relying on
// them: is the index's hash chain intact, what was recorded, why each gap is there (deleted, by
// which rule and when, or never recorded), and, on request, do the files still match the SHA-256
// taken when each was recorded. `sharpeyes recordings verify` prints it.
//
// Thread-safety: as SegmentIndex (any thread).

#include <cstdint>
#include <string>
#include <vector>

#include "sharpeyes/core/camera_id.h"
#include "sharpeyes/core/clip.h"
#include "sharpeyes/core/result.h"
#include "sharpeyes/storage/segment_index.h"

namespace sharpeyes::storage {

struct ExplainedGap {
  core::TimeRange gap;
  // Deletion runs whose recorded time overlaps the gap. Empty: nothing was ever recorded there
  // (the camera was off, unreachable or not yet added). A run spans from its first segment's
  // start to its last one's end, so a gap inside it may also hold time never recorded.
  std::vector<DeletionRun> deletedBy;
};

struct FileProblem {
  int64_t segmentId = 0;
  std::string path;
  std::string problem;  // "missing", "size N, indexed M", "SHA-256 differs from the index's"
};

struct IntegrityReport {
  core::CameraId camera;
  core::TimeRange range;
  ChainReport chain;  // the camera's whole chain, not only the range
  Timeline timeline;
  std::vector<ExplainedGap> gaps;
  std::vector<DeletionRun> undatedDeletions;  // runs from before schema 10: times unknown
  bool filesChecked = false;
  int64_t files = 0;  // segment files checked
  std::vector<FileProblem> fileProblems;
  // Intact: the chain verifies and no checked file differs. Gaps alone do not fail it.
  bool intact() const { return chain.ok() && fileProblems.empty(); }
};

// `root`: the recording root (only read with `checkFiles`, which hashes every file in range).
core::Result<IntegrityReport> checkRecordings(SegmentIndex& index, const std::string& root,
                                              const core::CameraId& camera,
                                              const core::TimeRange& range, bool checkFiles);

}  // namespace sharpeyes::storage
