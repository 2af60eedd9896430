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

  detail::Db& db() { return *db_; }  // for the stores in this module only

 private:
  explicit Database(std::unique_ptr<detail::Db> db);
  std::unique_ptr<detail::Db> db_;
};

}  // namespace sharpeyes::storage
