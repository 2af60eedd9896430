// ClipStore on both backends: clips and evidence packages round-trip every field, are listed by
// event and case (including clips attached through CaseStore), survive a reopen, and unknown or
// bad references get clear errors.
#include "sharpeyes/storage/clip_store.h"

#include <gtest/gtest.h>

#include <chrono>

#include "backend.h"
#include "sharpeyes/storage/case_store.h"
#include "sharpeyes/storage/database.h"

namespace sharpeyes::storage {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

const core::WallTime kT0 = core::fromUnixMicros(1'790'000'000'000'000);

core::Clip makeClip(const std::string& id, int n = 0) {
  core::Clip c;
  c.id = id;
  c.camera = core::CameraId::parse("cam-" + std::to_string(n)).value();
  c.requested = {kT0 + n * 60s, kT0 + n * 60s + 30s};
  c.actual = {kT0 + n * 60s - 800ms, kT0 + n * 60s + 30s};
  c.gaps = {{kT0 + n * 60s + 10s, kT0 + n * 60s + 12s}, {kT0 + n * 60s + 20s, kT0 + n * 60s + 21s}};
  c.path = "clips/" + id + ".mp4";
  c.bytes = 123456789012ull + n;  // above 32 bits
  c.sha256 = std::string(64, 'a');
  c.sourceSegmentSha256 = {std::string(64, 'b'), std::string(64, 'c')};
  return c;
}

void expectSameClip(const core::Clip& got, const core::Clip& want) {
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.camera.str(), want.camera.str());
  EXPECT_EQ(got.requested, want.requested);
  EXPECT_EQ(got.actual, want.actual);
  EXPECT_EQ(got.gaps, want.gaps);
  EXPECT_EQ(got.path, want.path);
  EXPECT_EQ(got.bytes, want.bytes);
  EXPECT_EQ(got.sha256, want.sha256);
  EXPECT_EQ(got.sourceSegmentSha256, want.sourceSegmentSha256);
}

class ClipStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgresql") {
      auto url = testing::freshPostgresDatabase();
      ASSERT_TRUE(url) << url.error().describe();
      url_ = *url;
    } else {
      url_ = "sqlite:" + (dir_.path() / "index.db").string();
    }
    reopen();
  }
  void reopen() {
    clips_.reset();
    cases_.reset();
    auto db = Database::open(url_);
    ASSERT_TRUE(db) << db.error().describe();
    auto s = ClipStore::open(*db);
    ASSERT_TRUE(s) << s.error().describe();
    clips_ = std::move(*s);
    auto c = CaseStore::open(*db);
    ASSERT_TRUE(c) << c.error().describe();
    cases_ = std::move(*c);
  }
  static std::vector<std::string> ids(const std::vector<ClipRecord>& v) {
    std::vector<std::string> out;
    for (const auto& c : v) out.push_back(c.clip.id);
    return out;
  }

  TempDir dir_;
  std::string url_;
  std::unique_ptr<ClipStore> clips_;
  std::unique_ptr<CaseStore> cases_;
};

TEST_P(ClipStoreTest, ClipRoundTrip) {
  const core::Clip clip = makeClip("clip-1", 1);
  auto rec = clips_->recordClip(clip, "alice", std::string("ev-1"));
  ASSERT_TRUE(rec) << rec.error().describe();
  EXPECT_EQ(rec->createdBy, "alice");
  EXPECT_EQ(rec->eventId, "ev-1");
  EXPECT_EQ(rec->caseId, "");
  EXPECT_NE(rec->createdAt, core::WallTime{});

  auto got = clips_->getClip("clip-1");
  ASSERT_TRUE(got) << got.error().describe();
  expectSameClip(got->clip, clip);
  EXPECT_EQ(got->createdBy, "alice");
  EXPECT_EQ(got->createdAt, rec->createdAt);
  EXPECT_EQ(got->eventId, "ev-1");
  EXPECT_EQ(got->caseId, "");

  // A clip with no gaps and no sources round-trips as empty lists.
  core::Clip bare = makeClip("clip-2", 2);
  bare.gaps.clear();
  bare.sourceSegmentSha256.clear();
  ASSERT_TRUE(clips_->recordClip(bare, "bob"));
  auto gotBare = clips_->getClip("clip-2");
  ASSERT_TRUE(gotBare) << gotBare.error().describe();
  expectSameClip(gotBare->clip, bare);
  EXPECT_EQ(gotBare->eventId, "");
}

