#pragma once
// Oriented bounding box of a point set: a tight box whose axes follow the part rather than the
// file's coordinate system, so its extents describe the part's size regardless of how it was
// placed on the build plate (a rotated copy of a part has the same extents).
//
// Approximation (documented because it matters for reproducibility):
//  - The orientation is optimised on a bounded, deterministic sample: one point from each of at
//    most kObbMaxSample equal index strata (offset inside the stratum from a fixed hash, so a
//    periodic vertex order cannot alias the sample) plus the extreme points of ALL points along 13
//    fixed directions (both ways). The sample is reduced to its convex hull
//    (CGAL::extreme_points_3); hulls above kObbMaxHull points are stride-subsampled (keeping the
//    directional extremes). CGAL::oriented_bounding_box then searches the rotation minimising the
//    box volume (an evolutionary search, run with a fixed seed: same input, same box). Its cost grows
//    linearly with the hull size (measured: 0.12 s CPU for 500 points on a sphere, 0.23 s for
//    1000), hence the cap.
//  - The box is then refitted to ALL input points in that orientation, so it always contains every
//    point; only its orientation (hence its volume) may be slightly worse than optimal.
//  - The axis-aligned box is taken instead when it is no larger. Flat inputs (thickness at most
//    1e-6 of the largest extent) get their in-plane axes from a minimum-area rectangle; collinear
//    and tiny inputs (< 4 hull points) get principal axes.
#include <array>
#include <cstddef>
#include <span>

#include "geometry/mesh.h"

namespace s3d {

struct OrientedBox {
  std::array<double, 3> center{};                // box centre, mm
  std::array<std::array<double, 3>, 3> axes{};   // unit vectors, axes[i] belongs to extents[i]; right-handed
  std::array<double, 3> extents{};               // full side lengths, mm, sorted descending
};

inline constexpr size_t kObbMaxSample = 20'000;
inline constexpr size_t kObbMaxHull = 500;

// Empty input gives a zero box at the origin with the coordinate axes. Non-finite points are ignored.
// Thread-safe; deterministic.
OrientedBox oriented_bounding_box(std::span<const Vec3f> points);

}  // namespace s3d
