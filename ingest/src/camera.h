#pragma once
// Camera: the runtime of one configured camera, pinned to one EventLoop. It owns the health
// state machine, the watchdog timer, the reconnect timer and the current sessions (main, sub).
//
// Threading: every method except snapshot() runs on the camera's loop thread (the manager
// posts to it). snapshot() is safe from any thread.

#include <gst/gst.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "event_loop.h"
#include "live_tap.h"
#include "session.h"
#include "sharpeyes/ingest/health.h"
#include "sharpeyes/ingest/ingest.h"

namespace sharpeyes::ingest {

// What cameras share with the manager: the listener, the loops, and the count of teardowns in
// flight (stop() waits for them, with a deadline). Held by shared_ptr so a teardown thread that
// outlives stop() still finds valid memory; it then just drops its callbacks.
struct IngestCore {
  explicit IngestCore(Listener& l) : listener(l) {}
  Listener& listener;
  std::vector<std::unique_ptr<EventLoop>> loops;

  std::mutex mutex;
  std::condition_variable changed;
  int teardowns = 0;
  int camerasStopping = 0;

  // Retires a session on its own short-lived thread: EOS to the recorder, wait (bounded) for
  // the segment to finish, NULL the pipeline. Finished segments are delivered on `loop`.
  void retire(std::shared_ptr<Session> session, EventLoop* loop,
              std::shared_ptr<CameraCounters> counters, const std::shared_ptr<IngestCore>& self);
  // Reports a live stream's end on a short-lived thread (it may wait for a delivery in flight).
  void endLive(std::shared_ptr<LiveChannel> channel, const std::shared_ptr<IngestCore>& self);

  // Connection slots (IngestOptions::maxConnecting; 0: no limit). A camera's main session holds
  // one while it sets up: until its first data, or kSlotHold, or its end. Any thread.
  // True: a slot is taken. False: `onSlot` runs later, on the thread that frees a slot, and owns
  // the slot handed over: it must keep it or give it back with releaseSlot().
  bool acquireSlot(std::function<void()> onSlot);
  void releaseSlot();
  int maxConnecting = 0;

 private:
  std::mutex slotMutex_;
  int slotsTaken_ = 0;
  std::deque<std::function<void()>> slotWaiters_;
};

class Camera : public std::enable_shared_from_this<Camera> {
 public:
  Camera(CameraConfig config, EventLoop& loop, std::shared_ptr<IngestCore> core);
  ~Camera();

  EventLoop& loop() { return loop_; }
  void start();
  // Orderly stop: recorders get EOS on their teardown threads; `done` runs once the camera
  // reached `stopped` (its last segment may be delivered a little later, still before stop()
  // of the manager returns).
  void shutdown(const std::function<void()>& done);
  void updateSources(StreamSource main, std::optional<StreamSource> sub);
  void setLive(LiveStream stream, bool wanted);
  // Any thread: whether a sub stream is configured (setLive(kSub) needs one).
  bool hasSub() const { return hasSub_.load(std::memory_order_acquire); }

  CameraStatus snapshot() const;

 private:
  static gboolean onBusMessage(GstBus* bus, GstMessage* msg, gpointer data);
  void handleBus(Session* session, GstMessage* msg);
  void startMain(const std::string& reason);
  void launchMain();       // with a connection slot
  void releaseMainSlot();  // once the main session streams, fails, or kSlotHold has passed
  void startSub();
  void retireMain();
  void retireSub();
  // A session found its stream reordering frames (Session::needsReordering): from now on that
  // stream is read with rtspsrc and a decode-time stamper (SessionSpec::reorders). Logged once
  // per stream. True when it switched just now.
  bool noteReordering(const Session& session, bool isMain);
  void mainFailed(const std::string& reason);
  void subFailed(const std::string& reason);
  void tick();
  void notify(bool changed);
  GSource* watchBus(const std::shared_ptr<Session>& session);
  // The sub stream runs for analytics, or for live viewers of it.
  bool wantSub() const {
    return config_.sub.has_value() && (config_.analytics.enabled || liveSub_->wanted());
  }
  SessionSpec mainSpec() const;
  SessionSpec subSpec() const;

  CameraConfig config_;
  EventLoop& loop_;
  std::shared_ptr<IngestCore> core_;
  std::shared_ptr<CameraCounters> counters_;
  HealthMachine health_;
  Backoff backoff_;
  Backoff subBackoff_;
  bool stopped_ = false;
  std::atomic<bool> hasSub_{false};
  std::shared_ptr<LiveChannel> liveMain_;
  std::shared_ptr<LiveChannel> liveSub_;

  std::shared_ptr<Session> main_;
  GSource* mainWatch_ = nullptr;
  core::MonoTime mainStarted_{};
  bool mainData_ = false;
  bool mainQueued_ = false;   // waiting for a connection slot
  bool mainSlot_ = false;     // holds a connection slot
  bool subWithMain_ = false;  // the analytics sub stream starts once the main has its slot
  std::shared_ptr<Session> sub_;
  GSource* subWatch_ = nullptr;
  core::MonoTime subStarted_{};
  int subFailures_ = 0;
  // Streams whose frames arrive reordered (B-frames): rtspsrc whatever the configured reader,
  // and SessionSpec::reorders. Kept across updateSources (the same camera's encoder).
  bool mainReorders_ = false;
  bool subReorders_ = false;

  GSource* tick_ = nullptr;
  GSource* retry_ = nullptr;
  GSource* subRetry_ = nullptr;
  std::string lastLogged_;

  struct Sample {
    core::MonoTime at;
    uint64_t frames;
    uint64_t bytes;
  };
  std::deque<Sample> window_;

  mutable std::mutex statusMutex_;
  CameraStatus status_;
};

}  // namespace sharpeyes::ingest