TEST_P(ClipStoreTest, ClipsByEventAndCase) {
  ASSERT_TRUE(cases_->createCase("CASE-1", "theft", {"alice", "test"}));
  ASSERT_TRUE(cases_->createCase("CASE-2", "other", {"alice", "test"}));
  ASSERT_TRUE(clips_->recordClip(makeClip("a", 1), "alice", std::string("ev-1")));
  ASSERT_TRUE(
      clips_->recordClip(makeClip("b", 2), "alice", std::string("ev-1"), std::string("CASE-1")));
  ASSERT_TRUE(clips_->recordClip(makeClip("c", 3), "alice", std::nullopt, std::string("CASE-1")));
  ASSERT_TRUE(clips_->recordClip(makeClip("d", 4), "alice", std::string("ev-2")));

  auto ev1 = clips_->clipsForEvent("ev-1");
  ASSERT_TRUE(ev1) << ev1.error().describe();
  EXPECT_EQ(ids(*ev1), (std::vector<std::string>{"a", "b"}));
  auto none = clips_->clipsForEvent("ev-none");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());

  auto case1 = clips_->clipsForCase("CASE-1");
  ASSERT_TRUE(case1) << case1.error().describe();
  EXPECT_EQ(ids(*case1), (std::vector<std::string>{"b", "c"}));
  // A clip attached to a case afterwards (CaseStore) is listed for it too, once.
  ASSERT_TRUE(cases_->attach("CASE-1", "clip", "d", {"bob", "test"}));
  ASSERT_TRUE(cases_->attach("CASE-1", "clip", "b", {"bob", "test"}));
  case1 = clips_->clipsForCase("CASE-1");
  ASSERT_TRUE(case1) << case1.error().describe();
  EXPECT_EQ(ids(*case1), (std::vector<std::string>{"b", "c", "d"}));
  auto case2 = clips_->clipsForCase("CASE-2");
  ASSERT_TRUE(case2);
  EXPECT_TRUE(case2->empty());
}

TEST_P(ClipStoreTest, ClipErrors) {
  EXPECT_EQ(clips_->getClip("nope").error().code, core::ErrorCode::kNotFound);
  core::Clip noId = makeClip("");
  EXPECT_EQ(clips_->recordClip(noId, "a").error().code, core::ErrorCode::kInvalidArgument);
  core::Clip noPath = makeClip("x");
  noPath.path.clear();
  EXPECT_EQ(clips_->recordClip(noPath, "a").error().code, core::ErrorCode::kInvalidArgument);
  EXPECT_EQ(clips_->recordClip(makeClip("x"), "a", std::string("")).error().code,
            core::ErrorCode::kInvalidArgument);
  // Unknown case: refused, and nothing recorded.
  auto unknownCase = clips_->recordClip(makeClip("x"), "a", std::nullopt, std::string("NO-CASE"));
  ASSERT_FALSE(unknownCase);
  EXPECT_EQ(unknownCase.error().code, core::ErrorCode::kNotFound) << unknownCase.error().describe();
  EXPECT_EQ(clips_->getClip("x").error().code, core::ErrorCode::kNotFound);
  // Same id twice.
  ASSERT_TRUE(clips_->recordClip(makeClip("x"), "a"));
  auto dup = clips_->recordClip(makeClip("x"), "a");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, core::ErrorCode::kAlreadyExists) << dup.error().describe();
}

