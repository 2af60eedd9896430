#pragma once
// Gateway: wires ingest → storage (recorder, index, events, alerts, clips, retention) →
// analytics → bus, and serves the HTTP API, the live video and the operators' page.
// Owned by `sharpeyes gateway`; constructed, started and stopped on the main thread.
//
// Threads it creates or hands out:
//   - ingest's GMainContext pool (camera pipelines; Listener callbacks),
//   - analytics workers (onEvent),
//   - the HTTP server's I/O threads (API handlers, GatewayBackend),
//   - one job thread (retention sweeps, automatic event clips, ONVIF re-resolves): work that
//     blocks on disk or network and must never run on an ingest or HTTP thread,
//   - the ONVIF runtime's workers (stream resolution, camera event pull-points),
//   - the bus publisher's I/O thread.
//
// Cameras change at run time (added, edited, removed through the API): the camera list is an
// immutable snapshot (shared_ptr) swapped under camerasMu_, so any thread may hold a camera's
// entry for as long as it needs it; changes are serialised by manageMu_.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "config.h"
#include "sharpeyes/api/backend.h"
#include "sharpeyes/core/event.h"
#include "sharpeyes/core/result.h"
#include "sharpeyes/ingest/ingest.h"

namespace sharpeyes::storage {
class Database;
class EventStore;
class AlertStore;
class CaseStore;
class ClipStore;
class SegmentIndex;
class Recorder;
class Retention;
struct RetentionOptions;
}  // namespace sharpeyes::storage

namespace sharpeyes::analytics {
class Engine;
}  // namespace sharpeyes::analytics

namespace sharpeyes::bus {
class Publisher;
}  // namespace sharpeyes::bus

namespace sharpeyes::onvif {
class OnvifRuntime;
}  // namespace sharpeyes::onvif

namespace sharpeyes::api {
class HttpServer;
class ApiService;
class LiveVideoHub;
class UserStore;
}  // namespace sharpeyes::api

namespace sharpeyes::app {

class GatewayBackend;

// A single thread running jobs at their due time, in due order. Jobs may block (disk, network);
// they never run on an ingest or HTTP thread. Jobs still queued at stop() are dropped.
class JobThread {
 public:
  using Clock = std::chrono::steady_clock;
  JobThread();
  ~JobThread();
  void schedule(Clock::time_point due, std::function<void()> job);
  void stop();
  size_t pending() const;

 private:
  struct Job {
    Clock::time_point due;
    uint64_t seq;
    std::function<void()> fn;
    bool operator>(const Job& o) const { return due != o.due ? due > o.due : seq > o.seq; }
  };
  void run();
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Job, std::vector<Job>, std::greater<>> jobs_;
  uint64_t seq_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

class Gateway : private ingest::Listener {
 public:
  using CameraPtr = std::shared_ptr<const CameraEntry>;
  using CameraList = std::vector<CameraPtr>;

  explicit Gateway(GatewayConfig config);
  ~Gateway() override;

  // Opens the stores, reconciles the index with the files, starts the API and every camera.
  core::Result<void> start();
  // Stops cameras (finishing open segments), drains the recorder, stops the API. Idempotent.
  void stop();

  uint16_t httpPort() const;
  // JSON array of cameras (the loopback-only /status body that `sharpeyes status` reads).
  std::string camerasJson() const;
  // Prometheus text exposition (the /metrics body).
  std::string metricsText() const;

 private:
  struct OnvifCamera;

  void onStateChanged(const ingest::CameraStatus& status) override;
  void onSegmentClosed(const ingest::SegmentClosed& segment) override;
  void onFrame(const core::Frame& frame) override;
  void onLiveBytes(const core::CameraId& camera, ingest::LiveStream stream,
                   std::string_view bytes) override;
  void onLiveEnded(const core::CameraId& camera, ingest::LiveStream stream) override;

  core::Result<void> openStores();
  core::Result<void> ensureSigningKey();
  core::Result<void> startApi();
  void startBus();
  void startRetention();
  void startCameras();
  // The config file's cameras, then those of <data_dir>/cameras.api.yaml.
  core::Result<void> loadCameras();
  // Starts one camera (ingest, analytics, ONVIF) / stops it; the others are not touched.
  void startCamera(const CameraPtr& cam);
  void stopCamera(const CameraPtr& cam);
  void watchOnvifEvents(const CameraPtr& cam);
  // The API's camera management (HTTP threads).
  core::Result<api::CameraInfo> addApiCamera(const api::CameraSpec& spec);
  core::Result<api::CameraInfo> updateApiCamera(const api::CameraSpec& spec);
  core::Result<void> removeApiCamera(const core::CameraId& id);
  core::Result<CameraPtr> validateApiCamera(const YAML::Node& yaml) const;
  core::Result<void> saveApiCameras(const CameraList& cameras);
  void publishCameras(CameraList cameras);
  void rememberCameras(const CameraList& cameras);
  void warmEventCache();
  storage::RetentionOptions retentionOptions(const CameraList& cameras);
  void rebuildRetention();
  void resolveOnvif(const std::string& cameraId, bool restart);
  core::Result<void> ptz(const core::CameraId& id, const api::PtzCommand& cmd);
  void onLiveDemand(const core::CameraId& cam, bool sub, bool wanted);
  bool subServedFromMain(const core::CameraId& camera, ingest::LiveStream stream) const;

