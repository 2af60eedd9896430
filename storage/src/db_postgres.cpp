// PostgreSQL backend of the internal SQL layer (libpq). Statements are prepared once per
// connection under generated names; parameters travel as text.
#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <vector>

#include "db.h"

namespace sharpeyes::storage::detail {
namespace {

using core::ErrorCode;
using core::makeError;

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

struct CancelDeleter {
  void operator()(PGcancel* c) const { PQfreeCancel(c); }
};
using PgCancel = std::unique_ptr<PGcancel, CancelDeleter>;

// An eventfd that a stop callback signals so that a thread waiting in poll() wakes at once.
class WakeFd {
 public:
  WakeFd() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~WakeFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  WakeFd(const WakeFd&) = delete;
  WakeFd& operator=(const WakeFd&) = delete;
  int fd() const { return fd_; }
  void signal() const {  // any thread; async-signal-safe
    const uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(fd_, &one, sizeof one);
  }
  void drain() const {
    uint64_t count = 0;
    [[maybe_unused]] auto n = ::read(fd_, &count, sizeof count);
  }

 private:
  int fd_;
};

ErrorCode codeOf(const PGresult* r) {
  const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  if (state == nullptr) return ErrorCode::kUnavailable;
  const std::string s = state;
  if (s.rfind("23", 0) == 0) return ErrorCode::kAlreadyExists;  // integrity constraint
  if (s == "53100") return ErrorCode::kResourceExhausted;       // disk full
  if (s.rfind("08", 0) == 0) return ErrorCode::kUnavailable;    // connection
  if (s.rfind("42", 0) == 0) return ErrorCode::kInvalidArgument;
  if (s.rfind("XX", 0) == 0) return ErrorCode::kCorrupt;
  if (s == "57014") return ErrorCode::kCancelled;  // query_canceled: our cancel request
  return ErrorCode::kInternal;
}

std::string redactConninfo(const std::string& conninfo) {
  // Drop any password=... or user:password@ so that describe() is safe to log.
  std::string out = conninfo;
  if (auto p = out.find("password="); p != std::string::npos) {
    auto e = out.find(' ', p);
    out.replace(p, e == std::string::npos ? std::string::npos : e - p, "password=***");
  }
  if (auto scheme = out.find("://"); scheme != std::string::npos) {
    auto at = out.find('@', scheme);
    auto colon = out.find(':', scheme + 3);
    if (at != std::string::npos && colon != std::string::npos && colon < at) {
      out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  return out;
}

class PostgresDb final : public Db {
 public:
  PostgresDb(PGconn* conn, std::string desc) : conn_(conn), desc_(std::move(desc)) {}
  ~PostgresDb() override { PQfinish(conn_); }

  Dialect dialect() const override { return Dialect::kPostgres; }
  std::string describe() const override { return "postgresql:" + desc_; }

  core::Result<void> execScript(const std::string& sql) override {
    std::lock_guard lock(mutex());
    PgResult r(PQexec(conn_, sql.c_str()));
    const auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return fail(r.get());
    return {};
  }

  core::Result<std::vector<Row>> query(const std::string& sql,
                                       const std::vector<Value>& params) override {
    std::lock_guard lock(mutex());
    auto r = run(sql, params);
    if (!r) return r.error();
    return toRows(r->get());
  }

  core::Result<int64_t> execute(const std::string& sql, const std::vector<Value>& params) override {
    std::lock_guard lock(mutex());
    auto r = run(sql, params);
    if (!r) return r.error();
    const char* n = PQcmdTuples(r->get());
    return static_cast<int64_t>(n != nullptr && *n != '\0' ? std::stoll(n) : 0);
  }

  // The statement goes out with PQsendQuery and this thread waits in poll() on the server's
  // socket and on a WakeFd that `stop`'s callback signals. On a stop it sends libpq's cancel
  // request, and again every second while the answer is still out: a server that receives the
  // cancel before it has read the statement ignores it, and the statement would run to its end.
  core::Result<std::vector<Row>> queryCancellable(const std::string& sql,
                                                  const std::stop_token& stop) override {
    std::lock_guard lock(mutex());
    if (stop.stop_requested()) return makeError(ErrorCode::kCancelled, "postgresql: cancelled");
    if (auto c = ensureConnected(); !c) return c.error();
    PgCancel cancel(PQgetCancel(conn_));
    const WakeFd wake;
    if (!cancel || wake.fd() < 0) {
      return makeError(ErrorCode::kInternal, "postgresql: cannot prepare a cancel request");
    }
    if (PQsendQuery(conn_, sql.c_str()) == 0) return fail(nullptr);
    {
      const std::stop_callback onStop(stop, [&wake] { wake.signal(); });
      using Clock = std::chrono::steady_clock;
      std::optional<Clock::time_point> lastCancel;
      constexpr auto kResend = std::chrono::seconds(1);
      while (true) {
        if (PQconsumeInput(conn_) == 0) break;  // connection lost: PQgetResult reports it
        if (PQisBusy(conn_) == 0) break;
        if (stop.stop_requested() && (!lastCancel || Clock::now() - *lastCancel >= kResend)) {
          std::array<char, 256> err{};
          // A failed cancel request (server gone) shows in the statement's own result.
          PQcancel(cancel.get(), err.data(), static_cast<int>(err.size()));
          lastCancel = Clock::now();
        }
        std::array<pollfd, 2> fds{{{PQsocket(conn_), POLLIN, 0}, {wake.fd(), POLLIN, 0}}};
        const int timeout = lastCancel ? static_cast<int>(kResend.count() * 1000) : -1;
        if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) {
          // Cannot wait for a stop any more: cancel now and take the answer blocking.
          std::array<char, 256> err{};
          PQcancel(cancel.get(), err.data(), static_cast<int>(err.size()));
          break;
        }
        if ((fds[1].revents & POLLIN) != 0) wake.drain();
      }
    }
    // Every result of the statement is read, so the connection is ready for the next one.
    std::optional<core::Error> error;
    std::vector<Row> rows;
    while (PGresult* raw = PQgetResult(conn_)) {
      const PgResult r(raw);
      const auto st = PQresultStatus(r.get());
      if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        if (!error) error = fail(r.get());
      } else if (!error) {
        rows = toRows(r.get());
      }
    }
    if (error) return *error;
    return rows;
  }

  core::Result<std::string> integrityCheck() override {
    auto rows = query("SELECT 1", {});
    if (!rows) return rows.error();
    return std::string("ok");
  }

 private:
  core::Error fail(const PGresult* r) {
    std::string msg = r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(conn_);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return makeError(codeOf(r), "postgresql: " + msg);
  }

  static std::vector<Row> toRows(const PGresult* res) {
    const int n = PQntuples(res);
    const int cols = PQnfields(res);
    std::vector<Row> rows;
    rows.reserve(n);
    for (int i = 0; i < n; ++i) {
      std::vector<Value> values;
      values.reserve(cols);
      for (int c = 0; c < cols; ++c) {
        if (PQgetisnull(res, i, c)) {
          values.emplace_back(std::monostate{});
        } else {
          values.emplace_back(std::string(PQgetvalue(res, i, c), PQgetlength(res, i, c)));
        }
      }
      rows.emplace_back(std::move(values));
    }
    return rows;
  }

  core::Result<void> ensureConnected() {
    if (PQstatus(conn_) != CONNECTION_OK) {
      PQreset(conn_);
      if (PQstatus(conn_) != CONNECTION_OK) {
        return makeError(ErrorCode::kUnavailable, "postgresql: connection lost");
      }
      prepared_.clear();
    }
    return {};
  }

  core::Result<PgResult> run(const std::string& sql, const std::vector<Value>& params) {
    if (auto c = ensureConnected(); !c) return c.error();
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      std::string name = "s" + std::to_string(prepared_.size() + 1);
      PgResult p(PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr));
      if (PQresultStatus(p.get()) != PGRES_COMMAND_OK) return fail(p.get());
      it = prepared_.emplace(sql, std::move(name)).first;
    }
    std::vector<std::string> text(params.size());
    std::vector<const char*> ptrs(params.size(), nullptr);
    for (size_t i = 0; i < params.size(); ++i) {
      const Value& v = params[i];
      if (const auto* p = std::get_if<int64_t>(&v)) {
        text[i] = std::to_string(*p);
      } else if (const auto* p = std::get_if<double>(&v)) {
        text[i] = std::to_string(*p);
      } else if (const auto* p = std::get_if<std::string>(&v)) {
        text[i] = *p;
      } else {
        continue;  // NULL
      }
      ptrs[i] = text[i].c_str();
    }
    PgResult r(PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(ptrs.size()), ptrs.data(),
                              nullptr, nullptr, 0));
    const auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return fail(r.get());
    return r;
  }

  PGconn* conn_;
  std::string desc_;
  std::map<std::string, std::string> prepared_;
};

}  // namespace

core::Result<std::unique_ptr<Db>> openPostgres(const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn);
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    PQfinish(conn);
    return makeError(ErrorCode::kUnavailable,
                     "cannot connect to " + redactConninfo(conninfo) + ": " + msg);
  }
  // Notices (e.g. "relation already exists, skipping") are not errors: keep them out of stderr.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  auto db = std::make_unique<PostgresDb>(conn, redactConninfo(conninfo));
  // Commits wait for the WAL flush (the server default, stated here so that it is not lost).
  // Every statement is planned with its parameters' values (force_custom_plan): after five
  // executions PostgreSQL otherwise may switch a prepared statement to a generic plan that knows
  // no values, and the best plan of our searches depends on them (a township prefix over one
  // day went from events_start, 2 ms, to walking the township's whole year in
  // events_division_start, 100-480 ms, at 2 M events). Planning costs 0.1-0.3 ms per query.
  auto r = db->execScript(
      "SET synchronous_commit = on; SET client_min_messages = warning; "
      "SET plan_cache_mode = force_custom_plan");
  if (!r) return r.error();
  return std::unique_ptr<Db>(std::move(db));
}

}  // namespace sharpeyes::storage::detail
