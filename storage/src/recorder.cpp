#include "sharpeyes/storage/recorder.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_set>

#include "fs_util.h"
#include "sharpeyes/core/util.h"
#include "sharpeyes/storage/case_store.h"
#include "sharpeyes/storage/segment_index.h"

namespace sharpeyes::storage {
namespace fs = std::filesystem;

using core::ErrorCode;
using core::makeError;

std::string segmentRelativePath(const core::CameraId& camera, core::WallTime start,
                                std::string_view extension) {
  const int64_t us = core::toUnixMicros(start);
  const std::time_t secs =
      static_cast<std::time_t>(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
  const int64_t frac = us - static_cast<int64_t>(secs) * 1000000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char day[16];
  char stamp[40];
  std::strftime(day, sizeof(day), "%Y%m%d", &tm);
  std::strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
  char name[64];
  std::snprintf(name, sizeof(name), "%s.%06lldZ", stamp, static_cast<long long>(frac));
  return camera.str() + "/" + day + "/" + camera.str() + "_" + name + "." + std::string(extension);
}

std::optional<ParsedSegmentPath> parseSegmentRelativePath(std::string_view relative) {
  const fs::path p{std::string(relative)};
  auto it = p.begin();
  if (it == p.end()) return std::nullopt;
  auto camera = core::CameraId::parse(it->string());
  if (!camera) return std::nullopt;
  const std::string stem = p.stem().string();  // <camera>_<YYYYMMDDTHHMMSS.ffffff>Z
  // Ingest's splitmuxsink names files <camera>-<start in Unix milliseconds>.
  const std::string millisPrefix = camera->str() + "-";
  if (stem.rfind(millisPrefix, 0) == 0 && stem.size() > millisPrefix.size() &&
      stem.size() - millisPrefix.size() <= 15 &&
      stem.find_first_not_of("0123456789", millisPrefix.size()) == std::string::npos) {
    const long long ms = std::stoll(stem.substr(millisPrefix.size()));
    return ParsedSegmentPath{*camera, core::fromUnixMicros(ms * 1000)};
  }
  const std::string prefix = camera->str() + "_";
  if (stem.rfind(prefix, 0) != 0) return std::nullopt;
  const std::string ts = stem.substr(prefix.size());
  int y, mo, d, h, mi, s;
  long long frac = 0;
  char z = 0;
  if (ts.size() != 23 ||
      std::sscanf(ts.c_str(), "%4d%2d%2dT%2d%2d%2d.%6lld%c", &y, &mo, &d, &h, &mi, &s, &frac, &z) !=
          8 ||
      z != 'Z') {
    return std::nullopt;
  }
  char iso[40];
  std::snprintf(iso, sizeof(iso), "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", y, mo, d, h, mi, s,
                frac);
  auto start = core::parseIso8601(iso);
  if (!start) return std::nullopt;
  return ParsedSegmentPath{*camera, *start};
}

namespace {

bool isMediaFile(const fs::path& p) {
  static const std::set<std::string> kExt{".mp4", ".m4s", ".ts", ".mkv", ".mov"};
  return kExt.count(p.extension().string()) != 0 && p.filename().string().front() != '.';
}

class RecorderImpl final : public Recorder {
 public:
  RecorderImpl(RecorderOptions options, SegmentIndex& index)
      : options_(std::move(options)), index_(index) {
    root_ = fs::weakly_canonical(options_.root);
    const int n = std::max(1, options_.workers);
    for (int i = 0; i < n; ++i) workers_.emplace_back([this] { run(); });
  }
  ~RecorderImpl() override { stop(); }

  void submit(ClosedFile file) override {
    {
      std::lock_guard lock(mu_);
      if (!stopping_) {
        queue_.push_back(std::move(file));
        ++stats_.queued;
        cv_.notify_all();  // the first idle worker free to take this camera takes it
        return;
      }
    }
    spdlog::error("recorder: stopped; {} left unindexed for the next reconcile", file.path);
    std::lock_guard lock(mu_);
    ++stats_.failed;
  }

  void drain() override {
    std::unique_lock lock(mu_);
    idle_.wait(lock, [&] { return queue_.empty() && busy_ == 0; });
  }

  RecorderStats stats() const override {
    std::lock_guard lock(mu_);
    return stats_;
  }

  void stop() override {
    {
      std::lock_guard lock(mu_);
      if (stopping_ && workers_.empty()) return;
      stopping_ = true;
      cv_.notify_all();
    }
    for (auto& t : workers_) {
      if (t.joinable()) t.join();
    }
    workers_.clear();
  }

  core::Result<ReconcileReport> reconcile(bool verifyHashes) override {
    ReconcileReport report;
    auto act = [&](std::string line) {
      spdlog::warn("reconcile: {}", line);
      report.actions.push_back(std::move(line));
    };

    // 1. Deletions interrupted by a crash: finish them (unlink, fsync dir, drop row).
    auto garbage = index_.garbage();
    if (!garbage) return garbage.error();
    for (const GarbageEntry& g : *garbage) {
      auto u = detail::durableUnlink(absolute(g.path));
      if (!u) return u.error();
      auto d = index_.dropGarbage(g.segmentId);
      if (!d) return d.error();
      act("finished deleting " + g.path + " (" + g.reason + ")");
    }

    // 2. Rows against files.
    auto rows = index_.all();
    if (!rows) return rows.error();
    std::unordered_set<std::string> indexed;
    for (const core::Segment& s : *rows) {
      const std::string abs = absolute(s.path);
      std::error_code ec;
      const auto size = fs::file_size(abs, ec);
      if (ec) {
        auto r = index_.remove(s.id, "file_missing",
                               audited("delete", s.camera.str(), "file missing: " + describe(s)));
        if (!r) return r.error();
        ++report.droppedRows;
        act("dropped row " + std::to_string(s.id) + ": file " + s.path + " is gone");
        continue;
      }
      bool changed = size != s.bytes;
      if (!changed && verifyHashes) {
        auto h = core::sha256File(abs);
        changed = !h || *h != s.sha256;
      }
      if (changed) {
        auto q = quarantine(abs);
        if (!q) return q.error();
        auto r = index_.remove(
            s.id, "altered",
            audited("delete", s.camera.str(),
                    "file altered (its size or SHA-256 no longer matches the index), moved to " +
                        fs::relative(*q, root_).string() + ": " + describe(s)));
        if (!r) return r.error();
        ++report.hashMismatches;
        act("quarantined " + s.path +
            " and dropped its row: the file no longer matches its "
            "size/SHA-256");
        continue;
      }
      indexed.insert(s.path);
    }

    // 3. Files against rows: orphans.
    std::error_code ec;
    std::vector<fs::path> orphans;
    for (auto it = fs::recursive_directory_iterator(root_, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory() && it->path() == root_ / "quarantine") {
        it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file() || !isMediaFile(it->path())) continue;
      const std::string rel = fs::relative(it->path(), root_).string();
      if (indexed.count(rel) == 0) orphans.push_back(it->path());
    }
    if (ec) return detail::errnoError(ec.value(), "scan " + root_.string());
    std::sort(orphans.begin(), orphans.end());
    for (const fs::path& p : orphans) {
      const std::string rel = fs::relative(p, root_).string();
      auto probe = probeMedia(p.string(), false);
      core::CameraId camera;
      core::WallTime start{};
      if (probe) {
        if (auto parsed = parseSegmentRelativePath(rel)) {
          camera = parsed->camera;
          start = parsed->start;
        } else if (auto cam = core::CameraId::parse(fs::path(rel).begin()->string())) {
          camera = *cam;
          struct stat st {};
          if (::stat(p.c_str(), &st) == 0) {
            start = core::fromUnixMicros(static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000 +
                                         st.st_mtim.tv_nsec / 1000) -
                    probe->duration;
          }
        }
      }
      if (!probe || camera.empty()) {
        auto q = quarantine(p.string());
        if (!q) return q.error();
        ++report.quarantined;
        const std::string why =
            !probe ? probe.error().message : std::string("cannot tell its camera from its path");
        std::string line = "quarantined ";
        line.append(rel).append(": ").append(why);
        act(std::move(line));
        // Nothing in the index changes: the entry follows the move (a crash in between loses
        // the entry, not the file, which stays in quarantine/).
        std::string details = "unindexed file ";
        details.append(rel)
            .append(" moved to ")
            .append(fs::relative(*q, root_).string())
            .append(": ")
            .append(why);
        auto a = audited("quarantine", cameraOfPath(rel), std::move(details))();
        if (!a) return a.error();
        continue;
      }
      ClosedFile f{camera,       p.string(),   start,        probe->duration,
                   probe->codec, probe->width, probe->height};
      auto committed = makeDurableAndIndex(f, &*probe);
      if (!committed) return committed.error();
      ++report.indexedOrphans;
      act("indexed orphan " + rel + " (" +
          std::to_string(committed->mediaDuration.count() / 1000000) + " ms, " + committed->codec +
          ")");
    }
    spdlog::info("reconcile: {} orphans indexed, {} quarantined, {} rows dropped, {} mismatches",
                 report.indexedOrphans, report.quarantined, report.droppedRows,
                 report.hashMismatches);
    return report;
  }

 private:
  std::string absolute(const std::string& rel) const { return (root_ / rel).string(); }

  // An audit entry as a step of a transaction (nothing without options_.audit).
  std::function<core::Result<void>()> audited(std::string action, std::string target,
                                              std::string details) const {
    CaseStore* audit = options_.audit;
    if (audit == nullptr) return [] { return core::Result<void>{}; };
    return [audit, action = std::move(action), target = std::move(target),
            details = std::move(details)]() -> core::Result<void> {
      auto e = audit->appendAudit({"reconcile", "gateway"}, action, target, details);
      if (!e) return e.error();
      return {};
    };
  }

  // The camera a file under the root belongs to by its path, else the path itself.
  static std::string cameraOfPath(const std::string& rel) {
    if (auto parsed = parseSegmentRelativePath(rel)) return parsed->camera.str();
    if (auto cam = core::CameraId::parse(fs::path(rel).begin()->string())) return cam->str();
    return rel;
  }

  static std::string describe(const core::Segment& s) {
    return "segment id " + std::to_string(s.id) + ", " + s.path + ", recorded " +
           core::formatIso8601(s.start) + " to " + core::formatIso8601(s.end) + ", " +
           std::to_string(s.bytes) + " bytes, SHA-256 " + s.sha256;
  }

  void stage(std::string_view name, const std::string& path) {
    if (options_.onStage) options_.onStage(name, path);
  }

  core::Result<std::string> quarantine(const std::string& abs) {
    std::string flat = fs::relative(abs, root_).string();
    std::replace(flat.begin(), flat.end(), '/', '_');
    fs::path target = root_ / "quarantine" / flat;
    for (int i = 1; fs::exists(target); ++i) {
      target = root_ / "quarantine" / (flat + "." + std::to_string(i));
    }
    auto r = detail::durableRename(abs, target.string());
    if (!r) return r.error();
    return target.string();
  }

  // The durability order for one file; returns the committed segment.
  core::Result<core::Segment> makeDurableAndIndex(const ClosedFile& f, const MediaProbe* probed) {
    const fs::path abs = fs::weakly_canonical(f.path);
    const fs::path rel = abs.lexically_relative(root_);
    if (rel.empty() || *rel.begin() == "..") {
      return makeError(ErrorCode::kInvalidArgument,
                       f.path + " is outside the recording root " + root_.string());
    }
    auto r = detail::fsyncPath(abs.string());
    if (!r) return r.error();
    stage("fsync_file", abs.string());
    r = detail::fsyncDir(abs.parent_path().string());
    if (!r) return r.error();
    // A freshly created camera or day directory must itself be durable in its parent.
    for (fs::path dir = abs.parent_path(); dir != root_ && dir.has_parent_path();
         dir = dir.parent_path()) {
      std::lock_guard lock(dirsMu_);
      if (!syncedDirs_.insert(dir.string()).second) break;
      r = detail::fsyncDir(dir.parent_path().string());
      if (!r) return r.error();
    }
    stage("fsync_dir", abs.string());
    MediaProbe probe;
    if (probed != nullptr) {
      probe = *probed;
    } else {
      auto p = probeMedia(abs.string(), false);
      if (!p) return p.error();
      probe = *p;
    }
    stage("probed", abs.string());
    auto hash = core::sha256File(abs.string());
    if (!hash) return hash.error();
    std::error_code ec;
    const auto size = fs::file_size(abs, ec);
    if (ec) return detail::errnoError(ec.value(), "stat " + abs.string());
    stage("hashed", abs.string());

    core::Segment s;
    s.camera = f.camera;
    s.start = f.start;
    // Media timestamps are the truth for the duration; the caller's figure is a fallback.
    s.mediaDuration = probe.duration.count() > 0 ? probe.duration : f.mediaDuration;
    s.end = s.start + s.mediaDuration;
    s.path = rel.string();
    s.bytes = size;
    s.codec = !probe.codec.empty() ? probe.codec : f.codec;
    s.width = probe.width > 0 ? probe.width : f.width;
    s.height = probe.height > 0 ? probe.height : f.height;
    s.sha256 = *hash;
    auto id = index_.insert(s);
    if (!id) return id.error();
    s.id = *id;
    stage("committed", abs.string());
    return s;
  }

  void run() {
    for (;;) {
      ClosedFile f;
      {
        std::unique_lock lock(mu_);
        // Several workers keep several files in fsync at once (one disk flush does not wait for
        // another camera's), but a camera's files are committed one at a time, in the order
        // they were submitted: its hash chain links each row to the one before.
        auto ready = queue_.end();
        cv_.wait(lock, [&] {
          ready = std::find_if(queue_.begin(), queue_.end(), [&](const ClosedFile& q) {
            return busyCameras_.count(q.camera.str()) == 0;
          });
          return ready != queue_.end() || (stopping_ && queue_.empty());
        });
        if (ready == queue_.end()) return;  // stopping, and everything submitted was handled
        f = std::move(*ready);
        queue_.erase(ready);
        busyCameras_.insert(f.camera.str());
        ++busy_;
      }
      auto result = makeDurableAndIndex(f, nullptr);
      if (result) {
        if (options_.onCommitted) options_.onCommitted(*result);
      } else {
        handleFailure(f, result.error());
      }
      std::lock_guard lock(mu_);
      --busy_;
      busyCameras_.erase(f.camera.str());
      cv_.notify_all();  // this camera's next file may be waiting
      if (result) {
        ++stats_.committed;
      } else {
        ++stats_.failed;
      }
      if (queue_.empty() && busy_ == 0) idle_.notify_all();
    }
  }

  void handleFailure(const ClosedFile& f, const core::Error& error) {
    if (error.code == ErrorCode::kCorrupt) {
      // Broken media never gets a row; keep the bytes for inspection, out of the way.
      auto q = quarantine(fs::weakly_canonical(f.path).string());
      spdlog::error("recorder: {} is not playable ({}); {}", f.path, error.message,
                    q ? "moved to " + *q : "could not quarantine: " + q.error().message);
    } else {
      // The file stays where it is; the next reconcile indexes it if it is complete.
      spdlog::error("recorder: {} not indexed: {}", f.path, error.describe());
    }
    if (options_.onFailed) options_.onFailed(f, error);
  }

  RecorderOptions options_;
  SegmentIndex& index_;
  fs::path root_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_;
  std::deque<ClosedFile> queue_;
  std::set<std::string> busyCameras_;  // cameras a worker is committing a file of
  int busy_ = 0;
  bool stopping_ = false;
  RecorderStats stats_;
  std::vector<std::thread> workers_;
  std::mutex dirsMu_;
  std::set<std::string> syncedDirs_;
};

}  // namespace

core::Result<std::unique_ptr<Recorder>> Recorder::create(RecorderOptions options,
                                                         SegmentIndex& index) {
  if (options.root.empty()) {
    return makeError(ErrorCode::kInvalidArgument, "recorder: no recording root");
  }
  std::error_code ec;
  fs::create_directories(options.root, ec);
  if (ec) return detail::errnoError(ec.value(), "mkdir " + options.root);
  return std::unique_ptr<Recorder>(new RecorderImpl(std::move(options), index));
}

}  // namespace sharpeyes::storage
