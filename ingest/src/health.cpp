#include "sharpeyes/ingest/health.h"

#include <algorithm>

namespace sharpeyes::ingest {

std::string_view toString(CameraState state) {
  switch (state) {
    case CameraState::kConnecting: return "connecting";
    case CameraState::kStreaming: return "streaming";
    case CameraState::kStalled: return "stalled";
    case CameraState::kReconnecting: return "reconnecting";
    case CameraState::kOffline: return "offline";
    case CameraState::kStopped: return "stopped";
  }
  return "unknown";
}

std::string_view toString(LiveStream stream) {
  return stream == LiveStream::kMain ? "main" : "sub";
}

Backoff::Backoff(core::Duration initial, core::Duration max, uint64_t seed)
    : initial_(std::max(initial, core::Duration(std::chrono::milliseconds(1)))),
      max_(std::max(max, initial_)),
      rng_(seed) {}

core::Duration Backoff::ceiling(int failures) const {
  core::Duration c = initial_;
  for (int i = 1; i < failures && c < max_; ++i) c *= 2;
  return std::min(c, max_);
}

core::Duration Backoff::delay(int failures, double u) const {
  u = std::clamp(u, 0.0, 1.0);
  const auto c = ceiling(failures);
  const auto half = c / 2;
  return half + core::Duration(static_cast<int64_t>(static_cast<double>((c - half).count()) * u));
}

core::Duration Backoff::next(int failures) {
  std::uniform_real_distribution<double> dist(0.0, 1.0);
  return delay(failures, dist(rng_));
}

HealthMachine::HealthMachine(int offlineAfterFailures)
    : offlineAfter_(std::max(1, offlineAfterFailures)) {}

bool HealthMachine::moveTo(CameraState next, const std::string& reason) {
  reason_ = reason;
  if (next == state_) return false;
  state_ = next;
  return true;
}

bool HealthMachine::onAttempt(const std::string& reason) {
  if (state_ == CameraState::kStopped) return false;
  ++attempts_;
  if (attempts_ == 1) return moveTo(CameraState::kConnecting, reason);
  ++reconnects_;
  if (state_ == CameraState::kOffline) {
    reason_ = reason;
    return false;
  }
  return moveTo(CameraState::kReconnecting, reason);
}

bool HealthMachine::onData(const std::string& reason) {
  if (state_ == CameraState::kStopped) return false;
  failures_ = 0;
  return moveTo(CameraState::kStreaming, reason);
}

bool HealthMachine::onStall(const std::string& reason) {
  if (state_ != CameraState::kStreaming) return false;
  ++stalls_;
  ++failures_;
  return moveTo(CameraState::kStalled, reason);
}

bool HealthMachine::onFailure(const std::string& reason) {
  if (state_ == CameraState::kStopped) return false;
  ++failures_;
  if (failures_ >= offlineAfter_) return moveTo(CameraState::kOffline, reason);
  // A failure while stalled keeps the stalled state until the next attempt starts.
  if (state_ == CameraState::kStalled) {
    reason_ = reason;
    return false;
  }
  return moveTo(CameraState::kReconnecting, reason);
}

bool HealthMachine::onStop(const std::string& reason) {
  return moveTo(CameraState::kStopped, reason);
}

}  // namespace sharpeyes::ingest
