#include "config_bus.h"

#include "sharpeyes/bus/keys.h"

namespace sharpeyes::app {

std::optional<bus::PublisherConfig> parseBusConfig(const YAML::Node& node, const std::string& file,
                                                   const std::string& gatewayId,
                                                   const std::string& dataDir) {
  if (!node.IsDefined() || node.IsNull()) return std::nullopt;
  YamlMap m(node, file, "bus");
  m.allowOnly({"upstream", "upstream_clips", "upstream_key", "key", "origin", "outbox",
               "outbox_quota_mb", "durable", "window", "retransmit_initial", "retransmit_max",
               "heartbeat_interval", "heartbeat_timeout"});
  bus::PublisherConfig c;
  c.endpoint = m.requireString("upstream");
  if (c.endpoint.rfind("tcp://", 0) != 0) m.fail("upstream", "expected tcp://HOST:PORT");
  c.clipEndpoint = m.getString("upstream_clips", "");
  if (!c.clipEndpoint.empty() && c.clipEndpoint.rfind("tcp://", 0) != 0) {
    m.fail("upstream_clips", "expected tcp://HOST:PORT");
  }
  auto serverKey = bus::loadPublicKey(m.requireString("upstream_key"));
  if (!serverKey) m.fail("upstream_key", serverKey.error().describe());
  c.serverPublicKey = *serverKey;
  auto keys = bus::loadKeyPair(m.requireString("key"));
  if (!keys) m.fail("key", keys.error().describe());  // names the file, never its content
  c.publicKey = keys->publicKey;
  c.secretKey = keys->secretKey;
  c.origin = m.getString("origin", gatewayId);
  c.outboxPath = m.getString("outbox", dataDir + "/bus-outbox.db");
  c.outboxQuotaBytes = static_cast<uint64_t>(m.getInt("outbox_quota_mb", 256, 1, 1 << 20)) << 20;
  c.durable = m.getBool("durable", false);
  c.window = static_cast<size_t>(m.getInt("window", 2000, 1, 100000));
  auto ms = [&](const char* key, std::chrono::milliseconds fallback) {
    const auto d =
        std::chrono::duration_cast<std::chrono::milliseconds>(m.getDuration(key, fallback));
    if (d.count() <= 0) m.fail(key, "must be positive");
    return d;
  };
  c.retransmitInitial = ms("retransmit_initial", c.retransmitInitial);
  c.retransmitMax = ms("retransmit_max", c.retransmitMax);
  c.heartbeatInterval = ms("heartbeat_interval", c.heartbeatInterval);
  c.heartbeatTimeout = ms("heartbeat_timeout", c.heartbeatTimeout);
  if (c.retransmitMax < c.retransmitInitial)
    m.fail("retransmit_max", "smaller than retransmit_initial");
  return c;
}

}  // namespace sharpeyes::app
