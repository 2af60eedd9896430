// REST routes, central authorisation, events fan-out, static page. No Beast here.

#include "sharpeyes/api/api_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "sharpeyes/core/util.h"

namespace sharpeyes::api {

using json = nlohmann::json;
using core::ErrorCode;
using core::makeError;

namespace {

int httpStatus(const core::Error& e) {
  switch (e.code) {
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kAlreadyExists: return 409;
    case ErrorCode::kPermissionDenied: return 403;
    case ErrorCode::kUnsupported: return 501;
    case ErrorCode::kUnavailable: return 503;
    case ErrorCode::kTimeout: return 504;
    case ErrorCode::kResourceExhausted: return 507;
    case ErrorCode::kCancelled: return 409;
    default: return 500;
  }
}

HttpResponse fromError(const core::Error& e) {
  return HttpResponse::error(httpStatus(e), toString(e.code), e.message);
}

HttpResponse jsonResponse(const json& j, int status = 200) {
  return HttpResponse::json(status, j.dump(-1, ' ', false, json::error_handler_t::replace));
}

std::string iso(core::WallTime t) {
  return core::formatIso8601(t);
}

json timeRangeJson(const core::TimeRange& r) {
  return {{"from", iso(r.begin)}, {"to", iso(r.end)}};
}

json eventJson(const core::Event& e) {
  json j = {{"id", e.id},
            {"phase", std::string(core::toString(e.phase))},
            {"camera", e.camera.str()},
            {"division", e.division.str()},
            {"rule", e.rule},
            {"type", std::string(core::toString(e.type))},
            {"severity", e.severity},
            {"object_class", e.objectClass},
            {"track_id", e.trackId},
            {"box", {{"x", e.box.x}, {"y", e.box.y}, {"w", e.box.w}, {"h", e.box.h}}},
            {"zone", e.zone},
            {"start", iso(e.start)},
            {"end", e.end ? json(iso(*e.end)) : json(nullptr)},
            {"clip_start", iso(e.clipStart)},
            {"clip_end", iso(e.clipEnd)},
            {"has_snapshot", !e.snapshotPath.empty()},
            {"attributes", e.attributes}};
  return j;
}

json stepJson(const AlertStepRecord& r) {
  return {{"step", std::string(toString(r.step))},
          {"user", r.user},
          {"at", iso(r.at)},
          {"note", r.note},
          {"assignee", r.assignee}};
}

json alertJson(const Alert& a) {
  json h = json::array();
  for (const auto& r : a.history) h.push_back(stepJson(r));
  return {{"id", a.id},
          {"step", std::string(toString(a.step))},
          {"assignee", a.assignee},
          {"event", eventJson(a.event)},
          {"history", h}};
}

json stateJson(const CameraState& s) {
  return {{"state", s.state},
          {"reason", s.reason},
          {"since", iso(s.since)},
          {"fps", s.fps},
          {"bitrate_kbps", s.bitrateKbps},
          {"bytes_recorded", s.bytesRecorded},
          {"segments", s.segments},
          {"reconnects", s.reconnects},
          {"stalls", s.stalls},
          {"reader", s.reader.empty() ? json(nullptr) : json(s.reader)},
          {"tampered", s.tampered},
          {"tampered_since", s.tamperedSince ? json(iso(*s.tamperedSince)) : json(nullptr)}};
}

json cameraJson(const CameraInfo& c, const CameraState* s) {
  json j = {{"id", c.id.str()},
            {"name", c.name},
            {"division", c.division.str()},
            {"ptz", c.ptz},
            {"has_sub_stream", c.hasSubStream},
            {"main_url", core::redactUrl(c.mainUrl)},
            {"sub_url", core::redactUrl(c.subUrl)},
            {"enabled", c.enabled},
            {"latitude", c.latitude ? json(*c.latitude) : json(nullptr)},
            {"longitude", c.longitude ? json(*c.longitude) : json(nullptr)}};
  if (!c.origin.empty()) j["origin"] = c.origin;
  j["state"] = s ? stateJson(*s) : json(nullptr);
  return j;
}

// `sharpeyes recordings verify --json`'s shape (ranges as begin/end, as the CLI prints them).
json beginEndJson(const core::TimeRange& r) {
  return {{"begin", iso(r.begin)}, {"end", iso(r.end)}};
}

json deletionRunJson(const DeletionRun& d) {
  json j{{"reason", d.reason},
         {"segments", d.segments},
         {"first_id", d.firstId},
         {"last_id", d.lastId},
         {"last_deleted", iso(d.lastDeleted)}};
  if (d.recorded) j["recorded"] = beginEndJson(*d.recorded);
  if (d.bytes) j["bytes"] = *d.bytes;
  if (!d.path.empty()) j["path"] = d.path;
  return j;
}

json integrityJson(const RecordingsIntegrity& r) {
  json out{{"camera", r.camera.str()},
           {"range", beginEndJson(r.range)},
           {"intact", r.intact()},
           {"chain",
            {{"ok", r.chainOk},
             {"rows_checked", r.rowsChecked},
             {"deleted_rows_crossed", r.deletedRowsCrossed},
             {"problems", r.chainProblems}}},
           {"covered_seconds", std::chrono::duration<double>(r.coveredTotal).count()},
           {"covered", json::array()},
           {"gaps", json::array()},
           {"undated_deletions", json::array()}};
  for (const auto& c : r.covered) out["covered"].push_back(beginEndJson(c));
  for (const auto& g : r.gaps) {
    json j = beginEndJson(g.gap);
    j["deleted_by"] = json::array();
    for (const auto& d : g.deletedBy) j["deleted_by"].push_back(deletionRunJson(d));
    out["gaps"].push_back(std::move(j));
  }
  for (const auto& d : r.undatedDeletions) out["undated_deletions"].push_back(deletionRunJson(d));
  if (r.filesChecked) {
    json problems = json::array();
    for (const auto& f : r.fileProblems) {
      problems.push_back({{"segment_id", f.segmentId}, {"path", f.path}, {"problem", f.problem}});
    }
    out["files"] = {{"checked", r.files}, {"problems", problems}};
  }
  return out;
}

json clipJson(const core::Clip& c) {
  json gaps = json::array();
  for (const auto& g : c.gaps) gaps.push_back(timeRangeJson(g));
  return {{"id", c.id},
          {"camera", c.camera.str()},
          {"requested", timeRangeJson(c.requested)},
          {"actual", timeRangeJson(c.actual)},
          {"gaps", gaps},
          {"bytes", c.bytes},
          {"sha256", c.sha256},
          {"source_segment_sha256", c.sourceSegmentSha256},
          {"download", "/api/clips/" + c.id + "/download"}};
}

json caseJson(const Case& c) {
  return {{"id", c.id},
          {"title", c.title},
          {"description", c.description},
          {"created_by", c.createdBy},
          {"created_at", iso(c.createdAt)},
          {"open", c.open},
          {"clip_ids", c.clipIds}};
}

json evidenceJson(const EvidencePackage& p) {
  json manifest = nullptr;
  if (!p.manifestJson.empty()) {
    manifest = json::parse(p.manifestJson, nullptr, false);
    if (manifest.is_discarded()) manifest = p.manifestJson;
  }
  return {{"id", p.id},
          {"case_id", p.caseId},
          {"bytes", p.bytes},
          {"sha256", p.sha256},
          {"created_by", p.createdBy},
          {"created_at", iso(p.createdAt)},
          {"clip_ids", p.clipIds},
          {"manifest", manifest},
          {"download", "/api/evidence/" + p.id + "/download"}};
}

json userJson(const User& u) {
  return {{"name", u.name},
          {"display_name", u.displayName},
          {"role", std::string(toString(u.role))},
          {"scope", u.scope ? u.scope->str() : std::string()},
          {"disabled", u.disabled}};
}

bool isStateChange(const std::string& m) {
  return m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE";
}

std::string contentTypeFor(std::string_view path) {
  auto ends = [&](std::string_view s) {
    return path.size() >= s.size() && path.substr(path.size() - s.size()) == s;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".json")) return "application/json";
  if (ends(".wav")) return "audio/wav";
  if (ends(".ico")) return "image/x-icon";
  return "application/octet-stream";
}

// Thrown inside handlers for a 4xx with a message; caught by the route wrapper.
struct HttpError {
  int status;
  std::string error;
  std::string detail;
};

[[noreturn]] void fail(int status, std::string error, std::string detail) {
  throw HttpError{status, std::move(error), std::move(detail)};
}

template <typename T>
T unwrap(core::Result<T> r) {
  if (!r)
    throw HttpError{httpStatus(r.error()), std::string(toString(r.error().code)),
                    r.error().message};
  return std::move(r).value();
}
void unwrapVoid(const core::Result<void>& r) {
  if (!r)
    throw HttpError{httpStatus(r.error()), std::string(toString(r.error().code)),
                    r.error().message};
}

std::optional<core::WallTime> timeParam(const HttpRequest& req, const std::string& name) {
  auto v = req.queryParam(name);
  if (!v || v->empty()) return std::nullopt;
  auto t = core::parseIso8601(*v);
  if (!t) fail(400, "bad_request", name + ": " + t.error().message);
  return *t;
}

// The required from/to of a recordings query, at most 31 days apart; `what` names the query in
// the error ("a timeline", "a check").
core::TimeRange rangeParams(const HttpRequest& req, const std::string& what) {
  auto from = timeParam(req, "from");
  auto to = timeParam(req, "to");
  if (!from || !to) fail(400, "bad_request", "from and to are required (ISO 8601)");
  if (*to <= *from) fail(400, "bad_request", "to must be after from");
  if (*to - *from > std::chrono::hours(24 * 31)) {
    fail(400, "bad_request", what + " spans at most 31 days");
  }
  return {*from, *to};
}

int intParam(const HttpRequest& req, const std::string& name, int def, int lo, int hi) {
  auto v = req.queryParam(name);
  if (!v || v->empty()) return def;
  try {
    size_t used = 0;
    int x = std::stoi(*v, &used);
    if (used != v->size() || x < lo || x > hi) throw std::out_of_range("range");
    return x;
  } catch (const std::exception&) {
    fail(400, "bad_request",
         name + " must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
  }
}

core::CameraId cameraParam(const std::string& text) {
  auto id = core::CameraId::parse(text);
  if (!id) fail(400, "bad_request", "camera id: " + id.error().message);
  return *id;
}

json parseJsonBody(const HttpRequest& req) {
  if (req.body.empty()) return json::object();
  json j = json::parse(req.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) fail(400, "bad_request", "body must be a JSON object");
  return j;
}

std::string strField(const json& j, const char* key, bool required = false) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) fail(400, "bad_request", std::string("missing field '") + key + "'");
    return {};
  }
  if (!it->is_string())
    fail(400, "bad_request", std::string("field '") + key + "' must be a string");
  return it->get<std::string>();
}

