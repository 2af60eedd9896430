// RTP parsing and H.264/H.265 depayloading for the native reader (ingest/src/h26x_depay.h), fed
// hand-built packets: every packetisation, access unit boundaries, loss handling (drop until the
// next keyframe), parameter-set insertion, timestamp unwrapping and garbage. And the native
// reader's reordering (B-frame) detector (ingest/src/reorder_detector.h) on the access units the
// depayloader makes of such packets.
#include "h26x_depay.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "reorder_detector.h"

namespace sharpeyes::ingest {
namespace {

using Bytes = std::vector<uint8_t>;
using rtsp::VideoCodec;

Bytes rtpBytes(uint16_t seq, uint32_t ts, bool marker, const Bytes& payload, uint32_t ssrc = 0x1234,
               uint8_t pt = 96) {
  Bytes b = {0x80,
             static_cast<uint8_t>((marker ? 0x80 : 0) | pt),
             static_cast<uint8_t>(seq >> 8),
             static_cast<uint8_t>(seq),
             static_cast<uint8_t>(ts >> 24),
             static_cast<uint8_t>(ts >> 16),
             static_cast<uint8_t>(ts >> 8),
             static_cast<uint8_t>(ts),
             static_cast<uint8_t>(ssrc >> 24),
             static_cast<uint8_t>(ssrc >> 16),
             static_cast<uint8_t>(ssrc >> 8),
             static_cast<uint8_t>(ssrc)};
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

// Annex-B of the given NAL units.
Bytes annexB(const std::vector<Bytes>& nals) {
  Bytes out;
  for (const auto& n : nals) {
    out.insert(out.end(), {0, 0, 0, 1});
    out.insert(out.end(), n.begin(), n.end());
  }
  return out;
}

const Bytes kSps = {0x67, 0x42, 0x00, 0x1f, 0xab};
const Bytes kPps = {0x68, 0xce, 0x3c, 0x80};
const Bytes kIdr = {0x65, 0x88, 0x84, 0x00, 0x11, 0x22};
const Bytes kSlice = {0x41, 0x9a, 0x02, 0x03};
const Bytes kAud = {0x09, 0xf0};

struct Harness {
  explicit Harness(VideoCodec codec = VideoCodec::kH264, std::vector<Bytes> sets = {})
      : depay(codec, std::move(sets), [this](AccessUnit& au) { out.push_back(au); }) {}
  void push(uint16_t seq, uint32_t ts, bool marker, const Bytes& payload, uint32_t ssrc = 0x1234) {
    const Bytes packet = rtpBytes(seq, ts, marker, payload, ssrc);
    auto p = parseRtp(packet);
    ASSERT_TRUE(p.ok()) << p.error().describe();
    depay.push(*p);
  }
  std::vector<AccessUnit> out;
  H26xDepayloader depay;
};

Bytes stapA(const std::vector<Bytes>& nals) {
  Bytes out = {0x78};  // F=0 NRI=3 type=24
  for (const auto& n : nals) {
    out.push_back(static_cast<uint8_t>(n.size() >> 8));
    out.push_back(static_cast<uint8_t>(n.size()));
    out.insert(out.end(), n.begin(), n.end());
  }
  return out;
}

// FU-A fragments of `nal` in pieces of `size` payload bytes.
std::vector<Bytes> fuA(const Bytes& nal, size_t size) {
  std::vector<Bytes> out;
  const uint8_t indicator = (nal[0] & 0xe0) | 28;
  for (size_t i = 1; i < nal.size(); i += size) {
    const size_t n = std::min(size, nal.size() - i);
    uint8_t header = nal[0] & 0x1f;
    if (i == 1) header |= 0x80;
    if (i + n == nal.size()) header |= 0x40;
    Bytes f = {indicator, header};
    f.insert(f.end(), nal.begin() + static_cast<std::ptrdiff_t>(i),
             nal.begin() + static_cast<std::ptrdiff_t>(i + n));
    out.push_back(f);
  }
  return out;
}

TEST(RtpParse, HeaderWithCsrcExtensionAndPadding) {
  Bytes p = rtpBytes(513, 0xdeadbeef, true, {}, 0xcafebabe, 97);
  p[0] = 0x80 | 0x20 | 0x10 | 2;                            // padding, extension, 2 CSRCs
  p.insert(p.end(), {1, 1, 1, 1, 2, 2, 2, 2});              // CSRCs
  p.insert(p.end(), {0xbe, 0xde, 0x00, 0x01, 9, 9, 9, 9});  // extension, one word
  p.insert(p.end(), {0xaa, 0xbb});                          // payload
  p.insert(p.end(), {0, 0, 3});                             // padding, count last
  auto r = parseRtp(p);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_TRUE(r->marker);
  EXPECT_EQ(r->payloadType, 97);
  EXPECT_EQ(r->sequence, 513);
  EXPECT_EQ(r->timestamp, 0xdeadbeefU);
  EXPECT_EQ(r->ssrc, 0xcafebabeU);
  EXPECT_EQ(Bytes(r->payload.begin(), r->payload.end()), (Bytes{0xaa, 0xbb}));
}

TEST(RtpParse, RejectsMalformedPackets) {
  EXPECT_FALSE(parseRtp(Bytes(11, 0x80)).ok());
  Bytes v1 = rtpBytes(1, 1, false, {1});
  v1[0] = 0x40;
  EXPECT_NE(parseRtp(v1).error().message.find("version"), std::string::npos);
  Bytes csrc = rtpBytes(1, 1, false, {1, 2});
  csrc[0] = 0x8f;  // 15 CSRCs, none present
  EXPECT_FALSE(parseRtp(csrc).ok());
  Bytes ext = rtpBytes(1, 1, false, {0xbe, 0xde, 0x00, 0x09});
  ext[0] = 0x90;  // extension of 9 words, none present
  EXPECT_FALSE(parseRtp(ext).ok());
  Bytes pad = rtpBytes(1, 1, false, {1, 2, 9});
  pad[0] = 0xa0;  // 9 bytes of padding in a 3-byte payload
  EXPECT_FALSE(parseRtp(pad).ok());
  Bytes zeroPad = rtpBytes(1, 1, false, {1, 0});
  zeroPad[0] = 0xa0;
  EXPECT_FALSE(parseRtp(zeroPad).ok());
}

TEST(H264Depay, SingleNalUnitsMakeOneAccessUnitPerMarker) {
  Harness h;
  h.push(100, 9000, false, kSps);
  h.push(101, 9000, false, kPps);
  h.push(102, 9000, true, kIdr);
  h.push(103, 12600, true, kSlice);
  ASSERT_EQ(h.out.size(), 2U);
  EXPECT_EQ(h.out[0].data, annexB({kSps, kPps, kIdr}));
  EXPECT_TRUE(h.out[0].keyframe);
  EXPECT_TRUE(h.out[0].discont);  // the stream's first
  EXPECT_EQ(h.out[0].rtpTime, 9000);
  EXPECT_EQ(h.out[1].data, annexB({kSlice}));
  EXPECT_FALSE(h.out[1].keyframe);
  EXPECT_FALSE(h.out[1].discont);
  EXPECT_EQ(h.out[1].rtpTime, 12600);
  EXPECT_EQ(h.depay.stats().accessUnits, 2U);
}

TEST(H264Depay, StapAAndFuA) {
  Harness h;
  Bytes bigIdr = {0x65};
  for (int i = 0; i < 1000; ++i) bigIdr.push_back(static_cast<uint8_t>(i * 7));
  h.push(1, 0, false, stapA({kSps, kPps}));
  const auto frags = fuA(bigIdr, 300);
  ASSERT_EQ(frags.size(), 4U);
  uint16_t seq = 2;
  for (size_t i = 0; i < frags.size(); ++i) h.push(seq++, 0, i + 1 == frags.size(), frags[i]);
  ASSERT_EQ(h.out.size(), 1U);
  EXPECT_EQ(h.out[0].data, annexB({kSps, kPps, bigIdr}));  // NAL header rebuilt with its NRI
  EXPECT_TRUE(h.out[0].keyframe);
}

TEST(H264Depay, TimestampChangeEndsAnAccessUnitWithoutMarker) {
  Harness h;
  h.push(1, 0, false, stapA({kSps, kPps, kIdr}));
  h.push(2, 3600, false, kSlice);
  h.push(3, 7200, false, kSlice);
  ASSERT_EQ(h.out.size(), 2U);
  EXPECT_EQ(h.out[0].rtpTime, 0);
  EXPECT_EQ(h.out[1].rtpTime, 3600);
  h.depay.flush();
  ASSERT_EQ(h.out.size(), 3U);
  EXPECT_EQ(h.out[2].rtpTime, 7200);
}

TEST(H264Depay, InsertsParameterSetsBeforeAKeyframeLackingThem) {
  Harness h(VideoCodec::kH264, {kSps, kPps});
  h.push(1, 0, true, kIdr);
  h.push(2, 3600, true, kSlice);
  ASSERT_EQ(h.out.size(), 2U);
  EXPECT_EQ(h.out[0].data, annexB({kSps, kPps, kIdr}));  // from the SDP
  EXPECT_EQ(h.out[1].data, annexB({kSlice}));            // never before a delta frame

  // After an access unit delimiter; and in-band sets replace the SDP's for later keyframes.
  const Bytes newSps = {0x67, 0x64, 0x00, 0x28};
  h.push(3, 7200, false, kAud);
  h.push(4, 7200, true, kIdr);
  h.push(5, 10800, false, newSps);
  h.push(6, 10800, true, kIdr);  // has SPS in-band, lacks PPS: only the PPS goes in
  h.push(7, 14400, true, kIdr);
  ASSERT_EQ(h.out.size(), 5U);
  EXPECT_EQ(h.out[2].data, annexB({kAud, kSps, kPps, kIdr}));
  EXPECT_EQ(h.out[3].data, annexB({kPps, newSps, kIdr}));
  EXPECT_EQ(h.out[4].data, annexB({newSps, kPps, kIdr}));
}

TEST(H264Depay, StartsAtTheFirstKeyframe) {
  Harness h;
  h.push(1, 0, true, kSlice);
  h.push(2, 3600, true, kSlice);
  h.push(3, 7200, true, stapA({kSps, kPps, kIdr}));
  ASSERT_EQ(h.out.size(), 1U);
  EXPECT_TRUE(h.out[0].keyframe);
  EXPECT_TRUE(h.out[0].discont);
  EXPECT_EQ(h.depay.stats().droppedAccessUnits, 2U);
}

TEST(H264Depay, LossDropsUntilTheNextKeyframe) {
  Harness h;
  h.push(1, 0, true, stapA({kSps, kPps, kIdr}));
  const auto frags = fuA(Bytes{0x41, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 3);
  h.push(2, 3600, false, frags[0]);
  h.push(4, 3600, true, frags[2]);  // seq 3 lost inside this frame
  h.push(5, 7200, true, kSlice);    // intact, but its references are gone
  h.push(6, 10800, true, kSlice);
  h.push(7, 14400, true, stapA({kSps, kPps, kIdr}));
  h.push(8, 18000, true, kSlice);
  ASSERT_EQ(h.out.size(), 3U);
  EXPECT_EQ(h.out[1].rtpTime, 14400);
  EXPECT_TRUE(h.out[1].keyframe);
  EXPECT_TRUE(h.out[1].discont);
  EXPECT_FALSE(h.out[2].discont);
  EXPECT_EQ(h.depay.stats().lostPackets, 1U);
  EXPECT_EQ(h.depay.stats().droppedAccessUnits, 3U);
}

TEST(H264Depay, LostMarkerPacketDamagesBothFrames) {
  Harness h;
  h.push(1, 0, true, stapA({kSps, kPps, kIdr}));
  h.push(2, 3600, false, kSlice);
  // seq 3 (the rest of frame 3600, with its marker) lost; the next packet starts a new frame.
  h.push(4, 7200, true, kSlice);
  h.push(5, 10800, true, stapA({kSps, kPps, kIdr}));
  ASSERT_EQ(h.out.size(), 2U);
  EXPECT_EQ(h.out[1].rtpTime, 10800);
  EXPECT_TRUE(h.out[1].discont);
  EXPECT_EQ(h.depay.stats().droppedAccessUnits, 2U);
}

TEST(H264Depay, FragmentWithoutStartOrEndIsDamage) {
  Harness h;
  h.push(1, 0, true, stapA({kSps, kPps, kIdr}));
  const auto frags = fuA(Bytes{0x41, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 3);
  h.push(2, 3600, true, frags[1]);  // a middle fragment with nothing before it
  h.push(3, 7200, false, frags[0]);
  h.push(4, 7200, true, kSlice);  // the fragment never ended
  h.push(5, 10800, true, kIdr);
  ASSERT_EQ(h.out.size(), 2U);
  EXPECT_EQ(h.out[1].rtpTime, 10800);
  EXPECT_GE(h.depay.stats().damagedPackets, 2U);
  EXPECT_EQ(h.depay.stats().lostPackets, 0U);
}

TEST(H264Depay, UnsupportedAndTruncatedPacketisationsAreDamage) {
  Harness h;
  h.push(1, 0, true, stapA({kSps, kPps, kIdr}));
  h.push(2, 3600, true, Bytes{0x79, 0, 1});              // STAP-B
  h.push(3, 7200, true, Bytes{0x78, 0x00, 0x09, 0x41});  // STAP-A claiming 9 bytes, 1 present
  h.push(4, 10800, true, Bytes{0x7c});                   // FU-A without its header
  h.push(5, 14400, true, kSlice);
  h.push(6, 18000, true, kIdr);
  ASSERT_EQ(h.out.size(), 2U);
  EXPECT_EQ(h.depay.stats().damagedPackets, 3U);
}

TEST(H264Depay, ExtendsTimestampsAcrossTheWrap) {
  Harness h;
  h.push(65534, 0xfffff000U, true, stapA({kSps, kPps, kIdr}));
  h.push(65535, 0xfffff000U + 3600, true, kSlice);  // wraps past 2^32
  h.push(0, 0xfffff000U + 7200, true, kSlice);      // and the sequence number wraps too
  ASSERT_EQ(h.out.size(), 3U);
  EXPECT_EQ(h.out[0].rtpTime, 0xfffff000LL);
  EXPECT_EQ(h.out[1].rtpTime, 0xfffff000LL + 3600);
  EXPECT_EQ(h.out[2].rtpTime, 0xfffff000LL + 7200);
  EXPECT_EQ(h.depay.stats().lostPackets, 0U);
}

TEST(H264Depay, NewSsrcIsADiscontinuity) {
  Harness h;
  h.push(10, 90000, true, stapA({kSps, kPps, kIdr}));
  h.push(11, 93600, true, kSlice);
  h.push(500, 5, true, kSlice, 0x9999);  // the camera restarted: new SSRC, sequence and clock
  h.push(501, 3605, true, stapA({kSps, kPps, kIdr}), 0x9999);
  ASSERT_EQ(h.out.size(), 3U);
  EXPECT_EQ(h.out[2].rtpTime, 3605);
  EXPECT_TRUE(h.out[2].discont);
  EXPECT_TRUE(h.out[2].keyframe);
  EXPECT_EQ(h.depay.stats().lostPackets, 0U);
}

// H.265 NAL headers: type in bits 1..6 of the first byte, layer 0, temporal id 1.
Bytes h265Nal(int type, std::initializer_list<uint8_t> rest) {
  Bytes n = {static_cast<uint8_t>(type << 1), 0x01};
  n.insert(n.end(), rest);
  return n;
}

TEST(H265Depay, SingleApAndFu) {
  const Bytes vps = h265Nal(32, {0x0c});
  const Bytes sps = h265Nal(33, {0x01});
  const Bytes pps = h265Nal(34, {0xc1});
  Bytes idr = h265Nal(19, {});  // IDR_W_RADL
  for (int i = 0; i < 500; ++i) idr.push_back(static_cast<uint8_t>(i));
  Harness h(VideoCodec::kH265);
  Bytes ap = {48 << 1, 0x01};
  for (const auto& n : {vps, sps, pps}) {
    ap.push_back(0);
    ap.push_back(static_cast<uint8_t>(n.size()));
    ap.insert(ap.end(), n.begin(), n.end());
  }
  h.push(1, 0, false, ap);
  // FU: payload header (type 49), FU header (S/E + type), then the NAL without its header.
  const size_t half = 250;
  Bytes fu1 = {49 << 1, 0x01, 0x80 | 19};
  fu1.insert(fu1.end(), idr.begin() + 2, idr.begin() + 2 + half);
  Bytes fu2 = {49 << 1, 0x01, 0x40 | 19};
  fu2.insert(fu2.end(), idr.begin() + 2 + half, idr.end());
  h.push(2, 0, false, fu1);
  h.push(3, 0, true, fu2);
  const Bytes trail = h265Nal(1, {0xaa, 0xbb});
  h.push(4, 3600, true, trail);
  ASSERT_EQ(h.out.size(), 2U);
  EXPECT_EQ(h.out[0].data, annexB({vps, sps, pps, idr}));
  EXPECT_TRUE(h.out[0].keyframe);
  EXPECT_EQ(h.out[1].data, annexB({trail}));
  EXPECT_FALSE(h.out[1].keyframe);
}

TEST(H265Depay, CraIsAKeyframeAndGetsSdpParameterSets) {
  const Bytes vps = h265Nal(32, {0x0c});
  const Bytes sps = h265Nal(33, {0x01});
  const Bytes pps = h265Nal(34, {0xc1});
  Harness h(VideoCodec::kH265, {vps, sps, pps});
  h.push(1, 0, true, h265Nal(1, {0x01}));  // a delta before any keyframe: dropped
  const Bytes cra = h265Nal(21, {0x05, 0x06});
  h.push(2, 3600, true, cra);
  ASSERT_EQ(h.out.size(), 1U);
  EXPECT_TRUE(h.out[0].keyframe);
  EXPECT_EQ(h.out[0].data, annexB({vps, sps, pps, cra}));
  h.push(3, 7200, true, Bytes{50 << 1, 0x01, 0, 0});  // PACI: unsupported, damage
  h.push(4, 10800, true, h265Nal(1, {0x02}));
  EXPECT_EQ(h.out.size(), 1U);
  EXPECT_EQ(h.depay.stats().damagedPackets, 1U);
}

TEST(Depay, RandomPayloadsNeverCrash) {
  std::mt19937 rng(11);
  for (auto codec : {VideoCodec::kH264, VideoCodec::kH265}) {
    Harness h(codec, {kSps, kPps});
    for (int i = 0; i < 20000; ++i) {
      Bytes payload(rng() % 40);
      for (auto& b : payload) b = static_cast<uint8_t>(rng());
      h.push(static_cast<uint16_t>(i + (rng() % 50 == 0 ? 3 : 0)), (i / 5) * 3600U, rng() % 5 == 0,
             payload);
    }
    h.depay.flush();
    for (const auto& au : h.out) EXPECT_FALSE(au.data.empty());
    EXPECT_EQ(h.depay.stats().packets, 20000U);
  }
}

// 25 fps at 90 kHz: a frame every 3600 ticks. Presentation indexes of an I P B B GOP in the order
// an encoder sends it (decode order): I0 P3 B1 B2 P6 B4 B5 ...
constexpr uint32_t kFrame = 3600;
const std::vector<uint32_t> kIpbbDecodeOrder = {0, 3, 1, 2, 6, 4, 5, 9, 7, 8};

TEST(ReorderDetector, FramesInPresentationOrderAreNotReordering) {
  ReorderDetector d;
  for (int64_t i = 0; i < 500; ++i) EXPECT_FALSE(d.observe(90000 + i * kFrame, i == 0));
  EXPECT_FALSE(d.reordered());
}

TEST(ReorderDetector, FirstFrameBehindAnEarlierOneIsReportedOnce) {
  ReorderDetector d;
  std::vector<bool> seen;
  seen.reserve(kIpbbDecodeOrder.size());
  for (uint32_t n : kIpbbDecodeOrder) seen.push_back(d.observe(n * int64_t{kFrame}, false));
  // I0 and P3 are in order; B1 is the first behind an earlier frame (P3, two frames back).
  EXPECT_EQ(seen, (std::vector<bool>{false, false, true, false, false, false, false, false, false,
                                     false}));
  EXPECT_TRUE(d.reordered());
  EXPECT_EQ(d.stepBackMs(), 80);
}

TEST(ReorderDetector, ClockRestartsAndDiscontinuitiesAreNotReordering) {
  ReorderDetector d;
  EXPECT_FALSE(d.observe(900000, true));
  EXPECT_FALSE(d.observe(900000 + kFrame, false));
  // The camera restarted its RTP clock (same SSRC): a second or more back is not a B-frame.
  EXPECT_FALSE(d.observe(900000 + kFrame - 90000, false));
  EXPECT_FALSE(d.observe(900000 + 2 * kFrame - 90000, false));
  // After a discontinuity (loss, new SSRC) the depayloader's timeline may restart anywhere.
  EXPECT_FALSE(d.observe(500, true));
  EXPECT_FALSE(d.observe(500 + kFrame, false));
  EXPECT_FALSE(d.reordered());
  // Yet a small step back after all that still is reordering.
  EXPECT_TRUE(d.observe(500 + kFrame / 2, false));
  // Another clock rate: a step of 3000 ticks at 1 kHz is 3 s back, a restart, not a B-frame.
  ReorderDetector slow(1000);
  EXPECT_FALSE(slow.observe(10000, false));
  EXPECT_FALSE(slow.observe(7000, false));
  EXPECT_FALSE(slow.reordered());
}

// The whole path the native reader takes: RTP packets of an H.264 stream with B-frames (as
// rtph264pay sends them: in decode order, each stamped with its presentation time) through the
// depayloader, then the detector.
TEST(ReorderDetector, DetectsBFramesInDepayloadedH264) {
  const Bytes kBSlice = {0x01, 0x9e, 0x04, 0x05};  // nal_ref_idc 0: a non-reference picture
  for (bool withBFrames : {false, true}) {
    Harness h;
    ReorderDetector d;
    uint16_t seq = 7;
    // Near the 32-bit wrap: unwrapped times, not raw ones, are compared.
    const uint32_t base = 0xffffffffU - 5 * kFrame;
    for (int gop = 0; gop < 3; ++gop) {
      for (size_t i = 0; i < kIpbbDecodeOrder.size(); ++i) {
        const uint32_t n = withBFrames ? kIpbbDecodeOrder[i] : static_cast<uint32_t>(i);
        const uint32_t ts = base + (gop * 10 + n) * kFrame;
        if (i == 0) {
          h.push(seq++, ts, true, stapA({kSps, kPps, kIdr}));
        } else {
          h.push(seq++, ts, true, (withBFrames && n % 3 != 0) ? kBSlice : kSlice);
        }
      }
    }
    h.depay.flush();
    ASSERT_EQ(h.out.size(), 30U);
    size_t firstReordered = h.out.size();
    for (size_t i = 0; i < h.out.size(); ++i) {
      if (d.observe(h.out[i]) && firstReordered == h.out.size()) firstReordered = i;
    }
    EXPECT_EQ(d.reordered(), withBFrames);
    EXPECT_EQ(firstReordered, withBFrames ? 2U : h.out.size());
  }
}
}  // namespace
}  // namespace sharpeyes::ingest
