#include "sharpeyes/onvif/runtime.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "sharpeyes/core/util.h"
#include "sharpeyes/onvif/events.h"

namespace sharpeyes::onvif {

std::string_view toString(WatchState state) {
  switch (state) {
    case WatchState::kConnecting: return "connecting";
    case WatchState::kSubscribed: return "subscribed";
    case WatchState::kRetrying: return "retrying";
    case WatchState::kStopped: return "stopped";
  }
  return "unknown";
}

namespace {
using Clock = std::chrono::steady_clock;

struct Watch {
  uint64_t id = 0;
  EventSource source;
  EventCallback onEvent;
  WatchStateCallback onState;
  std::unique_ptr<DeviceClient> client;
  std::optional<PullPoint> pullPoint;
  std::optional<EventMapper> mapper;
  core::Duration backoff{};
  Clock::time_point renewAt{};
  std::atomic<bool> cancelled{false};
  WatchState state = WatchState::kStopped;
  std::string lastError;  // logged once per distinct failure, not per retry
};
}  // namespace

struct OnvifRuntime::Impl {
  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> queue;
  std::multimap<Clock::time_point, std::function<void()>> timers;
  std::map<uint64_t, std::shared_ptr<Watch>> watches;
  uint64_t nextId = 1;
  bool stopping = false;
  size_t running = 0;
  std::vector<std::thread> workers;
  std::atomic<uint64_t> calls{0}, failedCalls{0}, events{0}, resolvesJoined{0};
  using ResolveDone = std::function<void(core::Result<ResolvedStreams>)>;
  // In-flight resolutions by address + credentials; the waiters get the one result.
  std::map<std::string, std::vector<ResolveDone>> resolving;

  void resolve(std::string address, Credentials credentials, CallOptions options,
               std::optional<Clock::time_point> deadline, ResolveDone done) {
    // Kept in memory only, never logged; the password is part of the key so that a request
    // with other credentials is not answered by a resolution it could not have made.
    std::string key = address + '\x1f' + credentials.username + '\x1f' + credentials.password;
    {
      std::lock_guard lock(mu);
      if (stopping) return;
      auto it = resolving.find(key);
      if (it != resolving.end()) {
        it->second.push_back(std::move(done));
        ++resolvesJoined;
        return;
      }
      resolving[key].push_back(std::move(done));
    }
    post([this, key = std::move(key), address = std::move(address),
          credentials = std::move(credentials), options, deadline]() mutable {
      core::Result<ResolvedStreams> r = core::makeError(core::ErrorCode::kTimeout, "");
      if (deadline && Clock::now() >= *deadline) {
        r = core::makeError(
            core::ErrorCode::kTimeout,
            "resolve " + core::redactUrl(address) + ": no ONVIF worker free within the timeout");
      } else {
        if (deadline) options.deadline = std::min(options.deadline.value_or(*deadline), *deadline);
        ++calls;
        r = onvif::resolveStreams(address, credentials, options);
      }
      if (!r.ok()) ++failedCalls;
      std::vector<ResolveDone> waiters;
      {
        std::lock_guard lock(mu);
        auto it = resolving.find(key);
        if (it != resolving.end()) {
          waiters = std::move(it->second);
          resolving.erase(it);
        }
      }
      for (auto& w : waiters) {
        if (w) w(r);
      }
    });
  }

  void post(std::function<void()> task) {
    {
      std::lock_guard lock(mu);
      if (stopping) return;
      queue.push_back(std::move(task));
    }
    cv.notify_one();
  }

  void postAfter(core::Duration delay, std::function<void()> task) {
    {
      std::lock_guard lock(mu);
      if (stopping) return;
      timers.emplace(Clock::now() + std::chrono::duration_cast<Clock::duration>(delay),
                     std::move(task));
    }
    cv.notify_one();
  }

  void workerLoop() {
    std::unique_lock lock(mu);
    for (;;) {
      const auto now = Clock::now();
      while (!timers.empty() && timers.begin()->first <= now) {
        queue.push_back(std::move(timers.begin()->second));
        timers.erase(timers.begin());
      }
      if (!queue.empty()) {
        auto task = std::move(queue.front());
        queue.pop_front();
        ++running;
        lock.unlock();
        task();
        lock.lock();
        --running;
        cv.notify_all();
        continue;
      }
      if (stopping) return;
      if (timers.empty()) {
        cv.wait(lock);
      } else {
        cv.wait_until(lock, timers.begin()->first);
      }
    }
  }

  void setState(Watch& w, WatchState s, const std::string& detail) {
    if (w.state == s && detail == w.lastError) return;
    w.state = s;
    if (w.onState) w.onState(s, detail);
  }

  void emit(Watch& w, const core::Event& e) {
    ++events;
    if (w.onEvent) w.onEvent(e);
  }

  void fail(const std::shared_ptr<Watch>& w, const core::Error& error) {
    ++failedCalls;
    for (const auto& e : w->mapper->closeAll(core::processClock().now())) emit(*w, e);
    w->pullPoint.reset();
    const std::string detail = error.describe();
    if (detail != w->lastError) {
      spdlog::warn("onvif: camera {} events: {}", w->source.camera.str(), detail);
    }
    setState(*w, WatchState::kRetrying, detail);
    w->lastError = detail;
    const core::Duration delay = w->backoff;
    w->backoff = std::min(w->backoff * 2, w->source.watch.retryMax);
    postAfter(delay, [this, w] { step(w); });
  }

