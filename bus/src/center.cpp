#include "sharpeyes/bus/center.h"

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <zmq.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>
#include <unordered_map>

#include "protocol.h"
#include "sharpeyes/bus/publisher.h"
#include "sharpeyes/bus/store.h"
#include "sharpeyes/core/util.h"
#include "zmq_util.h"

namespace sharpeyes::bus {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kZapDomain = "sharpeyes";
constexpr size_t kDrainBatch = 4096;        // event messages per transaction at most
constexpr uint64_t kClipWindow = 4u << 20;  // bytes a clip sender may have unacknowledged
constexpr size_t kReplayMax = 500;
constexpr auto kHeartbeatEvery = std::chrono::milliseconds(500);

// Logs the first occurrence and then every 1000th, so a flood of bad frames cannot flood the log.
bool shouldLog(uint64_t count) {
  return count == 1 || count % 1000 == 0;
}

struct ClipRx {
  std::string origin;
  OutboxClip clip;
  fs::path partial;
  std::ofstream out;
  uint64_t offset = 0;
  core::Sha256 hash;
};

class CenterImpl final : public Center {
 public:
  explicit CenterImpl(CenterConfig cfg) : cfg_(std::move(cfg)) {
    for (const auto& k : cfg_.allow) allow_[k.publicKey] = k.name;
  }
  ~CenterImpl() override { stop(); }

  void setOnStored(std::function<void(const StoredAlert&)> cb) override {
    onStored_ = std::move(cb);
  }

  core::Result<CenterEndpoints> start() override {
    std::error_code ec;
    fs::create_directories(fs::path(cfg_.dataDir) / "clips", ec);
    if (ec) return core::makeError(core::ErrorCode::kIo, cfg_.dataDir + ": " + ec.message());
    auto store = openSqliteBusStore(
        {(fs::path(cfg_.dataDir) / "center.db").string(), cfg_.outboxQuotaBytes, cfg_.durable});
    if (!store) return store.error();
    store_ = store->center;
    outbox_ = store->outbox;
    auto maxSeq = store_->maxLocalSeq();
    maxSeq_ = maxSeq ? *maxSeq : 0;
    bootId_ = core::newId().substr(0, 16);
    CenterEndpoints eps;
    try {
      // The ZAP handler must exist before the first handshake: without it libzmq lets any key in.
      zap_ = zmq::socket_t(ctx_, zmq::socket_type::rep);
      zap_.set(zmq::sockopt::linger, 0);
      zap_.bind("inproc://zeromq.zap.01");
      const std::string tag = core::newId();
      wakeAddr_ = "inproc://bus-center-wake-" + tag;
      wakeRx_ = zmq::socket_t(ctx_, zmq::socket_type::pull);
      wakeRx_.bind(wakeAddr_);
      wakeTx_ = zmq::socket_t(ctx_, zmq::socket_type::push);
      wakeTx_.set(zmq::sockopt::linger, 0);
      wakeTx_.connect(wakeAddr_);

      evt_ = zmq::socket_t(ctx_, zmq::socket_type::router);
      serverSetup(evt_, proto::kMaxMetaBytes);
      mon_ = zu::monitor(ctx_, evt_, "inproc://bus-center-mon-" + tag,
                         ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                             ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL);
      evt_.bind(cfg_.bindEvents);
      eps.events = evt_.get(zmq::sockopt::last_endpoint);

      clip_ = zmq::socket_t(ctx_, zmq::socket_type::router);
      serverSetup(clip_, proto::kMaxClipFrameBytes);
      clipMon_ = zu::monitor(ctx_, clip_, "inproc://bus-center-clipmon-" + tag,
                             ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL);
      clip_.bind(cfg_.bindClips);
      eps.clips = clip_.get(zmq::sockopt::last_endpoint);

      pub_ = zmq::socket_t(ctx_, zmq::socket_type::pub);
      serverSetup(pub_, proto::kMaxMetaBytes);
      pub_.set(zmq::sockopt::sndhwm, 100000);
      pub_.bind(cfg_.bindPub);
      eps.pub = pub_.get(zmq::sockopt::last_endpoint);
    } catch (const zmq::error_t& e) {
      return core::makeError(core::ErrorCode::kUnavailable,
                             std::string("bus centre: cannot bind: ") + e.what());
    }
    const auto colon = eps.pub.rfind(':');
    pubPort_ = colon == std::string::npos ? 0 : std::stoi(eps.pub.substr(colon + 1));
    if (cfg_.upstream) {
      PublisherConfig pc;
      pc.origin = cfg_.name;
      pc.endpoint = cfg_.upstream->endpoint;
      pc.clipEndpoint = cfg_.upstream->clipEndpoint;
      pc.serverPublicKey = cfg_.upstream->serverPublicKey;
      pc.publicKey = cfg_.keys.publicKey;
      pc.secretKey = cfg_.keys.secretKey;
      pc.heartbeatInterval = cfg_.heartbeatInterval;
      pc.heartbeatTimeout = cfg_.heartbeatTimeout;
      auto up = Publisher::create(pc, outbox_);
      if (!up) return up.error();
      upstream_ = std::move(*up);
      if (auto r = upstream_->start(); !r) return r.error();
    }
    stopping_ = false;
    thread_ = std::thread([this] { loop(); });
    spdlog::info("bus: {} centre {} ({}) listening: events {}, clips {}, pub {}",
                 core::toString(cfg_.level), cfg_.name, cfg_.division.str(), eps.events, eps.clips,
                 eps.pub);
    return eps;
  }

