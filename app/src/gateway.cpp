#include "gateway.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gateway_backend.h"
#include "gateway_cameras.h"
#include "sharpeyes/analytics/engine.h"
#include "sharpeyes/api/api_service.h"
#include "sharpeyes/api/auth.h"
#include "sharpeyes/api/http_server.h"
#include "sharpeyes/api/live.h"
#include "sharpeyes/api/prometheus.h"
#include "sharpeyes/bus/publisher.h"
#include "sharpeyes/core/util.h"
#include "sharpeyes/onvif/runtime.h"
#include "sharpeyes/storage/alert_store.h"
#include "sharpeyes/storage/case_store.h"
#include "sharpeyes/storage/clip_export.h"
#include "sharpeyes/storage/clip_store.h"
#include "sharpeyes/storage/database.h"
#include "sharpeyes/storage/event_store.h"
#include "sharpeyes/storage/recorder.h"
#include "sharpeyes/storage/retention.h"
#include "sharpeyes/storage/segment_index.h"

namespace sharpeyes::app {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// ---- JobThread --------------------------------------------------------------------------------

JobThread::JobThread() : thread_([this] { run(); }) {}

JobThread::~JobThread() {
  stop();
}

void JobThread::schedule(Clock::time_point due, std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    jobs_.push(Job{due, seq_++, std::move(job)});
  }
  cv_.notify_one();
}

void JobThread::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

size_t JobThread::pending() const {
  std::lock_guard lock(mu_);
  return jobs_.size();
}

void JobThread::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (jobs_.empty()) {
      cv_.wait(lock);
      continue;
    }
    if (jobs_.top().due > Clock::now()) {
      cv_.wait_until(lock, jobs_.top().due);
      continue;
    }
    auto fn = jobs_.top().fn;
    jobs_.pop();
    lock.unlock();
    try {
      fn();
    } catch (const std::exception& e) {
      spdlog::error("gateway job failed: {}", e.what());
    }
    lock.lock();
  }
}

// ---- Gateway ----------------------------------------------------------------------------------

struct Gateway::OnvifCamera {
  CameraPtr entry;
  std::optional<onvif::ResolvedStreams> streams;
  bool added = false;      // handed to ingest
  bool resolving = false;  // a resolve is in flight or scheduled
  uint64_t watch = 0;
  int failures = 0;
  std::string lastError;
  std::mutex ptzMu;  // one PTZ command at a time per camera
};

namespace {

api::StreamKind toApi(ingest::LiveStream s) {
  return s == ingest::LiveStream::kMain ? api::StreamKind::kMain : api::StreamKind::kSub;
}

bool isLoopback(const std::string& address) {
  return address == "127.0.0.1" || address == "::1" || address.starts_with("::ffff:127.") ||
         address.starts_with("127.");
}

core::Result<void> makePrivateDir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return core::makeError(core::ErrorCode::kIo, "cannot create " + dir.string());
  ::chmod(dir.c_str(), 0700);
  return core::okResult();
}

}  // namespace

Gateway::Gateway(GatewayConfig config) : config_(std::move(config)) {}

Gateway::~Gateway() {
  stop();
}

core::Result<void> Gateway::openStores() {
  auto db = storage::Database::open(config_.indexPath());
  if (!db) return db.error();
  db_ = std::move(db.value());
  auto index = storage::SegmentIndex::open(db_);
  if (!index) return index.error();
  index_ = std::move(index.value());
  auto events = storage::EventStore::open(db_);
  if (!events) return events.error();
  events_ = std::move(events.value());
  auto alerts = storage::AlertStore::open(db_);
  if (!alerts) return alerts.error();
  alerts_ = std::move(alerts.value());
  auto cases = storage::CaseStore::open(db_);
  if (!cases) return cases.error();
  cases_ = std::move(cases.value());
  auto clips = storage::ClipStore::open(db_);
  if (!clips) return clips.error();
  clips_ = std::move(clips.value());
  return core::okResult();
}

core::Result<void> Gateway::ensureSigningKey() {
  const fs::path key = config_.signingKeyPath();
  std::error_code ec;
  if (fs::exists(key, ec)) return core::okResult();
  if (auto r = makePrivateDir(key.parent_path()); !r) return r;
  const fs::path pub = fs::path(key).replace_extension(".pub.pem");
  if (auto r = storage::generateSigningKey(key.string(), pub.string()); !r) return r;
  spdlog::info("evidence: created the signing key {} (public key {})", key.string(), pub.string());
  return core::okResult();
}

core::Result<void> Gateway::start() {
  for (const auto& dir :
       {config_.recordingDir(), config_.clipDir(), config_.dataDir + "/evidence"}) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
      return core::makeError(core::ErrorCode::kIo, "cannot create " + dir + ": " + ec.message());
  }
  recordingRoot_ = fs::absolute(config_.recordingDir()).string();
  secretsDir_ = fs::absolute(config_.secretsDir()).lexically_normal().string();
  if (auto r = loadCameras(); !r) return r;
  if (auto r = openStores(); !r) return r;
  rememberCameras(*cameraList());
  warmEventCache();
  if (auto r = ensureSigningKey(); !r) return r;

  storage::RecorderOptions ro;
  ro.root = recordingRoot_;
  // fsync dominates a commit while the disk absorbs every camera's writes: 200 cameras close 20
  // segments a second, more than one worker keeps up with (the index fell minutes behind).
  ro.workers = 4;
  ro.audit = cases_.get();  // what reconcile takes out of the evidence is audited
  auto recorder = storage::Recorder::create(ro, *index_);
  if (!recorder) return recorder.error();
  recorder_ = std::move(recorder.value());
  // Bring index and files into agreement before anything new is written.
  auto report = recorder_->reconcile(false);
  if (!report) return report.error();
  for (const auto& line : report->actions) spdlog::info("reconcile: {}", line);
  spdlog::info(
      "reconcile: {} orphan file(s) indexed, {} quarantined, {} row(s) without file dropped, {} "
      "hash mismatch(es)",
      report->indexedOrphans, report->quarantined, report->droppedRows, report->hashMismatches);

  startRetention();
  startBus();

  // Everything the API's handlers reach (camera add/edit/remove start and stop cameras through
  // these) exists before the API serves its first request: a camera added through the API right
  // after "listening on" once found them null.
  analytics::EngineOptions ao;
  ao.snapshotRoot = fs::absolute(config_.dataDir).string();
  analytics_ =
      std::make_unique<analytics::Engine>(ao, [this](const core::Event& e) { onEvent(e); });

  ingest::IngestOptions io;
  io.threads = config_.ingestThreads;
  auto manager = ingest::IngestManager::create(io, *this);
  if (!manager) return manager.error();
  ingest_ = std::move(manager.value());
  // Always there: a camera added through the API may be an ONVIF one.
  onvif_ = std::make_unique<onvif::OnvifRuntime>(2);

  // Camera changes through the API wait until the list's cameras are started: one that came
  // between the API's start and startCameras() was otherwise started twice (its first ONVIF
  // event watch leaked, never unwatched).
  std::lock_guard manage(manageMu_);
  if (auto r = startApi(); !r) return r;
  startCameras();
  return core::okResult();
}

