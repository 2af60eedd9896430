// EventStore on both backends: phase merging, every filter, stable cursor paging.
#include "sharpeyes/storage/event_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <iostream>
#include <set>
#include <stop_token>
#include <thread>

#include "backend.h"
#include "db.h"
#include "process.h"
#include "sharpeyes/storage/database.h"

namespace sharpeyes::storage {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

const core::WallTime kT0 = core::fromUnixMicros(1'790'000'000'000'000);

core::Event makeEvent(int i) {
  core::Event e;
  e.id = "ev-" + std::to_string(i);
  e.camera = core::CameraId::parse("cam-" + std::to_string(i % 3)).value();
  // Villages of two townships of one county: 510603101201/202 and 510603102201.
  static const char* kDiv[] = {"510603101201", "510603101202", "510603102201"};
  e.division = core::DivisionCode::parse(kDiv[i % 3]).value();
  e.rule = i % 2 == 0 ? "fence" : "line";
  e.type = i % 2 == 0 ? core::EventType::kIntrusion : core::EventType::kTripwire;
  e.severity = 1 + i % 4;
  e.objectClass = i % 5 == 0 ? "vehicle" : "person";
  e.zone = i % 2 == 0 ? "gate" : "road";
  e.start = kT0 + i * 1s;
  e.clipStart = e.start - 5s;
  e.clipEnd = e.start + 5s;
  e.box = {0.1f, 0.2f, 0.3f, 0.4f};
  e.attributes["n"] = std::to_string(i);
  return e;
}

// makeEvent(0) to makeEvent(n - 1), stored through `db` in one call.
void storeEvents(const std::shared_ptr<Database>& db, int n) {
  auto store = EventStore::open(db);
  ASSERT_TRUE(store);
  std::vector<core::Event> events;
  events.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) events.push_back(makeEvent(i));
  ASSERT_TRUE((*store)->storeMany(events));
}

class EventStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto db = testing::openBackend(GetParam(), dir_);
    ASSERT_TRUE(db) << db.error().describe();
    auto s = EventStore::open(*db);
    ASSERT_TRUE(s);
    store_ = std::move(*s);
  }
  void fill(int n) {
    std::vector<core::Event> all;
    all.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) all.push_back(makeEvent(i));
    auto r = store_->storeMany(all);
    ASSERT_TRUE(r) << r.error().describe();
  }
  std::vector<std::string> ids(const EventQuery& q) {
    auto p = store_->query(q);
    EXPECT_TRUE(p) << p.error().describe();
    std::vector<std::string> out;
    if (p) {
      for (const auto& e : p->events) out.push_back(e.id);
    }
    return out;
  }
  TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

TEST_P(EventStoreTest, RoundTripAndPhaseMerge) {
  core::Event e = makeEvent(4);
  ASSERT_TRUE(store_->store(e));
  core::Event up = e;
  up.phase = core::EventPhase::kUpdate;
  up.severity = 3;
  up.attributes = {{"direction", "A->B"}};
  up.start = kT0 + 999s;  // a later phase never moves the start
  ASSERT_TRUE(store_->store(up));
  core::Event end = e;
  end.phase = core::EventPhase::kEnd;
  end.severity = 2;  // severity only rises
  end.end = kT0 + 30s;
  end.attributes = {};
  ASSERT_TRUE(store_->store(end));
  ASSERT_TRUE(store_->store(e));  // redelivered start: no reopen, no duplicate
  auto got = store_->get("ev-4");
  ASSERT_TRUE(got && got->has_value());
  const core::Event& g = **got;
  EXPECT_EQ(g.phase, core::EventPhase::kEnd);
  EXPECT_EQ(g.start, e.start);
  ASSERT_TRUE(g.end.has_value());
  EXPECT_EQ(*g.end, kT0 + 30s);
  EXPECT_EQ(g.severity, 3);
  EXPECT_EQ(g.attributes.at("direction"), "A->B");
  EXPECT_EQ(g.attributes.at("n"), "4");
  EXPECT_EQ(g.division.str(), "510603101202");
  EXPECT_EQ(g.type, core::EventType::kIntrusion);
  EXPECT_EQ(g.box, e.box);
  EXPECT_EQ(g.clipStart, e.clipStart);
  auto page = store_->query({});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->events.size(), 1u);
}

