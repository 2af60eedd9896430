#include "gateway.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "http_endpoint.h"
#include "sharpeyes/analytics/engine.h"
#include "sharpeyes/api/prometheus.h"
#include "sharpeyes/core/util.h"
#include "sharpeyes/storage/database.h"
#include "sharpeyes/storage/event_store.h"
#include "sharpeyes/storage/recorder.h"
#include "sharpeyes/storage/segment_index.h"

namespace sharpeyes::app {

namespace fs = std::filesystem;

Gateway::Gateway(GatewayConfig config) : config_(std::move(config)) {}

Gateway::~Gateway() {
  stop();
}

core::Result<void> Gateway::start() {
  std::error_code ec;
  fs::create_directories(config_.recordingDir(), ec);
  if (ec) {
    return core::makeError(core::ErrorCode::kIo,
                           "cannot create " + config_.recordingDir() + ": " + ec.message());
  }
  auto db = storage::Database::open(config_.indexPath());
  if (!db) return db.error();
  db_ = std::move(db.value());
  auto index = storage::SegmentIndex::open(db_);
  if (!index) return index.error();
  index_ = std::move(index.value());
  auto events = storage::EventStore::open(db_);
  if (!events) return events.error();
  events_ = std::move(events.value());

  storage::RecorderOptions ro;
  ro.root = fs::absolute(config_.recordingDir()).string();
  ro.workers = 1;
  ro.onCommitted = [this](const core::Segment&) { segmentsCommitted_.fetch_add(1); };
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

  auto http = HttpEndpoint::start(config_.http.address, config_.http.port, *this);
  if (!http) return http.error();
  http_ = std::move(http.value());
  spdlog::info("http: listening on {}:{}", config_.http.address, http_->port());

  analytics::EngineOptions ao;
  ao.snapshotRoot = fs::absolute(config_.dataDir).string();
  analytics_ =
      std::make_unique<analytics::Engine>(ao, [this](const core::Event& e) { onEvent(e); });
  for (const auto& cam : config_.cameras) {
    if (!cam.enabled || !cam.analyticsConfig) continue;
    if (auto r = analytics_->addCamera(*cam.analyticsConfig); !r) {
      spdlog::error("camera {}: analytics not started: {}", cam.ingest.id.str(),
                    r.error().describe());
    }
  }

  ingest::IngestOptions io;
  io.threads = config_.ingestThreads;
  auto manager = ingest::IngestManager::create(io, *this);
  if (!manager) return manager.error();
  ingest_ = std::move(manager.value());

  for (const auto& cam : config_.cameras) {
    if (!cam.enabled) {
      spdlog::info("camera {}: disabled in the config", cam.ingest.id.str());
      continue;
    }
    if (cam.onvif) {
      spdlog::warn(
          "camera {}: ONVIF-configured cameras are not wired into the gateway yet; skipped",
          cam.ingest.id.str());
      continue;
    }
    auto fixed = cam.ingest;
    fixed.recording.directory = ro.root;
    if (auto r = ingest_->addCamera(fixed); !r) {
      // One bad camera never stops the others.
      spdlog::error("camera {}: not started: {}", cam.ingest.id.str(), r.error().describe());
    } else {
      spdlog::info("camera {}: {} ({}) main {}", cam.ingest.id.str(), cam.ingest.name,
                   cam.ingest.division.str(), core::redactUrl(cam.ingest.main.url));
    }
  }
  return core::okResult();
}

void Gateway::stop() {
  if (stopped_.exchange(true)) return;
  // Analytics first, so that every open event gets its end before the cameras go away.
  if (analytics_) analytics_->stop();
  if (ingest_) ingest_->stop();
  if (recorder_) {
    recorder_->drain();
    recorder_->stop();
  }
  if (http_) http_->stop();
}

uint16_t Gateway::httpPort() const {
  return http_ ? http_->port() : 0;
}

void Gateway::onStateChanged(const ingest::CameraStatus& s) {
  const auto level =
      s.state == ingest::CameraState::kStreaming ? spdlog::level::info : spdlog::level::warn;
  spdlog::log(level, "camera {}: {}{}{}", s.id.str(), ingest::toString(s.state),
              s.reason.empty() ? "" : ": ", s.reason);
  if (analytics_) {
    analytics_->reportSignal(
        s.id, s.state == ingest::CameraState::kStreaming,
        std::string(ingest::toString(s.state)) + (s.reason.empty() ? "" : ": " + s.reason),
        s.since);
  }
}

// On an analytics worker thread. The store serialises on its connection; an SQLite insert in
// WAL mode costs tens of microseconds, well within the budget of a 5 fps analysis.
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
                   {"width", s.width},
                   {"height", s.height}});
  }
  for (const auto& cam : config_.cameras) {
    if (cam.enabled && !cam.onvif) continue;
    out.push_back({{"id", cam.ingest.id.str()},
                   {"name", cam.ingest.name},
                   {"division", cam.ingest.division.str()},
                   {"state", cam.enabled ? "unsupported" : "disabled"}});
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
  w.family("sharpeyes_events_stored_total", "Events written to the event store",
           MetricType::kCounter);
  w.sample("sharpeyes_events_stored_total", static_cast<double>(eventsStored_.load()));
  w.family("sharpeyes_events_failed_total", "Events the store refused", MetricType::kCounter);
  w.sample("sharpeyes_events_failed_total", static_cast<double>(eventsFailed_.load()));
  if (recorder_) {
    const auto st = recorder_->stats();
    w.family("sharpeyes_segments_committed_total", "Segments made durable and indexed",
             MetricType::kCounter);
    w.sample("sharpeyes_segments_committed_total", static_cast<double>(st.committed));
    w.family("sharpeyes_segments_failed_total", "Segments that could not be indexed",
             MetricType::kCounter);
    w.sample("sharpeyes_segments_failed_total", static_cast<double>(st.failed));
    w.family("sharpeyes_recorder_queue", "Segments waiting for durability work",
             MetricType::kGauge);
    w.sample("sharpeyes_recorder_queue", static_cast<double>(st.queued));
  }
  return w.str();
}

}  // namespace sharpeyes::app
