// The TCP timestamper (ingest/src/rtp_timestamper.h): packets pushed through the element by hand,
// timestamps read back on a sink pad. The end-to-end path (rtspsrc's rtpbin using it) is covered
// by ingest_test and ingest_sim_test, which record over TCP.
#include "rtp_timestamper.h"

#include <gst/gst.h>
#include <gst/rtp/gstrtpbuffer.h>
#include <gtest/gtest.h>

#include <vector>

namespace sharpeyes::ingest {
namespace {

constexpr GstClockTime kMs = GST_MSECOND;

// Source pad -> timestamper -> sink pad that keeps the PTS/DTS of what comes out.
class Harness {
 public:
  explicit Harness(int clockRate = 90000) {
    gst_init(nullptr, nullptr);
    element_ = makeRtpTimestamper();
    gst_object_ref_sink(element_);
    src_ = gst_pad_new("test-src", GST_PAD_SRC);
    sink_ = gst_pad_new("test-sink", GST_PAD_SINK);
    g_object_set_data(G_OBJECT(sink_), "harness", this);
    gst_pad_set_chain_function(sink_, [](GstPad* pad, GstObject*, GstBuffer* buf) {
      auto* h = static_cast<Harness*>(g_object_get_data(G_OBJECT(pad), "harness"));
      h->pts.push_back(GST_BUFFER_PTS(buf));
      h->dts.push_back(GST_BUFFER_DTS(buf));
      gst_buffer_unref(buf);
      return GST_FLOW_OK;
    });
    GstPad* in = gst_element_get_static_pad(element_, "sink");
    GstPad* out = gst_element_get_static_pad(element_, "src");
    EXPECT_EQ(gst_pad_link(src_, in), GST_PAD_LINK_OK);
    EXPECT_EQ(gst_pad_link(out, sink_), GST_PAD_LINK_OK);
    gst_object_unref(in);
    gst_object_unref(out);
    gst_pad_set_active(src_, TRUE);
    gst_pad_set_active(sink_, TRUE);
    EXPECT_EQ(gst_element_set_state(element_, GST_STATE_PLAYING), GST_STATE_CHANGE_SUCCESS);
    gst_pad_push_event(src_, gst_event_new_stream_start("rtp"));
    GstCaps* caps = gst_caps_new_simple("application/x-rtp", "media", G_TYPE_STRING, "video",
                                        "clock-rate", G_TYPE_INT, clockRate, nullptr);
    gst_pad_push_event(src_, gst_event_new_caps(caps));
    gst_caps_unref(caps);
    GstSegment segment;
    gst_segment_init(&segment, GST_FORMAT_TIME);
    gst_pad_push_event(src_, gst_event_new_segment(&segment));
  }
  ~Harness() {
    gst_element_set_state(element_, GST_STATE_NULL);
    gst_pad_set_active(src_, FALSE);
    gst_pad_set_active(sink_, FALSE);
    gst_object_unref(src_);
    gst_object_unref(sink_);
    gst_object_unref(element_);
  }
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  // One RTP packet with this RTP time, received at `receipt` (running time, as rtspsrc stamps).
  GstFlowReturn push(guint32 rtpTime, GstClockTime receipt) {
    GstBuffer* buf = gst_rtp_buffer_new_allocate(16, 0, 0);
    GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
    gst_rtp_buffer_map(buf, GST_MAP_WRITE, &rtp);
    gst_rtp_buffer_set_payload_type(&rtp, 96);
    gst_rtp_buffer_set_seq(&rtp, seq_++);
    gst_rtp_buffer_set_timestamp(&rtp, rtpTime);
    gst_rtp_buffer_unmap(&rtp);
    GST_BUFFER_DTS(buf) = receipt;
    return gst_pad_push(src_, buf);
  }

  GstElement* element() const { return element_; }
  std::vector<GstClockTime> pts;
  std::vector<GstClockTime> dts;