// After a restart the first queries wait for random reads; readEventsIntoCache reads the event
// relations (table and every index): through the server's cache with pg_prewarm on PostgreSQL,
// through dbstat into the OS cache on SQLite.
TEST_P(EventStoreTest, ReadsTheEventRelationsIntoTheCache) {
  auto db = testing::openBackend(GetParam(), dir_);
  ASSERT_TRUE(db) << db.error().describe();
  ASSERT_NO_FATAL_FAILURE(storeEvents(*db, 2000));

  auto warmed = (*db)->readEventsIntoCache();
  if (GetParam() == "sqlite") {
    // Every page of the table and of each of its indexes, once (through dbstat).
    ASSERT_TRUE(warmed) << warmed.error().describe();
    auto pages = (*db)->db().query(
        "SELECT COUNT(*) FROM dbstat WHERE name IN (SELECT name FROM sqlite_master WHERE "
        "tbl_name = 'events')");
    ASSERT_TRUE(pages && !pages->empty());
    EXPECT_GT(*warmed, 0);
    EXPECT_EQ(*warmed, (*pages)[0].i64(0));
    return;
  }
  ASSERT_FALSE(warmed);
  EXPECT_EQ(warmed.error().code, core::ErrorCode::kUnsupported);
  EXPECT_NE(warmed.error().message.find("CREATE EXTENSION pg_prewarm"), std::string::npos)
      << warmed.error().message;

  auto& raw = (*db)->db();
  ASSERT_TRUE(raw.execScript("CREATE EXTENSION pg_prewarm"));
  warmed = (*db)->readEventsIntoCache();
  ASSERT_TRUE(warmed) << warmed.error().describe();
  // Every block of the table and of each of its indexes, once.
  auto blocks = raw.query(
      "SELECT SUM(pg_relation_size(c.oid) / current_setting('block_size')::bigint) FROM pg_class c "
      "WHERE c.oid = 'events'::regclass OR c.oid IN (SELECT indexrelid FROM pg_index WHERE "
      "indrelid = 'events'::regclass)",
      {});
  ASSERT_TRUE(blocks && !blocks->empty());
  EXPECT_GT(*warmed, 0);
  EXPECT_EQ(*warmed, (*blocks)[0].i64(0));
}

