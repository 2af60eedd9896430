// HttpServer over real HTTP on 127.0.0.1, port 0.

#include "sharpeyes/api/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "sharpeyes/api/prometheus.h"
#include "test_client.h"

namespace sharpeyes::api {
namespace {

using testing::Conn;
using testing::Reply;

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpServerOptions o;
    o.threads = 2;
    o.maxBodyBytes = 1024;
    o.maxHeaderBytes = 2048;
    server_ = std::make_unique<HttpServer>(o);
    ASSERT_TRUE(server_
                    ->route("GET", "/healthz",
                            [](const HttpRequest&) { return HttpResponse::text(200, "ok\n"); })
                    .ok());
    ASSERT_TRUE(server_
                    ->route("GET", "/api/cameras",
                            [](const HttpRequest& r) {
                              auto d = r.queryParam("division");
                              return HttpResponse::json(
                                  200, "{\"division\":\"" + jsonEscape(d.value_or("")) + "\"}");
                            })
                    .ok());
    ASSERT_TRUE(server_
                    ->route("GET", "/api/cameras/{id}",
                            [](const HttpRequest& r) {
                              return HttpResponse::json(
                                  200, "{\"id\":\"" + jsonEscape(r.params.at("id")) + "\"}");
                            })
                    .ok());
    ASSERT_TRUE(server_
                    ->route("GET", "/api/cameras/special",
                            [](const HttpRequest&) {
                              return HttpResponse::json(200, "{\"literal\":true}");
                            })
                    .ok());
    ASSERT_TRUE(
        server_
            ->route("POST", "/api/echo",
                    [](const HttpRequest& r) {
                      return HttpResponse::text(201, r.body).withHeader("X-Echo", r.header("x-in"));
                    })
            .ok());
    ASSERT_TRUE(
        server_
            ->route("GET", "/throw",
                    [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("boom"); })
            .ok());
    ASSERT_TRUE(server_
                    ->route("GET", "/static/{path*}",
                            [](const HttpRequest& r) {
                              return HttpResponse::text(200, r.params.at("path"));
                            })
                    .ok());
    file_ = std::filesystem::temp_directory_path() /
            ("sharpeyes-api-range-" + std::to_string(::getpid()) + ".bin");
    {
      std::ofstream f(file_, std::ios::binary);
      for (int i = 0; i < 1000; ++i) f.put(static_cast<char>(i % 251));
    }
    ASSERT_TRUE(server_
                    ->route("GET", "/file",
                            [this](const HttpRequest&) {
                              return HttpResponse::file(file_.string(), "video/mp4");
                            })
                    .ok());
    auto r = server_->start();
    ASSERT_TRUE(r.ok()) << r.error().describe();
    ASSERT_NE(server_->port(), 0);
  }
  void TearDown() override {
    server_->stop();
    std::filesystem::remove(file_);
  }
  std::unique_ptr<HttpServer> server_;
  std::filesystem::path file_;
};

TEST_F(HttpServerTest, ServesRoutesWithParamsAndQuery) {
  Conn c(server_->port());
  ASSERT_TRUE(c.ok());
  Reply r = c.request("GET", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  EXPECT_EQ(r.header("server"), "sharpeyes");
  // Keep-alive: the same connection serves the next requests.
  r = c.request("GET", "/api/cameras?division=5106%2003&x");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"division\":\"5106 03\"}");
  r = c.request("GET", "/api/cameras/cam-0%31");
  EXPECT_EQ(r.body, "{\"id\":\"cam-01\"}");
  r = c.request("GET", "/api/cameras/special");
  EXPECT_EQ(r.body, "{\"literal\":true}");
  r = c.request("GET", "/static/a/b/c.js");
  EXPECT_EQ(r.body, "a/b/c.js");
  r = c.request("POST", "/api/echo", {{"X-In", "hello"}}, "payload");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "payload");
  EXPECT_EQ(r.header("x-echo"), "hello");
  r = c.request("HEAD", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-length"), "3");
  r = c.request("GET", "/healthz");  // still in sync after HEAD
  EXPECT_EQ(r.body, "ok\n");
}

TEST_F(HttpServerTest, UnknownPathAndMethodGiveJsonErrors) {
  Conn c(server_->port());
  Reply r = c.request("GET", "/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("\"error\":\"not_found\""), std::string::npos) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  r = c.request("DELETE", "/healthz");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "GET");
  r = c.request("GET", "/throw");
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("internal"), std::string::npos);
  EXPECT_EQ(server_->stats().handlerErrors, 1u);
  r = c.request("GET", "/healthz");  // a throwing handler did not break the connection
  EXPECT_EQ(r.status, 200);
}

