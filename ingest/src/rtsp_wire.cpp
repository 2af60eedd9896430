#include "rtsp_wire.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "sharpeyes/core/util.h"

namespace sharpeyes::ingest::rtsp {
namespace {

using core::ErrorCode;
using core::makeError;

char lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool startsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

template <typename Int>
std::optional<Int> parseInt(std::string_view s) {
  s = trim(s);
  Int v{};
  const auto* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc() || p != end || s.empty()) return std::nullopt;
  return v;
}

// Splits "a;b;c" (or another separator), trimming each piece.
std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    const size_t p = s.find(sep);
    out.push_back(trim(s.substr(0, p)));
    if (p == std::string_view::npos) break;
    s.remove_prefix(p + 1);
  }
  return out;
}

bool hasControlChars(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

bool isAbsoluteUrl(std::string_view s) {
  const size_t p = s.find("://");
  if (p == std::string_view::npos || p == 0) return false;
  return std::all_of(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(p), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  });
}

// RFC 2617 auth-param list: name=token or name="quoted \"string\"", separated by commas.
std::vector<Header> parseAuthParams(std::string_view s) {
  std::vector<Header> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == ',')) ++i;
    const size_t nameStart = i;
    while (i < s.size() && s[i] != '=' && s[i] != ',') ++i;
    std::string name(trim(s.substr(nameStart, i - nameStart)));
    std::string value;
    if (i < s.size() && s[i] == '=') {
      ++i;
      while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
      if (i < s.size() && s[i] == '"') {
        ++i;
        while (i < s.size() && s[i] != '"') {
          if (s[i] == '\\' && i + 1 < s.size()) ++i;
          value.push_back(s[i++]);
        }
        if (i < s.size()) ++i;  // closing quote
      } else {
        const size_t v = i;
        while (i < s.size() && s[i] != ',') ++i;
        value = std::string(trim(s.substr(v, i - v)));
      }
    }
    if (!name.empty()) out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

// --- Message ----------------------------------------------------------------------------------

std::optional<std::string_view> Message::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

std::vector<std::string_view> Message::headersNamed(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) out.emplace_back(v);
  }
  return out;
}

int Message::cseq() const {
  const auto v = header("CSeq");
  if (!v) return -1;
  return parseInt<int>(*v).value_or(-1);
}

// --- WireParser -------------------------------------------------------------------------------

WireParser::WireParser() = default;

void WireParser::feed(std::span<const uint8_t> data) {
  auto dst = prepare(data.size());
  if (!data.empty()) std::memcpy(dst.data(), data.data(), data.size());
  commit(data.size());
}