// A gateway that stops cancels its warm-up instead of waiting ~20 s for reads it no longer needs.
// Another connection holds the events table exclusively, so the warm-up's pg_prewarm waits on
// that lock: a warm-up that is certainly still running however fast the machine reads, and that
// without a working cancel would not return before the lock goes.
TEST_P(EventStoreTest, CacheWarmUpIsCancelledFromAnotherThread) {
  using Clock = std::chrono::steady_clock;
  std::stop_source stopped;
  stopped.request_stop();
  if (GetParam() == "sqlite") {
    // SQLite reads the pages of the events table and its indexes (dbstat), on a connection of
    // its own, and a stop interrupts the running read (sqlite3_interrupt).
    auto url = testing::freshBackendUrl(GetParam(), dir_);
    ASSERT_TRUE(url) << url.error().describe();
    auto db = Database::open(*url);
    ASSERT_TRUE(db) << db.error().describe();
    ASSERT_NO_FATAL_FAILURE(storeEvents(*db, 5000));
    // Other tables hold pages too: the warm-up reads the events' B-trees only.
    ASSERT_TRUE((*db)->db().execScript(
        "CREATE TABLE filler (x TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
        "FROM n WHERE i < 2000) INSERT INTO filler SELECT printf('%.500c', 'x') FROM n"));
    auto expected = (*db)->db().query(
        "SELECT COUNT(*) FROM dbstat WHERE name IN (SELECT name FROM sqlite_master WHERE "
        "tbl_name = 'events')");
    auto all = (*db)->db().query("SELECT COUNT(*) FROM dbstat");
    ASSERT_TRUE(expected && all);
    ASSERT_GT((*expected)[0].i64(0), 50);
    ASSERT_GT((*all)[0].i64(0), (*expected)[0].i64(0) + 100);

    auto warmDb = Database::open(*url);
    ASSERT_TRUE(warmDb) << warmDb.error().describe();
    auto early = (*warmDb)->readEventsIntoCache(stopped.get_token());
    ASSERT_FALSE(early);
    EXPECT_EQ(early.error().code, core::ErrorCode::kCancelled) << early.error().describe();
    auto pages = (*warmDb)->readEventsIntoCache();
    ASSERT_TRUE(pages) << pages.error().describe();
    EXPECT_EQ(*pages, (*expected)[0].i64(0));

    // A stop from another thread at any moment: the whole count or kCancelled, nothing else,
    // and the connection answers afterwards. (Where the stop lands varies from round to round;
    // what holds in every round is asserted.)
    int cancelled = 0;
    for (int round = 0; round < 20; ++round) {
      std::stop_source stop;
      auto result = std::async(std::launch::async,
                               [&] { return (*warmDb)->readEventsIntoCache(stop.get_token()); });
      // Not a synchronisation: the stop is spread over 0-3 ms so that rounds land before, during
      // and after the reads.
      std::this_thread::sleep_for(std::chrono::microseconds(150 * round));
      stop.request_stop();
      auto r = result.get();
      if (r) {
        EXPECT_EQ(*r, (*expected)[0].i64(0)) << "round " << round;
      } else {
        EXPECT_EQ(r.error().code, core::ErrorCode::kCancelled) << r.error().describe();
        ++cancelled;
      }
      auto again = (*warmDb)->db().query("SELECT COUNT(*) FROM events");
      ASSERT_TRUE(again) << again.error().describe();
      EXPECT_EQ((*again)[0].i64(0), 5000);
    }
    std::cout << "warm-ups cancelled: " << cancelled << " of 20\n";
    return;
  }
  auto url = testing::freshPostgresDatabase();
  ASSERT_TRUE(url) << url.error().describe();
  auto warmDb = Database::open(*url);
  auto holder = Database::open(*url);
  auto watcher = Database::open(*url);
  ASSERT_TRUE(warmDb && holder && watcher);
  ASSERT_TRUE((*warmDb)->db().execScript("CREATE EXTENSION pg_prewarm"));
  ASSERT_NO_FATAL_FAILURE(storeEvents(*warmDb, 200));

  // A stop requested before the call: nothing is read.
  auto early = (*warmDb)->readEventsIntoCache(stopped.get_token());
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().code, core::ErrorCode::kCancelled) << early.error().describe();

  auto& lock = (*holder)->db();
  ASSERT_TRUE(lock.execScript("BEGIN"));
  ASSERT_TRUE(lock.execScript("LOCK TABLE events IN ACCESS EXCLUSIVE MODE"));

  std::stop_source stop;
  std::promise<core::Result<int64_t>> done;
  auto result = done.get_future();
  std::thread warmer([&] { done.set_value((*warmDb)->readEventsIntoCache(stop.get_token())); });
  // Declared after the thread, so it runs first on every way out: with the lock gone the
  // warm-up ends by itself and the join below cannot hang, even if the cancel is broken.
  struct Release {
    Database& holder;
    std::thread& warmer;
    ~Release() {
      (void)holder.db().execScript("ROLLBACK");
      if (warmer.joinable()) warmer.join();
    }
  } release{**holder, warmer};

  // The warm-up's statement is on the server, waiting for the lock.
  auto waiting = [&] {
    auto rows = (*watcher)->db().query(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND "
        "pid <> pg_backend_pid() AND state = 'active' AND wait_event_type = 'Lock' AND "
        "query LIKE '%pg_prewarm(c.oid%'",
        {});
    return rows && !rows->empty() && (*rows)[0].i64(0) == 1;
  };
  ASSERT_TRUE(sharpeyes::testing::waitFor(waiting, 30s)) << "the warm-up never reached the lock";

  const auto cancelAt = Clock::now();
  stop.request_stop();
  ASSERT_EQ(result.wait_for(15s), std::future_status::ready)
      << "the warm-up did not return within 15 s of the stop";
  const auto took = Clock::now() - cancelAt;
  auto warmed = result.get();
  ASSERT_FALSE(warmed);
  EXPECT_EQ(warmed.error().code, core::ErrorCode::kCancelled) << warmed.error().describe();
  EXPECT_LT(took, 15s);
  // The server ended the statement (it was not left running behind a returned call) ...
  auto gone = [&] {
    auto rows = (*watcher)->db().query(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND "
        "pid <> pg_backend_pid() AND state = 'active' AND query LIKE '%pg_prewarm(c.oid%'",
        {});
    return rows && !rows->empty() && (*rows)[0].i64(0) == 0;
  };
  EXPECT_TRUE(sharpeyes::testing::waitFor(gone, 30s));
  // A stop at any moment, also while the statement is still on its way to the server (which
  // ignores a cancel that comes before the statement it is for): the warm-up still ends.
  for (int i = 0; i < 5; ++i) {
    std::stop_source quick;
    auto ended = std::async(std::launch::async,
                            [&] { return (*warmDb)->readEventsIntoCache(quick.get_token()); });
    quick.request_stop();
    ASSERT_EQ(ended.wait_for(15s), std::future_status::ready) << "round " << i;
    auto r = ended.get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, core::ErrorCode::kCancelled) << r.error().describe();
  }
  // ... and the connection serves the next statement, a full warm-up once the lock is gone.
  ASSERT_TRUE(lock.execScript("ROLLBACK"));
  auto again = (*warmDb)->readEventsIntoCache(std::stop_source().get_token());
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_GT(*again, 0);
}

