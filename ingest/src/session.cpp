#include "session.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/rtsp/gstrtsptransport.h>
#include <gst/video/video.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "live_tap.h"
#include "rtp_timestamper.h"
#include "sharpeyes/core/util.h"

namespace sharpeyes::ingest {

namespace {

constexpr int kMaxFramesOutstanding = 2;  // frames a slow consumer may hold before drops
// Jitterbuffer: small, bounds memory per camera. No drop-on-latency: on a loaded machine every
// packet can be late against a 200 ms deadline, and a recorder must not drop data for lateness
// (seen at 100 cameras: cameras never delivered a first frame).
constexpr guint kRtspLatencyMs = 200;
constexpr guint64 kFragmentDurationMs = 1000;      // kill -9 loses at most this much plus buffers
constexpr guint64 kRecorderQueueBytes = 4u << 20;  // per camera, when the recorder lags (tee)
constexpr auto kSegmentSlack = std::chrono::milliseconds(100);
// Native reader: access units queued in appsrc before we drop (a stuck recorder); ~8 s of a
// 4 Mbit/s stream.
constexpr guint64 kNativeQueueBytes = 4u << 20;
// The camera's stall watchdog (HealthOptions::stallTimeout) acts long before this; it only keeps
// a reader from waiting forever when nobody retires the session.
constexpr auto kNativeDataTimeout = std::chrono::seconds(60);

int64_t monoNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

GstElement* make(const char* factory, const char* name = nullptr) {
  return gst_element_factory_make(factory, name);
}

std::string codecName(const std::string& encoding) {
  return encoding == "H264" ? "h264" : "h265";
}

GstPadProbeReturn parsedProbe(GstPad* pad, GstPadProbeInfo* info, gpointer self) {
  return static_cast<Session*>(self)->onParsedData(pad, info);
}

GstPadProbeReturn decodedProbe(GstPad*, GstPadProbeInfo* info, gpointer self) {
  return static_cast<Session*>(self)->onDecoded(info);
}

GstPadProbeReturn recorderInputProbe(GstPad*, GstPadProbeInfo* info, gpointer self) {
  return static_cast<Session*>(self)->onRecorderInput(info);
}

// Keyframe-only analytics from the main stream: deltas never reach the decoder.
GstPadProbeReturn keyframeOnlyProbe(GstPad*, GstPadProbeInfo* info, gpointer) {
  GstBuffer* buf = GST_PAD_PROBE_INFO_BUFFER(info);
  if (buf && GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT) &&
      !GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_HEADER)) {
    return GST_PAD_PROBE_DROP;
  }
  return GST_PAD_PROBE_OK;
}

gchar* formatLocation(GstElement*, guint, GstSample* first, gpointer self) {
  return static_cast<Session*>(self)->onFormatLocation(first);
}

void padAdded(GstElement*, GstPad* pad, gpointer self) {
  static_cast<Session*>(self)->onPadAdded(pad);
}

gboolean selectStream(GstElement*, guint, GstCaps* caps, gpointer self) {
  return static_cast<Session*>(self)->onSelectStream(caps) ? TRUE : FALSE;
}

GstFlowReturn newSample(GstAppSink* sink, gpointer self) {
  return static_cast<Session*>(self)->onSample(GST_ELEMENT(sink));
}

void queueOverrun(GstElement*, gpointer counters) {
  static_cast<CameraCounters*>(counters)->framesDropped.fetch_add(1, std::memory_order_relaxed);
}

std::string utcDay(core::WallTime t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(
      std::chrono::time_point_cast<std::chrono::system_clock::duration>(t));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y%m%d", &tm);
  return buf;
}

// True when a (possibly cut-off) fragmented MP4 holds at least one complete movie fragment.
bool hasMediaFragment(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  bool found = false;
  unsigned char header[8];
  long offset = 0;
  while (std::fseek(f, offset, SEEK_SET) == 0 && std::fread(header, 1, 8, f) == 8) {
    const uint32_t size = (uint32_t{header[0]} << 24) | (uint32_t{header[1]} << 16) |
                          (uint32_t{header[2]} << 8) | header[3];
    if (size < 8) break;
    const std::string type(reinterpret_cast<char*>(header + 4), 4);
    std::fseek(f, 0, SEEK_END);
    const long end = std::ftell(f);
    if (offset + static_cast<long>(size) > end) break;  // the cut-off box
    if (type == "mdat" && offset > 0) found = true;     // an mdat after a moof: a fragment
    offset += static_cast<long>(size);
  }
  std::fclose(f);
  return found;
}

// Frees a mapped sample when the consumer drops its last Frame copy.
struct MappedSample {
  GstSample* sample = nullptr;
  GstBuffer* buffer = nullptr;
  GstMapInfo map{};
  std::shared_ptr<CameraCounters> counters;
  ~MappedSample() {
    gst_buffer_unmap(buffer, &map);
    gst_sample_unref(sample);
    counters->framesOutstanding.fetch_sub(1, std::memory_order_relaxed);
  }
};

}  // namespace

Session::Session(SessionSpec spec, std::shared_ptr<CameraCounters> counters, Listener* listener)
    : spec_(std::move(spec)), counters_(std::move(counters)), listener_(listener) {
  gst_segment_init(&segment_, GST_FORMAT_TIME);
}

Session::~Session() {
  stopNativeReader();
  // Normally finish() released the pipeline on a teardown thread; this is the safety net.
  if (pipeline_) {
    gst_element_set_state(pipeline_, GST_STATE_NULL);
    gst_object_unref(pipeline_);
    pipeline_ = nullptr;
  }
  stopLive();
}

void Session::feedLive(GstBuffer* buf) {
  LiveChannel& channel = *spec_.live;
  if (!channel.wanted()) {
    // Demand went away: the tap stops off this thread (it may wait for its consumer).
    if (liveTap_) LiveTap::disposeAsync(std::move(liveTap_));
    return;
  }
  const bool keyframe = !GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT);
  bool broken = false;
  if (liveTap_ && keyframe) {
    if (auto err = liveTap_->error()) {
      broken = true;
      if (!liveFailed_) {
        spdlog::warn("ingest: camera {} live {}: muxer error ({}); restarting the live stream",
                     spec_.camera.str(), toString(channel.stream()), *err);
      }
      liveFailed_ = true;  // logged once per session
    }
  }
  if (liveTap_ && (broken || liveTap_->generation() != channel.generation() ||
                   (parsedCaps_ && !liveTap_->sameCaps(parsedCaps_)))) {
    // Demand restarted, the stream's parameters changed, or the muxer failed: a new tap sends a
    // new init segment.
    LiveTap::disposeAsync(std::move(liveTap_));
  }
  if (!liveTap_) {
    // Only from a keyframe: the tap would skip everything before one anyway.
    if (!keyframe || !parsedCaps_) return;
    liveTap_ = LiveTap::create(spec_.live, parsedCaps_);
    if (!liveTap_) {
      if (!liveFailed_) {
        gchar* caps = gst_caps_to_string(parsedCaps_);
        spdlog::warn("ingest: camera {}: cannot mux live video for caps {}", spec_.camera.str(),
                     caps ? caps : "?");
        g_free(caps);
      }
      liveFailed_ = true;
      return;
    }
  }
  liveTap_->push(buf);
}

