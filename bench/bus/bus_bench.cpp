// Bus benchmark: alert latency per hop and end to end (gateway -> village -> township -> county,
// creation at the gateway to storage at the county), maximum sustained rate into one centre, clip
// throughput; in the same run the same alerts over plain PUB/SUB (and the same bytes over a plain
// DEALER/ROUTER) as the baseline, with our overhead as a ratio. Real sockets on loopback.
//
//   bus_bench [--quick] [--only latency|rate|publish|clip]
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "sharpeyes/bus/center.h"
#include "sharpeyes/bus/keys.h"
#include "sharpeyes/bus/publisher.h"
#include "sharpeyes/core/util.h"

using namespace sharpeyes;
using Clock = std::chrono::steady_clock;

namespace {

int64_t nowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// CPU time of the whole process (every thread), in seconds: on a shared machine the wall-clock
// rate depends on the neighbours' load, the CPU spent per alert much less.
double cpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Samples {
  std::mutex mu;
  std::vector<int64_t> us;
  void add(int64_t v) {
    std::lock_guard lock(mu);
    us.push_back(v);
  }
  size_t size() {
    std::lock_guard lock(mu);
    return us.size();
  }
  double pct(double p) {
    std::lock_guard lock(mu);
    if (us.empty()) return 0;
    auto v = us;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1)))] / 1000.0;
  }
  // How many samples took longer than `ms` (the tail, visible even when the p99 is noisy).
  size_t above(double ms) {
    std::lock_guard lock(mu);
    return static_cast<size_t>(std::count_if(
        us.begin(), us.end(), [&](int64_t v) { return static_cast<double>(v) > ms * 1000; }));
  }
  void clear() {
    std::lock_guard lock(mu);
    us.clear();
  }
};

core::Event event(const std::string& division, int severity) {
  core::Event e;
  e.id = core::newId();
  e.camera = core::CameraId::parse("cam-01").value();
  e.division = core::DivisionCode::parse(division).value();
  e.type = core::EventType::kTripwire;
  e.severity = severity;
  e.rule = "line-1";
  e.objectClass = "person";
  e.start = core::processClock().now();
  e.clipStart = e.start;
  e.clipEnd = e.start;
  e.attributes["direction"] = "A->B";
  return e;
}

bool waitUntil(const std::function<bool()>& pred, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return pred();
}

// Calls fn() `rate` times a second for `seconds`.
void paced(int rate, double seconds, const std::function<void()>& fn) {
  const auto start = Clock::now();
  const int total = static_cast<int>(rate * seconds);
  for (int i = 0; i < total; ++i) {
    const auto due = start + std::chrono::nanoseconds(static_cast<int64_t>(1e9 * i / rate));
    std::this_thread::sleep_until(due);
    fn();
  }
}

struct Chain {
  std::filesystem::path dir;
  bus::KeyPair gwKeys, vKeys, tKeys, cKeys;
  std::unique_ptr<bus::Center> county, township, village;
  std::unique_ptr<bus::Publisher> gw;
  bus::CenterEndpoints vEp, tEp, cEp;
  Samples hopGw, hopTown, e2e;
  std::atomic<uint64_t> countyStored{0}, villageStored{0};