void WireParser::feed(std::string_view data) {
  feed(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}

std::span<uint8_t> WireParser::prepare(size_t atLeast) {
  if (begin_ == end_) begin_ = end_ = 0;
  if (buf_.size() - end_ < atLeast) {
    if (begin_ > 0) {
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (buf_.size() - end_ < atLeast) buf_.resize(end_ + atLeast);
  }
  return {buf_.data() + end_, buf_.size() - end_};
}

void WireParser::commit(size_t written) {
  end_ = std::min(end_ + written, buf_.size());
}

core::Result<WireEvent> WireParser::fail(std::string message) {
  failed_ = makeError(ErrorCode::kCorrupt, "rtsp: " + std::move(message));
  return *failed_;
}

core::Result<WireEvent> WireParser::next() {
  if (failed_) return *failed_;
  // Some servers end a message with an extra CRLF: skip blank bytes between messages.
  while (begin_ < end_ && (buf_[begin_] == '\r' || buf_[begin_] == '\n')) {
    ++begin_;
    scanned_ = 0;
  }
  const size_t avail = end_ - begin_;
  if (avail == 0) return WireEvent{NeedMore{}};
  const uint8_t* p = buf_.data() + begin_;
  if (p[0] == '$') {
    if (avail < 4) return WireEvent{NeedMore{}};
    const size_t len = (static_cast<size_t>(p[2]) << 8) | p[3];
    if (avail < 4 + len) return WireEvent{NeedMore{}};
    Frame f{p[1], std::span<const uint8_t>(p + 4, len)};
    begin_ += 4 + len;
    scanned_ = 0;
    return WireEvent{f};
  }
  // A message starts with "RTSP/1.0" or a method: a short token of [A-Z0-9_/.-]. Checking
  // that as bytes arrive rejects garbage at once instead of after kMaxHeaderBytes.
  for (size_t i = 0; i < avail; ++i) {
    const char c = static_cast<char>(p[i]);
    if (c == ' ') {
      if (i == 0) return fail("empty start line token");
      break;
    }
    const bool upper = c >= 'A' && c <= 'Z';
    const bool token =
        upper || (c >= '0' && c <= '9') || c == '_' || c == '/' || c == '.' || c == '-';
    if (i == 0 ? !upper : !token) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned>(p[i]));
      return fail(std::string("unexpected byte ") + hex +
                  " where a response or an interleaved frame should start");
    }
    if (i >= 32) return fail("start line token longer than 32 bytes");
  }
  // End of the head: an empty line ("\r\n\r\n" or "\n\n").
  size_t from = scanned_ > 3 ? scanned_ - 3 : 0;
  size_t headEnd = 0;    // offset of the empty line's first byte
  size_t bodyStart = 0;  // offset after it
  for (size_t i = from; i < avail; ++i) {
    if (p[i] != '\n') continue;
    if (i + 1 < avail && p[i + 1] == '\n') {
      headEnd = i + 1;
      bodyStart = i + 2;
      break;
    }
    if (i + 2 < avail && p[i + 1] == '\r' && p[i + 2] == '\n') {
      headEnd = i + 1;
      bodyStart = i + 3;
      break;
    }
  }
  if (bodyStart == 0) {
    scanned_ = avail;
    if (avail > kMaxHeaderBytes) {
      return fail("message head exceeds " + std::to_string(kMaxHeaderBytes) + " bytes");
    }
    return WireEvent{NeedMore{}};
  }
  if (headEnd > kMaxHeaderBytes) {
    return fail("message head exceeds " + std::to_string(kMaxHeaderBytes) + " bytes");
  }
  scanned_ = headEnd;
  return parseMessage(headEnd, bodyStart);
}

