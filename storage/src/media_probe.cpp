// probeMedia(): what libav says of a segment file, from its own packet timestamps.
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
}

#include <algorithm>
#include <limits>
#include <memory>

#include "sharpeyes/storage/recorder.h"

namespace sharpeyes::storage {
namespace {

using core::ErrorCode;
using core::makeError;

std::string avError(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, buf, sizeof(buf));
  return buf;
}

struct InputCloser {
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct CodecCloser {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct FrameFree {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};

std::string codecName(AVCodecID id) {
  if (id == AV_CODEC_ID_HEVC) return "h265";
  const char* name = avcodec_get_name(id);
  return name != nullptr ? name : "unknown";
}

}  // namespace

core::Result<MediaProbe> probeMedia(const std::string& path, bool decode) {
  AVFormatContext* raw = nullptr;
  int rc = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
  if (rc < 0)
    return makeError(ErrorCode::kCorrupt, "libav cannot open " + path + ": " + avError(rc));
  std::unique_ptr<AVFormatContext, InputCloser> fmt(raw);
  // An MP4's header already names the codec and picture size. avformat_find_stream_info would
  // open a decoder and decode frames to learn them again: with a 1080p segment closing every
  // 10 s per camera, that was a third of the gateway's recording CPU. Ask it only when the
  // header left something out (a file that is not MP4, or a damaged header).
  int vs = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  const bool headerComplete = vs >= 0 && fmt->streams[vs]->codecpar->codec_id != AV_CODEC_ID_NONE &&
                              fmt->streams[vs]->codecpar->width > 0 &&
                              fmt->streams[vs]->codecpar->height > 0;
  if (!headerComplete) {
    rc = avformat_find_stream_info(fmt.get(), nullptr);
    if (rc < 0) {
      return makeError(ErrorCode::kCorrupt, "libav cannot read " + path + ": " + avError(rc));
    }
    vs = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  }
  if (vs < 0) return makeError(ErrorCode::kCorrupt, path + " has no video stream");
  AVStream* stream = fmt->streams[vs];
  const AVCodecParameters* par = stream->codecpar;

  MediaProbe probe;
  probe.codec = codecName(par->codec_id);
  probe.width = par->width;
  probe.height = par->height;

  std::unique_ptr<AVCodecContext, CodecCloser> dec;
  std::unique_ptr<AVFrame, FrameFree> frame;
  if (decode) {
    const AVCodec* codec = avcodec_find_decoder(par->codec_id);
    if (codec == nullptr) {
      return makeError(ErrorCode::kUnsupported, "no decoder for " + probe.codec);
    }
    dec.reset(avcodec_alloc_context3(codec));
    if (!dec || avcodec_parameters_to_context(dec.get(), par) < 0) {
      return makeError(ErrorCode::kInternal, "cannot set up the decoder");
    }
    dec->thread_count = 1;
    if ((rc = avcodec_open2(dec.get(), codec, nullptr)) < 0) {
      return makeError(ErrorCode::kUnsupported, "cannot open decoder: " + avError(rc));
    }
    frame.reset(av_frame_alloc());
  }
  auto drainFrames = [&] {
    while (avcodec_receive_frame(dec.get(), frame.get()) == 0) {
      ++probe.decodedFrames;
      av_frame_unref(frame.get());
    }
  };

  // Fallback frame duration when the container leaves packet durations at 0.
  int64_t defaultDuration = 0;
  if (stream->avg_frame_rate.num > 0 && stream->avg_frame_rate.den > 0) {
    defaultDuration = av_rescale_q(1, av_inv_q(stream->avg_frame_rate), stream->time_base);
  }
  int64_t first = std::numeric_limits<int64_t>::max();
  int64_t last = std::numeric_limits<int64_t>::min();
  std::unique_ptr<AVPacket, PacketFree> pkt(av_packet_alloc());
  for (;;) {
    rc = av_read_frame(fmt.get(), pkt.get());
    if (rc < 0) break;  // end of file, or a truncated tail: what came before counts
    if (pkt->stream_index != vs) {
      av_packet_unref(pkt.get());
      continue;
    }
    // A packet cut short by a crash mid-fragment is not a complete frame: stop there.
    if ((pkt->flags & AV_PKT_FLAG_CORRUPT) != 0) {
      av_packet_unref(pkt.get());
      break;
    }
    const int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
    if (ts != AV_NOPTS_VALUE) {
      const int64_t dur = pkt->duration > 0 ? pkt->duration : defaultDuration;
      first = std::min(first, ts);
      last = std::max(last, ts + dur);
    }
    ++probe.packets;
    if ((pkt->flags & AV_PKT_FLAG_KEY) != 0) ++probe.keyframes;
    if (decode) {
      if (avcodec_send_packet(dec.get(), pkt.get()) == 0) drainFrames();
    }
    av_packet_unref(pkt.get());
  }
  if (decode) {
    avcodec_send_packet(dec.get(), nullptr);
    drainFrames();
    if (probe.decodedFrames == 0) {
      return makeError(ErrorCode::kCorrupt, path + " holds no decodable frame");
    }
  }
  if (probe.packets == 0 || probe.keyframes == 0) {
    return makeError(ErrorCode::kCorrupt, path + " holds no complete frame");
  }
  if (last > first) {
    probe.duration = std::chrono::duration_cast<core::Duration>(std::chrono::microseconds(
        av_rescale_q(last - first, stream->time_base, AVRational{1, 1000000})));
  }
  return probe;
}

}  // namespace sharpeyes::storage