void Session::stopLive() {
  liveTap_.reset();  // stops the tap; its last delivery (if any) is done after this
  if (parsedCaps_) {
    gst_caps_unref(parsedCaps_);
    parsedCaps_ = nullptr;
  }
  // The camera moved the channel's generation on when it retired this session: report the end.
  if (spec_.live) spec_.live->endIfStale();
}

core::Result<void> Session::start() {
  if (spec_.source.transport == Transport::kTcp &&
      spec_.source.reader == StreamSource::Reader::kNative) {
    return startNative();
  }
  const bool main = spec_.kind == SessionSpec::Kind::kMain;
  const std::string name = spec_.camera.str() + (main ? "-main" : "-sub");
  pipeline_ = gst_pipeline_new(name.c_str());
  GstElement* src = make("rtspsrc", "src");
  if (!pipeline_ || !src) {
    if (src) gst_object_unref(src);
    return core::makeError(core::ErrorCode::kUnavailable, "GStreamer rtspsrc is not available");
  }
  const auto toUs = [](core::Duration d) {
    return static_cast<guint64>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
  };
  const guint protocols = spec_.source.transport == Transport::kTcp
                              ? GST_RTSP_LOWER_TRANS_TCP
                              : (GST_RTSP_LOWER_TRANS_UDP | GST_RTSP_LOWER_TRANS_TCP);
  g_object_set(src, "location", spec_.source.url.c_str(), "protocols", protocols, "latency",
               kRtspLatencyMs, "drop-on-latency", FALSE, "do-retransmission", FALSE, "tcp-timeout",
               toUs(spec_.connectTimeout), "teardown-timeout",
               static_cast<guint64>(200 * GST_MSECOND), "user-agent", "sharpeyes", nullptr);
  if (!spec_.source.username.empty()) {
    g_object_set(src, "user-id", spec_.source.username.c_str(), "user-pw",
                 spec_.source.password.c_str(), nullptr);
  }
  if (spec_.source.transport == Transport::kTcp && !spec_.source.jitterBufferOverTcp)
    useRtpTimestamper(src);
  // The decode-time stamper works decode times out from the presentation times' spacing: they
  // must be the camera's (RTP time), not the jitterbuffer's receipt-slaved ones, which on a busy
  // machine came unevenly enough to give B-frames equal decode times (seen over UDP).
  if (spec_.reorders) g_object_set(src, "buffer-mode", 0 /* none: RTP time only */, nullptr);
  g_signal_connect(src, "select-stream", G_CALLBACK(selectStream), this);
  g_signal_connect(src, "pad-added", G_CALLBACK(padAdded), this);
  gst_bin_add(GST_BIN(pipeline_), src);
  if (gst_element_set_state(pipeline_, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    return core::makeError(core::ErrorCode::kUnavailable,
                           "could not start the pipeline for " + core::redactUrl(spec_.source.url));
  }
  return core::okResult();
}

bool Session::onSelectStream(GstCaps* caps) {
  const GstStructure* s = gst_caps_get_structure(caps, 0);
  const char* media = s ? gst_structure_get_string(s, "media") : nullptr;
  if (!media || std::string_view(media) != "video") return false;
  // The first video stream only: cameras may announce several (e.g. an extra metadata track).
  bool expected = false;
  return selected_.compare_exchange_strong(expected, true);
}

void Session::onPadAdded(GstPad* pad) {
  if (closing_) return;
  GstCaps* caps = gst_pad_get_current_caps(pad);
  if (!caps) caps = gst_pad_query_caps(pad, nullptr);
  const GstStructure* s = caps ? gst_caps_get_structure(caps, 0) : nullptr;
  const char* media = s ? gst_structure_get_string(s, "media") : nullptr;
  const char* enc = s ? gst_structure_get_string(s, "encoding-name") : nullptr;
  std::string encoding = enc ? enc : "";
  const bool video = media && std::string_view(media) == "video";
  if (caps) gst_caps_unref(caps);
  if (!video) return;
  if (linked_.exchange(true)) return;
  if (encoding == "HEVC") encoding = "H265";
  if (encoding != "H264" && encoding != "H265") {
    postError("unsupported video codec '" + encoding + "' (need H.264 or H.265)");
    return;
  }
  auto built = buildChain(encoding, pad);
  if (!built) postError(built.error().message);
}

GstElement* Session::buildAnalyticsBranch(const std::string& encoding, bool withQueue,
                                          std::vector<GstElement*>& elements) {
  const auto& opt = spec_.analyticsOptions;
  GstElement* queue = nullptr;
  if (withQueue) {
    // Between the tee and the decoder: leaky, so a slow decoder never holds up recording.
    queue = make("queue", "analytics-queue");
    // About a second of compressed video: rides out a busy CPU without dropping (a dropped
    // delta frame would spoil decoding until the next keyframe), yet stays small.
    g_object_set(queue, "leaky", 2, "max-size-buffers", 0u, "max-size-bytes", 2u << 20,
                 "max-size-time", static_cast<guint64>(GST_SECOND), nullptr);
    g_signal_connect(queue, "overrun", G_CALLBACK(queueOverrun), counters_.get());
  }
  GstElement* dec = make(encoding == "H264" ? "avdec_h264" : "avdec_h265", "decoder");
  GstElement* scale = make("videoscale");
  GstElement* convert = make("videoconvert");
  GstElement* filter = make("capsfilter");
  GstElement* sink = make("appsink", "frames");
  if (!dec || !scale || !convert || !filter || !sink) {
    for (GstElement* e : {queue, dec, scale, convert, filter, sink})
      if (e) gst_object_unref(e);
    return nullptr;
  }
  // One decoding thread per camera: with 200 cameras, libav's per-core threads would multiply.
  g_object_set(dec, "max-threads", 1, nullptr);
  GstCaps* caps =
      gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "BGR", "width", G_TYPE_INT,
                          opt.width, "height", G_TYPE_INT, opt.height, nullptr);
  g_object_set(filter, "caps", caps, nullptr);
  gst_caps_unref(caps);
  g_object_set(sink, "max-buffers", 1u, "drop", TRUE, "sync", FALSE, "async", FALSE,
               "enable-last-sample", FALSE, "emit-signals", FALSE, nullptr);
  GstAppSinkCallbacks callbacks{};
  callbacks.new_sample = &newSample;
  gst_app_sink_set_callbacks(GST_APP_SINK(sink), &callbacks, this, nullptr);

  GstPad* decSrc = gst_element_get_static_pad(dec, "src");
  gst_pad_add_probe(decSrc, GST_PAD_PROBE_TYPE_BUFFER, &decodedProbe, this, nullptr);
  gst_object_unref(decSrc);
  if (queue && spec_.keyframesOnly) {
    GstPad* qSink = gst_element_get_static_pad(queue, "sink");
    gst_pad_add_probe(qSink, GST_PAD_PROBE_TYPE_BUFFER, &keyframeOnlyProbe, nullptr, nullptr);
    gst_object_unref(qSink);
  }
  if (queue) elements.push_back(queue);
  for (GstElement* e : {dec, scale, convert, filter, sink}) elements.push_back(e);
  return queue ? queue : dec;
}

