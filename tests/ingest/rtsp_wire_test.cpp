// The native reader's RTSP wire format (ingest/src/rtsp_wire.h), fed hand-built bytes: the stream
// parser split at every byte boundary, its bounds and garbage, requests, Basic and Digest
// authentication against RFC 2617's own example, the SDP and the Session/Transport headers.
#include "rtsp_wire.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace sharpeyes::ingest::rtsp {
namespace {

using core::ErrorCode;

std::string frameBytes(uint8_t channel, const std::string& payload) {
  std::string out = "$";
  out += static_cast<char>(channel);
  out += static_cast<char>((payload.size() >> 8) & 0xff);
  out += static_cast<char>(payload.size() & 0xff);
  return out + payload;
}

// One line per event, so that whole sequences compare at once.
std::string summary(const WireEvent& e) {
  if (const auto* m = std::get_if<Message>(&e)) {
    std::string s = m->isResponse() ? "response " + std::to_string(m->status) + " " + m->reason
                                    : "request " + m->method + " " + m->uri;
    s += " cseq=" + std::to_string(m->cseq());
    for (const auto& [k, v] : m->headers) s += " [" + k + "=" + v + "]";
    return s + " body=" + m->body;
  }
  if (const auto* f = std::get_if<Frame>(&e)) {
    return "frame " + std::to_string(f->channel) + " " +
           std::string(reinterpret_cast<const char*>(f->payload.data()), f->payload.size());
  }
  return "need-more";
}

// Feeds `chunks` one after another and drains events after each; stops at the first error.
std::vector<std::string> parseChunks(const std::vector<std::string>& chunks,
                                     std::string* error = nullptr) {
  WireParser parser;
  std::vector<std::string> out;
  for (const auto& c : chunks) {
    parser.feed(c);
    while (true) {
      auto e = parser.next();
      if (!e.ok()) {
        if (error) *error = e.error().describe();
        return out;
      }
      if (std::holds_alternative<NeedMore>(*e)) break;
      out.push_back(summary(*e));
    }
  }
  return out;
}

const std::string kSdp =
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\n"
    "a=rtpmap:96 H264/90000\r\na=control:stream=0\r\n";

std::string mixedStream() {
  std::string s;
  s += "RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY\r\n\r\n";
  s += frameBytes(0, "rtp-one");
  s += "RTSP/1.0 200 OK\r\ncseq: 2\r\ncontent-type: application/sdp\r\ncontent-length: " +
       std::to_string(kSdp.size()) + "\r\n\r\n" + kSdp;
  s += frameBytes(1, "");
  s += frameBytes(0, std::string(300, 'x'));  // length above 255: both length bytes count
  s += "\r\n";                                // a stray CRLF between messages
  s += "GET_PARAMETER rtsp://cam/main RTSP/1.0\r\nCSeq: 9\r\n\r\n";
  // Bare LF line ends and a folded header, as some cameras send.
  s +=
      "RTSP/1.0 401 Unauthorized\nCSeq: 3\nWWW-Authenticate: Digest realm=\"r\",\n nonce=\"n\"\n\n";
  return s;
}

std::vector<std::string> expectedMixed() {
  return {
      "response 200 OK cseq=1 [CSeq=1] [Public=OPTIONS, DESCRIBE, SETUP, PLAY] body=",
      "frame 0 rtp-one",
      "response 200 OK cseq=2 [cseq=2] [content-type=application/sdp] [content-length=" +
          std::to_string(kSdp.size()) + "] body=" + kSdp,
      "frame 1 ",
      "frame 0 " + std::string(300, 'x'),
      "request GET_PARAMETER rtsp://cam/main cseq=9 [CSeq=9] body=",
      "response 401 Unauthorized cseq=3 [CSeq=3] [WWW-Authenticate=Digest realm=\"r\", "
      "nonce=\"n\"] body=",
  };
}

TEST(RtspWire, ParsesMixedStreamWhole) {
  EXPECT_EQ(parseChunks({mixedStream()}), expectedMixed());
}

TEST(RtspWire, ParsesMixedStreamSplitAtEveryByte) {
  const std::string s = mixedStream();
  for (size_t i = 0; i <= s.size(); ++i) {
    EXPECT_EQ(parseChunks({s.substr(0, i), s.substr(i)}), expectedMixed()) << "split at " << i;
  }
  std::vector<std::string> bytes;
  for (char c : s) bytes.emplace_back(1, c);
  EXPECT_EQ(parseChunks(bytes), expectedMixed()) << "one byte at a time";
}

TEST(RtspWire, ZeroCopyInputThroughPrepareAndCommit) {
  const std::string s = mixedStream();
  WireParser parser;
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    auto span = parser.prepare(7);  // small reads force compaction and growth
    const size_t n = std::min<size_t>(7, s.size() - pos);
    std::copy_n(s.data() + pos, n, span.data());
    parser.commit(n);
    pos += n;
    while (true) {
      auto e = parser.next();
      ASSERT_TRUE(e.ok()) << e.error().describe();
      if (std::holds_alternative<NeedMore>(*e)) break;
      out.push_back(summary(*e));
    }
  }
  EXPECT_EQ(out, expectedMixed());
  EXPECT_EQ(parser.buffered(), 0U);
}