core::Result<WireEvent> WireParser::parseMessage(size_t headEnd, size_t bodyStart) {
  const std::string_view head(reinterpret_cast<const char*>(buf_.data() + begin_), headEnd);
  Message m;
  size_t pos = 0;
  bool first = true;
  while (pos < head.size()) {
    size_t eol = head.find('\n', pos);
    if (eol == std::string_view::npos) eol = head.size();
    std::string_view line = head.substr(pos, eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = eol + 1;
    if (first) {
      first = false;
      if (line.starts_with("RTSP/")) {
        // RTSP/1.0 200 OK
        const size_t s1 = line.find(' ');
        if (s1 == std::string_view::npos) return fail("status line without a status code");
        const std::string_view rest = line.substr(s1 + 1);
        const size_t s2 = rest.find(' ');
        const auto code = parseInt<int>(rest.substr(0, s2));
        if (!code || *code < 100 || *code > 999) return fail("bad status code in a response");
        m.status = *code;
        if (s2 != std::string_view::npos) m.reason = std::string(trim(rest.substr(s2 + 1)));
      } else {
        // METHOD uri RTSP/1.0 (a server-to-client request)
        const size_t s1 = line.find(' ');
        const size_t s2 = line.rfind(' ');
        if (s1 == std::string_view::npos || s2 == s1 || !line.substr(s2 + 1).starts_with("RTSP/")) {
          return fail("malformed request line from the server");
        }
        m.method = std::string(line.substr(0, s1));
        m.uri = std::string(line.substr(s1 + 1, s2 - s1 - 1));
      }
      continue;
    }
    if (line.empty()) break;
    if ((line.front() == ' ' || line.front() == '\t') && !m.headers.empty()) {
      m.headers.back().second += ' ';
      m.headers.back().second += trim(line);  // obsolete line folding
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail("header line without a colon");
    if (m.headers.size() >= kMaxHeaderCount) {
      return fail("more than " + std::to_string(kMaxHeaderCount) + " headers");
    }
    m.headers.emplace_back(std::string(trim(line.substr(0, colon))),
                           std::string(trim(line.substr(colon + 1))));
  }
  size_t bodyLen = 0;
  if (const auto cl = m.header("Content-Length")) {
    const auto n = parseInt<uint64_t>(*cl);
    if (!n) return fail("bad Content-Length");
    if (*n > kMaxBodyBytes) {
      return fail("Content-Length " + std::to_string(*n) + " exceeds " +
                  std::to_string(kMaxBodyBytes) + " bytes");
    }
    bodyLen = *n;
  }
  if (end_ - begin_ < bodyStart + bodyLen) return WireEvent{NeedMore{}};
  m.body.assign(reinterpret_cast<const char*>(buf_.data() + begin_ + bodyStart), bodyLen);
  begin_ += bodyStart + bodyLen;
  scanned_ = 0;
  return WireEvent{std::move(m)};
}

// --- requests ---------------------------------------------------------------------------------

std::string_view toString(Method method) {
  switch (method) {
    case Method::kOptions: return "OPTIONS";
    case Method::kDescribe: return "DESCRIBE";
    case Method::kSetup: return "SETUP";
    case Method::kPlay: return "PLAY";
    case Method::kGetParameter: return "GET_PARAMETER";
    case Method::kTeardown: return "TEARDOWN";
  }
  return "OPTIONS";
}

core::Result<std::string> formatRequest(Method method, std::string_view uri, int cseq,
                                        const RequestHeaders& headers) {
  if (uri.empty() || hasControlChars(uri) || uri.find(' ') != std::string_view::npos) {
    return makeError(ErrorCode::kInvalidArgument,
                     "rtsp: request URI is empty or has spaces or "
                     "control characters");
  }
  std::string out;
  out.reserve(256);
  out += toString(method);
  out += ' ';
  out += uri;
  out += " RTSP/1.0\r\nCSeq: ";
  out += std::to_string(cseq);
  out += "\r\n";
  auto add = [&](std::string_view name, std::string_view value) -> bool {
    if (hasControlChars(name) || hasControlChars(value) || name.empty() ||
        name.find(':') != std::string_view::npos) {
      return false;
    }
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
    return true;
  };
  bool ok = true;
  if (!headers.authorization.empty()) ok = ok && add("Authorization", headers.authorization);
  if (!headers.session.empty()) ok = ok && add("Session", headers.session);
  if (!headers.userAgent.empty()) ok = ok && add("User-Agent", headers.userAgent);
  if (method == Method::kDescribe) ok = ok && add("Accept", "application/sdp");
  for (const auto& [k, v] : headers.extra) ok = ok && add(k, v);
  if (!ok) {
    return makeError(ErrorCode::kInvalidArgument,
                     "rtsp: a request header is empty or has control characters");
  }
  out += "\r\n";
  return out;
}

// --- authentication ---------------------------------------------------------------------------

core::Result<Challenge> parseChallenge(const Message& response) {
  std::optional<Challenge> basic;
  std::string refused;
  for (const auto value : response.headersNamed("WWW-Authenticate")) {
    const size_t sp = value.find_first_of(" \t");
    const std::string_view scheme = value.substr(0, sp);
    const std::string_view rest = sp == std::string_view::npos ? "" : value.substr(sp + 1);
    Challenge c;
    bool qopOffered = false;  // this challenge names a qop; it must include "auth" for us
    for (const auto& [k, v] : parseAuthParams(rest)) {
      if (iequals(k, "realm")) c.realm = v;
      if (iequals(k, "nonce")) c.nonce = v;
      if (iequals(k, "opaque")) c.opaque = v;
      if (iequals(k, "algorithm")) c.algorithm = v;
      if (iequals(k, "stale")) c.stale = iequals(v, "true");
      if (iequals(k, "qop")) {
        qopOffered = true;
        for (auto q : split(v, ',')) c.qopAuth = c.qopAuth || iequals(q, "auth");
      }
    }
    if (iequals(scheme, "Digest")) {
      if (!c.algorithm.empty() && !iequals(c.algorithm, "MD5")) {
        refused = "Digest algorithm " + c.algorithm;
        continue;
      }
      if (qopOffered && !c.qopAuth) {
        refused = "Digest without qop=auth";
        continue;
      }
      if (c.nonce.empty()) {
        refused = "Digest without a nonce";
        continue;
      }
      c.scheme = Challenge::Scheme::kDigest;
      return c;
    }
    if (iequals(scheme, "Basic")) {
      c.scheme = Challenge::Scheme::kBasic;
      basic = c;
    } else if (refused.empty()) {
      refused = "scheme " + std::string(scheme);
    }
  }
  if (basic) return *basic;
  if (refused.empty()) {
    return makeError(ErrorCode::kUnsupported, "rtsp: 401 without a WWW-Authenticate challenge");
  }
  return makeError(ErrorCode::kUnsupported,
                   "rtsp: cannot answer the server's authentication (" + refused + ")");
}

std::string md5Hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &len, EVP_md5(), nullptr);
  return core::toHex(std::span<const uint8_t>(digest.data(), len));
}

