#pragma once
// The pure parts of ingest health: reconnect backoff and the per-camera state machine. No
// GStreamer here, so both are unit-tested directly; the camera runtime (ingest/src/camera.cpp)
// feeds them events on the camera's context thread.
//
// Threading: neither class is thread-safe; each camera owns one of each and touches it only on
// its context thread.

#include <cstdint>
#include <random>
#include <string>

#include "sharpeyes/core/time.h"
#include "sharpeyes/ingest/ingest.h"

namespace sharpeyes::ingest {

// Exponential backoff with "equal jitter": the ceiling doubles per consecutive failure from
// `initial` up to `max`, and the delay is drawn uniformly from [ceiling/2, ceiling]. Half the
// ceiling is kept so a flapping camera never hammers the server; the random half spreads 200
// cameras that lost the same switch so they do not reconnect in lock-step.
class Backoff {
 public:
  Backoff(core::Duration initial, core::Duration max, uint64_t seed);

  // The ceiling for the `failures`-th consecutive failure (1-based; <= 1 gives `initial`).
  core::Duration ceiling(int failures) const;
  // Deterministic form for tests: `u` in [0, 1) picks the point within [ceiling/2, ceiling].
  core::Duration delay(int failures, double u) const;
  // Draws `u` from the generator.
  core::Duration next(int failures);

 private:
  core::Duration initial_;
  core::Duration max_;
  std::mt19937_64 rng_;
};

// The health state machine. Events return true when the state changed (the caller then tells
// the Listener once); the reason is updated on every event.
//
//   connecting --data--> streaming --no data for stallTimeout--> stalled
//   stalled --attempt--> reconnecting --data--> streaming
//   any running state --failure--> reconnecting, or offline after N consecutive failures
//   offline --attempt--> offline (stays until data flows again)
//   any --stop--> stopped (final)
class HealthMachine {
 public:
  explicit HealthMachine(int offlineAfterFailures);

  CameraState state() const { return state_; }
  const std::string& reason() const { return reason_; }
  int consecutiveFailures() const { return failures_; }
  uint64_t stalls() const { return stalls_; }
  uint64_t reconnects() const { return reconnects_; }

  // A new pipeline starts pulling. The very first attempt keeps `connecting`; later ones count
  // as reconnects.
  bool onAttempt(const std::string& reason);
  // The first buffer of an attempt arrived.
  bool onData(const std::string& reason);
  // No buffer for the stall timeout while streaming.
  bool onStall(const std::string& reason);
  // The attempt failed (error, refused, EOS, no data within the connect timeout).
  bool onFailure(const std::string& reason);
  bool onStop(const std::string& reason);

 private:
  bool moveTo(CameraState next, const std::string& reason);

  int offlineAfter_;
  CameraState state_ = CameraState::kConnecting;
  std::string reason_ = "starting";
  int failures_ = 0;
  int attempts_ = 0;
  uint64_t stalls_ = 0;
  uint64_t reconnects_ = 0;
};

}  // namespace sharpeyes::ingest
