#include "bulk_load.h"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <stdexcept>

#include "chain.h"
#include "sharpeyes/core/util.h"
#include "sharpeyes/storage/recorder.h"

namespace sharpeyes::bench {
namespace {

using Clock = std::chrono::steady_clock;
double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

constexpr int64_t kDayUs = 86'400'000'000;
constexpr int64_t kSegmentUs = 10'000'000;

// Events by hour of day (local traffic: quiet at night, peaks at school and commuting hours).
constexpr std::array<double, 24> kHourWeight = {1, 0.7, 0.5, 0.5, 0.6, 1,   2, 4, 5, 4,   3.5, 3.5,
                                                4, 3.5, 3.5, 4,   5,   5.5, 5, 4, 3, 2.5, 2,   1.5};

}  // namespace

// ---- events ----

struct EventGenerator::Impl {
  LoadSpec spec;
  std::mt19937_64 rng{42};
  std::array<double, 25> hourCdf{};
  std::discrete_distribution<int> camera;
  std::discrete_distribution<int> type{45, 20, 15, 8, 4, 3, 3, 2};
  std::discrete_distribution<int> objectClass{55, 35, 7, 3};
  std::vector<std::string> cameraName, division, rule;
  std::vector<std::vector<int>> cameraZones;
  std::vector<int64_t> track;
};

const std::vector<std::string>& EventGenerator::zones() {
  static const std::vector<std::string> z = {"gate",    "road",   "yard",   "bridge", "square",
                                             "parking", "school", "market", "river",  "crossing"};
  return z;
}

const std::vector<std::string>& EventGenerator::classes() {
  static const std::vector<std::string> c = {"person", "vehicle", "bicycle", "animal"};
  return c;
}

EventGenerator::EventGenerator(const LoadSpec& spec) : impl_(std::make_shared<Impl>()) {
  Impl& m = *impl_;
  m.spec = spec;
  double total = 0;
  for (double w : kHourWeight) total += w;
  for (int h = 0; h < 24; ++h) m.hourCdf[h + 1] = m.hourCdf[h] + kHourWeight[h] / total;
  // A few busy cameras (crossings, markets), a long tail of quiet ones: Zipf-like, s = 0.8.
  std::vector<double> w;
  for (int c = 0; c < spec.cameras; ++c)
    w.push_back(1.0 / std::pow(1.0 + (c * 37 % spec.cameras), 0.8));
  m.camera = std::discrete_distribution<int>(w.begin(), w.end());
  std::mt19937_64 setup(7);
  for (int c = 0; c < spec.cameras; ++c) {
    m.cameraName.push_back("cam-" + std::to_string(c));
    // 4 townships (101..104) of 5 villages (201..205) in county 510603.
    const int township = 101 + c % 4;
    const int village = 201 + (c / 4) % 5;
    m.division.push_back("510603" + std::to_string(township) + std::to_string(village));
    m.rule.push_back("rule-" + std::to_string(c) + "-" + std::to_string(c % 3));
    std::vector<int> zs;
    const int n = 2 + static_cast<int>(setup() % 2);
    while (static_cast<int>(zs.size()) < n) {
      const int z = static_cast<int>(setup() % zones().size());
      if (std::find(zs.begin(), zs.end(), z) == zs.end()) zs.push_back(z);
    }
    m.cameraZones.push_back(zs);
  }
  m.track.assign(spec.cameras, 0);
}

void EventGenerator::next(int64_t seq, std::vector<std::string>& out) {
  static const char* kTypeNames[] = {"motion", "intrusion", "tripwire",    "loitering",
                                     "crowd",  "tamper",    "signal_loss", "camera_event"};
  Impl& m = *impl_;
  // Time order: the seq-th of N events sits at day floor(x), warped within the day by the
  // hourly profile, with a few seconds of jitter (events of several cameras interleave).
  const double x =
      (static_cast<double>(seq) - 0.5) / static_cast<double>(m.spec.events) * m.spec.eventDays;
  const int64_t day = static_cast<int64_t>(x);
  const double f = x - static_cast<double>(day);
  int h = static_cast<int>(std::upper_bound(m.hourCdf.begin(), m.hourCdf.end(), f) -
                           m.hourCdf.begin()) -
          1;
  h = std::clamp(h, 0, 23);
  const double inHour = (f - m.hourCdf[h]) / (m.hourCdf[h + 1] - m.hourCdf[h]);
  const int64_t start = m.spec.epochUs + day * kDayUs +
                        static_cast<int64_t>((h + inHour) * 3'600'000'000.0) +
                        static_cast<int64_t>(m.rng() % 5'000'000);
  const int cam = m.camera(m.rng);
  const int type = m.type(m.rng);
  const bool objectEvent = type <= 4;
  int severity;
  switch (type) {
    case 0: severity = 1 + static_cast<int>(m.rng() % 2); break;   // motion 1-2
    case 1: severity = 3 + static_cast<int>(m.rng() % 2); break;   // intrusion 3-4
    case 5:                                                        // tamper
    case 6: severity = 4; break;                                   // signal loss
    default: severity = 2 + static_cast<int>(m.rng() % 2); break;  // 2-3
  }
  const std::string cls = objectEvent ? classes()[m.objectClass(m.rng)] : std::string();
  const auto& zs = m.cameraZones[cam];
  const std::string zone = objectEvent ? zones()[zs[m.rng() % zs.size()]] : std::string();
  const int64_t duration = 2'000'000 + static_cast<int64_t>(m.rng() % 58'000'000);
  const std::string id = core::toHex(std::array<uint8_t, 16>{
      static_cast<uint8_t>(m.rng()), static_cast<uint8_t>(m.rng()), static_cast<uint8_t>(m.rng()),
      static_cast<uint8_t>(m.rng()), static_cast<uint8_t>(m.rng()), static_cast<uint8_t>(m.rng()),
      static_cast<uint8_t>(m.rng()), static_cast<uint8_t>(m.rng()), static_cast<uint8_t>(m.rng()),
      static_cast<uint8_t>(m.rng()), static_cast<uint8_t>(m.rng()), static_cast<uint8_t>(m.rng()),
      static_cast<uint8_t>(m.rng()), static_cast<uint8_t>(m.rng()), static_cast<uint8_t>(m.rng()),
      static_cast<uint8_t>(m.rng())});
  const double bx = static_cast<double>(m.rng() % 800) / 1000.0;
  const double by = static_cast<double>(m.rng() % 800) / 1000.0;
  char confidence[16];
  std::snprintf(confidence, sizeof confidence, "0.%02d", 50 + static_cast<int>(m.rng() % 50));
  const int64_t dayNo = (start - m.spec.epochUs) / kDayUs;
  out = {std::to_string(seq),
         id,
         "end",
         m.cameraName[cam],
         m.division[cam],
         m.rule[cam],
         kTypeNames[type],
         std::to_string(severity),
         cls,
         std::to_string(objectEvent ? ++m.track[cam] : 0),
         std::to_string(bx),
         std::to_string(by),
         std::to_string(0.05 + static_cast<double>(m.rng() % 150) / 1000.0),
         std::to_string(0.05 + static_cast<double>(m.rng() % 200) / 1000.0),
         zone,
         std::to_string(start),
         std::to_string(start + duration),
         std::to_string(start - m.spec.epochUs),
         "snapshots/" + m.cameraName[cam] + "/d" + std::to_string(dayNo) + "/" + id + ".jpg",
         std::to_string(start - 10'000'000),
         std::to_string(start + duration + 10'000'000),
         std::string(R"({"confidence":")") + confidence + R"(","model":"yolov8n"})",
         std::to_string(start + duration + 300'000)};
}

bool eventColumnIsInteger(size_t c) {
  return c == 0 || c == 7 || c == 9 || c == 15 || c == 16 || c == 17 || c == 19 || c == 20 ||
         c == 22;
}
bool eventColumnIsReal(size_t c) {
  return c >= 10 && c <= 13;
}
bool segmentColumnIsInteger(size_t c) {
  return c == 0 || c == 2 || c == 3 || c == 4 || c == 6 || c == 8 || c == 9 || c == 13;
}

// ---- segments ----

struct SegmentGenerator::Impl {
  LoadSpec spec;
  std::mt19937_64 rng{4242};
  int64_t perCamera = 0;
  int64_t k = 0;  // segment slot
  int cam = 0;
  int64_t id = 0;
  std::vector<core::CameraId> ids;
  std::vector<std::string> heads;
  std::vector<int64_t> lastIds;
  std::vector<int64_t> bytes;       // per camera, for segment_chain_heads.bytes (migration 11)
  std::vector<int64_t> outageLeft;  // slots still to skip: the camera was offline
  std::vector<bool> h265;
  std::vector<int> width, height;
};

SegmentGenerator::SegmentGenerator(const LoadSpec& spec) : impl_(std::make_shared<Impl>()) {
  Impl& m = *impl_;
  m.spec = spec;
  m.perCamera = int64_t{spec.segmentDays} * 8640;
  for (int c = 0; c < spec.cameras; ++c) {
    m.ids.push_back(core::CameraId::parse("cam-" + std::to_string(c)).value());
    m.h265.push_back(c % 5 == 0);
    m.width.push_back(c % 3 == 0 ? 2560 : 1920);
    m.height.push_back(c % 3 == 0 ? 1440 : 1080);
  }
  m.heads.assign(spec.cameras, storage::detail::kGenesisChain);
  m.lastIds.assign(spec.cameras, 0);
  m.bytes.assign(spec.cameras, 0);
  m.outageLeft.assign(spec.cameras, 0);
}

bool SegmentGenerator::next(std::vector<std::string>& out) {
  Impl& m = *impl_;
  for (;;) {
    if (m.k >= m.perCamera) return false;
    const int c = m.cam;
    const int64_t k = m.k;
    if (++m.cam == m.spec.cameras) {
      m.cam = 0;
      ++m.k;
    }
    // About one outage per camera every two days, 1 to 60 minutes: the timeline has gaps.
    if (m.outageLeft[c] > 0) {
      --m.outageLeft[c];
      continue;
    }
    if (m.rng() % 17280 == 0) {
      m.outageLeft[c] = 6 + static_cast<int64_t>(m.rng() % 355);
      continue;
    }
    core::Segment s;
    s.camera = m.ids[c];
    // Receipt times drift a little from the 10 s grid, as the recorder's anchored clock does.
    const int64_t startUs =
        m.spec.epochUs + k * kSegmentUs + static_cast<int64_t>(m.rng() % 40'000);
    s.start = core::fromUnixMicros(startUs);
    s.mediaDuration = std::chrono::microseconds(kSegmentUs - 20'000 + m.rng() % 40'000);
    s.end = s.start + s.mediaDuration;
    s.path = storage::segmentRelativePath(s.camera, s.start);
    s.bytes = 4'000'000 + m.rng() % 2'000'000;  // ~4 Mbit/s
    s.sha256 = core::sha256Hex(s.path + "#" + std::to_string(s.bytes));
    const std::string chain = storage::detail::segmentChainHash(m.heads[c], s);
    const int64_t id = ++m.id;
    const int64_t endUs = core::toUnixMicros(s.end);
    out = {std::to_string(id),
           s.camera.str(),
           std::to_string(startUs),
           std::to_string(endUs),
           std::to_string(
               std::chrono::duration_cast<std::chrono::microseconds>(s.mediaDuration).count()),
           s.path,
           std::to_string(s.bytes),
           m.h265[c] ? "h265" : "h264",
           std::to_string(m.width[c]),
           std::to_string(m.height[c]),
           s.sha256,
           m.heads[c],
           chain,
           std::to_string(endUs + 150'000 + static_cast<int64_t>(m.rng() % 200'000))};
    m.heads[c] = chain;
    m.lastIds[c] = id;
    m.bytes[c] += static_cast<int64_t>(s.bytes);
    return true;
  }
}

const std::vector<std::string>& SegmentGenerator::heads() const {
  return impl_->heads;
}
const std::vector<int64_t>& SegmentGenerator::bytes() const {
  return impl_->bytes;
}
const std::vector<int64_t>& SegmentGenerator::lastIds() const {
  return impl_->lastIds;
}
int64_t SegmentGenerator::rows() const {
  return impl_->id;
}

// ---- SQLite ----

namespace {

void sqliteExec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err != nullptr ? err : sqlite3_errmsg(db);
    sqlite3_free(err);
    throw std::runtime_error("sqlite: " + msg + " in: " + sql);
  }
}

std::string placeholders(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += i == 0 ? "?" : ", ?";
  return s;
}

template <typename Next, typename IsInt, typename IsReal>
int64_t sqliteLoad(sqlite3* db, const std::string& table, const char* columns, int ncols, Next next,
                   IsInt isInt, IsReal isReal,
                   const std::function<void(const std::string&)>& progress) {
  sqlite3_stmt* stmt = nullptr;
  const std::string sql =
      "INSERT INTO " + table + " (" + columns + ") VALUES (" + placeholders(ncols) + ")";
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db));
  }
  std::vector<std::string> row;
  int64_t n = 0;
  sqliteExec(db, "BEGIN");
  while (next(row)) {
    for (int c = 0; c < ncols; ++c) {
      const std::string& v = row[c];
      if (isInt(c)) {
        sqlite3_bind_int64(stmt, c + 1, std::strtoll(v.c_str(), nullptr, 10));
      } else if (isReal(c)) {
        sqlite3_bind_double(stmt, c + 1, std::strtod(v.c_str(), nullptr));
      } else {
        sqlite3_bind_text(stmt, c + 1, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
      }
    }
    if (sqlite3_step(stmt) != SQLITE_DONE) {
      throw std::runtime_error(std::string("sqlite insert: ") + sqlite3_errmsg(db));
    }
    sqlite3_reset(stmt);
    if (++n % 1'000'000 == 0) {
      sqliteExec(db, "COMMIT");
      sqliteExec(db, "BEGIN");
      if (n % 5'000'000 == 0) progress(table + ": " + std::to_string(n) + " rows");
    }
  }
  sqliteExec(db, "COMMIT");
  sqlite3_finalize(stmt);
  return n;
}

}  // namespace

LoadReport loadSqlite(const std::string& path, const LoadSpec& spec,
                      const std::function<void(const std::string&)>& progress) {
  LoadReport rep;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    throw std::runtime_error("cannot open " + path);
  }
  // Load-only settings; the product's (WAL, synchronous=FULL) are restored below and set again
  // by storage::Database::open on every connection.
  sqliteExec(db,
             "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-1500000; "
             "PRAGMA temp_store=FILE");
  // The secondary indexes, exactly as the migrations wrote them (sqlite_master keeps the text).
  // UNIQUE column constraints (events.id, segments.path) are automatic indexes SQLite cannot
  // drop: they stay during the load.
  std::vector<std::pair<std::string, std::string>> indexes;
  {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db,
                       "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN "
                       "('events', 'segments') AND sql IS NOT NULL ORDER BY name",
                       -1, &st, nullptr);
    while (sqlite3_step(st) == SQLITE_ROW) {
      indexes.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)),
                           reinterpret_cast<const char*>(sqlite3_column_text(st, 1)));
    }
    sqlite3_finalize(st);
  }
  for (const auto& [name, _] : indexes) sqliteExec(db, "DROP INDEX " + name);

  auto t = Clock::now();
  if (spec.events > 0) {
    EventGenerator gen(spec);
    int64_t seq = 0;
    sqliteLoad(
        db, "events", kEventColumns, 23,
        [&](std::vector<std::string>& row) {
          if (seq >= spec.events) return false;
          gen.next(++seq, row);
          return true;
        },
        eventColumnIsInteger, eventColumnIsReal, progress);
  }
  rep.eventSeconds = secondsSince(t);
  t = Clock::now();
  SegmentGenerator segs(spec);
  rep.segmentRows = sqliteLoad(
      db, "segments", kSegmentColumns, 14,
      [&](std::vector<std::string>& row) { return segs.next(row); }, segmentColumnIsInteger,
      [](size_t) { return false; }, progress);
  sqliteExec(db, "BEGIN");
  for (int c = 0; c < spec.cameras; ++c) {
    if (segs.lastIds()[c] == 0) continue;
    sqliteExec(db, "INSERT INTO segment_chain_heads (camera, chain, last_id, bytes) VALUES ('cam-" +
                       std::to_string(c) + "', '" + segs.heads()[c] + "', " +
                       std::to_string(segs.lastIds()[c]) + ", " + std::to_string(segs.bytes()[c]) +
                       ")");
  }
  sqliteExec(db, "COMMIT");
  rep.segmentSeconds = secondsSince(t);
  t = Clock::now();
  for (const auto& [name, sql] : indexes) {
    progress("creating index " + name);
    sqliteExec(db, sql);
  }
  rep.indexSeconds = secondsSince(t);
  t = Clock::now();
  progress("ANALYZE");
  sqliteExec(db, "ANALYZE");
  rep.analyzeSeconds = secondsSince(t);
  sqliteExec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL");
  sqlite3_close_v2(db);
  return rep;
}

