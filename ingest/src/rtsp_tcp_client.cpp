#include "rtsp_tcp_client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>

#include "sharpeyes/core/util.h"

namespace sharpeyes::ingest {
namespace {

using Clock = std::chrono::steady_clock;
using core::ErrorCode;
using core::makeError;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

struct RtspUrl {
  std::string host;
  std::string port = "554";
  std::string user;
  std::string password;
  std::string request;  // the URL without credentials: what requests name
};

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hexDigit(s[i + 1]) >= 0 && hexDigit(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexDigit(s[i + 1]) * 16 + hexDigit(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

core::Result<RtspUrl> parseUrl(std::string_view url) {
  const auto bad = [&](std::string_view why) {
    return makeError(ErrorCode::kInvalidArgument,
                     "rtsp: " + std::string(why) + ": " + core::redactUrl(url));
  };
  if (url.size() < 7 || !rtsp::iequals(url.substr(0, 7), "rtsp://")) return bad("not an rtsp URL");
  std::string_view rest = url.substr(7);
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  const std::string_view path = slash == std::string_view::npos ? "/" : rest.substr(slash);
  RtspUrl out;
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view info = authority.substr(0, at);
    const size_t colon = info.find(':');
    out.user = percentDecode(info.substr(0, colon));
    if (colon != std::string_view::npos) out.password = percentDecode(info.substr(colon + 1));
    authority = authority.substr(at + 1);
  }
  std::string_view portText;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 address");
    out.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("bad port");
      portText = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) portText = authority.substr(colon + 1);
  }
  if (out.host.empty()) return bad("no host");
  if (!portText.empty()) {
    int port = 0;
    for (char c : portText) {
      if (c < '0' || c > '9' || port > 65535) return bad("bad port");
      port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) return bad("bad port");
    out.port = std::to_string(port);
  }
  out.request = "rtsp://" + std::string(authority) + std::string(path);
  return out;
}

core::Error statusError(const rtsp::Message& m, rtsp::Method method, std::string_view uri) {
  ErrorCode code = ErrorCode::kUnavailable;
  if (m.status == 404) code = ErrorCode::kNotFound;
  if (m.status == 401 || m.status == 403) code = ErrorCode::kPermissionDenied;
  if (m.status == 461) code = ErrorCode::kUnsupported;  // Unsupported Transport
  return makeError(code, "rtsp: " + std::string(rtsp::toString(method)) + " " +
                             core::redactUrl(uri) + ": " + std::to_string(m.status) + " " +
                             m.reason);
}

bool isSuccess(const rtsp::Message& m) {
  return m.status >= 200 && m.status < 300;
}

}  // namespace

// One connection's state and its blocking primitives; lives inside run().
struct RtspTcpClient::Connection {
  RtspTcpClient& client;
  const RtspTcpOptions& opt;
  RtspUrl url;
  std::string user;
  std::string password;
  int fd = -1;
  rtsp::WireParser parser;
  int cseq = 0;
  std::optional<rtsp::Authenticator> auth;
  std::string session;

