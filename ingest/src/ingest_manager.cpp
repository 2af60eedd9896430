#include <gst/gst.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <unordered_map>

#include "camera.h"
#include "sharpeyes/ingest/ingest.h"

namespace sharpeyes::ingest {

namespace {

core::Result<void> initGstreamer() {
  static std::once_flag once;
  static std::string failure;
  std::call_once(once, [] {
    GError* err = nullptr;
    if (!gst_init_check(nullptr, nullptr, &err)) {
      failure = err && err->message ? err->message : "gst_init failed";
      if (err) g_error_free(err);
      return;
    }
    for (const char* name : {"rtspsrc", "rtph264depay", "h264parse", "splitmuxsink", "mp4mux"}) {
      GstElementFactory* f = gst_element_factory_find(name);
      if (!f) {
        failure = std::string("GStreamer element '") + name + "' is missing (install the plugins)";
        return;
      }
      gst_object_unref(f);
    }
  });
  if (!failure.empty()) return core::makeError(core::ErrorCode::kUnavailable, failure);
  return core::okResult();
}

core::Result<void> validate(const CameraConfig& c) {
  const auto bad = [&](const std::string& what) {
    return core::makeError(core::ErrorCode::kInvalidArgument, "camera " + c.id.str() + ": " + what);
  };
  if (c.id.empty()) return core::makeError(core::ErrorCode::kInvalidArgument, "camera id is empty");
  const auto rtsp = [](const std::string& url) {
    return url.rfind("rtsp://", 0) == 0 || url.rfind("rtsps://", 0) == 0;
  };
  if (!rtsp(c.main.url)) return bad("main url must be rtsp:// (got '" + c.main.url + "')");
  if (c.sub && !rtsp(c.sub->url)) return bad("sub url must be rtsp://");
  if (c.recording.enabled && c.recording.directory.empty())
    return bad("recording is enabled but recording.directory is empty");
  if (c.recording.segmentLength <= core::Duration::zero()) return bad("segment length must be > 0");
  if (c.analytics.enabled &&
      (c.analytics.width <= 0 || c.analytics.height <= 0 || c.analytics.fps <= 0))
    return bad("analytics width, height and fps must be > 0");
  const auto& h = c.health;
  if (h.stallTimeout <= core::Duration::zero() || h.connectTimeout <= core::Duration::zero() ||
      h.backoffInitial <= core::Duration::zero() || h.backoffMax < h.backoffInitial)
    return bad("health timeouts must be > 0 and backoffMax >= backoffInitial");
  return core::okResult();
}

class Manager final : public IngestManager {
 public:
  Manager(const IngestOptions& options, Listener& listener)
      : options_(options), core_(std::make_shared<IngestCore>(listener)) {
    core_->maxConnecting = options.maxConnecting;
    const int n = std::max(1, options.threads);
    for (int i = 0; i < n; ++i) {
      core_->loops.push_back(std::make_unique<EventLoop>("ingest-" + std::to_string(i)));
    }
    load_.assign(static_cast<size_t>(n), 0);
  }

  ~Manager() override { stop(); }

  core::Result<void> addCamera(const CameraConfig& config) override {
    if (auto ok = validate(config); !ok) return ok;
    std::lock_guard lock(mutex_);
    if (stopped_) return core::makeError(core::ErrorCode::kCancelled, "ingest is stopped");
    if (cameras_.count(config.id))
      return core::makeError(core::ErrorCode::kAlreadyExists,
                             "camera " + config.id.str() + " is already ingested");
    // Pin to the least loaded loop; a camera never moves, so its state needs no locks.
    size_t best = 0;
    for (size_t i = 1; i < load_.size(); ++i)
      if (load_[i] < load_[best]) best = i;
    ++load_[best];
    auto camera = std::make_shared<Camera>(config, *core_->loops[best], core_);
    cameras_[config.id] = Entry{camera, best};
    camera->loop().post([camera] { camera->start(); });
    return core::okResult();
  }

  core::Result<void> removeCamera(const core::CameraId& id) override {
    Entry entry;
    {
      std::lock_guard lock(mutex_);
      auto it = cameras_.find(id);
      if (it == cameras_.end())
        return core::makeError(core::ErrorCode::kNotFound,
                               "camera " + id.str() + " is not ingested");
      entry = it->second;
      cameras_.erase(it);
      --load_[entry.loop];
    }
    shutdown(entry.camera);
    return core::okResult();
  }

