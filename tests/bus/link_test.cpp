// One centre and one publisher in this process, over real CURVE sockets on loopback: delivery,
// acknowledgement, restart without loss or duplicates, division check, security, malformed and
// oversize frames, clips (verified, resumed), outbox quota.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <mutex>
#include <set>
#include <thread>
#include <zmq.hpp>

#include "sharpeyes/bus/center.h"
#include "sharpeyes/bus/keys.h"
#include "sharpeyes/bus/publisher.h"
#include "sharpeyes/core/util.h"
#include "test_util.h"

namespace sharpeyes::bus {
namespace {

using testing::makeEvent;
using testing::TempDir;
using testing::waitFor;

constexpr const char* kVillage = "510603101201";

class LinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    centreKeys_ = generateKeyPair().value();
    gwKeys_ = generateKeyPair().value();
    otherKeys_ = generateKeyPair().value();
  }
  void TearDown() override {
    if (pub_) pub_->stop();
    if (centre_) centre_->stop();
  }

  CenterConfig centreConfig(const std::string& bindEvents = "tcp://127.0.0.1:0",
                            const std::string& bindClips = "tcp://127.0.0.1:0") {
    CenterConfig c;
    c.name = "village-1";
    c.level = core::DivisionLevel::kVillage;
    c.division = core::DivisionCode::parse(kVillage).value();
    c.dataDir = dir_.file("centre");
    c.bindEvents = bindEvents;
    c.bindClips = bindClips;
    c.keys = centreKeys_;
    c.allow = {{"gw-1", gwKeys_.publicKey}};
    return c;
  }

  void startCentre(CenterConfig c) {
    centre_ = Center::create(std::move(c)).value();
    centre_->setOnStored([this](const StoredAlert& a) {
      std::lock_guard lock(mu_);
      storedIds_.push_back(a.event.id);
      storedCameras_.push_back(a.event.camera.str());
    });
    auto eps = centre_->start();
    ASSERT_TRUE(eps.ok()) << eps.error().describe();
    eps_ = *eps;
  }

  PublisherConfig publisherConfig() {
    PublisherConfig p;
    p.origin = "gw-1";
    p.endpoint = eps_.events;
    p.clipEndpoint = eps_.clips;
    p.serverPublicKey = centreKeys_.publicKey;
    p.publicKey = gwKeys_.publicKey;
    p.secretKey = gwKeys_.secretKey;
    p.outboxPath = dir_.file("outbox.db");
    p.retransmitInitial = std::chrono::milliseconds(100);
    p.retransmitMax = std::chrono::milliseconds(500);
    return p;
  }

  void startPublisher() {
    pub_ = Publisher::create(publisherConfig()).value();
    ASSERT_TRUE(pub_->start().ok());
  }

  size_t storedCount() {
    std::lock_guard lock(mu_);
    return storedIds_.size();
  }
  std::vector<std::string> storedIds() {
    std::lock_guard lock(mu_);
    return storedIds_;
  }