core::Result<void> Session::buildChain(const std::string& encoding, GstPad* srcPad,
                                       bool depayload) {
  const bool h264 = encoding == "H264";
  std::vector<GstElement*> chain;  // linked in order
  std::vector<GstElement*> all;
  GstElement* depay = depayload ? make(h264 ? "rtph264depay" : "rtph265depay") : nullptr;
  GstElement* parse = make(h264 ? "h264parse" : "h265parse", "parse");
  if ((depayload && !depay) || !parse) {
    if (depay) gst_object_unref(depay);
    if (parse) gst_object_unref(parse);
    return core::makeError(core::ErrorCode::kUnavailable, "missing depayloader/parser");
  }
  all = {parse};
  if (depay) all.insert(all.begin(), depay);
  // Everything downstream (recorder, live, analytics) hangs off `head`: the parser, or the
  // timestamper behind it for a stream that reorders frames.
  GstElement* head = parse;
  if (spec_.reorders) {
    head = make(h264 ? "h264timestamper" : "h265timestamper", "timestamper");
    if (!head) {
      for (GstElement* e : all) gst_object_unref(e);
      return core::makeError(core::ErrorCode::kUnavailable,
                             "missing h264timestamper/h265timestamper (gst-plugins-bad 1.22), "
                             "needed for a camera that sends B-frames");
    }
    all.push_back(head);
  }
  GstPad* parseSrc = gst_element_get_static_pad(head, "src");
  gst_pad_add_probe(
      parseSrc,
      static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      &parsedProbe, this, nullptr);
  gst_object_unref(parseSrc);

  const bool main = spec_.kind == SessionSpec::Kind::kMain;
  // The native reader records on its own thread (native_recorder.h), not in the pipeline.
  const bool record = main && spec_.recording.enabled && !nativeWriter_;
  GstElement* recorder = nullptr;
  GstElement* recorderHead = nullptr;
  if (record) {
    recorder = make("splitmuxsink", "recorder");
    GstElement* mux = make("mp4mux");
    // Unbuffered: each fragment reaches the kernel as mp4mux writes it, so a kill -9 loses at
    // most the open fragment, not also whatever filesink had buffered.
    GstElement* file = make("filesink");
    if (file) g_object_set(file, "buffer-mode", 2, "async", FALSE, nullptr);
    if (!recorder || !mux || !file) {
      if (file) gst_object_unref(file);
      for (GstElement* e : all) gst_object_unref(e);
      if (recorder) gst_object_unref(recorder);
      if (mux) gst_object_unref(mux);
      return core::makeError(core::ErrorCode::kUnavailable, "missing splitmuxsink/mp4mux");
    }
    // Fragmented MP4: a crash loses at most the open fragment; the finished file plays alone.
    g_object_set(mux, "fragment-duration", static_cast<guint>(kFragmentDurationMs), nullptr);
    // splitmuxsink keeps whole GOPs within max-size-time; the slack absorbs RTP timestamp
    // jitter so a 10 s length with a 2 s GOP gives 10 s segments, not 8 s ones.
    const auto segNs = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           spec_.recording.segmentLength + kSegmentSlack)
                           .count();
    g_object_set(recorder, "muxer", mux, "sink", file, "max-size-time", static_cast<guint64>(segNs),
                 "max-size-bytes", static_cast<guint64>(0), "async-finalize", FALSE, nullptr);
    g_signal_connect(recorder, "format-location-full", G_CALLBACK(formatLocation), this);
    all.push_back(recorder);
    recorderHead = recorder;
  }
  GstElement* analyticsHead = nullptr;
  if (spec_.analytics) {
    analyticsHead = buildAnalyticsBranch(encoding, record, all);
    if (!analyticsHead) {
      for (GstElement* e : all) gst_object_unref(e);
      return core::makeError(core::ErrorCode::kUnavailable, "missing decoder/appsink elements");
    }
  }
  GstElement* tee = nullptr;
  if (record && analyticsHead) {
    tee = make("tee", "split");
    all.push_back(tee);
    // The recorder branch gets a bounded queue too: a stuck disk must not grow memory.
    GstElement* q = make("queue", "recorder-queue");
    g_object_set(q, "leaky", 2, "max-size-buffers", 0u, "max-size-time", static_cast<guint64>(0),
                 "max-size-bytes", static_cast<guint>(kRecorderQueueBytes), nullptr);
    all.push_back(q);
    recorderHead = q;
  }
  GstElement* fakesink = nullptr;
  if (!record && !analyticsHead) {
    fakesink = make("fakesink");
    g_object_set(fakesink, "sync", FALSE, "async", FALSE, nullptr);
    all.push_back(fakesink);
  }

  for (GstElement* e : all) gst_bin_add(GST_BIN(pipeline_), e);
  bool ok = !depay || gst_element_link(depay, parse);
  if (head != parse) ok = ok && gst_element_link(parse, head);
  if (tee) {
    ok = ok && gst_element_link(head, tee) && gst_element_link(tee, recorderHead) &&
         gst_element_link(recorderHead, recorder) && gst_element_link(tee, analyticsHead);
  } else if (recorderHead) {
    ok = ok && gst_element_link(head, recorderHead);
  } else if (analyticsHead) {
    ok = ok && gst_element_link(head, analyticsHead);
  } else {
    ok = ok && gst_element_link(head, fakesink);
  }
  if (analyticsHead) {
    // Link the rest of the analytics chain (queue/decoder .. appsink) in the order added.
    bool inBranch = false;
    GstElement* prev = nullptr;
    for (GstElement* e : all) {
      if (e == analyticsHead) inBranch = true;
      if (!inBranch) continue;
      if (e == tee || (tee && e == recorderHead)) break;
      if (prev) ok = ok && gst_element_link(prev, e);
      prev = e;
    }
  }
  if (!ok)
    return core::makeError(core::ErrorCode::kInternal, "could not link the " + encoding + " chain");
  if (recorder) {
    // Where buffers enter the recording branch (the recorder's queue behind the tee, or
    // splitmuxsink's own pad): recording starts there at the session's first keyframe.
    GstPad* input = nullptr;
    if (tee) {
      input = gst_element_get_static_pad(recorderHead, "sink");
    } else {
      GstPad* headSrc = gst_element_get_static_pad(head, "src");
      input = gst_pad_get_peer(headSrc);
      gst_object_unref(headSrc);
    }
    if (!input) {
      return core::makeError(core::ErrorCode::kInternal, "could not find the recorder's input");
    }
    gst_pad_add_probe(input, GST_PAD_PROBE_TYPE_BUFFER, &recorderInputProbe, this, nullptr);
    gst_object_unref(input);
  }
  {
    std::lock_guard lock(mutex_);
    parse_ = parse;
    info_.codec = codecName(encoding);
    sizeFromRecorder_ = nativeWriter_ != nullptr;
  }
  // Sinks first, so nothing pushes into an element that is not ready.
  for (auto it = all.rbegin(); it != all.rend(); ++it) gst_element_sync_state_with_parent(*it);
  GstPad* headSink = gst_element_get_static_pad(depay ? depay : parse, "sink");
  const GstPadLinkReturn linked = gst_pad_link(srcPad, headSink);
  gst_object_unref(headSink);
  if (GST_PAD_LINK_FAILED(linked)) {
    return core::makeError(core::ErrorCode::kInternal, "could not link the source to the chain");
  }
  return core::okResult();
}

