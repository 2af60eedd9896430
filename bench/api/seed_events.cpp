// Fills a gateway data directory's index with events and their alerts, so that bench/api/gateway.sh
// can measure the real gateway's API (storage-backed) under load.
//   api_seed_events DATA_DIR EVENTS CAMERAS
// Cameras cam000..camNNN, spread over 4 villages of township 510603101; events over the last 30
// days, a mix of types, classes and severities; one alert per event start.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "sharpeyes/core/util.h"
#include "sharpeyes/storage/alert_store.h"
#include "sharpeyes/storage/database.h"
#include "sharpeyes/storage/event_store.h"

using namespace sharpeyes;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s DATA_DIR EVENTS CAMERAS\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const long events = std::atol(argv[2]);
  const int cameras = std::atoi(argv[3]);
  std::filesystem::create_directories(dir);
  auto db = storage::Database::open(dir + "/index.db");
  if (!db) {
    std::fprintf(stderr, "%s\n", db.error().describe().c_str());
    return 1;
  }
  auto store = storage::EventStore::open(*db);
  auto alerts = storage::AlertStore::open(*db);
  if (!store || !alerts) return 1;
  std::mt19937_64 rng(42);
  const auto now = core::processClock().now();
  const core::EventType types[] = {core::EventType::kIntrusion, core::EventType::kTripwire,
                                   core::EventType::kLoitering, core::EventType::kTamper,
                                   core::EventType::kMotion};
  std::vector<core::Event> batch;
  for (long i = 0; i < events; ++i) {
    core::Event e;
    e.id = core::newId();
    const int cam = static_cast<int>(rng() % static_cast<uint64_t>(cameras));
    char id[16];
    std::snprintf(id, sizeof id, "cam%03d", cam);
    e.camera = core::CameraId::parse(id).value();
    char div[16];
    std::snprintf(div, sizeof div, "5106031012%02d", 1 + cam % 4);
    e.division = core::DivisionCode::parse(div).value();
    e.type = types[rng() % 5];
    e.rule = "rule-" + std::to_string(static_cast<int>(e.type));
    e.severity = 1 + static_cast<int>(rng() % 4);
    e.objectClass = rng() % 3 == 0 ? "vehicle" : "person";
    e.start = now - std::chrono::seconds(static_cast<int64_t>(rng() % (30 * 86400)));
    e.end = e.start + std::chrono::seconds(5);
    e.phase = core::EventPhase::kEnd;
    e.clipStart = e.start - std::chrono::seconds(5);
    e.clipEnd = *e.end + std::chrono::seconds(10);
    batch.push_back(e);
    if (batch.size() == 5000 || i + 1 == events) {
      if (auto r = (*store)->storeMany(batch); !r) {
        std::fprintf(stderr, "%s\n", r.error().describe().c_str());
        return 1;
      }
      batch.clear();
    }
    // The alert desk holds the most recent part: one alert per event for 1 in 20 events.
    if (i % 20 == 0) {
      if (auto r = (*alerts)->raise(e); !r) {
        std::fprintf(stderr, "%s\n", r.error().describe().c_str());
        return 1;
      }
    }
  }
  std::printf("seeded %ld events, %ld alerts, %d cameras in %s\n", events, (events + 19) / 20,
              cameras, dir.c_str());
  return 0;
}
