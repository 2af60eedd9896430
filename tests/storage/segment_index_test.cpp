// SegmentIndex on a real SQLite file and a real PostgreSQL server: rows, queries, the garbage
// path, the hash chain and the timeline.
#include "sharpeyes/storage/segment_index.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <optional>

#include "backend.h"
#include "db.h"
#include "sharpeyes/storage/database.h"

namespace sharpeyes::storage {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

core::CameraId cam(const char* s) {
  return core::CameraId::parse(s).value();
}

core::Segment seg(const core::CameraId& c, core::WallTime start, core::Duration len,
                  const std::string& path) {
  core::Segment s;
  s.camera = c;
  s.start = start;
  s.mediaDuration = len;
  s.end = start + len;
  s.path = path;
  s.bytes = 1000;
  s.codec = "h264";
  s.width = 1920;
  s.height = 1080;
  s.sha256 = core::sha256Hex(path);
  return s;
}

const core::WallTime kT0 = core::fromUnixMicros(1'790'000'000'000'000);

class SegmentIndexTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto db = testing::openBackend(GetParam(), dir_);
    ASSERT_TRUE(db) << db.error().describe();
    db_ = *db;
    auto idx = SegmentIndex::open(db_);
    ASSERT_TRUE(idx);
    index_ = std::move(*idx);
  }
  // Ten contiguous 10 s segments of cam-a from kT0.
  std::vector<int64_t> fill() {
    std::vector<int64_t> ids;
    for (int i = 0; i < 10; ++i) {
      auto id = index_->insert(seg(cam("cam-a"), kT0 + i * 10s, 10s, "a/" + std::to_string(i)));
      EXPECT_TRUE(id) << id.error().describe();
      ids.push_back(id.valueOr(0));
    }
    return ids;
  }
  TempDir dir_;
  std::shared_ptr<Database> db_;
  std::unique_ptr<SegmentIndex> index_;
};

TEST_P(SegmentIndexTest, InsertQueryAndFind) {
  auto ids = fill();
  ASSERT_TRUE(index_->insert(seg(cam("cam-b"), kT0, 10s, "b/0")));
  auto q = index_->query(cam("cam-a"), {kT0 + 15s, kT0 + 35s});
  ASSERT_TRUE(q);
  ASSERT_EQ(q->size(), 3u);  // 10-20, 20-30, 30-40
  EXPECT_EQ((*q)[0].path, "a/1");
  EXPECT_EQ((*q)[2].path, "a/3");
  EXPECT_EQ((*q)[0].start, kT0 + 10s);
  EXPECT_EQ((*q)[0].mediaDuration, 10s);
  EXPECT_EQ((*q)[0].width, 1920);
  EXPECT_EQ((*q)[0].sha256, core::sha256Hex("a/1"));
  auto f = index_->findByPath("a/4");
  ASSERT_TRUE(f && f->has_value());
  EXPECT_EQ((*f)->id, ids[4]);
  auto all = index_->all();
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 11u);
  EXPECT_EQ(all->front().camera, cam("cam-a"));
  EXPECT_EQ(all->back().camera, cam("cam-b"));
  // The same path twice is refused: one file, one row.
  auto dup = index_->insert(seg(cam("cam-a"), kT0, 10s, "a/0"));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, core::ErrorCode::kAlreadyExists);
  auto ic = index_->integrityCheck();
  ASSERT_TRUE(ic);
  EXPECT_EQ(*ic, "ok");
  auto total = index_->totalBytes();
  ASSERT_TRUE(total);
  EXPECT_EQ(*total, 11000u);
}

