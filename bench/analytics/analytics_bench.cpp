// bench/analytics: per-camera CPU cost of the analytics stage at 640x360, 5 fps, and the same
// stream through Debian's `motion` daemon in the same run.
//
//   sharpeyes_analytics_bench [--seconds 60] [--motion-cameras 4] [--motion-seconds 30]
//                             [--workdir DIR] [--no-motion]
//
// 1. Renders a busy simulator scene (people, cars) and encodes it once to H.264 with ffmpeg
//    (libx264, 512 kbit/s, 2 s GOP: a typical sub stream).
// 2. Decode: libav (one thread) + swscale to BGR, thread CPU time per frame.
// 3. Motion + tracking + rules: CameraAnalyzer with a fence, a line, loitering, crowd and tamper
//    rules; thread CPU time per frame.
// 4. Person detection: the same with the HOG detector (motion-gated, once per track per second
//    until confirmed), and the raw cost of one HOG / cascade call and of HOG on a whole frame.
// 5. Engine: many cameras through the worker pool, process CPU per frame.
// 6. Baseline: `motion` with N cameras reading the same file (netcam_url file://), CPU seconds
//    per camera-second from /proc, versus ours = 5 x (decode + analytics) per camera-second.

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
}

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sharpeyes/analytics/detector.h"
#include "sharpeyes/analytics/engine.h"
#include "sharpeyes/sim/scene.h"

using namespace sharpeyes;
using namespace sharpeyes::analytics;
namespace fs = std::filesystem;

