#pragma once
// EventStore: every event analytics, cameras and the gateway raise, queryable by time, camera,
// division, type, zone, object class and severity, in stable pages. SQLite or PostgreSQL
// through a shared Database (see database.h).
//
// Life cycle: an event's phases (start, updates, end) share its id; store() keeps one row per
// id holding the latest phase, the end time once known, the highest severity seen and the
// union of attributes. Storing the same phase twice is harmless (idempotent), so a bus
// redelivery never duplicates an event.
//
// Ordering and paging: newest first (or oldest first) by (start, insertion sequence). The
// cursor names the last row of a page, so rows inserted while a client pages never make it
// see a row twice or skip one that existed when it started.
//
// Thread-safety: every method may be called from any thread (statements are serialised on the
// Database's connection).

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sharpeyes/core/camera_id.h"
#include "sharpeyes/core/clip.h"
#include "sharpeyes/core/division.h"
#include "sharpeyes/core/event.h"
#include "sharpeyes/core/result.h"

namespace sharpeyes::storage {

class Database;

struct EventQuery {
  std::optional<core::TimeRange> range;        // event start in [begin, end)
  std::vector<core::CameraId> cameras;         // empty: every camera
  std::optional<core::DivisionCode> division;  // the division itself and everything below it
  std::vector<core::EventType> types;          // empty: every type
  std::optional<std::string> zone;
  std::optional<std::string> objectClass;
  std::optional<std::string> rule;
  int minSeverity = core::kMinSeverity;
  int maxSeverity = core::kMaxSeverity;
  bool newestFirst = true;
  int limit = 100;     // clamped to 1..1000
  std::string cursor;  // empty for the first page; EventPage::nextCursor afterwards
};

struct EventPage {
  std::vector<core::Event> events;
  std::string nextCursor;  // empty when this was the last page
};

class EventStore {
 public:
  virtual ~EventStore() = default;
  static core::Result<std::unique_ptr<EventStore>> open(std::shared_ptr<Database> db);

  // Inserts an event's start, or merges a later phase into the stored row (see above).
  // kInvalidArgument for an event without id or camera, or with a severity out of 1..4.
  virtual core::Result<void> store(const core::Event& event) = 0;
  // Many events in one transaction (bulk import, benchmarks); same merge rules.
  virtual core::Result<int64_t> storeMany(const std::vector<core::Event>& events) = 0;
  virtual core::Result<std::optional<core::Event>> get(const std::string& id) = 0;
  // The events among `ids` that exist, keyed by id, in a few statements (a page of alerts shows
  // its events without one round trip each). Unknown ids are simply absent.
  virtual core::Result<std::map<std::string, core::Event>> getMany(
      const std::vector<std::string>& ids) = 0;
  // kInvalidArgument for a malformed cursor.
  virtual core::Result<EventPage> query(const EventQuery& query) = 0;
};

}  // namespace sharpeyes::storage
