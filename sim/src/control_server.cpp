#include "control_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <vector>

namespace sharpeyes::sim::detail {
namespace {

constexpr size_t kMaxLine = 4096;  // a longer line is a bad client: drop it
constexpr size_t kMaxClients = 64;

struct Conn {
  std::string in;
  std::string out;
};

}  // namespace

ControlServer::~ControlServer() {
  stop();
}

core::Result<void> ControlServer::start(const std::string& address, uint16_t port,
                                        Handler handler) {
  handler_ = std::move(handler);
  listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listenFd_ < 0) return core::makeError(core::ErrorCode::kIo, "control socket failed");
  const int one = 1;
  ::setsockopt(listenFd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1) {
    stop();
    return core::makeError(core::ErrorCode::kInvalidArgument, "bad control address " + address);
  }
  if (::bind(listenFd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listenFd_, 16) != 0) {
    const std::string why = std::strerror(errno);
    stop();
    return core::makeError(core::ErrorCode::kUnavailable,
                           "cannot listen on control port " + std::to_string(port) + ": " + why);
  }
  socklen_t len = sizeof addr;
  ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  wakeFd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  thread_ = std::thread([this] { run(); });
  return {};
}

void ControlServer::stop() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wakeFd_, &one, sizeof one);
    thread_.join();
  }
  if (listenFd_ >= 0) ::close(listenFd_);
  if (wakeFd_ >= 0) ::close(wakeFd_);
  listenFd_ = wakeFd_ = -1;
}

void ControlServer::run() {
  std::map<int, Conn> conns;
  for (;;) {
    std::vector<pollfd> fds;
    fds.push_back({wakeFd_, POLLIN, 0});
    fds.push_back({listenFd_, POLLIN, 0});
    for (auto& [fd, c] : conns) {
      fds.push_back({fd, static_cast<short>(POLLIN | (c.out.empty() ? 0 : POLLOUT)), 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents) break;
    if (fds[1].revents & POLLIN) {
      const int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd >= 0) {
        if (conns.size() >= kMaxClients) {
          ::close(fd);
        } else {
          conns[fd];
        }
      }
    }
    for (size_t i = 2; i < fds.size(); ++i) {
      const int fd = fds[i].fd;
      auto it = conns.find(fd);
      if (it == conns.end()) continue;
      Conn& c = it->second;
      bool close = (fds[i].revents & (POLLERR | POLLNVAL)) != 0;
      if (!close && (fds[i].revents & (POLLIN | POLLHUP))) {
        char buf[2048];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
          close = !(n < 0 && (errno == EAGAIN || errno == EINTR));
        } else {
          c.in.append(buf, static_cast<size_t>(n));
          size_t nl;
          while ((nl = c.in.find('\n')) != std::string::npos) {
            std::string line = c.in.substr(0, nl);
            c.in.erase(0, nl + 1);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.empty()) continue;
            c.out += handler_(line);
          }
          if (c.in.size() > kMaxLine) {
            c.out += "error line too long\n";
            c.in.clear();
          }
        }
      }
      if (!close && !c.out.empty()) {
        const ssize_t n = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (n > 0) {
          c.out.erase(0, static_cast<size_t>(n));
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
          close = true;
        }
      }
      if (close) {
        ::close(fd);
        conns.erase(it);
      }
    }
  }
  for (auto& [fd, c] : conns) ::close(fd);
}

}  // namespace sharpeyes::sim::detail
