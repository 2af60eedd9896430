// api_test_server: the API, the embedded page and live video on InMemoryBackend, for the browser
// test and the API benchmark (not the gateway: app/ wires the real modules). Live video comes
// from a real encoder: ffmpeg's test source encoded to H.264 and muxed as fragmented MP4 on a
// pipe, pushed into LiveVideoHub::pushBytes like ingest will. Prints "LISTENING <port>" once
// ready; runs until SIGINT/SIGTERM. POST /test/alert raises a red alert (test hook; this binary
// only).
//   api_test_server [--port N] [--work DIR] [--no-live] [--threads N]

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include "sharpeyes/api/api_service.h"
#include "sharpeyes/api/in_memory_backend.h"
#include "sharpeyes/core/util.h"

using namespace sharpeyes;
using namespace sharpeyes::api;
namespace fs = std::filesystem;

namespace {

core::DivisionCode div(const char* s) {
  return *core::DivisionCode::parse(s);
}

bool run(const std::string& cmd) {
  return std::system(cmd.c_str()) == 0;
}

struct Cam {
  const char* id;
  const char* name;
  const char* division;
  bool ptz;
  const char* state;
  const char* reason;
  bool tampered;
};

const Cam kCams[] = {
    {"cam-01", "村口主路", "510603101201", false, "streaming", "", false},
    {"cam-02", "村委会", "510603101201", true, "streaming", "", false},
    {"cam-03", "学校门口", "510603101202", false, "streaming", "", false},
    {"cam-04", "卫生室", "510603101202", false, "offline", "no answer to RTSP DESCRIBE", false},
    {"cam-05", "集市十字路口", "510603102201", false, "streaming", "", false},
    {"cam-06", "河堤", "510603102201", false, "stalled", "no video for 10 s", true},
    {"cam-07", "桥头卡口", "510603102203", true, "streaming", "", false},
    {"cam-08", "镇政府广场", "510603102203", false, "streaming", "", false},
};

}  // namespace

