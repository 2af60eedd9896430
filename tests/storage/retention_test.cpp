// Retention policy (pure), cases/holds/audit and retention sweeps on both backends.
#include "sharpeyes/storage/retention.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>

#include "backend.h"
#include "db.h"
#include "sharpeyes/storage/case_store.h"
#include "sharpeyes/storage/database.h"
#include "sharpeyes/storage/recorder.h"
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

// ---- policy without I/O -------------------------------------------------------------------

std::vector<RetentionCandidate> tenPerCamera() {
  std::vector<RetentionCandidate> out;
  for (int i = 0; i < 10; ++i) {
    for (const char* c : {"a", "b"}) {
      out.push_back(
          {static_cast<int64_t>(out.size() + 1), cam(c), {kT0 + i * 1h, kT0 + i * 1h + 10s}, 100});
    }
  }
  return out;
}

TEST(RetentionPolicyTest, AgePerCameraWithDefault) {
  RetentionPolicy p;
  p.defaultMaxAge = 5h;
  p.maxAge[cam("b")] = 2h;
  // now = kT0 + 10h: a keeps segments ending after kT0+5h, b after kT0+8h.
  auto plan = planRetention(p, kT0 + 10h, 0, 0, tenPerCamera(), {});
  int a = 0;
  int b = 0;
  for (const auto& d : plan.deletions) {
    EXPECT_EQ(d.reason, "age");
    (d.id % 2 == 1 ? a : b)++;
  }
  EXPECT_EQ(a, 5);  // hours 0..4
  EXPECT_EQ(b, 8);  // hours 0..7
  EXPECT_EQ(plan.bytesFreed, 1300u);
}

TEST(RetentionPolicyTest, QuotaDeletesOldestFromHighToLowWatermark) {
  RetentionPolicy p;
  p.highWatermark = 0.9;
  p.lowWatermark = 0.5;
  // 2000 bytes used of 2000: delete down to 1000 -> the 10 oldest segments.
  auto plan = planRetention(p, kT0, 2000, 2000, tenPerCamera(), {});
  ASSERT_EQ(plan.deletions.size(), 10u);
  EXPECT_TRUE(plan.overHighWatermark);
  EXPECT_FALSE(plan.quotaUnreachable);
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(plan.deletions[i].id, static_cast<int64_t>(i + 1));
  // Under the high watermark nothing happens, even above the low one.
  EXPECT_TRUE(planRetention(p, kT0, 1700, 2000, tenPerCamera(), {}).deletions.empty());
}

TEST(RetentionPolicyTest, NeverTouchesHeldSegments) {
  RetentionPolicy p;
  p.defaultMaxAge = 1h;
  p.highWatermark = 0.9;
  p.lowWatermark = 0.5;
  // Hold camera a's first three hours.
  std::vector<HoldRange> holds{{cam("a"), {kT0, kT0 + 2h + 1s}}};
  auto plan = planRetention(p, kT0 + 100h, 2000, 2000, tenPerCamera(), holds);
  for (const auto& d : plan.deletions) {
    EXPECT_FALSE(d.id == 1 || d.id == 3 || d.id == 5) << "held segment " << d.id << " deleted";
  }
  EXPECT_EQ(plan.deletions.size(), 17u);
  // Everything held: the quota cannot be met, which the gateway must hear about.
  std::vector<HoldRange> all{{cam("a"), {kT0, kT0 + 100h}}, {cam("b"), {kT0, kT0 + 100h}}};
  auto stuck = planRetention(p, kT0 + 100h, 2000, 2000, tenPerCamera(), all);
  EXPECT_TRUE(stuck.deletions.empty());
  EXPECT_TRUE(stuck.quotaUnreachable);
}

// ---- cases, holds, audit --------------------------------------------------------------------

class CaseStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto db = testing::openBackend(GetParam(), dir_);
    ASSERT_TRUE(db) << db.error().describe();
    db_ = *db;
    cases_ = CaseStore::open(db_).value();
  }
  TempDir dir_;
  std::shared_ptr<Database> db_;
  std::unique_ptr<CaseStore> cases_;
  Actor officer_{"officer-li", "10.0.0.7"};
};

