#pragma once
// Opens a fresh, empty database on either backend for one test.
#include <libpq-fe.h>

#include <memory>
#include <string>

#include "db.h"
#include "sharpeyes/core/util.h"
#include "sharpeyes/storage/database.h"
#include "test_support.h"

namespace sharpeyes::storage::testing {

// For PostgreSQL: a new database on the fixture's server, so tests never see each other's rows.
inline core::Result<std::string> freshPostgresDatabase() {
  const std::string base = postgresConninfo();
  if (base.empty()) {
    return core::makeError(core::ErrorCode::kUnavailable,
                           "no PostgreSQL server: run through CTest (fixture storage_pg) or set "
                           "SHARPEYES_TEST_PG to a libpq conninfo");
  }
  PGconn* c = PQconnectdb((base + " dbname=postgres").c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(c);
    PQfinish(c);
    return core::makeError(core::ErrorCode::kUnavailable, msg);
  }
  const std::string name = "t_" + core::newId().substr(0, 16);
  PGresult* r = PQexec(c, ("CREATE DATABASE " + name).c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  std::string msg = PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
  if (!ok) return core::makeError(core::ErrorCode::kUnavailable, msg);
  return base + " dbname=" + name;
}

// The URL of a fresh, empty database on either backend (SQLite: `file` in `dir`), for a test
// that opens it more than once (an upgrade, a second connection).
inline core::Result<std::string> freshBackendUrl(const std::string& backend, const TempDir& dir,
                                                 const std::string& file = "index.db") {
  if (backend == "postgresql") return freshPostgresDatabase();
  return "sqlite:" + (dir.path() / file).string();
}

inline core::Result<std::shared_ptr<Database>> openBackend(const std::string& backend,
                                                           const TempDir& dir) {
  auto url = freshBackendUrl(backend, dir);
  if (!url) return url.error();
  return Database::open(*url);
}

// Makes every `event` ("INSERT", "DELETE", ...) on `table` fail with "refused" until
// allowWrites(): one step of a storage operation failing for real, on either backend.
inline core::Result<void> refuseWrites(Database& db, const std::string& backend,
                                       const std::string& table, const std::string& event) {
  const std::string name = "refuse_" + table;
  if (backend == "sqlite") {
    auto t = db.db().execute("CREATE TRIGGER " + name + " BEFORE " + event + " ON " + table +
                             " BEGIN SELECT RAISE(ABORT, 'refused'); END");
    if (!t) return t.error();
    return {};
  }
  auto f = db.db().execute(
      "CREATE OR REPLACE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RAISE "
      "EXCEPTION 'refused'; END$$");
  if (!f) return f.error();
  auto t = db.db().execute("CREATE TRIGGER " + name + " BEFORE " + event + " ON " + table +
                           " FOR EACH ROW EXECUTE FUNCTION refuse()");
  if (!t) return t.error();
  return {};
}

inline core::Result<void> allowWrites(Database& db, const std::string& backend,
                                      const std::string& table) {
  const std::string name = "refuse_" + table;
  auto d = db.db().execute(backend == "sqlite" ? "DROP TRIGGER " + name
                                               : "DROP TRIGGER " + name + " ON " + table);
  if (!d) return d.error();
  return {};
}

}  // namespace sharpeyes::storage::testing
