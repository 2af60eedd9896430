// Recorder and reconcile on real media files (encoded by GStreamer's x264enc + mp4mux in
// fragmented mode, the recording form) and a real index.
#include "sharpeyes/storage/recorder.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mutex>

#include "backend.h"
#include "sharpeyes/storage/case_store.h"
#include "sharpeyes/storage/database.h"
#include "sharpeyes/storage/segment_index.h"

namespace sharpeyes::storage {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;
namespace fs = std::filesystem;

core::CameraId cam(const char* s) {
  return core::CameraId::parse(s).value();
}

const core::WallTime kT0 = core::fromUnixMicros(1'790'000'000'000'000);

// One good 2 s segment, encoded once and copied where each test needs it (encoding is the slow
// part on a loaded 2-core machine).
const fs::path& sampleSegment() {
  static TempDir* dir = new TempDir;  // lives for the whole test program
  static fs::path p = [] {
    fs::path out = dir->path() / "sample.mp4";
    EXPECT_TRUE(testing::makeFragmentedMp4(out, 50)) << "gst-launch-1.0 failed";
    return out;
  }();
  return p;
}

class RecorderTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    root_ = dir_.path() / "rec";
    fs::create_directories(root_);
    auto db = testing::openBackend(GetParam(), dir_);
    ASSERT_TRUE(db) << db.error().describe();
    db_ = *db;
    auto idx = SegmentIndex::open(db_);
    ASSERT_TRUE(idx);
    index_ = std::move(*idx);
    cases_ = CaseStore::open(db_).value();
    ASSERT_FALSE(sampleSegment().empty());
  }

  // Reconcile's audit entries as "action target: details".
  std::vector<std::string> reconcileAudit() {
    std::vector<std::string> out;
    const auto log = cases_->auditLog(0, 1000);
    EXPECT_TRUE(log);
    if (!log) return out;
    for (const auto& e : *log) {
      EXPECT_EQ(e.actor, "reconcile");
      EXPECT_EQ(e.origin, "gateway");
      out.push_back(e.action + " " + e.target + ": " + e.details);
    }
    return out;
  }

  // Copies the sample to the conventional place of camera `c` starting at `start`.
  fs::path place(const core::CameraId& c, core::WallTime start) {
    fs::path p = root_ / segmentRelativePath(c, start);
    fs::create_directories(p.parent_path());
    fs::copy_file(sampleSegment(), p, fs::copy_options::overwrite_existing);
    return p;
  }

  std::unique_ptr<Recorder> makeRecorder(RecorderOptions opts = {}) {
    opts.root = root_.string();
    opts.audit = cases_.get();
    auto r = Recorder::create(std::move(opts), *index_);
    EXPECT_TRUE(r);
    return std::move(*r);
  }

  TempDir dir_;
  fs::path root_;
  std::shared_ptr<Database> db_;
  std::unique_ptr<SegmentIndex> index_;
  std::unique_ptr<CaseStore> cases_;
};

TEST_P(RecorderTest, CommitsProbedHashedRowsForSubmittedFiles) {
  std::vector<core::Segment> committed;
  std::mutex mu;
  RecorderOptions opts;
  opts.workers = 2;
  opts.onCommitted = [&](const core::Segment& s) {
    std::lock_guard lock(mu);
    committed.push_back(s);
  };
  auto rec = makeRecorder(opts);
  for (int i = 0; i < 3; ++i) {
    const core::WallTime start = kT0 + i * 2s;
    const fs::path p = place(cam("cam-1"), start);
    rec->submit({cam("cam-1"), p.string(), start, 2s, "h264", 160, 120});
  }
  rec->drain();
  EXPECT_EQ(rec->stats().committed, 3u);
  EXPECT_EQ(rec->stats().failed, 0u);
  EXPECT_EQ(committed.size(), 3u);
  auto rows = index_->all();
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 3u);
  for (const auto& s : *rows) {
    const fs::path abs = root_ / s.path;
    EXPECT_EQ(s.codec, "h264");
    EXPECT_EQ(s.width, 160);
    EXPECT_EQ(s.height, 120);
    // 50 frames at 25 fps: exactly 2 s from the packet timestamps.
    EXPECT_NEAR(std::chrono::duration<double>(s.mediaDuration).count(), 2.0, 0.001);
    EXPECT_EQ(s.end, s.start + s.mediaDuration);
    EXPECT_EQ(s.bytes, fs::file_size(abs));
    EXPECT_EQ(s.sha256, *core::sha256File(abs.string()));
    auto decoded = probeMedia(abs.string(), true);
    ASSERT_TRUE(decoded) << decoded.error().describe();
    EXPECT_EQ(decoded->decodedFrames, 50);
    EXPECT_EQ(decoded->keyframes, 2);
  }
  EXPECT_TRUE(index_->verifyChain(cam("cam-1"))->ok());
}