TEST(RtspWire, HeaderLookupIsCaseInsensitive) {
  WireParser parser;
  parser.feed("RTSP/1.0 200 OK\r\nCSEQ: 4\r\nsession: abc;timeout=30\r\n\r\n");
  auto e = parser.next();
  ASSERT_TRUE(e.ok());
  const auto& m = std::get<Message>(*e);
  EXPECT_EQ(m.cseq(), 4);
  ASSERT_TRUE(m.header("Session").has_value());
  EXPECT_EQ(*m.header("SESSION"), "abc;timeout=30");
  EXPECT_FALSE(m.header("Transport").has_value());
}

std::string errorOf(const std::string& input) {
  std::string error;
  parseChunks({input}, &error);
  return error;
}

TEST(RtspWire, RejectsGarbageWithClearErrors) {
  EXPECT_NE(errorOf(std::string("\x00\x01\x02", 3)).find("unexpected byte 0x00"),
            std::string::npos);
  EXPECT_NE(errorOf("hello world\r\n\r\n").find("unexpected byte 0x68"), std::string::npos);
  EXPECT_NE(errorOf("RTSP/1.0 abc OK\r\n\r\n").find("bad status code"), std::string::npos);
  EXPECT_NE(errorOf("RTSP/1.0 200 OK\r\nno colon here\r\n\r\n").find("without a colon"),
            std::string::npos);
  EXPECT_NE(errorOf("RTSP/1.0 200 OK\r\nContent-Length: -5\r\n\r\n").find("bad Content-Length"),
            std::string::npos);
  EXPECT_NE(errorOf("RTSP/1.0 200 OK\r\nContent-Length: 99999999999\r\n\r\n").find("exceeds"),
            std::string::npos);
  EXPECT_NE(errorOf(std::string(40, 'A')).find("longer than 32"), std::string::npos);
  EXPECT_NE(errorOf("PLAY rtsp://x\r\n\r\n").find("malformed request line"), std::string::npos);
}

TEST(RtspWire, BoundsHeadSizeAndHeaderCount) {
  std::string huge = "RTSP/1.0 200 OK\r\nX: " + std::string(kMaxHeaderBytes, 'a');
  const std::string err = errorOf(huge);
  EXPECT_NE(err.find("message head exceeds"), std::string::npos) << err;
  EXPECT_NE(err.find("corrupt"), std::string::npos) << err;

  std::string many = "RTSP/1.0 200 OK\r\n";
  for (size_t i = 0; i <= kMaxHeaderCount; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_NE(errorOf(many + "\r\n").find("more than"), std::string::npos);
}

TEST(RtspWire, StaysFailedAfterAnError) {
  WireParser parser;
  parser.feed("\xff");
  EXPECT_FALSE(parser.next().ok());
  parser.feed("RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n");
  auto again = parser.next();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kCorrupt);
}

