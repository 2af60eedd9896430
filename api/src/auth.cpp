// Users, password hashing (OpenSSL PBKDF2), sessions and login throttling.

#include "sharpeyes/api/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sharpeyes/core/util.h"

namespace sharpeyes::api {

using core::ErrorCode;
using core::makeError;

std::string_view toString(Role r) {
  switch (r) {
    case Role::kAdmin: return "admin";
    case Role::kOperator: return "operator";
    case Role::kInvestigator: return "investigator";
    case Role::kViewer: return "viewer";
  }
  return "viewer";
}

core::Result<Role> parseRole(std::string_view t) {
  if (t == "admin") return Role::kAdmin;
  if (t == "operator") return Role::kOperator;
  if (t == "investigator") return Role::kInvestigator;
  if (t == "viewer") return Role::kViewer;
  return makeError(ErrorCode::kInvalidArgument,
                   "unknown role '" + std::string(t) + "' (admin, operator, investigator, viewer)");
}

bool roleAllows(Role role, Permission p) {
  using P = Permission;
  switch (role) {
    case Role::kAdmin: return true;
    case Role::kOperator:
      return p == P::kViewCameras || p == P::kViewLive || p == P::kPtz || p == P::kViewEvents ||
             p == P::kViewAlerts || p == P::kHandleAlerts || p == P::kViewRecordings ||
             p == P::kCreateClips;
    case Role::kInvestigator:
      return p == P::kViewCameras || p == P::kViewLive || p == P::kViewEvents ||
             p == P::kViewAlerts || p == P::kViewRecordings || p == P::kCreateClips ||
             p == P::kManageCases || p == P::kExportEvidence;
    case Role::kViewer:
      return p == P::kViewCameras || p == P::kViewLive || p == P::kViewEvents ||
             p == P::kViewAlerts || p == P::kViewRecordings;
  }
  return false;
}

bool User::canSee(const core::DivisionCode& division) const {
  if (!scope) return true;
  if (division.empty()) return false;
  return scope->contains(division);
}

namespace {

std::vector<uint8_t> fromHex(std::string_view hex) {
  std::vector<uint8_t> out;
  if (hex.size() % 2 != 0) return {};
  auto v = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = v(hex[i]), lo = v(hex[i + 1]);
    if (hi < 0 || lo < 0) return {};
    out.push_back(static_cast<uint8_t>(hi * 16 + lo));
  }
  return out;
}

std::vector<uint8_t> pbkdf2(std::string_view password, const std::vector<uint8_t>& salt,
                            int iterations) {
  std::vector<uint8_t> out(32);
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                    static_cast<int>(salt.size()), iterations, EVP_sha256(),
                    static_cast<int>(out.size()), out.data());
  return out;
}

std::string randomHex(size_t bytes) {
  std::vector<uint8_t> b(bytes);
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) {
    // RAND_bytes failing means the OS RNG is broken; newId() uses the same source anyway.
    std::string s;
    while (s.size() < bytes * 2) s += core::newId();
    return s.substr(0, bytes * 2);
  }
  return core::toHex(b);
}

bool validUserName(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

}  // namespace

std::string hashPassword(std::string_view password, int iterations) {
  std::vector<uint8_t> salt(16);
  if (RAND_bytes(salt.data(), 16) != 1) {
    auto h = fromHex(core::newId());
    std::copy(h.begin(), h.end(), salt.begin());
  }
  auto dk = pbkdf2(password, salt, iterations);
  return "pbkdf2-sha256$" + std::to_string(iterations) + "$" + core::toHex(salt) + "$" +
         core::toHex(dk);
}

