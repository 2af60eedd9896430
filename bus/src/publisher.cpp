#include "sharpeyes/bus/publisher.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cctype>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include "protocol.h"
#include "sharpeyes/bus/keys.h"
#include "sharpeyes/core/util.h"
#include "zmq_util.h"

namespace sharpeyes::bus {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr auto kClipSilence = std::chrono::seconds(5);  // no clip reply this long: offer again
constexpr int kClipAttempts = 3;                        // hash mismatches before giving up
constexpr size_t kLoadBatch = 512;
// Acknowledged rows are deleted from the outbox in batches, not per ack: a delete is a write
// transaction (~as costly as storing the event) that would contend with publish() and, in a centre,
// with the storing transaction. The ack itself is processed at once (the window moves on and the
// rows are never read again); only the delete lags, by at most this long. A crash before the
// delete re-sends those rows, which the receiver recognises as duplicates and acks again.
constexpr auto kTrimEvery = std::chrono::milliseconds(50);
constexpr uint64_t kTrimRows = 4096;

bool validOrigin(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

// The clip being sent (at namespace scope: an optional of a nested struct with default member
// initialisers cannot be emplaced inside its enclosing class's definition).
struct ClipTx {
  OutboxClip clip;
  std::ifstream file;
  uint64_t sent = 0;
  uint64_t limit = 0;
  bool credited = false;
  int attempts = 0;
  Clock::time_point lastHeard;
};

class PublisherImpl final : public Publisher {
 public:
  PublisherImpl(PublisherConfig cfg, std::shared_ptr<Outbox> outbox)
      : cfg_(std::move(cfg)), outbox_(std::move(outbox)) {}

  ~PublisherImpl() override { stop(); }

  void setOutboxFullCallback(std::function<void(uint64_t, uint64_t)> cb) override {
    fullCb_ = std::move(cb);
  }

  core::Result<void> start() override {
    if (thread_.joinable()) return core::okResult();
    const std::string tag = core::newId();
    wakeAddr_ = "inproc://bus-pub-wake-" + tag;
    monAddr_ = "inproc://bus-pub-mon-" + tag;
    try {
      wakeRx_ = zmq::socket_t(ctx_, zmq::socket_type::pull);
      wakeRx_.bind(wakeAddr_);
      post_ = zmq::socket_t(ctx_, zmq::socket_type::push);
      post_.set(zmq::sockopt::linger, 0);
      post_.connect(wakeAddr_);
      evt_ = zmq::socket_t(ctx_, zmq::socket_type::dealer);
      setup(evt_);
      evt_.set(zmq::sockopt::sndhwm, static_cast<int>(cfg_.window * 2 + 16));
      mon_ = zu::monitor(ctx_, evt_, monAddr_,
                         ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                             ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                             ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL);
      evt_.connect(cfg_.endpoint);
      if (!cfg_.clipEndpoint.empty()) {
        clip_ = zmq::socket_t(ctx_, zmq::socket_type::dealer);
        setup(clip_);
        clip_.set(zmq::sockopt::sndhwm, 64);
        clip_.connect(cfg_.clipEndpoint);
      }
    } catch (const zmq::error_t& e) {
      return core::makeError(core::ErrorCode::kInvalidArgument,
                             "bus publisher: cannot connect to " + cfg_.endpoint + ": " + e.what());
    }
    stopping_ = false;
    rto_ = cfg_.retransmitInitial;
    thread_ = std::thread([this] { loop(); });
    return core::okResult();
  }

  void stop() override {
    if (!thread_.joinable()) return;
    stopping_ = true;
    wake(true);
    thread_.join();
    std::lock_guard lock(postMu_);
    post_.close();
  }

  core::Result<uint64_t> publish(const core::Event& event) override {
    std::string payload = proto::eventToJson(event).dump();
    auto r = outbox_->append(payload);
    if (!r) {
      if (r.error().code == core::ErrorCode::kResourceExhausted) {
        ++outboxFull_;
        if (!fullLatched_.exchange(true)) {
          spdlog::error(
              "bus: outbox full ({} of {} bytes): new events are refused until the "
              "upstream centre acknowledges",
              outbox_->bytesUsed(), outbox_->quotaBytes());
          if (fullCb_) fullCb_(outbox_->bytesUsed(), outbox_->quotaBytes());
        }
      }
      return r;
    }
    ++published_;
    if (fullLatched_ && outbox_->bytesUsed() < outbox_->quotaBytes() / 10 * 8) {
      fullLatched_ = false;
    }
    wake(false);
    return r;
  }

  core::Result<void> publishClip(const ClipOffer& offer) override {
    OutboxClip c;
    c.clipId = offer.clipId.empty() ? core::newId() : offer.clipId;
    if (!proto::validClipId(c.clipId)) {
      return core::makeError(core::ErrorCode::kInvalidArgument, "bad clip id");
    }
    c.eventId = offer.eventId;
    c.path = offer.path;
    std::error_code ec;
    const auto size = std::filesystem::file_size(offer.path, ec);
    if (ec)
      return core::makeError(core::ErrorCode::kNotFound,
                             "clip " + offer.path + ": " + ec.message());
    c.size = size;
    c.sha256 = offer.sha256;
    if (c.sha256.empty()) {
      auto h = core::sha256File(offer.path);
      if (!h) return h.error();
      c.sha256 = *h;
    }
    json meta = json::parse(offer.metaJson.empty() ? "{}" : offer.metaJson, nullptr, false);
    if (meta.is_discarded() || !meta.is_object()) {
      return core::makeError(core::ErrorCode::kInvalidArgument,
                             "clip metadata must be a JSON object");
    }
    c.metaJson = meta.dump();
    if (auto r = outbox_->appendClip(c); !r) return r;
    wake(false);
    return core::okResult();
  }

  void notify() override { wake(false); }

  PublisherStats stats() const override {
    PublisherStats s;
    s.published = published_;
    s.sent = sent_;
    s.retransmitted = retransmitted_;
    s.acked = acked_;
    s.rejected = rejected_;
    // Acknowledged rows awaiting their batched delete no longer count (read before the outbox's
    // figure: a delete in between can only make this transiently low, never high).
    const uint64_t untrimmed = untrimmedBytes_;
    const uint64_t used = outbox_->bytesUsed();
    s.outboxBytes = used > untrimmed ? used - untrimmed : 0;
    s.outboxQuotaBytes = outbox_->quotaBytes();
    s.outboxFull = outboxFull_;
    s.clipsSent = clipsSent_;
    s.clipBytesSent = clipBytesSent_;
    s.clipFailures = clipFailures_;
    s.malformed = malformed_;
    s.connected = connected_;
    return s;
  }

 private:
  void setup(zmq::socket_t& s) {
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::immediate, true);  // no queueing towards a peer that is not there
    s.set(zmq::sockopt::maxmsgsize, proto::kMaxClipFrameBytes + proto::kMaxMetaBytes);
    s.set(zmq::sockopt::reconnect_ivl, 100);
    s.set(zmq::sockopt::reconnect_ivl_max, 2000);
    zu::curveClient(s, cfg_.serverPublicKey, cfg_.publicKey, cfg_.secretKey);
    zu::heartbeat(s, cfg_.heartbeatInterval, cfg_.heartbeatTimeout);
  }

  // Any thread. Coalesces wake-ups: one message in flight is enough.
  void wake(bool force) {
    if (!force && wakePending_.exchange(true)) return;
    std::lock_guard lock(postMu_);
    if (post_) (void)post_.send(zmq::buffer("w", 1), zmq::send_flags::dontwait);
  }

  // ---- I/O thread ----
  void loop() {
    pthread_setname_np(pthread_self(), "bus-publisher");  // tells the threads apart in top and perf
    moreInDb_ = true;
    std::vector<zmq::message_t> frames;
    while (!stopping_) {
      refill();
      sendEvents();
      pumpClip();
      zmq::pollitem_t items[] = {
          {wakeRx_.handle(), 0, ZMQ_POLLIN, 0},
          {evt_.handle(), 0, ZMQ_POLLIN, 0},
          {mon_.handle(), 0, ZMQ_POLLIN, 0},
          {clip_ ? clip_.handle() : nullptr, 0, static_cast<short>(clip_ ? ZMQ_POLLIN : 0), 0},
      };
      trim(false);
      int64_t timeout = 200;
      if (sendIdx_ > 0) timeout = std::min<int64_t>(timeout, zu::msUntil(lastProgress_ + rto_));
      if (acked_ > trimmed_)
        timeout = std::min<int64_t>(timeout, zu::msUntil(lastTrim_ + kTrimEvery));
      try {
        zmq::poll(items, clip_ ? 4 : 3, std::chrono::milliseconds(timeout));
      } catch (const zmq::error_t&) {
        continue;  // EINTR
      }
      if (items[0].revents & ZMQ_POLLIN) {
        zmq::message_t m;
        while (wakeRx_.recv(m, zmq::recv_flags::dontwait)) {
        }
        // Cleared only after draining: a wake() that found the flag set relies on a message that
        // is still queued or on the refill below. Clearing before draining lost wake-ups (a
        // message drained with the flag left set suppressed every later wake(): a stalled link).
        wakePending_ = false;
        moreInDb_ = true;
        clipCheck_ = true;
      }
      if (items[1].revents & ZMQ_POLLIN) {
        for (int i = 0; i < 10000 && zu::recvAll(evt_, frames); ++i) onEventReply(frames);
      }
      if (items[2].revents & ZMQ_POLLIN) {
        zu::MonitorEvent ev;
        while (zu::readMonitor(mon_, ev)) onMonitor(ev);
      }
      if (clip_ && (items[3].revents & ZMQ_POLLIN)) {
        for (int i = 0; i < 1000 && zu::recvAll(clip_, frames); ++i) onClipReply(frames);
      }
      checkRetransmit();
    }
    trim(true);
    evt_.close();
    mon_.close();
    if (clip_) clip_.close();
    wakeRx_.close();
  }

  void refill() {
    while (moreInDb_ && pending_.size() < cfg_.window) {
      auto r = outbox_->after(lastLoaded_, kLoadBatch);
      if (!r) {
        if (!storeFaultLogged_) spdlog::error("bus: outbox read failed: {}", r.error().describe());
        storeFaultLogged_ = true;
        return;
      }
      storeFaultLogged_ = false;
      for (auto& e : *r) pending_.push_back(std::move(e));
      if (!pending_.empty()) lastLoaded_ = pending_.back().seq;
      if (r->size() < kLoadBatch) moreInDb_ = false;
    }
  }

  void sendEvents() {
    const size_t limit = std::min(pending_.size(), cfg_.window);
    while (sendIdx_ < limit) {
      const OutboxEntry& e = pending_[sendIdx_];
      std::string msg = prefix();
      msg += std::to_string(e.seq);
      msg += ",\"sent_us\":";
      msg += std::to_string(proto::nowMicros());
      msg += ",\"event\":";
      msg += e.payload;
      msg += '}';
      if (!evt_.send(zmq::buffer(msg), zmq::send_flags::dontwait)) break;  // not connected / full
      if (sendIdx_ == 0) lastProgress_ = Clock::now();
      if (e.seq <= highestSent_) {
        ++retransmitted_;
      } else {
        highestSent_ = e.seq;
      }
      ++sent_;
      ++sendIdx_;
    }
  }

  const std::string& prefix() {
    if (prefix_.empty()) {
      prefix_ = "{\"v\":1,\"type\":\"event\",\"origin\":" + json(cfg_.origin).dump() +
                ",\"epoch\":" + json(outbox_->epoch()).dump() + ",\"seq\":";
    }
    return prefix_;
  }

  void checkRetransmit() {
    if (sendIdx_ == 0 || Clock::now() < lastProgress_ + rto_) return;
    // Go-back-N: the receiver only accepts the next sequence number, so resend from the oldest.
    sendIdx_ = 0;
    rto_ = std::min(rto_ * 2, cfg_.retransmitMax);
    lastProgress_ = Clock::now();
  }

  void onEventReply(std::vector<zmq::message_t>& frames) {
    auto j = proto::parseFrame(frames.empty() ? std::string_view() : frames[0].to_string_view());
    if (!j) {
      ++malformed_;
      return;
    }
    const std::string type = (*j)["type"].get<std::string>();
    const auto seqIt = j->find("seq");
    const auto epochIt = j->find("epoch");
    if (seqIt == j->end() || !seqIt->is_number_unsigned() || epochIt == j->end() ||
        !epochIt->is_string() || epochIt->get<std::string>() != outbox_->epoch()) {
      ++malformed_;
      return;
    }
    const uint64_t seq = seqIt->get<uint64_t>();
    if (type == "ack") {
      onAck(seq);
    } else if (type == "reject") {
      ++rejected_;
      const auto reason = j->value("reason", std::string("?"));
      if (rejected_ == 1 || rejected_ % 1000 == 0) {
        spdlog::warn("bus: upstream refused event seq {} ({}); {} refused so far", seq, reason,
                     rejected_.load());
      }
    } else {
      ++malformed_;
    }
  }

  void onAck(uint64_t seq) {
    if (seq <= acked_) return;
    size_t popped = 0;
    while (!pending_.empty() && pending_.front().seq <= seq) {
      untrimmedBytes_ += pending_.front().payload.size();
      pending_.pop_front();
      ++popped;
    }
    sendIdx_ = sendIdx_ > popped ? sendIdx_ - popped : 0;
    if (seq > lastLoaded_) lastLoaded_ = seq;
    acked_ = seq;
    // Adapt the timeout to how long the receiver takes (a loaded centre commits slowly), so a
    // slow acknowledgement does not trigger a spurious go-back-N resend of the whole window.
    const auto now = Clock::now();
    const auto sample = std::chrono::duration_cast<std::chrono::microseconds>(now - lastProgress_);
    srtt_ = srtt_.count() == 0 ? sample : (srtt_ * 7 + sample) / 8;
    rto_ = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(srtt_ * 4),
                      cfg_.retransmitInitial, cfg_.retransmitMax);
    lastProgress_ = now;
    moreInDb_ = true;
  }

