#pragma once
// Internal: the thin SQL layer both backends implement. Statements are written once with
// PostgreSQL-style placeholders ($1, $2, ...); the SQLite backend rewrites them to ?1, ?2.
// Every statement text is prepared once per connection and cached.
//
// Thread-safety: one connection, serialised by a recursive mutex. A Tx holds the mutex for its
// whole life, so a transaction's statements never interleave with another thread's.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <variant>
#include <vector>

#include "sharpeyes/core/division.h"
#include "sharpeyes/core/result.h"
#include "sharpeyes/core/time.h"

namespace sharpeyes::storage::detail {

// Row timestamps: wall-clock microseconds since the Unix epoch, as every table stores them.
inline int64_t nowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline int64_t micros(core::Duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

using Value = std::variant<std::monostate, int64_t, double, std::string>;

// A statement's parameters, collected while its text is built: add() returns the placeholder,
// so a WHERE clause with optional parts never miscounts its $n.
class Params {
 public:
  std::string add(Value v) {
    values_.push_back(std::move(v));
    return "$" + std::to_string(values_.size());
  }
  // "$3, $4, $5": the placeholders of a list, for IN (...). An empty list gives "".
  template <typename Range, typename ToValue>
  std::string addList(const Range& items, ToValue toValue) {
    std::string out;
    for (const auto& item : items) {
      if (!out.empty()) out += ", ";
      out += add(toValue(item));
    }
    return out;
  }
  const std::vector<Value>& values() const { return values_; }

 private:
  std::vector<Value> values_;
};

// "(column >= $a AND column < $b)": `column` holds `division` or a code below it. A range on
// the code's significant digits instead of LIKE, so both backends use an index on the column.
// An empty (unparsed) code matches nothing: a scope that failed to parse must not widen to all.
inline std::string divisionWithin(const std::string& column, const core::DivisionCode& division,
                                  Params& params) {
  const std::string prefix(division.prefix());
  if (prefix.empty()) return "(1 = 0)";
  std::string upper = prefix;  // the smallest string above every one starting with `prefix`
  upper.back() = static_cast<char>(upper.back() + 1);
  return "(" + column + " >= " + params.add(prefix) + " AND " + column + " < " +
         params.add(std::move(upper)) + ")";
}

// One result row. SQLite fills typed values; PostgreSQL fills text, which the getters convert.
class Row {
 public:
  explicit Row(std::vector<Value> values) : values_(std::move(values)) {}
  size_t size() const { return values_.size(); }
  bool isNull(size_t i) const { return std::holds_alternative<std::monostate>(values_.at(i)); }
  int64_t i64(size_t i) const;
  double f64(size_t i) const;
  std::string str(size_t i) const;

 private:
  std::vector<Value> values_;
};

enum class Dialect { kSqlite, kPostgres };

class Db {
 public:
  virtual ~Db() = default;
  virtual Dialect dialect() const = 0;
  // Runs a script of statements without parameters (migrations).
  virtual core::Result<void> execScript(const std::string& sql) = 0;
  virtual core::Result<std::vector<Row>> query(const std::string& sql,
                                               const std::vector<Value>& params = {}) = 0;
  // Returns the number of rows changed.
  virtual core::Result<int64_t> execute(const std::string& sql,
                                        const std::vector<Value>& params = {}) = 0;
  // query() without parameters that a request_stop() on `stop` from another thread ends early
  // with kCancelled. This base form only checks `stop` before it starts (SQLite has no long
  // statement that needs it); PostgreSQL cancels the running statement on the server.
  virtual core::Result<std::vector<Row>> queryCancellable(const std::string& sql,
                                                          const std::stop_token& stop);
  // "ok" or the first problem found.
  virtual core::Result<std::string> integrityCheck() = 0;
  virtual std::string describe() const = 0;  // for logs; never holds a password

  std::recursive_mutex& mutex() { return mutex_; }

 private:
  friend class Tx;
  std::recursive_mutex mutex_;
  int txDepth_ = 0;              // nested Tx objects join the outermost transaction
  bool txRollbackOnly_ = false;  // an inner Tx failed: the outer one must not commit
};

// A transaction that rolls back unless committed. Holds the connection's mutex throughout.
// A Tx begun inside another joins it: its commit is the outer one's, its failure dooms it.
class Tx {
 public:
  static core::Result<std::unique_ptr<Tx>> begin(Db& db);
  ~Tx();
  core::Result<void> commit();
  Tx(const Tx&) = delete;
  Tx& operator=(const Tx&) = delete;

 private:
  explicit Tx(Db& db) : db_(db), lock_(db.mutex()) {}
  Db& db_;
  std::unique_lock<std::recursive_mutex> lock_;
  bool done_ = false;
  bool nested_ = false;
};

core::Result<std::unique_ptr<Db>> openSqlite(const std::string& path);
core::Result<std::unique_ptr<Db>> openPostgres(const std::string& conninfo);

// Applies every migration not yet recorded in schema_migrations, each in its own transaction.
core::Result<void> migrate(Db& db);
// The newest schema version this build knows.
int latestSchemaVersion();

}  // namespace sharpeyes::storage::detail
