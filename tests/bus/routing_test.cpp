#include "sharpeyes/bus/routing.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace sharpeyes::bus {
namespace {

using core::DivisionLevel;
using testing::makeEvent;

TEST(RoutingPolicy, DefaultFollowsTheSaying) {
  RoutingPolicy p;
  const auto v = DivisionLevel::kVillage;
  EXPECT_EQ(p.highestLevel(makeEvent("510603101201", 1)), DivisionLevel::kVillage);
  EXPECT_EQ(p.highestLevel(makeEvent("510603101201", 2)), DivisionLevel::kTownship);
  EXPECT_EQ(p.highestLevel(makeEvent("510603101201", 3)), DivisionLevel::kCounty);
  EXPECT_EQ(p.highestLevel(makeEvent("510603101201", 4)), DivisionLevel::kCity);
  // 小事不出村: a village keeps severity 1, passes on the rest.
  EXPECT_FALSE(p.mustForward(makeEvent("510603101201", 1), v));
  EXPECT_TRUE(p.mustForward(makeEvent("510603101201", 2), v));
  // 大事不出乡: the township keeps severity 2.
  EXPECT_FALSE(p.mustForward(makeEvent("510603101201", 2), DivisionLevel::kTownship));
  EXPECT_TRUE(p.mustForward(makeEvent("510603101201", 3), DivisionLevel::kTownship));
  // 难事不出县: the county keeps severity 3, the city sees severity 4.
  EXPECT_FALSE(p.mustForward(makeEvent("510603101201", 3), DivisionLevel::kCounty));
  EXPECT_TRUE(p.mustForward(makeEvent("510603101201", 4), DivisionLevel::kCounty));
  EXPECT_FALSE(p.mustForward(makeEvent("510603101201", 4), DivisionLevel::kCity));
}

TEST(RoutingPolicy, AbsentLevelIsSkippedUpward) {
  // A township matter at a village whose upstream is the county (no township centre): the
  // village must still pass it on, and the county keeps it.
  RoutingPolicy p;
  auto e = makeEvent("510603101201", 2);
  EXPECT_TRUE(p.mustForward(e, DivisionLevel::kVillage));
  EXPECT_FALSE(p.mustForward(e, DivisionLevel::kCounty));
}

TEST(RoutingPolicy, YamlRulesOverrideBySeverityAndType) {
  auto p = RoutingPolicy::parse(R"(
version: 1
severity:
  1: township
rules:
  - type: tamper
    level: county
  - type: motion
    severity: 2
    level: village
)",
                                "policy.yaml");
  ASSERT_TRUE(p.ok()) << p.error().describe();
  EXPECT_EQ(p->highestLevel(makeEvent("510603101201", 1)), DivisionLevel::kTownship);
  EXPECT_EQ(p->highestLevel(makeEvent("510603101201", 1, core::EventType::kTamper)),
            DivisionLevel::kCounty);
  EXPECT_EQ(p->highestLevel(makeEvent("510603101201", 2, core::EventType::kMotion)),
            DivisionLevel::kVillage);
  EXPECT_EQ(p->highestLevel(makeEvent("510603101201", 3, core::EventType::kMotion)),
            DivisionLevel::kCounty);
}

TEST(RoutingPolicy, YamlErrorsNameFileLineAndKey) {
  auto unknown = RoutingPolicy::parse("severity:\n  1: village\nfoo: 1\n", "p.yaml");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("p.yaml:3"), std::string::npos) << unknown.error().message;
  EXPECT_NE(unknown.error().message.find("foo"), std::string::npos);
  auto badLevel = RoutingPolicy::parse("severity:\n  2: province\n", "p.yaml");
  ASSERT_FALSE(badLevel.ok());
  EXPECT_NE(badLevel.error().message.find("p.yaml:2"), std::string::npos);
  auto badSev = RoutingPolicy::parse("severity:\n  7: city\n", "p.yaml");
  EXPECT_FALSE(badSev.ok());
  auto badType = RoutingPolicy::parse("rules:\n  - type: dragon\n    level: city\n", "p.yaml");
  EXPECT_FALSE(badType.ok());
  auto noLevel = RoutingPolicy::parse("rules:\n  - type: motion\n", "p.yaml");
  EXPECT_FALSE(noLevel.ok());
  auto badKey = RoutingPolicy::parse("rules:\n  - type: motion\n    lvl: city\n", "p.yaml");
  EXPECT_FALSE(badKey.ok());
}

// A prefix subscription matches a topic exactly when the topic starts with it.
bool receives(const std::string& subscriberDivision, const std::string& eventDivision) {
  const std::string sub = subscriptionTopic(core::DivisionCode::parse(subscriberDivision).value());
  const std::string topic = alertTopic(core::DivisionCode::parse(eventDivision).value());
  return topic.rfind(sub, 0) == 0;
}

TEST(Topics, PrefixSubscriptionIsExactlyTheSubtree) {
  EXPECT_EQ(alertTopic(core::DivisionCode::parse("510603101201").value()), "a/510603101201");
  EXPECT_EQ(subscriptionTopic(core::DivisionCode::parse("510603101000").value()), "a/510603101");
  EXPECT_TRUE(receives("510603101201", "510603101201"));
  EXPECT_FALSE(receives("510603101201", "510603101202"));  // neighbour village
  EXPECT_TRUE(receives("510603101000", "510603101202"));   // township sees its villages
  EXPECT_FALSE(receives("510603101000", "510603102201"));  // not the next township's
  EXPECT_TRUE(receives("510603000000", "510603102201"));
  EXPECT_FALSE(receives("510603000000", "510604101201"));  // neighbour county
  EXPECT_TRUE(receives("510600000000", "510604101201"));
  EXPECT_FALSE(receives("510600000000", "510700000000"));
  // The heartbeat topic can never match an alert subscription.
  EXPECT_NE(std::string(kHeartbeatTopic).rfind("a/", 0), 0u);
}

}  // namespace
}  // namespace sharpeyes::bus