  // A raw client socket, for the peers that do not play by the rules.
  zmq::socket_t rawDealer(const KeyPair* keys) {
    zmq::socket_t s(ctx_, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    if (keys) {
      s.set(zmq::sockopt::curve_serverkey, centreKeys_.publicKey);
      s.set(zmq::sockopt::curve_publickey, keys->publicKey);
      s.set(zmq::sockopt::curve_secretkey, keys->secretKey);
    }
    s.connect(eps_.events);
    return s;
  }

  TempDir dir_;
  KeyPair centreKeys_, gwKeys_, otherKeys_;
  std::unique_ptr<Center> centre_;
  std::unique_ptr<Publisher> pub_;
  CenterEndpoints eps_;
  std::mutex mu_;
  std::vector<std::string> storedIds_;
  std::vector<std::string> storedCameras_;
  zmq::context_t ctx_{1};
};

TEST_F(LinkTest, DeliversInOrderAndEmptiesTheOutbox) {
  startCentre(centreConfig());
  startPublisher();
  std::vector<std::string> sent;
  for (int i = 0; i < 300; ++i) {
    auto e =
        makeEvent(kVillage, 1 + i % 4, core::EventType::kIntrusion, "cam-" + std::to_string(i % 3));
    sent.push_back(e.id);
    ASSERT_TRUE(pub_->publish(e).ok());
  }
  ASSERT_TRUE(waitFor([&] { return pub_->stats().acked >= 300 && storedCount() >= 300; }));
  EXPECT_EQ(storedIds(), sent);  // per-origin order, so per-camera order
  EXPECT_EQ(pub_->stats().outboxBytes, 0u);
  EXPECT_TRUE(pub_->stats().connected);
  // Retransmissions (a slow ack on a loaded machine) may arrive, but are never stored twice.
  EXPECT_EQ(centre_->stats().stored, 300u);
}

TEST_F(LinkTest, CentreRestartLosesNothingAndDuplicatesNothing) {
  startCentre(centreConfig());
  const std::string events = eps_.events, clips = eps_.clips;
  startPublisher();
  std::set<std::string> sent;
  auto publish = [&](int n) {
    for (int i = 0; i < n; ++i) {
      auto e = makeEvent(kVillage, 1);
      sent.insert(e.id);
      ASSERT_TRUE(pub_->publish(e).ok());
    }
  };
  publish(100);
  ASSERT_TRUE(waitFor([&] { return storedCount() >= 50; }));
  centre_->stop();  // the link goes dead; events published meanwhile wait in the outbox
  centre_.reset();
  publish(100);
  startCentre(centreConfig(events, clips));
  publish(100);
  ASSERT_TRUE(waitFor([&] { return pub_->stats().acked >= 300; }));
  auto ids = storedIds();
  EXPECT_EQ(ids.size(), 300u);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), sent);
}

TEST_F(LinkTest, RefusesEventsOutsideItsDivisionAndCarriesOn) {
  startCentre(centreConfig());
  startPublisher();
  ASSERT_TRUE(pub_->publish(makeEvent("510603101202", 1)).ok());  // the neighbour village
  auto ok = makeEvent(kVillage, 1);
  ASSERT_TRUE(pub_->publish(ok).ok());
  ASSERT_TRUE(waitFor([&] { return pub_->stats().acked >= 2 && storedCount() >= 1; }));
  ASSERT_TRUE(waitFor([&] { return pub_->stats().rejected == 1; }));
  EXPECT_EQ(storedIds(), std::vector<std::string>{ok.id});
  EXPECT_EQ(centre_->stats().rejectedDivision, 1u);
}

TEST_F(LinkTest, UnknownKeyNoKeyAndPlaintextAreRefusedOthersUndisturbed) {
  startCentre(centreConfig());
  startPublisher();
  const std::string forged = R"({"v":1,"type":"event","origin":"gw-1","epoch":"x","seq":1,)"
                             R"("event":{"id":"forged","division":"510603101201","camera":"c",)"
                             R"("type":"intrusion","severity":1}})";
  // A valid CURVE client whose key is not on the allowlist: a CURVE server without a ZAP handler
  // would accept it.
  auto unknown = rawDealer(&otherKeys_);
  // No CURVE at all (NULL mechanism, plaintext).
  auto plain = rawDealer(nullptr);
  (void)unknown.send(zmq::buffer(forged), zmq::send_flags::dontwait);
  (void)plain.send(zmq::buffer(forged), zmq::send_flags::dontwait);
  ASSERT_TRUE(waitFor([&] { return centre_->stats().authFailures >= 2; }));
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(pub_->publish(makeEvent(kVillage, 1)).ok());
  ASSERT_TRUE(waitFor([&] { return pub_->stats().acked >= 50; }));
  auto ids = storedIds();
  EXPECT_EQ(ids.size(), 50u);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), "forged"), 0);
}

