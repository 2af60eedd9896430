// AlertStore on both backends: idempotent raise, the five steps with their history, step order,
// compare-and-set under two threads, division scoping, filters, persistence across reopen.
#include "sharpeyes/storage/alert_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "backend.h"
#include "sharpeyes/storage/database.h"

namespace sharpeyes::storage {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

const core::WallTime kT0 = core::fromUnixMicros(1'790'000'000'000'000);

core::Event makeEvent(const std::string& id, const std::string& division, int severity,
                      core::WallTime start, const std::string& camera = "cam-1") {
  core::Event e;
  e.id = id;
  e.camera = core::CameraId::parse(camera).value();
  e.division = core::DivisionCode::parse(division).value();
  e.rule = "fence-" + id;
  e.type = core::EventType::kIntrusion;
  e.severity = severity;
  e.start = start;
  e.clipStart = start - 5s;
  e.clipEnd = start + 5s;
  return e;
}

AlertStepRecord stepBy(AlertStep step, const std::string& user, const std::string& note = "",
                       const std::string& assignee = "") {
  AlertStepRecord r;
  r.step = step;
  r.user = user;
  r.note = note;
  r.assignee = assignee;
  return r;
}

class AlertStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgresql") {
      auto url = testing::freshPostgresDatabase();
      ASSERT_TRUE(url) << url.error().describe();
      url_ = *url;
    } else {
      url_ = "sqlite:" + (dir_.path() / "index.db").string();
    }
    reopen();
  }
  void reopen() {
    store_.reset();
    auto db = Database::open(url_);
    ASSERT_TRUE(db) << db.error().describe();
    auto s = AlertStore::open(*db);
    ASSERT_TRUE(s) << s.error().describe();
    store_ = std::move(*s);
  }
  std::vector<std::string> eventIds(const AlertQuery& q) {
    auto r = store_->query(q);
    EXPECT_TRUE(r) << r.error().describe();
    std::vector<std::string> out;
    if (r) {
      for (const auto& a : *r) out.push_back(a.eventId);
    }
    return out;
  }

  TempDir dir_;
  std::string url_;
  std::unique_ptr<AlertStore> store_;
};

