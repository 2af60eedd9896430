#pragma once
// Database: one connection to the storage database, shared by SegmentIndex, EventStore,
// CaseStore, AlertStore and ClipStore. SQLite (embedded default, WAL) or PostgreSQL (libpq) — the
// same schema, created and upgraded by versioned migrations when the database is opened.
//
// Thread-safety: every method may be called from any thread; statements on one Database are
// serialised (one connection). Owned through shared_ptr by every store opened on it.

#include <cstdint>
#include <memory>
#include <stop_token>
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
  // path. kUnsupported without the extension.
  //
  // SQLite: reads every page of the events table and its indexes (dbstat) into the OS cache and
  // returns the pages read. A database larger than memory has its event pages evicted by the
  // segment index's traffic: 100 cameras x 100 days (42.5 GB on a 24 GB machine) gave cold event
  // query p99 19-26 ms per kind against ~1 ms warm (docs/benchmarks.md). A stop interrupts the
  // running read (sqlite3_interrupt) and returns kCancelled.
  //
  // `stop`: a request_stop() from any other thread ends the reads early (libpq's cancel request
  // to the server) and this call returns kCancelled within about a second, the connection still
  // usable; a stop already requested returns kCancelled before anything is sent. A gateway that
  // stops must not wait for ~20 s of reads it no longer needs. Reads that finish before the
  // cancel lands return their count as usual.
  core::Result<int64_t> readEventsIntoCache(const std::stop_token& stop = {});

  detail::Db& db() { return *db_; }  // for the stores in this module only

 private:
  explicit Database(std::unique_ptr<detail::Db> db);
  std::unique_ptr<detail::Db> db_;
};

}  // namespace sharpeyes::storage