  // Every event, whatever its source (analytics, camera, gateway), goes through here: stored,
  // raised as an alert, shown on the page, sent up the bus, and clipped when it ends.
  void onEvent(const core::Event& event);
  void scheduleEventClip(const core::Event& event);
  void cutEventClip(const core::Event& event, int attempt);
  void raiseGatewayEvent(core::EventType type, const std::string& rule, int severity, bool start,
                         const std::map<std::string, std::string>& attributes);

  std::vector<api::CameraInfo> cameraInfos() const;
  api::CameraInfo cameraInfoLocked(const CameraEntry& cam) const;  // mu_ held
  std::vector<api::CameraState> cameraStates() const;
  std::shared_ptr<const CameraList> cameraList() const;
  CameraPtr findCamera(const core::CameraId& id) const;

  GatewayConfig config_;
  std::string recordingRoot_;

  std::shared_ptr<storage::Database> db_;
  std::unique_ptr<storage::SegmentIndex> index_;
  std::unique_ptr<storage::EventStore> events_;
  std::unique_ptr<storage::AlertStore> alerts_;
  std::unique_ptr<storage::CaseStore> cases_;
  std::unique_ptr<storage::ClipStore> clips_;
  std::unique_ptr<storage::Recorder> recorder_;
  std::unique_ptr<storage::Retention> retention_;
  std::unique_ptr<bus::Publisher> publisher_;
  std::unique_ptr<analytics::Engine> analytics_;
  std::unique_ptr<onvif::OnvifRuntime> onvif_;
  std::unique_ptr<ingest::IngestManager> ingest_;

  std::unique_ptr<api::UserStore> users_;
  std::unique_ptr<api::LiveVideoHub> live_;
  std::unique_ptr<GatewayBackend> backend_;
  std::unique_ptr<api::ApiService> service_;
  std::unique_ptr<api::HttpServer> http_;
  JobThread jobs_;
  // PostgreSQL: reads the event relations into the cache at start; stop() cancels it.
  std::jthread cacheWarmer_;

  mutable std::mutex camerasMu_;               // guards the pointer, not the list it points to
  std::shared_ptr<const CameraList> cameras_;  // never modified; replaced on a change
  std::mutex manageMu_;                        // one camera change at a time
  std::string secretsDir_;                     // absolute <data_dir>/secrets
  // Entries of cameras.api.yaml whose id the config file also has (kept in the file, unused).
  std::vector<YAML::Node> shadowedApiCameras_;  // manageMu_

  mutable std::mutex mu_;                           // guards the maps below
  std::map<std::string, core::WallTime> tampered_;  // camera -> since (open tamper event)
  // shared: PTZ and resolve callbacks keep a removed camera's entry alive while they finish.
  std::map<std::string, std::shared_ptr<OnvifCamera>> onvifCameras_;
  std::map<std::string, std::string> openGatewayEvents_;  // rule -> event id (storage_full)
  // Live demand per camera. A camera without a sub stream serves its main stream to sub viewers
  // (the wall asks for sub), so main is muxed while either kind is watched.
  struct LiveDemand {
    bool main = false;
    bool subFromMain = false;
  };
  std::map<std::string, LiveDemand> liveDemand_;
  std::map<std::string, std::string> lastMainInit_;  // camera -> main stream's init segment

  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> eventsStored_{0};
  std::atomic<uint64_t> eventsFailed_{0};
  std::atomic<uint64_t> alertsRaised_{0};
  std::atomic<uint64_t> eventsPublished_{0};
  std::atomic<uint64_t> eventsNotPublished_{0};
  std::atomic<uint64_t> eventClips_{0};
  std::atomic<uint64_t> eventClipFailures_{0};
  std::atomic<uint64_t> retentionDeleted_{0};
  std::atomic<uint64_t> retentionFreedBytes_{0};
  std::atomic<uint64_t> retentionFailures_{0};
  std::atomic<bool> storageFull_{false};
};

}  // namespace sharpeyes::app
