// `sharpeyes sim`: the camera simulator as a process (demo, benchmarks, other processes' tests).
// Prints one line per camera and then a "ready" line on stdout, serves until SIGINT/SIGTERM.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "commands.h"
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
  for (int i = 0; i < sim.cameraCount(); ++i) {
    std::printf("%s %s %s\n", sim.cameraName(i).c_str(), sim.mainUrl(i).c_str(),
                sim.subUrl(i).c_str());
  }
  const auto st = sim.stats();
  std::printf("ready rtsp-port=%u control-port=%u cameras=%d encoded=%d cached=%d\n",
              sim.rtspPort(), sim.controlPort(), sim.cameraCount(), st.streamsEncoded,
              st.streamsFromCache);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("sim: stopping on signal {}", sig);
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
  cmd->callback([args, &exitCode] { exitCode = runSim(*args); });
}

}  // namespace sharpeyes::app
