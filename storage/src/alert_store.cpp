#include "sharpeyes/storage/alert_store.h"

#include <algorithm>
#include <array>
#include <map>
#include <utility>

#include "db.h"
#include "sharpeyes/core/util.h"
#include "sharpeyes/storage/database.h"

namespace sharpeyes::storage {

namespace {

using core::ErrorCode;
using core::makeError;
using detail::nowMicros;
using detail::Params;
using detail::Row;
using detail::Value;

constexpr std::array<std::pair<AlertStep, std::string_view>, 6> kStepNames{{
    {AlertStep::kNew, "new"},
    {AlertStep::kAccepted, "accepted"},
    {AlertStep::kDispatched, "dispatched"},
    {AlertStep::kHandling, "handling"},
    {AlertStep::kFeedback, "feedback"},
    {AlertStep::kClosed, "closed"},
}};

}  // namespace

std::string_view toString(AlertStep step) {
  for (const auto& [s, name] : kStepNames) {
    if (s == step) return name;
  }
  return "unknown";
}

core::Result<AlertStep> parseAlertStep(std::string_view text) {
  for (const auto& [s, name] : kStepNames) {
    if (name == text) return s;
  }
  return makeError(ErrorCode::kInvalidArgument, "unknown alert step '" + std::string(text) + "'");
}

std::optional<AlertStep> nextAlertStep(AlertStep current) {
  if (current == AlertStep::kClosed) return std::nullopt;
  return static_cast<AlertStep>(static_cast<int>(current) + 1);
}

namespace {

constexpr const char* kAlertColumns =
    "id, event_id, camera, division, severity, type, rule, event_start_us, raised_us, step, "
    "assignee";

AlertRecord toAlert(const Row& r) {
  AlertRecord a;
  a.id = r.str(0);
  a.eventId = r.str(1);
  a.camera = core::CameraId::parse(r.str(2)).valueOr(core::CameraId{});
  a.division = core::DivisionCode::parse(r.str(3)).valueOr(core::DivisionCode{});
  a.severity = static_cast<int>(r.i64(4));
  a.type = core::parseEventType(r.str(5)).valueOr(core::EventType::kOther);
  a.rule = r.str(6);
  a.eventStart = core::fromUnixMicros(r.i64(7));
  a.raisedAt = core::fromUnixMicros(r.i64(8));
  a.step = parseAlertStep(r.str(9)).valueOr(AlertStep::kNew);
  a.assignee = r.str(10);
  return a;
}

// History columns, alert_id first so one query can fill many alerts.
constexpr const char* kHistoryColumns = "alert_id, step, actor, at_us, note, assignee";

AlertStepRecord toStep(const Row& r) {
  AlertStepRecord s;
  s.step = parseAlertStep(r.str(1)).valueOr(AlertStep::kNew);
  s.user = r.str(2);
  s.at = core::fromUnixMicros(r.i64(3));
  s.note = r.str(4);
  s.assignee = r.str(5);
  return s;
}

class DbAlertStore final : public AlertStore {
 public:
  explicit DbAlertStore(std::shared_ptr<Database> database)
      : database_(std::move(database)), db_(database_->db()) {}

