// The only translation unit that includes Boost.Beast/Asio (compile time: keep it that way).
// Structure follows Beast's advanced server: one session object per connection, all its
// completion handlers on its own strand; every handler checks its error first.

#include "sharpeyes/api/http_server.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "router.h"

namespace sharpeyes::api {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using core::ErrorCode;
using core::makeError;

namespace {

// A body that streams [offset, offset+length) of a file in 64 KiB pieces: Beast 1.74's
// file_body always sends the whole file, and clip downloads need byte ranges.
struct RangeFileBody {
  struct value_type {
    beast::file file;
    uint64_t offset = 0;
    uint64_t length = 0;
  };
  static uint64_t size(const value_type& v) { return v.length; }

  class writer {
   public:
    using const_buffers_type = net::const_buffer;
    template <bool isRequest, class Fields>
    writer(const http::header<isRequest, Fields>&, value_type& body) : body_(body) {}
    void init(beast::error_code& ec) {
      body_.file.seek(body_.offset, ec);
      remain_ = body_.length;
    }
    boost::optional<std::pair<const_buffers_type, bool>> get(beast::error_code& ec) {
      if (remain_ == 0) {
        ec = {};
        return boost::none;
      }
      size_t want = static_cast<size_t>(std::min<uint64_t>(remain_, sizeof buf_));
      size_t got = body_.file.read(buf_, want, ec);
      if (ec) return boost::none;
      if (got == 0) {
        ec = http::error::short_read;
        return boost::none;
      }
      remain_ -= got;
      return {{net::const_buffer(buf_, got), remain_ > 0}};
    }

   private:
    value_type& body_;
    uint64_t remain_ = 0;
    char buf_[64 * 1024];
  };
};

using StringResponse = http::response<http::string_body>;
using FileResponse = http::response<RangeFileBody>;

struct WsEntry {
  WebSocketRoute route;
};

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void shutdown() = 0;
};

}  // namespace

namespace detail {

struct ServerImpl {
  HttpServerOptions options;
  detail::RouteTable<Handler> routes;
  detail::RouteTable<std::shared_ptr<WsEntry>> wsRoutes;
  std::atomic<bool> started{false};
  std::atomic<bool> stopping{false};
  uint16_t boundPort = 0;

  std::atomic<uint64_t> requests{0}, badRequests{0}, handlerErrors{0}, connections{0},
      webSockets{0};

  std::mutex sessionsMu;
  std::condition_variable sessionsCv;
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions;

  // Declared after the session registry and before the I/O objects: destroying the io_context
  // destroys pending handlers (and so sessions, which unregister themselves and may hold TLS
  // streams), so the registry and the TLS context must outlive it, the acceptor must not.
  std::optional<ssl::context> sslCtx;
  net::io_context ioc;
  std::optional<tcp::acceptor> acceptor;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::vector<std::thread> threads;

  explicit ServerImpl(HttpServerOptions o)
      : options(std::move(o)), ioc(std::max(1, options.threads)) {}

  void registerSession(const std::shared_ptr<SessionBase>& s) {
    std::lock_guard lock(sessionsMu);
    sessions.emplace(s.get(), s);
  }
  void unregisterSession(SessionBase* s) {
    std::lock_guard lock(sessionsMu);
    sessions.erase(s);
    sessionsCv.notify_all();
  }

  void doAccept();
  void onAccept(beast::error_code ec, tcp::socket socket);
};

}  // namespace detail

struct HttpServer::Impl : detail::ServerImpl {
  using ServerImpl::ServerImpl;
};

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Splits target into path and query; false on malformed percent-encoding.
bool parseTarget(std::string_view target, HttpRequest* req) {
  size_t q = target.find('?');
  std::string_view rawPath = target.substr(0, q);
  if (rawPath.empty() || rawPath.front() != '/') return false;
  auto path = percentDecode(rawPath, false);
  if (!path || path->find('\0') != std::string::npos) return false;
  req->path = std::move(*path);
  if (q != std::string_view::npos) {
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
      size_t amp = rest.find('&');
      std::string_view part = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
      if (part.empty()) continue;
      size_t eq = part.find('=');
      auto k = percentDecode(part.substr(0, eq), true);
      auto v = eq == std::string_view::npos ? std::optional<std::string>("")
                                            : percentDecode(part.substr(eq + 1), true);
      if (!k || !v) return false;
      req->query[*k] = *v;
    }
  }
  return true;
}

