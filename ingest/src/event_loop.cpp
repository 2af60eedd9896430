#include "event_loop.h"

#include <pthread.h>

#include <future>

namespace sharpeyes::ingest {

EventLoop::EventLoop(std::string name) : name_(std::move(name)) {
  context_ = g_main_context_new();
  loop_ = g_main_loop_new(context_, FALSE);
  std::promise<void> started;
  auto ready = started.get_future();
  thread_ = std::thread([this, &started] {
    threadId_ = std::this_thread::get_id();
    pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
    g_main_context_push_thread_default(context_);
    started.set_value();
    g_main_loop_run(loop_);
    g_main_context_pop_thread_default(context_);
  });
  ready.wait();
}

EventLoop::~EventLoop() {
  quit();
  g_main_loop_unref(loop_);
  g_main_context_unref(context_);
}

bool EventLoop::post(std::function<void()> fn) {
  std::lock_guard lock(mutex_);
  if (!accepting_) return false;
  tasks_.push_back(std::move(fn));
  if (!drainScheduled_) {
    drainScheduled_ = true;
    GSource* source = g_idle_source_new();
    g_source_set_priority(source, G_PRIORITY_DEFAULT);
    g_source_set_callback(source, &EventLoop::drain, this, nullptr);
    g_source_attach(source, context_);
    g_source_unref(source);
  }
  return true;
}

gboolean EventLoop::drain(gpointer self) {
  auto* loop = static_cast<EventLoop*>(self);
  std::deque<std::function<void()>> batch;
  {
    std::lock_guard lock(loop->mutex_);
    batch.swap(loop->tasks_);
    loop->drainScheduled_ = false;
  }
  for (auto& task : batch) task();
  return G_SOURCE_REMOVE;
}

namespace {
struct TimerData {
  std::function<bool()> fn;
};
gboolean onTimer(gpointer data) {
  return static_cast<TimerData*>(data)->fn() ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}
void freeTimer(gpointer data) {
  delete static_cast<TimerData*>(data);
}
}  // namespace

GSource* EventLoop::addTimer(std::chrono::milliseconds interval, std::function<bool()> fn) {
  GSource* source =
      g_timeout_source_new(static_cast<guint>(std::max<int64_t>(interval.count(), 0)));
  g_source_set_callback(source, &onTimer, new TimerData{std::move(fn)}, &freeTimer);
  g_source_attach(source, context_);
  return source;
}

void EventLoop::cancel(GSource*& source) {
  if (!source) return;
  g_source_destroy(source);
  g_source_unref(source);
  source = nullptr;
}

void EventLoop::quit() {
  {
    std::lock_guard lock(mutex_);
    if (!accepting_ && !thread_.joinable()) return;
    accepting_ = false;
  }
  if (!thread_.joinable()) return;
  if (isCurrentThread()) {
    // Never join ourselves; the owner's destructor will (this only happens on misuse).
    g_main_loop_quit(loop_);
    thread_.detach();
    return;
  }
  // The quit runs after the tasks already queued, so their callbacks are delivered first.
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back([this] { g_main_loop_quit(loop_); });
    if (!drainScheduled_) {
      drainScheduled_ = true;
      GSource* source = g_idle_source_new();
      g_source_set_callback(source, &EventLoop::drain, this, nullptr);
      g_source_attach(source, context_);
      g_source_unref(source);
    }
  }
  thread_.join();
}

}  // namespace sharpeyes::ingest
