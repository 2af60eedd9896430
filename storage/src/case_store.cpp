#include "sharpeyes/storage/case_store.h"

#include <algorithm>
#include <chrono>

#include "db.h"
#include "sharpeyes/core/util.h"
#include "sharpeyes/storage/database.h"

namespace sharpeyes::storage {
namespace {

using core::ErrorCode;
using core::makeError;
using detail::micros;
using detail::nowMicros;
using detail::Row;
using detail::Value;

const std::string kGenesis(64, '0');

std::string auditHash(const std::string& prev, int64_t seq, int64_t atUs, const std::string& actor,
                      const std::string& action, const std::string& target,
                      const std::string& origin, const std::string& details) {
  std::string text = prev;
  for (const std::string& f :
       {std::to_string(seq), std::to_string(atUs), actor, action, target, origin, details}) {
    text.push_back('\x1f');
    text += f;
  }
  return core::sha256Hex(text);
}

Hold toHold(const Row& r) {
  Hold h;
  h.id = r.str(0);
  h.caseId = r.str(1);
  h.camera = core::CameraId::parse(r.str(2)).valueOr(core::CameraId{});
  h.range = {core::fromUnixMicros(r.i64(3)), core::fromUnixMicros(r.i64(4))};
  h.reason = r.str(5);
  h.placedBy = r.str(6);
  h.placed = core::fromUnixMicros(r.i64(7));
  if (!r.isNull(9)) h.lifted = core::fromUnixMicros(r.i64(9));
  h.liftedBy = r.str(8);
  h.liftReason = r.str(10);
  return h;
}

constexpr const char* kHoldColumns =
    "id, case_id, camera, begin_us, end_us, reason, placed_by, placed_us, lifted_by, lifted_us, "
    "lift_reason";

class DbCaseStore final : public CaseStore {
 public:
  explicit DbCaseStore(std::shared_ptr<Database> database)
      : database_(std::move(database)), db_(database_->db()) {}

  core::Result<Case> createCase(const std::string& id, const std::string& title,
                                const Actor& actor) override {
    if (id.empty()) return makeError(ErrorCode::kInvalidArgument, "empty case number");
    auto tx = detail::Tx::begin(db_);
    if (!tx) return tx.error();
    const int64_t now = nowMicros();
    auto r =
        db_.execute("INSERT INTO cases (id, title, created_by, created_us) VALUES ($1, $2, $3, $4)",
                    {id, title, actor.who, now});
    if (!r) {
      if (r.error().code == ErrorCode::kAlreadyExists) {
        return makeError(ErrorCode::kAlreadyExists, "case " + id + " already exists");
      }
      return r.error();
    }
    auto a = appendLocked(actor, "case_create", id, title);
    if (!a) return a.error();
    auto c = (*tx)->commit();
    if (!c) return c.error();
    return Case{id, title, actor.who, core::fromUnixMicros(now)};
  }

  core::Result<std::optional<Case>> getCase(const std::string& id) override {
    auto rows =
        db_.query("SELECT id, title, created_by, created_us FROM cases WHERE id = $1", {id});
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<Case>{};
    const Row& r = rows->front();
    return std::optional<Case>(Case{r.str(0), r.str(1), r.str(2), core::fromUnixMicros(r.i64(3))});
  }

  core::Result<std::vector<Case>> listCases() override {
    auto rows = db_.query("SELECT id, title, created_by, created_us FROM cases ORDER BY id");
    if (!rows) return rows.error();
    std::vector<Case> out;
    for (const Row& r : *rows) {
      out.push_back({r.str(0), r.str(1), r.str(2), core::fromUnixMicros(r.i64(3))});
    }
    return out;
  }

