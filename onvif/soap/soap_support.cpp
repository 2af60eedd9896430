#include "soap_support.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <ctime>

#include "wsseapi-lite.h"

// The global namespace table gSOAP looks up. Written by hand instead of including the generated
// .nsmap because (1) the generated one lets the 2005/08 WS-Addressing URI match the 2004/08 "wsa"
// prefix, which would hide wsa5:Address in event subscription references, and (2) it omits the
// QName-only prefixes (dn, tns1, ter) that Probe types, event topics and ONVIF faults use.
SOAP_NMAC struct Namespace namespaces[] = {
    {"SOAP-ENV", "http://www.w3.org/2003/05/soap-envelope",
     "http://schemas.xmlsoap.org/soap/envelope/", nullptr},
    {"SOAP-ENC", "http://www.w3.org/2003/05/soap-encoding",
     "http://schemas.xmlsoap.org/soap/encoding/", nullptr},
    {"xsi", "http://www.w3.org/2001/XMLSchema-instance", "http://www.w3.org/*/XMLSchema-instance",
     nullptr},
    {"xsd", "http://www.w3.org/2001/XMLSchema", "http://www.w3.org/*/XMLSchema", nullptr},
    {"wsa", "http://schemas.xmlsoap.org/ws/2004/08/addressing", nullptr, nullptr},
    {"wsdd", "http://schemas.xmlsoap.org/ws/2005/04/discovery", nullptr, nullptr},
    {"c14n", "http://www.w3.org/2001/10/xml-exc-c14n#", nullptr, nullptr},
    {"wsu", "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
     nullptr, nullptr},
    {"xenc", "http://www.w3.org/2001/04/xmlenc#", nullptr, nullptr},
    {"wsc", "http://docs.oasis-open.org/ws-sx/ws-secureconversation/200512",
     "http://schemas.xmlsoap.org/ws/2005/02/sc", nullptr},
    {"ds", "http://www.w3.org/2000/09/xmldsig#", nullptr, nullptr},
    {"wsse", "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
     "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd", nullptr},
    {"wsa5", "http://www.w3.org/2005/08/addressing", nullptr, nullptr},
    {"tt", "http://www.onvif.org/ver10/schema", nullptr, nullptr},
    {"tds", "http://www.onvif.org/ver10/device/wsdl", nullptr, nullptr},
    {"trt", "http://www.onvif.org/ver10/media/wsdl", nullptr, nullptr},
    {"tptz", "http://www.onvif.org/ver20/ptz/wsdl", nullptr, nullptr},
    {"tev", "http://www.onvif.org/ver10/events/wsdl", nullptr, nullptr},
    {"wsnt", "http://docs.oasis-open.org/wsn/b-2", nullptr, nullptr},
    {"dn", "http://www.onvif.org/ver10/network/wsdl", nullptr, nullptr},
    {"tns1", "http://www.onvif.org/ver10/topics", nullptr, nullptr},
    {"ter", "http://www.onvif.org/ver10/error", nullptr, nullptr},
    {"wsrf-rw", "http://docs.oasis-open.org/wsrf/rw-2", nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr}};

namespace sharpeyes::onvif::soap_support {

void SoapDeleter::operator()(struct soap* soap) const {
  if (soap == nullptr) return;
  soap_destroy(soap);
  soap_end(soap);
  soap_free(soap);
}

namespace {
// gSOAP timeouts: positive = seconds, negative = microseconds.
int toSoapTimeout(std::chrono::milliseconds ms) {
  if (ms.count() <= 0) return 0;
  return -static_cast<int>(std::min<int64_t>(ms.count() * 1000, INT32_MAX));
}
}  // namespace

void applyLimits(struct soap* soap, const Limits& limits) {
  soap->connect_timeout = toSoapTimeout(limits.connectTimeout);
  soap->send_timeout = toSoapTimeout(limits.ioTimeout);
  soap->recv_timeout = toSoapTimeout(limits.ioTimeout);
  soap->transfer_timeout = toSoapTimeout(limits.transferTimeout);
  soap->recv_maxlength = limits.maxMessageBytes;
  soap->maxlevel = limits.maxDepth;
  soap->maxoccurs = limits.maxOccurs;
}

SoapPtr newContext(const Limits& limits, int ioMode) {
  SoapPtr soap(soap_new1(SOAP_C_UTFSTRING | ioMode));
  applyLimits(soap.get(), limits);
  soap_register_plugin(soap.get(), soap_wsa);
  return soap;
}

namespace {
size_t guardedRecv(struct soap* soap, char* buf, size_t len) {
  auto* g = static_cast<CallGuard*>(soap->user);
  const auto now = std::chrono::steady_clock::now();
  if (now >= g->deadline) {
    g->deadlineHit = true;
    return 0;  // gSOAP sees end of input
  }
  // This receive may not wait past the deadline either.
  const auto left = std::chrono::duration_cast<std::chrono::microseconds>(g->deadline - now);
  const int leftTimeout =
      -static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(left.count(), INT32_MAX)));
  soap->recv_timeout = g->ioTimeout == 0 ? leftTimeout : std::max(g->ioTimeout, leftTimeout);
  const size_t n = g->recv(soap, buf, len);
  g->received += n;
  if (g->maxBytes != 0 && g->received > g->maxBytes) {
    g->tooLarge = true;
    return 0;
  }
  return n;
}
}  // namespace