  core::Result<AlertRecord> raise(const core::Event& e) override {
    if (e.id.empty() || e.camera.empty()) {
      return makeError(ErrorCode::kInvalidArgument,
                       "cannot raise an alert for an event without "
                       "id or camera");
    }
    if (e.severity < core::kMinSeverity || e.severity > core::kMaxSeverity) {
      return makeError(
          ErrorCode::kInvalidArgument,
          "event " + e.id + ": severity " + std::to_string(e.severity) + " is outside 1..4");
    }
    auto tx = detail::Tx::begin(db_);
    if (!tx) return tx.error();
    const int64_t now = nowMicros();
    const std::string id = core::newId();
    // ON CONFLICT rather than look-then-insert: another process on the same PostgreSQL server
    // may raise the same event between our look and our insert.
    auto inserted = db_.execute(
        "INSERT INTO alerts (id, event_id, camera, division, severity, type, rule, "
        "event_start_us, raised_us, step, assignee, updated_us) VALUES ($1, $2, $3, $4, $5, $6, "
        "$7, $8, $9, $10, '', $9) ON CONFLICT (event_id) DO NOTHING",
        {id, e.id, e.camera.str(), e.division.str(), static_cast<int64_t>(e.severity),
         std::string(core::toString(e.type)), e.rule, core::toUnixMicros(e.start), now,
         std::string(toString(AlertStep::kNew))});
    if (!inserted) return inserted.error();
    if (*inserted > 0) {
      auto h =
          insertHistory(id, {AlertStep::kNew, "gateway", core::fromUnixMicros(now), e.rule, ""});
      if (!h) return h.error();
    } else {
      // A later phase may escalate; it never adds a history step.
      auto up = db_.execute(
          "UPDATE alerts SET severity = $2, updated_us = $3 WHERE event_id = $1 AND severity < $2",
          {e.id, static_cast<int64_t>(e.severity), now});
      if (!up) return up.error();
    }
    auto alert = loadOne("event_id", e.id);
    if (!alert) return alert.error();
    auto c = (*tx)->commit();
    if (!c) return c.error();
    return alert;
  }

  core::Result<AlertRecord> advance(const std::string& alertId, AlertStep expected,
                                    const AlertStepRecord& next) override {
    const auto allowed = nextAlertStep(expected);
    if (!allowed || next.step != *allowed) {
      return makeError(ErrorCode::kInvalidArgument,
                       "an alert at '" + std::string(toString(expected)) + "' can only move to " +
                           (allowed ? "'" + std::string(toString(*allowed)) + "'" : "no step") +
                           ", not to '" + std::string(toString(next.step)) + "'");
    }
    if (next.user.empty()) {
      return makeError(ErrorCode::kInvalidArgument, "an alert step needs the user who took it");
    }
    auto tx = detail::Tx::begin(db_);
    if (!tx) return tx.error();
    const int64_t now = nowMicros();
    // The compare-and-set: the UPDATE only matches while the stored step is the one the operator
    // saw. On PostgreSQL a concurrent writer blocks on the row lock and then finds no match.
    auto moved =
        next.assignee.empty()
            ? db_.execute(
                  "UPDATE alerts SET step = $3, updated_us = $4 WHERE id = $1 AND step = $2",
                  {alertId, std::string(toString(expected)), std::string(toString(next.step)), now})
            : db_.execute(
                  "UPDATE alerts SET step = $3, updated_us = $4, assignee = $5 WHERE id = $1 AND "
                  "step = $2",
                  {alertId, std::string(toString(expected)), std::string(toString(next.step)), now,
                   next.assignee});
    if (!moved) return moved.error();
    if (*moved == 0) {
      auto current = db_.query("SELECT step FROM alerts WHERE id = $1", {alertId});
      if (!current) return current.error();
      if (current->empty()) return makeError(ErrorCode::kNotFound, "no alert " + alertId);
      return makeError(ErrorCode::kAlreadyExists,
                       "alert " + alertId + " is at '" + current->front().str(0) + "', not '" +
                           std::string(toString(expected)) + "': someone else moved it first");
    }
    AlertStepRecord rec = next;
    if (rec.at == core::WallTime{}) rec.at = core::fromUnixMicros(now);
    auto h = insertHistory(alertId, rec);
    if (!h) return h.error();
    auto alert = loadOne("id", alertId);
    if (!alert) return alert.error();
    auto c = (*tx)->commit();
    if (!c) return c.error();
    return alert;
  }

  core::Result<AlertRecord> get(const std::string& id) override { return loadOne("id", id); }

  core::Result<AlertRecord> getByEvent(const std::string& eventId) override {
    return loadOne("event_id", eventId);
  }