  void stop() override {
    if (!thread_.joinable()) return;
    stopping_ = true;
    (void)wakeTx_.send(zmq::buffer("s", 1), zmq::send_flags::dontwait);
    thread_.join();
    if (upstream_) upstream_->stop();
    wakeTx_.close();
  }

  CenterStats stats() const override {
    CenterStats s;
    s.received = received_;
    s.stored = stored_;
    s.duplicates = duplicates_;
    s.gaps = gaps_;
    s.rejectedDivision = rejectedDivision_;
    s.rejectedOrigin = rejectedOrigin_;
    s.malformed = malformed_;
    s.authFailures = authFailures_;
    s.forwarded = forwarded_;
    s.published = published_;
    s.replayRequests = replayRequests_;
    s.clipsReceived = clipsReceived_;
    s.clipBytes = clipBytes_;
    s.clipHashMismatches = clipHashMismatches_;
    s.storeErrors = storeErrors_;
    s.commits = commits_;
    return s;
  }

 private:
  void serverSetup(zmq::socket_t& s, int64_t maxMsg) {
    s.set(zmq::sockopt::linger, 0);
    // An oversize frame makes libzmq drop that one connection; the others are untouched.
    s.set(zmq::sockopt::maxmsgsize, maxMsg);
    zu::curveServer(s, cfg_.keys.secretKey, kZapDomain);
    zu::heartbeat(s, cfg_.heartbeatInterval, cfg_.heartbeatTimeout);
  }