TEST_P(AlertStoreTest, StepNamesRoundTrip) {
  for (AlertStep s : {AlertStep::kNew, AlertStep::kAccepted, AlertStep::kDispatched,
                      AlertStep::kHandling, AlertStep::kFeedback, AlertStep::kClosed}) {
    auto back = parseAlertStep(toString(s));
    ASSERT_TRUE(back) << toString(s);
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(parseAlertStep("done").error().code, core::ErrorCode::kInvalidArgument);
  EXPECT_EQ(nextAlertStep(AlertStep::kNew), AlertStep::kAccepted);
  EXPECT_EQ(nextAlertStep(AlertStep::kFeedback), AlertStep::kClosed);
  EXPECT_FALSE(nextAlertStep(AlertStep::kClosed).has_value());
}

TEST_P(AlertStoreTest, RaiseIsIdempotentPerEvent) {
  core::Event e = makeEvent("ev-1", "510603101201", 2, kT0);
  auto first = store_->raise(e);
  ASSERT_TRUE(first) << first.error().describe();
  EXPECT_FALSE(first->id.empty());
  EXPECT_EQ(first->eventId, "ev-1");
  EXPECT_EQ(first->step, AlertStep::kNew);
  EXPECT_EQ(first->camera.str(), "cam-1");
  EXPECT_EQ(first->division.str(), "510603101201");
  EXPECT_EQ(first->severity, 2);
  EXPECT_EQ(first->type, core::EventType::kIntrusion);
  EXPECT_EQ(first->rule, "fence-ev-1");
  EXPECT_EQ(first->eventStart, kT0);
  ASSERT_EQ(first->history.size(), 1u);
  EXPECT_EQ(first->history[0].step, AlertStep::kNew);
  EXPECT_EQ(first->history[0].user, "gateway");
  EXPECT_EQ(first->history[0].note, "fence-ev-1");

  // The same event again, then its later phases: still the one alert, no new history.
  auto again = store_->raise(e);
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_EQ(again->id, first->id);
  core::Event update = e;
  update.phase = core::EventPhase::kUpdate;
  update.severity = 3;  // escalates
  auto upd = store_->raise(update);
  ASSERT_TRUE(upd) << upd.error().describe();
  EXPECT_EQ(upd->id, first->id);
  EXPECT_EQ(upd->severity, 3);
  core::Event end = e;
  end.phase = core::EventPhase::kEnd;
  end.severity = 1;  // never lowers
  end.end = kT0 + 30s;
  auto ended = store_->raise(end);
  ASSERT_TRUE(ended) << ended.error().describe();
  EXPECT_EQ(ended->id, first->id);
  EXPECT_EQ(ended->severity, 3);
  EXPECT_EQ(ended->history.size(), 1u);

  auto all = store_->query({});
  ASSERT_TRUE(all) << all.error().describe();
  EXPECT_EQ(all->size(), 1u);
  auto byEvent = store_->getByEvent("ev-1");
  ASSERT_TRUE(byEvent) << byEvent.error().describe();
  EXPECT_EQ(byEvent->id, first->id);
}

TEST_P(AlertStoreTest, RejectsBadEvents) {
  core::Event noId = makeEvent("", "510603101201", 1, kT0);
  EXPECT_EQ(store_->raise(noId).error().code, core::ErrorCode::kInvalidArgument);
  core::Event noCamera = makeEvent("ev-x", "510603101201", 1, kT0);
  noCamera.camera = core::CameraId{};
  EXPECT_EQ(store_->raise(noCamera).error().code, core::ErrorCode::kInvalidArgument);
  core::Event badSeverity = makeEvent("ev-y", "510603101201", 5, kT0);
  EXPECT_EQ(store_->raise(badSeverity).error().code, core::ErrorCode::kInvalidArgument);
  auto none = store_->query({});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_P(AlertStoreTest, FiveStepsWithHistory) {
  auto raised = store_->raise(makeEvent("ev-1", "510603101201", 2, kT0));
  ASSERT_TRUE(raised) << raised.error().describe();
  const std::string id = raised->id;

  struct Step {
    AlertStep from;
    AlertStepRecord rec;
  };
  const core::WallTime at = kT0 + 60s;
  std::vector<Step> steps = {
      {AlertStep::kNew, stepBy(AlertStep::kAccepted, "alice", "seen")},
      {AlertStep::kAccepted, stepBy(AlertStep::kDispatched, "alice", "to the patrol", "patrol-3")},
      {AlertStep::kDispatched, stepBy(AlertStep::kHandling, "bob", "on site")},
      {AlertStep::kHandling, stepBy(AlertStep::kFeedback, "bob", "false alarm: a dog")},
      {AlertStep::kFeedback, stepBy(AlertStep::kClosed, "alice", "closed")},
  };
  steps[2].rec.at = at;  // an explicit time is kept; the others take the store's clock
  for (const auto& s : steps) {
    auto moved = store_->advance(id, s.from, s.rec);
    ASSERT_TRUE(moved) << toString(s.rec.step) << ": " << moved.error().describe();
    EXPECT_EQ(moved->step, s.rec.step);
  }

  auto got = store_->get(id);
  ASSERT_TRUE(got) << got.error().describe();
  EXPECT_EQ(got->step, AlertStep::kClosed);
  EXPECT_EQ(got->assignee, "patrol-3");  // later steps without assignee keep it
  ASSERT_EQ(got->history.size(), 6u);
  EXPECT_EQ(got->history[0].step, AlertStep::kNew);
  for (size_t i = 0; i < steps.size(); ++i) {
    const AlertStepRecord& h = got->history[i + 1];
    EXPECT_EQ(h.step, steps[i].rec.step) << i;
    EXPECT_EQ(h.user, steps[i].rec.user) << i;
    EXPECT_EQ(h.note, steps[i].rec.note) << i;
    EXPECT_EQ(h.assignee, steps[i].rec.assignee) << i;
    EXPECT_NE(h.at, core::WallTime{}) << i;
  }
  EXPECT_EQ(got->history[3].at, at);

  // Nothing follows kClosed.
  EXPECT_EQ(
      store_->advance(id, AlertStep::kClosed, stepBy(AlertStep::kClosed, "alice")).error().code,
      core::ErrorCode::kInvalidArgument);
}

TEST_P(AlertStoreTest, OutOfOrderStepsAreRejected) {
  auto raised = store_->raise(makeEvent("ev-1", "510603101201", 2, kT0));
  ASSERT_TRUE(raised) << raised.error().describe();
  const std::string id = raised->id;

  // Skipping a step.
  auto skip = store_->advance(id, AlertStep::kNew, stepBy(AlertStep::kDispatched, "alice"));
  ASSERT_FALSE(skip);
  EXPECT_EQ(skip.error().code, core::ErrorCode::kInvalidArgument) << skip.error().describe();
  // Straight to closed.
  EXPECT_EQ(store_->advance(id, AlertStep::kNew, stepBy(AlertStep::kClosed, "alice")).error().code,
            core::ErrorCode::kInvalidArgument);
  // Staying put.
  EXPECT_EQ(store_->advance(id, AlertStep::kNew, stepBy(AlertStep::kNew, "alice")).error().code,
            core::ErrorCode::kInvalidArgument);
  // No user.
  EXPECT_EQ(store_->advance(id, AlertStep::kNew, stepBy(AlertStep::kAccepted, "")).error().code,
            core::ErrorCode::kInvalidArgument);
  // A stale expectation: the alert is at kNew, not kAccepted.
  auto stale = store_->advance(id, AlertStep::kAccepted, stepBy(AlertStep::kDispatched, "alice"));
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, core::ErrorCode::kAlreadyExists) << stale.error().describe();
  // Unknown alert.
  EXPECT_EQ(store_->advance("no-such-alert", AlertStep::kNew, stepBy(AlertStep::kAccepted, "a"))
                .error()
                .code,
            core::ErrorCode::kNotFound);

  // None of that left a trace.
  auto got = store_->get(id);
  ASSERT_TRUE(got) << got.error().describe();
  EXPECT_EQ(got->step, AlertStep::kNew);
  EXPECT_EQ(got->history.size(), 1u);

  // Going back after a real step is rejected too.
  ASSERT_TRUE(store_->advance(id, AlertStep::kNew, stepBy(AlertStep::kAccepted, "alice")));
  EXPECT_EQ(
      store_->advance(id, AlertStep::kAccepted, stepBy(AlertStep::kNew, "alice")).error().code,
      core::ErrorCode::kInvalidArgument);
  // Accepting twice: the second operator loses.
  EXPECT_EQ(store_->advance(id, AlertStep::kNew, stepBy(AlertStep::kAccepted, "bob")).error().code,
            core::ErrorCode::kAlreadyExists);
  got = store_->get(id);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->history.size(), 2u);
  EXPECT_EQ(got->history[1].user, "alice");
}

