#include "native_recorder.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/mem.h>
}

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sharpeyes::ingest {
namespace {

using core::ErrorCode;
using core::makeError;

constexpr int kIoBufferBytes = 256 * 1024;  // a 4 Mbit/s fragment leaves in two write()s
constexpr AVRational kNs{1, 1000000000};

std::string avError(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, buf, sizeof(buf));
  return buf;
}

// The access unit's parameter sets, each behind a 4-byte start code (the form libavformat turns
// into avcC/hvcC).
std::string parameterSets(rtsp::VideoCodec codec, const std::vector<uint8_t>& au) {
  std::string out;
  const size_t n = au.size();
  size_t i = 0;
  auto nextStart = [&](size_t from) {
    for (size_t k = from; k + 3 <= n; ++k) {
      if (au[k] == 0 && au[k + 1] == 0 && au[k + 2] == 1) return k;
    }
    return n;
  };
  i = nextStart(0);
  while (i < n) {
    const size_t begin = i + 3;
    size_t end = nextStart(begin);
    const size_t next = end;
    // A 4-byte start code's leading zero belongs to the next start code, not to this unit.
    while (end > begin && au[end - 1] == 0) --end;
    if (begin < end) {
      const int type = nalUnitType(codec, au[begin]);
      // Parameter sets come before the picture's slices: stop at the first slice rather than
      // scan a keyframe's few hundred kilobytes for start codes.
      if (isSliceNal(codec, type)) break;
      if (isParameterSetNal(codec, type)) {
        out.append("\0\0\0\1", 4);
        out.append(reinterpret_cast<const char*>(au.data() + begin), end - begin);
      }
    }
    i = next;
  }
  return out;
}

// Where libavformat's bytes go: our own descriptor, so a failed write() keeps its errno.
struct FdSink {
  int fd = -1;
  int writeErrno = 0;
};

int writeToFd(void* opaque, uint8_t* buf, int size) {
  auto* sink = static_cast<FdSink*>(opaque);
  int done = 0;
  while (done < size) {
    const ssize_t n = ::write(sink->fd, buf + done, static_cast<size_t>(size - done));
    if (n < 0) {
      if (errno == EINTR) continue;
      sink->writeErrno = errno;
      return AVERROR(errno);
    }
    done += static_cast<int>(n);
  }
  return size;
}

core::Error ioError(int err, const std::string& what, int avErr) {
  return core::Error{err == ENOSPC ? ErrorCode::kResourceExhausted : ErrorCode::kUnavailable,
                     what + ": " + (err != 0 ? std::string(std::strerror(err)) : avError(avErr))};
}

}  // namespace

struct NativeSegmentWriter::Parser {
  AVCodecParserContext* parser = nullptr;
  AVCodecContext* context = nullptr;
  ~Parser() {
    if (parser) av_parser_close(parser);
    avcodec_free_context(&context);
  }
};

struct NativeSegmentWriter::File {
  FdSink sink;
  AVFormatContext* oc = nullptr;
  AVStream* stream = nullptr;
  AVPacket* packet = nullptr;
  std::string path;
  uint64_t startRt = 0;
  int64_t lastDts = -1;
  ~File() {
    av_packet_free(&packet);
    if (oc) {
      if (oc->pb) {
        av_freep(&oc->pb->buffer);
        avio_context_free(&oc->pb);
      }
      avformat_free_context(oc);
    }
    if (sink.fd >= 0) ::close(sink.fd);
  }
};

NativeSegmentWriter::NativeSegmentWriter(Options options) : options_(std::move(options)) {}

NativeSegmentWriter::~NativeSegmentWriter() = default;

