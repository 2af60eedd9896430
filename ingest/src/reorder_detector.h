#pragma once
// ReorderDetector: tells, from a stream's access units in arrival (decode) order, whether the
// camera reorders frames (B-frames). The native reader stamps each access unit with DTS = PTS =
// its RTP time; that is right only while decode order is presentation order. A camera that
// reorders must go through rtspsrc (session.h), whose parser and muxer know decode times.
//
// The signal is the RTP timestamp, not the slice type: RTP time is the presentation time (RFC
// 6184 / 7798 section 5.1), so an access unit whose RTP time is below an earlier one's of the
// same stream IS reordering, exactly the condition that breaks DTS = PTS, for H.264 and H.265
// alike, at no parsing cost. Slice types would not detect it any earlier (the first B slice is
// also the first unit that goes back) and are a weaker proxy: B slices without reordering are
// common ("low-delay B", which HEVC encoders use a lot) and would switch a camera to rtspsrc
// for nothing; H.265 slice headers cannot even be read without the SPS and PPS.
//
// Not a reordering: a step back of a second or more (a camera restarting its RTP clock; B-frames
// reorder by a few frames), and anything across a discontinuity (after loss or an SSRC change
// the depayloader's timeline may restart). Both start the comparison afresh.
//
// Not thread-safe: one detector per stream, on the reader thread.

#include <cstdint>

namespace sharpeyes::ingest {

struct AccessUnit;

class ReorderDetector {
 public:
  explicit ReorderDetector(int clockRate = 90000);

  // One access unit, in the order it arrived. True for the first unit found out of order (and
  // never again: reordered() stays set).
  bool observe(const AccessUnit& au);
  bool observe(int64_t rtpTime, bool discont);

  bool reordered() const { return reordered_; }
  // How far behind the latest presentation time the first out-of-order unit was, in ms.
  int64_t stepBackMs() const { return stepBackMs_; }

 private:
  int64_t clockRate_;
  bool haveMax_ = false;
  int64_t maxRtp_ = 0;  // the latest presentation time seen since the last restart
  bool reordered_ = false;
  int64_t stepBackMs_ = 0;
};

}  // namespace sharpeyes::ingest
