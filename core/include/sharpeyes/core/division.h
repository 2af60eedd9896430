#pragma once
// DivisionCode: the 12-digit administrative division code (GB/T 2260 + township/village parts):
// province (2) city (2) county (2) township (3) village (3), e.g. 510603101201.
// Trailing zero parts mean "this whole level": 510603000000 is a county. A code whose part is zero
// but a later part is not (510600101000) is malformed. The level follows from the last non-zero
// part; an ancestor's significant digits are a prefix of its descendants'.

#include <compare>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "sharpeyes/core/result.h"

namespace sharpeyes::core {

// Ordered from the top; the numeric values are used for comparisons ("at or above county").
enum class DivisionLevel { kProvince = 1, kCity = 2, kCounty = 3, kTownship = 4, kVillage = 5 };

std::string_view toString(
    DivisionLevel level);  // "province", "city", "county", "township", "village"
Result<DivisionLevel> parseDivisionLevel(std::string_view text);
// How many leading digits are significant at a level: 2, 4, 6, 9, 12.
int significantDigits(DivisionLevel level);

class DivisionCode {
 public:
  DivisionCode() = default;
  static Result<DivisionCode> parse(std::string_view text);

  const std::string& str() const { return code_; }
  bool empty() const { return code_.empty(); }
  DivisionLevel level() const { return level_; }
  // The significant digits: "510603" for a county, "510603101201" for a village.
  std::string_view prefix() const;

  // True when `other` lies strictly below this division.
  bool isAncestorOf(const DivisionCode& other) const;
  // True when `other` is this division or lies below it.
  bool contains(const DivisionCode& other) const;
  // The enclosing division at `level` (this code, truncated); nullopt when `level` is below ours.
  std::optional<DivisionCode> ancestorAt(DivisionLevel level) const;
  // The immediate enclosing division; nullopt for a province.
  std::optional<DivisionCode> parent() const;

  auto operator<=>(const DivisionCode& o) const { return code_ <=> o.code_; }
  bool operator==(const DivisionCode& o) const { return code_ == o.code_; }

 private:
  DivisionCode(std::string code, DivisionLevel level) : code_(std::move(code)), level_(level) {}
  std::string code_;
  DivisionLevel level_ = DivisionLevel::kProvince;
};

}  // namespace sharpeyes::core

template <>
struct std::hash<sharpeyes::core::DivisionCode> {
  size_t operator()(const sharpeyes::core::DivisionCode& d) const noexcept {
    return std::hash<std::string>{}(d.str());
  }
};
