#pragma once
// Center: one comprehensive management centre (综治中心) of the cascade. Receives events and clips
// from gateways and lower centres under its division over CURVE-encrypted links (ZAP allowlist),
// de-duplicates and stores them in one transaction, forwards upward what the routing policy says
// through its own Publisher, and publishes stored alerts to local subscribers (PUB, topic per
// division) with replay on request.
//
// Threads: start() creates the centre's I/O thread, which owns every socket (event ROUTER, clip
// ROUTER, PUB, ZAP handler, socket monitor); the upstream Publisher has its own thread. stop() and
// stats() may be called from any thread. The onStored callback runs on the I/O thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sharpeyes/bus/keys.h"
#include "sharpeyes/bus/routing.h"
#include "sharpeyes/core/division.h"
#include "sharpeyes/core/event.h"
#include "sharpeyes/core/result.h"

namespace sharpeyes::bus {

struct UpstreamConfig {
  std::string endpoint;
  std::string clipEndpoint;
  std::string serverPublicKey;
};

struct CenterConfig {
  std::string name;  // this centre's origin name towards its upstream
  core::DivisionLevel level = core::DivisionLevel::kVillage;
  core::DivisionCode division;
  std::string dataDir;  // center.db and clips/
  std::string bindEvents = "tcp://127.0.0.1:0";
  std::string bindClips = "tcp://127.0.0.1:0";
  std::string bindPub = "tcp://127.0.0.1:0";
  KeyPair keys;
  std::vector<AllowedKey> allow;  // peers (gateways, lower centres) and subscribers
  RoutingPolicy policy;
  std::optional<UpstreamConfig> upstream;
  uint64_t outboxQuotaBytes = 256ull << 20;
  uint64_t maxClipBytes = 4ull << 30;
  bool durable = false;
  std::chrono::milliseconds heartbeatInterval{1000};
  std::chrono::milliseconds heartbeatTimeout{3000};
};

struct CenterEndpoints {
  std::string events;  // "tcp://127.0.0.1:41234" (port read back after binding)
  std::string clips;
  std::string pub;
};

struct CenterStats {
  uint64_t received = 0;  // event messages read
  uint64_t stored = 0;
  uint64_t duplicates = 0;
  uint64_t gaps = 0;  // ahead of sequence, dropped for retransmission
  uint64_t rejectedDivision = 0;
  uint64_t rejectedOrigin = 0;  // origin field not the authenticated key's name
  uint64_t malformed = 0;
  uint64_t authFailures = 0;  // ZAP denials and failed handshakes
  uint64_t forwarded = 0;
  uint64_t published = 0;
  uint64_t replayRequests = 0;
  uint64_t clipsReceived = 0;
  uint64_t clipBytes = 0;
  uint64_t clipHashMismatches = 0;
  uint64_t storeErrors = 0;
  uint64_t commits = 0;  // storing transactions (received / commits = mean group-commit size)
};

struct StoredAlert {
  uint64_t localSeq = 0;
  std::string origin;
  core::Event event;
  int64_t sentMicros = 0;  // when the previous hop transmitted it
  bool forwarded = false;
};

class Center {
 public:
  static core::Result<std::unique_ptr<Center>> create(CenterConfig config);
  virtual ~Center() = default;
  // Set before start(); runs on the I/O thread after the transaction committed.
  virtual void setOnStored(std::function<void(const StoredAlert&)> cb) = 0;
  virtual core::Result<CenterEndpoints> start() = 0;
  virtual void stop() = 0;
  virtual CenterStats stats() const = 0;
};

}  // namespace sharpeyes::bus
