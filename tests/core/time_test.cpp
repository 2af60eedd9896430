#include "sharpeyes/core/time.h"

#include <gtest/gtest.h>

namespace sharpeyes::core {
namespace {

TEST(Time, Iso8601RoundTripsAtMicrosecondPrecision) {
  const WallTime t = fromUnixMicros(1'764'102'719'123'456);
  EXPECT_EQ(formatIso8601(t), "2025-11-25T20:31:59.123456Z");
  EXPECT_EQ(parseIso8601(formatIso8601(t)).value(), t);
}

TEST(Time, ParsesOffsetsAndSpaceSeparatedForm) {
  EXPECT_EQ(parseIso8601("2025-11-26T04:31:59+08:00").value(),
            parseIso8601("2025-11-25T20:31:59Z").value());
  EXPECT_EQ(parseIso8601("2025-11-25 20:31:59").value(),
            parseIso8601("2025-11-25T20:31:59Z").value());
}

TEST(Time, RejectsGarbage) {
  for (const char* bad : {"", "yesterday", "2025-13-01T00:00:00Z", "2025-11-25T20:31:59.Z",
                          "2025-11-25T20:31:59Zjunk"}) {
    EXPECT_FALSE(parseIso8601(bad).ok()) << bad;
  }
}

TEST(AnchoredClock, IsMonotonicAndNearTheWallClock) {
  const AnchoredClock clock;
  const WallTime a = clock.now();
  const WallTime b = clock.now();
  EXPECT_LE(a, b);
  const auto wall = std::chrono::system_clock::now();
  EXPECT_LT(std::chrono::abs(wall - b), std::chrono::seconds(1));
}

}  // namespace
}  // namespace sharpeyes::core