core::Result<void> Session::startNative() {
  const bool main = spec_.kind == SessionSpec::Kind::kMain;
  const std::string name = spec_.camera.str() + (main ? "-main" : "-sub");
  pipeline_ = gst_pipeline_new(name.c_str());
  appsrc_ = make("appsrc", "src");
  if (!pipeline_ || !appsrc_) {
    if (appsrc_) gst_object_unref(appsrc_);
    appsrc_ = nullptr;
    return core::makeError(core::ErrorCode::kUnavailable, "GStreamer appsrc is not available");
  }
  // Timestamps come from the RTP clock (pushAccessUnit), not from the time of the push.
  g_object_set(appsrc_, "is-live", TRUE, "format", GST_FORMAT_TIME, "do-timestamp", FALSE,
               "max-bytes", kNativeQueueBytes, "block", FALSE, "emit-signals", FALSE, nullptr);
  gst_bin_add(GST_BIN(pipeline_), appsrc_);
  if (gst_element_set_state(pipeline_, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    return core::makeError(core::ErrorCode::kUnavailable,
                           "could not start the pipeline for " + core::redactUrl(spec_.source.url));
  }
  RtspTcpOptions o;
  o.url = spec_.source.url;
  o.username = spec_.source.username;
  o.password = spec_.source.password;
  if (spec_.connectTimeout > core::Duration::zero()) {
    o.connectTimeout = std::chrono::duration_cast<std::chrono::milliseconds>(spec_.connectTimeout);
    o.responseTimeout = o.connectTimeout;
  }
  o.dataTimeout = kNativeDataTimeout;
  native_ = std::make_unique<RtspTcpClient>(std::move(o));
  // The session's reader thread plays the part of rtspsrc's connection thread (one per stream).
  nativeThread_ = std::thread([this] { runNativeReader(); });
  return core::okResult();
}

void Session::runNativeReader() {
  // Named, not the creating context thread's "ingest-N": profiles tell the reader apart.
  pthread_setname_np(pthread_self(), "rtsp-reader");
  int clockRate = 90000;
  auto result = native_->run(
      [&](const rtsp::SdpVideo& video) {
        if (closing_) return;
        const bool h264 = video.codec == rtsp::VideoCodec::kH264;
        clockRate = video.clockRate > 0 ? video.clockRate : 90000;
        nativeReorder_ = ReorderDetector(clockRate);
        GstCaps* caps = gst_caps_new_simple(h264 ? "video/x-h264" : "video/x-h265", "stream-format",
                                            G_TYPE_STRING, "byte-stream", "alignment",
                                            G_TYPE_STRING, "au", nullptr);
        gst_app_src_set_caps(GST_APP_SRC(appsrc_), caps);
        gst_caps_unref(caps);
        linked_ = true;
        if (spec_.kind == SessionSpec::Kind::kMain && spec_.recording.enabled) {
          NativeSegmentWriter::Options wo;
          wo.codec = video.codec;
          wo.segmentLength = spec_.recording.segmentLength;
          wo.slack = kSegmentSlack;
          wo.fragment = std::chrono::milliseconds(kFragmentDurationMs);
          wo.nameSegment = [this](uint64_t rt) { return nameSegmentAt(rt); };
          nativeWriter_ = std::make_unique<NativeSegmentWriter>(std::move(wo));
        }
        GstPad* pad = gst_element_get_static_pad(appsrc_, "src");
        auto built = buildChain(h264 ? "H264" : "H265", pad, false);
        gst_object_unref(pad);
        if (!built) {
          postError(built.error().message);
          native_->stop();
        }
      },
      [&](AccessUnit& au) { pushAccessUnit(au, clockRate); });
  // stop() (finish) ends a run without error; anything else is the camera's trouble, reported
  // like rtspsrc's errors so the camera's health machine reconnects.
  if (!result.ok() && !closing_) postReaderError(result.error().message);
}

void Session::postReaderError(const std::string& message) {
  GError* err = g_error_new_literal(GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, message.c_str());
  gst_element_post_message(pipeline_,
                           gst_message_new_error(GST_OBJECT(appsrc_), err, "native RTSP reader"));
  g_error_free(err);
}

void Session::reportReordering() {
  reordered_.store(true, std::memory_order_release);
  GstStructure* s = gst_structure_new_empty(kReorderedMessage);
  gst_element_post_message(pipeline_, gst_message_new_element(GST_OBJECT(pipeline_), s));
}

void Session::stopOnReordering() {
  reportReordering();
  // A stop, not an error: the run ends without one, and the camera reconnects with rtspsrc on
  // the message (or when it retires this session for any other reason first).
  native_->stop();
}

void Session::pushAccessUnit(AccessUnit& au, int clockRate) {
  if (closing_.load(std::memory_order_relaxed) || reordered_.load(std::memory_order_relaxed)) {
    return;
  }
  // Before anything is written or pushed: every access unit that reaches the recorder is in
  // presentation order, so DTS = PTS holds for all of them and the open segment, finished by
  // finish(), is valid. The unit that went back (and all after it) is left to rtspsrc.
  if (nativeReorder_.observe(au)) {
    stopOnReordering();
    return;
  }
  // Running time: the receipt time of the first access unit (and again after a discontinuity)
  // plus RTP time since, as rtspsrc with the timestamper does (rtp_timestamper.h).
  GstClockTime now = 0;
  if (GstClock* clock = gst_element_get_clock(pipeline_)) {
    const GstClockTime t = gst_clock_get_time(clock);
    const GstClockTime base = gst_element_get_base_time(pipeline_);
    now = t > base ? t - base : 0;
    gst_object_unref(clock);
  }
  if (!nativeHaveBase_ || au.discont || au.rtpTime < nativeFirstRtp_) {
    nativeHaveBase_ = true;
    nativeFirstRtp_ = au.rtpTime;
    nativeBase_ = now;
    // Never backwards across a rebase: muxers refuse decreasing timestamps.
    if (GST_CLOCK_TIME_IS_VALID(nativeLastPts_) && nativeBase_ <= nativeLastPts_) {
      nativeBase_ = nativeLastPts_ + GST_MSECOND;
    }
  }
  const GstClockTime pts =
      nativeBase_ + gst_util_uint64_scale_int(static_cast<guint64>(au.rtpTime - nativeFirstRtp_),
                                              GST_SECOND, clockRate);
  nativeLastPts_ = pts;

  // What the parser probe does for rtspsrc's pipeline, done here: the pipeline may see nothing.
  lastBufferNs_.store(monoNowNs(), std::memory_order_relaxed);
  if (spec_.kind == SessionSpec::Kind::kMain) {
    countMainFrame(au.data.size());
    std::lock_guard lock(mutex_);
    // Running time is the PTS here (appsrc's segment starts at 0).
    noteMainFrameTime(pts, au.keyframe, 0);
  }

  // The pipeline gets the access units only when something in it needs them: the analytics
  // decoder, a live viewer, or (without native recording) the parser's stream facts. A recording
  // camera nobody watches costs one thread, not four.
  const bool feed = !nativeWriter_ || spec_.analytics ||
                    (spec_.live && (spec_.live->wanted() || liveTapActive_.load()));
  bool discont = au.discont;
  if (!feed) {
    nativeFeeding_ = false;
  } else if (!nativeFeeding_ || nativeWaitKeyframe_) {
    // (Re)start the pipeline's feed at a keyframe: the parser and decoder need one.
    if (au.keyframe) {
      nativeFeeding_ = true;
      nativeWaitKeyframe_ = false;
      discont = true;
    }
  }
  std::vector<uint8_t> forPipeline;
  const bool pushIt = feed && nativeFeeding_ && !nativeWaitKeyframe_;
  if (pushIt && nativeWriter_) forPipeline = au.data;  // the recorder takes the original

  std::optional<core::Error> recordError;
  if (nativeWriter_ && !nativeRecordFailed_) {
    auto outcome = nativeWriter_->write(au, pts);
    if (outcome.closed) postSegmentClosed(*outcome.closed);
    if (au.keyframe && nativeWriter_->width() > 0) {  // a new size comes with a keyframe
      std::lock_guard lock(mutex_);
      info_.width = nativeWriter_->width();
      info_.height = nativeWriter_->height();
    }
    recordError = std::move(outcome.error);
  } else if (pushIt) {
    forPipeline = std::move(au.data);
  }
  // Only once the size is known: the camera's watchdog reports "streaming" (with the size) as
  // soon as it sees data.
  gotData_.store(true, std::memory_order_relaxed);
  if (recordError) {
    // Like a filesink error: the camera reconnects with backoff, and the reason says why.
    nativeRecordFailed_ = true;
    postReaderError("recording: " + recordError->message);
    native_->stop();
    return;
  }
  if (!pushIt) return;
  if (gst_app_src_get_current_level_bytes(GST_APP_SRC(appsrc_)) > kNativeQueueBytes) {
    // The pipeline does not keep up: drop, and resume at a keyframe so the parser and decoder
    // never get a delta frame whose reference is gone.
    nativeWaitKeyframe_ = true;
    return;
  }
  // The buffer owns the access unit's bytes: no copy.
  auto* bytes = new std::vector<uint8_t>(std::move(forPipeline));
  GstBuffer* buf = gst_buffer_new_wrapped_full(
      GST_MEMORY_FLAG_READONLY, bytes->data(), bytes->size(), 0, bytes->size(), bytes,
      [](gpointer p) { delete static_cast<std::vector<uint8_t>*>(p); });
  // Decode order is presentation order: a camera that reorders never gets here (stopOnReordering).
  GST_BUFFER_PTS(buf) = pts;
  GST_BUFFER_DTS(buf) = pts;
  if (!au.keyframe) GST_BUFFER_FLAG_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT);
  if (discont) GST_BUFFER_FLAG_SET(buf, GST_BUFFER_FLAG_DISCONT);
  gst_app_src_push_buffer(GST_APP_SRC(appsrc_), buf);  // takes the buffer
}

