#pragma once
// Local shape features for partial matching: FPFH (Rusu et al., "Fast Point Feature Histograms",
// ICRA 2009) on an evenly thinned point cloud with normals, and RANSAC registration from feature
// correspondences. They align a piece of a part to the whole part (split files) or a part to a file
// that holds it among other material, where global frames (PCA) are meaningless.
//
// Hand-written on purpose: PCL is the packaged library with FPFH, but it is a large dependency
// (Boost, VTK, FLANN; minutes of template compile per file on a 2-core machine) for about 150 lines.
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "geometry/mesh.h"
#include "geometry/point_index.h"
#include "geometry/registration.h"

namespace s3d {

constexpr int kFpfhBins = 11;  // per angle; a feature has 3 * kFpfhBins values, each block sums to 100
using Fpfh = std::array<float, 3 * kFpfhBins>;

// A thinned cloud with features: one point per voxel of side `voxel` (the first in input order, so
// the result is deterministic), FPFH over neighbours within `radius` in the thinned cloud.
struct FeatureCloud {
  std::vector<Vec3f> points, normals;
  std::vector<Fpfh> features;
  PointIndex index;  // over points
  float voxel = 1, radius = 3;
  // Occupancy of the cloud's voxels, dilated by one voxel, with the normal directions seen there (6
  // bits: +x -x +y -y +z -z): a constant-time "is this on the surface, facing this way" test for
  // ranking RANSAC hypotheses (empty when the box would need too many cells: then the k-d tree).
  std::array<float, 3> grid_lo{};
  std::array<int, 3> grid_dims{};
  float grid_cell = 1;
  std::vector<uint8_t> occupied;
  bool near_surface(const Vec3f& p, const Vec3f& normal) const;
};

// Builds a feature cloud; at most `max_points` are kept (voxel grown until they fit).
FeatureCloud make_feature_cloud(std::span<const Vec3f> points, std::span<const Vec3f> normals, float voxel, float radius,
                                size_t max_points = 4000);

// The listed points of a cloud with their features as computed on the whole cloud (out-of-range
// indices are skipped): a target restricted to one region of a part, such as the region that the
// pieces placed so far have not covered.
FeatureCloud feature_subcloud(const FeatureCloud& cloud, std::span<const uint32_t> keep);

// The feature of the mirror image of the same neighbourhood: reflection negates FPFH's alpha angle
// and keeps phi and theta, so the alpha histogram is reversed.
Fpfh mirror_feature(const Fpfh& f);

struct FeatureMatchOptions {
  size_t keypoints = 300;   // source points whose features are matched (evenly strided)
  int iterations = 2500;    // RANSAC triples
  float inlier_dist = 1;    // mm: a correspondence agrees with a transform within this distance
  bool mirrored = false;    // fit reflections instead of proper rotations
  uint64_t seed = 1;
};

struct FeatureMatch {
  Similarity xf;                 // source -> target, rigid (scale 1)
  size_t inliers = 0;            // agreeing correspondences
  size_t correspondences = 0;
  double surface = 0;            // share of spread source points landing on the target surface
};

// RANSAC over feature correspondences (each source keypoint to its two nearest target features),
// rigid transforms from triples whose pairwise distances agree. Returns up to `hypotheses` distinct
// transforms, best surface agreement first (each refitted on its agreeing correspondences); the
// caller verifies them further (parts with repeated features have several plausible placements).
std::vector<FeatureMatch> feature_register(const FeatureCloud& source, const FeatureCloud& target,
                                           const FeatureMatchOptions& opt, size_t hypotheses = 1);

// Point-to-plane ICP (Chen and Medioni): a rigid refinement of `init` (handedness kept) that pulls
// each source point onto the tangent plane of its nearest target point, so sliding along flat faces
// costs nothing and a piece settles precisely where point-to-point ICP stalls at the sample spacing.
// Pairs farther than `reject` or whose normals differ by more than about 60 degrees are ignored.
struct PlaneIcpResult {
  Similarity xf;
  double inlier_fraction = 0;  // accepted pairs / source points, last iteration
  double rms = 0;              // point-to-plane, accepted pairs, last iteration
};
PlaneIcpResult icp_point_to_plane(std::span<const Vec3f> source, std::span<const Vec3f> source_normals,
                                  const PointIndex& target, std::span<const Vec3f> target_normals,
                                  const Similarity& init, int iterations, double reject);

}  // namespace s3d
