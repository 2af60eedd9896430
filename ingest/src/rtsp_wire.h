#pragma once
// RTSP/1.0 client wire format, sans I/O: the byte-stream parser for what a server sends on the
// RTSP TCP connection (responses, and after PLAY the interleaved RTP/RTCP frames mixed with
// keepalive replies), the request formatter, Basic and Digest authentication (RFC 2617), the
// SDP of the first video media, and the Session/Transport headers.
//
// Why our own: rtspsrc costs one wakeup, two reads and a GStreamer buffer per RTP packet
// (~360 packets/s per 4 Mbit/s camera; docs/benchmarks.md). The native reader (rtsp_tcp_client.h)
// reads the connection in large chunks and parses them here, without copying payloads.
//
// Nothing here does I/O or keeps a clock, so every function is tested by feeding bytes.
// Not thread-safe: one parser per connection, used by the connection's thread.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "sharpeyes/core/result.h"

namespace sharpeyes::ingest::rtsp {

using Header = std::pair<std::string, std::string>;

// Bounds on what a server may send: beyond them the connection is garbage or hostile.
inline constexpr size_t kMaxHeaderBytes = size_t{64} * 1024;  // start line + headers
inline constexpr size_t kMaxHeaderCount = 128;
inline constexpr size_t kMaxBodyBytes = size_t{1024} * 1024;  // an SDP is a few KiB

// A response (status > 0) or, rarely, a request the server sends the client (method non-empty,
// e.g. a server-side GET_PARAMETER or ANNOUNCE); the client may ignore the latter.
struct Message {
  int status = 0;
  std::string reason;
  std::string method;  // server-to-client requests only
  std::string uri;     // server-to-client requests only
  std::vector<Header> headers;
  std::string body;

  bool isResponse() const { return status > 0; }
  // First header of that name, compared case-insensitively.
  std::optional<std::string_view> header(std::string_view name) const;
  // All headers of that name (WWW-Authenticate may appear once per scheme).
  std::vector<std::string_view> headersNamed(std::string_view name) const;
  // CSeq, or -1 when missing or not a number.
  int cseq() const;
};

// One interleaved frame ('$', channel, 16-bit length, payload). The payload points into the
// parser's buffer: valid until the next feed(), prepare() or next() call.
struct Frame {
  uint8_t channel = 0;
  std::span<const uint8_t> payload;
};

struct NeedMore {};

using WireEvent = std::variant<NeedMore, Message, Frame>;

class WireParser {
 public:
  WireParser();

  // Copies `data` in (tests, small inputs).
  void feed(std::span<const uint8_t> data);
  void feed(std::string_view data);
  // Zero-copy input: a writable span of at least `atLeast` bytes at the end of the buffer; read
  // into it, then commit() what was written. Invalidates earlier Frame payloads.
  std::span<uint8_t> prepare(size_t atLeast);
  void commit(size_t written);

  // The next complete message or frame, NeedMore when the buffer holds only part of one, or an
  // error (kCorrupt) on bytes that are no RTSP; after an error the parser stays failed, because
  // the stream cannot be resynchronised reliably (the caller reconnects).
  core::Result<WireEvent> next();

  size_t buffered() const { return end_ - begin_; }

 private:
  core::Result<WireEvent> fail(std::string message);
  core::Result<WireEvent> parseMessage(size_t headerEnd, size_t bodyStart);

