// End-to-end tests of the gateway as operators, police and a township centre use it: the real
// `sharpeyes gateway` (child process) on the simulator's real RTSP cameras, driven over its
// HTTP API, its WebSocket live video, and its ZeroMQ bus to a real `sharpeyes center`.
//
// One scenario per gateway start (starting one costs ~10 s): the tripwire on cam01 fires on the
// simulator's scripted walkers, and everything downstream of that event is checked.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <tuple>
#include <vector>

#include "gateway_support.h"
#include "process.h"
#include "sharpeyes/core/time.h"
#include "sharpeyes/core/util.h"
#include "sharpeyes/sim/sim.h"
#include "sharpeyes/storage/clip_store.h"
#include "sharpeyes/storage/database.h"
#include "sharpeyes/storage/recorder.h"
#include "sharpeyes/storage/segment_index.h"
#include "test_client.h"

namespace sharpeyes::app {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using sharpeyes::api::testing::Conn;
using sharpeyes::api::testing::Reply;
using sharpeyes::testing::ChildProcess;
using sharpeyes::testing::waitFor;
using testing::Api;

constexpr const char* kAdminPassword = "admin-pass-4711";

std::string runCapture(const std::string& command, int* status) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = ::pclose(p);
  if (status) *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

// Reads a live WebSocket until `want` media fragments (moof) arrived after an init segment
// (ftyp); returns how many did. `needInit` false: the init was read before.
int liveFragments(Conn& ws, int want, bool needInit = true) {
  bool init = !needInit;
  int fragments = 0;
  for (int i = 0; i < 400 && fragments < want; ++i) {
    int op = 0;
    auto msg = ws.wsRead(&op, 20s);
    if (!msg) break;
    if (op != 2 || msg->size() < 8) continue;
    if (msg->substr(4, 4) == "ftyp") {
      init = true;
    } else if (init && msg->substr(4, 4) == "moof") {
      ++fragments;
    }
  }
  return fragments;
}

class GatewayApiTest : public testing::SimulatorSuite {
 protected:
  void SetUp() override {
    dir_ =
        fs::path(::testing::TempDir()) /
        ("gwapi-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }

  // cam01 in village ...201 with a tripwire across the walkers' path, cam02 in ...202 and cam03
  // in ...203; 2 s segments and short pre/post-rolls so event clips come quickly.
  std::string writeConfig(const std::string& extra = "") {
    testing::GatewayConfig config("gw-api", dir_);
    config.defaults("recording: {segment_length: 2s}")
        .defaults("feed: {enabled: false, width: 640, height: 360, fps: 5}")
        // A quota, so that the host disk's fill (watermarks) never deletes the test's recordings.
        .storage("{retention: 30d, quota_gb: 50, sweep_interval: 5s, event_clips: true}");
    for (int i = 0; i < sim_->cameraCount(); ++i) {
      // cam03 has no sub stream (many older cameras): its live "sub" view is its main stream.
      config.simCamera(*sim_, i, i != 2,
                       i != 0 ? ""
                              : "    analytics:\n      pre_roll: 1s\n      post_roll: 2s\n"
                                "      rules:\n"
                                "        - {name: gate-line, type: tripwire, "
                                "line: [[0.5, 0.0], [0.5, 1.0]], direction: both, severity: 2}\n");
    }
    return config.extra(extra).write();
  }

  uint16_t startGateway(ChildProcess& gw, const std::string& config) {
    return testing::startGateway(gw, config, (dir_ / "gw").string(),
                                 {std::string("SHARPEYES_ADMIN_PASSWORD=") + kAdminPassword});
  }

  // The first alert raised by cam01's tripwire.
  static json waitForTripwireAlert(const Api& api, ChildProcess& gw) {
    json alert;
    EXPECT_TRUE(waitFor(
        [&] {
          const auto j = api.get("/api/alerts?camera=cam01");
          for (const auto& a : j.value("alerts", json::array())) {
            if (a["event"].value("type", "") == "tripwire") {
              alert = a;
              return true;
            }
          }
          return false;
        },
        120s))
        << gw.err();
    return alert;
  }

  fs::path dir_;
};

TEST_F(GatewayApiTest, OperatorsPoliceAndVillagesWorkThroughTheApi) {
  ChildProcess gw;
  const uint16_t port = startGateway(gw, writeConfig());
  ASSERT_NE(port, 0);

  // No session: nothing but the login.
  EXPECT_EQ(Conn(port).request("GET", "/api/cameras").status, 401);
  // /status is for the box itself (loopback) and needs no login.
  EXPECT_EQ(Conn(port).request("GET", "/status").status, 200);
  Api wrong(port, "admin", "not-the-password");
  EXPECT_EQ(wrong.loginStatus(), 401);
  Api admin(port, "admin", kAdminPassword);
  ASSERT_TRUE(admin.ok()) << gw.err();

  // Cameras and their health.
  ASSERT_TRUE(waitFor(
      [&] {
        const auto j = admin.get("/api/cameras");
        int streaming = 0;
        for (const auto& c : j.value("cameras", json::array())) {
          streaming += c.contains("state") && c["state"].value("state", "") == "streaming";
        }
        return streaming == 3;
      },
      60s))
      << admin.call("GET", "/api/cameras").body << gw.err();
  // Each streaming camera names the reader that pulls it (the config's default, rtspsrc).
  for (const auto& c : admin.get("/api/cameras").value("cameras", json::array())) {
    EXPECT_EQ(c["state"].value("reader", ""), "rtspsrc") << c.dump();
  }

  // A village viewer of ...202 and an investigator for the township.
  ASSERT_EQ(admin
                .call("POST", "/api/users",
                      {{"name", "village202"},
                       {"password", "village-pass-1"},
                       {"role", "viewer"},
                       {"scope", "510603101202"}})
                .status,
            201);
  ASSERT_EQ(admin
                .call("POST", "/api/users",
                      {{"name", "police"},
                       {"password", "police-pass-1"},
                       {"role", "investigator"},
                       {"scope", "510603101000"}})
                .status,
            201);
  Api village(port, "village202", "village-pass-1");
  Api police(port, "police", "police-pass-1");
  ASSERT_TRUE(village.ok());
  ASSERT_TRUE(police.ok());
  {
    const auto cams = village.get("/api/cameras").value("cameras", json::array());
    ASSERT_EQ(cams.size(), 1u) << cams.dump();
    EXPECT_EQ(cams[0].value("id", ""), "cam02");
    EXPECT_EQ(village.call("GET", "/api/cameras/cam01").status, 403);
  }

  // The tripwire on cam01 raises an alert; the operator runs it through the five steps.
  const json alert = waitForTripwireAlert(admin, gw);
  ASSERT_TRUE(alert.is_object());
  const std::string alertId = alert.value("id", "");
  const std::string eventId = alert["event"].value("id", "");
  EXPECT_EQ(alert.value("step", ""), "new");
  EXPECT_EQ(alert["event"].value("division", ""), "510603101201");
  EXPECT_EQ(village.call("GET", "/api/alerts/" + alertId).status, 403);
  EXPECT_TRUE(village.get("/api/alerts").value("alerts", json::array()).empty())
      << village.call("GET", "/api/alerts").body;
  const std::vector<std::pair<std::string, json>> steps = {
      {"accept", json::object()},
      {"dispatch", {{"assignee", "派出所 police station 2"}}},
      {"handle", json::object()},
      {"feedback", {{"note", "two people crossed; checked, no harm"}}},
      {"close", {{"note", "closed"}}}};
  // Skipping a step is refused.
  EXPECT_EQ(admin.call("POST", "/api/alerts/" + alertId + "/handle", json::object()).status, 409);
  const std::string alertTarget = "/api/alerts/" + alertId + "/";
  for (const auto& [action, body] : steps) {
    const auto r = admin.call("POST", alertTarget + action, body);
    ASSERT_EQ(r.status, 200) << action << ": " << r.body;
  }
  {
    const auto a = admin.get("/api/alerts/" + alertId);
    EXPECT_EQ(a.value("step", ""), "closed");
    EXPECT_EQ(a.value("assignee", ""), "派出所 police station 2");
    ASSERT_EQ(a["history"].size(), 6u);
    EXPECT_EQ(a["history"][5].value("user", ""), "admin");
  }

  // The event's clip (pre-roll 1 s, post-roll 2 s) is cut automatically once recorded.
  storage::ClipRecord eventClip;
  ASSERT_TRUE(waitFor(
      [&] {
        auto db = storage::Database::open((dir_ / "index.db").string());
        if (!db) return false;
        auto clips = storage::ClipStore::open(*db);
        if (!clips) return false;
        auto list = (*clips)->clipsForEvent(eventId);
        if (!list || list->empty()) return false;
        eventClip = list->front();
        return true;
      },
      90s))
      << gw.err();
  {
    auto probe = storage::probeMedia(eventClip.clip.path, true);
    ASSERT_TRUE(probe.ok()) << eventClip.clip.path << ": " << probe.error().describe();
    EXPECT_GT(probe->decodedFrames, 25);  // at least the 3 s around the crossing, at 25 fps
    EXPECT_EQ(core::sha256File(eventClip.clip.path).value(), eventClip.clip.sha256);
  }

  // Police cut a clip of the last seconds, download a part of it, open a case, hold, export.
  const auto now = core::processClock().now();
  json clip;
  {
    const auto r = police.call("POST", "/api/clips",
                               {{"camera", "cam01"},
                                {"from", core::formatIso8601(now - 8s)},
                                {"to", core::formatIso8601(now - 4s)}});
    ASSERT_EQ(r.status, 201) << r.body;
    clip = json::parse(r.body);
  }
  const std::string clipId = clip.value("id", "");
  {
    const auto r = police.call("GET", "/api/clips/" + clipId + "/download", nullptr,
                               {{"Range", "bytes=0-99"}});
    EXPECT_EQ(r.status, 206);
    EXPECT_EQ(r.body.size(), 100u);
    EXPECT_EQ(r.body.substr(4, 4), "ftyp");
  }
  EXPECT_EQ(village.call("GET", "/api/clips/" + clipId).status, 403);
  std::string caseId;
  {
    const auto r = police.call("POST", "/api/cases", {{"title", "bicycle theft at the gate"}});
    ASSERT_EQ(r.status, 201) << r.body;
    caseId = json::parse(r.body).value("id", "");
  }
  ASSERT_EQ(police.call("POST", "/api/cases/" + caseId + "/holds", {{"clip_id", clipId}}).status,
            200);
  json evidence;
  {
    const auto r = police.call("POST", "/api/cases/" + caseId + "/export", json::object());
    ASSERT_EQ(r.status, 201) << r.body;
    evidence = json::parse(r.body);
  }
  {
    const auto r = police.call("GET", "/api/evidence/" + evidence.value("id", "") + "/download");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(core::sha256Hex(r.body), evidence.value("sha256", ""));
    const fs::path tarPath = dir_ / "evidence.tar";
    std::ofstream(tarPath, std::ios::binary) << r.body;
    const fs::path out = dir_ / "unpacked";
    fs::create_directories(out);
    int status = -1;
    runCapture("tar -xf " + tarPath.string() + " -C " + out.string(), &status);
    ASSERT_EQ(status, 0);
    // The package of the clip verifies offline with the gateway's public key.
    const fs::path pkg = out / evidence.value("id", "") / clipId;
    const std::string verify =
        runCapture(std::string(SHARPEYES_BINARY) + " verify " + pkg.string() + " --key " +
                       (dir_ / "keys" / "evidence.pub.pem").string(),
                   &status);
    EXPECT_EQ(status, 0) << verify;
  }
  // Every look at video and every export is in the audit log, with who did it.
  {
    const auto log = admin.get("/api/audit").value("entries", json::array());
    std::set<std::string> seen;
    for (const auto& e : log) seen.insert(e.value("action", "") + ":" + e.value("user", ""));
    EXPECT_TRUE(seen.count("clip.view:police")) << log.dump();
    EXPECT_TRUE(seen.count("evidence.export:police")) << log.dump();
    EXPECT_TRUE(seen.count("alert.close:admin")) << log.dump();
  }

  // Live video: fragmented MP4 over WebSocket, for the village too.
  {
    Conn ws(port);
    Reply handshake;
    ASSERT_TRUE(ws.wsHandshake("/ws/live/cam02?stream=sub",
                               {{"Authorization", "Bearer " + village.token()}}, &handshake))
        << handshake.status << " " << handshake.body;
    EXPECT_EQ(liveFragments(ws, 10), 10);
    Conn other(port);
    EXPECT_FALSE(other.wsHandshake("/ws/live/cam01?stream=sub",
                                   {{"Authorization", "Bearer " + village.token()}}));
  }
  {
    // cam03 has no sub stream: its main stream serves both, also to a sub viewer who joins while
    // the main stream is already being muxed for someone else.
    Conn mainViewer(port);
    ASSERT_TRUE(mainViewer.wsHandshake("/ws/live/cam03?stream=main",
                                       {{"Authorization", "Bearer " + admin.token()}}));
    EXPECT_EQ(liveFragments(mainViewer, 3), 3);
    Conn subViewer(port);
    ASSERT_TRUE(subViewer.wsHandshake("/ws/live/cam03?stream=sub",
                                      {{"Authorization", "Bearer " + admin.token()}}));
    EXPECT_EQ(liveFragments(subViewer, 10), 10);
    EXPECT_EQ(liveFragments(mainViewer, 10, false), 10) << "the main viewer keeps its stream";
  }
  {
    // Metrics show what happened, without a login (Prometheus scrapes them).
    const auto r = Conn(port).request("GET", "/metrics");
    EXPECT_NE(r.body.find("sharpeyes_alerts_raised_total"), std::string::npos);
    EXPECT_NE(r.body.find("sharpeyes_event_clips_total"), std::string::npos);
  }
  gw.kill(SIGTERM);
  EXPECT_EQ(gw.wait(30s), std::optional<int>(0)) << gw.err();
  // The admin's password was taken from the environment and never written to the log.
  EXPECT_EQ(gw.err().find(kAdminPassword), std::string::npos);
}

// Police check a camera's recordings before relying on them (GET /api/recordings/{camera}/
// integrity, what `sharpeyes recordings verify --json` prints): intact while untouched, not intact
// once one recorded file is altered in place, refused outside the caller's role and area, audited.
TEST_F(GatewayApiTest, PoliceVerifyACamerasRecordingsOverTheApi) {
  ChildProcess gw;
  const auto started = core::processClock().now();
  const uint16_t port = startGateway(gw, writeConfig());
  ASSERT_NE(port, 0);
  Api admin(port, "admin", kAdminPassword);
  ASSERT_TRUE(admin.ok()) << gw.err();

  // cam01 is in village ...201: its investigator, another village's investigator, its viewer and
  // the township's operator.
  const std::vector<std::tuple<std::string, std::string, std::string>> users = {
      {"police201", "investigator", "510603101201"},
      {"police202", "investigator", "510603101202"},
      {"viewer201", "viewer", "510603101201"},
      {"operator", "operator", "510603101000"}};
  for (const auto& [name, role, scope] : users) {
    ASSERT_EQ(
        admin
            .call(
                "POST", "/api/users",
                {{"name", name}, {"password", name + "-pass-1"}, {"role", role}, {"scope", scope}})
            .status,
        201)
        << name;
  }
  Api police(port, "police201", "police201-pass-1");
  Api otherVillage(port, "police202", "police202-pass-1");
  Api viewer(port, "viewer201", "viewer201-pass-1");
  Api op(port, "operator", "operator-pass-1");
  ASSERT_TRUE(police.ok() && otherVillage.ok() && viewer.ok() && op.ok());

  // cam01 has recorded a few 2 s segments.
  const std::string from = core::formatIso8601(started - 1min);
  std::string to;
  ASSERT_TRUE(waitFor(
      [&] {
        auto db = storage::Database::open((dir_ / "index.db").string());
        if (!db) return false;
        auto index = storage::SegmentIndex::open(*db);
        if (!index) return false;
        auto segs = (*index)->query(core::CameraId::parse("cam01").value(),
                                    {started - 1min, core::processClock().now() + 1min});
        if (!segs || segs->size() < 3) return false;
        to = core::formatIso8601(segs->back().end);
        return true;
      },
      90s))
      << gw.err();
  const std::string target = "/api/recordings/cam01/integrity?from=" + from + "&to=" + to;

  {
    const auto r = police.call("GET", target);
    ASSERT_EQ(r.status, 200) << r.body;
    const json j = json::parse(r.body);
    EXPECT_EQ(j.value("camera", ""), "cam01");
    EXPECT_EQ(j["range"].value("begin", ""), from);
    EXPECT_EQ(j["range"].value("end", ""), to);
    EXPECT_TRUE(j.value("intact", false)) << r.body;
    EXPECT_TRUE(j["chain"].value("ok", false)) << r.body;
    EXPECT_GE(j["chain"].value("rows_checked", 0), 3) << r.body;
    EXPECT_TRUE(j["chain"]["problems"].empty()) << r.body;
    EXPECT_GT(j.value("covered_seconds", 0.0), 0.0) << r.body;
    EXPECT_FALSE(j["covered"].empty()) << r.body;
    // The minute before the gateway started was never recorded: a gap no deletion explains.
    ASSERT_FALSE(j["gaps"].empty()) << r.body;
    EXPECT_EQ(j["gaps"][0].value("begin", ""), from);
    EXPECT_TRUE(j["gaps"][0]["deleted_by"].empty()) << r.body;
    EXPECT_TRUE(j["undated_deletions"].empty()) << r.body;
    EXPECT_FALSE(j.contains("files")) << "files are hashed only with files=1";
  }
  {
    const auto r = police.call("GET", target + "&files=1");
    ASSERT_EQ(r.status, 200) << r.body;
    const json j = json::parse(r.body);
    EXPECT_TRUE(j.value("intact", false)) << r.body;
    ASSERT_TRUE(j.contains("files")) << r.body;
    EXPECT_GE(j["files"].value("checked", 0), 3) << r.body;
    EXPECT_TRUE(j["files"]["problems"].empty()) << r.body;
  }

  // Outside the evidence roles, or outside the caller's area: refused, nothing checked.
  EXPECT_EQ(otherVillage.call("GET", target).status, 403);
  EXPECT_EQ(viewer.call("GET", target).status, 403);
  EXPECT_EQ(op.call("GET", target).status, 403);
  EXPECT_EQ(Conn(port).request("GET", target).status, 401);
  // Bad requests say what is wrong; an unknown camera is 404.
  const auto badRequest = [&](const std::string& query, const std::string& detail) {
    const auto r = police.call("GET", "/api/recordings/cam01/integrity?" + query);
    EXPECT_EQ(r.status, 400) << query << ": " << r.body;
    EXPECT_NE(r.body.find(detail), std::string::npos) << query << ": " << r.body;
  };
  badRequest("from=yesterday&to=" + to, "from:");
  badRequest("from=" + from, "from and to are required");
  badRequest("from=" + to + "&to=" + from, "to must be after from");
  badRequest("from=" + from + "&to=" + to + "&files=yes", "files must be 0 or 1");
  badRequest("from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:01Z&files=1", "at most 24 hours");
  badRequest("from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z", "at most 31 days");
  EXPECT_EQ(police.call("GET", "/api/recordings/cam99/integrity?from=" + from + "&to=" + to).status,
            404);

  // One byte in the middle of a recorded segment changes, the file keeps its size.
  core::Segment altered;
  {
    auto db = storage::Database::open((dir_ / "index.db").string());
    ASSERT_TRUE(db.ok()) << db.error().describe();
    auto index = storage::SegmentIndex::open(*db);
    ASSERT_TRUE(index.ok()) << index.error().describe();
    auto segs = (*index)->query(core::CameraId::parse("cam01").value(),
                                {core::parseIso8601(from).value(), core::parseIso8601(to).value()});
    ASSERT_TRUE(segs.ok() && segs->size() >= 2) << "no segments";
    altered = (*segs)[1];
  }
  const fs::path file = dir_ / "recordings" / altered.path;
  const auto size = fs::file_size(file);
  ASSERT_EQ(size, altered.bytes);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.is_open()) << file;
    f.seekg(static_cast<std::streamoff>(size / 2));
    char byte = 0;
    f.get(byte);
    f.seekp(static_cast<std::streamoff>(size / 2));
    f.put(static_cast<char>(~byte));
    ASSERT_TRUE(f.good());
  }
  ASSERT_EQ(fs::file_size(file), size);
  {
    const auto r = police.call("GET", target + "&files=1");
    ASSERT_EQ(r.status, 200) << r.body;
    const json j = json::parse(r.body);
    EXPECT_FALSE(j.value("intact", true)) << r.body;
    EXPECT_TRUE(j["chain"].value("ok", false)) << "the index itself is untouched: " << r.body;
    const auto problems = j["files"]["problems"];
    ASSERT_EQ(problems.size(), 1u) << r.body;
    EXPECT_EQ(problems[0].value("segment_id", int64_t{0}), altered.id);
    EXPECT_EQ(problems[0].value("path", ""), altered.path);
    EXPECT_EQ(problems[0].value("problem", ""), "SHA-256 differs from the index's");
  }

