#pragma once
// Evasion transforms: the library the detection evaluation uses to make variants of reference
// parts (what someone trying to slip a known part past the screen might do to its file). Each
// function takes a mesh and returns a new one; the input is never modified.
//
// Determinism: every random choice comes from VariantRng, a std::mt19937_64 (whose output sequence
// the C++ standard fixes) with uniform and normal variates derived by hand (53-bit mantissa fill and
// Box-Muller), not std::uniform_real_distribution / std::normal_distribution, whose algorithms are
// implementation-defined. The same input and seed give byte-identical output on one build; across
// platforms only libm's last-ulp differences in sin/cos/log could differ.
//
// Failure: a CGAL step that fails throws std::runtime_error (so the caller can record it and move
// on); bad arguments throw std::invalid_argument. Sizes stay bounded: outputs are kept at or below
// kMaxVariantTriangles (inputs are decimated first where a transform would exceed it), remeshing
// at or below kMaxRemeshTriangles.
//
// Objects: the pure vertex maps (rigid, scale, mirror, noise) and the per-object CGAL filters
// (remesh, decimate, subdivide) keep the input's objects; split and plate make one object per
// piece / per model object; the booleans return one object (or, on fallback, the input's objects
// with the extra geometry added inside one of them).
#include <array>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "geometry/mesh.h"

namespace s3d::variants {

inline constexpr size_t kMaxVariantTriangles = 400'000;
inline constexpr size_t kMaxRemeshTriangles = 200'000;
inline constexpr double kDefaultNoiseFraction = 0.002;
inline constexpr double kPlateSizeMm = 256.0;

// Seeded generator with hand-written distributions (see above).
class VariantRng {
 public:
  explicit VariantRng(uint64_t seed) : engine_(seed) {}
  uint64_t next() { return engine_(); }
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  uint32_t below(uint32_t n);  // uniform integer in [0, n), n > 0 (rejection, no modulo bias)
  double normal();             // standard normal, Box-Muller (both variates used in turn)

