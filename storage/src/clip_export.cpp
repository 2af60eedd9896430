// exportClip(): remux (no re-encode) of recorded segments into one faststart MP4.
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
}

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "fs_util.h"
#include "sharpeyes/core/util.h"
#include "sharpeyes/storage/clip_export.h"
#include "sharpeyes/storage/segment_index.h"

namespace sharpeyes::storage {
namespace {

namespace fs = std::filesystem;
using core::ErrorCode;
using core::makeError;

constexpr AVRational kMicros{1, 1000000};

std::string avError(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, buf, sizeof(buf));
  return buf;
}

struct InputCloser {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

struct Output {
  AVFormatContext* ctx = nullptr;
  AVStream* stream = nullptr;
  bool headerWritten = false;
  ~Output() {
    if (ctx != nullptr) {
      if (ctx->pb != nullptr) avio_closep(&ctx->pb);
      avformat_free_context(ctx);
    }
  }
};

// Hashes the bytes behind an open descriptor (pread: the descriptor's offset is untouched).
core::Result<std::string> hashFd(int fd, uint64_t expectBytes, const std::string& name) {
  core::Sha256 h;
  std::vector<char> buf(1 << 20);
  uint64_t off = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(off));
    if (n < 0) return detail::errnoError(errno, "read " + name);
    if (n == 0) break;
    h.update(buf.data(), static_cast<size_t>(n));
    off += static_cast<uint64_t>(n);
  }
  if (off != expectBytes) {
    return makeError(ErrorCode::kCorrupt, name + " has " + std::to_string(off) +
                                              " bytes, the index says " +
                                              std::to_string(expectBytes));
  }
  return h.finishHex();
}

}  // namespace

