#include "camera.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <thread>

#include "sharpeyes/core/util.h"

namespace sharpeyes::ingest {

namespace {

// How long a retiring recorder may take to finish its open segment after EOS.
constexpr auto kEosTimeout = std::chrono::seconds(3);
constexpr auto kStatsWindow = std::chrono::seconds(5);
// How long a main session still silent keeps its connection slot (IngestCore::acquireSlot).
constexpr auto kSlotHold = std::chrono::seconds(2);

std::string seconds(core::Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", std::chrono::duration<double>(d).count());
  return buf;
}

std::chrono::milliseconds toMs(core::Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

// What Session::start will read a stream with.
const char* readerName(const StreamSource& source) {
  return source.transport == Transport::kTcp && source.reader == StreamSource::Reader::kNative
             ? "native"
             : "rtspsrc";
}

uint64_t seedFor(const core::CameraId& id) {
  return std::hash<std::string>{}(id.str()) ^ std::random_device{}();
}

struct BusWatch {
  std::weak_ptr<Camera> camera;
  std::shared_ptr<Session> session;
};

void freeBusWatch(gpointer data) {
  delete static_cast<BusWatch*>(data);
}

}  // namespace

void IngestCore::retire(std::shared_ptr<Session> session, EventLoop* loop,
                        std::shared_ptr<CameraCounters> counters,
                        const std::shared_ptr<IngestCore>& self) {
  {
    std::lock_guard lock(mutex);
    ++teardowns;
  }
  auto job = [session = std::move(session), loop, counters = std::move(counters), self]() mutable {
    session->finish(true, kEosTimeout, [&](SegmentClosed seg) {
      const bool posted = loop->post([self, counters, seg] {
        counters->segments.fetch_add(1, std::memory_order_relaxed);
        self->listener.onSegmentClosed(seg);
      });
      if (!posted)
        spdlog::warn("ingest: segment {} finished after shutdown; not reported", seg.path);
    });
    session.reset();
    {
      std::lock_guard lock(self->mutex);
      --self->teardowns;
    }
    self->changed.notify_all();
  };
  // Setting a pipeline to NULL can wait on a dead camera's socket (TEARDOWN): never on a context
  // thread. A thread per retirement is cheap next to a pipeline and needs no sizing.
  try {
    std::thread(std::move(job)).detach();
  } catch (const std::system_error& e) {
    spdlog::error("ingest: cannot start a teardown thread ({}); tearing down inline", e.what());
    job();
  }
}

void IngestCore::endLive(std::shared_ptr<LiveChannel> channel,
                         const std::shared_ptr<IngestCore>& self) {
  {
    std::lock_guard lock(mutex);
    ++teardowns;
  }
  auto job = [channel = std::move(channel), self] {
    channel->endIfStale();
    {
      std::lock_guard lock(self->mutex);
      --self->teardowns;
    }
    self->changed.notify_all();
  };
  try {
    std::thread(std::move(job)).detach();
  } catch (const std::system_error& e) {
    spdlog::error("ingest: cannot start a thread to end a live stream ({}); ending inline",
                  e.what());
    job();
  }
}

bool IngestCore::acquireSlot(std::function<void()> onSlot) {
  std::lock_guard lock(slotMutex_);
  if (maxConnecting <= 0 || slotsTaken_ < maxConnecting) {
    ++slotsTaken_;
    return true;
  }
  slotWaiters_.push_back(std::move(onSlot));
  return false;
}

void IngestCore::releaseSlot() {
  std::function<void()> next;
  {
    std::lock_guard lock(slotMutex_);
    if (slotWaiters_.empty()) {
      if (slotsTaken_ > 0) --slotsTaken_;
      return;
    }
    next = std::move(slotWaiters_.front());  // the slot passes on, still taken
    slotWaiters_.pop_front();
  }
  next();
}

Camera::Camera(CameraConfig config, EventLoop& loop, std::shared_ptr<IngestCore> core)
    : config_(std::move(config)),
      loop_(loop),
      core_(std::move(core)),
      counters_(std::make_shared<CameraCounters>()),
      health_(config_.health.offlineAfterFailures),
      backoff_(config_.health.backoffInitial, config_.health.backoffMax, seedFor(config_.id)),
      subBackoff_(config_.health.backoffInitial, config_.health.backoffMax,
                  seedFor(config_.id) + 1) {
  liveMain_ = std::make_shared<LiveChannel>(config_.id, LiveStream::kMain, core_->listener);
  liveSub_ = std::make_shared<LiveChannel>(config_.id, LiveStream::kSub, core_->listener);
  hasSub_ = config_.sub.has_value();
  status_.id = config_.id;
  status_.name = config_.name;
  status_.division = config_.division;
  status_.state = CameraState::kConnecting;
  status_.reason = "starting";
  status_.reader = readerName(config_.main);
  status_.since = core::processClock().now();
}

Camera::~Camera() {
  EventLoop::cancel(tick_);
  EventLoop::cancel(retry_);
  EventLoop::cancel(subRetry_);
  EventLoop::cancel(mainWatch_);
  EventLoop::cancel(subWatch_);
}

SessionSpec Camera::mainSpec() const {
  SessionSpec spec;
  spec.kind = SessionSpec::Kind::kMain;
  spec.camera = config_.id;
  spec.source = config_.main;
  if (mainReorders_) spec.source.reader = StreamSource::Reader::kRtspsrc;
  spec.reorders = mainReorders_;
  spec.recording = config_.recording;
  spec.analytics = config_.analytics.enabled && !config_.sub.has_value();
  spec.analyticsOptions = config_.analytics;
  spec.keyframesOnly = config_.analytics.keyframesOnlyFromMain;
  spec.connectTimeout = config_.health.connectTimeout;
  spec.live = liveMain_;
  return spec;
}

SessionSpec Camera::subSpec() const {
  SessionSpec spec;
  spec.kind = SessionSpec::Kind::kSub;
  spec.camera = config_.id;
  spec.source = *config_.sub;
  if (subReorders_) spec.source.reader = StreamSource::Reader::kRtspsrc;
  spec.reorders = subReorders_;
  spec.recording.enabled = false;
  spec.analytics = config_.analytics.enabled;  // else it runs for live viewers only
  spec.analyticsOptions = config_.analytics;
  spec.keyframesOnly = false;
  spec.connectTimeout = config_.health.connectTimeout;
  spec.live = liveSub_;
  return spec;
}

void Camera::start() {
  const auto stall = config_.health.stallTimeout;
  const auto interval =
      std::clamp(toMs(stall / 4), std::chrono::milliseconds(50), std::chrono::milliseconds(500));
  tick_ = loop_.addTimer(interval, [weak = weak_from_this()] {
    auto self = weak.lock();
    if (!self || self->stopped_) return false;
    self->tick();
    return true;
  });
  subWithMain_ = wantSub();
  startMain("connecting to " + core::redactUrl(config_.main.url));
}

GSource* Camera::watchBus(const std::shared_ptr<Session>& session) {
  GstBus* bus = gst_element_get_bus(session->pipeline());
  GSource* source = gst_bus_create_watch(bus);
  g_source_set_callback(
      source, reinterpret_cast<GSourceFunc>(reinterpret_cast<void (*)()>(&Camera::onBusMessage)),
      new BusWatch{weak_from_this(), session}, &freeBusWatch);
  g_source_attach(source, loop_.context());
  gst_object_unref(bus);
  return source;
}

gboolean Camera::onBusMessage(GstBus*, GstMessage* msg, gpointer data) {
  auto* watch = static_cast<BusWatch*>(data);
  auto self = watch->camera.lock();
  if (!self) return G_SOURCE_REMOVE;
  self->handleBus(watch->session.get(), msg);
  return G_SOURCE_CONTINUE;
}

void Camera::handleBus(Session* session, GstMessage* msg) {
  const bool isMain = main_ && session == main_.get();
  const bool isSub = sub_ && session == sub_.get();
  if (!isMain && !isSub) return;  // a retired session's late message
  switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_ERROR: {
      GError* err = nullptr;
      gchar* debug = nullptr;
      gst_message_parse_error(msg, &err, &debug);
      std::string reason = err && err->message ? err->message : "pipeline error";
      if (reason != lastLogged_) {
        spdlog::info("ingest: camera {} {} error detail: {}", config_.id.str(),
                     isMain ? "main" : "sub", debug ? debug : "");
      }
      if (err) g_error_free(err);
      g_free(debug);
      if (isMain) {
        mainFailed(reason);
      } else {
        subFailed(reason);
      }
      break;
    }
    case GST_MESSAGE_EOS:
      if (isMain) {
        mainFailed("the camera ended the stream");
      } else {
        subFailed("the camera ended the sub stream");
      }
      break;
    case GST_MESSAGE_ELEMENT: {
      const GstStructure* s = gst_message_get_structure(msg);
      if (s && gst_structure_has_name(s, Session::kReorderedMessage)) {
        // The session stopped recording at the first reordered frame: reconnect at once (not a
        // failure, no backoff), this time built for reordering.
        if (isMain && noteReordering(*main_, true)) {
          EventLoop::cancel(retry_);
          retireMain();
          startMain("the camera sends B-frames; reconnecting with rtspsrc and decode times");
        } else if (isSub && noteReordering(*sub_, false)) {
          EventLoop::cancel(subRetry_);
          retireSub();
          if (wantSub()) startSub();
        }
        break;
      }
      if (isMain && s && gst_structure_has_name(s, "splitmuxsink-fragment-closed")) {
        const char* location = gst_structure_get_string(s, "location");
        guint64 rt = 0;
        gst_structure_get_uint64(s, "running-time", &rt);
        if (location) {
          if (auto seg = main_->takeClosedSegment(location, rt)) {
            counters_->segments.fetch_add(1, std::memory_order_relaxed);
            core_->listener.onSegmentClosed(*seg);
          }
        }
      }
      break;
    }
    default: break;
  }
}

void Camera::startMain(const std::string& reason) {
  mainData_ = false;
  notify(health_.onAttempt(reason));
  if (mainQueued_) return;  // already waiting for a slot; it starts the current sources
  // A restart of the gateway (or a network coming back) would otherwise set up every camera at
  // once: hundreds of RTSP handshakes and pipelines starve the cameras already streaming, and
  // the server side (often the camera's own small CPU, or an NVR) as well.
  const bool now = core_->acquireSlot([weak = weak_from_this(), core = core_, loop = &loop_] {
    const bool posted = loop->post([weak, core] {
      auto self = weak.lock();
      if (!self || self->stopped_ || !self->mainQueued_) {
        core->releaseSlot();
        return;
      }
      self->mainQueued_ = false;
      self->mainSlot_ = true;
      self->launchMain();
    });
    if (!posted) core->releaseSlot();
  });
  if (!now) {
    mainQueued_ = true;
    std::lock_guard lock(statusMutex_);
    status_.reason =
        reason + " (waiting: " + std::to_string(core_->maxConnecting) + " cameras are connecting)";
    return;
  }
  mainSlot_ = true;
  launchMain();
}

void Camera::launchMain() {
  mainStarted_ = std::chrono::steady_clock::now();
  SessionSpec spec = mainSpec();
  {
    std::lock_guard lock(statusMutex_);
    status_.reader = readerName(spec.source);
  }
  main_ = std::make_shared<Session>(std::move(spec), counters_, &core_->listener);
  auto started = main_->start();
  if (main_->pipeline()) mainWatch_ = watchBus(main_);
  if (subWithMain_ && !stopped_) {
    subWithMain_ = false;
    if (wantSub() && !sub_) startSub();
  }
  if (!started) mainFailed(started.error().message);
}

void Camera::releaseMainSlot() {
  if (!mainSlot_) return;
  mainSlot_ = false;
  core_->releaseSlot();
}

void Camera::startSub() {
  subStarted_ = std::chrono::steady_clock::now();
  sub_ = std::make_shared<Session>(subSpec(), counters_, &core_->listener);
  auto started = sub_->start();
  if (sub_->pipeline()) subWatch_ = watchBus(sub_);
  if (!started) subFailed(started.error().message);
}

void Camera::retireMain() {
  releaseMainSlot();
  // However it ends (the reordering message may still be queued behind a stall or an error).
  if (main_) noteReordering(*main_, true);
  EventLoop::cancel(mainWatch_);
  // Its live tap (if any) becomes stale: the end is reported once the session is down.
  if (main_) liveMain_->bump();
  if (main_) core_->retire(std::move(main_), &loop_, counters_, core_);
  main_.reset();
}

void Camera::retireSub() {
  EventLoop::cancel(subWatch_);
  if (sub_) noteReordering(*sub_, false);
  if (sub_) liveSub_->bump();
  if (sub_) core_->retire(std::move(sub_), &loop_, counters_, core_);
  sub_.reset();
}

bool Camera::noteReordering(const Session& session, bool isMain) {
  bool& reorders = isMain ? mainReorders_ : subReorders_;
  if (reorders || !session.needsReordering()) return false;
  reorders = true;
  // Once per stream for the camera's lifetime here: its later sessions are built for it.
  const bool wasNative = std::string_view(readerName(session.spec().source)) == "native";
  spdlog::warn(
      "ingest: camera {} {} stream: frames arrive out of presentation order (B-frames); {}, with "
      "decode times worked out again",
      config_.id.str(), isMain ? "main" : "sub",
      wasNative ? "the native reader cannot record them, reading this stream with rtspsrc"
                : "restarting this stream");
  return true;
}

void Camera::mainFailed(const std::string& reason) {
  if (stopped_) return;
  retireMain();
  const bool changed = health_.onFailure(reason);
  const auto delay = backoff_.next(health_.consecutiveFailures());
  if (reason != lastLogged_) {
    // Logged once per distinct reason, not once per retry.
    spdlog::warn("ingest: camera {} ({}): {}; retrying with backoff", config_.id.str(),
                 core::redactUrl(config_.main.url), reason);
    lastLogged_ = reason;
  }
  notify(changed);
  {
    std::lock_guard lock(statusMutex_);
    status_.reason = reason + "; retry in " + seconds(delay);
  }
  EventLoop::cancel(retry_);
  retry_ = loop_.addTimer(toMs(delay), [weak = weak_from_this()] {
    auto self = weak.lock();
    if (self && !self->stopped_) {
      self->startMain("reconnecting to " + core::redactUrl(self->config_.main.url));
    }
    return false;
  });
}

void Camera::subFailed(const std::string& reason) {
  if (stopped_) return;
  retireSub();
  ++subFailures_;
  const auto delay = subBackoff_.next(subFailures_);
  if (subFailures_ == 1) {
    spdlog::warn("ingest: camera {} sub stream ({}): {}; recording continues, retrying",
                 config_.id.str(), core::redactUrl(config_.sub->url), reason);
  }
  EventLoop::cancel(subRetry_);
  subRetry_ = loop_.addTimer(toMs(delay), [weak = weak_from_this()] {
    auto self = weak.lock();
    if (self && !self->stopped_ && self->wantSub()) self->startSub();
    return false;
  });
}

void Camera::tick() {
  const auto now = std::chrono::steady_clock::now();
  const int64_t nowNs =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  const int64_t stallNs = config_.health.stallTimeout.count();

  window_.push_back({now, counters_->frames.load(), counters_->bytes.load()});
  while (window_.size() > 2 && now - window_.front().at > kStatsWindow) window_.pop_front();

  if (main_) {
    // The costly part of setting up is over within kSlotHold (handshake, pipeline, first
    // caps): a camera that stays silent (dead, or far away) must not keep others waiting.
    if (mainSlot_ && (main_->gotData() || now - mainStarted_ > kSlotHold)) releaseMainSlot();
    if (main_->gotData()) {
      if (!mainData_) {
        mainData_ = true;
        const auto info = main_->streamInfo();
        notify(health_.onData("receiving " + info.codec + " " + std::to_string(info.width) + "x" +
                              std::to_string(info.height)));
      } else if (nowNs - main_->lastBufferMonoNs() > stallNs) {
        const std::string reason = "no data for " + seconds(config_.health.stallTimeout);
        spdlog::warn("ingest: camera {} stalled: {}", config_.id.str(), reason);
        const bool changed = health_.onStall(reason);
        retireMain();
        notify(changed);
        const auto delay = backoff_.next(health_.consecutiveFailures());
        EventLoop::cancel(retry_);
        retry_ = loop_.addTimer(toMs(delay), [weak = weak_from_this()] {
          auto self = weak.lock();
          if (self && !self->stopped_) {
            self->startMain("reconnecting after a stall to " +
                            core::redactUrl(self->config_.main.url));
          }
          return false;
        });
      }
    } else if (now - mainStarted_ > config_.health.connectTimeout) {
      mainFailed("no video within " + seconds(config_.health.connectTimeout));
    }
  }
  if (sub_) {
    if (sub_->gotData()) {
      subFailures_ = 0;
      if (nowNs - sub_->lastBufferMonoNs() > stallNs) {
        subFailed("sub stream: no data for " + seconds(config_.health.stallTimeout));
      }
    } else if (now - subStarted_ > config_.health.connectTimeout) {
      subFailed("sub stream: no video within " + seconds(config_.health.connectTimeout));
    }
  }

  std::lock_guard lock(statusMutex_);
  if (window_.size() >= 2) {
    const auto& a = window_.front();
    const auto& b = window_.back();
    const double dt = std::chrono::duration<double>(b.at - a.at).count();
    if (dt > 0) {
      status_.fps = static_cast<double>(b.frames - a.frames) / dt;
      status_.bitrateBps = static_cast<double>(b.bytes - a.bytes) * 8.0 / dt;
    }
  }
  if (main_) {
    const auto info = main_->streamInfo();
    if (!info.codec.empty()) status_.codec = info.codec;
    if (info.width > 0) {
      status_.width = info.width;
      status_.height = info.height;
    }
  }
}

void Camera::notify(bool changed) {
  CameraStatus copy;
  {
    std::lock_guard lock(statusMutex_);
    status_.reason = health_.reason();
    status_.reconnects = health_.reconnects();
    status_.stalls = health_.stalls();
    if (!changed) return;
    status_.state = health_.state();
    status_.since = core::processClock().now();
    if (status_.state != CameraState::kStreaming) {
      status_.fps = 0;
      status_.bitrateBps = 0;
    }
  }
  copy = snapshot();
  spdlog::info("ingest: camera {} -> {} ({})", config_.id.str(), toString(copy.state), copy.reason);
  core_->listener.onStateChanged(copy);
}

CameraStatus Camera::snapshot() const {
  std::lock_guard lock(statusMutex_);
  CameraStatus s = status_;
  s.bytesRecorded = counters_->bytesRecorded.load(std::memory_order_relaxed);
  s.segments = counters_->segments.load(std::memory_order_relaxed);
  s.framesAnalysed = counters_->framesAnalysed.load(std::memory_order_relaxed);
  s.framesDropped = counters_->framesDropped.load(std::memory_order_relaxed);
  return s;
}

void Camera::shutdown(const std::function<void()>& done) {
  if (!stopped_) {
    stopped_ = true;
    EventLoop::cancel(tick_);
    EventLoop::cancel(retry_);
    EventLoop::cancel(subRetry_);
    retireMain();
    retireSub();
    window_.clear();
    notify(health_.onStop("stopped"));
  }
  done();
}

void Camera::setLive(LiveStream stream, bool wanted) {
  if (stopped_) return;
  auto& channel = stream == LiveStream::kMain ? liveMain_ : liveSub_;
  if (channel->wanted() == wanted) return;
  channel->setWanted(wanted);
  spdlog::info("ingest: camera {} live {} {}", config_.id.str(), toString(stream),
               wanted ? "wanted" : "no longer wanted");
  if (!wanted) core_->endLive(channel, core_);
  if (stream != LiveStream::kSub || config_.analytics.enabled) return;
  // Without analytics the sub stream runs only while someone watches it live.
  if (wanted && !sub_ && config_.sub) {
    EventLoop::cancel(subRetry_);
    subFailures_ = 0;
    startSub();
  } else if (!wanted && (sub_ || subRetry_)) {
    EventLoop::cancel(subRetry_);
    retireSub();
  }
}

void Camera::updateSources(StreamSource main, std::optional<StreamSource> sub) {
  config_.main = std::move(main);
  config_.sub = std::move(sub);
  hasSub_ = config_.sub.has_value();
  if (stopped_) return;
  EventLoop::cancel(retry_);
  EventLoop::cancel(subRetry_);
  retireMain();
  retireSub();
  subFailures_ = 0;
  subWithMain_ = wantSub();
  startMain("sources updated; connecting to " + core::redactUrl(config_.main.url));
}

}  // namespace sharpeyes::ingest
