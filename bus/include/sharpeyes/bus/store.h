#pragma once
// Persistence seams of the bus. Today both are implemented on the bus's own SQLite file
// (openSqliteBusStore); they are interfaces so that storage's EventStore can take them over and
// put the outbox row and the event row into one transaction of its own database.
//
// Thread-safety: every method may be called from any thread (implementations serialise).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sharpeyes/core/division.h"
#include "sharpeyes/core/event.h"
#include "sharpeyes/core/result.h"

namespace sharpeyes::bus {

struct OutboxEntry {
  uint64_t seq = 0;     // per-origin sequence number, strictly increasing, never reused
  std::string payload;  // the event as protocol JSON
};

struct OutboxClip {
  std::string clipId;  // [A-Za-z0-9_-]{1,64}
  std::string eventId;
  std::string path;  // readable file
  uint64_t size = 0;
  std::string sha256;
  std::string metaJson;  // object with camera, start, end, ... (may be "{}")
};

class Outbox {
 public:
  virtual ~Outbox() = default;
  // This outbox's identity: a random id fixed when the outbox was created, so that a receiver
  // never mistakes a recreated outbox's sequence numbers for duplicates.
  virtual std::string epoch() const = 0;
  // Appends durably (committed when this returns). Concurrent calls may share one transaction
  // (group commit); each gets its own seq, in call order per thread. kResourceExhausted when the
  // quota would be exceeded.
  virtual core::Result<uint64_t> append(std::string_view payload) = 0;
  virtual core::Result<std::vector<OutboxEntry>> after(uint64_t seq, size_t limit) = 0;
  // Removes every entry with seq <= `seq` (acknowledged by the receiver).
  virtual core::Result<void> ackThrough(uint64_t seq) = 0;
  virtual uint64_t bytesUsed() const = 0;
  virtual uint64_t quotaBytes() const = 0;

  virtual core::Result<void> appendClip(const OutboxClip& clip) = 0;
  virtual core::Result<std::optional<OutboxClip>> nextClip() = 0;
  virtual core::Result<void> removeClip(const std::string& clipId) = 0;
};

// One event arriving at a centre.
struct Incoming {
  std::string origin;  // authenticated sender name
  std::string epoch;
  uint64_t seq = 0;
  std::string eventJson;  // protocol JSON of the event, stored verbatim
  core::DivisionCode division;
  std::string eventId;
  bool forward = false;  // decided by the centre's routing policy
  bool reject = false;   // refused (outside the division, unreadable): consumes its seq, not stored
};

enum class IncomingOutcome { kStored, kDuplicate, kGap, kRejected };

struct StoredRecord {
  uint64_t localSeq = 0;  // the centre's own store sequence (what subscribers resume from)
  std::string division;
  std::string eventJson;
};

class CenterStore {
 public:
  virtual ~CenterStore() = default;
  // In ONE transaction: de-duplicates by (origin, epoch, seq), stores new events, appends the
  // ones marked `forward` to the upstream outbox, and records the new last sequence per origin.
  // `outcomes[i]` and `localSeqs[i]` (0 unless stored) describe items[i].
  virtual core::Result<void> commit(const std::vector<Incoming>& items,
                                    std::vector<IncomingOutcome>& outcomes,
                                    std::vector<uint64_t>& localSeqs) = 0;
  // Last sequence stored for an origin's epoch (0 when none).
  virtual core::Result<uint64_t> lastSeq(const std::string& origin, const std::string& epoch) = 0;
  // Stored events whose division starts with `prefix`, localSeq > after, oldest first.
  virtual core::Result<std::vector<StoredRecord>> since(std::string_view prefix, uint64_t after,
                                                        size_t limit) = 0;
  virtual core::Result<uint64_t> maxLocalSeq() = 0;
  // Clips that arrived complete; `forward` also queues them for the upstream outbox.
  virtual core::Result<void> recordClip(const OutboxClip& clip, const std::string& origin,
                                        bool forward) = 0;
  virtual core::Result<bool> hasClip(const std::string& clipId) = 0;
  // Whether the event with this id was forwarded upward (so its clip follows it).
  virtual core::Result<bool> eventForwarded(const std::string& eventId) = 0;
};

// The SQLite implementation: one file holding the outbox and (for a centre) the received events.
// WAL journal; `durable` selects synchronous=FULL (survives power loss) over NORMAL (survives a
// process crash, which is what kill -9 tests).
//
// Checkpoints (copying the WAL into the database file) run on a thread of the store's own, never
// inside a commit: they fsync, and in a commit they were the bus's latency tail. The checkpointer
// starts after `walCheckpointPages` new WAL pages and brings the WAL back to its start once it is
// `walRestartPages` long (4 KiB pages; the defaults keep it under 32 MiB).
struct SqliteBusStoreOptions {
  std::string path;
  uint64_t outboxQuotaBytes = 256ull << 20;
  bool durable = false;
  int walCheckpointPages = 512;
  int walRestartPages = 8192;
};
struct WalStats {
  uint64_t checkpoints = 0;        // passes of the checkpointer thread
  uint64_t inlineCheckpoints = 0;  // in a commit, because the WAL reached 8x walRestartPages
  uint64_t restarts = 0;           // times the WAL started again from its beginning
  uint64_t pages = 0;              // WAL length after the last commit
  uint64_t maxPages = 0;           // longest WAL seen since opening
};
struct SqliteBusStore {
  std::shared_ptr<Outbox> outbox;
  std::shared_ptr<CenterStore> center;
  std::function<WalStats()> walStats;
};
core::Result<SqliteBusStore> openSqliteBusStore(const SqliteBusStoreOptions& options);

}  // namespace sharpeyes::bus
