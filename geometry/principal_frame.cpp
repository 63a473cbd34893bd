#include "geometry/principal_frame.h"

#include <Eigen/Dense>
#include <algorithm>
#include <limits>

namespace s3d {

PrincipalFrame principal_frame(std::span<const Vec3f> points) {
  PrincipalFrame f;
  if (points.empty()) {
    f.axes = {{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}};
    return f;
  }
  Eigen::Vector3d c = Eigen::Vector3d::Zero();
  for (const Vec3f& p : points) c += Eigen::Vector3d(p[0], p[1], p[2]);
  c /= static_cast<double>(points.size());
  Eigen::Matrix3d cov = Eigen::Matrix3d::Zero();
  for (const Vec3f& p : points) {
    const Eigen::Vector3d d = Eigen::Vector3d(p[0], p[1], p[2]) - c;
    cov += d * d.transpose();
  }
  cov /= static_cast<double>(points.size());
  Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> es(cov);
  // Eigen sorts ascending; we want descending.
  Eigen::Matrix3d axes;
  for (int k = 0; k < 3; ++k) axes.col(k) = es.eigenvectors().col(2 - k);
  if (axes.determinant() < 0) axes.col(2) = -axes.col(2);
  for (int k = 0; k < 3; ++k) {
    f.centroid[k] = c[k];
    f.variances[k] = std::max(0.0, es.eigenvalues()[2 - k]);
    for (int j = 0; j < 3; ++j) f.axes[k][j] = axes(j, k);
  }
  std::array<double, 3> lo, hi;
  lo.fill(std::numeric_limits<double>::max());
  hi.fill(std::numeric_limits<double>::lowest());
  for (const Vec3f& p : points) {
    const Eigen::Vector3d d = Eigen::Vector3d(p[0], p[1], p[2]) - c;
    for (int k = 0; k < 3; ++k) {
      const double t = d.dot(axes.col(k));
      lo[k] = std::min(lo[k], t);
      hi[k] = std::max(hi[k], t);
    }
  }
  Eigen::Vector3d mid = c;
  for (int k = 0; k < 3; ++k) {
    f.extents[k] = hi[k] - lo[k];
    mid += 0.5 * (lo[k] + hi[k]) * axes.col(k);
  }
  for (int k = 0; k < 3; ++k) f.center[k] = mid[k];
  return f;
}

}  // namespace s3d
