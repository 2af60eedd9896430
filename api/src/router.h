#pragma once
// Route table: method + path pattern -> handler. Built before the server starts, then read-only
// (lookups from many threads without locking).

#include <string>
#include <string_view>
#include <vector>

#include "sharpeyes/api/http.h"
#include "sharpeyes/core/result.h"

namespace sharpeyes::api::detail {

struct PatternSegment {
  std::string text;  // literal text, or the parameter name
  bool param = false;
  bool rest = false;  // "{name*}": the remainder of the path
};

core::Result<std::vector<PatternSegment>> parsePattern(std::string_view pattern);

// Splits a decoded path "/a/b/c" into {"a","b","c"}; "/" gives {}.
std::vector<std::string> splitPath(std::string_view path);

// Returns true and fills params when `segments` match `pattern`.
bool matchPattern(const std::vector<PatternSegment>& pattern,
                  const std::vector<std::string>& segments,
                  std::map<std::string, std::string>* params);

template <typename Target>
class RouteTable {
 public:
  struct Entry {
    std::string method;
    std::string pattern;
    std::vector<PatternSegment> segments;
    int literals = 0;
    Target target;
  };
  struct Match {
    const Target* target = nullptr;  // nullptr: no route for this method
    std::map<std::string, std::string> params;
    std::string allow;  // methods matching the path when target is nullptr
  };

  core::Result<void> add(std::string_view method, std::string_view pattern, Target target) {
    auto segs = parsePattern(pattern);
    if (!segs) return segs.error();
    for (const auto& e : entries_) {
      if (e.method == method && e.pattern == pattern) {
        return core::makeError(
            core::ErrorCode::kAlreadyExists,
            "route " + std::string(method) + " " + std::string(pattern) + " is already registered");
      }
    }
    Entry e{std::string(method), std::string(pattern), std::move(segs.value()), 0,
            std::move(target)};
    for (const auto& s : e.segments) e.literals += s.param ? 0 : 1;
    entries_.push_back(std::move(e));
    return core::okResult();
  }

  Match find(std::string_view method, std::string_view path) const {
    Match m;
    auto segments = splitPath(path);
    int best = -1;
    for (const auto& e : entries_) {
      std::map<std::string, std::string> params;
      if (!matchPattern(e.segments, segments, &params)) continue;
      bool methodOk = e.method == method || (method == "HEAD" && e.method == "GET");
      if (!methodOk) {
        if (m.allow.find(e.method) == std::string::npos) {
          m.allow += m.allow.empty() ? e.method : ", " + e.method;
        }
        continue;
      }
      // More literal segments win; then a longer pattern (a rest segment matches least).
      int score = e.literals * 1000 + static_cast<int>(e.segments.size());
      if (score > best) {
        best = score;
        m.target = &e.target;
        m.params = std::move(params);
      }
    }
    return m;
  }

  bool empty() const { return entries_.empty(); }

 private:
  std::vector<Entry> entries_;
};

}  // namespace sharpeyes::api::detail
