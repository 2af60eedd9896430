// bench/api: WebSocket fan-out of live alerts on /ws/events to N clients (default 100), with a
// baseline of 1 client in the same run. Latency = the alert's publication -> received by a client.
//
//   api_fanout_bench [clients] [messages]
//       in-process ApiService over the in-memory backend; the bench calls publishAlert() itself
//   SHARPEYES_TOKEN=<admin token> api_fanout_bench --gateway PORT [clients] [messages]
//       the real `sharpeyes gateway` on 127.0.0.1:PORT (bench/api/fanout_gateway.sh): the bench
//       accepts open alerts through the REST API (POST /api/alerts/{id}/accept), which stores the
//       step and pushes the updated alert to every /ws/events subscriber; latency runs from just
//       before the POST is sent, so it includes the request and the storage write (the REST
//       round trip is printed beside it)
//
// Every client has its own reader thread blocked in recv(): a reader serving several sockets in
// turn would delay the later ones by the earlier ones' reads and charge that to the server.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "../../tests/support/test_client.h"
#include "sharpeyes/api/api_service.h"
#include "sharpeyes/api/in_memory_backend.h"
#include "sharpeyes/core/util.h"

using namespace sharpeyes;
using namespace sharpeyes::api;
using Clock = std::chrono::steady_clock;

namespace {

struct Result {
  double p50 = 0, p99 = 0, max = 0;
  double restP50 = 0, restP99 = 0;  // gateway mode: the POST's round trip
  size_t received = 0, expected = 0;
};

double quantile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(static_cast<double>(v.size()) * q))];
}

// Publishes message k (0..messages-1) and returns the key its WebSocket message carries.
using Publish = std::function<bool(int k)>;
// The key of a received message ("" to ignore it: hello, camera states, other alerts' steps).
using KeyOf = std::function<std::string(const nlohmann::json&)>;

Result run(uint16_t port, const std::string& token, int clients, int messages,
           const std::vector<std::string>& keys, const Publish& publish, const KeyOf& keyOf,
           std::vector<double>* rest) {
  std::vector<std::unique_ptr<testing::Conn>> conns;
  for (int i = 0; i < clients; ++i) {
    auto c = std::make_unique<testing::Conn>(port);
    if (!c->wsHandshake("/ws/events", {{"Authorization", "Bearer " + token}})) {
      std::fprintf(stderr, "handshake %d failed\n", i);
      std::exit(1);
    }
    conns.push_back(std::move(c));
  }
  std::unordered_map<std::string, size_t> index;
  for (size_t k = 0; k < static_cast<size_t>(messages); ++k) index[keys[k]] = k;
  std::vector<Clock::time_point> sent(static_cast<size_t>(messages));
  std::vector<double> lat;
  std::mutex mu;
  size_t received = 0;
  std::vector<std::thread> readers;
  for (int i = 0; i < clients; ++i) {
    readers.emplace_back([&, i] {
      int got = 0;
      while (got < messages) {
        auto m = conns[static_cast<size_t>(i)]->wsRead(nullptr, std::chrono::milliseconds(10000));
        if (!m) return;  // closed or 10 s of silence: counted as not delivered
        const auto now = Clock::now();
        auto j = nlohmann::json::parse(*m, nullptr, false);
        auto it = index.find(j.is_discarded() ? std::string() : keyOf(j));
        if (it == index.end()) continue;
        std::lock_guard l(mu);
        lat.push_back(std::chrono::duration<double, std::milli>(now - sent[it->second]).count());
        ++received;
        ++got;
      }
    });
  }
  for (int k = 0; k < messages; ++k) {
    {
      std::lock_guard l(mu);
      sent[static_cast<size_t>(k)] = Clock::now();
    }
    const auto t0 = Clock::now();
    if (!publish(k)) {
      std::fprintf(stderr, "publishing message %d failed\n", k);
      std::exit(1);
    }
    if (rest) rest->push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // ~100 alerts/s: a busy county
  }
  for (auto& t : readers) t.join();
  Result r;
  r.received = received;
  r.expected = static_cast<size_t>(clients) * static_cast<size_t>(messages);
  r.p50 = quantile(lat, 0.5);
  r.p99 = quantile(lat, 0.99);
  r.max = lat.empty() ? 0 : lat.back();
  if (rest) {
    r.restP50 = quantile(*rest, 0.5);
    r.restP99 = quantile(*rest, 0.99);
  }
  return r;
}