  core::Result<void> attach(const std::string& caseId, const std::string& kind,
                            const std::string& ref, const Actor& actor) override {
    if (kind != "event" && kind != "clip") {
      return makeError(ErrorCode::kInvalidArgument, "an item is an event or a clip, not " + kind);
    }
    auto tx = detail::Tx::begin(db_);
    if (!tx) return tx.error();
    auto exists = requireCase(caseId);
    if (!exists) return exists;
    auto r = db_.execute(
        "INSERT INTO case_items (case_id, kind, ref, added_by, added_us) VALUES ($1, $2, $3, $4, "
        "$5) ON CONFLICT (case_id, kind, ref) DO NOTHING",
        {caseId, kind, ref, actor.who, nowMicros()});
    if (!r) return r.error();
    if (*r > 0) {
      auto a = appendLocked(actor, "case_attach", caseId, kind + " " + ref);
      if (!a) return a.error();
    }
    return (*tx)->commit();
  }

  core::Result<std::vector<CaseItem>> items(const std::string& caseId) override {
    auto rows = db_.query(
        "SELECT kind, ref, added_by, added_us FROM case_items WHERE case_id = $1 ORDER BY seq",
        {caseId});
    if (!rows) return rows.error();
    std::vector<CaseItem> out;
    for (const Row& r : *rows) {
      out.push_back({r.str(0), r.str(1), r.str(2), core::fromUnixMicros(r.i64(3))});
    }
    return out;
  }

  core::Result<Hold> placeHold(const std::string& caseId, const core::CameraId& camera,
                               const core::TimeRange& range, const std::string& reason,
                               const Actor& actor) override {
    if (camera.empty() || range.end <= range.begin) {
      return makeError(ErrorCode::kInvalidArgument, "a hold needs a camera and a non-empty range");
    }
    auto tx = detail::Tx::begin(db_);
    if (!tx) return tx.error();
    auto exists = requireCase(caseId);
    if (!exists) return exists.error();
    Hold h;
    h.id = core::newId();
    h.caseId = caseId;
    h.camera = camera;
    h.range = range;
    h.reason = reason;
    h.placedBy = actor.who;
    const int64_t now = nowMicros();
    h.placed = core::fromUnixMicros(now);
    auto r = db_.execute(
        "INSERT INTO holds (id, case_id, camera, begin_us, end_us, reason, placed_by, placed_us) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        {h.id, caseId, camera.str(), core::toUnixMicros(range.begin), core::toUnixMicros(range.end),
         reason, actor.who, now});
    if (!r) return r.error();
    auto a =
        appendLocked(actor, "hold", camera.str(),
                     "hold " + h.id + " case " + caseId + " " + core::formatIso8601(range.begin) +
                         "/" + core::formatIso8601(range.end) + ": " + reason);
    if (!a) return a.error();
    auto c = (*tx)->commit();
    if (!c) return c.error();
    return h;
  }

  core::Result<void> liftHold(const std::string& holdId, const std::string& reason,
                              const Actor& actor) override {
    auto tx = detail::Tx::begin(db_);
    if (!tx) return tx.error();
    auto rows =
        db_.query(std::string("SELECT ") + kHoldColumns + " FROM holds WHERE id = $1", {holdId});
    if (!rows) return rows.error();
    if (rows->empty()) return makeError(ErrorCode::kNotFound, "no hold " + holdId);
    const Hold h = toHold(rows->front());
    if (!h.active()) return makeError(ErrorCode::kInvalidArgument, "hold " + holdId + " is lifted");
    auto r = db_.execute(
        "UPDATE holds SET lifted_by = $2, lifted_us = $3, lift_reason = $4 WHERE id = $1",
        {holdId, actor.who, nowMicros(), reason});
    if (!r) return r.error();
    auto a = appendLocked(actor, "lift", h.camera.str(),
                          "hold " + holdId + " case " + h.caseId + ": " + reason);
    if (!a) return a.error();
    return (*tx)->commit();
  }

