#pragma once
// Drawing side of the clock stamp (sim.h: SimOptions::stampLiveClock, readClockStamp).

#include <cstdint>

namespace sharpeyes::sim::detail {

// Draws the stamp for `millis` into a packed 8-bit BGR frame.
void drawClockStamp(uint8_t* bgr, int width, int height, uint32_t millis);

}  // namespace sharpeyes::sim::detail
