// Interoperability: ingest a stream served by an RTSP server the project did not write (VLC).
// VLC's RTSP output serves RTP over UDP only, so this also covers the UDP transport.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

namespace sharpeyes::ingest::testing {
namespace {

int freeTcpPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// cvlc in its own process group (VLC refuses to run as root: as root, run it as nobody).
class VlcServer {
 public:
  VlcServer(const std::string& file, int port) {
    const std::string sout = "#rtp{sdp=rtsp://127.0.0.1:" + std::to_string(port) + "/cam}";
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      const int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      dup2(devnull, 2);
      if (geteuid() == 0) {
        execlp("runuser", "runuser", "-u", "nobody", "--", "cvlc", file.c_str(), "--loop", "--sout",
               sout.c_str(), static_cast<char*>(nullptr));
      } else {
        execlp("cvlc", "cvlc", file.c_str(), "--loop", "--sout", sout.c_str(),
               static_cast<char*>(nullptr));
      }
      _exit(127);
    }
    if (pid_ > 0) setpgid(pid_, pid_);
  }
  ~VlcServer() {
    if (pid_ <= 0) return;
    kill(-pid_, SIGTERM);
    for (int i = 0; i < 50; ++i) {  // up to 5 s for VLC to exit
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      usleep(100'000);
    }
    kill(-pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  bool started() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
};

TEST(IngestInterop, RecordsAStreamServedByVlc) {
  if (access("/usr/bin/cvlc", X_OK) != 0) GTEST_SKIP() << "cvlc not installed (vlc-bin)";
  TempDir dir;
  chmod(dir.str().c_str(), 0755);  // readable by `nobody`
  const std::string clip = dir.str() + "/clip.mp4";
  const std::string gen =
      "gst-launch-1.0 -q videotestsrc num-buffers=125 pattern=ball ! "
      "video/x-raw,width=320,height=240,framerate=25/1 ! x264enc key-int-max=25 "
      "speed-preset=ultrafast ! h264parse ! mp4mux ! filesink location=" +
      clip + " > /dev/null 2>&1";
  ASSERT_EQ(std::system(gen.c_str()), 0);
  chmod(clip.c_str(), 0644);
  const std::string rec = dir.str() + "/rec";
  std::filesystem::create_directories(rec);

  const int port = freeTcpPort();
  VlcServer vlc(clip, port);
  ASSERT_TRUE(vlc.started());

  RecordingListener listener;
  auto m = IngestManager::create({}, listener);
  ASSERT_TRUE(m.ok());
  auto ingest = std::move(m).value();
  auto cfg = testCamera("vlc", "rtsp://127.0.0.1:" + std::to_string(port) + "/cam", rec);
  cfg.main.transport = Transport::kUdp;
  cfg.health.offlineAfterFailures = 100;  // VLC takes a moment to listen: retries are expected
  ASSERT_TRUE(ingest->addCamera(cfg).ok());

  ASSERT_TRUE(listener.waitState("vlc", CameraState::kStreaming, 30s));
  ASSERT_TRUE(listener.waitFor([&] { return listener.segmentsLocked("vlc").size() >= 2; }, 30s));
  ingest->stop();
  const auto segs = listener.segments("vlc");
  ASSERT_GE(segs.size(), 2u);
  EXPECT_EQ(segs[0].codec, "h264");
  EXPECT_EQ(segs[0].width, 320);
  EXPECT_EQ(segs[0].height, 240);
  for (const auto& s : segs) {
    const auto p = probeFile(s.path);
    EXPECT_TRUE(p.ok) << s.path << ": " << p.output;
    EXPECT_NEAR(p.duration, secs(s.mediaDuration), 0.1);
  }
}

}  // namespace
}  // namespace sharpeyes::ingest::testing
