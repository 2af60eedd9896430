// Encoding into the cache (GStreamer x264enc) and the cache file format.
//
// File format (little endian, host order; the cache is a local artefact, never shipped):
//   "SEAU0001", int32 width, height, fps, gop, uint32 count, uint64 dataBytes,
//   count x { uint32 size, uint8 keyframe }, then the concatenated access units.

#include "encoded_stream.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "sharpeyes/core/util.h"

namespace sharpeyes::sim::detail {
namespace {

constexpr char kMagic[8] = {'S', 'E', 'A', 'U', '0', '0', '0', '1'};
// Bump when the renderer or the encoder settings change, so stale caches are not reused.
constexpr int kCacheVersion = 2;

std::string fmt(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string profileKey(const StreamProfile& p) {
  std::ostringstream s;
  s << "v" << kCacheVersion << "|" << p.width << "x" << p.height << "@" << p.fps << "|"
    << p.bitrateKbps << "k|gop" << p.gopFrames << "|" << x264Settings(p, false);
  return s.str();
}

void optionalField(std::ostringstream& s, const char* name, const std::optional<double>& v) {
  s << name << "=" << (v ? fmt(*v) : std::string("-")) << ";";
}

void rectField(std::ostringstream& s, const char* name, const std::optional<NormRect>& r) {
  s << name << "=";
  if (r) {
    s << fmt(r->x) << "," << fmt(r->y) << "," << fmt(r->w) << "," << fmt(r->h);
  } else {
    s << "-";
  }
  s << ";";
}

// One encoder pipeline: raw I420 in through appsrc, access units out through appsink.
class Encoder {
 public:
  static core::Result<std::unique_ptr<Encoder>> create(const std::string& launch) {
    GError* err = nullptr;
    GstElement* pipeline = gst_parse_launch(launch.c_str(), &err);
    if (!pipeline || err) {
      std::string msg = err ? err->message : "unknown";
      if (err) g_error_free(err);
      if (pipeline) gst_object_unref(pipeline);
      return core::makeError(core::ErrorCode::kInternal, "encoder pipeline: " + msg);
    }
    auto enc = std::unique_ptr<Encoder>(new Encoder);
    enc->pipeline_ = pipeline;
    enc->src_ = gst_bin_get_by_name(GST_BIN(pipeline), "src");
    enc->sink_ = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
    GstAppSinkCallbacks callbacks{};
    callbacks.new_sample = &Encoder::onSample;
    gst_app_sink_set_callbacks(GST_APP_SINK(enc->sink_), &callbacks, enc.get(), nullptr);
    return enc;
  }

  ~Encoder() {
    gst_element_set_state(pipeline_, GST_STATE_NULL);
    if (src_) gst_object_unref(src_);
    if (sink_) gst_object_unref(sink_);
    gst_object_unref(pipeline_);
  }

  GstElement* element(const char* name) const {
    return gst_bin_get_by_name(GST_BIN(pipeline_), name);
  }

  core::Result<void> start() {
    if (gst_element_set_state(pipeline_, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
      return core::makeError(core::ErrorCode::kInternal, "encoder pipeline does not start");
    }
    return {};
  }

  bool push(const cv::Mat& i420, int64_t index, int fps) {
    const size_t bytes = i420.total() * i420.elemSize();
    GstBuffer* buf = gst_buffer_new_allocate(nullptr, bytes, nullptr);
    gst_buffer_fill(buf, 0, i420.data, bytes);
    GST_BUFFER_PTS(buf) = gst_util_uint64_scale(index, GST_SECOND, fps);
    GST_BUFFER_DURATION(buf) = gst_util_uint64_scale(1, GST_SECOND, fps);
    return gst_app_src_push_buffer(GST_APP_SRC(src_), buf) == GST_FLOW_OK;
  }

  // Ends the input (if there is an appsrc) and waits for the encoder to drain.
  core::Result<void> finish() {
    if (src_) gst_app_src_end_of_stream(GST_APP_SRC(src_));
    GstBus* bus = gst_element_get_bus(pipeline_);
    GstMessage* msg = gst_bus_timed_pop_filtered(
        bus, GstClockTime{30} * 60 * GST_SECOND,
        static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    gst_object_unref(bus);
    core::Result<void> result;
    if (!msg) {
      result = core::makeError(core::ErrorCode::kTimeout, "encoder did not finish");
    } else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
      GError* err = nullptr;
      gst_message_parse_error(msg, &err, nullptr);
      result = core::makeError(core::ErrorCode::kInternal,
                               std::string("encoder: ") + (err ? err->message : "error"));
      if (err) g_error_free(err);
    }
    if (msg) gst_message_unref(msg);
    gst_element_set_state(pipeline_, GST_STATE_NULL);
    return result;
  }

  EncodedStream& stream() { return stream_; }

 private:
  Encoder() = default;

  static GstFlowReturn onSample(GstAppSink* sink, gpointer self) {
    auto* enc = static_cast<Encoder*>(self);
    GstSample* sample = gst_app_sink_pull_sample(sink);
    if (!sample) return GST_FLOW_EOS;
    GstBuffer* buf = gst_sample_get_buffer(sample);
    GstMapInfo map;
    if (buf && gst_buffer_map(buf, &map, GST_MAP_READ)) {
      std::lock_guard lock(enc->mu_);
      AccessUnit au;
      au.offset = enc->stream_.data.size();
      au.size = static_cast<uint32_t>(map.size);
      au.keyframe = !GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT);
      enc->stream_.data.insert(enc->stream_.data.end(), map.data, map.data + map.size);
      enc->stream_.units.push_back(au);
      gst_buffer_unmap(buf, &map);
    }
    gst_sample_unref(sample);
    return GST_FLOW_OK;
  }

  GstElement* pipeline_ = nullptr;
  GstElement* src_ = nullptr;
  GstElement* sink_ = nullptr;
  std::mutex mu_;
  EncodedStream stream_;
};

std::string encoderTail(const StreamProfile& p) {
  return " ! x264enc " + x264Settings(p, false) +
         " ! video/x-h264,stream-format=byte-stream,alignment=au"
         " ! h264parse config-interval=-1 ! appsink name=sink sync=false";
}

core::Result<void> checkGops(const EncodedStream& s) {
  if (s.units.empty() || s.units.size() % s.gop != 0) {
    return core::makeError(core::ErrorCode::kInternal, "encoded loop of " +
                                                           std::to_string(s.units.size()) +
                                                           " frames is not a whole number of GOPs");
  }
  for (size_t i = 0; i < s.units.size(); ++i) {
    if (s.units[i].keyframe != (i % s.gop == 0)) {
      return core::makeError(core::ErrorCode::kInternal,
                             "unexpected keyframe layout at frame " + std::to_string(i));
    }
  }
  return {};
}

}  // namespace

std::string x264Settings(const StreamProfile& p, bool live) {
  // Fixed GOP (no scene-cut keyframes), no B-frames: every IDR starts a GOP of exactly
  // gopFrames, so a loop of whole GOPs repeats seamlessly and PTS == DTS.
  std::string s = "bitrate=" + std::to_string(p.bitrateKbps) +
                  " key-int-max=" + std::to_string(p.gopFrames) + " bframes=0" +
                  " option-string=scenecut=0";
  s += live ? " speed-preset=ultrafast tune=zerolatency" : " speed-preset=veryfast";
  return s;
}

std::string sceneCacheKey(const SceneSpec& spec, const StreamProfile& profile) {
  std::ostringstream s;
  s << "scene|" << profileKey(profile) << "|seed=" << spec.seed << "|loop=" << fmt(spec.loopSeconds)
    << "|";
  for (const auto& o : spec.objects) {
    s << "obj" << o.id << ":" << static_cast<int>(o.kind) << ":" << fmt(o.width) << ":"
      << fmt(o.height);
    for (const auto& w : o.path) s << "(" << fmt(w.t) << "," << fmt(w.x) << "," << fmt(w.y) << ")";
    s << "|";
  }
  const auto& e = spec.effects;
  s << "noise=" << fmt(e.noiseSigma) << ";";
  optionalField(s, "illum", e.illuminationAt);
  s << "illumf=" << fmt(e.illuminationFactor) << ";rain=" << e.rain << ";";
  rectField(s, "sway", e.swayingRegion);
  rectField(s, "shadow", e.slowShadow);
  s << "shake=" << fmt(e.shakeAmplitudePx) << ";";
  optionalField(s, "covered", e.coveredAt);
  optionalField(s, "turned", e.turnedAt);
  optionalField(s, "frozen", e.frozenAt);
  return core::sha256Hex(s.str());
}

std::string fileCacheKey(const std::string& path, const StreamProfile& profile) {
  auto digest = core::sha256File(path);
  return core::sha256Hex("file|" + profileKey(profile) + "|" + (digest ? *digest : path));
}

core::Result<void> saveStream(const EncodedStream& s, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  const std::string tmp = path + ".tmp" + core::newId().substr(0, 8);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return core::makeError(core::ErrorCode::kIo, "cannot write " + tmp);
    const int32_t header[4] = {s.width, s.height, s.fps, s.gop};
    const uint32_t count = static_cast<uint32_t>(s.units.size());
    const uint64_t bytes = s.data.size();
    out.write(kMagic, sizeof kMagic);
    out.write(reinterpret_cast<const char*>(header), sizeof header);
    out.write(reinterpret_cast<const char*>(&count), sizeof count);
    out.write(reinterpret_cast<const char*>(&bytes), sizeof bytes);
    for (const auto& u : s.units) {
      const uint8_t key = u.keyframe ? 1 : 0;
      out.write(reinterpret_cast<const char*>(&u.size), sizeof u.size);
      out.write(reinterpret_cast<const char*>(&key), 1);
    }
    out.write(reinterpret_cast<const char*>(s.data.data()), static_cast<std::streamsize>(bytes));
    if (!out) {
      fs::remove(tmp, ec);
      return core::makeError(core::ErrorCode::kIo, "short write to " + tmp);
    }
  }
  // Rename last: a reader never sees a half-written cache entry.
  fs::rename(tmp, path, ec);
  if (ec)
    return core::makeError(core::ErrorCode::kIo, "cannot rename " + tmp + ": " + ec.message());
  return {};
}

core::Result<std::shared_ptr<const EncodedStream>> loadStream(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return core::makeError(core::ErrorCode::kNotFound, "no cache entry " + path);
  char magic[8];
  int32_t header[4];
  uint32_t count = 0;
  uint64_t bytes = 0;
  in.read(magic, sizeof magic);
  in.read(reinterpret_cast<char*>(header), sizeof header);
  in.read(reinterpret_cast<char*>(&count), sizeof count);
  in.read(reinterpret_cast<char*>(&bytes), sizeof bytes);
  if (!in || std::memcmp(magic, kMagic, sizeof kMagic) != 0 || count == 0 ||
      bytes > (uint64_t{1} << 34)) {
    return core::makeError(core::ErrorCode::kCorrupt, "bad cache header in " + path);
  }
  auto s = std::make_shared<EncodedStream>();
  s->width = header[0];
  s->height = header[1];
  s->fps = header[2];
  s->gop = header[3];
  s->units.resize(count);
  size_t offset = 0;
  for (auto& u : s->units) {
    uint8_t key = 0;
    in.read(reinterpret_cast<char*>(&u.size), sizeof u.size);
    in.read(reinterpret_cast<char*>(&key), 1);
    u.keyframe = key != 0;
    u.offset = offset;
    offset += u.size;
  }
  if (!in || offset != bytes) {
    return core::makeError(core::ErrorCode::kCorrupt, "bad cache index in " + path);
  }
  s->data.resize(bytes);
  in.read(reinterpret_cast<char*>(s->data.data()), static_cast<std::streamsize>(bytes));
  if (!in) return core::makeError(core::ErrorCode::kCorrupt, "truncated cache entry " + path);
  if (s->gop <= 0 || !checkGops(*s).ok()) {
    return core::makeError(core::ErrorCode::kCorrupt, "bad GOP layout in " + path);
  }
  return std::shared_ptr<const EncodedStream>(std::move(s));
}

core::Result<std::vector<std::shared_ptr<const EncodedStream>>> encodeScene(
    const SceneSpec& spec, const std::vector<StreamProfile>& profiles) {
  if (profiles.empty()) return std::vector<std::shared_ptr<const EncodedStream>>{};
  const int fps = profiles.front().fps;
  for (size_t i = 0; i < profiles.size(); ++i) {
    const auto& p = profiles[i];
    if (p.fps != fps || p.gopFrames <= 0 || p.width % 2 || p.height % 2 || p.width <= 0 ||
        p.height <= 0) {
      return core::makeError(core::ErrorCode::kInvalidArgument,
                             "stream profiles need one fps, even sizes and a GOP");
    }
  }
  // Whole GOPs for every profile.
  const int64_t frameCount = std::llround(spec.loopSeconds * fps);
  for (const auto& p : profiles) {
    if (frameCount % p.gopFrames != 0 || frameCount == 0) {
      return core::makeError(
          core::ErrorCode::kInvalidArgument,
          "loop of " + fmt(spec.loopSeconds) + " s is not a whole number of GOPs");
    }
  }
  std::vector<std::unique_ptr<Encoder>> encoders;
  for (const auto& p : profiles) {
    const std::string launch = "appsrc name=src format=time block=true max-bytes=" +
                               std::to_string(p.width * p.height * 6) +
                               " caps=video/x-raw,format=I420,width=" + std::to_string(p.width) +
                               ",height=" + std::to_string(p.height) +
                               ",framerate=" + std::to_string(fps) + "/1" + encoderTail(p);
    auto enc = Encoder::create(launch);
    if (!enc) return enc.error();
    encoders.push_back(std::move(*enc));
    auto started = encoders.back()->start();
    if (!started) return started.error();
  }
  // Each profile is rendered at its own size (not scaled from the main one), so a decoded
  // frame of any stream compares directly with SceneRenderer::render at that size.
  SceneRenderer renderer(spec);
  std::vector<cv::Mat> frames;
  frames.reserve(profiles.size());
  for (const auto& p : profiles) frames.emplace_back(p.height, p.width, CV_8UC3);
  cv::Mat i420;
  for (int64_t i = 0; i < frameCount; ++i) {
    for (size_t k = 0; k < profiles.size(); ++k) {
      renderer.render(i, fps, profiles[k].width, profiles[k].height, frames[k].data);
      cv::cvtColor(frames[k], i420, cv::COLOR_BGR2YUV_I420);
      if (!encoders[k]->push(i420, i, fps)) {
        return core::makeError(core::ErrorCode::kInternal, "encoder refused a frame");
      }
    }
  }
  std::vector<std::shared_ptr<const EncodedStream>> out;
  for (size_t k = 0; k < profiles.size(); ++k) {
    auto done = encoders[k]->finish();
    if (!done) return done.error();
    auto s = std::make_shared<EncodedStream>(std::move(encoders[k]->stream()));
    s->width = profiles[k].width;
    s->height = profiles[k].height;
    s->fps = fps;
    s->gop = profiles[k].gopFrames;
    auto ok = checkGops(*s);
    if (!ok) return ok.error();
    out.push_back(std::move(s));
  }
  return out;
}

core::Result<std::shared_ptr<const EncodedStream>> transcodeFile(const std::string& path,
                                                                 const StreamProfile& p) {
  if (!std::filesystem::is_regular_file(path)) {
    return core::makeError(core::ErrorCode::kNotFound, "media file not found: " + path);
  }
  const std::string launch =
      "filesrc name=file ! decodebin ! videoconvert ! videoscale add-borders=true ! videorate"
      " ! video/x-raw,format=I420,pixel-aspect-ratio=1/1,width=" +
      std::to_string(p.width) + ",height=" + std::to_string(p.height) +
      ",framerate=" + std::to_string(p.fps) + "/1" + encoderTail(p);
  auto enc = Encoder::create(launch);
  if (!enc) return enc.error();
  GstElement* file = (*enc)->element("file");
  g_object_set(file, "location", path.c_str(), nullptr);
  gst_object_unref(file);
  auto started = (*enc)->start();
  if (!started) return started.error();
  auto done = (*enc)->finish();
  if (!done) return done.error();
  auto s = std::make_shared<EncodedStream>(std::move((*enc)->stream()));
  s->width = p.width;
  s->height = p.height;
  s->fps = p.fps;
  s->gop = p.gopFrames;
  // Cut to whole GOPs so the loop restarts on an IDR.
  const size_t whole = s->units.size() / p.gopFrames * p.gopFrames;
  if (whole == 0) {
    return core::makeError(core::ErrorCode::kInvalidArgument,
                           "media file " + path + " is shorter than one GOP");
  }
  s->units.resize(whole);
  s->data.resize(s->units.back().offset + s->units.back().size);
  auto ok = checkGops(*s);
  if (!ok) return ok.error();
  return std::shared_ptr<const EncodedStream>(std::move(s));
}

}  // namespace sharpeyes::sim::detail
