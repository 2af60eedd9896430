#pragma once
// Subscriber: a local client of one centre (village platform, household terminal, alert desk).
// Connects to the centre's event endpoint (CURVE), learns the PUB port, subscribes to one division
// subtree, and asks for what it missed since its last sequence number on start, whenever the
// centre restarts or goes quiet, and periodically, so every stored alert is delivered exactly once
// in store order.
//
// Threads: run() blocks on the calling thread, which owns the sockets, until stop() (any thread).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "sharpeyes/core/division.h"
#include "sharpeyes/core/event.h"
#include "sharpeyes/core/result.h"

namespace sharpeyes::bus {

struct SubscriberConfig {
  std::string endpoint;  // the centre's event endpoint
  std::string serverPublicKey;
  std::string publicKey;
  std::string secretKey;
  core::DivisionCode division;
  uint64_t afterSeq = 0;                         // resume point (last localSeq already handled)
  std::chrono::milliseconds quietTimeout{3000};  // no heartbeat this long: re-sync
  std::chrono::milliseconds periodicReplay{5000};
};

struct ReceivedAlert {
  uint64_t localSeq = 0;
  std::string center;
  std::string json;  // the alert message as published
  core::Event event;
  bool replayed = false;
};

class Subscriber {
 public:
  static core::Result<std::unique_ptr<Subscriber>> create(SubscriberConfig config);
  virtual ~Subscriber() = default;
  // Delivers each alert once, in localSeq order. Returns when stop() is called.
  virtual core::Result<void> run(const std::function<void(const ReceivedAlert&)>& onAlert) = 0;
  virtual void stop() = 0;
  virtual uint64_t lastSeq() const = 0;
  virtual uint64_t malformed() const = 0;
};

}  // namespace sharpeyes::bus