TEST_P(EventStoreTest, RejectsBadEvents) {
  core::Event e = makeEvent(1);
  e.severity = 5;
  EXPECT_EQ(store_->store(e).error().code, core::ErrorCode::kInvalidArgument);
  e = makeEvent(1);
  e.id.clear();
  EXPECT_FALSE(store_->store(e));
  EventQuery q;
  q.cursor = "garbage";
  EXPECT_EQ(store_->query(q).error().code, core::ErrorCode::kInvalidArgument);
}

TEST_P(EventStoreTest, EveryFilter) {
  fill(60);
  EventQuery q;
  q.limit = 1000;
  EXPECT_EQ(ids(q).size(), 60u);

  q = {};
  q.limit = 1000;
  q.range = core::TimeRange{kT0 + 10s, kT0 + 20s};
  auto r = ids(q);
  ASSERT_EQ(r.size(), 10u);
  EXPECT_EQ(r.front(), "ev-19");  // newest first
  EXPECT_EQ(r.back(), "ev-10");

  q = {};
  q.limit = 1000;
  q.cameras = {core::CameraId::parse("cam-1").value(), core::CameraId::parse("cam-2").value()};
  EXPECT_EQ(ids(q).size(), 40u);

  q = {};
  q.limit = 1000;
  q.division = core::DivisionCode::parse("510603101000").value();  // township: two villages
  EXPECT_EQ(ids(q).size(), 40u);
  q.division = core::DivisionCode::parse("510603000000").value();  // county: all
  EXPECT_EQ(ids(q).size(), 60u);
  q.division = core::DivisionCode::parse("510603102201").value();  // one village
  EXPECT_EQ(ids(q).size(), 20u);
  q.division = core::DivisionCode::parse("510604000000").value();  // another county
  EXPECT_EQ(ids(q).size(), 0u);

  q = {};
  q.limit = 1000;
  q.types = {core::EventType::kTripwire};
  EXPECT_EQ(ids(q).size(), 30u);
  q.zone = "road";
  EXPECT_EQ(ids(q).size(), 30u);
  q.zone = "gate";
  EXPECT_EQ(ids(q).size(), 0u);

  q = {};
  q.limit = 1000;
  q.objectClass = "vehicle";
  EXPECT_EQ(ids(q).size(), 12u);

  q = {};
  q.limit = 1000;
  q.minSeverity = 3;
  EXPECT_EQ(ids(q).size(), 30u);
  q.maxSeverity = 3;
  EXPECT_EQ(ids(q).size(), 15u);

  q = {};
  q.limit = 1000;
  q.rule = "fence";
  q.newestFirst = false;
  r = ids(q);
  ASSERT_EQ(r.size(), 30u);
  EXPECT_EQ(r.front(), "ev-0");
}