// Parses "bytes=a-b" | "bytes=a-" | "bytes=-n" against a file of `size` bytes.
// Returns 0 no range, 1 satisfiable (fills first/last), -1 unsatisfiable.
int parseRange(std::string_view h, uint64_t size, uint64_t* first, uint64_t* last) {
  if (h.empty()) return 0;
  if (h.substr(0, 6) != "bytes=") return 0;  // unknown unit: ignore, serve the whole file
  std::string_view spec = h.substr(6);
  if (spec.find(',') != std::string_view::npos) return 0;  // multi-range: serve whole (allowed)
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return -1;
  auto num = [](std::string_view s, uint64_t* out) {
    if (s.empty() || s.size() > 19) return false;
    uint64_t v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    *out = v;
    return true;
  };
  std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
  if (a.empty()) {
    uint64_t n = 0;
    if (!num(b, &n) || n == 0 || size == 0) return -1;
    *first = n >= size ? 0 : size - n;
    *last = size - 1;
    return 1;
  }
  uint64_t s = 0;
  if (!num(a, &s) || s >= size) return -1;
  uint64_t e = size - 1;
  if (!b.empty()) {
    if (!num(b, &e) || e < s) return -1;
    if (e >= size) e = size - 1;
  }
  *first = s;
  *last = e;
  return 1;
}

template <class Stream>
tcp::socket& rawSocket(Stream& s) {
  return beast::get_lowest_layer(s).socket();
}

// ---- WebSocket session ------------------------------------------------------------------------

template <class Stream>
class WsSession : public SessionBase,
                  public WebSocketConnection,
                  public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  WsSession(detail::ServerImpl* server, Stream&& stream, std::shared_ptr<WsEntry> entry)
      : server_(server), ws_(std::move(stream)), entry_(std::move(entry)) {}
  ~WsSession() override {
    server_->unregisterSession(this);
    if (accepted_) server_->webSockets.fetch_sub(1);
  }

  void run(http::request<http::string_body> req, HttpRequest apiReq) {
    server_->registerSession(this->shared_from_this());
    req_ = std::move(apiReq);
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.set_option(websocket::stream_base::decorator(
        [name = server_->options.serverName](websocket::response_type& res) {
          res.set(http::field::server, name);
        }));
    ws_.read_message_max(entry_->route.maxMessageBytes);
    ws_.auto_fragment(false);  // one frame per message: media fragments arrive whole
    ws_.async_accept(req,
                     beast::bind_front_handler(&WsSession::onAccept, this->shared_from_this()));
  }

  bool send(std::string message, bool binary) override {
    if (!open_.load()) return false;
    size_t n = message.size();
    if (queued_.load() + n > entry_->route.maxQueuedBytes) return false;
    queued_.fetch_add(n);
    net::post(ws_.get_executor(), [self = this->shared_from_this(), m = std::move(message),
                                   binary]() mutable { self->enqueue(std::move(m), binary); });
    return true;
  }
  void close() override {
    net::post(ws_.get_executor(), [self = this->shared_from_this()] { self->doClose(); });
  }
  bool isOpen() const override { return open_.load(); }
  size_t queuedBytes() const override { return queued_.load(); }
  void shutdown() override { close(); }

 private:
  void onAccept(beast::error_code ec) {
    if (ec) return;
    accepted_ = true;
    server_->webSockets.fetch_add(1);
    open_ = true;
    if (entry_->route.onOpen) entry_->route.onOpen(this->shared_from_this(), req_);
    if (server_->stopping.load()) {
      doClose();
      return;
    }
    doRead();
  }
  void doRead() {
    ws_.async_read(buffer_,
                   beast::bind_front_handler(&WsSession::onRead, this->shared_from_this()));
  }
  void onRead(beast::error_code ec, size_t) {
    if (ec) {
      finish();
      return;
    }
    if (entry_->route.onMessage) {
      auto data = buffer_.data();
      std::string_view msg(static_cast<const char*>(data.data()), data.size());
      try {
        entry_->route.onMessage(this->shared_from_this(), msg, ws_.got_binary());
      } catch (const std::exception& e) {
        spdlog::warn("api: websocket handler threw: {}", e.what());
      }
    }
    buffer_.consume(buffer_.size());
    doRead();
  }
  void enqueue(std::string m, bool binary) {
    if (!open_.load()) {
      queued_.fetch_sub(m.size());
      return;
    }
    queue_.emplace_back(std::move(m), binary);
    if (!writing_) doWrite();
  }
  void doWrite() {
    writing_ = true;
    ws_.binary(queue_.front().second);
    ws_.async_write(net::buffer(queue_.front().first),
                    beast::bind_front_handler(&WsSession::onWrite, this->shared_from_this()));
  }
  void onWrite(beast::error_code ec, size_t) {
    writing_ = false;
    queued_.fetch_sub(queue_.front().first.size());
    queue_.pop_front();
    if (ec) {
      finish();
      return;
    }
    if (closing_) {
      startClose();
    } else if (!queue_.empty()) {
      doWrite();
    }
  }
  // Our side closes: the owner hears onClose now (nothing more can be sent), the close
  // handshake finishes in the background (bounded by the WebSocket timeouts).
  void doClose() {
    if (closing_ || !accepted_) return;
    closing_ = true;
    finish();
    if (!writing_) startClose();
  }
  void startClose() {
    if (closeStarted_) return;
    closeStarted_ = true;
    ws_.async_close(websocket::close_code::going_away,
                    [self = this->shared_from_this()](beast::error_code) {});
  }
  void finish() {
    bool wasOpen = open_.exchange(false);
    size_t keep = writing_ ? 1 : 0;  // the front message is owned by an in-flight write
    while (queue_.size() > keep) {
      queued_.fetch_sub(queue_.back().first.size());
      queue_.pop_back();
    }
    if (wasOpen && entry_->route.onClose) entry_->route.onClose(this->shared_from_this());
  }

  detail::ServerImpl* server_;
  websocket::stream<Stream> ws_;
  std::shared_ptr<WsEntry> entry_;
  HttpRequest req_;
  beast::flat_buffer buffer_;
  std::deque<std::pair<std::string, bool>> queue_;
  std::atomic<size_t> queued_{0};
  std::atomic<bool> open_{false};
  bool closing_ = false;
  bool closeStarted_ = false;
  bool writing_ = false;
  bool accepted_ = false;
};

