// The storage command line (the real sharpeyes binary): events, clip + evidence package,
// verify, case, audit verify — and exit codes.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>

#include "backend.h"
#include "db.h"
#include "sharpeyes/storage/database.h"
#include "sharpeyes/storage/event_store.h"
#include "sharpeyes/storage/recorder.h"
#include "sharpeyes/storage/segment_index.h"

namespace sharpeyes::storage {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;
namespace fs = std::filesystem;

struct Run {
  int code = -1;
  std::string out;
};

Run run(const std::string& args) {
  const std::string cmd = std::string(SHARPEYES_BINARY) + " " + args + " 2>&1";
  Run r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

const core::WallTime kT0 = core::fromUnixMicros(1'790'000'000'000'000);  // 2026-09-21T14:13:20Z

class StorageCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = (dir_.path() / "s.db").string();
    root_ = dir_.path() / "rec";
    auto db = Database::open(db_).value();
    auto index = SegmentIndex::open(db).value();
    const fs::path sample = dir_.path() / "sample.mp4";
    ASSERT_TRUE(testing::makeFragmentedMp4(sample, 50));
    RecorderOptions o;
    o.root = root_.string();
    auto rec = Recorder::create(o, *index).value();
    for (auto at : {0s, 2s}) {
      const fs::path p = root_ / segmentRelativePath(cam_, kT0 + at);
      fs::create_directories(p.parent_path());
      fs::copy_file(sample, p);
      rec->submit({cam_, p.string(), kT0 + at, 2s, "h264", 160, 120});
    }
    rec->drain();
    auto events = EventStore::open(db).value();
    for (int i = 0; i < 5; ++i) {
      core::Event e;
      e.id = "ev" + std::to_string(i);
      e.camera = cam_;
      e.division = core::DivisionCode::parse("510603101201").value();
      e.type = core::EventType::kIntrusion;
      e.severity = 1 + i % 2;
      e.start = kT0 + i * 1s;
      ASSERT_TRUE(events->store(e));
    }
  }
  std::string dbArg() const { return " --db " + db_; }
  TempDir dir_;
  std::string db_;
  fs::path root_;
  core::CameraId cam_ = core::CameraId::parse("cam-1").value();
};

TEST_F(StorageCliTest, EventsQueryAndPaging) {
  auto r = run("events" + dbArg() + " --division 510603000000 --min-severity 2 --json");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("\"ev3\""), std::string::npos);
  EXPECT_NE(r.out.find("\"ev1\""), std::string::npos);
  EXPECT_EQ(r.out.find("\"ev2\""), std::string::npos);
  auto page = run("events" + dbArg() + " --limit 2");
  ASSERT_EQ(page.code, 0);
  EXPECT_NE(page.out.find("next page: --cursor"), std::string::npos);
  EXPECT_EQ(run("events" + dbArg() + " --type no-such-type").code, 2);
  EXPECT_EQ(run("events" + dbArg() + " --from yesterday").code, 2);
}

TEST_F(StorageCliTest, ClipPackageVerifyCaseAndAudit) {
  const std::string keys = (dir_.path() / "gw").string();
  ASSERT_EQ(run("clip --generate-key " + keys).code, 0);
  ASSERT_EQ(run("case create 2026-XJ-1" + dbArg() + " --title theft --actor li").code, 0);
  const std::string pkg = (dir_.path() / "pkg").string();
  auto c = run("clip" + dbArg() + " --root " + root_.string() +
               " --camera cam-1 --from 2026-09-21T14:13:20.5Z --to 2026-09-21T14:13:23Z --out " +
               (dir_.path() / "c.mp4").string() + " --package " + pkg + " --key " + keys +
               ".key --case 2026-XJ-1 --division 510603101201 --actor li");
  ASSERT_EQ(c.code, 0) << c.out;
  EXPECT_NE(c.out.find("\"sha256\""), std::string::npos);
  auto v = run("verify " + pkg + " --key " + keys + ".pub.pem");
  EXPECT_EQ(v.code, 0) << v.out;
  // Tampered clip.
  std::string bytes = testing::readAll(fs::path(pkg) / "clip.mp4");
  bytes[bytes.size() / 3] ^= 0x04;
  testing::writeBytes(fs::path(pkg) / "clip.mp4", bytes);
  auto bad = run("verify " + pkg + " --key " + keys + ".pub.pem");
  EXPECT_EQ(bad.code, 1) << bad.out;
  EXPECT_NE(bad.out.find("NOT VERIFIED"), std::string::npos);

  auto hold = run("case hold 2026-XJ-1" + dbArg() +
                  " --camera cam-1 --from 2026-09-21T14:13:20Z --to 2026-09-21T14:13:24Z "
                  "--reason evidence");
  ASSERT_EQ(hold.code, 0) << hold.out;
  auto show = run("case show 2026-XJ-1" + dbArg());
  ASSERT_EQ(show.code, 0);
  EXPECT_NE(show.out.find("\"active\": true"), std::string::npos);
  EXPECT_NE(show.out.find(pkg), std::string::npos) << "the package is attached to the case";
  EXPECT_EQ(run("case attach 2026-XJ-1" + dbArg() + " --event ev1").code, 0);
  auto tl = run("clip --timeline" + dbArg() +
                " --camera cam-1 --from 2026-09-21T14:13:19Z --to 2026-09-21T14:13:30Z");
  ASSERT_EQ(tl.code, 0) << tl.out;
  EXPECT_NE(tl.out.find("\"covered_seconds\": 4.0"), std::string::npos) << tl.out;

  auto av = run("audit verify" + dbArg());
  EXPECT_EQ(av.code, 0) << av.out;
  auto log = run("audit log" + dbArg());
  EXPECT_NE(log.out.find("export"), std::string::npos);
  EXPECT_NE(log.out.find("hold"), std::string::npos);
  // Edit an entry behind the store's back: audit verify must fail.
  {
    auto db = Database::open(db_).value();
    ASSERT_TRUE(db->db().execute("UPDATE audit_log SET target = 'cam-2' WHERE seq = 2"));
  }
  auto tampered = run("audit verify" + dbArg());
  EXPECT_EQ(tampered.code, 1) << tampered.out;
  EXPECT_NE(tampered.out.find("TAMPERED"), std::string::npos);
}