core::Result<core::Clip> exportClip(SegmentIndex& index, const std::string& root,
                                    const ClipRequest& req) {
  if (req.range.end <= req.range.begin) {
    return makeError(ErrorCode::kInvalidArgument, "empty clip range");
  }
  auto segs = index.query(req.camera, req.range);
  if (!segs) return segs.error();
  if (segs->empty()) {
    return makeError(ErrorCode::kNotFound, "nothing of " + req.camera.str() + " is recorded in " +
                                               core::formatIso8601(req.range.begin) + " .. " +
                                               core::formatIso8601(req.range.end));
  }
  auto timeline = index.timeline(req.camera, req.range, req.gapTolerance);
  if (!timeline) return timeline.error();

  core::Clip clip;
  clip.id = core::newId();
  clip.camera = req.camera;
  clip.requested = req.range;
  clip.gaps = timeline->gaps;

  Output out;
  int rc = avformat_alloc_output_context2(&out.ctx, nullptr, "mp4", req.outputPath.c_str());
  if (rc < 0) return makeError(ErrorCode::kInternal, "mp4 muxer: " + avError(rc));
  std::unique_ptr<AVPacket, PacketFree> pkt(av_packet_alloc());
  int64_t lastDts = AV_NOPTS_VALUE;
  int64_t clipOriginUs = 0;  // wall time (us) of output timestamp 0
  int64_t firstWallUs = -1;
  int64_t lastEndUs = 0;
  bool started = false;

  for (size_t si = 0; si < segs->size(); ++si) {
    const core::Segment& s = (*segs)[si];
    const std::string abs = (fs::path(root) / s.path).string();
    // Open once and read everything through this descriptor: if retention unlinks the file
    // now, the bytes stay readable until we close it.
    Fd fd;
    fd.fd = ::open(abs.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd.fd < 0) {
      return makeError(ErrorCode::kUnavailable,
                       "segment " + s.path +
                           " is gone (deleted by retention?): the clip would be "
                           "incomplete");
    }
    auto garbage = index.isGarbage(s.id);
    if (!garbage) return garbage.error();
    if (*garbage) {
      return makeError(ErrorCode::kUnavailable, "segment " + s.path + " is being deleted");
    }
    auto hash = hashFd(fd.fd, s.bytes, s.path);
    if (!hash) return hash.error();
    if (*hash != s.sha256) {
      return makeError(ErrorCode::kCorrupt, "segment " + s.path + " does not match its SHA-256");
    }
    clip.sourceSegmentSha256.push_back(s.sha256);

    AVFormatContext* raw = nullptr;
    const std::string procPath = "/proc/self/fd/" + std::to_string(fd.fd);
    rc = avformat_open_input(&raw, procPath.c_str(), nullptr, nullptr);
    if (rc < 0) return makeError(ErrorCode::kCorrupt, "cannot open " + s.path + ": " + avError(rc));
    std::unique_ptr<AVFormatContext, InputCloser> in(raw);
    if ((rc = avformat_find_stream_info(in.get(), nullptr)) < 0) {
      return makeError(ErrorCode::kCorrupt, "cannot read " + s.path + ": " + avError(rc));
    }
    const int vs = av_find_best_stream(in.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    if (vs < 0) return makeError(ErrorCode::kCorrupt, s.path + " has no video");
    AVStream* ist = in->streams[vs];
    if (out.stream == nullptr) {
      out.stream = avformat_new_stream(out.ctx, nullptr);
      if (out.stream == nullptr) return makeError(ErrorCode::kInternal, "avformat_new_stream");
      avcodec_parameters_copy(out.stream->codecpar, ist->codecpar);
      out.stream->codecpar->codec_tag = 0;
      out.stream->time_base = kMicros;
    } else if (ist->codecpar->codec_id != out.stream->codecpar->codec_id ||
               ist->codecpar->width != out.stream->codecpar->width ||
               ist->codecpar->height != out.stream->codecpar->height) {
      // A camera reconfigured mid-range: one MP4 cannot hold both; stop at the change.
      spdlog::warn("clip: {} changes codec/resolution at {}; the clip ends there", req.camera.str(),
                   s.path);
      clip.gaps.push_back({s.start, req.range.end});
      break;
    }

    // Wall time of a packet: the segment's start plus its media offset.
    int64_t segFirstTs = AV_NOPTS_VALUE;
    const int64_t segStartUs = core::toUnixMicros(s.start);
    const int64_t t0 = core::toUnixMicros(req.range.begin);
    const int64_t t1 = core::toUnixMicros(req.range.end);
    // The first segment: find the last keyframe at or before t0 (a first pass over packets).
    int64_t startKeyWall = -1;
    if (!started) {
      while (av_read_frame(in.get(), pkt.get()) >= 0) {
        if (pkt->stream_index == vs && (pkt->flags & AV_PKT_FLAG_CORRUPT) == 0) {
          const int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
          if (segFirstTs == AV_NOPTS_VALUE) segFirstTs = ts;
          const int64_t wall = segStartUs + av_rescale_q(ts - segFirstTs, ist->time_base, kMicros);
          if ((pkt->flags & AV_PKT_FLAG_KEY) != 0) {
            if (wall <= t0 || startKeyWall < 0) startKeyWall = wall;
          }
          if (wall > t0 && startKeyWall >= 0) {
            av_packet_unref(pkt.get());
            break;
          }
        }
        av_packet_unref(pkt.get());
      }
      if ((rc = av_seek_frame(in.get(), vs, 0, AVSEEK_FLAG_BACKWARD | AVSEEK_FLAG_BYTE)) < 0) {
        // Re-open when the demuxer cannot seek back.
        in.reset();
        raw = nullptr;
        if ((rc = avformat_open_input(&raw, procPath.c_str(), nullptr, nullptr)) < 0) {
          return makeError(ErrorCode::kCorrupt, "cannot reopen " + s.path);
        }
        in.reset(raw);
        avformat_find_stream_info(in.get(), nullptr);
        ist = in->streams[vs];
      }
      segFirstTs = AV_NOPTS_VALUE;
    }

    bool done = false;
    while (!done && av_read_frame(in.get(), pkt.get()) >= 0) {
      if (pkt->stream_index != vs || (pkt->flags & AV_PKT_FLAG_CORRUPT) != 0) {
        av_packet_unref(pkt.get());
        continue;
      }
      const int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
      if (segFirstTs == AV_NOPTS_VALUE) segFirstTs = ts;
      const int64_t wall = segStartUs + av_rescale_q(ts - segFirstTs, ist->time_base, kMicros);
      if (wall >= t1) {
        done = true;
        av_packet_unref(pkt.get());
        break;
      }
      if (!started) {
        if (wall < startKeyWall || (pkt->flags & AV_PKT_FLAG_KEY) == 0) {
          av_packet_unref(pkt.get());
          continue;
        }
        started = true;
        clipOriginUs = wall;
        firstWallUs = wall;
        if (fs::path(req.outputPath).has_parent_path()) {
          fs::create_directories(fs::path(req.outputPath).parent_path());
        }
        if ((rc = avio_open(&out.ctx->pb, req.outputPath.c_str(), AVIO_FLAG_WRITE)) < 0) {
          return makeError(ErrorCode::kIo, "cannot write " + req.outputPath + ": " + avError(rc));
        }
        AVDictionary* opts = nullptr;
        av_dict_set(&opts, "movflags", "+faststart", 0);
        rc = avformat_write_header(out.ctx, &opts);
        av_dict_free(&opts);
        if (rc < 0) return makeError(ErrorCode::kInternal, "mp4 header: " + avError(rc));
        out.headerWritten = true;
      }
      const int64_t dur = pkt->duration > 0
                              ? av_rescale_q(pkt->duration, ist->time_base, out.stream->time_base)
                              : 0;
      const int64_t dtsOffset =
          pkt->dts != AV_NOPTS_VALUE && pkt->pts != AV_NOPTS_VALUE
              ? av_rescale_q(pkt->pts - pkt->dts, ist->time_base, out.stream->time_base)
              : 0;
      int64_t pts = av_rescale_q(wall - clipOriginUs, kMicros, out.stream->time_base);
      int64_t dts = pts - dtsOffset;
      if (lastDts != AV_NOPTS_VALUE && dts <= lastDts) {
        const int64_t shift = lastDts + 1 - dts;
        dts += shift;
        pts += shift;
      }
      lastDts = dts;
      pkt->pts = pts;
      pkt->dts = dts;
      pkt->duration = dur;
      pkt->stream_index = 0;
      pkt->pos = -1;
      lastEndUs =
          wall +
          (pkt->duration > 0 ? av_rescale_q(pkt->duration, out.stream->time_base, kMicros) : 0);
      rc = av_interleaved_write_frame(out.ctx, pkt.get());
      av_packet_unref(pkt.get());
      if (rc < 0)
        return makeError(ErrorCode::kIo, "writing " + req.outputPath + ": " + avError(rc));
    }
    if (done) break;
  }
  if (!started) {
    return makeError(ErrorCode::kNotFound, "no keyframe of " + req.camera.str() + " in range");
  }
  if ((rc = av_write_trailer(out.ctx)) < 0) {
    return makeError(ErrorCode::kIo, "finishing " + req.outputPath + ": " + avError(rc));
  }
  avio_closep(&out.ctx->pb);
  auto synced = detail::fsyncPath(req.outputPath);
  if (!synced) return synced.error();
  clip.actual = {core::fromUnixMicros(firstWallUs), core::fromUnixMicros(lastEndUs)};
  auto hash = core::sha256File(req.outputPath);
  if (!hash) return hash.error();
  clip.sha256 = *hash;
  clip.bytes = fs::file_size(req.outputPath);
  const fs::path rel = fs::path(req.outputPath).lexically_relative(root);
  clip.path = !rel.empty() && *rel.begin() != ".." ? rel.string() : req.outputPath;
  return clip;
}

}  // namespace sharpeyes::storage
