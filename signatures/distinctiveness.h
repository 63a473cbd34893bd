#pragma once
// How distinctive the surface around a point is: 0 on a plane, up to 255 at sharp edges, hole rims and
// curved detail. Matching weighs covered reference surface by it, so a part is not "found" merely
// because some flat object covers its flat faces.
#include <cstdint>
#include <vector>

#include "geometry/mesh.h"
#include "geometry/point_index.h"

namespace s3d {

// `index` holds a dense sample of the same surface, `normals` its normals (same order).
uint8_t distinctiveness(const Vec3f& p, const PointIndex& index, const std::vector<Vec3f>& normals);

}  // namespace s3d
