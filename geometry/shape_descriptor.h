#pragma once
// Global shape descriptors of a surface sample that ignore rotation, translation, mirroring,
// tessellation and uniform scale (size is kept separately, as evidence):
//  - D2: histogram of distances between random point pairs, normalised by their mean distance;
//  - D1: histogram of distances from the centroid, normalised by their mean;
//  - A3: histogram of angles formed by random point triples;
//  - inertia: ratios of the principal variances (sqrt), in [0, 1].
// Used for retrieval (ranking candidates), never as proof of a match.
#include <array>
#include <cstdint>
#include <span>

#include "geometry/mesh.h"

namespace s3d {

constexpr int kD2Bins = 32;
constexpr int kD1Bins = 16;
constexpr int kA3Bins = 16;
constexpr int kDescriptorDims = kD2Bins + kD1Bins + kA3Bins + 2;

struct ShapeDescriptor {
  std::array<float, kDescriptorDims> v{};
};

// Deterministic for a given seed. Uses at most a few tens of thousands of random pairs.
ShapeDescriptor compute_descriptor(std::span<const Vec3f> points, uint64_t seed = 1);

// L1 distance between histograms (each histogram sums to 1) plus weighted inertia-ratio difference.
// 0 = identical, about 6 = maximally different.
float descriptor_distance(const ShapeDescriptor& a, const ShapeDescriptor& b);

}  // namespace s3d
