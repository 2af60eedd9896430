// Evidence packages: clip + manifest + Ed25519 signature (OpenSSL EVP), verified offline.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "fs_util.h"
#include "sharpeyes/core/util.h"
#include "sharpeyes/storage/clip_export.h"

namespace sharpeyes::storage {
namespace {

namespace fs = std::filesystem;
using core::ErrorCode;
using core::makeError;
using json = nlohmann::json;

constexpr const char* kFormat = "sharpeyes-evidence/1";

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
struct CtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

core::Result<Key> readKey(const std::string& path, bool isPrivate) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return makeError(ErrorCode::kNotFound, "cannot open key " + path);
  EVP_PKEY* k = isPrivate ? PEM_read_PrivateKey(f, nullptr, nullptr, nullptr)
                          : PEM_read_PUBKEY(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (k == nullptr || EVP_PKEY_id(k) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(k);
    return makeError(ErrorCode::kInvalidArgument, path + " is not an Ed25519 PEM key");
  }
  return Key(k);
}

std::string fingerprint(EVP_PKEY* k) {
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(k, &der);
  if (n <= 0) return {};
  std::string out = core::sha256Hex(std::string_view(reinterpret_cast<char*>(der), n));
  OPENSSL_free(der);
  return out;
}

core::Result<std::string> readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return makeError(ErrorCode::kNotFound, "missing " + p.string());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

core::Result<void> writeFile(const fs::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << data;
  out.close();
  if (!out) return makeError(ErrorCode::kIo, "cannot write " + p.string());
  return detail::fsyncPath(p.string());
}

json rangeJson(const core::TimeRange& r) {
  return {{"begin", core::formatIso8601(r.begin)}, {"end", core::formatIso8601(r.end)}};
}

}  // namespace

core::Result<void> generateSigningKey(const std::string& privatePemPath,
                                      const std::string& publicPemPath) {
  EVP_PKEY* raw = nullptr;
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr), EVP_PKEY_CTX_free);
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0 || EVP_PKEY_keygen(ctx.get(), &raw) <= 0) {
    return makeError(ErrorCode::kInternal, "Ed25519 key generation failed");
  }
  Key key(raw);
  const mode_t old = ::umask(077);  // the private key is never readable by others
  std::FILE* f = std::fopen(privatePemPath.c_str(), "wb");
  ::umask(old);
  if (f == nullptr) return makeError(ErrorCode::kIo, "cannot write " + privatePemPath);
  const bool okPriv =
      PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  std::fclose(f);
  f = std::fopen(publicPemPath.c_str(), "wb");
  if (f == nullptr) return makeError(ErrorCode::kIo, "cannot write " + publicPemPath);
  const bool okPub = PEM_write_PUBKEY(f, key.get()) == 1;
  std::fclose(f);
  if (!okPriv || !okPub) return makeError(ErrorCode::kIo, "cannot write the key files");
  return {};
}

