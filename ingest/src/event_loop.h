#pragma once
// One GMainContext driven by one thread: the unit of the ingest thread pool. Cameras pinned to a
// loop do all their state changes on it; other threads only post(). Timers and bus watches are
// GSources attached to the loop's context.

#include <glib.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace sharpeyes::ingest {

class EventLoop {
 public:
  explicit EventLoop(std::string name);
  ~EventLoop();  // quits and joins
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  GMainContext* context() const { return context_; }
  bool isCurrentThread() const { return std::this_thread::get_id() == threadId_.load(); }

  // Runs `fn` on the loop thread, in posting order. Any thread. Returns false (and drops `fn`)
  // once the loop is shutting down.
  bool post(std::function<void()> fn);

  // A repeating (or one-shot when `fn` returns false) timer on this loop. Any thread. The
  // returned source is owned by the caller (unref it, or pass it to cancel()).
  GSource* addTimer(std::chrono::milliseconds interval, std::function<bool()> fn);
  // Destroys and unrefs a source; its callback never runs afterwards when called on the loop
  // thread. nullptr is fine.
  static void cancel(GSource*& source);

  // Runs the tasks already posted, then stops the loop and joins the thread. Idempotent.
  void quit();

 private:
  static gboolean drain(gpointer self);
  void run();

  std::string name_;
  GMainContext* context_ = nullptr;
  GMainLoop* loop_ = nullptr;
  std::thread thread_;
  std::atomic<std::thread::id> threadId_{};

  std::mutex mutex_;
  std::deque<std::function<void()>> tasks_;
  bool drainScheduled_ = false;
  bool accepting_ = true;
};

}  // namespace sharpeyes::ingest
