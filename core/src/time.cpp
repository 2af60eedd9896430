#include "sharpeyes/core/time.h"

#include <charconv>
#include <cstdio>
#include <ctime>

namespace sharpeyes::core {

AnchoredClock::AnchoredClock()
    : monoAnchor_(std::chrono::steady_clock::now()),
      wallAnchor_(std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now())) {}

WallTime AnchoredClock::toWall(MonoTime t) const {
  return wallAnchor_ + std::chrono::duration_cast<Duration>(t - monoAnchor_);
}

const AnchoredClock& processClock() {
  static const AnchoredClock clock;
  return clock;
}

int64_t toUnixMicros(WallTime t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

WallTime fromUnixMicros(int64_t us) {
  return WallTime(std::chrono::microseconds(us));
}

int64_t toUnixMillis(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string formatIso8601(WallTime t) {
  const int64_t us = toUnixMicros(t);
  int64_t secs = us / 1'000'000;
  int64_t frac = us % 1'000'000;
  if (frac < 0) {
    frac += 1'000'000;
    --secs;
  }
  const std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(frac));
  return buf;
}

namespace {

bool readInt(std::string_view s, size_t pos, size_t len, int& out) {
  if (pos + len > s.size()) return false;
  const char* first = s.data() + pos;
  auto [ptr, ec] = std::from_chars(first, first + len, out);
  return ec == std::errc() && ptr == first + len;
}

}  // namespace

Result<WallTime> parseIso8601(std::string_view s) {
  auto bad = [&] {
    return makeError(ErrorCode::kInvalidArgument,
                     "time '" + std::string(s) + "' is not ISO 8601 (YYYY-MM-DDTHH:MM:SS[.fff]Z)");
  };
  int year, mon, day, hour, min, sec;
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') ||
      s[13] != ':' || s[16] != ':' || !readInt(s, 0, 4, year) || !readInt(s, 5, 2, mon) ||
      !readInt(s, 8, 2, day) || !readInt(s, 11, 2, hour) || !readInt(s, 14, 2, min) ||
      !readInt(s, 17, 2, sec)) {
    return bad();
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) return bad();
  size_t pos = 19;
  int64_t fracNs = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int64_t scale = 100'000'000;
    size_t digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 9) fracNs += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
      ++digits;
    }
    if (digits == 0) return bad();
  }
  int64_t offsetSec = 0;
  if (pos < s.size()) {
    if (s[pos] == 'Z' && pos + 1 == s.size()) {
      ++pos;
    } else if ((s[pos] == '+' || s[pos] == '-') && s.size() == pos + 6 && s[pos + 3] == ':') {
      int oh, om;
      if (!readInt(s, pos + 1, 2, oh) || !readInt(s, pos + 4, 2, om) || oh > 23 || om > 59) {
        return bad();
      }
      offsetSec = (int64_t{oh} * 3600 + int64_t{om} * 60) * (s[pos] == '+' ? 1 : -1);
      pos = s.size();
    } else {
      return bad();
    }
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  const std::time_t secs = timegm(&tm);
  return WallTime(std::chrono::seconds(secs - offsetSec) + std::chrono::nanoseconds(fracNs));
}

}  // namespace sharpeyes::core
