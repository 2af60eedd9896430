// ApiService over real HTTP: sessions, CSRF, login throttling, roles, division scope on every
// endpoint, the five-step alert workflow, clips with Range, evidence export, audit, live events.

#include "sharpeyes/api/api_service.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "sharpeyes/api/in_memory_backend.h"
#include "sharpeyes/core/util.h"
#include "test_client.h"

namespace sharpeyes::api {
namespace {

using json = nlohmann::json;
using testing::Conn;
using testing::Reply;
namespace fs = std::filesystem;

core::DivisionCode div(const char* s) {
  return *core::DivisionCode::parse(s);
}
core::CameraId cid(const char* s) {
  return *core::CameraId::parse(s);
}
core::WallTime at(const char* s) {
  return *core::parseIso8601(s);
}

constexpr const char* kVillageA = "510603101201";
constexpr const char* kVillageB = "510603101202";

struct Login {
  std::string cookie;
  std::string csrf;
  std::string token;
};

class ApiServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sharpeyes-api-" + core::newId());
    fs::create_directories(dir_);
    backend_ = makeBackend(dir_.string());
    users_ = std::make_unique<UserStore>((dir_ / "users.json").string(), 1000);
    live_ = std::make_unique<LiveVideoHub>();
    ASSERT_TRUE(users_->addUser("admin", "admin-pass-1", Role::kAdmin, std::nullopt).ok());
    ASSERT_TRUE(users_->addUser("op", "operator-pass", Role::kOperator, div("510603000000")).ok());
    ASSERT_TRUE(
        users_->addUser("inv", "investigator", Role::kInvestigator, div("510603000000")).ok());
    ASSERT_TRUE(users_->addUser("va", "village-a-pass", Role::kViewer, div(kVillageA)).ok());

    for (auto [id, d, ptz] :
         {std::tuple{"cam-a", kVillageA, true}, std::tuple{"cam-b", kVillageB, false}}) {
      CameraInfo c;
      c.id = cid(id);
      c.name = std::string("Camera ") + id;
      c.division = div(d);
      c.ptz = ptz;
      backend_->putCamera(c);
      CameraState s;
      s.id = c.id;
      s.state = std::string(id) == "cam-a" ? "streaming" : "offline";
      if (s.state == "streaming") s.reader = "native";  // nothing reads an offline camera
      s.since = at("2026-11-25T08:00:00Z");
      backend_->setState(s);
    }
    // A recording file for each camera, and an alert on each.
    for (const char* id : {"cam-a", "cam-b"}) {
      std::string path = (dir_ / (std::string(id) + ".mp4")).string();
      std::ofstream f(path, std::ios::binary);
      for (int i = 0; i < 5000; ++i) f.put(static_cast<char>(i % 253));
      f.close();
      backend_->addRecording(cid(id), {at("2026-11-25T10:00:00Z"), at("2026-11-25T10:10:00Z")},
                             path);
      core::Event e;
      e.id = std::string("ev-") + id;
      e.camera = cid(id);
      e.division = div(std::string(id) == "cam-a" ? kVillageA : kVillageB);
      e.type = core::EventType::kIntrusion;
      e.severity = 3;
      e.objectClass = "person";
      e.rule = "fence";
      e.start = at("2026-11-25T10:05:00Z");
      std::string snap = (dir_ / (std::string(id) + ".jpg")).string();
      std::ofstream(snap) << "\xff\xd8jpeg";
      e.snapshotPath = snap;
      alerts_[id] = backend_->raiseAlert(e).id;
    }
    service_ = std::make_unique<ApiService>(*backend_, *users_, *live_, ApiOptions{});
    server_ = std::make_unique<HttpServer>(HttpServerOptions{});
    ASSERT_TRUE(service_->registerRoutes(*server_).ok());
    ASSERT_TRUE(server_->start().ok());
  }
  // The reference backend; a fixture may serve a derived one.
  virtual std::unique_ptr<InMemoryBackend> makeBackend(const std::string& workDir) {
    return std::make_unique<InMemoryBackend>(workDir);
  }
  void TearDown() override {
    if (server_) server_->stop();  // null when SetUp failed before creating it
    server_.reset();
    service_.reset();
    fs::remove_all(dir_);
  }

