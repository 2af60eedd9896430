#include "wall_clock.h"

#include <algorithm>

namespace sharpeyes::ingest {

namespace {

int64_t sinceEpochNs(core::WallTime t) {
  return t.time_since_epoch().count();
}

}  // namespace

std::optional<int64_t> WallClockMapper::lowestOffset() const {
  if (window_.empty()) return std::nullopt;
  int64_t lowest = window_.front().second;
  for (const auto& [r, o] : window_) lowest = std::min(lowest, o);
  return lowest;
}

void WallClockMapper::observe(uint64_t rt, core::WallTime receipt) {
  const int64_t offset = sinceEpochNs(receipt) - static_cast<int64_t>(rt);
  // Received earlier than the window allows by over kJump: the window described another
  // timeline (a receipt can be late, never early).
  if (const auto lowest = lowestOffset(); lowest && offset < *lowest - kJump.count())
    window_.clear();
  window_.emplace_back(rt, offset);
  if (window_.size() > kWindow) window_.pop_front();
}

std::optional<core::WallTime> WallClockMapper::estimate(uint64_t rt) const {
  const auto lowest = lowestOffset();
  if (!lowest) return std::nullopt;
  return core::WallTime(core::Duration(*lowest + static_cast<int64_t>(rt)));
}

bool WallClockMapper::sawKeyframeAt(uint64_t rt) const {
  // Within a millisecond: the recorder and the parser each convert timestamps to running time.
  constexpr uint64_t kTolerance = 1'000'000;
  return std::any_of(window_.begin(), window_.end(), [rt](const auto& k) {
    return k.first + kTolerance >= rt && k.first <= rt + kTolerance;
  });
}

WallClockMapper::Start WallClockMapper::segmentStart(uint64_t rtStart, uint64_t rtEnd,
                                                     core::WallTime fallback) {
  const core::WallTime target = estimate(rtStart).value_or(fallback);
  const core::Duration length(rtEnd > rtStart ? static_cast<int64_t>(rtEnd - rtStart) : 0);
  Start s;
  s.wall = target;
  // Continues the previous segment when it starts where that one ended (half a frame of slack).
  constexpr uint64_t kSlack = 20'000'000;
  if (last_ && rtStart + kSlack >= last_->rtEnd && rtStart <= last_->rtEnd + kSlack) {
    const core::WallTime continuing =
        last_->wallEnd +
        core::Duration(static_cast<int64_t>(rtStart) - static_cast<int64_t>(last_->rtEnd));
    const core::Duration error = target - continuing;
    // Only "too late" is proof: the envelope is an upper bound on the true wall time (a receipt
    // is never early), so continuing past it by over kJump is certainly wrong. Continuing before
    // it may just mean every receipt lately was late (a backlog): that is only slewed.
    if (error < -kJump) {
      s.reanchored = true;
      s.correction = error;
    } else {
      const core::Duration limit =
          std::max<core::Duration>(std::chrono::milliseconds(1), length / 1000);
      s.correction = std::clamp(error, -limit, limit);
      s.wall = continuing + s.correction;
    }
  }
  last_ = Last{rtEnd, s.wall + length};
  return s;
}

}  // namespace sharpeyes::ingest
