#pragma once
// Socket set-up shared by the bus's sockets (private: zmq never appears in a public header).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>
#include <zmq.hpp>

namespace sharpeyes::bus::zu {

inline void setKey(zmq::socket_t& s, int option, const std::string& z85) {
  zmq_setsockopt(s.handle(), option, z85.c_str(), z85.size());
}

// A CURVE server whose peers are checked by the ZAP handler of the same context under `domain`.
inline void curveServer(zmq::socket_t& s, const std::string& secretKey, const std::string& domain) {
  s.set(zmq::sockopt::curve_server, true);
  setKey(s, ZMQ_CURVE_SECRETKEY, secretKey);
  s.set(zmq::sockopt::zap_domain, domain);
}

inline void curveClient(zmq::socket_t& s, const std::string& serverKey,
                        const std::string& publicKey, const std::string& secretKey) {
  setKey(s, ZMQ_CURVE_SERVERKEY, serverKey);
  setKey(s, ZMQ_CURVE_PUBLICKEY, publicKey);
  setKey(s, ZMQ_CURVE_SECRETKEY, secretKey);
}

inline void heartbeat(zmq::socket_t& s, std::chrono::milliseconds ivl,
                      std::chrono::milliseconds timeout) {
  s.set(zmq::sockopt::heartbeat_ivl, static_cast<int>(ivl.count()));
  s.set(zmq::sockopt::heartbeat_timeout, static_cast<int>(timeout.count()));
  s.set(zmq::sockopt::heartbeat_ttl, static_cast<int>(timeout.count()));
}

// Starts a monitor and returns the connected PAIR socket that receives its events.
inline zmq::socket_t monitor(zmq::context_t& ctx, zmq::socket_t& s, const std::string& addr,
                             int events) {
  zmq_socket_monitor(s.handle(), addr.c_str(), events);
  zmq::socket_t m(ctx, zmq::socket_type::pair);
  m.set(zmq::sockopt::linger, 0);
  m.connect(addr);
  return m;
}

struct MonitorEvent {
  uint16_t event = 0;
  uint32_t value = 0;
  std::string endpoint;
};

// Reads one monitor event (two frames); false when none is waiting.
inline bool readMonitor(zmq::socket_t& m, MonitorEvent& ev) {
  zmq::message_t a;
  if (!m.recv(a, zmq::recv_flags::dontwait)) return false;
  zmq::message_t b;
  if (a.more()) (void)m.recv(b);
  if (a.size() >= 6) {
    const auto* p = static_cast<const uint8_t*>(a.data());
    std::memcpy(&ev.event, p, 2);
    std::memcpy(&ev.value, p + 2, 4);
  }
  ev.endpoint = b.to_string();
  return true;
}

// Receives all frames of one message without blocking; false when nothing is waiting.
inline bool recvAll(zmq::socket_t& s, std::vector<zmq::message_t>& frames) {
  frames.clear();
  zmq::message_t m;
  if (!s.recv(m, zmq::recv_flags::dontwait)) return false;
  bool more = m.more();
  frames.push_back(std::move(m));
  while (more) {
    zmq::message_t next;
    if (!s.recv(next)) break;
    more = next.more();
    frames.push_back(std::move(next));
  }
  return true;
}

inline int64_t msUntil(std::chrono::steady_clock::time_point t) {
  const auto d =
      std::chrono::duration_cast<std::chrono::milliseconds>(t - std::chrono::steady_clock::now());
  return std::max<int64_t>(0, d.count());
}

}  // namespace sharpeyes::bus::zu