bool verifyPassword(std::string_view password, std::string_view encoded) {
  // pbkdf2-sha256$<iter>$<salt>$<hash>
  std::vector<std::string> parts;
  std::string cur;
  for (char c : encoded) {
    if (c == '$') {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  if (parts.size() != 4 || parts[0] != "pbkdf2-sha256") return false;
  int iter = 0;
  try {
    iter = std::stoi(parts[1]);
  } catch (...) {
    return false;
  }
  if (iter < 1 || iter > 10'000'000) return false;
  auto salt = fromHex(parts[2]);
  auto want = fromHex(parts[3]);
  if (salt.empty() || want.size() != 32) return false;
  auto got = pbkdf2(password, salt, iter);
  return CRYPTO_memcmp(got.data(), want.data(), 32) == 0;
}

UserStore::UserStore(std::string path, int iterations)
    : path_(std::move(path)), iterations_(iterations) {
  dummyHash_ = hashPassword("timing-equaliser", iterations_);
}

core::Result<void> UserStore::load() {
  if (path_.empty() || !std::filesystem::exists(path_)) return core::okResult();
  std::ifstream f(path_);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const std::exception& e) {
    return makeError(ErrorCode::kCorrupt, "users file " + path_ + ": " + e.what());
  }
  if (!j.is_array()) return makeError(ErrorCode::kCorrupt, "users file " + path_ + ": not a list");
  std::map<std::string, User> users;
  for (const auto& u : j) {
    User user;
    try {
      user.name = u.at("name").get<std::string>();
      auto role = parseRole(u.at("role").get<std::string>());
      if (!role)
        return makeError(ErrorCode::kCorrupt, "users file " + path_ + ": " + role.error().message);
      user.role = *role;
      if (u.contains("scope") && !u["scope"].is_null() && !u["scope"].get<std::string>().empty()) {
        auto d = core::DivisionCode::parse(u["scope"].get<std::string>());
        if (!d)
          return makeError(ErrorCode::kCorrupt, "users file " + path_ + ": user " + user.name +
                                                    ": " + d.error().message);
        user.scope = *d;
      }
      user.displayName = u.value("display_name", "");
      user.passwordHash = u.at("password_hash").get<std::string>();
      user.disabled = u.value("disabled", false);
    } catch (const std::exception& e) {
      return makeError(ErrorCode::kCorrupt, "users file " + path_ + ": " + e.what());
    }
    users[user.name] = std::move(user);
  }
  std::lock_guard lock(mu_);
  users_ = std::move(users);
  return core::okResult();
}

core::Result<void> UserStore::save() const {
  if (path_.empty()) return core::okResult();
  nlohmann::json j = nlohmann::json::array();
  {
    std::lock_guard lock(mu_);
    for (const auto& [n, u] : users_) {
      j.push_back({{"name", u.name},
                   {"display_name", u.displayName},
                   {"role", std::string(toString(u.role))},
                   {"scope", u.scope ? u.scope->str() : std::string()},
                   {"password_hash", u.passwordHash},
                   {"disabled", u.disabled}});
    }
  }
  std::string tmp = path_ + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << j.dump(2) << "\n";
    if (!f) return makeError(ErrorCode::kIo, "cannot write " + tmp);
  }
  std::error_code ec;
  std::filesystem::permissions(
      tmp, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
  std::filesystem::rename(tmp, path_, ec);
  if (ec) return makeError(ErrorCode::kIo, "cannot replace " + path_ + ": " + ec.message());
  return core::okResult();
}

core::Result<User> UserStore::addUser(const std::string& name, const std::string& password,
                                      Role role, std::optional<core::DivisionCode> scope,
                                      const std::string& displayName) {
  if (!validUserName(name)) {
    return makeError(ErrorCode::kInvalidArgument,
                     "user name must be 1..64 characters of [A-Za-z0-9_.-]");
  }
  if (password.size() < 8) {
    return makeError(ErrorCode::kInvalidArgument, "password must have at least 8 characters");
  }
  if (role != Role::kAdmin && !scope) {
    return makeError(ErrorCode::kInvalidArgument,
                     "a non-admin user needs a division scope (12-digit code)");
  }
  User u;
  u.name = name;
  u.displayName = displayName.empty() ? name : displayName;
  u.role = role;
  u.scope = std::move(scope);
  u.passwordHash = hashPassword(password, iterations_);
  {
    std::lock_guard lock(mu_);
    if (users_.count(name) != 0) {
      return makeError(ErrorCode::kAlreadyExists, "user " + name + " already exists");
    }
    users_[name] = u;
  }
  auto s = save();
  if (!s) return s.error();
  return u;
}

core::Result<void> UserStore::removeUser(const std::string& name) {
  {
    std::lock_guard lock(mu_);
    if (users_.erase(name) == 0) return makeError(ErrorCode::kNotFound, "no user " + name);
  }
  return save();
}

core::Result<void> UserStore::setPassword(const std::string& name, const std::string& password) {
  if (password.size() < 8) {
    return makeError(ErrorCode::kInvalidArgument, "password must have at least 8 characters");
  }
  std::string h = hashPassword(password, iterations_);
  {
    std::lock_guard lock(mu_);
    auto it = users_.find(name);
    if (it == users_.end()) return makeError(ErrorCode::kNotFound, "no user " + name);
    it->second.passwordHash = h;
  }
  return save();
}

std::optional<User> UserStore::find(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = users_.find(name);
  if (it == users_.end()) return std::nullopt;
  return it->second;
}

std::vector<User> UserStore::list() const {
  std::lock_guard lock(mu_);
  std::vector<User> out;
  for (const auto& [n, u] : users_) out.push_back(u);
  return out;
}

std::optional<User> UserStore::authenticate(const std::string& name,
                                            const std::string& password) const {
  auto u = find(name);
  if (!u) {
    (void)verifyPassword(password, dummyHash_);  // same cost as a real check
    return std::nullopt;
  }
  if (!verifyPassword(password, u->passwordHash) || u->disabled) return std::nullopt;
  return u;
}

Session SessionManager::create(const std::string& user) {
  Session s;
  s.token = randomHex(32);
  s.csrf = randomHex(16);
  s.user = user;
  s.expires = std::chrono::steady_clock::now() + ttl_;
  std::lock_guard lock(mu_);
  // Drop expired sessions now and then, so the map stays bounded by live sessions.
  auto now = std::chrono::steady_clock::now();
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = it->second.expires < now ? sessions_.erase(it) : std::next(it);
  }
  sessions_[s.token] = s;
  return s;
}