TEST_P(CaseStoreTest, CasesItemsHoldsAndTheirAuditTrail) {
  ASSERT_TRUE(cases_->createCase("2026-XJ-0012", "bicycle theft", officer_));
  EXPECT_EQ(cases_->createCase("2026-XJ-0012", "again", officer_).error().code,
            core::ErrorCode::kAlreadyExists);
  ASSERT_TRUE(cases_->attach("2026-XJ-0012", "event", "ev-1", officer_));
  ASSERT_TRUE(cases_->attach("2026-XJ-0012", "event", "ev-1", officer_));  // harmless twice
  ASSERT_TRUE(cases_->attach("2026-XJ-0012", "clip", "exports/c1.zip", officer_));
  EXPECT_EQ(cases_->attach("nope", "event", "ev-1", officer_).error().code,
            core::ErrorCode::kNotFound);
  EXPECT_EQ(cases_->items("2026-XJ-0012")->size(), 2u);

  auto hold =
      cases_->placeHold("2026-XJ-0012", cam("cam-1"), {kT0, kT0 + 1h}, "evidence", officer_);
  ASSERT_TRUE(hold) << hold.error().describe();
  EXPECT_EQ(cases_->holds("")->size(), 1u);
  ASSERT_TRUE(cases_->liftHold(hold->id, "case closed", officer_));
  EXPECT_EQ(cases_->liftHold(hold->id, "again", officer_).error().code,
            core::ErrorCode::kInvalidArgument);
  EXPECT_TRUE(cases_->holds("")->empty());
  auto all = cases_->holds("2026-XJ-0012");
  ASSERT_EQ(all->size(), 1u);
  EXPECT_FALSE((*all)[0].active());
  EXPECT_EQ((*all)[0].liftReason, "case closed");
  ASSERT_TRUE(cases_->appendAudit(officer_, "view", "cam-1", "live"));

  auto log = cases_->auditLog(0, 100);
  ASSERT_TRUE(log);
  std::vector<std::string> actions;
  for (const auto& e : *log) actions.push_back(e.action);
  EXPECT_EQ(actions, (std::vector<std::string>{"case_create", "case_attach", "case_attach", "hold",
                                               "lift", "view"}));
  EXPECT_EQ(log->front().origin, "10.0.0.7");
  auto ok = cases_->verifyAudit();
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->ok());
  EXPECT_EQ(ok->entries, 6);
}

TEST_P(CaseStoreTest, AuditVerifyDetectsEditedRemovedAndTruncatedEntries) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(cases_->appendAudit(officer_, "view", "cam-1", "x"));
  auto& raw = db_->db();
  ASSERT_TRUE(raw.execute("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2"));
  auto edited = cases_->verifyAudit();
  ASSERT_EQ(edited->problems.size(), 1u);
  EXPECT_NE(edited->problems[0].find("edited"), std::string::npos);

  ASSERT_TRUE(raw.execute("UPDATE audit_log SET actor = $1 WHERE seq = 2", {officer_.who}));
  ASSERT_TRUE(cases_->verifyAudit()->ok());
  ASSERT_TRUE(raw.execute("DELETE FROM audit_log WHERE seq = 3"));
  auto removed = cases_->verifyAudit();
  ASSERT_EQ(removed->problems.size(), 1u);
  EXPECT_NE(removed->problems[0].find("removed"), std::string::npos);

  TempDir d2;
  auto db2 = testing::openBackend(GetParam(), d2);
  ASSERT_TRUE(db2);
  auto c2 = CaseStore::open(*db2).value();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c2->appendAudit(officer_, "view", "cam-1", "x"));
  ASSERT_TRUE((*db2)->db().execute("DELETE FROM audit_log WHERE seq = 3"));
  EXPECT_FALSE(c2->verifyAudit()->ok()) << "removing the newest entry is detected too";
}