  core::Result<std::vector<AlertRecord>> query(const AlertQuery& q) override {
    Params params;
    std::string where = "1 = 1";
    if (!q.divisions.empty()) {
      std::string any;
      for (const auto& d : q.divisions) {
        any += (any.empty() ? "" : " OR ") + detail::divisionWithin("division", d, params);
      }
      where += " AND (" + any + ")";
    }
    if (q.step) where += " AND step = " + params.add(std::string(toString(*q.step)));
    if (q.openOnly)
      where += " AND step <> " + params.add(std::string(toString(AlertStep::kClosed)));
    if (q.minSeverity > core::kMinSeverity) {
      where += " AND severity >= " + params.add(static_cast<int64_t>(q.minSeverity));
    }
    if (q.from) where += " AND event_start_us >= " + params.add(core::toUnixMicros(*q.from));
    if (q.to) where += " AND event_start_us < " + params.add(core::toUnixMicros(*q.to));
    if (!q.camera.empty()) where += " AND camera = " + params.add(q.camera.str());
    const auto limit = static_cast<int64_t>(std::clamp<size_t>(q.limit, 1, 1000));
    // One lock for both statements, so no step lands between the alerts and their histories.
    std::unique_lock lock(db_.mutex());
    auto rows = db_.query(std::string("SELECT ") + kAlertColumns + " FROM alerts WHERE " + where +
                              " ORDER BY event_start_us DESC, seq DESC LIMIT " + params.add(limit),
                          params.values());
    if (!rows) return rows.error();
    std::vector<AlertRecord> out;
    out.reserve(rows->size());
    for (const Row& r : *rows) out.push_back(toAlert(r));
    auto h = loadHistories(out);
    if (!h) return h.error();
    return out;
  }

 private:
  core::Result<void> insertHistory(const std::string& alertId, const AlertStepRecord& s) {
    auto r = db_.execute(
        "INSERT INTO alert_history (alert_id, step, actor, at_us, note, assignee) VALUES ($1, $2, "
        "$3, $4, $5, $6)",
        {alertId, std::string(toString(s.step)), s.user, core::toUnixMicros(s.at), s.note,
         s.assignee});
    if (!r) return r.error();
    return {};
  }

  // `column` is "id" or "event_id" (both unique), never caller text.
  core::Result<AlertRecord> loadOne(const std::string& column, const std::string& value) {
    std::unique_lock lock(db_.mutex());
    auto rows = db_.query(
        std::string("SELECT ") + kAlertColumns + " FROM alerts WHERE " + column + " = $1", {value});
    if (!rows) return rows.error();
    if (rows->empty()) {
      return makeError(ErrorCode::kNotFound,
                       column == "id" ? "no alert " + value : "no alert for event " + value);
    }
    std::vector<AlertRecord> one{toAlert(rows->front())};
    auto h = loadHistories(one);
    if (!h) return h.error();
    return std::move(one.front());
  }

  // One statement for all of them; the caller holds the connection's mutex.
  core::Result<void> loadHistories(std::vector<AlertRecord>& alerts) {
    if (alerts.empty()) return {};
    Params params;
    const std::string ids =
        params.addList(alerts, [](const AlertRecord& a) { return Value(a.id); });
    auto rows = db_.query(std::string("SELECT ") + kHistoryColumns +
                              " FROM alert_history WHERE alert_id IN (" + ids + ") ORDER BY seq",
                          params.values());
    if (!rows) return rows.error();
    std::map<std::string, AlertRecord*> byId;
    for (auto& a : alerts) byId[a.id] = &a;
    for (const Row& r : *rows) {
      auto it = byId.find(r.str(0));
      if (it != byId.end()) it->second->history.push_back(toStep(r));
    }
    return {};
  }

  std::shared_ptr<Database> database_;
  detail::Db& db_;
};

}  // namespace

core::Result<std::unique_ptr<AlertStore>> AlertStore::open(std::shared_ptr<Database> db) {
  if (!db) return makeError(ErrorCode::kInvalidArgument, "no database");
  return std::unique_ptr<AlertStore>(new DbAlertStore(std::move(db)));
}

}  // namespace sharpeyes::storage
