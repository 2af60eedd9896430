// The Engine: per-camera bounded slots, a ready queue of cameras and a pool of workers. A camera
// is in the ready queue at most once and is processed by one worker at a time, so its frames are
// analysed in order; after each frame it goes to the back of the queue (round robin).

#include "sharpeyes/analytics/engine.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <opencv2/core.hpp>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <variant>

namespace sharpeyes::analytics {
namespace {

struct SignalReport {
  bool present = true;
  std::string reason;
  core::WallTime at{};
};

using Work = std::variant<core::Frame, SignalReport>;

struct Slot {
  std::mutex mutex;  // guards queue, scheduled, removed, dropped, in
  std::deque<Work> queue;
  bool scheduled = false;  // in the ready queue or being processed
  bool busy = false;       // a worker is inside the analyzer
  bool removed = false;
  uint64_t dropped = 0;
  uint64_t in = 0;
  std::condition_variable idle;
  std::unique_ptr<CameraAnalyzer> analyzer;  // touched only by the worker holding the slot
  mutable std::mutex statsMutex;             // snapshot of stats for other threads
  CameraStats stats;
  std::vector<TrackInfo> tracks;
};

}  // namespace

struct Engine::Impl {
  EngineOptions options;
  EventSink sink;
  mutable std::shared_mutex camerasMutex;
  std::unordered_map<core::CameraId, std::shared_ptr<Slot>> cameras;

  std::mutex readyMutex;
  std::condition_variable readyCv;
  std::condition_variable idleCv;
  std::deque<std::shared_ptr<Slot>> ready;
  int pending = 0;  // cameras scheduled (ready or in progress)
  std::atomic<bool> stopping{false};
  std::vector<std::thread> workers;
  std::atomic<uint64_t> unknownFrames{0};

  std::shared_ptr<Slot> find(const core::CameraId& id) const {
    std::shared_lock lock(camerasMutex);
    auto it = cameras.find(id);
    return it == cameras.end() ? nullptr : it->second;
  }

  // Called with slot.mutex held.
  void scheduleLocked(const std::shared_ptr<Slot>& slot) {
    if (slot->scheduled || slot->removed) return;
    slot->scheduled = true;
    {
      std::lock_guard lock(readyMutex);
      ready.push_back(slot);
      ++pending;
    }
    readyCv.notify_one();
  }

  void enqueue(const std::shared_ptr<Slot>& slot, Work work, bool isFrame) {
    std::lock_guard lock(slot->mutex);
    if (slot->removed) return;
    if (isFrame) {
      ++slot->in;
      size_t frames = 0;
      for (const Work& w : slot->queue) frames += std::holds_alternative<core::Frame>(w) ? 1 : 0;
      if (frames >= size_t(std::max(1, options.queueDepth))) {
        // Drop the oldest waiting frame: the newest one matters most for alerts.
        for (auto it = slot->queue.begin(); it != slot->queue.end(); ++it) {
          if (std::holds_alternative<core::Frame>(*it)) {
            slot->queue.erase(it);
            break;
          }
        }
        ++slot->dropped;
      }
    }
    slot->queue.push_back(std::move(work));
    scheduleLocked(slot);
  }

  void workerLoop() {
    for (;;) {
      std::shared_ptr<Slot> slot;
      {
        std::unique_lock lock(readyMutex);
        readyCv.wait(lock, [&] { return stopping || !ready.empty(); });
        if (ready.empty()) return;  // stopping
        slot = std::move(ready.front());
        ready.pop_front();
      }
      Work work;
      bool have = false;
      {
        std::lock_guard lock(slot->mutex);
        if (!slot->queue.empty() && !slot->removed) {
          work = std::move(slot->queue.front());
          slot->queue.pop_front();
          have = true;
          slot->busy = true;
        }
      }
      if (have) {
        if (auto* f = std::get_if<core::Frame>(&work)) {
          slot->analyzer->process(*f);
        } else {
          const auto& s = std::get<SignalReport>(work);
          slot->analyzer->reportSignal(s.present, s.reason, s.at);
        }
        std::lock_guard statsLock(slot->statsMutex);
        slot->stats = slot->analyzer->stats();
        slot->tracks = slot->analyzer->tracks();
      }
      bool again = false;
      {
        std::lock_guard lock(slot->mutex);
        slot->busy = false;
        slot->stats.framesDropped = slot->dropped;
        again = !slot->queue.empty() && !slot->removed;
        if (!again) slot->scheduled = false;
        slot->idle.notify_all();
      }
      std::lock_guard lock(readyMutex);
      if (again) {
        ready.push_back(slot);
        readyCv.notify_one();
      } else {
        --pending;
        if (pending == 0) idleCv.notify_all();
      }
    }
  }
};

Engine::Engine(EngineOptions options, EventSink sink) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->sink = sink ? std::move(sink) : [](const core::Event&) {};
  if (impl_->options.singleThreadedOpenCv) cv::setNumThreads(1);
  int n = impl_->options.workers;
  if (n <= 0) n = int(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < n; ++i) impl_->workers.emplace_back([this] { impl_->workerLoop(); });
}

