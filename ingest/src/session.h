#pragma once
// Session: one GStreamer pipeline pulling one RTSP stream of a camera (its main or its sub
// stream), from PLAYING to NULL. A reconnect builds a new Session; the old one is retired on a
// teardown thread so a dead camera never blocks a context thread.
//
// Threading: created and started on the camera's context thread; pad probes, the splitmuxsink
// format-location signal and the appsink callback run on GStreamer streaming threads and touch
// only the atomics and the mutex-guarded fields below; finish() runs on a teardown thread.

#include <gst/gst.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "native_recorder.h"
#include "reorder_detector.h"
#include "rtsp_tcp_client.h"
#include "sharpeyes/core/camera_id.h"
#include "sharpeyes/core/result.h"
#include "sharpeyes/core/time.h"
#include "sharpeyes/ingest/ingest.h"
#include "wall_clock.h"

namespace sharpeyes::ingest {

class LiveChannel;
class LiveTap;

// Per-camera counters that outlive sessions; written from streaming threads.
struct CameraCounters {
  std::atomic<uint64_t> frames{0};  // main stream access units
  std::atomic<uint64_t> bytes{0};   // main stream elementary-stream bytes
  std::atomic<uint64_t> bytesRecorded{0};
  std::atomic<uint64_t> segments{0};
  std::atomic<uint64_t> framesAnalysed{0};
  std::atomic<uint64_t> framesDropped{0};
  std::atomic<int> framesOutstanding{0};  // handed to onFrame and still held by the consumer
};

struct SessionSpec {
  enum class Kind { kMain, kSub };
  Kind kind = Kind::kMain;
  core::CameraId camera;
  StreamSource source;
  RecordingOptions recording;  // main only
  // The analytics branch hangs off this session (the sub stream, or the main one without a sub).
  bool analytics = false;
  AnalyticsFeedOptions analyticsOptions;
  bool keyframesOnly = false;
  // The camera reorders frames on this stream (B-frames; Session::needsReordering): read it with
  // rtspsrc (presentation times from the RTP clock, also over UDP), start at a keyframe, and work
  // decode times out again (h264timestamper / h265timestamper) before anything muxes it. Without
  // that, the RTP timestamper's DTS = PTS reaches the recorder, and mp4mux clamps the decode times
  // of the B-frames to the previous frame's (repeated DTS).
  bool reorders = false;
  core::Duration connectTimeout{};
  // The live channel of this stream (see live_tap.h); a tap runs while it is wanted.
  std::shared_ptr<LiveChannel> live;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(SessionSpec spec, std::shared_ptr<CameraCounters> counters, Listener* listener);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Builds the pipeline and sets it PLAYING (rtspsrc, or the native reader's thread, connects).
  core::Result<void> start();
  GstElement* pipeline() const { return pipeline_; }
  const SessionSpec& spec() const { return spec_; }

  // Streaming-thread facts, read by the camera's watchdog.
  bool gotData() const { return gotData_.load(std::memory_order_relaxed); }
  int64_t lastBufferMonoNs() const { return lastBufferNs_.load(std::memory_order_relaxed); }
  struct StreamInfo {
    std::string codec;
    int width = 0;
    int height = 0;
  };
  StreamInfo streamInfo() const;
  // The camera reorders frames on this stream (B-frames; reorder_detector.h) and this session
  // was not built for it (SessionSpec::reorders): it stopped recording at the first
  // out-of-order frame, before that frame reached the recorder (the native reader stops; the
  // rtspsrc chain drops everything from there), and posted a kReorderedMessage element message.
  // The camera then starts the stream again with SessionSpec::reorders. Any thread.
  bool needsReordering() const { return reordered_.load(std::memory_order_acquire); }
  static constexpr const char* kReorderedMessage = "sharpeyes-reordered-frames";

  // A splitmuxsink-fragment-closed message: the finished segment, once per file.
  std::optional<SegmentClosed> takeClosedSegment(const std::string& location, uint64_t runningTime);
  // Segments still open after the pipeline is down (the recorder did not finish in time).
  std::vector<SegmentClosed> takeLeftoverSegments();

  // On a teardown thread: EOS into the recorder (when `finishRecording` and a segment is open),
  // wait up to `eosTimeout` for the recorder to finish it, then NULL and release the pipeline.
  // Every segment finished meanwhile is passed to `onClosed`.
  template <typename OnClosed>
  void finish(bool finishRecording, core::Duration eosTimeout, OnClosed&& onClosed);

  // Streaming-thread entry points (static trampolines call these).
  GstPadProbeReturn onParsedData(GstPad* pad, GstPadProbeInfo* info);
  GstPadProbeReturn onDecoded(GstPadProbeInfo* info);
  GstPadProbeReturn onRecorderInput(GstPadProbeInfo* info);
  gchar* onFormatLocation(GstSample* firstSample);
  void onPadAdded(GstPad* pad);
  bool onSelectStream(GstCaps* caps);
  GstFlowReturn onSample(GstElement* appsink);

 private:
  struct Fragment {
    core::WallTime wallStart{};
    uint64_t rtStart = 0;
  };
  core::WallTime wallStart(uint64_t rtStart, uint64_t rtEnd, core::WallTime named);  // mutex_ held
  // `depayload`: srcPad carries RTP (rtspsrc); false: Annex-B access units (the native reader).
  core::Result<void> buildChain(const std::string& encoding, GstPad* srcPad, bool depayload = true);
  // The native reader (StreamSource::Reader::kNative): appsrc fed by an RtspTcpClient on the
  // session's own reader thread; its errors become bus errors like rtspsrc's.
  core::Result<void> startNative();
  void runNativeReader();                              // reader thread
  void pushAccessUnit(AccessUnit& au, int clockRate);  // reader thread
  void postReaderError(const std::string& message);    // reader thread
  void stopOnReordering();                             // reader thread
  void reportReordering();                             // reader thread or parser probe thread, once
  void stopNativeReader();                             // finish() / destructor
  // The native recorder (native reader with recording): reports a closed file on the bus as
  // splitmuxsink does, so the camera handles both recorders alike.
  void postSegmentClosed(const NativeSegmentWriter::Closed& closed);  // reader thread
  // A fragment-closed message: hands the finished segment to `onClosed` (finish()).
  template <typename OnClosed>
  void handleClosedMessage(GstMessage* msg, OnClosed& onClosed);
  // finish(), after the reader stopped: the open native segment, finished.
  std::optional<SegmentClosed> closeNativeRecording();
  // Where a segment starting at running time `rt` goes; remembered until it closes.
  std::string nameSegmentAt(uint64_t rt);
  GstElement* buildAnalyticsBranch(const std::string& encoding, bool withQueue,
                                   std::vector<GstElement*>& elements);
  // A main-stream frame, from the parser probe (rtspsrc) or the native reader's thread: the
  // camera's counters, and (mutex_ held) the keyframe receipts and end of media time that segment
  // starts and ends are worked out from. `duration` 0: until the next frame.
  void countMainFrame(size_t bytes);
  void noteMainFrameTime(uint64_t rt, bool keyframe, uint64_t duration);  // mutex_ held
  void postError(const std::string& message);
  void stopSinksFirst();  // before the pipeline goes to NULL (see session.cpp)
  bool hasOpenFragments();
  bool recorderStarted();
  void sendEos();
  void feedLive(GstBuffer* buf);  // parser probe thread
  void stopLive();                // after the pipeline is down

  SessionSpec spec_;
  std::shared_ptr<CameraCounters> counters_;
  Listener* listener_;
  GstElement* pipeline_ = nullptr;
  GstElement* parse_ = nullptr;  // recorder head: EOS goes into its sink pad

  std::atomic<bool> gotData_{false};
  std::atomic<int64_t> lastBufferNs_{0};
  std::atomic<bool> closing_{false};
  std::atomic<bool> eosSent_{false};
  std::atomic<bool> linked_{false};
  std::atomic<bool> selected_{false};
  std::atomic<bool> sawCaps_{false};

  // Analytics rate limiting (decoder src pad; one streaming thread).
  int64_t lastHandedPts_ = -1;

  mutable std::mutex mutex_;
  StreamInfo info_;
  // The native recorder sets info_'s size from each keyframe's SPS; caps seen by the pipeline's
  // parser then leave it alone (see onParsedData).
  bool sizeFromRecorder_ = false;
  GstSegment segment_{};
  bool haveSegment_ = false;
  uint64_t lastRt_ = 0;
  uint64_t prevRt_ = 0;
  uint64_t lastEndRt_ = 0;
  std::map<std::string, Fragment> fragments_;
  WallClockMapper clock_;  // running time -> wall time of segment starts
  // PTS repair (parser src probe; one streaming thread).
  GstClockTime lastPts_ = GST_CLOCK_TIME_NONE;
  GstClockTime lastFrameDur_ = 0;
  ReorderDetector parsedReorder_{static_cast<int>(GST_SECOND)};  // on PTS, in ns
  bool sawKeyframe_ = false;                                     // with SessionSpec::reorders
  // Recording branch input (splitmuxsink; one streaming thread): it starts at a keyframe.
  bool recorderKeyframeSeen_ = false;
  std::atomic<bool> recorderGotData_{false};  // a buffer went into the recorder
  // Live tap (parser probe thread; stopLive() once the pipeline no longer streams).
  GstCaps* parsedCaps_ = nullptr;
  std::unique_ptr<LiveTap> liveTap_;
  bool liveFailed_ = false;  // a tap failed to build or run: logged once until the caps change
  // Native reader (only with StreamSource::Reader::kNative); the reader-thread fields below are
  // touched by that thread only.
  GstElement* appsrc_ = nullptr;
  std::unique_ptr<RtspTcpClient> native_;
  std::thread nativeThread_;
  bool nativeHaveBase_ = false;
  int64_t nativeFirstRtp_ = 0;
  GstClockTime nativeBase_ = 0;
  GstClockTime nativeLastPts_ = GST_CLOCK_TIME_NONE;
  bool nativeWaitKeyframe_ = false;
  ReorderDetector nativeReorder_;
  std::atomic<bool> reordered_{false};
  // Native recording: written on the reader thread, closed by finish() after the reader stops.
  std::unique_ptr<NativeSegmentWriter> nativeWriter_;
  bool nativeRecordFailed_ = false;
  bool nativeFeeding_ = false;  // access units also go into the pipeline (analytics, live)
  std::atomic<bool> liveTapActive_{false};  // parser probe thread: a live tap is running
};

template <typename OnClosed>
void Session::handleClosedMessage(GstMessage* msg, OnClosed& onClosed) {
  const GstStructure* s = gst_message_get_structure(msg);
  if (!s || !gst_structure_has_name(s, "splitmuxsink-fragment-closed")) return;
  const char* location = gst_structure_get_string(s, "location");
  guint64 rt = 0;
  gst_structure_get_uint64(s, "running-time", &rt);
  if (location) {
    if (auto seg = takeClosedSegment(location, rt)) onClosed(std::move(*seg));
  }
}

template <typename OnClosed>
void Session::finish(bool finishRecording, core::Duration eosTimeout, OnClosed&& onClosed) {
  closing_ = true;
  stopNativeReader();  // no more access units: the recorder's EOS is the last thing in
  if (nativeWriter_) {
    // Segments the reader closed come first (their wall starts are worked out in order), then
    // the open one, ended after its last frame.
    if (pipeline_) {
      GstBus* bus = gst_element_get_bus(pipeline_);
      while (GstMessage* msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ELEMENT)) {
        handleClosedMessage(msg, onClosed);
        gst_message_unref(msg);
      }
      gst_object_unref(bus);
    }
    if (auto seg = closeNativeRecording()) onClosed(std::move(*seg));
  }
  if (!pipeline_) return;
  GstBus* bus = gst_element_get_bus(pipeline_);
  // EOS whenever the recorder saw data: besides an open file, splitmuxsink may hold a whole GOP
  // not yet written to any file, which only EOS flushes into a (final) segment.
  const bool waitForRecorder = finishRecording && recorderStarted();
  if (waitForRecorder) sendEos();
  const auto deadline = std::chrono::steady_clock::now() + eosTimeout;
  bool sawEos = false;
  for (;;) {
    GstClockTime wait = 0;
    if (waitForRecorder && !sawEos) {
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= core::Duration::zero()) break;
      wait = static_cast<GstClockTime>(std::chrono::duration_cast<core::Duration>(left).count());
    }
    GstMessage* msg = gst_bus_timed_pop_filtered(
        bus, wait,
        static_cast<GstMessageType>(GST_MESSAGE_ELEMENT | GST_MESSAGE_ERROR | GST_MESSAGE_EOS));
    if (!msg) break;
    if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS) {
      sawEos = true;  // every sink, the recorder included, is done; drain what is queued
    } else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ELEMENT) {
      handleClosedMessage(msg, onClosed);
    } else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR && waitForRecorder && !sawEos) {
      // An error inside the recorder means it will not finish: stop waiting for it. Errors from
      // the source side (the camera going away under our EOS) do not matter here.
      gchar* path = gst_object_get_path_string(GST_MESSAGE_SRC(msg));
      const bool recorder = path && std::string(path).find("recorder") != std::string::npos;
      g_free(path);
      if (recorder) {
        gst_message_unref(msg);
        break;
      }
    }
    gst_message_unref(msg);
  }
  gst_object_unref(bus);
  stopSinksFirst();
  gst_element_set_state(pipeline_, GST_STATE_NULL);
  gst_object_unref(pipeline_);
  pipeline_ = nullptr;
  stopLive();
  // A recorder that did not finish in time still leaves a fragmented file that plays up to its
  // last complete fragment: hand it on (files without a single fragment are left for storage's
  // start-up reconcile to quarantine).
  for (auto& seg : takeLeftoverSegments()) onClosed(std::move(seg));
}

}  // namespace sharpeyes::ingest