storage::RetentionOptions Gateway::retentionOptions(const CameraList& cameras) {
  storage::RetentionOptions opts;
  opts.root = recordingRoot_;
  opts.policy.defaultMaxAge = config_.storage.retention;
  opts.policy.quotaBytes = config_.storage.quotaBytes;
  opts.policy.highWatermark = config_.storage.highWatermark;
  opts.policy.lowWatermark = config_.storage.lowWatermark;
  // A removed camera's own limit goes with it: its recordings follow the default from then on.
  for (const auto& cam : cameras) {
    if (cam->retention.count() > 0) opts.policy.maxAge[cam->ingest.id] = cam->retention;
  }
  opts.onStorageFull = [this](const storage::StorageFullAlert& a) {
    spdlog::error("storage: full ({} of {} bytes): {}", a.used, a.capacity, a.reason);
    if (!storageFull_.exchange(true)) {
      raiseGatewayEvent(core::EventType::kStorageFull, "storage_full", 3, true,
                        {{"reason", a.reason},
                         {"used_bytes", std::to_string(a.used)},
                         {"capacity_bytes", std::to_string(a.capacity)}});
    }
  };
  return opts;
}

// After a camera change: the per-camera limits are rebuilt on the job thread, where the sweeps
// run, so a sweep never sees the policy change under it.
void Gateway::rebuildRetention() {
  jobs_.schedule(JobThread::Clock::now(), [this] {
    if (stopped_ || !retention_) return;
    auto retention =
        storage::Retention::create(retentionOptions(*cameraList()), *index_, cases_.get());
    if (!retention) {
      spdlog::error("retention: policy not updated: {}", retention.error().describe());
      return;
    }
    retention_ = std::move(retention.value());
  });
}

void Gateway::startRetention() {
  auto retention =
      storage::Retention::create(retentionOptions(*cameraList()), *index_, cases_.get());
  if (!retention) {
    spdlog::error("retention: not started: {}", retention.error().describe());
    return;
  }
  retention_ = std::move(retention.value());
  // The first sweep soon after start (a gateway that was down may be over its limits), then
  // every interval; each sweep schedules the next.
  auto sweep = std::make_shared<std::function<void()>>();
  *sweep = [this, sweep] {
    if (stopped_) return;
    auto r = retention_->sweep(core::processClock().now());
    if (!r) {
      retentionFailures_.fetch_add(1);
      spdlog::error("retention: sweep failed: {}", r.error().describe());
    } else {
      retentionDeleted_.fetch_add(static_cast<uint64_t>(r->deleted));
      retentionFreedBytes_.fetch_add(r->bytesFreed);
      if (r->deleted > 0) {
        spdlog::info("retention: deleted {} segment(s), {} MiB freed", r->deleted,
                     r->bytesFreed >> 20);
      }
      if (!r->storageFull && storageFull_.exchange(false)) {
        raiseGatewayEvent(core::EventType::kStorageFull, "storage_full", 3, false, {});
      }
    }
    jobs_.schedule(JobThread::Clock::now() + config_.storage.sweepInterval, *sweep);
  };
  jobs_.schedule(JobThread::Clock::now() + 2s, *sweep);
}

void Gateway::startBus() {
  if (!config_.busConfig) {
    spdlog::info("bus: no upstream centre configured; events stay on this gateway");
    return;
  }
  auto pub = bus::Publisher::create(*config_.busConfig);
  if (!pub) {
    // The gateway keeps recording and analysing without its centre; the operator sees why.
    spdlog::error("bus: not started: {}", pub.error().describe());
    return;
  }
  publisher_ = std::move(pub.value());
  publisher_->setOutboxFullCallback([this](uint64_t used, uint64_t quota) {
    spdlog::error("bus: the outbox is full ({} of {} bytes); events are kept locally only", used,
                  quota);
    raiseGatewayEvent(
        core::EventType::kStorageFull, "bus_outbox_full", 3, true,
        {{"used_bytes", std::to_string(used)}, {"quota_bytes", std::to_string(quota)}});
  });
  if (auto r = publisher_->start(); !r) {
    spdlog::error("bus: not started: {}", r.error().describe());
    publisher_.reset();
    return;
  }
  spdlog::info("bus: publishing as '{}' to {}", config_.busConfig->origin,
               config_.busConfig->endpoint);
}

core::Result<void> Gateway::startApi() {
  users_ = std::make_unique<api::UserStore>(config_.usersPath());
  if (auto r = users_->load(); !r) return r;
  if (users_->list().empty()) {
    // First start: one admin. The password comes from the environment or is generated into a
    // 0600 file beside the data; it is never logged.
    std::string password;
    std::string where;
    if (const char* env = std::getenv("SHARPEYES_ADMIN_PASSWORD"); env && *env) {
      password = env;
      where = "SHARPEYES_ADMIN_PASSWORD";
    } else {
      password = core::newId().substr(0, 20);
      const fs::path file = fs::path(config_.dataDir) / "initial-admin-password";
      {
        std::ofstream out(file, std::ios::trunc);
        out << password << "\n";
      }
      ::chmod(file.c_str(), 0600);
      where = file.string();
    }
    auto admin =
        users_->addUser("admin", password, api::Role::kAdmin, std::nullopt, "Administrator");
    if (!admin) return admin.error();
    if (auto r = users_->save(); !r) return r;
    spdlog::info("api: created user 'admin' (password: {})", where);
  }

  live_ = std::make_unique<api::LiveVideoHub>(
      [this](const core::CameraId& cam, api::StreamKind kind, bool wanted) {
        onLiveDemand(cam, kind == api::StreamKind::kSub, wanted);
      });

  BackendStores stores{events_.get(), alerts_.get(), index_.get(), cases_.get(), clips_.get()};
  BackendPaths paths;
  paths.gatewayId = config_.id;
  paths.division = config_.division;
  paths.recordingRoot = recordingRoot_;
  paths.clipDir = fs::absolute(config_.clipDir()).string();
  paths.evidenceDir = fs::absolute(config_.dataDir + "/evidence").string();
  paths.signingKey = config_.signingKeyPath();
  paths.snapshotRoot = fs::absolute(config_.dataDir).string();
  BackendHooks hooks;
  hooks.cameras = [this] { return cameraInfos(); };
  hooks.states = [this] { return cameraStates(); };
  hooks.ptz = [this](const core::CameraId& id, const api::PtzCommand& cmd) { return ptz(id, cmd); };
  hooks.division = [this](const core::CameraId& id) -> std::optional<core::DivisionCode> {
    if (const auto c = findCamera(id)) return c->ingest.division;
    return std::nullopt;
  };
  hooks.addCamera = [this](const api::CameraSpec& spec) { return addApiCamera(spec); };
  hooks.updateCamera = [this](const api::CameraSpec& spec) { return updateApiCamera(spec); };
  hooks.removeCamera = [this](const core::CameraId& id) { return removeApiCamera(id); };
  backend_ = std::make_unique<GatewayBackend>(stores, paths, std::move(hooks));

  api::ApiOptions ao;
  ao.secureCookies = !config_.api.tlsCert.empty();
  ao.webRoot = config_.api.webRoot;
  service_ = std::make_unique<api::ApiService>(*backend_, *users_, *live_, ao);

  api::HttpServerOptions ho;
  ho.bindAddress = config_.http.address;
  ho.port = config_.http.port;
  ho.threads = config_.api.threads;
  ho.tlsCertFile = config_.api.tlsCert;
  ho.tlsKeyFile = config_.api.tlsKey;
  http_ = std::make_unique<api::HttpServer>(ho);
  using api::HttpRequest;
  using api::HttpResponse;
  for (auto r : {
           http_->route("GET", "/healthz",
                        [](const HttpRequest&) { return HttpResponse::text(200, "ok\n"); }),
           http_->route("GET", "/metrics",
                        [this](const HttpRequest&) {
                          return HttpResponse::text(200, metricsText(),
                                                    api::PrometheusWriter::kContentType);
                        }),
           // The terminal status table (`sharpeyes status`) runs on the box itself: loopback
           // only, no login. Everyone else uses /api/cameras with a session.
           http_->route("GET", "/status",
                        [this](const HttpRequest& req) {
                          if (!isLoopback(req.remoteAddress)) {
                            return HttpResponse::error(403, "forbidden",
                                                       "/status answers loopback clients only; "
                                                       "use /api/cameras with a login");
                          }
                          return HttpResponse::json(200, camerasJson());
                        }),
       }) {
    if (!r) return r;
  }
  if (auto r = service_->registerRoutes(*http_); !r) return r;
  if (auto r = http_->start(); !r) return r;
  return core::okResult();
}

