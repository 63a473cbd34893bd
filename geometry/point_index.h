#pragma once
// A static 3D point index for nearest-neighbour queries (nanoflann k-d tree behind a plain interface).
#include <cstdint>
#include <memory>
#include <vector>

#include "geometry/mesh.h"

namespace s3d {

class PointIndex {
 public:
  PointIndex();
  explicit PointIndex(std::vector<Vec3f> points);
  ~PointIndex();
  PointIndex(PointIndex&&) noexcept;
  PointIndex& operator=(PointIndex&&) noexcept;

  size_t size() const { return points_.size(); }
  const std::vector<Vec3f>& points() const { return points_; }

  // Index of the nearest point (UINT32_MAX when empty); *dist_sq receives the squared distance.
  uint32_t nearest(const Vec3f& q, float* dist_sq) const;
  // Up to k nearest; returns how many were found.
  size_t knn(const Vec3f& q, size_t k, uint32_t* idx, float* dist_sq) const;
  // Bounded searches: only points closer than sqrt(max_dist_sq) count. Much faster than unbounded
  // search for queries far from the cloud. Results sorted by distance; k <= 16.
  uint32_t nearest_within(const Vec3f& q, float max_dist_sq, float* dist_sq) const;
  size_t knn_within(const Vec3f& q, size_t k, float max_dist_sq, uint32_t* idx, float* dist_sq) const;

 private:
  struct Impl;
  std::vector<Vec3f> points_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace s3d