void Session::postSegmentClosed(const NativeSegmentWriter::Closed& closed) {
  GstStructure* s = gst_structure_new("splitmuxsink-fragment-closed", "location", G_TYPE_STRING,
                                      closed.path.c_str(), "running-time", G_TYPE_UINT64,
                                      static_cast<guint64>(closed.endRt), nullptr);
  gst_element_post_message(pipeline_, gst_message_new_element(GST_OBJECT(pipeline_), s));
}

std::optional<SegmentClosed> Session::closeNativeRecording() {
  auto closed = nativeWriter_->close();
  if (!closed) {
    // Its complete fragments still play: takeLeftoverSegments reports it.
    spdlog::warn("ingest: camera {}: {}", spec_.camera.str(), closed.error().message);
    return std::nullopt;
  }
  if (!*closed) return std::nullopt;
  return takeClosedSegment((*closed)->path, (*closed)->endRt);
}

void Session::stopNativeReader() {
  if (native_) native_->stop();
  if (nativeThread_.joinable()) nativeThread_.join();
}

void Session::postError(const std::string& message) {
  GError* err =
      g_error_new_literal(GST_STREAM_ERROR, GST_STREAM_ERROR_CODEC_NOT_FOUND, message.c_str());
  gst_element_post_message(pipeline_, gst_message_new_error(GST_OBJECT(pipeline_), err, nullptr));
  g_error_free(err);
}