// manageMu_ held.
void Gateway::startCameras() {
  const auto cameras = cameraList();  // held: the loop must not outlive the list it walks
  for (const auto& cam : *cameras) startCamera(cam);
}

// manageMu_ held (or start, before any change can come).
void Gateway::startCamera(const CameraPtr& cam) {
  const auto id = cam->ingest.id.str();
  if (!cam->enabled) {
    spdlog::info("camera {}: disabled{}", id, cam->fromApi ? "" : " in the config");
    return;
  }
  if (cam->analyticsConfig) {
    if (auto r = analytics_->addCamera(*cam->analyticsConfig); !r) {
      spdlog::error("camera {}: analytics not started: {}", id, r.error().describe());
    }
  }
  if (cam->onvif) {
    auto oc = std::make_shared<OnvifCamera>();
    oc->entry = cam;
    {
      std::lock_guard lock(mu_);
      onvifCameras_[id] = std::move(oc);
    }
    spdlog::info("camera {}: {} ({}) resolving streams through ONVIF at {}", id, cam->ingest.name,
                 cam->ingest.division.str(), core::redactUrl(cam->onvif->address));
    resolveOnvif(id, false);
    watchOnvifEvents(cam);
    return;
  }
  if (auto r = ingest_->addCamera(cam->ingest); !r) {
    // One bad camera never stops the others.
    spdlog::error("camera {}: not started: {}", id, r.error().describe());
  } else {
    spdlog::info("camera {}: {} ({}) main {}", id, cam->ingest.name, cam->ingest.division.str(),
                 core::redactUrl(cam->ingest.main.url));
  }
}

// The camera's own events (motion, tamper) join ours. manageMu_ held.
void Gateway::watchOnvifEvents(const CameraPtr& cam) {
  onvif::EventSource src;
  src.camera = cam->ingest.id;
  src.division = cam->ingest.division;
  src.address = cam->onvif->address;
  src.credentials = {cam->onvif->username, cam->onvif->password};
  const auto id = cam->ingest.id.str();
  const uint64_t watch = onvif_->watchEvents(
      src, [this](const core::Event& e) { onEvent(e); },
      [id](onvif::WatchState st, const std::string& detail) {
        const auto level =
            st == onvif::WatchState::kRetrying ? spdlog::level::warn : spdlog::level::info;
        spdlog::log(level, "camera {}: ONVIF events {}{}{}", id, onvif::toString(st),
                    detail.empty() ? "" : ": ", detail);
      });
  std::lock_guard lock(mu_);
  onvifCameras_.at(id)->watch = watch;
}

// manageMu_ held. Stops what startCamera started; recordings already made stay in the index.
void Gateway::stopCamera(const CameraPtr& cam) {
  const auto& id = cam->ingest.id;
  uint64_t watch = 0;
  {
    std::lock_guard lock(mu_);
    if (auto it = onvifCameras_.find(id.str()); it != onvifCameras_.end()) {
      watch = it->second->watch;
      onvifCameras_.erase(it);  // a resolve in flight finds it gone and does nothing
    }
  }
  if (watch != 0) onvif_->unwatch(watch);
  // Not ingested (disabled, ONVIF not resolved yet) is not an error here.
  if (auto r = ingest_->removeCamera(id); !r && r.error().code != core::ErrorCode::kNotFound) {
    spdlog::warn("camera {}: not removed from ingest: {}", id.str(), r.error().describe());
  }
  // Ends the camera's open events (their end phase is stored and clipped as usual).
  if (cam->analyticsConfig) analytics_->removeCamera(id);
  live_->endStream(id, api::StreamKind::kMain);
  live_->endStream(id, api::StreamKind::kSub);
  std::lock_guard lock(mu_);
  tampered_.erase(id.str());
  liveDemand_.erase(id.str());
  lastMainInit_.erase(id.str());
}

// Resolves an ONVIF camera's stream URIs on an ONVIF worker, then adds the camera to ingest (or
// replaces its URLs). Failures retry with back-off on the job thread; the camera reads
// "connecting" with the reason meanwhile.
void Gateway::resolveOnvif(const std::string& id, bool restart) {
  std::shared_ptr<OnvifCamera> self;
  {
    std::lock_guard lock(mu_);
    auto it = onvifCameras_.find(id);
    if (it == onvifCameras_.end() || it->second->resolving) return;
    it->second->resolving = true;
    self = it->second;
  }
  const CameraPtr entry = self->entry;
  // The timeout bounds the whole resolution (waiting for a worker included), so a silent device
  // retries on schedule instead of holding a worker.
  onvif_->resolveStreams(
      entry->onvif->address, {entry->onvif->username, entry->onvif->password}, {}, 20s,
      [this, id, self, entry, restart](core::Result<onvif::ResolvedStreams> r) {
        if (stopped_) return;
        // Handing the camera to ingest must not interleave with its removal or edit.
        std::lock_guard manage(manageMu_);
        if (stopped_) return;
        std::unique_lock lock(mu_);
        auto it = onvifCameras_.find(id);
        if (it == onvifCameras_.end() || it->second != self) return;  // removed or replaced
        auto& oc = *self;
        oc.resolving = false;
        if (!r) {
          oc.failures++;
          oc.lastError = r.error().describe();
          const auto delay =
              std::min<std::chrono::seconds>(60s, 2s * (1 << std::min(oc.failures, 5)));
          lock.unlock();
          spdlog::warn("camera {}: ONVIF resolve failed ({}); retry in {} s", id,
                       r.error().describe(), delay.count());
          jobs_.schedule(JobThread::Clock::now() + delay, [this, id, restart] {
            if (!stopped_) resolveOnvif(id, restart);
          });
          return;
        }
        oc.failures = 0;
        oc.lastError.clear();
        oc.streams = *r;
        const bool wasAdded = oc.added;
        oc.added = true;
        lock.unlock();

        auto cfg = entry->ingest;
        cfg.main.url = r->mainUri;
        cfg.main.username = entry->onvif->username;
        cfg.main.password = entry->onvif->password;
        if (!r->subUri.empty() && r->subUri != r->mainUri) {
          ingest::StreamSource sub = cfg.main;
          sub.url = r->subUri;
          cfg.sub = sub;
        } else {
          cfg.sub.reset();
        }
        core::Result<void> added = core::okResult();
        if (wasAdded) {
          added = ingest_->updateSources(cfg.id, cfg.main, cfg.sub);
        } else {
          added = ingest_->addCamera(cfg);
        }
        if (!added) {
          spdlog::error("camera {}: not started: {}", id, added.error().describe());
        } else {
          spdlog::info("camera {}: ONVIF {} {} main {}{}", id, r->device.manufacturer,
                       r->device.model, core::redactUrl(r->mainUri),
                       restart ? " (re-resolved)" : "");
        }
      });
}

