#include "sharpeyes/storage/retention.h"

#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "fs_util.h"
#include "sharpeyes/core/util.h"
#include "sharpeyes/storage/case_store.h"
#include "sharpeyes/storage/segment_index.h"

namespace sharpeyes::storage {

RetentionPlan planRetention(const RetentionPolicy& policy, core::WallTime now, uint64_t used,
                            uint64_t capacity, const std::vector<RetentionCandidate>& oldestFirst,
                            const std::vector<HoldRange>& holds, bool continuing) {
  RetentionPlan plan;
  auto held = [&](const RetentionCandidate& c) {
    for (const HoldRange& h : holds) {
      if (h.camera == c.camera && h.range.begin < c.range.end && h.range.end > c.range.begin) {
        return true;
      }
    }
    return false;
  };
  std::set<int64_t> chosen;
  // Age first: everything past its camera's limit goes, whatever the disk says.
  for (const RetentionCandidate& c : oldestFirst) {
    auto it = policy.maxAge.find(c.camera);
    const core::Duration maxAge = it != policy.maxAge.end() ? it->second : policy.defaultMaxAge;
    if (maxAge.count() <= 0 || c.range.end > now - maxAge || held(c)) continue;
    plan.deletions.push_back({c.id, "age"});
    plan.bytesFreed += c.bytes;
    chosen.insert(c.id);
  }
  // Then the quota, oldest first, from above the high watermark down to the low one.
  if (capacity > 0) {
    const auto high = static_cast<uint64_t>(policy.highWatermark * static_cast<double>(capacity));
    const auto low = static_cast<uint64_t>(policy.lowWatermark * static_cast<double>(capacity));
    plan.overHighWatermark = used > high;
    auto remaining = [&] { return used > plan.bytesFreed ? used - plan.bytesFreed : 0; };
    if (remaining() > (continuing ? low : high)) {
      for (const RetentionCandidate& c : oldestFirst) {
        if (remaining() <= low) break;
        if (chosen.count(c.id) != 0 || held(c)) continue;
        plan.deletions.push_back({c.id, "quota"});
        plan.bytesFreed += c.bytes;
        chosen.insert(c.id);
      }
      plan.quotaUnreachable = remaining() > high;
    }
  }
  return plan;
}

namespace {

namespace fs = std::filesystem;

class RetentionImpl final : public Retention {
 public:
  RetentionImpl(RetentionOptions options, SegmentIndex& index, CaseStore* cases)
      : options_(std::move(options)), index_(index), cases_(cases) {}

  core::Result<RetentionReport> sweep(core::WallTime now) override {
    std::lock_guard lock(mu_);
    RetentionReport report;
    std::vector<HoldRange> holds;
    if (cases_ != nullptr) {
      auto hs = cases_->holds("");
      if (!hs) return hs.error();
      for (const Hold& h : *hs) holds.push_back({h.camera, h.range});
    }
    // Age, camera by camera: the oldest rows overall may belong to a camera kept longer.
    auto cameras = index_.cameras();
    if (!cameras) return cameras.error();
    for (const core::CameraId& camera : *cameras) {
      auto it = options_.policy.maxAge.find(camera);
      const core::Duration maxAge =
          it != options_.policy.maxAge.end() ? it->second : options_.policy.defaultMaxAge;
      if (maxAge.count() <= 0) continue;
      for (;;) {
        auto oldest = index_.oldest(camera, options_.batch);
        if (!oldest) return oldest.error();
        RetentionPlan plan =
            planRetention(options_.policy, now, 0, 0, toCandidates(*oldest), holds);
        if (plan.deletions.empty()) break;
        auto done = execute(plan, *oldest, report);
        if (!done) return done.error();
        if (plan.deletions.size() < oldest->size()) break;  // reached rows young enough to keep
      }
    }
    // Quota: oldest first across cameras, from above the high watermark to the low one.
    bool unreachable = false;
    uint64_t used = 0;
    uint64_t capacity = 0;
    for (int round = 0;; ++round) {
      auto usage = measure();
      if (!usage) return usage.error();
      used = usage->first;
      capacity = usage->second;
      auto oldest = index_.oldest(std::nullopt, options_.batch);
      if (!oldest) return oldest.error();
      RetentionPlan plan = planRetention(options_.policy, now, used, capacity,
                                         toCandidates(*oldest), holds, round > 0);
      unreachable = plan.quotaUnreachable;
      if (plan.deletions.empty()) break;
      auto done = execute(plan, *oldest, report);
      if (!done) return done.error();
      // Go on while above the low watermark and there may be more deletable rows.
      const auto low =
          static_cast<uint64_t>(options_.policy.lowWatermark * static_cast<double>(capacity));
      const uint64_t left = used > plan.bytesFreed ? used - plan.bytesFreed : 0;
      if (left <= low || static_cast<int>(oldest->size()) < options_.batch) break;
    }
    if (unreachable) {
      report.storageFull = true;
      StorageFullAlert alert{used, capacity,
                             "recordings under evidence hold (or too young to delete) fill the "
                             "storage above its high watermark"};
      spdlog::error("retention: storage full: {} of {} bytes used; {}", used, capacity,
                    alert.reason);
      if (options_.onStorageFull) options_.onStorageFull(alert);
    }
    if (report.deleted > 0) {
      spdlog::info("retention: deleted {} segments, {} bytes freed", report.deleted,
                   report.bytesFreed);
    }
    return report;
  }

 private:
  static std::vector<RetentionCandidate> toCandidates(const std::vector<core::Segment>& segs) {
    std::vector<RetentionCandidate> out;
    out.reserve(segs.size());
    for (const core::Segment& s : segs) out.push_back({s.id, s.camera, {s.start, s.end}, s.bytes});
    return out;
  }