GstPadProbeReturn Session::onParsedData(GstPad* pad, GstPadProbeInfo* info) {
  if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent* ev = GST_PAD_PROBE_INFO_EVENT(info);
    if (GST_EVENT_TYPE(ev) == GST_EVENT_SEGMENT) {
      const GstSegment* seg = nullptr;
      gst_event_parse_segment(ev, &seg);
      std::lock_guard lock(mutex_);
      gst_segment_copy_into(seg, &segment_);
      haveSegment_ = true;
    } else if (GST_EVENT_TYPE(ev) == GST_EVENT_CAPS) {
      GstCaps* caps = nullptr;
      gst_event_parse_caps(ev, &caps);
      const GstStructure* s = gst_caps_get_structure(caps, 0);
      int w = 0, h = 0;
      gst_structure_get_int(s, "width", &w);
      gst_structure_get_int(s, "height", &h);
      if (spec_.live) {
        if (parsedCaps_) gst_caps_unref(parsedCaps_);
        parsedCaps_ = gst_caps_ref(caps);
        liveFailed_ = false;
      }
      std::lock_guard lock(mutex_);
      // Caps without a size (the parser has seen no SPS yet) say nothing about the picture: with
      // the native reader, appsrc's first caps reach the parser at a moment set by scheduling,
      // and under load they came after the reader had already taken the size from the first
      // keyframe's SPS, leaving the session (and every segment it reported) at 0x0. The native
      // recorder's own SPS is what its files hold: it alone sets the size then.
      if (w > 0 && h > 0 && !sizeFromRecorder_) {
        info_.width = w;
        info_.height = h;
      }
    }
    return GST_PAD_PROBE_OK;
  }
  GstBuffer* buf = GST_PAD_PROBE_INFO_BUFFER(info);
  if (!buf) return GST_PAD_PROBE_OK;
  if (native_) {
    // The reader thread keeps the stream's facts (pushAccessUnit); here only the live tap.
    if (spec_.live && !closing_.load(std::memory_order_relaxed)) {
      feedLive(buf);
      liveTapActive_.store(liveTap_ != nullptr);  // the reader feeds until the tap is gone
    }
    return GST_PAD_PROBE_OK;
  }
  lastBufferNs_.store(monoNowNs(), std::memory_order_relaxed);
  if (spec_.reorders && !sawKeyframe_) {
    // Built for a camera that reorders, this session most likely joins its stream mid-GOP (the
    // restart after the first session found B-frames): B-frames before the first keyframe
    // reference pictures never received and do not decode. Start at a keyframe, as the native
    // reader does.
    if (GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT)) return GST_PAD_PROBE_DROP;
    sawKeyframe_ = true;
  }
  if (!GST_BUFFER_PTS_IS_VALID(buf)) {
    // Depayloaded access units occasionally come without a PTS (seen with large FU-A frames);
    // mp4mux rejects those with an error. Take the DTS, else the previous PTS plus one frame;
    // before any timestamp is known, drop (the recorder starts at a keyframe anyway).
    GstClockTime pts = GST_BUFFER_DTS(buf);
    if (!GST_CLOCK_TIME_IS_VALID(pts)) {
      if (!GST_CLOCK_TIME_IS_VALID(lastPts_)) return GST_PAD_PROBE_DROP;
      pts = lastPts_ + (lastFrameDur_ > 0 ? lastFrameDur_ : GST_SECOND / 25);
    }
    buf = gst_buffer_make_writable(buf);
    GST_BUFFER_PTS(buf) = pts;
    GST_PAD_PROBE_INFO_DATA(info) = buf;
  }
  if (!spec_.reorders) {
    // This chain has no decode times of its own for reordered frames (over TCP the RTP
    // timestamper sets DTS = PTS, and mp4mux then repeats the previous frame's decode time for
    // each B-frame). Nothing from the first reordered frame on reaches the recorder; the camera
    // restarts the stream with a decode-time stamper (SessionSpec::reorders).
    if (reordered_.load(std::memory_order_relaxed)) return GST_PAD_PROBE_DROP;
    if (parsedReorder_.observe(static_cast<int64_t>(GST_BUFFER_PTS(buf)),
                               GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DISCONT))) {
      reportReordering();
      return GST_PAD_PROBE_DROP;
    }
  }
  {
    const GstClockTime pts = GST_BUFFER_PTS(buf);
    if (GST_CLOCK_TIME_IS_VALID(lastPts_) && pts > lastPts_ && pts - lastPts_ < GST_SECOND) {
      lastFrameDur_ = pts - lastPts_;
    }
    lastPts_ = pts;
  }
  gotData_.store(true, std::memory_order_relaxed);
  if (spec_.live && !closing_.load(std::memory_order_relaxed)) feedLive(buf);
  if (spec_.kind == SessionSpec::Kind::kMain) {
    countMainFrame(gst_buffer_get_size(buf));
    GstClockTime ts = GST_BUFFER_PTS_IS_VALID(buf) ? GST_BUFFER_PTS(buf) : GST_BUFFER_DTS(buf);
    if (GST_CLOCK_TIME_IS_VALID(ts)) {
      std::lock_guard lock(mutex_);
      if (haveSegment_) {
        const guint64 rt = gst_segment_to_running_time(&segment_, GST_FORMAT_TIME, ts);
        if (GST_CLOCK_TIME_IS_VALID(rt)) {
          noteMainFrameTime(rt, !GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT),
                            GST_BUFFER_DURATION_IS_VALID(buf) ? GST_BUFFER_DURATION(buf) : 0);
        }
      }
    }
  }
  return GST_PAD_PROBE_OK;
}

