// SimServer: gst-rtsp-server in front of the encode-once cache.
//
// Threads (all owned here):
//  - "sim-rtsp": the GMainLoop of the RTSP server (RTSP requests, media preparation, faults).
//  - "sim-feeder": one timer thread for every cached stream. Each served mount has one shared
//    media whose pipeline is `appsrc ! rtph264pay` (the cache converted to AVC once, so no parser
//    runs per frame; see toAvc); the feeder pushes the cached access units into every active
//    appsrc at the frame rate. No encoding, no thread per camera.
//  - "sim-live": only when PTZ cameras exist; renders their frames at the current view and feeds
//    `appsrc ! x264enc ! ...` pipelines.
//  - the control thread (control_server.h).
// Timestamps: a feed's first buffer is stamped with the pipeline's running time, every later one
// exactly one frame later (across loops too), so the stream looks like a real camera's.

#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <thread>
#include <utility>

#include "clock_stamp.h"
#include "control_server.h"
#include "encoded_stream.h"
#include "sharpeyes/sim/sim.h"

namespace sharpeyes::sim {

std::string_view toString(Fault fault) {
  switch (fault) {
    case Fault::kClear: return "clear";
    case Fault::kStopSending: return "stop-sending";
    case Fault::kDropConnections: return "drop-connections";
    case Fault::kRefuse: return "refuse";
    case Fault::kRestart: return "restart";
  }
  return "unknown";
}

std::string simCameraName(int index, int cameras) {
  const std::string num = std::to_string(index + 1);
  const size_t digits = std::max<size_t>(2, std::to_string(cameras).size());
  return "cam" + std::string(digits - std::min(digits, num.size()), '0') + num;
}

core::Result<Fault> parseFault(std::string_view text) {
  for (Fault f : {Fault::kClear, Fault::kStopSending, Fault::kDropConnections, Fault::kRefuse,
                  Fault::kRestart}) {
    if (text == toString(f)) return f;
  }
  if (text == "none") return Fault::kClear;
  if (text == "stop" || text == "stall") return Fault::kStopSending;
  if (text == "drop") return Fault::kDropConnections;
  return core::makeError(core::ErrorCode::kInvalidArgument,
                         "unknown fault '" + std::string(text) +
                             "' (clear, stop-sending, drop-connections, refuse, restart)");
}

namespace {

using detail::EncodedStream;
using Clock = std::chrono::steady_clock;

constexpr int kMain = 0, kSub = 1;
const char* const kStreamNames[] = {"main", "sub"};

void initGstreamerOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    gst_init(nullptr, nullptr);
    // gst-rtsp-server hands each stream's outgoing data to a one-thread GThreadPool. GLib keeps
    // only two idle pool threads process-wide by default, so with many cameras nearly every
    // frame's send started a new thread and ended it after (thread churn was most of the
    // simulator's CPU at 200 cameras). Idle threads cost no CPU: keep them.
    g_thread_pool_set_max_unused_threads(-1);
  });
}

std::string defaultCacheDir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    return std::string(xdg) + "/sharpeyes/sim";
  }
  return "var/sim-cache";
}

class SimServerImpl;

// The cached loop in AVC form (4-byte lengths instead of start codes) with its codec_data (an
// AVCDecoderConfigurationRecord from the first SPS and PPS), built once per cached stream. Given
// this, rtph264pay needs no parser in front of it and negotiates exactly what it negotiated with
// h264parse (which converted to AVC, the payloader's preferred input): the same packets and the
// same SDP, profile-level-id included. Empty codec_data: no SPS/PPS found, serve byte-stream.
struct AvcStream {
  std::shared_ptr<const EncodedStream> stream;
  std::string codecDataHex;
};

AvcStream toAvc(const std::shared_ptr<const EncodedStream>& annexB) {
  auto out = std::make_shared<EncodedStream>();
  out->width = annexB->width;
  out->height = annexB->height;
  out->fps = annexB->fps;
  out->gop = annexB->gop;
  out->data.reserve(annexB->data.size() + annexB->units.size() * 8);
  std::vector<uint8_t> sps, pps;
  for (const auto& au : annexB->units) {
    const uint8_t* d = annexB->data.data() + au.offset;
    const size_t n = au.size;
    detail::AccessUnit unit;
    unit.offset = out->data.size();
    unit.keyframe = au.keyframe;
    // NAL units start after each 00 00 01 (a 4-byte start code's leading zero is trailing_zero).
    size_t start = std::string::npos;
    auto emit = [&](size_t begin, size_t end) {
      while (end > begin && d[end - 1] == 0) --end;  // trailing zero bytes belong to no NAL unit
      if (end <= begin) return;
      const auto len = static_cast<uint32_t>(end - begin);
      const uint8_t type = d[begin] & 0x1f;
      if (type == 7 && sps.empty()) sps.assign(d + begin, d + end);
      if (type == 8 && pps.empty()) pps.assign(d + begin, d + end);
      for (int shift = 24; shift >= 0; shift -= 8) out->data.push_back((len >> shift) & 0xff);
      out->data.insert(out->data.end(), d + begin, d + end);
    };
    for (size_t i = 0; i + 2 < n; ++i) {
      if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1) {
        if (start != std::string::npos) emit(start, i);
        start = i + 3;
        i += 2;
      }
    }
    if (start == std::string::npos) return {annexB, {}};  // not Annex B after all
    emit(start, n);
    unit.size = static_cast<uint32_t>(out->data.size() - unit.offset);
    out->units.push_back(unit);
  }
  if (sps.size() < 4 || pps.empty() || sps.size() > 0xffff || pps.size() > 0xffff) {
    return {annexB, {}};
  }
  std::vector<uint8_t> record = {1, sps[1], sps[2], sps[3], 0xff, 0xe1};
  record.push_back(static_cast<uint8_t>(sps.size() >> 8));
  record.push_back(static_cast<uint8_t>(sps.size() & 0xff));
  record.insert(record.end(), sps.begin(), sps.end());
  record.push_back(1);
  record.push_back(static_cast<uint8_t>(pps.size() >> 8));
  record.push_back(static_cast<uint8_t>(pps.size() & 0xff));
  record.insert(record.end(), pps.begin(), pps.end());
  std::string hex;
  for (uint8_t b : record) {
    static constexpr char kDigits[] = "0123456789abcdef";
    hex += kDigits[b >> 4];
    hex += kDigits[b & 15];
  }
  return {std::move(out), std::move(hex)};
}