  core::Result<void> updateSources(const core::CameraId& id, const StreamSource& main,
                                   const std::optional<StreamSource>& sub) override {
    std::lock_guard lock(mutex_);
    auto it = cameras_.find(id);
    if (it == cameras_.end())
      return core::makeError(core::ErrorCode::kNotFound, "camera " + id.str() + " is not ingested");
    CameraConfig probe;
    probe.id = id;
    probe.main = main;
    probe.sub = sub;
    probe.recording.enabled = false;
    if (auto ok = validate(probe); !ok) return ok;
    auto camera = it->second.camera;
    camera->loop().post([camera, main, sub] { camera->updateSources(main, sub); });
    return core::okResult();
  }

  core::Result<void> setLive(const core::CameraId& id, LiveStream stream, bool wanted) override {
    std::lock_guard lock(mutex_);
    auto it = cameras_.find(id);
    if (it == cameras_.end())
      return core::makeError(core::ErrorCode::kNotFound, "camera " + id.str() + " is not ingested");
    auto camera = it->second.camera;
    if (stream == LiveStream::kSub && wanted && !camera->hasSub())
      return core::makeError(core::ErrorCode::kUnsupported,
                             "camera " + id.str() + " has no sub stream configured");
    camera->loop().post([camera, stream, wanted] { camera->setLive(stream, wanted); });
    return core::okResult();
  }

  std::vector<CameraStatus> status() const override {
    std::vector<std::shared_ptr<Camera>> cams;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [id, e] : cameras_) cams.push_back(e.camera);
    }
    std::vector<CameraStatus> out;
    out.reserve(cams.size());
    for (const auto& c : cams) out.push_back(c->snapshot());
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
  }

  void stop() override {
    std::unordered_map<core::CameraId, Entry> cams;
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;
      stopped_ = true;
      cams.swap(cameras_);
    }
    for (auto& [id, e] : cams) shutdown(e.camera);
    const auto deadline = std::chrono::steady_clock::now() + options_.stopTimeout;
    {
      std::unique_lock lock(core_->mutex);
      const bool done = core_->changed.wait_until(
          lock, deadline, [&] { return core_->camerasStopping == 0 && core_->teardowns == 0; });
      if (!done) {
        spdlog::warn(
            "ingest: stop gave up waiting after {} ms: {} camera(s) and {} pipeline teardown(s) "
            "still busy; they are abandoned",
            std::chrono::duration_cast<std::chrono::milliseconds>(options_.stopTimeout).count(),
            core_->camerasStopping, core_->teardowns);
      }
    }
    // Quitting runs what is already posted first: the last onSegmentClosed callbacks.
    for (auto& loop : core_->loops) loop->quit();
  }

 private:
  struct Entry {
    std::shared_ptr<Camera> camera;
    size_t loop = 0;
  };

  void shutdown(const std::shared_ptr<Camera>& camera) {
    {
      std::lock_guard lock(core_->mutex);
      ++core_->camerasStopping;
    }
    auto core = core_;
    const bool posted = camera->loop().post([camera, core] {
      camera->shutdown([core] {
        {
          std::lock_guard lock(core->mutex);
          --core->camerasStopping;
        }
        core->changed.notify_all();
      });
    });
    if (!posted) {
      std::lock_guard lock(core_->mutex);
      --core_->camerasStopping;
    }
  }

  IngestOptions options_;
  std::shared_ptr<IngestCore> core_;
  mutable std::mutex mutex_;
  std::unordered_map<core::CameraId, Entry> cameras_;
  std::vector<int> load_;
  bool stopped_ = false;
};

}  // namespace

core::Result<std::unique_ptr<IngestManager>> IngestManager::create(const IngestOptions& options,
                                                                   Listener& listener) {
  if (auto ok = initGstreamer(); !ok) return ok.error();
  if (options.threads < 1 || options.threads > 64)
    return core::makeError(core::ErrorCode::kInvalidArgument, "ingest threads must be 1..64");
  if (options.maxConnecting < 0)
    return core::makeError(core::ErrorCode::kInvalidArgument,
                           "ingest maxConnecting must be 0 (no limit) or more");
  return std::unique_ptr<IngestManager>(std::make_unique<Manager>(options, listener));
}

}  // namespace sharpeyes::ingest
