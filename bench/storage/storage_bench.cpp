// Storage benchmark. Loads N events and D days of 10 s segments for C cameras into SQLite and
// PostgreSQL (a private server started with tests/storage/pg_fixture.sh), then measures:
//   - event query latency p50/p99 over a mix of filters (time window + camera, division prefix,
//     type + severity, zone, object class, second page by cursor);
//   - segment insert rate through SegmentIndex::insert (one durable commit per row, the
//     recorder's path) and the bulk load rate;
//   - a retention sweep (age) deleting the oldest hour of every camera;
//   - clip export (libavformat remux) against `ffmpeg -ss ... -c copy` over the same segments,
//     as multiples of real time.
// Usage: storage_bench [--events N] [--cameras C] [--days D] [--queries Q] [--backend sqlite|
//        postgresql|both] [--dir DIR] [--skip-clip]
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "chain.h"
#include "db.h"
#include "sharpeyes/core/util.h"
#include "sharpeyes/storage/case_store.h"
#include "sharpeyes/storage/clip_export.h"
#include "sharpeyes/storage/database.h"
#include "sharpeyes/storage/event_store.h"
#include "sharpeyes/storage/recorder.h"
#include "sharpeyes/storage/retention.h"
#include "sharpeyes/storage/segment_index.h"

namespace fs = std::filesystem;
using namespace sharpeyes;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  int64_t events = 10'000'000;
  int cameras = 100;
  int days = 365;
  int queries = 300;
  std::string backend = "both";
  std::string dir = "/tmp/sharpeyes-storage-bench";
  bool skipClip = false;
};

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

const core::WallTime kEpoch = core::fromUnixMicros(1'767'225'600'000'000);  // 2026-01-01

void die(const std::string& what, const core::Error& e) {
  std::cerr << "storage_bench: " << what << ": " << e.describe() << "\n";
  std::exit(1);
}

// Multi-row INSERTs of `rows` rows of `cols` values each, `perStmt` rows per statement, in
// transactions of `perTx` rows.
template <typename Fill>
void bulkInsert(storage::detail::Db& db, const std::string& head, int cols, int64_t rows,
                int perStmt, int64_t perTx, Fill fill) {
  std::vector<storage::detail::Value> params;
  auto sqlFor = [&](int n) {
    std::string sql = head + " VALUES ";
    int p = 1;
    for (int r = 0; r < n; ++r) {
      sql += r == 0 ? "(" : ", (";
      for (int c = 0; c < cols; ++c) sql += (c == 0 ? "$" : ", $") + std::to_string(p++);
      sql += ")";
    }
    return sql;
  };
  const std::string full = sqlFor(perStmt);
  int64_t done = 0;
  while (done < rows) {
    auto tx = storage::detail::Tx::begin(db);
    if (!tx) die("begin", tx.error());
    const int64_t txEnd = std::min(rows, done + perTx);
    while (done < txEnd) {
      const int n = static_cast<int>(std::min<int64_t>(perStmt, txEnd - done));
      params.clear();
      for (int r = 0; r < n; ++r) fill(done + r, params);
      auto res = db.execute(n == perStmt ? full : sqlFor(n), params);
      if (!res) die("bulk insert", res.error());
      done += n;
    }
    auto c = (*tx)->commit();
    if (!c) die("commit", c.error());
  }
}

struct Percentiles {
  double p50 = 0, p99 = 0, max = 0;
};
Percentiles percentiles(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))]; };
  return {at(0.50), at(0.99), v.back()};
}

const char* kDivisions[] = {"510603101201", "510603101202", "510603102201", "510603102202",
                            "510603103201", "510604101201", "510604102201", "510604103201"};
const char* kZones[] = {"gate", "road", "yard", "bridge", "square"};
const char* kClasses[] = {"person", "vehicle", "bicycle"};
const core::EventType kTypes[] = {core::EventType::kMotion, core::EventType::kIntrusion,
                                  core::EventType::kTripwire, core::EventType::kLoitering,
                                  core::EventType::kTamper};

