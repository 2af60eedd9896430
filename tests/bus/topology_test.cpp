// The cascade as separate processes of the built `sharpeyes` binary on loopback ports:
// city <- county <- township <- village centres, two gateways (publishers in this process).
// Routing by severity, subtree subscriptions, and a centre killed with SIGKILL mid-stream.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "sharpeyes/bus/keys.h"
#include "sharpeyes/bus/publisher.h"
#include "sharpeyes/bus/subscriber.h"
#include "test_util.h"

extern char** environ;

namespace sharpeyes::bus {
namespace {

using testing::makeEvent;
using testing::TempDir;
using testing::waitFor;

constexpr const char* kCity = "510600000000";
constexpr const char* kCounty = "510603000000";
constexpr const char* kTownship = "510603101000";
constexpr const char* kVillage1 = "510603101201";
constexpr const char* kVillage2 = "510603101202";  // has no village centre

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

struct CentreProc {
  std::string name, level, division, dir;
  std::vector<std::string> allowNames;
  std::string upstream;  // name of the upstream centre, empty for the top
  pid_t pid = -1;
  nlohmann::json ready;
};

class Topology : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const std::string n : {"city", "county", "township", "village", "gw1", "gw2", "sub"}) {
      // Keys made by the binary itself, as an operator would.
      const std::string prefix = dir_.file(n);
      const pid_t pid =
          spawn({SHARPEYES_BINARY, "keys", "gen", "--out", prefix}, dir_.file("keys.log"));
      ASSERT_GT(pid, 0);
      int status = 0;
      waitpid(pid, &status, 0);
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << readFile(dir_.file("keys.log"));
      keys_[n] = loadKeyPair(prefix + ".key").value();
    }
    centres_["city"] = {"city", "city", kCity, dir_.file("city"), {"county", "sub"}, ""};
    centres_["county"] = {"county", "county", kCounty, dir_.file("county"), {"township", "sub"},
                          "city"};
    centres_["township"] = {
        "township", "township", kTownship, dir_.file("township"), {"village", "gw2", "sub"},
        "county"};
    centres_["village"] = {"village",      "village", kVillage1, dir_.file("village"),
                           {"gw1", "sub"}, "township"};
    for (auto& [name, c] : centres_) {
      std::ofstream allow(dir_.file(name + ".allow"));
      for (const auto& peer : c.allowNames) allow << peer << ' ' << keys_[peer].publicKey << '\n';
    }
    for (const std::string n : {"city", "county", "township", "village"}) {
      ASSERT_TRUE(
          startCentre(centres_[n], "tcp://127.0.0.1:0", "tcp://127.0.0.1:0", "tcp://127.0.0.1:0"));
    }
  }

  void TearDown() override {
    for (auto& s : subs_) s->stop();
    for (auto& t : subThreads_) t.join();
    for (auto& p : pubs_) p->stop();
    for (auto& [name, c] : centres_) stopCentre(c);
    // Keys never appear in any log.
    for (const auto& [name, c] : centres_) {
      const std::string log = readFile(dir_.file(name + ".log"));
      for (const auto& [kn, k] : keys_) {
        EXPECT_EQ(log.find(k.secretKey), std::string::npos) << name << " logged " << kn;
      }
    }
  }

  bool startCentre(CentreProc& c, const std::string& ev, const std::string& cl,
                   const std::string& pb) {
    const std::string readyFile = dir_.file(c.name + ".ready");
    std::remove(readyFile.c_str());
    std::vector<std::string> args = {SHARPEYES_BINARY, "center",
                                     "--level",        c.level,
                                     "--division",     c.division,
                                     "--name",         c.name,
                                     "--data",         c.dir,
                                     "--key",          dir_.file(c.name + ".key"),
                                     "--allow",        dir_.file(c.name + ".allow"),
                                     "--bind-events",  ev,
                                     "--bind-clips",   cl,
                                     "--bind-pub",     pb,
                                     "--ready-file",   readyFile};
    if (!c.upstream.empty()) {
      const auto& up = centres_[c.upstream].ready;
      args.insert(args.end(), {"--upstream", up["events"].get<std::string>(), "--upstream-clips",
                               up["clips"].get<std::string>(), "--upstream-key",
                               dir_.file(c.upstream + ".pub")});
    }
    c.pid = spawn(args, dir_.file(c.name + ".log"));
    if (c.pid <= 0) return false;
    if (!waitFor([&] { return std::ifstream(readyFile).good(); })) {
      ADD_FAILURE() << c.name << " did not start: " << readFile(dir_.file(c.name + ".log"));
      return false;
    }
    c.ready = nlohmann::json::parse(readFile(readyFile));
    return true;
  }

  void stopCentre(CentreProc& c, int sig = SIGTERM) {
    if (c.pid <= 0) return;
    ::kill(c.pid, sig);
    int status = 0;
    waitpid(c.pid, &status, 0);
    c.pid = -1;
  }

  Publisher& gateway(const std::string& name, const std::string& centre) {
    PublisherConfig p;
    p.origin = name;
    p.endpoint = centres_[centre].ready["events"];
    p.clipEndpoint = centres_[centre].ready["clips"];
    p.serverPublicKey = keys_[centre].publicKey;
    p.publicKey = keys_[name].publicKey;
    p.secretKey = keys_[name].secretKey;
    p.outboxPath = dir_.file(name + ".outbox.db");
    p.retransmitInitial = std::chrono::milliseconds(100);
    p.retransmitMax = std::chrono::milliseconds(1000);
    pubs_.push_back(Publisher::create(p).value());
    EXPECT_TRUE(pubs_.back()->start().ok());
    return *pubs_.back();
  }

  // Alerts seen by one subscriber, by tag (the event's "tag" attribute).
  struct Seen {
    std::mutex mu;
    std::vector<std::string> tags;
    std::vector<std::string> divisions;
    std::vector<std::string> tagsCopy() {
      std::lock_guard lock(mu);
      return tags;
    }
    size_t count(const std::string& tag) {
      std::lock_guard lock(mu);
      return std::count(tags.begin(), tags.end(), tag);
    }
  };

  std::shared_ptr<Seen> subscribe(const std::string& centre, const std::string& division) {
    SubscriberConfig c;
    c.endpoint = centres_[centre].ready["events"];
    c.serverPublicKey = keys_[centre].publicKey;
    c.publicKey = keys_["sub"].publicKey;
    c.secretKey = keys_["sub"].secretKey;
    c.division = core::DivisionCode::parse(division).value();
    c.quietTimeout = std::chrono::milliseconds(1500);
    auto seen = std::make_shared<Seen>();
    subs_.push_back(Subscriber::create(c).value());
    Subscriber* s = subs_.back().get();
    subThreads_.emplace_back([s, seen] {
      (void)s->run([seen](const ReceivedAlert& a) {
        std::lock_guard lock(seen->mu);
        auto it = a.event.attributes.find("tag");
        seen->tags.push_back(it == a.event.attributes.end() ? "" : it->second);
        seen->divisions.push_back(a.event.division.str());
      });
    });
    return seen;
  }

  static core::Event tagged(const std::string& division, int severity, const std::string& tag) {
    auto e = makeEvent(division, severity);
    e.attributes["tag"] = tag;
    return e;
  }

  TempDir dir_;
  std::map<std::string, KeyPair> keys_;
  std::map<std::string, CentreProc> centres_;
  std::vector<std::unique_ptr<Publisher>> pubs_;
  std::vector<std::unique_ptr<Subscriber>> subs_;
  std::vector<std::thread> subThreads_;
};