// On an HTTP I/O thread (the hub's demand callback); setLive returns at once.
void Gateway::onLiveDemand(const core::CameraId& cam, bool sub, bool wanted) {
  if (!ingest_ || stopped_) return;
  const auto entry = findCamera(cam);
  bool hasSub = entry && entry->ingest.sub.has_value();
  if (entry && entry->onvif) {
    std::lock_guard lock(mu_);
    auto it = onvifCameras_.find(cam.str());
    hasSub = it != onvifCameras_.end() && it->second->streams &&
             !it->second->streams->subUri.empty() &&
             it->second->streams->subUri != it->second->streams->mainUri;
  }
  const auto kind = sub ? api::StreamKind::kSub : api::StreamKind::kMain;
  if (sub && hasSub) {
    if (auto r = ingest_->setLive(cam, ingest::LiveStream::kSub, wanted); !r && wanted) {
      spdlog::warn("camera {}: live sub not started: {}", cam.str(), r.error().describe());
      live_->endStream(cam, kind);
    }
    return;
  }
  bool mainWanted = false;
  std::string init;
  {
    std::lock_guard lock(mu_);
    auto& d = liveDemand_[cam.str()];
    const bool wasMuxing = d.main || d.subFromMain;
    (sub ? d.subFromMain : d.main) = wanted;
    mainWanted = d.main || d.subFromMain;
    // Sub viewers joining a main stream already being muxed need its init segment; the hub
    // starts them at the next keyframe.
    if (sub && wanted && wasMuxing) {
      if (auto it = lastMainInit_.find(cam.str()); it != lastMainInit_.end()) init = it->second;
    }
  }
  if (!init.empty()) live_->pushBytes(cam, api::StreamKind::kSub, init);
  if (auto r = ingest_->setLive(cam, ingest::LiveStream::kMain, mainWanted); !r && wanted) {
    spdlog::warn("camera {}: live main not started: {}", cam.str(), r.error().describe());
    live_->endStream(cam, kind);
  }
}

core::Result<void> Gateway::ptz(const core::CameraId& id, const api::PtzCommand& cmd) {
  std::shared_ptr<OnvifCamera> oc;
  std::optional<onvif::ResolvedStreams> streams;
  {
    std::lock_guard lock(mu_);
    auto it = onvifCameras_.find(id.str());
    if (it != onvifCameras_.end()) {
      oc = it->second;
      streams = oc->streams;
    }
  }
  if (!oc) {
    if (!findCamera(id))
      return core::makeError(core::ErrorCode::kNotFound, "no camera " + id.str());
    return core::makeError(core::ErrorCode::kUnsupported,
                           "camera " + id.str() + " is not an ONVIF camera; PTZ needs ONVIF");
  }
  if (!streams) {
    return core::makeError(core::ErrorCode::kUnavailable,
                           "camera " + id.str() + " has not answered ONVIF yet");
  }
  auto url = onvif::deviceServiceUrl(oc->entry->onvif->address);
  if (!url) return url.error();
  // On this HTTP thread, bounded by the client's timeouts; one command at a time per camera.
  std::lock_guard ptzLock(oc->ptzMu);
  onvif::DeviceClient client(*url, {oc->entry->onvif->username, oc->entry->onvif->password});
  if (auto r = client.syncClock(); !r) return r.error();
  const std::string& profile = streams->mainProfile;
  switch (cmd.action) {
    case api::PtzCommand::Action::kMove:
      return client.continuousMove(profile, {cmd.pan, cmd.tilt, cmd.zoom},
                                   std::chrono::milliseconds(cmd.timeoutMs));
    case api::PtzCommand::Action::kStop: return client.stop(profile);
    case api::PtzCommand::Action::kGotoPreset: {
      auto presets = client.presets(profile);
      if (!presets) return presets.error();
      if (cmd.preset < 1 || static_cast<size_t>(cmd.preset) > presets->size()) {
        return core::makeError(
            core::ErrorCode::kNotFound,
            "camera " + id.str() + " has no preset " + std::to_string(cmd.preset));
      }
      return client.gotoPreset(profile, (*presets)[static_cast<size_t>(cmd.preset - 1)].token);
    }
    case api::PtzCommand::Action::kSetPreset: {
      auto r = client.setPreset(profile, "preset " + std::to_string(cmd.preset));
      if (!r) return r.error();
      return core::okResult();
    }
  }
  return core::makeError(core::ErrorCode::kInvalidArgument, "unknown PTZ action");
}

void Gateway::stop() {
  if (stopped_.exchange(true)) return;
  // The cache warm-up is of no use to a gateway that stops: cancel its reads on the server now,
  // so that they end while the rest shuts down (they took ~20 s for 7 GB).
  cacheWarmer_.request_stop();
  // A camera change in progress finishes first; later ones see stopped_ and do nothing.
  { std::lock_guard barrier(manageMu_); }
  // Analytics first, so that every open event gets its end before the cameras go away.
  if (analytics_) analytics_->stop();
  if (ingest_) ingest_->stop();
  // Jobs (clips, sweeps) read the index and files: stop them before the recorder goes.
  jobs_.stop();
  onvif_.reset();
  if (recorder_) {
    recorder_->drain();
    recorder_->stop();
  }
  if (http_) http_->stop();
  if (publisher_) publisher_->stop();
  // Cancelled above: it returns within about a second of the request (storage::Database).
  if (cacheWarmer_.joinable()) cacheWarmer_.join();
}

uint16_t Gateway::httpPort() const {
  return http_ ? http_->port() : 0;
}

std::shared_ptr<const Gateway::CameraList> Gateway::cameraList() const {
  std::lock_guard lock(camerasMu_);
  return cameras_;
}

Gateway::CameraPtr Gateway::findCamera(const core::CameraId& id) const {
  const auto list = cameraList();
  for (const auto& c : *list) {
    if (c->ingest.id == id) return c;
  }
  return nullptr;
}

// ---- ingest callbacks -------------------------------------------------------------------------

