#pragma once
// ClipStore: the registry of exported clips (exportClip) and evidence packages
// (writeEvidencePackage), so they can be listed and fetched by id after the export returned,
// also after a restart. It records what was written; it neither writes nor deletes files.
//
// A clip may name the event it was cut for and the case it was exported for. Clips attached to
// a case later with CaseStore::attach(caseId, "clip", clipId) are listed for that case too.
//
// Thread-safety: every method may be called from any thread, concurrently (the HTTP server's
// I/O threads); statements are serialised on the Database's connection. Methods block on the
// database.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sharpeyes/core/clip.h"
#include "sharpeyes/core/result.h"
#include "sharpeyes/core/time.h"

namespace sharpeyes::storage {

class Database;

struct ClipRecord {
  core::Clip clip;  // every field as recorded (id, camera, ranges, gaps, path, bytes, hashes)
  std::string createdBy;
  core::WallTime createdAt{};  // store clock at recordClip()
  std::string eventId;         // "" when the clip was not cut for an event
  std::string caseId;          // "" when the clip was not exported for a case
};

// The fields of api::EvidencePackage.
struct EvidenceRecord {
  std::string id;      // recordEvidence() assigns core::newId() when empty
  std::string caseId;  // "" when the package belongs to no case
  std::string path;    // absolute path of the package on this gateway
  uint64_t bytes = 0;
  std::string sha256;
  std::string createdBy;
  core::WallTime createdAt{};        // recordEvidence() uses the store clock when at the epoch
  std::vector<std::string> clipIds;  // in the package's order
  std::string manifestJson;          // the manifest's exact text
};

class ClipStore {
 public:
  virtual ~ClipStore() = default;
  // kInvalidArgument for a null database.
  static core::Result<std::unique_ptr<ClipStore>> open(std::shared_ptr<Database> db);

  // kInvalidArgument: a clip without id, camera or path, or an empty eventId/caseId given as
  // such. kNotFound: `caseId` names no case (CaseStore). kAlreadyExists: the id is taken.
  virtual core::Result<ClipRecord> recordClip(const core::Clip& clip, const std::string& createdBy,
                                              const std::optional<std::string>& eventId = {},
                                              const std::optional<std::string>& caseId = {}) = 0;
  // kNotFound for an unknown id.
  virtual core::Result<ClipRecord> getClip(const std::string& id) = 0;
  // Oldest first; empty for an event without clips.
  virtual core::Result<std::vector<ClipRecord>> clipsForEvent(const std::string& eventId) = 0;
  // Clips recorded for the case or attached to it with CaseStore::attach, oldest first.
  virtual core::Result<std::vector<ClipRecord>> clipsForCase(const std::string& caseId) = 0;

  // Returns the record as stored (id and createdAt filled in). kInvalidArgument: no path.
  // kNotFound: a non-empty caseId naming no case, or a clip id that was never recorded.
  // kAlreadyExists: the id is taken.
  virtual core::Result<EvidenceRecord> recordEvidence(const EvidenceRecord& evidence) = 0;
  // kNotFound for an unknown id.
  virtual core::Result<EvidenceRecord> getEvidence(const std::string& id) = 0;
  // Oldest first.
  virtual core::Result<std::vector<EvidenceRecord>> evidenceForCase(const std::string& caseId) = 0;
};

}  // namespace sharpeyes::storage