  // Each check is in the audit log: who, which camera, the range and the verdict.
  {
    const auto log =
        admin.get("/api/audit?action=recordings.verify").value("entries", json::array());
    std::vector<std::string> details;
    for (const auto& e : log) {
      EXPECT_EQ(e.value("user", ""), "police201") << e.dump();
      EXPECT_EQ(e.value("target", ""), "cam01") << e.dump();
      details.push_back(e.value("detail", ""));
    }
    ASSERT_EQ(details.size(), 3u) << log.dump();  // refused and bad requests check nothing
    // Newest first.
    EXPECT_NE(details[0].find(from + " to " + to + ": NOT INTACT"), std::string::npos)
        << details[0];
    EXPECT_NE(details[0].find("files hashed"), std::string::npos) << details[0];
    EXPECT_NE(details[1].find(": INTACT"), std::string::npos) << details[1];
    EXPECT_NE(details[2].find(from + " to " + to + ": INTACT"), std::string::npos) << details[2];
  }
  gw.kill(SIGTERM);
  EXPECT_EQ(gw.wait(30s), std::optional<int>(0)) << gw.err();
}

TEST_F(GatewayApiTest, EventsTravelToTheTownshipCentreAndItsVillageSubscriber) {
  const std::string bin = SHARPEYES_BINARY;
  int status = -1;
  for (const char* name : {"centre", "gateway", "village"}) {
    const auto out = runCapture(bin + " keys gen --out " + (dir_ / name).string(), &status);
    ASSERT_EQ(status, 0) << out;
  }
  auto readPub = [&](const char* name) {
    std::ifstream in(dir_ / (std::string(name) + ".pub"));
    std::string key;
    in >> key;
    return key;
  };
  std::ofstream(dir_ / "allow.txt")
      << "gw-api " << readPub("gateway") << "\nvillage201 " << readPub("village") << "\n";
  ChildProcess centre;
  const fs::path ready = dir_ / "centre.ready";
  ASSERT_TRUE(centre.start(
      bin,
      {"center", "--level", "township", "--division", "510603101000", "--data",
       (dir_ / "centre").string(), "--key", (dir_ / "centre.key").string(), "--allow",
       (dir_ / "allow.txt").string(), "--bind-events", "tcp://127.0.0.1:0", "--bind-clips",
       "tcp://127.0.0.1:0", "--bind-pub", "tcp://127.0.0.1:0", "--ready-file", ready.string()},
      (dir_ / "centre").string()));
  ASSERT_TRUE(waitFor([&] { return fs::exists(ready); }, 30s)) << centre.err();
  json eps;
  std::ifstream(ready) >> eps;

  // The village platform subscribes to its own division before anything happens.
  ChildProcess subscriber;
  ASSERT_TRUE(
      subscriber.start(bin,
                       {"subscribe", "--center", eps.value("events", ""), "--division",
                        "510603101201", "--key", (dir_ / "village.key").string(), "--center-key",
                        (dir_ / "centre.pub").string(), "--text", "--count", "1"},
                       (dir_ / "subscriber").string()));

  std::ostringstream bus;
  bus << "bus:\n  upstream: " << eps.value("events", "")
      << "\n  upstream_clips: " << eps.value("clips", "")
      << "\n  upstream_key: " << (dir_ / "centre.pub").string()
      << "\n  key: " << (dir_ / "gateway.key").string() << "\n";
  ChildProcess gw;
  const uint16_t port = startGateway(gw, writeConfig(bus.str()));
  ASSERT_NE(port, 0);
  Api admin(port, "admin", kAdminPassword);
  ASSERT_TRUE(admin.ok());
  const json alert = waitForTripwireAlert(admin, gw);
  const std::string eventId = alert["event"].value("id", "");

  // The village subscriber prints the tripwire event of its village and exits (--count 1).
  ASSERT_EQ(subscriber.wait(90s), std::optional<int>(0)) << subscriber.err() << gw.err();
  EXPECT_NE(subscriber.out().find("510603101201 cam01 tripwire"), std::string::npos)
      << subscriber.out();
  // The publisher's outbox drains: the centre acknowledged what the gateway sent.
  ASSERT_TRUE(waitFor(
      [&] {
        const auto r = Conn(port).request("GET", "/metrics");
        std::smatch m;
        static const std::regex pub("sharpeyes_bus_published_total (\\d+)");
        static const std::regex ack("sharpeyes_bus_acked_total (\\d+)");
        if (!std::regex_search(r.body, m, pub)) return false;
        const long published = std::stol(m[1].str());
        if (!std::regex_search(r.body, m, ack)) return false;
        return published > 0 && std::stol(m[1].str()) >= published;
      },
      60s))
      << gw.err();
  gw.kill(SIGTERM);
  EXPECT_EQ(gw.wait(30s), std::optional<int>(0)) << gw.err();
  centre.kill(SIGTERM);
  EXPECT_EQ(centre.wait(30s), std::optional<int>(0)) << centre.err();
}

}  // namespace
}  // namespace sharpeyes::app