void NativeSegmentWriter::parseKeyframe(const AccessUnit& au) {
  std::string sets = parameterSets(options_.codec, au.data);
  if (sets.empty() || sets == paramSets_) return;
  if (!paramSets_.empty()) paramSetsChanged_ = true;
  paramSets_ = std::move(sets);
  if (!parser_) {
    parser_ = std::make_unique<Parser>();
    parser_->parser = av_parser_init(options_.codec == rtsp::VideoCodec::kH264 ? AV_CODEC_ID_H264
                                                                               : AV_CODEC_ID_HEVC);
    parser_->context = avcodec_alloc_context3(nullptr);
    if (parser_->parser) parser_->parser->flags |= PARSER_FLAG_COMPLETE_FRAMES;
  }
  if (!parser_->parser || !parser_->context) return;
  uint8_t* out = nullptr;
  int outSize = 0;
  av_parser_parse2(parser_->parser, parser_->context, &out, &outSize, au.data.data(),
                   static_cast<int>(au.data.size()), AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
  if (parser_->parser->width > 0 && parser_->parser->height > 0) {
    width_ = parser_->parser->width;
    height_ = parser_->parser->height;
  }
}

core::Result<void> NativeSegmentWriter::openAt(uint64_t rt) {
  if (paramSets_.empty() || width_ <= 0 || height_ <= 0) {
    return makeError(ErrorCode::kCorrupt, "keyframe without a readable sequence parameter set");
  }
  auto file = std::make_unique<File>();
  file->path = options_.nameSegment(rt);
  file->startRt = rt;
  file->sink.fd = ::open(file->path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (file->sink.fd < 0) return ioError(errno, "cannot create " + file->path, 0);
  int rc = avformat_alloc_output_context2(&file->oc, nullptr, "mp4", nullptr);
  if (rc < 0 || !file->oc) {
    ::unlink(file->path.c_str());
    return makeError(ErrorCode::kUnavailable, "libavformat has no mp4 muxer: " + avError(rc));
  }
  auto* buffer = static_cast<uint8_t*>(av_malloc(kIoBufferBytes));
  file->oc->pb = buffer ? avio_alloc_context(buffer, kIoBufferBytes, 1, &file->sink, nullptr,
                                             &writeToFd, nullptr)
                        : nullptr;
  if (!file->oc->pb) {
    av_free(buffer);
    ::unlink(file->path.c_str());
    return makeError(ErrorCode::kResourceExhausted, "out of memory for " + file->path);
  }
  // Each fragment reaches the kernel when it is complete (as with GStreamer's unbuffered sink).
  file->oc->flags |= AVFMT_FLAG_FLUSH_PACKETS;
  file->stream = avformat_new_stream(file->oc, nullptr);
  file->packet = av_packet_alloc();
  if (!file->stream || !file->packet) {
    ::unlink(file->path.c_str());
    return makeError(ErrorCode::kResourceExhausted, "out of memory for " + file->path);
  }
  AVCodecParameters* par = file->stream->codecpar;
  par->codec_type = AVMEDIA_TYPE_VIDEO;
  par->codec_id = options_.codec == rtsp::VideoCodec::kH264 ? AV_CODEC_ID_H264 : AV_CODEC_ID_HEVC;
  par->width = width_;
  par->height = height_;
  par->extradata =
      static_cast<uint8_t*>(av_mallocz(paramSets_.size() + AV_INPUT_BUFFER_PADDING_SIZE));
  if (!par->extradata) {
    ::unlink(file->path.c_str());
    return makeError(ErrorCode::kResourceExhausted, "out of memory for " + file->path);
  }
  std::memcpy(par->extradata, paramSets_.data(), paramSets_.size());
  par->extradata_size = static_cast<int>(paramSets_.size());
  file->stream->time_base = AVRational{1, 90000};

  AVDictionary* opts = nullptr;
  av_dict_set(&opts, "movflags", "empty_moov+default_base_moof+frag_keyframe", 0);
  av_dict_set_int(&opts, "frag_duration",
                  std::chrono::duration_cast<std::chrono::microseconds>(options_.fragment).count(),
                  0);
  rc = avformat_write_header(file->oc, &opts);
  av_dict_free(&opts);
  if (rc < 0) {
    ::unlink(file->path.c_str());
    return ioError(file->sink.writeErrno, "cannot start " + file->path, rc);
  }
  file_ = std::move(file);
  return core::okResult();
}

core::Result<void> NativeSegmentWriter::writePending(uint64_t duration) {
  if (!pending_ || !file_) return core::okResult();
  AccessUnit au = std::move(*pending_);
  pending_.reset();
  File& f = *file_;
  AVPacket* pkt = f.packet;
  pkt->data = au.data.data();
  pkt->size = static_cast<int>(au.data.size());
  const uint64_t offset = pendingRt_ > f.startRt ? pendingRt_ - f.startRt : 0;
  int64_t ts = av_rescale_q(static_cast<int64_t>(offset), kNs, f.stream->time_base);
  if (ts <= f.lastDts) ts = f.lastDts + 1;  // the muxer needs strictly increasing times
  f.lastDts = ts;
  pkt->pts = ts;
  pkt->dts = ts;  // in presentation order: the session stops on reordering (session.h)
  pkt->duration =
      std::max<int64_t>(1, av_rescale_q(static_cast<int64_t>(duration), kNs, f.stream->time_base));
  pkt->flags = au.keyframe ? AV_PKT_FLAG_KEY : 0;
  pkt->stream_index = f.stream->index;
  const int rc = av_write_frame(f.oc, pkt);
  pkt->data = nullptr;
  pkt->size = 0;
  if (rc < 0) {
    core::Error error = ioError(f.sink.writeErrno, "cannot write " + f.path, rc);
    file_.reset();  // its complete fragments stay on disk and still play
    return error;
  }
  return core::okResult();
}

core::Result<std::optional<NativeSegmentWriter::Closed>> NativeSegmentWriter::finishFile(
    uint64_t endRt) {
  if (!file_) return std::optional<Closed>{};
  std::unique_ptr<File> f = std::move(file_);
  const int rc = av_write_trailer(f->oc);
  if (rc < 0) return ioError(f->sink.writeErrno, "cannot finish " + f->path, rc);
  Closed closed{f->path, endRt};
  return std::optional<Closed>{std::move(closed)};
}

NativeSegmentWriter::Outcome NativeSegmentWriter::write(AccessUnit& au, uint64_t rt) {
  Outcome out;
  if (au.keyframe) {
    parseKeyframe(au);
    if (haveLastKey_ && rt > lastKeyRt_) gop_ = rt - lastKeyRt_;
    lastKeyRt_ = rt;
    haveLastKey_ = true;
    if (file_) {
      const auto limit = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                   options_.segmentLength + options_.slack)
                                                   .count());
      const uint64_t held = rt > file_->startRt ? rt - file_->startRt : 0;
      if (paramSetsChanged_ || held + gop_ > limit) {
        // The keyframe ends this segment: its last frame lasts until the keyframe.
        if (auto w = writePending(rt > pendingRt_ ? rt - pendingRt_ : lastInterval_); !w) {
          out.error = w.error();
          return out;
        }
        auto done = finishFile(rt);
        if (!done) {
          out.error = done.error();
          return out;
        }
        out.closed = std::move(*done);
      }
    }
  }
  if (pending_) {
    const uint64_t interval = rt > pendingRt_ ? rt - pendingRt_ : lastInterval_;
    // Intervals over a second are gaps (lost frames), not the frame rate.
    if (rt > pendingRt_ && interval < 1'000'000'000ULL) lastInterval_ = interval;
    if (auto w = writePending(interval); !w) {
      out.error = w.error();
      return out;
    }
  }
  if (!file_) {
    if (!au.keyframe) return out;  // a file starts at a keyframe
    if (auto opened = openAt(rt); !opened) {
      out.error = opened.error();  // a segment closed just before is still reported
      return out;
    }
    paramSetsChanged_ = false;
  }
  pending_ = std::move(au);
  pendingRt_ = rt;
  return out;
}

core::Result<std::optional<NativeSegmentWriter::Closed>> NativeSegmentWriter::close() {
  if (!file_) {
    pending_.reset();
    return std::optional<Closed>{};
  }
  const uint64_t end = pendingRt_ + lastInterval_;
  if (auto w = writePending(lastInterval_); !w) return w.error();
  return finishFile(end);
}

}  // namespace sharpeyes::ingest