// Several workers commit several cameras' files at once, yet each camera's files in the order
// they were submitted (its hash chain links each row to the one before).
TEST_P(RecorderTest, WorkersKeepEachCamerasFilesInSubmissionOrder) {
  std::map<std::string, std::vector<core::WallTime>> order;
  std::mutex mu;
  RecorderOptions opts;
  opts.workers = 4;
  opts.onCommitted = [&](const core::Segment& s) {
    std::lock_guard lock(mu);
    order[s.camera.str()].push_back(s.start);
  };
  auto rec = makeRecorder(opts);
  const char* cameras[] = {"cam-a", "cam-b", "cam-c"};
  constexpr int kFiles = 6;
  for (int i = 0; i < kFiles; ++i) {
    for (const char* c : cameras) {
      const core::WallTime start = kT0 + i * 2s;
      const fs::path p = place(cam(c), start);
      rec->submit({cam(c), p.string(), start, 2s, "h264", 160, 120});
    }
  }
  rec->drain();
  EXPECT_EQ(rec->stats().committed, 3u * kFiles);
  EXPECT_EQ(rec->stats().failed, 0u);
  for (const char* c : cameras) {
    const auto& starts = order[c];
    ASSERT_EQ(starts.size(), static_cast<size_t>(kFiles)) << c;
    for (int i = 0; i < kFiles; ++i) EXPECT_EQ(starts[i], kT0 + i * 2s) << c << " file " << i;
    auto chain = index_->verifyChain(cam(c));
    ASSERT_TRUE(chain);
    EXPECT_TRUE(chain->ok()) << c;
  }
}

TEST_P(RecorderTest, DurabilityOrderAndNoRowBeforeTheFileIsDurable) {
  std::vector<std::string> stages;
  std::vector<bool> rowExisted;
  RecorderOptions opts;
  opts.onStage = [&](std::string_view stage, const std::string& path) {
    stages.emplace_back(stage);
    auto row = index_->findByPath(fs::relative(path, root_).string());
    rowExisted.push_back(row && row->has_value());
  };
  auto rec = makeRecorder(opts);
  const fs::path p = place(cam("cam-1"), kT0);
  rec->submit({cam("cam-1"), p.string(), kT0, 2s, "h264", 160, 120});
  rec->drain();
  const std::vector<std::string> expected{"fsync_file", "fsync_dir", "probed", "hashed",
                                          "committed"};
  EXPECT_EQ(stages, expected);
  // The row appears only at the last step, after both fsyncs.
  EXPECT_EQ(rowExisted, (std::vector<bool>{false, false, false, false, true}));
}

TEST_P(RecorderTest, BrokenSubmittedFileIsQuarantinedAndGetsNoRow) {
  std::vector<core::Error> failures;
  RecorderOptions opts;
  opts.onFailed = [&](const ClosedFile&, const core::Error& e) { failures.push_back(e); };
  auto rec = makeRecorder(opts);
  const fs::path bad = root_ / segmentRelativePath(cam("cam-1"), kT0);
  testing::writeBytes(bad, std::string(50000, '\x42'));
  rec->submit({cam("cam-1"), bad.string(), kT0, 2s, "h264", 160, 120});
  // A file outside the root is refused, not indexed.
  rec->submit({cam("cam-1"), (dir_.path() / "elsewhere.mp4").string(), kT0, 2s, "h264", 1, 1});
  rec->drain();
  EXPECT_EQ(rec->stats().failed, 2u);
  ASSERT_EQ(failures.size(), 2u);
  EXPECT_EQ(failures[0].code, core::ErrorCode::kCorrupt);
  EXPECT_EQ(failures[1].code, core::ErrorCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(bad));
  EXPECT_EQ(std::distance(fs::directory_iterator(root_ / "quarantine"), fs::directory_iterator()),
            1);
  EXPECT_TRUE(index_->all()->empty());
}