TEST_P(EventStoreTest, CursorPagingIsStableWhileRowsArrive) {
  fill(50);
  EventQuery q;
  q.limit = 7;
  std::vector<std::string> seen;
  int pages = 0;
  for (;;) {
    auto p = store_->query(q);
    ASSERT_TRUE(p) << p.error().describe();
    for (const auto& e : p->events) seen.push_back(e.id);
    ++pages;
    if (pages == 2) {
      // New events arrive while the client pages, newer and (clock skew) older than its cursor.
      core::Event newer = makeEvent(1000);
      core::Event older = makeEvent(1001);
      older.start = kT0 - 1h;
      ASSERT_TRUE(store_->store(newer));
      ASSERT_TRUE(store_->store(older));
    }
    if (p->nextCursor.empty()) break;
    q.cursor = p->nextCursor;
  }
  EXPECT_EQ(pages, 8);
  // Every pre-existing event exactly once, in order; the newer one is not seen (it sorts before
  // the cursor), the older one is (it sorts after).
  ASSERT_EQ(seen.size(), 51u);
  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), 51u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(seen[i], "ev-" + std::to_string(49 - i));
  EXPECT_EQ(seen.back(), "ev-1001");
}

TEST_P(EventStoreTest, SameStartTimeOrdersByInsertion) {
  std::vector<core::Event> evs;
  for (int i = 0; i < 5; ++i) {
    core::Event e = makeEvent(i);
    e.start = kT0;
    evs.push_back(e);
  }
  ASSERT_TRUE(store_->storeMany(evs));
  EventQuery q;
  q.limit = 2;
  q.newestFirst = false;
  std::vector<std::string> seen;
  for (;;) {
    auto p = store_->query(q);
    ASSERT_TRUE(p);
    for (const auto& e : p->events) seen.push_back(e.id);
    if (p->nextCursor.empty()) break;
    q.cursor = p->nextCursor;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"ev-0", "ev-1", "ev-2", "ev-3", "ev-4"}));
}

// A severity bound is queried one severity value at a time and merged (event_store.cpp): the
// merged pages must keep the one order and the cursor must walk them without loss or repeat.
TEST_P(EventStoreTest, SeverityBoundPagesInOrderAcrossValues) {
  fill(50);  // severity 1 + i % 4
  for (bool newestFirst : {true, false}) {
    EventQuery q;
    q.limit = 7;
    q.minSeverity = 2;
    q.newestFirst = newestFirst;
    std::vector<std::string> seen;
    for (;;) {
      auto p = store_->query(q);
      ASSERT_TRUE(p) << p.error().describe();
      for (const auto& e : p->events) {
        EXPECT_GE(e.severity, 2) << e.id;
        seen.push_back(e.id);
      }
      if (p->nextCursor.empty()) break;
      q.cursor = p->nextCursor;
    }
    std::vector<std::string> expected;
    for (int i = 0; i < 50; ++i) {
      const int k = newestFirst ? 49 - i : i;
      if (k % 4 != 0) expected.push_back("ev-" + std::to_string(k));
    }
    EXPECT_EQ(seen, expected) << (newestFirst ? "newest first" : "oldest first");
  }

  EventQuery q;
  q.limit = 1000;
  q.minSeverity = 2;
  q.maxSeverity = 3;
  q.types = {core::EventType::kIntrusion};  // even i: severity 1 or 3
  auto r = ids(q);
  ASSERT_EQ(r.size(), 12u);  // i % 4 == 2 below 50: 2, 6, ..., 46
  EXPECT_EQ(r.front(), "ev-46");
  EXPECT_EQ(r.back(), "ev-2");

  q.minSeverity = 4;  // intrusions are never 4 here: an empty page, not an error
  q.maxSeverity = 4;
  EXPECT_TRUE(ids(q).empty());
  q.types.clear();
  q.minSeverity = 4;
  q.maxSeverity = 2;  // an empty range
  EXPECT_TRUE(ids(q).empty());
}

