#pragma once
// Geometry facts of a mesh: counts, bodies, area, volume, bounding boxes and topology checks.
// This is what `screen3d info` reports and what the screening pipeline uses to sanity-check an input.
//
// Definitions (all computed in double from the float vertices):
//  - area_mm2: sum of triangle areas. volume_mm3: signed volume by the divergence theorem (sum of
//    signed tetrahedra against the AABB centre); positive for a closed, outward-oriented surface,
//    negative when the orientation is inverted, meaningless for open surfaces.
//  - aabb and obb_extents cover the vertices referenced by triangles (unreferenced vertices are
//    ignored); obb_extents are the sorted-descending full side lengths of oriented_bounding_box().
//  - Triangles with a repeated vertex index take no part in the topology checks below (they are
//    counted as degenerate and otherwise ignored).
//  - watertight: there is at least one triangle and every undirected edge is used by exactly two
//    triangles that traverse it in opposite directions (closed and consistently oriented).
//  - manifold: edge-manifold (no edge used by more than two triangles) AND vertex-manifold (the
//    triangles around each vertex form one fan: the graph whose nodes are the vertex's neighbours
//    and whose edges are the opposite sides of its triangles is connected; two cones touching at a
//    tip fail). Orientation is not part of this check.
//  - degenerate_triangles: triangles with a repeated index, or whose height is at most
//    kDegenerateRelative times their longest edge (|e1 x e2| <= kDegenerateRelative * Lmax^2), which
//    covers zero-length edges and collinear corners. 1e-6 is an aspect ratio of a million to one:
//    far thinner than anything printable, and above the ~6e-8 relative rounding of float coordinates.
#include <array>
#include <cstdint>

#include "geometry/mesh.h"

namespace s3d {

inline constexpr double kDegenerateRelative = 1e-6;

struct MeshFacts {
  uint64_t vertices = 0;   // as stored (mesh.vertices.size())
  uint64_t triangles = 0;
  uint32_t bodies = 0;     // connected components through shared vertices
  double area_mm2 = 0;
  double volume_mm3 = 0;
  std::array<float, 3> aabb_min{};
  std::array<float, 3> aabb_max{};
  std::array<double, 3> obb_extents{};  // descending
  bool watertight = false;
  bool manifold = true;
  uint64_t degenerate_triangles = 0;
  // Detail behind watertight / manifold (undirected edges, counted once each).
  uint64_t boundary_edges = 0;        // used by one triangle
  uint64_t non_manifold_edges = 0;    // used by more than two
  uint64_t misoriented_edges = 0;     // used by two triangles in the same direction
  uint64_t non_manifold_vertices = 0; // fan split in several pieces
};

// Computes all facts. O(n) apart from the OBB search on a bounded sample; parallel with TBB and
// deterministic (same mesh, same numbers, whatever the thread count). Throws std::invalid_argument
// when a triangle references a vertex index out of range.
MeshFacts compute_facts(const Mesh& mesh);

}  // namespace s3d