TEST_P(RecorderTest, ReconcileIndexesOrphansQuarantinesBrokenFilesDropsMissingRows) {
  auto rec = makeRecorder();
  // Two segments recorded and indexed normally; then one file vanishes.
  const fs::path kept = place(cam("cam-1"), kT0);
  const fs::path lost = place(cam("cam-1"), kT0 + 2s);
  rec->submit({cam("cam-1"), kept.string(), kT0, 2s, "h264", 160, 120});
  rec->submit({cam("cam-1"), lost.string(), kT0 + 2s, 2s, "h264", 160, 120});
  rec->drain();
  ASSERT_EQ(index_->all()->size(), 2u);
  auto lostRow = index_->findByPath(fs::relative(lost, root_).string());
  ASSERT_TRUE(lostRow && lostRow->has_value());
  const core::Segment lostSeg = **lostRow;
  fs::remove(lost);

  // A complete orphan (crash after the file was closed, before its row was committed).
  const fs::path orphan = place(cam("cam-2"), kT0 + 10s);
  // A crash in the middle of a fragment: the complete fragments before it still play.
  const fs::path cut = place(cam("cam-2"), kT0 + 12s);
  const auto fullSize = fs::file_size(cut);
  testing::truncateTo(cut, fullSize * 3 / 4);
  // A crash before the first fragment: header only, no complete frame.
  const fs::path headerOnly = place(cam("cam-2"), kT0 + 14s);
  testing::truncateTo(headerOnly, 900);
  // Not media at all.
  const fs::path junk = root_ / segmentRelativePath(cam("cam-3"), kT0);
  testing::writeBytes(junk, "this is not an mp4 file at all, just bytes");

  auto report = rec->reconcile(false);
  ASSERT_TRUE(report) << report.error().describe();
  EXPECT_EQ(report->indexedOrphans, 2);
  EXPECT_EQ(report->quarantined, 2);
  EXPECT_EQ(report->droppedRows, 1);
  EXPECT_EQ(report->hashMismatches, 0);
  EXPECT_EQ(report->actions.size(), 5u);

  auto rows = index_->all();
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 3u);  // kept, orphan, cut
  for (const auto& s : *rows) {
    const fs::path abs = root_ / s.path;
    ASSERT_TRUE(fs::exists(abs)) << s.path;
    EXPECT_EQ(s.sha256, *core::sha256File(abs.string()));
    auto probe = probeMedia(abs.string(), true);
    ASSERT_TRUE(probe) << s.path << ": " << probe.error().describe();
    EXPECT_GT(probe->decodedFrames, 0);
  }
  auto cutRow = index_->findByPath(fs::relative(cut, root_).string());
  ASSERT_TRUE(cutRow && cutRow->has_value());
  EXPECT_EQ((*cutRow)->start, kT0 + 12s) << "start time read back from the file name";
  EXPECT_LT((*cutRow)->mediaDuration, 2s) << "only the complete fragments count";
  EXPECT_GT((*cutRow)->mediaDuration, 0s);
  auto orphanRow = index_->findByPath(fs::relative(orphan, root_).string());
  ASSERT_TRUE(orphanRow && orphanRow->has_value());
  EXPECT_EQ((*orphanRow)->camera, cam("cam-2"));
  EXPECT_FALSE(fs::exists(headerOnly));
  EXPECT_FALSE(fs::exists(junk));
  EXPECT_EQ(std::distance(fs::directory_iterator(root_ / "quarantine"), fs::directory_iterator()),
            2);
  EXPECT_EQ(*index_->integrityCheck(), "ok");
  EXPECT_TRUE(index_->verifyChain(cam("cam-1"))->ok()) << "the dropped row left a tombstone";

  // The dropped row and the two files moved aside are in the audit log; the orphans indexed
  // are not (nothing left the evidence).
  const std::string headerRel = fs::relative(headerOnly, root_).string();
  const std::string junkRel = fs::relative(junk, root_).string();
  auto flat = [](std::string rel) {
    std::replace(rel.begin(), rel.end(), '/', '_');
    return "quarantine/" + rel;
  };
  const auto audit = reconcileAudit();
  ASSERT_EQ(audit.size(), 3u);
  EXPECT_EQ(audit[0], "delete cam-1: file missing: segment id " + std::to_string(lostSeg.id) +
                          ", " + lostSeg.path + ", recorded " + core::formatIso8601(lostSeg.start) +
                          " to " + core::formatIso8601(lostSeg.end) + ", " +
                          std::to_string(lostSeg.bytes) + " bytes, SHA-256 " + lostSeg.sha256);
  // Orphans are handled in path order: cam-2's header-only file, then cam-3's junk.
  EXPECT_EQ(audit[1].rfind("quarantine cam-2: unindexed file " + headerRel + " moved to " +
                               flat(headerRel) + ": ",
                           0),
            0u)
      << audit[1];
  EXPECT_EQ(
      audit[2].rfind(
          "quarantine cam-3: unindexed file " + junkRel + " moved to " + flat(junkRel) + ": ", 0),
      0u)
      << audit[2];
  EXPECT_TRUE(cases_->verifyAudit()->ok());

  // A second reconcile finds nothing to do.
  auto again = rec->reconcile(true);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->actions.empty());
  EXPECT_EQ(reconcileAudit().size(), 3u);
}