TEST(RtspWire, RandomGarbageNeverCrashes) {
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    WireParser parser;
    std::string junk(static_cast<size_t>(rng() % 600), '\0');
    for (auto& c : junk) c = static_cast<char>(rng());
    // Half the rounds look like RTSP at first, so the head and body paths see junk too.
    if (round % 2 == 0) junk = "RTSP/1.0 200 OK\r\nContent-Length: 10\r\n" + junk;
    if (round % 3 == 0) junk = "$" + junk;
    size_t pos = 0;
    bool done = false;
    while (!done) {
      const size_t n = std::min<size_t>(1 + rng() % 64, junk.size() - pos);
      parser.feed(std::string_view(junk).substr(pos, n));
      pos += n;
      for (int i = 0; i < 10000; ++i) {
        auto e = parser.next();
        if (!e.ok()) {
          done = true;
          break;
        }
        if (std::holds_alternative<NeedMore>(*e)) break;
      }
      if (pos >= junk.size()) done = true;
    }
  }
}

TEST(RtspWire, FormatsRequests) {
  RequestHeaders h;
  h.userAgent = "sharpeyes";
  auto describe = formatRequest(Method::kDescribe, "rtsp://10.0.0.5/main", 2, h);
  ASSERT_TRUE(describe.ok());
  EXPECT_EQ(*describe,
            "DESCRIBE rtsp://10.0.0.5/main RTSP/1.0\r\nCSeq: 2\r\nUser-Agent: sharpeyes\r\n"
            "Accept: application/sdp\r\n\r\n");

  h.session = "12345678";
  h.authorization = "Basic abc";
  h.extra = {{"Transport", "RTP/AVP/TCP;unicast;interleaved=0-1"}};
  auto setup = formatRequest(Method::kSetup, "rtsp://10.0.0.5/main/stream=0", 3, h);
  ASSERT_TRUE(setup.ok());
  EXPECT_EQ(*setup,
            "SETUP rtsp://10.0.0.5/main/stream=0 RTSP/1.0\r\nCSeq: 3\r\n"
            "Authorization: Basic abc\r\nSession: 12345678\r\nUser-Agent: sharpeyes\r\n"
            "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n");

  EXPECT_EQ(*formatRequest(Method::kGetParameter, "rtsp://h/x", 9, {}),
            "GET_PARAMETER rtsp://h/x RTSP/1.0\r\nCSeq: 9\r\n\r\n");
  EXPECT_EQ(formatRequest(Method::kTeardown, "rtsp://h/x", 1, {})->substr(0, 9), "TEARDOWN ");
  EXPECT_EQ(formatRequest(Method::kPlay, "rtsp://h/x", 1, {})->substr(0, 5), "PLAY ");
  EXPECT_EQ(formatRequest(Method::kOptions, "rtsp://h/x", 1, {})->substr(0, 8), "OPTIONS ");
}