// ---- PostgreSQL ----

namespace {

struct Pg {
  PGconn* conn = nullptr;
  ~Pg() { PQfinish(conn); }
  std::vector<std::vector<std::string>> query(const std::string& sql) {
    PGresult* r = PQexec(conn, sql.c_str());
    const auto st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
      std::string msg = PQresultErrorMessage(r);
      PQclear(r);
      throw std::runtime_error("postgresql: " + msg + " in: " + sql);
    }
    std::vector<std::vector<std::string>> rows;
    for (int i = 0; i < PQntuples(r); ++i) {
      std::vector<std::string> row;
      for (int c = 0; c < PQnfields(r); ++c) row.emplace_back(PQgetvalue(r, i, c));
      rows.push_back(std::move(row));
    }
    PQclear(r);
    return rows;
  }
};

template <typename Next>
int64_t copyLoad(Pg& pg, const std::string& table, const char* columns, Next next,
                 const std::function<void(const std::string&)>& progress) {
  // TRUNCATE + COPY FREEZE in one transaction: the rows are written frozen and all-visible, as
  // a long-running, vacuumed table's rows are (no hint-bit writes on the first reads).
  pg.query("BEGIN");
  pg.query("TRUNCATE " + table);
  PGresult* r =
      PQexec(pg.conn, ("COPY " + table + " (" + columns + ") FROM STDIN (FREEZE)").c_str());
  if (PQresultStatus(r) != PGRES_COPY_IN) {
    std::string msg = PQresultErrorMessage(r);
    PQclear(r);
    throw std::runtime_error("postgresql COPY: " + msg);
  }
  PQclear(r);
  std::string buf;
  std::vector<std::string> row;
  int64_t n = 0;
  while (next(row)) {
    for (size_t c = 0; c < row.size(); ++c) {
      if (c > 0) buf.push_back('\t');
      buf += row[c];  // no field holds a tab, newline or backslash
    }
    buf.push_back('\n');
    if (buf.size() > (1 << 20)) {
      if (PQputCopyData(pg.conn, buf.data(), static_cast<int>(buf.size())) != 1) {
        throw std::runtime_error(std::string("PQputCopyData: ") + PQerrorMessage(pg.conn));
      }
      buf.clear();
    }
    if (++n % 5'000'000 == 0) progress(table + ": " + std::to_string(n) + " rows");
  }
  if (!buf.empty() && PQputCopyData(pg.conn, buf.data(), static_cast<int>(buf.size())) != 1) {
    throw std::runtime_error(std::string("PQputCopyData: ") + PQerrorMessage(pg.conn));
  }
  if (PQputCopyEnd(pg.conn, nullptr) != 1) throw std::runtime_error("PQputCopyEnd failed");
  while ((r = PQgetResult(pg.conn)) != nullptr) {
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    std::string msg = PQresultErrorMessage(r);
    PQclear(r);
    if (!ok) throw std::runtime_error("postgresql COPY: " + msg);
  }
  pg.query("COMMIT");
  return n;
}

}  // namespace

