// Clip export (libavformat remux) across segments with gaps, and evidence packages.
#include "sharpeyes/storage/clip_export.h"

#include <gtest/gtest.h>

#include <chrono>

#include "backend.h"
#include "sharpeyes/storage/database.h"
#include "sharpeyes/storage/recorder.h"
#include "sharpeyes/storage/segment_index.h"

namespace sharpeyes::storage {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;
namespace fs = std::filesystem;

const core::CameraId kCam = core::CameraId::parse("cam-1").value();
const core::WallTime kT0 = core::fromUnixMicros(1'790'000'000'000'000);

double seconds(core::Duration d) {
  return std::chrono::duration<double>(d).count();
}

class ClipExportTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    root_ = dir_.path() / "rec";
    auto db = testing::openBackend(GetParam(), dir_);
    ASSERT_TRUE(db) << db.error().describe();
    index_ = SegmentIndex::open(*db).value();
    // 2 s segments (keyframes every second) at 0, 2, 4 s, then a gap, then 10 s.
    const fs::path sample = dir_.path() / "sample.mp4";
    ASSERT_TRUE(testing::makeFragmentedMp4(sample, 50));
    RecorderOptions o;
    o.root = root_.string();
    auto rec = Recorder::create(o, *index_).value();
    for (auto at : {0s, 2s, 4s, 10s}) {
      const fs::path p = root_ / segmentRelativePath(kCam, kT0 + at);
      fs::create_directories(p.parent_path());
      fs::copy_file(sample, p);
      rec->submit({kCam, p.string(), kT0 + at, 2s, "h264", 160, 120});
    }
    rec->drain();
    ASSERT_EQ(rec->stats().committed, 4u);
  }
  ClipRequest request(core::Duration from, core::Duration to, const std::string& name) {
    return {kCam, {kT0 + from, kT0 + to}, (dir_.path() / "out" / name).string()};
  }
  TempDir dir_;
  fs::path root_;
  std::unique_ptr<SegmentIndex> index_;
};

TEST_P(ClipExportTest, StartsAtKeyframeAcrossSegmentsFaststartAndDecodable) {
  auto clip = exportClip(*index_, root_.string(), request(2500ms, 5500ms, "a.mp4"));
  ASSERT_TRUE(clip) << clip.error().describe();
  EXPECT_EQ(clip->actual.begin, kT0 + 2s) << "the keyframe at or before t0";
  EXPECT_NEAR(seconds(clip->actual.end - kT0), 5.5, 0.05);
  EXPECT_TRUE(clip->gaps.empty());
  EXPECT_EQ(clip->sourceSegmentSha256.size(), 2u);
  const std::string out = (dir_.path() / "out" / "a.mp4").string();
  EXPECT_EQ(clip->sha256, *core::sha256File(out));
  EXPECT_EQ(clip->bytes, fs::file_size(out));
  auto probe = probeMedia(out, true);
  ASSERT_TRUE(probe) << probe.error().describe();
  EXPECT_EQ(probe->codec, "h264");
  EXPECT_EQ(probe->decodedFrames, 88);  // 2.0 s .. 5.5 s at 25 fps (frames starting before 5.5)
  EXPECT_NEAR(seconds(probe->duration), 3.52, 0.05);
  // Faststart: the index (moov) precedes the media data (mdat).
  const std::string bytes = testing::readAll(out);
  ASSERT_NE(bytes.find("moov"), std::string::npos);
  EXPECT_LT(bytes.find("moov"), bytes.find("mdat"));
}

TEST_P(ClipExportTest, GapsAreReportedAndKeptInTheTimeline) {
  auto clip = exportClip(*index_, root_.string(), request(5s, 11s, "gap.mp4"));
  ASSERT_TRUE(clip) << clip.error().describe();
  ASSERT_EQ(clip->gaps.size(), 1u);
  EXPECT_EQ(clip->gaps[0].begin, kT0 + 6s);
  EXPECT_EQ(clip->gaps[0].end, kT0 + 10s);
  EXPECT_EQ(clip->actual.begin, kT0 + 5s);
  auto probe = probeMedia((dir_.path() / "out" / "gap.mp4").string(), true);
  ASSERT_TRUE(probe);
  EXPECT_EQ(probe->decodedFrames, 50);  // 1 s before the gap, 1 s after
  EXPECT_NEAR(seconds(probe->duration), 6.0, 0.05) << "timestamps stay true to wall time";
}

