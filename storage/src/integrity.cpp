#include "sharpeyes/storage/integrity.h"

#include <sys/stat.h>

#include <chrono>
#include <filesystem>

#include "sharpeyes/core/util.h"

namespace sharpeyes::storage {

namespace {
// Segments closer than this count as contiguous (a frame interval or two between files).
constexpr core::Duration kTolerance = std::chrono::milliseconds(200);
}  // namespace

core::Result<IntegrityReport> checkRecordings(SegmentIndex& index, const std::string& root,
                                              const core::CameraId& camera,
                                              const core::TimeRange& range, bool checkFiles) {
  IntegrityReport report;
  report.camera = camera;
  report.range = range;
  auto chain = index.verifyChain(camera);
  if (!chain) return chain.error();
  report.chain = std::move(*chain);
  auto timeline = index.timeline(camera, range, kTolerance);
  if (!timeline) return timeline.error();
  report.timeline = std::move(*timeline);
  auto runs = index.deletions(camera, range);
  if (!runs) return runs.error();
  for (const core::TimeRange& gap : report.timeline.gaps) {
    ExplainedGap g{gap, {}};
    for (const DeletionRun& d : *runs) {
      if (d.recorded && d.recorded->begin < gap.end && d.recorded->end > gap.begin) {
        g.deletedBy.push_back(d);
      }
    }
    report.gaps.push_back(std::move(g));
  }
  for (const DeletionRun& d : *runs) {
    if (!d.recorded) report.undatedDeletions.push_back(d);
  }
  if (!checkFiles) return report;

  report.filesChecked = true;
  auto segments = index.query(camera, range);
  if (!segments) return segments.error();
  for (const core::Segment& s : *segments) {
    ++report.files;
    const std::string abs = (std::filesystem::path(root) / s.path).string();
    struct stat st {};
    if (::stat(abs.c_str(), &st) != 0) {
      report.fileProblems.push_back({s.id, s.path, "missing"});
      continue;
    }
    if (static_cast<uint64_t>(st.st_size) != s.bytes) {
      report.fileProblems.push_back(
          {s.id, s.path,
           "size " + std::to_string(st.st_size) + ", indexed " + std::to_string(s.bytes)});
      continue;
    }
    auto hash = core::sha256File(abs);
    if (!hash) {
      report.fileProblems.push_back({s.id, s.path, "unreadable: " + hash.error().message});
    } else if (*hash != s.sha256) {
      report.fileProblems.push_back({s.id, s.path, "SHA-256 differs from the index's"});
    }
  }
  return report;
}

}  // namespace sharpeyes::storage
