// bench/onvif: (1) time to discover and resolve N simulated cameras (multicast WS-Discovery on
// loopback, then GetSystemDateAndTime + GetDeviceInformation + GetCapabilities + GetProfiles +
// 2x GetStreamUri + GetSnapshotUri per camera on an OnvifRuntime pool); (2) client CPU per camera
// for keeping N pull-point subscriptions alive (1 s poll). The simulated device runs in a forked
// child so getrusage(RUSAGE_SELF) is the client alone.
//
// Baseline, same run: the same number of HTTP round trips made by a minimal raw-socket client
// (one fixed unauthenticated GetSystemDateAndTime POST each), i.e. the transport floor. Ratios
// are ours / baseline.
//
// Usage: onvif_bench [cameras=100] [subscriptionSeconds=10]

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sharpeyes/onvif/client.h"
#include "sharpeyes/onvif/discovery.h"
#include "sharpeyes/onvif/runtime.h"
#include "sharpeyes/sim/onvif_device.h"
#include "sim_fixture.h"

using namespace std::chrono_literals;
using namespace sharpeyes;
using Clock = std::chrono::steady_clock;

namespace {

double cpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Child: sim + device; writes "httpPort discoveryPort\n" to `fd`, then serves until killed.
[[noreturn]] void runDevice(int cameras, int fd, uint16_t discoveryPort) {
  auto opts = sharpeyes::testing::smallSimOptions(cameras, {});
  opts.distinctScenes = 1;
  auto sim = sim::SimServer::start(opts);
  if (!sim.ok()) {
    std::fprintf(stderr, "sim: %s\n", sim.error().describe().c_str());
    _exit(1);
  }
  sim::OnvifDeviceOptions o;
  o.username = "admin";
  o.password = "bench";
  o.discoveryPort = discoveryPort;
  o.threads = 8;
  auto d = sim::OnvifDevice::start(**sim, o);
  if (!d.ok()) {
    std::fprintf(stderr, "device: %s\n", d.error().describe().c_str());
    _exit(1);
  }
  std::string line =
      std::to_string((*d)->httpPort()) + " " + std::to_string((*d)->discoveryPort()) + "\n";
  for (int i = 0; i < cameras; ++i) line += (*d)->deviceUrl(i) + "\n";
  (void)!write(fd, line.data(), line.size());
  close(fd);
  for (;;) pause();
}

uint16_t freeUdpPort() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

const std::vector<std::string>* gUrls = nullptr;

bool rawRoundTrip(uint16_t port, const std::string& path) {
  static const std::string body =
      "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\">"
      "<s:Body><GetSystemDateAndTime xmlns=\"http://www.onvif.org/ver10/device/wsdl\"/>"
      "</s:Body></s:Envelope>";
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return false;
  }
  const std::string req = "POST " + path +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                          "application/soap+xml\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  char buf[8192];
  bool ok = false;
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) ok = true;
  ::close(fd);
  return ok;
}

// Runs `total` raw round trips on `threads` threads; returns wall seconds.
double rawBaseline(uint16_t port, int cameras, int perCamera, int threads, double* cpu) {
  std::atomic<int> next{0};
  const double cpu0 = cpuSeconds();
  const auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i; (i = next++) < cameras * perCamera;) {
        const std::string& u = (*gUrls)[static_cast<size_t>(i % cameras)];
        rawRoundTrip(port, u.substr(u.find("/onvif/")));
      }
    });
  }
  for (auto& t : pool) t.join();
  *cpu = cpuSeconds() - cpu0;
  return secondsSince(t0);
}

}  // namespace

