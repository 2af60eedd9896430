// SQLite backend of the internal SQL layer.
#include <sqlite3.h>

#include <cctype>
#include <map>
#include <mutex>
#include <stop_token>

#include "db.h"

namespace sharpeyes::storage::detail {
namespace {

using core::ErrorCode;
using core::makeError;

// $12 -> ?12, so that one statement text serves both backends.
std::string toSqlitePlaceholders(const std::string& sql) {
  std::string out = sql;
  bool inQuote = false;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '\'') inQuote = !inQuote;
    if (!inQuote && out[i] == '$' && i + 1 < out.size() && std::isdigit(out[i + 1])) out[i] = '?';
  }
  return out;
}

class SqliteDb final : public Db {
 public:
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  ~SqliteDb() override {
    for (auto& [_, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
  }

  Dialect dialect() const override { return Dialect::kSqlite; }
  std::string describe() const override { return "sqlite:" + path_; }

  core::Result<void> execScript(const std::string& sql) override {
    std::lock_guard lock(mutex());
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err != nullptr ? err : sqlite3_errmsg(db_);
      sqlite3_free(err);
      return makeError(codeOf(sqlite3_extended_errcode(db_)), "sqlite: " + msg);
    }
    return {};
  }

  core::Result<std::vector<Row>> query(const std::string& sql,
                                       const std::vector<Value>& params) override {
    std::lock_guard lock(mutex());
    auto stmt = prepare(sql, params);
    if (!stmt) return stmt.error();
    std::vector<Row> rows;
    for (;;) {
      const int rc = sqlite3_step(*stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return fail(*stmt);
      const int n = sqlite3_column_count(*stmt);
      std::vector<Value> values;
      values.reserve(n);
      for (int c = 0; c < n; ++c) {
        switch (sqlite3_column_type(*stmt, c)) {
          case SQLITE_INTEGER:
            values.emplace_back(static_cast<int64_t>(sqlite3_column_int64(*stmt, c)));
            break;
          case SQLITE_FLOAT: values.emplace_back(sqlite3_column_double(*stmt, c)); break;
          case SQLITE_NULL: values.emplace_back(std::monostate{}); break;
          default: {
            const auto* text = sqlite3_column_text(*stmt, c);
            values.emplace_back(
                std::string(reinterpret_cast<const char*>(text), sqlite3_column_bytes(*stmt, c)));
          }
        }
      }
      rows.emplace_back(std::move(values));
    }
    sqlite3_reset(*stmt);
    return rows;
  }

  core::Result<int64_t> execute(const std::string& sql, const std::vector<Value>& params) override {
    std::lock_guard lock(mutex());
    auto stmt = prepare(sql, params);
    if (!stmt) return stmt.error();
    int rc;
    while ((rc = sqlite3_step(*stmt)) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) return fail(*stmt);
    sqlite3_reset(*stmt);
    return static_cast<int64_t>(sqlite3_changes(db_));
  }

  // sqlite3_interrupt() from the stopping thread ends the running statement. Registered under
  // the connection's mutex, so it can only ever interrupt this statement, never another
  // thread's on the same connection.
  core::Result<std::vector<Row>> queryCancellable(const std::string& sql,
                                                  const std::stop_token& stop) override {
    std::lock_guard lock(mutex());
    if (stop.stop_requested()) return makeError(ErrorCode::kCancelled, "cancelled");
    const std::stop_callback interrupt(stop, [this] { sqlite3_interrupt(db_); });
    auto rows = query(sql, {});
    if (!rows && stop.stop_requested()) {
      return makeError(ErrorCode::kCancelled, "sqlite: statement interrupted (cancelled)");
    }
    return rows;
  }

  core::Result<std::string> integrityCheck() override {
    auto rows = query("PRAGMA integrity_check", {});
    if (!rows) return rows.error();
    if (rows->empty()) return makeError(ErrorCode::kInternal, "integrity_check returned nothing");
    return (*rows)[0].str(0);
  }

 private:
  static ErrorCode codeOf(int rc) {
    switch (rc & 0xff) {
      case SQLITE_CONSTRAINT: return ErrorCode::kAlreadyExists;
      case SQLITE_FULL: return ErrorCode::kResourceExhausted;
      case SQLITE_CORRUPT:
      case SQLITE_NOTADB: return ErrorCode::kCorrupt;
      case SQLITE_BUSY:
      case SQLITE_LOCKED: return ErrorCode::kUnavailable;
      case SQLITE_IOERR:
      case SQLITE_CANTOPEN: return ErrorCode::kIo;
      case SQLITE_PERM:
      case SQLITE_READONLY: return ErrorCode::kPermissionDenied;
      default: return ErrorCode::kInternal;
    }
  }

  core::Error fail(sqlite3_stmt* stmt) {
    const int rc = sqlite3_extended_errcode(db_);
    std::string msg = sqlite3_errmsg(db_);
    sqlite3_reset(stmt);
    return makeError(codeOf(rc), "sqlite: " + msg);
  }

  core::Result<sqlite3_stmt*> prepare(const std::string& sql, const std::vector<Value>& params) {
    sqlite3_stmt* stmt = nullptr;
    if (auto it = cache_.find(sql); it != cache_.end()) {
      stmt = it->second;
      sqlite3_reset(stmt);
      sqlite3_clear_bindings(stmt);
    } else {
      const std::string text = toSqlitePlaceholders(sql);
      if (sqlite3_prepare_v3(db_, text.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) !=
          SQLITE_OK) {
        return makeError(codeOf(sqlite3_extended_errcode(db_)),
                         std::string("sqlite: ") + sqlite3_errmsg(db_) + " in: " + sql);
      }
      cache_.emplace(sql, stmt);
    }
    for (size_t i = 0; i < params.size(); ++i) {
      const int idx = static_cast<int>(i) + 1;
      const Value& v = params[i];
      int rc = SQLITE_OK;
      if (const auto* p = std::get_if<int64_t>(&v)) {
        rc = sqlite3_bind_int64(stmt, idx, *p);
      } else if (const auto* p = std::get_if<double>(&v)) {
        rc = sqlite3_bind_double(stmt, idx, *p);
      } else if (const auto* p = std::get_if<std::string>(&v)) {
        rc = sqlite3_bind_text(stmt, idx, p->data(), static_cast<int>(p->size()), SQLITE_TRANSIENT);
      } else {
        rc = sqlite3_bind_null(stmt, idx);
      }
      if (rc != SQLITE_OK) return makeError(ErrorCode::kInternal, "sqlite: bind failed");
    }
    return stmt;
  }

  sqlite3* db_;
  std::string path_;
  std::map<std::string, sqlite3_stmt*> cache_;
};

}  // namespace

core::Result<std::unique_ptr<Db>> openSqlite(const std::string& path) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw != nullptr ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close_v2(raw);
    return makeError(ErrorCode::kIo, "cannot open index " + path + ": " + msg);
  }
  auto db = std::make_unique<SqliteDb>(raw, path);
  // WAL: readers (API, CLI) never block the recorder's commits. synchronous=FULL: a commit
  // that returned survives power loss. NORMAL would only risk losing the newest rows (not
  // corruption), which reconcile could re-derive for segments, but not for holds and audit
  // entries; at ~10 commits/s for 100 cameras the extra fsync per commit costs nothing.
  sqlite3_busy_timeout(raw, 10000);
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                             "PRAGMA foreign_keys=ON", "PRAGMA temp_store=MEMORY"}) {
    auto r = db->query(pragma, {});
    if (!r) return r.error();
  }
  auto mode = db->query("PRAGMA journal_mode", {});
  if (!mode) return mode.error();
  if (mode->empty() || (*mode)[0].str(0) != "wal") {
    return makeError(ErrorCode::kUnsupported, "index " + path + " cannot use WAL mode");
  }
  return std::unique_ptr<Db>(std::move(db));
}

}  // namespace sharpeyes::storage::detail