int main(int argc, char** argv) {
  uint16_t port = 0;
  int threads = 2;
  bool liveVideo = true;
  fs::path work = fs::temp_directory_path() / ("sharpeyes-api-server-" + core::newId());
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--port" && i + 1 < argc)
      port = static_cast<uint16_t>(std::stoi(argv[++i]));
    else if (a == "--work" && i + 1 < argc)
      work = argv[++i];
    else if (a == "--threads" && i + 1 < argc)
      threads = std::stoi(argv[++i]);
    else if (a == "--no-live")
      liveVideo = false;
    else {
      std::cerr << "usage: api_test_server [--port N] [--work DIR] [--threads N] [--no-live]\n";
      return 2;
    }
  }
  fs::create_directories(work);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // threads inherit; main waits with sigwait

  std::string rec = (work / "recording.mp4").string(), snap = (work / "snapshot.jpg").string();
  if (!fs::exists(rec) &&
      !run("ffmpeg -nostdin -loglevel error -y -f lavfi -i testsrc2=size=640x360:rate=25 -t 20 "
           "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 25 -movflags +faststart '" +
           rec + "'")) {
    std::cerr << "ffmpeg failed to make the test recording\n";
    return 1;
  }
  if (!fs::exists(snap) && !run("ffmpeg -nostdin -loglevel error -y -f lavfi -i "
                                "testsrc2=size=640x360 -frames:v 1 '" +
                                snap + "'")) {
    std::cerr << "ffmpeg failed to make the snapshot\n";
    return 1;
  }

  InMemoryBackend backend(work.string());
  auto now = core::processClock().now();
  using std::chrono::minutes;
  int n = 0;
  for (const auto& c : kCams) {
    CameraInfo info;
    info.id = *core::CameraId::parse(c.id);
    info.name = c.name;
    info.division = div(c.division);
    info.ptz = c.ptz;
    info.hasSubStream = true;
    info.mainUrl = std::string("rtsp://10.0.0.") + std::to_string(10 + n) + "/main";
    backend.putCamera(info);
    CameraState s;
    s.id = info.id;
    s.state = c.state;
    s.reason = c.reason;
    s.since = now - minutes(37 + 11 * n);
    s.fps = s.state == "streaming" ? 25 : 0;
    s.bitrateKbps = s.state == "streaming" ? 4096 : 0;
    s.tampered = c.tampered;
    if (c.tampered) s.tamperedSince = now - minutes(12);
    backend.setState(s);
    backend.addRecording(info.id, {now - minutes(60), now - minutes(45)}, rec);
    backend.addRecording(info.id, {now - minutes(30), now}, rec);
    // History: a few events, some raising alerts.
    for (int k = 0; k < 3; ++k) {
      core::Event e;
      e.id = core::newId();
      e.camera = info.id;
      e.division = info.division;
      e.type = k == 0 ? core::EventType::kIntrusion
                      : (k == 1 ? core::EventType::kTripwire : core::EventType::kLoitering);
      e.objectClass = k == 1 ? "vehicle" : "person";
      e.severity = 1 + (n + k) % 4;
      e.rule = k == 0 ? "电子围栏" : (k == 1 ? "虚拟卡口" : "徘徊检测");
      e.start = now - minutes(5 + 9 * k + n);
      e.clipStart = e.start - std::chrono::seconds(10);
      e.clipEnd = e.start + std::chrono::seconds(20);
      e.snapshotPath = snap;
      if (k == 0) {
        backend.raiseAlert(e);
      } else {
        backend.addEvent(e);
      }
    }
    ++n;
  }

  UserStore users((work / "users.json").string(), 20000);
  (void)users.addUser("admin", "admin-pass-1", Role::kAdmin, std::nullopt, "系统管理员");
  (void)users.addUser("op", "operator-pass", Role::kOperator, div("510603000000"),
                      "县综治中心值班员");
  (void)users.addUser("inv", "investigator", Role::kInvestigator, div("510603000000"),
                      "派出所民警");
  (void)users.addUser("va", "village-a-pass", Role::kViewer, div("510603101201"), "一村平台");

  LiveVideoHub live;
  ApiService service(backend, users, live, ApiOptions{});
  HttpServerOptions opts;
  opts.port = port;
  opts.threads = threads;
  HttpServer server(opts);
  auto r = service.registerRoutes(server);
  if (r) {
    r = server.route("POST", "/test/alert", [&](const HttpRequest& req) {
      core::Event e;
      e.id = core::newId();
      e.camera = *core::CameraId::parse(req.queryParam("camera").value_or("cam-01"));
      auto cam = backend.getCamera(e.camera);
      if (!cam) return HttpResponse::error(404, "not_found", "camera");
      e.division = cam->division;
      e.type = core::EventType::kIntrusion;
      e.objectClass = "person";
      e.severity = 4;
      e.rule = "电子围栏";
      e.start = core::processClock().now();
      e.clipStart = e.start - std::chrono::seconds(10);
      e.clipEnd = e.start + std::chrono::seconds(20);
      e.snapshotPath = snap;
      Alert a = backend.raiseAlert(e);
      service.publishAlert(a);
      return HttpResponse::json(201, "{\"id\":\"" + a.id + "\"}");
    });
  }
  if (r) {
    r = server.route("GET", "/healthz",
                     [](const HttpRequest&) { return HttpResponse::text(200, "ok\n"); });
  }
  if (r) r = server.start();
  if (!r) {
    std::cerr << "api_test_server: " << r.error().describe() << "\n";
    return 1;
  }

  std::atomic<bool> stopping{false};
  pid_t ffmpegPid = -1;
  int pipeFd = -1;
  std::thread feeder;
  if (liveVideo) {
    int fds[2];
    if (pipe(fds) == 0) {
      ffmpegPid = fork();
      if (ffmpegPid == 0) {
        pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execlp("ffmpeg", "ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
               "testsrc2=size=640x360:rate=25", "-c:v", "libx264", "-preset", "ultrafast", "-tune",
               "zerolatency", "-pix_fmt", "yuv420p", "-g", "25", "-f", "mp4", "-movflags",
               "empty_moov+default_base_moof+frag_keyframe", "-frag_duration", "200000", "pipe:1",
               static_cast<char*>(nullptr));
        _exit(127);
      }
      close(fds[1]);
      pipeFd = fds[0];
      feeder = std::thread([&] {
        std::vector<char> buf(1 << 16);
        ssize_t got;
        while (!stopping.load() && (got = read(pipeFd, buf.data(), buf.size())) > 0) {
          for (const auto& c : kCams) {
            if (std::string(c.state) != "streaming") continue;
            auto id = *core::CameraId::parse(c.id);
            std::string_view chunk(buf.data(), static_cast<size_t>(got));
            live.pushBytes(id, StreamKind::kSub, chunk);
            live.pushBytes(id, StreamKind::kMain, chunk);
          }
        }
      });
    }
  }
  std::cout << "LISTENING " << server.port() << std::endl;
  int sig = 0;
  do {
    sigwait(&set, &sig);
  } while (sig == SIGPIPE);
  stopping = true;
  server.stop();
  if (ffmpegPid > 0) {
    kill(ffmpegPid, SIGTERM);  // its stdout closes, the feeder sees EOF
    waitpid(ffmpegPid, nullptr, 0);
  }
  if (feeder.joinable()) feeder.join();
  if (pipeFd >= 0) close(pipeFd);
  fs::remove_all(work);
  return 0;
}
