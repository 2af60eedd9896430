#include "http_get.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace sharpeyes::app {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

core::Result<HttpReply> httpGet(const std::string& url, std::chrono::milliseconds timeout) {
  using core::ErrorCode;
  using core::makeError;
  if (!url.starts_with("http://"))
    return makeError(ErrorCode::kInvalidArgument, "only http:// URLs");
  const std::string rest = url.substr(7);
  const auto slash = rest.find('/');
  const std::string hostPort = rest.substr(0, slash);
  const std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
  const auto colon = hostPort.rfind(':');
  const std::string host = hostPort.substr(0, colon);
  const std::string port = colon == std::string::npos ? "80" : hostPort.substr(colon + 1);

  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr) {
    return makeError(ErrorCode::kNotFound, "cannot resolve " + host);
  }
  Fd s;
  s.fd = ::socket(res->ai_family, res->ai_socktype, res->ai_protocol);
  const int rc = s.fd >= 0 ? ::connect(s.fd, res->ai_addr, res->ai_addrlen) : -1;
  freeaddrinfo(res);
  if (rc != 0) {
    return makeError(ErrorCode::kUnavailable,
                     "cannot connect to " + hostPort + ": " + std::strerror(errno));
  }
  const std::string req =
      "GET " + path + " HTTP/1.1\r\nHost: " + hostPort + "\r\nConnection: close\r\n\r\n";
  if (::send(s.fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    return makeError(ErrorCode::kIo, "send failed");
  }
  std::string raw;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[16384];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return makeError(ErrorCode::kTimeout, "no complete reply from " + hostPort);
    pollfd p{s.fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
    if (n < 0) return makeError(ErrorCode::kIo, "recv failed");
    if (n == 0) break;
    raw.append(buf, static_cast<size_t>(n));
  }
  const auto headerEnd = raw.find("\r\n\r\n");
  if (!raw.starts_with("HTTP/1.") || headerEnd == std::string::npos || raw.size() < 12) {
    return makeError(ErrorCode::kCorrupt, "malformed HTTP reply from " + hostPort);
  }
  HttpReply reply;
  reply.status = std::atoi(raw.c_str() + 9);
  std::string headers = raw.substr(0, headerEnd);
  std::string body = raw.substr(headerEnd + 4);
  for (auto& c : headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (headers.find("transfer-encoding: chunked") != std::string::npos) {
    std::string decoded;
    size_t pos = 0;
    for (;;) {
      const auto eol = body.find("\r\n", pos);
      if (eol == std::string::npos) break;
      const size_t len = std::strtoul(body.c_str() + pos, nullptr, 16);
      if (len == 0) break;
      decoded += body.substr(eol + 2, len);
      pos = eol + 2 + len + 2;
    }
    body = std::move(decoded);
  }
  reply.body = std::move(body);
  return reply;
}

}  // namespace sharpeyes::app