  core::Result<std::vector<Hold>> holds(const std::string& caseId) override {
    auto rows = caseId.empty()
                    ? db_.query(std::string("SELECT ") + kHoldColumns +
                                " FROM holds WHERE lifted_us IS NULL ORDER BY placed_us, id")
                    : db_.query(std::string("SELECT ") + kHoldColumns +
                                    " FROM holds WHERE case_id = $1 ORDER BY placed_us, id",
                                {caseId});
    if (!rows) return rows.error();
    std::vector<Hold> out;
    for (const Row& r : *rows) out.push_back(toHold(r));
    return out;
  }

  core::Result<AuditEntry> appendAudit(const Actor& actor, const std::string& action,
                                       const std::string& target,
                                       const std::string& details) override {
    auto tx = detail::Tx::begin(db_);
    if (!tx) return tx.error();
    auto e = appendLocked(actor, action, target, details);
    if (!e) return e;
    auto c = (*tx)->commit();
    if (!c) return c.error();
    return e;
  }

  core::Result<void> appendAuditMany(
      const Actor& actor, const std::string& action,
      const std::vector<std::pair<std::string, std::string>>& targetsAndDetails) override {
    if (targetsAndDetails.empty()) return {};
    auto tx = detail::Tx::begin(db_);
    if (!tx) return tx.error();
    // The chain is computed here from the head row, then written with multi-row INSERTs and one
    // head update: a retention sweep of thousands of deletions costs a few statements, not two
    // round trips per entry. The head row (and the transaction) keep appenders serialised.
    auto head = db_.query("SELECT seq, hash FROM audit_head WHERE one = 1");
    if (!head) return head.error();
    int64_t seq = head->empty() ? 0 : head->front().i64(0);
    std::string prev = head->empty() ? kGenesis : head->front().str(1);
    const int64_t at = nowMicros();
    constexpr size_t kRowsPerStatement = 100;  // 9 parameters a row: inside SQLite's 999
    for (size_t from = 0; from < targetsAndDetails.size(); from += kRowsPerStatement) {
      const size_t to = std::min(targetsAndDetails.size(), from + kRowsPerStatement);
      detail::Params p;
      std::string values;
      for (size_t i = from; i < to; ++i) {
        const auto& [target, details] = targetsAndDetails[i];
        ++seq;
        std::string hash =
            auditHash(prev, seq, at, actor.who, action, target, actor.origin, details);
        values += std::string(values.empty() ? "" : ", ") + "(" + p.add(seq) + ", " + p.add(at) +
                  ", " + p.add(actor.who) + ", " + p.add(action) + ", " + p.add(target) + ", " +
                  p.add(actor.origin) + ", " + p.add(details) + ", " + p.add(prev) + ", " +
                  p.add(hash) + ")";
        prev = std::move(hash);
      }
      auto r = db_.execute(
          "INSERT INTO audit_log (seq, at_us, actor, action, target, origin, details, prev_hash, "
          "hash) VALUES " +
              values,
          p.values());
      if (!r) return r.error();
    }
    auto h = db_.execute(
        "INSERT INTO audit_head (one, seq, hash) VALUES (1, $1, $2) ON CONFLICT (one) DO UPDATE "
        "SET seq = excluded.seq, hash = excluded.hash",
        {seq, prev});
    if (!h) return h.error();
    return (*tx)->commit();
  }

  core::Result<std::vector<AuditEntry>> auditLog(int64_t afterSeq, int limit) override {
    auto rows = db_.query(
        "SELECT seq, at_us, actor, action, target, origin, details, prev_hash, hash FROM "
        "audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
        {afterSeq, static_cast<int64_t>(limit)});
    if (!rows) return rows.error();
    std::vector<AuditEntry> out;
    for (const Row& r : *rows) out.push_back(toEntry(r));
    return out;
  }

