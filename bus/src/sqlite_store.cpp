// SQLite implementation of Outbox and CenterStore on one file. One connection, serialised by a
// mutex: the callers are one I/O thread per side plus publish() callers, and every transaction is
// short, so a second connection would only add lock contention inside SQLite.
//
// A commit costs far more than a row (a WAL append and its locking: ~50-100 us on our machines,
// an fsync on top with `durable`), so everything that can share a transaction does: concurrent
// append() calls are group-committed (the first caller commits for all that queued meanwhile and
// each returns only after that commit), a centre stores a whole drained batch in one commit, and
// ackThrough() sums and deletes in one.
//
// Every statement is reset as soon as its rows are read, so that no read transaction stays open on
// the connection between calls.
//
// Checkpoints do not run in a commit. SQLite's own auto-checkpoint runs inside the commit that
// crosses 1000 WAL pages, i.e. on the thread and under the lock of whoever committed (a centre
// storing a batch, publish(), the outbox trim), and a checkpoint fsyncs the WAL and the database:
// 9-21 ms each on our machines, about 15 a second over the four files of the bus benchmark at
// 1000 alerts/s, and 51 of the 52 alerts of one run that took more than 5 ms on a hop overlapped
// one. So the committing connection has auto-checkpoint off and a WAL hook that only counts pages
// and wakes a checkpointer thread, which checkpoints (PASSIVE) on its own connection without the
// store's lock: commits go on meanwhile (synchronous=NORMAL commits do not fsync). A passive
// checkpoint never catches up with a WAL that is being appended to, and SQLite restarts the WAL
// from its beginning only once every page in it is copied; so when the WAL is long the
// checkpointer repeats passive passes until little is left and copies that rest under the store's
// lock (a pass over a few dozen pages, not thousands), after which the next commit restarts the
// WAL. If the checkpointer cannot keep up at all, the committing connection checkpoints itself
// past a hard limit, as SQLite would have. Durability is unchanged: a commit is in the WAL when it
// returns (fsynced too when `durable`), and a checkpoint only copies committed pages.
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "protocol.h"
#include "sharpeyes/bus/store.h"
#include "sharpeyes/core/util.h"

namespace sharpeyes::bus {

namespace {

// Passive passes stop when fewer WAL pages than this are left; the rest is copied under the lock.
constexpr int kLockedPassPages = 16;
constexpr int kMaxPassivePasses = 8;
// The committing connection checkpoints inline when the WAL is this many times the restart length
// (the checkpointer stuck or failing).
constexpr int kInlineFactor = 8;

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox_clips(
  queued INTEGER PRIMARY KEY AUTOINCREMENT, clip_id TEXT NOT NULL UNIQUE,
  event_id TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL,
  meta TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS received(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  origin TEXT NOT NULL, epoch TEXT NOT NULL, origin_seq INTEGER NOT NULL,
  event_id TEXT NOT NULL, division TEXT NOT NULL, payload TEXT NOT NULL,
  received_us INTEGER NOT NULL, forwarded INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS received_event ON received(event_id);
CREATE TABLE IF NOT EXISTS origins(
  origin TEXT NOT NULL, epoch TEXT NOT NULL, last_seq INTEGER NOT NULL,
  PRIMARY KEY(origin, epoch));
CREATE TABLE IF NOT EXISTS clips(
  clip_id TEXT PRIMARY KEY, origin TEXT NOT NULL, event_id TEXT NOT NULL, path TEXT NOT NULL,
  size INTEGER NOT NULL, sha256 TEXT NOT NULL, meta TEXT NOT NULL, received_us INTEGER NOT NULL);
)sql";

class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& operator=(Stmt&& o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  sqlite3_stmt* get() { return s_; }
  bool ok() const { return s_ != nullptr; }
  Stmt& reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
    return *this;
  }
  Stmt& bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  int step() { return sqlite3_step(s_); }
  int64_t i64(int c) { return sqlite3_column_int64(s_, c); }
  std::string text(int c) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, c));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, c))) : std::string();
  }

 private:
  sqlite3_stmt* s_ = nullptr;
};

class SqliteStore final : public Outbox, public CenterStore {
 public:
  ~SqliteStore() override {
    {
      std::lock_guard lock(ckMu_);
      ckStop_ = true;
    }
    ckCv_.notify_all();
    if (ckThread_.joinable()) ckThread_.join();
    if (ckDb_) sqlite3_close(ckDb_);
    stmts_.clear();
    if (db_) sqlite3_close(db_);
  }

