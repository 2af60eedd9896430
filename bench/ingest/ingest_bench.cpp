// bench/ingest: what does recording N cameras cost us, next to ffmpeg doing the same?
//
// A child process runs the project's camera simulator (sim::SimServer, gst-rtsp-server) with N
// cameras: 1920x1080 25 fps H.264 ~4 Mbit/s main streams with a 2 s GOP and 640x360 sub streams,
// four synthetic scenes encoded once into a cache and served round-robin (no encoding while
// serving). Then, in the same run and on the same streams:
//   1. sharpeyes IngestManager, recording only, for T seconds;
//   2. N `ffmpeg -rtsp_transport tcp -i URL -c copy -f segment -segment_time 10` processes;
//   3. sharpeyes recording again with rtpjitterbuffer instead of the TCP timestamper (the
//      ingest path before it), to show what the timestamper saves;
//   4. sharpeyes again with the analytics feed (sub stream decoded to 640x360 BGR at 5 fps);
//   5. (--native-phase) sharpeyes recording with the native RTSP reader
//      (StreamSource::Reader::kNative) instead of rtspsrc.
// Printed: CPU seconds per stream-second (getrusage of this process / wait4 of each ffmpeg),
// RSS per camera, segments written, gaps, and the ratio ours/ffmpeg.
//
// Usage: ingest_bench [--cameras N] [--seconds T] [--threads K] [--no-analytics]
//                     [--no-jitterbuffer-phase] [--no-ffmpeg-phase] [--rcvlowat BYTES]
//                     [--native-phase] [--no-default-phase] [--workdir D]
// --rcvlowat: an experiment in phase 1, see runOurs.
#include <gst/gst.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sharpeyes/ingest/ingest.h"
#include "sharpeyes/sim/sim.h"
#include "sim_child.h"

namespace fs = std::filesystem;
using namespace sharpeyes;
using namespace std::chrono_literals;

namespace {

struct Args {
  int cameras = 8;
  int seconds = 60;
  int threads = 2;
  bool analytics = true;
  bool jitterbufferPhase = true;  // also record with rtpjitterbuffer (the pre-timestamper path)
  bool ffmpegPhase = true;        // the baseline; off only to look at our own gaps quickly
  int rcvlowat = 0;  // experiment: SO_RCVLOWAT on our RTSP sockets for the second half of phase 1
  bool nativePhase = false;  // also record with the native RTSP reader
  bool defaultPhase = true;  // off: the native reader alone (with --native-phase, many cameras)
  std::string workdir = "var/bench-ingest";
};

double cpuSeconds(const rusage& r) {
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

double selfCpu() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return cpuSeconds(r);
}

double rssMiB() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  double kb = 0;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "VmRSS:", 6) == 0) kb = std::atof(line + 6);
  }
  std::fclose(f);
  return kb / 1024.0;
}

int countFiles(const fs::path& dir, const std::string& ext) {
  int n = 0;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return 0;
  for (auto& e : fs::recursive_directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().extension() == ext) ++n;
  return n;
}

// The simulator's path of camera `i` (1-based): cam01.., or cam001.. from 100 cameras on.
std::string camUrl(int port, int i, int cameras, const char* stream) {
  return "rtsp://127.0.0.1:" + std::to_string(port) + "/" + sim::simCameraName(i - 1, cameras) +
         "/" + stream;
}

class BenchListener : public ingest::Listener {
 public:
  void onStateChanged(const ingest::CameraStatus& s) override {
    if (s.state != ingest::CameraState::kStreaming && s.state != ingest::CameraState::kConnecting &&
        s.state != ingest::CameraState::kStopped) {
      troubles.fetch_add(1);
    }
  }
  void onSegmentClosed(const ingest::SegmentClosed& seg) override {
    std::lock_guard lock(mutex);
    segs[seg.camera.str()].push_back(seg);
  }
  void onFrame(const core::Frame&) override { frames.fetch_add(1); }

  // Gaps between consecutive segments of a camera longer than one frame interval (40 ms).
  int gaps() {
    std::lock_guard lock(mutex);
    int n = 0;
    for (auto& [cam, v] : segs) {
      for (size_t i = 1; i < v.size(); ++i) {
        const auto gap = v[i].start - (v[i - 1].start + v[i - 1].mediaDuration);
        if (std::chrono::abs(gap) > 40ms) {
          ++n;
          std::fprintf(stderr, "gap %s segment %zu: %.3f s\n", cam.c_str(), i,
                       std::chrono::duration<double>(gap).count());
        }
      }
    }
    return n;
  }
  size_t segments() {
    std::lock_guard lock(mutex);
    size_t n = 0;
    for (auto& [cam, v] : segs) n += v.size();
    return n;
  }
  std::atomic<int> troubles{0};
  std::atomic<uint64_t> frames{0};
  std::mutex mutex;
  std::map<std::string, std::vector<ingest::SegmentClosed>> segs;
};

