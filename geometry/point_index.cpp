#include "geometry/point_index.h"

#include <nanoflann.hpp>

namespace s3d {

namespace {
struct Cloud {
  const std::vector<Vec3f>* pts;
  size_t kdtree_get_point_count() const { return pts->size(); }
  float kdtree_get_pt(size_t i, size_t d) const { return (*pts)[i][d]; }
  template <class B>
  bool kdtree_get_bbox(B&) const { return false; }
};
// A k-nearest result set whose search radius starts at a bound instead of infinity.
class BoundedKnn {
 public:
  BoundedKnn(size_t k, float bound, uint32_t* idx, float* d2) : k_(k), bound_(bound), idx_(idx), d2_(d2) {}
  size_t size() const { return count_; }
  bool full() const { return count_ == k_; }
  float worstDist() const { return count_ == k_ ? d2_[k_ - 1] : bound_; }
  bool addPoint(float dist, uint32_t index) {
    if (dist >= worstDist()) return true;
    size_t i = count_ < k_ ? count_++ : k_ - 1;
    for (; i > 0 && d2_[i - 1] > dist; --i) {
      d2_[i] = d2_[i - 1];
      idx_[i] = idx_[i - 1];
    }
    d2_[i] = dist;
    idx_[i] = index;
    return true;
  }

 private:
  size_t k_, count_ = 0;
  float bound_;
  uint32_t* idx_;
  float* d2_;
};

using Tree = nanoflann::KDTreeSingleIndexAdaptor<nanoflann::L2_Simple_Adaptor<float, Cloud, float, uint32_t>, Cloud, 3, uint32_t>;
}  // namespace

struct PointIndex::Impl {
  Cloud cloud;
  Tree tree;
  explicit Impl(const std::vector<Vec3f>* p) : cloud{p}, tree(3, cloud, nanoflann::KDTreeSingleIndexAdaptorParams(12)) {}
};

PointIndex::PointIndex() = default;
PointIndex::PointIndex(std::vector<Vec3f> points) : points_(std::move(points)) {
  if (!points_.empty()) impl_ = std::make_unique<Impl>(&points_);
}
PointIndex::~PointIndex() = default;
PointIndex::PointIndex(PointIndex&& o) noexcept : points_(std::move(o.points_)), impl_(std::move(o.impl_)) {
  if (impl_) impl_->cloud.pts = &points_;
}
PointIndex& PointIndex::operator=(PointIndex&& o) noexcept {
  points_ = std::move(o.points_);
  impl_ = std::move(o.impl_);
  if (impl_) impl_->cloud.pts = &points_;
  return *this;
}

uint32_t PointIndex::nearest(const Vec3f& q, float* dist_sq) const {
  uint32_t idx = UINT32_MAX;
  float d = 0;
  if (!impl_ || impl_->tree.knnSearch(q.data(), 1, &idx, &d) == 0) {
    if (dist_sq) *dist_sq = std::numeric_limits<float>::max();
    return UINT32_MAX;
  }
  if (dist_sq) *dist_sq = d;
  return idx;
}

size_t PointIndex::knn(const Vec3f& q, size_t k, uint32_t* idx, float* dist_sq) const {
  if (!impl_) return 0;
  return impl_->tree.knnSearch(q.data(), k, idx, dist_sq);
}

uint32_t PointIndex::nearest_within(const Vec3f& q, float max_dist_sq, float* dist_sq) const {
  uint32_t idx = UINT32_MAX;
  float d = std::numeric_limits<float>::max();
  if (impl_) {
    BoundedKnn rs(1, max_dist_sq, &idx, &d);
    impl_->tree.findNeighbors(rs, q.data(), nanoflann::SearchParams());
    if (rs.size() == 0) idx = UINT32_MAX, d = std::numeric_limits<float>::max();
  }
  if (dist_sq) *dist_sq = d;
  return idx;
}

size_t PointIndex::knn_within(const Vec3f& q, size_t k, float max_dist_sq, uint32_t* idx, float* dist_sq) const {
  if (!impl_ || k == 0) return 0;
  BoundedKnn rs(k, max_dist_sq, idx, dist_sq);
  impl_->tree.findNeighbors(rs, q.data(), nanoflann::SearchParams());
  return rs.size();
}

}  // namespace s3d
