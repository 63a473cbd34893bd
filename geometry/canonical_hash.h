#pragma once
// Canonical 64-bit hashes of a triangle mesh, for spotting a known reference cheaply before any
// matching: one that survives re-export, one that also survives re-posing. Both are fixed functions
// (no std::hash, no seed, no platform dependence) because their values are stored in signature
// databases; changing either changes the signature format version.
//
// exact_geometry_hash: the same value for the same set of triangles whatever the file format, the
//   triangle order, the vertex indexing (welded or soup), the cyclic order of vertices within a
//   triangle, or the float formatting, provided the coordinates agree to within the quantum.
//   Coordinates are rounded to kExactHashQuantumMm (1e-4 mm); triangles whose rounded vertices
//   coincide are ignored. Each triangle is rotated cyclically to start at its smallest vertex (the
//   winding is kept: a flipped triangle hashes differently), the triangles are sorted, and the sorted
//   coordinates are hashed. Misses: a coordinate that lies on a rounding boundary, or a file format
//   that prints fewer digits than 1e-4 mm (e.g. six significant digits above 100 mm), changes it.
//
// pose_invariant_hash: the same value under rotation, translation and mirroring (and any triangle
//   order or indexing). It hashes integral invariants of the surface rather than the triangles: the
//   count of triangles with three distinct vertices, total area, |enclosed volume| about the area
//   centroid, the three principal second moments, the total edge length and two radial moments,
//   each made dimensionless by the area and quantised on a logarithmic scale (kPoseHashStepsPerOctave
//   steps per doubling, a relative step of about 0.07 %). Integrals average out the float rounding
//   of a re-posed copy, where per-triangle features would each risk crossing a quantisation boundary.
//   Still, an invariant close to a boundary can round differently after re-posing, so the pose hash
//   occasionally misses a re-posed copy (tests/canonical_hash_test.cpp measures how often); the
//   matcher catches those. Edits below the step (a vertex moved by a few microns) may keep the value.
#include <cstdint>

#include "geometry/mesh.h"

namespace s3d {

constexpr double kExactHashQuantumMm = 1e-4;
constexpr int kPoseHashStepsPerOctave = 1024;

// Throws std::out_of_range when a triangle indexes past the vertex array.
uint64_t exact_geometry_hash(const Mesh& mesh);
uint64_t pose_invariant_hash(const Mesh& mesh);

}  // namespace s3d