  Login login(const std::string& user, const std::string& pw) {
    Conn c(server_->port());
    Reply r = c.request("POST", "/api/login", {{"Content-Type", "application/json"}},
                        json{{"user", user}, {"password", pw}}.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    Login l;
    std::string sc = r.header("set-cookie");
    l.cookie = sc.substr(0, sc.find(';'));
    auto j = json::parse(r.body, nullptr, false);
    if (j.is_object()) {
      l.csrf = j.value("csrf", "");
      l.token = j.value("token", "");
    }
    return l;
  }
  Reply call(const Login& l, const std::string& method, const std::string& target,
             const std::string& body = {}, bool withCsrf = true) {
    Conn c(server_->port());
    std::vector<std::pair<std::string, std::string>> h = {{"Cookie", l.cookie}};
    if (withCsrf) h.emplace_back("X-CSRF-Token", l.csrf);
    if (!body.empty()) h.emplace_back("Content-Type", "application/json");
    return c.request(method, target, h, body);
  }

  fs::path dir_;
  std::unique_ptr<InMemoryBackend> backend_;
  std::unique_ptr<UserStore> users_;
  std::unique_ptr<LiveVideoHub> live_;
  std::unique_ptr<ApiService> service_;
  std::unique_ptr<HttpServer> server_;
  std::map<std::string, std::string> alerts_;
};

TEST_F(ApiServiceTest, LoginCookieCsrfAndLogout) {
  Conn c(server_->port());
  EXPECT_EQ(c.request("GET", "/api/cameras").status, 401);
  Reply bad = c.request("POST", "/api/login", {}, "{not json");
  EXPECT_EQ(bad.status, 400);
  Reply wrong = c.request("POST", "/api/login", {}, R"({"user":"op","password":"nope"})");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_NE(wrong.body.find("wrong user name or password"), std::string::npos);

  Conn c2(server_->port());
  Reply ok = c2.request("POST", "/api/login", {}, R"({"user":"op","password":"operator-pass"})");
  ASSERT_EQ(ok.status, 200);
  std::string sc = ok.header("set-cookie");
  EXPECT_NE(sc.find("HttpOnly"), std::string::npos);
  EXPECT_NE(sc.find("SameSite=Strict"), std::string::npos);
  Login op = login("op", "operator-pass");
  EXPECT_EQ(call(op, "GET", "/api/me").status, 200);
  // A state change with the cookie but without the CSRF header is refused.
  Reply noCsrf = call(op, "POST", "/api/alerts/" + alerts_["cam-a"] + "/accept", "{}", false);
  EXPECT_EQ(noCsrf.status, 403);
  EXPECT_NE(noCsrf.body.find("csrf"), std::string::npos);
  EXPECT_EQ(call(op, "POST", "/api/alerts/" + alerts_["cam-a"] + "/accept", "{}").status, 200);
  // Bearer tokens need no CSRF header (not sent automatically by browsers).
  Conn c3(server_->port());
  Reply viaBearer =
      c3.request("POST", "/api/alerts/" + alerts_["cam-a"] + "/dispatch",
                 {{"Authorization", "Bearer " + op.token}}, R"({"assignee":"township police"})");
  EXPECT_EQ(viaBearer.status, 200) << viaBearer.body;
  EXPECT_EQ(call(op, "POST", "/api/logout", "{}").status, 200);
  EXPECT_EQ(call(op, "GET", "/api/me").status, 401);
}

TEST_F(ApiServiceTest, LoginIsRateLimited) {
  Conn c(server_->port());
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(c.request("POST", "/api/login", {}, R"({"user":"op","password":"bad-guess"})").status,
              401);
  }
  Reply r = c.request("POST", "/api/login", {}, R"({"user":"op","password":"operator-pass"})");
  EXPECT_EQ(r.status, 429);
  EXPECT_FALSE(r.header("retry-after").empty());
  bool sawFailure = false;
  for (const auto& e : backend_->auditLog()) sawFailure |= e.action == "login.failed";
  EXPECT_TRUE(sawFailure);
}