std::string digestResponse(std::string_view username, std::string_view realm,
                           std::string_view password, std::string_view method, std::string_view uri,
                           std::string_view nonce, std::string_view nc, std::string_view cnonce,
                           std::string_view qop) {
  const std::string ha1 =
      md5Hex(std::string(username) + ':' + std::string(realm) + ':' + std::string(password));
  const std::string ha2 = md5Hex(std::string(method) + ':' + std::string(uri));
  if (qop.empty()) return md5Hex(ha1 + ':' + std::string(nonce) + ':' + ha2);
  return md5Hex(ha1 + ':' + std::string(nonce) + ':' + std::string(nc) + ':' + std::string(cnonce) +
                ':' + std::string(qop) + ':' + ha2);
}

Authenticator::Authenticator(std::string username, std::string password, Challenge challenge)
    : username_(std::move(username)),
      password_(std::move(password)),
      challenge_(std::move(challenge)),
      cnonce_(core::newId().substr(0, 16)) {}

std::string Authenticator::authorization(Method method, std::string_view uri) {
  if (challenge_.scheme == Challenge::Scheme::kBasic) {
    return "Basic " + base64Encode(username_ + ':' + password_);
  }
  std::string out = "Digest username=" + quote(username_) + ", realm=" + quote(challenge_.realm) +
                    ", nonce=" + quote(challenge_.nonce) + ", uri=" + quote(uri);
  if (challenge_.qopAuth) {
    char nc[9];
    std::snprintf(nc, sizeof nc, "%08x", ++nc_);
    out += ", response=" +
           quote(digestResponse(username_, challenge_.realm, password_, toString(method), uri,
                                challenge_.nonce, nc, cnonce_, "auth"));
    out += ", qop=auth, nc=";
    out += nc;
    out += ", cnonce=" + quote(cnonce_);
  } else {
    out +=
        ", response=" + quote(digestResponse(username_, challenge_.realm, password_,
                                             toString(method), uri, challenge_.nonce, "", "", ""));
  }
  if (!challenge_.algorithm.empty()) out += ", algorithm=" + challenge_.algorithm;
  if (!challenge_.opaque.empty()) out += ", opaque=" + quote(challenge_.opaque);
  return out;
}

namespace {
constexpr std::string_view kB64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

std::string base64Encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(data[k])); };
  for (; i + 2 < data.size(); i += 3) {
    const uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (i + 1 == data.size()) {
    const uint32_t v = byte(i) << 16;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    const uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

core::Result<std::vector<uint8_t>> base64Decode(std::string_view text) {
  std::vector<uint8_t> out;
  uint32_t acc = 0;
  int bits = 0;
  bool padding = false;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    if (c == '=') {
      padding = true;
      continue;
    }
    const size_t v = kB64.find(c);
    if (v == std::string_view::npos || padding) {
      return makeError(ErrorCode::kInvalidArgument, "rtsp: invalid base64");
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>((acc >> bits) & 0xff));
    }
  }
  return out;
}