void print(const char* what, int clients, int messages, const Result& base, const Result& fan) {
  std::printf("WebSocket fan-out on /ws/events, %s, %d alerts per run at ~100/s\n", what, messages);
  std::printf("%-10s %10s %10s %10s %12s %16s\n", "clients", "p50 ms", "p99 ms", "max ms",
              "delivered", "REST p50/p99 ms");
  for (const auto& [n, r] : {std::pair{1, base}, std::pair{clients, fan}}) {
    std::printf("%-10d %10.2f %10.2f %10.2f %6zu/%-6zu %7.2f/%-7.2f\n", n, r.p50, r.p99, r.max,
                r.received, r.expected, r.restP50, r.restP99);
  }
  std::printf("ratio p50 %d clients / 1 client: %.2f, p99: %.2f\n", clients,
              base.p50 > 0 ? fan.p50 / base.p50 : 0.0, base.p99 > 0 ? fan.p99 / base.p99 : 0.0);
}

int inMemory(int clients, int messages) {
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
  const std::string token = service.sessions().create("op").token;
  Alert a;
  a.event.division = *core::DivisionCode::parse("510603101201");
  a.event.camera = *core::CameraId::parse("cam-1");
  const KeyOf keyOf = [](const nlohmann::json& j) {
    return j.value("type", "") == "alert" ? j["alert"].value("id", "") : std::string();
  };
  auto keysFrom = [&](int first) {
    std::vector<std::string> keys;
    for (int k = 0; k < messages; ++k) keys.push_back(std::to_string(first + k));
    return keys;
  };
  auto publishFrom = [&](int first) {
    return Publish([&, first](int k) {
      a.id = std::to_string(first + k);
      service.publishAlert(a);
      return true;
    });
  };
  Result base = run(server.port(), token, 1, messages, keysFrom(0), publishFrom(0), keyOf, nullptr);
  Result fan = run(server.port(), token, clients, messages, keysFrom(messages),
                   publishFrom(messages), keyOf, nullptr);
  print("in-process ApiService (in-memory backend, 2 server threads)", clients, messages, base,
        fan);
  server.stop();
  std::filesystem::remove_all(dir);
  return fan.received == fan.expected && base.received == base.expected ? 0 : 1;
}

int gateway(uint16_t port, int clients, int messages) {
  const char* token = std::getenv("SHARPEYES_TOKEN");
  if (!token || !*token) {
    std::fprintf(stderr, "--gateway needs an admin token in SHARPEYES_TOKEN\n");
    return 2;
  }
  const std::vector<std::pair<std::string, std::string>> auth = {
      {"Authorization", std::string("Bearer ") + token}};
  testing::Conn rest(port);
  auto r = rest.request("GET", "/api/alerts?step=new&limit=1000", auth);
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (r.status != 200 || j.is_discarded()) {
    std::fprintf(stderr, "GET /api/alerts: %d %s\n", r.status, r.body.c_str());
    return 1;
  }
  std::vector<std::string> ids;
  for (const auto& a : j["alerts"]) ids.push_back(a.value("id", ""));
  if (ids.size() < static_cast<size_t>(2 * messages)) {
    std::fprintf(stderr, "the gateway has %zu new alerts, %d needed (seed more events)\n",
                 ids.size(), 2 * messages);
    return 1;
  }
  // One alert id per message; the pushed update says "accepted".
  const KeyOf keyOf = [](const nlohmann::json& m) {
    if (m.value("type", "") != "alert" || m["alert"].value("step", "") != "accepted")
      return std::string();
    return m["alert"].value("id", "");
  };
  auto publishFrom = [&](size_t first) {
    return Publish([&, first](int k) {
      const auto& id = ids[first + static_cast<size_t>(k)];
      auto reply = rest.request("POST", "/api/alerts/" + id + "/accept",
                                {auth[0], {"Content-Type", "application/json"}}, "{}");
      return reply.status == 200;
    });
  };
  const std::vector<std::string> first(ids.begin(), ids.begin() + messages);
  const std::vector<std::string> second(ids.begin() + messages, ids.begin() + 2 * messages);
  std::vector<double> restBase, restFan;
  Result base = run(port, token, 1, messages, first, publishFrom(0), keyOf, &restBase);
  Result fan = run(port, token, clients, messages, second,
                   publishFrom(static_cast<size_t>(messages)), keyOf, &restFan);
  print("real gateway (REST accept -> storage -> push)", clients, messages, base, fan);
  return fan.received == fan.expected && base.received == base.expected ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  int at = 1;
  uint16_t gatewayPort = 0;
  if (argc > 2 && std::strcmp(argv[1], "--gateway") == 0) {
    gatewayPort = static_cast<uint16_t>(std::atoi(argv[2]));
    at = 3;
  }
  const int clients = argc > at ? std::atoi(argv[at]) : 100;
  const int messages = argc > at + 1 ? std::atoi(argv[at + 1]) : 300;
  if (clients < 1 || messages < 1) {
    std::fprintf(stderr, "usage: api_fanout_bench [--gateway PORT] [clients] [messages]\n");
    return 2;
  }
  return gatewayPort ? gateway(gatewayPort, clients, messages) : inMemory(clients, messages);
}
