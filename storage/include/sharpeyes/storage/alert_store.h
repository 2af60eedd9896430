#pragma once
// AlertStore: the five-step closed loop 受理 (accept) → 分流 (dispatch) → 办理 (handle) →
// 反馈 (feedback) → 结单 (close) of an alert, persisted on the shared Database (SQLite or
// PostgreSQL, same schema).
//
// An alert is raised from an event (one alert per event id, whatever its phases) and then moves
// strictly one step at a time. Every step, including the raise, writes a history row (who, when,
// note, assignee) in the same transaction as the step change, so the history always explains the
// current step. A step change is a compare-and-set on the step the operator saw: of two
// operators acting on the same alert at once exactly one wins, the other gets kAlreadyExists
// (HTTP 409) and must reload. This holds across processes too (the UPDATE is conditional on the
// stored step), not only across threads of one process.
//
// storage does not depend on api/: these are storage's own types; app/ maps them to api::Alert.
//
// Thread-safety: every method may be called from any thread, concurrently (the HTTP server's
// I/O threads); statements are serialised on the Database's connection. Methods block on the
// database.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sharpeyes/core/camera_id.h"
#include "sharpeyes/core/division.h"
#include "sharpeyes/core/event.h"
#include "sharpeyes/core/result.h"
#include "sharpeyes/core/time.h"

namespace sharpeyes::storage {

class Database;

// kNew is "raised, nobody has accepted it yet". The order of the enumerators is the loop's order.
enum class AlertStep { kNew, kAccepted, kDispatched, kHandling, kFeedback, kClosed };
// "new", "accepted", "dispatched", "handling", "feedback", "closed" (the stored form too).
std::string_view toString(AlertStep step);
// kInvalidArgument for any other text.
core::Result<AlertStep> parseAlertStep(std::string_view text);
// The only step that may follow `current`; nullopt for kClosed.
std::optional<AlertStep> nextAlertStep(AlertStep current);

struct AlertStepRecord {
  AlertStep step = AlertStep::kNew;
  std::string user;      // who did it ("gateway" for the raise)
  core::WallTime at{};   // when; advance() fills in the store's clock when left at the epoch
  std::string note;      // free text (for kNew: the rule that raised it)
  std::string assignee;  // for kDispatched: the unit/person it went to; "" otherwise
};

struct AlertRecord {
  std::string id;  // core::newId()
  std::string eventId;
  core::CameraId camera;
  core::DivisionCode division;
  int severity = core::kMinSeverity;  // the highest severity of the event's phases seen by raise()
  core::EventType type = core::EventType::kOther;
  std::string rule;
  core::WallTime eventStart{};  // the event's start: what AlertQuery's time range filters on
  core::WallTime raisedAt{};    // when the alert was created (store clock)
  AlertStep step = AlertStep::kNew;
  std::string assignee;                  // the latest non-empty assignee of any step
  std::vector<AlertStepRecord> history;  // oldest first; history[0] is the kNew raise
};

struct AlertQuery {
  // Alerts whose division is one of these or lies below one of them (a township sees its
  // villages; a village sees only itself). Empty: every division — the API always sets it.
  std::vector<core::DivisionCode> divisions;
  std::optional<AlertStep> step;  // exactly this step
  bool openOnly = false;          // step != kClosed
  int minSeverity = core::kMinSeverity;
  std::optional<core::WallTime> from;  // eventStart >= from
  std::optional<core::WallTime> to;    // eventStart < to
  core::CameraId camera;               // empty: any camera
  size_t limit = 200;                  // clamped to 1..1000
};

class AlertStore {
 public:
  virtual ~AlertStore() = default;
  // kInvalidArgument for a null database.
  static core::Result<std::unique_ptr<AlertStore>> open(std::shared_ptr<Database> db);

  // The alert for `event`: created at kNew (history[0] by user "gateway", note = the event's
  // rule) the first time an event id is seen, whatever its phase; afterwards the existing alert
  // is returned unchanged except that its severity rises to the event's if that is higher.
  // Safe against redelivery and against two processes raising the same event at once.
  // kInvalidArgument for an event without id or camera, or with a severity outside 1..4.
  virtual core::Result<AlertRecord> raise(const core::Event& event) = 0;

  // Moves alert `alertId` from `expected` to `next.step`, which must be nextAlertStep(expected)
  // (kInvalidArgument otherwise, e.g. skipping a step or going back), and appends `next` to its
  // history; a non-empty next.assignee becomes the alert's assignee. Returns the updated alert.
  // kNotFound: no such alert. kAlreadyExists: the alert is no longer at `expected` (another
  // operator moved it first); nothing was written.
  virtual core::Result<AlertRecord> advance(const std::string& alertId, AlertStep expected,
                                            const AlertStepRecord& next) = 0;

  // kNotFound for an unknown id.
  virtual core::Result<AlertRecord> get(const std::string& id) = 0;
  // kNotFound when no alert was raised for the event.
  virtual core::Result<AlertRecord> getByEvent(const std::string& eventId) = 0;

  // Newest first by (eventStart, creation order), each with its history.
  virtual core::Result<std::vector<AlertRecord>> query(const AlertQuery& query) = 0;
};

}  // namespace sharpeyes::storage
