#include "geometry/sample_surface.h"

#include <algorithm>
#include <cmath>

namespace s3d {

namespace {
struct D3 {
  double x, y, z;
};
inline D3 to_d(const Vec3f& v) { return {v[0], v[1], v[2]}; }
inline D3 sub(D3 a, D3 b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }
inline D3 cross(D3 a, D3 b) { return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x}; }
}  // namespace

SurfaceSample sample_surface(const Mesh& mesh, size_t count, uint64_t seed,
                             std::span<const uint32_t> body_of_triangle) {
  SurfaceSample out;
  const size_t nt = mesh.triangles.size();
  std::vector<double> cum(nt);
  double total = 0;
  for (size_t i = 0; i < nt; ++i) {
    const Tri& t = mesh.triangles[i];
    const D3 a = to_d(mesh.vertices[t[0]]), b = to_d(mesh.vertices[t[1]]), c = to_d(mesh.vertices[t[2]]);
    const D3 n = cross(sub(b, a), sub(c, a));
    const double area = 0.5 * std::sqrt(n.x * n.x + n.y * n.y + n.z * n.z);
    total += std::isfinite(area) ? area : 0.0;
    cum[i] = total;
  }
  if (!(total > 0) || count == 0) return out;
  out.points.reserve(count);
  out.normals.reserve(count);
  out.body.reserve(count);
  SplitMix64 rng(seed);
  for (size_t k = 0; k < count; ++k) {
    // Stratified: one draw per equal-area stratum.
    const double target = (static_cast<double>(k) + rng.uniform()) / static_cast<double>(count) * total;
    size_t i = static_cast<size_t>(std::upper_bound(cum.begin(), cum.end(), target) - cum.begin());
    if (i >= nt) i = nt - 1;
    const Tri& t = mesh.triangles[i];
    const D3 a = to_d(mesh.vertices[t[0]]), b = to_d(mesh.vertices[t[1]]), c = to_d(mesh.vertices[t[2]]);
    double r1 = rng.uniform(), r2 = rng.uniform();
    if (r1 + r2 > 1) {
      r1 = 1 - r1;
      r2 = 1 - r2;
    }
    const D3 ab = sub(b, a), ac = sub(c, a);
    const D3 p{a.x + r1 * ab.x + r2 * ac.x, a.y + r1 * ab.y + r2 * ac.y, a.z + r1 * ab.z + r2 * ac.z};
    D3 n = cross(ab, ac);
    const double len = std::sqrt(n.x * n.x + n.y * n.y + n.z * n.z);
    if (len > 0) n = {n.x / len, n.y / len, n.z / len};
    out.points.push_back({static_cast<float>(p.x), static_cast<float>(p.y), static_cast<float>(p.z)});
    out.normals.push_back({static_cast<float>(n.x), static_cast<float>(n.y), static_cast<float>(n.z)});
    out.body.push_back(body_of_triangle.size() == nt ? body_of_triangle[i] : 0u);
  }
  return out;
}

void sample_triangles(const Mesh& mesh, std::span<const uint32_t> triangles, size_t count, uint64_t seed,
                      uint32_t body, SurfaceSample& out) {
  const size_t nt = triangles.size();
  std::vector<double> cum(nt);
  double total = 0;
  for (size_t i = 0; i < nt; ++i) {
    const Tri& t = mesh.triangles[triangles[i]];
    const D3 a = to_d(mesh.vertices[t[0]]), b = to_d(mesh.vertices[t[1]]), c = to_d(mesh.vertices[t[2]]);
    const D3 n = cross(sub(b, a), sub(c, a));
    const double area = 0.5 * std::sqrt(n.x * n.x + n.y * n.y + n.z * n.z);
    total += std::isfinite(area) ? area : 0.0;
    cum[i] = total;
  }
  if (!(total > 0) || count == 0) return;
  SplitMix64 rng(seed);
  for (size_t k = 0; k < count; ++k) {
    const double target = (static_cast<double>(k) + rng.uniform()) / static_cast<double>(count) * total;
    size_t i = static_cast<size_t>(std::upper_bound(cum.begin(), cum.end(), target) - cum.begin());
    if (i >= nt) i = nt - 1;
    const Tri& t = mesh.triangles[triangles[i]];
    const D3 a = to_d(mesh.vertices[t[0]]), b = to_d(mesh.vertices[t[1]]), c = to_d(mesh.vertices[t[2]]);
    double r1 = rng.uniform(), r2 = rng.uniform();
    if (r1 + r2 > 1) {
      r1 = 1 - r1;
      r2 = 1 - r2;
    }
    const D3 ab = sub(b, a), ac = sub(c, a);
    D3 n = cross(ab, ac);
    const double len = std::sqrt(n.x * n.x + n.y * n.y + n.z * n.z);
    if (len > 0) n = {n.x / len, n.y / len, n.z / len};
    out.points.push_back({static_cast<float>(a.x + r1 * ab.x + r2 * ac.x), static_cast<float>(a.y + r1 * ab.y + r2 * ac.y),
                          static_cast<float>(a.z + r1 * ab.z + r2 * ac.z)});
    out.normals.push_back({static_cast<float>(n.x), static_cast<float>(n.y), static_cast<float>(n.z)});
    out.body.push_back(body);
  }
}

}  // namespace s3d