TEST_F(LinkTest, MalformedAndOversizeFramesAreDroppedCountedAndHarmless) {
  startCentre(centreConfig());
  startPublisher();
  // An authenticated peer that sends rubbish (the allowed key, used by a broken client).
  auto raw = rawDealer(&gwKeys_);
  const std::vector<std::string> junk = {
      "not json",
      "[1,2,3]",
      R"({"type":"event"})",                        // no version
      R"({"v":2,"type":"event"})",                  // unknown version
      R"({"v":1,"type":"nonsense"})",               // unknown type
      R"({"v":1,"type":"event","origin":"gw-1"})",  // no seq/epoch/event
      R"({"v":1,"type":"replay","prefix":"abc","after":0})",
  };
  for (const auto& j : junk) ASSERT_TRUE(raw.send(zmq::buffer(j), zmq::send_flags::none));
  // Two metadata frames where one is expected.
  ASSERT_TRUE(raw.send(zmq::buffer(junk[0]), zmq::send_flags::sndmore));
  ASSERT_TRUE(raw.send(zmq::buffer(junk[0]), zmq::send_flags::none));
  // Another origin's name under this key.
  const std::string spoof = R"({"v":1,"type":"event","origin":"gw-9","epoch":"x","seq":1,)"
                            R"("event":{"id":"spoof","division":"510603101201","camera":"c",)"
                            R"("type":"intrusion","severity":1}})";
  ASSERT_TRUE(raw.send(zmq::buffer(spoof), zmq::send_flags::none));
  ASSERT_TRUE(waitFor([&] {
    auto s = centre_->stats();
    return s.malformed >= junk.size() + 1 && s.rejectedOrigin >= 1;
  }));
  // Oversize: libzmq closes that connection before the frame reaches the application.
  auto big = rawDealer(&gwKeys_);
  const std::string huge(512 * 1024, 'x');
  ASSERT_TRUE(big.send(zmq::buffer(huge), zmq::send_flags::none));
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(pub_->publish(makeEvent(kVillage, 2)).ok());
  ASSERT_TRUE(waitFor([&] { return pub_->stats().acked >= 50; }));
  auto ids = storedIds();
  EXPECT_EQ(ids.size(), 50u);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), "spoof"), 0);
  EXPECT_TRUE(pub_->stats().connected);
}

std::string writeRandomFile(const std::string& path, size_t size) {
  std::string data(size, '\0');
  uint64_t x = 88172645463325252ull;
  for (auto& c : data) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  std::ofstream(path, std::ios::binary) << data;
  return core::sha256Hex(data);
}

TEST_F(LinkTest, ClipArrivesVerifiedAndResumesFromAPartialCopy) {
  startCentre(centreConfig());
  startPublisher();
  const size_t size = 3 * 1024 * 1024 + 12345;
  const std::string sha = writeRandomFile(dir_.file("clip.mp4"), size);
  ASSERT_TRUE(pub_->publishClip({"clip-a", "ev1", dir_.file("clip.mp4"), "", "{}"}).ok());
  ASSERT_TRUE(waitFor([&] { return centre_->stats().clipsReceived >= 1; }));
  auto got = core::sha256File(dir_.file("centre/clips/clip-a.clip"));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, sha);
  EXPECT_EQ(centre_->stats().clipBytes, size);
  ASSERT_TRUE(waitFor([&] { return pub_->stats().clipsSent >= 1; }));

  // What a broken-off transfer leaves behind: the first part of the clip on the centre's disk.
  std::string data(size, '\0');
  std::ifstream(dir_.file("clip.mp4"), std::ios::binary).read(data.data(), size);
  const size_t half = 1500000;
  std::ofstream(dir_.file("centre/clips/clip-b.part"), std::ios::binary) << data.substr(0, half);
  const uint64_t before = centre_->stats().clipBytes;
  ASSERT_TRUE(pub_->publishClip({"clip-b", "ev2", dir_.file("clip.mp4"), sha, "{}"}).ok());
  ASSERT_TRUE(waitFor([&] { return centre_->stats().clipsReceived >= 2; }));
  EXPECT_EQ(centre_->stats().clipBytes - before, size - half);  // only the rest travelled
  EXPECT_EQ(core::sha256File(dir_.file("centre/clips/clip-b.clip")).value(), sha);

  // A corrupt partial copy fails verification and the clip is sent again from the start.
  std::ofstream(dir_.file("centre/clips/clip-c.part"), std::ios::binary) << std::string(1000, 'z');
  ASSERT_TRUE(pub_->publishClip({"clip-c", "ev3", dir_.file("clip.mp4"), sha, "{}"}).ok());
  ASSERT_TRUE(waitFor([&] { return centre_->stats().clipsReceived >= 3; }));
  EXPECT_EQ(centre_->stats().clipHashMismatches, 1u);
  EXPECT_EQ(core::sha256File(dir_.file("centre/clips/clip-c.clip")).value(), sha);
}