TEST_P(EventStoreTest, GetManyFindsKnownIdsAcrossStatementChunks) {
  fill(1200);  // more ids than one statement takes (500)
  std::vector<std::string> wanted;
  for (int i = 0; i < 1200; i += 2) wanted.push_back("ev-" + std::to_string(i));
  wanted.push_back("ev-missing");
  wanted.push_back("ev-4");  // asked twice: still one entry
  auto got = store_->getMany(wanted);
  ASSERT_TRUE(got) << got.error().describe();
  EXPECT_EQ(got->size(), 600u);
  EXPECT_EQ(got->count("ev-missing"), 0u);
  ASSERT_EQ(got->count("ev-1198"), 1u);
  EXPECT_EQ(got->at("ev-1198").camera.str(), makeEvent(1198).camera.str());
  EXPECT_EQ(got->at("ev-1198").attributes.at("n"), "1198");
  EXPECT_EQ(got->count("ev-1"), 0u);
  auto none = store_->getMany({});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, EventStoreTest, ::testing::Values("sqlite", "postgresql"));

// PostgreSQL may switch a prepared statement to a generic plan, one that knows no parameter
// values, after five executions. The best plan of an event search depends on the values (a
// township over one day: walk events_start; generic: walk the township's whole year in
// events_division_start, 100-480 ms at 2 M events), so the backend's connections plan every
// execution with its values (db_postgres.cpp). Seen here through the module's own connection.
TEST(PostgresEventQueryTest, RepeatedStatementsArePlannedWithTheirValues) {
  TempDir dir;
  auto db = testing::openBackend("postgresql", dir);
  ASSERT_TRUE(db) << db.error().describe();
  ASSERT_NO_FATAL_FAILURE(storeEvents(*db, 50));
  auto& raw = (*db)->db();
  ASSERT_TRUE(raw.execScript(
      "PREPARE township (bigint, bigint, text, text) AS SELECT seq FROM events WHERE "
      "start_us >= $1 AND start_us < $2 AND division >= $3 AND division < $4 "
      "ORDER BY start_us DESC, seq DESC LIMIT 101"));
  const int64_t t0 = core::toUnixMicros(kT0);
  for (int i = 0; i < 8; ++i) {
    const std::string begin = std::to_string(t0 + int64_t{i} * 1'000'000);
    auto rows = raw.query("EXPLAIN EXECUTE township (" + begin + ", " +
                          std::to_string(t0 + 3'600'000'000) + ", '510603101', '510603102')");
    ASSERT_TRUE(rows) << rows.error().describe();
    std::string plan;
    for (const auto& r : *rows) plan += r.str(0) + "\n";
    EXPECT_NE(plan.find(begin), std::string::npos) << "execution " << i + 1 << ":\n" << plan;
    EXPECT_EQ(plan.find("$1"), std::string::npos) << "execution " << i + 1 << ":\n" << plan;
  }
  auto mode = raw.query("SHOW plan_cache_mode");
  ASSERT_TRUE(mode);
  EXPECT_EQ((*mode)[0].str(0), "force_custom_plan");
}

}  // namespace
}  // namespace sharpeyes::storage