struct Result {
  double cpu = 0;
  double rssPerCamMiB = 0;
  size_t segments = 0;
  int gaps = 0;
  int troubles = 0;
  uint64_t frames = 0;
  double streamingAtEnd = 0;
};

Result runOurs(const Args& a, int port, bool analytics, const fs::path& out,
               bool jitterbuffer = false, bool native = false) {
  fs::remove_all(out);
  fs::create_directories(out);
  BenchListener listener;
  ingest::IngestOptions o;
  o.threads = a.threads;
  auto m = ingest::IngestManager::create(o, listener);
  if (!m.ok()) {
    std::fprintf(stderr, "%s\n", m.error().describe().c_str());
    std::exit(1);
  }
  auto mgr = std::move(m).value();
  const double rss0 = rssMiB();
  const double cpu0 = selfCpu();
  for (int i = 1; i <= a.cameras; ++i) {
    ingest::CameraConfig c;
    c.id = core::CameraId::parse("cam" + std::to_string(i)).value();
    c.main.url = camUrl(port, i, a.cameras, "main");
    c.main.jitterBufferOverTcp = jitterbuffer;
    if (native) c.main.reader = ingest::StreamSource::Reader::kNative;
    c.recording.directory = out.string();
    c.recording.segmentLength = 10s;
    c.health.stallTimeout = 5s;
    // Start-up storm: one server process prepares N media at once; give it time.
    c.health.connectTimeout = 30s;
    if (analytics) {
      c.sub = ingest::StreamSource{camUrl(port, i, a.cameras, "sub")};
      c.analytics.enabled = true;
      c.analytics.width = 640;
      c.analytics.height = 360;
      c.analytics.fps = 5;
    }
    if (auto r = mgr->addCamera(c); !r) std::fprintf(stderr, "%s\n", r.error().describe().c_str());
  }
  if (a.rcvlowat > 0 && !jitterbuffer && !analytics && !native) {
    // Experiment (how much do per-packet wakeups cost?): a third to settle, a third as is, a
    // third with every TCP socket of this process connected to the server waking its reader only
    // once `rcvlowat` bytes are queued. rtspsrc does not expose its socket: hence the fd scan.
    const int third = a.seconds / 3;
    std::this_thread::sleep_for(std::chrono::seconds(third));
    const double m0 = selfCpu();
    std::this_thread::sleep_for(std::chrono::seconds(third));
    const double m1 = selfCpu();
    int set = 0;
    for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
      const int fd = std::atoi(e.path().filename().c_str());
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0 ||
          peer.sin_family != AF_INET || ntohs(peer.sin_port) != port)
        continue;
      if (setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &a.rcvlowat, sizeof a.rcvlowat) == 0) ++set;
    }
    std::this_thread::sleep_for(std::chrono::seconds(third));
    const double m2 = selfCpu();
    const double span = static_cast<double>(a.cameras) * third;
    std::printf(
        "rcvlowat experiment: %d sockets; as is %.5f, with SO_RCVLOWAT %d %.5f cpu "
        "s/stream-s, ratio %.3f\n",
        set, (m1 - m0) / span, a.rcvlowat, (m2 - m1) / span, (m2 - m1) / (m1 - m0));
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::seconds(a.seconds - 3 * third));
  } else {
    std::this_thread::sleep_for(std::chrono::seconds(a.seconds));  // the measured interval
  }
  Result r;
  int streaming = 0;
  for (const auto& s : mgr->status())
    if (s.state == ingest::CameraState::kStreaming) ++streaming;
  r.streamingAtEnd = streaming;
  r.rssPerCamMiB = (rssMiB() - rss0) / a.cameras;
  mgr->stop();
  r.cpu = selfCpu() - cpu0;
  r.segments = listener.segments();
  r.gaps = listener.gaps();
  r.troubles = listener.troubles.load();
  r.frames = listener.frames.load();
  return r;
}