TEST_F(ApiServiceTest, VillageViewerGets403OutsideTheVillageOnEveryEndpoint) {
  Login admin = login("admin", "admin-pass-1");
  // A clip of the other village's camera, made by the admin.
  Reply clip =
      call(admin, "POST", "/api/clips",
           R"({"camera":"cam-b","from":"2026-11-25T10:01:00Z","to":"2026-11-25T10:02:00Z"})");
  ASSERT_EQ(clip.status, 201) << clip.body;
  std::string clipB = json::parse(clip.body)["id"];

  Login va = login("va", "village-a-pass");
  const std::string alertB = alerts_["cam-b"];
  struct Probe {
    std::string method, target, body;
  };
  std::vector<Probe> probes = {
      {"GET", "/api/cameras/cam-b", ""},
      {"GET", "/api/cameras/cam-b/state", ""},
      {"POST", "/api/cameras/cam-b/ptz", R"({"action":"stop"})"},
      {"GET", "/api/events?camera=cam-b", ""},
      {"GET", "/api/events?division=" + std::string(kVillageB), ""},
      {"GET", "/api/events/ev-cam-b", ""},
      {"GET", "/api/events/ev-cam-b/snapshot", ""},
      {"GET", "/api/alerts?camera=cam-b", ""},
      {"GET", "/api/alerts/" + alertB, ""},
      {"POST", "/api/alerts/" + alertB + "/accept", "{}"},
      {"GET", "/api/recordings/cam-b/timeline?from=2026-11-25T10:00:00Z&to=2026-11-25T11:00:00Z",
       ""},
      {"GET", "/api/recordings/cam-b/integrity?from=2026-11-25T10:00:00Z&to=2026-11-25T11:00:00Z",
       ""},
      {"POST", "/api/clips",
       R"({"camera":"cam-b","from":"2026-11-25T10:01:00Z","to":"2026-11-25T10:02:00Z"})"},
      {"GET", "/api/clips/" + clipB, ""},
      {"GET", "/api/clips/" + clipB + "/download", ""},
      {"GET", "/api/cases", ""},
      {"POST", "/api/cameras",
       R"({"id":"cam-c","division":"510603101201","main_url":"rtsp://x/y"})"},
      {"DELETE", "/api/cameras/cam-a", ""},
      {"GET", "/api/audit", ""},
      {"GET", "/api/users", ""},
  };
  for (const auto& p : probes) {
    Reply r = call(va, p.method, p.target, p.body);
    EXPECT_EQ(r.status, 403) << p.method << " " << p.target << " -> " << r.body;
    EXPECT_NE(r.body.find("\"error\""), std::string::npos);
  }
  // Lists are filtered, not refused.
  auto cams = json::parse(call(va, "GET", "/api/cameras").body)["cameras"];
  ASSERT_EQ(cams.size(), 1u);
  EXPECT_EQ(cams[0]["id"], "cam-a");
  auto alerts = json::parse(call(va, "GET", "/api/alerts").body)["alerts"];
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0]["event"]["camera"], "cam-a");
  auto events = json::parse(call(va, "GET", "/api/events").body)["events"];
  ASSERT_EQ(events.size(), 1u);
  auto board = json::parse(call(va, "GET", "/api/health/cameras").body);
  for (const auto& d : board["divisions"]) EXPECT_EQ(d["division"], kVillageA);
  // Own camera works (read-only role).
  EXPECT_EQ(call(va, "GET", "/api/cameras/cam-a").status, 200);
  EXPECT_EQ(call(va, "GET", "/api/events/ev-cam-a/snapshot").status, 200);
  // Live video of the other village: the upgrade is refused with 403.
  Conn ws(server_->port());
  Reply wr;
  EXPECT_FALSE(ws.wsHandshake("/ws/live/cam-b?stream=sub", {{"Cookie", va.cookie}}, &wr));
  EXPECT_EQ(wr.status, 403);
  Conn ws2(server_->port());
  EXPECT_TRUE(ws2.wsHandshake("/ws/live/cam-a?stream=sub", {{"Cookie", va.cookie}}));
}