  Connection(RtspTcpClient& c, const RtspTcpOptions& o) : client(c), opt(o) {}
  ~Connection() {
    if (fd >= 0) ::close(fd);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  std::string where() const { return url.host + ":" + url.port; }

  // Waits until fd is ready for `events`; kCancelled on stop() (if honoured), kTimeout at the
  // deadline.
  core::Result<void> wait(short events, Clock::time_point deadline, bool honourStop,
                          std::string_view what) const {
    while (true) {
      const auto now = Clock::now();
      if (now >= deadline) {
        return makeError(ErrorCode::kTimeout,
                         "rtsp: " + std::string(what) + " (" + where() + ") timed out");
      }
      const int ms = static_cast<int>(duration_cast<milliseconds>(deadline - now).count()) + 1;
      pollfd fds[2] = {{fd, events, 0}, {client.stopFd_, POLLIN, 0}};
      const int r = ::poll(fds, honourStop ? 2 : 1, ms);
      if (r < 0) {
        if (errno == EINTR) continue;
        return makeError(ErrorCode::kIo, std::string("rtsp: poll: ") + std::strerror(errno));
      }
      if (honourStop && (fds[1].revents & POLLIN) != 0) {
        return makeError(ErrorCode::kCancelled, "rtsp: stopped");
      }
      if ((fds[0].revents & (events | POLLERR | POLLHUP)) != 0) return core::okResult();
    }
  }

  core::Result<void> connect(Clock::time_point deadline) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (const int rc = ::getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &found); rc != 0) {
      return makeError(ErrorCode::kUnavailable,
                       "rtsp: cannot resolve " + url.host + ": " + ::gai_strerror(rc));
    }
    int lastErrno = 0;
    for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
      fd = ::socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        lastErrno = errno;
        continue;
      }
      int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
      if (rc != 0 && errno == EINPROGRESS) {
        auto ready = wait(POLLOUT, deadline, true, "connect");
        if (!ready.ok()) {
          ::freeaddrinfo(found);
          return ready.error();
        }
        socklen_t len = sizeof lastErrno;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &lastErrno, &len);
        rc = lastErrno == 0 ? 0 : -1;
      } else if (rc != 0) {
        lastErrno = errno;
      }
      if (rc == 0) {
        ::freeaddrinfo(found);
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return core::okResult();
      }
      ::close(fd);
      fd = -1;
    }
    ::freeaddrinfo(found);
    if (lastErrno == ECONNREFUSED) {
      return makeError(ErrorCode::kUnavailable, "rtsp: connection to " + where() + " refused");
    }
    return makeError(ErrorCode::kUnavailable,
                     "rtsp: cannot connect to " + where() + ": " + std::strerror(lastErrno));
  }

  core::Result<void> send(std::string_view data, Clock::time_point deadline, bool honourStop) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        auto r = wait(POLLOUT, deadline, honourStop, "send");
        if (!r.ok()) return r;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      return makeError(ErrorCode::kUnavailable,
                       "rtsp: send to " + where() + ": " + std::strerror(errno));
    }
    return core::okResult();
  }

  // One non-blocking read into the parser; 0 when nothing was there.
  core::Result<size_t> readSome() {
    auto buf = parser.prepare(opt.readBytes);
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n > 0) {
      parser.commit(static_cast<size_t>(n));
      client.bytes_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      client.reads_.fetch_add(1, std::memory_order_relaxed);
      return static_cast<size_t>(n);
    }
    if (n == 0) {
      return makeError(ErrorCode::kUnavailable,
                       "rtsp: the server (" + where() + ") closed the connection");
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return size_t{0};
    return makeError(ErrorCode::kUnavailable,
                     "rtsp: receive from " + where() + ": " + std::strerror(errno));
  }

  // Reads until the response with CSeq `want`; frames and other messages are skipped.
  core::Result<rtsp::Message> awaitResponse(int want, rtsp::Method method,
                                            Clock::time_point deadline, bool honourStop) {
    while (true) {
      auto ev = parser.next();
      if (!ev.ok()) return ev.error();
      if (auto* m = std::get_if<rtsp::Message>(&*ev)) {
        if (m->isResponse() && m->cseq() == want) return std::move(*m);
        continue;
      }
      if (std::holds_alternative<rtsp::Frame>(*ev)) continue;
      const std::string what = "response to " + std::string(rtsp::toString(method));
      auto ready = wait(POLLIN, deadline, honourStop, what);
      if (!ready.ok()) return ready.error();
      auto n = readSome();
      if (!n.ok()) return n.error();
    }
  }

  core::Result<std::string> formatWithAuth(rtsp::Method method, std::string_view uri,
                                           const std::vector<rtsp::Header>& extra) {
    rtsp::RequestHeaders h;
    h.session = session;
    h.userAgent = opt.userAgent;
    h.extra = extra;
    if (auth) h.authorization = auth->authorization(method, uri);
    return rtsp::formatRequest(method, uri, ++cseq, h);
  }

  // Sends a request and returns its response; on 401 answers the challenge and retries once.
  core::Result<rtsp::Message> request(rtsp::Method method, std::string_view uri,
                                      const std::vector<rtsp::Header>& extra,
                                      Clock::time_point deadline, bool honourStop = true) {
    for (int attempt = 0;; ++attempt) {
      auto text = formatWithAuth(method, uri, extra);
      if (!text.ok()) return text.error();
      const int sent = cseq;
      if (auto s = send(*text, deadline, honourStop); !s.ok()) return s.error();
      auto response = awaitResponse(sent, method, deadline, honourStop);
      if (!response.ok() || response->status != 401) return response;
      if (attempt > 0) {
        return makeError(ErrorCode::kPermissionDenied,
                         "rtsp: " + std::string(rtsp::toString(method)) + " " +
                             core::redactUrl(uri) + ": credentials for user '" + user +
                             "' refused (401)");
      }
      if (user.empty()) {
        return makeError(ErrorCode::kPermissionDenied,
                         "rtsp: " + core::redactUrl(uri) +
                             " requires credentials and none are configured (401)");
      }
      auto challenge = rtsp::parseChallenge(*response);
      if (!challenge.ok()) return challenge.error();
      auth.emplace(user, password, std::move(challenge).value());
    }
  }

  void setLowat(int bytes) {
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes) == 0) {
      client.rcvlowat_.store(bytes, std::memory_order_relaxed);
    }
  }

  // Best effort: the server frees the session at once instead of at its timeout.
  void teardown(std::string_view uri) {
    if (fd < 0 || session.empty()) return;
    const int one = 1;  // the reply is small: wake for any byte (stats keep the stream's value)
    ::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
    const auto deadline = Clock::now() + opt.teardownTimeout;
    auto text = formatWithAuth(rtsp::Method::kTeardown, uri, {});
    if (!text.ok() || !send(*text, deadline, false).ok()) return;
    (void)awaitResponse(cseq, rtsp::Method::kTeardown, deadline, false);
  }
};

