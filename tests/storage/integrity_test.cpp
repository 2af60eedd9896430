// checkRecordings on both backends: chain, gaps explained by deletion runs or never recorded,
// and file hashes, on real files.
#include "sharpeyes/storage/integrity.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>

#include "backend.h"
#include "db.h"
#include "sharpeyes/storage/database.h"
#include "sharpeyes/storage/segment_index.h"

namespace sharpeyes::storage {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;
namespace fs = std::filesystem;

const core::CameraId kCam = core::CameraId::parse("cam-a").value();
const core::WallTime kT0 = core::fromUnixMicros(1'790'000'000'000'000);

class IntegrityTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto db = testing::openBackend(GetParam(), dir_);
    ASSERT_TRUE(db) << db.error().describe();
    db_ = *db;
    index_ = SegmentIndex::open(db_).value();
    root_ = dir_.path() / "rec";
    // 10 s segments at 0-60 s and 80-120 s: nothing was recorded from 60 to 80 s.
    for (int i : {0, 1, 2, 3, 4, 5, 8, 9, 10, 11}) {
      core::Segment s;
      s.camera = kCam;
      s.start = kT0 + i * 10s;
      s.mediaDuration = 10s;
      s.end = s.start + 10s;
      s.path = "cam-a/" + std::to_string(i) + ".mp4";
      const std::string bytes(1000, static_cast<char>('a' + i));
      testing::writeBytes(root_ / s.path, bytes);
      s.bytes = bytes.size();
      s.sha256 = core::sha256Hex(bytes);
      s.codec = "h264";
      auto id = index_->insert(s);
      ASSERT_TRUE(id) << id.error().describe();
      ids_[i] = *id;
    }
  }

  TempDir dir_;
  std::shared_ptr<Database> db_;
  std::unique_ptr<SegmentIndex> index_;
  fs::path root_;
  std::map<int, int64_t> ids_;  // segment number -> row id
};