TEST_P(ClipExportTest, NothingRecordedAndVanishedSegmentsAreClearErrors) {
  auto none = exportClip(*index_, root_.string(), request(100s, 110s, "none.mp4"));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, core::ErrorCode::kNotFound);
  // Retention (or anything) removed a file in the middle: an error, never a shorter clip.
  auto rows = index_->query(kCam, {kT0 + 2s, kT0 + 3s});
  ASSERT_EQ(rows->size(), 1u);
  fs::remove(root_ / rows->front().path);
  auto broken = exportClip(*index_, root_.string(), request(1s, 5s, "broken.mp4"));
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().code, core::ErrorCode::kUnavailable);
  // A segment marked for deletion is refused the same way.
  auto first = index_->query(kCam, {kT0, kT0 + 1s})->front();
  ASSERT_TRUE(index_->markGarbage(first.id, "retention"));
  EXPECT_EQ(exportClip(*index_, root_.string(), request(0s, 1s, "g.mp4")).error().code,
            core::ErrorCode::kUnavailable);
}

TEST_P(ClipExportTest, AlteredSourceSegmentIsRefused) {
  auto rows = index_->query(kCam, {kT0 + 4s, kT0 + 5s});
  const fs::path p = root_ / rows->front().path;
  std::string bytes = testing::readAll(p);
  bytes[bytes.size() - 100] ^= 0x20;
  testing::writeBytes(p, bytes);
  auto clip = exportClip(*index_, root_.string(), request(4s, 5s, "x.mp4"));
  ASSERT_FALSE(clip);
  EXPECT_EQ(clip.error().code, core::ErrorCode::kCorrupt);
}

TEST_P(ClipExportTest, EvidencePackageVerifiesAndDetectsTampering) {
  const fs::path keys = dir_.path() / "keys";
  fs::create_directories(keys);
  ASSERT_TRUE(generateSigningKey((keys / "a.key").string(), (keys / "a.pub").string()));
  ASSERT_TRUE(generateSigningKey((keys / "b.key").string(), (keys / "b.pub").string()));
  EXPECT_EQ(fs::status(keys / "a.key").permissions() & fs::perms::others_read, fs::perms::none);
  auto clip = exportClip(*index_, root_.string(), request(1s, 3s, "e.mp4"));
  ASSERT_TRUE(clip);
  EvidenceInfo info{core::DivisionCode::parse("510603101201").value(), "officer-li", "2026-XJ-0012",
                    "gw-1"};
  auto make = [&](const std::string& name, const std::string& key) {
    const fs::path pkg = dir_.path() / name;
    auto m = writeEvidencePackage(*clip, (dir_.path() / "out" / "e.mp4").string(), info,
                                  (keys / key).string(), pkg.string());
    EXPECT_TRUE(m) << m.error().describe();
    return pkg;
  };
  const fs::path good = make("pkg-good", "a.key");
  auto v = verifyEvidencePackage(good.string(), (keys / "a.pub").string());
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->ok) << (v->problems.empty() ? "" : v->problems[0]);
  EXPECT_TRUE(v->trustedKeyChecked);
  EXPECT_NE(v->manifest.find("\"case\": \"2026-XJ-0012\""), std::string::npos);
  EXPECT_NE(v->manifest.find(clip->sourceSegmentSha256[0]), std::string::npos);

  // Another key signed it.
  const fs::path other = make("pkg-other", "b.key");
  EXPECT_FALSE(verifyEvidencePackage(other.string(), (keys / "a.pub").string())->ok);
  // A flipped byte in the clip.
  const fs::path flipped = make("pkg-flip", "a.key");
  std::string b = testing::readAll(flipped / "clip.mp4");
  b[b.size() / 2] ^= 0x01;
  testing::writeBytes(flipped / "clip.mp4", b);
  auto vf = verifyEvidencePackage(flipped.string(), (keys / "a.pub").string());
  EXPECT_FALSE(vf->ok);
  // Truncation.
  const fs::path cut = make("pkg-cut", "a.key");
  fs::resize_file(cut / "clip.mp4", fs::file_size(cut / "clip.mp4") - 1000);
  EXPECT_FALSE(verifyEvidencePackage(cut.string(), (keys / "a.pub").string())->ok);
  // An edited manifest (one byte of the case number).
  const fs::path edited = make("pkg-manifest", "a.key");
  std::string m = testing::readAll(edited / "manifest.json");
  m[m.find("XJ")] = 'X' + 1;
  testing::writeBytes(edited / "manifest.json", m);
  EXPECT_FALSE(verifyEvidencePackage(edited.string(), (keys / "a.pub").string())->ok);
}

INSTANTIATE_TEST_SUITE_P(Backends, ClipExportTest, ::testing::Values("sqlite", "postgresql"));

}  // namespace
}  // namespace sharpeyes::storage
