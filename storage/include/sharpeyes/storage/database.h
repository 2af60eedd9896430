#pragma once
// Database: one connection to the storage database, shared by SegmentIndex, EventStore,
// CaseStore, AlertStore and ClipStore. SQLite (embedded default, WAL) or PostgreSQL (libpq) — the
// same schema, created and upgraded by versioned migrations when the database is opened.
//
// Thread-safety: every method may be called from any thread; statements on one Database are
// serialised (one connection). Owned through shared_ptr by every store opened on it.

#include <memory>
#include <string>

#include "sharpeyes/core/result.h"

namespace sharpeyes::storage {

namespace detail {
class Db;
}

class Database {
 public:
  // `url`: "postgresql://user@host:port/db", "postgres://...", or a libpq conninfo string
  // ("host=... port=... dbname=...") opens PostgreSQL; "sqlite:PATH" or a plain file path opens
  // (creating as needed) an SQLite file. Migrates the schema before returning.
  static core::Result<std::shared_ptr<Database>> open(const std::string& url);

  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  std::string backend() const;   // "sqlite" | "postgresql"
  std::string describe() const;  // for logs; never contains a password
  int schemaVersion() const;
  // SQLite: PRAGMA integrity_check ("ok" or the first problem). PostgreSQL: "ok" when the
  // server answers and the schema is at the expected version.
  core::Result<std::string> integrityCheck();

  // PostgreSQL with the pg_prewarm extension installed (`CREATE EXTENSION pg_prewarm`, by a
  // superuser): reads the events table and its indexes through the server's OS cache and returns
  // the blocks read. After a restart every first query of a kind otherwise waits for random
  // reads (cold event query p99 44-56 ms at 10 M events; after reading the 7.1 GB of event
  // relations, 21 s of sequential reads, 6.2 ms: docs/benchmarks.md, "Cold start"). It holds this
  // connection for as long as the reads take: call it on a Database of its own, off any request
  // path. kUnsupported on SQLite or without the extension.
  core::Result<int64_t> readEventsIntoCache();

  detail::Db& db() { return *db_; }  // for the stores in this module only

 private:
  explicit Database(std::unique_ptr<detail::Db> db);
  std::unique_ptr<detail::Db> db_;
};

}  // namespace sharpeyes::storage