TEST_P(CaseStoreTest, AppendAuditManyChainsAcrossBatches) {
  ASSERT_TRUE(cases_->appendAudit(officer_, "view", "cam-1", "before"));
  ASSERT_TRUE(cases_->appendAuditMany(officer_, "delete", {}));  // nothing, harmlessly
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 250; ++i) many.emplace_back("seg/" + std::to_string(i), "age");
  ASSERT_TRUE(cases_->appendAuditMany(officer_, "delete", many));  // crosses 100-row statements
  ASSERT_TRUE(cases_->appendAudit(officer_, "view", "cam-1", "after"));

  auto log = cases_->auditLog(0, 1000);
  ASSERT_TRUE(log);
  ASSERT_EQ(log->size(), 252u);
  for (size_t i = 0; i < log->size(); ++i) {
    EXPECT_EQ((*log)[i].seq, static_cast<int64_t>(i + 1));
    if (i > 0) {
      EXPECT_EQ((*log)[i].prevHash, (*log)[i - 1].hash) << i;
    }
  }
  EXPECT_EQ((*log)[1].target, "seg/0");
  EXPECT_EQ((*log)[250].target, "seg/249");
  EXPECT_EQ((*log)[251].details, "after");
  auto ok = cases_->verifyAudit();
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->ok()) << ok->problems.front();
  EXPECT_EQ(ok->entries, 252);
  ASSERT_TRUE(db_->db().execute("UPDATE audit_log SET details = 'quota' WHERE seq = 150"));
  EXPECT_FALSE(cases_->verifyAudit()->ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, CaseStoreTest, ::testing::Values("sqlite", "postgresql"));

// ---- retention sweeps on real files ---------------------------------------------------------

class RetentionTest : public CaseStoreTest {
 protected:
  void SetUp() override {
    CaseStoreTest::SetUp();
    index_ = SegmentIndex::open(db_).value();
    root_ = dir_.path() / "rec";
    ASSERT_TRUE(cases_->createCase("C1", "case", officer_));
    // Ten 1000-byte segments per camera, one every 10 s, alternating cameras.
    std::vector<core::Segment> segs;
    for (int i = 0; i < 10; ++i) {
      for (const char* c : {"cam-a", "cam-b"}) {
        core::Segment s;
        s.camera = cam(c);
        s.start = kT0 + i * 10s;
        s.mediaDuration = 10s;
        s.end = s.start + 10s;
        s.path = std::string(c) + "/" + std::to_string(i) + ".mp4";
        testing::writeBytes(root_ / s.path, std::string(1000, 'v'));
        s.bytes = 1000;
        s.sha256 = core::sha256Hex(std::string(1000, 'v'));
        s.codec = "h264";
        segs.push_back(s);
      }
    }
    ASSERT_TRUE(index_->insertMany(segs));
  }
  std::unique_ptr<Retention> make(RetentionPolicy policy,
                                  std::function<void(const StorageFullAlert&)> onFull = {}) {
    RetentionOptions o;
    o.root = root_.string();
    o.policy = policy;
    o.batch = 3;  // several rounds even on this small set
    o.onStorageFull = std::move(onFull);
    auto r = Retention::create(o, *index_, cases_.get());
    EXPECT_TRUE(r);
    return std::move(*r);
  }
  std::unique_ptr<SegmentIndex> index_;
  fs::path root_;
};

