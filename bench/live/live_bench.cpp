// bench/live: glass-to-glass latency of live video through the gateway, with the camera's own
// RTSP stream read directly as the baseline, in the same run on the same frames.
//
//   gateway: sim (PTZ camera, live-encoded, render time stamped into the picture)
//            -> ingest (rtspsrc, recording on, live tap: mp4mux fragments)
//            -> api::LiveVideoHub -> api::HttpServer WebSocket /ws/live/{camera}?stream=
//            -> Boost.Beast WebSocket client -> appsrc ! qtdemux ! h264parse ! avdec_h264
//            -> read the stamp; latency = wall clock now - stamp
//   direct:  sim -> rtspsrc (same latency setting as ingest) ! rtph264depay ! h264parse
//            ! avdec_h264 -> read the stamp
//
// Both decoders run single-threaded libav (frame threading would add frames of delay to both).
// "Glass" is the moment the simulator renders the frame (before encoding); the end is the decoded
// picture in our process (a browser adds its own MSE play-out buffer on top, see
// docs/benchmarks.md).
//
//   live_bench [--seconds N] [--warmup N] [--main WxH] [--sub WxH] [--dump DIR]
// --dump writes what the WebSocket viewer received (init segments and fragments, in order) to
// DIR/live-<stream>.mp4, e.g. to check that a browser's Media Source Extensions accept it.
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sharpeyes/api/http_server.h"
#include "sharpeyes/api/live.h"
#include "sharpeyes/core/camera_id.h"
#include "sharpeyes/ingest/ingest.h"
#include "sharpeyes/sim/sim.h"

using namespace sharpeyes;
using namespace std::chrono_literals;

namespace {

namespace beast = boost::beast;
namespace asio = boost::asio;

int64_t wallMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Latencies of the decoded frames of one path.
class Samples {
 public:
  explicit Samples(std::chrono::seconds warmup) : warmup_(warmup) {}
  void frame(const uint8_t* luma, int width, int height, int stride) {
    const auto now = std::chrono::steady_clock::now();
    const auto stamp = sim::readClockStamp(luma, width, height, stride);
    std::lock_guard lock(mu_);
    ++frames_;
    if (!first_) first_ = now;
    if (!stamp) {
      ++unreadable_;
      return;
    }
    // The stamp holds the low 32 bits of Unix milliseconds; the difference wraps the same way.
    const auto diff = static_cast<int32_t>(static_cast<uint32_t>(wallMillis()) - *stamp);
    if (now - *first_ < warmup_) return;  // a new viewer first gets the cached GOP: old by design
    ms_.push_back(diff);
  }
  struct Summary {
    size_t frames = 0, measured = 0, unreadable = 0;
    double p50 = 0, p95 = 0, p99 = 0, max = 0;
  };
  Summary summary() {
    std::lock_guard lock(mu_);
    Summary s;
    s.frames = frames_;
    s.unreadable = unreadable_;
    s.measured = ms_.size();
    if (ms_.empty()) return s;
    std::vector<int> v = ms_;
    std::sort(v.begin(), v.end());
    const auto at = [&](double q) {
      return static_cast<double>(v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))]);
    };
    s.p50 = at(0.50);
    s.p95 = at(0.95);
    s.p99 = at(0.99);
    s.max = v.back();
    return s;
  }

 private:
  std::chrono::seconds warmup_;
  std::mutex mu_;
  std::optional<std::chrono::steady_clock::time_point> first_;
  std::vector<int> ms_;
  size_t frames_ = 0, unreadable_ = 0;
};

GstFlowReturn onDecoded(GstAppSink* sink, gpointer data) {
  GstSample* sample = gst_app_sink_pull_sample(sink);
  if (!sample) return GST_FLOW_EOS;
  GstVideoInfo info;
  GstVideoFrame frame;
  if (gst_video_info_from_caps(&info, gst_sample_get_caps(sample)) &&
      gst_video_frame_map(&frame, &info, gst_sample_get_buffer(sample), GST_MAP_READ)) {
    // Plane 0 is luma in every YUV format the decoder may output.
    static_cast<Samples*>(data)->frame(
        static_cast<const uint8_t*>(GST_VIDEO_FRAME_PLANE_DATA(&frame, 0)),
        GST_VIDEO_FRAME_WIDTH(&frame), GST_VIDEO_FRAME_HEIGHT(&frame),
        GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0));
    gst_video_frame_unmap(&frame);
  }
  gst_sample_unref(sample);
  return GST_FLOW_OK;
}

