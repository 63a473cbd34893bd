#include "geometry/shape_descriptor.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "geometry/principal_frame.h"
#include "geometry/sample_surface.h"

namespace s3d {

namespace {
constexpr int kPairs = 24000;
constexpr int kTriples = 12000;

inline double dist(const Vec3f& a, const Vec3f& b) {
  const double dx = double(a[0]) - b[0], dy = double(a[1]) - b[1], dz = double(a[2]) - b[2];
  return std::sqrt(dx * dx + dy * dy + dz * dz);
}

void normalise(float* h, int n) {
  double s = 0;
  for (int i = 0; i < n; ++i) s += h[i];
  if (s > 0)
    for (int i = 0; i < n; ++i) h[i] = static_cast<float>(h[i] / s);
}
}  // namespace

ShapeDescriptor compute_descriptor(std::span<const Vec3f> points, uint64_t seed) {
  ShapeDescriptor d;
  const size_t n = points.size();
  if (n < 3) return d;
  SplitMix64 rng(seed);
  // D2
  std::vector<double> dists(kPairs);
  double mean = 0;
  for (int i = 0; i < kPairs; ++i) {
    const size_t a = rng.next() % n, b = rng.next() % n;
    dists[i] = dist(points[a], points[b]);
    mean += dists[i];
  }
  mean /= kPairs;
  float* h = d.v.data();
  if (mean > 0) {
    for (double x : dists) {
      const int bin = std::min(kD2Bins - 1, static_cast<int>(x / (3.0 * mean) * kD2Bins));
      h[bin] += 1;
    }
  }
  normalise(h, kD2Bins);
  // D1
  const PrincipalFrame f = principal_frame(points);
  h += kD2Bins;
  {
    const size_t step = std::max<size_t>(1, n / 8000);
    std::vector<double> r;
    r.reserve(n / step + 1);
    double m = 0;
    for (size_t i = 0; i < n; i += step) {
      const double dx = points[i][0] - f.centroid[0], dy = points[i][1] - f.centroid[1], dz = points[i][2] - f.centroid[2];
      r.push_back(std::sqrt(dx * dx + dy * dy + dz * dz));
      m += r.back();
    }
    m /= static_cast<double>(r.size());
    if (m > 0)
      for (double x : r) h[std::min(kD1Bins - 1, static_cast<int>(x / (2.5 * m) * kD1Bins))] += 1;
    normalise(h, kD1Bins);
  }
  // A3
  h += kD1Bins;
  for (int i = 0; i < kTriples; ++i) {
    const Vec3f& a = points[rng.next() % n];
    const Vec3f& b = points[rng.next() % n];
    const Vec3f& c = points[rng.next() % n];
    const double ux = double(a[0]) - b[0], uy = double(a[1]) - b[1], uz = double(a[2]) - b[2];
    const double vx = double(c[0]) - b[0], vy = double(c[1]) - b[1], vz = double(c[2]) - b[2];
    const double nu = std::sqrt(ux * ux + uy * uy + uz * uz), nv = std::sqrt(vx * vx + vy * vy + vz * vz);
    if (nu <= 0 || nv <= 0) continue;
    const double cosang = std::clamp((ux * vx + uy * vy + uz * vz) / (nu * nv), -1.0, 1.0);
    h[std::min(kA3Bins - 1, static_cast<int>(std::acos(cosang) / M_PI * kA3Bins))] += 1;
  }
  normalise(h, kA3Bins);
  h += kA3Bins;
  const double v0 = std::max(f.variances[0], 1e-30);
  h[0] = static_cast<float>(std::sqrt(f.variances[1] / v0));
  h[1] = static_cast<float>(std::sqrt(f.variances[2] / v0));
  return d;
}

float descriptor_distance(const ShapeDescriptor& a, const ShapeDescriptor& b) {
  float s = 0;
  for (int i = 0; i < kD2Bins + kD1Bins + kA3Bins; ++i) s += std::fabs(a.v[i] - b.v[i]);
  for (int i = kD2Bins + kD1Bins + kA3Bins; i < kDescriptorDims; ++i) s += 2.0f * std::fabs(a.v[i] - b.v[i]);
  return s;
}

}  // namespace s3d
