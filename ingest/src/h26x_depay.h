#pragma once
// RTP -> H.264 / H.265 access units in Annex-B byte-stream form, sans I/O: what the native RTSP
// reader hands on instead of rtspsrc + rtph264depay/rtph265depay (one output per frame, ~25/s
// per camera, instead of a GStreamer buffer per RTP packet).
//
// Packetisations: H.264 (RFC 6184) single NAL unit, STAP-A and FU-A (packetization-mode 0 and
// 1, what cameras send); H.265 (RFC 7798) single NAL unit, AP and FU, without DONL
// (sprop-max-don-diff = 0, as cameras send). Anything else damages the access unit.
//
// Access unit boundaries: the RTP marker bit, and also a change of RTP timestamp (a camera that
// never sets the marker, or a marker lost with its packet).
//
// Loss: a sequence-number gap (or a damaged packetisation: an FU without its start, a truncated
// STAP) DROPS the access unit being assembled and then every access unit up to the next
// keyframe. They are dropped, not marked: the recorder muxes what it is given, and a delta frame
// whose references are gone decodes as smeared garbage until the next keyframe, in the recording
// and in any evidence export. The stream also starts at its first keyframe, for the same reason.
// The first access unit after a drop carries `discont`.
//
// Keyframes (H.264 IDR, H.265 IRAP) that lack parameter sets get the latest ones in front (seen
// in-band earlier, else from the SDP), so every keyframe starts a decodable segment.
//
// Not thread-safe: one depayloader per stream, on the connection's thread.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "rtsp_wire.h"
#include "sharpeyes/core/result.h"

namespace sharpeyes::ingest {

struct RtpPacket {
  uint8_t payloadType = 0;
  bool marker = false;
  uint16_t sequence = 0;
  uint32_t timestamp = 0;
  uint32_t ssrc = 0;
  std::span<const uint8_t> payload;  // points into the parsed buffer
};

// NAL unit classification, H.264 (RFC 6184) and H.265 (RFC 7798). `firstByte`: the unit's first
// header byte, after its start code.
int nalUnitType(rtsp::VideoCodec codec, uint8_t firstByte);
bool isKeyframeNal(rtsp::VideoCodec codec, int type);      // IDR / IRAP
bool isParameterSetNal(rtsp::VideoCodec codec, int type);  // SPS, PPS (and VPS)
bool isSliceNal(rtsp::VideoCodec codec, int type);         // coded picture data (VCL)

// RFC 3550 fixed header, CSRC list, header extension and padding. kCorrupt on anything that is
// not a well-formed version-2 packet.
core::Result<RtpPacket> parseRtp(std::span<const uint8_t> packet);

struct AccessUnit {
  std::vector<uint8_t> data;  // Annex-B: every NAL unit behind a 00 00 00 01 start code
  int64_t rtpTime = 0;        // RTP timestamp extended to 64 bits (wraps unrolled)
  bool keyframe = false;      // H.264 IDR / H.265 IRAP
  bool discont = false;       // first access unit after dropped ones (or after an SSRC change)
};

struct DepayStats {
  uint64_t packets = 0;
  uint64_t lostPackets = 0;         // by sequence-number gaps
  uint64_t damagedPackets = 0;      // malformed or unsupported packetisation
  uint64_t accessUnits = 0;         // delivered
  uint64_t droppedAccessUnits = 0;  // damaged, or delta frames waiting for a keyframe
};

class H26xDepayloader {
 public:
  using Sink = std::function<void(AccessUnit&)>;

  // `parameterSets`: raw NAL units (no start codes) from the SDP, in the order to insert them.
  H26xDepayloader(rtsp::VideoCodec codec, std::vector<std::vector<uint8_t>> parameterSets,
                  Sink sink);

  // One RTP packet of this stream; a completed access unit goes to the sink before push returns
  // (the sink may move `data` out).
  void push(const RtpPacket& packet);
  // Delivers the access unit being assembled if it is complete up to here (end of stream).
  void flush();

  const DepayStats& stats() const { return stats_; }

 private:
  void damage();
  void finishAccessUnit();
  void appendNal(std::span<const uint8_t> nal);
  void noteNal(size_t offset);
  void depayH264(std::span<const uint8_t> payload);
  void depayH265(std::span<const uint8_t> payload);
  int nalType(uint8_t firstByte) const { return nalUnitType(codec_, firstByte); }
  bool isKeyframeNal(int type) const { return ingest::isKeyframeNal(codec_, type); }
  bool isParameterSetNal(int type) const { return ingest::isParameterSetNal(codec_, type); }
  void rememberParameterSet(std::span<const uint8_t> nal);

  rtsp::VideoCodec codec_;
  Sink sink_;
  DepayStats stats_;

  // Assembly of the current access unit.
  std::vector<uint8_t> au_;
  bool auDamaged_ = false;
  bool auHasKeyframe_ = false;
  unsigned auParameterSetMask_ = 0;  // bit (type & 31) per parameter set type present
  bool auStarted_ = false;
  uint32_t auTimestamp_ = 0;
  int64_t auExtTime_ = 0;
  size_t auInsertAt_ = 0;  // where parameter sets go (after an access unit delimiter)
  bool inFragment_ = false;
  size_t fragmentStart_ = 0;  // offset in au_ of the fragmented NAL unit's header

  // Stream state.
  bool havePacket_ = false;
  uint16_t expectedSeq_ = 0;
  uint32_t ssrc_ = 0;
  bool waitKeyframe_ = true;
  bool discont_ = true;
  bool haveExtTime_ = false;
  uint32_t lastTimestamp_ = 0;
  int64_t extTime_ = 0;
  // Latest parameter sets, by NAL type (H.264: SPS 7, PPS 8; H.265: VPS 32, SPS 33, PPS 34).
  std::vector<std::pair<int, std::vector<uint8_t>>> parameterSets_;
};

}  // namespace sharpeyes::ingest
