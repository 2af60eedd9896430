// Segment wall starts (ingest/src/wall_clock.h): receipts late by varying amounts, as on a loaded
// gateway, must neither break the contiguity of a session's segments nor pull them off UTC.
#include "wall_clock.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <vector>

namespace sharpeyes::ingest {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kSecond = 1'000'000'000;
const core::WallTime kT0 = core::fromUnixMicros(1'790'000'000'000'000);  // a fixed UTC instant

core::Duration ms(int64_t n) {
  return std::chrono::milliseconds(n);
}

// Keyframes every 2 s; `delay(i)` is how late keyframe i is received after its true wall time.
template <typename Delay>
void observeKeyframes(WallClockMapper& m, int from, int to, Delay delay) {
  for (int i = from; i < to; ++i) {
    const uint64_t rt = static_cast<uint64_t>(i) * 2 * kSecond;
    m.observe(rt, kT0 + core::Duration(static_cast<int64_t>(rt)) + delay(i));
  }
}

// Segments `from` .. `to` - 1 of 10 s each, in order, each after its five keyframes.
template <typename Delay>
std::vector<WallClockMapper::Start> recordSegments(WallClockMapper& m, int from, int to,
                                                   Delay delay) {
  std::vector<WallClockMapper::Start> starts;
  for (int seg = from; seg < to; ++seg) {
    observeKeyframes(m, seg * 5, seg * 5 + 5, delay);
    const uint64_t rt = static_cast<uint64_t>(seg) * 10 * kSecond;
    starts.push_back(m.segmentStart(rt, rt + 10 * kSecond, kT0));
  }
  return starts;
}

// Every 10 s segment after the first continues the one before within 10 ms, without a re-anchor.
void expectContiguous(const std::vector<WallClockMapper::Start>& starts) {
  for (size_t i = 1; i < starts.size(); ++i) {
    EXPECT_FALSE(starts[i].reanchored) << "segment " << i;
    const auto gap = starts[i].wall - (starts[i - 1].wall + 10s);
    EXPECT_LE(std::chrono::abs(gap), ms(10)) << "segment " << i;
  }
}

TEST(WallClockMapper, FirstSegmentTakesTheLeastDelayedReceipt) {
  WallClockMapper m;
  // Start-up: the first keyframe is received 3 s late, the following ones 40-60 ms late.
  observeKeyframes(m, 0, 6, [](int i) { return i == 0 ? ms(3000) : ms(40 + 4 * i); });
  const auto s = m.segmentStart(0, 10 * kSecond, kT0 + 99s);
  EXPECT_FALSE(s.reanchored);
  EXPECT_EQ(s.wall, kT0 + ms(44));  // the lowest delay seen, not the first keyframe's 3 s
}

TEST(WallClockMapper, NoKeyframeFallsBackToTheGivenTime) {
  WallClockMapper m;
  EXPECT_FALSE(m.estimate(0).has_value());
  EXPECT_EQ(m.segmentStart(0, 10 * kSecond, kT0 + 7s).wall, kT0 + 7s);
}

TEST(WallClockMapper, LateReceiptsKeepSegmentsContiguous) {
  // One keyframe in seven arrives up to 4 s late (an overloaded gateway); the rest 50 ms late.
  WallClockMapper m;
  auto delay = [](int i) { return i % 7 == 3 ? ms(1000 + 500 * (i % 7)) : ms(50); };
  const auto starts = recordSegments(m, 0, 30, delay);
  expectContiguous(starts);
  // And they stay on UTC: within the 50 ms delay of the typical receipt.
  for (size_t i = 0; i < starts.size(); ++i) {
    const auto truth = kT0 + core::Duration(static_cast<int64_t>(i * 10 * kSecond));
    EXPECT_LE(std::chrono::abs(starts[i].wall - truth), ms(60)) << i;
  }
}

TEST(WallClockMapper, CameraClockDriftIsFollowedBySlewNotJumps) {
  // The camera's clock runs 200 ppm slow against ours: its media time falls 2 ms behind every
  // 10 s. Segments must follow (no gap above 10 ms each) and never drift off by more than a
  // window's worth of drift plus the receipt delay.
  WallClockMapper m;
  std::vector<WallClockMapper::Start> starts;
  for (int seg = 0; seg < 360; ++seg) {  // one hour
    for (int k = seg * 5; k < seg * 5 + 5; ++k) {
      const uint64_t rt = static_cast<uint64_t>(k) * 2 * kSecond;
      const auto trueWall = kT0 + core::Duration(static_cast<int64_t>(rt)) +
                            core::Duration(static_cast<int64_t>(rt) / 5000);  // +200 ppm
      m.observe(rt, trueWall + ms(30));
    }
    const uint64_t rt = static_cast<uint64_t>(seg) * 10 * kSecond;
    starts.push_back(m.segmentStart(rt, rt + 10 * kSecond, kT0));
  }
  for (size_t i = 1; i < starts.size(); ++i) {
    EXPECT_FALSE(starts[i].reanchored);
    EXPECT_LE(std::chrono::abs(starts[i].correction), ms(10));
  }
  const auto last = starts.back().wall;
  const uint64_t lastRt = 359ull * 10 * kSecond;
  const auto truth = kT0 + core::Duration(static_cast<int64_t>(lastRt + lastRt / 5000));
  // 720 ms of drift over the hour is followed to within the minute-long window's lag (~13 ms).
  EXPECT_LE(std::chrono::abs(last - truth), ms(60));
}

TEST(WallClockMapper, ProofOfBeingLateReanchorsAtOnce) {
  WallClockMapper m;
  // Start-up backlog: the first ten seconds of keyframes all arrive 6 s late.
  observeKeyframes(m, 0, 5, [](int) { return ms(6000); });
  const auto first = m.segmentStart(0, 10 * kSecond, kT0);
  EXPECT_EQ(first.wall, kT0 + ms(6000));
  // The backlog drains: keyframes now arrive 20 ms late, proof that the first segment really
  // started at least 5.98 s earlier than it was placed. The next one goes where it belongs.
  observeKeyframes(m, 5, 10, [](int) { return ms(20); });
  const auto second = m.segmentStart(10 * kSecond, 20 * kSecond, kT0);
  EXPECT_TRUE(second.reanchored);
  EXPECT_EQ(second.wall, kT0 + 10s + ms(20));
}

TEST(WallClockMapper, ABacklogIsSlewedNotJumped) {
  WallClockMapper m;
  observeKeyframes(m, 0, 5, [](int) { return ms(20); });
  const auto first = m.segmentStart(0, 10 * kSecond, kT0);
  EXPECT_EQ(first.wall, kT0 + ms(20));
  // The gateway falls 8 s behind for two minutes: late receipts prove nothing about where the
  // media is; segments stay contiguous, moving at most 1/1000 of their length each.
  std::vector<WallClockMapper::Start> starts{first};
  const auto later = recordSegments(m, 1, 13, [](int) { return ms(8000); });
  starts.insert(starts.end(), later.begin(), later.end());
  expectContiguous(starts);
}

TEST(WallClockMapper, OneVeryLateReceiptIsNotANewTimeline) {
  WallClockMapper m;
  observeKeyframes(m, 0, 5, [](int) { return ms(20); });
  m.segmentStart(0, 10 * kSecond, kT0);
  observeKeyframes(m, 5, 10, [](int i) { return i == 6 ? ms(9000) : ms(20); });
  const auto s = m.segmentStart(10 * kSecond, 20 * kSecond, kT0);
  EXPECT_FALSE(s.reanchored);
  EXPECT_EQ(s.wall, kT0 + 10s + ms(20));
}

TEST(WallClockMapper, MediaGapStartsFromTheEstimate) {
  WallClockMapper m;
  observeKeyframes(m, 0, 5, [](int) { return ms(25); });
  m.segmentStart(0, 10 * kSecond, kT0);
  // The next segment starts 4 s after the previous one ended in media time (a pause): not a
  // continuation, so it is placed from the estimate.
  observeKeyframes(m, 7, 12, [](int) { return ms(25); });
  const auto s = m.segmentStart(14 * kSecond, 24 * kSecond, kT0);
  EXPECT_FALSE(s.reanchored);
  EXPECT_EQ(s.wall, kT0 + 14s + ms(25));
}

}  // namespace
}  // namespace sharpeyes::ingest
