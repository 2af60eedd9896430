#include "sharpeyes/bus/subscriber.h"

#include <spdlog/spdlog.h>

#include "protocol.h"
#include "sharpeyes/bus/routing.h"
#include "zmq_util.h"

namespace sharpeyes::bus {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr auto kRequestTimeout = std::chrono::seconds(3);

// Live PUB messages are only a hint: delivery goes through replay from the last sequence number,
// so a message PUB dropped (slow subscriber, reconnect) can never be skipped over, and each alert
// is delivered once, in the centre's store order.
class SubscriberImpl final : public Subscriber {
 public:
  explicit SubscriberImpl(SubscriberConfig cfg) : cfg_(std::move(cfg)), last_(cfg_.afterSeq) {}

  core::Result<void> run(const std::function<void(const ReceivedAlert&)>& onAlert) override {
    zmq::context_t ctx(1);
    zmq::socket_t req(ctx, zmq::socket_type::dealer);
    zmq::socket_t sub(ctx, zmq::socket_type::sub);
    try {
      for (auto* s : {&req, &sub}) {
        s->set(zmq::sockopt::linger, 0);
        s->set(zmq::sockopt::reconnect_ivl, 100);
        s->set(zmq::sockopt::reconnect_ivl_max, 1000);
        zu::curveClient(*s, cfg_.serverPublicKey, cfg_.publicKey, cfg_.secretKey);
        zu::heartbeat(*s, std::chrono::milliseconds(1000), std::chrono::milliseconds(3000));
      }
      req.set(zmq::sockopt::immediate, true);
      req.connect(cfg_.endpoint);
    } catch (const zmq::error_t& e) {
      return core::makeError(core::ErrorCode::kInvalidArgument,
                             "subscriber: cannot connect to " + cfg_.endpoint + ": " + e.what());
    }
    const std::string prefix(cfg_.division.prefix());
    bool subscribed = false;
    bool inFlight = false;
    bool needSync = true;
    bool haveHb = false;
    uint64_t hint = 0;
    std::string boot;
    auto requestSent = Clock::now() - std::chrono::hours(1);
    auto lastHb = Clock::now();
    auto lastSync = Clock::now();
    std::vector<zmq::message_t> frames;

    auto send = [&](const json& j) {
      if (req.send(zmq::buffer(j.dump()), zmq::send_flags::dontwait)) {
        inFlight = true;
        requestSent = Clock::now();
      }
    };

    while (!stopping_) {
      const auto now = Clock::now();
      if (inFlight && now - requestSent > kRequestTimeout) inFlight = false;  // lost: ask again
      if (!subscribed && !inFlight) {
        send({{"v", proto::kVersion}, {"type", "hello"}});
      } else if (subscribed && !inFlight && haveHb && (needSync || hint > last_)) {
        send({{"v", proto::kVersion},
              {"type", "replay"},
              {"prefix", prefix},
              {"after", last_.load()}});
        needSync = false;
        lastSync = now;
      }
      if (subscribed && now - lastHb > cfg_.quietTimeout) {
        haveHb = false;  // centre gone quiet: resync once its heartbeat is back
        needSync = true;
        lastHb = now;
      }
      if (subscribed && now - lastSync > cfg_.periodicReplay) needSync = true;

      zmq::pollitem_t items[] = {{req.handle(), 0, ZMQ_POLLIN, 0},
                                 {sub.handle(), 0, ZMQ_POLLIN, 0}};
      try {
        zmq::poll(items, 2, std::chrono::milliseconds(100));
      } catch (const zmq::error_t&) {
        continue;
      }
      while ((items[0].revents & ZMQ_POLLIN) && zu::recvAll(req, frames)) {
        auto j = proto::parseFrame(frames[0].to_string_view());
        if (!j) {
          ++malformed_;
          continue;
        }
        const std::string type = (*j)["type"].get<std::string>();
        if (type == "hello_ok" && !subscribed) {
          inFlight = false;
          center_ = j->value("center", std::string());
          const int port = j->value("pub_port", 0);
          const auto colon = cfg_.endpoint.rfind(':');
          if (port <= 0 || colon == std::string::npos) {
            ++malformed_;
            continue;
          }
          try {
            sub.connect(cfg_.endpoint.substr(0, colon + 1) + std::to_string(port));
            sub.set(zmq::sockopt::subscribe, subscriptionTopic(cfg_.division));
            sub.set(zmq::sockopt::subscribe, std::string(kHeartbeatTopic));
          } catch (const zmq::error_t& e) {
            return core::makeError(core::ErrorCode::kUnavailable,
                                   std::string("subscriber: ") + e.what());
          }
          subscribed = true;
        } else if (type == "replay_batch") {
          inFlight = false;
          const auto alerts = j->find("alerts");
          if (alerts == j->end() || !alerts->is_array()) {
            ++malformed_;
            continue;
          }
          for (const auto& a : *alerts) deliver(a, onAlert);
          if (j->value("more", false)) needSync = true;
        }
      }
      while ((items[1].revents & ZMQ_POLLIN) && zu::recvAll(sub, frames)) {
        if (frames.size() != 2) {
          ++malformed_;
          continue;
        }
        auto j = proto::parseFrame(frames[1].to_string_view());
        if (!j) {
          ++malformed_;
          continue;
        }
        if (frames[0].to_string_view() == kHeartbeatTopic) {
          lastHb = Clock::now();
          const std::string b = j->value("boot", std::string());
          if (!haveHb || b != boot) needSync = true;  // first beat, or the centre restarted
          boot = b;
          haveHb = true;
        } else {
          hint = std::max(hint, j->value("seq", uint64_t{0}));
        }
      }
    }
    return core::okResult();
  }

  void stop() override { stopping_ = true; }
  uint64_t lastSeq() const override { return last_; }
  uint64_t malformed() const override { return malformed_; }

 private:
  void deliver(const json& a, const std::function<void(const ReceivedAlert&)>& onAlert) {
    const auto seq = a.find("seq");
    const auto ev = a.find("event");
    if (!a.is_object() || seq == a.end() || !seq->is_number_unsigned() || ev == a.end()) {
      ++malformed_;
      return;
    }
    if (seq->get<uint64_t>() <= last_) return;
    auto event = proto::eventFromJson(*ev);
    if (!event) {
      ++malformed_;
      return;
    }
    ReceivedAlert r;
    r.localSeq = seq->get<uint64_t>();
    r.center = a.value("center", std::string());
    r.json = a.dump();
    r.event = std::move(*event);
    r.replayed = true;
    last_ = r.localSeq;
    onAlert(r);
  }

  SubscriberConfig cfg_;
  std::atomic<uint64_t> last_;
  std::atomic<uint64_t> malformed_{0};
  std::atomic<bool> stopping_{false};
  std::string center_;
};

}  // namespace

core::Result<std::unique_ptr<Subscriber>> Subscriber::create(SubscriberConfig config) {
  if (config.division.empty()) {
    return core::makeError(core::ErrorCode::kInvalidArgument, "subscriber: a division is required");
  }
  for (const auto* k : {&config.serverPublicKey, &config.publicKey, &config.secretKey}) {
    if (k->size() != 40) {
      return core::makeError(core::ErrorCode::kInvalidArgument,
                             "subscriber: CURVE keys (centre public, own public and secret) are "
                             "required");
    }
  }
  return std::unique_ptr<Subscriber>(std::make_unique<SubscriberImpl>(std::move(config)));
}

}  // namespace sharpeyes::bus
