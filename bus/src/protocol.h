#pragma once
// Wire protocol v1 (docs/bus-protocol.md): JSON metadata frames, binary clip frames.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "sharpeyes/core/event.h"
#include "sharpeyes/core/result.h"

namespace sharpeyes::bus::proto {

inline constexpr int kVersion = 1;
// Largest metadata frame any socket accepts (ZMQ_MAXMSGSIZE on the event endpoint).
inline constexpr int64_t kMaxMetaBytes = int64_t{64} * 1024;
// Largest clip chunk; the clip endpoint accepts chunk + metadata.
inline constexpr int64_t kMaxChunkBytes = int64_t{1024} * 1024;
inline constexpr int64_t kMaxClipFrameBytes = kMaxChunkBytes;

nlohmann::json eventToJson(const core::Event& event);
core::Result<core::Event> eventFromJson(const nlohmann::json& j);

// Parses a metadata frame; nullopt when it is not a JSON object with "v" == 1 and a string "type".
std::optional<nlohmann::json> parseFrame(std::string_view frame);

// The raw text of a top-level member's value in `frame`, which must already have parsed as a JSON
// object (parseFrame). Lets a receiver store and forward a member verbatim instead of
// re-serialising it. nullopt when the member is absent or its key is written with escapes.
std::optional<std::string_view> rawMember(std::string_view frame, std::string_view key);

bool validClipId(std::string_view id);

int64_t nowMicros();

}  // namespace sharpeyes::bus::proto