TEST_F(HttpServerTest, MalformedInputGets4xxAndServerLives) {
  {
    Conn c(server_->port());
    ASSERT_TRUE(c.sendAll("THIS IS NOT HTTP\r\n\r\n"));
    Reply r = c.readReply();
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("bad_request"), std::string::npos);
    EXPECT_TRUE(c.closedByPeer());
  }
  {
    Conn c(server_->port());
    ASSERT_TRUE(c.sendAll("GET /api/cameras/%zz HTTP/1.1\r\nHost: x\r\n\r\n"));
    EXPECT_EQ(c.readReply().status, 400);
  }
  {
    Conn c(server_->port());  // body over the limit, announced by Content-Length
    Reply r = c.request("POST", "/api/echo", {}, std::string(5000, 'x'));
    EXPECT_EQ(r.status, 413);
  }
  {
    Conn c(server_->port());  // headers over the limit
    Reply r = c.request("GET", "/healthz", {{"X-Big", std::string(4000, 'y')}});
    EXPECT_EQ(r.status, 431);
  }
  {
    Conn c(server_->port());  // chunked body over the limit
    std::string req =
        "POST /api/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "800\r\n" +
        std::string(0x800, 'z') + "\r\n0\r\n\r\n";
    ASSERT_TRUE(c.sendAll(req));
    EXPECT_EQ(c.readReply().status, 413);
  }
  {
    Conn c(server_->port());  // binary garbage
    std::string junk;
    for (int i = 0; i < 3000; ++i) junk += static_cast<char>((i * 37) & 0xff);
    c.sendAll(junk);
    Reply r = c.readReply();
    EXPECT_TRUE(r.status == 400 || r.status == 431 || r.status == 0) << r.status;
  }
  {
    Conn c(server_->port());  // half a request, then the client goes away
    c.sendAll("GET /healthz HTTP/1.1\r\nHo");
  }
  Conn c(server_->port());
  EXPECT_EQ(c.request("GET", "/healthz").status, 200);
  EXPECT_GE(server_->stats().badRequests, 5u);
}