TEST_P(RetentionTest, QuotaSweepDeletesOldestExceptHeldThroughGarbageRows) {
  // Hold cam-a's first 20 s.
  ASSERT_TRUE(cases_->placeHold("C1", cam("cam-a"), {kT0, kT0 + 15s}, "evidence", officer_));
  RetentionPolicy p;
  p.quotaBytes = 20000;
  p.highWatermark = 0.9;
  p.lowWatermark = 0.5;  // 20000 used -> down to 10000: ten deletions
  int alerts = 0;
  auto r = make(p, [&](const StorageFullAlert&) { ++alerts; });
  auto report = r->sweep(kT0 + 1000s);
  ASSERT_TRUE(report) << report.error().describe();
  EXPECT_EQ(report->deleted, 10);
  EXPECT_FALSE(report->storageFull);
  EXPECT_EQ(alerts, 0);
  EXPECT_EQ(*index_->totalBytes(), 10000u);
  EXPECT_TRUE(fs::exists(root_ / "cam-a/0.mp4"));
  EXPECT_TRUE(fs::exists(root_ / "cam-a/1.mp4"));
  EXPECT_TRUE(index_->findByPath("cam-a/1.mp4")->has_value());
  EXPECT_FALSE(fs::exists(root_ / "cam-b/0.mp4"));
  EXPECT_FALSE(index_->findByPath("cam-b/0.mp4")->has_value());
  const auto all = index_->all();  // named: a range-for over *temporary would dangle
  ASSERT_TRUE(all);
  for (const auto& s : *all) EXPECT_TRUE(fs::exists(root_ / s.path)) << s.path;
  EXPECT_TRUE(index_->garbage()->empty());
  EXPECT_TRUE(index_->verifyChain(cam("cam-a"))->ok());
  EXPECT_TRUE(index_->verifyChain(cam("cam-b"))->ok());
  // One audit entry per camera and reason in each batch, together accounting for every
  // deleted segment: b0, b1 (a0, a1 are held), then a2-a5 and b2-b5.
  std::map<std::string, int> deletedPerCamera;
  const auto log = cases_->auditLog(0, 1000);
  ASSERT_TRUE(log);
  for (const auto& e : *log) {
    if (e.action != "delete") continue;
    ASSERT_EQ(e.details.rfind("quota: ", 0), 0u) << e.details;
    deletedPerCamera[e.target] += std::stoi(e.details.substr(7));
  }
  EXPECT_EQ(deletedPerCamera, (std::map<std::string, int>{{"cam-a", 4}, {"cam-b", 6}}));
  EXPECT_TRUE(cases_->verifyAudit()->ok());
}

TEST_P(RetentionTest, AgeSweepPerCamera) {
  RetentionPolicy p;
  p.maxAge[cam("cam-a")] = 30s;  // now - 30 s = kT0 + 70 s: keeps segments ending after it
  // A quota far above the 20 kB indexed, so only age decides: without one the watermarks read
  // the host's file system, and a host disk over 90 % full would delete more.
  p.quotaBytes = 1ull << 40;
  auto r = make(p);
  auto report = r->sweep(kT0 + 100s);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->deleted, 7);
  auto left = index_->query(cam("cam-a"), {kT0, kT0 + 1000s});
  ASSERT_EQ(left->size(), 3u);
  EXPECT_EQ(left->front().start, kT0 + 70s);
  EXPECT_EQ(index_->query(cam("cam-b"), {kT0, kT0 + 1000s})->size(), 10u);

  // Batches of 3: three audit entries (3, 3 and 1 segments), each naming the camera, the
  // recorded time, the bytes, the first and last row id and a digest of the files' hashes.
  std::vector<AuditEntry> deletes;
  const auto log = cases_->auditLog(0, 1000);
  ASSERT_TRUE(log);
  for (const auto& e : *log) {
    if (e.action == "delete") deletes.push_back(e);
  }
  ASSERT_EQ(deletes.size(), 3u);
  const std::string h = core::sha256Hex(std::string(1000, 'v'));
  // cam-a's rows had ids 1, 3, 5, ... (inserted alternating with cam-b's).
  EXPECT_EQ(deletes[0].target, "cam-a");
  EXPECT_EQ(deletes[0].details, "age: 3 segments recorded " + core::formatIso8601(kT0) + " to " +
                                    core::formatIso8601(kT0 + 30s) +
                                    ", 3000 bytes, segment ids 1 to 5, SHA-256 of the files' "
                                    "SHA-256 in id order " +
                                    core::sha256Hex(h + h + h));
  EXPECT_EQ(
      deletes[2].details.rfind("age: 1 segment recorded " + core::formatIso8601(kT0 + 60s), 0), 0u)
      << deletes[2].details;
  EXPECT_TRUE(cases_->verifyAudit()->ok());
}