void armGuard(struct soap* soap, CallGuard& guard, const Limits& limits) {
  guard.deadline =
      std::chrono::steady_clock::now() + limits.connectTimeout + limits.transferTimeout;
  guard.maxBytes = limits.maxMessageBytes;
  guard.received = 0;
  guard.deadlineHit = false;
  guard.tooLarge = false;
  guard.ioTimeout = toSoapTimeout(limits.ioTimeout);
  if (soap->frecv != guardedRecv) {
    guard.recv = soap->frecv;
    soap->frecv = guardedRecv;
  }
  soap->user = &guard;
}

void enableTls(struct soap* soap, const Limits& limits) {
  // Most cameras carry self-signed certificates; verifying them is opt-in (system CA store).
  if (limits.verifyTls) {
    soap_ssl_client_context(soap, SOAP_SSL_DEFAULT, nullptr, nullptr, nullptr, "/etc/ssl/certs",
                            nullptr);
  } else {
    soap_ssl_client_context(soap, SOAP_SSL_NO_AUTHENTICATION, nullptr, nullptr, nullptr, nullptr,
                            nullptr);
  }
}

core::Error errorFrom(struct soap* soap, std::string_view what) {
  using core::ErrorCode;
  std::string prefix(what);
  const int err = soap->error;
  const char* fcode = nullptr;
  const char* fsub = nullptr;
  const char* fstr = nullptr;
  if (err == SOAP_FAULT || err == SOAP_CLI_FAULT || err == SOAP_SVR_FAULT) {
    fcode = *soap_faultcode(soap);
    fsub = soap_fault_subcode(soap);
    fstr = soap_fault_string(soap);
  }
  auto text = [&](const char* s) { return std::string(s != nullptr ? s : ""); };
  const std::string sub = text(fsub);
  const std::string reason = text(fstr);
  if (err == 401 || err == 403 || sub.find("NotAuthorized") != std::string::npos ||
      sub.find("FailedAuthentication") != std::string::npos ||
      sub.find("InvalidSecurity") != std::string::npos ||
      reason.find("uthenticat") != std::string::npos) {
    return core::makeError(ErrorCode::kPermissionDenied,
                           prefix + ": authentication failed" +
                               (reason.empty() ? std::string() : " (" + reason + ")") +
                               (sub.empty() ? std::string() : " [" + sub + "]"));
  }
  if (err == SOAP_FAULT || err == SOAP_CLI_FAULT || err == SOAP_SVR_FAULT) {
    return core::makeError(
        ErrorCode::kUnavailable,
        prefix + ": device fault " + text(fcode) + (sub.empty() ? "" : " " + sub) + ": " + reason);
  }
  if (err == SOAP_EOM || err == SOAP_LEVEL || err == SOAP_OCCURS || err == SOAP_LENGTH) {
    return core::makeError(
        ErrorCode::kResourceExhausted,
        prefix + ": response exceeds limits (gSOAP error " + std::to_string(err) + ")");
  }
  if (err == SOAP_TCP_ERROR) {
    if (soap->errnum == 0) {
      return core::makeError(ErrorCode::kTimeout, prefix + ": connect timed out");
    }
    return core::makeError(ErrorCode::kUnavailable, prefix + ": cannot connect: " +
                                                        std::string(std::strerror(soap->errnum)));
  }
  if (err == SOAP_EOF) {
    if (soap->errnum == 0) return core::makeError(ErrorCode::kTimeout, prefix + ": timed out");
    return core::makeError(ErrorCode::kUnavailable,
                           prefix + ": connection closed: " + std::strerror(soap->errnum));
  }
  if (err == SOAP_SSL_ERROR) {
    return core::makeError(ErrorCode::kUnavailable, prefix + ": TLS handshake failed");
  }
  if (err >= 300 && err < 600) {
    return core::makeError(ErrorCode::kUnavailable, prefix + ": HTTP " + std::to_string(err));
  }
  if (err == SOAP_NO_TAG || err == SOAP_TAG_MISMATCH || err == SOAP_SYNTAX_ERROR ||
      err == SOAP_TYPE || err == SOAP_NAMESPACE || err == SOAP_VERSIONMISMATCH ||
      err == SOAP_UTF_ERROR || err == SOAP_NO_METHOD || err == SOAP_DUPLICATE_ID ||
      err == SOAP_MISSING_ID || err == SOAP_HREF || err == SOAP_REQUIRED ||
      err == SOAP_PROHIBITED || err == SOAP_FIXED || err == SOAP_ZLIB_ERROR || err == SOAP_NULL ||
      err == SOAP_HTTP_ERROR) {
    return core::makeError(ErrorCode::kCorrupt, prefix + ": malformed response (gSOAP error " +
                                                    std::to_string(err) + ")");
  }
  return core::makeError(ErrorCode::kInternal, prefix + ": gSOAP error " + std::to_string(err));
}

