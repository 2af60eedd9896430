#pragma once
// A SimServer with small streams plus the simulated ONVIF device in front of it, for tests and
// benchmarks. Camera 0 is PTZ; scenes are explicit so the event ground truth is known.

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>

#include "sharpeyes/sim/onvif_device.h"
#include "sharpeyes/sim/sim.h"

namespace sharpeyes::testing {

inline sim::SceneSpec blinkingScene(uint64_t seed) {
  // One person visible for the first 1.2 s of every 4 s loop: motion starts and ends each loop.
  sim::SceneSpec s;
  s.seed = seed;
  s.loopSeconds = 4;
  sim::ScriptedObject o;
  o.id = 1;
  o.path = {{0.0, 0.3f, 0.5f}, {1.2, 0.7f, 0.5f}};
  s.objects.push_back(o);
  s.effects.noiseSigma = 1;
  return s;
}

inline sim::SimOptions smallSimOptions(int cameras, std::vector<int> ptz) {
  sim::SimOptions o;
  o.cameras = cameras;
  o.main = sim::StreamProfile{320, 180, 25, 300, 50};
  o.sub = sim::StreamProfile{160, 90, 25, 100, 50};
  o.loopSeconds = 4;
  o.scenes = {blinkingScene(7)};
  o.ptzCameras = std::move(ptz);
  o.cacheDir = (std::filesystem::temp_directory_path() / "sharpeyes-onvif-test-cache").string();
  return o;
}

}  // namespace sharpeyes::testing
