#pragma once
// The gateway's optional `bus:` section: how its events reach the nearest centre.
//
//   bus:
//     upstream: tcp://10.20.0.5:7701        # the nearest centre's event endpoint (required)
//     upstream_clips: tcp://10.20.0.5:7702  # its clip endpoint (optional: no clips sent)
//     upstream_key: keys/village.pub        # the centre's public key file (required)
//     key: keys/gw.key                      # own key pair, mode 0600 (required)
//     origin: gw-0001                       # default: the gateway's id; must match the allowlist
//     outbox: var/bus-outbox.db             # default: <data_dir>/bus-outbox.db
//     outbox_quota_mb: 256
//     durable: false                        # synchronous=FULL: survives power loss, slower
//     window: 2000
//     retransmit_initial: 250ms
//     retransmit_max: 5s
//     heartbeat_interval: 1s
//     heartbeat_timeout: 3s
//
// Start-up only: throws ConfigError naming file, line and key.

#include <optional>
#include <string>

#include "sharpeyes/bus/publisher.h"
#include "yaml_util.h"

namespace sharpeyes::app {

// nullopt when `node` is undefined or null (no bus: the gateway runs stand-alone).
std::optional<bus::PublisherConfig> parseBusConfig(const YAML::Node& node, const std::string& file,
                                                   const std::string& gatewayId,
                                                   const std::string& dataDir);

}  // namespace sharpeyes::app
