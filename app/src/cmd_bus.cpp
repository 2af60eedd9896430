// Bus subcommands: `center`, `subscribe`, `keys gen`.
#include <pthread.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "commands.h"
#include "sharpeyes/bus/center.h"
#include "sharpeyes/bus/keys.h"
#include "sharpeyes/bus/routing.h"
#include "sharpeyes/bus/subscriber.h"
#include "sharpeyes/core/time.h"

namespace sharpeyes::app {

namespace {

// Alerts go to stdout; logs must not mix with them.
void logToStderr() {
  static bool done = false;
  if (done) return;
  done = true;
  spdlog::set_default_logger(spdlog::stderr_color_mt("sharpeyes"));
}

sigset_t terminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

struct CenterArgs {
  std::string level, division, name, dataDir = "var/center";
  std::string bindEvents = "tcp://127.0.0.1:7701", bindClips = "tcp://127.0.0.1:7702",
              bindPub = "tcp://127.0.0.1:7703";
  std::string keyFile, allowFile, policyFile;
  std::string upstream, upstreamClips, upstreamKeyFile;
  std::string readyFile;
  uint64_t quotaMb = 256;
  bool durable = false;
};

int runCenter(const CenterArgs& a) {
  logToStderr();
  bus::CenterConfig c;
  auto level = core::parseDivisionLevel(a.level);
  if (!level || *level == core::DivisionLevel::kProvince) {
    spdlog::error("--level must be village, township, county or city");
    return kExitBadConfig;
  }
  c.level = *level;
  auto division = core::DivisionCode::parse(a.division);
  if (!division || division->level() != c.level) {
    spdlog::error("--division {} is not a {} code", a.division, a.level);
    return kExitBadConfig;
  }
  c.division = *division;
  c.name = a.name;
  c.dataDir = a.dataDir;
  c.bindEvents = a.bindEvents;
  c.bindClips = a.bindClips;
  c.bindPub = a.bindPub;
  c.outboxQuotaBytes = a.quotaMb << 20;
  c.durable = a.durable;
  auto keys = bus::loadKeyPair(a.keyFile);
  if (!keys) {
    spdlog::error("--key: {}", keys.error().describe());
    return kExitBadConfig;
  }
  c.keys = *keys;
  auto allow = bus::loadAllowlist(a.allowFile);
  if (!allow) {
    spdlog::error("--allow: {}", allow.error().describe());
    return kExitBadConfig;
  }
  c.allow = *allow;
  if (!a.policyFile.empty()) {
    auto policy = bus::RoutingPolicy::load(a.policyFile);
    if (!policy) {
      spdlog::error("--policy: {}", policy.error().describe());
      return kExitBadConfig;
    }
    c.policy = *policy;
  }
  if (!a.upstream.empty()) {
    auto key = bus::loadPublicKey(a.upstreamKeyFile);
    if (!key) {
      spdlog::error("--upstream-key: {}", key.error().describe());
      return kExitBadConfig;
    }
    c.upstream = bus::UpstreamConfig{a.upstream, a.upstreamClips, *key};
  }
  // Block the termination signals before any thread starts, so only sigwait() below sees them.
  sigset_t set = terminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  auto center = bus::Center::create(c);
  if (!center) {
    spdlog::error("{}", center.error().describe());
    return kExitBadConfig;
  }
  auto eps = (*center)->start();
  if (!eps) {
    spdlog::error("{}", eps.error().describe());
    return kExitFailure;
  }
  if (!a.readyFile.empty()) {
    nlohmann::json ready = {{"events", eps->events},
                            {"clips", eps->clips},
                            {"pub", eps->pub},
                            {"public_key", c.keys.publicKey},
                            {"pid", ::getpid()}};
    const std::string tmp = a.readyFile + ".tmp";
    std::ofstream(tmp) << ready.dump() << "\n";
    std::filesystem::rename(tmp, a.readyFile);
  }
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("bus: centre stopping on signal {}", sig);
  (*center)->stop();
  return kExitOk;
}

struct SubscribeArgs {
  std::string center, division, keyFile, centerKeyFile;
  uint64_t after = 0;
  uint64_t count = 0;
  bool text = false;
};

int runSubscribe(const SubscribeArgs& a) {
  logToStderr();
  bus::SubscriberConfig c;
  c.endpoint = a.center;
  auto division = core::DivisionCode::parse(a.division);
  if (!division) {
    spdlog::error("--division: {}", division.error().describe());
    return kExitBadConfig;
  }
  c.division = *division;
  auto keys = bus::loadKeyPair(a.keyFile);
  if (!keys) {
    spdlog::error("--key: {}", keys.error().describe());
    return kExitBadConfig;
  }
  c.publicKey = keys->publicKey;
  c.secretKey = keys->secretKey;
  auto server = bus::loadPublicKey(a.centerKeyFile);
  if (!server) {
    spdlog::error("--center-key: {}", server.error().describe());
    return kExitBadConfig;
  }
  c.serverPublicKey = *server;
  c.afterSeq = a.after;
  auto sub = bus::Subscriber::create(c);
  if (!sub) {
    spdlog::error("{}", sub.error().describe());
    return kExitBadConfig;
  }
  sigset_t set = terminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  bus::Subscriber* s = sub->get();
  std::thread waiter([&set, s] {
    int sig = 0;
    sigwait(&set, &sig);
    s->stop();
  });
  uint64_t n = 0;
  auto r = s->run([&](const bus::ReceivedAlert& alert) {
    if (a.text) {
      const auto& e = alert.event;
      std::cout << alert.localSeq << ' ' << core::formatIso8601(e.start) << ' ' << e.division.str()
                << ' ' << e.camera.str() << ' ' << core::toString(e.type) << " severity "
                << e.severity << ' ' << e.id << std::endl;
    } else {
      std::cout << alert.json << std::endl;
    }
    if (a.count && ++n >= a.count) s->stop();
  });
  // The waiter sits in sigwait() with SIGTERM blocked everywhere: this wakes it, it kills nothing.
  pthread_kill(waiter.native_handle(), SIGTERM);  // NOLINT(bugprone-bad-signal-to-kill-thread)
  waiter.join();
  if (!r) {
    spdlog::error("{}", r.error().describe());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

void addBusCommands(CLI::App& app, int& exitCode) {
  auto center = std::make_shared<CenterArgs>();
  auto* cc = app.add_subcommand("center",
                                "Run a comprehensive management centre (综治中心) of the cascade");
  cc->add_option("--level", center->level, "village | township | county | city")->required();
  cc->add_option("--division", center->division, "12-digit division code of this centre")
      ->required();
  cc->add_option("--name", center->name, "origin name towards the upstream centre");
  cc->add_option("--data", center->dataDir, "directory for center.db and clips/");
  cc->add_option("--bind-events", center->bindEvents, "ZeroMQ endpoint for events (port 0: any)");
  cc->add_option("--bind-clips", center->bindClips, "ZeroMQ endpoint for clips");
  cc->add_option("--bind-pub", center->bindPub, "ZeroMQ endpoint for local subscribers");
  cc->add_option("--key", center->keyFile, "own CURVE key pair file (.key, mode 0600)")->required();
  cc->add_option("--allow", center->allowFile, "allowlist: lines of \"name PUBLIC_KEY\"")
      ->required();
  cc->add_option("--policy", center->policyFile, "routing policy YAML");
  cc->add_option("--upstream", center->upstream, "upstream centre's event endpoint");
  cc->add_option("--upstream-clips", center->upstreamClips, "upstream centre's clip endpoint");
  cc->add_option("--upstream-key", center->upstreamKeyFile, "upstream centre's public key file");
  cc->add_option("--ready-file", center->readyFile, "write bound endpoints here (JSON) when ready");
  cc->add_option("--outbox-quota-mb", center->quotaMb, "upstream outbox quota in MiB");
  cc->add_flag("--durable", center->durable, "fsync every commit (survives power loss)");
  cc->callback([center, &exitCode] { exitCode = runCenter(*center); });

  auto sub = std::make_shared<SubscribeArgs>();
  auto* sc = app.add_subcommand("subscribe", "Print the alerts of one division from a centre");
  sc->add_option("--center", sub->center, "the centre's event endpoint")->required();
  sc->add_option("--division", sub->division, "division code: its whole subtree")->required();
  sc->add_option("--key", sub->keyFile, "own CURVE key pair file")->required();
  sc->add_option("--center-key", sub->centerKeyFile, "the centre's public key file")->required();
  sc->add_option("--after", sub->after, "resume after this sequence number");
  sc->add_option("--count", sub->count, "exit after this many alerts");
  sc->add_flag("--text", sub->text, "one human-readable line per alert instead of JSON");
  sc->callback([sub, &exitCode] { exitCode = runSubscribe(*sub); });

  auto* keys = app.add_subcommand("keys", "CURVE key management");
  keys->require_subcommand(1);
  auto out = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  auto* gen = keys->add_subcommand("gen", "Write a key pair: PREFIX.key (secret) and PREFIX.pub");
  gen->add_option("--out", *out, "file prefix")->required();
  gen->add_flag("--force", *force, "overwrite existing files");
  gen->callback([out, force, &exitCode] {
    logToStderr();
    auto pair = bus::generateKeyPair();
    if (!pair) {
      spdlog::error("{}", pair.error().describe());
      exitCode = kExitFailure;
      return;
    }
    if (auto r = bus::writeKeyPair(*pair, *out, *force); !r) {
      spdlog::error("{}", r.error().describe());
      exitCode = r.error().code == core::ErrorCode::kAlreadyExists ? kExitBadConfig : kExitFailure;
      return;
    }
    std::cout << "wrote " << *out << ".key (secret, mode 0600) and " << *out << ".pub\n";
    exitCode = kExitOk;
  });
}

}  // namespace sharpeyes::app
