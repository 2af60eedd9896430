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

inline core::Result<std::shared_ptr<Database>> openBackend(const std::string& backend,
                                                           const TempDir& dir) {
  if (backend == "postgresql") {
    auto url = freshPostgresDatabase();
    if (!url) return url.error();
    return Database::open(*url);
  }
  return Database::open("sqlite:" + (dir.path() / "index.db").string());
}

}  // namespace sharpeyes::storage::testing
