// Cameras added, edited and removed through the HTTP API of the real gateway (child process) on
// the simulator's real RTSP cameras: they stream and record at once, survive a restart, are
// checked like the config file's cameras, never disturb the others, and never show a password.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "gateway_support.h"
#include "process.h"
#include "sharpeyes/core/time.h"
#include "sharpeyes/sim/sim.h"
#include "sharpeyes/storage/segment_index.h"

namespace sharpeyes::app {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using sharpeyes::api::testing::Reply;
using sharpeyes::testing::ChildProcess;
using sharpeyes::testing::readFile;
using sharpeyes::testing::waitFor;
using testing::Api;

constexpr const char* kAdminPassword = "admin-pass-4711";
// The cameras' passwords: must never appear in a response, a log or the camera file.
constexpr const char* kCameraPassword = "Cam-Secret-pw-9931";
constexpr const char* kNewCameraPassword = "Cam-Secret-pw-2207";

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

std::vector<fs::path> filesIn(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path());
  return out;
}

class GatewayCamerasTest : public testing::SimulatorSuite {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / "gwcams";
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }

  // Only cam01 comes from the file; the simulator's cam02 and cam03 are added through the API.
  std::string writeConfig() {
    return testing::GatewayConfig("gw-cams", dir_)
        .defaults("recording: {segment_length: 2s}")
        .defaults("feed: {enabled: false, width: 640, height: 360, fps: 5}")
        .camera("cam01", "510603101201", sim_->mainUrl(0), sim_->subUrl(0))
        .write();
  }

  uint16_t startGateway(ChildProcess& gw, const std::string& config, const std::string& name) {
    return testing::startGateway(gw, config, (dir_ / name).string(),
                                 {std::string("SHARPEYES_ADMIN_PASSWORD=") + kAdminPassword});
  }

  // Every response body the test saw, to look for passwords in.
  Reply call(const Api& api, const std::string& method, const std::string& target,
             const json& body = nullptr) {
    auto r = api.call(method, target, body);
    responses_ += r.body;
    return r;
  }
  json camera(const Api& api, const std::string& id) {
    const auto r = call(api, "GET", "/api/cameras/" + id);
    return r.status == 200 ? json::parse(r.body, nullptr, false) : json();
  }
  json stateOf(const Api& api, const std::string& id) {
    const auto c = camera(api, id);
    return c.is_object() && c["state"].is_object() ? c["state"] : json::object();
  }
  bool streaming(const Api& api, const std::string& id) {
    return stateOf(api, id).value("state", "") == "streaming";
  }
  uint64_t segmentsOf(const Api& api, const std::string& id) {
    return stateOf(api, id).value("segments", uint64_t{0});
  }
  std::vector<std::string> listedIds(const Api& api, const std::string& query = "") {
    std::vector<std::string> ids;
    const auto r = call(api, "GET", "/api/cameras" + query);
    for (const auto& c : json::parse(r.body, nullptr, false).value("cameras", json::array())) {
      ids.push_back(c.value("id", ""));
    }
    return ids;
  }
  bool listed(const Api& api, const std::string& id) {
    const auto ids = listedIds(api);
    return std::find(ids.begin(), ids.end(), id) != ids.end();
  }
  // A bad spec: 400 whose message names `field`.
  void expectBadField(const Api& admin, const json& spec, const std::string& field) {
    const auto r = call(admin, "POST", "/api/cameras", spec);
    EXPECT_EQ(r.status, 400) << spec.dump() << " -> " << r.body;
    const auto body = json::parse(r.body, nullptr, false);
    const std::string detail = body.is_object() ? body.value("detail", "") : r.body;
    EXPECT_NE(detail.find(field), std::string::npos)
        << spec.dump() << ": '" << field << "' not named in " << r.body;
  }
  // Segments of `camera` in the gateway's index (read after the gateway stopped).
  size_t indexedSegments(const std::string& camera) {
    auto index = storage::SegmentIndex::openSqlite((dir_ / "index.db").string());
    EXPECT_TRUE(index.ok());
    if (!index.ok()) return 0;
    auto all = (*index)->all();
    EXPECT_TRUE(all.ok());
    if (!all.ok()) return 0;
    return static_cast<size_t>(std::count_if(
        all->begin(), all->end(), [&](const auto& s) { return s.camera.str() == camera; }));
  }

  // The timeline of the last half hour (the whole test's time).
  static std::string timelineTarget(const std::string& camera) {
    const auto now = core::processClock().now();
    return "/api/recordings/" + camera + "/timeline?from=" + core::formatIso8601(now - 30min) +
           "&to=" + core::formatIso8601(now + 1min);
  }
  // A camera removed after it recorded: its timeline shows what it recorded, a clip is cut from
  // it and downloaded, its events are searched; an id that never recorded here stays unknown.
  void expectRecordingsOfRemovedCamera(const Api& api, const std::string& id) {
    const auto t = call(api, "GET", timelineTarget(id));
    ASSERT_EQ(t.status, 200) << t.body;
    const auto recorded = json::parse(t.body).value("recorded", json::array());
    ASSERT_FALSE(recorded.empty()) << t.body;
    const auto clip =
        call(api, "POST", "/api/clips",
             {{"camera", id}, {"from", recorded[0]["from"]}, {"to", recorded[0]["to"]}});
    ASSERT_EQ(clip.status, 201) << clip.body;
    const std::string clipId = json::parse(clip.body).value("id", "");
    EXPECT_EQ(call(api, "GET", "/api/clips/" + clipId).status, 200);
    // The video itself is not kept with the responses (searched for passwords).
    const auto video = api.call("GET", "/api/clips/" + clipId + "/download");
    EXPECT_EQ(video.status, 200);
    ASSERT_GE(video.body.size(), 8u);
    EXPECT_EQ(video.body.substr(4, 4), "ftyp");
    EXPECT_EQ(call(api, "GET", "/api/events?camera=" + id).status, 200);
    EXPECT_EQ(call(api, "GET", timelineTarget("never-here")).status, 404);
    EXPECT_EQ(call(api, "GET", "/api/events?camera=never-here").status, 404);
  }

  fs::path dir_;
  std::string responses_;
};