  // ---- I/O thread ----
  void loop() {
    pthread_setname_np(pthread_self(), "bus-centre");  // tells the threads apart in top and perf
    std::vector<zmq::message_t> frames;
    auto nextHb = Clock::now();
    while (!stopping_) {
      zmq::pollitem_t items[] = {
          {zap_.handle(), 0, ZMQ_POLLIN, 0},     {evt_.handle(), 0, ZMQ_POLLIN, 0},
          {clip_.handle(), 0, ZMQ_POLLIN, 0},    {mon_.handle(), 0, ZMQ_POLLIN, 0},
          {clipMon_.handle(), 0, ZMQ_POLLIN, 0}, {wakeRx_.handle(), 0, ZMQ_POLLIN, 0},
      };
      try {
        zmq::poll(items, 6, std::chrono::milliseconds(std::max<int64_t>(1, zu::msUntil(nextHb))));
      } catch (const zmq::error_t&) {
        continue;
      }
      if (items[0].revents & ZMQ_POLLIN) {
        while (zu::recvAll(zap_, frames)) onZap(frames);
      }
      if (items[1].revents & ZMQ_POLLIN) drainEvents(frames);
      if (items[2].revents & ZMQ_POLLIN) {
        for (int i = 0; i < 256 && zu::recvAll(clip_, frames); ++i) onClip(frames);
      }
      for (auto* m : {&mon_, &clipMon_}) {
        zu::MonitorEvent ev;
        while (zu::readMonitor(*m, ev)) {
          ++authFailures_;
          spdlog::warn(
              "bus: refused a peer on {}: handshake failed (event {}, code {}); "
              "unencrypted or unknown peers are not accepted",
              ev.endpoint, ev.event, ev.value);
        }
      }
      if (items[5].revents & ZMQ_POLLIN) {
        zmq::message_t m;
        while (wakeRx_.recv(m, zmq::recv_flags::dontwait)) {
        }
      }
      if (Clock::now() >= nextHb) {
        publishHeartbeat();
        nextHb = Clock::now() + kHeartbeatEvery;
      }
    }
    for (auto& [id, rx] : clipsRx_) rx.out.close();
    evt_.close();
    clip_.close();
    pub_.close();
    mon_.close();
    clipMon_.close();
    zap_.close();
    wakeRx_.close();
  }

  void onZap(std::vector<zmq::message_t>& f) {
    // ZAP 1.0 request: version, request id, domain, address, identity, mechanism, credentials...
    std::string status = "400";
    std::string text = "denied";
    std::string user;
    std::string address = f.size() > 3 ? f[3].to_string() : "?";
    if (f.size() >= 7 && f[0].to_string_view() == "1.0" && f[5].to_string_view() == "CURVE" &&
        f[6].size() == 32) {
      char z85[41] = {};
      zmq_z85_encode(z85, static_cast<const uint8_t*>(f[6].data()), 32);
      auto it = allow_.find(z85);
      if (it != allow_.end()) {
        status = "200";
        text = "OK";
        user = it->second;
      } else {
        ++authFailures_;
        spdlog::warn("bus: refused key {} from {}: not on the allowlist", keyFingerprint(z85),
                     address);
      }
    } else {
      ++authFailures_;
      spdlog::warn("bus: refused a peer from {}: not a CURVE client", address);
    }
    const std::string requestId = f.size() > 1 ? f[1].to_string() : "";
    zap_.send(zmq::buffer(std::string("1.0")), zmq::send_flags::sndmore);
    zap_.send(zmq::buffer(requestId), zmq::send_flags::sndmore);
    zap_.send(zmq::buffer(status), zmq::send_flags::sndmore);
    zap_.send(zmq::buffer(text), zmq::send_flags::sndmore);
    zap_.send(zmq::buffer(user), zmq::send_flags::sndmore);
    zap_.send(zmq::buffer(std::string()), zmq::send_flags::none);
  }

  static std::string userOf(zmq::message_t& m) {
    try {
      const char* u = m.gets("User-Id");
      return u ? u : "";
    } catch (const zmq::error_t&) {
      return "";
    }
  }

  void malformed(const std::string& why) {
    ++malformed_;
    if (shouldLog(malformed_)) {
      spdlog::warn("bus: dropped a malformed frame ({}); {} so far", why, malformed_.load());
    }
  }

