#pragma once
// Clip export and evidence packages.
//
// exportClip() cuts [t0, t1] of one camera out of its recorded segments by remuxing with
// libavformat (no re-encode): it starts at the keyframe at or before t0, crosses segment
// boundaries, keeps timestamps true to wall time (a gap stays a gap in the timeline and is
// reported), and writes one MP4 with its index at the front (faststart) so browsers play it.
// Every source segment is re-hashed while it is read and must match its index row; a segment
// that retention is deleting either is read completely (the open file keeps its bytes) or the
// export fails with a clear error — never a silently shorter clip.
//
// An evidence package is a directory: clip.mp4, manifest.json (camera, division, time ranges,
// gaps, SHA-256 of each source segment and of the clip, exporter, case number, export time) and
// manifest.sig (Ed25519 over the manifest's exact bytes, OpenSSL), plus signer.pub.pem.
// verifyEvidencePackage() checks it offline against a trusted public key.
//
// Threading: free functions, safe to call from any thread; they block on file I/O (call them
// from a worker, not an event loop).

#include <chrono>
#include <string>
#include <vector>

#include "sharpeyes/core/clip.h"
#include "sharpeyes/core/division.h"
#include "sharpeyes/core/result.h"

namespace sharpeyes::storage {

class SegmentIndex;

struct ClipRequest {
  core::CameraId camera;
  core::TimeRange range;
  std::string outputPath;  // absolute path of the MP4 to write
  // Segments closer than this count as contiguous (no gap reported).
  core::Duration gapTolerance = std::chrono::milliseconds(200);
};

// `root`: the recording root the index's paths are relative to.
// kNotFound when nothing is recorded in the range; kCorrupt when a source segment no longer
// matches its SHA-256; kUnavailable when a segment is being deleted.
core::Result<core::Clip> exportClip(SegmentIndex& index, const std::string& root,
                                    const ClipRequest& request);

struct EvidenceInfo {
  core::DivisionCode division;
  std::string exporter;  // who exported
  std::string caseId;    // may be empty
  std::string gatewayId;
};

// Creates an Ed25519 key pair (PEM files; the private one mode 0600).
core::Result<void> generateSigningKey(const std::string& privatePemPath,
                                      const std::string& publicPemPath);

// Writes the package directory `packageDir` (created; must not exist) from an exported clip
// whose MP4 is at `clipPath`. Returns the manifest's text.
core::Result<std::string> writeEvidencePackage(const core::Clip& clip, const std::string& clipPath,
                                               const EvidenceInfo& info,
                                               const std::string& privateKeyPemPath,
                                               const std::string& packageDir);

struct EvidenceVerification {
  bool ok = false;
  std::string keyFingerprint;         // SHA-256 of the signer's public key (DER)
  bool trustedKeyChecked = false;     // a trusted key was given and matched
  std::vector<std::string> problems;  // what failed
  std::string manifest;               // the manifest text
};

// With `trustedPublicKeyPemPath` empty, the key inside the package is used and only reported
// (trustedKeyChecked=false): the caller must compare the fingerprint itself.
core::Result<EvidenceVerification> verifyEvidencePackage(
    const std::string& packageDir, const std::string& trustedPublicKeyPemPath);

}  // namespace sharpeyes::storage
