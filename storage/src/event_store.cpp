#include "sharpeyes/storage/event_store.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <nlohmann/json.hpp>
#include <span>

#include "db.h"
#include "sharpeyes/storage/database.h"

namespace sharpeyes::storage {
namespace {

using core::ErrorCode;
using core::makeError;
using detail::micros;
using detail::nowMicros;
using detail::Row;
using detail::Value;

constexpr const char* kColumns =
    "seq, id, phase, camera, division, rule, type, severity, object_class, track_id, box_x, "
    "box_y, box_w, box_h, zone, start_us, end_us, media_time_us, snapshot_path, clip_start_us, "
    "clip_end_us, attributes";

core::Event toEvent(const Row& r) {
  core::Event e;
  e.id = r.str(1);
  e.phase = core::parseEventPhase(r.str(2)).valueOr(core::EventPhase::kStart);
  e.camera = core::CameraId::parse(r.str(3)).valueOr(core::CameraId{});
  e.division = core::DivisionCode::parse(r.str(4)).valueOr(core::DivisionCode{});
  e.rule = r.str(5);
  e.type = core::parseEventType(r.str(6)).valueOr(core::EventType::kOther);
  e.severity = static_cast<int>(r.i64(7));
  e.objectClass = r.str(8);
  e.trackId = r.i64(9);
  e.box = {static_cast<float>(r.f64(10)), static_cast<float>(r.f64(11)),
           static_cast<float>(r.f64(12)), static_cast<float>(r.f64(13))};
  e.zone = r.str(14);
  e.start = core::fromUnixMicros(r.i64(15));
  if (!r.isNull(16)) e.end = core::fromUnixMicros(r.i64(16));
  e.mediaTime = std::chrono::microseconds(r.i64(17));
  e.snapshotPath = r.str(18);
  e.clipStart = core::fromUnixMicros(r.i64(19));
  e.clipEnd = core::fromUnixMicros(r.i64(20));
  auto attrs = nlohmann::json::parse(r.str(21), nullptr, false);
  if (attrs.is_object()) {
    for (auto& [k, v] : attrs.items()) {
      if (v.is_string()) e.attributes[k] = v.get<std::string>();
    }
  }
  return e;
}

// Cursor: "<start_us>.<seq>" of the last row of the previous page.
std::string makeCursor(int64_t startUs, int64_t seq) {
  return std::to_string(startUs) + "." + std::to_string(seq);
}

bool parseCursor(const std::string& c, int64_t& startUs, int64_t& seq) {
  const auto dot = c.find('.');
  if (dot == std::string::npos) return false;
  auto a = std::from_chars(c.data(), c.data() + dot, startUs);
  auto b = std::from_chars(c.data() + dot + 1, c.data() + c.size(), seq);
  return a.ec == std::errc() && a.ptr == c.data() + dot && b.ec == std::errc() &&
         b.ptr == c.data() + c.size();
}

class DbEventStore final : public EventStore {
 public:
  explicit DbEventStore(std::shared_ptr<Database> database)
      : database_(std::move(database)), db_(database_->db()) {}

  core::Result<void> store(const core::Event& event) override {
    auto tx = detail::Tx::begin(db_);
    if (!tx) return tx.error();
    auto r = storeLocked(event);
    if (!r) return r;
    return (*tx)->commit();
  }

  core::Result<int64_t> storeMany(const std::vector<core::Event>& events) override {
    auto tx = detail::Tx::begin(db_);
    if (!tx) return tx.error();
    for (const auto& e : events) {
      auto r = storeLocked(e);
      if (!r) return r.error();
    }
    auto c = (*tx)->commit();
    if (!c) return c.error();
    return static_cast<int64_t>(events.size());
  }

  core::Result<std::optional<core::Event>> get(const std::string& id) override {
    auto rows = db_.query(std::string("SELECT ") + kColumns + " FROM events WHERE id = $1", {id});
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<core::Event>{};
    return std::optional<core::Event>(toEvent(rows->front()));
  }

