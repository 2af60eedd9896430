#pragma once
// CameraId: a configured camera's stable name ("cam-0001", "xx-junction-3"). It appears in file
// paths, metric labels and bus topics, so it is restricted to [A-Za-z0-9_-], 1..64 characters.

#include <compare>
#include <functional>
#include <string>
#include <string_view>

#include "sharpeyes/core/result.h"

namespace sharpeyes::core {

class CameraId {
 public:
  CameraId() = default;
  static Result<CameraId> parse(std::string_view text);

  const std::string& str() const { return id_; }
  bool empty() const { return id_.empty(); }

  auto operator<=>(const CameraId&) const = default;
  bool operator==(const CameraId&) const = default;

 private:
  explicit CameraId(std::string id) : id_(std::move(id)) {}
  std::string id_;
};

}  // namespace sharpeyes::core

template <>
struct std::hash<sharpeyes::core::CameraId> {
  size_t operator()(const sharpeyes::core::CameraId& id) const noexcept {
    return std::hash<std::string>{}(id.str());
  }
};
