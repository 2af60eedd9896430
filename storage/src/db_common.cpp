#include <charconv>
#include <cstdlib>

#include "db.h"

namespace sharpeyes::storage::detail {

int64_t Row::i64(size_t i) const {
  const Value& v = values_.at(i);
  if (const auto* p = std::get_if<int64_t>(&v)) return *p;
  if (const auto* p = std::get_if<double>(&v)) return static_cast<int64_t>(*p);
  if (const auto* p = std::get_if<std::string>(&v)) {
    int64_t out = 0;
    std::from_chars(p->data(), p->data() + p->size(), out);
    return out;
  }
  return 0;
}

double Row::f64(size_t i) const {
  const Value& v = values_.at(i);
  if (const auto* p = std::get_if<double>(&v)) return *p;
  if (const auto* p = std::get_if<int64_t>(&v)) return static_cast<double>(*p);
  if (const auto* p = std::get_if<std::string>(&v)) return std::strtod(p->c_str(), nullptr);
  return 0;
}

std::string Row::str(size_t i) const {
  const Value& v = values_.at(i);
  if (const auto* p = std::get_if<std::string>(&v)) return *p;
  if (const auto* p = std::get_if<int64_t>(&v)) return std::to_string(*p);
  if (const auto* p = std::get_if<double>(&v)) return std::to_string(*p);
  return {};
}

core::Result<std::vector<Row>> Db::queryCancellable(const std::string& sql,
                                                    const std::stop_token& stop) {
  if (stop.stop_requested()) return core::makeError(core::ErrorCode::kCancelled, "cancelled");
  return query(sql, {});
}

core::Result<std::unique_ptr<Tx>> Tx::begin(Db& db) {
  std::unique_ptr<Tx> tx(new Tx(db));
  if (db.txDepth_ > 0) {
    tx->nested_ = true;
    ++db.txDepth_;
    return tx;
  }
  // SQLite: IMMEDIATE takes the write lock now, so a reader upgraded mid-transaction never
  // fails with SQLITE_BUSY; PostgreSQL's default isolation is enough for our writes.
  auto r = db.execScript(db.dialect() == Dialect::kSqlite ? "BEGIN IMMEDIATE" : "BEGIN");
  if (!r) return r.error();
  db.txDepth_ = 1;
  db.txRollbackOnly_ = false;
  return tx;
}

Tx::~Tx() {
  if (done_) return;
  --db_.txDepth_;
  if (nested_) {
    db_.txRollbackOnly_ = true;
  } else {
    (void)db_.execScript("ROLLBACK");
  }
}

core::Result<void> Tx::commit() {
  done_ = true;
  --db_.txDepth_;
  if (nested_) return {};
  if (db_.txRollbackOnly_) {
    (void)db_.execScript("ROLLBACK");
    return core::makeError(core::ErrorCode::kInternal, "transaction rolled back: a step failed");
  }
  auto r = db_.execScript("COMMIT");
  if (!r) (void)db_.execScript("ROLLBACK");  // a failed COMMIT may leave it open (PostgreSQL)
  return r;
}

}  // namespace sharpeyes::storage::detail
