#include "sharpeyes/storage/database.h"

#include <spdlog/spdlog.h>

#include "db.h"

namespace sharpeyes::storage {

Database::Database(std::unique_ptr<detail::Db> db) : db_(std::move(db)) {}
Database::~Database() = default;

core::Result<std::shared_ptr<Database>> Database::open(const std::string& url) {
  core::Result<std::unique_ptr<detail::Db>> db = core::makeError(core::ErrorCode::kInternal, "");
  const bool postgres = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0 ||
                        url.find("host=") != std::string::npos ||
                        url.find("dbname=") != std::string::npos;
  if (postgres) {
    db = detail::openPostgres(url);
  } else {
    const std::string path = url.rfind("sqlite:", 0) == 0 ? url.substr(7) : url;
    if (path.empty()) {
      return core::makeError(core::ErrorCode::kInvalidArgument, "empty database path");
    }
    db = detail::openSqlite(path);
  }
  if (!db) return db.error();
  auto migrated = detail::migrate(**db);
  if (!migrated) return migrated.error();
  return std::shared_ptr<Database>(new Database(std::move(*db)));
}

std::string Database::backend() const {
  return db_->dialect() == detail::Dialect::kSqlite ? "sqlite" : "postgresql";
}

std::string Database::describe() const {
  return db_->describe();
}

int Database::schemaVersion() const {
  auto rows = db_->query("SELECT MAX(version) FROM schema_migrations", {});
  if (!rows || rows->empty()) return 0;
  return static_cast<int>((*rows)[0].i64(0));
}

core::Result<std::string> Database::integrityCheck() {
  return db_->integrityCheck();
}

core::Result<int64_t> Database::readEventsIntoCache(const std::stop_token& stop) {
  if (stop.stop_requested()) {
    return core::makeError(core::ErrorCode::kCancelled, "cache warm-up cancelled before it began");
  }
  if (db_->dialect() == detail::Dialect::kSqlite) {
    // The events table and each of its indexes, page by page, through SQLite's dbstat table
    // (its name = constraint walks that one B-tree only): the pages land in the OS cache, where
    // the gateway's own connection finds them. Returns the pages read.
    auto names = db_->query(
        "SELECT name FROM sqlite_master WHERE tbl_name = 'events' AND type IN ('table', 'index') "
        "ORDER BY type DESC, name",
        {});
    if (!names) return names.error();
    int64_t pages = 0;
    for (const auto& n : *names) {
      if (stop.stop_requested()) {
        return core::makeError(core::ErrorCode::kCancelled, "cache warm-up cancelled");
      }
      std::string quoted;  // a name from our own schema, quoted as an SQL string all the same
      for (const char c : n.str(0)) quoted += c == '\'' ? std::string("''") : std::string(1, c);
      auto read =
          db_->queryCancellable("SELECT COUNT(*) FROM dbstat WHERE name = '" + quoted + "'", stop);
      if (!read) return read.error();
      pages += read->empty() ? 0 : (*read)[0].i64(0);
    }
    return pages;
  }
  auto ext = db_->query("SELECT 1 FROM pg_extension WHERE extname = 'pg_prewarm'", {});
  if (!ext) return ext.error();
  if (ext->empty()) {
    return core::makeError(
        core::ErrorCode::kUnsupported,
        "the pg_prewarm extension is not installed (CREATE EXTENSION pg_prewarm)");
  }
  // 'read' goes through the OS cache, which holds far more than shared_buffers; the table first,
  // then every index on it. pg_prewarm checks for a cancel at every block.
  auto rows = db_->queryCancellable(
      "SELECT COALESCE(SUM(pg_prewarm(c.oid::regclass, 'read')), 0) FROM pg_class c "
      "WHERE c.oid = 'events'::regclass OR c.oid IN (SELECT indexrelid FROM pg_index "
      "WHERE indrelid = 'events'::regclass)",
      stop);
  if (!rows) return rows.error();
  return rows->empty() ? int64_t{0} : (*rows)[0].i64(0);
}

}  // namespace sharpeyes::storage
