#pragma once
// The encode-once cache: a loop of H.264 access units (Annex B, SPS/PPS before every IDR, no
// B-frames, IDR every `gop` frames, loop length a multiple of the GOP) kept on disk and shared
// by every camera that shows the same scene. Private to sim/.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sharpeyes/core/result.h"
#include "sharpeyes/sim/scene.h"
#include "sharpeyes/sim/sim.h"

namespace sharpeyes::sim::detail {

struct AccessUnit {
  size_t offset = 0;
  uint32_t size = 0;
  bool keyframe = false;
};

// Immutable once built; shared (shared_ptr<const>) between the feeder and the RTSP pipelines.
struct EncodedStream {
  int width = 0, height = 0, fps = 25, gop = 50;
  std::vector<uint8_t> data;
  std::vector<AccessUnit> units;
};

// Cache key: hash of everything that changes the encoded bytes.
std::string sceneCacheKey(const SceneSpec& spec, const StreamProfile& profile);
std::string fileCacheKey(const std::string& path, const StreamProfile& profile);

core::Result<std::shared_ptr<const EncodedStream>> loadStream(const std::string& path);
core::Result<void> saveStream(const EncodedStream& stream, const std::string& path);

// Renders every frame of the loop at each profile's size and encodes it (x264enc).
// Blocking; called from SimServer::start.
core::Result<std::vector<std::shared_ptr<const EncodedStream>>> encodeScene(
    const SceneSpec& spec, const std::vector<StreamProfile>& profiles);
// Decodes `path` with GStreamer and encodes it at `profile`; the loop is cut to whole GOPs.
core::Result<std::shared_ptr<const EncodedStream>> transcodeFile(const std::string& path,
                                                                 const StreamProfile& profile);

// The x264enc settings shared by cache encodes and live (PTZ) encodes.
std::string x264Settings(const StreamProfile& profile, bool live);

}  // namespace sharpeyes::sim::detail