TEST_F(Topology, EachSeverityReachesExactlyThePolicysLevels) {
  auto atCity = subscribe("city", kCity);
  auto atCounty = subscribe("county", kCounty);
  auto atTownship = subscribe("township", kTownship);
  auto atVillage = subscribe("village", kVillage1);
  auto village1AtTownship = subscribe("township", kVillage1);  // a village platform's view
  Publisher& gw1 = gateway("gw1", "village");
  Publisher& gw2 = gateway("gw2", "township");  // village 2 has no centre: straight to township
  for (int s = 1; s <= 4; ++s) {
    ASSERT_TRUE(gw1.publish(tagged(kVillage1, s, "v1-s" + std::to_string(s))).ok());
    ASSERT_TRUE(gw2.publish(tagged(kVillage2, s, "v2-s" + std::to_string(s))).ok());
  }
  // Outside the village centre's subtree: refused there, seen nowhere.
  ASSERT_TRUE(gw1.publish(tagged(kVillage2, 4, "stray")).ok());
  // Markers: severity 4 reaches every level; links keep order, so when a level has a marker it
  // has everything published before it.
  ASSERT_TRUE(gw1.publish(tagged(kVillage1, 4, "m1")).ok());
  ASSERT_TRUE(gw2.publish(tagged(kVillage2, 4, "m2")).ok());
  for (auto* seen : {atCity.get(), atCounty.get(), atTownship.get()}) {
    ASSERT_TRUE(
        waitFor([&] { return seen->count("m1") && seen->count("m2"); }, std::chrono::seconds(30)));
  }
  ASSERT_TRUE(waitFor([&] { return atVillage->count("m1") && village1AtTownship->count("m1"); }));
  using V = std::multiset<std::string>;
  auto set = [](const std::shared_ptr<Seen>& s) {
    auto t = s->tagsCopy();
    return V(t.begin(), t.end());
  };
  EXPECT_EQ(set(atVillage), (V{"v1-s1", "v1-s2", "v1-s3", "v1-s4", "m1"}));
  EXPECT_EQ(set(atTownship),
            (V{"v1-s2", "v1-s3", "v1-s4", "m1", "v2-s1", "v2-s2", "v2-s3", "v2-s4", "m2"}));
  EXPECT_EQ(set(atCounty), (V{"v1-s3", "v1-s4", "m1", "v2-s3", "v2-s4", "m2"}));
  EXPECT_EQ(set(atCity), (V{"v1-s4", "m1", "v2-s4", "m2"}));
  EXPECT_EQ(set(village1AtTownship), (V{"v1-s2", "v1-s3", "v1-s4", "m1"}));
  ASSERT_TRUE(waitFor([&] { return gw1.stats().rejected == 1; }));
}