// The directory keeps a camera's name and division for its recordings: replaced by a later
// description, kept after the camera's segments are all gone, none for an unknown camera.
TEST_P(SegmentIndexTest, CameraLabelsAreRememberedAndReplaced) {
  const auto village = core::DivisionCode::parse("510603101201").value();
  const auto other = core::DivisionCode::parse("510603101202").value();
  auto none = index_->cameraLabel(cam("cam-a"));
  ASSERT_TRUE(none) << none.error().describe();
  EXPECT_FALSE(none->has_value());

  ASSERT_TRUE(index_->describeCameras({{cam("cam-a"), "East gate", village},
                                       {cam("cam-b"), "\u6751\u53e3 (village entrance)", other}}));
  auto a = index_->cameraLabel(cam("cam-a"));
  ASSERT_TRUE(a && a->has_value());
  EXPECT_EQ((*a)->camera, cam("cam-a"));
  EXPECT_EQ((*a)->name, "East gate");
  EXPECT_EQ((*a)->division.str(), "510603101201");
  auto b = index_->cameraLabel(cam("cam-b"));
  ASSERT_TRUE(b && b->has_value());
  EXPECT_EQ((*b)->name, "\u6751\u53e3 (village entrance)");

  // Renamed and moved: the newest description wins.
  ASSERT_TRUE(index_->describeCameras({{cam("cam-a"), "East gate 2", other}}));
  b = index_->cameraLabel(cam("cam-b"));  // not in this call: unchanged
  ASSERT_TRUE(b && b->has_value());
  EXPECT_EQ((*b)->division.str(), "510603101202");
  a = index_->cameraLabel(cam("cam-a"));
  ASSERT_TRUE(a && a->has_value());
  EXPECT_EQ((*a)->name, "East gate 2");
  EXPECT_EQ((*a)->division.str(), "510603101202");

  // Its segments deleted: the label stays (clips and evidence outlive the recordings).
  for (int64_t id : fill()) ASSERT_TRUE(index_->remove(id));
  a = index_->cameraLabel(cam("cam-a"));
  ASSERT_TRUE(a && a->has_value());
  EXPECT_EQ((*a)->name, "East gate 2");

  // A list with a label without a division is refused whole: the stored labels are untouched.
  auto bad = index_->describeCameras(
      {{cam("cam-b"), "renamed", village}, {cam("cam-a"), "x", core::DivisionCode{}}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, core::ErrorCode::kInvalidArgument);
  a = index_->cameraLabel(cam("cam-a"));
  ASSERT_TRUE(a && a->has_value());
  EXPECT_EQ((*a)->division.str(), "510603101202");
  b = index_->cameraLabel(cam("cam-b"));
  ASSERT_TRUE(b && b->has_value());
  EXPECT_EQ((*b)->name, "\u6751\u53e3 (village entrance)");
}

TEST_P(SegmentIndexTest, ChainDetectsRemovedAndAlteredRowsButNotGarbageDeletion) {
  auto ids = fill();
  auto ok = index_->verifyChain(cam("cam-a"));
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->ok());
  EXPECT_EQ(ok->rowsChecked, 10);

  // Deleting through the garbage path (retention) keeps the chain verifiable.
  ASSERT_TRUE(index_->markGarbage(ids[3], "retention"));
  auto g = index_->garbage();
  ASSERT_TRUE(g);
  ASSERT_EQ(g->size(), 1u);
  EXPECT_EQ((*g)[0].path, "a/3");
  auto old = index_->oldest(std::nullopt, 100);
  ASSERT_TRUE(old);
  EXPECT_EQ(old->size(), 9u) << "garbage rows are not offered again";
  ASSERT_TRUE(index_->dropGarbage(ids[3]));
  ASSERT_TRUE(index_->remove(ids[0]));
  auto afterGc = index_->verifyChain(cam("cam-a"));
  ASSERT_TRUE(afterGc);
  EXPECT_TRUE(afterGc->ok()) << afterGc->problems.front();
  EXPECT_EQ(afterGc->tombstonesCrossed, 2);

  // Tampering behind the index's back: raw SQL.
  auto& raw = db_->db();
  ASSERT_TRUE(raw.execute("UPDATE segments SET bytes = 999 WHERE id = $1", {ids[5]}));
  ASSERT_TRUE(raw.execute("DELETE FROM segments WHERE id = $1", {ids[7]}));
  auto bad = index_->verifyChain(cam("cam-a"));
  ASSERT_TRUE(bad);
  ASSERT_EQ(bad->problems.size(), 2u);
  EXPECT_NE(bad->problems[0].find("altered"), std::string::npos) << bad->problems[0];
  EXPECT_NE(bad->problems[1].find("missing"), std::string::npos) << bad->problems[1];
}

