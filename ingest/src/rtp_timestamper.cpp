#include "rtp_timestamper.h"

#include <gst/rtp/gstrtpbuffer.h>

#include <cstdint>

namespace {

// RTP clock steps larger than this between consecutive packets are a clock jump, not media
// time: forward 10 s (a camera restarting its clock, a long gap), backward 1 s (B-frames reorder
// presentation times by a few frames at most).
constexpr int64_t kForwardJump = 10 * static_cast<int64_t>(GST_SECOND);
constexpr int64_t kBackwardJump = static_cast<int64_t>(GST_SECOND);
constexpr guint kVideoClockRate = 90000;  // RFC 6184 / 7798: H.264 and H.265 use 90 kHz

struct SeRtpTimestamper {
  GstElement parent;
  GstPad* sinkpad;
  GstPad* srcpad;
  guint latency;      // set by rtpbin, unused
  guint clockRate;    // from the caps, 90 kHz until they arrive
  guint64 ext;        // extended RTP time of the last packet; G_MAXUINT64 before the first
  guint64 baseExt;    // extended RTP time at the base
  GstClockTime base;  // receipt running time at the base
};

struct SeRtpTimestamperClass {
  GstElementClass parentClass;
};

enum { kPropLatency = 1 };

GstStaticPadTemplate sinkTemplate = GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
                                                            GST_STATIC_CAPS("application/x-rtp"));
GstStaticPadTemplate rtcpTemplate = GST_STATIC_PAD_TEMPLATE(
    "sink_rtcp", GST_PAD_SINK, GST_PAD_REQUEST, GST_STATIC_CAPS("application/x-rtcp"));
GstStaticPadTemplate srcTemplate = GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS,
                                                           GST_STATIC_CAPS("application/x-rtp"));

GType timestamperType();

SeRtpTimestamper* self(gpointer p) {
  return G_TYPE_CHECK_INSTANCE_CAST(p, timestamperType(), SeRtpTimestamper);
}

void resetClock(SeRtpTimestamper* t) {
  t->ext = G_MAXUINT64;
  t->baseExt = 0;
  t->base = GST_CLOCK_TIME_NONE;
}

GstClockTime receiptTime(SeRtpTimestamper* t, GstBuffer* buf) {
  if (GST_BUFFER_DTS_IS_VALID(buf)) return GST_BUFFER_DTS(buf);
  if (GST_BUFFER_PTS_IS_VALID(buf)) return GST_BUFFER_PTS(buf);
  const GstClockTime now = gst_element_get_current_running_time(GST_ELEMENT(t));
  return GST_CLOCK_TIME_IS_VALID(now) ? now : 0;
}

GstFlowReturn chain(GstPad*, GstObject* parent, GstBuffer* buf) {
  SeRtpTimestamper* t = self(parent);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!gst_rtp_buffer_map(buf, GST_MAP_READ, &rtp)) {
    // rtpsession validated it already; drop anything that still is not RTP.
    gst_buffer_unref(buf);
    return GST_FLOW_OK;
  }
  const guint32 rtpTime = gst_rtp_buffer_get_timestamp(&rtp);
  gst_rtp_buffer_unmap(&rtp);

  const guint64 previous = t->ext;
  const guint64 ext = gst_rtp_buffer_ext_timestamp(&t->ext, rtpTime);
  const guint rate = t->clockRate > 0 ? t->clockRate : kVideoClockRate;
  bool rebase = previous == G_MAXUINT64 || !GST_CLOCK_TIME_IS_VALID(t->base);
  if (!rebase) {
    const auto step = static_cast<int64_t>(ext) - static_cast<int64_t>(previous);
    const int64_t stepNs = gst_util_uint64_scale_int(static_cast<guint64>(step < 0 ? -step : step),
                                                     GST_SECOND, static_cast<gint>(rate));
    rebase = step < 0 ? stepNs > kBackwardJump : stepNs > kForwardJump;
  }
  if (rebase) {
    t->baseExt = ext;
    t->base = receiptTime(t, buf);
  }
  const auto since = static_cast<int64_t>(ext) - static_cast<int64_t>(t->baseExt);
  GstClockTime pts = t->base;
  if (since >= 0) {
    pts +=
        gst_util_uint64_scale_int(static_cast<guint64>(since), GST_SECOND, static_cast<gint>(rate));
  } else {
    const guint64 back = gst_util_uint64_scale_int(static_cast<guint64>(-since), GST_SECOND,
                                                   static_cast<gint>(rate));
    pts = back < pts ? pts - back : 0;
  }
  buf = gst_buffer_make_writable(buf);
  GST_BUFFER_PTS(buf) = pts;
  GST_BUFFER_DTS(buf) = pts;
  return gst_pad_push(t->srcpad, buf);
}

gboolean sinkEvent(GstPad* pad, GstObject* parent, GstEvent* event) {
  SeRtpTimestamper* t = self(parent);
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_CAPS: {
      GstCaps* caps = nullptr;
      gst_event_parse_caps(event, &caps);
      const GstStructure* s = caps ? gst_caps_get_structure(caps, 0) : nullptr;
      gint rate = 0;
      if (s && gst_structure_get_int(s, "clock-rate", &rate) && rate > 0)
        t->clockRate = static_cast<guint>(rate);
      break;
    }
    case GST_EVENT_FLUSH_STOP: resetClock(t); break;
    default: break;
  }
  return gst_pad_event_default(pad, parent, event);
}

