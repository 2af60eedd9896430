// Storage benchmark. Loads N events (over a year) and D days of 10 s segments for C cameras
// into SQLite and PostgreSQL (a server started with tests/storage/pg_fixture.sh), then measures:
//   - event query latency p50/p99 over a mix of filters (time window + camera, division prefix,
//     type + severity, zone, object class, second page by cursor); on PostgreSQL a second
//     pass with generic plans allowed (plan_cache_mode = auto) as the baseline;
//   - segment insert rate through SegmentIndex::insert (one durable commit per row, the
//     recorder's path);
//   - the timeline of one camera-day (baseline: the same rows read whole from the table);
//   - retention sweeps (age): the oldest day of every camera, then the next day of one camera;
//   - clip export (libavformat remux) against `ffmpeg -ss ... -c copy` over the same segments,
//     as multiples of real time.
// The load (bulk_load.h) bypasses the product's insert path; the databases are kept under
// --data, and --reuse measures an already loaded one again (each run consumes its oldest two
// days of segments: the sweeps delete them, and adds 2 000 recorder-path rows).
// Usage: storage_bench [--events N] [--cameras C] [--days D] [--queries Q]
//        [--backend sqlite|postgresql|both] [--data DIR] [--dir SCRATCH] [--reuse] [--drop]
//        [--skip-clip] [--cold] [--warm-events]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "bulk_load.h"
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
  int eventDays = 365;
  int cameras = 100;
  int days = 365;
  int queries = 600;
  std::string backend = "both";
  std::string data = "/work/bench-data/storage";     // the loaded databases (kept)
  std::string dir = "/tmp/sharpeyes-storage-bench";  // scratch: clips, retention root
  bool reuse = false;
  bool drop = false;  // delete the loaded database at the end
  bool skipClip = false;
  bool cold = false;        // drop the OS caches before the event queries (needs root)
  bool warmEvents = false;  // then Database::readEventsIntoCache, as the gateway does at start
};

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

const core::WallTime kEpoch = core::fromUnixMicros(1'767'225'600'000'000);  // 2026-01-01

void die(const std::string& what, const core::Error& e) {
  std::cerr << "storage_bench: " << what << ": " << e.describe() << "\n";
  std::exit(1);
}

std::string loadavg() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return "[load " + a + " " + b + " " + c + "]";
}

struct Percentiles {
  double p50 = 0, p99 = 0, max = 0;
};
Percentiles percentiles(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))]; };
  return {at(0.50), at(0.99), v.back()};
}

const core::EventType kTypes[] = {core::EventType::kMotion, core::EventType::kIntrusion,
                                  core::EventType::kTripwire, core::EventType::kLoitering,
                                  core::EventType::kTamper};

core::CameraId camera(int c) {
  return core::CameraId::parse("cam-" + std::to_string(c)).value();
}

// What was loaded, kept next to the database so that --reuse knows the sizes.
struct Meta {
  int64_t events = 0;
  int eventDays = 0;
  int cameras = 0;
  int days = 0;
  int64_t segmentRows = 0;
};

void writeMeta(const std::string& path, const Meta& m) {
  std::ofstream f(path);
  f << m.events << " " << m.eventDays << " " << m.cameras << " " << m.days << " " << m.segmentRows
    << "\n";
}

bool readMeta(const std::string& path, Meta& m) {
  std::ifstream f(path);
  return static_cast<bool>(f >> m.events >> m.eventDays >> m.cameras >> m.days >> m.segmentRows);
}

void printSizes(const std::string& name, storage::detail::Db& raw, const std::string& file,
                const Meta& m) {
  if (name == "sqlite") {
    uint64_t bytes = fs::file_size(file);
    std::error_code ec;
    const auto wal = fs::file_size(file + "-wal", ec);
    if (!ec) bytes += wal;
    std::cout << "database size: " << bytes << " bytes (" << bytes / 1e9 << " GB)\n";
    // Per table with its indexes, when SQLite was built with the dbstat table.
    auto rows = raw.query(
        "SELECT tbl_name, SUM(pgsize) FROM dbstat JOIN sqlite_master USING (name) WHERE "
        "tbl_name IN ('events', 'segments') GROUP BY tbl_name");
    if (rows) {
      for (const auto& r : *rows) {
        const double n = r.str(0) == "events" ? static_cast<double>(m.events)
                                              : static_cast<double>(m.segmentRows);
        std::cout << "  " << r.str(0) << " with indexes: " << r.i64(1) << " bytes ("
                  << (n > 0 ? static_cast<double>(r.i64(1)) / n : 0) << " bytes/row)\n";
      }
    }
  } else {
    auto rows = raw.query(
        "SELECT pg_database_size(current_database()), pg_total_relation_size('events'), "
        "pg_total_relation_size('segments')");
    if (!rows) die("sizes", rows.error());
    const auto& r = rows->front();
    std::cout << "database size: " << r.i64(0) << " bytes (" << static_cast<double>(r.i64(0)) / 1e9
              << " GB)\n  events with indexes: " << r.i64(1) << " bytes ("
              << (m.events > 0 ? static_cast<double>(r.i64(1)) / static_cast<double>(m.events) : 0)
              << " bytes/row)\n  segments with indexes: " << r.i64(2) << " bytes ("
              << (m.segmentRows > 0
                      ? static_cast<double>(r.i64(2)) / static_cast<double>(m.segmentRows)
                      : 0)
              << " bytes/row)\n";
  }
}