std::optional<Session> SessionManager::find(const std::string& token) {
  if (token.empty()) return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = sessions_.find(token);
  if (it == sessions_.end()) return std::nullopt;
  auto now = std::chrono::steady_clock::now();
  if (it->second.expires < now) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.expires = now + ttl_;
  return it->second;
}

void SessionManager::remove(const std::string& token) {
  std::lock_guard lock(mu_);
  sessions_.erase(token);
}

void SessionManager::removeUser(const std::string& user) {
  std::lock_guard lock(mu_);
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = it->second.user == user ? sessions_.erase(it) : std::next(it);
  }
}

size_t SessionManager::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

int LoginLimiter::retryAfter(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = failures_.find(key);
  if (it == failures_.end()) return 0;
  auto now = std::chrono::steady_clock::now();
  auto& v = it->second;
  std::erase_if(v, [&](auto t) { return now - t > window_; });
  if (v.empty()) {
    failures_.erase(it);
    return 0;
  }
  if (static_cast<int>(v.size()) < max_) return 0;
  auto wait = std::chrono::duration_cast<std::chrono::seconds>(v.front() + window_ - now);
  return std::max<int>(1, static_cast<int>(wait.count()) + 1);
}

void LoginLimiter::recordFailure(const std::string& key) {
  std::lock_guard lock(mu_);
  failures_[key].push_back(std::chrono::steady_clock::now());
  if (failures_.size() > 100000) failures_.erase(failures_.begin());  // bounded memory
}

void LoginLimiter::reset(const std::string& key) {
  std::lock_guard lock(mu_);
  failures_.erase(key);
}

}  // namespace sharpeyes::api