void Gateway::onStateChanged(const ingest::CameraStatus& s) {
  const auto level =
      s.state == ingest::CameraState::kStreaming || s.state == ingest::CameraState::kStopped
          ? spdlog::level::info
          : spdlog::level::warn;
  spdlog::log(level, "camera {}: {}{}{}", s.id.str(), ingest::toString(s.state),
              s.reason.empty() ? "" : ": ", s.reason);
  if (analytics_) {
    analytics_->reportSignal(
        s.id, s.state == ingest::CameraState::kStreaming,
        std::string(ingest::toString(s.state)) + (s.reason.empty() ? "" : ": " + s.reason),
        s.since);
  }
  if (service_) {
    for (const auto& info : cameraInfos()) {
      if (info.id != s.id) continue;
      api::CameraState st;
      st.id = s.id;
      st.state = std::string(ingest::toString(s.state));
      st.reason = s.reason;
      st.since = s.since;
      st.reader = s.reader;
      service_->publishCameraState(info, st);
    }
  }
  // An ONVIF camera that went offline may have new stream URIs (reboot, DHCP): ask again.
  if (s.state == ingest::CameraState::kOffline && onvif_) {
    bool isOnvif = false;
    {
      std::lock_guard lock(mu_);
      isOnvif = onvifCameras_.count(s.id.str()) > 0;
    }
    if (isOnvif) {
      const auto id = s.id.str();
      jobs_.schedule(JobThread::Clock::now(), [this, id] {
        if (!stopped_) resolveOnvif(id, true);
      });
    }
  }
}

void Gateway::onSegmentClosed(const ingest::SegmentClosed& seg) {
  storage::ClosedFile f;
  f.camera = seg.camera;
  f.path = seg.path;
  f.start = seg.start;
  f.mediaDuration = seg.mediaDuration;
  f.codec = seg.codec;
  f.width = seg.width;
  f.height = seg.height;
  recorder_->submit(std::move(f));
}

void Gateway::onFrame(const core::Frame& frame) {
  analytics_->submit(frame);
}

bool Gateway::subServedFromMain(const core::CameraId& camera, ingest::LiveStream stream) const {
  if (stream != ingest::LiveStream::kMain) return false;
  std::lock_guard lock(mu_);
  auto it = liveDemand_.find(camera.str());
  return it != liveDemand_.end() && it->second.subFromMain;
}

void Gateway::onLiveBytes(const core::CameraId& camera, ingest::LiveStream stream,
                          std::string_view bytes) {
  if (!live_) return;
  // Each call carries whole boxes; an init segment starts with ftyp.
  if (stream == ingest::LiveStream::kMain && bytes.size() >= 8 && bytes.substr(4, 4) == "ftyp") {
    std::lock_guard lock(mu_);
    lastMainInit_[camera.str()] = std::string(bytes);
  }
  live_->pushBytes(camera, toApi(stream), bytes);
  if (subServedFromMain(camera, stream)) live_->pushBytes(camera, api::StreamKind::kSub, bytes);
}

void Gateway::onLiveEnded(const core::CameraId& camera, ingest::LiveStream stream) {
  if (!live_) return;
  live_->endStream(camera, toApi(stream));
  if (subServedFromMain(camera, stream)) live_->endStream(camera, api::StreamKind::kSub);
}

// ---- events -----------------------------------------------------------------------------------

// On an analytics worker, an ONVIF worker or the job thread. The stores serialise on their
// connection; an SQLite insert in WAL mode costs tens of microseconds.
void Gateway::onEvent(const core::Event& e) {
  if (auto r = events_->store(e); !r) {
    eventsFailed_.fetch_add(1);
    spdlog::error("event {} ({} on {}): not stored: {}", e.id, core::toString(e.type),
                  e.camera.str(), r.error().describe());
    return;
  }
  eventsStored_.fetch_add(1);
  if (e.phase == core::EventPhase::kStart) {
    spdlog::info("event {}: {} {} on {} (rule {}, severity {}{}{})", e.id, core::toString(e.type),
                 core::toString(e.phase), e.camera.str(), e.rule, e.severity,
                 e.objectClass.empty() ? "" : ", ", e.objectClass);
  }
  if (e.type == core::EventType::kTamper) {
    std::lock_guard lock(mu_);
    if (e.phase == core::EventPhase::kEnd) {
      tampered_.erase(e.camera.str());
    } else {
      tampered_.emplace(e.camera.str(), e.start);
    }
  }
  // Every event reaches the alert desk once (its start); later phases update the page.
  if (e.phase == core::EventPhase::kStart) {
    if (auto alert = alerts_->raise(e); !alert) {
      spdlog::error("event {}: alert not raised: {}", e.id, alert.error().describe());
    } else {
      alertsRaised_.fetch_add(1);
      if (service_) {
        if (auto a = backend_->toApiAlert(*alert); a) service_->publishAlert(*a);
      }
    }
  }
  if (service_) service_->publishEvent(e);
  if (publisher_) {
    if (auto r = publisher_->publish(e); !r) {
      eventsNotPublished_.fetch_add(1);
      spdlog::warn("event {}: not queued for the centre: {}", e.id, r.error().describe());
    } else {
      eventsPublished_.fetch_add(1);
    }
  }
  if (e.phase == core::EventPhase::kEnd) scheduleEventClip(e);
}

void Gateway::raiseGatewayEvent(core::EventType type, const std::string& rule, int severity,
                                bool start, const std::map<std::string, std::string>& attributes) {
  core::Event e;
  {
    std::lock_guard lock(mu_);
    auto it = openGatewayEvents_.find(rule);
    if (start) {
      if (it != openGatewayEvents_.end()) return;  // already open: no alert storm
      e.id = core::newId();
      openGatewayEvents_[rule] = e.id;
    } else {
      if (it == openGatewayEvents_.end()) return;
      e.id = it->second;
      openGatewayEvents_.erase(it);
    }
  }
  e.phase = start ? core::EventPhase::kStart : core::EventPhase::kEnd;
  // The gateway itself is the "camera" of its own events.
  e.camera = core::CameraId::parse(config_.id).value();
  e.division = config_.division;
  e.rule = rule;
  e.type = type;
  e.severity = severity;
  e.start = core::processClock().now();
  if (!start) e.end = e.start;
  e.attributes = attributes;
  onEvent(e);
}

// The clip of an event is cut once its post-roll has been recorded and indexed: the segment
// holding clipEnd closes at most one segment length later.
void Gateway::scheduleEventClip(const core::Event& e) {
  if (!config_.storage.eventClips || e.severity < config_.storage.minClipSeverity) return;
  const auto cam = findCamera(e.camera);
  if (!cam || !cam->ingest.recording.enabled) return;  // gateway events have no video
  if (e.clipEnd <= e.clipStart) return;
  const auto now = core::processClock().now();
  const auto wait =
      std::max<core::Duration>(0s, e.clipEnd - now) + cam->ingest.recording.segmentLength + 3s;
  jobs_.schedule(
      JobThread::Clock::now() + std::chrono::duration_cast<std::chrono::milliseconds>(wait),
      [this, e] { cutEventClip(e, 0); });
}

