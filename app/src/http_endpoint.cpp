#include "http_endpoint.h"

#include "gateway.h"
#include "sharpeyes/api/http_server.h"
#include "sharpeyes/api/prometheus.h"

namespace sharpeyes::app {
namespace {

class BeastEndpoint : public HttpEndpoint {
 public:
  explicit BeastEndpoint(api::HttpServerOptions options) : server_(std::move(options)) {}

  core::Result<void> init(Gateway& gw) {
    using api::HttpRequest;
    using api::HttpResponse;
    for (auto r : {
             server_.route("GET", "/healthz",
                           [](const HttpRequest&) { return HttpResponse::text(200, "ok\n"); }),
             server_.route("GET", "/metrics",
                           [&gw](const HttpRequest&) {
                             return HttpResponse::text(200, gw.metricsText(),
                                                       api::PrometheusWriter::kContentType);
                           }),
             server_.route(
                 "GET", "/api/cameras",
                 [&gw](const HttpRequest&) { return HttpResponse::json(200, gw.camerasJson()); }),
         }) {
      if (!r) return r;
    }
    return server_.start();
  }

  uint16_t port() const override { return server_.port(); }
  void stop() override { server_.stop(); }

 private:
  api::HttpServer server_;
};

}  // namespace

core::Result<std::unique_ptr<HttpEndpoint>> HttpEndpoint::start(const std::string& address,
                                                                uint16_t port, Gateway& gateway) {
  api::HttpServerOptions o;
  o.bindAddress = address;
  o.port = port;
  o.threads = 2;
  auto ep = std::make_unique<BeastEndpoint>(o);
  if (auto r = ep->init(gateway); !r) return r.error();
  return std::unique_ptr<HttpEndpoint>(std::move(ep));
}

}  // namespace sharpeyes::app
