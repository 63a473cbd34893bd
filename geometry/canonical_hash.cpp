#include "geometry/canonical_hash.h"

#include <tbb/parallel_sort.h>

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <vector>

namespace s3d {

namespace {

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

// The splitmix64 finaliser: a fixed bijective 64-bit mix.
uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return x;
}

// Order-dependent chaining of 64-bit words; the domain tag separates the two hashes.
class WordHasher {
 public:
  explicit WordHasher(uint64_t domain) : h_(mix64(domain)) {}
  void add(uint64_t w) { h_ = mix64(h_ ^ mix64(w + kGolden)); }
  void add_signed(int64_t w) { add(static_cast<uint64_t>(w)); }
  uint64_t value() const { return mix64(h_ + kGolden); }

 private:
  uint64_t h_;
};

using QVec = std::array<int64_t, 3>;

int64_t quantise_exact(float f) {
  constexpr double kScale = 1.0 / kExactHashQuantumMm;
  constexpr double kMax = 4.0e18;  // well inside int64; readers reject NaN/Inf, but stay defined
  if (std::isnan(f)) return std::numeric_limits<int64_t>::min();
  const double v = std::clamp(std::round(static_cast<double>(f) * kScale), -kMax, kMax);
  return static_cast<int64_t>(v);
}

void check_indices(const Mesh& mesh) {
  const size_t n = mesh.vertices.size();
  for (const Tri& t : mesh.triangles)
    if (t[0] >= n || t[1] >= n || t[2] >= n) throw std::out_of_range("triangle index past the vertex array");
}

// Dimensionless value -> integer code on a log scale; tiny values (flat or open shapes) become "zero".
int64_t log_code(double x) {
  if (!std::isfinite(x)) return std::numeric_limits<int64_t>::max();
  if (!(x > 1e-9)) return std::numeric_limits<int64_t>::min();
  return std::llround(std::log2(x) * kPoseHashStepsPerOctave);
}

}  // namespace

uint64_t exact_geometry_hash(const Mesh& mesh) {
  check_indices(mesh);
  const size_t nv = mesh.vertices.size();
  std::vector<QVec> q(nv);
  for (size_t i = 0; i < nv; ++i)
    for (int k = 0; k < 3; ++k) q[i][k] = quantise_exact(mesh.vertices[i][k]);

  // Rank the distinct quantised vertices; comparing ranks then compares coordinates, so a welded
  // mesh and a triangle soup of the same surface produce the same canonical triangles.
  std::vector<uint32_t> order(nv);
  std::iota(order.begin(), order.end(), 0u);
  tbb::parallel_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return q[a] < q[b]; });
  std::vector<uint32_t> rank(nv);
  std::vector<QVec> unique;
  unique.reserve(nv);
  for (size_t i = 0; i < nv; ++i) {
    if (unique.empty() || unique.back() != q[order[i]]) unique.push_back(q[order[i]]);
    rank[order[i]] = static_cast<uint32_t>(unique.size() - 1);
  }
  q.clear();
  q.shrink_to_fit();

  std::vector<std::array<uint32_t, 3>> tris;
  tris.reserve(mesh.triangles.size());
  for (const Tri& t : mesh.triangles) {
    std::array<uint32_t, 3> r = {rank[t[0]], rank[t[1]], rank[t[2]]};
    if (r[0] == r[1] || r[1] == r[2] || r[0] == r[2]) continue;  // collapsed at the quantum: no surface
    // Cyclic rotation only (keeps the winding): start at the smallest vertex.
    if (r[1] < r[0] && r[1] < r[2])
      r = {r[1], r[2], r[0]};
    else if (r[2] < r[0] && r[2] < r[1])
      r = {r[2], r[0], r[1]};
    tris.push_back(r);
  }
  tbb::parallel_sort(tris.begin(), tris.end());

  WordHasher h(0x53334445'58414354ull);  // "S3DEXACT"
  h.add(tris.size());
  for (const auto& t : tris)
    for (uint32_t r : t)
      for (int64_t c : unique[r]) h.add_signed(c);
  return h.value();
}

uint64_t pose_invariant_hash(const Mesh& mesh) {
  check_indices(mesh);
  using V3 = Eigen::Vector3d;
  auto pos = [&](uint32_t i) {
    const Vec3f& v = mesh.vertices[i];
    return V3(v[0], v[1], v[2]);
  };
  auto usable = [&](const Tri& t) {
    const Vec3f &a = mesh.vertices[t[0]], &b = mesh.vertices[t[1]], &c = mesh.vertices[t[2]];
    return a != b && b != c && a != c;
  };

  // Pass 1: triangle count, area, area centroid.
  uint64_t count = 0;
  double area = 0;
  V3 weighted = V3::Zero();
  for (const Tri& t : mesh.triangles) {
    if (!usable(t)) continue;
    const V3 a = pos(t[0]), b = pos(t[1]), c = pos(t[2]);
    const double ar = 0.5 * (b - a).cross(c - a).norm();
    ++count;
    area += ar;
    weighted += ar * (a + b + c) / 3.0;
  }

  WordHasher h(0x53334450'4F534531ull);  // "S3DPOSE1"
  h.add(count);
  if (!(area > 0) || !std::isfinite(area)) return h.value();
  const V3 centre = weighted / area;

  // Pass 2: moments about the centroid, which rigid motions and mirroring leave unchanged.
  double volume6 = 0, perimeter = 0, r1 = 0, r3 = 0;
  Eigen::Matrix3d second = Eigen::Matrix3d::Zero();
  for (const Tri& t : mesh.triangles) {
    if (!usable(t)) continue;
    const V3 a = pos(t[0]) - centre, b = pos(t[1]) - centre, c = pos(t[2]) - centre;
    const double ar = 0.5 * (b - a).cross(c - a).norm();
    volume6 += a.dot(b.cross(c));
    perimeter += (b - a).norm() + (c - b).norm() + (a - c).norm();
    const V3 s = a + b + c;
    const double r = (s / 3.0).norm();
    r1 += ar * r;
    r3 += ar * r * r * r;
    // Exact second moment of a triangle: (area / 12) (a a^T + b b^T + c c^T + s s^T).
    second += (ar / 12.0) * (a * a.transpose() + b * b.transpose() + c * c.transpose() + s * s.transpose());
  }
  Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> eig(second / area, Eigen::EigenvaluesOnly);
  const V3 lambda = eig.eigenvalues();  // ascending, units mm^2

  const double len = std::sqrt(area);
  h.add_signed(log_code(area));
  h.add_signed(log_code(std::abs(volume6) / 6.0 / (area * len)));
  for (int k = 2; k >= 0; --k) h.add_signed(log_code(std::max(lambda[k], 0.0) / area));
  h.add_signed(log_code(perimeter / len));
  h.add_signed(log_code(r1 / area / len));
  h.add_signed(log_code(r3 / area / (area * len)));
  return h.value();
}

}  // namespace s3d
