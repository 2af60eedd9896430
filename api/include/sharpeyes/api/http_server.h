#pragma once
// HttpServer: a small HTTP/1.1 (+WebSocket) server on Boost.Beast, kept entirely behind this
// header. Threading: the server owns one io_context and runs it on `threads` threads that it
// creates in start() and joins in stop(); the caller (app/) chooses the count. Handlers and
// WebSocket callbacks run on those threads. Every connection is served on its own strand, so one
// connection's callbacks never run concurrently.
//
// Life cycle: construct, register routes, start(), ..., stop() (or the destructor). Routes must
// be registered before start(); registering later returns an error.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sharpeyes/api/http.h"
#include "sharpeyes/core/result.h"

namespace sharpeyes::api {

struct HttpServerOptions {
  std::string bindAddress = "127.0.0.1";
  uint16_t port = 0;  // 0: an ephemeral port, read back with HttpServer::port()
  int threads = 2;
  size_t maxBodyBytes = 1 << 20;         // larger bodies get 413
  size_t maxHeaderBytes = 16 << 10;      // larger headers get 431
  std::chrono::seconds idleTimeout{60};  // keep-alive connections idle longer are closed
  size_t maxConnections = 4096;          // beyond this, new connections are closed at once
  // TLS: when both are set, every connection is HTTPS/WSS (PEM files). Empty: plain HTTP.
  std::string tlsCertFile;
  std::string tlsKeyFile;
  // Sent as the Server header.
  std::string serverName = "sharpeyes";
};

// One accepted WebSocket. Thread-safe: send() and close() may be called from any thread; they
// post to the connection's strand. Owned jointly by the server and whoever keeps the pointer;
// after the peer goes away, send() returns false. Drop your pointer in onClose (which stop() also
// triggers): a connection must not outlive its HttpServer.
class WebSocketConnection {
 public:
  virtual ~WebSocketConnection() = default;
  // Queues a message. Returns false when the connection is closed or its send queue holds more
  // than `maxQueuedBytes` (a slow client): the message is dropped, not buffered without bound.
  virtual bool send(std::string message, bool binary) = 0;
  virtual void close() = 0;
  virtual bool isOpen() const = 0;
  virtual size_t queuedBytes() const = 0;
  // Free for the owner of the route: e.g. the user and subscription of this connection.
  std::shared_ptr<void> userData;
};

struct WebSocketRoute {
  // Called with the upgrade request before accepting. Return nullopt to accept, or an HTTP
  // response (401/403/404) to refuse. May set state through `accepted` below.
  std::function<std::optional<HttpResponse>(const HttpRequest&)> authorize;
  // After the handshake; keep the pointer to push messages.
  std::function<void(const std::shared_ptr<WebSocketConnection>&, const HttpRequest&)> onOpen;
  std::function<void(const std::shared_ptr<WebSocketConnection>&, std::string_view message,
                     bool binary)>
      onMessage;
  std::function<void(const std::shared_ptr<WebSocketConnection>&)> onClose;
  size_t maxMessageBytes = 64 << 10;
  size_t maxQueuedBytes = 8 << 20;
};

struct HttpServerStats {
  uint64_t requests = 0;
  uint64_t badRequests = 0;  // 4xx produced by the server itself (parse errors, limits, 404/405)
  uint64_t handlerErrors = 0;
  uint64_t connectionsOpen = 0;
  uint64_t webSocketsOpen = 0;
};

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options);
  ~HttpServer();  // stops
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Pattern: literal segments and "{name}" segments, e.g. "/api/cameras/{id}/ptz". A trailing
  // "{name*}" segment matches the rest of the path (for static files). Literal routes win over
  // parameter routes. A path that matches with another method gets 405 with an Allow header.
  core::Result<void> route(std::string_view method, std::string_view pattern, Handler handler);
  core::Result<void> webSocket(std::string_view pattern, WebSocketRoute route);

  // Binds, listens and starts the threads. Errors: kInvalidArgument (bad address, TLS files),
  // kUnavailable (address in use).
  core::Result<void> start();
  // The bound port (after start()).
  uint16_t port() const;
  // Stops accepting, closes connections (open WebSockets get a close frame), joins the threads.
  // Idempotent; safe from any thread except the server's own.
  void stop();

  HttpServerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sharpeyes::api
