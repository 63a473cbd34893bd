#pragma once
// Merges vertices with bit-identical positions (after folding -0 into +0) and remaps triangle
// indices, so a triangle soup from a per-face-attribute format becomes an indexed mesh whose
// connectivity later stages can follow. Used by the Assimp-backed readers and the OFF reader.
#include <array>
#include <vector>

#include "geometry/mesh.h"

namespace s3d::formats {

// Welds `vertices` in place and rewrites `triangles` accordingly; unreferenced vertices are dropped.
// Triangle indices must be < vertices.size().
void weld_exact(std::vector<Vec3f>& vertices, std::vector<Tri>& triangles);

}  // namespace s3d::formats