core::Result<std::string> writeEvidencePackage(const core::Clip& clip, const std::string& clipPath,
                                               const EvidenceInfo& info,
                                               const std::string& privateKeyPemPath,
                                               const std::string& packageDir) {
  auto key = readKey(privateKeyPemPath, true);
  if (!key) return key.error();
  std::error_code ec;
  if (fs::exists(packageDir)) {
    return makeError(ErrorCode::kAlreadyExists, packageDir + " already exists");
  }
  fs::create_directories(packageDir, ec);
  if (ec) return makeError(ErrorCode::kIo, "cannot create " + packageDir);
  const fs::path dir(packageDir);
  fs::copy_file(clipPath, dir / "clip.mp4", ec);
  if (ec) return makeError(ErrorCode::kIo, "cannot copy the clip: " + ec.message());
  auto copied = detail::fsyncPath((dir / "clip.mp4").string());
  if (!copied) return copied.error();
  auto clipHash = core::sha256File((dir / "clip.mp4").string());
  if (!clipHash) return clipHash.error();
  if (*clipHash != clip.sha256) {
    return makeError(ErrorCode::kCorrupt, "the clip changed since it was exported");
  }

  json m;
  m["format"] = kFormat;
  m["gateway"] = info.gatewayId;
  m["camera"] = clip.camera.str();
  m["division"] = info.division.str();
  m["requested"] = rangeJson(clip.requested);
  m["actual"] = rangeJson(clip.actual);
  m["gaps"] = json::array();
  for (const auto& g : clip.gaps) m["gaps"].push_back(rangeJson(g));
  m["clip"] = {{"file", "clip.mp4"}, {"bytes", clip.bytes}, {"sha256", clip.sha256}};
  m["source_segments_sha256"] = clip.sourceSegmentSha256;
  m["exporter"] = info.exporter;
  m["case"] = info.caseId;
  m["exported_at"] = core::formatIso8601(core::processClock().now());
  m["signer_fingerprint"] = fingerprint(key->get());
  const std::string manifest = m.dump(2) + "\n";

  std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  size_t sigLen = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key->get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &sigLen,
                     reinterpret_cast<const unsigned char*>(manifest.data()),
                     manifest.size()) != 1) {
    return makeError(ErrorCode::kInternal, "Ed25519 signing failed");
  }
  std::string sig(sigLen, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sigLen,
                     reinterpret_cast<const unsigned char*>(manifest.data()),
                     manifest.size()) != 1) {
    return makeError(ErrorCode::kInternal, "Ed25519 signing failed");
  }
  sig.resize(sigLen);

  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PUBKEY(bio.get(), key->get());
  char* pem = nullptr;
  const long pemLen = BIO_get_mem_data(bio.get(), &pem);

  for (const auto& [name, data] : std::vector<std::pair<std::string, std::string>>{
           {"manifest.json", manifest},
           {"manifest.sig", sig},
           {"signer.pub.pem", std::string(pem, static_cast<size_t>(pemLen))}}) {
    auto w = writeFile(dir / name, data);
    if (!w) return w.error();
  }
  auto d = detail::fsyncDir(packageDir);
  if (!d) return d.error();
  return manifest;
}

core::Result<EvidenceVerification> verifyEvidencePackage(const std::string& packageDir,
                                                         const std::string& trustedKeyPath) {
  const fs::path dir(packageDir);
  if (!fs::is_directory(dir)) {
    return makeError(ErrorCode::kNotFound, packageDir + " is not an evidence package directory");
  }
  EvidenceVerification v;
  auto manifest = readFile(dir / "manifest.json");
  auto sig = readFile(dir / "manifest.sig");
  if (!manifest || !sig) {
    v.problems.push_back("manifest.json or manifest.sig is missing");
    return v;
  }
  v.manifest = *manifest;
  core::Result<Key> key = makeError(ErrorCode::kNotFound, "");
  if (!trustedKeyPath.empty()) {
    key = readKey(trustedKeyPath, false);
    if (!key) return key.error();
    v.trustedKeyChecked = true;
  } else {
    key = readKey((dir / "signer.pub.pem").string(), false);
    if (!key) {
      v.problems.push_back("signer.pub.pem is missing or not an Ed25519 key");
      return v;
    }
  }
  v.keyFingerprint = fingerprint(key->get());

  std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  const bool sigOk =
      EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key->get()) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig->data()), sig->size(),
                       reinterpret_cast<const unsigned char*>(manifest->data()),
                       manifest->size()) == 1;
  if (!sigOk) {
    v.problems.push_back(v.trustedKeyChecked
                             ? "the signature does not verify with the trusted key (altered "
                               "manifest, or signed by another key)"
                             : "the signature does not verify (altered manifest or signature)");
  }
  auto m = json::parse(*manifest, nullptr, false);
  if (m.is_discarded() || m.value("format", "") != kFormat || !m.contains("clip")) {
    v.problems.push_back("the manifest is not a " + std::string(kFormat) + " manifest");
    return v;
  }
  const fs::path clip = dir / m["clip"].value("file", "clip.mp4");
  std::error_code ec;
  const auto size = fs::file_size(clip, ec);
  if (ec) {
    v.problems.push_back("the clip file is missing");
  } else {
    if (size != m["clip"].value("bytes", uint64_t{0})) {
      v.problems.push_back("the clip has " + std::to_string(size) + " bytes, the manifest says " +
                           std::to_string(m["clip"].value("bytes", uint64_t{0})) +
                           " (truncated or extended)");
    }
    auto h = core::sha256File(clip.string());
    if (!h || *h != m["clip"].value("sha256", "")) {
      v.problems.push_back("the clip's SHA-256 does not match the manifest (altered)");
    }
  }
  v.ok = v.problems.empty();
  return v;
}

}  // namespace sharpeyes::storage