TEST_F(ApiServiceTest, FiveStepAlertWorkflowWithWhoAndWhenAndLivePush) {
  Login op = login("op", "operator-pass");
  Login va = login("va", "village-a-pass");
  Conn events(server_->port()), eventsVa(server_->port());
  ASSERT_TRUE(events.wsHandshake("/ws/events", {{"Cookie", op.cookie}}));
  ASSERT_TRUE(eventsVa.wsHandshake("/ws/events", {{"Cookie", va.cookie}}));
  ASSERT_TRUE(events.wsRead().has_value());  // hello
  ASSERT_TRUE(eventsVa.wsRead().has_value());
  // Cross-origin upgrade is refused.
  Conn evil(server_->port());
  Reply er;
  EXPECT_FALSE(evil.wsHandshake("/ws/events",
                                {{"Cookie", op.cookie}, {"Origin", "http://evil.example"}}, &er));
  EXPECT_EQ(er.status, 403);

  const std::string id = alerts_["cam-b"];
  EXPECT_EQ(call(op, "POST", "/api/alerts/" + id + "/close", R"({"note":"x"})").status, 409);
  EXPECT_EQ(call(op, "POST", "/api/alerts/" + id + "/bogus", "{}").status, 404);
  EXPECT_EQ(call(op, "POST", "/api/alerts/" + id + "/accept", "{}").status, 200);
  EXPECT_EQ(call(op, "POST", "/api/alerts/" + id + "/accept", "{}").status, 409);
  EXPECT_EQ(call(op, "POST", "/api/alerts/" + id + "/dispatch", "{}").status, 400);
  EXPECT_EQ(call(op, "POST", "/api/alerts/" + id + "/dispatch", R"({"assignee":"grid 7"})").status,
            200);
  EXPECT_EQ(call(op, "POST", "/api/alerts/" + id + "/handle", R"({"note":"on site"})").status, 200);
  EXPECT_EQ(call(op, "POST", "/api/alerts/" + id + "/feedback", "{}").status, 400);
  EXPECT_EQ(
      call(op, "POST", "/api/alerts/" + id + "/feedback", R"({"note":"false alarm: dog"})").status,
      200);
  Reply closed = call(op, "POST", "/api/alerts/" + id + "/close", R"({"note":"closed"})");
  ASSERT_EQ(closed.status, 200);
  auto a = json::parse(closed.body);
  EXPECT_EQ(a["step"], "closed");
  EXPECT_EQ(a["assignee"], "grid 7");
  ASSERT_EQ(a["history"].size(), 6u);
  const char* steps[] = {"new", "accepted", "dispatched", "handling", "feedback", "closed"};
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(a["history"][i]["step"], steps[i]);
    EXPECT_FALSE(a["history"][i]["at"].get<std::string>().empty());
    if (i > 0) {
      EXPECT_EQ(a["history"][i]["user"], "op");
    }
  }
  // The operator's socket saw all five steps; the village-A viewer saw none (village B).
  int pushed = 0;
  for (int i = 0; i < 5; ++i) {
    auto m = events.wsRead();
    ASSERT_TRUE(m.has_value());
    auto j = json::parse(*m);
    EXPECT_EQ(j["type"], "alert");
    EXPECT_EQ(j["alert"]["id"], id);
    ++pushed;
  }
  EXPECT_EQ(pushed, 5);
  Alert own;
  own.id = "x";
  own.event.division = div(kVillageA);
  own.event.camera = cid("cam-a");
  service_->publishAlert(own);  // in village A: the viewer gets exactly this one
  auto m = eventsVa.wsRead();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(json::parse(*m)["alert"]["id"], "x");
  // The investigator may view alerts but not handle them.
  Login inv = login("inv", "investigator");
  EXPECT_EQ(call(inv, "POST", "/api/alerts/" + alerts_["cam-a"] + "/accept", "{}").status, 403);
}

TEST_F(ApiServiceTest, ClipsRangeCasesEvidenceAndAudit) {
  Login inv = login("inv", "investigator");
  Reply tl =
      call(inv, "GET",
           "/api/recordings/cam-a/timeline?from=2026-11-25T09:00:00Z&to=2026-11-25T11:00:00Z");
  ASSERT_EQ(tl.status, 200);
  auto t = json::parse(tl.body);
  EXPECT_EQ(t["recorded"].size(), 1u);
  EXPECT_EQ(t["gaps"].size(), 2u);
  EXPECT_EQ(call(inv, "GET", "/api/recordings/cam-a/timeline?from=bad&to=x").status, 400);

  Reply kc = call(inv, "POST", "/api/cases", R"({"title":"Junction theft 3rd"})");
  ASSERT_EQ(kc.status, 201);
  std::string caseId = json::parse(kc.body)["id"];
  Reply clip = call(inv, "POST", "/api/clips",
                    json{{"camera", "cam-a"},
                         {"from", "2026-11-25T10:01:00Z"},
                         {"to", "2026-11-25T10:02:00Z"},
                         {"case_id", caseId}}
                        .dump());
  ASSERT_EQ(clip.status, 201) << clip.body;
  auto cj = json::parse(clip.body);
  std::string clipId = cj["id"];
  EXPECT_EQ(cj["bytes"], 5000);
  Conn c(server_->port());
  Reply part = c.request("GET", "/api/clips/" + clipId + "/download",
                         {{"Cookie", inv.cookie}, {"Range", "bytes=100-199"}});
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body.size(), 100u);
  Reply whole = c.request("GET", "/api/clips/" + clipId + "/download", {{"Cookie", inv.cookie}});
  EXPECT_EQ(whole.status, 200);
  EXPECT_EQ(core::sha256Hex(whole.body), cj["sha256"]);

  Reply ex = call(inv, "POST", "/api/cases/" + caseId + "/export", "{}");
  ASSERT_EQ(ex.status, 201) << ex.body;
  auto ej = json::parse(ex.body);
  EXPECT_EQ(ej["manifest"]["items"][0]["sha256"], cj["sha256"]);
  Reply pkg = c.request("GET", "/api/evidence/" + ej["id"].get<std::string>() + "/download",
                        {{"Cookie", inv.cookie}});
  ASSERT_EQ(pkg.status, 200);
  EXPECT_EQ(core::sha256Hex(pkg.body), ej["sha256"]);
  // The tar holds the clip bytes and the manifest.
  EXPECT_NE(pkg.body.find("manifest.json"), std::string::npos);
  EXPECT_NE(pkg.body.find(whole.body), std::string::npos);

  std::set<std::string> actions;
  for (const auto& e : backend_->auditLog()) {
    if (e.user == "inv") actions.insert(e.action);
  }
  for (const char* want : {"login", "case.create", "clip.create", "case.hold", "clip.view",
                           "evidence.export", "evidence.download"}) {
    EXPECT_TRUE(actions.count(want)) << want;
  }
  // The operator may not export; the admin reads the audit log.
  Login op = login("op", "operator-pass");
  EXPECT_EQ(call(op, "POST", "/api/cases/" + caseId + "/export", "{}").status, 403);
  Login admin = login("admin", "admin-pass-1");
  auto audit = json::parse(call(admin, "GET", "/api/audit?user=inv").body)["entries"];
  EXPECT_GE(audit.size(), 7u);
}

