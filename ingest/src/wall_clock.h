#pragma once
// Wall time of a session's media: where a recorded segment starts on the UTC timeline.
//
// The camera's media clock (RTP time, turned into running time by the pipeline) is exact about
// durations but knows nothing of UTC; our receipt clock knows UTC but every receipt is late by the
// network and scheduling delay, which on a loaded gateway varies by seconds (200 cameras on two
// cores: single keyframes arrived up to 4 s late). So:
//   - The offset wall − running time is taken from the *lower envelope* of receipt delays: the
//     smallest (receipt − running time) over the last kWindow keyframes (~1 min at a 2 s GOP). A
//     late receipt never moves it; a camera clock drifting against ours does, within a minute.
//   - Segments of one session that follow each other in media time follow each other in wall time
//     too (the index stays contiguous), and are steered toward the envelope by at most 1/1000 of
//     the segment's length (1 ms/s, ten times a poor crystal's drift), so a 10 s segment moves by
//     at most 10 ms, well under one frame interval.
//   - Only proof re-anchors at once (logged by the caller): a receipt is never early, so when
//     the envelope says a segment started over kJump before where continuing would put it, it
//     jumps back. Receipts all later than continuing (a backlog on an overloaded gateway, data
//     queued in the socket) prove nothing and are only slewed, as the window ages.
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>

#include "sharpeyes/core/time.h"

namespace sharpeyes::ingest {

class WallClockMapper {
 public:
  static constexpr size_t kWindow = 32;
  static constexpr core::Duration kJump = std::chrono::seconds(5);

  // A keyframe at running time `rt` (ns) was received at `receipt`.
  void observe(uint64_t rt, core::WallTime receipt);

  // Best current estimate of the wall time of running time `rt`; nullopt before any keyframe.
  [[nodiscard]] std::optional<core::WallTime> estimate(uint64_t rt) const;
  // Whether one of the last kWindow keyframes was at running time `rt` (within 1 ms).
  [[nodiscard]] bool sawKeyframeAt(uint64_t rt) const;

  struct Start {
    core::WallTime wall{};
    bool reanchored = false;      // a continuing segment jumped by more than kJump
    core::Duration correction{};  // how far it moved from plain continuation (0 for a first)
  };
  // The wall start of the segment covering running time [rtStart, rtEnd). `fallback` is used when
  // no keyframe was observed. Call in segment order; the result is remembered for the next one.
  Start segmentStart(uint64_t rtStart, uint64_t rtEnd, core::WallTime fallback);

 private:
  [[nodiscard]] std::optional<int64_t> lowestOffset() const;  // the envelope; nullopt: no keyframe

  std::deque<std::pair<uint64_t, int64_t>> window_;  // running time, receipt − running time (ns)
  struct Last {
    uint64_t rtEnd = 0;
    core::WallTime wallEnd{};
  };
  std::optional<Last> last_;
};

}  // namespace sharpeyes::ingest