TEST_P(SegmentIndexTest, BatchedGarbageAcrossStatementChunks) {
  // More rows than one batched statement takes (500), so the chunking is crossed.
  constexpr int kRows = 1203;
  std::vector<core::Segment> rows;
  rows.reserve(kRows);
  for (int i = 0; i < kRows; ++i) {
    rows.push_back(seg(cam("cam-a"), kT0 + i * 10s, 10s, "a/" + std::to_string(i)));
  }
  ASSERT_TRUE(index_->insertMany(rows));
  auto all = index_->oldest(cam("cam-a"), kRows);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), static_cast<size_t>(kRows));
  std::vector<int64_t> doomed;  // every row but the newest three
  doomed.reserve(kRows - 3);
  for (int i = 0; i < kRows - 3; ++i) doomed.push_back((*all)[i].id);

  ASSERT_TRUE(index_->markGarbageMany(doomed, "age"));
  ASSERT_TRUE(index_->markGarbageMany(doomed, "age")) << "marking twice is harmless";
  auto g = index_->garbage();
  ASSERT_TRUE(g);
  ASSERT_EQ(g->size(), doomed.size());
  EXPECT_EQ(g->front().reason, "age");
  EXPECT_EQ(g->front().path, "a/0");

  // All or nothing: one id that is not garbage fails the whole drop with kNotFound.
  std::vector<int64_t> withLive = doomed;
  withLive.push_back((*all)[kRows - 1].id);
  auto refused = index_->dropGarbageMany(withLive);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, core::ErrorCode::kNotFound) << refused.error().describe();
  EXPECT_EQ(index_->garbage()->size(), doomed.size());
  EXPECT_EQ(*index_->totalBytes(), kRows * 1000u);

  ASSERT_TRUE(index_->dropGarbageMany(doomed));
  EXPECT_TRUE(index_->garbage()->empty());
  auto left = index_->oldest(cam("cam-a"), kRows);
  ASSERT_TRUE(left);
  ASSERT_EQ(left->size(), 3u);
  EXPECT_EQ(left->front().path, "a/" + std::to_string(kRows - 3));
  // One deletion run for the whole stretch, across the statement chunks.
  auto runs = db_->db().query(
      "SELECT COUNT(*), SUM(segments), MIN(first_id), MAX(last_id) FROM segment_deletions WHERE "
      "reason = 'age'");
  ASSERT_TRUE(runs);
  EXPECT_EQ(runs->front().i64(0), 1);
  EXPECT_EQ(runs->front().i64(1), kRows - 3);
  EXPECT_EQ(runs->front().i64(2), doomed.front());
  EXPECT_EQ(runs->front().i64(3), doomed.back());
  auto chain = index_->verifyChain(cam("cam-a"));
  ASSERT_TRUE(chain);
  EXPECT_TRUE(chain->ok()) << chain->problems.front();
  EXPECT_EQ(chain->tombstonesCrossed, kRows - 3);
  EXPECT_EQ(index_->dropGarbageMany({doomed.front()}).error().code, core::ErrorCode::kNotFound);
}

