#include "live_tap.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <spdlog/spdlog.h>

namespace sharpeyes::ingest {

namespace {

// Fragments of one frame each: a viewer's latency is the muxer's one-frame hold-back, not a GOP.
constexpr guint kFragmentDurationMs = 1;
// What the tap may hold while its consumer is behind: a live viewer gains nothing from older
// video. Beyond it the session drops up to the next keyframe instead of waiting.
constexpr guint64 kMaxQueuedBytes = 2u << 20;
constexpr GstClockTime kMaxQueuedTime = GST_SECOND;
constexpr uint64_t kMaxBoxBytes = 64u << 20;

uint64_t be32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint64_t{u[0]} << 24) | (uint64_t{u[1]} << 16) | (uint64_t{u[2]} << 8) | u[3];
}

GstFlowReturn newSample(GstAppSink* sink, gpointer self) {
  return static_cast<LiveTap*>(self)->onSample(GST_ELEMENT(sink));
}

void disposeOnPool(GstElement*, gpointer tap) {
  delete static_cast<LiveTap*>(tap);
}

}  // namespace

void LiveChannel::setWanted(bool wanted) {
  wanted_.store(wanted, std::memory_order_release);
  bump();
}

void LiveChannel::deliver(uint64_t generation, uint64_t tapId, std::string_view bytes) {
  std::lock_guard lock(mutex_);
  if (generation != this->generation()) return;
  if (deliveredGen_ == generation && tapId < deliveredTap_) return;
  // The previous generation's end is reported before the new one's first bytes, whichever thread
  // gets here first.
  if (deliveredGen_ != 0 && deliveredGen_ != generation) listener_.onLiveEnded(camera_, stream_);
  deliveredGen_ = generation;
  deliveredTap_ = tapId;
  listener_.onLiveBytes(camera_, stream_, bytes);
}

void LiveChannel::endIfStale() {
  std::lock_guard lock(mutex_);
  if (deliveredGen_ == 0 || deliveredGen_ == generation()) return;
  deliveredGen_ = 0;
  deliveredTap_ = 0;
  listener_.onLiveEnded(camera_, stream_);
}

std::unique_ptr<LiveTap> LiveTap::create(const std::shared_ptr<LiveChannel>& channel,
                                         GstCaps* caps) {
  if (!caps || gst_caps_get_size(caps) == 0) return nullptr;
  const std::string media = gst_structure_get_name(gst_caps_get_structure(caps, 0));
  const char* parserName = media == "video/x-h264"   ? "h264parse"
                           : media == "video/x-h265" ? "h265parse"
                                                     : nullptr;
  if (!parserName) return nullptr;
  const uint64_t generation = channel->generation();
  const uint64_t id = channel->nextTapId();
  std::unique_ptr<LiveTap> tap(new LiveTap(channel, generation, id));
  tap->caps_ = gst_caps_ref(caps);
  const std::string name = "live-" + channel->camera().str() + "-" +
                           std::string(toString(channel->stream())) + "-" + std::to_string(id);
  tap->pipeline_ = gst_pipeline_new(name.c_str());
  GstElement* src = gst_element_factory_make("appsrc", "src");
  // A parser of its own: the session's parser may output byte-stream (no recorder downstream),
  // which mp4mux does not take.
  GstElement* parse = gst_element_factory_make(parserName, "parse");
  GstElement* mux = gst_element_factory_make("mp4mux", "mux");
  GstElement* sink = gst_element_factory_make("appsink", "sink");
  if (!tap->pipeline_ || !src || !parse || !mux || !sink) {
    for (GstElement* e : {src, parse, mux, sink})
      if (e) gst_object_unref(e);
    return nullptr;
  }
  // Not live: mp4mux (an aggregator) then outputs as soon as its one input has data, instead of
  // waiting out a latency deadline.
  g_object_set(src, "is-live", FALSE, "format", GST_FORMAT_TIME, "caps", caps, "block", FALSE,
               "max-bytes", static_cast<guint64>(kMaxQueuedBytes * 2), "emit-signals", FALSE,
               nullptr);
  g_object_set(mux, "fragment-duration", kFragmentDurationMs, "streamable", TRUE, nullptr);
  g_object_set(sink, "sync", FALSE, "async", FALSE, "enable-last-sample", FALSE, "emit-signals",
               FALSE, nullptr);
  GstAppSinkCallbacks callbacks{};
  callbacks.new_sample = &newSample;
  gst_app_sink_set_callbacks(GST_APP_SINK(sink), &callbacks, tap.get(), nullptr);
  gst_bin_add_many(GST_BIN(tap->pipeline_), src, parse, mux, sink, nullptr);
  if (!gst_element_link_many(src, parse, mux, sink, nullptr) ||
      gst_element_set_state(tap->pipeline_, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    return nullptr;  // the destructor releases the pipeline
  }
  tap->appsrc_ = src;
  return tap;
}

LiveTap::~LiveTap() {
  if (pipeline_) {
    gst_element_set_state(pipeline_, GST_STATE_NULL);
    gst_object_unref(pipeline_);
  }
  if (caps_) gst_caps_unref(caps_);
}

void LiveTap::disposeAsync(std::unique_ptr<LiveTap> tap) {
  if (!tap) return;
  if (!tap->pipeline_) return;  // nothing that could wait
  LiveTap* raw = tap.release();
  gst_element_call_async(raw->pipeline_, &disposeOnPool, raw, nullptr);
}

std::optional<std::string> LiveTap::error() {
  if (!pipeline_) return "no pipeline";
  GstBus* bus = gst_element_get_bus(pipeline_);
  GstMessage* msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
  gst_object_unref(bus);
  if (!msg) return std::nullopt;
  GError* err = nullptr;
  gst_message_parse_error(msg, &err, nullptr);
  std::string text = err && err->message ? err->message : "muxer error";
  if (err) g_error_free(err);
  gst_message_unref(msg);
  return text;
}

void LiveTap::push(GstBuffer* buffer) {
  if (!appsrc_) return;
  const bool keyframe = !GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT);
  if (waitKeyframe_ && !keyframe) return;
  GstAppSrc* src = GST_APP_SRC(appsrc_);
  const GstClockTime queuedTime = gst_app_src_get_current_level_time(src);
  if (gst_app_src_get_current_level_bytes(src) > kMaxQueuedBytes ||
      (GST_CLOCK_TIME_IS_VALID(queuedTime) && queuedTime > kMaxQueuedTime)) {
    // The consumer is behind: drop rather than wait; a delta frame dropped spoils the rest of its
    // GOP, so resume at the next keyframe.
    if (dropped_++ == 0) {
      spdlog::info(
          "ingest: camera {} live {}: viewer side is behind; dropping to the next keyframe",
          channel_->camera().str(), toString(channel_->stream()));
    }
    waitKeyframe_ = true;
    return;
  }
  GstClockTime pts = GST_BUFFER_PTS(buffer);
  GstClockTime dts = GST_BUFFER_DTS(buffer);
  if (!GST_CLOCK_TIME_IS_VALID(base_)) {
    base_ = GST_CLOCK_TIME_IS_VALID(dts) ? std::min(dts, pts) : pts;
    if (!GST_CLOCK_TIME_IS_VALID(base_)) return;
  }
  // Leading pictures of an open GOP (before the first keyframe in time) cannot be shown.
  if (GST_CLOCK_TIME_IS_VALID(pts) && pts < base_) return;
  if (GST_CLOCK_TIME_IS_VALID(dts) && dts < base_) dts = base_;
  waitKeyframe_ = false;
  GstBuffer* out = gst_buffer_copy(buffer);  // shares the memory; only the metadata is new
  GST_BUFFER_PTS(out) = GST_CLOCK_TIME_IS_VALID(pts) ? pts - base_ : GST_CLOCK_TIME_NONE;
  GST_BUFFER_DTS(out) = GST_CLOCK_TIME_IS_VALID(dts) ? dts - base_ : GST_CLOCK_TIME_NONE;
  gst_app_src_push_buffer(src, out);
}

