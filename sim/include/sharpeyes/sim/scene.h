#pragma once
// A synthetic, deterministic camera scene: textured background, sensor noise, and scripted
// objects whose position in every frame is known (ground truth for scoring analytics).
// The same spec and frame index always render the same pixels.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sharpeyes/core/event.h"

namespace sharpeyes::sim {

enum class ObjectKind { kPerson, kVehicle, kAnimal };
std::string_view toString(ObjectKind kind);  // "person", "vehicle", "animal"

struct Waypoint {
  double t = 0;        // seconds from the start of the loop
  float x = 0, y = 0;  // centre of the object, normalised 0..1 (may leave the frame)
};

struct ScriptedObject {
  int id = 0;
  ObjectKind kind = ObjectKind::kPerson;
  float width = 0.03f, height = 0.12f;  // normalised size (person-sized by default)
  std::vector<Waypoint> path;           // linear between waypoints; absent before first/after last
};

struct NormRect {
  float x = 0, y = 0, w = 0, h = 0;
};

struct SceneEffects {
  double noiseSigma = 2.0;  // sensor noise, grey levels
  // Sudden global illumination change: brightness multiplied by `illuminationFactor` from
  // `illuminationAt` seconds on.
  std::optional<double> illuminationAt;
  double illuminationFactor = 0.6;
  bool rain = false;                      // streaks of rain-like noise
  std::optional<NormRect> swayingRegion;  // a "tree" whose texture moves (to be masked)
  std::optional<NormRect> slowShadow;     // a shadow drifting slowly across
  double shakeAmplitudePx = 0;            // camera shake (whole image jitters)
  std::optional<double> coveredAt;        // lens covered (near-black, flat) from this time
  std::optional<double> turnedAt;         // camera turned: a different background from this time
  std::optional<double> frozenAt;         // image frozen (same frame repeated) from this time
};

struct SceneSpec {
  uint64_t seed = 1;
  double loopSeconds = 20;  // the scene repeats after this (a multiple of the 2 s GOP)
  std::vector<ScriptedObject> objects;
  SceneEffects effects;
};

// People and cars walking/driving through on trajectories derived from the seed.
SceneSpec defaultScene(uint64_t seed, double loopSeconds);

struct ObjectTruth {
  int id = 0;
  ObjectKind kind = ObjectKind::kPerson;
  core::BoundingBox box;  // normalised, clipped to the frame
  bool visible = false;
};

// Pan/tilt/zoom of the virtual camera over the scene (ONVIF PTZ moves it).
struct ViewWindow {
  float pan = 0;   // -1..1
  float tilt = 0;  // -1..1
  float zoom = 0;  // 0..1 (0 = widest)
};

class SceneRenderer {
 public:
  explicit SceneRenderer(SceneSpec spec);
  ~SceneRenderer();
  SceneRenderer(SceneRenderer&&) noexcept;
  SceneRenderer& operator=(SceneRenderer&&) noexcept;

  // Renders frame `index` at `fps` into `bgr` (width*height*3 bytes, tightly packed).
  // Thread-safe (const); the first call per output size builds that size's world texture.
  void render(int64_t index, double fps, int width, int height, uint8_t* bgr,
              const ViewWindow& view = {}) const;
  // Objects at frame `index` (time index/fps, modulo the loop), in the default view.
  std::vector<ObjectTruth> truthAt(int64_t index, double fps) const;
  // Same, seen through `view` (a PTZ camera's current window). Objects are hidden while the
  // lens is covered or the camera is turned. Camera shake is not included (a few pixels).
  std::vector<ObjectTruth> truthAt(int64_t index, double fps, const ViewWindow& view) const;
  const SceneSpec& spec() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sharpeyes::sim
