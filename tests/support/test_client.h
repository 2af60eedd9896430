#pragma once
// A deliberately small HTTP/1.1 + WebSocket client over POSIX sockets for the api tests. It can
// send arbitrary (also malformed) bytes, which a full client library would refuse to do.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace sharpeyes::api::testing {

struct Reply {
  int status = 0;                              // 0: no reply (connection closed or timed out)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& k) const {
    auto it = headers.find(k);
    return it == headers.end() ? "" : it->second;
  }
};

class Conn {
 public:
  explicit Conn(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
    int one = 1;
    if (fd_ >= 0) ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Conn() {
    if (fd_ >= 0) ::close(fd_);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  bool ok() const { return fd_ >= 0; }

  bool sendAll(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads more bytes into buf_; false on EOF, error or deadline.
  bool fill(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char tmp[65536];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  // True when the peer closed the connection (EOF) within the timeout.
  bool closedByPeer(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char tmp[4096];
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) return true;
      buf_.append(tmp, static_cast<size_t>(n));
    }
    return false;
  }

  Reply readReply(bool headRequest = false) {
    Reply r;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return r;
    }
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    size_t lineEnd = head.find("\r\n");
    std::string status = head.substr(0, lineEnd);
    if (status.size() >= 12) r.status = std::stoi(status.substr(9, 3));
    size_t pos = lineEnd == std::string::npos ? head.size() : lineEnd + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      std::string line = head.substr(pos, e - pos);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string k = line.substr(0, colon);
        for (auto& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string v = line.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') v.erase(0, 1);
        r.headers[k] = v;
      }
      pos = e + 2;
    }
    if (headRequest || r.status == 101 || r.status == 100) return r;
    size_t len = 0;
    if (auto it = r.headers.find("content-length"); it != r.headers.end()) {
      len = std::stoul(it->second);
    }
    while (buf_.size() < len) {
      if (!fill()) break;
    }
    r.body = buf_.substr(0, len);
    buf_.erase(0, std::min(len, buf_.size()));
    return r;
  }

  Reply request(const std::string& method, const std::string& target,
                const std::vector<std::pair<std::string, std::string>>& headers = {},
                const std::string& body = {}) {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    req += "\r\n" + body;
    if (!sendAll(req)) return {};
    return readReply(method == "HEAD");
  }

  // ---- WebSocket (client side: frames are masked) ----
  bool wsHandshake(const std::string& target,
                   const std::vector<std::pair<std::string, std::string>>& headers = {},
                   Reply* reply = nullptr) {
    std::string req = "GET " + target +
                      " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n";
    for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
    req += "\r\n";
    if (!sendAll(req)) return false;
    Reply r = readReply();
    if (reply) *reply = r;
    return r.status == 101;
  }

  bool wsSend(const std::string& payload, bool binary = false) {
    std::string f;
    f += static_cast<char>(0x80 | (binary ? 2 : 1));
    size_t n = payload.size();
    if (n < 126) {
      f += static_cast<char>(0x80 | n);
    } else if (n < 65536) {
      f += static_cast<char>(0x80 | 126);
      f += static_cast<char>(n >> 8);
      f += static_cast<char>(n & 0xff);
    } else {
      f += static_cast<char>(0x80 | 127);
      for (int i = 7; i >= 0; --i) f += static_cast<char>((n >> (8 * i)) & 0xff);
    }
    uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
    f.append(reinterpret_cast<char*>(mask), 4);
    for (size_t i = 0; i < n; ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
    return sendAll(f);
  }

  // Next data frame (text or binary). nullopt on close/timeout. Sets *opcode.
  std::optional<std::string> wsRead(int* opcode = nullptr,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (buf_.size() >= 2) {
        auto b0 = static_cast<uint8_t>(buf_[0]);
        auto b1 = static_cast<uint8_t>(buf_[1]);
        uint64_t len = b1 & 0x7f;
        size_t hdr = 2;
        if (len == 126 && buf_.size() >= 4) {
          len = (static_cast<uint8_t>(buf_[2]) << 8) | static_cast<uint8_t>(buf_[3]);
          hdr = 4;
        } else if (len == 127 && buf_.size() >= 10) {
          len = 0;
          for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<uint8_t>(buf_[2 + i]);
          hdr = 10;
        } else if (len >= 126) {
          len = UINT64_MAX;
        }
        if (len != UINT64_MAX && buf_.size() >= hdr + len) {
          std::string payload = buf_.substr(hdr, len);
          buf_.erase(0, hdr + len);
          int op = b0 & 0x0f;
          bool fin = (b0 & 0x80) != 0;
          if (op == 8) {  // close: answer it, as a well-behaved peer does
            std::string f("\x88\x80\0\0\0\0", 6);
            sendAll(f);
            ::shutdown(fd_, SHUT_WR);  // and end our side of the TCP stream, as browsers do
            return std::nullopt;
          }
          if (op == 9 || op == 10) continue;  // ping/pong
          if (op != 0) fragOp_ = op;
          fragment_ += payload;
          if (!fin) continue;
          if (opcode) *opcode = fragOp_;
          std::string whole = std::move(fragment_);
          fragment_.clear();
          return whole;
        }
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !fill(left)) return std::nullopt;
    }
  }

 private:
  int fd_ = -1;
  std::string buf_;
  std::string fragment_;
  int fragOp_ = 1;
};

// Polls `cond` until true or the deadline; for state that has no event to wait on.
template <typename F>
bool waitFor(F cond, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return cond();
}

}  // namespace sharpeyes::api::testing