void benchBackend(const std::string& name, const std::string& url, const Options& o) {
  std::cout << "\n== " << name << " ==\n";
  auto db = storage::Database::open(url);
  if (!db) die("open " + name, db.error());
  auto& raw = (*db)->db();
  const int64_t spanUs = int64_t{o.days} * 86400 * 1000000;

  // ---- load events ----
  auto t = Clock::now();
  std::mt19937_64 rng(42);
  bulkInsert(raw,
             "INSERT INTO events (id, phase, camera, division, rule, type, severity, "
             "object_class, track_id, box_x, box_y, box_w, box_h, zone, start_us, end_us, "
             "media_time_us, snapshot_path, clip_start_us, clip_end_us, attributes, updated_us)",
             22, o.events, 500, 100000, [&](int64_t i, std::vector<storage::detail::Value>& p) {
               const int cam = static_cast<int>(rng() % o.cameras);
               const int64_t start = core::toUnixMicros(kEpoch) +
                                     static_cast<int64_t>(rng() % static_cast<uint64_t>(spanUs));
               p.insert(p.end(), {std::string("e") + std::to_string(i),
                                  std::string("end"),
                                  "cam-" + std::to_string(cam),
                                  std::string(kDivisions[cam % 8]),
                                  std::string("rule-") + std::to_string(cam % 4),
                                  std::string(core::toString(kTypes[rng() % 5])),
                                  static_cast<int64_t>(1 + rng() % 4),
                                  std::string(kClasses[rng() % 3]),
                                  static_cast<int64_t>(i),
                                  0.1,
                                  0.1,
                                  0.2,
                                  0.3,
                                  std::string(kZones[rng() % 5]),
                                  start,
                                  start + 5000000,
                                  int64_t{0},
                                  std::string(),
                                  start - 5000000,
                                  start + 10000000,
                                  std::string("{}"),
                                  start});
             });
  const double evLoad = secondsSince(t);
  std::cout << "events loaded: " << o.events << " in " << evLoad << " s ("
            << static_cast<int64_t>(o.events / evLoad) << "/s bulk)\n";
  if (name == "postgresql")
    (void)raw.execScript("ANALYZE events");
  else
    (void)raw.execScript("ANALYZE");

  // ---- load segments ----
  const int64_t perCamera = int64_t{o.days} * 8640;
  const int64_t segRows = perCamera * o.cameras;
  t = Clock::now();
  std::vector<std::string> chains(o.cameras, storage::detail::kGenesisChain);
  bulkInsert(raw,
             "INSERT INTO segments (camera, start_us, end_us, media_duration_us, path, bytes, "
             "codec, width, height, sha256, prev_chain, chain, indexed_us)",
             13, segRows, 500, 200000, [&](int64_t i, std::vector<storage::detail::Value>& p) {
               const int cam = static_cast<int>(i % o.cameras);
               const int64_t k = i / o.cameras;
               core::Segment s;
               s.camera = core::CameraId::parse("cam-" + std::to_string(cam)).value();
               s.start = kEpoch + k * 10s;
               s.mediaDuration = 10s;
               s.end = s.start + 10s;
               s.path = storage::segmentRelativePath(s.camera, s.start);
               s.bytes = 5'000'000;
               s.sha256 = core::sha256Hex(s.path);
               const std::string chain = storage::detail::segmentChainHash(chains[cam], s);
               p.insert(p.end(),
                        {s.camera.str(), core::toUnixMicros(s.start), core::toUnixMicros(s.end),
                         int64_t{10'000'000}, s.path, int64_t{5'000'000}, std::string("h264"),
                         int64_t{1920}, int64_t{1080}, s.sha256, chains[cam], chain,
                         core::toUnixMicros(s.start)});
               chains[cam] = chain;
             });
  for (int c = 0; c < o.cameras; ++c) {
    (void)raw.execute("INSERT INTO segment_chain_heads (camera, chain, last_id) VALUES ($1, $2, 0)",
                      {"cam-" + std::to_string(c), chains[c]});
  }
  const double segLoad = secondsSince(t);
  std::cout << "segments loaded: " << segRows << " (" << o.cameras << " cameras x " << o.days
            << " days of 10 s) in " << segLoad << " s (" << static_cast<int64_t>(segRows / segLoad)
            << "/s bulk)\n";
  (void)raw.execScript(name == "postgresql" ? "ANALYZE" : "ANALYZE");

  // ---- event queries ----
  auto events = storage::EventStore::open(*db).value();
  std::vector<double> lat;
  std::vector<std::vector<double>> byKind(6);
  const char* kKinds[] = {"camera+1h", "township+1d",  "type+severity",
                          "zone",      "object class", "page 2 (cursor)"};
  std::mt19937_64 qr(7);
  for (int i = 0; i < o.queries; ++i) {
    storage::EventQuery q;
    q.limit = 100;
    const int kind = i % 6;
    const core::WallTime at = kEpoch + std::chrono::microseconds(qr() % spanUs);
    switch (kind) {
      case 0:
        q.cameras = {core::CameraId::parse("cam-" + std::to_string(qr() % o.cameras)).value()};
        q.range = core::TimeRange{at, at + 1h};
        break;
      case 1:
        q.division = core::DivisionCode::parse("510603101000").value();
        q.range = core::TimeRange{at, at + 24h};
        break;
      case 2:
        q.types = {kTypes[qr() % 5]};
        q.minSeverity = 3;
        break;
      case 3: q.zone = kZones[qr() % 5]; break;
      case 4:
        q.objectClass = kClasses[qr() % 3];
        q.range = core::TimeRange{at, at + 24h * 7};
        break;
      default: {
        q.cameras = {core::CameraId::parse("cam-" + std::to_string(qr() % o.cameras)).value()};
        auto first = events->query(q);
        if (!first) die("query", first.error());
        q.cursor = first->nextCursor;
      }
    }
    const auto qt = Clock::now();
    auto page = events->query(q);
    const double ms = secondsSince(qt) * 1000;
    if (!page) die("query", page.error());
    lat.push_back(ms);
    byKind[kind].push_back(ms);
  }
  auto all = percentiles(lat);
  std::cout << "event query (" << o.queries << " queries, 100 per page): p50 " << all.p50
            << " ms, p99 " << all.p99 << " ms, max " << all.max << " ms\n";
  for (int k = 0; k < 6; ++k) {
    auto p = percentiles(byKind[k]);
    std::cout << "  " << kKinds[k] << ": p50 " << p.p50 << " ms, p99 " << p.p99 << " ms\n";
  }

  // ---- segment insert through the recorder's path (one durable commit per row) ----
  auto index = storage::SegmentIndex::open(*db).value();
  const int kSingles = 2000;
  t = Clock::now();
  for (int i = 0; i < kSingles; ++i) {
    core::Segment s;
    s.camera = core::CameraId::parse("cam-new").value();
    s.start = kEpoch + std::chrono::hours(24) * o.days + i * 10s;
    s.mediaDuration = 10s;
    s.end = s.start + 10s;
    s.path = storage::segmentRelativePath(s.camera, s.start);
    s.bytes = 5'000'000;
    s.codec = "h264";
    s.sha256 = core::sha256Hex(s.path);
    auto id = index->insert(s);
    if (!id) die("insert", id.error());
  }
  const double single = secondsSince(t);
  std::cout << "segment insert, one commit each: " << static_cast<int64_t>(kSingles / single)
            << " rows/s (" << (single / kSingles * 1000) << " ms per row; 100 cameras need 10/s)\n";

  // ---- timeline query ----
  t = Clock::now();
  for (int i = 0; i < 100; ++i) {
    auto tl =
        index->timeline(core::CameraId::parse("cam-" + std::to_string(i % o.cameras)).value(),
                        {kEpoch + 24h * (i % o.days), kEpoch + 24h * (i % o.days) + 24h}, 200ms);
    if (!tl) die("timeline", tl.error());
  }
  std::cout << "timeline of one camera-day (8640 segments): " << secondsSince(t) / 100 * 1000
            << " ms each\n";

  // ---- retention sweep: the oldest hour of every camera ----
  auto cases = storage::CaseStore::open(*db).value();
  storage::RetentionOptions ro;
  ro.root = o.dir + "/" + name + "-root";  // files do not exist: unlink is ENOENT, counted done
  fs::create_directories(ro.root);
  ro.policy.defaultMaxAge = std::chrono::hours(24) * o.days - 1h;
  ro.policy.maxAge[core::CameraId::parse("cam-new").value()] = std::chrono::hours(24 * 10000);
  auto retention = storage::Retention::create(ro, *index, cases.get()).value();
  t = Clock::now();
  auto rep = retention->sweep(kEpoch + std::chrono::hours(24) * o.days);
  const double sweep = secondsSince(t);
  if (!rep) die("sweep", rep.error());
  std::cout << "retention sweep (age): " << rep->deleted << " segments deleted in " << sweep
            << " s (" << static_cast<int64_t>(rep->deleted / std::max(sweep, 1e-9))
            << " segments/s, garbage rows + audit entries included)\n";
}