TEST_F(StorageCliTest, RecordingsVerifyExplainsGapsAndFindsAlteredFiles) {
  const std::string args = "recordings verify" + dbArg() + " --root " + root_.string() +
                           " --camera cam-1 --from 2026-09-21T14:13:19Z --to "
                           "2026-09-21T14:13:30Z --actor li";
  auto ok = run(args + " --files");
  ASSERT_EQ(ok.code, 0) << ok.out;
  EXPECT_NE(ok.out.find("chain: OK (2 rows checked, 0 deleted rows stepped over)"),
            std::string::npos)
      << ok.out;
  EXPECT_NE(ok.out.find("recorded: 4.0 s of 11.0 s in 1 span"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("(1.0 s): not recorded (no deletion in it)"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("files: 2 hashed, 0 problems"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("\nINTACT\n"), std::string::npos) << ok.out;

  // The second segment's file is altered; the first one's row is dropped as lost.
  {
    auto db = Database::open(db_).value();
    auto index = SegmentIndex::open(db).value();
    const auto rows = index->all();
    ASSERT_TRUE(rows);
    ASSERT_EQ(rows->size(), 2u);
    const fs::path second = root_ / (*rows)[1].path;
    std::string bytes = testing::readAll(second);
    bytes[bytes.size() / 2] ^= 0x10;
    testing::writeBytes(second, bytes);
    ASSERT_TRUE(index->remove((*rows)[0].id, "file_missing", {}));
  }
  auto bad = run(args + " --files");
  EXPECT_EQ(bad.code, 1) << bad.out;
  EXPECT_NE(bad.out.find("chain: OK (1 rows checked, 1 deleted rows stepped over)"),
            std::string::npos)
      << bad.out;
  EXPECT_NE(bad.out.find("deleted (file_missing): 1 segment recorded"), std::string::npos)
      << bad.out;
  EXPECT_NE(bad.out.find(": SHA-256 differs from the index's"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("\nNOT INTACT\n"), std::string::npos) << bad.out;
  auto quick = run(args);
  EXPECT_EQ(quick.code, 0) << "without --files the chain alone decides: " << quick.out;
  EXPECT_NE(quick.out.find("files: not hashed"), std::string::npos) << quick.out;

  auto asJson = run(args + " --files --json");
  EXPECT_EQ(asJson.code, 1) << asJson.out;
  EXPECT_NE(asJson.out.find("\"intact\": false"), std::string::npos) << asJson.out;
  EXPECT_NE(asJson.out.find("\"reason\": \"file_missing\""), std::string::npos) << asJson.out;

  // Each check is in the audit log, with who ran it and the verdict.
  auto log = run("audit log" + dbArg());
  ASSERT_EQ(log.code, 0) << log.out;
  EXPECT_NE(log.out.find("li@cli  verify  cam-1"), std::string::npos) << log.out;
  EXPECT_NE(log.out.find(": NOT INTACT, 1 files hashed"), std::string::npos) << log.out;
  EXPECT_EQ(run("audit verify" + dbArg()).code, 0);
}

TEST_F(StorageCliTest, BadArgumentsExitTwo) {
  EXPECT_EQ(run("clip" + dbArg() + " --camera cam-1").code, 2);
  EXPECT_EQ(run("clip" + dbArg() +
                " --camera 'bad id' --from 2026-09-21T14:13:20Z --to "
                "2026-09-21T14:13:21Z --out x.mp4")
                .code,
            2);
  EXPECT_EQ(run("case").code, 2);
  EXPECT_EQ(run("verify").code, 2);
  EXPECT_EQ(run("recordings").code, 2);
  EXPECT_EQ(run("recordings verify" + dbArg() + " --camera cam-1").code, 2);
  EXPECT_EQ(run("recordings verify" + dbArg() +
                " --camera cam-1 --from 2026-09-21T14:13:21Z --to 2026-09-21T14:13:20Z")
                .code,
            2);
}

}  // namespace
}  // namespace sharpeyes::storage
