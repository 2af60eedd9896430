#pragma once
// NativeSegmentWriter: the recording branch of a native-reader session (StreamSource::Reader::
// kNative) without GStreamer. Access units go from the reader thread straight into libavformat's
// fragmented-MP4 muxer and a file descriptor, on that same thread.
//
// Why: with splitmuxsink each frame crossed four threads per camera (reader, appsrc, the
// splitmuxsink queue, mp4mux's aggregator). At 200 cameras that is 20,000 thread hand-offs a
// second, and on a 2-core VM the context switches cost more than the work (docs/benchmarks.md).
//
// Files are what the GStreamer recorder writes: fragmented MP4 (empty moov, a fragment at each
// keyframe and at least every second), so kill -9 loses at most the open fragment and every
// finished file plays on its own. A segment holds the whole GOPs that fit in segmentLength plus
// slack (as splitmuxsink's max-size-time), and is also cut where the parameter sets change (a
// new resolution gets a new file with its own header).
//
// Durability (fsync, index) stays with storage: the writer only reports closed files.
// Not thread-safe: one thread writes (the session's reader thread, then its teardown).
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "h26x_depay.h"
#include "sharpeyes/core/result.h"
#include "sharpeyes/core/time.h"

namespace sharpeyes::ingest {

class NativeSegmentWriter {
 public:
  struct Options {
    rtsp::VideoCodec codec = rtsp::VideoCodec::kH264;
    core::Duration segmentLength = std::chrono::seconds(10);
    core::Duration slack = std::chrono::milliseconds(100);
    core::Duration fragment = std::chrono::seconds(1);
    // The absolute path for a segment whose first frame is at running time `rt` (ns); may create
    // its directory. Called on the writing thread.
    std::function<std::string(uint64_t rt)> nameSegment;
  };
  struct Closed {
    std::string path;
    uint64_t endRt = 0;  // running time (ns) just after the segment's last frame
  };

  explicit NativeSegmentWriter(Options options);
  ~NativeSegmentWriter();  // abandons an open file as it is (its fragments stay playable)
  NativeSegmentWriter(const NativeSegmentWriter&) = delete;
  NativeSegmentWriter& operator=(const NativeSegmentWriter&) = delete;

  struct Outcome {
    std::optional<Closed> closed;      // the segment this keyframe closed
    std::optional<core::Error> error;  // kResourceExhausted when the disk is full
  };
  // One access unit at running time `rt` (ns, increasing); takes its bytes. A file starts at a
  // keyframe (delta frames before one are skipped). An error (cannot create or write the file:
  // disk full, I/O error) leaves no file open, and the next file starts at a keyframe again; a
  // segment closed by the same keyframe is still in `closed`.
  Outcome write(AccessUnit& au, uint64_t rt);
  // Finishes the open segment (ends one frame interval after its last frame). nullopt: none open.
  core::Result<std::optional<Closed>> close();

  // Picture size from the latest keyframe's sequence parameter set (0 until one is parsed).
  int width() const { return width_; }
  int height() const { return height_; }

 private:
  struct File;
  struct Parser;
  core::Result<void> openAt(uint64_t rt);
  core::Result<void> writePending(uint64_t duration);
  core::Result<std::optional<Closed>> finishFile(uint64_t endRt);
  void parseKeyframe(const AccessUnit& au);

  Options options_;
  std::unique_ptr<File> file_;
  std::unique_ptr<Parser> parser_;  // libavcodec's parser: the picture size from an SPS
  std::string paramSets_;           // Annex-B parameter sets of the latest keyframe
  bool paramSetsChanged_ = false;
  int width_ = 0;
  int height_ = 0;
  // The frame written once the next one gives its duration.
  std::optional<AccessUnit> pending_;
  uint64_t pendingRt_ = 0;
  uint64_t lastInterval_ = 40'000'000;  // ns; 25 fps until measured
  uint64_t lastKeyRt_ = 0;
  bool haveLastKey_ = false;
  uint64_t gop_ = 0;  // ns between the last two keyframes
};

}  // namespace sharpeyes::ingest