core::WallTime timeField(const json& j, const char* key) {
  auto t = core::parseIso8601(strField(j, key, true));
  if (!t) fail(400, "bad_request", std::string(key) + ": " + t.error().message);
  return *t;
}

}  // namespace

std::string toJson(const CameraInfo& c, const CameraState* state) {
  return cameraJson(c, state).dump();
}
std::string toJson(const core::Event& e) {
  return eventJson(e).dump();
}
std::string toJson(const Alert& a) {
  return alertJson(a).dump();
}

// ---- the service ------------------------------------------------------------------------------

struct ApiService::Impl {
  Backend& backend;
  UserStore& users;
  LiveVideoHub& live;
  ApiOptions options;
  SessionManager sessions;
  LoginLimiter limiter;

  struct Subscriber {
    std::shared_ptr<WebSocketConnection> ws;
    User user;
  };
  std::mutex subsMu;
  std::vector<Subscriber> subs;

  std::atomic<uint64_t> requestsOk{0}, requests4xx{0}, requests5xx{0}, loginsOk{0}, loginsFailed{0},
      loginsThrottled{0}, eventsDropped{0};
  // An integrity check is running. One at a time: the chain check reads every row of the
  // camera's history holding the database connection (839 K rows at 100 days: ~4.9 s), and
  // files=1 also reads every file in its range.
  std::atomic<bool> checking{false};

  Impl(Backend& b, UserStore& u, LiveVideoHub& l, ApiOptions o)
      : backend(b),
        users(u),
        live(l),
        options(std::move(o)),
        sessions(options.sessionTtl),
        limiter(options.loginMaxFailures, options.loginWindow) {}

  struct Ctx {
    const HttpRequest& req;
    User user;
    Session session;
  };
  using Fn = std::function<HttpResponse(Ctx&)>;

  void audit(const Ctx& c, std::string action, std::string target, std::string detail = {}) {
    AuditEntry e;
    e.at = core::processClock().now();
    e.user = c.user.name;
    e.action = std::move(action);
    e.target = std::move(target);
    e.detail = std::move(detail);
    e.remoteAddress = c.req.remoteAddress;
    auto r = backend.appendAudit(e);
    if (!r) spdlog::warn("api: audit entry not written: {}", r.error().describe());
  }

  // Session from the cookie or a bearer token.
  std::optional<std::pair<Session, bool>> sessionOf(const HttpRequest& req) {
    std::string auth = req.header("authorization");
    if (auth.size() > 7 && auth.compare(0, 7, "Bearer ") == 0) {
      auto s = sessions.find(auth.substr(7));
      if (s) return std::make_pair(*s, false);
      return std::nullopt;
    }
    auto s = sessions.find(req.cookie("sid"));
    if (s) return std::make_pair(*s, true);
    return std::nullopt;
  }

  HttpResponse count(HttpResponse r) {
    if (r.status >= 500) {
      ++requests5xx;
    } else if (r.status >= 400) {
      ++requests4xx;
    } else {
      ++requestsOk;
    }
    return r;
  }