// Deletions are kept as runs (migration 10): one row per stretch of a camera's chain deleted
// for one reason, extended by the next deletion next to it, so retention deleting the oldest
// rows day after day does not grow the database by a row per segment.
TEST_P(SegmentIndexTest, DeletionsAreKeptAsRunsThatExtendAndJoin) {
  constexpr int kRows = 30;
  std::vector<int64_t> a;
  std::vector<int64_t> b;
  for (int i = 0; i < kRows; ++i) {  // the two cameras' ids interleave, as they do when recording
    a.push_back(*index_->insert(seg(cam("cam-a"), kT0 + i * 10s, 10s, "a/" + std::to_string(i))));
    b.push_back(*index_->insert(seg(cam("cam-b"), kT0 + i * 10s, 10s, "b/" + std::to_string(i))));
  }
  auto drop = [&](const std::vector<int64_t>& ids, const char* reason) {
    ASSERT_TRUE(index_->markGarbageMany(ids, reason));
    auto d = index_->dropGarbageMany(ids);
    ASSERT_TRUE(d) << d.error().describe();
  };
  auto slice = [](const std::vector<int64_t>& ids, int from, int to) {
    return std::vector<int64_t>(ids.begin() + from, ids.begin() + to);
  };
  struct RunRow {
    int64_t first, last, segments;
    std::optional<int64_t> start, end, bytes;
    std::string reason, path;
  };
  auto runsOf = [&](const char* camera) {
    auto rows = db_->db().query(
        "SELECT first_id, last_id, segments, start_us, end_us, bytes, reason, path FROM "
        "segment_deletions WHERE camera = $1 ORDER BY first_id",
        {std::string(camera)});
    EXPECT_TRUE(rows) << rows.error().describe();
    std::vector<RunRow> out;
    for (const auto& r : rows.valueOr({})) {
      auto opt = [&](size_t i) { return r.isNull(i) ? std::nullopt : std::optional(r.i64(i)); };
      out.push_back({r.i64(0), r.i64(1), r.i64(2), opt(3), opt(4), opt(5), r.str(6),
                     r.isNull(7) ? "" : r.str(7)});
    }
    return out;
  };
  const int64_t t0 = core::toUnixMicros(kT0);

  // The oldest ten of both cameras in one drop: a run per camera.
  std::vector<int64_t> first = slice(a, 0, 10);
  for (int64_t id : slice(b, 0, 10)) first.push_back(id);
  drop(first, "age");
  ASSERT_EQ(runsOf("cam-a").size(), 1u);
  ASSERT_EQ(runsOf("cam-b").size(), 1u);
  // The next ten of cam-a extend its run.
  drop(slice(a, 10, 20), "age");
  auto ra = runsOf("cam-a");
  ASSERT_EQ(ra.size(), 1u);
  EXPECT_EQ(ra[0].first, a[0]);
  EXPECT_EQ(ra[0].last, a[19]);
  EXPECT_EQ(ra[0].segments, 20);
  EXPECT_EQ(ra[0].start, t0);
  EXPECT_EQ(ra[0].end, t0 + 200'000'000);
  EXPECT_EQ(ra[0].bytes, 20'000);
  EXPECT_EQ(ra[0].path, "") << "a run of many segments names no single file";

  // a[20] kept (as a hold keeps it), a[21..24] deleted: a second run. Then a[20] goes too and
  // the two runs become one.
  drop(slice(a, 21, 25), "age");
  ASSERT_EQ(runsOf("cam-a").size(), 2u);
  drop(slice(a, 20, 21), "age");
  ra = runsOf("cam-a");
  ASSERT_EQ(ra.size(), 1u);
  EXPECT_EQ(ra[0].first, a[0]);
  EXPECT_EQ(ra[0].last, a[24]);
  EXPECT_EQ(ra[0].segments, 25);
  EXPECT_EQ(ra[0].end, t0 + 250'000'000);

  // Another reason is a run of its own; a single deleted segment keeps its file's name. a[26]
  // removed next joins a[27]'s run from before.
  ASSERT_TRUE(index_->remove(a[27]));
  ra = runsOf("cam-a");
  ASSERT_EQ(ra.size(), 2u);
  EXPECT_EQ(ra[1].reason, "removed");
  EXPECT_EQ(ra[1].path, "a/27");
  ASSERT_TRUE(index_->remove(a[26]));
  ra = runsOf("cam-a");
  ASSERT_EQ(ra.size(), 2u);
  EXPECT_EQ(ra[1].first, a[26]);
  EXPECT_EQ(ra[1].last, a[27]);
  EXPECT_EQ(ra[1].segments, 2);
  EXPECT_EQ(ra[1].start, t0 + 260'000'000);
  EXPECT_EQ(ra[1].path, "");

  auto ca = index_->verifyChain(cam("cam-a"));
  ASSERT_TRUE(ca);
  EXPECT_TRUE(ca->ok()) << ca->problems.front();
  EXPECT_EQ(ca->rowsChecked, 3);  // a[25], a[28], a[29]
  EXPECT_EQ(ca->tombstonesCrossed, 27);
  auto cb = index_->verifyChain(cam("cam-b"));
  ASSERT_TRUE(cb);
  EXPECT_TRUE(cb->ok()) << cb->problems.front();
  EXPECT_EQ(cb->tombstonesCrossed, 10);

  // The per-camera byte totals followed every insert and deletion (migration 11).
  auto sum = db_->db().query("SELECT COALESCE(SUM(bytes), 0) FROM segments");
  ASSERT_TRUE(sum);
  EXPECT_EQ(static_cast<int64_t>(*index_->totalBytes()), (*sum)[0].i64(0));
  EXPECT_EQ(*index_->totalBytes(), 23'000u);  // a[25], a[28], a[29] and b[10..29]

  // A row deleted behind the index's back is still found: no run steps over it.
  ASSERT_TRUE(db_->db().execute("DELETE FROM segments WHERE id = $1", {a[28]}));
  auto bad = index_->verifyChain(cam("cam-a"));
  ASSERT_TRUE(bad);
  ASSERT_EQ(bad->problems.size(), 1u);
  EXPECT_NE(bad->problems[0].find("missing"), std::string::npos) << bad->problems[0];
}

// A database of schema 9 kept one tombstone per deleted segment; migration 10 turns each into a
// one-segment run (times and sizes unknown), the chain still verifies, and new deletions next
// to them join them.
TEST_P(SegmentIndexTest, UpgradeTurnsTombstonesIntoRuns) {
  auto fresh = testing::freshBackendUrl(GetParam(), dir_, "upgrade.db");
  ASSERT_TRUE(fresh) << fresh.error().describe();
  const std::string url = *fresh;
  std::vector<int64_t> ids;
  {
    auto db = Database::open(url);
    ASSERT_TRUE(db) << db.error().describe();
    auto idx = SegmentIndex::open(*db);
    ASSERT_TRUE(idx);
    for (int i = 0; i < 6; ++i) {
      ids.push_back(
          *(*idx)->insert(seg(cam("cam-a"), kT0 + i * 10s, 10s, "a/" + std::to_string(i))));
    }
    // Back to schema 9, with rows 1 and 2 deleted the way schema 9 deleted them.
    auto& raw = (*db)->db();
    ASSERT_TRUE(raw.execScript(
        "DROP TABLE segment_deletions; DELETE FROM schema_migrations WHERE version = 10; "
        "CREATE TABLE segment_tombstones (segment_id BIGINT PRIMARY KEY, camera TEXT NOT NULL, "
        "prev_chain TEXT NOT NULL, chain TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT "
        "NULL, reason TEXT NOT NULL, deleted_us BIGINT NOT NULL); CREATE INDEX "
        "segment_tombstones_chain ON segment_tombstones (camera, chain)"));
    for (int i : {1, 2}) {
      ASSERT_TRUE(raw.execute(
          "INSERT INTO segment_tombstones (segment_id, camera, prev_chain, chain, path, sha256, "
          "reason, deleted_us) SELECT id, camera, prev_chain, chain, path, sha256, 'age', 1 FROM "
          "segments WHERE id = $1",
          {ids[i]}));
      ASSERT_TRUE(raw.execute("DELETE FROM segments WHERE id = $1", {ids[i]}));
    }
  }
  auto db = Database::open(url);  // migrates to 10 again
  ASSERT_TRUE(db) << db.error().describe();
  EXPECT_EQ((*db)->schemaVersion(), detail::latestSchemaVersion());
  auto idx = SegmentIndex::open(*db);
  ASSERT_TRUE(idx);
  auto& raw = (*db)->db();
  auto again = raw.query("SELECT 1 FROM schema_migrations WHERE version = 10");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->size(), 1u) << "migration 10 ran again";
  auto runs = raw.query(
      "SELECT first_id, segments, path, start_us FROM segment_deletions ORDER BY first_id");
  ASSERT_TRUE(runs) << runs.error().describe();
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].i64(0), ids[1]);
  EXPECT_EQ((*runs)[0].str(2), "a/1");
  EXPECT_TRUE((*runs)[0].isNull(3)) << "schema 9 did not record the deleted segment's times";
  auto chain = (*idx)->verifyChain(cam("cam-a"));
  ASSERT_TRUE(chain);
  EXPECT_TRUE(chain->ok()) << chain->problems.front();
  EXPECT_EQ(chain->tombstonesCrossed, 2);

  // Row 3 deleted now joins row 2's run; its times stay unknown (row 2's were never recorded).
  ASSERT_TRUE((*idx)->markGarbage(ids[3], "age"));
  ASSERT_TRUE((*idx)->dropGarbage(ids[3]));
  runs = raw.query(
      "SELECT first_id, last_id, segments, start_us, bytes FROM segment_deletions ORDER BY "
      "first_id");
  ASSERT_TRUE(runs);
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[1].i64(0), ids[2]);
  EXPECT_EQ((*runs)[1].i64(1), ids[3]);
  EXPECT_EQ((*runs)[1].i64(2), 2);
  EXPECT_TRUE((*runs)[1].isNull(3));
  EXPECT_TRUE((*runs)[1].isNull(4));
  chain = (*idx)->verifyChain(cam("cam-a"));
  ASSERT_TRUE(chain);
  EXPECT_TRUE(chain->ok()) << chain->problems.front();
  EXPECT_EQ(chain->tombstonesCrossed, 3);
}