// The payloader pushes an access unit as several RTP packets: one buffer per small NAL unit
// (AUD, SPS, PPS, SEI) and a buffer list for a fragmented slice. gst-rtsp-server hands every
// buffer or list it receives to its send thread and writes it with one sendmsg, so each push
// costs two context switches. Holding the packets of an access unit until its last one (the RTP
// marker bit) and pushing them as one list sends the same packets, in the same order, with one
// hand-off and one write per frame.
struct AccessUnitGrouper {
  GstBufferList* held = nullptr;

  ~AccessUnitGrouper() {
    if (held) gst_buffer_list_unref(held);
  }
  static bool marker(GstBuffer* packet) {
    guint8 header[2];
    return gst_buffer_extract(packet, 0, header, 2) == 2 && (header[1] & 0x80) != 0;
  }
  GstBufferList* take() { return std::exchange(held, nullptr); }

  static GstPadProbeReturn probe(GstPad* pad, GstPadProbeInfo* info, gpointer data) {
    auto* self = static_cast<AccessUnitGrouper*>(data);
    if (info->type & GST_PAD_PROBE_TYPE_EVENT_FLUSH) {
      if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) == GST_EVENT_FLUSH_STOP) {
        if (GstBufferList* stale = self->take()) gst_buffer_list_unref(stale);
      }
      return GST_PAD_PROBE_OK;
    }
    if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
      GstBuffer* packet = GST_PAD_PROBE_INFO_BUFFER(info);
      if (!self->held) self->held = gst_buffer_list_new();
      gst_buffer_list_add(self->held, gst_buffer_ref(packet));
      if (!marker(packet)) return GST_PAD_PROBE_DROP;
      // Re-enters this probe with a list while nothing is held: that passes straight through.
      GST_PAD_PROBE_INFO_FLOW_RETURN(info) = gst_pad_push_list(pad, self->take());
      gst_buffer_unref(packet);
      return GST_PAD_PROBE_HANDLED;
    }
    if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
      GstBufferList* list = GST_PAD_PROBE_INFO_BUFFER_LIST(info);
      const guint n = gst_buffer_list_length(list);
      const bool last = n > 0 && marker(gst_buffer_list_get(list, n - 1));
      if (!self->held && last) return GST_PAD_PROBE_OK;
      // The fragments of a slice after the small NAL units of the same access unit (or a slice
      // that does not end it): one list.
      if (!self->held) self->held = gst_buffer_list_new();
      for (guint i = 0; i < n; ++i) {
        gst_buffer_list_add(self->held, gst_buffer_ref(gst_buffer_list_get(list, i)));
      }
      if (!last) return GST_PAD_PROBE_DROP;
      gst_buffer_list_unref(list);
      GST_PAD_PROBE_INFO_DATA(info) = self->take();
    }
    return GST_PAD_PROBE_OK;
  }
};

void groupAccessUnits(GstElement* pay) {
  GstPad* pad = gst_element_get_static_pad(pay, "src");
  if (!pad) return;
  gst_pad_add_probe(
      pad,
      static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST |
                                   GST_PAD_PROBE_TYPE_EVENT_FLUSH),
      &AccessUnitGrouper::probe, new AccessUnitGrouper,
      [](gpointer d) { delete static_cast<AccessUnitGrouper*>(d); });
  gst_object_unref(pad);
}

// One mount (camNN/main or camNN/sub).
struct Mount {
  SimServerImpl* server = nullptr;
  int camera = 0;
  int stream = kMain;
  std::string path;
  GstRTSPMediaFactory* factory = nullptr;        // our own ref, so a refused mount can come back
  std::shared_ptr<const EncodedStream> encoded;  // null: live (PTZ); AVC unless codecData empty
  std::string codecData;                         // hex AVCDecoderConfigurationRecord
  StreamProfile profile;
};

// One prepared media being fed. Fields other than `gone` belong to the feeding thread.
struct Feed {
  uint64_t id = 0;
  Mount* mount = nullptr;
  GstElement* appsrc = nullptr;  // ref held
  std::atomic<bool> gone{false};
  bool started = false;
  GstClockTime ptsBase = 0;
  Clock::time_point t0;
  int64_t next = 0;  // frames scheduled so far (pushed or skipped)
  bool waitKey = false;
  ~Feed() {
    if (appsrc) gst_object_unref(appsrc);
  }
};

struct CameraState {
  std::string name;
  int scene = 0;
  bool ptz = false;
  std::atomic<bool> stopSending{false};
  bool refusing = false;         // guarded by SimServerImpl::mu_
  uint64_t faultGeneration = 0;  // guarded by mu_; auto-clear only clears its own fault
  Fault lastFault = Fault::kClear;
  ViewWindow view;  // guarded by mu_
};

// Outlives the server: a media finalised late (on a GStreamer thread) still finds it.
struct FeedRegistry {
  std::mutex mu;
  std::map<uint64_t, std::shared_ptr<Feed>> feeds;
  uint64_t nextId = 1;

  void remove(uint64_t id) {
    std::lock_guard lock(mu);
    auto it = feeds.find(id);
    if (it == feeds.end()) return;
    it->second->gone = true;
    feeds.erase(it);
  }
};

struct FeedRef {
  std::shared_ptr<FeedRegistry> registry;
  uint64_t id;
};

class SimServerImpl final : public SimServer {
 public:
  explicit SimServerImpl(SimOptions options) : opt_(std::move(options)) {}
  ~SimServerImpl() override { stop(); }

  core::Result<void> init();