  // Deletes acknowledged rows: when `force`, or every kTrimEvery, or when kTrimRows are waiting.
  void trim(bool force) {
    const uint64_t acked = acked_;
    if (acked <= trimmed_) return;
    const auto now = Clock::now();
    if (!force && now < lastTrim_ + kTrimEvery && acked - trimmed_ < kTrimRows) return;
    lastTrim_ = now;
    if (auto r = outbox_->ackThrough(acked); !r) {
      if (!storeFaultLogged_) spdlog::error("bus: outbox trim failed: {}", r.error().describe());
      storeFaultLogged_ = true;
      return;
    }
    trimmed_ = acked;
    untrimmedBytes_ = 0;
  }

  void onMonitor(const zu::MonitorEvent& ev) {
    switch (ev.event) {
      case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        if (!connected_) spdlog::info("bus: connected to upstream {}", cfg_.endpoint);
        connected_ = true;
        authLogged_ = false;
        // Whatever was in flight on a previous connection may be gone. (Not on the first one:
        // with ZMQ_IMMEDIATE nothing was sent before it, and this event may arrive after sends.)
        if (rewindOnConnect_) sendIdx_ = 0;
        rewindOnConnect_ = false;
        rto_ = cfg_.retransmitInitial;
        break;
      case ZMQ_EVENT_DISCONNECTED:
        if (connected_) spdlog::warn("bus: upstream {} disconnected", cfg_.endpoint);
        connected_ = false;
        rewindOnConnect_ = true;
        break;
      default:
        if (!authLogged_) {
          spdlog::error(
              "bus: upstream {} refused the handshake (event {}, code {}): check that "
              "our public key is on its allowlist",
              cfg_.endpoint, ev.event, ev.value);
        }
        authLogged_ = true;
        connected_ = false;
        break;
    }
  }