// --- SDP --------------------------------------------------------------------------------------

std::string_view toString(VideoCodec codec) {
  return codec == VideoCodec::kH265 ? "H265" : "H264";
}

std::string resolveControl(std::string_view base, std::string_view control) {
  control = trim(control);
  if (control.empty() || control == "*") return std::string(base);
  if (isAbsoluteUrl(control)) return std::string(control);
  if (control.front() == '/') {
    // scheme://authority + absolute path
    const size_t authority = base.find("://");
    const size_t path = authority == std::string_view::npos ? std::string_view::npos
                                                            : base.find('/', authority + 3);
    return std::string(base.substr(0, path)) + std::string(control);
  }
  // Relative: appended as a path segment, as GStreamer and live555 servers expect even when the
  // base has no trailing slash (their Content-Base usually has one).
  std::string out(base);
  if (out.empty() || out.back() != '/') out += '/';
  out += control;
  return out;
}

namespace {

struct SdpMedia {
  std::string type;
  std::vector<int> formats;
  std::vector<std::pair<std::string, std::string>> attributes;  // a=name:value
  std::optional<std::string_view> attr(std::string_view name) const {
    for (const auto& [k, v] : attributes) {
      if (k == name) return std::string_view(v);
    }
    return std::nullopt;
  }
};

struct SdpParsed {
  std::string sessionControl;
  std::vector<SdpMedia> media;
};

SdpParsed parseSdp(std::string_view sdp) {
  SdpParsed out;
  for (auto line : split(sdp, '\n')) {
    if (line.size() < 2 || line[1] != '=') continue;
    const char kind = line[0];
    const std::string_view value = line.substr(2);
    if (kind == 'm') {
      SdpMedia m;
      const auto parts = split(value, ' ');
      if (!parts.empty()) m.type = std::string(parts[0]);
      for (size_t i = 3; i < parts.size(); ++i) {
        if (auto pt = parseInt<int>(parts[i]); pt && *pt >= 0 && *pt < 128) {
          m.formats.push_back(*pt);
        }
      }
      out.media.push_back(std::move(m));
    } else if (kind == 'a') {
      const size_t colon = value.find(':');
      std::string name(value.substr(0, colon));
      std::string v = colon == std::string_view::npos ? "" : std::string(value.substr(colon + 1));
      if (out.media.empty()) {
        if (name == "control") out.sessionControl = v;
      } else {
        out.media.back().attributes.emplace_back(std::move(name), std::move(v));
      }
    }
  }
  return out;
}

// "96 H264/90000" for payload type `pt` among a=rtpmap values.
std::optional<std::pair<std::string, int>> rtpmapFor(const SdpMedia& m, int pt) {
  for (const auto& [k, v] : m.attributes) {
    if (k != "rtpmap") continue;
    const std::string_view s(v);
    const size_t sp = s.find(' ');
    if (sp == std::string_view::npos || parseInt<int>(s.substr(0, sp)) != pt) continue;
    const auto enc = split(trim(s.substr(sp + 1)), '/');
    const int rate = enc.size() > 1 ? parseInt<int>(enc[1]).value_or(90000) : 90000;
    return std::make_pair(std::string(enc[0]), rate);
  }
  return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> fmtpFor(const SdpMedia& m, int pt) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [k, v] : m.attributes) {
    if (k != "fmtp") continue;
    const std::string_view s(v);
    const size_t sp = s.find(' ');
    if (sp == std::string_view::npos || parseInt<int>(s.substr(0, sp)) != pt) continue;
    for (auto kv : split(s.substr(sp + 1), ';')) {
      const size_t eq = kv.find('=');
      if (eq == std::string_view::npos) continue;
      out.emplace_back(std::string(trim(kv.substr(0, eq))), std::string(trim(kv.substr(eq + 1))));
    }
  }
  return out;
}

}  // namespace

