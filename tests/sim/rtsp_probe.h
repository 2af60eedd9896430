#pragma once
// A real RTSP client for the simulator's tests: rtspsrc ! rtph264depay ! h264parse ! appsink
// (optionally decoding to BGR). Records every access unit's timestamp and keyframe flag, the
// negotiated caps, and whether the session ended (EOS or error).

#include <gst/app/gstappsink.h>
#include <gst/gst.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sharpeyes::sim::testing {

class RtspProbe {
 public:
  struct Options {
    std::string url;
    bool udp = false;
    std::string user, password;
    bool decode = false;  // hand out decoded BGR frames instead of access units
  };

  explicit RtspProbe(Options o) : opt_(std::move(o)) {
    static std::once_flag once;
    std::call_once(once, [] { gst_init(nullptr, nullptr); });
    std::string tail = opt_.decode ? " ! avdec_h264 ! videoconvert ! video/x-raw,format=BGR"
                                   : " ! video/x-h264,stream-format=byte-stream,alignment=au";
    const std::string launch =
        "rtspsrc name=src latency=0 buffer-mode=none tcp-timeout=5000000 timeout=5000000"
        " ! rtph264depay ! "
        "h264parse" +
        tail + " ! appsink name=sink sync=false max-buffers=50 drop=false";
    pipeline_ = gst_parse_launch(launch.c_str(), nullptr);
    GstElement* src = gst_bin_get_by_name(GST_BIN(pipeline_), "src");
    g_object_set(src, "location", opt_.url.c_str(), "protocols", opt_.udp ? 1 /*udp*/ : 4 /*tcp*/,
                 nullptr);
    if (!opt_.user.empty()) {
      g_object_set(src, "user-id", opt_.user.c_str(), "user-pw", opt_.password.c_str(), nullptr);
    }
    gst_object_unref(src);
    GstElement* sink = gst_bin_get_by_name(GST_BIN(pipeline_), "sink");
    GstAppSinkCallbacks cb{};
    cb.new_sample = &RtspProbe::onSample;
    cb.eos = [](GstAppSink*, gpointer self) { static_cast<RtspProbe*>(self)->markEnded("eos"); };
    gst_app_sink_set_callbacks(GST_APP_SINK(sink), &cb, this, nullptr);
    gst_object_unref(sink);
    GstBus* bus = gst_element_get_bus(pipeline_);
    gst_bus_set_sync_handler(
        bus,
        [](GstBus*, GstMessage* msg, gpointer self) -> GstBusSyncReply {
          if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
            GError* err = nullptr;
            gst_message_parse_error(msg, &err, nullptr);
            static_cast<RtspProbe*>(self)->markEnded(err ? err->message : "error");
            if (err) g_error_free(err);
          }
          return GST_BUS_DROP;
        },
        this, nullptr);
    gst_object_unref(bus);
    gst_element_set_state(pipeline_, GST_STATE_PLAYING);
  }

  ~RtspProbe() {
    gst_element_set_state(pipeline_, GST_STATE_NULL);
    gst_object_unref(pipeline_);
  }

  struct Unit {
    uint64_t pts = 0;
    bool keyframe = false;
  };

  // Waits until `pred` holds (checked on every new frame or end), or the deadline passes.
  bool waitFor(const std::function<bool()>& pred,
               std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return pred(); });
  }
  bool waitFrames(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    return waitFor([&] { return units_.size() >= n; }, timeout);
  }
  bool waitEnded(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    return waitFor([&] { return ended_; }, timeout);
  }

  // Accessors take the lock themselves; do not call them from inside a waitFor predicate.
  size_t frames() const {
    std::lock_guard lock(mu_);
    return units_.size();
  }
  // Predicate helpers (called with the lock held, inside waitFor).
  size_t framesLocked() const { return units_.size(); }
  bool endedLocked() const { return ended_; }

  std::vector<Unit> units() const {
    std::lock_guard lock(mu_);
    return units_;
  }
  bool ended() const {
    std::lock_guard lock(mu_);
    return ended_;
  }
  std::string endReason() const {
    std::lock_guard lock(mu_);
    return endReason_;
  }
  int width() const {
    std::lock_guard lock(mu_);
    return width_;
  }
  int height() const {
    std::lock_guard lock(mu_);
    return height_;
  }
  std::string capsName() const {
    std::lock_guard lock(mu_);
    return capsName_;
  }
  // Decoded mode: the most recent frame (BGR, width*height*3).
  std::vector<uint8_t> lastFrame() const {
    std::lock_guard lock(mu_);
    return last_;
  }

 private:
  static GstFlowReturn onSample(GstAppSink* sink, gpointer data) {
    auto* self = static_cast<RtspProbe*>(data);
    GstSample* sample = gst_app_sink_pull_sample(sink);
    if (!sample) return GST_FLOW_EOS;
    GstBuffer* buf = gst_sample_get_buffer(sample);
    GstCaps* caps = gst_sample_get_caps(sample);
    {
      std::lock_guard lock(self->mu_);
      if (caps && gst_caps_get_size(caps) > 0) {
        const GstStructure* s = gst_caps_get_structure(caps, 0);
        gst_structure_get_int(s, "width", &self->width_);
        gst_structure_get_int(s, "height", &self->height_);
        self->capsName_ = gst_structure_get_name(s);
      }
      Unit u;
      u.pts = GST_BUFFER_PTS(buf);
      u.keyframe = !GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT);
      self->units_.push_back(u);
      if (self->opt_.decode) {
        GstMapInfo map;
        if (gst_buffer_map(buf, &map, GST_MAP_READ)) {
          self->last_.assign(map.data, map.data + map.size);
          gst_buffer_unmap(buf, &map);
        }
      }
    }
    gst_sample_unref(sample);
    self->cv_.notify_all();
    return GST_FLOW_OK;
  }

  void markEnded(const std::string& why) {
    {
      std::lock_guard lock(mu_);
      if (!ended_) endReason_ = why;
      ended_ = true;
    }
    cv_.notify_all();
  }

  Options opt_;
  GstElement* pipeline_ = nullptr;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Unit> units_;
  std::vector<uint8_t> last_;
  bool ended_ = false;
  std::string endReason_;
  int width_ = 0, height_ = 0;
  std::string capsName_;
};

}  // namespace sharpeyes::sim::testing
