#include "signatures/distinctiveness.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

namespace s3d {

uint8_t distinctiveness(const Vec3f& p, const PointIndex& index, const std::vector<Vec3f>& normals) {
  constexpr size_t kK = 24;
  uint32_t idx[kK];
  float d2[kK];
  const size_t n = index.knn(p, kK, idx, d2);
  if (n < 3) return 0;
  // Spread of the normals, insensitive to their sign (corpus meshes are not always oriented):
  // 1 - largest eigenvalue of the mean n n^T is 0 on a plane, about 0.5 on a sharp edge.
  Eigen::Matrix3d c = Eigen::Matrix3d::Zero();
  for (size_t i = 0; i < n; ++i) {
    const Eigen::Vector3d v(normals[idx[i]][0], normals[idx[i]][1], normals[idx[i]][2]);
    c += v * v.transpose();
  }
  c /= static_cast<double>(n);
  const double lmax = Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d>(c, Eigen::EigenvaluesOnly).eigenvalues()[2];
  const double spread = std::clamp(1.0 - lmax, 0.0, 0.5);
  return static_cast<uint8_t>(std::lround(spread * 2.0 * 255.0));
}

}  // namespace s3d