namespace {

constexpr int kW = 640, kH = 360;
constexpr double kFps = 5.0;

double threadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

double processCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

bool encode(const fs::path& out, double seconds) {
  const std::string cmd =
      "ffmpeg -loglevel error -y -f rawvideo -pix_fmt bgr24 -s 640x360 -r 5 -i - -c:v libx264 "
      "-preset veryfast -profile:v main -pix_fmt yuv420p -b:v 512k -g 10 -an '" +
      out.string() + "'";
  FILE* p = popen(cmd.c_str(), "w");
  if (!p) return false;
  sim::SceneRenderer scene(sim::defaultScene(42, 20));
  std::vector<uint8_t> px(size_t(kW) * kH * 3);
  const int frames = int(seconds * kFps);
  for (int i = 0; i < frames; ++i) {
    scene.render(i, kFps, kW, kH, px.data());
    if (fwrite(px.data(), 1, px.size(), p) != px.size()) break;
  }
  return pclose(p) == 0;
}

struct Decoded {
  std::vector<cv::Mat> frames;
  double cpuMsPerFrame = 0;
  double convertMsPerFrame = 0;  // part of cpuMsPerFrame: YUV -> BGR
};

Decoded decodeAll(const fs::path& file) {
  Decoded d;
  AVFormatContext* fmt = nullptr;
  if (avformat_open_input(&fmt, file.c_str(), nullptr, nullptr) < 0) return d;
  avformat_find_stream_info(fmt, nullptr);
  const int vs = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  const AVCodec* codec = avcodec_find_decoder(fmt->streams[vs]->codecpar->codec_id);
  AVCodecContext* ctx = avcodec_alloc_context3(codec);
  avcodec_parameters_to_context(ctx, fmt->streams[vs]->codecpar);
  ctx->thread_count = 1;  // per camera: one core's worth, as a gateway with many cameras runs it
  avcodec_open2(ctx, codec, nullptr);
  AVPacket* pkt = av_packet_alloc();
  AVFrame* frame = av_frame_alloc();
  SwsContext* sws = nullptr;
  double cpu = 0, convert = 0;
  cv::Mat i420, bgr;
  auto drain = [&] {
    for (;;) {
      const double t0 = threadCpuMs();
      if (avcodec_receive_frame(ctx, frame) < 0) return;
      sws = sws_getCachedContext(sws, frame->width, frame->height, AVPixelFormat(frame->format),
                                 frame->width, frame->height, AV_PIX_FMT_BGR24, SWS_BILINEAR,
                                 nullptr, nullptr, nullptr);
      // Converted into a reused buffer (as a gateway's buffer pool would), then kept: fresh
      // pages for every frame would charge page faults to the decoder.
      bgr.create(frame->height, frame->width, CV_8UC3);
      uint8_t* dst[1] = {bgr.data};
      int dstStride[1] = {int(bgr.step[0])};
      const double t1 = threadCpuMs();
      if (frame->format == AV_PIX_FMT_YUV420P) {
        // OpenCV's SIMD converter is several times cheaper than swscale's bgr24 path here.
        const int w = frame->width, h = frame->height;
        i420.create(h * 3 / 2, w, CV_8UC1);
        for (int y = 0; y < h; ++y)
          std::memcpy(i420.ptr(y), frame->data[0] + y * frame->linesize[0], size_t(w));
        uint8_t* u = i420.ptr(h);
        uint8_t* v = u + size_t(w / 2) * (h / 2);
        for (int y = 0; y < h / 2; ++y) {
          std::memcpy(u + size_t(y) * (w / 2), frame->data[1] + y * frame->linesize[1],
                      size_t(w / 2));
          std::memcpy(v + size_t(y) * (w / 2), frame->data[2] + y * frame->linesize[2],
                      size_t(w / 2));
        }
        cv::cvtColor(i420, bgr, cv::COLOR_YUV2BGR_I420);
      } else {
        sws_scale(sws, frame->data, frame->linesize, 0, frame->height, dst, dstStride);
      }
      const double t2 = threadCpuMs();
      convert += t2 - t1;
      cpu += t2 - t0;
      d.frames.push_back(bgr.clone());
    }
  };
  for (;;) {
    const double t0 = threadCpuMs();
    const int r = av_read_frame(fmt, pkt);
    if (r < 0) break;
    if (pkt->stream_index == vs) avcodec_send_packet(ctx, pkt);
    av_packet_unref(pkt);
    cpu += threadCpuMs() - t0;
    drain();
  }
  avcodec_send_packet(ctx, nullptr);
  drain();
  sws_freeContext(sws);
  av_frame_free(&frame);
  av_packet_free(&pkt);
  avcodec_free_context(&ctx);
  avformat_close_input(&fmt);
  d.cpuMsPerFrame = d.frames.empty() ? 0 : cpu / double(d.frames.size());
  d.convertMsPerFrame = d.frames.empty() ? 0 : convert / double(d.frames.size());
  return d;
}

CameraAnalyticsConfig benchConfig(const std::string& id, DetectorKind detector) {
  CameraAnalyticsConfig c;
  c.camera = core::CameraId::parse(id).value();
  c.division = core::DivisionCode::parse("510603101201").value();
  c.detector.kind = detector;
  c.zones.push_back({"lot", {{0.6f, 0.4f}, {0.98f, 0.4f}, {0.98f, 0.98f}, {0.6f, 0.98f}}});
  c.zones.push_back({"square", {{0.1f, 0.3f}, {0.9f, 0.3f}, {0.9f, 0.98f}, {0.1f, 0.98f}}});
  auto add = [&](const char* name, RuleType type, const char* zone) {
    RuleConfig r;
    r.name = name;
    r.type = type;
    r.zone = zone;
    r.cooldown = core::Duration::zero();
    r.lineA = {0.5f, 0.3f};
    r.lineB = {0.5f, 1.0f};
    c.rules.push_back(r);
  };
  add("fence", RuleType::kIntrusion, "lot");
  add("line", RuleType::kTripwire, "");
  add("loiter", RuleType::kLoitering, "square");
  add("crowd", RuleType::kCrowd, "square");
  add("tamper", RuleType::kTamper, "");
  add("motion", RuleType::kMotion, "");
  return c;
}

core::Frame asFrame(const cv::Mat& m, const core::CameraId& cam, int64_t i) {
  core::Frame f;
  f.camera = cam;
  f.width = m.cols;
  f.height = m.rows;
  f.stride = int(m.step[0]);
  f.data = m.data;
  f.size = m.total() * 3;
  f.owner = std::make_shared<cv::Mat>(m);  // shares the pixels, no copy
  f.mediaTime = std::chrono::duration_cast<core::Duration>(std::chrono::duration<double>(i / kFps));
  f.wallTime = core::WallTime(std::chrono::seconds(1'790'000'000)) + f.mediaTime;
  f.sequence = uint64_t(i);
  return f;
}

struct AnalyzerCost {
  double cpuMsPerFrame = 0;
  uint64_t events = 0;
};

AnalyzerCost analyse(const std::vector<cv::Mat>& frames, DetectorKind detector, int passes) {
  AnalyzerCost out;
  double cpu = 0;
  int n = 0;
  for (int p = 0; p < passes; ++p) {
    auto a = CameraAnalyzer::create(benchConfig("bench", detector), {}, [&](const core::Event& e) {
               out.events += e.phase == core::EventPhase::kStart;
             }).value();
    const double t0 = threadCpuMs();
    for (size_t i = 0; i < frames.size(); ++i)
      a->process(asFrame(frames[i], a->config().camera, int64_t(i)));
    cpu += threadCpuMs() - t0;
    n += int(frames.size());
  }
  out.cpuMsPerFrame = cpu / n;
  out.events /= uint64_t(passes);
  return out;
}

// Runs Debian's motion daemon on `cameras` copies of the file; CPU ms per camera-second.
double runMotion(const fs::path& dir, const fs::path& video, int cameras, int seconds,
                 std::string& note) {
  if (std::system("command -v motion >/dev/null 2>&1") != 0) {
    note = "motion not installed (apt-get install motion)";
    return -1;
  }
  fs::create_directories(dir / "motion");
  std::ofstream conf(dir / "motion" / "motion.conf");
  conf << "daemon off\nsetup_mode off\nlog_level 4\nlog_file "
       << (dir / "motion" / "motion.log").string() << "\ntarget_dir " << (dir / "motion").string()
       << "\nwebcontrol_port 0\nstream_port 0\npicture_output off\nmovie_output off\n"
          "snapshot_interval 0\nemulate_motion off\n";
  for (int i = 0; i < cameras; ++i) {
    const fs::path cam = dir / "motion" / ("camera" + std::to_string(i) + ".conf");
    std::ofstream c(cam);
    c << "camera_id " << (i + 1) << "\nnetcam_url file://" << video.string()
      << "\nnetcam_params capture_rate=5\nwidth 640\nheight 360\nframerate 5\nthreshold 1500\n";
    conf << "camera " << cam.string() << "\n";
  }
  conf.close();
  std::fflush(stdout);  // the child would write our buffered output a second time
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string log = (dir / "motion" / "stdout.log").string();
    if (!freopen(log.c_str(), "w", stdout) || !freopen(log.c_str(), "a", stderr)) _exit(127);
    execlp("motion", "motion", "-n", "-c", (dir / "motion" / "motion.conf").c_str(), nullptr);
    _exit(127);
  }
  // Let it open the cameras, then measure over a window.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  auto cpuOf = [&]() -> double {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(stat)), {});
    const auto close = s.rfind(')');
    if (close == std::string::npos) return -1;
    std::istringstream in(s.substr(close + 2));
    std::string field;
    long utime = 0, stime = 0;
    for (int k = 3; k <= 15; ++k) {
      in >> field;
      if (k == 14) utime = std::stol(field);
      if (k == 15) stime = std::stol(field);
    }
    return double(utime + stime) * 1000.0 / double(sysconf(_SC_CLK_TCK));
  };
  const double c0 = cpuOf();
  const auto w0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const double c1 = cpuOf();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  kill(pid, SIGTERM);
  int status = 0;
  for (int k = 0; k < 50 && waitpid(pid, &status, WNOHANG) == 0; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (waitpid(pid, &status, WNOHANG) == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  if (c0 < 0 || c1 < 0) {
    note = "motion exited early; see " + (dir / "motion" / "stdout.log").string();
    return -1;
  }
  return (c1 - c0) / wall / cameras;  // CPU ms per camera per wall second
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 60;
  int motionCameras = 4, motionSeconds = 30, engineCameras = 64;
  bool runMotionBaseline = true, keep = false;
  fs::path workdir =
      fs::temp_directory_path() / ("sharpeyes_analytics_bench_" + std::to_string(getpid()));
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (a == "--motion-cameras" && i + 1 < argc) {
      motionCameras = std::atoi(argv[++i]);
    } else if (a == "--motion-seconds" && i + 1 < argc) {
      motionSeconds = std::atoi(argv[++i]);
    } else if (a == "--engine-cameras" && i + 1 < argc) {
      engineCameras = std::atoi(argv[++i]);
    } else if (a == "--workdir" && i + 1 < argc) {
      workdir = argv[++i];
    } else if (a == "--keep") {
      keep = true;
    } else if (a == "--no-motion") {
      runMotionBaseline = false;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--seconds S] [--motion-cameras N] [--motion-seconds S] "
                   "[--engine-cameras N] [--workdir DIR] [--no-motion]\n",
                   argv[0]);
      return 2;
    }
  }
  cv::setNumThreads(1);
  fs::create_directories(workdir);
  const fs::path video = workdir / "sub_640x360_5fps.mp4";
  std::printf("analytics bench: 640x360 @ 5 fps, %.0f s busy simulator scene, H.264 512 kbit/s\n",
              seconds);
  if (!encode(video, seconds)) {
    std::fprintf(stderr, "ffmpeg encode failed\n");
    return 1;
  }
  const Decoded dec = decodeAll(video);
  if (dec.frames.empty()) {
    std::fprintf(stderr, "decode failed\n");
    return 1;
  }
  const AnalyzerCost base = analyse(dec.frames, DetectorKind::kNone, 3);
  const AnalyzerCost hog = analyse(dec.frames, DetectorKind::kHog, 1);
  const AnalyzerCost cascade = analyse(dec.frames, DetectorKind::kCascade, 1);