  Handler wrap(std::optional<Permission> perm, Fn fn) {
    return [this, perm, fn = std::move(fn)](const HttpRequest& req) -> HttpResponse {
      try {
        auto sess = sessionOf(req);
        if (!sess) return count(HttpResponse::error(401, "unauthorized", "log in first"));
        auto user = users.find(sess->first.user);
        if (!user || user->disabled) {
          sessions.remove(sess->first.token);
          return count(HttpResponse::error(401, "unauthorized", "user no longer exists"));
        }
        if (sess->second && isStateChange(req.method) &&
            req.header("x-csrf-token") != sess->first.csrf) {
          return count(HttpResponse::error(403, "csrf", "missing or wrong X-CSRF-Token header"));
        }
        if (perm && !roleAllows(user->role, *perm)) {
          return count(HttpResponse::error(
              403, "forbidden", "role " + std::string(toString(user->role)) + " may not do this"));
        }
        Ctx c{req, *user, sess->first};
        return count(fn(c));
      } catch (const HttpError& e) {
        return count(HttpResponse::error(e.status, e.error, e.detail));
      } catch (const json::exception& e) {
        return count(HttpResponse::error(400, "bad_request", e.what()));
      }
    };
  }

  // The camera, or 404; 403 when outside the caller's scope.
  CameraInfo camera(const Ctx& c, const core::CameraId& id) {
    return inArea(c, unwrap(backend.getCamera(id)));
  }
  // camera() for recordings, clips and events: also a camera removed since, whose recordings
  // stay until retention deletes them.
  CameraInfo recordedCamera(const Ctx& c, const core::CameraId& id) {
    return inArea(c, unwrap(backend.recordedCamera(id)));
  }
  CameraInfo inArea(const Ctx& c, CameraInfo cam) {
    if (!c.user.canSee(cam.division)) {
      fail(403, "forbidden", "camera " + cam.id.str() + " is outside your area");
    }
    return cam;
  }
  void requireDivision(const Ctx& c, const core::DivisionCode& d, const std::string& what) {
    if (!c.user.canSee(d)) fail(403, "forbidden", what + " is outside your area");
  }
  std::vector<core::DivisionCode> scopeList(const User& u) {
    if (!u.scope) return {};
    return {*u.scope};
  }

  std::map<std::string, CameraState> statesById() {
    std::map<std::string, CameraState> out;
    auto st = backend.cameraStates();
    if (st) {
      for (auto& s : *st) out[s.id.str()] = s;
    }
    return out;
  }

  // ---- publish ----
  void publish(const core::DivisionCode& division, const std::string& msg) {
    std::lock_guard lock(subsMu);
    for (auto& s : subs) {
      if (!s.user.canSee(division)) continue;
      if (!s.ws->send(msg, false)) ++eventsDropped;
    }
  }

  HttpResponse serveStatic(const HttpRequest& req);
  void registerAll(HttpServer& server, std::vector<core::Error>* errors);
  core::Result<void> addRoute(HttpServer& s, std::string_view m, std::string_view p,
                              std::optional<Permission> perm, Fn fn) {
    return s.route(m, p, wrap(perm, std::move(fn)));
  }
};

ApiService::ApiService(Backend& backend, UserStore& users, LiveVideoHub& live, ApiOptions o)
    : impl_(std::make_unique<Impl>(backend, users, live, std::move(o))) {}
ApiService::~ApiService() = default;

SessionManager& ApiService::sessions() {
  return impl_->sessions;
}

void ApiService::publishAlert(const Alert& a) {
  json j = {{"type", "alert"}, {"alert", alertJson(a)}};
  impl_->publish(a.event.division, j.dump());
}

void ApiService::publishCameraState(const CameraInfo& c, const CameraState& s) {
  json j = {{"type", "camera"}, {"camera", cameraJson(c, &s)}};
  impl_->publish(c.division, j.dump());
}

void ApiService::publishEvent(const core::Event& e) {
  json j = {{"type", "event"}, {"event", eventJson(e)}};
  impl_->publish(e.division, j.dump());
}

void ApiService::writeMetrics(PrometheusWriter& w) const {
  auto& im = *impl_;
  w.family("sharpeyes_api_requests_total", "API requests by outcome", MetricType::kCounter);
  w.sample("sharpeyes_api_requests_total", {{"outcome", "ok"}},
           static_cast<double>(im.requestsOk.load()));
  w.sample("sharpeyes_api_requests_total", {{"outcome", "client_error"}},
           static_cast<double>(im.requests4xx.load()));
  w.sample("sharpeyes_api_requests_total", {{"outcome", "server_error"}},
           static_cast<double>(im.requests5xx.load()));
  w.family("sharpeyes_api_logins_total", "Login attempts by outcome", MetricType::kCounter);
  w.sample("sharpeyes_api_logins_total", {{"outcome", "ok"}},
           static_cast<double>(im.loginsOk.load()));
  w.sample("sharpeyes_api_logins_total", {{"outcome", "failed"}},
           static_cast<double>(im.loginsFailed.load()));
  w.sample("sharpeyes_api_logins_total", {{"outcome", "throttled"}},
           static_cast<double>(im.loginsThrottled.load()));
  w.family("sharpeyes_api_sessions", "Live sessions", MetricType::kGauge);
  w.sample("sharpeyes_api_sessions", static_cast<double>(im.sessions.size()));
  {
    std::lock_guard lock(im.subsMu);
    w.family("sharpeyes_api_event_subscribers", "Open /ws/events connections", MetricType::kGauge);
    w.sample("sharpeyes_api_event_subscribers", static_cast<double>(im.subs.size()));
  }
  w.family("sharpeyes_api_event_messages_dropped_total",
           "Event messages dropped for slow subscribers", MetricType::kCounter);
  w.sample("sharpeyes_api_event_messages_dropped_total",
           static_cast<double>(im.eventsDropped.load()));
  auto ls = im.live.stats();
  w.family("sharpeyes_live_viewers", "Live video viewers", MetricType::kGauge);
  w.sample("sharpeyes_live_viewers", static_cast<double>(ls.viewers));
  w.family("sharpeyes_live_fragments_total", "Live fMP4 fragments", MetricType::kCounter);
  w.sample("sharpeyes_live_fragments_total", {{"what", "in"}}, static_cast<double>(ls.fragmentsIn));
  w.sample("sharpeyes_live_fragments_total", {{"what", "sent"}},
           static_cast<double>(ls.fragmentsSent));
  w.sample("sharpeyes_live_fragments_total", {{"what", "dropped"}},
           static_cast<double>(ls.fragmentsDropped));
}

core::Result<void> ApiService::registerRoutes(HttpServer& server) {
  std::vector<core::Error> errors;
  impl_->registerAll(server, &errors);
  if (!errors.empty()) return errors.front();
  return core::okResult();
}