// RTCP for the jitterbuffer's sender-report synchronisation: nothing here uses it.
GstFlowReturn rtcpChain(GstPad*, GstObject*, GstBuffer* buf) {
  gst_buffer_unref(buf);
  return GST_FLOW_OK;
}

gboolean rtcpEvent(GstPad*, GstObject*, GstEvent* event) {
  gst_event_unref(event);
  return TRUE;
}

GstPad* requestPad(GstElement* element, GstPadTemplate* templ, const gchar* name, const GstCaps*) {
  if (g_strcmp0(GST_PAD_TEMPLATE_NAME_TEMPLATE(templ), "sink_rtcp") != 0) return nullptr;
  GstPad* pad = gst_pad_new_from_template(templ, name ? name : "sink_rtcp");
  gst_pad_set_chain_function(pad, rtcpChain);
  gst_pad_set_event_function(pad, rtcpEvent);
  // gst_element_add_pad activates it when the element is already running.
  if (!gst_element_add_pad(element, pad)) return nullptr;  // add_pad sinks and unrefs on failure
  return pad;
}

void releasePad(GstElement* element, GstPad* pad) {
  gst_element_remove_pad(element, pad);
}

void setProperty(GObject* object, guint id, const GValue* value, GParamSpec* spec) {
  if (id == kPropLatency) {
    self(object)->latency = g_value_get_uint(value);
  } else {
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, spec);
  }
}

void getProperty(GObject* object, guint id, GValue* value, GParamSpec* spec) {
  if (id == kPropLatency) {
    g_value_set_uint(value, self(object)->latency);
  } else {
    G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, spec);
  }
}

GstElementClass* parentClass = nullptr;

GstStateChangeReturn changeState(GstElement* element, GstStateChange transition) {
  const GstStateChangeReturn ret = parentClass->change_state(element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) resetClock(self(element));
  return ret;
}

void classInit(gpointer klass, gpointer) {
  parentClass = GST_ELEMENT_CLASS(g_type_class_peek_parent(klass));
  auto* gobjectClass = G_OBJECT_CLASS(klass);
  gobjectClass->set_property = setProperty;
  gobjectClass->get_property = getProperty;
  g_object_class_install_property(
      gobjectClass, kPropLatency,
      g_param_spec_uint("latency", "Latency", "Accepted for rtpbin; no buffering is done", 0,
                        G_MAXUINT, 0,
                        static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));
  auto* elementClass = GST_ELEMENT_CLASS(klass);
  gst_element_class_add_static_pad_template(elementClass, &sinkTemplate);
  gst_element_class_add_static_pad_template(elementClass, &rtcpTemplate);
  gst_element_class_add_static_pad_template(elementClass, &srcTemplate);
  gst_element_class_set_static_metadata(
      elementClass, "sharpeyes RTP timestamper", "Filter/Network/RTP",
      "Timestamps in-order RTP from its clock, without a thread", "sharpeyes");
  elementClass->change_state = changeState;
  elementClass->request_new_pad = requestPad;
  elementClass->release_pad = releasePad;
}

void instanceInit(GTypeInstance* instance, gpointer) {
  auto* t = reinterpret_cast<SeRtpTimestamper*>(instance);
  t->sinkpad = gst_pad_new_from_static_template(&sinkTemplate, "sink");
  gst_pad_set_chain_function(t->sinkpad, chain);
  gst_pad_set_event_function(t->sinkpad, sinkEvent);
  GST_PAD_SET_PROXY_CAPS(t->sinkpad);
  GST_PAD_SET_PROXY_ALLOCATION(t->sinkpad);
  gst_element_add_pad(GST_ELEMENT(t), t->sinkpad);
  t->srcpad = gst_pad_new_from_static_template(&srcTemplate, "src");
  GST_PAD_SET_PROXY_CAPS(t->srcpad);
  gst_element_add_pad(GST_ELEMENT(t), t->srcpad);
  t->latency = 0;
  t->clockRate = 0;
  resetClock(t);
}

GType timestamperType() {
  static const GType type = [] {
    const GTypeInfo info{
        sizeof(SeRtpTimestamperClass), nullptr, nullptr,      classInit, nullptr, nullptr,
        sizeof(SeRtpTimestamper),      0,       instanceInit, nullptr};
    return g_type_register_static(GST_TYPE_ELEMENT, "SeRtpTimestamper", &info, GTypeFlags{});
  }();
  return type;
}

GstElement* onRequestJitterbuffer(GstElement*, guint, gpointer) {
  return sharpeyes::ingest::makeRtpTimestamper();
}

void onNewManager(GstElement*, GstElement* manager, gpointer) {
  if (g_signal_lookup("request-jitterbuffer", G_OBJECT_TYPE(manager)) == 0) return;
  g_signal_connect(manager, "request-jitterbuffer", G_CALLBACK(onRequestJitterbuffer), nullptr);
}

}  // namespace

namespace sharpeyes::ingest {

GstElement* makeRtpTimestamper() {
  return GST_ELEMENT(g_object_new(timestamperType(), nullptr));
}

void useRtpTimestamper(GstElement* rtspsrc) {
  g_signal_connect(rtspsrc, "new-manager", G_CALLBACK(onNewManager), nullptr);
}

}  // namespace sharpeyes::ingest