  uint16_t rtspPort() const override { return rtspPort_; }
  uint16_t controlPort() const override { return control_.port(); }
  int cameraCount() const override { return static_cast<int>(cameras_.size()); }
  std::string cameraName(int index) const override {
    return valid(index) ? cameras_[index]->name : std::string();
  }
  std::string mainUrl(int index) const override { return url(index, kMain); }
  std::string subUrl(int index) const override { return url(index, kSub); }
  core::Result<void> injectFault(int index, Fault fault, core::Duration duration) override;
  const SceneSpec& scene(int index) const override {
    return scenes_[valid(index) ? cameras_[index]->scene : 0];
  }
  core::Result<void> setView(int index, const ViewWindow& view) override;
  ViewWindow view(int index) const override {
    std::lock_guard lock(mu_);
    return valid(index) ? cameras_[index]->view : ViewWindow{};
  }
  int sessionCount(int index) const override;
  SimStats stats() const override {
    SimStats s = stats_;
    std::lock_guard lock(registry_->mu);
    s.activeFeeds = static_cast<int>(registry_->feeds.size());
    s.framesPushed = framesPushed_.load();
    return s;
  }
  void stop() override;

  // Control protocol (see docs/sim.md).
  std::string handleControl(std::string_view line);

 private:
  bool valid(int index) const { return index >= 0 && index < static_cast<int>(cameras_.size()); }
  std::string url(int index, int stream) const {
    if (!valid(index)) return {};
    return "rtsp://" + opt_.address + ":" + std::to_string(rtspPort_) + "/" +
           cameras_[index]->name + "/" + kStreamNames[stream];
  }
  int cameraByName(std::string_view name) const {
    for (size_t i = 0; i < cameras_.size(); ++i) {
      if (cameras_[i]->name == name) return static_cast<int>(i);
    }
    return -1;
  }

  core::Result<void> prepareStreams();
  core::Result<void> startRtsp();
  std::string launchFor(const Mount& m) const;

  static void onMediaConfigure(GstRTSPMediaFactory*, GstRTSPMedia* media, gpointer data);
  static void onMediaUnprepared(GstRTSPMedia*, gpointer data);
  static void onMediaGone(gpointer data, GObject*);

  // Runs `fn` on the RTSP thread and waits for it.
  void onRtspThread(std::function<void()> fn);
  void dropSessions(int camera);              // RTSP thread
  void setRefusing(int camera, bool refuse);  // RTSP thread
  void clearFault(int camera);                // RTSP thread
  void scheduleAutoClear(int camera, uint64_t generation, core::Duration duration);

  void feederLoop(bool live);
  void feedCached(Feed& f, Clock::time_point now);
  void feedLive(Feed& f, Clock::time_point now);
  bool startFeed(Feed& f, Clock::time_point now);

  SimOptions opt_;
  std::vector<SceneSpec> scenes_;
  std::vector<std::unique_ptr<CameraState>> cameras_;
  std::vector<std::unique_ptr<Mount>> mounts_;                   // camera*2 + stream
  std::map<int, std::unique_ptr<SceneRenderer>> liveRenderers_;  // by scene index
  SimStats stats_;
  std::atomic<uint64_t> framesPushed_{0};

  mutable std::mutex mu_;  // camera fault state and views
  std::shared_ptr<FeedRegistry> registry_ = std::make_shared<FeedRegistry>();

  GMainContext* context_ = nullptr;
  GMainLoop* loop_ = nullptr;
  GstRTSPServer* server_ = nullptr;
  GstRTSPMountPoints* mountPoints_ = nullptr;
  guint serverSource_ = 0;
  uint16_t rtspPort_ = 0;
  std::thread rtspThread_;
  std::thread feeder_, live_;
  std::atomic<bool> stopping_{false};
  bool stopped_ = false;
  std::mutex stopMu_;
  detail::ControlServer control_;
};

core::Result<void> SimServerImpl::init() {
  if (opt_.cameras <= 0 || opt_.cameras > 9999) {
    return core::makeError(core::ErrorCode::kInvalidArgument, "cameras must be 1..9999");
  }
  if (opt_.loopSeconds <= 0) {
    return core::makeError(core::ErrorCode::kInvalidArgument, "loopSeconds must be positive");
  }
  // Scenes: explicit, or K seeded defaults shared round-robin.
  if (!opt_.scenes.empty()) {
    scenes_ = opt_.scenes;
  } else {
    const int k =
        opt_.distinctScenes > 0 ? std::min(opt_.distinctScenes, opt_.cameras) : opt_.cameras;
    for (int i = 0; i < k; ++i) scenes_.push_back(defaultScene(opt_.seed + i, opt_.loopSeconds));
  }
  for (int i = 0; i < opt_.cameras; ++i) {
    auto cam = std::make_unique<CameraState>();
    cam->name = simCameraName(i, opt_.cameras);
    cam->scene = i % static_cast<int>(scenes_.size());
    cam->ptz =
        std::find(opt_.ptzCameras.begin(), opt_.ptzCameras.end(), i) != opt_.ptzCameras.end();
    cameras_.push_back(std::move(cam));
  }
  for (int idx : opt_.ptzCameras) {
    if (!valid(idx)) {
      return core::makeError(core::ErrorCode::kInvalidArgument,
                             "PTZ camera index " + std::to_string(idx) + " out of range");
    }
  }
  if (opt_.mediaFile && !opt_.ptzCameras.empty()) {
    return core::makeError(core::ErrorCode::kInvalidArgument,
                           "PTZ cameras need synthetic scenes, not a media file");
  }
  initGstreamerOnce();
  if (auto r = prepareStreams(); !r) return r;
  if (auto r = startRtsp(); !r) return r;
  auto r = control_.start("127.0.0.1", opt_.controlPort,
                          [this](std::string_view line) { return handleControl(line); });
  if (!r) {
    stop();
    return r;
  }
  feeder_ = std::thread([this] { feederLoop(false); });
  if (!opt_.ptzCameras.empty()) live_ = std::thread([this] { feederLoop(true); });
  spdlog::info("sim: serving {} cameras on rtsp://{}:{}/ (control port {})", cameras_.size(),
               opt_.address, rtspPort_, control_.port());
  return {};
}

