// Camera notifications -> core::Event (EventMapper): the type mapping of the usual vendor topics,
// start/end pairing of property events, instant events, the device clock offset, and closing
// open events when a subscription is lost.

#include <gtest/gtest.h>

#include "sharpeyes/onvif/events.h"

namespace sharpeyes::onvif {
namespace {

using namespace std::chrono_literals;
using core::EventPhase;
using core::EventType;

Notification property(const std::string& topic, const std::string& name, const std::string& value,
                      const std::string& utc = "", const std::string& operation = "Changed") {
  Notification n;
  n.topic = topic;
  n.utcTime = utc;
  n.operation = operation;
  n.source = {{"VideoSourceConfigurationToken", "vsc0"}};
  n.data = {{name, value}};
  return n;
}

EventMapper mapper() {
  return EventMapper(*core::CameraId::parse("cam07"), *core::DivisionCode::parse("510603101203"));
}

TEST(OnvifEventMapping, TopicsOfCommonVendorsMapToOurTypes) {
  EXPECT_EQ(eventTypeForTopic("tns1:VideoSource/MotionAlarm"), EventType::kMotion);
  EXPECT_EQ(eventTypeForTopic("tns1:RuleEngine/CellMotionDetector/Motion"), EventType::kMotion);
  EXPECT_EQ(eventTypeForTopic("tns1:RuleEngine/MotionRegionDetector/Motion"), EventType::kMotion);
  EXPECT_EQ(eventTypeForTopic("tns1:RuleEngine/TamperDetector/Tamper"), EventType::kTamper);
  EXPECT_EQ(eventTypeForTopic("tns1:VideoSource/GlobalSceneChange/ImagingService"),
            EventType::kTamper);
  EXPECT_EQ(eventTypeForTopic("tns1:VideoSource/ImageTooDark/ImagingService"), EventType::kTamper);
  EXPECT_EQ(eventTypeForTopic("tns1:Device/Trigger/DigitalInput"), EventType::kCameraEvent);
  EXPECT_EQ(eventTypeForTopic(""), EventType::kCameraEvent);
}

TEST(OnvifEventMapping, PropertyEventsPairStartAndEndWithOneId) {
  EventMapper m = mapper();
  const core::WallTime now = core::processClock().now();
  auto start =
      m.map(property("tns1:RuleEngine/CellMotionDetector/Motion", "IsMotion", "true"), now);
  ASSERT_TRUE(start);
  EXPECT_EQ(start->type, EventType::kMotion);
  EXPECT_EQ(start->phase, EventPhase::kStart);
  EXPECT_EQ(start->camera.str(), "cam07");
  EXPECT_EQ(start->division.str(), "510603101203");
  EXPECT_EQ(start->rule, "onvif:tns1:RuleEngine/CellMotionDetector/Motion");
  EXPECT_EQ(start->attributes.at("origin"), "camera");
  EXPECT_EQ(start->attributes.at("source.VideoSourceConfigurationToken"), "vsc0");
  EXPECT_EQ(start->attributes.at("data.IsMotion"), "true");
  // A repeated "true" changes nothing.
  EXPECT_FALSE(
      m.map(property("tns1:RuleEngine/CellMotionDetector/Motion", "IsMotion", "true"), now + 1s));
  auto end =
      m.map(property("tns1:RuleEngine/CellMotionDetector/Motion", "IsMotion", "false"), now + 2s);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->phase, EventPhase::kEnd);
  EXPECT_EQ(end->id, start->id);
  ASSERT_TRUE(end->end);
  EXPECT_EQ(*end->end, now + 2s);
  // "false" for something that never started: nothing.
  EXPECT_FALSE(m.map(property("tns1:RuleEngine/TamperDetector/Tamper", "IsTamper", "false"), now));
}

TEST(OnvifEventMapping, DeletedPropertyEndsTheEvent) {
  EventMapper m = mapper();
  const core::WallTime now = core::processClock().now();
  auto start = m.map(property("tns1:RuleEngine/TamperDetector/Tamper", "IsTamper", "true"), now);
  ASSERT_TRUE(start);
  EXPECT_EQ(start->type, EventType::kTamper);
  auto gone = m.map(
      property("tns1:RuleEngine/TamperDetector/Tamper", "IsTamper", "true", "", "Deleted"), now);
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->phase, EventPhase::kEnd);
  EXPECT_EQ(gone->id, start->id);
}

TEST(OnvifEventMapping, NotificationsWithoutStateAreInstantEvents) {
  EventMapper m = mapper();
  const core::WallTime now = core::processClock().now();
  Notification n;
  n.topic = "tns1:Device/HardwareFailure/StorageFailure";
  n.data = {{"Reason", "disk"}};
  auto e = m.map(n, now);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, EventType::kCameraEvent);
  EXPECT_EQ(e->phase, EventPhase::kStart);
  ASSERT_TRUE(e->end);
  EXPECT_EQ(*e->end, e->start);
  // Digital inputs carry LogicalState: a property, so start and end.
  auto in = m.map(property("tns1:Device/Trigger/DigitalInput", "LogicalState", "true"), now);
  ASSERT_TRUE(in);
  EXPECT_FALSE(in->end);
  EXPECT_TRUE(m.map(property("tns1:Device/Trigger/DigitalInput", "LogicalState", "false"), now));
}

TEST(OnvifEventMapping, DeviceTimeIsMovedToOurClock) {
  EventMapper m = mapper();
  const core::WallTime now = *core::parseIso8601("2026-11-25T12:00:00Z");
  // The device clock runs 17 minutes ahead; its UtcTime says 12:17:00 for our 12:00:00.
  auto e = m.map(property("tns1:VideoSource/MotionAlarm", "State", "true", "2026-11-25T12:17:00Z"),
                 now + 1s, 17min);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->start, now);
  EXPECT_EQ(e->attributes.count("time"), 0u);
  // A device clock that is plainly wrong (a year off, offset unknown): the receipt time.
  auto wrong = m.map(property("tns1:VideoSource/GlobalSceneChange/ImagingService", "State", "true",
                              "2025-01-01T00:00:00Z"),
                     now + 2s);
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->start, now + 2s);
  EXPECT_EQ(wrong->attributes.at("time"), "received");
}

TEST(OnvifEventMapping, CloseAllEndsOpenEventsWhenTheSubscriptionIsLost) {
  EventMapper m = mapper();
  const core::WallTime now = core::processClock().now();
  auto motion = m.map(property("tns1:VideoSource/MotionAlarm", "State", "true"), now);
  auto tamper =
      m.map(property("tns1:VideoSource/GlobalSceneChange/ImagingService", "State", "true"), now);
  ASSERT_TRUE(motion && tamper);
  auto closed = m.closeAll(now + 5s);
  ASSERT_EQ(closed.size(), 2u);
  for (const auto& e : closed) {
    EXPECT_EQ(e.phase, EventPhase::kEnd);
    EXPECT_TRUE(e.id == motion->id || e.id == tamper->id);
    EXPECT_EQ(e.attributes.at("closed"), "subscription lost");
  }
  EXPECT_TRUE(m.closeAll(now + 6s).empty());
  // After the loss, a fresh "true" starts a new event (new id).
  auto again = m.map(property("tns1:VideoSource/MotionAlarm", "State", "true"), now + 7s);
  ASSERT_TRUE(again);
  EXPECT_NE(again->id, motion->id);
}

}  // namespace
}  // namespace sharpeyes::onvif
