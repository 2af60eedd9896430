#pragma once
// Cases, evidence holds and the audit log.
//
// A case (police case number) collects events and clips; a hold on a camera's time range
// exempts the segments it covers from retention until it is lifted (lifting is recorded, never
// erased). The audit log is append-only and hash-chained: entry n stores SHA-256(entry n-1's
// hash, its own fields), and a head row names the newest entry, so verifyAudit() detects an
// entry that was removed, edited or reordered. Every case/hold mutation writes its audit entry
// in the same transaction; views, exports and deletions are recorded by their callers with
// appendAudit().
//
// Thread-safety: every method may be called from any thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sharpeyes/core/camera_id.h"
#include "sharpeyes/core/clip.h"
#include "sharpeyes/core/result.h"
#include "sharpeyes/core/time.h"

namespace sharpeyes::storage {

class Database;

// Who does something, and from where ("cli", "10.1.2.3", "gateway").
struct Actor {
  std::string who;
  std::string origin;
};

struct Case {
  std::string id;  // the case number
  std::string title;
  std::string createdBy;
  core::WallTime created{};
};

struct CaseItem {
  std::string kind;  // "event" | "clip"
  std::string ref;   // event id, or clip/package path
  std::string addedBy;
  core::WallTime added{};
};

struct Hold {
  std::string id;
  std::string caseId;
  core::CameraId camera;
  core::TimeRange range;
  std::string reason;
  std::string placedBy;
  core::WallTime placed{};
  std::optional<core::WallTime> lifted;
  std::string liftedBy;
  std::string liftReason;
  bool active() const { return !lifted.has_value(); }
};

struct AuditEntry {
  int64_t seq = 0;
  core::WallTime at{};
  std::string actor;
  std::string action;  // view | export | hold | lift | delete | case_create | case_attach | ...
  std::string target;
  std::string origin;
  std::string details;
  std::string prevHash;
  std::string hash;
};

struct AuditReport {
  int64_t entries = 0;
  std::vector<std::string> problems;
  bool ok() const { return problems.empty(); }
};

class CaseStore {
 public:
  virtual ~CaseStore() = default;
  static core::Result<std::unique_ptr<CaseStore>> open(std::shared_ptr<Database> db);

  // kAlreadyExists when the case number is taken.
  virtual core::Result<Case> createCase(const std::string& id, const std::string& title,
                                        const Actor& actor) = 0;
  virtual core::Result<std::optional<Case>> getCase(const std::string& id) = 0;
  virtual core::Result<std::vector<Case>> listCases() = 0;
  // kNotFound for an unknown case; attaching the same item twice is harmless.
  virtual core::Result<void> attach(const std::string& caseId, const std::string& kind,
                                    const std::string& ref, const Actor& actor) = 0;
  virtual core::Result<std::vector<CaseItem>> items(const std::string& caseId) = 0;

  virtual core::Result<Hold> placeHold(const std::string& caseId, const core::CameraId& camera,
                                       const core::TimeRange& range, const std::string& reason,
                                       const Actor& actor) = 0;
  // kNotFound for an unknown hold, kInvalidArgument when it is already lifted.
  virtual core::Result<void> liftHold(const std::string& holdId, const std::string& reason,
                                      const Actor& actor) = 0;
  // Holds of a case (all) or, with an empty caseId, every active hold.
  virtual core::Result<std::vector<Hold>> holds(const std::string& caseId) = 0;

  virtual core::Result<AuditEntry> appendAudit(const Actor& actor, const std::string& action,
                                               const std::string& target,
                                               const std::string& details) = 0;
  // Many entries of one actor and action in one transaction (retention sweeps): each pair is
  // (target, details).
  virtual core::Result<void> appendAuditMany(
      const Actor& actor, const std::string& action,
      const std::vector<std::pair<std::string, std::string>>& targetsAndDetails) = 0;
  // Entries with seq > afterSeq, oldest first.
  virtual core::Result<std::vector<AuditEntry>> auditLog(int64_t afterSeq, int limit) = 0;
  virtual core::Result<AuditReport> verifyAudit() = 0;
};

}  // namespace sharpeyes::storage