  void reply(zmq::socket_t& s, const zmq::message_t& rid, const std::string& body) {
    zmq::message_t id(rid.data(), rid.size());
    if (!s.send(id, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return;
    (void)s.send(zmq::buffer(body), zmq::send_flags::dontwait);
  }

  struct Pending {
    zmq::message_t rid;
    Incoming in;
    core::Event event;
    int64_t sentUs = 0;
    std::string rejectReason;
  };

  void drainEvents(std::vector<zmq::message_t>& frames) {
    std::vector<Pending> batch;
    batch.reserve(256);
    while (batch.size() < kDrainBatch && zu::recvAll(evt_, frames)) {
      if (frames.size() != 2) {
        malformed("expected 1 frame, got " + std::to_string(frames.size() - 1));
        continue;
      }
      auto j = proto::parseFrame(frames[1].to_string_view());
      if (!j) {
        malformed("not a v1 JSON metadata frame");
        continue;
      }
      const std::string type = (*j)["type"].get<std::string>();
      if (type == "event") {
        ++received_;
        Pending p;
        if (readEvent(*j, frames[1].to_string_view(), userOf(frames[1]), p)) {
          p.rid = std::move(frames[0]);
          batch.push_back(std::move(p));
        }
      } else if (type == "hello") {
        json r = {{"v", proto::kVersion},
                  {"type", "hello_ok"},
                  {"center", cfg_.name},
                  {"level", core::toString(cfg_.level)},
                  {"division", cfg_.division.str()},
                  {"pub_port", pubPort_},
                  {"boot", bootId_}};
        reply(evt_, frames[0], r.dump());
      } else if (type == "replay") {
        onReplay(frames[0], *j);
      } else {
        malformed("unknown type " + type.substr(0, 32));
      }
    }
    if (!batch.empty()) commitBatch(batch);
  }

  bool readEvent(const json& j, std::string_view frame, const std::string& user, Pending& p) {
    auto origin = j.find("origin");
    auto epoch = j.find("epoch");
    auto seq = j.find("seq");
    auto ev = j.find("event");
    if (origin == j.end() || !origin->is_string() || epoch == j.end() || !epoch->is_string() ||
        seq == j.end() || !seq->is_number_unsigned() || ev == j.end() || !ev->is_object()) {
      malformed("event envelope lacks origin/epoch/seq/event");
      return false;
    }
    p.in.origin = origin->get<std::string>();
    if (p.in.origin != user) {
      ++rejectedOrigin_;
      if (shouldLog(rejectedOrigin_)) {
        spdlog::warn(
            "bus: dropped an event claiming origin '{}' from a peer authenticated as "
            "'{}'",
            p.in.origin.substr(0, 64), user);
      }
      return false;
    }
    p.in.epoch = epoch->get<std::string>();
    p.in.seq = seq->get<uint64_t>();
    p.sentUs = j.value("sent_us", int64_t{0});
    auto event = proto::eventFromJson(*ev);
    if (!event) {
      // Authenticated but unreadable: consume the sequence number (or the sender would resend it
      // forever and block everything behind it), tell the sender, count it.
      malformed(event.error().message);
      p.in.reject = true;
      p.rejectReason = event.error().message;
      return true;
    }
    p.event = std::move(*event);
    if (!cfg_.division.contains(p.event.division)) {
      p.in.reject = true;
      p.rejectReason = "division " + p.event.division.str() + " is outside " + cfg_.division.str();
      return true;
    }
    p.in.division = p.event.division;
    p.in.eventId = p.event.id;
    // Stored and forwarded verbatim (the frame already parsed as JSON): re-serialising every
    // event was a measurable share of a centre's time per event.
    if (auto raw = proto::rawMember(frame, "event"); raw && raw->front() == '{') {
      p.in.eventJson = std::string(*raw);
    } else {
      p.in.eventJson = ev->dump();
    }
    p.in.forward = upstream_ && cfg_.policy.mustForward(p.event, cfg_.level);
    return true;
  }

  void commitBatch(std::vector<Pending>& batch) {
    std::vector<Incoming> items;
    items.reserve(batch.size());
    for (auto& p : batch) items.push_back(std::move(p.in));
    std::vector<IncomingOutcome> outcomes;
    std::vector<uint64_t> localSeqs;
    if (auto r = store_->commit(items, outcomes, localSeqs); !r) {
      ++storeErrors_;
      if (shouldLog(storeErrors_)) spdlog::error("bus: store failed: {}", r.error().describe());
      return;  // nothing acknowledged: the senders retransmit
    }
    ++commits_;
    bool forwardedAny = false;
    // (routing id, origin, epoch) -> acknowledge once per batch with the origin's last seq.
    std::map<std::tuple<std::string, std::string, std::string>, size_t> ackTo;
    for (size_t i = 0; i < items.size(); ++i) {
      auto& p = batch[i];
      const Incoming& in = items[i];
      ackTo[{p.rid.to_string(), in.origin, in.epoch}] = i;
      switch (outcomes[i]) {
        case IncomingOutcome::kStored: {
          ++stored_;
          maxSeq_ = localSeqs[i];
          std::string alert = alertJson(localSeqs[i], in.eventJson);
          const std::string topic = alertTopic(in.division);
          (void)pub_.send(zmq::buffer(topic), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
          (void)pub_.send(zmq::buffer(alert), zmq::send_flags::dontwait);
          ++published_;
          if (in.forward) {
            ++forwarded_;
            forwardedAny = true;
          }
          if (onStored_) {
            StoredAlert a{localSeqs[i], in.origin, std::move(p.event), p.sentUs, in.forward};
            onStored_(a);
          }
          break;
        }
        case IncomingOutcome::kDuplicate: ++duplicates_; break;
        case IncomingOutcome::kGap: ++gaps_; break;
        case IncomingOutcome::kRejected: {
          ++rejectedDivision_;
          if (shouldLog(rejectedDivision_)) {
            spdlog::warn("bus: refused event seq {} from {}: {}", in.seq, in.origin,
                         p.rejectReason);
          }
          json rj = {{"v", proto::kVersion},
                     {"type", "reject"},
                     {"epoch", in.epoch},
                     {"seq", in.seq},
                     {"reason", p.rejectReason}};
          reply(evt_, p.rid, rj.dump());
          break;
        }
      }
    }
    for (const auto& [key, idx] : ackTo) {
      const auto& [rid, origin, epoch] = key;
      auto last = store_->lastSeq(origin, epoch);
      if (!last) continue;
      json ack = {{"v", proto::kVersion}, {"type", "ack"}, {"epoch", epoch}, {"seq", *last}};
      reply(evt_, batch[idx].rid, ack.dump());
    }
    if (forwardedAny && upstream_) upstream_->notify();
  }

  std::string alertJson(uint64_t seq, const std::string& eventJson) const {
    return "{\"v\":1,\"type\":\"alert\",\"center\":" + json(cfg_.name).dump() + ",\"level\":\"" +
           std::string(core::toString(cfg_.level)) + "\",\"seq\":" + std::to_string(seq) +
           ",\"event\":" + eventJson + "}";
  }

  void publishHeartbeat() {
    json hb = {{"v", proto::kVersion},
               {"type", "hb"},
               {"center", cfg_.name},
               {"boot", bootId_},
               {"seq", maxSeq_}};
    (void)pub_.send(zmq::buffer(kHeartbeatTopic),
                    zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    (void)pub_.send(zmq::buffer(hb.dump()), zmq::send_flags::dontwait);
  }

  void onReplay(const zmq::message_t& rid, const json& j) {
    ++replayRequests_;
    const std::string prefix = j.value("prefix", std::string());
    const bool digits = !prefix.empty() && prefix.size() <= 12 &&
                        prefix.find_first_not_of("0123456789") == std::string::npos;
    auto after = j.find("after");
    if (!digits || after == j.end() || !after->is_number_unsigned()) {
      malformed("replay needs a digit prefix and an unsigned 'after'");
      return;
    }
    auto rows = store_->since(prefix, after->get<uint64_t>(), kReplayMax);
    if (!rows) {
      ++storeErrors_;
      return;
    }
    // A batch stays under the 64 KiB metadata limit every receiver enforces; "more" says ask again.
    std::string alerts;
    bool more = rows->size() == kReplayMax;
    for (const auto& row : *rows) {
      std::string a = alertJson(row.localSeq, row.eventJson);
      if (!alerts.empty() && alerts.size() + a.size() > size_t{48} * 1024) {
        more = true;
        break;
      }
      if (!alerts.empty()) alerts += ',';
      alerts += a;
    }
    std::string body = "{\"v\":1,\"type\":\"replay_batch\",\"more\":";
    body += more ? "true" : "false";
    body += ",\"alerts\":[" + alerts + "]}";
    reply(evt_, rid, body);
  }

  // ---- clips ----
  void clipReply(const zmq::message_t& rid, const json& j) { reply(clip_, rid, j.dump()); }

  void sendCredit(const zmq::message_t& rid, ClipRx& rx, bool resume) {
    clipReply(rid, {{"v", proto::kVersion},
                    {"type", "clip_credit"},
                    {"clip_id", rx.clip.clipId},
                    {"offset", rx.offset},
                    {"limit", rx.offset + kClipWindow},
                    {"resume", resume}});
  }

  void clipDone(const zmq::message_t& rid, const std::string& id, bool ok, const std::string& why) {
    clipReply(rid, {{"v", proto::kVersion},
                    {"type", "clip_done"},
                    {"clip_id", id},
                    {"ok", ok},
                    {"reason", why}});
  }

  void onClip(std::vector<zmq::message_t>& f) {
    if (f.size() < 2) {
      malformed("clip message without metadata");
      return;
    }
    auto j = proto::parseFrame(f[1].to_string_view());
    if (!j) {
      malformed("clip metadata is not a v1 JSON frame");
      return;
    }
    const std::string type = (*j)["type"].get<std::string>();
    const std::string id = j->value("clip_id", std::string());
    if (!proto::validClipId(id)) {
      malformed("bad clip id");
      return;
    }
    if (type == "clip_offer") {
      onClipOffer(f[0], *j, id, userOf(f[1]));
    } else if (type == "clip_chunk") {
      onClipChunk(f, *j, id);
    } else {
      malformed("unknown clip message type");
    }
  }

  void onClipOffer(const zmq::message_t& rid, const json& j, const std::string& id,
                   const std::string& user) {
    const std::string origin = j.value("origin", std::string());
    const auto size = j.find("size");
    const std::string sha = j.value("sha256", std::string());
    if (origin != user || size == j.end() || !size->is_number_unsigned() || sha.size() != 64) {
      malformed("bad clip offer");
      return;
    }
    if (size->get<uint64_t>() > cfg_.maxClipBytes) {
      clipDone(rid, id, false, "clip larger than this centre accepts");
      return;
    }
    if (auto has = store_->hasClip(id); has && *has) {
      clipDone(rid, id, true, "");
      return;
    }
    auto it = clipsRx_.find(id);
    if (it == clipsRx_.end()) it = clipsRx_.try_emplace(id).first;
    ClipRx& rx = it->second;
    rx.origin = origin;
    rx.clip.clipId = id;
    rx.clip.eventId = j.value("event_id", std::string());
    rx.clip.size = size->get<uint64_t>();
    rx.clip.sha256 = sha;
    rx.clip.metaJson = j.contains("meta") ? j["meta"].dump() : "{}";
    rx.partial = fs::path(cfg_.dataDir) / "clips" / (id + ".part");
    // Resume: re-hash what is already on disk, continue from its end.
    rx.out.close();
    rx.hash.finishHex();  // reset
    rx.offset = 0;
    std::error_code ec;
    if (fs::exists(rx.partial, ec)) {
      std::ifstream in(rx.partial, std::ios::binary);
      std::vector<char> buf(1 << 16);
      while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0) {
        rx.hash.update(buf.data(), static_cast<size_t>(in.gcount()));
        rx.offset += static_cast<uint64_t>(in.gcount());
      }
    }
    if (rx.offset > rx.clip.size) {
      fs::remove(rx.partial, ec);
      rx.hash.finishHex();
      rx.offset = 0;
    }
    rx.out.open(rx.partial, std::ios::binary | std::ios::app);
    if (!rx.out) {
      clipDone(rid, id, false, "cannot write");
      clipsRx_.erase(it);
      return;
    }
    if (rx.offset == rx.clip.size) {
      finishClip(rid, rx);
      return;
    }
    sendCredit(rid, rx, true);
  }

  void onClipChunk(std::vector<zmq::message_t>& f, const json& j, const std::string& id) {
    auto it = clipsRx_.find(id);
    const auto offset = j.find("offset");
    if (it == clipsRx_.end() || f.size() != 3 || offset == j.end() ||
        !offset->is_number_unsigned()) {
      malformed("clip chunk without an offer, data frame or offset");
      return;
    }
    ClipRx& rx = it->second;
    if (offset->get<uint64_t>() != rx.offset) return;  // stale after a resume: ignore
    const uint64_t n = f[2].size();
    if (rx.offset + n > rx.clip.size) {
      malformed("clip chunk beyond the offered size");
      return;
    }
    rx.out.write(static_cast<const char*>(f[2].data()), static_cast<std::streamsize>(n));
    rx.hash.update(f[2].data(), n);
    rx.offset += n;
    clipBytes_ += n;
    if (rx.offset == rx.clip.size) {
      finishClip(f[0], rx);
    } else {
      sendCredit(f[0], rx, false);
    }
  }

  void finishClip(const zmq::message_t& rid, ClipRx& rx) {
    rx.out.close();
    const std::string id = rx.clip.clipId;
    const std::string got = rx.hash.finishHex();
    std::error_code ec;
    if (got != rx.clip.sha256) {
      ++clipHashMismatches_;
      spdlog::warn("bus: clip {} from {} failed SHA-256 verification; asking again", id, rx.origin);
      fs::remove(rx.partial, ec);
      clipDone(rid, id, false, "sha256 mismatch");
      clipsRx_.erase(id);
      return;
    }
    const fs::path final = fs::path(cfg_.dataDir) / "clips" / (id + ".clip");
    fs::rename(rx.partial, final, ec);
    OutboxClip c = rx.clip;
    c.path = final.string();
    bool forward = false;
    if (upstream_) {
      auto f = store_->eventForwarded(c.eventId);
      forward = f && *f;
    }
    if (ec || !store_->recordClip(c, rx.origin, forward)) {
      ++storeErrors_;
      clipDone(rid, id, false, "cannot store");
      clipsRx_.erase(id);
      return;
    }
    ++clipsReceived_;
    clipDone(rid, id, true, "");
    clipsRx_.erase(id);
    if (forward) upstream_->notify();
  }

  CenterConfig cfg_;
  std::unordered_map<std::string, std::string> allow_;  // public key -> name
  std::function<void(const StoredAlert&)> onStored_;
  std::shared_ptr<CenterStore> store_;
  std::shared_ptr<Outbox> outbox_;
  std::unique_ptr<Publisher> upstream_;
  zmq::context_t ctx_{1};
  zmq::socket_t zap_, evt_, clip_, pub_, mon_, clipMon_, wakeRx_, wakeTx_;
  std::string wakeAddr_;
  std::string bootId_;
  int pubPort_ = 0;
  uint64_t maxSeq_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::unordered_map<std::string, ClipRx> clipsRx_;

  std::atomic<uint64_t> received_{0}, stored_{0}, duplicates_{0}, gaps_{0}, rejectedDivision_{0},
      rejectedOrigin_{0}, malformed_{0}, authFailures_{0}, forwarded_{0}, published_{0},
      replayRequests_{0}, clipsReceived_{0}, clipBytes_{0}, clipHashMismatches_{0}, storeErrors_{0},
      commits_{0};
};

}  // namespace

core::Result<std::unique_ptr<Center>> Center::create(CenterConfig config) {
  if (config.division.empty() || config.division.level() != config.level) {
    return core::makeError(core::ErrorCode::kInvalidArgument,
                           "bus centre: --division must be a code of the centre's own level");
  }
  if (config.keys.secretKey.size() != 40 || config.keys.publicKey.size() != 40) {
    return core::makeError(core::ErrorCode::kInvalidArgument,
                           "bus centre: a CURVE key pair is required");
  }
  if (config.name.empty())
    config.name = std::string(core::toString(config.level)) + "-" + config.division.str();
  if (config.upstream && config.upstream->serverPublicKey.size() != 40) {
    return core::makeError(core::ErrorCode::kInvalidArgument,
                           "bus centre: the upstream centre's public key is required");
  }
  return std::unique_ptr<Center>(std::make_unique<CenterImpl>(std::move(config)));
}

}  // namespace sharpeyes::bus