TEST_P(ClipStoreTest, EvidenceRoundTrip) {
  ASSERT_TRUE(cases_->createCase("CASE-1", "theft", {"alice", "test"}));
  ASSERT_TRUE(clips_->recordClip(makeClip("c1", 1), "alice", std::nullopt, std::string("CASE-1")));
  ASSERT_TRUE(clips_->recordClip(makeClip("c2", 2), "alice", std::nullopt, std::string("CASE-1")));

  EvidenceRecord e;
  e.caseId = "CASE-1";
  e.path = "/var/lib/sharpeyes/evidence/CASE-1-1.tar";
  e.bytes = 5'000'000'000ull;
  e.sha256 = std::string(64, 'e');
  e.createdBy = "alice";
  e.clipIds = {"c2", "c1"};  // the package's order is kept, not sorted
  e.manifestJson = R"({"format":"sharpeyes-evidence/1","clips":["c2","c1"],"note":"引号\""})";
  auto rec = clips_->recordEvidence(e);
  ASSERT_TRUE(rec) << rec.error().describe();
  EXPECT_FALSE(rec->id.empty());
  EXPECT_NE(rec->createdAt, core::WallTime{});

  auto got = clips_->getEvidence(rec->id);
  ASSERT_TRUE(got) << got.error().describe();
  EXPECT_EQ(got->id, rec->id);
  EXPECT_EQ(got->caseId, "CASE-1");
  EXPECT_EQ(got->path, e.path);
  EXPECT_EQ(got->bytes, e.bytes);
  EXPECT_EQ(got->sha256, e.sha256);
  EXPECT_EQ(got->createdBy, "alice");
  EXPECT_EQ(got->createdAt, rec->createdAt);
  EXPECT_EQ(got->clipIds, (std::vector<std::string>{"c2", "c1"}));
  EXPECT_EQ(got->manifestJson, e.manifestJson);

  // A second package with a given id and time, and one with no clips.
  EvidenceRecord e2 = e;
  e2.id = "pkg-2";
  e2.createdAt = kT0;
  e2.clipIds = {"c1"};
  ASSERT_TRUE(clips_->recordEvidence(e2));
  auto got2 = clips_->getEvidence("pkg-2");
  ASSERT_TRUE(got2) << got2.error().describe();
  EXPECT_EQ(got2->createdAt, kT0);
  EXPECT_EQ(got2->clipIds, (std::vector<std::string>{"c1"}));
  EvidenceRecord e3 = e;
  e3.id = "pkg-3";
  e3.caseId = "";
  e3.clipIds.clear();
  ASSERT_TRUE(clips_->recordEvidence(e3));
  auto got3 = clips_->getEvidence("pkg-3");
  ASSERT_TRUE(got3) << got3.error().describe();
  EXPECT_EQ(got3->caseId, "");
  EXPECT_TRUE(got3->clipIds.empty());

  auto forCase = clips_->evidenceForCase("CASE-1");
  ASSERT_TRUE(forCase) << forCase.error().describe();
  ASSERT_EQ(forCase->size(), 2u);
  EXPECT_EQ((*forCase)[0].id, rec->id);
  EXPECT_EQ((*forCase)[0].clipIds, (std::vector<std::string>{"c2", "c1"}));
  EXPECT_EQ((*forCase)[1].id, "pkg-2");
  EXPECT_EQ((*forCase)[1].clipIds, (std::vector<std::string>{"c1"}));
  auto forNone = clips_->evidenceForCase("NO-CASE");
  ASSERT_TRUE(forNone);
  EXPECT_TRUE(forNone->empty());
}

TEST_P(ClipStoreTest, EvidenceErrors) {
  ASSERT_TRUE(cases_->createCase("CASE-1", "theft", {"alice", "test"}));
  EXPECT_EQ(clips_->getEvidence("nope").error().code, core::ErrorCode::kNotFound);
  EvidenceRecord e;
  e.caseId = "CASE-1";
  EXPECT_EQ(clips_->recordEvidence(e).error().code, core::ErrorCode::kInvalidArgument);  // no path
  e.path = "/x.tar";
  e.caseId = "NO-CASE";
  EXPECT_EQ(clips_->recordEvidence(e).error().code, core::ErrorCode::kNotFound);
  // A clip that was never recorded: refused as a whole (no half-written package).
  e.id = "pkg";
  e.caseId = "CASE-1";
  e.clipIds = {"never-recorded"};
  auto bad = clips_->recordEvidence(e);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, core::ErrorCode::kNotFound) << bad.error().describe();
  EXPECT_EQ(clips_->getEvidence("pkg").error().code, core::ErrorCode::kNotFound);
  // Same id twice.
  e.clipIds.clear();
  ASSERT_TRUE(clips_->recordEvidence(e));
  EXPECT_EQ(clips_->recordEvidence(e).error().code, core::ErrorCode::kAlreadyExists);
}

TEST_P(ClipStoreTest, PersistsAcrossReopen) {
  ASSERT_TRUE(cases_->createCase("CASE-1", "theft", {"alice", "test"}));
  const core::Clip clip = makeClip("c1", 1);
  ASSERT_TRUE(clips_->recordClip(clip, "alice", std::string("ev-1"), std::string("CASE-1")));
  EvidenceRecord e;
  e.id = "pkg-1";
  e.caseId = "CASE-1";
  e.path = "/x.tar";
  e.clipIds = {"c1"};
  e.manifestJson = "{}";
  ASSERT_TRUE(clips_->recordEvidence(e));
  reopen();
  auto got = clips_->getClip("c1");
  ASSERT_TRUE(got) << got.error().describe();
  expectSameClip(got->clip, clip);
  EXPECT_EQ(got->caseId, "CASE-1");
  auto pkg = clips_->getEvidence("pkg-1");
  ASSERT_TRUE(pkg) << pkg.error().describe();
  EXPECT_EQ(pkg->clipIds, (std::vector<std::string>{"c1"}));
  EXPECT_EQ(pkg->manifestJson, "{}");
}

INSTANTIATE_TEST_SUITE_P(Backends, ClipStoreTest, ::testing::Values("sqlite", "postgresql"));

}  // namespace
}  // namespace sharpeyes::storage
