// Ground truth for bench/bus/e2e.sh: the frames in which the simulator's scripted objects cross a
// vertical tripwire, from the same scene specs `sharpeyes sim` renders (defaultScene(seed + i)).
// One line per crossing: "camNN <frame in loop> <object id> <kind> <A->B|B->A>". The crossing
// frame is the first one whose anchor (bottom centre, as the analyzer uses) is on the other side.
//
//   e2e_truth --cameras N [--scenes K] [--seed S] [--loop-seconds L] [--fps F] [--line-x X]
#include <cstdio>
#include <map>
#include <string>

#include "sharpeyes/sim/scene.h"

using namespace sharpeyes;

int main(int argc, char** argv) {
  int cameras = 1, scenes = 0, fps = 25;
  uint64_t seed = 1;
  double loop = 20, lineX = 0.5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    try {
      if (a == "--cameras")
        cameras = std::stoi(v);
      else if (a == "--scenes")
        scenes = std::stoi(v);
      else if (a == "--seed")
        seed = std::stoull(v);
      else if (a == "--loop-seconds")
        loop = std::stod(v);
      else if (a == "--fps")
        fps = std::stoi(v);
      else if (a == "--line-x")
        lineX = std::stod(v);
      else
        throw std::invalid_argument(a);
    } catch (const std::exception&) {
      std::fprintf(stderr, "e2e_truth: bad argument %s %s\n", a.c_str(), v.c_str());
      return 2;
    }
  }
  if (cameras < 1 || fps < 1 || loop <= 0) {
    std::fprintf(stderr, "e2e_truth: --cameras, --fps and --loop-seconds must be positive\n");
    return 2;
  }
  // As the simulator: K distinct scenes (all cameras when 0), camera i shows scene i % K.
  const int k = scenes > 0 ? std::min(scenes, cameras) : cameras;
  const int frames = static_cast<int>(loop * fps);
  for (int cam = 0; cam < cameras; ++cam) {
    sim::SceneRenderer r(sim::defaultScene(seed + static_cast<uint64_t>(cam % k), loop));
    std::map<int, int> side;  // object id -> -1 left of the line, 1 right
    char name[16];
    std::snprintf(name, sizeof name, "cam%02d", cam + 1);
    for (int f = 0; f < frames; ++f) {
      for (const auto& o : r.truthAt(f, fps)) {
        if (!o.visible) {
          side.erase(o.id);
          continue;
        }
        const double x = o.box.x + o.box.w / 2;
        const int s = x < lineX ? -1 : 1;
        auto it = side.find(o.id);
        if (it != side.end() && it->second != s) {
          std::printf("%s %d %d %s %s\n", name, f, o.id, std::string(sim::toString(o.kind)).c_str(),
                      s > 0 ? "A->B" : "B->A");
        }
        side[o.id] = s;
      }
    }
  }
  return 0;
}