// ---- HTTP session -----------------------------------------------------------------------------

template <class Stream>
class HttpSession : public SessionBase, public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(detail::ServerImpl* server, Stream&& stream)
      : server_(server), stream_(std::move(stream)), ex_(stream_.get_executor()) {}
  ~HttpSession() override {
    server_->unregisterSession(this);
    if (!movedToWs_) server_->connections.fetch_sub(1);
  }

  void start() {
    server_->registerSession(this->shared_from_this());
    beast::error_code ec;
    auto ep = rawSocket(stream_).remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string();
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
      stream_.async_handshake(
          ssl::stream_base::server,
          beast::bind_front_handler(&HttpSession::onHandshake, this->shared_from_this()));
    } else {
      net::dispatch(stream_.get_executor(),
                    beast::bind_front_handler(&HttpSession::doRead, this->shared_from_this()));
    }
  }

  void shutdown() override {
    net::post(ex_, [self = this->shared_from_this()] {
      self->stopping_ = true;
      if (self->reading_ && !self->movedToWs_) beast::get_lowest_layer(self->stream_).cancel();
    });
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  void onHandshake(beast::error_code ec) {
    if (ec) return;  // a failed TLS handshake: nothing to answer
    doRead();
  }

  void doRead() {
    if (stopping_ || server_->stopping.load()) {
      doEof();
      return;
    }
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_->options.maxHeaderBytes));
    parser_->body_limit(server_->options.maxBodyBytes);
    reading_ = true;
    beast::get_lowest_layer(stream_).expires_after(server_->options.idleTimeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&HttpSession::onHeader, this->shared_from_this()));
  }

  void onHeader(beast::error_code ec, size_t) {
    reading_ = false;
    if (ec) {
      onReadError(ec);
      return;
    }
    auto& req = parser_->get();
    if (auto len = parser_->content_length(); len && *len > server_->options.maxBodyBytes) {
      sendError(413, "payload_too_large",
                "request body of " + std::to_string(*len) + " bytes exceeds the limit of " +
                    std::to_string(server_->options.maxBodyBytes),
                true);
      return;
    }
    if (beast::iequals(req[http::field::expect], "100-continue") && !parser_->is_done()) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                     req.version());
      http::async_write(stream_, *cont,
                        [self = this->shared_from_this(), cont](beast::error_code ec2, size_t) {
                          if (ec2) return;
                          self->readBody();
                        });
      return;
    }
    readBody();
  }

  void readBody() {
    if (parser_->is_done()) {
      onRequest();
      return;
    }
    reading_ = true;
    beast::get_lowest_layer(stream_).expires_after(server_->options.idleTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       self->reading_ = false;
                       if (ec) {
                         self->onReadError(ec);
                         return;
                       }
                       self->onRequest();
                     });
  }

  void onReadError(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::operation_aborted ||
        ec == beast::error::timeout || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == http::error::partial_message ||
        ec == ssl::error::stream_truncated) {
      doEof();
      return;
    }
    if (ec == http::error::body_limit) {
      sendError(413, "payload_too_large", "request body exceeds the limit", true);
    } else if (ec == http::error::header_limit) {
      sendError(431, "headers_too_large", "request headers exceed the limit", true);
    } else {
      sendError(400, "bad_request", "malformed HTTP request: " + ec.message(), true);
    }
  }

  void sendError(int status, std::string_view err, const std::string& detail, bool close) {
    server_->badRequests.fetch_add(1);
    HttpResponse r = HttpResponse::error(status, err, detail);
    sendResponse(std::move(r), 11, close, false, {});
  }

  void onRequest() {
    server_->requests.fetch_add(1);
    auto req = parser_->release();
    // WebSocket upgrade?
    if (websocket::is_upgrade(req)) {
      HttpRequest apiReq = toApiRequest(req);
      if (!parseTarget(std::string(req.target()), &apiReq)) {
        sendError(400, "bad_request", "malformed request target", true);
        return;
      }
      auto m = server_->wsRoutes.find("GET", apiReq.path);
      if (!m.target) {
        sendError(404, "not_found", "no WebSocket endpoint at " + apiReq.path, true);
        return;
      }
      apiReq.params = m.params;
      auto entry = *m.target;
      if (entry->route.authorize) {
        std::optional<HttpResponse> refusal;
        try {
          refusal = entry->route.authorize(apiReq);
        } catch (const std::exception& e) {
          refusal = HttpResponse::error(500, "internal", e.what());
        }
        if (refusal) {
          sendResponse(std::move(*refusal), req.version(), true, false, {});
          return;
        }
      }
      server_->connections.fetch_sub(1);  // counted as a WebSocket from now on
      movedToWs_ = true;
      std::make_shared<WsSession<Stream>>(server_, std::move(stream_), entry)
          ->run(std::move(req), std::move(apiReq));
      return;
    }

    bool keepAlive = req.keep_alive() && !stopping_ && !server_->stopping.load();
    bool head = req.method() == http::verb::head;
    HttpRequest apiReq = toApiRequest(req);
    if (!parseTarget(std::string(req.target()), &apiReq)) {
      sendError(400, "bad_request", "malformed request target", !keepAlive);
      return;
    }
    HttpResponse res;
    auto m = server_->routes.find(apiReq.method, apiReq.path);
    if (!m.target) {
      server_->badRequests.fetch_add(1);
      if (!m.allow.empty()) {
        res = HttpResponse::error(405, "method_not_allowed",
                                  apiReq.method + " is not allowed on " + apiReq.path);
        res.headers.emplace_back("Allow", m.allow);
      } else {
        res = HttpResponse::error(404, "not_found", "no such endpoint: " + apiReq.path);
      }
    } else {
      apiReq.params = std::move(m.params);
      try {
        res = (*m.target)(apiReq);
      } catch (const std::exception& e) {
        server_->handlerErrors.fetch_add(1);
        spdlog::error("api: handler for {} {} threw: {}", apiReq.method, apiReq.path, e.what());
        res = HttpResponse::error(500, "internal", "the request handler failed");
      } catch (...) {
        server_->handlerErrors.fetch_add(1);
        res = HttpResponse::error(500, "internal", "the request handler failed");
      }
    }
    sendResponse(std::move(res), req.version(), !keepAlive, head, apiReq.header("range"));
  }

  HttpRequest toApiRequest(const http::request<http::string_body>& req) {
    HttpRequest r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    for (const auto& f : req) {
      r.headers.emplace_back(lower(std::string(f.name_string())), std::string(f.value()));
    }
    r.body = req.body();
    r.remoteAddress = remote_;
    r.secure = kTls;
    return r;
  }

  template <class Msg>
  void setCommon(Msg& msg, const HttpResponse& r, bool close) {
    msg.set(http::field::server, server_->options.serverName);
    if (!r.contentType.empty()) msg.set(http::field::content_type, r.contentType);
    for (const auto& [k, v] : r.headers) msg.insert(k, v);
    msg.keep_alive(!close);
  }

  void sendResponse(HttpResponse r, unsigned version, bool close, bool head,
                    const std::string& range) {
    if (version < 10 || version > 11) version = 11;
    if (!r.filePath.empty()) {
      sendFile(std::move(r), version, close, head, range);
      return;
    }
    auto msg = std::make_shared<StringResponse>(static_cast<http::status>(r.status), version);
    setCommon(*msg, r, close);
    if (head) {
      msg->content_length(r.body.size());
    } else {
      msg->body() = std::move(r.body);
      msg->prepare_payload();
    }
    write(msg, close);
  }

  void sendFile(HttpResponse r, unsigned version, bool close, bool head, const std::string& range) {
    RangeFileBody::value_type body;
    beast::error_code ec;
    body.file.open(r.filePath.c_str(), beast::file_mode::scan, ec);
    uint64_t size = ec ? 0 : body.file.size(ec);
    if (ec) {
      sendResponse(HttpResponse::error(404, "not_found", "file is not available"), version, close,
                   head, {});
      return;
    }
    uint64_t first = 0, last = size == 0 ? 0 : size - 1;
    int rr = parseRange(range, size, &first, &last);
    if (rr < 0) {
      HttpResponse e = HttpResponse::error(416, "range_not_satisfiable",
                                           "file has " + std::to_string(size) + " bytes");
      e.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
      sendResponse(std::move(e), version, close, head, {});
      return;
    }
    body.offset = rr > 0 ? first : 0;
    body.length = rr > 0 ? last - first + 1 : size;
    int status = rr > 0 ? 206 : r.status;
    if (head) {
      auto msg = std::make_shared<http::response<http::empty_body>>(
          static_cast<http::status>(status), version);
      setCommon(*msg, r, close);
      msg->set(http::field::accept_ranges, "bytes");
      msg->content_length(body.length);
      write(msg, close);
      return;
    }
    auto msg =
        std::make_shared<FileResponse>(std::piecewise_construct, std::make_tuple(std::move(body)),
                                       std::make_tuple(static_cast<http::status>(status), version));
    setCommon(*msg, r, close);
    msg->set(http::field::accept_ranges, "bytes");
    if (rr > 0) {
      msg->set(http::field::content_range, "bytes " + std::to_string(first) + "-" +
                                               std::to_string(last) + "/" + std::to_string(size));
    }
    msg->prepare_payload();
    write(msg, close);
  }

  template <class Msg>
  void write(const std::shared_ptr<Msg>& msg, bool close) {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(60));
    http::async_write(stream_, *msg,
                      [self = this->shared_from_this(), msg, close](beast::error_code ec, size_t) {
                        if (ec) return;
                        if (close) {
                          self->doEof();
                          return;
                        }
                        self->doRead();
                      });
  }

  void doEof() {
    if (movedToWs_) return;
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  detail::ServerImpl* server_;
  Stream stream_;
  net::any_io_executor ex_;  // kept: a moved-from stream has no executor
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string remote_;
  bool reading_ = false;
  bool stopping_ = false;
  bool movedToWs_ = false;
};

}  // namespace