void Gateway::cutEventClip(const core::Event& e, int attempt) {
  if (stopped_) return;
  const fs::path dir = fs::absolute(fs::path(config_.clipDir()) / e.camera.str());
  std::error_code ec;
  fs::create_directories(dir, ec);
  storage::ClipRequest req;
  req.camera = e.camera;
  req.range = {e.clipStart, e.clipEnd};
  req.outputPath = (dir / ("event-" + e.id + ".mp4")).string();
  auto clip = storage::exportClip(*index_, recordingRoot_, req);
  if (!clip) {
    // The last segment may still be on its way to the index (a slow disk): one more try.
    const auto cam = findCamera(e.camera);  // null: removed meanwhile
    if (attempt == 0 && clip.error().code == core::ErrorCode::kNotFound && cam) {
      const auto seg = cam->ingest.recording.segmentLength;
      jobs_.schedule(
          JobThread::Clock::now() + std::chrono::duration_cast<std::chrono::milliseconds>(seg),
          [this, e] { cutEventClip(e, 1); });
      return;
    }
    eventClipFailures_.fetch_add(1);
    spdlog::warn("event {}: no clip: {}", e.id, clip.error().describe());
    return;
  }
  auto rec = clips_->recordClip(*clip, "gateway", e.id);
  if (!rec) {
    eventClipFailures_.fetch_add(1);
    spdlog::error("event {}: clip not recorded: {}", e.id, rec.error().describe());
    fs::remove(req.outputPath, ec);
    return;
  }
  eventClips_.fetch_add(1);
  spdlog::info("event {}: clip {} ({} s{})", e.id, clip->id,
               std::chrono::duration_cast<std::chrono::seconds>(clip->actual.length()).count(),
               clip->gaps.empty() ? "" : ", with gaps");
  if (publisher_) {
    bus::ClipOffer offer;
    offer.clipId = clip->id;
    offer.eventId = e.id;
    offer.path = req.outputPath;
    offer.sha256 = clip->sha256;
    offer.metaJson = nlohmann::json{{"camera", e.camera.str()},
                                    {"division", e.division.str()},
                                    {"from", core::formatIso8601(clip->actual.begin)},
                                    {"to", core::formatIso8601(clip->actual.end)}}
                         .dump();
    if (auto r = publisher_->publishClip(offer); !r) {
      spdlog::warn("event {}: clip not queued for the centre: {}", e.id, r.error().describe());
    }
  }
}

// ---- cameras added, edited and removed through the API ------------------------------------

core::Result<void> Gateway::loadCameras() {
  ApiCameraFile file(config_.apiCamerasPath());
  auto entries = readApiCameras(file, config_);
  if (!entries) return entries.error();
  const std::vector<bool> shadowed = shadowedApiCameras(config_.cameras, *entries);
  CameraList list;
  for (auto& cam : config_.cameras)
    list.push_back(std::make_shared<const CameraEntry>(std::move(cam)));
  // From here on cameras_ is the only list; config_ is read-only and holds none.
  config_.cameras.clear();
  const size_t fromConfig = list.size();
  for (size_t i = 0; i < entries->size(); ++i) {
    auto& entry = (*entries)[i];
    if (shadowed[i]) {
      // The config file is authoritative; the API's copy is kept in its file, unused.
      spdlog::warn("camera {}: defined in {} and in {}; the config file's is used",
                   entry.ingest.id.str(), config_.file, file.path());
      shadowedApiCameras_.push_back(entry.source);
      continue;
    }
    list.push_back(std::make_shared<const CameraEntry>(std::move(entry)));
  }
  spdlog::info("cameras: {} from {}, {} added through the API ({})", fromConfig, config_.file,
               list.size() - fromConfig, file.path());
  publishCameras(std::move(list));
  return core::okResult();
}

void Gateway::publishCameras(CameraList cameras) {
  if (index_) rememberCameras(cameras);  // at start: once the index is open (start())
  auto next = std::make_shared<const CameraList>(std::move(cameras));
  std::lock_guard lock(camerasMu_);
  cameras_ = std::move(next);
}

// The index remembers each camera's name and division for its recordings, which outlive the
// camera's removal (through the API, or from the config file before a restart).
void Gateway::rememberCameras(const CameraList& cameras) {
  std::vector<storage::CameraLabel> labels;
  labels.reserve(cameras.size());
  for (const auto& cam : cameras) {
    const auto& c = cam->ingest;
    labels.push_back({c.id, c.name, c.division.empty() ? config_.division : c.division});
  }
  if (auto r = index_->describeCameras(labels); !r) {
    spdlog::warn("cameras: names and divisions not recorded in the index: {}",
                 r.error().describe());
  }
}

// After a restart the first event queries of each kind wait for random reads; reading the event
// relations first takes ~20 s for 7 GB on PostgreSQL (docs/storage.md). On a connection of its
// own, so the index's connection serves requests meanwhile. PostgreSQL needs the pg_prewarm
// extension; SQLite reads the pages through its dbstat table.
void Gateway::warmEventCache() {
  cacheWarmer_ = std::jthread([url = config_.indexPath()](const std::stop_token& stop) {
    const auto started = std::chrono::steady_clock::now();
    const auto seconds = [&started] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    };
    auto db = storage::Database::open(url);
    if (!db) {
      spdlog::warn("storage: event cache not warmed: {}", db.error().describe());
      return;
    }
    auto blocks = (*db)->readEventsIntoCache(stop);
    if (!blocks && blocks.error().code == core::ErrorCode::kCancelled) {
      spdlog::info("storage: event cache warm-up cancelled after {:.1f} s (gateway stopping)",
                   seconds());
      return;
    }
    if (!blocks) {
      spdlog::info("storage: event cache not warmed: {}", blocks.error().message);
      return;
    }
    spdlog::info("storage: read the event relations into the cache ({} pages) in {:.1f} s", *blocks,
                 seconds());
  });
}

// manageMu_ held (yaml-cpp nodes are not safe to read from two threads at once).
core::Result<Gateway::CameraPtr> Gateway::validateApiCamera(const YAML::Node& yaml) const {
  try {
    // "request" and no path: messages read "request: division: ..." (apiFieldMessage).
    auto entry = parseCameraEntry(yaml, config_, "request", "");
    entry.fromApi = true;
    entry.source = yaml;
    return std::make_shared<const CameraEntry>(std::move(entry));
  } catch (const ConfigError& e) {
    return core::makeError(core::ErrorCode::kInvalidArgument, apiFieldMessage(e.what()));
  } catch (const YAML::Exception& e) {
    return core::makeError(core::ErrorCode::kInvalidArgument, e.what());
  }
}

// manageMu_ held.
core::Result<void> Gateway::saveApiCameras(const CameraList& cameras) {
  std::vector<YAML::Node> nodes;
  for (const auto& cam : cameras) {
    // Clones: building the document must not merge the live entries' YAML memory into it.
    if (cam->fromApi) nodes.push_back(YAML::Clone(cam->source));
  }
  for (const auto& node : shadowedApiCameras_) nodes.push_back(YAML::Clone(node));
  return ApiCameraFile(config_.apiCamerasPath()).save(nodes);
}

namespace {

core::Error definedInConfig(const core::CameraId& id, const std::string& file) {
  return core::makeError(core::ErrorCode::kAlreadyExists,
                         "camera " + id.str() + " is defined in " + file + "; edit the file");
}

void removeFile(const std::string& path) {
  if (path.empty()) return;
  std::error_code ec;
  fs::remove(path, ec);
}

}  // namespace

