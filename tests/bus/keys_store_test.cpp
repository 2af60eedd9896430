#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

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

}  // namespace
}  // namespace sharpeyes::bus
