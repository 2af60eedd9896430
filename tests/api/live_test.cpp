// Live video: fMP4 from a real encoder (ffmpeg) split and fanned out over real WebSockets.

#include "sharpeyes/api/live.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "sharpeyes/api/http_server.h"
#include "sharpeyes/core/util.h"
#include "test_client.h"

namespace sharpeyes::api {
namespace {

namespace fs = std::filesystem;
using testing::Conn;

// 3 s of 25 fps H.264, keyframe every 25 frames, fragments of ~200 ms (not all at keyframes).
std::string fragmentedMp4() {
  static std::string data;
  if (!data.empty()) return data;
  fs::path p = fs::temp_directory_path() / ("sharpeyes-live-" + core::newId() + ".mp4");
  std::string cmd =
      "ffmpeg -nostdin -loglevel error -y -f lavfi -i testsrc2=size=320x180:rate=25 -t 3 "
      "-c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 25 -f mp4 "
      "-movflags empty_moov+default_base_moof+frag_keyframe -frag_duration 200000 '" +
      p.string() + "'";
  if (std::system(cmd.c_str()) != 0) return {};
  std::ifstream f(p, std::ios::binary);
  data.assign(std::istreambuf_iterator<char>(f), {});
  fs::remove(p);
  return data;
}

TEST(Fmp4Splitter, SplitsRealEncoderOutputInAnyChunking) {
  std::string mp4 = fragmentedMp4();
  ASSERT_FALSE(mp4.empty()) << "ffmpeg could not encode";
  std::mt19937 rng(7);
  for (int round = 0; round < 3; ++round) {
    Fmp4Splitter s;
    std::vector<Fmp4Splitter::Piece> pieces;
    size_t off = 0;
    while (off < mp4.size()) {
      size_t n = std::min<size_t>(mp4.size() - off, 1 + rng() % (round == 0 ? 7 : 40000));
      auto got = s.push(std::string_view(mp4).substr(off, n));
      pieces.insert(pieces.end(), got.begin(), got.end());
      off += n;
    }
    ASSERT_GE(pieces.size(), 10u);
    EXPECT_EQ(pieces[0].kind, Fmp4Splitter::Piece::Kind::kInit);
    EXPECT_EQ(pieces[0].bytes.substr(4, 4), "ftyp");
    EXPECT_EQ(Fmp4Splitter::codecString(pieces[0].bytes).substr(0, 5), "avc1.");
    size_t total = 0, keys = 0;
    for (size_t i = 1; i < pieces.size(); ++i) {
      EXPECT_EQ(pieces[i].kind, Fmp4Splitter::Piece::Kind::kFragment);
      total += pieces[i].bytes.size();
      keys += pieces[i].keyframe ? 1 : 0;
    }
    EXPECT_TRUE(pieces[1].keyframe);
    EXPECT_EQ(keys, 3u) << "one keyframe per second of video";
    EXPECT_GT(pieces.size() - 1, keys) << "fragments also between keyframes";
    EXPECT_LE(total + pieces[0].bytes.size(), mp4.size());
  }
  Fmp4Splitter bad;
  bool malformed = false;
  (void)bad.push(std::string("\0\0\0\x03junkjunk", 12), &malformed);
  EXPECT_TRUE(malformed);
}

TEST(LiveVideoHub, InitAndGopToLateViewersOverWebSocket) {
  std::string mp4 = fragmentedMp4();
  ASSERT_FALSE(mp4.empty());
  std::vector<std::pair<core::CameraId, bool>> demand;
  std::mutex demandMu;
  LiveVideoHub hub([&](const core::CameraId& c, StreamKind, bool on) {
    std::lock_guard l(demandMu);
    demand.emplace_back(c, on);
  });
  HttpServer server(HttpServerOptions{});
  WebSocketRoute r;
  r.onOpen = [&](const std::shared_ptr<WebSocketConnection>& ws, const HttpRequest& req) {
    hub.addViewer(*core::CameraId::parse(req.params.at("camera")), StreamKind::kSub, ws);
  };
  r.onClose = [&](const std::shared_ptr<WebSocketConnection>& ws) { hub.removeViewer(ws); };
  ASSERT_TRUE(server.webSocket("/ws/live/{camera}", r).ok());
  ASSERT_TRUE(server.start().ok());
  auto cam = *core::CameraId::parse("cam-1");

  Conn early(server.port());
  ASSERT_TRUE(early.wsHandshake("/ws/live/cam-1"));
  auto waiting = early.wsRead();
  ASSERT_TRUE(waiting.has_value());
  EXPECT_NE(waiting->find("waiting"), std::string::npos);

  Fmp4Splitter splitter;
  auto pieces = splitter.push(mp4);
  ASSERT_GE(pieces.size(), 10u);
  // Feed the init and the first second plus two fragments (the second GOP has started).
  size_t secondKey = 0;
  for (size_t i = 2; i < pieces.size(); ++i) {
    if (pieces[i].keyframe) {
      secondKey = i;
      break;
    }
  }
  ASSERT_GT(secondKey, 0u);
  hub.pushBytes(cam, StreamKind::kSub, pieces[0].bytes);
  for (size_t i = 1; i <= secondKey + 1; ++i) {
    hub.pushFragment(cam, StreamKind::kSub, pieces[i].bytes, pieces[i].keyframe);
  }
  // Early viewer: init message, init segment, then every fragment in order.
  auto init = early.wsRead();
  ASSERT_TRUE(init.has_value());
  EXPECT_NE(init->find("\"type\":\"init\""), std::string::npos);
  EXPECT_NE(init->find("video/mp4; codecs="), std::string::npos);
  int op = 0;
  EXPECT_EQ(early.wsRead(&op), pieces[0].bytes);
  EXPECT_EQ(op, 2);
  for (size_t i = 1; i <= secondKey + 1; ++i) EXPECT_EQ(early.wsRead(), pieces[i].bytes);

  // Late viewer: init, then the cached GOP from the last keyframe (not from the start).
  Conn late(server.port());
  ASSERT_TRUE(late.wsHandshake("/ws/live/cam-1"));
  ASSERT_TRUE(late.wsRead().has_value());  // init message
  EXPECT_EQ(late.wsRead(), pieces[0].bytes);
  EXPECT_EQ(late.wsRead(), pieces[secondKey].bytes);
  EXPECT_EQ(late.wsRead(), pieces[secondKey + 1].bytes);
  EXPECT_EQ(hub.stats().viewers, 2u);
  {
    std::lock_guard l(demandMu);
    ASSERT_EQ(demand.size(), 1u);  // the first viewer asked ingest for the stream
    EXPECT_TRUE(demand[0].second);
  }
  EXPECT_EQ(hub.lastViewedMillis().count("cam-1"), 1u);
  server.stop();  // both viewers leave: the last one releases the stream
  ASSERT_TRUE(testing::waitFor([&] { return hub.stats().viewers == 0; }));
  std::lock_guard l(demandMu);
  ASSERT_EQ(demand.size(), 2u);
  EXPECT_FALSE(demand[1].second);
}

}  // namespace
}  // namespace sharpeyes::api
