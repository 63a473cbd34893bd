#pragma once
// Principal-axes frame of a point set: centroid, axes sorted by decreasing variance, and the point
// set's extents along those axes. The axis signs are ambiguous by nature; callers that align two
// frames try the sign combinations (see registration.h).
#include <array>
#include <span>

#include "geometry/mesh.h"

namespace s3d {

struct PrincipalFrame {
  std::array<double, 3> centroid{};
  std::array<std::array<double, 3>, 3> axes{};  // axes[k] is a unit vector; right-handed
  std::array<double, 3> variances{};            // descending
  std::array<double, 3> extents{};              // max - min of projections onto each axis
  std::array<double, 3> center{};               // middle of the extents box, in world coordinates
};

PrincipalFrame principal_frame(std::span<const Vec3f> points);

}  // namespace s3d