TEST_F(ApiServiceTest, CamerasCrudPtzValidationAndDocuments) {
  Login admin = login("admin", "admin-pass-1");
  EXPECT_EQ(call(admin, "POST", "/api/cameras", "[1,2]").status, 400);
  EXPECT_EQ(call(admin, "POST", "/api/cameras",
                 R"({"id":"bad id!","division":"510603101201","main_url":"rtsp://a/b"})")
                .status,
            400);
  EXPECT_EQ(call(admin, "POST", "/api/cameras",
                 R"({"id":"cam-c","division":"51060310120","main_url":"rtsp://a/b"})")
                .status,
            400);
  Reply leak = call(admin, "POST", "/api/cameras",
                    R"({"id":"cam-c","division":"510603101201","main_url":"rtsp://u:p@a/b"})");
  EXPECT_EQ(leak.status, 400);
  EXPECT_NE(leak.body.find("credential_ref"), std::string::npos);
  EXPECT_EQ(
      call(admin, "POST", "/api/cameras",
           R"({"id":"cam-c","name":"Gate","division":"510603101201","main_url":"rtsp://a/b"})")
          .status,
      201);
  EXPECT_EQ(call(admin, "POST", "/api/cameras",
                 R"({"id":"cam-c","division":"510603101201","main_url":"rtsp://a/b"})")
                .status,
            409);
  EXPECT_EQ(call(admin, "PUT", "/api/cameras/cam-c",
                 R"({"name":"Gate 2","division":"510603101201","main_url":"rtsp://a/c"})")
                .status,
            200);
  EXPECT_EQ(json::parse(call(admin, "GET", "/api/cameras/cam-c").body)["name"], "Gate 2");
  // Each camera's reader, as /status shows it; null for one nothing reads.
  const auto cams = json::parse(call(admin, "GET", "/api/cameras").body)["cameras"];
  std::map<std::string, json> readers;
  for (const auto& cam : cams)
    readers[cam["id"]] = cam["state"].is_null() ? json("no state") : cam["state"]["reader"];
  EXPECT_EQ(readers["cam-a"], "native");
  EXPECT_TRUE(readers["cam-b"].is_null()) << readers["cam-b"];
  EXPECT_EQ(json::parse(call(admin, "GET", "/api/cameras/cam-a/state").body)["reader"], "native");
  EXPECT_EQ(call(admin, "DELETE", "/api/cameras/cam-c").status, 200);
  EXPECT_EQ(call(admin, "GET", "/api/cameras/cam-c").status, 404);

  Login op = login("op", "operator-pass");
  EXPECT_EQ(call(op, "POST", "/api/cameras/cam-a/ptz", R"({"action":"move","pan":0.5})").status,
            200);
  EXPECT_EQ(call(op, "POST", "/api/cameras/cam-a/ptz", R"({"action":"move","pan":5})").status, 400);
  EXPECT_EQ(call(op, "POST", "/api/cameras/cam-a/ptz", R"({"action":"spin"})").status, 400);
  EXPECT_EQ(call(op, "POST", "/api/cameras/cam-b/ptz", R"({"action":"stop"})").status, 409);
  ASSERT_EQ(backend_->ptzLog().size(), 1u);
  EXPECT_FLOAT_EQ(backend_->ptzLog()[0].pan, 0.5f);
  EXPECT_EQ(call(op, "GET", "/api/events?min_severity=9").status, 400);
  EXPECT_EQ(call(op, "GET", "/api/events?type=nonsense").status, 400);
  EXPECT_EQ(call(op, "GET", "/api/nonexistent").status, 404);

  Conn c(server_->port());
  Reply doc = c.request("GET", "/openapi.yaml");
  EXPECT_EQ(doc.status, 200);
  EXPECT_NE(doc.body.find("openapi: 3.0"), std::string::npos);
  EXPECT_NE(doc.body.find("/api/alerts/{id}/{action}"), std::string::npos);
  auto me = json::parse(call(op, "GET", "/api/me").body);
  EXPECT_EQ(me["role"], "operator");
  EXPECT_EQ(me["scope"], "510603000000");
}

// Recordings integrity (GET /api/recordings/{camera}/integrity): ApiService's part — roles,
// area, parameters, the JSON of `sharpeyes recordings verify --json`, the audit entry, one hashing
// check at a time. The check itself is storage's (tests/storage, and the real gateway in
// tests/app/gateway_api_test.cpp); the reference backend does not verify (501), so this backend
// reports what a check of cam-a found and can hold a files=1 check until the test lets it go.
class VerifyingBackend : public InMemoryBackend {
 public:
  using InMemoryBackend::InMemoryBackend;

  core::Result<RecordingsIntegrity> checkRecordings(const core::CameraId& camera,
                                                    core::TimeRange range,
                                                    bool checkFiles) override {
    {
      std::unique_lock lock(mu_);
      ++calls_;
      if (checkFiles && holdFiles_) {
        inside_ = true;
        cv_.notify_all();
        cv_.wait(lock, [&] { return !holdFiles_; });
        inside_ = false;
      }
    }
    RecordingsIntegrity r;
    r.camera = camera;
    r.range = range;
    r.chainOk = true;
    r.rowsChecked = 300;
    r.deletedRowsCrossed = 2;
    r.coveredTotal = std::chrono::minutes(10);
    r.covered = {{at("2026-11-25T10:00:00Z"), at("2026-11-25T10:10:00Z")}};
    DeletionRun age;
    age.firstId = 7;
    age.lastId = 8;
    age.segments = 2;
    age.recorded = core::TimeRange{at("2026-11-25T09:58:00Z"), at("2026-11-25T10:00:00Z")};
    age.bytes = 4096;
    age.reason = "age";
    age.lastDeleted = at("2026-11-25T12:00:00Z");
    r.gaps = {{{range.begin, at("2026-11-25T10:00:00Z")}, {age}},
              {{at("2026-11-25T10:10:00Z"), range.end}, {}}};
    DeletionRun old;
    old.firstId = old.lastId = 1;
    old.segments = 1;
    old.reason = "quota";
    old.path = "cam-a/old.mp4";
    r.undatedDeletions = {old};
    if (checkFiles) {
      r.filesChecked = true;
      r.files = 300;
      r.fileProblems = {{42, "cam-a/2026/11/25/10/0002.mp4", "SHA-256 differs from the index's"}};
    }
    return r;
  }

  void holdFiles(bool hold) {
    std::lock_guard lock(mu_);
    holdFiles_ = hold;
    cv_.notify_all();
  }
  bool waitInside() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return inside_; });
  }
  int calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool holdFiles_ = false;
  bool inside_ = false;
  int calls_ = 0;
};

class RecordingsIntegrityApiTest : public ApiServiceTest {
 protected:
  std::unique_ptr<InMemoryBackend> makeBackend(const std::string& workDir) override {
    auto b = std::make_unique<VerifyingBackend>(workDir);
    verifying_ = b.get();
    return b;
  }
  VerifyingBackend* verifying_ = nullptr;
};

TEST_F(ApiServiceTest, RecordingsIntegrityIsNotVerifiedByTheReferenceBackend) {
  Login inv = login("inv", "investigator");
  Reply r =
      call(inv, "GET",
           "/api/recordings/cam-a/integrity?from=2026-11-25T09:00:00Z&to=2026-11-25T11:00:00Z");
  EXPECT_EQ(r.status, 501) << r.body;
}

TEST_F(RecordingsIntegrityApiTest, InvestigatorsCheckRecordingsInTheirAreaAndItIsAudited) {
  ASSERT_TRUE(users_->addUser("inv-b", "investigator-b", Role::kInvestigator, div(kVillageB)).ok());
  const std::string base = "/api/recordings/cam-a/integrity";
  const std::string range = "?from=2026-11-25T09:00:00Z&to=2026-11-25T11:00:00Z";
  Login inv = login("inv", "investigator");

  Reply r = call(inv, "GET", base + range);
  ASSERT_EQ(r.status, 200) << r.body;
  const json expected = json::parse(R"({
    "camera": "cam-a",
    "range": {"begin": "2026-11-25T09:00:00.000000Z", "end": "2026-11-25T11:00:00.000000Z"},
    "intact": true,
    "chain": {"ok": true, "rows_checked": 300, "deleted_rows_crossed": 2, "problems": []},
    "covered_seconds": 600.0,
    "covered": [{"begin": "2026-11-25T10:00:00.000000Z", "end": "2026-11-25T10:10:00.000000Z"}],
    "gaps": [
      {"begin": "2026-11-25T09:00:00.000000Z", "end": "2026-11-25T10:00:00.000000Z",
       "deleted_by": [{"reason": "age", "segments": 2, "first_id": 7, "last_id": 8,
                       "last_deleted": "2026-11-25T12:00:00.000000Z",
                       "recorded": {"begin": "2026-11-25T09:58:00.000000Z",
                                    "end": "2026-11-25T10:00:00.000000Z"},
                       "bytes": 4096}]},
      {"begin": "2026-11-25T10:10:00.000000Z", "end": "2026-11-25T11:00:00.000000Z",
       "deleted_by": []}],
    "undated_deletions": [{"reason": "quota", "segments": 1, "first_id": 1, "last_id": 1,
                           "last_deleted": "1970-01-01T00:00:00.000000Z",
                           "path": "cam-a/old.mp4"}]
  })");
  EXPECT_EQ(json::parse(r.body), expected) << r.body;

  Reply files = call(inv, "GET", base + range + "&files=1");
  ASSERT_EQ(files.status, 200) << files.body;
  const json fj = json::parse(files.body);
  EXPECT_FALSE(fj["intact"].get<bool>());
  EXPECT_EQ(fj["files"], json::parse(R"({"checked": 300, "problems": [
      {"segment_id": 42, "path": "cam-a/2026/11/25/10/0002.mp4",
       "problem": "SHA-256 differs from the index's"}]})"));

  // Each check is audited with the range and the verdict.
  std::vector<AuditEntry> verifies;
  for (const auto& e : backend_->auditLog()) {
    if (e.action == "recordings.verify") verifies.push_back(e);
  }
  ASSERT_EQ(verifies.size(), 2u);
  EXPECT_EQ(verifies[0].user, "inv");
  EXPECT_EQ(verifies[0].target, "cam-a");
  EXPECT_EQ(verifies[0].detail,
            "2026-11-25T09:00:00.000000Z to 2026-11-25T11:00:00.000000Z: INTACT");
  EXPECT_EQ(verifies[1].detail,
            "2026-11-25T09:00:00.000000Z to 2026-11-25T11:00:00.000000Z: NOT INTACT, 300 files "
            "hashed");

  // Refused, and nothing checked: roles without evidence work, the investigator of another
  // village, no session; then bad parameters (400 naming what is wrong) and an unknown camera.
  const int before = verifying_->calls();
  Login op = login("op", "operator-pass");
  Login va = login("va", "village-a-pass");
  Login invB = login("inv-b", "investigator-b");
  EXPECT_EQ(call(op, "GET", base + range).status, 403);
  EXPECT_EQ(call(va, "GET", base + range).status, 403);
  Reply outside = call(invB, "GET", base + range);
  EXPECT_EQ(outside.status, 403);
  EXPECT_NE(outside.body.find("outside your area"), std::string::npos) << outside.body;
  EXPECT_EQ(Conn(server_->port()).request("GET", base + range).status, 401);
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"?from=yesterday&to=2026-11-25T11:00:00Z", "from:"},
      {"?from=2026-11-25T09:00:00Z", "from and to are required"},
      {"?from=2026-11-25T11:00:00Z&to=2026-11-25T09:00:00Z", "to must be after from"},
      {range + "&files=true", "files must be 0 or 1"},
      {"?from=2026-11-24T09:00:00Z&to=2026-11-25T09:00:01Z&files=1", "at most 24 hours"},
      {"?from=2026-10-01T00:00:00Z&to=2026-11-25T00:00:00Z", "at most 31 days"},
  };
  for (const auto& [query, detail] : bad) {
    Reply b = call(inv, "GET", base + query);
    EXPECT_EQ(b.status, 400) << query << ": " << b.body;
    EXPECT_NE(b.body.find(detail), std::string::npos) << query << ": " << b.body;
  }
  EXPECT_EQ(call(inv, "GET", "/api/recordings/cam-x/integrity" + range).status, 404);
  EXPECT_EQ(verifying_->calls(), before);
  // 24 hours with files=1 and 31 days without are allowed.
  EXPECT_EQ(
      call(inv, "GET", base + "?from=2026-11-24T09:00:00Z&to=2026-11-25T09:00:00Z&files=1").status,
      200);
  EXPECT_EQ(call(inv, "GET", base + "?from=2026-10-25T00:00:00Z&to=2026-11-25T00:00:00Z").status,
            200);
}

