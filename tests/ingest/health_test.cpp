// Unit tests for the reconnect backoff and the per-camera health state machine.
#include "sharpeyes/ingest/health.h"

#include <gtest/gtest.h>

#include <set>

namespace sharpeyes::ingest {
namespace {

using namespace std::chrono_literals;

TEST(Backoff, CeilingDoublesFromInitialAndStopsAtTheCap) {
  Backoff b(1s, 30s, 1);
  EXPECT_EQ(b.ceiling(0), 1s);
  EXPECT_EQ(b.ceiling(1), 1s);
  EXPECT_EQ(b.ceiling(2), 2s);
  EXPECT_EQ(b.ceiling(3), 4s);
  EXPECT_EQ(b.ceiling(5), 16s);
  EXPECT_EQ(b.ceiling(6), 30s);
  EXPECT_EQ(b.ceiling(1000), 30s);  // no overflow for a camera that is down for weeks
}

TEST(Backoff, DelayStaysWithinHalfTheCeilingAndTheCeiling) {
  Backoff b(1s, 30s, 1);
  for (int failures = 1; failures < 12; ++failures) {
    EXPECT_EQ(b.delay(failures, 0.0), b.ceiling(failures) / 2);
    EXPECT_EQ(b.delay(failures, 1.0), b.ceiling(failures));
    for (int i = 0; i < 200; ++i) {
      const auto d = b.next(failures);
      EXPECT_GE(d, b.ceiling(failures) / 2);
      EXPECT_LE(d, b.ceiling(failures));
      EXPECT_LE(d, 30s);
    }
  }
}

TEST(Backoff, JitterSpreadsCamerasThatFailedTogether) {
  // 50 cameras with different seeds, same failure count: the delays must not coincide.
  std::set<int64_t> delays;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    Backoff b(1s, 30s, seed);
    delays.insert(std::chrono::duration_cast<std::chrono::milliseconds>(b.next(4)).count());
  }
  EXPECT_GT(delays.size(), 40u);
  EXPECT_GE(*delays.begin(), 4000);
  EXPECT_LE(*delays.rbegin(), 8000);
}

TEST(Backoff, CapBelowInitialIsRaisedToInitial) {
  Backoff b(5s, 1s, 1);
  EXPECT_EQ(b.ceiling(3), 5s);
}

TEST(HealthMachine, FirstAttemptConnectsThenStreams) {
  HealthMachine h(3);
  EXPECT_FALSE(h.onAttempt("connecting"));  // already connecting
  EXPECT_EQ(h.state(), CameraState::kConnecting);
  EXPECT_EQ(h.reason(), "connecting");
  EXPECT_TRUE(h.onData("receiving h264"));
  EXPECT_EQ(h.state(), CameraState::kStreaming);
  EXPECT_EQ(h.reconnects(), 0u);
}

TEST(HealthMachine, StallThenReconnectThenStreamingAgain) {
  HealthMachine h(3);
  h.onAttempt("connecting");
  h.onData("ok");
  EXPECT_TRUE(h.onStall("no data for 5 s"));
  EXPECT_EQ(h.state(), CameraState::kStalled);
  EXPECT_EQ(h.stalls(), 1u);
  EXPECT_TRUE(h.onAttempt("reconnecting"));
  EXPECT_EQ(h.state(), CameraState::kReconnecting);
  EXPECT_EQ(h.reconnects(), 1u);
  EXPECT_TRUE(h.onData("ok"));
  EXPECT_EQ(h.state(), CameraState::kStreaming);
  EXPECT_EQ(h.consecutiveFailures(), 0);
}

TEST(HealthMachine, StallOnlyFromStreaming) {
  HealthMachine h(3);
  h.onAttempt("connecting");
  EXPECT_FALSE(h.onStall("no data"));
  EXPECT_EQ(h.state(), CameraState::kConnecting);
  EXPECT_EQ(h.stalls(), 0u);
}

TEST(HealthMachine, RepeatedFailuresGoOfflineAndStayThereUntilData) {
  HealthMachine h(3);
  h.onAttempt("connecting");
  EXPECT_TRUE(h.onFailure("connection refused"));
  EXPECT_EQ(h.state(), CameraState::kReconnecting);
  EXPECT_FALSE(h.onAttempt("retry"));
  EXPECT_FALSE(h.onFailure("connection refused"));
  EXPECT_EQ(h.state(), CameraState::kReconnecting);
  h.onAttempt("retry");
  EXPECT_TRUE(h.onFailure("connection refused"));
  EXPECT_EQ(h.state(), CameraState::kOffline);
  EXPECT_EQ(h.reason(), "connection refused");
  EXPECT_FALSE(h.onAttempt("retry"));  // retries continue, the state still reads offline
  EXPECT_EQ(h.state(), CameraState::kOffline);
  EXPECT_EQ(h.reason(), "retry");
  EXPECT_EQ(h.reconnects(), 3u);
  EXPECT_TRUE(h.onData("back"));
  EXPECT_EQ(h.state(), CameraState::kStreaming);
  EXPECT_EQ(h.consecutiveFailures(), 0);
}

TEST(HealthMachine, FailureWhileStalledKeepsStalledUntilTheNextAttempt) {
  HealthMachine h(5);
  h.onAttempt("c");
  h.onData("ok");
  h.onStall("no data");
  EXPECT_FALSE(h.onFailure("error"));
  EXPECT_EQ(h.state(), CameraState::kStalled);
  EXPECT_TRUE(h.onAttempt("retry"));
  EXPECT_EQ(h.state(), CameraState::kReconnecting);
}

TEST(HealthMachine, StopIsFinal) {
  HealthMachine h(3);
  h.onAttempt("c");
  h.onData("ok");
  EXPECT_TRUE(h.onStop("stopped"));
  EXPECT_EQ(h.state(), CameraState::kStopped);
  EXPECT_FALSE(h.onData("late buffer"));
  EXPECT_FALSE(h.onFailure("late error"));
  EXPECT_FALSE(h.onAttempt("late retry"));
  EXPECT_EQ(h.state(), CameraState::kStopped);
}

TEST(HealthMachine, NamesForEveryState) {
  EXPECT_EQ(toString(CameraState::kConnecting), "connecting");
  EXPECT_EQ(toString(CameraState::kStreaming), "streaming");
  EXPECT_EQ(toString(CameraState::kStalled), "stalled");
  EXPECT_EQ(toString(CameraState::kReconnecting), "reconnecting");
  EXPECT_EQ(toString(CameraState::kOffline), "offline");
  EXPECT_EQ(toString(CameraState::kStopped), "stopped");
}

}  // namespace
}  // namespace sharpeyes::ingest
