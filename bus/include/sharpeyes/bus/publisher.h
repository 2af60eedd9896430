#pragma once
// Publisher: the sending end of a reliable link to an upstream centre (gateway -> centre and
// centre -> upper centre). Events are written to a persistent outbox before publish() returns,
// carry a per-origin sequence number, and stay in the outbox until the receiver acknowledges them;
// unacknowledged events are retransmitted with exponential backoff (go-back-N from the oldest
// unacknowledged), so per-origin (and so per-camera) order is kept. Clips travel on a second
// connection in chunks under the receiver's credit, so a large clip never delays an alert.
//
// Threads: the publisher owns one I/O thread that owns both sockets; publish(), publishClip(),
// notify() and stats() may be called from any thread (they write to the outbox and post a wake-up
// over inproc). Callbacks run on the I/O thread and must not block.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "sharpeyes/bus/store.h"
#include "sharpeyes/core/event.h"
#include "sharpeyes/core/result.h"

namespace sharpeyes::bus {

struct PublisherConfig {
  std::string origin;           // this sender's name; must equal its name in the centre's allowlist
  std::string endpoint;         // upstream centre's event endpoint, "tcp://10.1.2.3:7701"
  std::string clipEndpoint;     // upstream centre's clip endpoint; empty: clips stay queued
  std::string serverPublicKey;  // upstream centre's public key (Z85)
  std::string publicKey;        // own key pair (Z85)
  std::string secretKey;
  std::string outboxPath;  // SQLite file; ignored when an Outbox is passed to create()
  uint64_t outboxQuotaBytes = 256ull << 20;
  bool durable = false;  // outbox synchronous=FULL
  size_t window = 2000;  // unacknowledged events in flight
  std::chrono::milliseconds retransmitInitial{250};
  std::chrono::milliseconds retransmitMax{5000};
  std::chrono::milliseconds heartbeatInterval{1000};  // ZMTP PING
  std::chrono::milliseconds heartbeatTimeout{3000};   // peer dead after this without traffic
  size_t clipChunkBytes = size_t{256} * 1024;
};

struct PublisherStats {
  uint64_t published = 0;  // appended to the outbox
  uint64_t sent = 0;       // transmissions, first and repeated
  uint64_t retransmitted = 0;
  uint64_t acked = 0;        // highest acknowledged sequence number
  uint64_t rejected = 0;     // events the receiver refused (outside its division)
  uint64_t outboxBytes = 0;  // payload bytes of unacknowledged events (acked rows are deleted
                             // in batches; they no longer count)
  uint64_t outboxQuotaBytes = 0;
  uint64_t outboxFull = 0;  // publish() calls refused by the quota
  uint64_t clipsSent = 0;
  uint64_t clipBytesSent = 0;
  uint64_t clipFailures = 0;
  uint64_t malformed = 0;  // unreadable replies dropped
  bool connected = false;
};

// A clip to send after (or with) its event.
struct ClipOffer {
  std::string clipId;  // [A-Za-z0-9_-]{1,64}; newId() when empty
  std::string eventId;
  std::string path;
  std::string sha256;  // computed when empty
  std::string metaJson = "{}";
};

class Publisher {
 public:
  // Uses `outbox` when given (a centre shares its store), else opens config.outboxPath.
  static core::Result<std::unique_ptr<Publisher>> create(PublisherConfig config,
                                                         std::shared_ptr<Outbox> outbox = nullptr);
  virtual ~Publisher() = default;

  // Called once with (used, quota) each time the outbox fills up (the quota refuses an event);
  // runs on the thread that called publish(). Set before start().
  virtual void setOutboxFullCallback(std::function<void(uint64_t, uint64_t)> cb) = 0;
  virtual core::Result<void> start() = 0;
  virtual void stop() = 0;  // idempotent; unacknowledged events stay in the outbox

  // Persists the event (durable when this returns ok) and wakes the I/O thread. Any thread.
  virtual core::Result<uint64_t> publish(const core::Event& event) = 0;
  virtual core::Result<void> publishClip(const ClipOffer& clip) = 0;
  // Someone else appended to the shared outbox: look for new entries. Any thread.
  virtual void notify() = 0;
  virtual PublisherStats stats() const = 0;
};

}  // namespace sharpeyes::bus
