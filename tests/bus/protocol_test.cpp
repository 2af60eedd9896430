// The verbatim extraction of a frame's "event" member (the centre stores and forwards that text
// instead of re-serialising the parsed event): it must return exactly the value the JSON parser
// validated, or nothing.
#include "protocol.h"

#include <gtest/gtest.h>

namespace sharpeyes::bus::proto {
namespace {

TEST(RawMember, ReturnsTheTopLevelValueVerbatim) {
  const std::string f =
      R"({"v":1,"type":"event","seq":42,"event":{"id":"a","s":"}\"{,","n":[1,{"event":2}]},"x":1})";
  ASSERT_TRUE(parseFrame(f).has_value());
  auto raw = rawMember(f, "event");
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(*raw, R"({"id":"a","s":"}\"{,","n":[1,{"event":2}]})");
  EXPECT_EQ(nlohmann::json::parse(*raw), (*parseFrame(f))["event"]);
  EXPECT_EQ(rawMember(f, "seq"), "42");
  EXPECT_EQ(rawMember(f, "type"), R"("event")");
  EXPECT_FALSE(rawMember(f, "id").has_value());  // nested keys are not top-level members
}

TEST(RawMember, ToleratesWhitespaceAndKeyOrder) {
  const std::string f =
      " {\n \"event\" :\t{ \"id\" : \"b\" } ,\r\n \"v\" : 1 , \"type\":\"event\" } ";
  ASSERT_TRUE(parseFrame(f).has_value());
  EXPECT_EQ(rawMember(f, "event"), R"({ "id" : "b" })");
}

TEST(RawMember, RepeatedKeyGivesTheValueTheParserKept) {
  const std::string f = R"({"v":1,"type":"event","event":{"id":"first"},"event":{"id":"last"}})";
  auto parsed = parseFrame(f);
  ASSERT_TRUE(parsed.has_value());
  auto raw = rawMember(f, "event");
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(nlohmann::json::parse(*raw), (*parsed)["event"]);
}

TEST(RawMember, EscapedKeysAndNonObjectsGiveNothing) {
  // "ev\u0065nt" is "event" to the parser: rather than guess, the caller re-serialises.
  const std::string f = R"({"v":1,"type":"event","event":{"id":"a"},"ev\u0065nt":{"id":"b"}})";
  ASSERT_TRUE(parseFrame(f).has_value());
  EXPECT_FALSE(rawMember(f, "event").has_value());
  EXPECT_FALSE(rawMember("[1,2]", "event").has_value());
  EXPECT_FALSE(rawMember("", "event").has_value());
  EXPECT_FALSE(rawMember("{}", "event").has_value());
}

}  // namespace
}  // namespace sharpeyes::bus::proto