TEST_P(IntegrityTest, ExplainsEveryGapAndFindsAlteredFiles) {
  // Retention deletes the first two segments (0-20 s) through the garbage path.
  ASSERT_TRUE(index_->markGarbageMany({ids_[0], ids_[1]}, "age"));
  fs::remove(root_ / "cam-a/0.mp4");
  fs::remove(root_ / "cam-a/1.mp4");
  ASSERT_TRUE(index_->dropGarbageMany({ids_[0], ids_[1]}));
  // Segment 3's file was lost and its row dropped (as reconcile does).
  fs::remove(root_ / "cam-a/3.mp4");
  ASSERT_TRUE(index_->remove(ids_[3], "file_missing", {}));
  // Segment 9 altered in place (same size); segment 10 cut short.
  std::string nine(1000, 'a' + 9);
  nine[500] = 'X';
  testing::writeBytes(root_ / "cam-a/9.mp4", nine);
  testing::writeBytes(root_ / "cam-a/10.mp4", std::string(500, 'a' + 10));

  const core::TimeRange range{kT0, kT0 + 120s};
  auto quick = checkRecordings(*index_, root_.string(), kCam, range, false);
  ASSERT_TRUE(quick) << quick.error().describe();
  EXPECT_TRUE(quick->chain.ok()) << quick->chain.problems.front();
  EXPECT_EQ(quick->chain.rowsChecked, 7);
  EXPECT_EQ(quick->chain.tombstonesCrossed, 3);
  EXPECT_FALSE(quick->filesChecked);
  EXPECT_TRUE(quick->intact()) << "gaps alone are not a failure";
  EXPECT_EQ(quick->timeline.coveredTotal, 70s);

  ASSERT_EQ(quick->gaps.size(), 3u);
  EXPECT_EQ(quick->gaps[0].gap, (core::TimeRange{kT0, kT0 + 20s}));
  ASSERT_EQ(quick->gaps[0].deletedBy.size(), 1u);
  const DeletionRun& age = quick->gaps[0].deletedBy[0];
  EXPECT_EQ(age.reason, "age");
  EXPECT_EQ(age.segments, 2);
  EXPECT_EQ(age.firstId, ids_[0]);
  EXPECT_EQ(age.lastId, ids_[1]);
  EXPECT_EQ(age.recorded, (core::TimeRange{kT0, kT0 + 20s}));
  EXPECT_EQ(age.bytes, 2000u);
  EXPECT_TRUE(age.path.empty()) << "a run of two keeps no file name";

  EXPECT_EQ(quick->gaps[1].gap, (core::TimeRange{kT0 + 30s, kT0 + 40s}));
  ASSERT_EQ(quick->gaps[1].deletedBy.size(), 1u);
  EXPECT_EQ(quick->gaps[1].deletedBy[0].reason, "file_missing");
  EXPECT_EQ(quick->gaps[1].deletedBy[0].path, "cam-a/3.mp4");
  EXPECT_EQ(quick->gaps[1].deletedBy[0].segments, 1);

  EXPECT_EQ(quick->gaps[2].gap, (core::TimeRange{kT0 + 60s, kT0 + 80s}));
  EXPECT_TRUE(quick->gaps[2].deletedBy.empty()) << "never recorded, not deleted";
  EXPECT_TRUE(quick->undatedDeletions.empty());

  auto full = checkRecordings(*index_, root_.string(), kCam, range, true);
  ASSERT_TRUE(full) << full.error().describe();
  EXPECT_TRUE(full->filesChecked);
  EXPECT_EQ(full->files, 7);
  ASSERT_EQ(full->fileProblems.size(), 2u);
  EXPECT_EQ(full->fileProblems[0].segmentId, ids_[9]);
  EXPECT_EQ(full->fileProblems[0].problem, "SHA-256 differs from the index's");
  EXPECT_EQ(full->fileProblems[1].path, "cam-a/10.mp4");
  EXPECT_EQ(full->fileProblems[1].problem, "size 500, indexed 1000");
  EXPECT_FALSE(full->intact());

  // A part of the range with neither gaps nor deletions.
  auto later = checkRecordings(*index_, root_.string(), kCam, {kT0 + 80s, kT0 + 90s}, true);
  ASSERT_TRUE(later);
  EXPECT_TRUE(later->gaps.empty());
  EXPECT_EQ(later->files, 1);
  EXPECT_TRUE(later->intact());
  auto none = index_->deletions(kCam, {kT0 + 40s, kT0 + 120s});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());

  // A row edited behind the index's back breaks the chain: not intact, even without files.
  ASSERT_TRUE(db_->db().execute("UPDATE segments SET bytes = 999 WHERE id = $1", {ids_[5]}));
  auto tampered = checkRecordings(*index_, root_.string(), kCam, range, false);
  ASSERT_TRUE(tampered);
  EXPECT_FALSE(tampered->chain.ok());
  EXPECT_FALSE(tampered->intact());
}

TEST_P(IntegrityTest, DeletionsFromBeforeRunsHadTimesAreListedApart) {
  // A run as migration 10 made from an old tombstone: no times, no bytes.
  ASSERT_TRUE(index_->remove(ids_[11]));
  ASSERT_TRUE(db_->db().execute(
      "UPDATE segment_deletions SET start_us = NULL, end_us = NULL, bytes = NULL"));
  auto r = checkRecordings(*index_, root_.string(), kCam, {kT0, kT0 + 10s}, false);
  ASSERT_TRUE(r) << r.error().describe();
  ASSERT_EQ(r->undatedDeletions.size(), 1u);
  EXPECT_EQ(r->undatedDeletions[0].reason, "removed");
  EXPECT_FALSE(r->undatedDeletions[0].recorded.has_value());
  EXPECT_FALSE(r->undatedDeletions[0].bytes.has_value());
  EXPECT_TRUE(r->gaps.empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, IntegrityTest, ::testing::Values("sqlite", "postgresql"));

}  // namespace
}  // namespace sharpeyes::storage