int main(int argc, char** argv) {
  const int cameras = argc > 1 ? std::atoi(argv[1]) : 100;
  const double subSeconds = argc > 2 ? std::atof(argv[2]) : 10;
  int fds[2];
  if (pipe(fds) != 0) return 1;
  const uint16_t discoveryPort = freeUdpPort();
  const pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    runDevice(cameras, fds[1], discoveryPort);
  }
  close(fds[1]);
  std::string text;
  char chunk[4096];
  for (ssize_t n; (n = read(fds[0], chunk, sizeof chunk)) > 0;)
    text.append(chunk, static_cast<size_t>(n));
  unsigned httpPort = 0, discPort = 0;
  std::vector<std::string> urls;
  {
    std::istringstream in(text);
    in >> httpPort >> discPort;
    for (std::string u; in >> u;) urls.push_back(u);
  }
  if (httpPort == 0 || urls.size() != static_cast<size_t>(cameras)) {
    std::fprintf(stderr, "device did not start\n");
    kill(child, SIGKILL);
    return 1;
  }
  gUrls = &urls;
  auto cleanup = [&] {
    kill(child, SIGTERM);
    waitpid(child, nullptr, 0);
  };

  // (1) discovery
  onvif::DiscoveryOptions d;
  d.port = static_cast<uint16_t>(discPort);
  d.interfaceAddress = "127.0.0.1";
  d.wait = 1500ms;
  d.maxDevices = 10000;
  const auto t0 = Clock::now();
  auto found = onvif::discover(d);
  const double discoverSecs = secondsSince(t0);
  const size_t nFound = found.ok() ? found->size() : 0;

  // (1b) resolve all cameras on a 4-thread runtime
  onvif::CallOptions call;
  const onvif::Credentials creds{"admin", "bench"};
  std::mutex mu;
  std::condition_variable cv;
  int done = 0, failed = 0;
  const double cpu0 = cpuSeconds();
  const auto t1 = Clock::now();
  {
    onvif::OnvifRuntime runtime(4);
    for (int i = 0; i < cameras; ++i) {
      const std::string& url = urls[static_cast<size_t>(i)];
      runtime.resolveStreams(url, creds, call, [&](core::Result<onvif::ResolvedStreams> r) {
        std::lock_guard lock(mu);
        ++done;
        if (!r.ok()) ++failed;
        cv.notify_all();
      });
    }
    std::unique_lock lock(mu);
    cv.wait_for(lock, 300s, [&] { return done == cameras; });
  }
  const double resolveSecs = secondsSince(t1);
  const double resolveCpu = cpuSeconds() - cpu0;
  constexpr int kCallsPerResolve = 7;
  double rawCpu = 0;
  const double rawSecs =
      rawBaseline(static_cast<uint16_t>(httpPort), cameras, kCallsPerResolve, 4, &rawCpu);

  // (2) subscriptions
  std::atomic<uint64_t> events{0};
  std::atomic<int> subscribed{0};
  double subCpu = 0;
  uint64_t calls = 0, failedCalls = 0;
  {
    onvif::OnvifRuntime runtime(2);
    for (int i = 0; i < cameras; ++i) {
      onvif::EventSource src;
      src.camera = *core::CameraId::parse("cam" + std::to_string(i + 1));
      src.address = urls[static_cast<size_t>(i)];
      src.credentials = creds;
      src.watch.pollInterval = 1s;
      runtime.watchEvents(
          src, [&](const core::Event&) { ++events; },
          [&](onvif::WatchState s, const std::string&) {
            if (s == onvif::WatchState::kSubscribed) ++subscribed;
          });
    }
    const auto warm = Clock::now() + 60s;
    while (subscribed < cameras && Clock::now() < warm) std::this_thread::sleep_for(50ms);
    const auto stats0 = runtime.stats();
    const double c0 = cpuSeconds();
    std::this_thread::sleep_for(std::chrono::duration<double>(subSeconds));
    subCpu = cpuSeconds() - c0;
    const auto stats1 = runtime.stats();
    calls = stats1.calls - stats0.calls;
    failedCalls = stats1.failedCalls - stats0.failedCalls;
  }
  // Baseline: the same number of round trips over the same window, raw.
  double rawSubCpu = 0;
  const double rawSubSecs =
      rawBaseline(static_cast<uint16_t>(httpPort), 1, static_cast<int>(calls), 1, &rawSubCpu);
  cleanup();

  std::printf("cameras: %d\n", cameras);
  std::printf("discover (multicast, 1.5 s window): found %zu in %.2f s\n", nFound, discoverSecs);
  std::printf(
      "resolve %d cameras (4 workers, %d calls each): %.2f s wall, %.2f s client CPU, "
      "%d failed\n",
      cameras, kCallsPerResolve, resolveSecs, resolveCpu, failed);
  std::printf("baseline raw HTTP, same %d round trips: %.2f s wall, %.2f s CPU\n",
              cameras * kCallsPerResolve, rawSecs, rawCpu);
  std::printf("ratio resolve/baseline: wall %.2f, CPU %.2f\n", resolveSecs / rawSecs,
              rawCpu > 0 ? resolveCpu / rawCpu : 0.0);
  std::printf(
      "subscriptions: %d alive (%d subscribed), %.1f s window, %llu calls (%llu failed), "
      "%llu events\n",
      cameras, subscribed.load(), subSeconds, static_cast<unsigned long long>(calls),
      static_cast<unsigned long long>(failedCalls), static_cast<unsigned long long>(events.load()));
  std::printf("client CPU: %.3f s = %.3f%% of one core; per camera %.4f%% of one core\n", subCpu,
              100 * subCpu / subSeconds, 100 * subCpu / subSeconds / cameras);
  std::printf("baseline raw HTTP, same %llu round trips: %.2f s wall, %.3f s CPU; ratio CPU %.2f\n",
              static_cast<unsigned long long>(calls), rawSubSecs, rawSubCpu,
              rawSubCpu > 0 ? subCpu / rawSubCpu : 0.0);
  return failed == 0 && nFound == static_cast<size_t>(cameras) ? 0 : 1;
}
