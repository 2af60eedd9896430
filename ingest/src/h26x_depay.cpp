#include "h26x_depay.h"

#include <utility>

namespace sharpeyes::ingest {
namespace {

using core::ErrorCode;
using core::makeError;

constexpr uint8_t kStartCode[] = {0, 0, 0, 1};

// H.264 NAL unit types (RFC 6184 section 5.2, H.264 table 7-1).
constexpr int kH264SliceFirst = 1;  // non-IDR slice
constexpr int kH264Idr = 5;
constexpr int kH264Sps = 7;
constexpr int kH264Pps = 8;
constexpr int kH264Aud = 9;
constexpr int kH264StapA = 24;
constexpr int kH264FuA = 28;
// H.265 (RFC 7798 section 4.4, H.265 table 7-1).
constexpr int kH265IrapFirst = 16;  // BLA_W_LP
constexpr int kH265IrapLast = 23;   // reserved IRAP
constexpr int kH265VclLast = 31;    // types 0..31 carry picture data
constexpr int kH265Vps = 32;
constexpr int kH265Sps = 33;
constexpr int kH265Pps = 34;
constexpr int kH265Aud = 35;
constexpr int kH265Ap = 48;
constexpr int kH265Fu = 49;

}  // namespace

core::Result<RtpPacket> parseRtp(std::span<const uint8_t> p) {
  if (p.size() < 12) return makeError(ErrorCode::kCorrupt, "rtp: packet shorter than 12 bytes");
  if ((p[0] >> 6) != 2) return makeError(ErrorCode::kCorrupt, "rtp: version is not 2");
  RtpPacket r;
  const bool padding = (p[0] & 0x20) != 0;
  const bool extension = (p[0] & 0x10) != 0;
  const size_t csrcs = p[0] & 0x0f;
  r.marker = (p[1] & 0x80) != 0;
  r.payloadType = p[1] & 0x7f;
  r.sequence = static_cast<uint16_t>((p[2] << 8) | p[3]);
  r.timestamp = (static_cast<uint32_t>(p[4]) << 24) | (static_cast<uint32_t>(p[5]) << 16) |
                (static_cast<uint32_t>(p[6]) << 8) | p[7];
  r.ssrc = (static_cast<uint32_t>(p[8]) << 24) | (static_cast<uint32_t>(p[9]) << 16) |
           (static_cast<uint32_t>(p[10]) << 8) | p[11];
  size_t offset = 12 + 4 * csrcs;
  size_t end = p.size();
  if (offset > end) return makeError(ErrorCode::kCorrupt, "rtp: CSRC list beyond the packet");
  if (extension) {
    if (offset + 4 > end) return makeError(ErrorCode::kCorrupt, "rtp: truncated header extension");
    const size_t words = (static_cast<size_t>(p[offset + 2]) << 8) | p[offset + 3];
    offset += 4 + 4 * words;
    if (offset > end)
      return makeError(ErrorCode::kCorrupt, "rtp: header extension beyond the packet");
  }
  if (padding) {
    const size_t pad = p[end - 1];
    if (pad == 0 || pad > end - offset) return makeError(ErrorCode::kCorrupt, "rtp: bad padding");
    end -= pad;
  }
  r.payload = p.subspan(offset, end - offset);
  return r;
}

H26xDepayloader::H26xDepayloader(rtsp::VideoCodec codec,
                                 std::vector<std::vector<uint8_t>> parameterSets, Sink sink)
    : codec_(codec), sink_(std::move(sink)) {
  for (auto& nal : parameterSets) {
    if (!nal.empty() && isParameterSetNal(nalType(nal[0]))) rememberParameterSet(nal);
  }
}

int nalUnitType(rtsp::VideoCodec codec, uint8_t firstByte) {
  return codec == rtsp::VideoCodec::kH264 ? (firstByte & 0x1f) : ((firstByte >> 1) & 0x3f);
}

bool isKeyframeNal(rtsp::VideoCodec codec, int type) {
  return codec == rtsp::VideoCodec::kH264 ? type == kH264Idr
                                          : (type >= kH265IrapFirst && type <= kH265IrapLast);
}

bool isParameterSetNal(rtsp::VideoCodec codec, int type) {
  return codec == rtsp::VideoCodec::kH264 ? (type == kH264Sps || type == kH264Pps)
                                          : (type >= kH265Vps && type <= kH265Pps);
}

bool isSliceNal(rtsp::VideoCodec codec, int type) {
  return codec == rtsp::VideoCodec::kH264 ? (type >= kH264SliceFirst && type <= kH264Idr)
                                          : (type >= 0 && type <= kH265VclLast);
}

void H26xDepayloader::rememberParameterSet(std::span<const uint8_t> nal) {
  const int type = nalType(nal[0]);
  for (auto& [t, bytes] : parameterSets_) {
    if (t == type) {
      bytes.assign(nal.begin(), nal.end());
      return;
    }
  }
  parameterSets_.emplace_back(type, std::vector<uint8_t>(nal.begin(), nal.end()));
}

void H26xDepayloader::push(const RtpPacket& packet) {
  ++stats_.packets;
  bool gap = false;
  if (havePacket_ && packet.ssrc != ssrc_) {
    // A new source (the camera restarted): its sequence and clock start afresh.
    if (auStarted_) auDamaged_ = true;
    finishAccessUnit();
    haveExtTime_ = false;
    waitKeyframe_ = true;
    discont_ = true;
  } else if (havePacket_ && packet.sequence != expectedSeq_) {
    stats_.lostPackets += static_cast<uint16_t>(packet.sequence - expectedSeq_);
    gap = true;
  }
  havePacket_ = true;
  ssrc_ = packet.ssrc;
  expectedSeq_ = static_cast<uint16_t>(packet.sequence + 1);

  // The unit being assembled lost packets (at least its marker) if the gap is inside or after
  // it; the packet's own unit may have lost its beginning. Both are damaged: we cannot tell
  // which one the lost packets belonged to.
  if (gap && auStarted_) auDamaged_ = true;
  if (auStarted_ && packet.timestamp != auTimestamp_) finishAccessUnit();
  if (!auStarted_) {
    auStarted_ = true;
    auTimestamp_ = packet.timestamp;
    if (!haveExtTime_) {
      haveExtTime_ = true;
      extTime_ = packet.timestamp;
    } else {
      extTime_ += static_cast<int32_t>(packet.timestamp - lastTimestamp_);
    }
    lastTimestamp_ = packet.timestamp;
    auExtTime_ = extTime_;
  }
  if (gap) auDamaged_ = true;

  if (!packet.payload.empty()) {
    if (codec_ == rtsp::VideoCodec::kH264) {
      depayH264(packet.payload);
    } else {
      depayH265(packet.payload);
    }
  }
  if (packet.marker) finishAccessUnit();
}

void H26xDepayloader::flush() {
  finishAccessUnit();
}

void H26xDepayloader::damage() {
  ++stats_.damagedPackets;
  auDamaged_ = true;
  inFragment_ = false;
}

void H26xDepayloader::noteNal(size_t offset) {
  // `offset` is where the NAL unit's first byte (after its start code) sits in au_.
  if (offset >= au_.size()) return;
  const std::span<const uint8_t> nal(au_.data() + offset, au_.size() - offset);
  const int type = nalType(nal[0]);
  if (isKeyframeNal(type)) auHasKeyframe_ = true;
  if (isParameterSetNal(type)) {
    auParameterSetMask_ |= 1U << static_cast<unsigned>(type & 31);
    rememberParameterSet(nal);
  }
  const int aud = codec_ == rtsp::VideoCodec::kH264 ? kH264Aud : kH265Aud;
  if (type == aud && offset == sizeof kStartCode) auInsertAt_ = au_.size();
}

void H26xDepayloader::appendNal(std::span<const uint8_t> nal) {
  if (nal.empty()) return;
  au_.insert(au_.end(), std::begin(kStartCode), std::end(kStartCode));
  const size_t offset = au_.size();
  au_.insert(au_.end(), nal.begin(), nal.end());
  noteNal(offset);
}

void H26xDepayloader::depayH264(std::span<const uint8_t> payload) {
  const int type = payload[0] & 0x1f;
  if (type != kH264FuA && inFragment_) damage();  // the fragment's end was lost
  if (type >= 1 && type <= 23) {
    appendNal(payload);
  } else if (type == kH264StapA) {
    size_t i = 1;
    while (i < payload.size()) {
      if (i + 2 > payload.size()) return damage();
      const size_t size = (static_cast<size_t>(payload[i]) << 8) | payload[i + 1];
      i += 2;
      if (size == 0 || i + size > payload.size()) return damage();
      appendNal(payload.subspan(i, size));
      i += size;
    }
  } else if (type == kH264FuA) {
    if (payload.size() < 3) return damage();
    const bool start = (payload[1] & 0x80) != 0;
    const bool end = (payload[1] & 0x40) != 0;
    if (start) {
      if (inFragment_) damage();
      au_.insert(au_.end(), std::begin(kStartCode), std::end(kStartCode));
      fragmentStart_ = au_.size();
      au_.push_back(static_cast<uint8_t>((payload[0] & 0xe0) | (payload[1] & 0x1f)));
      inFragment_ = true;
    } else if (!inFragment_) {
      return damage();  // a continuation whose start was lost
    }
    au_.insert(au_.end(), payload.begin() + 2, payload.end());
    if (end) {
      inFragment_ = false;
      noteNal(fragmentStart_);
    }
  } else {
    damage();  // STAP-B, MTAP, FU-B (interleaved mode) or reserved types
  }
}

void H26xDepayloader::depayH265(std::span<const uint8_t> payload) {
  if (payload.size() < 2) return damage();
  const int type = (payload[0] >> 1) & 0x3f;
  if (type != kH265Fu && inFragment_) damage();
  if (type < kH265Ap) {
    appendNal(payload);
  } else if (type == kH265Ap) {
    size_t i = 2;
    while (i < payload.size()) {
      if (i + 2 > payload.size()) return damage();
      const size_t size = (static_cast<size_t>(payload[i]) << 8) | payload[i + 1];
      i += 2;
      if (size < 2 || i + size > payload.size()) return damage();
      appendNal(payload.subspan(i, size));
      i += size;
    }
  } else if (type == kH265Fu) {
    if (payload.size() < 4) return damage();
    const uint8_t fu = payload[2];
    const bool start = (fu & 0x80) != 0;
    const bool end = (fu & 0x40) != 0;
    if (start) {
      if (inFragment_) damage();
      au_.insert(au_.end(), std::begin(kStartCode), std::end(kStartCode));
      fragmentStart_ = au_.size();
      au_.push_back(static_cast<uint8_t>((payload[0] & 0x81) | ((fu & 0x3f) << 1)));
      au_.push_back(payload[1]);
      inFragment_ = true;
    } else if (!inFragment_) {
      return damage();
    }
    au_.insert(au_.end(), payload.begin() + 3, payload.end());
    if (end) {
      inFragment_ = false;
      noteNal(fragmentStart_);
    }
  } else {
    damage();  // PACI (50) or reserved types
  }
}

void H26xDepayloader::finishAccessUnit() {
  if (!auStarted_) return;
  auStarted_ = false;
  if (inFragment_) damage();  // the unit ended inside a fragment
  const bool damaged = auDamaged_;
  const bool keyframe = auHasKeyframe_;
  const unsigned presentSets = auParameterSetMask_;
  const size_t insertAt = auInsertAt_;
  auDamaged_ = false;
  auHasKeyframe_ = false;
  auParameterSetMask_ = 0;
  auInsertAt_ = 0;
  inFragment_ = false;
  if (au_.empty() && !damaged) return;
  if (damaged || (waitKeyframe_ && !keyframe)) {
    ++stats_.droppedAccessUnits;
    if (damaged) waitKeyframe_ = true;
    discont_ = true;
    au_.clear();
    return;
  }
  waitKeyframe_ = false;
  if (keyframe) {
    // Parameter sets the keyframe lacks go in front of it (after an access unit delimiter).
    std::vector<uint8_t> sets;
    for (const auto& [type, nal] : parameterSets_) {
      if ((presentSets & (1U << static_cast<unsigned>(type & 31))) != 0) continue;
      sets.insert(sets.end(), std::begin(kStartCode), std::end(kStartCode));
      sets.insert(sets.end(), nal.begin(), nal.end());
    }
    if (!sets.empty()) {
      au_.insert(au_.begin() + static_cast<std::ptrdiff_t>(insertAt), sets.begin(), sets.end());
    }
  }
  AccessUnit out;
  out.data.swap(au_);
  out.rtpTime = auExtTime_;
  out.keyframe = keyframe;
  out.discont = discont_;
  discont_ = false;
  ++stats_.accessUnits;
  sink_(out);
  au_.swap(out.data);  // keeps the capacity unless the sink took the bytes
  au_.clear();
}

}  // namespace sharpeyes::ingest