TEST_F(LinkTest, OutboxQuotaRefusesAndAlertsOnceWhenTheCentreIsAway) {
  eps_.events = "tcp://127.0.0.1:1";  // nobody there
  eps_.clips.clear();
  auto cfg = publisherConfig();
  cfg.outboxQuotaBytes = 4000;
  pub_ = Publisher::create(cfg).value();
  std::atomic<int> alerts{0};
  pub_->setOutboxFullCallback([&](uint64_t used, uint64_t quota) {
    EXPECT_LE(used, quota);
    ++alerts;
  });
  ASSERT_TRUE(pub_->start().ok());
  int accepted = 0;
  core::Result<uint64_t> r = uint64_t{0};
  for (int i = 0; i < 100 && (r = pub_->publish(makeEvent(kVillage, 1))).ok(); ++i) ++accepted;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, core::ErrorCode::kResourceExhausted);
  EXPECT_GT(accepted, 0);
  EXPECT_FALSE(pub_->publish(makeEvent(kVillage, 1)).ok());
  EXPECT_EQ(alerts.load(), 1);
  auto s = pub_->stats();
  EXPECT_GE(s.outboxFull, 2u);
  EXPECT_LE(s.outboxBytes, s.outboxQuotaBytes);
  EXPECT_FALSE(s.connected);
}

