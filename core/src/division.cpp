#include "sharpeyes/core/division.h"

#include <algorithm>
#include <array>

namespace sharpeyes::core {
namespace {

constexpr int kCodeLength = 12;
// Part boundaries: [0,2) province, [2,4) city, [4,6) county, [6,9) township, [9,12) village.
constexpr std::array<int, 6> kBounds{0, 2, 4, 6, 9, 12};

bool allZero(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
}

}  // namespace

std::string_view toString(DivisionLevel level) {
  switch (level) {
    case DivisionLevel::kProvince: return "province";
    case DivisionLevel::kCity: return "city";
    case DivisionLevel::kCounty: return "county";
    case DivisionLevel::kTownship: return "township";
    case DivisionLevel::kVillage: return "village";
  }
  return "unknown";
}

Result<DivisionLevel> parseDivisionLevel(std::string_view text) {
  for (auto level : {DivisionLevel::kProvince, DivisionLevel::kCity, DivisionLevel::kCounty,
                     DivisionLevel::kTownship, DivisionLevel::kVillage}) {
    if (text == toString(level)) return level;
  }
  return makeError(ErrorCode::kInvalidArgument,
                   "unknown division level '" + std::string(text) +
                       "' (expected province, city, county, township or village)");
}

int significantDigits(DivisionLevel level) {
  return kBounds[static_cast<int>(level)];
}

Result<DivisionCode> DivisionCode::parse(std::string_view text) {
  if (text.size() != kCodeLength ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return makeError(ErrorCode::kInvalidArgument,
                     "division code '" + std::string(text) + "' must be exactly 12 digits");
  }
  // The level is the last non-zero part; every part before it must be non-zero too.
  int last = 0;
  for (int part = 0; part < 5; ++part) {
    const auto digits = text.substr(kBounds[part], kBounds[part + 1] - kBounds[part]);
    if (!allZero(digits)) {
      if (last != part) {
        return makeError(ErrorCode::kInvalidArgument,
                         "division code '" + std::string(text) + "' has a zero " +
                             std::string(toString(static_cast<DivisionLevel>(last + 1))) +
                             " part above a non-zero " +
                             std::string(toString(static_cast<DivisionLevel>(part + 1))) + " part");
      }
      last = part + 1;
    }
  }
  if (last == 0) {
    return makeError(ErrorCode::kInvalidArgument, "division code must not be all zeros");
  }
  return DivisionCode(std::string(text), static_cast<DivisionLevel>(last));
}

std::string_view DivisionCode::prefix() const {
  return std::string_view(code_).substr(0, significantDigits(level_));
}

bool DivisionCode::contains(const DivisionCode& other) const {
  if (empty() || other.empty() || other.level_ < level_) return false;
  return other.prefix().starts_with(prefix());
}

bool DivisionCode::isAncestorOf(const DivisionCode& other) const {
  return other.level_ > level_ && contains(other);
}

std::optional<DivisionCode> DivisionCode::ancestorAt(DivisionLevel level) const {
  if (empty() || level > level_) return std::nullopt;
  std::string code = code_;
  std::fill(code.begin() + significantDigits(level), code.end(), '0');
  return DivisionCode(std::move(code), level);
}

std::optional<DivisionCode> DivisionCode::parent() const {
  if (empty() || level_ == DivisionLevel::kProvince) return std::nullopt;
  return ancestorAt(static_cast<DivisionLevel>(static_cast<int>(level_) - 1));
}

}  // namespace sharpeyes::core