  core::Result<std::map<std::string, core::Event>> getMany(
      const std::vector<std::string>& ids) override {
    constexpr size_t kIdsPerStatement = 500;  // inside SQLite's limit on bound parameters
    std::map<std::string, core::Event> out;
    for (size_t at = 0; at < ids.size(); at += kIdsPerStatement) {
      const std::span<const std::string> chunk(ids.data() + at,
                                               std::min(kIdsPerStatement, ids.size() - at));
      detail::Params p;
      const std::string list = p.addList(chunk, [](const std::string& id) { return Value(id); });
      auto rows =
          db_.query(std::string("SELECT ") + kColumns + " FROM events WHERE id IN (" + list + ")",
                    p.values());
      if (!rows) return rows.error();
      for (const Row& r : *rows) {
        core::Event e = toEvent(r);
        std::string id = e.id;
        out.emplace(std::move(id), std::move(e));
      }
    }
    return out;
  }

  core::Result<EventPage> query(const EventQuery& q) override {
    std::string where = "1 = 1";
    detail::Params params;
    auto param = [&](Value v) { return params.add(std::move(v)); };
    if (q.range) {
      where += " AND start_us >= " + param(core::toUnixMicros(q.range->begin));
      where += " AND start_us < " + param(core::toUnixMicros(q.range->end));
    }
    if (!q.cameras.empty()) {
      where += " AND camera IN (" + params.addList(q.cameras, [](const core::CameraId& c) {
        return Value(c.str());
      }) + ")";
    }
    if (q.division && !q.division->empty()) {
      where += " AND " + detail::divisionWithin("division", *q.division, params);
    }
    if (!q.types.empty()) {
      where += " AND type IN (" + params.addList(q.types, [](core::EventType t) {
        return Value(std::string(core::toString(t)));
      }) + ")";
    }
    if (q.zone) where += " AND zone = " + param(*q.zone);
    if (q.objectClass) where += " AND object_class = " + param(*q.objectClass);
    if (q.rule) where += " AND rule = " + param(*q.rule);
    // A severity bound is asked as one branch per severity value (there are four), each with
    // `severity = v`: an equality keeps the (type, severity, start_us, seq) index ordered, so
    // every branch stops after a page of rows. A range (`severity >= 3`) would leave either an
    // unordered index range to sort (millions of rows) or the type index to walk to its end
    // when nothing matches (a whole type's rows at 10 M events; see docs/storage.md).
    const int lowest = std::max(q.minSeverity, core::kMinSeverity);
    const int highest = std::min(q.maxSeverity, core::kMaxSeverity);
    const bool bySeverity =
        q.minSeverity > core::kMinSeverity || q.maxSeverity < core::kMaxSeverity;
    if (bySeverity && lowest > highest) return EventPage{};
    if (!q.cursor.empty()) {
      int64_t cs = 0;
      int64_t cq = 0;
      if (!parseCursor(q.cursor, cs, cq)) {
        return makeError(ErrorCode::kInvalidArgument, "malformed cursor '" + q.cursor + "'");
      }
      // Row-value comparison is in both SQLite (3.15+) and PostgreSQL, and uses the index.
      where += std::string(" AND (start_us, seq) ") + (q.newestFirst ? "<" : ">") + " (" +
               param(cs) + ", " + param(cq) + ")";
    }
    const int limit = std::clamp(q.limit, 1, 1000);
    const char* dir = q.newestFirst ? "DESC" : "ASC";
    const std::string order = std::string(" ORDER BY start_us ") + dir + ", seq " + dir;
    const std::string limitParam = param(static_cast<int64_t>(limit + 1));
    std::string sql;
    if (!bySeverity) {
      sql = std::string("SELECT ") + kColumns + " FROM events WHERE " + where + order + " LIMIT " +
            limitParam;
    } else {
      // SELECT ... FROM (SELECT * FROM (branch v1) AS b1 UNION ALL ...) AS u ORDER BY ... LIMIT:
      // the form both SQLite and PostgreSQL accept for branches with their own ORDER BY/LIMIT.
      std::string branches;
      for (int v = lowest; v <= highest; ++v) {
        if (!branches.empty()) branches += " UNION ALL ";
        branches += "SELECT * FROM (SELECT ";
        branches += kColumns;
        branches += " FROM events WHERE ";
        branches += where;
        branches += " AND severity = ";
        branches += param(static_cast<int64_t>(v));
        branches += order;
        branches += " LIMIT ";
        branches += limitParam;
        branches += ") AS b";
        branches += std::to_string(v);
      }
      sql = std::string("SELECT ") + kColumns + " FROM (" + branches + ") AS u" + order +
            " LIMIT " + limitParam;
    }
    auto rows = db_.query(sql, params.values());
    if (!rows) return rows.error();
    EventPage page;
    const size_t n = std::min(rows->size(), static_cast<size_t>(limit));
    page.events.reserve(n);
    for (size_t i = 0; i < n; ++i) page.events.push_back(toEvent((*rows)[i]));
    if (rows->size() > static_cast<size_t>(limit)) {
      const Row& last = (*rows)[n - 1];
      page.nextCursor = makeCursor(last.i64(15), last.i64(0));
    }
    return page;
  }

