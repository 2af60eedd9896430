// Storage commands: events, clip, case, verify, audit. They open the storage database directly
// (SQLite file or PostgreSQL URL), so they work beside a running gateway (SQLite WAL lets
// readers and the gateway's writer proceed together) and offline.
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <variant>

#include "commands.h"
#include "sharpeyes/core/util.h"
#include "sharpeyes/storage/case_store.h"
#include "sharpeyes/storage/clip_export.h"
#include "sharpeyes/storage/database.h"
#include "sharpeyes/storage/event_store.h"
#include "sharpeyes/storage/integrity.h"
#include "sharpeyes/storage/segment_index.h"

namespace sharpeyes::app {
namespace {

using json = nlohmann::json;

struct Common {
  std::string db = "var/sharpeyes.db";
  std::string actor;
  std::string origin = "cli";
};

void addCommon(CLI::App* cmd, Common& c) {
  cmd->add_option("--db", c.db,
                  "storage database: SQLite file path or postgresql:// URL / libpq conninfo")
      ->capture_default_str();
  cmd->add_option("--actor", c.actor, "who does this (recorded in the audit log); default $USER");
}

std::string actorName(const Common& c) {
  if (!c.actor.empty()) return c.actor;
  const char* user = std::getenv("USER");
  return user != nullptr ? user : "unknown";
}

// Prints the error, returns the exit code for it.
int fail(const std::string& what, const core::Error& e) {
  std::cerr << "sharpeyes: " << what << ": " << e.describe() << "\n";
  return e.code == core::ErrorCode::kInvalidArgument ? kExitBadConfig : kExitFailure;
}

core::Result<std::shared_ptr<storage::Database>> openDb(const Common& c) {
  return storage::Database::open(c.db);
}

core::Result<core::TimeRange> parseRange(const std::string& from, const std::string& to) {
  auto b = core::parseIso8601(from);
  if (!b) return b.error();
  auto e = core::parseIso8601(to);
  if (!e) return e.error();
  if (*e <= *b)
    return core::makeError(core::ErrorCode::kInvalidArgument, "--to is not after --from");
  return core::TimeRange{*b, *e};
}

json rangeJson(const core::TimeRange& r) {
  return {{"begin", core::formatIso8601(r.begin)}, {"end", core::formatIso8601(r.end)}};
}

json eventJson(const core::Event& e) {
  json j{{"id", e.id},
         {"phase", core::toString(e.phase)},
         {"camera", e.camera.str()},
         {"division", e.division.str()},
         {"rule", e.rule},
         {"type", core::toString(e.type)},
         {"severity", e.severity},
         {"object_class", e.objectClass},
         {"zone", e.zone},
         {"start", core::formatIso8601(e.start)},
         {"attributes", e.attributes}};
  if (e.end) j["end"] = core::formatIso8601(*e.end);
  return j;
}

// ---- events ------------------------------------------------------------------------------

struct EventsArgs {
  Common common;
  std::string from, to, division, zone, objectClass, rule, cursor;
  std::vector<std::string> cameras, types;
  int minSeverity = core::kMinSeverity;
  int maxSeverity = core::kMaxSeverity;
  int limit = 50;
  bool oldestFirst = false;
  bool asJson = false;
};

int runEvents(const EventsArgs& a) {
  storage::EventQuery q;
  if (!a.from.empty() || !a.to.empty()) {
    auto r = parseRange(a.from.empty() ? "1970-01-01T00:00:00Z" : a.from,
                        a.to.empty() ? "9999-01-01T00:00:00Z" : a.to);
    if (!r) return fail("--from/--to", r.error());
    q.range = *r;
  }
  for (const auto& c : a.cameras) {
    auto id = core::CameraId::parse(c);
    if (!id) return fail("--camera", id.error());
    q.cameras.push_back(*id);
  }
  for (const auto& t : a.types) {
    auto ty = core::parseEventType(t);
    if (!ty) return fail("--type", ty.error());
    q.types.push_back(*ty);
  }
  if (!a.division.empty()) {
    auto d = core::DivisionCode::parse(a.division);
    if (!d) return fail("--division", d.error());
    q.division = *d;
  }
  if (!a.zone.empty()) q.zone = a.zone;
  if (!a.objectClass.empty()) q.objectClass = a.objectClass;
  if (!a.rule.empty()) q.rule = a.rule;
  q.minSeverity = a.minSeverity;
  q.maxSeverity = a.maxSeverity;
  q.limit = a.limit;
  q.cursor = a.cursor;
  q.newestFirst = !a.oldestFirst;
  auto db = openDb(a.common);
  if (!db) return fail("database", db.error());
  auto store = storage::EventStore::open(*db);
  if (!store) return fail("events", store.error());
  auto page = (*store)->query(q);
  if (!page) return fail("events", page.error());
  if (a.asJson) {
    json out{{"events", json::array()}, {"next_cursor", page->nextCursor}};
    for (const auto& e : page->events) out["events"].push_back(eventJson(e));
    std::cout << out.dump(2) << "\n";
  } else {
    for (const auto& e : page->events) {
      std::cout << core::formatIso8601(e.start) << "  " << e.camera.str() << "  "
                << e.division.str() << "  " << core::toString(e.type) << "  sev " << e.severity
                << "  " << (e.zone.empty() ? "-" : e.zone) << "  "
                << (e.objectClass.empty() ? "-" : e.objectClass) << "  " << e.id << "\n";
    }
    if (!page->nextCursor.empty()) std::cout << "next page: --cursor " << page->nextCursor << "\n";
  }
  return kExitOk;
}

// ---- clip ----------------------------------------------------------------------------------

// What `clip` and `recordings verify` start from: one camera and range in the index.
struct CameraRangeIndex {
  core::CameraId camera;
  core::TimeRange range;
  std::shared_ptr<storage::Database> db;
  std::unique_ptr<storage::SegmentIndex> index;
};

// Parses --camera/--from/--to and opens the index, or prints the error and returns the exit code.
std::variant<CameraRangeIndex, int> openCameraRange(const std::string& command,
                                                    const Common& common, const std::string& camera,
                                                    const std::string& from,
                                                    const std::string& to) {
  if (camera.empty() || from.empty() || to.empty()) {
    std::cerr << "sharpeyes " << command << ": --camera, --from and --to are required\n";
    return kExitBadConfig;
  }
  auto id = core::CameraId::parse(camera);
  if (!id) return fail("--camera", id.error());
  auto range = parseRange(from, to);
  if (!range) return fail("--from/--to", range.error());
  auto db = openDb(common);
  if (!db) return fail("database", db.error());
  auto index = storage::SegmentIndex::open(*db);
  if (!index) return fail("index", index.error());
  return CameraRangeIndex{*id, *range, *db, std::move(*index)};
}

struct ClipArgs {
  Common common;
  std::string root = "var/recordings";
  std::string camera, from, to, out, package, key, caseId, division, gateway, generateKey;
  bool timelineOnly = false;
};

int runClip(const ClipArgs& a) {
  if (!a.generateKey.empty()) {
    auto r = storage::generateSigningKey(a.generateKey + ".key", a.generateKey + ".pub.pem");
    if (!r) return fail("key generation", r.error());
    std::cout << "wrote " << a.generateKey << ".key (keep secret) and " << a.generateKey
              << ".pub.pem\n";
    return kExitOk;
  }
  auto opened = openCameraRange("clip", a.common, a.camera, a.from, a.to);
  if (const int* code = std::get_if<int>(&opened)) return *code;
  auto& [camera, range, db, index] = std::get<CameraRangeIndex>(opened);
  if (a.timelineOnly) {
    auto t = index->timeline(camera, range, std::chrono::milliseconds(200));
    if (!t) return fail("timeline", t.error());
    json out{{"camera", a.camera},
             {"covered", json::array()},
             {"gaps", json::array()},
             {"covered_seconds", std::chrono::duration<double>(t->coveredTotal).count()}};
    for (const auto& c : t->covered) out["covered"].push_back(rangeJson(c));
    for (const auto& g : t->gaps) out["gaps"].push_back(rangeJson(g));
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  if (a.out.empty()) {
    std::cerr << "sharpeyes clip: --out is required\n";
    return kExitBadConfig;
  }
  if (!a.package.empty() && a.key.empty()) {
    std::cerr << "sharpeyes clip: --package needs --key (the gateway's Ed25519 private key)\n";
    return kExitBadConfig;
  }
  storage::ClipRequest req{camera, range, std::filesystem::absolute(a.out).string()};
  auto clip = storage::exportClip(*index, a.root, req);
  if (!clip) return fail("clip", clip.error());
  auto cases = storage::CaseStore::open(db);
  if (!cases) return fail("audit", cases.error());
  const storage::Actor actor{actorName(a.common), a.common.origin};
  auto audited = (*cases)->appendAudit(
      actor, "export", a.camera,
      core::formatIso8601(range.begin) + "/" + core::formatIso8601(range.end) + " -> " + a.out +
          " sha256 " + clip->sha256 + (a.caseId.empty() ? "" : " case " + a.caseId));
  if (!audited) return fail("audit", audited.error());
  json out{{"clip", a.out},
           {"bytes", clip->bytes},
           {"sha256", clip->sha256},
           {"requested", rangeJson(clip->requested)},
           {"actual", rangeJson(clip->actual)},
           {"gaps", json::array()}};
  for (const auto& g : clip->gaps) out["gaps"].push_back(rangeJson(g));
  if (!a.package.empty()) {
    storage::EvidenceInfo info;
    if (!a.division.empty()) {
      auto d = core::DivisionCode::parse(a.division);
      if (!d) return fail("--division", d.error());
      info.division = *d;
    }
    info.exporter = actor.who;
    info.caseId = a.caseId;
    info.gatewayId = a.gateway;
    auto m = storage::writeEvidencePackage(*clip, req.outputPath, info, a.key, a.package);
    if (!m) return fail("evidence package", m.error());
    out["package"] = a.package;
    if (!a.caseId.empty()) {
      auto att = (*cases)->attach(a.caseId, "clip", a.package, actor);
      if (!att) return fail("case attach", att.error());
    }
  }
  std::cout << out.dump(2) << "\n";
  return kExitOk;
}

// ---- verify --------------------------------------------------------------------------------

int runVerify(const std::string& package, const std::string& key) {
  auto v = storage::verifyEvidencePackage(package, key);
  if (!v) return fail("verify", v.error());
  for (const auto& p : v->problems) std::cout << "FAIL: " << p << "\n";
  if (!v->ok) {
    std::cout << package << ": NOT VERIFIED\n";
    return kExitFailure;
  }
  std::cout << package << ": OK, signed by key " << v->keyFingerprint << "\n";
  if (!v->trustedKeyChecked) {
    std::cout << "note: no --key given; compare this fingerprint with the gateway's published "
                 "key before trusting the package\n";
  }
  return kExitOk;
}

// ---- case ----------------------------------------------------------------------------------

struct CaseArgs {
  Common common;
  std::string id, title, event, clip, camera, from, to, reason, holdId;
};

struct RecordingsArgs {
  Common common;
  std::string root = "var/recordings";
  std::string camera, from, to;
  bool files = false;
  bool asJson = false;
};

std::string seconds(core::Duration d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 100) + " s";
}

std::string describeRun(const storage::DeletionRun& d) {
  std::string out = "deleted (" + d.reason + "): " + std::to_string(d.segments) +
                    (d.segments == 1 ? " segment" : " segments");
  if (d.recorded) {
    out += " recorded " + core::formatIso8601(d.recorded->begin) + " to " +
           core::formatIso8601(d.recorded->end);
  }
  if (!d.path.empty()) out += ", " + d.path;
  out += ", segment ids " + std::to_string(d.firstId) + " to " + std::to_string(d.lastId) +
         ", last deleted " + core::formatIso8601(d.lastDeleted);
  return out;
}

json runJson(const storage::DeletionRun& d) {
  json j{{"reason", d.reason},
         {"segments", d.segments},
         {"first_id", d.firstId},
         {"last_id", d.lastId},
         {"last_deleted", core::formatIso8601(d.lastDeleted)}};
  if (d.recorded) j["recorded"] = rangeJson(*d.recorded);
  if (d.bytes) j["bytes"] = *d.bytes;
  if (!d.path.empty()) j["path"] = d.path;
  return j;
}

// `sharpeyes recordings verify`: the integrity of one camera's recordings over a range, for
// police before they rely on them. Exit 0 intact, 1 not (chain broken or a file differs).
int runRecordingsVerify(const RecordingsArgs& a) {
  auto opened = openCameraRange("recordings verify", a.common, a.camera, a.from, a.to);
  if (const int* code = std::get_if<int>(&opened)) return *code;
  auto& [camera, range, db, index] = std::get<CameraRangeIndex>(opened);
  auto r = storage::checkRecordings(*index, a.root, camera, range, a.files);
  if (!r) return fail("verify", r.error());
  const std::string verdict = r->intact() ? "INTACT" : "NOT INTACT";

  // Checking recordings is a look at the evidence: recorded like a view.
  auto cases = storage::CaseStore::open(db);
  if (!cases) return fail("audit", cases.error());
  auto audited = (*cases)->appendAudit(
      {actorName(a.common), a.common.origin}, "verify", a.camera,
      core::formatIso8601(range.begin) + " to " + core::formatIso8601(range.end) + ": " + verdict +
          (a.files ? ", " + std::to_string(r->files) + " files hashed" : ""));
  if (!audited) return fail("audit", audited.error());

  if (a.asJson) {
    json out{{"camera", a.camera},
             {"range", rangeJson(range)},
             {"intact", r->intact()},
             {"chain",
              {{"ok", r->chain.ok()},
               {"rows_checked", r->chain.rowsChecked},
               {"deleted_rows_crossed", r->chain.tombstonesCrossed},
               {"problems", r->chain.problems}}},
             {"covered_seconds", std::chrono::duration<double>(r->timeline.coveredTotal).count()},
             {"covered", json::array()},
             {"gaps", json::array()},
             {"undated_deletions", json::array()}};
    for (const auto& c : r->timeline.covered) out["covered"].push_back(rangeJson(c));
    for (const auto& g : r->gaps) {
      json j = rangeJson(g.gap);
      j["deleted_by"] = json::array();
      for (const auto& d : g.deletedBy) j["deleted_by"].push_back(runJson(d));
      out["gaps"].push_back(std::move(j));
    }
    for (const auto& d : r->undatedDeletions) out["undated_deletions"].push_back(runJson(d));
    if (r->filesChecked) {
      out["files"] = {{"checked", r->files}, {"problems", json::array()}};
      for (const auto& f : r->fileProblems) {
        out["files"]["problems"].push_back(
            {{"segment_id", f.segmentId}, {"path", f.path}, {"problem", f.problem}});
      }
    }
    std::cout << out.dump(2) << "\n";
    return r->intact() ? kExitOk : kExitFailure;
  }

  std::cout << "camera " << a.camera << ", " << core::formatIso8601(range.begin) << " to "
            << core::formatIso8601(range.end) << "\n";
  std::cout << "chain: " << (r->chain.ok() ? "OK" : "BROKEN") << " (" << r->chain.rowsChecked
            << " rows checked, " << r->chain.tombstonesCrossed << " deleted rows stepped over)\n";
  for (const auto& p : r->chain.problems) std::cout << "  FAIL: " << p << "\n";
  std::cout << "recorded: " << seconds(r->timeline.coveredTotal) << " of "
            << seconds(range.length()) << " in " << r->timeline.covered.size()
            << (r->timeline.covered.size() == 1 ? " span" : " spans") << "\n";
  for (const auto& g : r->gaps) {
    std::cout << "gap " << core::formatIso8601(g.gap.begin) << " to "
              << core::formatIso8601(g.gap.end) << " (" << seconds(g.gap.length()) << "): ";
    if (g.deletedBy.empty()) {
      std::cout << "not recorded (no deletion in it)\n";
      continue;
    }
    std::cout << "\n";
    for (const auto& d : g.deletedBy) std::cout << "  " << describeRun(d) << "\n";
  }
  for (const auto& d : r->undatedDeletions) {
    std::cout << "deleted before deletion times were kept: " << describeRun(d) << "\n";
  }
  if (r->filesChecked) {
    std::cout << "files: " << r->files << " hashed, " << r->fileProblems.size()
              << (r->fileProblems.size() == 1 ? " problem" : " problems") << "\n";
    for (const auto& f : r->fileProblems) {
      std::cout << "  FAIL: segment " << f.segmentId << " " << f.path << ": " << f.problem << "\n";
    }
  } else {
    std::cout << "files: not hashed (--files to check them against their SHA-256)\n";
  }
  std::cout << verdict << "\n";
  return r->intact() ? kExitOk : kExitFailure;
}

int withCases(const Common& c, const std::function<int(storage::CaseStore&)>& fn) {
  auto db = openDb(c);
  if (!db) return fail("database", db.error());
  auto cases = storage::CaseStore::open(*db);
  if (!cases) return fail("cases", cases.error());
  return fn(**cases);
}

}  // namespace

void addStorageCommands(CLI::App& app, int& exitCode) {
  // events
  auto ea = std::make_shared<EventsArgs>();
  auto* events = app.add_subcommand("events", "Query stored events (newest first, paginated)");
  addCommon(events, ea->common);
  events->add_option("--from", ea->from, "ISO 8601 start (inclusive)");
  events->add_option("--to", ea->to, "ISO 8601 end (exclusive)");
  events->add_option("--camera", ea->cameras, "camera id (repeatable)");
  events->add_option("--division", ea->division, "division code: this division and below");
  events->add_option("--type", ea->types, "event type (repeatable): motion, intrusion, ...");
  events->add_option("--zone", ea->zone, "zone name");
  events->add_option("--object-class", ea->objectClass, "person, vehicle, ...");
  events->add_option("--rule", ea->rule, "rule name");
  events->add_option("--min-severity", ea->minSeverity)->check(CLI::Range(1, 4));
  events->add_option("--max-severity", ea->maxSeverity)->check(CLI::Range(1, 4));
  events->add_option("--limit", ea->limit, "page size (1..1000)")->check(CLI::Range(1, 1000));
  events->add_option("--cursor", ea->cursor, "next page: the cursor printed by the previous one");
  events->add_flag("--oldest-first", ea->oldestFirst);
  events->add_flag("--json", ea->asJson);
  events->callback([ea, &exitCode] { exitCode = runEvents(*ea); });

  // clip
  auto ca = std::make_shared<ClipArgs>();
  auto* clip = app.add_subcommand(
      "clip", "Export a camera's recording for a time range as one MP4 (no re-encode)");
  addCommon(clip, ca->common);
  clip->add_option("--root", ca->root, "recording root")->capture_default_str();
  clip->add_option("--camera", ca->camera, "camera id");
  clip->add_option("--from", ca->from, "ISO 8601 start");
  clip->add_option("--to", ca->to, "ISO 8601 end");
  clip->add_option("--out", ca->out, "MP4 file to write");
  clip->add_option("--package", ca->package, "also write a signed evidence package directory");
  clip->add_option("--key", ca->key, "Ed25519 private key (PEM) that signs the package");
  clip->add_option("--case", ca->caseId, "case number (recorded, and the package attached)");
  clip->add_option("--division", ca->division, "the camera's division code for the manifest");
  clip->add_option("--gateway", ca->gateway, "gateway id for the manifest");
  clip->add_flag("--timeline", ca->timelineOnly, "print recording coverage and gaps only");
  clip->add_option("--generate-key", ca->generateKey,
                   "write a new Ed25519 key pair PREFIX.key / PREFIX.pub.pem and exit");
  clip->callback([ca, &exitCode] { exitCode = runClip(*ca); });

  // verify
  auto package = std::make_shared<std::string>();
  auto key = std::make_shared<std::string>();
  auto* verify = app.add_subcommand("verify", "Verify an evidence package offline");
  verify->add_option("package", *package, "package directory")->required();
  verify->add_option("--key", *key, "the gateway's trusted Ed25519 public key (PEM)");
  verify->callback([package, key, &exitCode] { exitCode = runVerify(*package, *key); });

  // case
  auto cs = std::make_shared<CaseArgs>();
  auto* kase = app.add_subcommand("case", "Cases: create, attach events/clips, holds");
  kase->require_subcommand(1);
  auto* create = kase->add_subcommand("create", "Create a case");
  addCommon(create, cs->common);
  create->add_option("id", cs->id, "case number")->required();
  create->add_option("--title", cs->title);
  create->callback([cs, &exitCode] {
    exitCode = withCases(cs->common, [&](storage::CaseStore& s) {
      auto c = s.createCase(cs->id, cs->title, {actorName(cs->common), cs->common.origin});
      if (!c) return fail("case create", c.error());
      std::cout << "case " << c->id << " created\n";
      return kExitOk;
    });
  });
  auto* list = kase->add_subcommand("list", "List cases");
  addCommon(list, cs->common);
  list->callback([cs, &exitCode] {
    exitCode = withCases(cs->common, [&](storage::CaseStore& s) {
      auto all = s.listCases();
      if (!all) return fail("case list", all.error());
      for (const auto& c : *all) {
        std::cout << c.id << "  " << core::formatIso8601(c.created) << "  " << c.createdBy << "  "
                  << c.title << "\n";
      }
      return kExitOk;
    });
  });
  auto* show = kase->add_subcommand("show", "Show a case: items and holds");
  addCommon(show, cs->common);
  show->add_option("id", cs->id)->required();
  show->callback([cs, &exitCode] {
    exitCode = withCases(cs->common, [&](storage::CaseStore& s) {
      auto c = s.getCase(cs->id);
      if (!c) return fail("case show", c.error());
      if (!c->has_value()) {
        std::cerr << "sharpeyes: no case " << cs->id << "\n";
        return kExitFailure;
      }
      json out{{"id", (*c)->id},
               {"title", (*c)->title},
               {"items", json::array()},
               {"holds", json::array()}};
      auto items = s.items(cs->id);
      if (!items) return fail("case show", items.error());
      auto holds = s.holds(cs->id);
      if (!holds) return fail("case show", holds.error());
      for (const auto& i : *items) out["items"].push_back({{"kind", i.kind}, {"ref", i.ref}});
      for (const auto& h : *holds) {
        out["holds"].push_back({{"id", h.id},
                                {"camera", h.camera.str()},
                                {"range", rangeJson(h.range)},
                                {"active", h.active()},
                                {"reason", h.reason},
                                {"lift_reason", h.liftReason}});
      }
      std::cout << out.dump(2) << "\n";
      return kExitOk;
    });
  });
  auto* attach = kase->add_subcommand("attach", "Attach an event or a clip to a case");
  addCommon(attach, cs->common);
  attach->add_option("id", cs->id)->required();
  auto* evOpt = attach->add_option("--event", cs->event, "event id");
  attach->add_option("--clip", cs->clip, "clip or package path")->excludes(evOpt);
  attach->callback([cs, &exitCode] {
    if (cs->event.empty() == cs->clip.empty()) {
      std::cerr << "sharpeyes case attach: give --event or --clip\n";
      exitCode = kExitBadConfig;
      return;
    }
    exitCode = withCases(cs->common, [&](storage::CaseStore& s) {
      auto r = s.attach(cs->id, cs->event.empty() ? "clip" : "event",
                        cs->event.empty() ? cs->clip : cs->event,
                        {actorName(cs->common), cs->common.origin});
      if (!r) return fail("case attach", r.error());
      return kExitOk;
    });
  });
  auto* hold = kase->add_subcommand("hold", "Place an evidence hold on a camera's time range");
  addCommon(hold, cs->common);
  hold->add_option("id", cs->id, "case number")->required();
  hold->add_option("--camera", cs->camera)->required();
  hold->add_option("--from", cs->from)->required();
  hold->add_option("--to", cs->to)->required();
  hold->add_option("--reason", cs->reason);
  hold->callback([cs, &exitCode] {
    auto camera = core::CameraId::parse(cs->camera);
    if (!camera) {
      exitCode = fail("--camera", camera.error());
      return;
    }
    auto range = parseRange(cs->from, cs->to);
    if (!range) {
      exitCode = fail("--from/--to", range.error());
      return;
    }
    exitCode = withCases(cs->common, [&](storage::CaseStore& s) {
      auto h = s.placeHold(cs->id, *camera, *range, cs->reason,
                           {actorName(cs->common), cs->common.origin});
      if (!h) return fail("case hold", h.error());
      std::cout << "hold " << h->id << " placed\n";
      return kExitOk;
    });
  });
  auto* lift = kase->add_subcommand("lift", "Lift an evidence hold (recorded)");
  addCommon(lift, cs->common);
  lift->add_option("hold", cs->holdId, "hold id")->required();
  lift->add_option("--reason", cs->reason)->required();
  lift->callback([cs, &exitCode] {
    exitCode = withCases(cs->common, [&](storage::CaseStore& s) {
      auto r = s.liftHold(cs->holdId, cs->reason, {actorName(cs->common), cs->common.origin});
      if (!r) return fail("case lift", r.error());
      std::cout << "hold " << cs->holdId << " lifted\n";
      return kExitOk;
    });
  });

  // recordings
  auto ra = std::make_shared<RecordingsArgs>();
  auto* recordings = app.add_subcommand("recordings", "A camera's recordings as evidence");
  recordings->require_subcommand(1);
  auto* rverify = recordings->add_subcommand(
      "verify",
      "Check a camera's recordings over a range: hash chain, gaps and why (deleted by which rule "
      "and when, or never recorded), and with --files each file against its SHA-256");
  addCommon(rverify, ra->common);
  rverify->add_option("--root", ra->root, "recording root")->capture_default_str();
  rverify->add_option("--camera", ra->camera, "camera id");
  rverify->add_option("--from", ra->from, "ISO 8601 start");
  rverify->add_option("--to", ra->to, "ISO 8601 end");
  rverify->add_flag("--files", ra->files, "hash every file in the range (reads them all)");
  rverify->add_flag("--json", ra->asJson);
  rverify->callback([ra, &exitCode] { exitCode = runRecordingsVerify(*ra); });

  // audit
  auto au = std::make_shared<Common>();
  auto* audit = app.add_subcommand("audit", "The append-only audit log");
  audit->require_subcommand(1);
  auto* averify = audit->add_subcommand("verify", "Check the audit log's hash chain");
  addCommon(averify, *au);
  averify->callback([au, &exitCode] {
    exitCode = withCases(*au, [&](storage::CaseStore& s) {
      auto r = s.verifyAudit();
      if (!r) return fail("audit verify", r.error());
      for (const auto& p : r->problems) std::cout << "FAIL: " << p << "\n";
      std::cout << r->entries << " entries: " << (r->ok() ? "OK" : "TAMPERED") << "\n";
      return r->ok() ? kExitOk : kExitFailure;
    });
  });
  auto* alog = audit->add_subcommand("log", "Print audit entries");
  addCommon(alog, *au);
  alog->callback([au, &exitCode] {
    exitCode = withCases(*au, [&](storage::CaseStore& s) {
      int64_t after = 0;
      for (;;) {
        auto page = s.auditLog(after, 1000);
        if (!page) return fail("audit log", page.error());
        if (page->empty()) break;
        for (const auto& e : *page) {
          std::cout << e.seq << "  " << core::formatIso8601(e.at) << "  " << e.actor << "@"
                    << e.origin << "  " << e.action << "  " << e.target << "  " << e.details
                    << "\n";
          after = e.seq;
        }
      }
      return kExitOk;
    });
  });
}

}  // namespace sharpeyes::app