RtspTcpClient::RtspTcpClient(RtspTcpOptions options)
    : options_(std::move(options)), stopFd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  options_.readBytes = std::max<size_t>(options_.readBytes, size_t{64} * 1024);
  options_.maxLowatBytes = std::max(options_.maxLowatBytes, 1);
}

RtspTcpClient::~RtspTcpClient() {
  if (stopFd_ >= 0) ::close(stopFd_);
}

void RtspTcpClient::stop() {
  stopped_.store(true);
  const uint64_t one = 1;
  if (stopFd_ >= 0) (void)!::write(stopFd_, &one, sizeof one);
}

RtspTcpStats RtspTcpClient::stats() const {
  RtspTcpStats s;
  s.bytes = bytes_.load(std::memory_order_relaxed);
  s.reads = reads_.load(std::memory_order_relaxed);
  s.accessUnits = accessUnits_.load(std::memory_order_relaxed);
  s.keyframes = keyframes_.load(std::memory_order_relaxed);
  s.keepalives = keepalives_.load(std::memory_order_relaxed);
  s.keepaliveReplies = keepaliveReplies_.load(std::memory_order_relaxed);
  s.rcvlowat = rcvlowat_.load(std::memory_order_relaxed);
  return s;
}

DepayStats RtspTcpClient::depayStats() const {
  return depayStats_;
}

