#pragma once
// Time vocabulary. Wall time is UTC with nanosecond resolution. Receipt times come from a
// monotonic clock anchored once to the wall clock (AnchoredClock), so an NTP step or a manual
// clock change never makes recorded segments overlap or run backwards; media time comes from
// the camera's own timestamps and is kept separately.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "sharpeyes/core/result.h"

namespace sharpeyes::core {

using Duration = std::chrono::nanoseconds;
using WallTime = std::chrono::time_point<std::chrono::system_clock, Duration>;
using MonoTime = std::chrono::steady_clock::time_point;

// Thread-safe after construction (immutable).
class AnchoredClock {
 public:
  AnchoredClock();
  WallTime now() const { return toWall(std::chrono::steady_clock::now()); }
  MonoTime monotonicNow() const { return std::chrono::steady_clock::now(); }
  WallTime toWall(MonoTime t) const;

 private:
  MonoTime monoAnchor_;
  WallTime wallAnchor_;
};

// The process-wide clock: anchored on first use.
const AnchoredClock& processClock();

// "2026-11-25T20:31:59.123456Z" (microseconds, always UTC).
std::string formatIso8601(WallTime t);
// Accepts "YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)" and "YYYY-MM-DD HH:MM:SS" (taken as UTC).
Result<WallTime> parseIso8601(std::string_view text);

int64_t toUnixMicros(WallTime t);
WallTime fromUnixMicros(int64_t us);
int64_t toUnixMillis(WallTime t);

}  // namespace sharpeyes::core