std::string base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

core::Result<std::string> base64Decode(std::string_view text) {
  std::string clean;
  for (char c : text) {
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') clean.push_back(c);
  }
  if (clean.empty() || clean.size() % 4 != 0 || clean.size() > 4096) {
    return core::makeError(core::ErrorCode::kInvalidArgument, "bad base64");
  }
  std::string out(clean.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(clean.data()),
                                static_cast<int>(clean.size()));
  if (n < 0) return core::makeError(core::ErrorCode::kInvalidArgument, "bad base64");
  size_t len = static_cast<size_t>(n);
  if (clean.ends_with("==")) {
    len -= 2;
  } else if (clean.ends_with("=")) {
    len -= 1;
  }
  out.resize(len);
  return out;
}

std::string randomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    // RAND_bytes failing means the process has no entropy at all; nothing sensible to continue.
    std::abort();
  }
  return out;
}

std::string passwordDigest(std::string_view nonce, std::string_view created,
                           std::string_view password) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr);
  EVP_DigestUpdate(ctx, nonce.data(), nonce.size());
  EVP_DigestUpdate(ctx, created.data(), created.size());
  EVP_DigestUpdate(ctx, password.data(), password.size());
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  return base64Encode(std::string_view(reinterpret_cast<const char*>(md), len));
}

std::string formatCreated(core::WallTime t) {
  const std::time_t secs =
      std::chrono::system_clock::to_time_t(std::chrono::time_point_cast<std::chrono::seconds>(t));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void addUsernameToken(struct soap* soap, const std::string& user, const std::string& password,
                      core::WallTime created, bool digest) {
  if (!digest) {
    soap_wsse_add_UsernameTokenText(soap, nullptr, user.c_str(), password.c_str());
    return;
  }
  const std::string nonce = randomBytes(16);
  const std::string createdText = formatCreated(created);
  const std::string digestText = passwordDigest(nonce, createdText, password);
  soap_wsse_add_UsernameTokenText(soap, nullptr, user.c_str(), digestText.c_str());
  _wsse__UsernameToken* token = soap_wsse_UsernameToken(soap, nullptr);
  token->Password->Type = soap_strdup(
      soap,
      "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#"
      "PasswordDigest");
  token->Nonce = static_cast<wsse__EncodedString*>(soap_malloc(soap, sizeof(wsse__EncodedString)));
  soap_default_wsse__EncodedString(soap, token->Nonce);
  token->Nonce->__item = soap_strdup(soap, base64Encode(nonce).c_str());
  token->Nonce->EncodingType = soap_strdup(
      soap,
      "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#"
      "Base64Binary");
  token->wsu__Created = soap_strdup(soap, createdText.c_str());
}

}  // namespace sharpeyes::onvif::soap_support

// --- WS-Discovery events (wsddapi calls these by name) --------------------------------------

using sharpeyes::onvif::soap_support::WsddHandler;

void wsdd_event_Hello(struct soap* soap, unsigned int, const char*, unsigned int, const char*,
                      const char*, const char* EndpointReference, const char* Types,
                      const char* Scopes, const char*, const char* XAddrs, unsigned int) {
  if (auto* h = static_cast<WsddHandler*>(soap->user)) {
    h->onHello(soap, EndpointReference, Types, Scopes, XAddrs);
  }
}

void wsdd_event_Bye(struct soap*, unsigned int, const char*, unsigned int, const char*, const char*,
                    const char*, const char*, const char*, const char*, const char*,
                    unsigned int*) {}

soap_wsdd_mode wsdd_event_Probe(struct soap* soap, const char* MessageID, const char* ReplyTo,
                                const char* Types, const char* Scopes, const char* MatchBy,
                                struct wsdd__ProbeMatchesType* matches) {
  if (auto* h = static_cast<WsddHandler*>(soap->user)) {
    return h->onProbe(soap, MessageID, ReplyTo, Types, Scopes, MatchBy, matches);
  }
  return SOAP_WSDD_ADHOC;
}

void wsdd_event_ProbeMatches(struct soap* soap, unsigned int, const char*, unsigned int,
                             const char*, const char* RelatesTo,
                             struct wsdd__ProbeMatchesType* matches) {
  if (auto* h = static_cast<WsddHandler*>(soap->user)) h->onProbeMatches(soap, RelatesTo, matches);
}

soap_wsdd_mode wsdd_event_Resolve(struct soap*, const char*, const char*, const char*,
                                  struct wsdd__ResolveMatchType*) {
  return SOAP_WSDD_ADHOC;
}

void wsdd_event_ResolveMatches(struct soap*, unsigned int, const char*, unsigned int, const char*,
                               const char*, struct wsdd__ResolveMatchType*) {}