 private:
  GstElement* element_ = nullptr;
  GstPad* src_ = nullptr;
  GstPad* sink_ = nullptr;
  guint16 seq_ = 0;
};

TEST(RtpTimestamper, TimestampsFollowTheRtpClockFromTheFirstReceipt) {
  Harness h;
  ASSERT_EQ(h.push(1000, 1000 * kMs), GST_FLOW_OK);
  // The next frames arrive late and bunched (a busy reader): the RTP clock still rules.
  ASSERT_EQ(h.push(1000 + 3600, 1500 * kMs), GST_FLOW_OK);  // +40 ms of media
  ASSERT_EQ(h.push(1000 + 7200, 1501 * kMs), GST_FLOW_OK);  // +80 ms
  ASSERT_EQ(h.pts.size(), 3u);
  EXPECT_EQ(h.pts[0], 1000 * kMs);
  EXPECT_EQ(h.pts[1], 1040 * kMs);
  EXPECT_EQ(h.pts[2], 1080 * kMs);
  EXPECT_EQ(h.dts, h.pts);  // what rtpjitterbuffer hands on: DTS equal to PTS
}

TEST(RtpTimestamper, ThirtyTwoBitWrapOfTheRtpClockIsContinuous) {
  Harness h;
  const guint32 nearWrap = 0xFFFFFFFFu - 1799;  // 20 ms before the wrap
  ASSERT_EQ(h.push(nearWrap, 10 * kMs), GST_FLOW_OK);
  ASSERT_EQ(h.push(nearWrap + 3600u, 50 * kMs), GST_FLOW_OK);  // wraps to 1800
  ASSERT_EQ(h.pts.size(), 2u);
  EXPECT_EQ(h.pts[1] - h.pts[0], 40 * kMs);
}

TEST(RtpTimestamper, SmallBackwardStepsAreKeptAndJumpsRebaseOnReceiptTime) {
  Harness h;
  ASSERT_EQ(h.push(90000, 100 * kMs), GST_FLOW_OK);
  ASSERT_EQ(h.push(90000 + 9000, 200 * kMs), GST_FLOW_OK);  // +100 ms
  // B-frame order: presentation time goes back two frames; kept as media time.
  ASSERT_EQ(h.push(90000 + 1800, 210 * kMs), GST_FLOW_OK);
  EXPECT_EQ(h.pts[2], 120 * kMs);
  // The camera's clock jumps 75 s forward: rebased on the packet's receipt time.
  ASSERT_EQ(h.push(90000 - 450000 + 7200000, 300 * kMs), GST_FLOW_OK);
  EXPECT_EQ(h.pts[3], 300 * kMs);
  ASSERT_EQ(h.push(90000 - 450000 + 7200000 + 3600, 340 * kMs), GST_FLOW_OK);
  EXPECT_EQ(h.pts[4], 340 * kMs);
  // It restarts from near zero (76 s backwards): rebased again.
  ASSERT_EQ(h.push(1000, 400 * kMs), GST_FLOW_OK);
  EXPECT_EQ(h.pts[5], 400 * kMs);
}

TEST(RtpTimestamper, ClockRateComesFromTheCaps) {
  Harness h(8000);
  ASSERT_EQ(h.push(0, 0), GST_FLOW_OK);
  ASSERT_EQ(h.push(8000, 900 * kMs), GST_FLOW_OK);  // one second at 8 kHz
  EXPECT_EQ(h.pts[1], GST_SECOND);
}

TEST(RtpTimestamper, TakesRtpbinsLatencyAndAcceptsRtcp) {
  Harness h;
  g_object_set(h.element(), "latency", 200u, nullptr);  // what rtpbin sets on a jitterbuffer
  guint latency = 0;
  g_object_get(h.element(), "latency", &latency, nullptr);
  EXPECT_EQ(latency, 200u);

  GstPad* rtcp = gst_element_request_pad_simple(h.element(), "sink_rtcp");
  ASSERT_NE(rtcp, nullptr);
  GstPad* feeder = gst_pad_new("rtcp-src", GST_PAD_SRC);
  ASSERT_EQ(gst_pad_link(feeder, rtcp), GST_PAD_LINK_OK);
  gst_pad_set_active(feeder, TRUE);
  gst_pad_push_event(feeder, gst_event_new_stream_start("rtcp"));
  GstSegment segment;
  gst_segment_init(&segment, GST_FORMAT_TIME);
  gst_pad_push_event(feeder, gst_event_new_segment(&segment));
  EXPECT_EQ(gst_pad_push(feeder, gst_buffer_new_allocate(nullptr, 28, nullptr)), GST_FLOW_OK);
  EXPECT_TRUE(h.pts.empty());  // RTCP is dropped, never mixed into the RTP output
  gst_pad_set_active(feeder, FALSE);
  gst_pad_unlink(feeder, rtcp);
  gst_object_unref(feeder);
  gst_element_release_request_pad(h.element(), rtcp);
  gst_object_unref(rtcp);
}

}  // namespace
}  // namespace sharpeyes::ingest
