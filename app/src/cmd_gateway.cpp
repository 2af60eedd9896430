// `sharpeyes gateway` and `sharpeyes status`.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "commands.h"
#include "config.h"
#include "gateway.h"
#include "gateway_cameras.h"
#include "http_get.h"

namespace sharpeyes::app {
namespace {

struct GatewayArgs {
  std::string config;
  bool check = false;
  bool verbose = false;
};

struct StatusArgs {
  std::string url = "http://127.0.0.1:8080";
  bool watch = false;
  double interval = 1.0;
};

// Blocks SIGINT/SIGTERM in this thread and every thread created after it, so that one sigwait()
// on the main thread receives them (no handler runs on a GStreamer or ZeroMQ thread).
sigset_t blockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// `gateway --check` after the config file passed: the cameras added through the API
// (<data_dir>/cameras.api.yaml) are read as the gateway reads them at start, so that a
// hand-edited mistake there is found before a restart, not by it.
int checkApiCameras(const std::string& configFile, const GatewayConfig& config) {
  const ApiCameraFile file(config.apiCamerasPath());
  auto api = readApiCameras(file, config);
  if (!api) {
    std::fprintf(stderr, "sharpeyes gateway: bad config: %s\n", api.error().message.c_str());
    return kExitBadConfig;
  }
  // Not an error: the gateway starts with it, without the shadowed entry.
  const std::vector<bool> shadowed = shadowedApiCameras(config.cameras, *api);
  for (size_t i = 0; i < api->size(); ++i) {
    if (!shadowed[i]) continue;
    std::fprintf(stderr,
                 "sharpeyes gateway: warning: %s: cameras[%zu]: camera %s is defined before; "
                 "this entry is not used\n",
                 file.path().c_str(), i, (*api)[i].ingest.id.str().c_str());
  }
  std::printf("%s: ok (%zu cameras)\n", configFile.c_str(), config.cameras.size());
  std::printf("%s: ok (%zu cameras added through the API)\n", file.path().c_str(), api->size());
  return kExitOk;
}

int runGateway(const GatewayArgs& args) {
  // Logs go to stderr (stdout is for command output), every line flushed at once.
  spdlog::set_default_logger(spdlog::stderr_color_mt("gateway"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  // Operators and supervisors tail the log: every line reaches the file at once.
  spdlog::flush_on(spdlog::level::trace);
  if (args.verbose) spdlog::set_level(spdlog::level::debug);
  GatewayConfig config;
  try {
    config = loadGatewayConfig(args.config);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "sharpeyes gateway: bad config: %s\n", e.what());
    return kExitBadConfig;
  }
  if (args.check) return checkApiCameras(args.config, config);
  // A mistake in the cameras added through the API is a config mistake too: named, exit code 2,
  // before anything starts (Gateway::start reads the file again, as it may change later).
  if (auto api = readApiCameras(ApiCameraFile(config.apiCamerasPath()), config); !api) {
    std::fprintf(stderr, "sharpeyes gateway: bad config: %s\n", api.error().message.c_str());
    return kExitBadConfig;
  }
  const sigset_t signals = blockTerminationSignals();
  spdlog::info("gateway {} ({}) starting with {} camera(s) from {}", config.id,
               config.division.str(), config.cameras.size(), args.config);
  Gateway gateway(std::move(config));
  if (auto r = gateway.start(); !r) {
    spdlog::critical("gateway: cannot start: {}", r.error().describe());
    gateway.stop();
    return kExitFailure;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("gateway: {} received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
  gateway.stop();
  spdlog::info("gateway: stopped");
  return kExitOk;
}

std::string human(double v, const char* unit) {
  const char* prefixes[] = {"", "k", "M", "G", "T"};
  int i = 0;
  while (v >= 1000 && i < 4) {
    v /= 1000;
    ++i;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s%s", v, prefixes[i], unit);
  return buf;
}

int printStatus(const StatusArgs& args, bool clear) {
  auto reply = httpGet(args.url + "/status", std::chrono::milliseconds(3000));
  if (!reply || reply->status != 200) {
    std::fprintf(stderr, "sharpeyes status: %s: %s\n", args.url.c_str(),
                 reply ? ("HTTP " + std::to_string(reply->status)).c_str()
                       : reply.error().describe().c_str());
    return kExitFailure;
  }
  const auto cams = nlohmann::json::parse(reply->body, nullptr, false);
  if (!cams.is_array()) {
    std::fprintf(stderr, "sharpeyes status: unexpected reply from %s\n", args.url.c_str());
    return kExitFailure;
  }
  if (clear) std::printf("\033[H\033[2J");
  std::printf("%-10s %-13s %6s %12s %12s %8s %10s  %s\n", "CAMERA", "STATE", "FPS", "BITRATE",
              "RECORDED", "SEGMENTS", "RECONNECTS", "REASON");
  int streaming = 0;
  for (const auto& c : cams) {
    const std::string state = c.value("state", "?");
    if (state == "streaming") ++streaming;
    std::printf("%-10s %-13s %6.1f %12s %12s %8llu %10llu  %s\n", c.value("id", "?").c_str(),
                state.c_str(), c.value("fps", 0.0),
                human(c.value("bitrate_bps", 0.0), "bit/s").c_str(),
                human(static_cast<double>(c.value("bytes_recorded", 0ULL)), "B").c_str(),
                static_cast<unsigned long long>(c.value("segments", 0ULL)),
                static_cast<unsigned long long>(c.value("reconnects", 0ULL)),
                c.value("reason", "").c_str());
  }
  std::printf("%d of %zu camera(s) streaming", streaming, cams.size());
  std::printf(clear ? "   (Ctrl-C to quit)\n" : "\n");
  std::fflush(stdout);
  return kExitOk;
}

int runStatus(const StatusArgs& args) {
  if (!args.watch) return printStatus(args, false);
  const sigset_t signals = blockTerminationSignals();
  const bool tty = isatty(STDOUT_FILENO) != 0;
  const timespec tick{
      static_cast<time_t>(args.interval),
      static_cast<long>((args.interval - static_cast<time_t>(args.interval)) * 1e9)};
  for (;;) {
    printStatus(args, tty);  // a gateway not up yet is reported and retried
    if (sigtimedwait(&signals, nullptr, &tick) > 0) return kExitOk;
  }
}

}  // namespace

void addGatewayCommands(CLI::App& app, int& exitCode) {
  auto gwArgs = std::make_shared<GatewayArgs>();
  auto* gw = app.add_subcommand("gateway", "Run the gateway: ingest, record, analyse, publish");
  gw->add_option("-c,--config", gwArgs->config, "Gateway YAML config")->required();
  gw->add_flag("--check", gwArgs->check, "Validate the config and exit");
  gw->add_flag("-v,--verbose", gwArgs->verbose, "Debug logging");
  gw->callback([gwArgs, &exitCode] { exitCode = runGateway(*gwArgs); });

  auto stArgs = std::make_shared<StatusArgs>();
  auto* st = app.add_subcommand("status", "Show a gateway's cameras (state, fps, bitrate, ...)");
  st->add_option("--url", stArgs->url, "Gateway HTTP base URL")->capture_default_str();
  st->add_flag("-w,--watch", stArgs->watch, "Refresh until Ctrl-C");
  st->add_option("--interval", stArgs->interval, "Refresh interval in seconds")
      ->check(CLI::Range(0.2, 60.0));
  st->callback([stArgs, &exitCode] { exitCode = runStatus(*stArgs); });
}

}  // namespace sharpeyes::app