void benchBackend(const std::string& name, const std::string& url, const std::string& file,
                  const Options& o) {
  std::cout << "\n== " << name << " ==\n";
  const std::string metaPath = o.data + "/" + name + ".meta";
  Meta m;
  if (o.reuse) {
    if (!readMeta(metaPath, m)) {
      std::cerr << "storage_bench: --reuse: no loaded " << name << " database (" << metaPath
                << " missing)\n";
      std::exit(1);
    }
    std::cout << "reusing the loaded database: " << m.events << " events over " << m.eventDays
              << " days, " << m.cameras << " cameras x " << m.days << " days of 10 s segments ("
              << m.segmentRows << " rows when loaded)\n";
  } else {
    fs::remove(metaPath);
    {
      auto db = storage::Database::open(url);  // the product's migrations create the schema
      if (!db) die("open " + name, db.error());
    }
    bench::LoadSpec spec;
    spec.events = o.events;
    spec.eventDays = o.eventDays;
    spec.cameras = o.cameras;
    spec.segmentDays = o.days;
    spec.epochUs = core::toUnixMicros(kEpoch);
    std::cout << "loading " << loadavg() << "\n" << std::flush;
    const auto t = Clock::now();
    auto progress = [&](const std::string& what) {
      std::cout << "  " << static_cast<int64_t>(secondsSince(t)) << " s: " << what << " "
                << loadavg() << "\n"
                << std::flush;
    };
    bench::LoadReport rep;
    try {
      rep = name == "sqlite" ? bench::loadSqlite(file, spec, progress)
                             : bench::loadPostgres(url, spec, progress);
    } catch (const std::exception& e) {
      std::cerr << "storage_bench: load: " << e.what() << "\n";
      std::exit(1);
    }
    m = {o.events, o.eventDays, o.cameras, o.days, rep.segmentRows};
    writeMeta(metaPath, m);
    std::cout << "loaded in " << secondsSince(t) << " s " << loadavg() << ": " << o.events
              << " events in " << rep.eventSeconds << " s ("
              << static_cast<int64_t>(static_cast<double>(o.events) /
                                      std::max(rep.eventSeconds, 1e-9))
              << "/s), " << rep.segmentRows << " segment rows in " << rep.segmentSeconds << " s ("
              << static_cast<int64_t>(static_cast<double>(rep.segmentRows) /
                                      std::max(rep.segmentSeconds, 1e-9))
              << "/s), indexes " << rep.indexSeconds << " s, ANALYZE " << rep.analyzeSeconds
              << " s\n";
  }
  auto db = storage::Database::open(url);
  if (!db) die("open " + name, db.error());
  auto& raw = (*db)->db();
  printSizes(name, raw, file, m);
  const int64_t spanUs = int64_t{m.eventDays} * 86400 * 1000000;

  // ---- cold start, and the gateway's warm-up ----
  if (o.cold) {
    ::sync();
    std::ofstream drop("/proc/sys/vm/drop_caches");
    drop << "3\n";
    drop.close();
    std::cout << "OS page cache dropped" << (drop ? "" : " (FAILED: not root?)") << " " << loadavg()
              << "\n";
  }
  if (o.warmEvents) {
    auto warmDb = storage::Database::open(url);
    if (!warmDb) die("open for the warm-up", warmDb.error());
    const auto st = Clock::now();
    auto pages = (*warmDb)->readEventsIntoCache();
    if (!pages) die("readEventsIntoCache", pages.error());
    std::cout << "event relations read into the cache: " << *pages << " pages in "
              << secondsSince(st) << " s " << loadavg() << "\n";
  }

  // ---- event queries ----
  auto events = storage::EventStore::open(*db).value();
  const char* kKinds[] = {"camera+1h", "township+1d",     "type+severity",
                          "zone",      "object class+1w", "page 2 (cursor)"};
  const auto& zones = bench::EventGenerator::zones();
  const auto& classes = bench::EventGenerator::classes();
  std::mt19937_64 qr(
      static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()));
  auto eventQueries = [&](const std::string& label) {
    std::vector<double> lat;
    std::vector<std::vector<double>> byKind(6);
    std::vector<std::vector<size_t>> rowsByKind(6);
    std::cout << "event queries" << label << " " << loadavg() << "\n";
    for (int i = 0; i < o.queries; ++i) {
      storage::EventQuery q;
      q.limit = 100;
      const int kind = i % 6;
      const core::WallTime at = kEpoch + std::chrono::microseconds(qr() % spanUs);
      switch (kind) {
        case 0:
          q.cameras = {camera(static_cast<int>(qr() % m.cameras))};
          q.range = core::TimeRange{at, at + 1h};
          break;
        case 1:
          q.division =
              core::DivisionCode::parse("510603" + std::to_string(101 + qr() % 4) + "000").value();
          q.range = core::TimeRange{at, at + 24h};
          break;
        case 2:
          q.types = {kTypes[qr() % 5]};
          q.minSeverity = 3;
          break;
        case 3: q.zone = zones[qr() % zones.size()]; break;
        case 4:
          q.objectClass = classes[qr() % classes.size()];
          q.range = core::TimeRange{at, at + 24h * 7};
          break;
        default: {
          q.cameras = {camera(static_cast<int>(qr() % m.cameras))};
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
      rowsByKind[kind].push_back(page->events.size());
    }
    auto all = percentiles(lat);
    std::cout << "event query" << label << " (" << o.queries << " queries, 100 per page): p50 "
              << all.p50 << " ms, p99 " << all.p99 << " ms, max " << all.max << " ms " << loadavg()
              << "\n";
    for (int k = 0; k < 6; ++k) {
      auto p = percentiles(byKind[k]);
      size_t rows = 0;
      for (size_t n : rowsByKind[k]) rows += n;
      std::cout << "  " << kKinds[k] << ": p50 " << p.p50 << " ms, p99 " << p.p99 << " ms, max "
                << p.max << " ms (" << (rowsByKind[k].empty() ? 0 : rows / rowsByKind[k].size())
                << " rows per page on average)\n";
    }
  };
  eventQueries("");
  if (name == "postgresql") {
    // Baseline in the same run: the product's connection plans every execution with its values
    // (plan_cache_mode = force_custom_plan, db_postgres.cpp); before that PostgreSQL was free to
    // switch a statement to a generic plan after five executions. The same session, other
    // random queries, after the measured pass (so the baseline runs on the warmer cache).
    if (auto r = raw.execScript("SET plan_cache_mode = auto"); !r)
      die("plan_cache_mode", r.error());
    eventQueries(", baseline with generic plans allowed (plan_cache_mode = auto, the code before)");
    if (auto r = raw.execScript("SET plan_cache_mode = force_custom_plan"); !r) {
      die("plan_cache_mode", r.error());
    }
  }

  // ---- segment insert through the recorder's path (one durable commit per row) ----
  // Round-robin over the loaded cameras, each continuing after its newest row (a rerun with
  // --reuse continues after the previous run's rows).
  auto index = storage::SegmentIndex::open(*db).value();
  const int kSingles = 2000;
  std::vector<core::WallTime> next(m.cameras, kEpoch + 24h * m.days);
  {
    auto heads = raw.query(
        "SELECT h.camera, s.end_us FROM segment_chain_heads h JOIN segments "
        "s ON s.id = h.last_id");
    if (!heads) die("heads", heads.error());
    for (const auto& r : *heads) {
      const std::string cam = r.str(0);
      if (cam.rfind("cam-", 0) != 0) continue;
      const int c = std::atoi(cam.c_str() + 4);
      if (c >= 0 && c < m.cameras) {
        next[c] = std::max(next[c], core::fromUnixMicros(r.i64(1)));
      }
    }
  }
  std::cout << "segment inserts " << loadavg() << "\n";
  auto t = Clock::now();
  for (int i = 0; i < kSingles; ++i) {
    const int c = i % m.cameras;
    core::Segment s;
    s.camera = camera(c);
    s.start = next[c];
    s.mediaDuration = 10s;
    s.end = s.start + 10s;
    next[c] = s.end;
    s.path = storage::segmentRelativePath(s.camera, s.start);
    s.bytes = 5'000'000;
    s.codec = "h264";
    s.width = 1920;
    s.height = 1080;
    s.sha256 = core::sha256Hex(s.path);
    auto id = index->insert(s);
    if (!id) die("insert", id.error());
  }
  const double single = secondsSince(t);
  std::cout << "segment insert, one commit each: " << static_cast<int64_t>(kSingles / single)
            << " rows/s (" << (single / kSingles * 1000) << " ms per row; 100 cameras need 10/s) "
            << loadavg() << "\n";

  // ---- timeline query ----
  // Alternated with a baseline on other random camera-days: the same rows read whole through
  // SegmentIndex::query (from the table, as the timeline did before the covering index of
  // migration 8).
  std::vector<double> tls;
  std::vector<double> rowsRead;
  size_t spans = 0;
  size_t baselineRows = 0;
  for (int i = 0; i < 200; ++i) {
    const int day = static_cast<int>(qr() % std::max(1, m.days));
    const auto from = kEpoch + 24h * day;
    const auto cam = camera(static_cast<int>(qr() % m.cameras));
    t = Clock::now();
    if (i % 2 == 0) {
      auto tl = index->timeline(cam, {from, from + 24h}, 200ms);
      tls.push_back(secondsSince(t) * 1000);
      if (!tl) die("timeline", tl.error());
      spans += tl->covered.size();
    } else {
      auto rows = index->query(cam, {from, from + 24h});
      rowsRead.push_back(secondsSince(t) * 1000);
      if (!rows) die("segment query", rows.error());
      baselineRows += rows->size();
    }
  }
  auto tp = percentiles(tls);
  auto bp = percentiles(rowsRead);
  std::cout << "timeline of one camera-day (~8 640 segments): p50 " << tp.p50 << " ms, p99 "
            << tp.p99 << " ms (" << spans / tls.size() << " covered spans on average) " << loadavg()
            << "\n  baseline, the camera-day's rows read whole (the table): p50 " << bp.p50
            << " ms, p99 " << bp.p99 << " ms (" << baselineRows / rowsRead.size()
            << " rows on average); p50 ratio baseline/timeline " << bp.p50 / std::max(tp.p50, 1e-9)
            << "\n";

  // ---- retention sweeps (age) ----
  auto cases = storage::CaseStore::open(*db).value();
  const core::WallTime now = kEpoch + 24h * (m.days + 3650);
  auto oldestOf = [&](const std::optional<core::CameraId>& cam) {
    auto o1 = index->oldest(cam, 1);
    if (!o1) die("oldest", o1.error());
    if (o1->empty()) {
      std::cerr << "storage_bench: no segments left to sweep\n";
      std::exit(1);
    }
    return o1->front().start;
  };
  auto sweepTo = [&](const std::string& what, storage::RetentionPolicy policy) {
    storage::RetentionOptions ro;
    ro.root = o.dir + "/" + name + "-root";  // files do not exist: unlink is ENOENT, counted done
    fs::create_directories(ro.root);
    ro.policy = std::move(policy);
    // Age only: the rows' bytes are fictional (no files), so the quota (which otherwise compares
    // the indexed bytes, terabytes here, with this disk) must never start deleting.
    ro.policy.quotaBytes = uint64_t{1} << 62;
    auto retention = storage::Retention::create(ro, *index, cases.get()).value();
    std::cout << "retention sweep, " << what << " " << loadavg() << "\n";
    const auto st = Clock::now();
    auto rep = retention->sweep(now);
    const double sweep = secondsSince(st);
    if (!rep) die("sweep", rep.error());
    std::cout << "retention sweep (age), " << what << ": " << rep->deleted
              << " segments deleted in " << sweep << " s ("
              << static_cast<int64_t>(static_cast<double>(rep->deleted) / std::max(sweep, 1e-9))
              << " segments/s, garbage rows, deletion runs and audit entries included) "
              << loadavg() << "\n";
    // What the deletions left in the database: rows, not bytes of video (migration 10 keeps
    // a run per stretch of a camera's chain, and retention one audit entry per camera and batch).
    auto runs =
        (*db)->db().query("SELECT COUNT(*), COALESCE(SUM(segments), 0) FROM segment_deletions");
    auto audits = (*db)->db().query("SELECT COUNT(*) FROM audit_log WHERE action = 'delete'");
    if (runs && audits) {
      std::cout << "  deletion bookkeeping so far: " << runs->front().i64(0)
                << " deletion runs for " << runs->front().i64(1) << " segments, "
                << audits->front().i64(0) << " audit entries for deletions\n";
    }
  };
  {
    // A day across all cameras: everything older than the oldest row + 24 h.
    storage::RetentionPolicy p;
    p.defaultMaxAge = now - (oldestOf(std::nullopt) + 24h);
    sweepTo("the oldest day of every camera", p);
  }
  {
    // One camera-day: the oldest remaining day of cam-0; every other camera keeps all.
    storage::RetentionPolicy p;
    p.defaultMaxAge = now - kEpoch + 24h * 3650;
    p.maxAge[camera(0)] = now - (oldestOf(camera(0)) + 24h);
    sweepTo("one camera-day (cam-0)", p);
  }
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
  std::cout << std::unitbuf;  // progress reaches a redirected log as it happens
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--events")
      o.events = std::stoll(next());
    else if (a == "--event-days")
      o.eventDays = std::stoi(next());
    else if (a == "--cameras")
      o.cameras = std::stoi(next());
    else if (a == "--days")
      o.days = std::stoi(next());
    else if (a == "--queries")
      o.queries = std::stoi(next());
    else if (a == "--backend")
      o.backend = next();
    else if (a == "--data")
      o.data = next();
    else if (a == "--dir")
      o.dir = next();
    else if (a == "--reuse")
      o.reuse = true;
    else if (a == "--drop")
      o.drop = true;
    else if (a == "--skip-clip")
      o.skipClip = true;
    else if (a == "--cold")
      o.cold = true;
    else if (a == "--warm-events")
      o.warmEvents = true;
    else {
      std::cerr << "usage: storage_bench [--events N] [--event-days D] [--cameras C] [--days D]\n"
                   "       [--queries Q] [--backend sqlite|postgresql|both] [--data DIR] [--dir "
                   "SCRATCH]\n"
                   "       [--reuse] [--drop] [--skip-clip] [--cold] [--warm-events]\n"
                   "  --data DIR   where the loaded databases live (DIR/sqlite.db, DIR/pg)\n"
                   "  --cold       drop the OS page cache before the event queries (root)\n"
                   "  --warm-events  then read the event relations into the cache first, on a\n"
                   "               connection of their own, as the gateway does at start\n"
                   "  --reuse      measure the database loaded by an earlier run, do not load\n"
                   "  --drop       delete the loaded database at the end\n";
      return 2;
    }
  }
  if (o.cameras < 1 || o.days < 1 || o.events < 1 || o.eventDays < 1 || o.queries < 6) {
    std::cerr << "storage_bench: sizes must be positive (queries >= 6)\n";
    return 2;
  }
  fs::remove_all(o.dir);
  fs::create_directories(o.dir);
  fs::create_directories(o.data);
  std::cout << "storage_bench: "
            << (o.reuse ? std::string("reusing ") + o.data
                        : std::to_string(o.events) + " events, " + std::to_string(o.cameras) +
                              " cameras x " + std::to_string(o.days) + " days of 10 s segments")
            << "\n";
  if (o.backend == "sqlite" || o.backend == "both") {
    const std::string file = o.data + "/sqlite.db";
    if (!o.reuse) {
      for (const char* ext : {"", "-wal", "-shm"}) fs::remove(file + ext);
    }
    benchBackend("sqlite", "sqlite:" + file, file, o);
    if (o.drop) {
      for (const char* ext : {"", "-wal", "-shm"}) fs::remove(file + ext);
      fs::remove(o.data + "/sqlite.meta");
    }
  }
  if (o.backend == "postgresql" || o.backend == "both") {
    const std::string state = o.dir + "/pg-state";
    const std::string pgData = o.data + "/pg";
    if (!o.reuse) fs::remove_all(pgData);
    const std::string fixture = "PG_FIXTURE_FSYNC=on PG_FIXTURE_DATA=" + pgData + " bash " +
                                std::string(SHARPEYES_SOURCE_DIR) + "/tests/storage/pg_fixture.sh";
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
    benchBackend("postgresql", conninfo + " dbname=postgres", "", o);
    run(fixture + " stop " + state);
    if (o.drop) {
      fs::remove_all(pgData);
      fs::remove(o.data + "/postgresql.meta");
    }
  }
  if (!o.skipClip) benchClip(o);
  return 0;
}