core::Result<void> SimServerImpl::prepareStreams() {
  namespace fs = std::filesystem;
  const std::string dir = opt_.cacheDir.empty() ? defaultCacheDir() : opt_.cacheDir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return core::makeError(core::ErrorCode::kIo, "cannot create cache dir " + dir);
  const StreamProfile profiles[2] = {opt_.main, opt_.sub};

  // Which sources need a cached loop: every scene shown by a non-PTZ camera (or the file).
  std::vector<int> sceneNeeded(scenes_.size(), 0);
  for (const auto& cam : cameras_) {
    if (!cam->ptz) sceneNeeded[cam->scene] = 1;
  }
  std::vector<std::array<std::shared_ptr<const EncodedStream>, 2>> encoded(scenes_.size());
  const auto t0 = Clock::now();
  const int sources = opt_.mediaFile ? 1 : static_cast<int>(scenes_.size());
  for (int s = 0; s < sources; ++s) {
    if (!opt_.mediaFile && !sceneNeeded[s]) continue;
    std::vector<StreamProfile> missing;
    std::vector<int> missingIdx;
    std::string paths[2];
    for (int p = 0; p < 2; ++p) {
      const std::string key = opt_.mediaFile ? detail::fileCacheKey(*opt_.mediaFile, profiles[p])
                                             : detail::sceneCacheKey(scenes_[s], profiles[p]);
      paths[p] = dir;
      paths[p] += '/';
      paths[p] += key;
      paths[p] += ".seau";
      auto loaded = detail::loadStream(paths[p]);
      if (loaded) {
        encoded[s][p] = *loaded;
        ++stats_.streamsFromCache;
        continue;
      }
      if (loaded.error().code != core::ErrorCode::kNotFound) {
        spdlog::warn("sim: re-encoding {}: {}", paths[p], loaded.error().describe());
      }
      missing.push_back(profiles[p]);
      missingIdx.push_back(p);
    }
    if (missing.empty()) continue;
    const auto e0 = Clock::now();
    std::vector<std::shared_ptr<const EncodedStream>> made;
    if (opt_.mediaFile) {
      for (const auto& prof : missing) {
        auto r = detail::transcodeFile(*opt_.mediaFile, prof);
        if (!r) return r.error();
        made.push_back(*r);
      }
    } else {
      auto r = detail::encodeScene(scenes_[s], missing);
      if (!r) return r.error();
      made = std::move(*r);
    }
    stats_.encodeSeconds += std::chrono::duration<double>(Clock::now() - e0).count();
    for (size_t k = 0; k < made.size(); ++k) {
      const int p = missingIdx[k];
      encoded[s][p] = made[k];
      ++stats_.streamsEncoded;
      if (auto saved = detail::saveStream(*made[k], paths[p]); !saved) {
        spdlog::warn("sim: cannot cache a stream: {}", saved.error().describe());
      }
    }
    spdlog::info("sim: encoded {} stream(s) of source {} in {:.1f} s", made.size(), s,
                 std::chrono::duration<double>(Clock::now() - e0).count());
  }
  spdlog::info("sim: streams ready ({} encoded, {} from cache {}) in {:.1f} s",
               stats_.streamsEncoded, stats_.streamsFromCache, dir,
               std::chrono::duration<double>(Clock::now() - t0).count());

  std::vector<std::array<AvcStream, 2>> avc(encoded.size());
  for (size_t s = 0; s < encoded.size(); ++s) {
    for (int p = 0; p < 2; ++p) {
      if (encoded[s][p]) avc[s][p] = toAvc(encoded[s][p]);
    }
  }
  for (int c = 0; c < cameraCount(); ++c) {
    for (int p = 0; p < 2; ++p) {
      auto m = std::make_unique<Mount>();
      m->server = this;
      m->camera = c;
      m->stream = p;
      m->path = "/" + cameras_[c]->name + "/" + kStreamNames[p];
      m->profile = profiles[p];
      if (!cameras_[c]->ptz) {
        const auto& served = avc[opt_.mediaFile ? 0 : cameras_[c]->scene][p];
        m->encoded = served.stream;
        m->codecData = served.codecDataHex;
      }
      mounts_.push_back(std::move(m));
    }
    if (cameras_[c]->ptz && !liveRenderers_.count(cameras_[c]->scene)) {
      liveRenderers_[cameras_[c]->scene] =
          std::make_unique<SceneRenderer>(scenes_[cameras_[c]->scene]);
    }
  }
  return {};
}

std::string SimServerImpl::launchFor(const Mount& m) const {
  const auto& p = m.profile;
  const std::string common =
      "appsrc name=src is-live=true format=time do-timestamp=false"
      " leaky-type=upstream max-bytes=" +
      std::to_string(std::max(4 << 20, p.bitrateKbps * 1000));
  if (m.encoded) {
    const std::string format =
        m.codecData.empty() ? "byte-stream" : "avc,codec_data=(buffer)" + m.codecData;
    return "( " + common + " caps=video/x-h264,stream-format=" + format +
           ",alignment=au,width=" + std::to_string(m.encoded->width) +
           ",height=" + std::to_string(m.encoded->height) +
           ",framerate=" + std::to_string(m.encoded->fps) + "/1" +
           " ! rtph264pay name=pay0 pt=96 config-interval=-1 )";
  }
  return "( " + common + " caps=video/x-raw,format=I420,width=" + std::to_string(p.width) +
         ",height=" + std::to_string(p.height) + ",framerate=" + std::to_string(p.fps) +
         "/1 ! x264enc " + detail::x264Settings(p, true) +
         " ! video/x-h264,stream-format=byte-stream,alignment=au ! h264parse"
         " ! rtph264pay name=pay0 pt=96 config-interval=-1 )";
}

