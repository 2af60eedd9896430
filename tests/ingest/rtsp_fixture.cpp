#include "rtsp_fixture.h"

#include <future>
#include <stdexcept>

namespace sharpeyes::ingest::testing {

RtspFixture::RtspFixture() {
  gst_init(nullptr, nullptr);
  context_ = g_main_context_new();
  loop_ = g_main_loop_new(context_, FALSE);
  server_ = gst_rtsp_server_new();
  gst_rtsp_server_set_address(server_, "127.0.0.1");
  gst_rtsp_server_set_service(server_, "0");
  if (gst_rtsp_server_attach(server_, context_) == 0) throw std::runtime_error("rtsp attach");
  port_ = gst_rtsp_server_get_bound_port(server_);
  thread_ = std::thread([this] {
    g_main_context_push_thread_default(context_);
    g_main_loop_run(loop_);
    g_main_context_pop_thread_default(context_);
  });
}

RtspFixture::~RtspFixture() {
  g_main_loop_quit(loop_);
  thread_.join();
  {
    std::lock_guard lock(mutex_);
    for (auto& [path, media] : medias_) g_object_unref(media);
    medias_.clear();
  }
  // Ends the clients' sessions and the medias with the server.
  GstRTSPSessionPool* pool = gst_rtsp_server_get_session_pool(server_);
  gst_rtsp_session_pool_cleanup(pool);
  g_object_unref(pool);
  g_object_unref(server_);
  g_main_loop_unref(loop_);
  g_main_context_unref(context_);
}

void RtspFixture::addMount(const std::string& path, bool h265, int width, int height, int gop,
                           int bframes) {
  const std::string caps = "video/x-raw,width=" + std::to_string(width) +
                           ",height=" + std::to_string(height) + ",framerate=25/1";
  // zerolatency turns B-frames off; without it x264 keeps its lookahead (a few frames of delay).
  // The main profile: left to negotiate with rtph264pay, x264 settles on constrained baseline,
  // which has no B-frames.
  const std::string x264 = bframes > 0
                               ? "x264enc speed-preset=ultrafast bframes=" + std::to_string(bframes)
                               : std::string("x264enc speed-preset=ultrafast tune=zerolatency");
  const std::string x264Caps = bframes > 0 ? " ! video/x-h264,profile=main" : "";
  const std::string x265 =
      bframes > 0
          ? "x265enc speed-preset=ultrafast option-string=\"bframes=" + std::to_string(bframes) +
                "\""
          : std::string("x265enc speed-preset=ultrafast tune=zerolatency");
  const std::string enc =
      h265 ? x265 + " key-int-max=" + std::to_string(gop) +
                 " bitrate=400 ! video/x-h265,profile=main ! rtph265pay name=pay0 pt=96 "
                 "config-interval=-1"
           : x264 + " key-int-max=" + std::to_string(gop) + " bitrate=400" + x264Caps +
                 " ! rtph264pay name=pay0 pt=96 config-interval=-1";
  // The valve sits before the encoder: stopping it is a camera whose encoder hangs.
  const std::string launch = "( videotestsrc is-live=true pattern=ball ! " + caps +
                             " ! valve name=valve drop=false ! " + enc + " )";
  GstRTSPMediaFactory* factory = gst_rtsp_media_factory_new();
  gst_rtsp_media_factory_set_launch(factory, launch.c_str());
  gst_rtsp_media_factory_set_shared(factory, TRUE);
  g_signal_connect(factory, "media-configure", G_CALLBACK(&RtspFixture::onMediaConfigure), this);
  {
    std::lock_guard lock(mutex_);
    stopped_[path] = false;
    paths_[factory] = path;
  }
  GstRTSPMountPoints* mounts = gst_rtsp_server_get_mount_points(server_);
  gst_rtsp_mount_points_add_factory(mounts, path.c_str(), factory);  // takes the factory
  g_object_unref(mounts);
}

std::string RtspFixture::url(const std::string& path) const {
  return "rtsp://127.0.0.1:" + std::to_string(port_) + path;
}

void RtspFixture::onMediaConfigure(GstRTSPMediaFactory* factory, GstRTSPMedia* media,
                                   gpointer data) {
  auto* self = static_cast<RtspFixture*>(data);
  std::lock_guard lock(self->mutex_);
  const std::string path = self->paths_[factory];
  self->medias_.emplace(path, GST_RTSP_MEDIA(g_object_ref(media)));
  self->applyValve(media, self->stopped_[path]);
}

void RtspFixture::applyValve(GstRTSPMedia* media, bool drop) {
  GstElement* bin = gst_rtsp_media_get_element(media);
  GstElement* valve = gst_bin_get_by_name(GST_BIN(bin), "valve");
  if (valve) {
    g_object_set(valve, "drop", drop ? TRUE : FALSE, nullptr);
    gst_object_unref(valve);
  }
  gst_object_unref(bin);
}

void RtspFixture::setStopped(const std::string& path, bool stopped) {
  std::lock_guard lock(mutex_);
  stopped_[path] = stopped;
  auto [begin, end] = medias_.equal_range(path);
  for (auto it = begin; it != end; ++it) applyValve(it->second, stopped);
}

}  // namespace sharpeyes::ingest::testing
