#pragma once
// Users, roles, division scope, password hashing and sessions. All of it lives in api/ (no
// database needed): users are kept in a JSON file the admin edits through the API or the CLI.
//
// Roles:  admin        everything, user management, camera add/edit/remove, audit log
//         operator     live wall, PTZ, alert workflow, events, recordings, clips
//         investigator live, events, recordings, clips, cases, holds, evidence export
//         viewer       (village platform) live, events, alerts, recordings — read only
// Scope: every user has a division; they see only cameras/events/alerts/clips whose division
// that division contains (a village viewer scoped to 510603101201 sees that village only).
// An empty scope (admin only) means everything.
//
// Thread-safety: UserStore and SessionManager are internally locked; any thread.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sharpeyes/core/division.h"
#include "sharpeyes/core/result.h"

namespace sharpeyes::api {

enum class Role { kAdmin, kOperator, kInvestigator, kViewer };
std::string_view toString(Role r);  // "admin", "operator", "investigator", "viewer"
core::Result<Role> parseRole(std::string_view text);

enum class Permission {
  kViewCameras,
  kViewLive,
  kPtz,
  kManageCameras,
  kViewEvents,
  kViewAlerts,
  kHandleAlerts,
  kViewRecordings,
  kCreateClips,
  kManageCases,
  kExportEvidence,
  kViewAudit,
  kManageUsers,
};
bool roleAllows(Role role, Permission p);

struct User {
  std::string name;
  std::string displayName;
  Role role = Role::kViewer;
  std::optional<core::DivisionCode> scope;  // nullopt: everything (admin only)
  std::string passwordHash;                 // "pbkdf2-sha256$<iter>$<salt hex>$<hash hex>"
  bool disabled = false;

  // True when `division` is inside this user's scope.
  bool canSee(const core::DivisionCode& division) const;
};

// PBKDF2-HMAC-SHA256 (OpenSSL), random 16-byte salt; verify is constant-time.
std::string hashPassword(std::string_view password, int iterations = 120000);
bool verifyPassword(std::string_view password, std::string_view encoded);

class UserStore {
 public:
  // `path`: JSON file ([{"name":..,"role":..,"scope":..,"password_hash":..}]); "" = memory only.
  // `iterations`: PBKDF2 rounds for new hashes (tests use fewer to stay fast).
  explicit UserStore(std::string path = {}, int iterations = 120000);
  // Loads the file if it exists. Errors: kCorrupt (bad JSON, unknown role, bad division).
  core::Result<void> load();
  core::Result<void> save() const;

  // Rules: name [A-Za-z0-9_.-]{1,64}; password ≥ 8 chars; a non-admin must have a scope.
  core::Result<User> addUser(const std::string& name, const std::string& password, Role role,
                             std::optional<core::DivisionCode> scope,
                             const std::string& displayName = {});
  core::Result<void> removeUser(const std::string& name);
  core::Result<void> setPassword(const std::string& name, const std::string& password);
  std::optional<User> find(const std::string& name) const;
  std::vector<User> list() const;
  // Checks the password; nullopt on unknown user, wrong password or disabled user. Takes the
  // same time for an unknown user as for a wrong password.
  std::optional<User> authenticate(const std::string& name, const std::string& password) const;

 private:
  std::string path_;
  int iterations_;
  mutable std::mutex mu_;
  std::map<std::string, User> users_;
  std::string dummyHash_;
};

struct Session {
  std::string token;  // 256 random bits, hex; the cookie / bearer value
  std::string csrf;   // sent back by the page in X-CSRF-Token on state changes
  std::string user;
  std::chrono::steady_clock::time_point expires;
};

class SessionManager {
 public:
  explicit SessionManager(std::chrono::seconds ttl = std::chrono::hours(12)) : ttl_(ttl) {}
  Session create(const std::string& user);
  // Finds and slides the expiry; nullopt when unknown or expired.
  std::optional<Session> find(const std::string& token);
  void remove(const std::string& token);
  void removeUser(const std::string& user);
  size_t size() const;

 private:
  std::chrono::seconds ttl_;
  mutable std::mutex mu_;
  std::map<std::string, Session> sessions_;
};

// Login throttling per key (remote address, user name): at most `maxFailures` failures within
// `window`; then refused until the oldest failure leaves the window.
class LoginLimiter {
 public:
  LoginLimiter(int maxFailures = 5, std::chrono::seconds window = std::chrono::seconds(60))
      : max_(maxFailures), window_(window) {}
  // Seconds to wait, 0 when a try is allowed now.
  int retryAfter(const std::string& key);
  void recordFailure(const std::string& key);
  void reset(const std::string& key);

 private:
  int max_;
  std::chrono::seconds window_;
  std::mutex mu_;
  std::map<std::string, std::vector<std::chrono::steady_clock::time_point>> failures_;
};

}  // namespace sharpeyes::api