core::Result<api::CameraInfo> Gateway::addApiCamera(const api::CameraSpec& spec) {
  std::lock_guard manage(manageMu_);
  if (stopped_) return core::makeError(core::ErrorCode::kUnavailable, "the gateway is stopping");
  const auto list = cameraList();
  if (const auto existing = findCamera(spec.id)) {
    if (!existing->fromApi) return definedInConfig(spec.id, config_.file);
    return core::makeError(core::ErrorCode::kAlreadyExists,
                           "camera " + spec.id.str() + " already exists");
  }
  auto prepared = prepareCamera(spec, nullptr, secretsDir_);
  if (!prepared) return prepared.error();
  auto cam = validateApiCamera(prepared->yaml);
  if (!cam) {
    removeFile(prepared->newSecretFile);
    return cam.error();
  }
  CameraList next = *list;
  next.push_back(*cam);
  // Durable first: a camera the API confirmed is there after a restart.
  if (auto r = saveApiCameras(next); !r) {
    removeFile(prepared->newSecretFile);
    return r.error();
  }
  publishCameras(std::move(next));
  spdlog::info("camera {}: added through the API", spec.id.str());
  startCamera(*cam);
  rebuildRetention();
  std::lock_guard lock(mu_);
  return cameraInfoLocked(**cam);
}

core::Result<api::CameraInfo> Gateway::updateApiCamera(const api::CameraSpec& spec) {
  std::lock_guard manage(manageMu_);
  if (stopped_) return core::makeError(core::ErrorCode::kUnavailable, "the gateway is stopping");
  const auto list = cameraList();
  const auto old = findCamera(spec.id);
  if (!old) return core::makeError(core::ErrorCode::kNotFound, "no camera " + spec.id.str());
  if (!old->fromApi) return definedInConfig(spec.id, config_.file);
  auto prepared = prepareCamera(spec, &old->source, secretsDir_);
  if (!prepared) return prepared.error();
  auto cam = validateApiCamera(prepared->yaml);
  if (!cam) {
    removeFile(prepared->newSecretFile);
    return cam.error();
  }
  CameraList next = *list;
  std::replace(next.begin(), next.end(), old, *cam);
  if (auto r = saveApiCameras(next); !r) {
    removeFile(prepared->newSecretFile);
    return r.error();
  }
  publishCameras(std::move(next));
  spdlog::info("camera {}: changed through the API; restarting it", spec.id.str());
  stopCamera(old);
  startCamera(*cam);
  const auto oldSecret = ownedSecretFile(old->source, secretsDir_);
  if (oldSecret != ownedSecretFile((*cam)->source, secretsDir_)) removeFile(oldSecret);
  rebuildRetention();
  std::lock_guard lock(mu_);
  return cameraInfoLocked(**cam);
}

core::Result<void> Gateway::removeApiCamera(const core::CameraId& id) {
  std::lock_guard manage(manageMu_);
  if (stopped_) return core::makeError(core::ErrorCode::kUnavailable, "the gateway is stopping");
  const auto list = cameraList();
  const auto old = findCamera(id);
  if (!old) return core::makeError(core::ErrorCode::kNotFound, "no camera " + id.str());
  if (!old->fromApi) return definedInConfig(id, config_.file);
  CameraList next = *list;
  std::erase(next, old);
  if (auto r = saveApiCameras(next); !r) return r.error();
  publishCameras(std::move(next));
  spdlog::info("camera {}: removed through the API; its recordings stay until retention", id.str());
  stopCamera(old);
  removeFile(ownedSecretFile(old->source, secretsDir_));
  rebuildRetention();
  return core::okResult();
}

// ---- camera views for the API -----------------------------------------------------------------

std::vector<api::CameraInfo> Gateway::cameraInfos() const {
  const auto list = cameraList();
  std::vector<api::CameraInfo> out;
  out.reserve(list->size());
  std::lock_guard lock(mu_);
  for (const auto& cam : *list) out.push_back(cameraInfoLocked(*cam));
  return out;
}

api::CameraInfo Gateway::cameraInfoLocked(const CameraEntry& cam) const {
  api::CameraInfo c;
  c.id = cam.ingest.id;
  c.name = cam.ingest.name;
  c.division = cam.ingest.division;
  c.enabled = cam.enabled;
  c.ptz = cam.ptz;
  c.origin = cam.fromApi ? "api" : "config";
  if (cam.onvif) {
    auto it = onvifCameras_.find(cam.ingest.id.str());
    if (it != onvifCameras_.end() && it->second->streams) {
      const auto& s = *it->second->streams;
      c.mainUrl = core::redactUrl(s.mainUri);
      c.hasSubStream = !s.subUri.empty() && s.subUri != s.mainUri;
      if (c.hasSubStream) c.subUrl = core::redactUrl(s.subUri);
    } else {
      c.mainUrl = core::redactUrl(cam.onvif->address);
    }
  } else {
    c.mainUrl = core::redactUrl(cam.ingest.main.url);
    c.hasSubStream = cam.ingest.sub.has_value();
    if (cam.ingest.sub) c.subUrl = core::redactUrl(cam.ingest.sub->url);
  }
  return c;
}

std::vector<api::CameraState> Gateway::cameraStates() const {
  std::vector<api::CameraState> out;
  const auto statuses = ingest_ ? ingest_->status() : std::vector<ingest::CameraStatus>{};
  const auto list = cameraList();
  std::lock_guard lock(mu_);
  for (const auto& camPtr : *list) {
    const CameraEntry& cam = *camPtr;
    api::CameraState st;
    st.id = cam.ingest.id;
    auto it = std::find_if(statuses.begin(), statuses.end(),
                           [&](const auto& s) { return s.id == cam.ingest.id; });
    if (!cam.enabled) {
      st.state = "disabled";
    } else if (it != statuses.end()) {
      st.state = std::string(ingest::toString(it->state));
      st.reason = it->reason;
      st.since = it->since;
      st.fps = it->fps;
      st.bitrateKbps = it->bitrateBps / 1000.0;
      st.bytesRecorded = it->bytesRecorded;
      st.segments = it->segments;
      st.reconnects = it->reconnects;
      st.stalls = it->stalls;
      st.reader = it->reader;
    } else if (cam.onvif) {
      st.state = "connecting";
      auto oc = onvifCameras_.find(cam.ingest.id.str());
      st.reason = oc != onvifCameras_.end() && !oc->second->lastError.empty()
                      ? "ONVIF: " + oc->second->lastError
                      : "resolving streams through ONVIF";
    }
    if (auto t = tampered_.find(cam.ingest.id.str()); t != tampered_.end()) {
      st.tampered = true;
      st.tamperedSince = t->second;
    }
    out.push_back(std::move(st));
  }
  return out;
}

std::string Gateway::camerasJson() const {
  nlohmann::json out = nlohmann::json::array();
  const auto statuses = ingest_ ? ingest_->status() : std::vector<ingest::CameraStatus>{};
  for (const auto& s : statuses) {
    out.push_back({{"id", s.id.str()},
                   {"name", s.name},
                   {"division", s.division.str()},
                   {"state", std::string(ingest::toString(s.state))},
                   {"reason", s.reason},
                   {"since", core::formatIso8601(s.since)},
                   {"fps", s.fps},
                   {"bitrate_bps", s.bitrateBps},
                   {"bytes_recorded", s.bytesRecorded},
                   {"segments", s.segments},
                   {"reconnects", s.reconnects},
                   {"stalls", s.stalls},
                   {"frames_analysed", s.framesAnalysed},
                   {"frames_dropped", s.framesDropped},
                   {"codec", s.codec},
                   {"reader", s.reader},
                   {"width", s.width},
                   {"height", s.height}});
  }
  // Cameras ingest does not know (yet): disabled ones, ONVIF ones still resolving.
  for (const auto& st : cameraStates()) {
    if (std::any_of(statuses.begin(), statuses.end(), [&](const auto& s) { return s.id == st.id; }))
      continue;
    const auto cam = findCamera(st.id);
    out.push_back({{"id", st.id.str()},
                   {"name", cam ? cam->ingest.name : ""},
                   {"division", cam ? cam->ingest.division.str() : ""},
                   {"state", st.state},
                   {"reason", st.reason}});
  }
  return out.dump();
}

