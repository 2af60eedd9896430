#pragma once
// A small in-process RTSP server (gst-rtsp-server) for ingest tests: live test patterns encoded
// on the fly, one shared media per mount, and a valve per mount to stop the media without
// closing sessions (a camera that hangs). Listens on 127.0.0.1, port picked by the kernel.

#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace sharpeyes::ingest::testing {

class RtspFixture {
 public:
  RtspFixture();
  ~RtspFixture();
  RtspFixture(const RtspFixture&) = delete;
  RtspFixture& operator=(const RtspFixture&) = delete;

  // H.264 (or H.265) 25 fps test pattern with a keyframe every `gop` frames. `bframes` > 0: up
  // to that many B-frames between references, so frames arrive out of presentation order, as
  // from a camera with a B-frame setting.
  void addMount(const std::string& path, bool h265 = false, int width = 320, int height = 240,
                int gop = 25, int bframes = 0);
  std::string url(const std::string& path) const;
  int port() const { return port_; }
  // Stops (drop) or resumes the media of a mount; sessions stay open.
  void setStopped(const std::string& path, bool stopped);

 private:
  static void onMediaConfigure(GstRTSPMediaFactory* factory, GstRTSPMedia* media, gpointer self);
  void applyValve(GstRTSPMedia* media, bool drop);

  GMainContext* context_ = nullptr;
  GMainLoop* loop_ = nullptr;
  GstRTSPServer* server_ = nullptr;
  std::thread thread_;
  int port_ = 0;

  std::mutex mutex_;
  std::map<std::string, bool> stopped_;
  std::map<std::string, GstRTSPMediaFactory*> factories_;
  std::map<GstRTSPMediaFactory*, std::string> paths_;
  std::multimap<std::string, GstRTSPMedia*> medias_;
};

}  // namespace sharpeyes::ingest::testing