HttpResponse ApiService::Impl::serveStatic(const HttpRequest& req) {
  std::string path = req.path;
  if (path.rfind("/api/", 0) == 0 || path.rfind("/ws/", 0) == 0) {
    return HttpResponse::error(404, "not_found", "no such endpoint: " + path);
  }
  if (path.empty() || path == "/") path = "/index.html";
  for (const auto& seg : std::vector<std::string>{"/../", "/.."}) {
    if (path.find(seg) != std::string::npos) {
      return HttpResponse::error(400, "bad_request", "path must not contain '..'");
    }
  }
  auto finish = [&](HttpResponse r, const std::string& p) {
    bool asset = p.rfind("/assets/", 0) == 0;
    r.headers.emplace_back("Cache-Control",
                           asset ? "public, max-age=31536000, immutable" : "no-cache");
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    if (r.contentType.rfind("text/html", 0) == 0) {
      r.headers.emplace_back("X-Frame-Options", "DENY");
      r.headers.emplace_back(
          "Content-Security-Policy",
          "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
          "connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'");
    }
    return r;
  };
  if (!options.webRoot.empty()) {
    std::filesystem::path p = std::filesystem::path(options.webRoot) / path.substr(1);
    if (!std::filesystem::is_regular_file(p)) {
      if (path.rfind("/assets/", 0) == 0) {
        return HttpResponse::error(404, "not_found", "no such file");
      }
      p = std::filesystem::path(options.webRoot) / "index.html";
      path = "/index.html";
    }
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return finish(HttpResponse::text(200, ss.str(), contentTypeFor(path)), path);
  }
  const EmbeddedFile* f = findEmbeddedFile(path);
  if (!f) {
    if (path.rfind("/assets/", 0) == 0)
      return HttpResponse::error(404, "not_found", "no such file");
    path = "/index.html";
    f = findEmbeddedFile(path);
  }
  if (!f) {
    return HttpResponse::error(404, "not_found", "the web page is not built into this binary");
  }
  return finish(
      HttpResponse::text(200, std::string(reinterpret_cast<const char*>(f->data), f->size),
                         f->contentType),
      path);
}