TEST_F(Topology, KillMinus9MidStreamLosesNothingDuplicatesNothing) {
  auto atCounty = subscribe("county", kCounty);
  auto atTownship = subscribe("township", kTownship);
  Publisher& gw1 = gateway("gw1", "village");
  std::set<std::string> sent;
  int n = 0;
  auto publish = [&](int count) {
    for (int i = 0; i < count; ++i) {
      const std::string tag = "e" + std::to_string(n++);
      sent.insert(tag);
      ASSERT_TRUE(gw1.publish(tagged(kVillage1, 3, tag)).ok());
    }
  };
  publish(150);
  ASSERT_TRUE(waitFor([&] { return atCounty->tagsCopy().size() >= 20; }));
  auto& township = centres_["township"];
  const auto ready = township.ready;
  stopCentre(township, SIGKILL);
  publish(150);  // held in the village's outbox meanwhile
  ASSERT_TRUE(startCentre(township, ready["events"], ready["clips"], ready["pub"]));
  publish(100);
  ASSERT_TRUE(
      waitFor([&] { return atCounty->tagsCopy().size() >= 400; }, std::chrono::seconds(60)));
  ASSERT_TRUE(
      waitFor([&] { return atTownship->tagsCopy().size() >= 400; }, std::chrono::seconds(30)));
  for (auto* seen : {atCounty.get(), atTownship.get()}) {
    auto tags = seen->tagsCopy();
    EXPECT_EQ(tags.size(), 400u);
    EXPECT_EQ(std::set<std::string>(tags.begin(), tags.end()), sent);
  }
}

}  // namespace
}  // namespace sharpeyes::bus