  void step(const std::shared_ptr<Watch>& w) {
    if (w->cancelled) {
      if (w->pullPoint) {
        ++calls;
        (void)w->client->unsubscribe(*w->pullPoint);
        w->pullPoint.reset();
      }
      for (const auto& e : w->mapper->closeAll(core::processClock().now())) emit(*w, e);
      setState(*w, WatchState::kStopped, "");
      return;
    }
    const EventWatchOptions& opt = w->source.watch;
    if (!w->pullPoint) {
      setState(*w, WatchState::kConnecting, "");
      ++calls;
      if (auto offset = w->client->syncClock();
          !offset.ok() && (offset.error().code == core::ErrorCode::kTimeout ||
                           offset.error().code == core::ErrorCode::kUnavailable)) {
        return fail(w, offset.error());
      }
      ++calls;
      auto pp = w->client->createPullPoint(opt.termination);
      if (!pp.ok()) return fail(w, pp.error());
      w->pullPoint = *pp;
      w->backoff = opt.retryMin;
      w->renewAt = Clock::now() + std::chrono::duration_cast<Clock::duration>(opt.termination / 2);
      if (!w->lastError.empty()) {
        spdlog::info("onvif: camera {} events: subscribed again", w->source.camera.str());
      }
      w->lastError.clear();
      setState(*w, WatchState::kSubscribed, "");
    } else if (Clock::now() >= w->renewAt) {
      ++calls;
      auto renewed = w->client->renew(*w->pullPoint, opt.termination);
      if (!renewed.ok()) return fail(w, renewed.error());
      w->renewAt = Clock::now() + std::chrono::duration_cast<Clock::duration>(opt.termination / 2);
    }
    ++calls;
    auto messages = w->client->pullMessages(*w->pullPoint, opt.pullWait, opt.messageLimit);
    if (!messages.ok()) return fail(w, messages.error());
    const core::WallTime now = core::processClock().now();
    for (const auto& n : *messages) {
      if (auto e = w->mapper->map(n, now, w->client->clockOffset())) emit(*w, *e);
    }
    postAfter(opt.pollInterval, [this, w] { step(w); });
  }
};

OnvifRuntime::OnvifRuntime(int threads) : impl_(std::make_unique<Impl>()) {
  for (int i = 0; i < std::max(1, threads); ++i) {
    impl_->workers.emplace_back([this] { impl_->workerLoop(); });
  }
}

OnvifRuntime::~OnvifRuntime() {
  std::vector<std::shared_ptr<Watch>> watches;
  {
    std::lock_guard lock(impl_->mu);
    for (auto& [id, w] : impl_->watches) watches.push_back(w);
    impl_->watches.clear();
    impl_->timers.clear();  // pending polls: the final step below replaces them
  }
  for (auto& w : watches) {
    w->cancelled = true;
    impl_->post([this, w] { impl_->step(w); });
  }
  {
    std::unique_lock lock(impl_->mu);
    impl_->stopping = true;
    // Drain: queued work still runs (each call bounded by its timeouts); timers are dropped.
    impl_->timers.clear();
  }
  impl_->cv.notify_all();
  for (auto& t : impl_->workers) t.join();
}

void OnvifRuntime::post(std::function<void()> task) {
  impl_->post(std::move(task));
}

void OnvifRuntime::resolveStreams(std::string address, Credentials credentials, CallOptions options,
                                  core::Duration timeout,
                                  std::function<void(core::Result<ResolvedStreams>)> done) {
  impl_->resolve(std::move(address), std::move(credentials), options,
                 Clock::now() + std::chrono::duration_cast<Clock::duration>(timeout),
                 std::move(done));
}

void OnvifRuntime::resolveStreams(std::string address, Credentials credentials, CallOptions options,
                                  std::function<void(core::Result<ResolvedStreams>)> done) {
  impl_->resolve(std::move(address), std::move(credentials), options, std::nullopt,
                 std::move(done));
}

uint64_t OnvifRuntime::watchEvents(EventSource source, EventCallback onEvent,
                                   WatchStateCallback onState) {
  auto w = std::make_shared<Watch>();
  w->onEvent = std::move(onEvent);
  w->onState = std::move(onState);
  w->mapper.emplace(source.camera, source.division, source.severity);
  w->backoff = source.watch.retryMin;
  auto url = deviceServiceUrl(source.address);
  w->client = std::make_unique<DeviceClient>(url.ok() ? *url : source.address, source.credentials,
                                             source.call);
  w->source = std::move(source);
  {
    std::lock_guard lock(impl_->mu);
    w->id = impl_->nextId++;
    impl_->watches.emplace(w->id, w);
  }
  if (!url.ok()) {
    // Reported like every other state: on a worker, never on the caller's thread.
    impl_->post([w, why = url.error().describe()] {
      if (w->onState) w->onState(WatchState::kStopped, why);
    });
    return w->id;
  }
  impl_->post([this, w] { impl_->step(w); });
  return w->id;
}

void OnvifRuntime::unwatch(uint64_t id) {
  std::shared_ptr<Watch> w;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->watches.find(id);
    if (it == impl_->watches.end()) return;
    w = it->second;
    impl_->watches.erase(it);
  }
  // The watch's next scheduled step sees the flag and unsubscribes; it is at most one poll
  // interval (or back-off) away.
  w->cancelled = true;
}

RuntimeStats OnvifRuntime::stats() const {
  RuntimeStats s;
  s.calls = impl_->calls;
  s.failedCalls = impl_->failedCalls;
  s.events = impl_->events;
  s.resolvesJoined = impl_->resolvesJoined;
  std::lock_guard lock(impl_->mu);
  s.watches = impl_->watches.size();
  s.queued = impl_->queue.size() + impl_->timers.size();
  return s;
}

}  // namespace sharpeyes::onvif