  void build() {
    gwKeys = bus::generateKeyPair().value();
    vKeys = bus::generateKeyPair().value();
    tKeys = bus::generateKeyPair().value();
    cKeys = bus::generateKeyPair().value();
    auto centre = [&](const char* name, core::DivisionLevel level, const char* code,
                      const bus::KeyPair& keys, std::vector<bus::AllowedKey> allow,
                      std::optional<bus::UpstreamConfig> up) {
      bus::CenterConfig c;
      c.name = name;
      c.level = level;
      c.division = core::DivisionCode::parse(code).value();
      c.dataDir = (dir / name).string();
      c.keys = keys;
      c.allow = std::move(allow);
      c.upstream = std::move(up);
      return bus::Center::create(c).value();
    };
    county = centre("county", core::DivisionLevel::kCounty, "510603000000", cKeys,
                    {{"township", tKeys.publicKey}}, std::nullopt);
    county->setOnStored([this](const bus::StoredAlert& a) {
      const int64_t now = nowUs();
      e2e.add(now - core::toUnixMicros(a.event.start));
      hopTown.add(now - a.sentMicros);
      ++countyStored;
    });
    cEp = county->start().value();
    township = centre("township", core::DivisionLevel::kTownship, "510603101000", tKeys,
                      {{"village", vKeys.publicKey}},
                      bus::UpstreamConfig{cEp.events, cEp.clips, cKeys.publicKey});
    tEp = township->start().value();
    village = centre("village", core::DivisionLevel::kVillage, "510603101201", vKeys,
                     {{"gw", gwKeys.publicKey}},
                     bus::UpstreamConfig{tEp.events, tEp.clips, tKeys.publicKey});
    village->setOnStored([this](const bus::StoredAlert& a) {
      hopGw.add(nowUs() - a.sentMicros);
      ++villageStored;
    });
    vEp = village->start().value();
    bus::PublisherConfig p;
    p.origin = "gw";
    p.endpoint = vEp.events;
    p.clipEndpoint = vEp.clips;
    p.serverPublicKey = vKeys.publicKey;
    p.publicKey = gwKeys.publicKey;
    p.secretKey = gwKeys.secretKey;
    p.outboxPath = (dir / "gw.db").string();
    p.outboxQuotaBytes = 1ull << 30;
    gw = bus::Publisher::create(p).value();
    gw->start();
  }
  // Counters of every link, for when a phase does not complete.
  void dump(const char* when) {
    const auto g = gw->stats();
    std::fprintf(
        stderr,
        "[%s] gw: published %llu sent %llu retx %llu acked %llu outbox %llu B connected %d\n", when,
        (unsigned long long)g.published, (unsigned long long)g.sent,
        (unsigned long long)g.retransmitted, (unsigned long long)g.acked,
        (unsigned long long)g.outboxBytes, g.connected ? 1 : 0);
    for (auto* c : {village.get(), township.get(), county.get()}) {
      const auto s = c->stats();
      std::fprintf(stderr,
                   "[%s] centre: received %llu stored %llu dup %llu gaps %llu fwd %llu "
                   "storeErrors %llu malformed %llu\n",
                   when, (unsigned long long)s.received, (unsigned long long)s.stored,
                   (unsigned long long)s.duplicates, (unsigned long long)s.gaps,
                   (unsigned long long)s.forwarded, (unsigned long long)s.storeErrors,
                   (unsigned long long)s.malformed);
    }
  }
  void stop() {
    gw->stop();
    village->stop();
    township->stop();
    county->stop();
  }
};

struct Baseline {
  Samples lat;
  std::atomic<uint64_t> got{0};
};