GstPadProbeReturn Session::onRecorderInput(GstPadProbeInfo* info) {
  // rtspsrc starts a session wherever the camera's stream is: a shared media already playing
  // for another client (an NVR, a second gateway, a restarted session of ours) is mid-GOP. The
  // delta frames before the first keyframe reference pictures this session never received: they
  // do not decode, and splitmuxsink would put them at the head of the first segment (its first
  // "GOP"). The recorder alone waits for the keyframe; the live tap starts at one by itself and
  // the analytics decoder skips what it cannot decode, so neither waits longer than it must.
  // The native reader's recorder does the same (NativeSegmentWriter::write).
  if (recorderKeyframeSeen_) return GST_PAD_PROBE_OK;
  GstBuffer* buf = GST_PAD_PROBE_INFO_BUFFER(info);
  if (!buf || GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT)) return GST_PAD_PROBE_DROP;
  recorderKeyframeSeen_ = true;
  recorderGotData_.store(true, std::memory_order_relaxed);
  return GST_PAD_PROBE_OK;
}

void Session::countMainFrame(size_t bytes) {
  counters_->frames.fetch_add(1, std::memory_order_relaxed);
  counters_->bytes.fetch_add(bytes, std::memory_order_relaxed);
  if (spec_.recording.enabled) counters_->bytesRecorded.fetch_add(bytes, std::memory_order_relaxed);
}

void Session::noteMainFrameTime(uint64_t rt, bool keyframe, uint64_t duration) {
  // Receipt time of each keyframe: segment starts come from their lower envelope.
  if (keyframe) clock_.observe(rt, core::processClock().now());
  prevRt_ = lastRt_;
  lastRt_ = rt;
  // Without a duration of its own, a frame lasts until the next (a gap of a second or more is
  // not a frame interval).
  if (duration == 0 && lastRt_ > prevRt_ && lastRt_ - prevRt_ < GST_SECOND) {
    duration = lastRt_ - prevRt_;
  }
  lastEndRt_ = std::max(lastEndRt_, rt + duration);
}

GstPadProbeReturn Session::onDecoded(GstPadProbeInfo* info) {
  GstBuffer* buf = GST_PAD_PROBE_INFO_BUFFER(info);
  if (!buf || closing_) return GST_PAD_PROBE_DROP;
  const double fps = spec_.analyticsOptions.fps;
  if (fps <= 0 || !GST_BUFFER_PTS_IS_VALID(buf)) return GST_PAD_PROBE_OK;
  // Rate limit before scaling/conversion: a dropped frame costs nothing more. A tenth of the
  // interval of slack keeps 25 -> 5 fps at exactly every fifth frame despite timestamp jitter.
  const auto interval = static_cast<int64_t>(static_cast<double>(GST_SECOND) / fps);
  const auto pts = static_cast<int64_t>(GST_BUFFER_PTS(buf));
  if (lastHandedPts_ >= 0 && pts >= lastHandedPts_ &&
      pts - lastHandedPts_ < interval - interval / 10) {
    return GST_PAD_PROBE_DROP;
  }
  lastHandedPts_ = pts;
  return GST_PAD_PROBE_OK;
}

GstFlowReturn Session::onSample(GstElement* appsink) {
  GstSample* sample = gst_app_sink_pull_sample(GST_APP_SINK(appsink));
  if (!sample) return GST_FLOW_EOS;
  if (closing_) {
    gst_sample_unref(sample);
    return GST_FLOW_OK;
  }
  if (counters_->framesOutstanding.load(std::memory_order_relaxed) >= kMaxFramesOutstanding) {
    counters_->framesDropped.fetch_add(1, std::memory_order_relaxed);
    gst_sample_unref(sample);
    return GST_FLOW_OK;
  }
  GstVideoInfo vinfo;
  GstCaps* caps = gst_sample_get_caps(sample);
  GstBuffer* buffer = gst_sample_get_buffer(sample);
  if (!caps || !buffer || !gst_video_info_from_caps(&vinfo, caps)) {
    gst_sample_unref(sample);
    return GST_FLOW_OK;
  }
  auto holder = std::make_shared<MappedSample>();
  if (!gst_buffer_map(buffer, &holder->map, GST_MAP_READ)) {
    holder.reset();  // nothing mapped; the destructor must not run on it
    gst_sample_unref(sample);
    return GST_FLOW_OK;
  }
  holder->sample = sample;
  holder->buffer = buffer;
  holder->counters = counters_;
  counters_->framesOutstanding.fetch_add(1, std::memory_order_relaxed);

  core::Frame frame;
  frame.camera = spec_.camera;
  frame.width = GST_VIDEO_INFO_WIDTH(&vinfo);
  frame.height = GST_VIDEO_INFO_HEIGHT(&vinfo);
  frame.stride = GST_VIDEO_INFO_PLANE_STRIDE(&vinfo, 0);
  frame.format = core::PixelFormat::kBgr24;
  frame.data = holder->map.data;
  frame.size = holder->map.size;
  frame.wallTime = core::processClock().now();
  frame.mediaTime = core::Duration(GST_BUFFER_PTS_IS_VALID(buffer) ? GST_BUFFER_PTS(buffer) : 0);
  frame.sequence = counters_->framesAnalysed.fetch_add(1, std::memory_order_relaxed);
  frame.owner = std::move(holder);
  listener_->onFrame(frame);
  return GST_FLOW_OK;
}

gchar* Session::onFormatLocation(GstSample* firstSample) {
  uint64_t rt = 0;
  if (firstSample) {
    GstBuffer* buf = gst_sample_get_buffer(firstSample);
    const GstSegment* seg = gst_sample_get_segment(firstSample);
    GstClockTime ts = GST_CLOCK_TIME_NONE;
    if (buf) ts = GST_BUFFER_PTS_IS_VALID(buf) ? GST_BUFFER_PTS(buf) : GST_BUFFER_DTS(buf);
    if (seg && GST_CLOCK_TIME_IS_VALID(ts)) {
      const guint64 r = gst_segment_to_running_time(seg, GST_FORMAT_TIME, ts);
      if (GST_CLOCK_TIME_IS_VALID(r)) rt = r;
    }
  }
  return g_strdup(nameSegmentAt(rt).c_str());
}