core::Result<void> SimServerImpl::startRtsp() {
  context_ = g_main_context_new();
  loop_ = g_main_loop_new(context_, FALSE);
  server_ = gst_rtsp_server_new();
  gst_rtsp_server_set_address(server_, opt_.address.c_str());
  gst_rtsp_server_set_service(server_, std::to_string(opt_.rtspPort).c_str());
  // Many simultaneous clients (benchmarks connect hundreds at once).
  gst_rtsp_server_set_backlog(server_, 1024);
  mountPoints_ = gst_rtsp_server_get_mount_points(server_);
  const bool auth = !opt_.username.empty();
  if (auth) {
    GstRTSPAuth* a = gst_rtsp_auth_new();
    gst_rtsp_auth_set_supported_methods(a, GST_RTSP_AUTH_DIGEST);
    GstRTSPToken* token =
        gst_rtsp_token_new(GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE, G_TYPE_STRING, "viewer", nullptr);
    gst_rtsp_auth_add_digest(a, opt_.username.c_str(), opt_.password.c_str(), token);
    gst_rtsp_token_unref(token);
    gst_rtsp_server_set_auth(server_, a);
    g_object_unref(a);
  }
  for (auto& m : mounts_) {
    m->factory = gst_rtsp_media_factory_new();
    gst_rtsp_media_factory_set_launch(m->factory, launchFor(*m).c_str());
    gst_rtsp_media_factory_set_shared(m->factory, TRUE);
    if (auth) {
      gst_rtsp_media_factory_add_role(m->factory, "viewer", GST_RTSP_PERM_MEDIA_FACTORY_ACCESS,
                                      G_TYPE_BOOLEAN, TRUE, GST_RTSP_PERM_MEDIA_FACTORY_CONSTRUCT,
                                      G_TYPE_BOOLEAN, TRUE, nullptr);
    }
    g_signal_connect(m->factory, "media-configure", G_CALLBACK(&SimServerImpl::onMediaConfigure),
                     m.get());
    gst_rtsp_mount_points_add_factory(mountPoints_, m->path.c_str(),
                                      GST_RTSP_MEDIA_FACTORY(g_object_ref(m->factory)));
  }
  serverSource_ = gst_rtsp_server_attach(server_, context_);
  if (serverSource_ == 0) {
    return core::makeError(core::ErrorCode::kUnavailable, "cannot listen on " + opt_.address + ":" +
                                                              std::to_string(opt_.rtspPort));
  }
  rtspPort_ = static_cast<uint16_t>(gst_rtsp_server_get_bound_port(server_));
  rtspThread_ = std::thread([this] {
    g_main_context_push_thread_default(context_);
    g_main_loop_run(loop_);
    g_main_context_pop_thread_default(context_);
  });
  return {};
}

void SimServerImpl::onMediaConfigure(GstRTSPMediaFactory*, GstRTSPMedia* media, gpointer data) {
  auto* m = static_cast<Mount*>(data);
  auto* self = m->server;
  GstElement* bin = gst_rtsp_media_get_element(media);
  GstElement* src = gst_bin_get_by_name(GST_BIN(bin), "src");
  if (GstElement* pay = gst_bin_get_by_name(GST_BIN(bin), "pay0")) {
    groupAccessUnits(pay);
    gst_object_unref(pay);
  }
  gst_object_unref(bin);
  if (!src) return;
  auto feed = std::make_shared<Feed>();
  feed->mount = m;
  feed->appsrc = src;
  {
    std::lock_guard lock(self->registry_->mu);
    feed->id = self->registry_->nextId++;
    self->registry_->feeds[feed->id] = feed;
  }
  auto* ref = new FeedRef{self->registry_, feed->id};
  g_signal_connect_data(
      media, "unprepared", G_CALLBACK(&SimServerImpl::onMediaUnprepared), ref,
      [](gpointer d, GClosure*) { delete static_cast<FeedRef*>(d); },
      static_cast<GConnectFlags>(0));
  // Backstop: a media finalised without "unprepared" must not leave a feed behind.
  g_object_weak_ref(G_OBJECT(media), &SimServerImpl::onMediaGone,
                    new FeedRef{self->registry_, feed->id});
}

void SimServerImpl::onMediaUnprepared(GstRTSPMedia*, gpointer data) {
  auto* ref = static_cast<FeedRef*>(data);
  ref->registry->remove(ref->id);
}

void SimServerImpl::onMediaGone(gpointer data, GObject*) {
  auto* ref = static_cast<FeedRef*>(data);
  ref->registry->remove(ref->id);
  delete ref;
}

bool SimServerImpl::startFeed(Feed& f, Clock::time_point now) {
  // Data flows once the media pipeline plays; stamp from its running time then.
  GST_OBJECT_LOCK(f.appsrc);
  const bool playing = GST_STATE(f.appsrc) == GST_STATE_PLAYING;
  GST_OBJECT_UNLOCK(f.appsrc);
  if (!playing) return false;
  GstClock* clock = gst_element_get_clock(f.appsrc);
  if (!clock) return false;
  const GstClockTime t = gst_clock_get_time(clock);
  gst_object_unref(clock);
  const GstClockTime base = gst_element_get_base_time(f.appsrc);
  f.ptsBase = t > base ? t - base : 0;
  f.t0 = now;
  f.started = true;
  f.next = 0;
  // Frame n of this feed (scene frame n modulo the loop) is due at this wall time plus n frame
  // durations: how a latency benchmark dates the frame in which a scripted object does something.
  spdlog::info("sim: feed {} frame 0 due at unix_us {}", f.mount->path,
               std::chrono::duration_cast<std::chrono::microseconds>(
                   std::chrono::system_clock::now().time_since_epoch() - (Clock::now() - now))
                   .count());
  return true;
}

