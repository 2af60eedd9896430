#include "sharpeyes/onvif/discovery.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <sstream>

#include "sharpeyes/core/util.h"
#include "soap_support.h"

namespace sharpeyes::onvif {

namespace ss = soap_support;
using core::ErrorCode;
using core::makeError;
using core::Result;

namespace {

std::vector<std::string> splitWs(const char* text) {
  std::vector<std::string> out;
  if (text == nullptr) return out;
  std::istringstream in(text);
  std::string word;
  while (in >> word) out.push_back(word);
  return out;
}

std::string percentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string scopeValue(const std::vector<std::string>& scopes, std::string_view key) {
  const std::string prefix = "onvif://www.onvif.org/" + std::string(key) + "/";
  for (const auto& s : scopes) {
    if (s.starts_with(prefix)) return percentDecode(s.substr(prefix.size()));
  }
  return {};
}

class Collector : public ss::WsddHandler {
 public:
  Collector(std::string messageId, size_t max) : messageId_(std::move(messageId)), max_(max) {}

  void onProbeMatches(struct soap*, const char* relatesTo,
                      struct wsdd__ProbeMatchesType* matches) override {
    // Answers to somebody else's probe (several clients on one network) are not ours.
    if (relatesTo != nullptr && messageId_ != relatesTo) return;
    if (matches == nullptr) return;
    for (int i = 0; i < matches->__sizeProbeMatch && devices_.size() < max_; ++i) {
      const wsdd__ProbeMatchType& m = matches->ProbeMatch[i];
      DiscoveredDevice d;
      if (m.wsa__EndpointReference.Address != nullptr)
        d.endpoint = m.wsa__EndpointReference.Address;
      d.xaddrs = splitWs(m.XAddrs);
      if (m.Scopes != nullptr) d.scopes = splitWs(m.Scopes->__item);
      if (m.Types != nullptr) d.types = m.Types;
      const std::string key =
          d.endpoint.empty() && !d.xaddrs.empty() ? d.xaddrs.front() : d.endpoint;
      if (key.empty() || !seen_.insert(key).second) continue;
      d.name = scopeValue(d.scopes, "name");
      d.model = scopeValue(d.scopes, "hardware");
      d.manufacturer = scopeValue(d.scopes, "mfr");
      if (d.manufacturer.empty()) d.manufacturer = scopeValue(d.scopes, "manufacturer");
      devices_.push_back(std::move(d));
    }
  }

  std::vector<DiscoveredDevice> take() { return std::move(devices_); }

 private:
  std::string messageId_;
  size_t max_;
  std::set<std::string> seen_;
  std::vector<DiscoveredDevice> devices_;
};

// Room for every answer of a large site arriving while this thread is not scheduled: a
// ProbeMatches datagram costs ~2-3 KiB of buffer, and 100+ cameras answer within 500 ms.
constexpr int kReceiveBuffer = 1 << 20;

void ensureReceiveBuffer(int fd, int bytes) {
  int have = 0;
  socklen_t len = sizeof have;
  if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &have, &len) == 0 && have >= bytes) return;
  // net.core.rmem_max (212992 on a stock kernel) capped the request; a privileged process may
  // exceed it. Failing that, the smaller buffer stays: answers then rely on the responders'
  // random spreading (APP_MAX_DELAY).
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes);
}

Result<std::vector<DiscoveredDevice>> runProbe(const std::string& endpoint, bool multicast,
                                               const DiscoveryOptions& options) {
  ss::Limits limits;
  limits.maxMessageBytes = uint64_t{64} * 1024;  // one UDP datagram
  ss::SoapPtr soap = ss::newContext(limits, SOAP_IO_UDP);
  in_addr iface{};
  if (multicast) {
    if (!options.interfaceAddress.empty()) {
      if (inet_pton(AF_INET, options.interfaceAddress.c_str(), &iface) != 1) {
        return makeError(ErrorCode::kInvalidArgument,
                         "discovery interface is not an IPv4 address: " + options.interfaceAddress);
      }
      soap->ipv4_multicast_if = reinterpret_cast<char*>(&iface);
    }
    soap->ipv4_multicast_ttl = static_cast<unsigned char>(std::clamp(options.ttl, 1, 255));
  }
  soap->rcvbuf = kReceiveBuffer;  // gSOAP sets it on bind; capped by net.core.rmem_max
  // Bind first: the probe then leaves from this socket and the unicast answers come back to it.
  if (!soap_valid_socket(soap_bind(soap.get(), nullptr, 0, 16))) {
    return makeError(ErrorCode::kUnavailable, "discovery: cannot bind a UDP socket");
  }
  ensureReceiveBuffer(soap->master, kReceiveBuffer);
  const std::string messageId =
      "urn:uuid:" + core::newId().insert(8, "-").insert(13, "-").insert(18, "-").insert(23, "-");
  Collector collector(messageId, options.maxDevices);
  soap->user = &collector;
  if (soap_wsdd_Probe(soap.get(), SOAP_WSDD_ADHOC, SOAP_WSDD_TO_TS, endpoint.c_str(),
                      messageId.c_str(), nullptr, options.types.c_str(), nullptr,
                      nullptr) != SOAP_OK) {
    soap->user = nullptr;
    return ss::errorFrom(soap.get(), "discovery probe to " + endpoint);
  }
  const auto deadline = std::chrono::steady_clock::now() + options.wait;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    // Returns after `left` without a datagram; malformed datagrams are skipped.
    soap_wsdd_listen(soap.get(), -static_cast<int>(std::min<int64_t>(left.count(), 200000)));
  }
  // Answers that arrived within the window but were not read yet (this thread was not scheduled
  // on a loaded machine) still count: drain what is queued, waiting at most 1 ms for more.
  soap_wsdd_listen(soap.get(), -1000);
  soap->user = nullptr;
  return collector.take();
}

}  // namespace

Result<std::vector<DiscoveredDevice>> discover(const DiscoveryOptions& options) {
  return runProbe("soap.udp://" + options.multicastGroup + ":" + std::to_string(options.port), true,
                  options);
}

Result<std::vector<DiscoveredDevice>> probe(std::string_view address,
                                            const DiscoveryOptions& options) {
  std::string a(address);
  if (a.empty()) return makeError(ErrorCode::kInvalidArgument, "probe: empty address");
  if (a.find(':') == std::string::npos) a += ":" + std::to_string(options.port);
  return runProbe("soap.udp://" + a, false, options);
}

void enrich(std::vector<DiscoveredDevice>& devices, const Credentials& credentials,
            const CallOptions& options) {
  for (auto& d : devices) {
    if (d.xaddrs.empty()) {
      d.error = "device announced no service address";
      continue;
    }
    DeviceClient client(d.xaddrs.front(), credentials, options);
    (void)client.syncClock();
    auto info = client.deviceInformation();
    if (!info.ok()) {
      d.error = info.error().describe();
      continue;
    }
    d.manufacturer = info->manufacturer;
    d.model = info->model;
    d.serialNumber = info->serialNumber;
  }
}

}  // namespace sharpeyes::onvif