 private:
  core::Result<void> storeLocked(const core::Event& in) {
    if (in.id.empty() || in.camera.empty()) {
      return makeError(ErrorCode::kInvalidArgument, "event without id or camera");
    }
    if (in.severity < core::kMinSeverity || in.severity > core::kMaxSeverity) {
      return makeError(
          ErrorCode::kInvalidArgument,
          "event " + in.id + ": severity " + std::to_string(in.severity) + " is outside 1..4");
    }
    auto existing = get(in.id);
    if (!existing) return existing.error();
    core::Event e = in;
    if (existing->has_value()) {
      const core::Event& old = **existing;
      // Later phases refine the stored event; the start time and the first frame stay.
      e.start = old.start;
      e.mediaTime = old.mediaTime;
      e.severity = std::max(old.severity, in.severity);
      if (!e.end && old.end) e.end = old.end;
      if (e.phase == core::EventPhase::kStart && old.phase != core::EventPhase::kStart) {
        e.phase = old.phase;  // a redelivered start never reopens an ended event
      }
      for (const auto& [k, v] : old.attributes) e.attributes.try_emplace(k, v);
      if (e.snapshotPath.empty()) e.snapshotPath = old.snapshotPath;
      e.clipStart = std::min(old.clipStart, e.clipStart);
      e.clipEnd = std::max(old.clipEnd, e.clipEnd);
    }
    nlohmann::json attrs = nlohmann::json::object();
    for (const auto& [k, v] : e.attributes) attrs[k] = v;
    std::vector<Value> params{e.id,
                              std::string(core::toString(e.phase)),
                              e.camera.str(),
                              e.division.str(),
                              e.rule,
                              std::string(core::toString(e.type)),
                              static_cast<int64_t>(e.severity),
                              e.objectClass,
                              e.trackId,
                              static_cast<double>(e.box.x),
                              static_cast<double>(e.box.y),
                              static_cast<double>(e.box.w),
                              static_cast<double>(e.box.h),
                              e.zone,
                              core::toUnixMicros(e.start),
                              e.end ? Value(core::toUnixMicros(*e.end)) : Value(std::monostate{}),
                              micros(e.mediaTime),
                              e.snapshotPath,
                              core::toUnixMicros(e.clipStart),
                              core::toUnixMicros(e.clipEnd),
                              attrs.dump(),
                              nowMicros()};
    auto r = existing->has_value()
                 ? db_.execute(
                       "UPDATE events SET phase = $2, camera = $3, division = $4, rule = $5, "
                       "type = $6, severity = $7, object_class = $8, track_id = $9, box_x = $10, "
                       "box_y = $11, box_w = $12, box_h = $13, zone = $14, start_us = $15, "
                       "end_us = $16, media_time_us = $17, snapshot_path = $18, "
                       "clip_start_us = $19, clip_end_us = $20, attributes = $21, "
                       "updated_us = $22 WHERE id = $1",
                       params)
                 : db_.execute(
                       "INSERT INTO events (id, phase, camera, division, rule, type, severity, "
                       "object_class, track_id, box_x, box_y, box_w, box_h, zone, start_us, "
                       "end_us, media_time_us, snapshot_path, clip_start_us, clip_end_us, "
                       "attributes, updated_us) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                       "$10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)",
                       params);
    if (!r) return r.error();
    return {};
  }

  std::shared_ptr<Database> database_;
  detail::Db& db_;
};

}  // namespace

core::Result<std::unique_ptr<EventStore>> EventStore::open(std::shared_ptr<Database> db) {
  if (!db) return makeError(ErrorCode::kInvalidArgument, "no database");
  return std::unique_ptr<EventStore>(new DbEventStore(std::move(db)));
}

}  // namespace sharpeyes::storage