void SimServerImpl::feedCached(Feed& f, Clock::time_point now) {
  const auto& enc = *f.mount->encoded;
  const int64_t n = static_cast<int64_t>(enc.units.size());
  const GstClockTime dur = gst_util_uint64_scale(1, GST_SECOND, enc.fps);
  const int64_t due =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now - f.t0).count() / dur + 1;
  // Far behind (machine overloaded): skip ahead rather than burst; resume at a keyframe.
  if (due - f.next > enc.fps) {
    f.next = due - 1;
    f.waitKey = true;
  }
  const bool stopped = cameras_[f.mount->camera]->stopSending.load();
  for (; f.next < due; ++f.next) {
    const auto& au = enc.units[f.next % n];
    if (stopped) {
      f.waitKey = true;
      continue;
    }
    if (f.waitKey && !au.keyframe) continue;
    f.waitKey = false;
    auto* holder = new std::shared_ptr<const EncodedStream>(f.mount->encoded);
    GstBuffer* buf = gst_buffer_new_wrapped_full(
        GST_MEMORY_FLAG_READONLY, const_cast<uint8_t*>(enc.data.data() + au.offset), au.size, 0,
        au.size, holder,
        [](gpointer d) { delete static_cast<std::shared_ptr<const EncodedStream>*>(d); });
    GST_BUFFER_PTS(buf) = GST_BUFFER_DTS(buf) = f.ptsBase + f.next * dur;
    GST_BUFFER_DURATION(buf) = dur;
    if (!au.keyframe) GST_BUFFER_FLAG_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT);
    gst_app_src_push_buffer(GST_APP_SRC(f.appsrc), buf);
    framesPushed_.fetch_add(1, std::memory_order_relaxed);
  }
}

void SimServerImpl::feedLive(Feed& f, Clock::time_point now) {
  const auto& p = f.mount->profile;
  const GstClockTime dur = gst_util_uint64_scale(1, GST_SECOND, p.fps);
  const int64_t due =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now - f.t0).count() / dur + 1;
  if (f.next >= due) return;
  f.next = due - 1;  // live: render only the newest frame, drop the ones we are late for
  const auto& cam = *cameras_[f.mount->camera];
  if (cam.stopSending.load()) {
    f.next = due;
    return;
  }
  ViewWindow view;
  {
    std::lock_guard lock(mu_);
    view = cam.view;
  }
  cv::Mat bgr(p.height, p.width, CV_8UC3), i420;
  liveRenderers_.at(cam.scene)->render(f.next, p.fps, p.width, p.height, bgr.data, view);
  if (opt_.stampLiveClock) {
    // The time the picture exists ("glass"): latency tools subtract it from their display time.
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    detail::drawClockStamp(bgr.data, p.width, p.height, static_cast<uint32_t>(millis));
  }
  cv::cvtColor(bgr, i420, cv::COLOR_BGR2YUV_I420);
  const size_t bytes = i420.total() * i420.elemSize();
  GstBuffer* buf = gst_buffer_new_allocate(nullptr, bytes, nullptr);
  gst_buffer_fill(buf, 0, i420.data, bytes);
  GST_BUFFER_PTS(buf) = f.ptsBase + f.next * dur;
  GST_BUFFER_DURATION(buf) = dur;
  gst_app_src_push_buffer(GST_APP_SRC(f.appsrc), buf);
  framesPushed_.fetch_add(1, std::memory_order_relaxed);
  f.next = due;
}

void SimServerImpl::feederLoop(bool live) {
  // A 10 ms tick: each feed pushes the frames that are due by then (timestamps stay exact).
  constexpr auto kTick = std::chrono::milliseconds(10);
  auto wake = Clock::now();
  std::vector<std::shared_ptr<Feed>> work;
  while (!stopping_.load()) {
    wake += kTick;
    const auto now = Clock::now();
    if (wake < now) wake = now + kTick;
    std::this_thread::sleep_until(wake);
    work.clear();
    {
      std::lock_guard lock(registry_->mu);
      for (auto& [id, f] : registry_->feeds) {
        if ((f->mount->encoded == nullptr) == live) work.push_back(f);
      }
    }
    for (auto& f : work) {
      if (f->gone.load()) continue;
      const auto t = Clock::now();
      if (!f->started && !startFeed(*f, t)) continue;
      if (live) {
        feedLive(*f, t);
      } else {
        feedCached(*f, t);
      }
    }
  }
}

void SimServerImpl::onRtspThread(std::function<void()> fn) {
  if (g_main_context_is_owner(context_)) {
    fn();
    return;
  }
  struct Call {
    std::function<void()> fn;
    std::promise<void> done;
  };
  auto* call = new Call{std::move(fn), {}};
  auto fut = call->done.get_future();
  g_main_context_invoke_full(
      context_, G_PRIORITY_DEFAULT,
      [](gpointer d) -> gboolean {
        auto* c = static_cast<Call*>(d);
        c->fn();
        c->done.set_value();
        return G_SOURCE_REMOVE;
      },
      call, [](gpointer d) { delete static_cast<Call*>(d); });
  fut.wait();
}

struct PathMatch {
  std::vector<std::string> paths;
  bool any = false;
};

GstRTSPFilterResult matchMedia(GstRTSPSession*, GstRTSPSessionMedia* sm, gpointer data) {
  auto* pm = static_cast<PathMatch*>(data);
  for (const auto& p : pm->paths) {
    gint matched = 0;
    if (gst_rtsp_session_media_matches(sm, p.c_str(), &matched) &&
        matched == static_cast<gint>(p.size())) {
      pm->any = true;
    }
  }
  return GST_RTSP_FILTER_KEEP;
}

bool sessionMatches(GstRTSPSession* session, const std::vector<std::string>& paths) {
  PathMatch pm{paths, false};
  gst_rtsp_session_filter(session, &matchMedia, &pm);
  return pm.any;
}