core::Result<void> RtspTcpClient::run(const OnPlaying& onPlaying,
                                      const OnAccessUnit& onAccessUnit) {
  if (stopFd_ < 0) return makeError(ErrorCode::kResourceExhausted, "rtsp: eventfd failed");
  auto parsed = parseUrl(options_.url);
  if (!parsed.ok()) return parsed.error();
  Connection c(*this, options_);
  c.url = std::move(parsed).value();
  c.user = options_.username.empty() ? c.url.user : options_.username;
  c.password = options_.username.empty() ? c.url.password : options_.password;
  if (stopped_.load()) return makeError(ErrorCode::kCancelled, "rtsp: stopped");

  const auto setupDeadline = [&] { return Clock::now() + options_.responseTimeout; };
  if (auto r = c.connect(Clock::now() + options_.connectTimeout); !r.ok()) return r;

  // OPTIONS first, as cameras expect; its Public header says whether GET_PARAMETER keeps the
  // session alive or only OPTIONS does.
  auto options = c.request(rtsp::Method::kOptions, c.url.request, {}, setupDeadline());
  if (!options.ok()) return options.error();
  bool getParameter = true;
  if (isSuccess(*options)) {
    if (auto pub = options->header("Public")) {
      getParameter = pub->find("GET_PARAMETER") != std::string_view::npos;
    }
  }

  auto describe = c.request(rtsp::Method::kDescribe, c.url.request, {}, setupDeadline());
  if (!describe.ok()) return describe.error();
  if (!isSuccess(*describe)) {
    return statusError(*describe, rtsp::Method::kDescribe, c.url.request);
  }
  std::string base = c.url.request;
  if (auto b = describe->header("Content-Base")) {
    base = std::string(*b);
  } else if (auto l = describe->header("Content-Location")) {
    base = std::string(*l);
  }
  auto video = rtsp::parseSdpVideo(describe->body, base);
  if (!video.ok()) return video.error();
  const std::string playUrl = rtsp::sessionControl(describe->body, base);

  auto setup = c.request(rtsp::Method::kSetup, video->control,
                         {{"Transport", "RTP/AVP/TCP;unicast;interleaved=0-1"}}, setupDeadline());
  if (!setup.ok()) return setup.error();
  if (!isSuccess(*setup)) return statusError(*setup, rtsp::Method::kSetup, video->control);
  const auto sessionValue = setup->header("Session");
  if (!sessionValue) {
    return makeError(ErrorCode::kUnavailable, "rtsp: SETUP reply without a Session header");
  }
  auto session = rtsp::parseSession(*sessionValue);
  if (!session.ok()) return session.error();
  c.session = session->id;
  rtsp::InterleavedChannels channels;
  if (auto t = setup->header("Transport")) {
    auto parsedChannels = rtsp::parseInterleaved(*t);
    if (!parsedChannels.ok()) return parsedChannels.error();
    channels = *parsedChannels;
  }

  auto play = c.request(rtsp::Method::kPlay, playUrl, {{"Range", "npt=0.000-"}}, setupDeadline());
  if (!play.ok()) return play.error();
  if (!isSuccess(*play)) return statusError(*play, rtsp::Method::kPlay, playUrl);
  if (onPlaying) onPlaying(*video);

  H26xDepayloader depay(video->codec, video->parameterSets, [&](AccessUnit& au) {
    accessUnits_.fetch_add(1, std::memory_order_relaxed);
    if (au.keyframe) keyframes_.fetch_add(1, std::memory_order_relaxed);
    onAccessUnit(au);
  });

  // Keepalive at half the session timeout (at least every second, for tiny timeouts).
  const auto keepaliveEvery =
      options_.keepaliveInterval.count() > 0
          ? Clock::duration(options_.keepaliveInterval)
          : std::max<Clock::duration>(std::chrono::seconds(session->timeoutSeconds) / 2,
                                      std::chrono::seconds(1));
  auto now = Clock::now();
  auto nextKeepalive = now + keepaliveEvery;
  auto lastData = now;
  auto windowStart = now;
  uint64_t windowBytes = 0;
  int lowat = 0;
  int keepaliveCseq = -1;

  auto streamResult = [&]() -> core::Result<void> {
    while (true) {
      // First what is buffered: PLAY's reply may have come with the first frames.
      while (true) {
        auto ev = c.parser.next();
        if (!ev.ok()) return ev.error();
        if (std::holds_alternative<rtsp::NeedMore>(*ev)) break;
        if (auto* f = std::get_if<rtsp::Frame>(&*ev)) {
          if (f->channel != channels.rtp) continue;  // RTCP: not needed over TCP
          auto packet = parseRtp(f->payload);
          if (packet.ok() && packet->payloadType == video->payloadType) depay.push(*packet);
          continue;
        }
        const auto& m = std::get<rtsp::Message>(*ev);
        if (m.isResponse() && m.cseq() == keepaliveCseq) {
          keepaliveCseq = -1;
          if (isSuccess(m)) keepaliveReplies_.fetch_add(1, std::memory_order_relaxed);
          if (m.status == 401 && c.auth) {
            // The nonce went stale: answer the new challenge and keep the session alive now.
            auto challenge = rtsp::parseChallenge(m);
            if (!challenge.ok()) return challenge.error();
            if (challenge->nonce == c.auth->challenge().nonce) {
              return makeError(ErrorCode::kPermissionDenied,
                               "rtsp: keepalive refused (401) for user '" + c.user + "'");
            }
            c.auth.emplace(c.user, c.password, std::move(challenge).value());
            nextKeepalive = Clock::now();
          } else if (!isSuccess(m) && getParameter) {
            getParameter = false;  // GET_PARAMETER refused: OPTIONS keeps the session instead
            nextKeepalive = Clock::now();
          }
        }
      }
      now = Clock::now();
      if (now >= nextKeepalive) {
        const auto method = getParameter ? rtsp::Method::kGetParameter : rtsp::Method::kOptions;
        auto text = c.formatWithAuth(method, playUrl, {});
        if (!text.ok()) return text.error();
        if (auto s = c.send(*text, now + options_.responseTimeout, true); !s.ok()) return s;
        keepaliveCseq = c.cseq;
        keepalives_.fetch_add(1, std::memory_order_relaxed);
        nextKeepalive = now + keepaliveEvery;
      }
      if (now - lastData >= options_.dataTimeout) {
        return makeError(ErrorCode::kTimeout,
                         "rtsp: no data from " + core::redactUrl(c.url.request) + " for " +
                             std::to_string(options_.dataTimeout.count()) + " ms");
      }
      const auto wake =
          std::min({nextKeepalive, lastData + options_.dataTimeout, now + options_.maxPollWait});
      const int ms = static_cast<int>(duration_cast<milliseconds>(wake - now).count()) + 1;
      pollfd fds[2] = {{c.fd, POLLIN, 0}, {stopFd_, POLLIN, 0}};
      const int r = ::poll(fds, 2, ms);
      if (r < 0 && errno != EINTR) {
        return makeError(ErrorCode::kIo, std::string("rtsp: poll: ") + std::strerror(errno));
      }
      if ((fds[1].revents & POLLIN) != 0) return makeError(ErrorCode::kCancelled, "stopped");
      // On a timeout too: fewer bytes than SO_RCVLOWAT may be waiting (a quiet scene).
      if (r == 0 || (fds[0].revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
        auto n = c.readSome();
        if (!n.ok()) return n.error();
        if (*n > 0) {
          lastData = Clock::now();
          windowBytes += *n;
        }
      }
      if (options_.lowatLatency.count() > 0 && now - windowStart >= std::chrono::seconds(1)) {
        const double seconds = std::chrono::duration<double>(now - windowStart).count();
        const double latency = std::chrono::duration<double>(options_.lowatLatency).count();
        const int want =
            std::clamp(static_cast<int>(static_cast<double>(windowBytes) / seconds * latency), 1,
                       options_.maxLowatBytes);
        // Only a change of more than an eighth is worth a system call.
        if (lowat == 0 || std::abs(want - lowat) > lowat / 8) {
          c.setLowat(want);
          lowat = want;
        }
        windowStart = now;
        windowBytes = 0;
      }
    }
  }();

  depay.flush();
  depayStats_ = depay.stats();
  if (stopped_.load()) {
    c.teardown(playUrl);
    return core::okResult();
  }
  if (streamResult.error().code == ErrorCode::kTimeout) c.teardown(playUrl);
  return streamResult;
}

}  // namespace sharpeyes::ingest
