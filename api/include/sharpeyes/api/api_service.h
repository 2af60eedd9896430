#pragma once
// ApiService: the REST API, the live WebSocket endpoints, authentication and authorisation, the
// OpenAPI document and the embedded web page, registered on an HttpServer.
//
// Wiring (app/):
//   api::HttpServer server(opts);                       // threads = opts.threads
//   server.route("GET", "/healthz", ...);                // the lead's own endpoints
//   server.route("GET", "/metrics", ...);
//   api::UserStore users(varDir + "/users.json"); users.load();
//   api::LiveVideoHub live(onDemand);                    // ingest pushes fMP4 into it
//   MyBackend backend(...);                              // : api::Backend
//   api::ApiService service(backend, users, live, {});
//   service.registerRoutes(server);                      // /api/*, /ws/*, /openapi.yaml, /
//   server.start();
//   ... bus/ingest callbacks: service.publishAlert(a), service.publishCameraState(info, st)
// Destroy order: server.stop() first, then service, live, users, backend.
//
// Authorisation is central: every route declares the permission it needs, and every object it
// touches (camera, event, alert, clip, case) is checked against the caller's division scope
// (403 outside). State-changing requests with cookie sessions need the X-CSRF-Token header.
// Every video view (live, clip, snapshot) and every export writes an audit entry.

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "sharpeyes/api/auth.h"
#include "sharpeyes/api/backend.h"
#include "sharpeyes/api/http_server.h"
#include "sharpeyes/api/live.h"
#include "sharpeyes/api/prometheus.h"
#include "sharpeyes/core/result.h"

namespace sharpeyes::api {

struct ApiOptions {
  std::chrono::seconds sessionTtl{12 * 3600};
  int loginMaxFailures = 5;              // per remote address and per user name ...
  std::chrono::seconds loginWindow{60};  // ... within this window, then 429
  bool secureCookies = false;            // add "Secure" to the session cookie (set when TLS is on)
  bool serveWebPage = true;              // the embedded page at "/" (web/dist compiled in)
  std::string webRoot;                   // serve the page from this directory instead (development)
  // Non-empty: also accept these origins on WebSocket upgrades (besides same-origin).
  std::vector<std::string> allowedOrigins;
};

class ApiService {
 public:
  ApiService(Backend& backend, UserStore& users, LiveVideoHub& live, ApiOptions options = {});
  ~ApiService();
  ApiService(const ApiService&) = delete;
  ApiService& operator=(const ApiService&) = delete;

  core::Result<void> registerRoutes(HttpServer& server);

  // Push to /ws/events subscribers who may see the division (thread-safe, any thread, never
  // blocks: a slow subscriber loses messages, and the page reloads its lists on reconnect).
  void publishAlert(const Alert& alert);  // a new alert or a workflow step
  void publishCameraState(const CameraInfo& camera, const CameraState& state);
  void publishEvent(const core::Event& event);

  // API metrics for the lead's /metrics: requests by outcome, sessions, live viewers.
  void writeMetrics(PrometheusWriter& w) const;

  SessionManager& sessions();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// JSON encodings shared with the tests and the lead's code.
std::string toJson(const CameraInfo& c, const CameraState* state);
std::string toJson(const core::Event& e);
std::string toJson(const Alert& a);

// The embedded web page (generated from web/dist at build time): path -> (content type, bytes).
struct EmbeddedFile {
  const char* path;
  const char* contentType;
  const unsigned char* data;
  size_t size;
};
const EmbeddedFile* findEmbeddedFile(std::string_view path);
// The OpenAPI document (api/openapi.yaml, embedded).
std::string_view openApiYaml();

}  // namespace sharpeyes::api
