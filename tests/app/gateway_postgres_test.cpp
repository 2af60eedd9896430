// The gateway on PostgreSQL (the storage tests' server, CTest fixture storage_pg). At start it
// reads the event relations into the server's cache on a connection of its own (~20 s for 7 GB);
// a gateway that stops must cancel those reads, not wait for them.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "process.h"
#include "sharpeyes/core/util.h"
#include "sharpeyes/storage/database.h"
#include "test_support.h"

namespace sharpeyes::app {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
using sharpeyes::testing::ChildProcess;
using sharpeyes::testing::waitFor;

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using Conn = std::unique_ptr<PGconn, ConnDeleter>;

// Runs `sql`; "" on success, else the server's message.
std::string exec(PGconn* c, const std::string& sql) {
  PGresult* r = PQexec(c, sql.c_str());
  const auto st = PQresultStatus(r);
  std::string err = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? "" : PQresultErrorMessage(r);
  PQclear(r);
  return err;
}

// The first column of the first row of `sql`, or "" on any failure.
std::string scalar(PGconn* c, const std::string& sql) {
  PGresult* r = PQexec(c, sql.c_str());
  std::string out;
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) out = PQgetvalue(r, 0, 0);
  PQclear(r);
  return out;
}

// Another connection holds the events table exclusively, so the warm-up's pg_prewarm waits on
// that lock (seen in pg_stat_activity) however fast the machine reads: without the cancel the
// gateway's stop would wait for as long as the lock is held, i.e. past the test's timeout.
TEST(GatewayPostgresTest, StopCancelsTheCacheWarmUp) {
  const std::string server = storage::testing::postgresConninfo();
  ASSERT_FALSE(server.empty()) << "no PostgreSQL server: run through CTest (fixture storage_pg)";
  const std::string dbname = "gw_" + core::newId().substr(0, 16);
  {
    Conn admin(PQconnectdb((server + " dbname=postgres").c_str()));
    ASSERT_EQ(PQstatus(admin.get()), CONNECTION_OK) << PQerrorMessage(admin.get());
    ASSERT_EQ(exec(admin.get(), "CREATE DATABASE " + dbname), "");
  }
  const std::string url = server + " dbname=" + dbname;
  {
    auto db = storage::Database::open(url);  // the schema, so that the events table exists
    ASSERT_TRUE(db) << db.error().describe();
  }
  Conn holder(PQconnectdb(url.c_str()));
  Conn watcher(PQconnectdb(url.c_str()));
  ASSERT_EQ(PQstatus(holder.get()), CONNECTION_OK);
  ASSERT_EQ(PQstatus(watcher.get()), CONNECTION_OK);
  ASSERT_EQ(exec(holder.get(), "CREATE EXTENSION pg_prewarm"), "");
  ASSERT_EQ(exec(holder.get(), "BEGIN"), "");
  ASSERT_EQ(exec(holder.get(), "LOCK TABLE events IN ACCESS EXCLUSIVE MODE"), "");

  storage::testing::TempDir dir;
  const fs::path config = dir.path() / "gateway.yaml";
  std::ofstream(config) << "gateway:\n  id: gw-pg\n  division: \"510603101000\"\n  data_dir: "
                        << (dir.path() / "data").string()
                        << "\n  http: {address: 127.0.0.1, port: 0}\nstorage: {database: \"" << url
                        << "\"}\ncameras: []\n";
  ChildProcess gw;
  ASSERT_TRUE(gw.start(SHARPEYES_BINARY, {"gateway", "--config", config.string()},
                       (dir.path() / "gateway").string(),
                       {"SHARPEYES_ADMIN_PASSWORD=admin-pass-4711"}));
  ASSERT_TRUE(gw.waitForOutput("listening on", 60s)) << gw.err();
  const bool warming = waitFor(
      [&] {
        return scalar(watcher.get(),
                      "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                      "AND pid <> pg_backend_pid() AND state = 'active' AND "
                      "wait_event_type = 'Lock' AND query LIKE '%pg_prewarm(c.oid%'") == "1";
      },
      60s);
  ASSERT_TRUE(warming) << "the warm-up never reached the lock: " << gw.err();

  gw.kill(SIGTERM);
  const auto code = gw.wait(30s);
  holder.reset();  // the lock goes now whatever happened, so nothing is left waiting on it
  ASSERT_EQ(code, std::optional<int>(0)) << "the gateway did not stop within 30 s: " << gw.err();
  EXPECT_NE(gw.err().find("event cache warm-up cancelled"), std::string::npos) << gw.err();
  EXPECT_EQ(gw.err().find("event cache not warmed"), std::string::npos) << gw.err();
}

}  // namespace
}  // namespace sharpeyes::app