TEST_P(AlertStoreTest, ConcurrentAdvanceExactlyOneWins) {
  // Many alerts, two operators racing to accept each: per alert exactly one wins, the other gets
  // kAlreadyExists, and the history holds exactly the winner's step.
  constexpr int kAlerts = 40;
  std::vector<std::string> ids;
  for (int i = 0; i < kAlerts; ++i) {
    auto a = store_->raise(makeEvent("ev-" + std::to_string(i), "510603101201", 1, kT0 + i * 1s));
    ASSERT_TRUE(a) << a.error().describe();
    ids.push_back(a->id);
  }
  std::atomic<int> ready{0};
  std::vector<std::vector<int>> outcome(2, std::vector<int>(kAlerts, -1));  // 1 won, 0 conflict
  std::vector<std::string> unexpected(2);
  auto operatorThread = [&](int who) {
    ready.fetch_add(1);
    while (ready.load() < 2) std::this_thread::yield();  // start together
    for (int i = 0; i < kAlerts; ++i) {
      auto r = store_->advance(ids[i], AlertStep::kNew,
                               stepBy(AlertStep::kAccepted, "op" + std::to_string(who)));
      if (r) {
        outcome[who][i] = 1;
      } else if (r.error().code == core::ErrorCode::kAlreadyExists) {
        outcome[who][i] = 0;
      } else {
        unexpected[who] = r.error().describe();
      }
    }
  };
  std::thread a(operatorThread, 0);
  std::thread b(operatorThread, 1);
  a.join();
  b.join();
  EXPECT_EQ(unexpected[0], "");
  EXPECT_EQ(unexpected[1], "");
  for (int i = 0; i < kAlerts; ++i) {
    EXPECT_EQ(outcome[0][i] + outcome[1][i], 1) << "alert " << i;
    auto got = store_->get(ids[i]);
    ASSERT_TRUE(got) << got.error().describe();
    EXPECT_EQ(got->step, AlertStep::kAccepted);
    ASSERT_EQ(got->history.size(), 2u) << "alert " << i;
    EXPECT_EQ(got->history[1].user, outcome[0][i] == 1 ? "op0" : "op1");
  }
}