TEST_F(RecordingsIntegrityApiTest, OneCheckAtATime) {
  const std::string target =
      "/api/recordings/cam-a/integrity?from=2026-11-25T09:00:00Z&to=2026-11-25T11:00:00Z";
  Login inv = login("inv", "investigator");
  Login admin = login("admin", "admin-pass-1");
  verifying_->holdFiles(true);
  Reply first;
  std::thread t([&] { first = call(inv, "GET", target + "&files=1"); });
  ASSERT_TRUE(verifying_->waitInside());
  // A second check is turned away at once, with or without files: even without them the chain
  // check reads the camera's whole history into the process.
  Reply busy = call(admin, "GET", target + "&files=1");
  EXPECT_EQ(busy.status, 503) << busy.body;
  EXPECT_EQ(busy.header("retry-after"), "30");
  Reply busyToo = call(admin, "GET", target);
  EXPECT_EQ(busyToo.status, 503) << busyToo.body;
  EXPECT_NE(busyToo.body.find("another integrity check is running"), std::string::npos);
  verifying_->holdFiles(false);
  t.join();
  EXPECT_EQ(first.status, 200) << first.body;
  // Once it is done the next ones run.
  EXPECT_EQ(call(admin, "GET", target + "&files=1").status, 200);
  EXPECT_EQ(call(admin, "GET", target).status, 200);
}