 private:
  std::mt19937_64 engine_;
  double spare_ = 0;
  bool has_spare_ = false;
};

// Derives an independent seed for one purpose (splitmix64 of seed ^ tag), so different transforms
// given the same seed do not draw correlated numbers.
uint64_t derive_seed(uint64_t seed, uint64_t tag);

// --- Vertex maps (no CGAL) ---------------------------------------------------------------------

// Uniform random rotation (Shoemake's quaternion) about the AABB centre, then a translation drawn
// uniformly from the ball of radius max_translation_mm.
Mesh random_rigid(const Mesh& mesh, uint64_t seed, double max_translation_mm = 100.0);
// The 4x4 row-major matrix random_rigid applies (for tests and for recording the ground truth).
std::array<double, 16> random_rigid_matrix(const Mesh& mesh, uint64_t seed, double max_translation_mm = 100.0);

// Scales about the origin by s > 0.
Mesh scale_uniform(const Mesh& mesh, double s);
// Scales by a factor drawn uniformly from [lo, hi] (default [0.9, 1.1]).
Mesh random_scale(const Mesh& mesh, uint64_t seed, double lo = 0.9, double hi = 1.1);
// The factor random_scale draws for this seed.
double random_scale_factor(uint64_t seed, double lo = 0.9, double hi = 1.1);

// Reflects coordinate `axis` (0, 1, 2) about the plane through the AABB centre and reverses the
// triangles so an outward mesh stays outward.
Mesh mirror(const Mesh& mesh, int axis);

// Moves every vertex by an independent N(0, sigma^2) in each coordinate, sigma =
// sigma_fraction_of_bbox_diag * AABB diagonal (kDefaultNoiseFraction is the usual value). Shared
// vertices move together, so a closed mesh stays closed.
Mesh gaussian_noise(const Mesh& mesh, double sigma_fraction_of_bbox_diag, uint64_t seed);

// Mean length of the triangle edges (each triangle's three edges), in mm.
double mean_edge_length(const Mesh& mesh);
// Edge of the equilateral triangle with the mesh's mean triangle area, sqrt(4 A / (sqrt(3) N)).
// A better remeshing scale than the mean edge for CAD exports, whose long thin triangles inflate
// the mean edge: remeshing to f times this gives about N / f^2 triangles.
double equilateral_edge_length(const Mesh& mesh);

// --- CGAL filters (variants_cgal.cpp) -----------------------------------------------------------

// CGAL isotropic remeshing towards target_edge_length (2 iterations). Sharp edges (dihedral angle
// above 60 degrees) are constrained polylines that may be split but not collapsed, and their corners
// are pinned, so creases and hole rims keep their shape. The target is raised when needed so the
// output stays <= kMaxRemeshTriangles. Where the target is too coarse for the part's curvature
// (surface area off by more than 2%), it is shrunk by 30% and the remeshing redone, up to 3 tries;
// the result closest in area is returned and its edge length stored in *used_edge_length.
// Usually 0.1-1.5 s CPU; CGAL's collapse queue took 13 s on one sliver-ridden, self-intersecting
// 25k-triangle corpus part.
Mesh remesh_isotropic(const Mesh& mesh, double target_edge_length, double* used_edge_length = nullptr);
// Remeshes with target edge = 0.7x or 1.5x (seeded choice) equilateral_edge_length(): about twice
// or half as many triangles.
Mesh remesh_random(const Mesh& mesh, uint64_t seed);

// Edge-collapse simplification (Garland-Heckbert plane quadrics) of each object to
// round(fraction * its triangles), fraction in (0, 1]. Throws std::runtime_error when the collapse
// stops more than 5% above target (seen on 1 of 354 corpus files, a small non-manifold part).
Mesh decimate(const Mesh& mesh, double fraction);

// Loop subdivision, levels in [1, 3]: 4^levels times the triangles. Inputs that would exceed
// kMaxVariantTriangles are decimated first. Loop is approximating: it smooths the shape as well as
// refining it (on coarse CAD meshes it rounds every sharp edge and shrinks the part by several
// percent), so the evaluation uses it as a shape change of its own ("smooth"), not as a remesh.
Mesh subdivide_loop(const Mesh& mesh, int levels = 1);

// Midpoint subdivision, levels in [1, 3]: each triangle becomes four through its edge midpoints,
// shared between neighbours, so the surface is unchanged and only the tessellation is (4^levels
// times the triangles). Inputs that would exceed kMaxVariantTriangles are decimated first.
Mesh subdivide_midpoint(const Mesh& mesh, int levels = 1);

// Cuts the part with n_planes (1 or 2) random planes through its interior (near the surface
// centroid; with 2 planes at least 45 degrees apart), closing the cuts when the part bounds a volume
// (otherwise the pieces are open surfaces), and moves the pieces apart by gap_mm along the plane
// normals. Each piece becomes one object. Tries up to 8 plane choices; throws std::runtime_error if
// none gives at least n_planes + 1 bodies.
Mesh split_by_planes(const Mesh& mesh, int n_planes, uint64_t seed, double gap_mm);

// How a boolean variant was combined.
enum class Combine {
  kBoolean,      // exact CGAL corefinement; output is one closed body
  kOverlapping,  // the part was not a closed, self-intersection-free solid: the extra geometry was
                 // added as overlapping triangles inside the part's object (for a hole, an
                 // inward-facing cylinder)
};

struct BooleanVariant {
  Mesh mesh;
  Combine how = Combine::kBoolean;
  std::string fallback_reason;  // why the boolean was not possible; empty for kBoolean
};

// A box stuck on one face of the part's AABB: lateral size 20-50% of that face's extents, depth
// 10-30% of the perpendicular extent, reaching 20% of its depth into the AABB around the part's
// extreme vertex on that side (so it overlaps material), united with the part.
BooleanVariant embed_in_block(const Mesh& mesh, uint64_t seed);

// Drills a round hole (diameter 5-10% of the AABB diagonal, 32 facets) straight through the part
// along a random AABB axis, at a position where the line and a ring around it cross material.
BooleanVariant add_through_hole(const Mesh& mesh, uint64_t seed);

// Unites a boss (6 mm diameter cylinder standing 3 mm proud, sunk 1 mm) on a random surface point,
// along that triangle's normal.
BooleanVariant add_boss(const Mesh& mesh, uint64_t seed);

struct PlateLayout {
  Mesh mesh;                          // every model's objects, separately, on the plate
  double plate_mm = kPlateSizeMm;     // side of the square plate [0, plate_mm]^2 actually used
  std::vector<uint32_t> first_object; // per model (part first, then others): its first object
  std::vector<uint32_t> object_count; // per model: how many objects it has
};

// Lays the part and the others on a 256 x 256 mm plate: each turned by a random angle about Z,
// resting on z = 0, at random XY positions whose footprints (AABBs) do not overlap (2 mm apart).
// If they do not fit, the plate grows by 25% at a time. Models are decimated proportionally if
// together they would exceed kMaxVariantTriangles.
PlateLayout place_on_plate(const Mesh& part, const std::vector<Mesh>& others, uint64_t seed);

}  // namespace s3d::variants