TEST_P(AlertStoreTest, ConcurrentAdvanceAcrossConnections) {
  // Two stores on two connections to the same database (two gateway processes on one server,
  // or two SQLite handles): the compare-and-set must hold in the database, not just a mutex.
  auto db2 = Database::open(url_);
  ASSERT_TRUE(db2) << db2.error().describe();
  auto other = AlertStore::open(*db2);
  ASSERT_TRUE(other);
  constexpr int kRounds = 20;
  std::vector<std::string> ids;
  for (int i = 0; i < kRounds; ++i) {
    auto a = store_->raise(makeEvent("race-" + std::to_string(i), "510603101201", 1, kT0));
    ASSERT_TRUE(a) << a.error().describe();
    ids.push_back(a->id);
  }
  std::atomic<int> ready{0};
  std::vector<int> wins(2, 0);
  std::vector<std::string> unexpected(2);
  auto run = [&](int who, AlertStore& s) {
    ready.fetch_add(1);
    while (ready.load() < 2) std::this_thread::yield();
    for (const auto& id : ids) {
      auto r = s.advance(id, AlertStep::kNew, stepBy(AlertStep::kAccepted, "op"));
      if (r) {
        ++wins[who];
      } else if (r.error().code != core::ErrorCode::kAlreadyExists) {
        unexpected[who] = r.error().describe();
      }
    }
  };
  std::thread a(run, 0, std::ref(*store_));
  std::thread b(run, 1, std::ref(**other));
  a.join();
  b.join();
  EXPECT_EQ(unexpected[0], "");
  EXPECT_EQ(unexpected[1], "");
  EXPECT_EQ(wins[0] + wins[1], kRounds);
  for (const auto& id : ids) {
    auto got = store_->get(id);
    ASSERT_TRUE(got) << got.error().describe();
    EXPECT_EQ(got->history.size(), 2u);
  }
}

TEST_P(AlertStoreTest, QueryScopesByDivisionPrefix) {
  // County 510603: township 101 with villages 201 and 202, township 102 with village 201.
  ASSERT_TRUE(store_->raise(makeEvent("v1", "510603101201", 1, kT0 + 1s)));
  ASSERT_TRUE(store_->raise(makeEvent("v2", "510603101202", 1, kT0 + 2s)));
  ASSERT_TRUE(store_->raise(makeEvent("v3", "510603102201", 1, kT0 + 3s)));
  ASSERT_TRUE(store_->raise(makeEvent("t1", "510603101000", 1, kT0 + 4s)));  // the township itself
  ASSERT_TRUE(store_->raise(makeEvent("other", "510604101201", 1, kT0 + 5s)));  // another county

  auto div = [](const char* s) { return core::DivisionCode::parse(s).value(); };
  AlertQuery q;
  q.divisions = {div("510603101201")};
  EXPECT_EQ(eventIds(q), (std::vector<std::string>{"v1"}));
  q.divisions = {div("510603101000")};
  EXPECT_EQ(eventIds(q), (std::vector<std::string>{"t1", "v2", "v1"}));  // newest first
  q.divisions = {div("510603000000")};
  EXPECT_EQ(eventIds(q), (std::vector<std::string>{"t1", "v3", "v2", "v1"}));
  q.divisions = {div("510603101202"), div("510603102000")};
  EXPECT_EQ(eventIds(q), (std::vector<std::string>{"v3", "v2"}));
  q.divisions = {div("510000000000")};
  EXPECT_EQ(eventIds(q).size(), 5u);
  // A code that failed to parse never widens the scope.
  q.divisions = {core::DivisionCode{}};
  EXPECT_TRUE(eventIds(q).empty());
}