std::string Gateway::metricsText() const {
  using api::MetricType;
  api::PrometheusWriter w;
  const auto statuses = ingest_ ? ingest_->status() : std::vector<ingest::CameraStatus>{};
  w.family("sharpeyes_camera_state", "1 for the camera's current state, 0 for the others",
           MetricType::kGauge);
  for (const auto& s : statuses) {
    for (auto st : {ingest::CameraState::kConnecting, ingest::CameraState::kStreaming,
                    ingest::CameraState::kStalled, ingest::CameraState::kReconnecting,
                    ingest::CameraState::kOffline, ingest::CameraState::kStopped}) {
      w.sample("sharpeyes_camera_state",
               {{"camera", s.id.str()}, {"state", std::string(ingest::toString(st))}},
               s.state == st ? 1 : 0);
    }
  }
  auto family = [&](const char* name, const char* help, MetricType type, auto value) {
    w.family(name, help, type);
    for (const auto& s : statuses) {
      w.sample(name, {{"camera", s.id.str()}, {"division", s.division.str()}},
               static_cast<double>(value(s)));
    }
  };
  family("sharpeyes_camera_fps", "Main stream frames per second", MetricType::kGauge,
         [](const auto& s) { return s.fps; });
  family("sharpeyes_camera_bitrate_bps", "Main stream bits per second", MetricType::kGauge,
         [](const auto& s) { return s.bitrateBps; });
  family("sharpeyes_camera_reconnects_total", "Reconnect attempts", MetricType::kCounter,
         [](const auto& s) { return s.reconnects; });
  family("sharpeyes_camera_stalls_total", "Stalls declared by the watchdog", MetricType::kCounter,
         [](const auto& s) { return s.stalls; });
  family("sharpeyes_camera_recorded_bytes_total", "Bytes written to segments", MetricType::kCounter,
         [](const auto& s) { return s.bytesRecorded; });
  family("sharpeyes_camera_segments_total", "Segment files closed", MetricType::kCounter,
         [](const auto& s) { return s.segments; });
  family("sharpeyes_camera_analytics_frames_total", "Frames handed to analytics",
         MetricType::kCounter, [](const auto& s) { return s.framesAnalysed; });
  family("sharpeyes_camera_analytics_dropped_total",
         "Analytics frames dropped because analysis was behind", MetricType::kCounter,
         [](const auto& s) { return s.framesDropped; });
  if (analytics_) {
    w.family("sharpeyes_analytics_frames_processed_total", "Frames analysed", MetricType::kCounter);
    w.family("sharpeyes_analytics_frames_dropped_total",
             "Frames dropped because analysis fell behind", MetricType::kCounter);
    w.family("sharpeyes_analytics_events_total", "Events started", MetricType::kCounter);
    for (const auto& s : statuses) {
      const auto st = analytics_->stats(s.id);
      if (!st) continue;
      const api::PrometheusWriter::Labels l{{"camera", s.id.str()}};
      w.sample("sharpeyes_analytics_frames_processed_total", l,
               static_cast<double>(st->framesProcessed));
      w.sample("sharpeyes_analytics_frames_dropped_total", l,
               static_cast<double>(st->framesDropped));
      w.sample("sharpeyes_analytics_events_total", l, static_cast<double>(st->eventsStarted));
    }
  }
  auto counter = [&](const char* name, const char* help, uint64_t value) {
    w.family(name, help, MetricType::kCounter);
    w.sample(name, static_cast<double>(value));
  };
  auto gauge = [&](const char* name, const char* help, double value) {
    w.family(name, help, MetricType::kGauge);
    w.sample(name, value);
  };
  counter("sharpeyes_events_stored_total", "Events written to the event store",
          eventsStored_.load());
  counter("sharpeyes_events_failed_total", "Events the store refused", eventsFailed_.load());
  counter("sharpeyes_alerts_raised_total", "Alerts raised on the alert desk", alertsRaised_.load());
  counter("sharpeyes_event_clips_total", "Event clips cut automatically", eventClips_.load());
  counter("sharpeyes_event_clip_failures_total", "Event clips that could not be cut",
          eventClipFailures_.load());
  counter("sharpeyes_retention_deleted_segments_total", "Segments deleted by retention",
          retentionDeleted_.load());
  counter("sharpeyes_retention_freed_bytes_total", "Bytes freed by retention",
          retentionFreedBytes_.load());
  counter("sharpeyes_retention_failures_total", "Retention sweeps that failed",
          retentionFailures_.load());
  gauge("sharpeyes_storage_full", "1 while retention cannot bring usage under the high watermark",
        storageFull_ ? 1 : 0);
  gauge("sharpeyes_jobs_pending", "Clip and sweep jobs waiting on the job thread",
        static_cast<double>(jobs_.pending()));
  if (recorder_) {
    const auto st = recorder_->stats();
    counter("sharpeyes_segments_committed_total", "Segments made durable and indexed",
            st.committed);
    counter("sharpeyes_segments_failed_total", "Segments that could not be indexed", st.failed);
    gauge("sharpeyes_recorder_queue", "Segments waiting for durability work",
          static_cast<double>(st.queued));
  }
  if (publisher_) {
    const auto st = publisher_->stats();
    counter("sharpeyes_bus_published_total", "Events appended to the bus outbox", st.published);
    counter("sharpeyes_bus_acked_total", "Highest sequence number the centre acknowledged",
            st.acked);
    counter("sharpeyes_bus_retransmitted_total", "Events sent again", st.retransmitted);
    counter("sharpeyes_bus_rejected_total", "Events the centre refused", st.rejected);
    counter("sharpeyes_bus_outbox_full_total", "Events refused by the outbox quota", st.outboxFull);
    gauge("sharpeyes_bus_outbox_bytes", "Bytes held in the outbox",
          static_cast<double>(st.outboxBytes));
    gauge("sharpeyes_bus_connected", "1 while the centre answers heartbeats", st.connected ? 1 : 0);
    counter("sharpeyes_bus_clips_sent_total", "Clips delivered to the centre", st.clipsSent);
  }
  counter("sharpeyes_bus_not_queued_total", "Events that could not be queued for the centre",
          eventsNotPublished_.load());
  if (live_) {
    const auto st = live_->stats();
    gauge("sharpeyes_live_viewers", "Live video viewers", static_cast<double>(st.viewers));
    counter("sharpeyes_live_fragments_dropped_total", "Live fragments dropped for slow viewers",
            st.fragmentsDropped);
  }
  if (service_) service_->writeMetrics(w);
  return w.str();
}

}  // namespace sharpeyes::app
