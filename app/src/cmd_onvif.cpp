// ONVIF subcommands: `discover` (WS-Discovery, then device information) and `onvif info|resolve|
// ptz|events` against one device. Passwords come from --password-env (default
// SHARPEYES_ONVIF_PASSWORD) so they never appear in the process list or the shell history.
// Exit codes (commands.h): 0 done; 2 bad arguments (an address that is not one, a missing
// password variable); 1 the device failed us (unreachable, refused, timed out, answered badly).
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "commands.h"
#include "sharpeyes/core/util.h"
#include "sharpeyes/onvif/client.h"
#include "sharpeyes/onvif/discovery.h"
#include "sharpeyes/onvif/runtime.h"

namespace sharpeyes::app {

namespace {

struct AuthArgs {
  std::string user;
  std::string passwordEnv = "SHARPEYES_ONVIF_PASSWORD";
  double timeoutSeconds = 5;

  onvif::Credentials credentials() const {
    onvif::Credentials c;
    c.username = user;
    if (const char* p = std::getenv(passwordEnv.c_str())) c.password = p;
    return c;
  }
  // A user without a password variable is a mistake to report, not an empty password to send.
  bool check() const {
    if (user.empty() || std::getenv(passwordEnv.c_str()) != nullptr) return true;
    spdlog::error("--user {} needs the password in the environment variable {} (--password-env)",
                  user, passwordEnv);
    return false;
  }
  onvif::CallOptions call() const {
    onvif::CallOptions o;
    o.ioTimeout = std::chrono::milliseconds(static_cast<int64_t>(timeoutSeconds * 1000));
    o.transferTimeout = 2 * o.ioTimeout;
    return o;
  }
};

void addAuthOptions(CLI::App* cmd, AuthArgs& a) {
  cmd->add_option("--user", a.user, "ONVIF user name");
  cmd->add_option("--password-env", a.passwordEnv,
                  "environment variable holding the password (default SHARPEYES_ONVIF_PASSWORD)");
  cmd->add_option("--timeout", a.timeoutSeconds, "per-operation timeout in seconds")
      ->check(CLI::Range(0.1, 120.0));
}

int exitCodeFor(const core::Error& e) {
  return e.code == core::ErrorCode::kInvalidArgument ? kExitBadConfig : kExitFailure;
}

void logToStderr() {
  static bool done = false;
  if (done) return;
  done = true;
  spdlog::set_default_logger(spdlog::stderr_color_mt("sharpeyes"));
}

struct DiscoverArgs {
  AuthArgs auth;
  std::string interfaceAddress;
  std::vector<std::string> probes;
  int port = 3702;
  double waitSeconds = 2;
  bool json = false;
};

int runDiscover(const DiscoverArgs& a) {
  logToStderr();
  if (!a.auth.check()) return kExitBadConfig;
  int rc = kExitOk;
  onvif::DiscoveryOptions o;
  o.interfaceAddress = a.interfaceAddress;
  o.port = static_cast<uint16_t>(a.port);
  o.wait = std::chrono::milliseconds(static_cast<int64_t>(a.waitSeconds * 1000));
  std::vector<onvif::DiscoveredDevice> all;
  if (a.probes.empty()) {
    auto r = onvif::discover(o);
    if (!r.ok()) {
      spdlog::error("discover: {}", r.error().describe());
      return exitCodeFor(r.error());
    }
    all = std::move(*r);
  }
  for (const auto& address : a.probes) {
    auto r = onvif::probe(address, o);
    if (!r.ok()) {
      // The other probes still run and are listed; the exit code says one failed.
      spdlog::error("probe {}: {}", address, r.error().describe());
      rc = std::max(rc, exitCodeFor(r.error()));
      continue;
    }
    for (auto& d : *r) all.push_back(std::move(d));
  }
  onvif::enrich(all, a.auth.credentials(), a.auth.call());
  if (a.json) {
    auto arr = nlohmann::json::array();
    for (const auto& d : all) {
      arr.push_back({{"endpoint", d.endpoint},
                     {"addresses", d.xaddrs},
                     {"scopes", d.scopes},
                     {"name", d.name},
                     {"manufacturer", d.manufacturer},
                     {"model", d.model},
                     {"serial", d.serialNumber},
                     {"error", d.error}});
    }
    std::cout << arr.dump(2) << "\n";
  } else {
    std::cout << "ADDRESS\tMANUFACTURER\tMODEL\tSERIAL\tNAME\tSCOPES\n";
    for (const auto& d : all) {
      std::string scopes;
      for (const auto& s : d.scopes) scopes += (scopes.empty() ? "" : " ") + s;
      std::cout << (d.xaddrs.empty() ? d.endpoint : d.xaddrs.front()) << "\t" << d.manufacturer
                << "\t" << d.model << "\t" << d.serialNumber << "\t" << d.name << "\t" << scopes
                << (d.error.empty() ? "" : "\t(" + d.error + ")") << "\n";
    }
  }
  if (all.empty()) spdlog::warn("discover: no ONVIF device answered");
  return rc;
}

struct DeviceArgs {
  AuthArgs auth;
  std::string address;
  std::string profile = "main";
  // ptz
  std::vector<float> absolute, move;
  double seconds = 1;
  bool stop = false, presets = false, status = false;
  std::string presetSet, presetGoto;
  // events
  double eventSeconds = 10;
};

int runInfo(const DeviceArgs& a) {
  logToStderr();
  if (!a.auth.check()) return kExitBadConfig;
  auto url = onvif::deviceServiceUrl(a.address);
  if (!url.ok()) {
    spdlog::error("{}", url.error().describe());
    return kExitBadConfig;
  }
  onvif::DeviceClient c(*url, a.auth.credentials(), a.auth.call());
  auto offset = c.syncClock();
  if (!offset.ok()) {
    spdlog::error("{}", offset.error().describe());
    return exitCodeFor(offset.error());
  }
  auto info = c.deviceInformation();
  if (!info.ok()) {
    spdlog::error("{}", info.error().describe());
    return exitCodeFor(info.error());
  }
  auto services = c.services();
  if (!services.ok()) {
    spdlog::error("{}", services.error().describe());
    return exitCodeFor(services.error());
  }
  auto profiles = c.profiles();
  if (!profiles.ok()) {
    spdlog::error("{}", profiles.error().describe());
    return exitCodeFor(profiles.error());
  }
  auto list = nlohmann::json::array();
  for (const auto& p : *profiles) {
    list.push_back({{"token", p.token},
                    {"name", p.name},
                    {"encoding", p.encoding},
                    {"width", p.width},
                    {"height", p.height},
                    {"fps", p.frameRateLimit},
                    {"bitrateKbps", p.bitrateLimitKbps},
                    {"ptz", !p.ptzNodeToken.empty()}});
  }
  nlohmann::json j{{"manufacturer", info->manufacturer},
                   {"model", info->model},
                   {"firmware", info->firmwareVersion},
                   {"serial", info->serialNumber},
                   {"hardwareId", info->hardwareId},
                   {"clockOffsetSeconds", std::chrono::duration<double>(*offset).count()},
                   {"services",
                    {{"device", services->device},
                     {"media", services->media},
                     {"ptz", services->ptz},
                     {"events", services->events},
                     {"pullPoint", services->pullPointSupported}}},
                   {"profiles", list}};
  std::cout << j.dump(2) << "\n";
  return kExitOk;
}

int runResolve(const DeviceArgs& a) {
  logToStderr();
  if (!a.auth.check()) return kExitBadConfig;
  auto r = onvif::resolveStreams(a.address, a.auth.credentials(), a.auth.call());
  if (!r.ok()) {
    spdlog::error("{}", r.error().describe());
    return exitCodeFor(r.error());
  }
  nlohmann::json j{{"main", core::redactUrl(r->mainUri)},
                   {"sub", core::redactUrl(r->subUri)},
                   {"mainProfile", r->mainProfile},
                   {"subProfile", r->subProfile},
                   {"snapshot", core::redactUrl(r->snapshotUri)},
                   {"manufacturer", r->device.manufacturer},
                   {"model", r->device.model},
                   {"serial", r->device.serialNumber},
                   {"firmware", r->device.firmwareVersion},
                   {"clockOffsetSeconds", std::chrono::duration<double>(r->clockOffset).count()}};
  std::cout << j.dump(2) << "\n";
  return kExitOk;
}

int runPtz(const DeviceArgs& a) {
  logToStderr();
  if (!a.auth.check()) return kExitBadConfig;
  auto url = onvif::deviceServiceUrl(a.address);
  if (!url.ok()) {
    spdlog::error("{}", url.error().describe());
    return kExitBadConfig;
  }
  onvif::DeviceClient c(*url, a.auth.credentials(), a.auth.call());
  (void)c.syncClock();
  auto report = [](const core::Result<void>& r) {
    if (r.ok()) return kExitOk;
    spdlog::error("{}", r.error().describe());
    return kExitFailure;
  };
  auto vec = [](const std::vector<float>& v) {
    return onvif::PtzVector{v.size() > 0 ? v[0] : 0, v.size() > 1 ? v[1] : 0,
                            v.size() > 2 ? v[2] : 0};
  };
  int rc = kExitOk;
  if (!a.absolute.empty()) rc = report(c.absoluteMove(a.profile, vec(a.absolute)));
  if (rc == kExitOk && !a.move.empty()) {
    rc = report(c.continuousMove(
        a.profile, vec(a.move), std::chrono::milliseconds(static_cast<int64_t>(a.seconds * 1000))));
  }
  if (rc == kExitOk && a.stop) rc = report(c.stop(a.profile));
  if (rc == kExitOk && !a.presetSet.empty()) {
    auto t = c.setPreset(a.profile, a.presetSet);
    if (!t.ok()) return report(t.error());
    std::cout << "preset " << *t << "\n";
  }
  if (rc == kExitOk && !a.presetGoto.empty()) rc = report(c.gotoPreset(a.profile, a.presetGoto));
  if (rc == kExitOk && a.presets) {
    auto list = c.presets(a.profile);
    if (!list.ok()) return report(list.error());
    for (const auto& p : *list) std::cout << p.token << "\t" << p.name << "\n";
  }
  if (rc == kExitOk && a.status) {
    auto s = c.ptzStatus(a.profile);
    if (!s.ok()) return report(s.error());
    nlohmann::json j{{"moving", s->moving}};
    if (s->position) {
      j["pan"] = s->position->pan;
      j["tilt"] = s->position->tilt;
      j["zoom"] = s->position->zoom;
    }
    std::cout << j.dump() << "\n";
  }
  return rc;
}

int runEvents(const DeviceArgs& a) {
  logToStderr();
  if (!a.auth.check()) return kExitBadConfig;
  if (auto url = onvif::deviceServiceUrl(a.address); !url.ok()) {
    spdlog::error("{}", url.error().describe());
    return kExitBadConfig;
  }
  // Blocked before the runtime's threads exist, so they inherit the mask and only the
  // sigtimedwait below takes SIGINT/SIGTERM (the runtime then unsubscribes on its way out).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  onvif::OnvifRuntime runtime(1);
  onvif::EventSource src;
  src.camera = *core::CameraId::parse("onvif");
  src.address = a.address;
  src.credentials = a.auth.credentials();
  src.call = a.auth.call();
  src.watch.pollInterval = std::chrono::milliseconds(500);
  std::mutex mu;
  // A device that refuses or cannot be reached before the first subscription ends the command
  // with its reason (the gateway keeps retrying; a person at a terminal wants the error).
  std::atomic<bool> subscribed{false};
  std::atomic<bool> failed{false};
  runtime.watchEvents(
      src,
      [&](const core::Event& e) {
        nlohmann::json j{
            {"id", e.id},
            {"type", core::toString(e.type)},
            {"phase", core::toString(e.phase)},
            {"time",
             core::formatIso8601(e.phase == core::EventPhase::kEnd && e.end ? *e.end : e.start)},
            {"attributes", e.attributes}};
        std::lock_guard lock(mu);
        std::cout << j.dump() << std::endl;
      },
      [&](onvif::WatchState s, const std::string& detail) {
        if (s == onvif::WatchState::kSubscribed) subscribed = true;
        if (s == onvif::WatchState::kRetrying && !subscribed) {
          spdlog::error("events: {}", detail);
          failed = true;
          ::kill(::getpid(), SIGTERM);  // ends the sigtimedwait below
          return;
        }
        spdlog::info("events: {}{}{}", onvif::toString(s), detail.empty() ? "" : ": ", detail);
      });
  // Runs for --seconds, or until SIGINT/SIGTERM.
  timespec ts{static_cast<time_t>(a.eventSeconds),
              static_cast<long>((a.eventSeconds - static_cast<time_t>(a.eventSeconds)) * 1e9)};
  (void)sigtimedwait(&set, nullptr, &ts);
  return failed ? kExitFailure : kExitOk;
}

}  // namespace

void addOnvifCommands(CLI::App& app, int& exitCode) {
  auto discoverArgs = std::make_shared<DiscoverArgs>();
  auto* discover = app.add_subcommand(
      "discover", "find ONVIF cameras (WS-Discovery) and list address, model, serial");
  addAuthOptions(discover, discoverArgs->auth);
  discover->add_option("--interface", discoverArgs->interfaceAddress,
                       "IPv4 address of the interface to probe on");
  discover->add_option("--probe", discoverArgs->probes,
                       "unicast probe of host[:port] instead of multicast (repeatable)");
  discover->add_option("--port", discoverArgs->port, "WS-Discovery port")
      ->check(CLI::Range(1, 65535));
  discover->add_option("--wait", discoverArgs->waitSeconds, "seconds to collect answers")
      ->check(CLI::Range(0.1, 60.0));
  discover->add_flag("--json", discoverArgs->json, "JSON output");
  discover->callback([discoverArgs, &exitCode] { exitCode = runDiscover(*discoverArgs); });

  auto* onvifCmd = app.add_subcommand("onvif", "talk to one ONVIF device");
  onvifCmd->require_subcommand(1);
  auto infoArgs = std::make_shared<DeviceArgs>();
  auto* info = onvifCmd->add_subcommand(
      "info", "device information, service addresses and media profiles of a device");
  info->add_option("address", infoArgs->address, "host[:port] or device service URL")->required();
  addAuthOptions(info, infoArgs->auth);
  info->callback([infoArgs, &exitCode] { exitCode = runInfo(*infoArgs); });

  auto resolveArgs = std::make_shared<DeviceArgs>();
  auto* resolve = onvifCmd->add_subcommand("resolve", "main and sub RTSP URIs of a device");
  resolve->add_option("address", resolveArgs->address, "host[:port] or device service URL")
      ->required();
  addAuthOptions(resolve, resolveArgs->auth);
  resolve->callback([resolveArgs, &exitCode] { exitCode = runResolve(*resolveArgs); });

  auto ptzArgs = std::make_shared<DeviceArgs>();
  auto* ptz = onvifCmd->add_subcommand("ptz", "move a PTZ camera, manage presets");
  ptz->add_option("address", ptzArgs->address, "host[:port] or device service URL")->required();
  addAuthOptions(ptz, ptzArgs->auth);
  ptz->add_option("--profile", ptzArgs->profile, "media profile token");
  ptz->add_option("--absolute", ptzArgs->absolute, "pan tilt zoom (-1..1, -1..1, 0..1)")
      ->expected(1, 3);
  ptz->add_option("--move", ptzArgs->move, "continuous velocity pan tilt zoom (-1..1)")
      ->expected(1, 3);
  ptz->add_option("--seconds", ptzArgs->seconds, "duration of --move");
  ptz->add_flag("--stop", ptzArgs->stop, "stop moving");
  ptz->add_option("--set-preset", ptzArgs->presetSet, "save the current position under a name");
  ptz->add_option("--goto-preset", ptzArgs->presetGoto, "go to a preset token");
  ptz->add_flag("--presets", ptzArgs->presets, "list presets");
  ptz->add_flag("--status", ptzArgs->status, "print the position");
  ptz->callback([ptzArgs, &exitCode] { exitCode = runPtz(*ptzArgs); });

  auto eventArgs = std::make_shared<DeviceArgs>();
  auto* events = onvifCmd->add_subcommand("events", "print the camera's own events (pull point)");
  events->add_option("address", eventArgs->address, "host[:port] or device service URL")
      ->required();
  addAuthOptions(events, eventArgs->auth);
  events->add_option("--seconds", eventArgs->eventSeconds, "how long to listen");
  events->callback([eventArgs, &exitCode] { exitCode = runEvents(*eventArgs); });
}

}  // namespace sharpeyes::app