TEST_P(AlertStoreTest, QueryFilters) {
  for (int i = 0; i < 8; ++i) {
    auto a = store_->raise(makeEvent("ev-" + std::to_string(i), "510603101201", 1 + i % 4,
                                     kT0 + i * 10s, i % 2 == 0 ? "cam-even" : "cam-odd"));
    ASSERT_TRUE(a) << a.error().describe();
    if (i < 3) {  // ev-0..2 accepted; ev-0 closed all the way
      ASSERT_TRUE(store_->advance(a->id, AlertStep::kNew, stepBy(AlertStep::kAccepted, "u")));
    }
    if (i == 0) {
      AlertStep at = AlertStep::kAccepted;
      while (auto next = nextAlertStep(at)) {
        ASSERT_TRUE(store_->advance(a->id, at, stepBy(*next, "u")));
        at = *next;
      }
    }
  }
  AlertQuery q;
  EXPECT_EQ(eventIds(q), (std::vector<std::string>{"ev-7", "ev-6", "ev-5", "ev-4", "ev-3", "ev-2",
                                                   "ev-1", "ev-0"}));
  q.openOnly = true;
  EXPECT_EQ(eventIds(q).size(), 7u);
  q = {};
  q.step = AlertStep::kAccepted;
  EXPECT_EQ(eventIds(q), (std::vector<std::string>{"ev-2", "ev-1"}));
  q = {};
  q.step = AlertStep::kClosed;
  EXPECT_EQ(eventIds(q), (std::vector<std::string>{"ev-0"}));
  q = {};
  q.minSeverity = 3;  // severities 1 + i % 4: ev-2, ev-3, ev-6, ev-7
  EXPECT_EQ(eventIds(q), (std::vector<std::string>{"ev-7", "ev-6", "ev-3", "ev-2"}));
  q = {};
  q.from = kT0 + 20s;
  q.to = kT0 + 50s;  // ev-2, ev-3, ev-4
  EXPECT_EQ(eventIds(q), (std::vector<std::string>{"ev-4", "ev-3", "ev-2"}));
  q = {};
  q.camera = core::CameraId::parse("cam-odd").value();
  EXPECT_EQ(eventIds(q), (std::vector<std::string>{"ev-7", "ev-5", "ev-3", "ev-1"}));
  q = {};
  q.limit = 2;
  EXPECT_EQ(eventIds(q), (std::vector<std::string>{"ev-7", "ev-6"}));
  q.limit = 0;  // clamped to 1
  EXPECT_EQ(eventIds(q).size(), 1u);

  // Each result carries its own history, not another alert's.
  auto all = store_->query({});
  ASSERT_TRUE(all);
  for (const auto& a : *all) {
    const size_t expected = a.eventId == "ev-0" ? 6u : (a.step == AlertStep::kAccepted ? 2u : 1u);
    EXPECT_EQ(a.history.size(), expected) << a.eventId;
  }
}

TEST_P(AlertStoreTest, PersistsAcrossReopen) {
  auto raised = store_->raise(makeEvent("ev-1", "510603101201", 2, kT0));
  ASSERT_TRUE(raised) << raised.error().describe();
  ASSERT_TRUE(store_->advance(raised->id, AlertStep::kNew, stepBy(AlertStep::kAccepted, "alice")));
  ASSERT_TRUE(store_->advance(raised->id, AlertStep::kAccepted,
                              stepBy(AlertStep::kDispatched, "alice", "go", "patrol-1")));
  reopen();
  auto got = store_->get(raised->id);
  ASSERT_TRUE(got) << got.error().describe();
  EXPECT_EQ(got->step, AlertStep::kDispatched);
  EXPECT_EQ(got->assignee, "patrol-1");
  ASSERT_EQ(got->history.size(), 3u);
  EXPECT_EQ(got->history[2].note, "go");
  // Raising the same event after the restart still finds it.
  auto again = store_->raise(makeEvent("ev-1", "510603101201", 2, kT0));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->id, raised->id);
  EXPECT_EQ(again->step, AlertStep::kDispatched);
  // And the loop continues where it stopped.
  EXPECT_TRUE(
      store_->advance(raised->id, AlertStep::kDispatched, stepBy(AlertStep::kHandling, "bob")));
}

TEST_P(AlertStoreTest, UnknownIdsAreNotFound) {
  EXPECT_EQ(store_->get("nope").error().code, core::ErrorCode::kNotFound);
  EXPECT_EQ(store_->getByEvent("nope").error().code, core::ErrorCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Backends, AlertStoreTest, ::testing::Values("sqlite", "postgresql"));

}  // namespace
}  // namespace sharpeyes::storage