TEST_F(HttpServerTest, ExpectContinueIsAnswered) {
  Conn c(server_->port());
  ASSERT_TRUE(
      c.sendAll("POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                "Expect: 100-continue\r\n\r\n"));
  Reply cont = c.readReply();
  EXPECT_EQ(cont.status, 100);
  ASSERT_TRUE(c.sendAll("abcd"));
  Reply r = c.readReply();
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "abcd");
}

TEST_F(HttpServerTest, FileWithRanges) {
  Conn c(server_->port());
  Reply r = c.request("GET", "/file");
  EXPECT_EQ(r.status, 200);
  ASSERT_EQ(r.body.size(), 1000u);
  EXPECT_EQ(r.header("accept-ranges"), "bytes");
  EXPECT_EQ(r.header("content-type"), "video/mp4");
  r = c.request("GET", "/file", {{"Range", "bytes=10-19"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.header("content-range"), "bytes 10-19/1000");
  ASSERT_EQ(r.body.size(), 10u);
  EXPECT_EQ(static_cast<uint8_t>(r.body[0]), 10);
  r = c.request("GET", "/file", {{"Range", "bytes=-5"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.header("content-range"), "bytes 995-999/1000");
  EXPECT_EQ(static_cast<uint8_t>(r.body[0]), 995 % 251);
  r = c.request("GET", "/file", {{"Range", "bytes=990-"}});
  EXPECT_EQ(r.body.size(), 10u);
  r = c.request("GET", "/file", {{"Range", "bytes=2000-"}});
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(r.header("content-range"), "bytes */1000");
  r = c.request("GET", "/file", {{"Range", "bytes=abc"}});
  EXPECT_EQ(r.status, 416);
}

TEST_F(HttpServerTest, ConcurrentClients) {
  std::atomic<int> okCount{0};
  std::vector<std::thread> ts;
  ts.reserve(8);
  for (int t = 0; t < 8; ++t) {
    ts.emplace_back([&] {
      Conn c(server_->port());
      for (int i = 0; i < 50; ++i) {
        if (c.request("GET", "/api/cameras/x" + std::to_string(i)).status == 200) ++okCount;
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(okCount.load(), 400);
}

TEST(HttpServerLifecycle, StopClosesIdleKeepAliveConnectionsAndPortIsReusable) {
  HttpServerOptions o;
  o.threads = 1;
  auto s = std::make_unique<HttpServer>(o);
  ASSERT_TRUE(
      s->route("GET", "/x", [](const HttpRequest&) { return HttpResponse::text(200, "x"); }).ok());
  ASSERT_TRUE(s->start().ok());
  EXPECT_FALSE(s->route("GET", "/late", [](const HttpRequest&) { return HttpResponse{}; }).ok());
  Conn c(s->port());
  EXPECT_EQ(c.request("GET", "/x").status, 200);
  auto t0 = std::chrono::steady_clock::now();
  s->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  EXPECT_TRUE(c.closedByPeer());
  s->stop();  // idempotent
}

TEST(HttpServerLifecycle, BindErrorsAreValues) {
  HttpServerOptions o;
  o.bindAddress = "not-an-ip";
  HttpServer bad(o);
  auto r = bad.start();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidArgument);

  HttpServer first(HttpServerOptions{});
  ASSERT_TRUE(first.start().ok());
  HttpServerOptions same;
  same.port = first.port();
  HttpServer second(same);
  auto r2 = second.start();
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().code, core::ErrorCode::kUnavailable);

  HttpServerOptions tls;
  tls.tlsCertFile = "/nonexistent/cert.pem";
  tls.tlsKeyFile = "/nonexistent/key.pem";
  HttpServer t(tls);
  EXPECT_FALSE(t.start().ok());
}

TEST(HttpServerWebSocket, EchoFanOutAndRefusal) {
  std::mutex mu;
  std::vector<std::shared_ptr<WebSocketConnection>> conns;
  std::atomic<int> closed{0};
  // Declared after the state its callbacks touch: on an early return its destructor stops it
  // (onClose runs for the open sockets) before that state goes.
  HttpServer s(HttpServerOptions{});
  WebSocketRoute route;
  route.authorize = [](const HttpRequest& r) -> std::optional<HttpResponse> {
    if (r.queryParam("token") != "good") return HttpResponse::error(401, "unauthorized", "no");
    return std::nullopt;
  };
  route.onOpen = [&](const std::shared_ptr<WebSocketConnection>& c, const HttpRequest&) {
    std::lock_guard l(mu);
    conns.push_back(c);
  };
  route.onMessage = [](const std::shared_ptr<WebSocketConnection>& c, std::string_view m,
                       bool binary) { c->send("echo:" + std::string(m), binary); };
  route.onClose = [&](const std::shared_ptr<WebSocketConnection>& c) {
    std::lock_guard l(mu);
    std::erase(conns, c);
    ++closed;
  };
  ASSERT_TRUE(s.webSocket("/ws/events", route).ok());
  ASSERT_TRUE(s.start().ok());

  Conn refused(s.port());
  Reply rr;
  EXPECT_FALSE(refused.wsHandshake("/ws/events?token=bad", {}, &rr));
  EXPECT_EQ(rr.status, 401);

  Conn a(s.port()), b(s.port());
  ASSERT_TRUE(a.wsHandshake("/ws/events?token=good"));
  ASSERT_TRUE(b.wsHandshake("/ws/events?token=good"));
  ASSERT_TRUE(a.wsSend("hi"));
  EXPECT_EQ(a.wsRead(), "echo:hi");
  ASSERT_TRUE(testing::waitFor([&] {
    std::lock_guard l(mu);
    return conns.size() == 2;
  }));
  {
    std::lock_guard l(mu);
    for (auto& c : conns) EXPECT_TRUE(c->send(std::string(100000, 'f'), true));
  }
  int op = 0;
  auto m = a.wsRead(&op);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->size(), 100000u);
  EXPECT_EQ(op, 2);
  EXPECT_EQ(b.wsRead()->size(), 100000u);
  // The clients read (and answer the close frames) while the server stops, so the close
  // handshakes complete instead of running into stop()'s grace period.
  std::atomic<bool> aClosed{false}, bClosed{false};
  std::thread ra([&] { aClosed = !a.wsRead().has_value(); });
  std::thread rb([&] { bClosed = !b.wsRead().has_value(); });
  auto t0 = std::chrono::steady_clock::now();
  s.stop();  // open WebSockets get a close frame and onClose runs
  ra.join();
  rb.join();
  EXPECT_TRUE(aClosed.load());
  EXPECT_TRUE(bClosed.load());
  EXPECT_EQ(closed.load(), 2);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
}

TEST(Prometheus, TextExposition) {
  PrometheusWriter w;
  w.family("sharpeyes_camera_fps", "Frames per second\nreceived", MetricType::kGauge);
  w.family("sharpeyes_camera_fps", "ignored", MetricType::kGauge);
  w.sample("sharpeyes_camera_fps", {{"camera", "cam-1"}, {"name", "a\"b\\c\nd"}}, 25.0);
  w.sample("sharpeyes_camera_fps", {{"camera", "cam-2"}}, 12.5);
  w.sample("sharpeyes_up", 1);
  EXPECT_EQ(w.str(),
            "# HELP sharpeyes_camera_fps Frames per second\\nreceived\n"
            "# TYPE sharpeyes_camera_fps gauge\n"
            "sharpeyes_camera_fps{camera=\"cam-1\",name=\"a\\\"b\\\\c\\nd\"} 25\n"
            "sharpeyes_camera_fps{camera=\"cam-2\"} 12.5\n"
            "sharpeyes_up 1\n");
  EXPECT_TRUE(PrometheusWriter::validName("a_b:c1"));
  EXPECT_FALSE(PrometheusWriter::validName("1abc"));
  EXPECT_FALSE(PrometheusWriter::validName("a-b"));
}

}  // namespace
}  // namespace sharpeyes::api
