// bench/ingest: what does receiving N cameras cost with the native RTSP-over-TCP reader
// (ingest/src/rtsp_tcp_client.h), next to rtspsrc doing the same?
//
// A child process runs the camera simulator (sim::SimServer: N cameras, main stream 1920x1080
// 25 fps H.264 ~4 Mbit/s, 2 s GOP, served from its encode-once cache). Then, in the same run and
// on the same streams, one phase after the other:
//   native:  one RtspTcpClient per camera, each on its own thread, counting access units/bytes;
//   rtspsrc: one `rtspsrc protocols=tcp ! rtph264depay ! h264parse ! fakesink` pipeline per
//            camera (gst_parse_launch), access units counted by a probe on the parser's output.
// Each phase connects every camera, waits until all of them deliver, warms up, then measures for
// T seconds: this process's CPU (getrusage) and the simulator's (/proc/PID/stat), per
// stream-second. Printed: both figures, the ratio native/rtspsrc, access units per second and
// the stream bitrate actually received.
//
// Usage: native_reader_bench [--cameras N] [--seconds T] [--warmup S] [--cache-dir D]
//                            [--order native-first|rtspsrc-first] [--lowat-ms MS]
#include <gst/gst.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "rtsp_tcp_client.h"
#include "sharpeyes/sim/sim.h"
#include "sim_child.h"

using namespace sharpeyes;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  int cameras = 16;
  int seconds = 30;
  int warmup = 3;
  std::string cacheDir = "var/sim-cache";
  bool nativeFirst = true;
  int lowatMs = 50;
};

double selfCpu() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

// utime + stime of another process, from /proc/PID/stat (fields 14 and 15).
double processCpu(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = text.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::atof(field.c_str());
    if (i == 15) stime = std::atof(field.c_str());
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string loadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

struct Counters {
  std::atomic<uint64_t> units{0};
  std::atomic<uint64_t> bytes{0};
};

struct PhaseResult {
  double cpuPerStreamSecond = 0;
  double simCpuPerStreamSecond = 0;
  double unitsPerCameraSecond = 0;
  double mbitPerCamera = 0;
  int delivering = 0;
  std::string load;
};

// Waits until every camera delivered, warms up, measures.
PhaseResult measure(const Args& a, pid_t sim, const std::vector<std::unique_ptr<Counters>>& c) {
  const auto deadline = Clock::now() + 60s;
  int delivering = 0;
  while (Clock::now() < deadline) {
    delivering = 0;
    for (const auto& k : c) delivering += k->units.load() > 0 ? 1 : 0;
    if (delivering == a.cameras) break;
    std::this_thread::sleep_for(100ms);
  }
  std::this_thread::sleep_for(std::chrono::seconds(a.warmup));
  uint64_t units0 = 0, bytes0 = 0;
  for (const auto& k : c) {
    units0 += k->units.load();
    bytes0 += k->bytes.load();
  }
  const double cpu0 = selfCpu();
  const double sim0 = processCpu(sim);
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(a.seconds));
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu1 = selfCpu();
  const double sim1 = processCpu(sim);
  uint64_t units1 = 0, bytes1 = 0;
  for (const auto& k : c) {
    units1 += k->units.load();
    bytes1 += k->bytes.load();
  }
  PhaseResult r;
  const double streamSeconds = wall * a.cameras;
  r.cpuPerStreamSecond = (cpu1 - cpu0) / streamSeconds;
  r.simCpuPerStreamSecond = (sim1 - sim0) / streamSeconds;
  r.unitsPerCameraSecond = static_cast<double>(units1 - units0) / streamSeconds;
  r.mbitPerCamera = static_cast<double>(bytes1 - bytes0) * 8 / 1e6 / streamSeconds;
  r.delivering = delivering;
  r.load = loadAverage();
  return r;
}

PhaseResult runNative(const Args& a, pid_t sim, int port) {
  std::vector<std::unique_ptr<Counters>> counters;
  std::vector<std::unique_ptr<ingest::RtspTcpClient>> clients;
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (int i = 0; i < a.cameras; ++i) {
    counters.push_back(std::make_unique<Counters>());
    ingest::RtspTcpOptions o;
    o.url = "rtsp://127.0.0.1:" + std::to_string(port) + "/" + sim::simCameraName(i, a.cameras) +
            "/main";
    o.lowatLatency = std::chrono::milliseconds(a.lowatMs);
    clients.push_back(std::make_unique<ingest::RtspTcpClient>(o));
  }
  threads.reserve(static_cast<size_t>(a.cameras));
  for (int i = 0; i < a.cameras; ++i) {
    threads.emplace_back([&, i] {
      Counters& k = *counters[i];
      auto r = clients[i]->run(nullptr, [&k](ingest::AccessUnit& au) {
        k.units.fetch_add(1, std::memory_order_relaxed);
        k.bytes.fetch_add(au.data.size(), std::memory_order_relaxed);
      });
      if (!r.ok()) {
        failed.fetch_add(1);
        std::fprintf(stderr, "native %s: %s\n", sim::simCameraName(i, a.cameras).c_str(),
                     r.error().describe().c_str());
      }
    });
  }
  PhaseResult r = measure(a, sim, counters);
  for (auto& c : clients) c->stop();
  for (auto& t : threads) t.join();
  uint64_t lowatSum = 0;
  for (auto& c : clients) lowatSum += static_cast<uint64_t>(c->stats().rcvlowat);
  std::printf("  native: %d/%d delivering, %d ended with an error, mean SO_RCVLOWAT %llu B\n",
              r.delivering, a.cameras, failed.load(),
              static_cast<unsigned long long>(lowatSum / clients.size()));
  return r;
}