void SimServerImpl::dropSessions(int camera) {
  const std::vector<std::string> paths = {mounts_[size_t{2} * camera]->path,
                                          mounts_[size_t{2} * camera + 1]->path};
  // Close the RTSP connections that carry this camera's sessions (TCP clients see EOF)...
  GList* clients = gst_rtsp_server_client_filter(
      server_,
      [](GstRTSPServer*, GstRTSPClient* client, gpointer data) -> GstRTSPFilterResult {
        const auto* ps = static_cast<const std::vector<std::string>*>(data);
        struct Ctx {
          const std::vector<std::string>* ps;
          bool any;
        } ctx{ps, false};
        g_list_free_full(
            gst_rtsp_client_session_filter(
                client,
                [](GstRTSPClient*, GstRTSPSession* s, gpointer d) -> GstRTSPFilterResult {
                  auto* c = static_cast<Ctx*>(d);
                  if (sessionMatches(s, *c->ps)) c->any = true;
                  return GST_RTSP_FILTER_KEEP;
                },
                &ctx),
            g_object_unref);
        return ctx.any ? GST_RTSP_FILTER_REF : GST_RTSP_FILTER_KEEP;
      },
      const_cast<std::vector<std::string>*>(&paths));
  for (GList* l = clients; l; l = l->next) gst_rtsp_client_close(GST_RTSP_CLIENT(l->data));
  g_list_free_full(clients, g_object_unref);
  // ...and remove the sessions themselves (UDP sessions outlive their connection otherwise).
  GstRTSPSessionPool* pool = gst_rtsp_server_get_session_pool(server_);
  g_list_free_full(
      gst_rtsp_session_pool_filter(
          pool,
          [](GstRTSPSessionPool*, GstRTSPSession* s, gpointer d) -> GstRTSPFilterResult {
            return sessionMatches(s, *static_cast<const std::vector<std::string>*>(d))
                       ? GST_RTSP_FILTER_REMOVE
                       : GST_RTSP_FILTER_KEEP;
          },
          const_cast<std::vector<std::string>*>(&paths)),
      g_object_unref);
  g_object_unref(pool);
}

int SimServerImpl::sessionCount(int index) const {
  if (!valid(index) || !server_ || stopping_.load()) return 0;
  int count = 0;
  const std::vector<std::string> paths = {mounts_[size_t{2} * index]->path,
                                          mounts_[size_t{2} * index + 1]->path};
  const_cast<SimServerImpl*>(this)->onRtspThread([&] {
    GstRTSPSessionPool* pool = gst_rtsp_server_get_session_pool(server_);
    GList* all = gst_rtsp_session_pool_filter(pool, nullptr, nullptr);
    for (GList* l = all; l; l = l->next) {
      if (sessionMatches(GST_RTSP_SESSION(l->data), paths)) ++count;
    }
    g_list_free_full(all, g_object_unref);
    g_object_unref(pool);
  });
  return count;
}

void SimServerImpl::setRefusing(int camera, bool refuse) {
  auto& cam = *cameras_[camera];
  {
    std::lock_guard lock(mu_);
    if (cam.refusing == refuse) return;
    cam.refusing = refuse;
  }
  for (int p = 0; p < 2; ++p) {
    const auto& m = *mounts_[camera * 2 + p];
    if (refuse) {
      gst_rtsp_mount_points_remove_factory(mountPoints_, m.path.c_str());
    } else {
      gst_rtsp_mount_points_add_factory(mountPoints_, m.path.c_str(),
                                        GST_RTSP_MEDIA_FACTORY(g_object_ref(m.factory)));
    }
  }
}

void SimServerImpl::clearFault(int camera) {
  cameras_[camera]->stopSending = false;
  setRefusing(camera, false);
  std::lock_guard lock(mu_);
  cameras_[camera]->lastFault = Fault::kClear;
}

core::Result<void> SimServerImpl::injectFault(int index, Fault fault, core::Duration duration) {
  if (!valid(index)) {
    return core::makeError(core::ErrorCode::kNotFound, "no camera " + std::to_string(index));
  }
  if (stopping_.load()) return core::makeError(core::ErrorCode::kUnavailable, "sim stopped");
  uint64_t generation = 0;
  {
    std::lock_guard lock(mu_);
    generation = ++cameras_[index]->faultGeneration;
    cameras_[index]->lastFault = fault;
  }
  const bool timed = duration > core::Duration::zero();
  onRtspThread([&] {
    auto& cam = *cameras_[index];
    switch (fault) {
      case Fault::kClear: clearFault(index); break;
      case Fault::kStopSending: cam.stopSending = true; break;
      case Fault::kRefuse: setRefusing(index, true); break;
      case Fault::kDropConnections:
      case Fault::kRestart:
        // Without a duration the camera is reachable again at once; new sessions start at
        // frame 0 (a new media), which is what a restart looks like to a client.
        if (timed) setRefusing(index, true);
        cam.stopSending = false;
        dropSessions(index);
        break;
    }
  });
  spdlog::info(
      "sim: {} fault {}{}", cameras_[index]->name, toString(fault),
      timed ? " for " + std::to_string(std::chrono::duration<double>(duration).count()) + " s"
            : std::string());
  if (timed && fault != Fault::kClear) scheduleAutoClear(index, generation, duration);
  if (!timed && (fault == Fault::kDropConnections || fault == Fault::kRestart)) {
    std::lock_guard lock(mu_);
    cameras_[index]->lastFault = Fault::kClear;
  }
  return {};
}

void SimServerImpl::scheduleAutoClear(int camera, uint64_t generation, core::Duration duration) {
  struct Clear {
    SimServerImpl* self;
    int camera;
    uint64_t generation;
  };
  GSource* src = g_timeout_source_new(static_cast<guint>(std::max<int64_t>(
      1, std::chrono::duration_cast<std::chrono::milliseconds>(duration).count())));
  g_source_set_callback(
      src,
      [](gpointer d) -> gboolean {
        auto* c = static_cast<Clear*>(d);
        bool current = false;
        {
          std::lock_guard lock(c->self->mu_);
          current = c->self->cameras_[c->camera]->faultGeneration == c->generation;
        }
        // A newer fault on the same camera owns its own clearing.
        if (current && !c->self->stopping_.load()) {
          c->self->clearFault(c->camera);
          spdlog::info("sim: {} fault cleared (timer)", c->self->cameras_[c->camera]->name);
        }
        return G_SOURCE_REMOVE;
      },
      new Clear{this, camera, generation}, [](gpointer d) { delete static_cast<Clear*>(d); });
  g_source_attach(src, context_);
  g_source_unref(src);
}