// A decoding pipeline ending in an appsink that feeds `samples`.
class Decoder {
 public:
  Decoder(const std::string& launch, Samples& samples) {
    GError* err = nullptr;
    pipeline_ = gst_parse_launch(launch.c_str(), &err);
    if (!pipeline_) {
      std::fprintf(stderr, "pipeline '%s': %s\n", launch.c_str(), err ? err->message : "?");
      std::exit(1);
    }
    GstElement* sink = gst_bin_get_by_name(GST_BIN(pipeline_), "sink");
    GstAppSinkCallbacks cb{};
    cb.new_sample = &onDecoded;
    gst_app_sink_set_callbacks(GST_APP_SINK(sink), &cb, &samples, nullptr);
    gst_object_unref(sink);
    src_ = gst_bin_get_by_name(GST_BIN(pipeline_), "src");
    gst_element_set_state(pipeline_, GST_STATE_PLAYING);
  }
  ~Decoder() {
    gst_element_set_state(pipeline_, GST_STATE_NULL);
    if (src_) gst_object_unref(src_);
    gst_object_unref(pipeline_);
  }
  void push(const void* data, size_t size) {
    gst_app_src_push_buffer(GST_APP_SRC(src_), gst_buffer_new_memdup(data, size));
  }
  // Errors on the bus (e.g. the demuxer rejecting input): printed, and counted.
  int errors() {
    int n = 0;
    GstBus* bus = gst_element_get_bus(pipeline_);
    while (GstMessage* m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR)) {
      GError* e = nullptr;
      gst_message_parse_error(m, &e, nullptr);
      std::fprintf(stderr, "decoder error: %s\n", e ? e->message : "?");
      if (e) g_error_free(e);
      gst_message_unref(m);
      ++n;
    }
    gst_object_unref(bus);
    return n;
  }

 private:
  GstElement* pipeline_ = nullptr;
  GstElement* src_ = nullptr;
};

constexpr const char* kDecode =
    "h264parse ! avdec_h264 max-threads=1 ! appsink name=sink "
    "sync=false max-buffers=2 drop=false enable-last-sample=false";

// WebSocket viewer of /ws/live/{camera}?stream=..., feeding a decoder.
class Viewer {
 public:
  Viewer(uint16_t port, const std::string& camera, const std::string& stream, Samples& samples,
         const std::string& dumpPath)
      : decoder_("appsrc name=src is-live=true format=bytes ! qtdemux ! " + std::string(kDecode),
                 samples) {
    ws_.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    ws_.handshake("127.0.0.1:" + std::to_string(port), "/ws/live/" + camera + "?stream=" + stream);
    if (!dumpPath.empty()) dump_ = std::fopen(dumpPath.c_str(), "wb");
    thread_ = std::thread([this] { run(); });
  }
  ~Viewer() {
    // Unblocks the reading thread: its read fails and it returns.
    ::shutdown(ws_.next_layer().native_handle(), SHUT_RDWR);
    thread_.join();
    if (dump_) std::fclose(dump_);
  }
  std::vector<std::string> texts() {
    std::lock_guard lock(mu_);
    return texts_;
  }
  uint64_t bytes() const { return bytes_.load(); }
  int errors() { return decoder_.errors(); }

 private:
  void run() {
    beast::flat_buffer buf;
    for (;;) {
      beast::error_code ec;
      ws_.read(buf, ec);
      if (ec) return;
      if (ws_.got_text()) {
        std::lock_guard lock(mu_);
        texts_.push_back(beast::buffers_to_string(buf.data()));
      } else {
        bytes_ += buf.size();
        decoder_.push(buf.data().data(), buf.size());
        if (dump_) std::fwrite(buf.data().data(), 1, buf.size(), dump_);
      }
      buf.consume(buf.size());
    }
  }

  asio::io_context io_;
  beast::websocket::stream<asio::ip::tcp::socket> ws_{io_};
  Decoder decoder_;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> texts_;
  std::atomic<uint64_t> bytes_{0};
  std::FILE* dump_ = nullptr;
};