TEST(RtspWire, RefusesRequestSplitting) {
  EXPECT_EQ(formatRequest(Method::kPlay, "rtsp://h/x\r\nEvil: 1", 1, {}).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_FALSE(formatRequest(Method::kPlay, "", 1, {}).ok());
  RequestHeaders h;
  h.session = "abc\r\nX: y";
  EXPECT_FALSE(formatRequest(Method::kPlay, "rtsp://h/x", 1, h).ok());
  h.session.clear();
  h.extra = {{"Bad:Name", "v"}};
  EXPECT_FALSE(formatRequest(Method::kPlay, "rtsp://h/x", 1, h).ok());
}

TEST(RtspWire, DigestMatchesRfc2617Example) {
  // RFC 2617 section 3.5.
  EXPECT_EQ(
      digestResponse("Mufasa", "testrealm@host.com", "Circle Of Life", "GET", "/dir/index.html",
                     "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b", "auth"),
      "6629fae49393a05397450978507c4ef1");
  // Without qop (RFC 2069 form), as most cameras challenge: MD5(HA1:nonce:HA2).
  EXPECT_EQ(digestResponse("Mufasa", "testrealm@host.com", "Circle Of Life", "GET",
                           "/dir/index.html", "dcd98b7102dd2f0e8b11d0f600bfb0c093", "", "", ""),
            "670fd8c2df070c60b045671b8b24ff02");
  EXPECT_EQ(md5Hex(""), "d41d8cd98f00b204e9800998ecf8427e");
}

TEST(RtspWire, AuthenticatorAnswersDigestWithQopAndCountsNonces) {
  Message m;
  m.status = 401;
  m.headers = {{"WWW-Authenticate", "Basic realm=\"testrealm@host.com\""},
               {"WWW-Authenticate",
                "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", "
                "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
                "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""}};
  auto c = parseChallenge(m);
  ASSERT_TRUE(c.ok()) << c.error().describe();
  EXPECT_EQ(c->scheme, Challenge::Scheme::kDigest);
  EXPECT_TRUE(c->qopAuth);
  Authenticator auth("Mufasa", "Circle Of Life", *c);
  auth.setClientNonce("0a4f113b");
  // RFC 2617's example request is a GET; ours are RTSP methods, so compare against the formula.
  const std::string first = auth.authorization(Method::kDescribe, "/dir/index.html");
  EXPECT_NE(first.find("response=\"" +
                       digestResponse("Mufasa", "testrealm@host.com", "Circle Of Life", "DESCRIBE",
                                      "/dir/index.html", "dcd98b7102dd2f0e8b11d0f600bfb0c093",
                                      "00000001", "0a4f113b", "auth") +
                       "\""),
            std::string::npos)
      << first;
  EXPECT_EQ(first.substr(0, 24), "Digest username=\"Mufasa\"");
  EXPECT_NE(first.find("qop=auth, nc=00000001, cnonce=\"0a4f113b\""), std::string::npos);
  EXPECT_NE(first.find("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""), std::string::npos);
  EXPECT_NE(auth.authorization(Method::kSetup, "/x").find("nc=00000002"), std::string::npos);
  EXPECT_EQ(first.find("Circle"), std::string::npos);  // never the password itself
}

TEST(RtspWire, AuthenticatorAnswersDigestWithoutQopAndBasic) {
  Message m;
  m.status = 401;
  m.headers = {{"WWW-Authenticate", "Digest realm=\"IP Camera\", nonce=\"abc\\\"def\""}};
  auto c = parseChallenge(m);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->qopAuth);
  EXPECT_EQ(c->nonce, "abc\"def");  // quoted-pair unescaped
  Authenticator digest("admin", "pw", *c);
  EXPECT_EQ(digest.authorization(Method::kDescribe, "rtsp://h/x"),
            "Digest username=\"admin\", realm=\"IP Camera\", nonce=\"abc\\\"def\", "
            "uri=\"rtsp://h/x\", response=\"" +
                digestResponse("admin", "IP Camera", "pw", "DESCRIBE", "rtsp://h/x", "abc\"def", "",
                               "", "") +
                "\"");

  m.headers = {{"WWW-Authenticate", "Basic realm=\"WallyWorld\""}};
  auto b = parseChallenge(m);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->scheme, Challenge::Scheme::kBasic);
  // RFC 2617 section 2's example credentials.
  EXPECT_EQ(Authenticator("Aladdin", "open sesame", *b).authorization(Method::kPlay, "x"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
}

TEST(RtspWire, RefusesChallengesItCannotAnswer) {
  Message m;
  m.status = 401;
  EXPECT_EQ(parseChallenge(m).error().code, ErrorCode::kUnsupported);
  m.headers = {{"WWW-Authenticate", "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-256"}};
  auto sha = parseChallenge(m);
  ASSERT_FALSE(sha.ok());
  EXPECT_NE(sha.error().message.find("SHA-256"), std::string::npos);
  m.headers = {{"WWW-Authenticate", "Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\""}};
  EXPECT_FALSE(parseChallenge(m).ok());
  m.headers = {{"WWW-Authenticate", "Negotiate"}};
  EXPECT_FALSE(parseChallenge(m).ok());
  // An unusable challenge before a usable one does not hide it.
  m.headers = {{"WWW-Authenticate", "Negotiate"},
               {"WWW-Authenticate", "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-256"},
               {"WWW-Authenticate", "Digest realm=\"r\", nonce=\"n\""}};
  auto usable = parseChallenge(m);
  ASSERT_TRUE(usable.ok()) << usable.error().describe();
  EXPECT_EQ(usable->scheme, Challenge::Scheme::kDigest);
  EXPECT_FALSE(usable->qopAuth);
}

TEST(RtspWire, Base64) {
  EXPECT_EQ(base64Encode(""), "");
  EXPECT_EQ(base64Encode("f"), "Zg==");
  EXPECT_EQ(base64Encode("fo"), "Zm8=");
  EXPECT_EQ(base64Encode("foo"), "Zm9v");
  EXPECT_EQ(*base64Decode("Zm9vYg"), (std::vector<uint8_t>{'f', 'o', 'o', 'b'}));
  EXPECT_EQ(*base64Decode("Zm9vYmE="), (std::vector<uint8_t>{'f', 'o', 'o', 'b', 'a'}));
  EXPECT_FALSE(base64Decode("Zm9v!").ok());
  EXPECT_FALSE(base64Decode("Zg==Zg").ok());
}

TEST(RtspWire, SdpH264WithContentBaseAndParameterSets) {
  const std::string sdp =
      "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=Session\r\nt=0 0\r\na=control:*\r\n"
      "m=audio 0 RTP/AVP 0\r\na=control:stream=1\r\n"
      "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
      "a=fmtp:96 packetization-mode=1;profile-level-id=42001f;"
      "sprop-parameter-sets=Z0IAH6s=,aM48gA==\r\na=control:stream=0\r\n";
  auto v = parseSdpVideo(sdp, "rtsp://10.0.0.5:554/cam01/main/");
  ASSERT_TRUE(v.ok()) << v.error().describe();
  EXPECT_EQ(v->codec, VideoCodec::kH264);
  EXPECT_EQ(v->payloadType, 96);
  EXPECT_EQ(v->clockRate, 90000);
  EXPECT_EQ(v->control, "rtsp://10.0.0.5:554/cam01/main/stream=0");
  ASSERT_EQ(v->parameterSets.size(), 2U);
  EXPECT_EQ(v->parameterSets[0], (std::vector<uint8_t>{0x67, 0x42, 0x00, 0x1f, 0xab}));
  EXPECT_EQ(v->parameterSets[1], (std::vector<uint8_t>{0x68, 0xce, 0x3c, 0x80}));
  EXPECT_EQ(sessionControl(sdp, "rtsp://10.0.0.5:554/cam01/main/"),
            "rtsp://10.0.0.5:554/cam01/main/");
}

TEST(RtspWire, SdpH265ParameterSetsInVpsSpsPpsOrder) {
  const std::string sdp =
      "v=0\r\nm=video 0 RTP/AVP 98\r\na=rtpmap:98 H265/90000\r\n"
      "a=fmtp:98 sprop-pps=RAHB; sprop-sps=QgEB; sprop-vps=QAEM\r\n"
      "a=control:rtsp://10.0.0.9/h265/track1\r\n";
  auto v = parseSdpVideo(sdp, "rtsp://10.0.0.9/h265");
  ASSERT_TRUE(v.ok()) << v.error().describe();
  EXPECT_EQ(v->codec, VideoCodec::kH265);
  EXPECT_EQ(v->payloadType, 98);
  EXPECT_EQ(v->control, "rtsp://10.0.0.9/h265/track1");  // absolute
  ASSERT_EQ(v->parameterSets.size(), 3U);
  EXPECT_EQ(v->parameterSets[0], (std::vector<uint8_t>{0x40, 0x01, 0x0c}));
  EXPECT_EQ(v->parameterSets[1], (std::vector<uint8_t>{0x42, 0x01, 0x01}));
  EXPECT_EQ(v->parameterSets[2], (std::vector<uint8_t>{0x44, 0x01, 0xc1}));
}

TEST(RtspWire, ResolvesControlUrls) {
  EXPECT_EQ(resolveControl("rtsp://h/a/", "*"), "rtsp://h/a/");
  EXPECT_EQ(resolveControl("rtsp://h/a/", ""), "rtsp://h/a/");
  EXPECT_EQ(resolveControl("rtsp://h/a", "trackID=1"), "rtsp://h/a/trackID=1");
  EXPECT_EQ(resolveControl("rtsp://h:554/a/b", "/x/y"), "rtsp://h:554/x/y");
  EXPECT_EQ(resolveControl("rtsp://h/a", "RTSP://other/z"), "RTSP://other/z");
  const std::string sdp = "v=0\r\na=control:rtsp://h/agg\r\nm=video 0 RTP/AVP 96\r\n";
  EXPECT_EQ(sessionControl(sdp, "rtsp://h/base/"), "rtsp://h/agg");
  EXPECT_EQ(sessionControl("v=0\r\n", "rtsp://h/base/"), "rtsp://h/base/");
}

TEST(RtspWire, SdpWithoutUsableVideoIsAClearError) {
  auto mp4v = parseSdpVideo("m=video 0 RTP/AVP 96\r\na=rtpmap:96 MP4V-ES/90000\r\n", "rtsp://h/");
  ASSERT_FALSE(mp4v.ok());
  EXPECT_EQ(mp4v.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(mp4v.error().message.find("MP4V-ES"), std::string::npos);
  auto audio = parseSdpVideo("m=audio 0 RTP/AVP 0\r\n", "rtsp://h/");
  EXPECT_EQ(audio.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(parseSdpVideo("garbage\0\xff\r\n=\r\nm=\r\na=\r\n", "rtsp://h/").ok());
  auto badB64 = parseSdpVideo(
      "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 sprop-parameter-sets=@@\r\n",
      "rtsp://h/");
  EXPECT_EQ(badB64.error().code, ErrorCode::kInvalidArgument);
}

TEST(RtspWire, SessionAndTransportHeaders) {
  auto s = parseSession("47112344;timeout=30");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->id, "47112344");
  EXPECT_EQ(s->timeoutSeconds, 30);
  EXPECT_EQ(parseSession("abc")->timeoutSeconds, 60);
  EXPECT_EQ(parseSession("abc; Timeout = 15")->timeoutSeconds, 15);
  EXPECT_EQ(parseSession("abc;timeout=-4")->timeoutSeconds, 60);
  EXPECT_EQ(parseSession("abc;timeout=xyz")->timeoutSeconds, 60);
  EXPECT_FALSE(parseSession("").ok());
  EXPECT_FALSE(parseSession(";timeout=5").ok());

  auto t = parseInterleaved("RTP/AVP/TCP;unicast;interleaved=2-3;ssrc=1234");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->rtp, 2);
  EXPECT_EQ(t->rtcp, 3);
  EXPECT_EQ(parseInterleaved("RTP/AVP/TCP;interleaved=4")->rtcp, 5);
  EXPECT_EQ(parseInterleaved("RTP/AVP;unicast;client_port=5000-5001").error().code,
            ErrorCode::kUnsupported);
  EXPECT_FALSE(parseInterleaved("RTP/AVP/TCP;interleaved=x-1").ok());
  EXPECT_FALSE(parseInterleaved("RTP/AVP/TCP;interleaved=300-301").ok());
}

}  // namespace
}  // namespace sharpeyes::ingest::rtsp
