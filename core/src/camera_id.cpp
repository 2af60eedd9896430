#include "sharpeyes/core/camera_id.h"

#include <algorithm>

namespace sharpeyes::core {

Result<CameraId> CameraId::parse(std::string_view text) {
  constexpr size_t kMaxLength = 64;
  if (text.empty() || text.size() > kMaxLength) {
    return makeError(ErrorCode::kInvalidArgument,
                     "camera id must be 1 to 64 characters, got " + std::to_string(text.size()));
  }
  const bool valid = std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
  if (!valid) {
    return makeError(
        ErrorCode::kInvalidArgument,
        "camera id '" + std::string(text) + "' may contain only letters, digits, '-' and '_'");
  }
  return CameraId(std::string(text));
}

}  // namespace sharpeyes::core
