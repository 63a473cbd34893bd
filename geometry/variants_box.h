#pragma once
// Internal to geometry/variants*.cpp: the bounding box of the vertices a mesh's triangles use,
// with the input validation every variant transform starts with (shared by the plain and the
// CGAL translation units).
#include <array>
#include <cmath>

#include "geometry/mesh.h"

namespace s3d::variants::detail {

struct Box3 {
  std::array<double, 3> lo{}, hi{};
  double extent(int k) const { return hi[k] - lo[k]; }
  std::array<double, 3> center() const { return {(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, (lo[2] + hi[2]) / 2}; }
  double diagonal() const { return std::hypot(extent(0), extent(1), extent(2)); }
};

// AABB of the vertices the triangles use; throws std::invalid_argument on an empty mesh, an index
// out of range or a non-finite coordinate.
Box3 used_bounds(const Mesh& m);

}  // namespace s3d::variants::detail