void detail::ServerImpl::doAccept() {
  acceptor->async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
    onAccept(ec, std::move(s));
  });
}

void detail::ServerImpl::onAccept(beast::error_code ec, tcp::socket socket) {
  if (stopping.load() || !acceptor || !acceptor->is_open()) return;
  if (!ec) {
    if (connections.load() + webSockets.load() >= options.maxConnections) {
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      connections.fetch_add(1);
      socket.set_option(tcp::no_delay(true), ec);
      if (sslCtx) {
        std::make_shared<HttpSession<beast::ssl_stream<beast::tcp_stream>>>(
            this, beast::ssl_stream<beast::tcp_stream>(std::move(socket), *sslCtx))
            ->start();
      } else {
        std::make_shared<HttpSession<beast::tcp_stream>>(this, beast::tcp_stream(std::move(socket)))
            ->start();
      }
    }
  } else if (ec == net::error::no_descriptors) {
    spdlog::warn("api: accept failed: {}", ec.message());
  }
  doAccept();
}

HttpServer::HttpServer(HttpServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpServer::~HttpServer() {
  stop();
}

core::Result<void> HttpServer::route(std::string_view method, std::string_view pattern,
                                     Handler handler) {
  if (impl_->started.load()) {
    return makeError(ErrorCode::kInvalidArgument, "routes must be registered before start()");
  }
  if (!handler) return makeError(ErrorCode::kInvalidArgument, "empty handler");
  return impl_->routes.add(method, pattern, std::move(handler));
}

core::Result<void> HttpServer::webSocket(std::string_view pattern, WebSocketRoute route) {
  if (impl_->started.load()) {
    return makeError(ErrorCode::kInvalidArgument, "routes must be registered before start()");
  }
  return impl_->wsRoutes.add("GET", pattern, std::make_shared<WsEntry>(WsEntry{std::move(route)}));
}

core::Result<void> HttpServer::start() {
  auto& im = *impl_;
  if (im.started.exchange(true)) {
    return makeError(ErrorCode::kInvalidArgument, "server already started");
  }
  if (im.options.threads < 1 || im.options.threads > 256) {
    return makeError(ErrorCode::kInvalidArgument, "threads must be 1..256");
  }
  if (!im.options.tlsCertFile.empty() || !im.options.tlsKeyFile.empty()) {
    if (im.options.tlsCertFile.empty() || im.options.tlsKeyFile.empty()) {
      return makeError(ErrorCode::kInvalidArgument, "TLS needs both a certificate and a key file");
    }
    im.sslCtx.emplace(ssl::context::tls_server);
    beast::error_code ec;
    im.sslCtx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                               ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                               ssl::context::no_tlsv1_1,
                           ec);
    im.sslCtx->use_certificate_chain_file(im.options.tlsCertFile, ec);
    if (ec) {
      return makeError(ErrorCode::kInvalidArgument,
                       "TLS certificate " + im.options.tlsCertFile + ": " + ec.message());
    }
    im.sslCtx->use_private_key_file(im.options.tlsKeyFile, ssl::context::pem, ec);
    if (ec) {
      return makeError(ErrorCode::kInvalidArgument, "TLS key file: " + ec.message());
    }
  }
  beast::error_code ec;
  auto addr = net::ip::make_address(im.options.bindAddress, ec);
  if (ec) {
    return makeError(ErrorCode::kInvalidArgument,
                     "bad bind address '" + im.options.bindAddress + "': " + ec.message());
  }
  tcp::endpoint ep(addr, im.options.port);
  im.acceptor.emplace(net::make_strand(im.ioc));
  im.acceptor->open(ep.protocol(), ec);
  if (!ec) im.acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) im.acceptor->bind(ep, ec);
  if (!ec) im.acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    im.acceptor.reset();
    return makeError(ErrorCode::kUnavailable, "cannot listen on " + im.options.bindAddress + ":" +
                                                  std::to_string(im.options.port) + ": " +
                                                  ec.message());
  }
  im.boundPort = im.acceptor->local_endpoint(ec).port();
  im.work.emplace(net::make_work_guard(im.ioc));
  im.doAccept();
  for (int i = 0; i < im.options.threads; ++i) {
    im.threads.emplace_back([&im] {
      for (;;) {
        try {
          im.ioc.run();
          return;
        } catch (const std::exception& e) {
          // Nothing in the sessions throws by design; keep the thread alive if something does.
          spdlog::error("api: I/O thread caught: {}", e.what());
        }
      }
    });
  }
  spdlog::info("api: listening on {}:{}{} with {} threads", im.options.bindAddress, im.boundPort,
               im.sslCtx ? " (TLS)" : "", im.options.threads);
  return core::okResult();
}

