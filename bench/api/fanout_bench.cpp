// bench/api: WebSocket fan-out of live events to N clients (default 100) through ApiService,
// with a baseline of 1 client in the same run. Latency = publish -> received by a client.
//   api_fanout_bench [clients] [messages]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "../../tests/api/test_client.h"
#include "sharpeyes/api/api_service.h"
#include "sharpeyes/api/in_memory_backend.h"
#include "sharpeyes/core/util.h"

using namespace sharpeyes;
using namespace sharpeyes::api;
using Clock = std::chrono::steady_clock;

namespace {

struct Result {
  double p50 = 0, p99 = 0, max = 0;
  size_t received = 0, expected = 0;
  double seconds = 0;
};

Result run(uint16_t port, ApiService& service, const std::string& token, int clients,
           int messages) {
  std::vector<std::unique_ptr<testing::Conn>> conns;
  for (int i = 0; i < clients; ++i) {
    auto c = std::make_unique<testing::Conn>(port);
    if (!c->wsHandshake("/ws/events", {{"Authorization", "Bearer " + token}})) {
      std::fprintf(stderr, "handshake %d failed\n", i);
      std::exit(1);
    }
    (void)c->wsRead();  // hello
    conns.push_back(std::move(c));
  }
  std::vector<Clock::time_point> sent(static_cast<size_t>(messages));
  std::vector<double> lat;
  std::mutex mu;
  size_t received = 0;
  // Readers: one thread per 25 clients, each reading its clients round-robin.
  std::vector<std::thread> readers;
  int per = 25;
  auto t0 = Clock::now();
  for (int start = 0; start < clients; start += per) {
    readers.emplace_back([&, start] {
      int end = std::min(clients, start + per);
      std::vector<int> got(static_cast<size_t>(end - start), 0);
      bool progress = true;
      while (progress) {
        progress = false;
        for (int i = start; i < end; ++i) {
          if (got[static_cast<size_t>(i - start)] >= messages) continue;
          auto m = conns[static_cast<size_t>(i)]->wsRead(nullptr, std::chrono::milliseconds(5000));
          if (!m) continue;
          auto now = Clock::now();
          auto j = nlohmann::json::parse(*m);
          size_t k = std::stoul(j["alert"]["id"].get<std::string>());
          std::lock_guard l(mu);
          lat.push_back(std::chrono::duration<double, std::milli>(now - sent[k]).count());
          ++received;
          ++got[static_cast<size_t>(i - start)];
          progress = true;
        }
      }
    });
  }
  Alert a;
  a.event.division = *core::DivisionCode::parse("510603101201");
  a.event.camera = *core::CameraId::parse("cam-1");
  for (int k = 0; k < messages; ++k) {
    a.id = std::to_string(k);
    {
      std::lock_guard l(mu);
      sent[static_cast<size_t>(k)] = Clock::now();
    }
    service.publishAlert(a);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // 100 alerts/s: a busy county
  }
  for (auto& t : readers) t.join();
  Result r;
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  std::sort(lat.begin(), lat.end());
  r.received = received;
  r.expected = static_cast<size_t>(clients) * static_cast<size_t>(messages);
  if (!lat.empty()) {
    r.p50 = lat[lat.size() / 2];
    r.p99 = lat[std::min(lat.size() - 1, lat.size() * 99 / 100)];
    r.max = lat.back();
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  int clients = argc > 1 ? std::atoi(argv[1]) : 100;
  int messages = argc > 2 ? std::atoi(argv[2]) : 300;
  auto dir = std::filesystem::temp_directory_path() / ("sharpeyes-fanout-" + core::newId());
  InMemoryBackend backend(dir.string());
  UserStore users("", 1000);
  (void)users.addUser("op", "operator-pass", Role::kOperator,
                      *core::DivisionCode::parse("510603000000"));
  LiveVideoHub live;
  ApiService service(backend, users, live, {});
  HttpServerOptions o;
  o.threads = 2;
  HttpServer server(o);
  if (!service.registerRoutes(server).ok() || !server.start().ok()) return 1;
  std::string token = service.sessions().create("op").token;

  Result base = run(server.port(), service, token, 1, messages);
  Result fan = run(server.port(), service, token, clients, messages);
  std::printf("WebSocket fan-out, %d alerts at 100/s, server 2 threads\n", messages);
  std::printf("%-10s %10s %10s %10s %12s\n", "clients", "p50 ms", "p99 ms", "max ms", "delivered");
  std::printf("%-10d %10.2f %10.2f %10.2f %6zu/%-6zu\n", 1, base.p50, base.p99, base.max,
              base.received, base.expected);
  std::printf("%-10d %10.2f %10.2f %10.2f %6zu/%-6zu\n", clients, fan.p50, fan.p99, fan.max,
              fan.received, fan.expected);
  std::printf("ratio p99 %d clients / 1 client: %.2f\n", clients,
              base.p99 > 0 ? fan.p99 / base.p99 : 0.0);
  server.stop();
  std::filesystem::remove_all(dir);
  return fan.received == fan.expected ? 0 : 1;
}