TEST_P(RetentionTest, HeldRecordingsFillingTheQuotaRaiseStorageFull) {
  ASSERT_TRUE(cases_->placeHold("C1", cam("cam-a"), {kT0, kT0 + 1000s}, "evidence", officer_));
  ASSERT_TRUE(cases_->placeHold("C1", cam("cam-b"), {kT0, kT0 + 1000s}, "evidence", officer_));
  RetentionPolicy p;
  p.quotaBytes = 20000;
  std::vector<StorageFullAlert> alerts;
  auto r = make(p, [&](const StorageFullAlert& a) { alerts.push_back(a); });
  auto report = r->sweep(kT0 + 1000s);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->deleted, 0);
  EXPECT_TRUE(report->storageFull);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].used, 20000u);
  EXPECT_EQ(index_->all()->size(), 20u);
}

// Segments counted in the "delete" audit entries, per camera.
std::map<std::string, int> auditedDeletions(CaseStore& cases) {
  std::map<std::string, int> out;
  const auto log = cases.auditLog(0, 1000);
  EXPECT_TRUE(log);
  if (!log) return out;
  for (const auto& e : *log) {
    if (e.action != "delete") continue;
    const auto colon = e.details.find(": ");
    out[e.target] += std::stoi(e.details.substr(colon + 2));
  }
  return out;
}

TEST_P(RetentionTest, AuditEntriesAreWrittenWithTheMarksSoNoDeletionGoesUnrecorded) {
  RetentionPolicy p;
  p.maxAge[cam("cam-a")] = 30s;  // cam-a's first 7 segments are past it at kT0 + 100 s
  p.quotaBytes = 1ull << 40;
  auto r = make(p);

  // 1. The audit log refuses the entry: nothing is marked, no file is touched.
  ASSERT_TRUE(testing::refuseWrites(*db_, GetParam(), "audit_log", "INSERT"));
  auto failed = r->sweep(kT0 + 100s);
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message.find("refused"), std::string::npos) << failed.error().message;
  EXPECT_TRUE(index_->garbage()->empty());
  EXPECT_EQ(index_->all()->size(), 20u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(fs::exists(root_ / ("cam-a/" + std::to_string(i) + ".mp4"))) << i;
  }
  EXPECT_TRUE(auditedDeletions(*cases_).empty());
  ASSERT_TRUE(testing::allowWrites(*db_, GetParam(), "audit_log"));

  // 2. A crash after the marks (here: dropping the rows fails, after the files are unlinked):
  // the entries are already there, and finishing the deletion (reconcile, as at the next start)
  // writes none twice.
  ASSERT_TRUE(testing::refuseWrites(*db_, GetParam(), "segments", "DELETE"));
  ASSERT_FALSE(r->sweep(kT0 + 100s));
  EXPECT_EQ(index_->garbage()->size(), 3u) << "the first batch of 3 is marked";
  EXPECT_FALSE(fs::exists(root_ / "cam-a/0.mp4"));
  EXPECT_EQ(auditedDeletions(*cases_), (std::map<std::string, int>{{"cam-a", 3}}));
  ASSERT_TRUE(testing::allowWrites(*db_, GetParam(), "segments"));
  RecorderOptions ro;
  ro.root = root_.string();
  auto recorder = Recorder::create(ro, *index_);
  ASSERT_TRUE(recorder) << recorder.error().describe();
  auto reconciled = (*recorder)->reconcile(false);
  ASSERT_TRUE(reconciled) << reconciled.error().describe();
  EXPECT_TRUE(index_->garbage()->empty());
  EXPECT_EQ(index_->all()->size(), 17u);

  // 3. The sweep goes on from there: every deleted segment is in exactly one entry.
  auto report = r->sweep(kT0 + 100s);
  ASSERT_TRUE(report) << report.error().describe();
  EXPECT_EQ(report->deleted, 4);
  EXPECT_EQ(index_->query(cam("cam-a"), {kT0, kT0 + 1000s})->size(), 3u);
  EXPECT_EQ(auditedDeletions(*cases_), (std::map<std::string, int>{{"cam-a", 7}}));
  EXPECT_TRUE(cases_->verifyAudit()->ok());
  EXPECT_TRUE(index_->verifyChain(cam("cam-a"))->ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, RetentionTest, ::testing::Values("sqlite", "postgresql"));

}  // namespace
}  // namespace sharpeyes::storage