GstPadProbeReturn countBuffer(GstPad*, GstPadProbeInfo* info, gpointer data) {
  auto* k = static_cast<Counters*>(data);
  if (GstBuffer* b = GST_PAD_PROBE_INFO_BUFFER(info)) {
    k->units.fetch_add(1, std::memory_order_relaxed);
    k->bytes.fetch_add(gst_buffer_get_size(b), std::memory_order_relaxed);
  }
  return GST_PAD_PROBE_OK;
}

PhaseResult runRtspsrc(const Args& a, pid_t sim, int port) {
  std::vector<std::unique_ptr<Counters>> counters;
  std::vector<GstElement*> pipelines;
  for (int i = 0; i < a.cameras; ++i) {
    counters.push_back(std::make_unique<Counters>());
    const std::string desc = "rtspsrc location=rtsp://127.0.0.1:" + std::to_string(port) + "/" +
                             sim::simCameraName(i, a.cameras) +
                             "/main protocols=tcp ! rtph264depay ! h264parse name=parse ! "
                             "fakesink sync=false";
    GError* err = nullptr;
    GstElement* p = gst_parse_launch(desc.c_str(), &err);
    if (p == nullptr) {
      std::fprintf(stderr, "gst_parse_launch: %s\n", err ? err->message : "?");
      std::exit(1);
    }
    GstElement* parse = gst_bin_get_by_name(GST_BIN(p), "parse");
    GstPad* src = gst_element_get_static_pad(parse, "src");
    gst_pad_add_probe(src, GST_PAD_PROBE_TYPE_BUFFER, countBuffer, counters.back().get(), nullptr);
    gst_object_unref(src);
    gst_object_unref(parse);
    gst_element_set_state(p, GST_STATE_PLAYING);
    pipelines.push_back(p);
  }
  PhaseResult r = measure(a, sim, counters);
  int errors = 0;
  for (GstElement* p : pipelines) {
    GstBus* bus = gst_element_get_bus(p);
    while (GstMessage* m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR)) {
      ++errors;
      gst_message_unref(m);
    }
    gst_object_unref(bus);
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(p);
  }
  std::printf("  rtspsrc: %d/%d delivering, %d error messages\n", r.delivering, a.cameras, errors);
  return r;
}

void print(const char* name, const PhaseResult& r) {
  std::printf("| %s | %.5f | %.5f | %.2f | %.2f | %s |\n", name, r.cpuPerStreamSecond,
              r.simCpuPerStreamSecond, r.unitsPerCameraSecond, r.mbitPerCamera, r.load.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  bench::serveSimulatorIfChild(argc, argv);
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--cameras") {
      a.cameras = std::atoi(next().c_str());
    } else if (k == "--seconds") {
      a.seconds = std::atoi(next().c_str());
    } else if (k == "--warmup") {
      a.warmup = std::atoi(next().c_str());
    } else if (k == "--cache-dir") {
      a.cacheDir = next();
    } else if (k == "--lowat-ms") {
      a.lowatMs = std::atoi(next().c_str());
    } else if (k == "--order") {
      a.nativeFirst = next() != "rtspsrc-first";
    } else {
      std::fprintf(stderr,
                   "usage: native_reader_bench [--cameras N] [--seconds T] [--warmup S] "
                   "[--cache-dir D] [--order native-first|rtspsrc-first] [--lowat-ms MS]\n");
      return 2;
    }
  }
  if (a.cameras < 1 || a.cameras > 999 || a.seconds < 1) {
    std::fprintf(stderr, "native_reader_bench: bad --cameras or --seconds\n");
    return 2;
  }

  // Every camera the same encoded loop: encoded once, served N times.
  pid_t sim = 0;
  const int port = bench::startSimulator(a.cameras, 1, a.cacheDir, sim);
  if (port == 0) {
    std::fprintf(stderr, "native_reader_bench: the simulator did not start\n");
    return 1;
  }
  gst_init(&argc, &argv);
  std::printf(
      "%d cameras x %d s (after %d s warm-up), simulator pid %d on port %d, %ld cores, "
      "load %s\n",
      a.cameras, a.seconds, a.warmup, static_cast<int>(sim), port, sysconf(_SC_NPROCESSORS_ONLN),
      loadAverage().c_str());
  std::fflush(stdout);

  PhaseResult native, rtspsrc;
  if (a.nativeFirst) {
    native = runNative(a, sim, port);
    rtspsrc = runRtspsrc(a, sim, port);
  } else {
    rtspsrc = runRtspsrc(a, sim, port);
    native = runNative(a, sim, port);
  }
  bench::stopSimulator(sim);

  std::printf(
      "\n| path | cpu s/stream-s | simulator cpu s/stream-s | AU/s per camera | "
      "Mbit/s per camera | load at end |\n| --- | --- | --- | --- | --- | --- |\n");
  print("native reader", native);
  print("rtspsrc ! rtph264depay ! h264parse", rtspsrc);
  std::printf("\nratio native/rtspsrc: %.3f\n",
              rtspsrc.cpuPerStreamSecond > 0
                  ? native.cpuPerStreamSecond / rtspsrc.cpuPerStreamSecond
                  : 0.0);
  return 0;
}