Result runFfmpeg(const Args& a, int port, const fs::path& out) {
  fs::remove_all(out);
  std::vector<pid_t> pids;
  for (int i = 1; i <= a.cameras; ++i) {
    const fs::path dir = out / ("cam" + std::to_string(i));
    fs::create_directories(dir);
    const std::string url = camUrl(port, i, a.cameras, "main");
    const std::string pattern = (dir / "seg%05d.mp4").string();
    const pid_t pid = fork();
    if (pid == 0) {
      execlp("ffmpeg", "ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i",
             url.c_str(), "-c", "copy", "-f", "segment", "-segment_time", "10",
             "-segment_format_options", "movflags=frag_keyframe+empty_moov", "-reset_timestamps",
             "1", pattern.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    pids.push_back(pid);
  }
  std::this_thread::sleep_for(std::chrono::seconds(a.seconds));
  Result r;
  double rssKb = 0;
  for (pid_t p : pids) kill(p, SIGINT);  // ffmpeg finishes its open segment on SIGINT
  const auto killAt = std::chrono::steady_clock::now() + 20s;
  for (pid_t p : pids) {
    int status = 0;
    rusage ru{};
    // An ffmpeg still stuck connecting may ignore SIGINT: SIGKILL after 20 s.
    while (wait4(p, &status, WNOHANG, &ru) == 0) {
      if (std::chrono::steady_clock::now() > killAt) kill(p, SIGKILL);
      std::this_thread::sleep_for(50ms);
    }
    r.cpu += cpuSeconds(ru);
    rssKb += static_cast<double>(ru.ru_maxrss);
  }
  r.rssPerCamMiB = rssKb / 1024.0 / a.cameras;
  r.segments = static_cast<size_t>(countFiles(out, ".mp4"));
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  bench::serveSimulatorIfChild(argc, argv);
  Args a;
  bool serveOnly = false;  // debugging: just serve the cameras and print the port
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (k == "--cameras")
      a.cameras = std::atoi(next().c_str());
    else if (k == "--seconds")
      a.seconds = std::atoi(next().c_str());
    else if (k == "--threads")
      a.threads = std::atoi(next().c_str());
    else if (k == "--no-analytics")
      a.analytics = false;
    else if (k == "--no-jitterbuffer-phase")
      a.jitterbufferPhase = false;
    else if (k == "--no-ffmpeg-phase")
      a.ffmpegPhase = false;
    else if (k == "--rcvlowat")
      a.rcvlowat = std::atoi(next().c_str());
    else if (k == "--workdir")
      a.workdir = next();
    else if (k == "--native-phase")
      a.nativePhase = true;
    else if (k == "--no-default-phase")
      a.defaultPhase = false;
    else if (k == "--serve-only")
      serveOnly = true;
    else {
      std::fprintf(
          stderr,
          "usage: ingest_bench [--cameras N] [--seconds T] [--threads K] "
          "[--no-analytics] [--no-jitterbuffer-phase] [--no-ffmpeg-phase] [--rcvlowat BYTES] "
          "[--native-phase] [--no-default-phase] [--workdir D]\n");
      return 2;
    }
  }
  if (a.cameras < 1 || a.seconds < 5) {
    std::fprintf(stderr, "ingest_bench: need --cameras >= 1 and --seconds >= 5\n");
    return 2;
  }
  const fs::path work = fs::absolute(a.workdir);
  fs::create_directories(work / "cache");
  const std::string cacheDir = (work / "cache").string();
  std::printf("simulator cache: %s (encoded on first use)\n", cacheDir.c_str());
  std::fflush(stdout);

  // Every camera the simulator's four scenes, round-robin.
  const auto startServer = [&](pid_t& pid) {
    const int port = bench::startSimulator(a.cameras, 4, cacheDir, pid);
    if (port == 0) {
      std::fprintf(stderr, "ingest_bench: the simulator did not start\n");
      std::exit(1);
    }
    return port;
  };
  const auto stopServer = [](pid_t pid) { bench::stopSimulator(pid); };

  if (serveOnly) {
    pid_t pid = 0;
    std::printf("serving %d cameras on rtsp://127.0.0.1:%d/%s.. (main, sub)\n", a.cameras,
                startServer(pid), sim::simCameraName(0, a.cameras).c_str());
    std::fflush(stdout);
    waitpid(pid, nullptr, 0);
    return 0;
  }
  const double streamSeconds = static_cast<double>(a.cameras) * a.seconds;
  std::printf("%d cameras x %d s, %d ingest threads, %ld cores\n", a.cameras, a.seconds, a.threads,
              sysconf(_SC_NPROCESSORS_ONLN));
  std::fflush(stdout);

  // A fresh simulator per phase: every phase starts at the loops' beginning.
  pid_t server = 0;
  int port = 0;
  Result ours;
  if (a.defaultPhase) {
    port = startServer(server);
    ours = runOurs(a, port, false, work / "ours");
    stopServer(server);
  }
  Result ff;
  if (a.ffmpegPhase) {
    port = startServer(server);
    ff = runFfmpeg(a, port, work / "ffmpeg");
    stopServer(server);
  }
  Result withJitterbuffer;
  if (a.jitterbufferPhase) {
    port = startServer(server);
    withJitterbuffer = runOurs(a, port, false, work / "ours-jitterbuffer", true);
    stopServer(server);
  }
  Result native;
  if (a.nativePhase) {
    port = startServer(server);
    native = runOurs(a, port, false, work / "ours-native", false, true);
    stopServer(server);
  }
  Result withAnalytics;
  if (a.analytics) {
    port = startServer(server);
    withAnalytics = runOurs(a, port, true, work / "ours-analytics");
    stopServer(server);
  }

  std::printf("\n%-28s %14s %12s %9s %6s %9s\n", "", "cpu s/stream-s", "RSS MiB/cam", "segments",
              "gaps", "streaming");
  std::printf("%-28s %14.5f %12.2f %9zu %6d %6.0f/%d\n", "sharpeyes (default)",
              ours.cpu / streamSeconds, ours.rssPerCamMiB, ours.segments, ours.gaps,
              ours.streamingAtEnd, a.cameras);
  std::printf("%-28s %14.5f %12.2f %9zu %6s\n", "ffmpeg -c copy -f segment", ff.cpu / streamSeconds,
              ff.rssPerCamMiB, ff.segments, "-");
  std::printf("ratio sharpeyes/ffmpeg (cpu): %.3f\n", ff.cpu > 0 ? ours.cpu / ff.cpu : 0.0);
  if (a.jitterbufferPhase) {
    std::printf("%-28s %14.5f %12.2f %9zu %6d %6.0f/%d\n", "sharpeyes (tcp_jitter_buffer)",
                withJitterbuffer.cpu / streamSeconds, withJitterbuffer.rssPerCamMiB,
                withJitterbuffer.segments, withJitterbuffer.gaps, withJitterbuffer.streamingAtEnd,
                a.cameras);
    std::printf("ratio with rtpjitterbuffer/ffmpeg (cpu): %.3f; timestamper/jitterbuffer: %.3f\n",
                ff.cpu > 0 ? withJitterbuffer.cpu / ff.cpu : 0.0,
                withJitterbuffer.cpu > 0 ? ours.cpu / withJitterbuffer.cpu : 0.0);
  }
  if (a.nativePhase) {
    std::printf("%-28s %14.5f %12.2f %9zu %6d %6.0f/%d\n", "sharpeyes (native reader)",
                native.cpu / streamSeconds, native.rssPerCamMiB, native.segments, native.gaps,
                native.streamingAtEnd, a.cameras);
    std::printf("ratio native reader/default (cpu): %.3f; native reader/ffmpeg: %.3f\n",
                ours.cpu > 0 ? native.cpu / ours.cpu : 0.0, ff.cpu > 0 ? native.cpu / ff.cpu : 0.0);
  }
  if (a.analytics) {
    std::printf("%-28s %14.5f %12.2f %9zu %6d %6.0f/%d\n", "sharpeyes (rec + analytics)",
                withAnalytics.cpu / streamSeconds, withAnalytics.rssPerCamMiB,
                withAnalytics.segments, withAnalytics.gaps, withAnalytics.streamingAtEnd,
                a.cameras);
    std::printf(
        "analytics feed cost per camera: %.5f cpu s/stream-s (%.1f%% of a core), "
        "%.1f frames/s/camera handed\n",
        (withAnalytics.cpu - ours.cpu) / streamSeconds,
        100.0 * (withAnalytics.cpu - ours.cpu) / streamSeconds,
        static_cast<double>(withAnalytics.frames) / streamSeconds);
  }
  std::printf(
      "state troubles (stalled/reconnecting/offline transitions): ours %d%s\n", ours.troubles,
      a.analytics ? (", with analytics " + std::to_string(withAnalytics.troubles)).c_str() : "");
  return 0;
}