  std::vector<uint8_t> buf_;
  size_t begin_ = 0;
  size_t end_ = 0;
  size_t scanned_ = 0;  // bytes of the current message head already searched for its end
  std::optional<core::Error> failed_;
};

// --- requests ---------------------------------------------------------------------------------

enum class Method { kOptions, kDescribe, kSetup, kPlay, kGetParameter, kTeardown };
std::string_view toString(Method method);

struct RequestHeaders {
  std::string session;        // Session id (empty: none)
  std::string userAgent;      // empty: none
  std::string authorization;  // the full Authorization value (empty: none)
  std::vector<Header> extra;  // e.g. Transport, Range
};

// "DESCRIBE rtsp://... RTSP/1.0\r\nCSeq: 2\r\n...\r\n\r\n". DESCRIBE asks for application/sdp.
// kInvalidArgument if the URI or a header holds CR, LF or NUL (request splitting).
core::Result<std::string> formatRequest(Method method, std::string_view uri, int cseq,
                                        const RequestHeaders& headers);

// --- authentication ---------------------------------------------------------------------------

struct Challenge {
  enum class Scheme { kBasic, kDigest };
  Scheme scheme = Scheme::kBasic;
  std::string realm;
  std::string nonce;
  std::string opaque;
  std::string algorithm;  // empty or "MD5"
  bool qopAuth = false;   // the server offered qop=auth
  bool stale = false;
};

// The challenge to answer from a 401's WWW-Authenticate headers: Digest preferred over Basic.
// kUnsupported for schemes or algorithms we cannot answer (e.g. SHA-256 only, qop=auth-int only).
core::Result<Challenge> parseChallenge(const Message& response);

// RFC 2617 request-digest (MD5). Empty `qop`: the RFC 2069 form MD5(HA1:nonce:HA2).
std::string digestResponse(std::string_view username, std::string_view realm,
                           std::string_view password, std::string_view method, std::string_view uri,
                           std::string_view nonce, std::string_view nc, std::string_view cnonce,
                           std::string_view qop);
std::string md5Hex(std::string_view data);

// Answers a challenge for every later request (the nonce count advances per request).
class Authenticator {
 public:
  Authenticator(std::string username, std::string password, Challenge challenge);
  // The Authorization header value for this request.
  std::string authorization(Method method, std::string_view uri);
  const Challenge& challenge() const { return challenge_; }
  // For tests: a fixed client nonce instead of a random one.
  void setClientNonce(std::string cnonce) { cnonce_ = std::move(cnonce); }

 private:
  std::string username_;
  std::string password_;
  Challenge challenge_;
  std::string cnonce_;
  uint32_t nc_ = 0;
};

std::string base64Encode(std::string_view data);
// Tolerates missing padding and whitespace; kInvalidArgument on other characters.
core::Result<std::vector<uint8_t>> base64Decode(std::string_view text);

// --- SDP --------------------------------------------------------------------------------------

enum class VideoCodec { kH264, kH265 };
std::string_view toString(VideoCodec codec);

struct SdpVideo {
  std::string control;  // absolute URL to SETUP
  int payloadType = 0;
  VideoCodec codec = VideoCodec::kH264;
  int clockRate = 90000;
  // Raw NAL units (no start codes) from sprop-parameter-sets, or sprop-vps/sps/pps in that order.
  std::vector<std::vector<uint8_t>> parameterSets;
};

// The first H.264 or H.265 video media. `base` is the Content-Base (else Content-Location, else
// the DESCRIBE URL); a media control that is relative is resolved against it (or against an
// absolute session-level control), "*" or none means the base itself.
// kUnsupported if the SDP has video in another encoding only; kInvalidArgument if it has none.
core::Result<SdpVideo> parseSdpVideo(std::string_view sdp, std::string_view base);

// The aggregate control URL for PLAY/TEARDOWN/GET_PARAMETER: an absolute session-level
// a=control, else `base`.
std::string sessionControl(std::string_view sdp, std::string_view base);

// Resolves an SDP control attribute against a base URL.
std::string resolveControl(std::string_view base, std::string_view control);

// --- Session and Transport --------------------------------------------------------------------

struct SessionHeader {
  std::string id;
  int timeoutSeconds = 60;  // RFC 2326's default when the server names none
};
core::Result<SessionHeader> parseSession(std::string_view value);

struct InterleavedChannels {
  uint8_t rtp = 0;
  uint8_t rtcp = 1;
};
// The interleaved channels the server chose in its Transport reply.
core::Result<InterleavedChannels> parseInterleaved(std::string_view transport);

bool iequals(std::string_view a, std::string_view b);

}  // namespace sharpeyes::ingest::rtsp