  core::Result<void> open(const SqliteBusStoreOptions& o) {
    quota_ = o.outboxQuotaBytes;
    checkpointPages_ = std::max(1, o.walCheckpointPages);
    restartPages_ = std::max(checkpointPages_, o.walRestartPages);
    if (sqlite3_open_v2(o.path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      return err(core::ErrorCode::kIo, "open " + o.path);
    }
    sqlite3_busy_timeout(db_, 5000);
    const std::string pragmas = std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=") +
                                (o.durable ? "FULL" : "NORMAL") + ";";
    if (auto r = exec(pragmas); !r) return r;
    if (auto r = exec(kSchema); !r) return r;
    startCheckpointer(o);
    // A random epoch, created once with the file.
    exec("INSERT OR IGNORE INTO meta(key, value) VALUES('epoch', '" + core::newId() + "')");
    Stmt q(db_, "SELECT value FROM meta WHERE key='epoch'");
    if (q.step() == SQLITE_ROW) epoch_ = q.text(0);
    Stmt b(db_, "SELECT COALESCE(SUM(length(payload)), 0) FROM outbox");
    if (b.step() == SQLITE_ROW) bytes_ = static_cast<uint64_t>(b.i64(0));
    return core::okResult();
  }

  // --- Outbox ---
  std::string epoch() const override { return epoch_; }

  core::Result<uint64_t> append(std::string_view payload) override {
    // Group commit: queue the request; whoever finds no commit in progress becomes the leader
    // and commits every queued request in one transaction, then wakes the others.
    AppendRequest req{payload, std::nullopt};
    std::unique_lock lock(groupMu_);
    groupQueue_.push_back(&req);
    while (!req.result) {
      if (groupLeader_) {
        groupCv_.wait(lock);
        continue;
      }
      groupLeader_ = true;
      std::vector<AppendRequest*> batch;
      batch.swap(groupQueue_);
      lock.unlock();
      commitAppends(batch);
      lock.lock();
      groupLeader_ = false;
      groupCv_.notify_all();
    }
    return *std::move(req.result);
  }

  core::Result<std::vector<OutboxEntry>> after(uint64_t seq, size_t limit) override {
    std::lock_guard lock(mu_);
    auto& s = stmt("SELECT seq, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?");
    s.reset().bind(1, static_cast<int64_t>(seq)).bind(2, static_cast<int64_t>(limit));
    std::vector<OutboxEntry> out;
    int rc = 0;
    while ((rc = s.step()) == SQLITE_ROW) {
      out.push_back({static_cast<uint64_t>(s.i64(0)), s.text(1)});
    }
    if (rc != SQLITE_DONE) return err(core::ErrorCode::kIo, "read outbox");
    return out;
  }

  core::Result<void> ackThrough(uint64_t seq) override {
    std::lock_guard lock(mu_);
    if (auto r = begin(); !r) return r;
    auto& sum = stmt("SELECT COALESCE(SUM(length(payload)), 0) FROM outbox WHERE seq <= ?");
    uint64_t freed = 0;
    if (sum.reset().bind(1, static_cast<int64_t>(seq)).step() == SQLITE_ROW) {
      freed = static_cast<uint64_t>(sum.i64(0));
    }
    sum.reset();
    auto& del = stmt("DELETE FROM outbox WHERE seq <= ?");
    if (del.reset().bind(1, static_cast<int64_t>(seq)).step() != SQLITE_DONE) {
      return rollback("ack");
    }
    if (auto r = commitTx(); !r) return r;
    bytes_ -= std::min(bytes_, freed);
    return core::okResult();
  }

  uint64_t bytesUsed() const override {
    std::lock_guard lock(mu_);
    return bytes_;
  }
  uint64_t quotaBytes() const override { return quota_; }

  WalStats walStats() const {
    return {checkpoints_, inlineCheckpoints_, walRestarts_, static_cast<uint64_t>(walPages_),
            static_cast<uint64_t>(walMaxPages_)};
  }

  core::Result<void> appendClip(const OutboxClip& c) override {
    std::lock_guard lock(mu_);
    return insertClipLocked(c);
  }

  core::Result<std::optional<OutboxClip>> nextClip() override {
    std::lock_guard lock(mu_);
    auto& s = stmt(
        "SELECT clip_id, event_id, path, size, sha256, meta FROM outbox_clips ORDER BY queued "
        "LIMIT 1");
    s.reset();
    const int rc = s.step();
    if (rc == SQLITE_DONE) return std::optional<OutboxClip>();
    if (rc != SQLITE_ROW) return err(core::ErrorCode::kIo, "read clip outbox");
    OutboxClip c{s.text(0), s.text(1), s.text(2), static_cast<uint64_t>(s.i64(3)),
                 s.text(4), s.text(5)};
    s.reset();
    return std::optional<OutboxClip>(std::move(c));
  }

  core::Result<void> removeClip(const std::string& clipId) override {
    std::lock_guard lock(mu_);
    auto& s = stmt("DELETE FROM outbox_clips WHERE clip_id = ?");
    if (s.reset().bind(1, clipId).step() != SQLITE_DONE)
      return err(core::ErrorCode::kIo, "rm clip");
    return core::okResult();
  }

  // --- CenterStore ---
  core::Result<void> commit(const std::vector<Incoming>& items,
                            std::vector<IncomingOutcome>& outcomes,
                            std::vector<uint64_t>& localSeqs) override {
    std::lock_guard lock(mu_);
    outcomes.assign(items.size(), IncomingOutcome::kDuplicate);
    localSeqs.assign(items.size(), 0);
    if (auto r = begin(); !r) return r;
    // Last sequence per (origin, epoch) as seen inside this transaction.
    std::unordered_map<std::string, int64_t> last;
    uint64_t addedBytes = 0;
    auto fail = [&](const std::string& what) { return rollback(what); };
    const int64_t now = proto::nowMicros();
    for (size_t i = 0; i < items.size(); ++i) {
      const Incoming& in = items[i];
      const std::string key = in.origin + '\n' + in.epoch;
      auto it = last.find(key);
      if (it == last.end()) {
        auto& q = stmt("SELECT last_seq FROM origins WHERE origin = ? AND epoch = ?");
        const int rc = q.reset().bind(1, in.origin).bind(2, in.epoch).step();
        it = last.emplace(key, rc == SQLITE_ROW ? q.i64(0) : 0).first;
        q.reset();
      }
      const auto seq = static_cast<int64_t>(in.seq);
      if (seq <= it->second) {
        outcomes[i] = IncomingOutcome::kDuplicate;
        continue;
      }
      if (seq > it->second + 1) {
        outcomes[i] = IncomingOutcome::kGap;
        continue;
      }
      if (in.reject) {
        it->second = seq;
        outcomes[i] = IncomingOutcome::kRejected;
        continue;
      }
      auto& ins = stmt(
          "INSERT INTO received(origin, epoch, origin_seq, event_id, division, payload, "
          "received_us, forwarded) VALUES(?,?,?,?,?,?,?,?)");
      ins.reset().bind(1, in.origin).bind(2, in.epoch).bind(3, seq).bind(4, in.eventId);
      ins.bind(5, in.division.str()).bind(6, in.eventJson).bind(7, now);
      ins.bind(8, static_cast<int64_t>(in.forward ? 1 : 0));
      if (ins.step() != SQLITE_DONE) return fail("store event");
      localSeqs[i] = static_cast<uint64_t>(sqlite3_last_insert_rowid(db_));
      if (in.forward) {
        // The forwarded copy is not refused by the quota: the event is already accepted here and
        // the origin has been told so; the quota applies to new events (append()).
        auto& out = stmt("INSERT INTO outbox(payload) VALUES(?)");
        if (out.reset().bind(1, in.eventJson).step() != SQLITE_DONE) return fail("forward");
        addedBytes += in.eventJson.size();
      }
      it->second = seq;
      outcomes[i] = IncomingOutcome::kStored;
    }
    for (const auto& [key, seq] : last) {
      const auto nl = key.find('\n');
      auto& up = stmt(
          "INSERT INTO origins(origin, epoch, last_seq) VALUES(?,?,?) "
          "ON CONFLICT(origin, epoch) DO UPDATE SET last_seq = excluded.last_seq");
      up.reset().bind(1, std::string_view(key).substr(0, nl));
      up.bind(2, std::string_view(key).substr(nl + 1)).bind(3, seq);
      if (up.step() != SQLITE_DONE) return fail("origins");
    }
    if (auto r = commitTx(); !r) return r;
    bytes_ += addedBytes;
    return core::okResult();
  }

  core::Result<uint64_t> lastSeq(const std::string& origin, const std::string& epoch) override {
    std::lock_guard lock(mu_);
    auto& q = stmt("SELECT last_seq FROM origins WHERE origin = ? AND epoch = ?");
    const int rc = q.reset().bind(1, origin).bind(2, epoch).step();
    const uint64_t last = rc == SQLITE_ROW ? static_cast<uint64_t>(q.i64(0)) : 0;
    q.reset();  // an unfinished statement would keep a read transaction open
    return last;
  }

  core::Result<std::vector<StoredRecord>> since(std::string_view prefix, uint64_t after,
                                                size_t limit) override {
    std::lock_guard lock(mu_);
    auto& q = stmt(
        "SELECT seq, division, payload FROM received WHERE seq > ? AND substr(division, 1, ?) = ? "
        "ORDER BY seq LIMIT ?");
    q.reset().bind(1, static_cast<int64_t>(after)).bind(2, static_cast<int64_t>(prefix.size()));
    q.bind(3, prefix).bind(4, static_cast<int64_t>(limit));
    std::vector<StoredRecord> out;
    int rc = 0;
    while ((rc = q.step()) == SQLITE_ROW) {
      out.push_back({static_cast<uint64_t>(q.i64(0)), q.text(1), q.text(2)});
    }
    if (rc != SQLITE_DONE) return err(core::ErrorCode::kIo, "replay");
    return out;
  }

  core::Result<uint64_t> maxLocalSeq() override {
    std::lock_guard lock(mu_);
    auto& q = stmt("SELECT COALESCE(MAX(seq), 0) FROM received");
    q.reset();
    const uint64_t max = q.step() == SQLITE_ROW ? static_cast<uint64_t>(q.i64(0)) : 0;
    q.reset();
    return max;
  }

  core::Result<void> recordClip(const OutboxClip& c, const std::string& origin,
                                bool forward) override {
    std::lock_guard lock(mu_);
    if (auto r = begin(); !r) return r;
    auto& s = stmt(
        "INSERT OR IGNORE INTO clips(clip_id, origin, event_id, path, size, sha256, meta, "
        "received_us) VALUES(?,?,?,?,?,?,?,?)");
    s.reset().bind(1, c.clipId).bind(2, origin).bind(3, c.eventId).bind(4, c.path);
    s.bind(5, static_cast<int64_t>(c.size)).bind(6, c.sha256).bind(7, c.metaJson);
    s.bind(8, proto::nowMicros());
    if (s.step() != SQLITE_DONE) return rollback("record clip");
    if (forward) {
      if (auto r = insertClipLocked(c); !r) {
        rollback("queue clip");
        return r;
      }
    }
    return commitTx();
  }

  core::Result<bool> hasClip(const std::string& clipId) override {
    std::lock_guard lock(mu_);
    auto& q = stmt("SELECT 1 FROM clips WHERE clip_id = ?");
    const bool has = q.reset().bind(1, clipId).step() == SQLITE_ROW;
    q.reset();
    return has;
  }

  core::Result<bool> eventForwarded(const std::string& eventId) override {
    std::lock_guard lock(mu_);
    auto& q = stmt("SELECT 1 FROM received WHERE event_id = ? AND forwarded = 1 LIMIT 1");
    const bool fwd = q.reset().bind(1, eventId).step() == SQLITE_ROW;
    q.reset();
    return fwd;
  }

 private:
  struct AppendRequest {
    std::string_view payload;
    std::optional<core::Result<uint64_t>> result;  // set by the leader after its commit
  };

  // Commits a group of append() requests in one transaction. Each request is checked against the
  // quota on its own (a refused one does not fail the others); a failed commit fails them all and
  // leaves nothing behind.
  void commitAppends(std::vector<AppendRequest*>& batch) {
    std::lock_guard lock(mu_);
    const bool tx = batch.size() > 1;
    if (tx) {
      if (auto r = begin(); !r) {
        for (auto* q : batch) q->result = core::Result<uint64_t>(r.error());
        return;
      }
    }
    uint64_t added = 0;
    auto& ins = stmt("INSERT INTO outbox(payload) VALUES(?)");
    for (auto* q : batch) {
      if (bytes_ + added + q->payload.size() > quota_) {
        q->result = core::Result<uint64_t>(
            core::makeError(core::ErrorCode::kResourceExhausted,
                            "outbox quota of " + std::to_string(quota_) + " bytes reached"));
        continue;
      }
      if (ins.reset().bind(1, q->payload).step() != SQLITE_DONE) {
        auto e = tx ? rollback("append") : err(core::ErrorCode::kIo, "append");
        for (auto* o : batch) o->result = core::Result<uint64_t>(e);
        return;
      }
      added += q->payload.size();
      q->result = static_cast<uint64_t>(sqlite3_last_insert_rowid(db_));
    }
    ins.reset();
    if (tx) {
      if (auto r = commitTx(); !r) {
        for (auto* o : batch) o->result = core::Result<uint64_t>(r.error());
        return;
      }
    }
    bytes_ += added;
  }

  // Opens the checkpointer's connection and hands checkpoints over to it. Without it (cannot
  // open), SQLite's auto-checkpoint stays in charge: slower commits now and then, nothing lost.
  void startCheckpointer(const SqliteBusStoreOptions& o) {
    if (sqlite3_open_v2(o.path.c_str(), &ckDb_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      spdlog::warn("bus store: no checkpointer connection for {}: {}", o.path,
                   ckDb_ ? sqlite3_errmsg(ckDb_) : "out of memory");
      if (ckDb_) sqlite3_close(ckDb_);
      ckDb_ = nullptr;
      return;
    }
    sqlite3_busy_timeout(ckDb_, 5000);
    // The checkpoint's syncs follow the same setting as the commits.
    const std::string sync =
        std::string("PRAGMA synchronous=") + (o.durable ? "FULL" : "NORMAL") + ";";
    sqlite3_exec(ckDb_, sync.c_str(), nullptr, nullptr, nullptr);
    // A WAL that grew past the restart length in a burst is cut back to it when it restarts.
    (void)exec("PRAGMA journal_size_limit=" + std::to_string(int64_t{restartPages_} * 4096));
    sqlite3_wal_hook(db_, &SqliteStore::walHook, this);  // replaces auto-checkpoint
    ckThread_ = std::thread([this] { checkpointLoop(); });
  }

  // After every commit on db_, with mu_ held: counts, wakes the checkpointer, never waits for it.
  static int walHook(void* self, sqlite3* db, const char* /*name*/, int pages) {
    auto* s = static_cast<SqliteStore*>(self);
    if (pages < s->walPages_) {  // the WAL restarted: nothing in it is copied yet
      ++s->walRestarts_;
      s->walCopied_ = 0;
    }
    s->walPages_ = pages;
    s->walMaxPages_ = std::max(s->walMaxPages_.load(), pages);
    const int copied = s->walCopied_.load();
    const int fresh = pages > copied ? pages - copied : pages;  // smaller: the WAL restarted
    if (pages >= s->restartPages_ * kInlineFactor) {
      sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      ++s->inlineCheckpoints_;
      return SQLITE_OK;
    }
    if (fresh >= s->checkpointPages_) {
      {
        std::lock_guard lock(s->ckMu_);
        s->ckWanted_ = true;
      }
      s->ckCv_.notify_one();
    }
    return SQLITE_OK;
  }

  void checkpointLoop() {
    pthread_setname_np(pthread_self(), "bus-checkpoint");
    bool logged = false;
    for (;;) {
      {
        std::unique_lock lock(ckMu_);
        ckCv_.wait(lock, [&] { return ckWanted_ || ckStop_; });
        if (ckStop_) return;
        ckWanted_ = false;
      }
      // Wake-ups that arrived during the previous pass asked for what it already copied.
      const int pages = walPages_;
      const int done = walCopied_;
      if ((pages > done ? pages - done : pages) < checkpointPages_) continue;
      int log = 0;
      int copied = 0;
      int rc = SQLITE_OK;
      for (int pass = 0; pass < kMaxPassivePasses; ++pass) {
        rc = sqlite3_wal_checkpoint_v2(ckDb_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
        if (rc != SQLITE_OK) break;
        walCopied_ = copied;
        ++checkpoints_;
        // Each pass copies what was committed during the one before; a few passes leave little.
        if (log < restartPages_ || log - copied <= kLockedPassPages) break;
      }
      if (rc == SQLITE_OK && log >= restartPages_) {
        // Nothing commits while mu_ is held, so this pass copies everything that is left and
        // the next commit starts the WAL again from its beginning.
        std::lock_guard lock(mu_);
        rc = sqlite3_wal_checkpoint_v2(ckDb_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
        if (rc == SQLITE_OK) {
          walCopied_ = copied;
          ++checkpoints_;
        }
      }
      if (rc != SQLITE_OK && rc != SQLITE_BUSY && !logged) {
        spdlog::warn("bus store: checkpoint failed: {}", sqlite3_errmsg(ckDb_));
        logged = true;
      }
    }
  }

  core::Result<void> begin() {
    if (stmt("BEGIN IMMEDIATE").reset().step() != SQLITE_DONE) {
      return err(core::ErrorCode::kIo, "begin");
    }
    return core::okResult();
  }

  core::Result<void> commitTx() {
    if (stmt("COMMIT").reset().step() != SQLITE_DONE) {
      return rollback("commit");
    }
    return core::okResult();
  }

  core::Error rollback(const std::string& what) {
    auto e = err(core::ErrorCode::kIo, what);
    if (!sqlite3_get_autocommit(db_)) stmt("ROLLBACK").reset().step();
    return e;
  }

  core::Result<void> insertClipLocked(const OutboxClip& c) {
    auto& s = stmt(
        "INSERT OR IGNORE INTO outbox_clips(clip_id, event_id, path, size, sha256, meta) "
        "VALUES(?,?,?,?,?,?)");
    s.reset().bind(1, c.clipId).bind(2, c.eventId).bind(3, c.path);
    s.bind(4, static_cast<int64_t>(c.size)).bind(5, c.sha256).bind(6, c.metaJson);
    if (s.step() != SQLITE_DONE) return err(core::ErrorCode::kIo, "queue clip");
    return core::okResult();
  }

  Stmt& stmt(const char* sql) {
    auto it = stmts_.find(sql);
    if (it == stmts_.end()) {
      it = stmts_.emplace(sql, std::make_unique<Stmt>(db_, sql)).first;
    }
    return *it->second;
  }

  core::Result<void> exec(const std::string& sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string m = msg ? msg : "unknown";
      sqlite3_free(msg);
      return core::makeError(core::ErrorCode::kIo, "sqlite: " + m);
    }
    return core::okResult();
  }

  core::Error err(core::ErrorCode code, const std::string& what) const {
    return core::makeError(code, "bus store: " + what + ": " + sqlite3_errmsg(db_));
  }

  mutable std::mutex mu_;
  // Checkpointer (see the top of the file).
  sqlite3* ckDb_ = nullptr;
  std::thread ckThread_;
  std::mutex ckMu_;
  std::condition_variable ckCv_;
  bool ckWanted_ = false;
  bool ckStop_ = false;
  int checkpointPages_ = 512;
  int restartPages_ = 8192;
  std::atomic<int> walPages_{0};   // WAL length after the last commit
  std::atomic<int> walCopied_{0};  // of which the checkpointer had copied this many
  std::atomic<int> walMaxPages_{0};
  std::atomic<uint64_t> checkpoints_{0}, inlineCheckpoints_{0}, walRestarts_{0};
  // Group commit of append(): requests queue here; groupLeader_ while one caller commits.
  std::mutex groupMu_;
  std::condition_variable groupCv_;
  std::vector<AppendRequest*> groupQueue_;
  bool groupLeader_ = false;
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, std::unique_ptr<Stmt>> stmts_;
  std::string epoch_;
  uint64_t bytes_ = 0;
  uint64_t quota_ = 0;
};

}  // namespace

core::Result<SqliteBusStore> openSqliteBusStore(const SqliteBusStoreOptions& options) {
  auto store = std::make_shared<SqliteStore>();
  if (auto r = store->open(options); !r) return r.error();
  return SqliteBusStore{std::shared_ptr<Outbox>(store, static_cast<Outbox*>(store.get())),
                        std::shared_ptr<CenterStore>(store, static_cast<CenterStore*>(store.get())),
                        [store] { return store->walStats(); }};
}

}  // namespace sharpeyes::bus