// A storing transaction fails (a real SQLite error, from a trigger refusing one event): nothing of
// that batch is acknowledged, the sender keeps retransmitting, and once the store works again one
// cumulative ack covers everything, each event stored once and in order.
TEST_F(LinkTest, CumulativeAckAfterAFailedStoringTransaction) {
  startCentre(centreConfig());
  startPublisher();
  std::vector<std::string> sent;
  auto publish = [&](const core::Event& e) {
    sent.push_back(e.id);
    ASSERT_TRUE(pub_->publish(e).ok());
  };
  for (int i = 0; i < 10; ++i) publish(makeEvent(kVillage, 1));
  ASSERT_TRUE(waitFor([&] { return pub_->stats().acked >= 10; }));
  const uint64_t ackedBefore = pub_->stats().acked;
  auto poisoned = makeEvent(kVillage, 1);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir_.file("centre/center.db").c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 10000);
  const std::string trigger =
      "CREATE TRIGGER poison BEFORE INSERT ON received WHEN NEW.event_id = '" + poisoned.id +
      "' BEGIN SELECT RAISE(ABORT, 'poisoned'); END;";
  ASSERT_EQ(sqlite3_exec(db, trigger.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  publish(poisoned);
  for (int i = 0; i < 20; ++i) publish(makeEvent(kVillage, 1));
  // At least two failed attempts (the first and a retransmission), and no ack past the poison.
  ASSERT_TRUE(waitFor([&] { return centre_->stats().storeErrors >= 2; }));
  EXPECT_EQ(pub_->stats().acked, ackedBefore);
  EXPECT_EQ(storedCount(), 10u);
  ASSERT_EQ(sqlite3_exec(db, "DROP TRIGGER poison", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  ASSERT_TRUE(waitFor([&] { return pub_->stats().acked >= ackedBefore + 21; }));
  EXPECT_EQ(storedIds(), sent);
  EXPECT_EQ(centre_->stats().stored, 31u);
  ASSERT_TRUE(waitFor([&] { return pub_->stats().outboxBytes == 0; }));
}

// Several threads publish at once (their outbox appends share commits): every event arrives once,
// and each camera's events in the order its thread published them. Also the regression test of a
// lost wake-up that once stalled a link whose outbox was appended to from another thread.
TEST_F(LinkTest, ConcurrentPublishersKeepPerCameraOrder) {
  startCentre(centreConfig());
  startPublisher();
  constexpr int kThreads = 3;
  constexpr int kEach = 400;
  std::vector<std::vector<std::string>> sent(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto e = makeEvent(kVillage, 1, core::EventType::kIntrusion, "cam-" + std::to_string(t));
        if (pub_->publish(e).ok()) sent[t].push_back(e.id);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& ids : sent) ASSERT_EQ(ids.size(), static_cast<size_t>(kEach));
  ASSERT_TRUE(waitFor([&] { return storedCount() >= kThreads * kEach; }, std::chrono::seconds(60)));
  std::vector<std::vector<std::string>> got(kThreads);
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < storedIds_.size(); ++i) {
      got[static_cast<size_t>(storedCameras_[i].back() - '0')].push_back(storedIds_[i]);
    }
  }
  EXPECT_EQ(got, sent);
  EXPECT_EQ(centre_->stats().stored, static_cast<uint64_t>(kThreads * kEach));
}

// Acknowledged rows leave the outbox in batches, not one delete per ack. A sender that crashed
// after the ack but before the delete resends those rows on restart: the centre recognises them as
// duplicates, acknowledges them again and stores nothing twice.
TEST_F(LinkTest, AckedRowsAreDeletedAndAResendAfterACrashIsADuplicate) {
  startCentre(centreConfig());
  auto store = openSqliteBusStore({dir_.file("shared.db")});
  ASSERT_TRUE(store.ok());
  auto cfg = publisherConfig();
  pub_ = Publisher::create(cfg, store->outbox).value();
  std::vector<std::string> sent;
  for (int i = 0; i < 40; ++i) {
    auto e = makeEvent(kVillage, 1);
    sent.push_back(e.id);
    ASSERT_TRUE(pub_->publish(e).ok());
  }
  // The state a crash after the ack and before the delete leaves: a copy of the outbox as it was
  // before sending (same epoch, same rows).
  const auto copy = dir_.path() / "crashed";
  std::filesystem::create_directories(copy);
  for (const char* f : {"shared.db", "shared.db-wal"}) {
    std::filesystem::copy_file(dir_.path() / f, copy / f);
  }
  ASSERT_TRUE(pub_->start().ok());
  ASSERT_TRUE(waitFor([&] { return pub_->stats().acked >= 40; }));
  ASSERT_TRUE(waitFor([&] { return store->outbox->bytesUsed() == 0; }));  // rows really deleted
  EXPECT_TRUE(store->outbox->after(0, 100)->empty());
  pub_->stop();
  pub_.reset();

  cfg.outboxPath = (copy / "shared.db").string();
  pub_ = Publisher::create(cfg).value();
  ASSERT_TRUE(pub_->start().ok());
  ASSERT_TRUE(waitFor([&] { return pub_->stats().acked >= 40; }));
  ASSERT_TRUE(waitFor([&] { return centre_->stats().duplicates >= 40; }));
  EXPECT_EQ(storedIds(), sent);
  EXPECT_EQ(centre_->stats().stored, 40u);
  pub_->stop();
  auto reopened = openSqliteBusStore({cfg.outboxPath});
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE(reopened->outbox->after(0, 100)->empty());  // stop() deleted what was acknowledged
}

// Wake-ups from several threads while the sender's I/O thread goes idle between bursts: every
// burst must reach the centre. (A wake-up lost in the race between two publishing threads once
// left a link stalled until the next ack, which never came.)
TEST_F(LinkTest, BurstsFromSeveralThreadsNeverStall) {
  startCentre(centreConfig());
  startPublisher();
  constexpr int kThreads = 3;
  constexpr int kRounds = 300;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] { ASSERT_TRUE(pub_->publish(makeEvent(kVillage, 1)).ok()); });
    }
    for (auto& th : threads) th.join();
    const size_t want = static_cast<size_t>((round + 1) * kThreads);
    ASSERT_TRUE(waitFor([&] { return storedCount() >= want; }, std::chrono::seconds(10)))
        << "stalled in round " << round;
  }
}

}  // namespace
}  // namespace sharpeyes::bus
