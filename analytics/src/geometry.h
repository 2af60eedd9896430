#pragma once
// Small planar helpers on normalised coordinates.

#include <cmath>

#include "sharpeyes/analytics/config.h"
#include "sharpeyes/core/event.h"

namespace sharpeyes::analytics::detail {

inline bool pointInPolygon(const Polygon& poly, Point p) {
  bool inside = false;
  for (size_t i = 0, j = poly.size() - 1; i < poly.size(); j = i++) {
    const Point& a = poly[i];
    const Point& b = poly[j];
    if ((a.y > p.y) != (b.y > p.y)) {
      const float x = a.x + (p.y - a.y) * (b.x - a.x) / (b.y - a.y);
      if (p.x < x) inside = !inside;
    }
  }
  return inside;
}

// Signed distance of p from the line a->b, normalised by its length: negative on side A (the left
// of a->b as seen on screen), positive on side B.
inline double sideOf(Point a, Point b, Point p) {
  const double dx = b.x - a.x, dy = b.y - a.y;
  const double len = std::hypot(dx, dy);
  return (dx * (p.y - a.y) - dy * (p.x - a.x)) / (len > 0 ? len : 1);
}

// Position of p's projection along a->b: 0 at a, 1 at b.
inline double along(Point a, Point b, Point p) {
  const double dx = b.x - a.x, dy = b.y - a.y;
  const double len2 = dx * dx + dy * dy;
  return len2 > 0 ? ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2 : 0;
}

// The point a track stands on: bottom centre of its box.
inline Point anchorOf(const core::BoundingBox& b) {
  return {b.x + b.w / 2, b.y + b.h};
}

inline float iou(const core::BoundingBox& a, const core::BoundingBox& b) {
  const float x0 = std::max(a.x, b.x), y0 = std::max(a.y, b.y);
  const float x1 = std::min(a.x + a.w, b.x + b.w), y1 = std::min(a.y + a.h, b.y + b.h);
  const float inter = std::max(0.f, x1 - x0) * std::max(0.f, y1 - y0);
  const float uni = a.w * a.h + b.w * b.h - inter;
  return uni > 0 ? inter / uni : 0;
}

}  // namespace sharpeyes::analytics::detail
