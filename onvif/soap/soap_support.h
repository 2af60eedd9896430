#pragma once
// Internal glue between sharpeyes and gSOAP, shared by the client (onvif/src) and the simulated
// device (sim/onvif). Not a public header: it includes generated gSOAP code.
//
// What lives here and why:
// - the XML namespace table (hand-made, see the .cpp for why not the generated one);
// - hardening of every soap context (timeouts, size/depth/occurrence limits: "Devil's Ivy");
// - WS-Security UsernameToken digest (our own nonce from OpenSSL RAND_bytes, Created from the
//   caller's clock so the device's clock offset can be applied);
// - WS-Discovery event dispatch: wsddapi wants global wsdd_event_* functions; we define them once
//   and route them through soap->user to a WsddHandler, so client and server coexist in one binary.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "sharpeyes/core/result.h"
#include "sharpeyes/core/time.h"
#include "soapH.h"
#include "wsddapi.h"

namespace sharpeyes::onvif::soap_support {

struct Limits {
  std::chrono::milliseconds connectTimeout{3000};
  std::chrono::milliseconds ioTimeout{5000};         // each send / each recv
  std::chrono::milliseconds transferTimeout{10000};  // a whole message, against trickling peers
  uint64_t maxMessageBytes = 2u << 20;
  unsigned maxDepth = 64;   // ONVIF responses nest about 12 levels
  size_t maxOccurs = 4096;  // elements in one array
  bool verifyTls = false;   // cameras mostly have self-signed certificates
};

struct SoapDeleter {
  void operator()(struct soap* soap) const;
};
using SoapPtr = std::unique_ptr<struct soap, SoapDeleter>;

// A fresh context with the limits applied and the WS-Addressing plugin registered. Never null.
SoapPtr newContext(const Limits& limits, int ioMode = 0);
// Sets up TLS for an https endpoint (costly: only call it when the URL is https).
void enableTls(struct soap* soap, const Limits& limits);
void applyLimits(struct soap* soap, const Limits& limits);

// Bounds one client call beyond what gSOAP's own timeouts do: a total deadline (gSOAP's
// per-operation timeouts let a peer trickle one byte per interval forever) and a byte budget
// for the response, counted at the socket. Installed through soap->user and the frecv hook.
struct CallGuard {
  std::chrono::steady_clock::time_point deadline;
  uint64_t maxBytes = 0;
  uint64_t received = 0;
  bool deadlineHit = false;
  bool tooLarge = false;
  int ioTimeout = 0;  // gSOAP units
  size_t (*recv)(struct soap*, char*, size_t) = nullptr;
};
// Arms `guard` on `soap` for a call starting now; `guard` must outlive the call.
void armGuard(struct soap* soap, CallGuard& guard, const Limits& limits);

// Maps a failed call to an Error. PermissionDenied for HTTP 401/403, wsse faults and
// ter:NotAuthorized; Timeout; Unavailable (connect); ResourceExhausted (size/depth/occurs
// limits); Corrupt (malformed XML); Internal otherwise. `what` names the call and URL.
core::Error errorFrom(struct soap* soap, std::string_view what);

// base64(SHA1(nonce + created + password)), WS-Security UsernameToken Profile 1.0 §3.1.
std::string passwordDigest(std::string_view nonce, std::string_view created,
                           std::string_view password);
std::string base64Encode(std::string_view bytes);
core::Result<std::string> base64Decode(std::string_view text);
std::string randomBytes(size_t n);
// "2026-11-25T20:31:59Z" (whole seconds, what devices accept everywhere).
std::string formatCreated(core::WallTime t);

// Adds a wsse:Security header with a UsernameToken: PasswordDigest with a fresh 16-byte nonce
// and Created = `created`, or PasswordText when `digest` is false.
void addUsernameToken(struct soap* soap, const std::string& user, const std::string& password,
                      core::WallTime created, bool digest = true);

// Receives WS-Discovery events of the soap context whose `user` points at it.
class WsddHandler {
 public:
  virtual ~WsddHandler() = default;
  virtual soap_wsdd_mode onProbe(struct soap* soap, const char* messageId, const char* replyTo,
                                 const char* types, const char* scopes, const char* matchBy,
                                 struct wsdd__ProbeMatchesType* matches) {
    return SOAP_WSDD_ADHOC;
  }
  virtual void onProbeMatches(struct soap* soap, const char* relatesTo,
                              struct wsdd__ProbeMatchesType* matches) {}
  virtual void onHello(struct soap* soap, const char* endpoint, const char* types,
                       const char* scopes, const char* xaddrs) {}
};

}  // namespace sharpeyes::onvif::soap_support