std::string Session::nameSegmentAt(uint64_t rt) {
  const core::WallTime now = core::processClock().now();
  std::lock_guard lock(mutex_);
  // The file's name carries the start as known now; the index gets the start worked out when the
  // segment closes (takeClosedSegment), with the receipts of the keyframes seen meanwhile.
  const core::WallTime start = clock_.estimate(rt).value_or(now);

  namespace fs = std::filesystem;
  const std::string cam = spec_.camera.str();
  const fs::path dir = fs::path(spec_.recording.directory) / cam / utcDay(start);
  std::error_code ec;
  fs::create_directories(dir, ec);  // a failure surfaces as a filesink error on the bus
  int64_t millis = core::toUnixMillis(start);
  fs::path path;
  for (int i = 0; i < 1000; ++i, ++millis) {
    path = dir / (cam + "-" + std::to_string(millis) + ".mp4");
    if (!fs::exists(path, ec) && !fragments_.count(path.string())) break;
  }
  fragments_[path.string()] = Fragment{start, rt};
  return path.string();
}

void Session::stopSinksFirst() {
  // A bin goes down one step at a time, sinks first: PLAYING -> PAUSED for every element, then
  // PAUSED -> READY. A sink in PAUSED blocks the next buffer (preroll) until it plays again or
  // flushes. Over TCP the thread pushing that buffer is rtspsrc's own reader (no jitterbuffer
  // thread in between), which holds the lock rtspsrc's PLAYING -> PAUSED needs: the teardown
  // hung (seen on a live-only sub stream under load; gdb: reader in gst_base_sink_wait_preroll,
  // teardown in rtspsrc's change_state). Taking each sink down to NULL on its own first flushes
  // it, the reader's push returns FLUSHING, and the rest of the pipeline follows freely.
  GstIterator* it = gst_bin_iterate_sinks(GST_BIN(pipeline_));
  std::vector<GstElement*> sinks;
  GValue item = G_VALUE_INIT;
  bool done = false;
  while (!done) {
    switch (gst_iterator_next(it, &item)) {
      case GST_ITERATOR_OK: {
        auto* e = GST_ELEMENT(g_value_get_object(&item));
        // Not the recorder: it sits behind its own queue (never blocks the reader), and taken
        // down ahead of the rest it cuts its last file short (no moov: unplayable).
        gchar* name = gst_element_get_name(e);
        if (g_strcmp0(name, "recorder") != 0) sinks.push_back(GST_ELEMENT(gst_object_ref(e)));
        g_free(name);
        g_value_reset(&item);
      } break;
      case GST_ITERATOR_RESYNC:
        for (GstElement* e : sinks) gst_object_unref(e);
        sinks.clear();
        gst_iterator_resync(it);
        break;
      default: done = true; break;
    }
  }
  g_value_unset(&item);
  gst_iterator_free(it);
  for (GstElement* e : sinks) {
    gst_element_set_state(e, GST_STATE_NULL);
    gst_object_unref(e);
  }
}

bool Session::recorderStarted() {
  // Data reached the recorder: a session that ends before its first keyframe has nothing to
  // finish (and no file to wait for).
  return recorderGotData_.load(std::memory_order_relaxed);
}

bool Session::hasOpenFragments() {
  std::lock_guard lock(mutex_);
  return !fragments_.empty();
}

void Session::sendEos() {
  GstElement* parse = nullptr;
  {
    std::lock_guard lock(mutex_);
    parse = parse_;
  }
  if (!parse) return;
  eosSent_ = true;
  GstPad* sink = gst_element_get_static_pad(parse, "sink");
  gst_pad_send_event(sink, gst_event_new_eos());
  gst_object_unref(sink);
}

Session::StreamInfo Session::streamInfo() const {
  std::lock_guard lock(mutex_);
  return info_;
}

core::WallTime Session::wallStart(uint64_t rtStart, uint64_t rtEnd, core::WallTime named) {
  const auto s = clock_.segmentStart(rtStart, rtEnd, named);
  if (s.reanchored) {
    spdlog::info("ingest: camera {}: media time and receipt time disagree by {} ms; re-anchored",
                 spec_.camera.str(),
                 std::chrono::duration_cast<std::chrono::milliseconds>(s.correction).count());
  }
  return s.wall;
}

std::optional<SegmentClosed> Session::takeClosedSegment(const std::string& location,
                                                        uint64_t runningTime) {
  std::lock_guard lock(mutex_);
  auto it = fragments_.find(location);
  if (it == fragments_.end()) return std::nullopt;
  bool newest = true;
  for (const auto& [path, f] : fragments_)
    if (f.rtStart > it->second.rtStart) newest = false;
  uint64_t end = runningTime;
  // After our EOS the recorder reports the last frame's start; the segment ends after it. A
  // segment cut before the EOS (its close read only after it) ends where the next one starts,
  // at a keyframe, and is left as it is.
  if (eosSent_ && newest && !clock_.sawKeyframeAt(end)) end = std::max<uint64_t>(end, lastEndRt_);
  SegmentClosed seg;
  seg.camera = spec_.camera;
  seg.path = location;
  seg.start = wallStart(it->second.rtStart, end, it->second.wallStart);
  seg.mediaDuration = core::Duration(end > it->second.rtStart ? end - it->second.rtStart : 0);
  seg.codec = info_.codec;
  seg.width = info_.width;
  seg.height = info_.height;
  fragments_.erase(it);
  return seg;
}

std::vector<SegmentClosed> Session::takeLeftoverSegments() {
  std::lock_guard lock(mutex_);
  std::vector<SegmentClosed> out;
  for (const auto& [path, f] : fragments_) {
    if (!hasMediaFragment(path)) {
      spdlog::warn("ingest: {} was cut off before its first fragment; not reported", path);
      continue;
    }
    spdlog::warn("ingest: {} was not finished in time; reported up to its last fragment", path);
    SegmentClosed seg;
    seg.camera = spec_.camera;
    seg.path = path;
    // It ends where the next unfinished one starts, the last one after the last frame.
    uint64_t end = std::max(lastEndRt_, f.rtStart);
    for (const auto& [otherPath, other] : fragments_)
      if (other.rtStart > f.rtStart) end = std::min(end, other.rtStart);
    seg.start = wallStart(f.rtStart, end, f.wallStart);
    seg.mediaDuration = core::Duration(static_cast<int64_t>(end - f.rtStart));
    seg.codec = info_.codec;
    seg.width = info_.width;
    seg.height = info_.height;
    out.push_back(std::move(seg));
  }
  fragments_.clear();
  return out;
}

}  // namespace sharpeyes::ingest