  // ---- clips ----
  void sendOffer() {
    json offer = {{"v", proto::kVersion},          {"type", "clip_offer"},
                  {"origin", cfg_.origin},         {"clip_id", tx_->clip.clipId},
                  {"event_id", tx_->clip.eventId}, {"size", tx_->clip.size},
                  {"sha256", tx_->clip.sha256}};
    offer["meta"] = json::parse(tx_->clip.metaJson, nullptr, false);
    if (offer["meta"].is_discarded()) offer["meta"] = json::object();
    (void)clip_.send(zmq::buffer(offer.dump()), zmq::send_flags::dontwait);
    tx_->credited = false;
    tx_->lastHeard = Clock::now();
  }

  void dropClip(const std::string& why) {
    spdlog::error("bus: clip {} dropped: {}", tx_->clip.clipId, why);
    ++clipFailures_;
    (void)outbox_->removeClip(tx_->clip.clipId);
    tx_.reset();
    clipCheck_ = true;
  }

  void pumpClip() {
    if (!clip_) return;
    if (!tx_ && clipCheck_) {
      clipCheck_ = false;
      auto next = outbox_->nextClip();
      if (!next || !next->has_value()) return;
      tx_.emplace();
      tx_->clip = std::move(**next);
      tx_->file.open(tx_->clip.path, std::ios::binary);
      if (!tx_->file) {
        dropClip("cannot open " + tx_->clip.path);
        return;
      }
      sendOffer();
    }
    if (!tx_) return;
    if (Clock::now() - tx_->lastHeard > kClipSilence) {
      sendOffer();  // the receiver answers with the offset to resume from
      return;
    }
    if (!tx_->credited) return;
    std::string buf;
    while (tx_->sent < std::min(tx_->limit, tx_->clip.size)) {
      const uint64_t n = std::min<uint64_t>(
          {cfg_.clipChunkBytes, tx_->limit - tx_->sent, tx_->clip.size - tx_->sent});
      buf.resize(n);
      tx_->file.clear();
      tx_->file.seekg(static_cast<std::streamoff>(tx_->sent));
      if (!tx_->file.read(buf.data(), static_cast<std::streamsize>(n))) {
        dropClip("read error in " + tx_->clip.path);
        return;
      }
      json meta = {{"v", proto::kVersion},
                   {"type", "clip_chunk"},
                   {"clip_id", tx_->clip.clipId},
                   {"offset", tx_->sent}};
      const std::string m = meta.dump();
      if (!clip_.send(zmq::buffer(m), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) break;
      (void)clip_.send(zmq::buffer(buf), zmq::send_flags::none);
      tx_->sent += n;
      clipBytesSent_ += n;
    }
  }

  void onClipReply(std::vector<zmq::message_t>& frames) {
    auto j = proto::parseFrame(frames.empty() ? std::string_view() : frames[0].to_string_view());
    if (!j || !tx_ || j->value("clip_id", std::string()) != tx_->clip.clipId) {
      if (!j) ++malformed_;
      return;
    }
    tx_->lastHeard = Clock::now();
    const std::string type = (*j)["type"].get<std::string>();
    if (type == "clip_credit") {
      const uint64_t offset = j->value("offset", uint64_t{0});
      const uint64_t limit = j->value("limit", uint64_t{0});
      // A "resume" credit answers an offer and says where the receiver's copy ends; the others
      // only raise the limit.
      if (j->value("resume", false)) {
        tx_->sent = offset;
        tx_->limit = limit;
      } else {
        tx_->limit = std::max(limit, tx_->limit);
      }
      tx_->credited = true;
    } else if (type == "clip_done") {
      if (j->value("ok", false)) {
        ++clipsSent_;
        (void)outbox_->removeClip(tx_->clip.clipId);
        tx_.reset();
        clipCheck_ = true;
      } else if (++tx_->attempts >= kClipAttempts) {
        dropClip("refused by the receiver: " + j->value("reason", std::string("?")));
      } else {
        sendOffer();
      }
    }
  }

  PublisherConfig cfg_;
  std::shared_ptr<Outbox> outbox_;
  zmq::context_t ctx_{1};
  std::string wakeAddr_, monAddr_;
  std::mutex postMu_;
  zmq::socket_t post_;
  std::atomic<bool> wakePending_{false};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::function<void(uint64_t, uint64_t)> fullCb_;
  std::atomic<bool> fullLatched_{false};

  // I/O thread only.
  zmq::socket_t wakeRx_, evt_, mon_, clip_;
  std::deque<OutboxEntry> pending_;  // unacknowledged, oldest first
  size_t sendIdx_ = 0;               // pending_[0, sendIdx_) are in flight
  uint64_t lastLoaded_ = 0;
  uint64_t highestSent_ = 0;
  uint64_t trimmed_ = 0;  // outbox rows <= this are deleted
  Clock::time_point lastTrim_ = Clock::now();
  bool moreInDb_ = true;
  bool clipCheck_ = true;
  bool storeFaultLogged_ = false;
  bool authLogged_ = false;
  bool rewindOnConnect_ = false;
  std::string prefix_;
  Clock::time_point lastProgress_ = Clock::now();
  std::chrono::milliseconds rto_{250};
  std::chrono::microseconds srtt_{0};
  std::optional<ClipTx> tx_;

  std::atomic<uint64_t> published_{0}, sent_{0}, retransmitted_{0}, acked_{0}, rejected_{0},
      outboxFull_{0}, clipsSent_{0}, clipBytesSent_{0}, clipFailures_{0}, malformed_{0},
      untrimmedBytes_{0};  // payload bytes of acknowledged rows not yet deleted
  std::atomic<bool> connected_{false};
};

}  // namespace