void ApiService::Impl::registerAll(HttpServer& s, std::vector<core::Error>* errors) {
  auto add = [&](std::string_view m, std::string_view p, std::optional<Permission> perm, Fn fn) {
    auto r = addRoute(s, m, p, perm, std::move(fn));
    if (!r) errors->push_back(r.error());
  };
  using P = Permission;

  // ---- session ----
  {
    auto r = s.route("POST", "/api/login", [this](const HttpRequest& req) -> HttpResponse {
      json body = json::parse(req.body, nullptr, false);
      if (body.is_discarded() || !body.is_object() || !body.contains("user") ||
          !body.contains("password") || !body["user"].is_string() ||
          !body["password"].is_string()) {
        return count(HttpResponse::error(400, "bad_request",
                                         "body must be {\"user\": ..., \"password\": ...}"));
      }
      std::string name = body["user"], password = body["password"];
      std::string ipKey = "ip:" + req.remoteAddress, userKey = "user:" + name;
      int wait = std::max(limiter.retryAfter(ipKey), limiter.retryAfter(userKey));
      if (wait > 0) {
        ++loginsThrottled;
        return count(
            HttpResponse::error(429, "too_many_attempts",
                                "too many failed logins; retry in " + std::to_string(wait) + " s")
                .withHeader("Retry-After", std::to_string(wait)));
      }
      auto user = users.authenticate(name, password);
      AuditEntry a;
      a.at = core::processClock().now();
      a.user = name;
      a.remoteAddress = req.remoteAddress;
      if (!user) {
        limiter.recordFailure(ipKey);
        limiter.recordFailure(userKey);
        ++loginsFailed;
        a.action = "login.failed";
        (void)backend.appendAudit(a);
        return count(HttpResponse::error(401, "unauthorized", "wrong user name or password"));
      }
      limiter.reset(userKey);
      ++loginsOk;
      a.action = "login";
      (void)backend.appendAudit(a);
      Session sess = sessions.create(user->name);
      json j = userJson(*user);
      j["csrf"] = sess.csrf;
      j["token"] = sess.token;  // for API clients (Authorization: Bearer)
      std::string cookie = "sid=" + sess.token + "; Path=/; HttpOnly; SameSite=Strict";
      if (options.secureCookies || req.secure) cookie += "; Secure";
      return count(jsonResponse(j).withHeader("Set-Cookie", cookie));
    });
    if (!r) errors->push_back(r.error());
  }
  add("POST", "/api/logout", std::nullopt, [this](Ctx& c) {
    sessions.remove(c.session.token);
    return HttpResponse::json(200, "{}").withHeader(
        "Set-Cookie", "sid=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
  });
  add("GET", "/api/me", std::nullopt, [this](Ctx& c) {
    json j = userJson(c.user);
    j["csrf"] = c.session.csrf;
    json perms = json::array();
    const std::pair<P, const char*> all[] = {{P::kViewCameras, "view_cameras"},
                                             {P::kViewLive, "view_live"},
                                             {P::kPtz, "ptz"},
                                             {P::kManageCameras, "manage_cameras"},
                                             {P::kViewEvents, "view_events"},
                                             {P::kViewAlerts, "view_alerts"},
                                             {P::kHandleAlerts, "handle_alerts"},
                                             {P::kViewRecordings, "view_recordings"},
                                             {P::kCreateClips, "create_clips"},
                                             {P::kManageCases, "manage_cases"},
                                             {P::kExportEvidence, "export_evidence"},
                                             {P::kViewAudit, "view_audit"},
                                             {P::kManageUsers, "manage_users"}};
    for (auto& [p, n] : all) {
      if (roleAllows(c.user.role, p)) perms.push_back(n);
    }
    j["permissions"] = perms;
    return jsonResponse(j);
  });

  // ---- cameras ----
  add("GET", "/api/cameras", P::kViewCameras, [this](Ctx& c) {
    auto cams = unwrap(backend.listCameras());
    // include=removed: also the removed cameras whose recordings are still here (police look
    // for them to cut clips of what they recorded).
    if (auto inc = c.req.queryParam("include"); inc && !inc->empty()) {
      if (*inc != "removed") fail(400, "bad_request", "include: only 'removed' is known");
      auto removed = unwrap(backend.removedCameras());
      cams.insert(cams.end(), removed.begin(), removed.end());
    }
    auto states = statesById();
    std::optional<core::DivisionCode> filter;
    if (auto d = c.req.queryParam("division"); d && !d->empty()) {
      auto dc = core::DivisionCode::parse(*d);
      if (!dc) fail(400, "bad_request", "division: " + dc.error().message);
      filter = *dc;
    }
    json arr = json::array();
    for (const auto& cam : cams) {
      if (!c.user.canSee(cam.division)) continue;
      if (filter && !filter->contains(cam.division)) continue;
      auto it = states.find(cam.id.str());
      arr.push_back(cameraJson(cam, it == states.end() ? nullptr : &it->second));
    }
    return jsonResponse(json{{"cameras", arr}});
  });
  add("GET", "/api/cameras/{id}", P::kViewCameras, [this](Ctx& c) {
    auto cam = camera(c, cameraParam(c.req.params.at("id")));
    auto states = statesById();
    auto it = states.find(cam.id.str());
    return jsonResponse(cameraJson(cam, it == states.end() ? nullptr : &it->second));
  });
  add("GET", "/api/cameras/{id}/state", P::kViewCameras, [this](Ctx& c) {
    auto cam = camera(c, cameraParam(c.req.params.at("id")));
    auto states = statesById();
    auto it = states.find(cam.id.str());
    if (it == states.end()) fail(404, "not_found", "no state for camera " + cam.id.str());
    return jsonResponse(stateJson(it->second));
  });
  auto specFrom = [this](Ctx& c, const json& b, const std::string& idText) {
    // Unknown fields are refused, as unknown keys in the config file are.
    static const std::set<std::string> kSettings = {"transport", "recording", "health", "feed",
                                                    "analytics", "retention", "onvif"};
    static const std::set<std::string> kFields = {
        "id",       "name",     "division", "main_url", "sub_url", "credential_ref",
        "username", "password", "ptz",      "enabled"};
    json settings = json::object();
    for (const auto& [key, value] : b.items()) {
      if (kSettings.count(key)) {
        settings[key] = value;
      } else if (!kFields.count(key)) {
        fail(400, "bad_request",
             "unknown field '" + key +
                 "' (known: id, name, division, main_url, sub_url, credential_ref, username, "
                 "password, ptz, enabled, transport, recording, health, feed, analytics, "
                 "retention, onvif)");
      }
    }
    CameraSpec spec;
    spec.id = cameraParam(idText);
    spec.name = strField(b, "name");
    auto d = core::DivisionCode::parse(strField(b, "division", true));
    if (!d) fail(400, "bad_request", "division: " + d.error().message);
    spec.division = *d;
    requireDivision(c, spec.division, "division " + spec.division.str());
    spec.mainUrl = strField(b, "main_url", !settings.contains("onvif"));
    spec.subUrl = strField(b, "sub_url");
    spec.credentialRef = strField(b, "credential_ref");
    spec.username = strField(b, "username");
    spec.password = strField(b, "password");
    if (spec.mainUrl.find('@') != std::string::npos || spec.subUrl.find('@') != std::string::npos) {
      fail(400, "bad_request",
           "put credentials in username with password or credential_ref (env:NAME or "
           "file:/path), not in the URL");
    }
    for (const char* key : {"ptz", "enabled"}) {
      if (b.contains(key) && !b[key].is_boolean())
        fail(400, "bad_request", std::string("field '") + key + "' must be true or false");
    }
    spec.ptz = b.value("ptz", false);
    spec.enabled = b.value("enabled", true);
    if (!settings.empty()) spec.settingsJson = settings.dump();
    return spec;
  };
  add("POST", "/api/cameras", P::kManageCameras, [this, specFrom](Ctx& c) {
    json b = parseJsonBody(c.req);
    auto spec = specFrom(c, b, strField(b, "id", true));
    auto cam = unwrap(backend.addCamera(spec));
    audit(c, "camera.add", cam.id.str());
    return jsonResponse(cameraJson(cam, nullptr), 201);
  });
  add("PUT", "/api/cameras/{id}", P::kManageCameras, [this, specFrom](Ctx& c) {
    camera(c, cameraParam(c.req.params.at("id")));
    json b = parseJsonBody(c.req);
    auto spec = specFrom(c, b, c.req.params.at("id"));
    auto cam = unwrap(backend.updateCamera(spec));
    audit(c, "camera.edit", cam.id.str());
    return jsonResponse(cameraJson(cam, nullptr));
  });
  add("DELETE", "/api/cameras/{id}", P::kManageCameras, [this](Ctx& c) {
    auto cam = camera(c, cameraParam(c.req.params.at("id")));
    unwrapVoid(backend.removeCamera(cam.id));
    audit(c, "camera.remove", cam.id.str());
    return HttpResponse::json(200, "{}");
  });
  add("POST", "/api/cameras/{id}/ptz", P::kPtz, [this](Ctx& c) {
    auto cam = camera(c, cameraParam(c.req.params.at("id")));
    if (!cam.ptz) fail(409, "not_ptz", "camera " + cam.id.str() + " has no PTZ");
    json b = parseJsonBody(c.req);
    PtzCommand cmd;
    std::string action = strField(b, "action", true);
    if (action == "move") {
      cmd.action = PtzCommand::Action::kMove;
    } else if (action == "stop") {
      cmd.action = PtzCommand::Action::kStop;
    } else if (action == "goto_preset") {
      cmd.action = PtzCommand::Action::kGotoPreset;
    } else if (action == "set_preset") {
      cmd.action = PtzCommand::Action::kSetPreset;
    } else {
      fail(400, "bad_request", "action must be move, stop, goto_preset or set_preset");
    }
    auto speed = [&](const char* k) {
      double v = b.value(k, 0.0);
      if (v < -1 || v > 1) fail(400, "bad_request", std::string(k) + " must be in -1..1");
      return static_cast<float>(v);
    };
    cmd.pan = speed("pan");
    cmd.tilt = speed("tilt");
    cmd.zoom = speed("zoom");
    cmd.preset = b.value("preset", 0);
    cmd.timeoutMs = std::clamp(b.value("timeout_ms", 1000), 100, 10000);
    unwrapVoid(backend.ptz(cam.id, cmd));
    audit(c, "camera.ptz", cam.id.str(), action);
    return HttpResponse::json(200, "{}");
  });

  // ---- events ----
  add("GET", "/api/events", P::kViewEvents, [this](Ctx& c) {
    EventQuery q;
    q.from = timeParam(c.req, "from");
    q.to = timeParam(c.req, "to");
    if (auto cam = c.req.queryParam("camera"); cam && !cam->empty()) {
      recordedCamera(c, cameraParam(*cam));
      q.cameras.push_back(cameraParam(*cam));
    }
    q.divisions = scopeList(c.user);
    if (auto d = c.req.queryParam("division"); d && !d->empty()) {
      auto dc = core::DivisionCode::parse(*d);
      if (!dc) fail(400, "bad_request", "division: " + dc.error().message);
      requireDivision(c, *dc, "division " + dc->str());
      q.divisions = {*dc};
    }
    if (auto t = c.req.queryParam("type"); t && !t->empty()) {
      auto et = core::parseEventType(*t);
      if (!et) fail(400, "bad_request", "type: " + et.error().message);
      q.type = *et;
    }
    q.objectClass = c.req.queryParam("class").value_or("");
    q.minSeverity =
        intParam(c.req, "min_severity", core::kMinSeverity, core::kMinSeverity, core::kMaxSeverity);
    q.limit = static_cast<size_t>(intParam(c.req, "limit", 100, 1, 1000));
    q.cursor = c.req.queryParam("cursor").value_or("");
    auto page = unwrap(backend.queryEvents(q));
    json arr = json::array();
    for (const auto& e : page.events) {
      if (c.user.canSee(e.division)) arr.push_back(eventJson(e));  // defence in depth
    }
    return jsonResponse(json{{"events", arr}, {"next_cursor", page.nextCursor}});
  });
  add("GET", "/api/events/{id}", P::kViewEvents, [this](Ctx& c) {
    auto e = unwrap(backend.getEvent(c.req.params.at("id")));
    requireDivision(c, e.division, "event " + e.id);
    return jsonResponse(eventJson(e));
  });
  add("GET", "/api/events/{id}/snapshot", P::kViewEvents, [this](Ctx& c) {
    auto e = unwrap(backend.getEvent(c.req.params.at("id")));
    requireDivision(c, e.division, "event " + e.id);
    auto path = unwrap(backend.snapshotPath(e.id));
    audit(c, "snapshot.view", e.camera.str(), e.id);
    return HttpResponse::file(path, "image/jpeg")
        .withHeader("Cache-Control", "private, max-age=3600");
  });

  // ---- alerts ----
  add("GET", "/api/alerts", P::kViewAlerts, [this](Ctx& c) {
    AlertQuery q;
    q.divisions = scopeList(c.user);
    if (auto st = c.req.queryParam("step"); st && !st->empty()) {
      auto s = parseAlertStep(*st);
      if (!s) fail(400, "bad_request", "step: " + s.error().message);
      q.step = *s;
    }
    q.openOnly = c.req.queryParam("open").value_or("") == "true";
    q.minSeverity =
        intParam(c.req, "min_severity", core::kMinSeverity, core::kMinSeverity, core::kMaxSeverity);
    q.from = timeParam(c.req, "from");
    q.to = timeParam(c.req, "to");
    if (auto cam = c.req.queryParam("camera"); cam && !cam->empty()) {
      q.camera = recordedCamera(c, cameraParam(*cam)).id;
    }
    q.limit = static_cast<size_t>(intParam(c.req, "limit", 200, 1, 1000));
    auto alerts = unwrap(backend.queryAlerts(q));
    json arr = json::array();
    for (const auto& a : alerts) {
      if (c.user.canSee(a.event.division)) arr.push_back(alertJson(a));
    }
    return jsonResponse(json{{"alerts", arr}});
  });
  add("GET", "/api/alerts/{id}", P::kViewAlerts, [this](Ctx& c) {
    auto a = unwrap(backend.getAlert(c.req.params.at("id")));
    requireDivision(c, a.event.division, "alert " + a.id);
    return jsonResponse(alertJson(a));
  });
  add("POST", "/api/alerts/{id}/{action}", P::kHandleAlerts, [this](Ctx& c) {
    static const std::map<std::string, AlertStep> kActions = {{"accept", AlertStep::kAccepted},
                                                              {"dispatch", AlertStep::kDispatched},
                                                              {"handle", AlertStep::kHandling},
                                                              {"feedback", AlertStep::kFeedback},
                                                              {"close", AlertStep::kClosed}};
    auto act = kActions.find(c.req.params.at("action"));
    if (act == kActions.end()) {
      fail(404, "not_found", "alert action must be accept, dispatch, handle, feedback or close");
    }
    auto a = unwrap(backend.getAlert(c.req.params.at("id")));
    requireDivision(c, a.event.division, "alert " + a.id);
    auto next = nextAlertStep(a.step);
    if (!next || *next != act->second) {
      fail(409, "wrong_step",
           "alert is at '" + std::string(toString(a.step)) + "'; the next step is " +
               (next ? "'" + std::string(toString(*next)) + "'" : std::string("none")));
    }
    json b = parseJsonBody(c.req);
    AlertStepRecord rec;
    rec.step = act->second;
    rec.user = c.user.name;
    rec.at = core::processClock().now();
    rec.note = strField(b, "note");
    rec.assignee = strField(b, "assignee");
    if (rec.step == AlertStep::kDispatched && rec.assignee.empty()) {
      fail(400, "bad_request", "dispatch needs an 'assignee' (unit or person)");
    }
    if ((rec.step == AlertStep::kFeedback || rec.step == AlertStep::kClosed) && rec.note.empty()) {
      fail(400, "bad_request", "feedback and close need a 'note'");
    }
    auto updated = unwrap(backend.advanceAlert(a.id, a.step, rec));
    audit(c, "alert." + act->first, a.id, rec.note);
    json j = {{"type", "alert"}, {"alert", alertJson(updated)}};
    publish(updated.event.division, j.dump());
    return jsonResponse(alertJson(updated));
  });

  // ---- recordings, clips ----
  add("GET", "/api/recordings/{camera}/timeline", P::kViewRecordings, [this](Ctx& c) {
    auto cam = recordedCamera(c, cameraParam(c.req.params.at("camera")));
    const core::TimeRange range = rangeParams(c.req, "a timeline");
    auto t = unwrap(backend.timeline(cam.id, range));
    json rec = json::array(), gaps = json::array();
    for (const auto& r : t.recorded) rec.push_back(timeRangeJson(r));
    for (const auto& g : t.gaps) gaps.push_back(timeRangeJson(g));
    return jsonResponse(json{{"camera", cam.id.str()},
                             {"from", iso(range.begin)},
                             {"to", iso(range.end)},
                             {"recorded", rec},
                             {"gaps", gaps}});
  });
  // The integrity of a camera's recordings, as `sharpeyes recordings verify --json` prints it:
  // evidence work, so the evidence roles (investigator, admin), in the caller's area only.
  add("GET", "/api/recordings/{camera}/integrity", P::kExportEvidence, [this](Ctx& c) {
    auto cam = recordedCamera(c, cameraParam(c.req.params.at("camera")));
    const core::TimeRange range = rangeParams(c.req, "a check");
    auto filesParam = c.req.queryParam("files").value_or("0");
    if (filesParam != "0" && filesParam != "1") fail(400, "bad_request", "files must be 0 or 1");
    const bool files = filesParam == "1";
    // Hashing reads every file in the range on an HTTP thread: a day of a camera's main stream
    // is tens of GB, minutes of disk. Longer ranges are checked on the box with
    // `sharpeyes recordings verify --files`. One check runs at a time (see `checking`) so the
    // other threads keep serving.
    if (files && range.length() > std::chrono::hours(24)) {
      fail(400, "bad_request",
           "files=1 hashes every file: at most 24 hours per request (split the range, or run "
           "'sharpeyes recordings verify --files' on the gateway)");
    }
    bool idle = false;
    if (!checking.compare_exchange_strong(idle, true)) {
      return HttpResponse::error(503, "busy", "another integrity check is running; retry later")
          .withHeader("Retry-After", "30");
    }
    struct Release {
      std::atomic<bool>* flag;
      ~Release() { flag->store(false); }
    } release{&checking};
    auto r = unwrap(backend.checkRecordings(cam.id, range, files));
    audit(c, "recordings.verify", cam.id.str(),
          iso(range.begin) + " to " + iso(range.end) + ": " +
              (r.intact() ? "INTACT" : "NOT INTACT") +
              (files ? ", " + std::to_string(r.files) + " files hashed" : ""));
    return jsonResponse(integrityJson(r));
  });
  add("POST", "/api/clips", P::kCreateClips, [this](Ctx& c) {
    json b = parseJsonBody(c.req);
    ClipRequest r;
    r.camera = recordedCamera(c, cameraParam(strField(b, "camera", true))).id;
    r.range.begin = timeField(b, "from");
    r.range.end = timeField(b, "to");
    if (r.range.end <= r.range.begin) fail(400, "bad_request", "to must be after from");
    if (r.range.length() > std::chrono::hours(4)) {
      fail(400, "bad_request", "a clip is at most 4 hours long");
    }
    r.caseId = strField(b, "case_id");
    if (!r.caseId.empty() && !roleAllows(c.user.role, P::kManageCases)) {
      fail(403, "forbidden", "attaching clips to cases needs the investigator role");
    }
    auto clip = unwrap(backend.createClip(r, c.user.name));
    audit(c, "clip.create", clip.id, r.camera.str());
    if (!r.caseId.empty()) audit(c, "case.hold", r.caseId, clip.id);
    return jsonResponse(clipJson(clip), 201);
  });
  add("GET", "/api/clips/{id}", P::kViewRecordings, [this](Ctx& c) {
    auto clip = unwrap(backend.getClip(c.req.params.at("id")));
    recordedCamera(c, clip.camera);
    return jsonResponse(clipJson(clip));
  });
  add("GET", "/api/clips/{id}/download", P::kViewRecordings, [this](Ctx& c) {
    auto clip = unwrap(backend.getClip(c.req.params.at("id")));
    recordedCamera(c, clip.camera);
    auto path = unwrap(backend.clipFilePath(clip.id));
    // One audit entry per viewing, not per Range request of the video element.
    std::string range = c.req.header("range");
    if (range.empty() || range.rfind("bytes=0-", 0) == 0) {
      audit(c, "clip.view", clip.id, clip.camera.str());
    }
    auto r = HttpResponse::file(path, "video/mp4");
    if (c.req.queryParam("attachment") == "1") {
      r.headers.emplace_back("Content-Disposition",
                             "attachment; filename=\"clip-" + clip.id + ".mp4\"");
    }
    return r;
  });

  // ---- cases, evidence ----
  add("GET", "/api/cases", P::kManageCases, [this](Ctx& c) {
    json arr = json::array();
    for (const auto& k : unwrap(backend.listCases())) arr.push_back(caseJson(k));
    return jsonResponse(json{{"cases", arr}});
  });
  add("POST", "/api/cases", P::kManageCases, [this](Ctx& c) {
    json b = parseJsonBody(c.req);
    Case k;
    k.title = strField(b, "title", true);
    if (k.title.empty() || k.title.size() > 200) fail(400, "bad_request", "title: 1..200 chars");
    k.description = strField(b, "description");
    k.createdBy = c.user.name;
    k.createdAt = core::processClock().now();
    auto created = unwrap(backend.createCase(k));
    audit(c, "case.create", created.id, created.title);
    return jsonResponse(caseJson(created), 201);
  });
  add("GET", "/api/cases/{id}", P::kManageCases, [this](Ctx& c) {
    return jsonResponse(caseJson(unwrap(backend.getCase(c.req.params.at("id")))));
  });
  add("POST", "/api/cases/{id}/holds", P::kManageCases, [this](Ctx& c) {
    json b = parseJsonBody(c.req);
    auto clip = unwrap(backend.getClip(strField(b, "clip_id", true)));
    recordedCamera(c, clip.camera);
    auto k = unwrap(backend.holdClip(c.req.params.at("id"), clip.id));
    audit(c, "case.hold", k.id, clip.id);
    return jsonResponse(caseJson(k));
  });
  add("POST", "/api/cases/{id}/export", P::kExportEvidence, [this](Ctx& c) {
    auto k = unwrap(backend.getCase(c.req.params.at("id")));
    for (const auto& id : k.clipIds) {
      auto clip = unwrap(backend.getClip(id));
      recordedCamera(c, clip.camera);  // every clip in the package must be in the caller's area
    }
    auto p = unwrap(backend.exportEvidence(k.id, c.user.name));
    audit(c, "evidence.export", p.id, k.id);
    return jsonResponse(evidenceJson(p), 201);
  });
  add("GET", "/api/evidence/{id}", P::kExportEvidence, [this](Ctx& c) {
    return jsonResponse(evidenceJson(unwrap(backend.getEvidence(c.req.params.at("id")))));
  });
  add("GET", "/api/evidence/{id}/download", P::kExportEvidence, [this](Ctx& c) {
    auto p = unwrap(backend.getEvidence(c.req.params.at("id")));
    audit(c, "evidence.download", p.id, p.caseId);
    return HttpResponse::file(p.path, "application/x-tar")
        .withHeader("Content-Disposition", "attachment; filename=\"evidence-" + p.id + ".tar\"");
  });

  // ---- audit, health, users ----
  add("GET", "/api/audit", P::kViewAudit, [this](Ctx& c) {
    AuditQuery q;
    q.from = timeParam(c.req, "from");
    q.to = timeParam(c.req, "to");
    q.user = c.req.queryParam("user").value_or("");
    q.action = c.req.queryParam("action").value_or("");
    q.limit = static_cast<size_t>(intParam(c.req, "limit", 500, 1, 5000));
    json arr = json::array();
    for (const auto& e : unwrap(backend.queryAudit(q))) {
      arr.push_back({{"at", iso(e.at)},
                     {"user", e.user},
                     {"action", e.action},
                     {"target", e.target},
                     {"detail", e.detail},
                     {"remote", e.remoteAddress}});
    }
    return jsonResponse(json{{"entries", arr}});
  });
  add("GET", "/api/health", std::nullopt, [this](Ctx&) {
    auto h = backend.health();
    return jsonResponse(json{{"ok", h.ok}, {"checks", h.checks}}, h.ok ? 200 : 503);
  });
  add("GET", "/api/health/cameras", P::kViewCameras, [this](Ctx& c) {
    auto cams = unwrap(backend.listCameras());
    auto states = statesById();
    auto viewed = live.lastViewedMillis();
    struct Agg {
      int total = 0, online = 0;
    };
    std::map<std::string, Agg> byDivision;
    json problems = json::array(), unwatched = json::array();
    auto now = core::processClock().now();
    for (const auto& cam : cams) {
      if (!c.user.canSee(cam.division)) continue;
      auto it = states.find(cam.id.str());
      bool online = it != states.end() && it->second.state == "streaming";
      for (int lvl = static_cast<int>(core::DivisionLevel::kCity);
           lvl <= static_cast<int>(cam.division.level()); ++lvl) {
        auto anc = cam.division.ancestorAt(static_cast<core::DivisionLevel>(lvl));
        if (!anc || !c.user.canSee(*anc)) continue;  // only levels inside the scope
        auto& a = byDivision[anc->str()];
        ++a.total;
        a.online += online ? 1 : 0;
      }
      if (it == states.end() || !online || it->second.tampered) {
        const CameraState* s = it == states.end() ? nullptr : &it->second;
        problems.push_back({{"camera", cam.id.str()},
                            {"name", cam.name},
                            {"division", cam.division.str()},
                            {"state", s ? s->state : "unknown"},
                            {"reason", s ? s->reason : ""},
                            {"since", s ? json(iso(s->since)) : json(nullptr)},
                            {"tampered", s && s->tampered},
                            {"tampered_since", s && s->tamperedSince ? json(iso(*s->tamperedSince))
                                                                     : json(nullptr)}});
      }
      auto v = viewed.find(cam.id.str());
      if (v == viewed.end()) {
        unwatched.push_back({{"camera", cam.id.str()},
                             {"name", cam.name},
                             {"division", cam.division.str()},
                             {"last_viewed", nullptr}});
      }
    }
    json divs = json::array();
    for (const auto& [code, a] : byDivision) {
      auto d = core::DivisionCode::parse(code);
      divs.push_back({{"division", code},
                      {"level", d ? std::string(core::toString(d->level())) : ""},
                      {"cameras", a.total},
                      {"online", a.online},
                      {"online_rate", a.total ? static_cast<double>(a.online) / a.total : 0.0}});
    }
    return jsonResponse(json{{"generated_at", iso(now)},
                             {"divisions", divs},
                             {"problems", problems},
                             {"never_watched", unwatched}});
  });
  add("GET", "/api/users", P::kManageUsers, [this](Ctx&) {
    json arr = json::array();
    for (const auto& u : users.list()) arr.push_back(userJson(u));
    return jsonResponse(json{{"users", arr}});
  });
  add("POST", "/api/users", P::kManageUsers, [this](Ctx& c) {
    json b = parseJsonBody(c.req);
    auto role = parseRole(strField(b, "role", true));
    if (!role) fail(400, "bad_request", role.error().message);
    std::optional<core::DivisionCode> scope;
    if (auto sc = strField(b, "scope"); !sc.empty()) {
      auto d = core::DivisionCode::parse(sc);
      if (!d) fail(400, "bad_request", "scope: " + d.error().message);
      requireDivision(c, *d, "scope " + d->str());
      scope = *d;
    }
    auto u = unwrap(users.addUser(strField(b, "name", true), strField(b, "password", true), *role,
                                  scope, strField(b, "display_name")));
    audit(c, "user.add", u.name, std::string(toString(u.role)));
    return jsonResponse(userJson(u), 201);
  });
  add("DELETE", "/api/users/{name}", P::kManageUsers, [this](Ctx& c) {
    std::string name = c.req.params.at("name");
    if (name == c.user.name) fail(409, "conflict", "you cannot remove yourself");
    unwrapVoid(users.removeUser(name));
    sessions.removeUser(name);
    audit(c, "user.remove", name);
    return HttpResponse::json(200, "{}");
  });

  // ---- WebSockets ----
  auto originOk = [this](const HttpRequest& req) {
    std::string origin = req.header("origin");
    if (origin.empty()) return true;  // not a browser: the session token still applies
    std::string host = req.header("host");
    if (origin == "http://" + host || origin == "https://" + host) return true;
    return std::find(options.allowedOrigins.begin(), options.allowedOrigins.end(), origin) !=
           options.allowedOrigins.end();
  };
  // Resolves the session for an upgrade: cookie, bearer header, or ?token= (API clients that
  // cannot set headers on a WebSocket).
  auto wsUser = [this](const HttpRequest& req) -> std::optional<User> {
    auto s = sessionOf(req);
    if (!s) {
      auto t = req.queryParam("token");
      if (t) {
        if (auto ss = sessions.find(*t)) s = std::make_pair(*ss, false);
      }
    }
    if (!s) return std::nullopt;
    auto u = users.find(s->first.user);
    if (!u || u->disabled) return std::nullopt;
    return u;
  };
  {
    WebSocketRoute r;
    r.authorize = [originOk, wsUser](const HttpRequest& req) -> std::optional<HttpResponse> {
      if (!originOk(req)) return HttpResponse::error(403, "forbidden", "cross-origin WebSocket");
      auto u = wsUser(req);
      if (!u) return HttpResponse::error(401, "unauthorized", "log in first");
      if (!roleAllows(u->role, Permission::kViewAlerts)) {
        return HttpResponse::error(403, "forbidden", "role may not watch events");
      }
      return std::nullopt;
    };
    r.onOpen = [this, wsUser](const std::shared_ptr<WebSocketConnection>& ws,
                              const HttpRequest& req) {
      auto u = wsUser(req);
      if (!u) {
        ws->close();
        return;
      }
      ws->send(json{{"type", "hello"}, {"user", u->name}}.dump(), false);
      std::lock_guard lock(subsMu);
      subs.push_back({ws, *u});
    };
    r.onClose = [this](const std::shared_ptr<WebSocketConnection>& ws) {
      std::lock_guard lock(subsMu);
      std::erase_if(subs, [&](const Subscriber& s) { return s.ws == ws; });
    };
    r.maxMessageBytes = 4096;
    r.maxQueuedBytes = 4 << 20;
    auto res = s.webSocket("/ws/events", std::move(r));
    if (!res) errors->push_back(res.error());
  }
  {
    WebSocketRoute r;
    r.authorize = [this, originOk, wsUser](const HttpRequest& req) -> std::optional<HttpResponse> {
      if (!originOk(req)) return HttpResponse::error(403, "forbidden", "cross-origin WebSocket");
      auto u = wsUser(req);
      if (!u) return HttpResponse::error(401, "unauthorized", "log in first");
      if (!roleAllows(u->role, Permission::kViewLive)) {
        return HttpResponse::error(403, "forbidden", "role may not view live video");
      }
      auto id = core::CameraId::parse(req.params.at("camera"));
      if (!id) return HttpResponse::error(400, "bad_request", id.error().message);
      auto cam = backend.getCamera(*id);
      if (!cam) return fromError(cam.error());
      if (!u->canSee(cam->division)) {
        return HttpResponse::error(403, "forbidden", "camera is outside your area");
      }
      auto st = req.queryParam("stream").value_or("sub");
      if (st != "sub" && st != "main") {
        return HttpResponse::error(400, "bad_request", "stream must be sub or main");
      }
      return std::nullopt;
    };
    r.onOpen = [this, wsUser](const std::shared_ptr<WebSocketConnection>& ws,
                              const HttpRequest& req) {
      auto u = wsUser(req);
      auto id = core::CameraId::parse(req.params.at("camera"));
      if (!u || !id) {
        ws->close();
        return;
      }
      auto kind =
          req.queryParam("stream").value_or("sub") == "main" ? StreamKind::kMain : StreamKind::kSub;
      AuditEntry e;
      e.at = core::processClock().now();
      e.user = u->name;
      e.action = "live.view";
      e.target = id->str();
      e.detail = std::string(toString(kind));
      e.remoteAddress = req.remoteAddress;
      (void)backend.appendAudit(e);
      live.addViewer(*id, kind, ws);
    };
    r.onClose = [this](const std::shared_ptr<WebSocketConnection>& ws) { live.removeViewer(ws); };
    r.maxMessageBytes = 1024;
    r.maxQueuedBytes = 8 << 20;
    auto res = s.webSocket("/ws/live/{camera}", std::move(r));
    if (!res) errors->push_back(res.error());
  }

  // ---- documents and the page ----
  {
    auto r = s.route("GET", "/openapi.yaml", [](const HttpRequest&) {
      return HttpResponse::text(200, std::string(openApiYaml()), "application/yaml");
    });
    if (!r) errors->push_back(r.error());
  }
  if (options.serveWebPage) {
    auto page = [this](const HttpRequest& req) { return serveStatic(req); };
    auto r1 = s.route("GET", "/", page);
    auto r2 = s.route("GET", "/{path*}", page);
    if (!r1) errors->push_back(r1.error());
    if (!r2) errors->push_back(r2.error());
  }
}

}  // namespace sharpeyes::api