  // (used, capacity) in bytes: index bytes against the quota, or the file system's figures.
  core::Result<std::pair<uint64_t, uint64_t>> measure() {
    if (options_.policy.quotaBytes > 0) {
      auto total = index_.totalBytes();
      if (!total) return total.error();
      return std::make_pair(*total, options_.policy.quotaBytes);
    }
    struct statvfs st {};
    if (::statvfs(options_.root.c_str(), &st) != 0) {
      return detail::errnoError(errno, "statvfs " + options_.root);
    }
    const uint64_t capacity = static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
    const uint64_t avail = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
    return std::make_pair(capacity - avail, capacity);
  }

  core::Result<void> execute(const RetentionPlan& plan, const std::vector<core::Segment>& segs,
                             RetentionReport& report) {
    std::map<int64_t, const core::Segment*> byId;
    for (const auto& s : segs) byId[s.id] = &s;
    // One audit entry per camera and reason in the batch, not one per segment: at 100 cameras
    // retention deletes ~864 000 segments a day, and entries per segment grew the database by
    // ~320 MB a day. The entry names the camera, how many segments, the recorded time they
    // span, their bytes, the first and last row id, and a SHA-256 over the files' SHA-256 in id
    // order, which ties it to exactly the files deleted (the deletion runs in the index keep the
    // chain values that step over them).
    struct Group {
      std::vector<const core::Segment*> segments;
      uint64_t bytes = 0;
    };
    std::map<std::pair<std::string, std::string>, Group> groups;  // (camera, reason)
    std::map<std::string, std::vector<int64_t>> byReason;
    for (const auto& d : plan.deletions) {
      const core::Segment& s = *byId.at(d.id);
      Group& g = groups[{s.camera.str(), d.reason}];
      g.segments.push_back(&s);
      g.bytes += s.bytes;
      byReason[d.reason].push_back(d.id);
    }
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> auditByReason;
    std::vector<std::string> actions;
    for (auto& [key, g] : groups) {
      std::sort(g.segments.begin(), g.segments.end(),
                [](const core::Segment* a, const core::Segment* b) { return a->id < b->id; });
      core::WallTime begin = g.segments.front()->start;
      core::WallTime end = g.segments.front()->end;
      std::string hashes;
      for (const core::Segment* s : g.segments) {
        begin = std::min(begin, s->start);
        end = std::max(end, s->end);
        hashes += s->sha256;
      }
      std::string line = key.second + ": " + std::to_string(g.segments.size()) +
                         (g.segments.size() == 1 ? " segment" : " segments") + " recorded " +
                         core::formatIso8601(begin) + " to " + core::formatIso8601(end) + ", " +
                         std::to_string(g.bytes) + " bytes, segment ids " +
                         std::to_string(g.segments.front()->id) + " to " +
                         std::to_string(g.segments.back()->id) +
                         ", SHA-256 of the files' SHA-256 in id order " + core::sha256Hex(hashes);
      actions.push_back("deleted " + key.first + " " + line);
      auditByReason[key.second].emplace_back(key.first, std::move(line));
    }
    // Mark every row first (one transaction per reason), so that a crash from here on leaves
    // garbage rows that reconcile finishes, never a row without a file. A marked row is as good
    // as deleted, so its audit entries are written in the same transaction: before, they were
    // written after the rows were dropped, and a crash in between lost them while the deletions
    // stood.
    for (const auto& [reason, ids] : byReason) {
      const auto& entries = auditByReason[reason];
      auto m = index_.markGarbageMany(ids, reason, [&]() -> core::Result<void> {
        if (cases_ == nullptr) return {};
        return cases_->appendAuditMany({"retention", "gateway"}, "delete", entries);
      });
      if (!m) return m;
    }
    std::set<std::string> dirs;
    for (const auto& d : plan.deletions) {
      const fs::path abs = fs::path(options_.root) / byId.at(d.id)->path;
      if (::unlink(abs.c_str()) != 0 && errno != ENOENT) {
        return detail::errnoError(errno, "unlink " + abs.string());
      }
      dirs.insert(abs.parent_path().string());
    }
    for (const auto& dir : dirs) {
      auto s = detail::fsyncDir(dir);
      // A directory that no longer exists holds no entry to make durable.
      if (!s && s.error().code != core::ErrorCode::kNotFound) return s;
    }
    std::vector<int64_t> ids;
    for (const auto& d : plan.deletions) ids.push_back(d.id);
    auto dropped = index_.dropGarbageMany(ids);
    if (!dropped) return dropped;
    for (const auto& d : plan.deletions) {
      ++report.deleted;
      report.bytesFreed += byId.at(d.id)->bytes;
    }
    for (auto& a : actions) report.actions.push_back(std::move(a));
    return {};
  }

  std::mutex mu_;
  RetentionOptions options_;
  SegmentIndex& index_;
  CaseStore* cases_;
};

}  // namespace

core::Result<std::unique_ptr<Retention>> Retention::create(RetentionOptions options,
                                                           SegmentIndex& index, CaseStore* cases) {
  const auto& p = options.policy;
  if (options.root.empty()) {
    return core::makeError(core::ErrorCode::kInvalidArgument, "retention: no recording root");
  }
  if (!(p.lowWatermark > 0 && p.lowWatermark < p.highWatermark && p.highWatermark <= 1.0)) {
    return core::makeError(core::ErrorCode::kInvalidArgument,
                           "retention: watermarks need 0 < low < high <= 1");
  }
  if (options.batch < 1) options.batch = 1;
  return std::unique_ptr<Retention>(new RetentionImpl(std::move(options), index, cases));
}

}  // namespace sharpeyes::storage