TEST_F(GatewayCamerasTest, AddEditRemoveAtRunTimeAndKeepThemOverARestart) {
  const std::string config = writeConfig();
  const fs::path apiFile = dir_ / "cameras.api.yaml";
  const fs::path secrets = dir_ / "secrets";
  ChildProcess gw;
  const uint16_t port = startGateway(gw, config, "gw1");
  ASSERT_NE(port, 0) << gw.err();
  Api admin(port, "admin", kAdminPassword);
  ASSERT_TRUE(admin.ok()) << gw.err();
  ASSERT_TRUE(waitFor([&] { return streaming(admin, "cam01"); }, 90s)) << gw.err();
  EXPECT_EQ(camera(admin, "cam01").value("origin", ""), "config");

  // Other threads read all along while cameras come and go: the camera list, the health board,
  // the loopback status and the metrics (the gateway's readers of its camera list). Built with
  // -fsanitize=thread this is the data-race check; here every read must simply succeed.
  std::atomic<bool> stopReading{false};
  std::atomic<int> reads{0}, failedReads{0};
  std::string readBodies;
  std::thread reader([&] {
    while (!stopReading) {
      for (const char* target : {"/api/cameras", "/api/health/cameras", "/api/cameras/api-cam"}) {
        const auto r = admin.call("GET", target);
        if (r.status != 200 && !(r.status == 404 && std::string(target).ends_with("api-cam"))) {
          ++failedReads;
        }
        readBodies += r.body;
        ++reads;
      }
      for (const char* target : {"/status", "/metrics"}) {
        if (sharpeyes::api::testing::Conn(port).request("GET", target).status != 200) ++failedReads;
        ++reads;
      }
      std::this_thread::sleep_for(20ms);  // pacing on a 2-core machine, not synchronisation
    }
  });
  struct JoinReader {
    std::atomic<bool>& stop;
    std::thread& t;
    ~JoinReader() {
      stop = true;
      if (t.joinable()) t.join();
    }
  } joinReader{stopReading, reader};

  const json good = {{"id", "api-cam"},
                     {"name", "Gate (API)"},
                     {"division", "510603101202"},
                     {"main_url", sim_->mainUrl(1)},
                     {"sub_url", sim_->subUrl(1)},
                     {"username", "viewer"},
                     {"password", kCameraPassword}};
  auto with = [&](const std::string& key, const json& value) {
    json s = good;
    if (value.is_null()) {
      s.erase(key);
    } else {
      s[key] = value;
    }
    return s;
  };

  // Roles: only admin manages cameras. (The village's viewer: see the removal below.)
  using UserRow = std::array<const char*, 4>;  // name, password, role, scope
  for (const auto& [name, password, role, scope] :
       {UserRow{"op", "operator-pass-1", "operator", "510603101000"},
        UserRow{"village", "village-pass-1", "viewer", "510603101202"},
        UserRow{"village3", "village-pass-3", "viewer", "510603101203"}}) {
    ASSERT_EQ(call(admin, "POST", "/api/users",
                   {{"name", name}, {"password", password}, {"role", role}, {"scope", scope}})
                  .status,
              201)
        << name;
  }
  Api op(port, "op", "operator-pass-1");
  ASSERT_TRUE(op.ok());
  Api village(port, "village", "village-pass-1");
  ASSERT_TRUE(village.ok());
  Api otherVillage(port, "village3", "village-pass-3");
  ASSERT_TRUE(otherVillage.ok());
  EXPECT_EQ(call(op, "POST", "/api/cameras", good).status, 403);
  EXPECT_EQ(call(op, "PUT", "/api/cameras/cam01", with("id", nullptr)).status, 403);
  EXPECT_EQ(call(op, "DELETE", "/api/cameras/cam01").status, 403);

  // Checked as the config file's cameras are; the message names the field.
  expectBadField(admin, with("id", "bad id!"), "camera id");
  expectBadField(admin, with("division", "51060310120"), "division");
  expectBadField(admin, with("division", "510603102201"), "division");  // another township
  expectBadField(admin, with("main_url", "http://127.0.0.1/x"), "main_url");
  expectBadField(admin, with("sub_url", "udp://127.0.0.1/x"), "sub_url");
  expectBadField(admin, with("main_url", nullptr), "main_url");
  expectBadField(admin, with("username", nullptr), "username");
  {
    json s = with("password", nullptr);
    s["credential_ref"] = "vault:x";
    expectBadField(admin, s, "credential_ref");
  }
  {
    json s = with("password", nullptr);
    s["credential_ref"] = "env:SHARPEYES_TEST_SURELY_UNSET";
    expectBadField(admin, s, "credential_ref");
  }
  expectBadField(admin, with("recording", {{"segment_length", "0s"}}), "recording.segment_length");
  expectBadField(admin, with("recording", {{"segmentlength", "2s"}}), "recording.segmentlength");
  expectBadField(admin, with("analytics", {{"rules", {{{"name", "x"}, {"type", "teleport"}}}}}),
                 "analytics.rules[0]");
  expectBadField(admin, with("colour", "red"), "colour");
  expectBadField(admin, with("ptz", "yes"), "ptz");
  {
    const auto r = call(admin, "POST", "/api/cameras", with("id", "cam01"));
    EXPECT_EQ(r.status, 409) << r.body;
    EXPECT_NE(r.body.find("gateway.yaml; edit the file"), std::string::npos) << r.body;
  }
  // Nothing of the refused specs was kept.
  EXPECT_FALSE(fs::exists(apiFile));
  EXPECT_TRUE(filesIn(secrets).empty());
  EXPECT_EQ(listedIds(admin), std::vector<std::string>{"cam01"});

  // The config file's cameras are edited in the file.
  {
    const auto put = call(admin, "PUT", "/api/cameras/cam01",
                          {{"division", "510603101201"}, {"main_url", sim_->mainUrl(2)}});
    EXPECT_EQ(put.status, 409) << put.body;
    EXPECT_NE(put.body.find("defined in " + config + "; edit the file"), std::string::npos)
        << put.body;
    EXPECT_EQ(call(admin, "DELETE", "/api/cameras/cam01").status, 409);
  }

  // Add: streaming and recording without a restart.
  {
    const auto r = call(admin, "POST", "/api/cameras", good);
    ASSERT_EQ(r.status, 201) << r.body;
    const auto j = json::parse(r.body);
    EXPECT_EQ(j.value("origin", ""), "api");
    EXPECT_EQ(j.value("main_url", ""), sim_->mainUrl(1));
    EXPECT_TRUE(j.value("has_sub_stream", false));
  }
  EXPECT_EQ(call(admin, "POST", "/api/cameras", good).status, 409);
  ASSERT_TRUE(waitFor([&] { return streaming(admin, "api-cam"); }, 90s)) << gw.err();
  ASSERT_TRUE(waitFor([&] { return segmentsOf(admin, "api-cam") >= 1; }, 90s)) << gw.err();
  {
    const auto now = core::formatIso8601(core::processClock().now() + 1min);
    const auto from = core::formatIso8601(core::processClock().now() - 10min);
    ASSERT_TRUE(waitFor(
        [&] {
          const auto t = admin.get("/api/recordings/api-cam/timeline?from=" + from + "&to=" + now);
          return !t.value("recorded", json::array()).empty();
        },
        60s));
  }
  // Durable beside the config: the camera in YAML, its password only in a 0600 file.
  const std::string yaml1 = readFile(apiFile.string());
  EXPECT_NE(yaml1.find("api-cam"), std::string::npos) << yaml1;
  EXPECT_NE(yaml1.find("password_file"), std::string::npos) << yaml1;
  auto secretFiles = filesIn(secrets);
  ASSERT_EQ(secretFiles.size(), 1u);
  const fs::path firstSecret = secretFiles[0];
  EXPECT_EQ(readFile(firstSecret.string()), kCameraPassword);
  struct stat st {};
  ASSERT_EQ(::stat(firstSecret.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(secrets.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  // Edit: the camera restarts on its new URL (the simulator's cam03, no sub stream); its login
  // is kept when the edit says nothing about it; cam01 is not touched.
  const size_t apiStarts = count(gw.err(), "camera api-cam: streaming");
  ASSERT_GE(apiStarts, 1u);
  {
    json edit = {
        {"name", "Gate (moved)"}, {"division", "510603101202"}, {"main_url", sim_->mainUrl(2)}};
    const auto r = call(admin, "PUT", "/api/cameras/api-cam", edit);
    ASSERT_EQ(r.status, 200) << r.body;
    const auto j = json::parse(r.body);
    EXPECT_EQ(j.value("main_url", ""), sim_->mainUrl(2));
    EXPECT_FALSE(j.value("has_sub_stream", true));
    EXPECT_EQ(j.value("name", ""), "Gate (moved)");
  }
  ASSERT_TRUE(gw.waitForOutput("camera api-cam: changed through the API; restarting it", 30s));
  ASSERT_TRUE(
      waitFor([&] { return count(gw.err(), "camera api-cam: streaming") > apiStarts; }, 90s))
      << gw.err();
  EXPECT_NE(readFile(apiFile.string()).find(sim_->mainUrl(2)), std::string::npos);
  EXPECT_EQ(filesIn(secrets), std::vector<fs::path>{firstSecret});
  // A new password: a new secret file, the old one gone.
  {
    json edit = {{"name", "Gate (moved)"},
                 {"division", "510603101202"},
                 {"main_url", sim_->mainUrl(2)},
                 {"username", "viewer"},
                 {"password", kNewCameraPassword}};
    ASSERT_EQ(call(admin, "PUT", "/api/cameras/api-cam", edit).status, 200);
    secretFiles = filesIn(secrets);
    ASSERT_EQ(secretFiles.size(), 1u);
    EXPECT_NE(secretFiles[0], firstSecret);
    EXPECT_EQ(readFile(secretFiles[0].string()), kNewCameraPassword);
  }
  ASSERT_TRUE(waitFor([&] { return streaming(admin, "api-cam"); }, 90s)) << gw.err();

  // A second API camera, to be there after the restart.
  ASSERT_EQ(call(admin, "POST", "/api/cameras",
                 {{"id", "api-keep"},
                  {"division", "510603101203"},
                  {"main_url", sim_->mainUrl(1)},
                  {"recording", {{"segment_length", "3s"}}}})
                .status,
            201);
  ASSERT_TRUE(waitFor([&] { return streaming(admin, "api-keep"); }, 90s)) << gw.err();

  // Remove: gone from the list and from ingest; cam01 and api-keep stream on.
  const uint64_t cam01Segments = segmentsOf(admin, "cam01");
  // Each of the two edits stopped the camera's old pipeline once.
  ASSERT_TRUE(waitFor([&] { return count(gw.err(), "camera api-cam: stopped") == 2; }, 60s))
      << gw.err();
  const size_t apiStops = 2;
  const std::string apiCamTimeline = timelineTarget("api-cam");
  EXPECT_EQ(call(village, "GET", apiCamTimeline).status, 200);  // api-cam is in its village
  EXPECT_EQ(call(otherVillage, "GET", apiCamTimeline).status, 403);
  ASSERT_EQ(call(admin, "DELETE", "/api/cameras/api-cam").status, 200);
  EXPECT_FALSE(listed(admin, "api-cam"));
  EXPECT_EQ(call(admin, "GET", "/api/cameras/api-cam").status, 404);
  EXPECT_EQ(call(admin, "DELETE", "/api/cameras/api-cam").status, 404);
  ASSERT_TRUE(waitFor([&] { return count(gw.err(), "camera api-cam: stopped") > apiStops; }, 60s))
      << gw.err();
  ASSERT_TRUE(waitFor(
      [&] {
        // The loopback /status lists what ingest runs.
        const auto r = sharpeyes::api::testing::Conn(port).request("GET", "/status");
        return r.status == 200 && r.body.find("\"api-cam\"") == std::string::npos &&
               r.body.find("\"api-keep\"") != std::string::npos;
      },
      30s));
  EXPECT_TRUE(filesIn(secrets).empty());
  EXPECT_EQ(readFile(apiFile.string()).find("api-cam\n"), std::string::npos);
  ASSERT_TRUE(waitFor([&] { return segmentsOf(admin, "cam01") >= cam01Segments + 2; }, 60s));
  EXPECT_TRUE(streaming(admin, "cam01"));
  EXPECT_TRUE(streaming(admin, "api-keep"));
  // cam01 ran through all of it on its first connection.
  EXPECT_EQ(count(gw.err(), "camera cam01: streaming"), 1u) << gw.err();
  EXPECT_EQ(count(gw.err(), "camera cam01: stopped"), 0u) << gw.err();

  // Its recordings stay until retention deletes them, and police must still reach them.
  expectRecordingsOfRemovedCamera(op, "api-cam");
  // Under its own division still (the index keeps the camera's label): its village's user
  // reaches them, another village's user does not.
  EXPECT_EQ(call(village, "GET", apiCamTimeline).status, 200);
  EXPECT_EQ(call(otherVillage, "GET", apiCamTimeline).status, 403);
  // Listed on request only, as removed, with its last name and division and no stream URL.
  {
    const auto r = call(village, "GET", "/api/cameras?include=removed");
    ASSERT_EQ(r.status, 200) << r.body;
    json removed;
    for (const auto& c : json::parse(r.body).value("cameras", json::array())) {
      if (c.value("id", "") == "api-cam") removed = c;
    }
    ASSERT_TRUE(removed.is_object()) << r.body;
    EXPECT_EQ(removed.value("origin", ""), "removed");
    EXPECT_EQ(removed.value("name", ""), "Gate (moved)");
    EXPECT_EQ(removed.value("division", ""), "510603101202");
    EXPECT_EQ(removed.value("main_url", "?"), "");
    EXPECT_FALSE(removed.value("enabled", true));
    const auto others = listedIds(otherVillage, "?include=removed");
    EXPECT_EQ(std::find(others.begin(), others.end(), "api-cam"), others.end());
    EXPECT_EQ(call(admin, "GET", "/api/cameras?include=everything").status, 400);
  }

  // Audited: who added, edited and removed which camera.
  {
    const auto audit = admin.get("/api/audit?user=admin").value("entries", json::array());
    std::map<std::string, int> actions;
    for (const auto& e : audit) {
      if (e.value("target", "") == "api-cam") actions[e.value("action", "")]++;
    }
    EXPECT_EQ(actions["camera.add"], 1) << audit.dump();
    EXPECT_EQ(actions["camera.edit"], 2) << audit.dump();
    EXPECT_EQ(actions["camera.remove"], 1) << audit.dump();
  }

  stopReading = true;
  reader.join();
  EXPECT_GT(reads.load(), 50);
  EXPECT_EQ(failedReads.load(), 0);
  responses_ += readBodies;

  gw.kill(SIGTERM);
  ASSERT_EQ(gw.wait(60s), std::optional<int>(0)) << gw.err();
  const std::string log1 = gw.out() + gw.err();
  // The removed camera's recordings stay in the index (retention deletes them in its time).
  EXPECT_GE(indexedSegments("api-cam"), 1u);

  // Restart: the API's camera is back, the removed one is not.
  ChildProcess gw2;
  const uint16_t port2 = startGateway(gw2, config, "gw2");
  ASSERT_NE(port2, 0) << gw2.err();
  Api admin2(port2, "admin", kAdminPassword);
  ASSERT_TRUE(admin2.ok()) << gw2.err();
  EXPECT_NE(gw2.err().find("1 added through the API"), std::string::npos) << gw2.err();
  EXPECT_TRUE(listed(admin2, "api-keep"));
  EXPECT_FALSE(listed(admin2, "api-cam"));
  EXPECT_EQ(camera(admin2, "api-keep").value("origin", ""), "api");
  ASSERT_TRUE(waitFor([&] { return streaming(admin2, "api-keep"); }, 90s)) << gw2.err();
  ASSERT_TRUE(waitFor([&] { return segmentsOf(admin2, "api-keep") >= 1; }, 90s)) << gw2.err();
  EXPECT_EQ(call(admin2, "DELETE", "/api/cameras/cam01").status, 409);
  // The removed camera's recordings are reached after a restart too.
  EXPECT_EQ(call(admin2, "GET", "/api/cameras/api-cam").status, 404);
  expectRecordingsOfRemovedCamera(admin2, "api-cam");
  Api village2(port2, "village", "village-pass-1");
  ASSERT_TRUE(village2.ok());
  EXPECT_EQ(call(village2, "GET", apiCamTimeline).status, 200);
  Api otherVillage2(port2, "village3", "village-pass-3");
  ASSERT_TRUE(otherVillage2.ok());
  EXPECT_EQ(call(otherVillage2, "GET", apiCamTimeline).status, 403);
  const auto withRemoved = listedIds(village2, "?include=removed");
  EXPECT_NE(std::find(withRemoved.begin(), withRemoved.end(), "api-cam"), withRemoved.end());
  gw2.kill(SIGTERM);
  ASSERT_EQ(gw2.wait(60s), std::optional<int>(0)) << gw2.err();

  // No password anywhere but its own file.
  const std::string everything =
      responses_ + log1 + gw2.out() + gw2.err() + readFile(apiFile.string()) + readFile(config);
  for (const char* secret : {kCameraPassword, kNewCameraPassword}) {
    EXPECT_EQ(everything.find(secret), std::string::npos) << secret << " leaked";
  }
}

// `gateway --check` reads <data_dir>/cameras.api.yaml as the gateway does at start: a mistake
// there is named (file, line, key) with exit code 2, as one in the config file is; so does a
// normal start.
TEST_F(GatewayCamerasTest, CheckValidatesTheCamerasAddedThroughTheApi) {
  const std::string config = writeConfig();
  const fs::path apiFile = dir_ / "cameras.api.yaml";
  int run = 0;
  // Runs `gateway --config CONFIG --check`; its exit code, stdout + stderr in `output`.
  auto check = [&](std::string* output) {
    ChildProcess c;
    EXPECT_TRUE(c.start(SHARPEYES_BINARY, {"gateway", "--config", config, "--check"},
                        (dir_ / ("check" + std::to_string(++run))).string()));
    const auto code = c.wait(30s);
    *output = c.out() + c.err();
    return code;
  };
  std::string out;

  // No file yet (no camera added): ok.
  EXPECT_EQ(check(&out), std::optional<int>(0)) << out;
  EXPECT_NE(out.find(config + ": ok (1 cameras)"), std::string::npos) << out;

  // Good entries: counted; one that repeats the config file's id is reported, not refused (the
  // gateway starts with it and uses the config file's).
  std::ofstream(apiFile) << "cameras:\n"
                            "  - id: api-cam\n    division: \"510603101202\"\n    main: "
                         << sim_->mainUrl(1)
                         << "\n"
                            "  - {id: cam01, division: \"510603101201\", main: "
                         << sim_->mainUrl(2) << "}\n";
  EXPECT_EQ(check(&out), std::optional<int>(0)) << out;
  EXPECT_NE(out.find(apiFile.string() + ": ok (2 cameras added through the API)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(apiFile.string() + ": cameras[1]: camera cam01 is defined before"),
            std::string::npos)
      << out;

  // Mistakes: exit code 2 and "file:line:column: key: message".
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"cameras:\n  - id: api-cam\n    division: \"510603101202\"\n    main: http://x/y\n",
       ":4:11: cameras[0].main: "},
      {"cameras:\n  - id: api-cam\n    division: \"510603101202\"\n    main: rtsp://x/y\n"
       "    colour: blue\n",
       ":5:5: cameras[0].colour: unknown key"},
      {"cameras:\n  - id: api-cam\n    division: \"510603102201\"\n    main: rtsp://x/y\n",
       ":3:15: cameras[0].division: "},
      {"cameras: []\ncolour: blue\n", ":2:1: colour: unknown key"},
      {"cameras: {id: api-cam}\n", ":1:10: cameras: expected a list"},
      {"cameras:\n  - id: api-cam\n    main: [\n", ":4:1: YAML syntax error"},
      {"- api-cam\n", ":1:1: (top level): expected a mapping"},
  };
  for (const auto& [text, message] : bad) {
    std::ofstream(apiFile) << text;
    EXPECT_EQ(check(&out), std::optional<int>(2)) << text << out;
    EXPECT_NE(out.find("bad config: " + apiFile.string() + message), std::string::npos)
        << text << "\nwanted: " << apiFile.string() << message << "\ngot: " << out;
  }

  // The gateway itself, started on the last bad file: the same message and exit code 2, and
  // nothing started (it exits before opening the index or any camera).
  ChildProcess gw;
  ASSERT_TRUE(
      gw.start(SHARPEYES_BINARY, {"gateway", "--config", config}, (dir_ / "start-bad").string()));
  EXPECT_EQ(gw.wait(30s), std::optional<int>(2)) << gw.out() << gw.err();
  EXPECT_NE(gw.err().find("bad config: " + apiFile.string() + bad.back().second), std::string::npos)
      << gw.err();
}

}  // namespace
}  // namespace sharpeyes::app