Engine::~Engine() {
  stop();
}

core::Result<void> Engine::addCamera(CameraAnalyticsConfig config) {
  const core::CameraId id = config.camera;
  if (impl_->find(id)) {
    return core::makeError(core::ErrorCode::kAlreadyExists,
                           "camera " + id.str() + " already has analytics");
  }
  auto analyzer = CameraAnalyzer::create(std::move(config), impl_->options, impl_->sink);
  if (!analyzer) return analyzer.error();
  auto slot = std::make_shared<Slot>();
  slot->analyzer = std::move(analyzer.value());
  slot->stats = slot->analyzer->stats();
  std::unique_lock lock(impl_->camerasMutex);
  if (impl_->stopping) return core::makeError(core::ErrorCode::kCancelled, "engine stopped");
  if (!impl_->cameras.emplace(id, std::move(slot)).second) {
    return core::makeError(core::ErrorCode::kAlreadyExists,
                           "camera " + id.str() + " already has analytics");
  }
  return core::okResult();
}

void Engine::removeCamera(const core::CameraId& camera) {
  std::shared_ptr<Slot> slot;
  {
    std::unique_lock lock(impl_->camerasMutex);
    auto it = impl_->cameras.find(camera);
    if (it == impl_->cameras.end()) return;
    slot = std::move(it->second);
    impl_->cameras.erase(it);
  }
  std::unique_lock lock(slot->mutex);
  slot->removed = true;
  slot->queue.clear();
  slot->idle.wait(lock, [&] { return !slot->busy; });
  lock.unlock();
  slot->analyzer->finish(core::processClock().now());
}

void Engine::submit(const core::Frame& frame) {
  auto slot = impl_->find(frame.camera);
  if (!slot) {
    ++impl_->unknownFrames;
    return;
  }
  if (frame.owner || frame.data == nullptr) {
    impl_->enqueue(slot, frame, true);
    return;
  }
  // No owner: the pixels live only for this call; keep a copy.
  core::Frame copy = frame;
  auto bytes = std::make_shared<std::vector<uint8_t>>(frame.data, frame.data + frame.size);
  copy.data = bytes->data();
  copy.owner = bytes;
  impl_->enqueue(slot, std::move(copy), true);
}

void Engine::reportSignal(const core::CameraId& camera, bool present, const std::string& reason,
                          core::WallTime at) {
  auto slot = impl_->find(camera);
  if (!slot) return;
  impl_->enqueue(slot, SignalReport{present, reason, at}, false);
}

std::optional<CameraStats> Engine::stats(const core::CameraId& camera) const {
  auto slot = impl_->find(camera);
  if (!slot) return std::nullopt;
  CameraStats s;
  {
    std::lock_guard lock(slot->statsMutex);
    s = slot->stats;
  }
  std::lock_guard lock(slot->mutex);
  s.framesDropped = slot->dropped;
  s.framesIn = slot->in;
  return s;
}

std::vector<TrackInfo> Engine::tracks(const core::CameraId& camera) const {
  auto slot = impl_->find(camera);
  if (!slot) return {};
  std::lock_guard lock(slot->statsMutex);
  return slot->tracks;
}

uint64_t Engine::unknownFrames() const {
  return impl_->unknownFrames.load();
}

int Engine::workerCount() const {
  return int(impl_->workers.size());
}

bool Engine::waitIdle(core::Duration timeout) {
  std::unique_lock lock(impl_->readyMutex);
  return impl_->idleCv.wait_for(lock, timeout, [&] { return impl_->pending == 0; });
}

void Engine::stop() {
  {
    std::lock_guard lock(impl_->readyMutex);
    if (impl_->stopping && impl_->workers.empty()) return;
    impl_->stopping = true;
  }
  {
    std::unique_lock lock(impl_->camerasMutex);
    impl_->stopping = true;
  }
  impl_->readyCv.notify_all();
  for (std::thread& t : impl_->workers) {
    if (t.joinable()) t.join();
  }
  impl_->workers.clear();
  std::unordered_map<core::CameraId, std::shared_ptr<Slot>> cameras;
  {
    std::unique_lock lock(impl_->camerasMutex);
    cameras.swap(impl_->cameras);
  }
  const core::WallTime now = core::processClock().now();
  for (auto& [id, slot] : cameras) slot->analyzer->finish(now);
}

}  // namespace sharpeyes::analytics
