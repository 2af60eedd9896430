// `sharpeyes sim`: the camera simulator as a process (demo, benchmarks, other processes' tests).
// Prints one line per camera and then a "ready" line on stdout, serves until SIGINT/SIGTERM.
// With --onvif every camera also serves ONVIF (device, media, PTZ, events) and WS-Discovery
// (sim/onvif), so `sharpeyes discover` and `sharpeyes onvif ...` can be tried against it.
// With --stamp-clock the PTZ (live-encoded) cameras carry their render time in the picture
// (sim.h readClockStamp): bench/live measures glass-to-glass latency with it.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "commands.h"
#include "sharpeyes/sim/onvif_device.h"
#include "sharpeyes/sim/sim.h"

namespace sharpeyes::app {
namespace {

struct SimArgs {
  int cameras = 8;
  std::string address = "127.0.0.1";
  uint16_t port = 8554;
  uint16_t controlPort = 8555;
  uint64_t seed = 1;
  int scenes = 0;
  double loopSeconds = 20;
  std::string cacheDir = "var/sim-cache";
  std::string user;
  std::string passwordEnv;
  std::string media;
  std::string ptz;
  bool stampClock = false;
  // ONVIF
  bool onvif = false;
  uint16_t onvifPort = 8556;
  uint16_t discoveryPort = 3702;
  std::string onvifUser = "admin";
  std::string onvifPasswordEnv = "SHARPEYES_ONVIF_PASSWORD";
  bool onvifNoAuth = false;
  std::string multicastInterface;
};

// "1,3" or "cam01,cam03" -> zero-based indices.
bool parsePtz(const std::string& list, int cameras, std::vector<int>& out, std::string& bad) {
  size_t pos = 0;
  while (pos <= list.size() && !list.empty()) {
    const size_t comma = list.find(',', pos);
    std::string item =
        list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (item.rfind("cam", 0) == 0) item = item.substr(3);
    char* end = nullptr;
    const long n = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || n < 1 || n > cameras) {
      bad = item;
      return false;
    }
    out.push_back(static_cast<int>(n - 1));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return true;
}

int runSim(const SimArgs& a) {
  // stdout carries the camera list and the "ready" line that scripts parse; logs go to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_mt("sim"));
  sim::SimOptions o;
  o.cameras = a.cameras;
  o.address = a.address;
  o.rtspPort = a.port;
  o.controlPort = a.controlPort;
  o.seed = a.seed;
  o.distinctScenes = a.scenes;
  o.loopSeconds = a.loopSeconds;
  o.cacheDir = a.cacheDir;
  if (!a.media.empty()) o.mediaFile = a.media;
  std::string bad;
  if (!parsePtz(a.ptz, a.cameras, o.ptzCameras, bad)) {
    std::fprintf(stderr, "sim: --ptz: '%s' is not a camera number 1..%d\n", bad.c_str(), a.cameras);
    return kExitBadConfig;
  }
  // Only live-encoded (PTZ) cameras can carry it: cached loops are encoded once, ahead of time.
  if (a.stampClock && o.ptzCameras.empty()) {
    std::fprintf(stderr,
                 "sim: --stamp-clock needs --ptz (only live-encoded cameras are stamped)\n");
    return kExitBadConfig;
  }
  o.stampLiveClock = a.stampClock;
  if (!a.user.empty()) {
    if (a.passwordEnv.empty()) {
      std::fprintf(stderr, "sim: --user needs --password-env VAR\n");
      return kExitBadConfig;
    }
    const char* pw = std::getenv(a.passwordEnv.c_str());
    if (!pw || !*pw) {
      std::fprintf(stderr, "sim: environment variable %s is not set\n", a.passwordEnv.c_str());
      return kExitBadConfig;
    }
    o.username = a.user;
    o.password = pw;
  }
  sim::OnvifDeviceOptions onvifOptions;
  if (a.onvif) {
    onvifOptions.address = a.address;
    onvifOptions.httpPort = a.onvifPort;
    onvifOptions.discovery = true;
    onvifOptions.discoveryPort = a.discoveryPort;
    // Join the WS-Discovery group on the interface we serve on (loopback by default: multicast
    // works there on Linux); a wildcard address joins on the default interface.
    onvifOptions.multicastInterface = !a.multicastInterface.empty() ? a.multicastInterface
                                      : a.address == "0.0.0.0"      ? std::string("0.0.0.0")
                                                                    : a.address;
    if (a.onvifNoAuth) {
      onvifOptions.username.clear();
      onvifOptions.password.clear();
    } else {
      const char* pw = std::getenv(a.onvifPasswordEnv.c_str());
      if (a.onvifUser.empty() || pw == nullptr || *pw == '\0') {
        std::fprintf(stderr,
                     "sim: --onvif needs a user (--onvif-user) and a password in the environment "
                     "variable %s (--onvif-password-env), or --onvif-no-auth\n",
                     a.onvifPasswordEnv.c_str());
        return kExitBadConfig;
      }
      onvifOptions.username = a.onvifUser;
      onvifOptions.password = pw;
    }
  }
  // Block the termination signals before any thread exists; only sigwait() below takes them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  auto server = sim::SimServer::start(o);
  if (!server) {
    std::fprintf(stderr, "sim: %s\n", server.error().describe().c_str());
    return server.error().code == core::ErrorCode::kInvalidArgument ||
                   server.error().code == core::ErrorCode::kNotFound
               ? kExitBadConfig
               : kExitFailure;
  }
  auto& sim = **server;
  // Destroyed before the SimServer (declared after it), which the device needs while it runs.
  std::unique_ptr<sim::OnvifDevice> device;
  if (a.onvif) {
    auto d = sim::startOnvifSimulator(sim, onvifOptions);
    if (!d.ok()) {
      std::fprintf(stderr, "sim: onvif: %s\n", d.error().describe().c_str());
      sim.stop();
      return kExitFailure;
    }
    device = std::move(*d);
  }
  for (int i = 0; i < sim.cameraCount(); ++i) {
    std::printf("%s %s %s\n", sim.cameraName(i).c_str(), sim.mainUrl(i).c_str(),
                sim.subUrl(i).c_str());
  }
  // "onvif camNN <device service URL>[ ptz]": what `sharpeyes onvif ...` takes as its address.
  for (int i = 0; device && i < sim.cameraCount(); ++i) {
    std::printf("onvif %s %s%s\n", sim.cameraName(i).c_str(), device->deviceUrl(i).c_str(),
                device->isPtz(i) ? " ptz" : "");
  }
  const auto st = sim.stats();
  std::printf("ready rtsp-port=%u control-port=%u cameras=%d encoded=%d cached=%d", sim.rtspPort(),
              sim.controlPort(), sim.cameraCount(), st.streamsEncoded, st.streamsFromCache);
  if (device) {
    std::printf(" onvif-port=%u discovery-port=%u", device->httpPort(), device->discoveryPort());
  }
  std::printf("\n");
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("sim: stopping on signal {}", sig);
  if (device) device->stop();
  sim.stop();
  return kExitOk;
}

}  // namespace

void addSimCommands(CLI::App& app, int& exitCode) {
  auto args = std::make_shared<SimArgs>();
  auto* cmd = app.add_subcommand("sim", "Simulated RTSP cameras (synthetic scenes or a file)");
  cmd->add_option("--cameras", args->cameras, "Number of cameras")->check(CLI::Range(1, 9999));
  cmd->add_option("--address", args->address, "Address to listen on");
  cmd->add_option("--port", args->port, "RTSP port (0: any free port)");
  cmd->add_option("--control-port", args->controlPort,
                  "Control port on 127.0.0.1 (fault injection, PTZ; 0: any free port)");
  cmd->add_option("--seed", args->seed, "Scene seed");
  cmd->add_option("--scenes", args->scenes,
                  "Distinct scenes shared round-robin by the cameras (0: one per camera)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--loop-seconds", args->loopSeconds,
                  "Scene loop length in seconds (a multiple of the 2 s GOP)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--cache-dir", args->cacheDir, "Where encoded streams are cached");
  cmd->add_option("--user", args->user, "Require RTSP digest auth with this user");
  cmd->add_option("--password-env", args->passwordEnv,
                  "Environment variable holding the password (never on the command line)");
  cmd->add_option("--media", args->media, "Serve this video file (looped) instead of scenes")
      ->check(CLI::ExistingFile);
  cmd->add_option("--ptz", args->ptz, "PTZ cameras, e.g. 1,3 or cam01,cam03 (encoded live)");
  cmd->add_flag("--stamp-clock", args->stampClock,
                "Draw the render time (Unix ms, 40 blocks across the top) into the --ptz cameras' "
                "pictures, for glass-to-glass latency measurements");
  cmd->add_flag("--onvif", args->onvif,
                "Also serve ONVIF (device, media, PTZ, events) and answer WS-Discovery");
  cmd->add_option("--onvif-port", args->onvifPort,
                  "ONVIF HTTP port, one for all cameras (0: any free port)");
  cmd->add_option("--discovery-port", args->discoveryPort,
                  "WS-Discovery UDP port (0: any free port, unicast probes only)");
  cmd->add_option("--multicast-interface", args->multicastInterface,
                  "IPv4 address of the interface joining the WS-Discovery group "
                  "(default: --address)");
  cmd->add_option("--onvif-user", args->onvifUser, "ONVIF user name");
  cmd->add_option("--onvif-password-env", args->onvifPasswordEnv,
                  "Environment variable holding the ONVIF password "
                  "(default SHARPEYES_ONVIF_PASSWORD, as `sharpeyes onvif` reads)");
  cmd->add_flag("--onvif-no-auth", args->onvifNoAuth, "ONVIF without authentication");
  cmd->callback([args, &exitCode] { exitCode = runSim(*args); });
}

}  // namespace sharpeyes::app
