#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include "sharpeyes/bus/keys.h"
#include "sharpeyes/bus/store.h"
#include "test_util.h"

namespace sharpeyes::bus {
namespace {

using testing::TempDir;

TEST(Keys, GenerateWriteLoadWithMode0600) {
  TempDir dir;
  auto pair = generateKeyPair();
  ASSERT_TRUE(pair.ok());
  EXPECT_EQ(pair->publicKey.size(), 40u);
  EXPECT_EQ(pair->secretKey.size(), 40u);
  const std::string prefix = dir.file("gw");
  ASSERT_TRUE(writeKeyPair(*pair, prefix, false).ok());
  struct stat st {};
  ASSERT_EQ(::stat((prefix + ".key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((prefix + ".pub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto loaded = loadKeyPair(prefix + ".key");
  ASSERT_TRUE(loaded.ok()) << loaded.error().describe();
  EXPECT_EQ(loaded->secretKey, pair->secretKey);
  EXPECT_EQ(loaded->publicKey, pair->publicKey);
  auto pub = loadPublicKey(prefix + ".pub");
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(*pub, pair->publicKey);
  for (int i = 0; i < 100; ++i) {  // keys that begin with or contain '#' load too
    auto p = generateKeyPair().value();
    const std::string pre = dir.file("k" + std::to_string(i));
    ASSERT_TRUE(writeKeyPair(p, pre, false).ok());
    ASSERT_EQ(loadPublicKey(pre + ".pub").value(), p.publicKey);
    ASSERT_EQ(loadKeyPair(pre + ".key").value().secretKey, p.secretKey);
  }
  // No silent overwrite.
  EXPECT_EQ(writeKeyPair(*pair, prefix, false).error().code, core::ErrorCode::kAlreadyExists);
  // A world-readable secret key is refused.
  ::chmod((prefix + ".key").c_str(), 0644);
  EXPECT_EQ(loadKeyPair(prefix + ".key").error().code, core::ErrorCode::kPermissionDenied);
  // The fingerprint does not reveal the key.
  EXPECT_EQ(keyFingerprint(pair->publicKey).find(pair->publicKey.substr(0, 8)), std::string::npos);
}

TEST(Keys, AllowlistParsesAndRejectsGarbage) {
  TempDir dir;
  auto a = generateKeyPair().value();
  auto b = generateKeyPair().value();
  std::ofstream(dir.file("allow"))
      << "# peers\ngw-1 " << a.publicKey << "\n\nvillage-1 " << b.publicKey << "  # comment\n";
  auto list = loadAllowlist(dir.file("allow"));
  ASSERT_TRUE(list.ok()) << list.error().describe();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "gw-1");
  EXPECT_EQ((*list)[1].publicKey, b.publicKey);
  // Z85 keys may contain '#' (and may start with it): never mistaken for a comment.
  std::ofstream many(dir.file("many"));
  std::vector<std::string> keys;
  for (int i = 0; i < 200; ++i) {
    keys.push_back(generateKeyPair().value().publicKey);
    many << "peer-" << i << ' ' << keys.back() << "  # peer " << i << '\n';
  }
  many.close();
  auto manyList = loadAllowlist(dir.file("many"));
  ASSERT_TRUE(manyList.ok()) << manyList.error().describe();
  ASSERT_EQ(manyList->size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ((*manyList)[i].publicKey, keys[i]);
  std::ofstream(dir.file("bad")) << "gw-1 notakey\n";
  auto bad = loadAllowlist(dir.file("bad"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find(":1"), std::string::npos);
}

Incoming incoming(const std::string& origin, uint64_t seq, bool forward = false) {
  Incoming in;
  in.origin = origin;
  in.epoch = "e1";
  in.seq = seq;
  in.division = core::DivisionCode::parse("510603101201").value();
  in.eventId = "ev" + std::to_string(seq);
  in.eventJson = "{\"id\":\"ev" + std::to_string(seq) + "\"}";
  in.forward = forward;
  return in;
}

TEST(SqliteStore, DeduplicatesInTheStoringTransactionAndSurvivesReopen) {
  TempDir dir;
  {
    auto s = openSqliteBusStore({dir.file("c.db")});
    ASSERT_TRUE(s.ok());
    std::vector<IncomingOutcome> out;
    std::vector<uint64_t> seqs;
    ASSERT_TRUE(s->center
                    ->commit({incoming("gw", 1, true), incoming("gw", 2), incoming("gw", 2),
                              incoming("gw", 4)},
                             out, seqs)
                    .ok());
    EXPECT_EQ(out[0], IncomingOutcome::kStored);
    EXPECT_EQ(out[1], IncomingOutcome::kStored);
    EXPECT_EQ(out[2], IncomingOutcome::kDuplicate);
    EXPECT_EQ(out[3], IncomingOutcome::kGap);
    EXPECT_EQ(s->center->lastSeq("gw", "e1").value(), 2u);
    // The forwarded event sits in the outbox, written by the same transaction.
    auto ob = s->outbox->after(0, 10);
    ASSERT_TRUE(ob.ok());
    ASSERT_EQ(ob->size(), 1u);
    EXPECT_EQ((*ob)[0].payload, "{\"id\":\"ev1\"}");
  }
  auto s = openSqliteBusStore({dir.file("c.db")});
  ASSERT_TRUE(s.ok());
  std::vector<IncomingOutcome> out;
  std::vector<uint64_t> seqs;
  ASSERT_TRUE(s->center->commit({incoming("gw", 2), incoming("gw", 3)}, out, seqs).ok());
  EXPECT_EQ(out[0], IncomingOutcome::kDuplicate);
  EXPECT_EQ(out[1], IncomingOutcome::kStored);
  auto rows = s->center->since("510603101", 0, 100);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 3u);
  EXPECT_TRUE(s->center->since("510603102", 0, 100)->empty());
}

TEST(SqliteStore, OutboxQuotaAndAcks) {
  TempDir dir;
  auto s = openSqliteBusStore({dir.file("o.db"), 100});
  ASSERT_TRUE(s.ok());
  const std::string payload(40, 'x');
  auto a = s->outbox->append(payload);
  auto b = s->outbox->append(payload);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_LT(*a, *b);
  auto c = s->outbox->append(payload);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, core::ErrorCode::kResourceExhausted);
  EXPECT_EQ(s->outbox->bytesUsed(), 80u);
  ASSERT_TRUE(s->outbox->ackThrough(*a).ok());
  EXPECT_EQ(s->outbox->bytesUsed(), 40u);
  auto d = s->outbox->append(payload);
  ASSERT_TRUE(d.ok());
  EXPECT_GT(*d, *b);  // sequence numbers are never reused
  const std::string epoch = s->outbox->epoch();
  EXPECT_EQ(epoch.size(), 32u);
}

// Several threads appending at once share commits (group commit); each append still returns only
// once its row is committed, with its own sequence number, in the order that thread appended.
TEST(SqliteStore, ConcurrentAppendsAreGroupCommittedInOrderAndDurable) {
  TempDir dir;
  constexpr int kThreads = 6;
  constexpr int kEach = 300;
  std::vector<std::vector<uint64_t>> seqs(kThreads);
  {
    auto s = openSqliteBusStore({dir.file("g.db")});
    ASSERT_TRUE(s.ok());
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i) {
          auto r = s->outbox->append("t" + std::to_string(t) + "-" + std::to_string(i));
          if (r.ok()) seqs[t].push_back(*r);
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  std::set<uint64_t> all;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(seqs[t].size(), static_cast<size_t>(kEach));
    EXPECT_TRUE(std::is_sorted(seqs[t].begin(), seqs[t].end()));
    all.insert(seqs[t].begin(), seqs[t].end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kEach));  // no number given twice
  // Reopened: every row is there, and each thread's rows come in the order it appended them.
  auto s = openSqliteBusStore({dir.file("g.db")});
  ASSERT_TRUE(s.ok());
  auto rows = s->outbox->after(0, kThreads * kEach + 10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), static_cast<size_t>(kThreads * kEach));
  std::vector<int> next(kThreads, 0);
  for (const auto& row : *rows) {
    const int t = row.payload[1] - '0';
    ASSERT_GE(t, 0);
    ASSERT_LT(t, kThreads);
    EXPECT_EQ(row.payload, "t" + std::to_string(t) + "-" + std::to_string(next[t]));
    EXPECT_EQ(row.seq, seqs[t][static_cast<size_t>(next[t])]);
    ++next[t];
  }
}

// In a group, the quota refuses exactly the appends that do not fit; the others are committed.
TEST(SqliteStore, GroupCommitRefusesOnlyWhatExceedsTheQuota) {
  TempDir dir;
  const std::string payload(100, 'x');
  auto s = openSqliteBusStore({dir.file("q.db"), 100 * 50});
  ASSERT_TRUE(s.ok());
  std::atomic<int> accepted{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 40; ++i) {
        auto r = s->outbox->append(payload);
        if (r.ok()) {
          ++accepted;
        } else if (r.error().code == core::ErrorCode::kResourceExhausted) {
          ++refused;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(accepted.load(), 50);
  EXPECT_EQ(refused.load(), 160 - 50);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(s->outbox->bytesUsed(), 100u * 50);
  EXPECT_EQ(s->outbox->after(0, 1000)->size(), 50u);
}

// One drained batch may hold retransmissions of what it already holds, for several origins.
TEST(SqliteStore, BatchWithDuplicatesInsideStoresEachEventOnce) {
  TempDir dir;
  auto s = openSqliteBusStore({dir.file("d.db")});
  ASSERT_TRUE(s.ok());
  auto from = [](const std::string& origin, uint64_t seq) {
    Incoming in = incoming(origin, seq);
    in.eventId = origin + std::to_string(seq);
    return in;
  };
  std::vector<IncomingOutcome> out;
  std::vector<uint64_t> seqs;
  ASSERT_TRUE(s->center
                  ->commit({from("a", 1), from("a", 2), from("b", 1), from("a", 2), from("a", 1),
                            from("b", 2), from("b", 2), from("a", 3), from("b", 4)},
                           out, seqs)
                  .ok());
  using O = IncomingOutcome;
  const std::vector<O> want = {O::kStored, O::kStored,    O::kStored, O::kDuplicate, O::kDuplicate,
                               O::kStored, O::kDuplicate, O::kStored, O::kGap};
  EXPECT_EQ(out, want);
  for (size_t i = 0; i < out.size(); ++i) EXPECT_EQ(seqs[i] != 0, out[i] == O::kStored) << i;
  EXPECT_EQ(s->center->lastSeq("a", "e1").value(), 3u);
  EXPECT_EQ(s->center->lastSeq("b", "e1").value(), 2u);
  EXPECT_EQ(s->center->since("5106", 0, 100)->size(), 5u);
}

// A storing transaction that fails part-way leaves nothing behind: no event, no forwarded copy,
// no de-duplication state (so the retransmission is stored, once).
TEST(SqliteStore, FailedCommitLeavesNothingAndTheRetryStoresOnce) {
  TempDir dir;
  const std::string path = dir.file("f.db");
  auto s = openSqliteBusStore({path});
  ASSERT_TRUE(s.ok());
  // A real SQLite failure in the middle of the batch: a trigger refusing one event.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(other,
                   "CREATE TRIGGER poison BEFORE INSERT ON received WHEN NEW.event_id = 'ev3' "
                   "BEGIN SELECT RAISE(ABORT, 'poisoned'); END;",
                   nullptr, nullptr, nullptr),
      SQLITE_OK);
  std::vector<IncomingOutcome> out;
  std::vector<uint64_t> seqs;
  const std::vector<Incoming> batch = {incoming("gw", 1), incoming("gw", 2, true),
                                       incoming("gw", 3), incoming("gw", 4, true)};
  EXPECT_FALSE(s->center->commit(batch, out, seqs).ok());
  EXPECT_EQ(s->center->lastSeq("gw", "e1").value(), 0u);
  EXPECT_TRUE(s->center->since("5106", 0, 100)->empty());
  EXPECT_TRUE(s->outbox->after(0, 100)->empty());
  EXPECT_EQ(s->outbox->bytesUsed(), 0u);
  ASSERT_EQ(sqlite3_exec(other, "DROP TRIGGER poison", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  ASSERT_TRUE(s->center->commit(batch, out, seqs).ok());
  EXPECT_EQ(out, std::vector<IncomingOutcome>(4, IncomingOutcome::kStored));
  EXPECT_EQ(s->center->lastSeq("gw", "e1").value(), 4u);
  EXPECT_EQ(s->center->since("5106", 0, 100)->size(), 4u);
  EXPECT_EQ(s->outbox->after(0, 100)->size(), 2u);
  ASSERT_TRUE(s->center->commit(batch, out, seqs).ok());  // and again: all duplicates
  EXPECT_EQ(out, std::vector<IncomingOutcome>(4, IncomingOutcome::kDuplicate));
  EXPECT_EQ(s->center->since("5106", 0, 100)->size(), 4u);
}

// Checkpoints (copying the WAL into the database file) must happen, or the WAL would grow for
// ever: an unfinished statement holding a read snapshot would prevent them.
TEST(SqliteStore, WalIsCheckpointed) {
  TempDir dir;
  const std::string path = dir.file("w.db");
  auto s = openSqliteBusStore({path, 1ull << 30});
  ASSERT_TRUE(s.ok());
  const auto initial = std::filesystem::file_size(path);
  const std::string payload(1024, 'p');
  for (int i = 0; i < 6000; ++i) {  // > 1000 pages, with reads in between as a sender does
    ASSERT_TRUE(s->outbox->append(payload).ok());
    if (i % 100 == 0) {
      ASSERT_TRUE(s->outbox->after(0, 1).ok());
      ASSERT_TRUE(s->center->lastSeq("gw", "e1").ok());
      ASSERT_TRUE(s->center->maxLocalSeq().ok());
    }
  }
  EXPECT_TRUE(
      testing::waitFor([&] { return std::filesystem::file_size(path) > initial + (4u << 20); },
                       std::chrono::seconds(60)));
  EXPECT_EQ(s->outbox->after(0, 10000)->size(), 6000u);
}

// Checkpoints run on the store's own thread (never inside a commit, where their fsyncs were the
// bus's latency tail), and under a steady load the WAL keeps coming back to its start: it stays
// bounded although no commit ever finds it idle.
TEST(SqliteStore, CheckpointerKeepsTheWalBoundedUnderSteadyLoad) {
  TempDir dir;
  const std::string path = dir.file("b.db");
  SqliteBusStoreOptions o{path, 1ull << 30};
  o.walCheckpointPages = 32;
  o.walRestartPages = 256;
  uint64_t acked = 0;
  const int n = 8000;
  {
    auto s = openSqliteBusStore(o);
    ASSERT_TRUE(s.ok());
    const std::string payload(300, 'p');
    // A sender at a steady 4000 events/s (the load's shape, not a synchronisation): appends, and
    // trims what was acknowledged.
    const auto start = std::chrono::steady_clock::now();
    for (int i = 1; i <= n; ++i) {
      std::this_thread::sleep_until(start + std::chrono::microseconds(250) * i);
      ASSERT_TRUE(s->outbox->append(payload).ok());
      if (i % 200 == 0) {
        acked = static_cast<uint64_t>(i - 100);
        ASSERT_TRUE(s->outbox->ackThrough(acked).ok());
      }
    }
    const WalStats w = s->walStats();
    EXPECT_GT(w.checkpoints, 0u);
    EXPECT_GE(w.restarts, 3u) << "max WAL pages " << w.maxPages;
    // Bounded: a commit checkpoints inline at 8x the restart length when the checkpointer lags
    // (a starved thread on a loaded machine), so even then the WAL stays within a small multiple.
    EXPECT_LT(w.maxPages, 16u * 256u)
        << "checkpointer passes " << w.checkpoints << ", inline " << w.inlineCheckpoints;
    EXPECT_LT(std::filesystem::file_size(path + "-wal"), 16u * 256u * (4096u + 24u));
    EXPECT_EQ(s->outbox->after(acked, 100000)->size(), static_cast<size_t>(n) - acked);
  }
  auto again = openSqliteBusStore(o);  // everything not acknowledged is still there
  ASSERT_TRUE(again.ok());
  auto rows = again->outbox->after(0, 100000);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), static_cast<size_t>(n) - acked);
  EXPECT_EQ(rows->front().seq, acked + 1);
  EXPECT_EQ(rows->back().seq, static_cast<uint64_t>(n));
}

}  // namespace
}  // namespace sharpeyes::bus
