#pragma once
// CURVE key pairs (Z85 text, 40 characters each). Secret keys live in files with mode 0600 and
// are never logged; a secret key file readable by group or others is refused. Public keys may be
// logged only as a fingerprint (keyFingerprint).

#include <string>
#include <vector>

#include "sharpeyes/core/result.h"

namespace sharpeyes::bus {

struct KeyPair {
  std::string publicKey;  // Z85
  std::string secretKey;  // Z85
};

core::Result<KeyPair> generateKeyPair();
// Writes <prefix>.key (public and secret) and <prefix>.pub (public only), both mode 0600.
// Refuses to overwrite existing files unless `overwrite`.
core::Result<void> writeKeyPair(const KeyPair& pair, const std::string& prefix, bool overwrite);
// Reads a .key file; fails when its mode lets group or others read it.
core::Result<KeyPair> loadKeyPair(const std::string& path);
// Reads a .pub file (or a .key file, taking only its public line).
core::Result<std::string> loadPublicKey(const std::string& path);

// One allowed peer: its name (the origin it must use) and its public key.
struct AllowedKey {
  std::string name;
  std::string publicKey;
};
// Allowlist file: one peer per line, "name Z85KEY" ('#' starts a comment).
core::Result<std::vector<AllowedKey>> loadAllowlist(const std::string& path);

// A short, non-reversible label for a public key in logs: first 12 hex digits of its SHA-256.
std::string keyFingerprint(const std::string& publicKey);

}  // namespace sharpeyes::bus