// totalBytes() (what retention measures against a quota before every sweep) is each camera's
// running total, not a scan of the rows; migration 11 computes it once for an existing index.
TEST_P(SegmentIndexTest, TotalBytesIsKeptPerCameraAndComputedAtTheUpgrade) {
  auto fresh = testing::freshBackendUrl(GetParam(), dir_, "bytes.db");
  ASSERT_TRUE(fresh) << fresh.error().describe();
  const std::string url = *fresh;
  {
    auto db = Database::open(url);
    ASSERT_TRUE(db) << db.error().describe();
    auto idx = SegmentIndex::open(*db);
    ASSERT_TRUE(idx);
    for (int i = 0; i < 4; ++i) {
      auto a = seg(cam("cam-a"), kT0 + i * 10s, 10s, "a/" + std::to_string(i));
      a.bytes = 1000 + i;
      auto b = seg(cam("cam-b"), kT0 + i * 10s, 10s, "b/" + std::to_string(i));
      b.bytes = 5000;
      ASSERT_TRUE((*idx)->insert(a));
      ASSERT_TRUE((*idx)->insert(b));
    }
    EXPECT_EQ(*(*idx)->totalBytes(), 4006u + 20000u);
    // Back to schema 10: no totals.
    ASSERT_TRUE((*db)->db().execScript(
        "ALTER TABLE segment_chain_heads DROP COLUMN bytes; DELETE FROM schema_migrations WHERE "
        "version = 11"));
  }
  auto db = Database::open(url);
  ASSERT_TRUE(db) << db.error().describe();
  auto idx = SegmentIndex::open(*db);
  ASSERT_TRUE(idx);
  EXPECT_EQ(*(*idx)->totalBytes(), 24006u) << "computed by migration 11";
  auto first = (*idx)->oldest(cam("cam-a"), 1);
  ASSERT_TRUE(first && first->size() == 1u);
  ASSERT_TRUE((*idx)->markGarbage(first->front().id, "age"));
  ASSERT_TRUE((*idx)->dropGarbage(first->front().id));              // a/0: 1000 bytes
  ASSERT_TRUE((*idx)->insert(seg(cam("cam-c"), kT0, 10s, "c/0")));  // 1000 bytes, a new camera
  EXPECT_EQ(*(*idx)->totalBytes(), 24006u);
  auto perCamera =
      (*db)->db().query("SELECT camera, bytes FROM segment_chain_heads ORDER BY camera");
  ASSERT_TRUE(perCamera);
  ASSERT_EQ(perCamera->size(), 3u);
  EXPECT_EQ((*perCamera)[0].i64(1), 3006);
  EXPECT_EQ((*perCamera)[1].i64(1), 20000);
  EXPECT_EQ((*perCamera)[2].i64(1), 1000);
}

