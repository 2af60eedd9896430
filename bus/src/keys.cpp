#include "sharpeyes/bus/keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "sharpeyes/core/util.h"

namespace sharpeyes::bus {

namespace {

bool validZ85Key(const std::string& key) {
  if (key.size() != 40) return false;
  uint8_t raw[32];
  return zmq_z85_decode(raw, key.c_str()) != nullptr;
}

core::Result<void> writeFile0600(const std::string& path, const std::string& text, bool overwrite) {
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL);
  const int fd = ::open(path.c_str(), flags, 0600);
  if (fd < 0) {
    return core::makeError(errno == EEXIST ? core::ErrorCode::kAlreadyExists : core::ErrorCode::kIo,
                           path + ": " + std::strerror(errno));
  }
  // O_CREAT's mode is filtered by the umask and ignored for an existing file: set it explicitly.
  if (::fchmod(fd, 0600) != 0) {
    ::close(fd);
    return core::makeError(core::ErrorCode::kIo, path + ": chmod: " + std::strerror(errno));
  }
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return core::makeError(core::ErrorCode::kIo, path + ": write: " + std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  return core::okResult();
}

core::Result<std::string> readSmallFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return core::makeError(core::ErrorCode::kNotFound, "cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// A Z85 key may begin with '#', so only "#" followed by a blank (or alone) is a comment line.
bool isComment(const std::string& line) {
  return line.empty() || line == "#" || line.rfind("# ", 0) == 0;
}

}  // namespace

core::Result<KeyPair> generateKeyPair() {
  char pub[41] = {};
  char sec[41] = {};
  if (zmq_curve_keypair(pub, sec) != 0) {
    return core::makeError(core::ErrorCode::kUnsupported, "libzmq was built without CURVE support");
  }
  KeyPair pair{pub, sec};
  std::memset(sec, 0, sizeof sec);
  return pair;
}

core::Result<void> writeKeyPair(const KeyPair& pair, const std::string& prefix, bool overwrite) {
  const std::string secretText =
      "# sharpeyes CURVE key pair: keep this file private\npublic = " + pair.publicKey +
      "\nsecret = " + pair.secretKey + "\n";
  auto r = writeFile0600(prefix + ".key", secretText, overwrite);
  if (!r) return r;
  return writeFile0600(prefix + ".pub", pair.publicKey + "\n", overwrite);
}

core::Result<KeyPair> loadKeyPair(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return core::makeError(core::ErrorCode::kNotFound, path + ": " + std::strerror(errno));
  }
  if ((st.st_mode & 0077) != 0) {
    return core::makeError(core::ErrorCode::kPermissionDenied,
                           path + ": secret key file is readable by group or others (chmod 600)");
  }
  auto text = readSmallFile(path);
  if (!text) return text.error();
  KeyPair pair;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (isComment(line)) continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = trim(line.substr(0, eq));
    const std::string value = trim(line.substr(eq + 1));
    if (key == "public") pair.publicKey = value;
    if (key == "secret") pair.secretKey = value;
  }
  if (!validZ85Key(pair.secretKey)) {
    return core::makeError(core::ErrorCode::kCorrupt, path + ": no valid secret key");
  }
  char pub[41] = {};
  if (zmq_curve_public(pub, pair.secretKey.c_str()) != 0) {
    return core::makeError(core::ErrorCode::kCorrupt, path + ": cannot derive the public key");
  }
  if (!pair.publicKey.empty() && pair.publicKey != pub) {
    return core::makeError(core::ErrorCode::kCorrupt,
                           path + ": public key does not match the secret key");
  }
  pair.publicKey = pub;
  return pair;
}

core::Result<std::string> loadPublicKey(const std::string& path) {
  auto text = readSmallFile(path);
  if (!text) return text.error();
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (isComment(line)) continue;
    if (line.rfind("public", 0) == 0) {
      const auto eq = line.find('=');
      if (eq != std::string::npos) line = trim(line.substr(eq + 1));
    }
    if (line.rfind("secret", 0) == 0) continue;
    if (validZ85Key(line)) return line;
  }
  return core::makeError(core::ErrorCode::kCorrupt, path + ": no valid public key");
}

core::Result<std::vector<AllowedKey>> loadAllowlist(const std::string& path) {
  auto text = readSmallFile(path);
  if (!text) return text.error();
  std::vector<AllowedKey> out;
  std::istringstream in(*text);
  std::string line;
  int lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    // Z85 keys may contain '#': a comment starts at a '#' that begins the line or follows a blank.
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) {
        line.resize(i);
        break;
      }
    }
    line = trim(line);
    if (line.empty()) continue;
    std::istringstream fields(line);
    AllowedKey k;
    std::string extra;
    fields >> k.name >> k.publicKey >> extra;
    if (k.publicKey.empty() || !extra.empty() || !validZ85Key(k.publicKey)) {
      return core::makeError(core::ErrorCode::kInvalidArgument,
                             path + ":" + std::to_string(lineNo) +
                                 ": expected \"name PUBLIC_KEY\" (40-character Z85)");
    }
    out.push_back(std::move(k));
  }
  return out;
}

std::string keyFingerprint(const std::string& publicKey) {
  return core::sha256Hex(publicKey).substr(0, 12);
}

}  // namespace sharpeyes::bus