  core::Result<AuditReport> verifyAudit() override {
    std::unique_lock lock(db_.mutex());
    auto head = db_.query("SELECT seq, hash FROM audit_head WHERE one = 1");
    if (!head) return head.error();
    AuditReport report;
    std::string expected = kGenesis;
    int64_t lastSeq = 0;
    int64_t after = 0;
    for (;;) {
      auto page = auditLog(after, 5000);
      if (!page) return page.error();
      if (page->empty()) break;
      for (const AuditEntry& e : *page) {
        ++report.entries;
        if (e.prevHash != expected) {
          report.problems.push_back("audit entry " + std::to_string(e.seq) +
                                    " does not follow entry " + std::to_string(lastSeq) +
                                    ": an entry was removed or reordered");
        }
        const std::string h = auditHash(e.prevHash, e.seq, core::toUnixMicros(e.at), e.actor,
                                        e.action, e.target, e.origin, e.details);
        if (h != e.hash) {
          report.problems.push_back("audit entry " + std::to_string(e.seq) + " was edited");
        }
        expected = e.hash;
        lastSeq = e.seq;
        after = e.seq;
      }
    }
    if (head->empty()) {
      if (report.entries > 0) report.problems.push_back("the audit head is missing");
    } else if (head->front().i64(0) != lastSeq || head->front().str(1) != expected) {
      report.problems.push_back("the newest audit entries (after " + std::to_string(lastSeq) +
                                ") were removed");
    }
    return report;
  }

 private:
  static AuditEntry toEntry(const Row& r) {
    AuditEntry e;
    e.seq = r.i64(0);
    e.at = core::fromUnixMicros(r.i64(1));
    e.actor = r.str(2);
    e.action = r.str(3);
    e.target = r.str(4);
    e.origin = r.str(5);
    e.details = r.str(6);
    e.prevHash = r.str(7);
    e.hash = r.str(8);
    return e;
  }

  core::Result<void> requireCase(const std::string& caseId) {
    auto rows = db_.query("SELECT 1 FROM cases WHERE id = $1", {caseId});
    if (!rows) return rows.error();
    if (rows->empty()) return makeError(ErrorCode::kNotFound, "no case " + caseId);
    return {};
  }

  // Inside the caller's transaction. The sequence number is taken from the head row (not the
  // table's identity) so that the hash can commit to it before the row exists.
  core::Result<AuditEntry> appendLocked(const Actor& actor, const std::string& action,
                                        const std::string& target, const std::string& details) {
    auto head = db_.query("SELECT seq, hash FROM audit_head WHERE one = 1");
    if (!head) return head.error();
    AuditEntry e;
    e.seq = head->empty() ? 1 : head->front().i64(0) + 1;
    e.prevHash = head->empty() ? kGenesis : head->front().str(1);
    const int64_t at = nowMicros();
    e.at = core::fromUnixMicros(at);
    e.actor = actor.who;
    e.origin = actor.origin;
    e.action = action;
    e.target = target;
    e.details = details;
    e.hash = auditHash(e.prevHash, e.seq, at, e.actor, action, target, e.origin, details);
    auto r = db_.execute(
        "INSERT INTO audit_log (seq, at_us, actor, action, target, origin, details, prev_hash, "
        "hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        {e.seq, at, e.actor, action, target, e.origin, details, e.prevHash, e.hash});
    if (!r) return r.error();
    auto h = db_.execute(
        "INSERT INTO audit_head (one, seq, hash) VALUES (1, $1, $2) ON CONFLICT (one) DO UPDATE "
        "SET seq = excluded.seq, hash = excluded.hash",
        {e.seq, e.hash});
    if (!h) return h.error();
    return e;
  }

  std::shared_ptr<Database> database_;
  detail::Db& db_;
};

}  // namespace

core::Result<std::unique_ptr<CaseStore>> CaseStore::open(std::shared_ptr<Database> db) {
  if (!db) return makeError(ErrorCode::kInvalidArgument, "no database");
  return std::unique_ptr<CaseStore>(new DbCaseStore(std::move(db)));
}

}  // namespace sharpeyes::storage
