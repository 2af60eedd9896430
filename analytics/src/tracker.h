#pragma once
// Multi-object tracker: a constant-velocity Kalman filter per track (x and y filtered
// independently, which is exact for diagonal noise) and greedy nearest-first assignment with a
// speed gate. Coordinates are normalised; `aspect` (height/width) makes distances isotropic.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sharpeyes/analytics/config.h"
#include "sharpeyes/core/event.h"
#include "sharpeyes/core/time.h"

namespace sharpeyes::analytics::detail {

struct Axis {  // position and velocity with covariance
  double p = 0, v = 0;
  double p00 = 1e-3, p01 = 0, p11 = 1.0;
  void predict(double dt, double q);
  void update(double z, double r);
};

struct Track {
  int64_t id = 0;
  Axis x, y;  // centre
  double w = 0, h = 0;
  int hits = 0;
  int consecutiveMisses = 0;
  bool confirmed = false;
  bool matched = false;  // measured in the latest frame
  core::WallTime born{}, lastSeen{};
  // Class votes from shape; a detector's verdict locks the class.
  std::map<std::string, int> votes;
  std::string objectClass = "unknown";
  bool classLocked = false;
  core::WallTime lastDetectorRun{};
  bool detectorTried = false;

  core::BoundingBox box() const;
  double speed(double aspect) const;  // frame widths per second
  double directionDeg(double aspect) const;
};

class Tracker {
 public:
  explicit Tracker(const TrackerConfig& config) : config_(config) {}
  // Feeds one frame's measurements (normalised boxes); predicts unmatched tracks, ends stale ones.
  // Returns the ids of tracks ended in this step.
  std::vector<int64_t> update(const std::vector<core::BoundingBox>& measurements,
                              core::WallTime now, double aspect);
  // Ends every track (resolution change, signal loss); returns their ids.
  std::vector<int64_t> clear();
  std::vector<Track>& tracks() { return tracks_; }
  const std::vector<Track>& tracks() const { return tracks_; }

 private:
  TrackerConfig config_;
  std::vector<Track> tracks_;
  core::WallTime last_{};
  bool haveLast_ = false;
  int64_t nextId_ = 1;
};

}  // namespace sharpeyes::analytics::detail