TEST_P(RecorderTest, ReconcileKeepsARowWhoseAuditEntryCannotBeWritten) {
  auto rec = makeRecorder();
  const fs::path p = place(cam("cam-1"), kT0);
  rec->submit({cam("cam-1"), p.string(), kT0, 2s, "h264", 160, 120});
  rec->drain();
  fs::remove(p);
  ASSERT_TRUE(testing::refuseWrites(*db_, GetParam(), "audit_log", "INSERT"));
  auto failed = rec->reconcile(false);
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message.find("refused"), std::string::npos) << failed.error().message;
  EXPECT_EQ(index_->all()->size(), 1u) << "no row leaves the index without its entry";
  ASSERT_TRUE(testing::allowWrites(*db_, GetParam(), "audit_log"));
  auto report = rec->reconcile(false);
  ASSERT_TRUE(report) << report.error().describe();
  EXPECT_EQ(report->droppedRows, 1);
  EXPECT_TRUE(index_->all()->empty());
  const auto audit = reconcileAudit();
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0].rfind("delete cam-1: file missing: segment id ", 0), 0u) << audit[0];
  // The deletion run in the chain names why the row went.
  const auto runs =
      db_->db().query("SELECT reason FROM segment_deletions WHERE camera = $1", {"cam-1"});
  ASSERT_TRUE(runs);
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ(runs->front().str(0), "file_missing");
  EXPECT_TRUE(index_->verifyChain(cam("cam-1"))->ok());
}

TEST_P(RecorderTest, ReconcileWithHashesQuarantinesAlteredFiles) {
  auto rec = makeRecorder();
  const fs::path p = place(cam("cam-1"), kT0);
  rec->submit({cam("cam-1"), p.string(), kT0, 2s, "h264", 160, 120});
  rec->drain();
  std::string bytes = testing::readAll(p);
  bytes[bytes.size() / 2] ^= 0x01;  // same size, one bit flipped
  testing::writeBytes(p, bytes);
  auto quick = rec->reconcile(false);
  ASSERT_TRUE(quick);
  EXPECT_EQ(quick->hashMismatches, 0) << "without hashing only sizes are compared";
  const core::Segment row = index_->all()->front();
  auto full = rec->reconcile(true);
  ASSERT_TRUE(full);
  EXPECT_EQ(full->hashMismatches, 1);
  EXPECT_TRUE(index_->all()->empty());
  EXPECT_FALSE(fs::exists(p));
  std::string flat = row.path;
  std::replace(flat.begin(), flat.end(), '/', '_');
  const auto audit = reconcileAudit();
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(audit[0],
            "delete cam-1: file altered (its size or SHA-256 no longer matches the index), moved "
            "to quarantine/" +
                flat + ": segment id " + std::to_string(row.id) + ", " + row.path + ", recorded " +
                core::formatIso8601(row.start) + " to " + core::formatIso8601(row.end) + ", " +
                std::to_string(row.bytes) + " bytes, SHA-256 " + row.sha256);
}

TEST_P(RecorderTest, ReconcileFinishesAnInterruptedDeletion) {
  auto rec = makeRecorder();
  const fs::path p = place(cam("cam-1"), kT0);
  rec->submit({cam("cam-1"), p.string(), kT0, 2s, "h264", 160, 120});
  rec->drain();
  auto row = index_->findByPath(fs::relative(p, root_).string());
  ASSERT_TRUE(row && row->has_value());
  // Crash after "mark", before "unlink": the file and the row are both still there.
  ASSERT_TRUE(index_->markGarbage((*row)->id, "retention"));
  auto report = rec->reconcile(false);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->actions.size(), 1u);
  EXPECT_FALSE(fs::exists(p));
  EXPECT_TRUE(index_->all()->empty());
  EXPECT_TRUE(index_->garbage()->empty());
  EXPECT_EQ(report->indexedOrphans, 0) << "a file being deleted is not an orphan";
}

INSTANTIATE_TEST_SUITE_P(Backends, RecorderTest, ::testing::Values("sqlite", "postgresql"));

TEST(SegmentPathTest, RoundTrip) {
  const core::WallTime t = core::fromUnixMicros(1'790'000'123'456'789);
  const std::string rel = segmentRelativePath(cam("cam-7"), t);
  EXPECT_EQ(rel, "cam-7/20260921/cam-7_20260921T141523.456789Z.mp4");
  auto parsed = parseSegmentRelativePath(rel);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->camera, cam("cam-7"));
  EXPECT_EQ(parsed->start, t);
  EXPECT_FALSE(parseSegmentRelativePath("cam-7/x/other.mp4"));
}

TEST(ProbeMediaTest, ReportsCodecResolutionAndErrors) {
  auto p = probeMedia(sampleSegment().string(), false);
  ASSERT_TRUE(p) << p.error().describe();
  EXPECT_EQ(p->codec, "h264");
  EXPECT_EQ(p->packets, 50);
  EXPECT_EQ(p->decodedFrames, 0);
  auto missing = probeMedia("/nonexistent/x.mp4", false);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, core::ErrorCode::kCorrupt);
}

}  // namespace
}  // namespace sharpeyes::storage