  // Raw detector calls, for scale: one track-sized region, and HOG over a whole frame.
  const cv::Mat& sample = dec.frames[dec.frames.size() / 2];
  ImageView view{sample.cols, sample.rows, int(sample.step[0]), core::PixelFormat::kBgr24,
                 sample.data};
  DetectorConfig hc;
  hc.kind = DetectorKind::kHog;
  auto hogDet = makeBuiltinDetector(hc).value();
  DetectorConfig cc;
  cc.kind = DetectorKind::kCascade;
  auto casDet = makeBuiltinDetector(cc);
  const core::BoundingBox region{0.45f, 0.4f, 0.05f, 0.18f};
  double t0 = threadCpuMs();
  for (int i = 0; i < 20; ++i) (void)hogDet->detect(view, region);
  const double hogCall = (threadCpuMs() - t0) / 20;
  double casCall = -1;
  if (casDet.ok()) {
    t0 = threadCpuMs();
    for (int i = 0; i < 20; ++i) (void)casDet.value()->detect(view, region);
    casCall = (threadCpuMs() - t0) / 20;
  }
  cv::HOGDescriptor fullHog;
  fullHog.setSVMDetector(cv::HOGDescriptor::getDefaultPeopleDetector());
  t0 = threadCpuMs();
  std::vector<cv::Rect> found;
  for (int i = 0; i < 3; ++i) fullHog.detectMultiScale(sample, found);
  const double hogFull = (threadCpuMs() - t0) / 3;