GstFlowReturn LiveTap::onSample(GstElement* appsink) {
  GstSample* sample = gst_app_sink_pull_sample(GST_APP_SINK(appsink));
  if (!sample) return GST_FLOW_EOS;
  GstBuffer* buf = gst_sample_get_buffer(sample);
  GstMapInfo map;
  if (buf && gst_buffer_map(buf, &map, GST_MAP_READ)) {
    partial_.append(reinterpret_cast<const char*>(map.data), map.size);
    gst_buffer_unmap(buf, &map);
  }
  gst_sample_unref(sample);
  // Whole top-level boxes, grouped into pieces: ftyp..moov (init), [styp] moof mdat (fragment).
  size_t off = 0;
  while (partial_.size() - off >= 8) {
    uint64_t size = be32(partial_.data() + off);
    size_t header = 8;
    if (size == 1) {
      if (partial_.size() - off < 16) break;
      size = (be32(partial_.data() + off + 8) << 32) | be32(partial_.data() + off + 12);
      header = 16;
    }
    if (size < header || size > kMaxBoxBytes) {
      spdlog::warn("ingest: camera {} live {}: muxer produced a malformed box; resetting",
                   channel_->camera().str(), toString(channel_->stream()));
      partial_.clear();
      pending_.clear();
      return GST_FLOW_OK;
    }
    if (partial_.size() - off < size) break;
    const std::string_view box(partial_.data() + off, size);
    const std::string_view type = box.substr(4, 4);
    const bool inInit = pending_.size() >= 8 && pending_.compare(4, 4, "ftyp") == 0;
    if (type == "ftyp" || type == "styp" || type == "moof") {
      if (type == "moof" && pending_.size() >= 8 && pending_.compare(4, 4, "styp") == 0) {
        pending_.append(box);
      } else {
        pending_.assign(box);
      }
    } else if (type == "moov" || type == "mdat") {
      if (!pending_.empty()) {
        pending_.append(box);
        channel_->deliver(generation_, id_, pending_);
      }
      pending_.clear();
    } else if (inInit) {
      pending_.append(box);  // e.g. "free" inside the init segment
    }
    // sidx, mfra and stray boxes outside a piece are of no use to a live viewer.
    off += size;
  }
  partial_.erase(0, off);
  return GST_FLOW_OK;
}

}  // namespace sharpeyes::ingest
