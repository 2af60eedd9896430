#pragma once
// Gateway: wires ingest → storage (recorder + index) and serves status over HTTP.
// Owned by `sharpeyes gateway`; constructed and stopped on the main thread.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config.h"
#include "sharpeyes/core/event.h"
#include "sharpeyes/core/result.h"
#include "sharpeyes/ingest/ingest.h"

namespace sharpeyes::storage {
class Database;
class EventStore;
class SegmentIndex;
class Recorder;
}  // namespace sharpeyes::storage

namespace sharpeyes::analytics {
class Engine;
}  // namespace sharpeyes::analytics

namespace sharpeyes::app {

class HttpEndpoint;

class Gateway : private ingest::Listener {
 public:
  explicit Gateway(GatewayConfig config);
  ~Gateway() override;

  // Opens the index, reconciles it with the files, starts the HTTP endpoint and every camera.
  core::Result<void> start();
  // Stops cameras (finishing open segments), drains the recorder, stops HTTP. Idempotent.
  void stop();

  uint16_t httpPort() const;
  // JSON array of cameras (the /api/cameras body).
  std::string camerasJson() const;
  // Prometheus text exposition (the /metrics body).
  std::string metricsText() const;

 private:
  void onStateChanged(const ingest::CameraStatus& status) override;
  void onSegmentClosed(const ingest::SegmentClosed& segment) override;
  void onFrame(const core::Frame& frame) override;

  GatewayConfig config_;
  void onEvent(const core::Event& event);

  std::shared_ptr<storage::Database> db_;
  std::unique_ptr<storage::SegmentIndex> index_;
  std::unique_ptr<storage::EventStore> events_;
  std::unique_ptr<analytics::Engine> analytics_;
  std::unique_ptr<storage::Recorder> recorder_;
  std::unique_ptr<ingest::IngestManager> ingest_;
  std::unique_ptr<HttpEndpoint> http_;
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> segmentsCommitted_{0};
  std::atomic<uint64_t> eventsStored_{0};
  std::atomic<uint64_t> eventsFailed_{0};
};

}  // namespace sharpeyes::app