  // Engine: many cameras on the pool (2 workers on this machine); process CPU per frame.
  double engineMs = 0;
  uint64_t engineDropped = 0;
  {
    EngineOptions eo;
    eo.queueDepth = int(dec.frames.size()) + 1;  // measure cost, not drops
    Engine engine(eo, [](const core::Event&) {});
    std::vector<core::CameraId> ids;
    for (int k = 0; k < engineCameras; ++k) {
      auto c = benchConfig("cam-" + std::to_string(k), DetectorKind::kNone);
      ids.push_back(c.camera);
      (void)engine.addCamera(c);
    }
    const size_t frames = std::min<size_t>(dec.frames.size(), 100);
    const double p0 = processCpuMs();
    for (size_t i = 0; i < frames; ++i) {
      for (const auto& id : ids) engine.submit(asFrame(dec.frames[i], id, int64_t(i)));
    }
    engine.waitIdle(std::chrono::minutes(10));
    engineMs = (processCpuMs() - p0) / double(frames * ids.size());
    for (const auto& id : ids) engineDropped += engine.stats(id)->framesDropped;
  }

  const double perFrame = dec.cpuMsPerFrame + base.cpuMsPerFrame;
  const double oursPerCamSecond = kFps * perFrame;
  std::printf("\n%-46s %10s\n", "stage (CPU, one thread)", "ms/frame");
  std::printf("%-46s %10.3f\n", "decode H.264 640x360 + convert to BGR (libav)", dec.cpuMsPerFrame);
  std::printf("%-46s %10.3f\n", "  of which YUV -> BGR (OpenCV cvtColor)", dec.convertMsPerFrame);
  std::printf("%-46s %10.3f\n", "motion + tracking + rules (6 rules)", base.cpuMsPerFrame);
  std::printf("%-46s %10.3f\n", "  ... with HOG person detection (gated)", hog.cpuMsPerFrame);
  std::printf("%-46s %10.3f\n", "  ... with full-body cascade (gated)", cascade.cpuMsPerFrame);
  std::printf("%-46s %10.3f\n", "one HOG call on a track region", hogCall);
  std::printf("%-46s %10.3f\n", "one cascade call on a track region", casCall);
  std::printf("%-46s %10.3f\n", "HOG over a whole 640x360 frame (ungated)", hogFull);
  std::printf("%-46s %10.3f\n", "engine, process CPU per frame (pool)", engineMs);
  std::printf("\nevents per %.0f s pass: %llu (no detector), %llu (HOG)\n", seconds,
              (unsigned long long)base.events, (unsigned long long)hog.events);
  std::printf("engine: %d cameras x %d frames, dropped %llu\n", engineCameras,
              int(std::min<size_t>(dec.frames.size(), 100)), (unsigned long long)engineDropped);
  std::printf(
      "cameras per core at 5 fps: analytics only %.0f, decode + analytics %.0f, "
      "with HOG %.0f\n",
      1000.0 / (kFps * base.cpuMsPerFrame), 1000.0 / (kFps * perFrame),
      1000.0 / (kFps * (dec.cpuMsPerFrame + hog.cpuMsPerFrame)));
  std::printf("ours: %.2f CPU ms per camera-second (decode + analytics at 5 fps)\n",
              oursPerCamSecond);

  if (runMotionBaseline) {
    std::string note;
    const double motionMs = runMotion(workdir, video, motionCameras, motionSeconds, note);
    if (motionMs > 0) {
      std::printf("motion %s: %.2f CPU ms per camera-second (%d cameras, %d s, file:// input)\n",
                  "4.5.1", motionMs, motionCameras, motionSeconds);
      std::printf("ratio ours/motion: %.3f\n", oursPerCamSecond / motionMs);
    } else {
      std::printf("motion baseline not run: %s\n", note.c_str());
    }
  }
  std::error_code ec;
  if (!keep) fs::remove_all(workdir, ec);
  return 0;
}