// Ingest -> hub.
class LiveForwarder : public ingest::Listener {
 public:
  explicit LiveForwarder(api::LiveVideoHub& hub) : hub_(hub) {}
  void onLiveBytes(const core::CameraId& c, ingest::LiveStream s, std::string_view b) override {
    hub_.pushBytes(c, kind(s), b);
  }
  void onLiveEnded(const core::CameraId& c, ingest::LiveStream s) override {
    hub_.endStream(c, kind(s));
  }
  static api::StreamKind kind(ingest::LiveStream s) {
    return s == ingest::LiveStream::kMain ? api::StreamKind::kMain : api::StreamKind::kSub;
  }

 private:
  api::LiveVideoHub& hub_;
};

bool parseSize(const char* s, int& w, int& h) {
  return std::sscanf(s, "%dx%d", &w, &h) == 2 && w >= 320 && h >= 180;
}

void printRow(const char* stream, const char* path, const Samples::Summary& s) {
  std::printf("%-5s %-8s %7zu %8zu %10zu %7.0f %7.0f %7.0f %7.0f\n", stream, path, s.frames,
              s.measured, s.unreadable, s.p50, s.p95, s.p99, s.max);
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 30;
  int warmup = 3;
  std::string dumpDir;
  sim::StreamProfile mainProfile{1280, 720, 25, 2000, 50};
  sim::StreamProfile subProfile{640, 360, 25, 512, 50};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool more = i + 1 < argc;
    if (a == "--seconds" && more) {
      seconds = std::max(5, std::atoi(argv[++i]));
    } else if (a == "--warmup" && more) {
      warmup = std::max(0, std::atoi(argv[++i]));
    } else if (a == "--dump" && more) {
      dumpDir = argv[++i];
    } else if (a == "--main" && more &&
               parseSize(argv[i + 1], mainProfile.width, mainProfile.height)) {
      ++i;
    } else if (a == "--sub" && more &&
               parseSize(argv[i + 1], subProfile.width, subProfile.height)) {
      ++i;
    } else {
      std::fprintf(
          stderr,
          "usage: live_bench [--seconds N] [--warmup N] [--main WxH] [--sub WxH] [--dump DIR]\n");
      return 2;
    }
  }
  gst_init(nullptr, nullptr);

  sim::SimOptions so;
  so.cameras = 1;
  so.ptzCameras = {0};  // live-encoded: the only kind that can carry a render-time stamp
  so.stampLiveClock = true;
  so.main = mainProfile;
  so.sub = subProfile;
  auto simStarted = sim::SimServer::start(so);
  if (!simStarted) {
    std::fprintf(stderr, "sim: %s\n", simStarted.error().describe().c_str());
    return 1;
  }
  auto simServer = std::move(simStarted).value();

  std::unique_ptr<ingest::IngestManager> ingestManager;
  std::mutex ingestMu;
  api::LiveVideoHub hub([&](const core::CameraId& cam, api::StreamKind k, bool wanted) {
    std::lock_guard lock(ingestMu);
    if (!ingestManager) return;
    auto r = ingestManager->setLive(
        cam, k == api::StreamKind::kMain ? ingest::LiveStream::kMain : ingest::LiveStream::kSub,
        wanted);
    if (!r) std::fprintf(stderr, "setLive: %s\n", r.error().describe().c_str());
  });
  LiveForwarder forwarder(hub);
  auto created = ingest::IngestManager::create({}, forwarder);
  if (!created) {
    std::fprintf(stderr, "ingest: %s\n", created.error().describe().c_str());
    return 1;
  }
  {
    std::lock_guard lock(ingestMu);
    ingestManager = std::move(created).value();
  }
  const auto dir = std::filesystem::temp_directory_path() / "sharpeyes-live-bench";
  std::filesystem::create_directories(dir);
  ingest::CameraConfig cam;
  cam.id = core::CameraId::parse(simServer->cameraName(0)).value();
  cam.name = cam.id.str();
  cam.main.url = simServer->mainUrl(0);
  cam.sub = ingest::StreamSource{simServer->subUrl(0)};
  cam.recording.directory = dir.string();  // a real gateway records while it serves live
  if (auto r = ingestManager->addCamera(cam); !r) {
    std::fprintf(stderr, "addCamera: %s\n", r.error().describe().c_str());
    return 1;
  }

  // The gateway's live route, as ApiService registers it (without the log-in).
  api::HttpServer http({});
  api::WebSocketRoute route;
  route.onOpen = [&](const std::shared_ptr<api::WebSocketConnection>& ws,
                     const api::HttpRequest& req) {
    auto id = core::CameraId::parse(req.params.at("camera"));
    if (!id) {
      ws->close();
      return;
    }
    const auto kind = req.queryParam("stream").value_or("sub") == "main" ? api::StreamKind::kMain
                                                                         : api::StreamKind::kSub;
    hub.addViewer(*id, kind, ws);
  };
  route.onClose = [&](const std::shared_ptr<api::WebSocketConnection>& ws) {
    hub.removeViewer(ws);
  };
  route.maxQueuedBytes = 8 << 20;
  if (auto r = http.webSocket("/ws/live/{camera}", std::move(route)); !r) return 1;
  if (auto r = http.start(); !r) {
    std::fprintf(stderr, "http: %s\n", r.error().describe().c_str());
    return 1;
  }

  std::printf(
      "live_bench: 1 PTZ camera (live x264 ultrafast/zerolatency), main %dx%d %d kbit/s, "
      "sub %dx%d %d kbit/s, %d fps, GOP %d; %d s per stream after %d s warm-up\n",
      mainProfile.width, mainProfile.height, mainProfile.bitrateKbps, subProfile.width,
      subProfile.height, subProfile.bitrateKbps, mainProfile.fps, mainProfile.gopFrames, seconds,
      warmup);
  std::printf("%-5s %-8s %7s %8s %10s %7s %7s %7s %7s   (latency in ms)\n", "strm", "path",
              "frames", "measured", "unreadable", "p50", "p95", "p99", "max");
  int failures = 0;
  std::vector<std::pair<std::string, double>> ratios;
  for (const std::string stream : {"sub", "main"}) {
    Samples gateway{std::chrono::seconds(warmup)};
    Samples direct{std::chrono::seconds(warmup)};
    {
      const std::string url = stream == "main" ? simServer->mainUrl(0) : simServer->subUrl(0);
      // The same jitter-buffer latency (200 ms) and transport as ingest's rtspsrc.
      Decoder directDecoder(
          "rtspsrc location=" + url + " latency=200 protocols=tcp ! rtph264depay ! " + kDecode,
          direct);
      Viewer viewer(http.port(), cam.id.str(), stream, gateway,
                    dumpDir.empty() ? "" : dumpDir + "/live-" + stream + ".mp4");
      std::this_thread::sleep_for(std::chrono::seconds(seconds + warmup));
      failures += viewer.errors() + directDecoder.errors();
      const auto texts = viewer.texts();
      if (std::none_of(texts.begin(), texts.end(),
                       [](auto& t) { return t.find("\"init\"") != std::string::npos; })) {
        std::fprintf(stderr, "%s: no init message from the hub\n", stream.c_str());
        ++failures;
      }
    }
    const auto g = gateway.summary();
    const auto d = direct.summary();
    printRow(stream.c_str(), "gateway", g);
    printRow(stream.c_str(), "direct", d);
    if (g.measured == 0 || d.measured == 0) ++failures;
    if (d.p50 > 0) ratios.emplace_back(stream, g.p50 / d.p50);
    std::printf("%-5s gateway - direct: p50 %+.0f ms, p95 %+.0f ms, p99 %+.0f ms\n", stream.c_str(),
                g.p50 - d.p50, g.p95 - d.p95, g.p99 - d.p99);
  }
  for (const auto& [s, r] : ratios)
    std::printf("ratio %s p50 gateway/direct: %.2f\n", s.c_str(), r);
  const auto st = hub.stats();
  std::printf("hub: fragments in %llu, sent %llu, dropped %llu\n",
              static_cast<unsigned long long>(st.fragmentsIn),
              static_cast<unsigned long long>(st.fragmentsSent),
              static_cast<unsigned long long>(st.fragmentsDropped));
  http.stop();
  {
    std::lock_guard lock(ingestMu);
    ingestManager->stop();
    ingestManager.reset();  // before the listener (forwarder) goes away
  }
  simServer->stop();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return failures == 0 ? 0 : 1;
}
