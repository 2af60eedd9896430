#include "sharpeyes/core/util.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <random>
#include <vector>

namespace sharpeyes::core {

std::string toHex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xF]);
  }
  return out;
}

std::string newId() {
  std::array<uint8_t, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    // OpenSSL's DRBG failing is extraordinary; fall back to the OS source through std.
    std::random_device rd;
    for (auto& b : bytes) b = static_cast<uint8_t>(rd());
  }
  return toHex(bytes);
}

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr);
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(impl_->ctx);
}

void Sha256::update(const void* data, size_t size) {
  EVP_DigestUpdate(impl_->ctx, data, size);
}

std::string Sha256::finishHex() {
  std::array<uint8_t, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx, md.data(), &len);
  EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr);
  return toHex(std::span<const uint8_t>(md.data(), len));
}

std::string sha256Hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.finishHex();
}

Result<std::string> sha256File(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return makeError(ErrorCode::kNotFound, "cannot open " + path);
  Sha256 h;
  std::vector<char> buf(1 << 20);
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) h.update(buf.data(), n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return makeError(ErrorCode::kIo, "read error on " + path);
  return h.finishHex();
}

namespace {

std::string percentEncode(std::string_view s) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 0xF]);
    }
  }
  return out;
}

}  // namespace

std::string redactUrl(std::string_view url) {
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  const size_t authorityStart = scheme + 3;
  const size_t authorityEnd = url.find_first_of("/?#", authorityStart);
  const std::string_view authority =
      url.substr(authorityStart,
                 authorityEnd == std::string_view::npos ? url.npos : authorityEnd - authorityStart);
  const auto at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  const std::string_view userinfo = authority.substr(0, at);
  const auto colon = userinfo.find(':');
  std::string out(url.substr(0, authorityStart));
  out += userinfo.substr(0, colon);
  if (colon != std::string_view::npos) out += ":***";
  out += url.substr(authorityStart + at);
  return out;
}

std::string urlWithCredentials(std::string_view url, std::string_view user,
                               std::string_view password) {
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos || user.empty()) return std::string(url);
  std::string out(url.substr(0, scheme + 3));
  out += percentEncode(user);
  if (!password.empty()) {
    out += ':';
    out += percentEncode(password);
  }
  out += '@';
  // Drop credentials already present in the URL.
  std::string_view rest = url.substr(scheme + 3);
  const size_t authorityEnd = rest.find_first_of("/?#");
  const auto at = rest.substr(0, authorityEnd).rfind('@');
  if (at != std::string_view::npos) rest = rest.substr(at + 1);
  out += rest;
  return out;
}

}  // namespace sharpeyes::core
