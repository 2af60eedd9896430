#include "sharpeyes/core/util.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <set>

#include "sharpeyes/core/event.h"

namespace sharpeyes::core {
namespace {

TEST(Util, RedactsPasswordsInUrls) {
  EXPECT_EQ(redactUrl("rtsp://admin:s3cret@10.0.0.5:554/Streaming/101"),
            "rtsp://admin:***@10.0.0.5:554/Streaming/101");
  EXPECT_EQ(redactUrl("rtsp://10.0.0.5/live"), "rtsp://10.0.0.5/live");
  EXPECT_EQ(redactUrl("rtsp://user@10.0.0.5/live"), "rtsp://user@10.0.0.5/live");
  // An '@' in the path is not userinfo.
  EXPECT_EQ(redactUrl("rtsp://10.0.0.5/a@b"), "rtsp://10.0.0.5/a@b");
}

TEST(Util, PutsPercentEncodedCredentialsIntoUrls) {
  EXPECT_EQ(urlWithCredentials("rtsp://10.0.0.5/live", "admin", "p@ss:w"),
            "rtsp://admin:p%40ss%3Aw@10.0.0.5/live");
  EXPECT_EQ(urlWithCredentials("rtsp://old:x@10.0.0.5/live", "admin", "pw"),
            "rtsp://admin:pw@10.0.0.5/live");
  EXPECT_EQ(urlWithCredentials("rtsp://10.0.0.5/live", "", ""), "rtsp://10.0.0.5/live");
}

TEST(Util, Sha256MatchesKnownVectors) {
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string path = ::testing::TempDir() + "/sha_test.bin";
  std::ofstream(path) << "abc";
  EXPECT_EQ(sha256File(path).value(), sha256Hex("abc"));
  EXPECT_EQ(sha256File(path + ".missing").error().code, ErrorCode::kNotFound);
  std::remove(path.c_str());
}

TEST(Util, NewIdsAreUniqueHex) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    const auto id = newId();
    ASSERT_EQ(id.size(), 32u);
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(Event, TypeNamesRoundTrip) {
  for (auto t : {EventType::kMotion, EventType::kIntrusion, EventType::kTripwire,
                 EventType::kLoitering, EventType::kCrowd, EventType::kTamper,
                 EventType::kSignalLoss, EventType::kCameraEvent, EventType::kStorageFull}) {
    EXPECT_EQ(parseEventType(toString(t)).value(), t);
  }
  EXPECT_FALSE(parseEventType("explosion").ok());
}

}  // namespace
}  // namespace sharpeyes::core