TEST_P(SegmentIndexTest, NewestRowRemovedBehindTheIndexIsDetected) {
  auto ids = fill();
  ASSERT_TRUE(db_->db().execute("DELETE FROM segments WHERE id = $1", {ids.back()}));
  auto r = index_->verifyChain(cam("cam-a"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->problems.size(), 1u);
}

TEST_P(SegmentIndexTest, TimelineShowsCoverageAndGaps) {
  // 0-10, 10-20, (gap 20-40), 40-50, 50-60 with a 20 ms jitter between the last two.
  ASSERT_TRUE(index_->insert(seg(cam("cam-a"), kT0, 10s, "a/0")));
  ASSERT_TRUE(index_->insert(seg(cam("cam-a"), kT0 + 10s, 10s, "a/1")));
  ASSERT_TRUE(index_->insert(seg(cam("cam-a"), kT0 + 40s, 10s, "a/4")));
  ASSERT_TRUE(index_->insert(seg(cam("cam-a"), kT0 + 50s + 20ms, 10s, "a/5")));
  auto t = index_->timeline(cam("cam-a"), {kT0 - 5s, kT0 + 70s}, 40ms);
  ASSERT_TRUE(t);
  ASSERT_EQ(t->covered.size(), 2u);
  EXPECT_EQ(t->covered[0], (core::TimeRange{kT0, kT0 + 20s}));
  EXPECT_EQ(t->covered[1], (core::TimeRange{kT0 + 40s, kT0 + 60s + 20ms}));
  ASSERT_EQ(t->gaps.size(), 3u);
  EXPECT_EQ(t->gaps[0], (core::TimeRange{kT0 - 5s, kT0}));
  EXPECT_EQ(t->gaps[1], (core::TimeRange{kT0 + 20s, kT0 + 40s}));
  EXPECT_EQ(t->gaps[2], (core::TimeRange{kT0 + 60s + 20ms, kT0 + 70s}));
}

// The timeline reads only (start_us, end_us) in start order (migration 8's covering index): two
// segments with the same start (a span recorded twice), one inside another and one that began
// before the range must still merge and clip into the right spans; another camera never shows.
TEST_P(SegmentIndexTest, TimelineMergesSameStartAndNestedSegments) {
  ASSERT_TRUE(index_->insert(seg(cam("cam-a"), kT0 - 5s, 10s, "a/pre")));  // -5..5, clipped
  ASSERT_TRUE(index_->insert(seg(cam("cam-a"), kT0 + 20s, 15s, "a/2")));   // 20..35
  ASSERT_TRUE(index_->insert(seg(cam("cam-a"), kT0 + 20s, 10s, "a/2b")));  // 20..30, same start
  ASSERT_TRUE(index_->insert(seg(cam("cam-a"), kT0 + 31s, 2s, "a/3")));    // 31..33, nested
  ASSERT_TRUE(index_->insert(seg(cam("cam-b"), kT0 + 5s, 20s, "b/0")));    // another camera
  ASSERT_TRUE(index_->insert(seg(cam("cam-a"), kT0 + 70s, 10s, "a/7")));   // after the range
  auto t = index_->timeline(cam("cam-a"), {kT0, kT0 + 60s}, 40ms);
  ASSERT_TRUE(t) << t.error().describe();
  ASSERT_EQ(t->covered.size(), 2u);
  EXPECT_EQ(t->covered[0], (core::TimeRange{kT0, kT0 + 5s}));
  EXPECT_EQ(t->covered[1], (core::TimeRange{kT0 + 20s, kT0 + 35s}));
  ASSERT_EQ(t->gaps.size(), 2u);
  EXPECT_EQ(t->gaps[0], (core::TimeRange{kT0 + 5s, kT0 + 20s}));
  EXPECT_EQ(t->gaps[1], (core::TimeRange{kT0 + 35s, kT0 + 60s}));
  EXPECT_EQ(t->coveredTotal, core::Duration(20s));
}

// Migration 8 replaced (camera, start_us) by (camera, start_us, end_us), and the timeline's
// query is answered from that index alone, never from the table.
TEST_P(SegmentIndexTest, TimelineQueryIsServedByTheCoveringIndex) {
  fill();
  auto& raw = db_->db();
  const std::string sql =
      "SELECT start_us, end_us FROM segments WHERE camera = $1 AND start_us < $2 AND "
      "end_us > $3 AND start_us >= $4 ORDER BY start_us";
  const std::vector<detail::Value> params{std::string("cam-a"), core::toUnixMicros(kT0 + 60s),
                                          core::toUnixMicros(kT0), core::toUnixMicros(kT0 - 1h)};
  std::string plan;
  if (GetParam() == "sqlite") {
    auto rows = raw.query("EXPLAIN QUERY PLAN " + sql, params);
    ASSERT_TRUE(rows) << rows.error().describe();
    for (const auto& r : *rows) plan += r.str(3) + "\n";
    EXPECT_NE(plan.find("COVERING INDEX segments_camera_start_end"), std::string::npos) << plan;
    EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;  // index order, no sort
    auto old = raw.query(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = "
        "'segments_camera_start'");
    ASSERT_TRUE(old);
    EXPECT_EQ((*old)[0].i64(0), 0);
  } else {
    // Ten rows make a sequential scan cheapest; with it disabled the plan shows what the
    // indexes can do.
    ASSERT_TRUE(raw.execScript("SET enable_seqscan = off; SET enable_bitmapscan = off"));
    auto rows = raw.query("EXPLAIN " + sql, params);
    ASSERT_TRUE(rows) << rows.error().describe();
    for (const auto& r : *rows) plan += r.str(0) + "\n";
    EXPECT_NE(plan.find("Index Only Scan using segments_camera_start_end"), std::string::npos)
        << plan;
    EXPECT_EQ(plan.find("Sort"), std::string::npos) << plan;
    auto old =
        raw.query("SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'segments_camera_start'");
    ASSERT_TRUE(old);
    EXPECT_EQ((*old)[0].i64(0), 0);
  }
}

TEST_P(SegmentIndexTest, MigrationsAreRecordedAndIdempotent) {
  EXPECT_GE(db_->schemaVersion(), 1);
  auto rows = db_->db().query("SELECT version, name FROM schema_migrations ORDER BY version");
  ASSERT_TRUE(rows);
  ASSERT_FALSE(rows->empty());
  EXPECT_EQ((*rows)[0].i64(0), 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, SegmentIndexTest, ::testing::Values("sqlite", "postgresql"));

TEST(SqliteIndexTest, WalModeSurvivesReopenAndPassesIntegrityCheck) {
  TempDir dir;
  const std::string path = (dir.path() / "index.db").string();
  {
    auto idx = SegmentIndex::openSqlite(path);
    ASSERT_TRUE(idx) << idx.error().describe();
    ASSERT_TRUE((*idx)->insert(seg(cam("cam-a"), kT0, 10s, "a/0")));
    EXPECT_TRUE(std::filesystem::exists(path + "-wal"));
  }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  sqlite3_close(raw);
  auto again = SegmentIndex::openSqlite(path);
  ASSERT_TRUE(again);
  auto all = (*again)->all();
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 1u);
  EXPECT_EQ(*(*again)->integrityCheck(), "ok");
}

TEST(SqliteIndexTest, GarbageFileIsNotADatabase) {
  TempDir dir;
  const auto path = dir.path() / "index.db";
  testing::writeBytes(path, std::string(8192, 'x'));
  auto idx = SegmentIndex::openSqlite(path.string());
  ASSERT_FALSE(idx);
  EXPECT_FALSE(idx.error().message.empty());
}

}  // namespace
}  // namespace sharpeyes::storage
