#pragma once
// Live tap: the camera's own (not re-encoded) H.264/H.265, as parsed by a session, muxed into
// fragmented MP4 for live viewers, only while someone watches.
//
// LiveChannel (one per camera and stream, owned by the Camera, shared with its sessions) holds
// whether live is wanted and a generation that moves on every change of demand and every session
// retirement. Deliveries carry the generation of the tap that produced them; stale ones are
// dropped, so after onLiveEnded a stream's old bytes never reach the listener, and a new
// generation's init segment always follows the previous generation's onLiveEnded.
//
// LiveTap (one per session while wanted) is a small pipeline of its own,
// `appsrc ! h264parse|h265parse ! mp4mux fragment-duration=1 streamable=true ! appsink`, fed from
// the session's parser probe. Its own pipeline keeps the camera's pipeline static (no relinking
// under a running recorder) and lets a slow consumer block only the tap's threads: the session
// checks the appsrc level and drops (up to the next keyframe) instead of ever waiting.
//
// Threading: LiveChannel::setWanted/bump on the camera's loop thread; deliver() on the tap's
// appsink thread; endIfStale() on teardown threads. LiveTap::push() on the session's streaming
// thread; its appsink callback on the tap's own streaming thread.

#include <gst/gst.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "sharpeyes/core/camera_id.h"
#include "sharpeyes/ingest/ingest.h"

namespace sharpeyes::ingest {

class LiveChannel {
 public:
  LiveChannel(core::CameraId camera, LiveStream stream, Listener& listener)
      : camera_(std::move(camera)), stream_(stream), listener_(listener) {}

  const core::CameraId& camera() const { return camera_; }
  LiveStream stream() const { return stream_; }
  bool wanted() const { return wanted_.load(std::memory_order_acquire); }
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // Camera loop thread. Both make every existing tap stale.
  void setWanted(bool wanted);
  void bump() { generation_.fetch_add(1, std::memory_order_acq_rel); }
  // Tap appsink thread: hands `bytes` to the listener unless the tap is stale (an older
  // generation, or superseded by a newer tap of the same generation).
  void deliver(uint64_t generation, uint64_t tapId, std::string_view bytes);
  // Any thread but a camera's streaming or loop thread (may wait for a delivery in flight):
  // reports onLiveEnded when bytes of a generation that is now stale were delivered.
  void endIfStale();
  uint64_t nextTapId() { return nextTapId_.fetch_add(1, std::memory_order_relaxed) + 1; }

 private:
  const core::CameraId camera_;
  const LiveStream stream_;
  Listener& listener_;
  std::atomic<bool> wanted_{false};
  std::atomic<uint64_t> generation_{1};
  std::atomic<uint64_t> nextTapId_{0};

  std::mutex mutex_;           // serialises the listener calls of this stream
  uint64_t deliveredGen_ = 0;  // generation whose bytes reached the listener; 0: none (ended)
  uint64_t deliveredTap_ = 0;  // newest tap that delivered
};

class LiveTap {
 public:
  // `caps`: the session parser's current caps (video/x-h264 or video/x-h265).
  static std::unique_ptr<LiveTap> create(const std::shared_ptr<LiveChannel>& channel,
                                         GstCaps* caps);
  ~LiveTap();  // sets the pipeline to NULL: may wait for a delivery in flight
  LiveTap(const LiveTap&) = delete;
  LiveTap& operator=(const LiveTap&) = delete;

  uint64_t generation() const { return generation_; }
  bool sameCaps(GstCaps* caps) const { return gst_caps_is_equal(caps_, caps); }
  // Session streaming thread; never blocks. Starts at a keyframe, and after a drop (consumer
  // behind) resumes at the next one.
  void push(GstBuffer* buffer);
  // Hands the tap to a GStreamer pool thread to be stopped there (from a streaming thread,
  // where waiting for a slow consumer must not happen).
  static void disposeAsync(std::unique_ptr<LiveTap> tap);
  // Session streaming thread: the error the tap's pipeline posted, if any (it then produces
  // nothing more; the session replaces it at the next keyframe, with a new init segment).
  std::optional<std::string> error();

  GstFlowReturn onSample(GstElement* appsink);  // tap's streaming thread

 private:
  LiveTap(std::shared_ptr<LiveChannel> channel, uint64_t generation, uint64_t id)
      : channel_(std::move(channel)), generation_(generation), id_(id) {}

  std::shared_ptr<LiveChannel> channel_;
  const uint64_t generation_;
  const uint64_t id_;
  GstElement* pipeline_ = nullptr;
  GstElement* appsrc_ = nullptr;
  GstCaps* caps_ = nullptr;

  // push() side (one session streaming thread).
  bool waitKeyframe_ = true;
  GstClockTime base_ = GST_CLOCK_TIME_NONE;  // timestamps restart at 0 for each init segment
  uint64_t dropped_ = 0;

  // appsink side (one tap streaming thread): bytes not yet forming a whole piece.
  std::string pending_;  // boxes of the piece being assembled (ftyp.., moof..)
  std::string partial_;  // an incomplete box
};

}  // namespace sharpeyes::ingest