LoadReport loadPostgres(const std::string& conninfo, const LoadSpec& spec,
                        const std::function<void(const std::string&)>& progress) {
  LoadReport rep;
  Pg pg;
  pg.conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(pg.conn) != CONNECTION_OK) {
    throw std::runtime_error(std::string("postgresql: ") + PQerrorMessage(pg.conn));
  }
  // Session settings of the loader only (index builds sort in memory; commits need not wait
  // for the WAL flush: a crashed load is simply rerun).
  pg.query("SET maintenance_work_mem = '1GB'; SET synchronous_commit = off");
  // Secondary indexes and UNIQUE constraints as the migrations created them; the primary keys
  // stay (rows arrive in key order).
  const auto uniques = pg.query(
      "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
      "WHERE contype = 'u' AND conrelid IN ('events'::regclass, 'segments'::regclass) "
      "ORDER BY conname");
  const auto indexes = pg.query(
      "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename IN "
      "('events', 'segments') AND indexname NOT IN (SELECT conname FROM pg_constraint) "
      "ORDER BY indexname");
  for (const auto& u : uniques) pg.query("ALTER TABLE " + u[0] + " DROP CONSTRAINT " + u[1]);
  for (const auto& i : indexes) pg.query("DROP INDEX " + i[0]);

  auto t = Clock::now();
  if (spec.events > 0) {
    EventGenerator gen(spec);
    int64_t seq = 0;
    copyLoad(
        pg, "events", kEventColumns,
        [&](std::vector<std::string>& row) {
          if (seq >= spec.events) return false;
          gen.next(++seq, row);
          return true;
        },
        progress);
  }
  rep.eventSeconds = secondsSince(t);
  t = Clock::now();
  SegmentGenerator segs(spec);
  rep.segmentRows = copyLoad(
      pg, "segments", kSegmentColumns,
      [&](std::vector<std::string>& row) { return segs.next(row); }, progress);
  for (int c = 0; c < spec.cameras; ++c) {
    if (segs.lastIds()[c] == 0) continue;
    pg.query("INSERT INTO segment_chain_heads (camera, chain, last_id, bytes) VALUES ('cam-" +
             std::to_string(c) + "', '" + segs.heads()[c] + "', " +
             std::to_string(segs.lastIds()[c]) + ", " + std::to_string(segs.bytes()[c]) + ")");
  }
  // Explicit ids were given: move the identity sequences past them.
  pg.query(
      "SELECT setval(pg_get_serial_sequence('events', 'seq'), GREATEST(1, (SELECT "
      "COALESCE(MAX(seq), 0) FROM events)))");
  pg.query(
      "SELECT setval(pg_get_serial_sequence('segments', 'id'), GREATEST(1, (SELECT "
      "COALESCE(MAX(id), 0) FROM segments)))");
  rep.segmentSeconds = secondsSince(t);
  t = Clock::now();
  for (const auto& i : indexes) {
    progress("creating index " + i[0]);
    pg.query(i[1]);
  }
  for (const auto& u : uniques) {
    progress("adding constraint " + u[1]);
    pg.query("ALTER TABLE " + u[0] + " ADD CONSTRAINT " + u[1] + " " + u[2]);
  }
  rep.indexSeconds = secondsSince(t);
  t = Clock::now();
  progress("ANALYZE");
  pg.query("ANALYZE");
  rep.analyzeSeconds = secondsSince(t);
  return rep;
}

}  // namespace sharpeyes::bench
