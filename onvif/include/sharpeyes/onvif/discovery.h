#pragma once
// WS-Discovery (2005/04, as ONVIF uses it): multicast Probe for dn:NetworkVideoTransmitter and
// unicast Probe of one address. Blocking for at most `wait`; call from a worker thread.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "sharpeyes/core/result.h"
#include "sharpeyes/onvif/client.h"

namespace sharpeyes::onvif {

struct DiscoveredDevice {
  std::string endpoint;             // urn:uuid:... (stable device identity)
  std::vector<std::string> xaddrs;  // device service URLs
  std::vector<std::string> scopes;  // onvif://www.onvif.org/name/..., .../hardware/...
  std::string types;
  // Filled by enrich(): from GetDeviceInformation, falling back to the scopes.
  std::string manufacturer;
  std::string model;
  std::string serialNumber;
  std::string name;   // from the onvif://www.onvif.org/name/ scope
  std::string error;  // why enrich() could not ask the device (e.g. authentication failed)
};

struct DiscoveryOptions {
  std::string multicastGroup = "239.255.255.250";
  uint16_t port = 3702;
  std::string interfaceAddress;  // IPv4 address of the interface to probe on; empty: default
  std::chrono::milliseconds wait{2000};
  int ttl = 1;
  std::string types = "dn:NetworkVideoTransmitter";
  size_t maxDevices = 4096;  // a flood of answers stops being collected here
};

// Multicast probe; collects answers for `wait`. De-duplicated by endpoint.
core::Result<std::vector<DiscoveredDevice>> discover(const DiscoveryOptions& options = {});
// Unicast probe of "host" or "host:port" (default port 3702).
core::Result<std::vector<DiscoveredDevice>> probe(std::string_view address,
                                                  const DiscoveryOptions& options = {});
// Asks each device's first XAddr for GetDeviceInformation (with credentials when given); failures
// are recorded in DiscoveredDevice::error, the scopes still fill name/model/manufacturer.
void enrich(std::vector<DiscoveredDevice>& devices, const Credentials& credentials,
            const CallOptions& options = {});

}  // namespace sharpeyes::onvif