uint16_t HttpServer::port() const {
  return impl_->boundPort;
}

void HttpServer::stop() {
  auto& im = *impl_;
  if (!im.started.load() || im.stopping.exchange(true)) return;
  if (im.acceptor) {
    net::post(im.acceptor->get_executor(), [&im] {
      beast::error_code ec;
      im.acceptor->close(ec);
    });
  }
  std::vector<std::shared_ptr<SessionBase>> live;
  {
    std::lock_guard lock(im.sessionsMu);
    for (auto& [p, w] : im.sessions) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->shutdown();
  live.clear();
  im.work.reset();
  {
    // Give in-flight requests and WebSocket close handshakes a moment to finish.
    std::unique_lock lock(im.sessionsMu);
    im.sessionsCv.wait_for(lock, std::chrono::seconds(3), [&im] { return im.sessions.empty(); });
  }
  im.ioc.stop();
  for (auto& t : im.threads) {
    if (t.joinable()) t.join();
  }
  im.threads.clear();
  im.acceptor.reset();
}

HttpServerStats HttpServer::stats() const {
  HttpServerStats s;
  s.requests = impl_->requests.load();
  s.badRequests = impl_->badRequests.load();
  s.handlerErrors = impl_->handlerErrors.load();
  s.connectionsOpen = impl_->connections.load();
  s.webSocketsOpen = impl_->webSockets.load();
  return s;
}

}  // namespace sharpeyes::api