TEST(UserStoreTest, HashingPersistenceAndValidation) {
  std::string h = hashPassword("correct horse", 1000);
  EXPECT_EQ(h.rfind("pbkdf2-sha256$1000$", 0), 0u);
  EXPECT_TRUE(verifyPassword("correct horse", h));
  EXPECT_FALSE(verifyPassword("correct hors", h));
  EXPECT_FALSE(verifyPassword("x", "garbage"));
  EXPECT_NE(hashPassword("same", 1000), hashPassword("same", 1000));  // salted

  auto path = fs::temp_directory_path() / ("sharpeyes-users-" + core::newId() + ".json");
  {
    UserStore s(path.string(), 1000);
    EXPECT_FALSE(s.addUser("a", "short", Role::kAdmin, std::nullopt).ok());
    EXPECT_FALSE(s.addUser("v", "long-enough", Role::kViewer, std::nullopt).ok());  // no scope
    EXPECT_FALSE(s.addUser("bad name", "long-enough", Role::kAdmin, std::nullopt).ok());
    ASSERT_TRUE(s.addUser("v", "long-enough", Role::kViewer, div(kVillageA)).ok());
    EXPECT_EQ(s.addUser("v", "long-enough", Role::kViewer, div(kVillageA)).error().code,
              core::ErrorCode::kAlreadyExists);
  }
  std::ifstream f(path);
  std::string text((std::istreambuf_iterator<char>(f)), {});
  EXPECT_EQ(text.find("long-enough"), std::string::npos);  // only the hash is stored
  UserStore again(path.string(), 1000);
  ASSERT_TRUE(again.load().ok());
  auto u = again.authenticate("v", "long-enough");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->role, Role::kViewer);
  EXPECT_TRUE(u->canSee(div(kVillageA)));
  EXPECT_FALSE(u->canSee(div(kVillageB)));
  EXPECT_FALSE(u->canSee(div("510603000000")));
  EXPECT_FALSE(again.authenticate("v", "wrong-pass").has_value());
  EXPECT_FALSE(again.authenticate("nobody", "long-enough").has_value());
  std::ofstream(path) << "{broken";
  EXPECT_EQ(again.load().error().code, core::ErrorCode::kCorrupt);
  fs::remove(path);
}

}  // namespace
}  // namespace sharpeyes::api
