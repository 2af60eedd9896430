#pragma once
// RTP timestamper: what rtpbin gets instead of rtpjitterbuffer when RTP arrives interleaved on
// the RTSP TCP connection (the default transport).
//
// Why: TCP delivers packets in order and without loss, so the jitterbuffer's reordering is not
// needed, but its output thread is: every packet was queued by the connection's reader thread and
// pushed on by the jitterbuffer's, a thread hand-off per packet (~360 packets/s per 4 Mbit/s
// camera). On the 2-core VM that hand-off was a third of the recording branch's CPU (perf: the
// `rtpjitterbuffer` threads 33 %, most of it context switches). This element does the one thing
// downstream needs from the jitterbuffer, timestamps from the RTP clock, in the reader's thread.
//
// Timestamps: the first packet's receipt time (its DTS from rtspsrc) is the base; each packet's
// PTS and DTS are the base plus its RTP time since the first (32-bit wrap extended). That is the
// jitterbuffer's `mode=none` ("only use RTP timestamps"). When the RTP clock and the receipt
// clock disagree by more than kRebaseAfter (a camera restarting its clock, a jump), the base is
// taken again from the packet's receipt time, so timestamps never run away.
//
// UDP keeps the real jitterbuffer: there packets can arrive reordered or late.

#include <gst/gst.h>

namespace sharpeyes::ingest {

// A new timestamper element (floating reference, as rtpbin's request-jitterbuffer expects).
// It has the pads rtpbin links to ("sink", "src", request "sink_rtcp", whose RTCP it drops) and
// a "latency" property that rtpbin sets and this element ignores.
GstElement* makeRtpTimestamper();

// Connects to rtspsrc's "new-manager" so that its rtpbin gets a timestamper per stream.
void useRtpTimestamper(GstElement* rtspsrc);

}  // namespace sharpeyes::ingest
