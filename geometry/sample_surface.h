#pragma once
// Area-weighted random sampling of a mesh surface, with per-point normals and source body.
// Deterministic for a given seed (own splitmix64 generator, so results match across platforms).
#include <cstdint>
#include <span>
#include <vector>

#include "geometry/mesh.h"

namespace s3d {

struct SurfaceSample {
  std::vector<Vec3f> points;
  std::vector<Vec3f> normals;   // unit face normals (outward if the mesh is oriented)
  std::vector<uint32_t> body;   // body index of each point (0 when no body map given)
};

// Draws `count` points, stratified over the cumulative area so that every region gets its share.
// `body_of_triangle` (optional) labels each point with its triangle's body. Degenerate triangles get
// no points. Returns fewer points only when the mesh has zero area.
SurfaceSample sample_surface(const Mesh& mesh, size_t count, uint64_t seed,
                             std::span<const uint32_t> body_of_triangle = {});

// Appends `count` points drawn from the listed triangles only (stratified by area), labelled `body`.
void sample_triangles(const Mesh& mesh, std::span<const uint32_t> triangles, size_t count, uint64_t seed,
                      uint32_t body, SurfaceSample& out);

// A small deterministic generator shared by sampling code (splitmix64).
struct SplitMix64 {
  uint64_t state;
  explicit SplitMix64(uint64_t seed) : state(seed) {}
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
};

}  // namespace s3d
