#pragma once
// Mesh-building helpers of the interchange readers (OBJ, PLY, OFF, AMF).
//
// weld_exact merges vertices with bit-identical positions (after folding -0 into +0) and remaps triangle
// indices, so a triangle soup from a per-face-attribute format becomes an indexed mesh whose
// connectivity later stages can follow. Used by the Assimp-backed readers and the OFF reader.
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "geometry/mesh.h"

namespace s3d::formats {

// Welds `vertices` in place and rewrites `triangles` accordingly; unreferenced vertices are dropped.
// Triangle indices must be < vertices.size().
void weld_exact(std::vector<Vec3f>& vertices, std::vector<Tri>& triangles);

// Appends the triangles of polygon `poly` (indices into `vertices`, at least 3). Quads take the
// diagonal that keeps both halves facing the same way (right for a concave quad); larger polygons
// are fanned from their first corner, which keeps the signed area (so volumes) exact but
// over-counts the unsigned area of a concave polygon.
void triangulate_polygon(std::span<const uint32_t> poly, const std::vector<Vec3f>& vertices, std::vector<Tri>& out);

}  // namespace s3d::formats