core::Result<void> SimServerImpl::setView(int index, const ViewWindow& view) {
  if (!valid(index)) {
    return core::makeError(core::ErrorCode::kNotFound, "no camera " + std::to_string(index));
  }
  if (!cameras_[index]->ptz) {
    return core::makeError(core::ErrorCode::kUnsupported,
                           cameras_[index]->name + " is not a PTZ camera");
  }
  ViewWindow v;
  v.pan = std::clamp(view.pan, -1.0f, 1.0f);
  v.tilt = std::clamp(view.tilt, -1.0f, 1.0f);
  v.zoom = std::clamp(view.zoom, 0.0f, 1.0f);
  std::lock_guard lock(mu_);
  cameras_[index]->view = v;
  return {};
}

std::string SimServerImpl::handleControl(std::string_view line) {
  std::vector<std::string> words;
  {
    std::istringstream in{std::string(line)};
    for (std::string w; in >> w;) words.push_back(w);
  }
  if (words.empty()) return "error empty command\n";
  const std::string& cmd = words[0];
  auto error = [](const std::string& why) { return "error " + why + "\n"; };
  auto number = [](const std::string& s, double& out) {
    const auto* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(s.data(), end, out);
    return ec == std::errc() && p == end;
  };
  if (cmd == "ping") return "ok\n";
  if (cmd == "help") {
    return "commands: ping | list | fault <cam> <clear|stop-sending|drop-connections|refuse|"
           "restart> [seconds] | clear <cam> | view <cam> [pan tilt zoom] | quit\nok\n";
  }
  if (cmd == "list") {
    std::string out;
    for (int i = 0; i < cameraCount(); ++i) {
      Fault f;
      ViewWindow v;
      {
        std::lock_guard lock(mu_);
        f = cameras_[i]->lastFault;
        v = cameras_[i]->view;
      }
      char view[96];
      std::snprintf(view, sizeof view, "%.3f,%.3f,%.3f", v.pan, v.tilt, v.zoom);
      out += "camera " + cameras_[i]->name + " fault=" + std::string(toString(f)) +
             " sessions=" + std::to_string(sessionCount(i)) +
             " ptz=" + (cameras_[i]->ptz ? "yes view=" + std::string(view) : std::string("no")) +
             " main=" + mainUrl(i) + " sub=" + subUrl(i) + "\n";
    }
    return out + "ok\n";
  }
  if (words.size() < 2) return error("usage: " + cmd + " <camera> ...");
  const int cam = cameraByName(words[1]);
  if (cam < 0) return error("unknown camera " + words[1]);
  if (cmd == "fault" || cmd == "clear") {
    Fault fault = Fault::kClear;
    double seconds = 0;
    if (cmd == "fault") {
      if (words.size() < 3 || words.size() > 4)
        return error("usage: fault <cam> <fault> [seconds]");
      auto f = parseFault(words[2]);
      if (!f) return error(f.error().message);
      fault = *f;
      if (words.size() == 4 && (!number(words[3], seconds) || seconds < 0 || seconds > 86400)) {
        return error("bad duration " + words[3]);
      }
    }
    auto r = injectFault(
        cam, fault,
        std::chrono::duration_cast<core::Duration>(std::chrono::duration<double>(seconds)));
    return r ? "ok\n" : error(r.error().message);
  }
  if (cmd == "view") {
    if (words.size() == 2) {
      const ViewWindow v = view(cam);
      char buf[96];
      std::snprintf(buf, sizeof buf, "ok %.4f %.4f %.4f\n", v.pan, v.tilt, v.zoom);
      return buf;
    }
    double p, t, z;
    if (words.size() != 5 || !number(words[2], p) || !number(words[3], t) || !number(words[4], z)) {
      return error("usage: view <cam> <pan -1..1> <tilt -1..1> <zoom 0..1>");
    }
    auto r = setView(
        cam, ViewWindow{static_cast<float>(p), static_cast<float>(t), static_cast<float>(z)});
    return r ? "ok\n" : error(r.error().message);
  }
  return error("unknown command " + cmd + " (try help)");
}

void SimServerImpl::stop() {
  std::lock_guard stopLock(stopMu_);
  if (stopped_) return;
  stopped_ = true;
  stopping_ = true;
  control_.stop();
  if (feeder_.joinable()) feeder_.join();
  if (live_.joinable()) live_.join();
  if (rtspThread_.joinable()) {
    onRtspThread([this] {
      for (int c = 0; c < cameraCount(); ++c) dropSessions(c);
      if (GSource* s = g_main_context_find_source_by_id(context_, serverSource_)) {
        g_source_destroy(s);
      }
    });
    // Let the media pipelines wind down on the RTSP thread before it stops.
    const auto deadline = Clock::now() + std::chrono::seconds(3);
    while (Clock::now() < deadline) {
      {
        std::lock_guard lock(registry_->mu);
        if (registry_->feeds.empty()) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    g_main_loop_quit(loop_);
    rtspThread_.join();
  }
  {
    std::lock_guard lock(registry_->mu);
    registry_->feeds.clear();
  }
  for (auto& m : mounts_) {
    if (m->factory) g_object_unref(m->factory);
    m->factory = nullptr;
  }
  if (mountPoints_) g_object_unref(mountPoints_);
  if (server_) g_object_unref(server_);
  if (loop_) g_main_loop_unref(loop_);
  if (context_) g_main_context_unref(context_);
  mountPoints_ = nullptr;
  server_ = nullptr;
  loop_ = nullptr;
  context_ = nullptr;
}

}  // namespace

core::Result<std::unique_ptr<SimServer>> SimServer::start(const SimOptions& options) {
  auto impl = std::make_unique<SimServerImpl>(options);
  if (auto r = impl->init(); !r) return r.error();
  return std::unique_ptr<SimServer>(std::move(impl));
}

}  // namespace sharpeyes::sim
