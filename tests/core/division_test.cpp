#include "sharpeyes/core/division.h"

#include <gtest/gtest.h>

#include "sharpeyes/core/camera_id.h"

namespace sharpeyes::core {
namespace {

DivisionCode code(const char* s) {
  auto r = DivisionCode::parse(s);
  EXPECT_TRUE(r.ok()) << s;
  return r.value();
}

TEST(DivisionCode, LevelFollowsTheLastNonZeroPart) {
  EXPECT_EQ(code("510000000000").level(), DivisionLevel::kProvince);
  EXPECT_EQ(code("510600000000").level(), DivisionLevel::kCity);
  EXPECT_EQ(code("510603000000").level(), DivisionLevel::kCounty);
  EXPECT_EQ(code("510603101000").level(), DivisionLevel::kTownship);
  EXPECT_EQ(code("510603101201").level(), DivisionLevel::kVillage);
  EXPECT_EQ(code("510603101201").prefix(), "510603101201");
  EXPECT_EQ(code("510603000000").prefix(), "510603");
}

TEST(DivisionCode, RejectsMalformedCodesWithAReason) {
  for (const char* bad : {"", "51060310120", "5106031012011", "51060310120x", "000000000000",
                          "510600101000", "000603101201", "510603000201"}) {
    auto r = DivisionCode::parse(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_FALSE(r.error().message.empty());
  }
  EXPECT_NE(DivisionCode::parse("510600101000").error().message.find("zero county part"),
            std::string::npos);
}

TEST(DivisionCode, AncestryIsByPrefixOfSignificantDigits) {
  const auto county = code("510603000000");
  const auto town = code("510603101000");
  const auto village = code("510603101201");
  const auto otherVillage = code("510603102201");
  EXPECT_TRUE(county.isAncestorOf(village));
  EXPECT_TRUE(town.isAncestorOf(village));
  EXPECT_FALSE(town.isAncestorOf(otherVillage));
  EXPECT_FALSE(village.isAncestorOf(village));
  EXPECT_TRUE(village.contains(village));
  EXPECT_FALSE(village.isAncestorOf(town));
  // A county code that happens to share leading digits with a township's is not its ancestor.
  EXPECT_FALSE(code("510610000000").isAncestorOf(code("510601101000")));
}

TEST(DivisionCode, AncestorAtAndParent) {
  const auto village = code("510603101201");
  EXPECT_EQ(village.ancestorAt(DivisionLevel::kCounty)->str(), "510603000000");
  EXPECT_EQ(village.parent()->str(), "510603101000");
  EXPECT_EQ(code("510000000000").parent(), std::nullopt);
  EXPECT_EQ(code("510603000000").ancestorAt(DivisionLevel::kVillage), std::nullopt);
}

TEST(DivisionLevel, ParsesNames) {
  EXPECT_EQ(parseDivisionLevel("township").value(), DivisionLevel::kTownship);
  EXPECT_FALSE(parseDivisionLevel("hamlet").ok());
  EXPECT_EQ(significantDigits(DivisionLevel::kTownship), 9);
}

TEST(CameraId, AcceptsSafeNamesOnly) {
  EXPECT_TRUE(CameraId::parse("cam-01_A").ok());
  EXPECT_FALSE(CameraId::parse("").ok());
  EXPECT_FALSE(CameraId::parse("../etc").ok());
  EXPECT_FALSE(CameraId::parse("cam 1").ok());
  EXPECT_FALSE(CameraId::parse(std::string(65, 'a')).ok());
}

}  // namespace
}  // namespace sharpeyes::core