int run(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

void benchClip(const Options& o) {
  std::cout << "\n== clip export vs ffmpeg -c copy ==\n";
  const fs::path dir = fs::path(o.dir) / "clip";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path root = dir / "rec";
  // Six 10 s segments of 1280x720 25 fps H.264 (2 s GOP), fragmented MP4 like the recorder's.
  const fs::path one = dir / "one.mp4";
  const std::string enc =
      "gst-launch-1.0 -q videotestsrc num-buffers=250 pattern=smpte ! "
      "video/x-raw,width=1280,height=720,framerate=25/1 ! x264enc key-int-max=50 "
      "speed-preset=ultrafast bitrate=4000 ! h264parse ! mp4mux fragment-duration=1000 ! "
      "filesink location=" +
      one.string() + " > /dev/null 2>&1";
  if (run(enc) != 0) {
    std::cerr << "gst-launch-1.0 failed\n";
    std::exit(1);
  }
  auto db = storage::Database::open((dir / "clip.db").string()).value();
  auto index = storage::SegmentIndex::open(db).value();
  storage::RecorderOptions ro;
  ro.root = root.string();
  auto rec = storage::Recorder::create(ro, *index).value();
  const auto cam = core::CameraId::parse("cam-1").value();
  std::string concat;
  for (int i = 0; i < 6; ++i) {
    const fs::path p = root / storage::segmentRelativePath(cam, kEpoch + i * 10s);
    fs::create_directories(p.parent_path());
    fs::copy_file(one, p);
    rec->submit({cam, p.string(), kEpoch + i * 10s, 10s, "h264", 1280, 720});
    concat += "file '" + p.string() + "'\n";
  }
  rec->drain();
  {
    std::FILE* f = std::fopen((dir / "list.txt").c_str(), "w");
    std::fputs(concat.c_str(), f);
    std::fclose(f);
  }
  // The clip: 45 s from t0 = 7.5 s, across five segments.
  const double t0 = 7.5;
  const double len = 45.0;
  std::vector<double> ours, theirs;
  for (int rep = 0; rep < 5; ++rep) {
    const fs::path out = dir / ("ours" + std::to_string(rep) + ".mp4");
    auto t = Clock::now();
    auto clip = storage::exportClip(
        *index, root.string(),
        {cam,
         {kEpoch + std::chrono::milliseconds(7500), kEpoch + std::chrono::milliseconds(52500)},
         out.string()});
    ours.push_back(secondsSince(t));
    if (!clip) die("clip", clip.error());
    const fs::path ff = dir / ("ffmpeg" + std::to_string(rep) + ".mp4");
    const std::string cmd = "ffmpeg -v error -y -f concat -safe 0 -ss " + std::to_string(t0) +
                            " -i " + (dir / "list.txt").string() + " -t " + std::to_string(len) +
                            " -c copy -movflags +faststart " + ff.string();
    t = Clock::now();
    if (run(cmd) != 0) std::cerr << "ffmpeg failed\n";
    theirs.push_back(secondsSince(t));
  }
  std::sort(ours.begin(), ours.end());
  std::sort(theirs.begin(), theirs.end());
  const double o50 = ours[ours.size() / 2];
  const double f50 = theirs[theirs.size() / 2];
  std::cout << "45 s clip of 1280x720 H.264 across 5 segments (median of 5):\n"
            << "  sharpeyes exportClip (incl. SHA-256 of each source): " << o50
            << " s = " << len / o50 << "x real time\n"
            << "  ffmpeg -ss -c copy (concat demuxer):                 " << f50
            << " s = " << len / f50 << "x real time\n"
            << "  ratio sharpeyes/ffmpeg speed: " << f50 / o50 << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--events")
      o.events = std::stoll(next());
    else if (a == "--cameras")
      o.cameras = std::stoi(next());
    else if (a == "--days")
      o.days = std::stoi(next());
    else if (a == "--queries")
      o.queries = std::stoi(next());
    else if (a == "--backend")
      o.backend = next();
    else if (a == "--dir")
      o.dir = next();
    else if (a == "--skip-clip")
      o.skipClip = true;
    else {
      std::cerr << "usage: storage_bench [--events N] [--cameras C] [--days D] [--queries Q] "
                   "[--backend sqlite|postgresql|both] [--dir DIR] [--skip-clip]\n";
      return 2;
    }
  }
  fs::remove_all(o.dir);
  fs::create_directories(o.dir);
  std::cout << "storage_bench: " << o.events << " events, " << o.cameras << " cameras x " << o.days
            << " days of 10 s segments\n";
  if (o.backend == "sqlite" || o.backend == "both") {
    benchBackend("sqlite", "sqlite:" + o.dir + "/bench.db", o);
  }
  if (o.backend == "postgresql" || o.backend == "both") {
    const std::string state = o.dir + "/pg";
    const std::string fixture = std::string("PG_FIXTURE_FSYNC=on bash ") + SHARPEYES_SOURCE_DIR +
                                "/tests/storage/pg_fixture.sh";
    if (run(fixture + " start " + state) != 0) {
      std::cerr << "cannot start PostgreSQL\n";
      return 1;
    }
    std::FILE* f = std::fopen((state + "/conninfo").c_str(), "r");
    char line[512] = {};
    if (f != nullptr) {
      if (std::fgets(line, sizeof(line), f) == nullptr) line[0] = '\0';
      std::fclose(f);
    }
    std::string conninfo = line;
    while (!conninfo.empty() && conninfo.back() == '\n') conninfo.pop_back();
    benchBackend("postgresql", conninfo + " dbname=postgres", o);
    run(fixture + " stop " + state);
  }
  if (!o.skipClip) benchClip(o);
  return 0;
}
