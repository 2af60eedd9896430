#pragma once
// Opens a fresh, empty database on either backend for one test.
#include <libpq-fe.h>

#include <memory>
#include <string>

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

}  // namespace sharpeyes::storage::testing