core::Result<std::unique_ptr<Publisher>> Publisher::create(PublisherConfig config,
                                                           std::shared_ptr<Outbox> outbox) {
  if (!validOrigin(config.origin)) {
    return core::makeError(core::ErrorCode::kInvalidArgument,
                           "bus publisher: origin must be 1..64 of [A-Za-z0-9._-]");
  }
  if (config.endpoint.empty()) {
    return core::makeError(core::ErrorCode::kInvalidArgument,
                           "bus publisher: no upstream endpoint");
  }
  for (const auto* k : {&config.serverPublicKey, &config.publicKey, &config.secretKey}) {
    if (k->size() != 40) {
      return core::makeError(core::ErrorCode::kInvalidArgument,
                             "bus publisher: CURVE keys (server public, own public and secret) are "
                             "required on every link");
    }
  }
  if (config.window == 0) config.window = 1;
  if (config.clipChunkBytes == 0 ||
      config.clipChunkBytes > static_cast<size_t>(proto::kMaxChunkBytes)) {
    config.clipChunkBytes = size_t{256} * 1024;
  }
  if (!outbox) {
    auto store = openSqliteBusStore({config.outboxPath, config.outboxQuotaBytes, config.durable});
    if (!store) return store.error();
    outbox = store->outbox;
  }
  auto p = std::make_unique<PublisherImpl>(std::move(config), std::move(outbox));
  return std::unique_ptr<Publisher>(std::move(p));
}

}  // namespace sharpeyes::bus