// The same alert JSON over plain PUB/SUB: no encryption, no persistence, no acks.
void baselinePubSub(int rate, double seconds, Baseline& b, const std::string& payload) {
  zmq::context_t ctx(1);
  zmq::socket_t pub(ctx, zmq::socket_type::pub);
  pub.set(zmq::sockopt::sndhwm, 1000000);
  pub.bind("tcp://127.0.0.1:0");
  const std::string ep = pub.get(zmq::sockopt::last_endpoint);
  std::atomic<bool> stop{false};
  std::thread rx([&] {
    zmq::socket_t sub(ctx, zmq::socket_type::sub);
    sub.set(zmq::sockopt::rcvhwm, 1000000);
    sub.set(zmq::sockopt::rcvtimeo, 100);
    sub.connect(ep);
    sub.set(zmq::sockopt::subscribe, "a/5106");
    while (!stop) {
      zmq::message_t t, m;
      if (!sub.recv(t)) continue;
      (void)sub.recv(m);
      const std::string s = m.to_string();
      const auto p = s.find("\"sent_us\":");
      if (p != std::string::npos) b.lat.add(nowUs() - std::stoll(s.substr(p + 10)));
      ++b.got;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the subscription land
  auto send = [&] {
    const std::string m = "{\"v\":1,\"type\":\"alert\",\"sent_us\":" + std::to_string(nowUs()) +
                          ",\"event\":" + payload + "}";
    pub.send(zmq::buffer("a/510603101201", 14), zmq::send_flags::sndmore);
    pub.send(zmq::buffer(m), zmq::send_flags::none);
  };
  if (rate > 0) {
    paced(rate, seconds, send);
  } else {
    for (int i = 0; i < static_cast<int>(seconds); ++i) send();  // blast `seconds` messages
  }
  waitUntil([&] { return false; }, std::chrono::seconds(1));
  stop = true;
  rx.join();
}

double clipBaselineMBps(const std::string& data, size_t chunk) {
  zmq::context_t ctx(1);
  zmq::socket_t r(ctx, zmq::socket_type::router);
  r.bind("tcp://127.0.0.1:0");
  const std::string ep = r.get(zmq::sockopt::last_endpoint);
  zmq::socket_t d(ctx, zmq::socket_type::dealer);
  d.connect(ep);
  const auto t0 = Clock::now();
  std::thread rx([&] {
    size_t got = 0;
    while (got < data.size()) {
      zmq::message_t id, m;
      (void)r.recv(id);
      (void)r.recv(m);
      got += m.size();
    }
  });
  for (size_t off = 0; off < data.size(); off += chunk) {
    d.send(zmq::buffer(data.data() + off, std::min(chunk, data.size() - off)));
  }
  rx.join();
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  return data.size() / 1e6 / s;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string only;  // "latency", "rate", "publish" or "clip": run one part (profiling)
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      quick = true;
    } else if (a == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else {
      std::fprintf(stderr, "usage: bus_bench [--quick] [--only latency|rate|publish|clip]\n");
      return 2;
    }
  }
  auto runs = [&](const char* part) { return only.empty() || only == part; };
  const double secs = quick ? 1.0 : 3.0;
  const auto dir =
      std::filesystem::temp_directory_path() / ("sharpeyes-bus-bench-" + core::newId());
  std::filesystem::create_directories(dir);

  Chain chain;
  chain.dir = dir;
  chain.build();
  waitUntil([&] { return chain.gw->stats().connected; }, std::chrono::seconds(10));
  // Warm-up.
  for (int i = 0; i < 200; ++i) chain.gw->publish(event("510603101201", 3));
  waitUntil([&] { return chain.countyStored >= 200; }, std::chrono::seconds(20));

  std::printf("| measurement | sharpeyes bus | baseline (plain PUB/SUB) | ratio |\n");
  std::printf("| --- | --- | --- | --- |\n");
  const std::string payload =
      "{\"id\":\"" + core::newId() +
      "\",\"division\":\"510603101201\",\"camera\":\"cam-01\",\"type\":\"tripwire\","
      "\"severity\":3,\"rule\":\"line-1\",\"object\":\"person\",\"attributes\":{\"direction\":"
      "\"A->B\"}}";
  for (int rate : {1000, 10000}) {
    if (!runs("latency")) break;
    chain.hopGw.clear();
    chain.hopTown.clear();
    chain.e2e.clear();
    const uint64_t before = chain.countyStored;
    const int n = static_cast<int>(rate * secs);
    paced(rate, secs, [&] { chain.gw->publish(event("510603101201", 3)); });
    const bool all =
        waitUntil([&] { return chain.countyStored >= before + n; }, std::chrono::seconds(60));
    if (!all) chain.dump("incomplete");
    Baseline b;
    baselinePubSub(rate, secs, b, payload);
    std::printf(
        "| %d alerts/s: hop gateway->village p50 / p99 (ms) | %.2f / %.2f | %.2f / %.2f | p99 "
        "x%.1f |\n",
        rate, chain.hopGw.pct(0.5), chain.hopGw.pct(0.99), b.lat.pct(0.5), b.lat.pct(0.99),
        chain.hopGw.pct(0.99) / std::max(0.001, b.lat.pct(0.99)));
    std::printf("| %d alerts/s: hop township->county p50 / p99 (ms) | %.2f / %.2f | | |\n", rate,
                chain.hopTown.pct(0.5), chain.hopTown.pct(0.99));
    std::printf(
        "| %d alerts/s: end to end gateway->county (3 hops) p50 / p99 (ms) | %.2f / %.2f | | |\n",
        rate, chain.e2e.pct(0.5), chain.e2e.pct(0.99));
    std::printf(
        "| %d alerts/s: hops above 5 / 10 / 20 ms, gateway->village; township->county (of %zu "
        "each) | %zu / %zu / %zu; %zu / %zu / %zu | | |\n",
        rate, chain.hopGw.size(), chain.hopGw.above(5), chain.hopGw.above(10),
        chain.hopGw.above(20), chain.hopTown.above(5), chain.hopTown.above(10),
        chain.hopTown.above(20));
    std::printf("| %d alerts/s: delivered | %llu of %d%s | %llu of %d | |\n", rate,
                static_cast<unsigned long long>(chain.countyStored - before), n,
                all ? "" : " (INCOMPLETE)", static_cast<unsigned long long>(b.got.load()), n);
    std::fflush(stdout);
  }

  // Maximum sustained rate into one centre: fill a gateway outbox, then let it drain into the
  // village centre (severity 1: stored there, not forwarded); every event must be stored.
  if (runs("rate")) {
    const int n = quick ? 20000 : 100000;
    bus::PublisherConfig p;
    p.origin = "gw";
    p.endpoint = chain.vEp.events;
    p.serverPublicKey = chain.vKeys.publicKey;
    p.publicKey = chain.gwKeys.publicKey;
    p.secretKey = chain.gwKeys.secretKey;
    p.outboxPath = (dir / "gw-blast.db").string();
    p.outboxQuotaBytes = 1ull << 30;
    auto blast = bus::Publisher::create(p).value();
    for (int i = 0; i < n; ++i) blast->publish(event("510603101201", 1));
    const uint64_t before = chain.villageStored;
    const uint64_t commitsBefore = chain.village->stats().commits;
    const double cpu0 = cpuSeconds();
    const auto t0 = Clock::now();
    blast->start();
    const bool all =
        waitUntil([&] { return chain.villageStored >= before + n; }, std::chrono::seconds(120));
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    const double cpu = cpuSeconds() - cpu0;
    blast->stop();
    const uint64_t got = chain.villageStored - before;
    std::fprintf(stderr, "rate: %llu storing transactions, %.0f events each\n",
                 static_cast<unsigned long long>(chain.village->stats().commits - commitsBefore),
                 static_cast<double>(got) /
                     std::max<uint64_t>(1, chain.village->stats().commits - commitsBefore));
    Baseline b;
    const auto tb = Clock::now();
    baselinePubSub(0, n, b, payload);
    const double sb = std::chrono::duration<double>(Clock::now() - tb).count() - 1.3;
    std::printf(
        "| max sustained rate into one centre (%d events, stored, none lost) | %.0f alerts/s%s | "
        "%.0f msgs/s (%llu of %d arrived) | x%.2f |\n",
        n, got / s, all ? "" : " (INCOMPLETE)", b.got / std::max(0.001, sb),
        static_cast<unsigned long long>(b.got.load()), n,
        (got / s) / std::max(1.0, b.got / std::max(0.001, sb)));
    std::printf(
        "| CPU per alert, sender + centre + ZeroMQ I/O threads (all in this process) | %.1f us "
        "(%.0f alerts per CPU-second) | | |\n",
        cpu / std::max<uint64_t>(1, got) * 1e6, got / std::max(1e-6, cpu));
    std::fflush(stdout);
  }

  // publish() returns once the event is committed to the outbox. One thread pays one commit per
  // event; threads publishing at once share commits (group commit). Not connected: appends only.
  if (runs("publish")) {
    const int n = quick ? 4000 : 20000;
    double rate1 = 0;
    for (int threads : {1, 4}) {
      bus::PublisherConfig p;
      p.origin = "gw";
      p.endpoint = "tcp://127.0.0.1:1";  // nobody there: measure the appends alone
      p.serverPublicKey = chain.vKeys.publicKey;
      p.publicKey = chain.gwKeys.publicKey;
      p.secretKey = chain.gwKeys.secretKey;
      p.outboxPath = (dir / ("gw-append-" + std::to_string(threads) + ".db")).string();
      p.outboxQuotaBytes = 1ull << 30;
      auto pub = bus::Publisher::create(p).value();
      std::vector<core::Event> events;
      for (int i = 0; i < n; ++i) events.push_back(event("510603101201", 1));
      const auto t0 = Clock::now();
      std::vector<std::thread> ts;
      for (int t = 0; t < threads; ++t) {
        ts.emplace_back([&, t] {
          for (int i = t; i < n; i += threads) (void)pub->publish(events[static_cast<size_t>(i)]);
        });
      }
      for (auto& t : ts) t.join();
      const double r = n / std::chrono::duration<double>(Clock::now() - t0).count();
      if (threads == 1) rate1 = r;
      std::printf(
          "| publish() into the outbox, %d thread%s (durable on return) | %.0f events/s | %s "
          "| %s |\n",
          threads, threads == 1 ? "" : "s", r, threads == 1 ? "(baseline: 1 thread)" : "",
          threads == 1 ? "" : ("x" + std::to_string(r / rate1).substr(0, 4)).c_str());
      std::fflush(stdout);
    }
  }

  // Clip throughput: one clip gateway -> village centre, SHA-256 verified at the receiver.
  if (runs("clip")) {
    const size_t size = quick ? (16u << 20) : (64u << 20);
    std::string data(size, '\0');
    for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>((i * 2654435761u) >> 13);
    const std::string path = (dir / "clip.bin").string();
    std::ofstream(path, std::ios::binary) << data;
    const std::string sha = core::sha256Hex(data);
    const uint64_t before = chain.village->stats().clipsReceived;
    const auto t0 = Clock::now();
    chain.gw->publishClip({"bench-clip", "", path, sha, "{}"});
    waitUntil([&] { return chain.village->stats().clipsReceived > before; },
              std::chrono::seconds(120));
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    const double base = clipBaselineMBps(data, 256 * 1024);
    std::printf(
        "| clip transfer %zu MiB (CURVE, credit window, SHA-256 verified, written) | %.0f MB/s | "
        "%.0f MB/s (plain DEALER/ROUTER, memory only) | x%.2f |\n",
        size >> 20, size / 1e6 / s, base, (size / 1e6 / s) / base);
  }
  chain.stop();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
