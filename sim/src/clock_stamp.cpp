#include "clock_stamp.h"

#include <algorithm>

#include "sharpeyes/sim/sim.h"

namespace sharpeyes::sim {

namespace {

constexpr int kDataBits = 32;

int blockSize(int width) {
  return std::max(8, width / kClockStampBits);
}

// Catches a misread block (and a frame without a stamp, whose check rarely matches).
uint8_t check(uint32_t v) {
  return static_cast<uint8_t>(((v >> 24) + (v >> 16) + (v >> 8) + v) & 0xff) ^ 0x5a;
}

uint64_t word(uint32_t millis) {
  return (uint64_t{millis} << 8) | check(millis);
}

}  // namespace

namespace detail {

void drawClockStamp(uint8_t* bgr, int width, int height, uint32_t millis) {
  const int b = blockSize(width);
  if (b * kClockStampBits > width || b > height) return;
  const uint64_t w = word(millis);
  for (int i = 0; i < kClockStampBits; ++i) {
    const bool one = (w >> (kClockStampBits - 1 - i)) & 1;
    const uint8_t v = one ? 255 : 0;
    for (int y = 0; y < b; ++y) {
      uint8_t* row = bgr + (static_cast<size_t>(y) * width + static_cast<size_t>(i) * b) * 3;
      std::fill(row, row + static_cast<size_t>(b) * 3, v);
    }
  }
}

}  // namespace detail

std::optional<uint32_t> readClockStamp(const uint8_t* luma, int width, int height, int stride) {
  const int b = blockSize(width);
  if (!luma || b * kClockStampBits > width || b > height || stride < width) return std::nullopt;
  uint64_t w = 0;
  // The middle half of each block: its edges are where compression smears neighbours in.
  const int lo = b / 4;
  const int hi = b - b / 4;
  for (int i = 0; i < kClockStampBits; ++i) {
    uint64_t sum = 0;
    int n = 0;
    for (int y = lo; y < hi; ++y) {
      const uint8_t* row = luma + static_cast<size_t>(y) * stride + static_cast<size_t>(i) * b;
      for (int x = lo; x < hi; ++x, ++n) sum += row[x];
    }
    const uint64_t mean = n ? sum / static_cast<uint64_t>(n) : 0;
    // Between black (16) and white (235) in video range, or 0 and 255 in full range.
    if (mean > 40 && mean < 200) return std::nullopt;  // not a clean block: no stamp here
    w = (w << 1) | (mean >= 128 ? 1 : 0);
  }
  const auto millis = static_cast<uint32_t>(w >> 8);
  if (static_cast<uint8_t>(w & 0xff) != check(millis)) return std::nullopt;
  return millis;
}

}  // namespace sharpeyes::sim