core::Result<SdpVideo> parseSdpVideo(std::string_view sdp, std::string_view base) {
  const SdpParsed parsed = parseSdp(sdp);
  std::string unsupported;
  for (const auto& m : parsed.media) {
    if (m.type != "video") continue;
    for (int pt : m.formats) {
      const auto map = rtpmapFor(m, pt);
      if (!map) continue;
      SdpVideo v;
      if (iequals(map->first, "H264")) {
        v.codec = VideoCodec::kH264;
      } else if (iequals(map->first, "H265")) {
        v.codec = VideoCodec::kH265;
      } else {
        unsupported = map->first;
        continue;
      }
      v.payloadType = pt;
      v.clockRate = map->second > 0 ? map->second : 90000;
      v.control = resolveControl(base, m.attr("control").value_or(""));
      const auto fmtp = fmtpFor(m, pt);
      auto addSets = [&](std::string_view key) -> core::Result<void> {
        for (const auto& [k, val] : fmtp) {
          if (!iequals(k, key)) continue;
          for (auto item : split(val, ',')) {
            if (item.empty()) continue;
            auto nal = base64Decode(item);
            if (!nal.ok()) {
              return makeError(ErrorCode::kInvalidArgument,
                               "sdp: " + std::string(key) + " is not valid base64");
            }
            if (!nal->empty()) v.parameterSets.push_back(std::move(nal).value());
          }
        }
        return core::okResult();
      };
      core::Result<void> r;
      if (v.codec == VideoCodec::kH264) {
        r = addSets("sprop-parameter-sets");
      } else {
        for (auto key : {"sprop-vps", "sprop-sps", "sprop-pps"}) {
          if (r.ok()) r = addSets(key);
        }
      }
      if (!r.ok()) return r.error();
      return v;
    }
  }
  if (!unsupported.empty()) {
    return makeError(ErrorCode::kUnsupported,
                     "sdp: video encoding " + unsupported + " (only H264 and H265 are supported)");
  }
  return makeError(ErrorCode::kInvalidArgument, "sdp: no H264 or H265 video media");
}

std::string sessionControl(std::string_view sdp, std::string_view base) {
  const SdpParsed parsed = parseSdp(sdp);
  if (isAbsoluteUrl(parsed.sessionControl)) return parsed.sessionControl;
  return resolveControl(base, parsed.sessionControl);
}

// --- Session and Transport --------------------------------------------------------------------

core::Result<SessionHeader> parseSession(std::string_view value) {
  const auto parts = split(value, ';');
  SessionHeader s;
  s.id = std::string(parts[0]);
  if (s.id.empty() || hasControlChars(s.id)) {
    return makeError(ErrorCode::kInvalidArgument, "rtsp: empty Session header");
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    const size_t eq = parts[i].find('=');
    if (eq == std::string_view::npos || !iequals(trim(parts[i].substr(0, eq)), "timeout")) continue;
    const auto t = parseInt<int>(parts[i].substr(eq + 1));
    // A timeout we cannot use keeps the default rather than failing the session.
    if (t && *t > 0 && *t <= 24 * 3600) s.timeoutSeconds = *t;
  }
  return s;
}

core::Result<InterleavedChannels> parseInterleaved(std::string_view transport) {
  for (auto part : split(transport, ';')) {
    if (!startsWithNoCase(part, "interleaved=")) continue;
    const auto range = split(part.substr(12), '-');
    const auto rtp = parseInt<int>(range[0]);
    if (!rtp) return makeError(ErrorCode::kInvalidArgument, "rtsp: bad interleaved channels");
    const auto rtcp = range.size() > 1 ? parseInt<int>(range[1]) : std::optional<int>(*rtp + 1);
    if (!rtcp || *rtp < 0 || *rtp > 255 || *rtcp < 0 || *rtcp > 255) {
      return makeError(ErrorCode::kInvalidArgument, "rtsp: bad interleaved channels in Transport");
    }
    return InterleavedChannels{static_cast<uint8_t>(*rtp), static_cast<uint8_t>(*rtcp)};
  }
  return makeError(ErrorCode::kUnsupported,
                   "rtsp: the server did not accept RTP interleaved over TCP");
}

}  // namespace sharpeyes::ingest::rtsp
