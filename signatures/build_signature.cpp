#include "signatures/build_signature.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <Eigen/Dense>

#include "geometry/canonical_hash.h"
#include "geometry/point_index.h"
#include "geometry/principal_frame.h"
#include "geometry/sample_surface.h"
#include "signatures/distinctiveness.h"

namespace s3d {

namespace {
constexpr size_t kDense = 20000;
}

PrincipalFrame canonical_frame(const Mesh& mesh, const BuildOptions& opt) {
  return principal_frame(sample_surface(mesh, kDense, opt.seed).points);
}

Signature build_signature(const Mesh& mesh, const BuildOptions& opt) {
  const SurfaceSample dense = sample_surface(mesh, kDense, opt.seed);
  if (dense.points.size() < 16) throw std::invalid_argument("reference mesh has no surface area");
  const PrincipalFrame f = principal_frame(dense.points);

  Signature sig;
  sig.descriptor = compute_descriptor(dense.points, opt.seed);
  sig.extents_mm = {static_cast<float>(f.extents[0]), static_cast<float>(f.extents[1]), static_cast<float>(f.extents[2])};
  sig.diag_mm = static_cast<float>(std::sqrt(f.extents[0] * f.extents[0] + f.extents[1] * f.extents[1] + f.extents[2] * f.extents[2]));
  double area = 0, vol = 0;
  for (const Tri& t : mesh.triangles) {
    const Eigen::Vector3d a(mesh.vertices[t[0]][0], mesh.vertices[t[0]][1], mesh.vertices[t[0]][2]);
    const Eigen::Vector3d b(mesh.vertices[t[1]][0], mesh.vertices[t[1]][1], mesh.vertices[t[1]][2]);
    const Eigen::Vector3d c(mesh.vertices[t[2]][0], mesh.vertices[t[2]][1], mesh.vertices[t[2]][2]);
    area += 0.5 * (b - a).cross(c - a).norm();
    vol += a.dot(b.cross(c)) / 6.0;
  }
  sig.area_mm2 = static_cast<float>(area);
  sig.volume_mm3 = static_cast<float>(std::fabs(vol));
  sig.meta.exact_hash = exact_geometry_hash(mesh);
  sig.meta.pose_hash = pose_invariant_hash(mesh);

  // Canonical frame: centroid at the origin, principal axes as x, y, z.
  auto to_canon = [&](const Vec3f& p) {
    const double d[3] = {p[0] - f.centroid[0], p[1] - f.centroid[1], p[2] - f.centroid[2]};
    Vec3f r;
    for (int k = 0; k < 3; ++k) r[k] = static_cast<float>(f.axes[k][0] * d[0] + f.axes[k][1] * d[1] + f.axes[k][2] * d[2]);
    return r;
  };
  auto dir_to_canon = [&](const Vec3f& n) {
    Vec3f r;
    for (int k = 0; k < 3; ++k) r[k] = static_cast<float>(f.axes[k][0] * n[0] + f.axes[k][1] * n[1] + f.axes[k][2] * n[2]);
    return r;
  };

  const uint32_t count = std::min<uint32_t>(opt.sample_points, kMaxSamplePoints);
  const SurfaceSample sparse = sample_surface(mesh, count, opt.seed ^ 0xabcdefull);
  std::vector<Vec3f> dense_canon(dense.points.size()), dense_normals(dense.points.size());
  for (size_t i = 0; i < dense.points.size(); ++i) {
    dense_canon[i] = to_canon(dense.points[i]);
    dense_normals[i] = dir_to_canon(dense.normals[i]);
  }
  const PointIndex dense_index(dense_canon);
  sig.points.reserve(sparse.points.size());
  for (size_t i = 0; i < sparse.points.size(); ++i) {
    const Vec3f p = to_canon(sparse.points[i]);
    const Vec3f n = dir_to_canon(sparse.normals[i]);
    QuantizedPoint qp;
    for (int k = 0; k < 3; ++k) {
      qp.q[k] = static_cast<int32_t>(std::lround(p[k] / kQuantumMm));
      qp.n[k] = static_cast<int8_t>(std::lround(std::clamp(n[k], -1.0f, 1.0f) * 127.0f));
    }
    qp.weight = distinctiveness(p, dense_index, dense_normals);
    sig.points.push_back(qp);
  }
  return sig;
}

}  // namespace s3d
