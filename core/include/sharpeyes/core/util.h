#pragma once
// Small shared helpers: ids, hex, SHA-256, secret redaction.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "sharpeyes/core/result.h"

namespace sharpeyes::core {

// 128 random bits as 32 lowercase hex digits.
std::string newId();

std::string toHex(std::span<const uint8_t> bytes);

// Incremental SHA-256 (OpenSSL EVP under the hood). Not thread-safe; one per stream.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t size);
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::string finishHex();  // lowercase hex; the object is reset afterwards

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string sha256Hex(std::string_view data);
Result<std::string> sha256File(const std::string& path);

// "rtsp://admin:secret@10.0.0.5/x" -> "rtsp://admin:***@10.0.0.5/x". Never log a URL unredacted.
std::string redactUrl(std::string_view url);
// Puts user/password into an rtsp:// or http:// URL (percent-encoding them).
std::string urlWithCredentials(std::string_view url, std::string_view user,
                               std::string_view password);

}  // namespace sharpeyes::core
