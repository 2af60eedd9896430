// Integration: a few short simulator scenes through the whole analyzer, scored against the
// scene's ground truth, asserting the accuracy targets of issue 3 (bench/analytics_eval runs all).

#include <gtest/gtest.h>

#include "scenarios.h"

namespace sharpeyes::analytics::eval {
namespace {

RuleScore scoreOf(const ScenarioResult& r, const std::string& type) {
  auto it = r.byType.find(type);
  return it == r.byType.end() ? RuleScore{} : it->second;
}

TEST(AnalyticsEval, TripwireBothWaysMeetsTargets) {
  RuleScore total;
  for (const char* name : {"people_cross_line", "cars_cross_line"}) {
    const ScenarioResult r = runScenario(scenarioByName(name));
    total.add(scoreOf(r, "tripwire"));
    EXPECT_EQ(r.falsePositives, 0) << name;
  }
  ASSERT_GE(total.truth, 10);
  EXPECT_GE(total.precision(), 0.95);
  EXPECT_GE(total.recall(), 0.95);
  EXPECT_LE(total.countError(), 0.05);
  EXPECT_LE(total.maxLatency(), 2.0);
}

TEST(AnalyticsEval, FenceWithClassFilterMeetsTargets) {
  const ScenarioResult r = runScenario(scenarioByName("fence_people"));
  const RuleScore s = scoreOf(r, "intrusion");
  ASSERT_EQ(s.truth, 3);
  EXPECT_GE(s.precision(), 0.95);  // the car driving through the yard raised nothing
  EXPECT_GE(s.recall(), 0.95);
}

TEST(AnalyticsEval, IlluminationChangeRaisesNothing) {
  const ScenarioResult r = runScenario(scenarioByName("illumination_step"));
  int reported = 0;
  for (const auto& [type, s] : r.byType) reported += s.reported;
  EXPECT_EQ(reported, 0);
}

TEST(AnalyticsEval, TamperWithinThreeSeconds) {
  for (const char* name : {"lens_covered", "camera_turned"}) {
    const ScenarioResult r = runScenario(scenarioByName(name));
    const RuleScore s = scoreOf(r, "tamper");
    ASSERT_EQ(s.truth, 1) << name;
    EXPECT_EQ(s.matched, 1) << name;
    EXPECT_LE(s.maxLatency(), 3.0) << name;
    EXPECT_EQ(r.falsePositives, 0) << name;
  }
}

}  // namespace
}  // namespace sharpeyes::analytics::eval
