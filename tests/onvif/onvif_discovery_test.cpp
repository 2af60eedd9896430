// Multicast WS-Discovery at scale on loopback: one probe must find every one of 100 simulated
// cameras, including when two responders (two simulated devices) share the discovery port, as
// separate cameras on one network do. Each answer is delayed at random within APP_MAX_DELAY
// (500 ms) per camera, as the WS-Discovery specification asks of every target service.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <set>

#include "sharpeyes/onvif/discovery.h"
#include "sim_fixture.h"

namespace sharpeyes {
namespace {

using namespace std::chrono_literals;

uint16_t freeUdpPort() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

struct Site {
  std::unique_ptr<sim::SimServer> sim;
  std::unique_ptr<sim::OnvifDevice> device;
};

Site startSite(int cameras, uint16_t discoveryPort) {
  Site s;
  auto opts = testing::smallSimOptions(cameras, {});
  opts.distinctScenes = 1;  // one cached encode serves every camera
  auto sim = sim::SimServer::start(opts);
  EXPECT_TRUE(sim.ok()) << sim.error().describe();
  if (!sim.ok()) return s;
  s.sim = std::move(*sim);
  sim::OnvifDeviceOptions o;
  o.discoveryPort = discoveryPort;
  o.threads = 2;
  auto d = sim::OnvifDevice::start(*s.sim, o);
  EXPECT_TRUE(d.ok()) << d.error().describe();
  if (d.ok()) s.device = std::move(*d);
  return s;
}

onvif::DiscoveryOptions probeOptions(uint16_t port) {
  onvif::DiscoveryOptions o;
  o.port = port;
  o.interfaceAddress = "127.0.0.1";
  // APP_MAX_DELAY is 500 ms; the rest is headroom for a loaded CI machine.
  o.wait = 3000ms;
  return o;
}

std::set<std::string> xaddrsOf(const std::vector<onvif::DiscoveredDevice>& found) {
  std::set<std::string> out;
  for (const auto& d : found) {
    if (!d.xaddrs.empty()) out.insert(d.xaddrs.front());
  }
  return out;
}

TEST(OnvifDiscoveryTest, MulticastProbeFindsAllHundredCameras) {
  const uint16_t port = freeUdpPort();
  Site site = startSite(100, port);
  ASSERT_TRUE(site.device);

  // Twice: a second probe right after the first must be answered in full as well (the responder
  // keeps listening while its answers to the first are still pending).
  for (int round = 0; round < 2; ++round) {
    auto found = onvif::discover(probeOptions(port));
    ASSERT_TRUE(found.ok()) << found.error().describe();
    EXPECT_EQ(found->size(), 100u) << "round " << round;
    const auto xaddrs = xaddrsOf(*found);
    for (int i = 0; i < 100; ++i) {
      EXPECT_TRUE(xaddrs.count(site.device->deviceUrl(i))) << site.device->deviceUrl(i);
    }
    std::set<std::string> endpoints;
    for (const auto& d : *found) endpoints.insert(d.endpoint);
    EXPECT_EQ(endpoints.size(), 100u);
  }
}

TEST(OnvifDiscoveryTest, TwoRespondersOnOnePortAreBothFound) {
  const uint16_t port = freeUdpPort();
  Site a = startSite(60, port);
  Site b = startSite(40, port);
  ASSERT_TRUE(a.device);
  ASSERT_TRUE(b.device);
  auto found = onvif::discover(probeOptions(port));
  ASSERT_TRUE(found.ok()) << found.error().describe();
  EXPECT_EQ(found->size(), 100u);
  const auto xaddrs = xaddrsOf(*found);
  for (int i = 0; i < 60; ++i) EXPECT_TRUE(xaddrs.count(a.device->deviceUrl(i)));
  for (int i = 0; i < 40; ++i) EXPECT_TRUE(xaddrs.count(b.device->deviceUrl(i)));
}

TEST(OnvifDiscoveryTest, UnicastProbeFindsAllHundredCameras) {
  Site site = startSite(100, 0);
  ASSERT_TRUE(site.device);
  auto o = probeOptions(0);
  auto found = onvif::probe("127.0.0.1:" + std::to_string(site.device->discoveryPort()), o);
  ASSERT_TRUE(found.ok()) << found.error().describe();
  EXPECT_EQ(found->size(), 100u);
}

}  // namespace
}  // namespace sharpeyes
