#include "geometry/oriented_box.h"

#ifndef CGAL_EIGEN3_ENABLED
#define CGAL_EIGEN3_ENABLED 1  // CGAL::oriented_bounding_box needs its Eigen-based traits.
#endif

#include <CGAL/Exact_predicates_inexact_constructions_kernel.h>
#include <CGAL/convex_hull_2.h>
#include <CGAL/convex_hull_3.h>
#include <CGAL/optimal_bounding_box.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <numeric>
#include <tuple>
#include <vector>

namespace s3d {
namespace {

using Kernel = CGAL::Exact_predicates_inexact_constructions_kernel;
using Point3 = Kernel::Point_3;
using Point2 = Kernel::Point_2;
using D3 = std::array<double, 3>;
using Frame = std::array<D3, 3>;  // rows: the three unit axes

constexpr double kFlatRatio = 1e-6;
constexpr size_t kMaxHull2 = 4096;

double dot(const D3& a, const D3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
D3 cross(const D3& a, const D3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
D3 scaled(const D3& a, double s) { return {a[0] * s, a[1] * s, a[2] * s}; }
D3 sub(const D3& a, const D3& b) { return {a[0] - b[0], a[1] - b[1], a[2] - b[2]}; }
bool normalize(D3& a) {
  const double n = std::sqrt(dot(a, a));
  if (!(n > 0) || !std::isfinite(n)) return false;
  a = scaled(a, 1.0 / n);
  return true;
}
bool finite(const Vec3f& p) { return std::isfinite(p[0]) && std::isfinite(p[1]) && std::isfinite(p[2]); }
D3 to_d3(const Vec3f& p) { return {p[0], p[1], p[2]}; }

const Frame kIdentity = {D3{1, 0, 0}, D3{0, 1, 0}, D3{0, 0, 1}};

// Gram-Schmidt on the rows; false when the rows are (numerically) dependent.
bool orthonormalize(Frame& f) {
  if (!normalize(f[0])) return false;
  f[1] = sub(f[1], scaled(f[0], dot(f[0], f[1])));
  if (!normalize(f[1])) return false;
  f[2] = cross(f[0], f[1]);
  return normalize(f[2]);
}

// The box in frame `f` that holds every finite point.
struct Fit {
  Frame axes = kIdentity;
  D3 lo{}, hi{};
  double volume() const { return (hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]); }
};

Fit fit_all(std::span<const Vec3f> points, const Frame& f) {
  Fit out;
  out.axes = f;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  out.lo = {kInf, kInf, kInf};
  out.hi = {-kInf, -kInf, -kInf};
  for (const Vec3f& p : points) {
    if (!finite(p)) continue;
    const D3 q = to_d3(p);
    for (int i = 0; i < 3; ++i) {
      const double d = dot(f[i], q);
      out.lo[i] = std::min(out.lo[i], d);
      out.hi[i] = std::max(out.hi[i], d);
    }
  }
  return out;
}

OrientedBox to_box(const Fit& fit) {
  std::array<int, 3> order{0, 1, 2};
  const D3 ext = {fit.hi[0] - fit.lo[0], fit.hi[1] - fit.lo[1], fit.hi[2] - fit.lo[2]};
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return ext[a] > ext[b]; });
  OrientedBox box;
  box.center = {0, 0, 0};
  for (int i = 0; i < 3; ++i) {
    const double mid = 0.5 * (fit.lo[i] + fit.hi[i]);
    for (int k = 0; k < 3; ++k) box.center[k] += fit.axes[i][k] * mid;
  }
  for (int i = 0; i < 3; ++i) {
    box.axes[i] = fit.axes[order[i]];
    box.extents[i] = ext[order[i]];
  }
  box.axes[2] = cross(box.axes[0], box.axes[1]);  // right-handed; same line as before, maybe flipped
  return box;
}

// Principal axes of the sample: the fallback when the hull has too few points for CGAL.
Frame principal_axes(const std::vector<D3>& pts) {
  Eigen::Vector3d mean = Eigen::Vector3d::Zero();
  for (const D3& p : pts) mean += Eigen::Vector3d(p[0], p[1], p[2]);
  mean /= static_cast<double>(pts.size());
  Eigen::Matrix3d cov = Eigen::Matrix3d::Zero();
  for (const D3& p : pts) {
    const Eigen::Vector3d d = Eigen::Vector3d(p[0], p[1], p[2]) - mean;
    cov += d * d.transpose();
  }
  Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> solver(cov);
  if (solver.info() != Eigen::Success) return kIdentity;
  Frame f;
  for (int i = 0; i < 3; ++i) {
    const Eigen::Vector3d v = solver.eigenvectors().col(2 - i);  // largest variance first
    f[i] = {v[0], v[1], v[2]};
  }
  return orthonormalize(f) ? f : kIdentity;
}

// Rotation found by CGAL's optimal-bounding-box search on the hull points; rows are the box axes.
bool cgal_frame(const std::vector<Point3>& hull, Frame& f) {
  try {
    Kernel::Aff_transformation_3 rot;
    CGAL::oriented_bounding_box(hull, rot, CGAL::parameters::use_convex_hull(false).random_seed(0));
    for (int i = 0; i < 3; ++i) f[i] = {rot.m(i, 0), rot.m(i, 1), rot.m(i, 2)};
    return orthonormalize(f);
  } catch (...) {
    return false;
  }
}

// For a flat fit: keeps the normal and turns the two in-plane axes to the minimum-area rectangle of
// the sample's projection (each hull-edge direction is tried; that is where the optimum lies).
Frame flat_frame(const std::vector<D3>& sample, const Fit& fit) {
  std::array<int, 3> order{0, 1, 2};
  const D3 ext = {fit.hi[0] - fit.lo[0], fit.hi[1] - fit.lo[1], fit.hi[2] - fit.lo[2]};
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return ext[a] > ext[b]; });
  const D3 u = fit.axes[order[0]], v = fit.axes[order[1]], n = fit.axes[order[2]];

  std::vector<Point2> proj;
  proj.reserve(sample.size());
  for (const D3& p : sample) proj.emplace_back(dot(p, u), dot(p, v));
  std::vector<Point2> hull;
  CGAL::convex_hull_2(proj.begin(), proj.end(), std::back_inserter(hull));
  if (hull.size() > kMaxHull2) {
    const size_t stride = (hull.size() + kMaxHull2 - 1) / kMaxHull2;
    std::vector<Point2> kept;
    for (size_t i = 0; i < hull.size(); i += stride) kept.push_back(hull[i]);
    hull.swap(kept);
  }
  if (hull.size() < 2) return fit.axes;

  double best_area = std::numeric_limits<double>::infinity();
  double best_c = 1, best_s = 0;
  for (size_t i = 0; i < hull.size(); ++i) {
    const Point2& a = hull[i];
    const Point2& b = hull[(i + 1) % hull.size()];
    double dx = b.x() - a.x(), dy = b.y() - a.y();
    const double len = std::hypot(dx, dy);
    if (!(len > 0)) continue;
    dx /= len;
    dy /= len;
    double lo0 = std::numeric_limits<double>::infinity(), hi0 = -lo0, lo1 = lo0, hi1 = -lo0;
    for (const Point2& p : hull) {
      const double s = p.x() * dx + p.y() * dy;
      const double t = -p.x() * dy + p.y() * dx;
      lo0 = std::min(lo0, s);
      hi0 = std::max(hi0, s);
      lo1 = std::min(lo1, t);
      hi1 = std::max(hi1, t);
    }
    const double area = (hi0 - lo0) * (hi1 - lo1);
    if (area < best_area) {
      best_area = area;
      best_c = dx;
      best_s = dy;
    }
  }
  Frame f;
  for (int k = 0; k < 3; ++k) {
    f[0][k] = best_c * u[k] + best_s * v[k];
    f[1][k] = -best_s * u[k] + best_c * v[k];
  }
  f[2] = n;
  return orthonormalize(f) ? f : fit.axes;
}

bool is_flat(const Fit& fit) {
  const D3 ext = {fit.hi[0] - fit.lo[0], fit.hi[1] - fit.lo[1], fit.hi[2] - fit.lo[2]};
  const double mx = std::max({ext[0], ext[1], ext[2]});
  const double mn = std::min({ext[0], ext[1], ext[2]});
  return mx > 0 && mn <= kFlatRatio * mx;
}

// The points the orientation search sees: a jittered stride sample (one point from each of at most
// kObbMaxSample equal index strata, the offset inside a stratum from a fixed hash, so periodic vertex
// orders cannot alias it) plus the extreme point of ALL points along 13 fixed directions, both ways.
std::vector<D3> orientation_sample(std::span<const Vec3f> points, std::vector<D3>& extremes) {
  static constexpr double kDirs[13][3] = {{1, 0, 0},  {0, 1, 0},  {0, 0, 1},  {1, 1, 0},  {1, -1, 0},
                                          {1, 0, 1},  {1, 0, -1}, {0, 1, 1},  {0, 1, -1}, {1, 1, 1},
                                          {1, 1, -1}, {1, -1, 1}, {-1, 1, 1}};
  const size_t n = points.size();
  std::vector<D3> sample;
  const size_t m = std::min(n, kObbMaxSample);
  sample.reserve(m + 26);
  for (size_t k = 0; k < m; ++k) {
    const size_t lo = k * n / m, hi = (k + 1) * n / m;
    uint64_t h = (k + 1) * 0x9E3779B97F4A7C15ull;  // splitmix64 finaliser
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
    h ^= h >> 31;
    const Vec3f& p = points[lo + h % (hi - lo)];
    if (finite(p)) sample.push_back(to_d3(p));
  }
  std::array<double, 26> best;
  best.fill(-std::numeric_limits<double>::infinity());
  std::array<size_t, 26> arg;
  arg.fill(n);
  for (size_t i = 0; i < n; ++i) {
    if (!finite(points[i])) continue;
    const D3 q = to_d3(points[i]);
    for (int d = 0; d < 13; ++d) {
      const double s = kDirs[d][0] * q[0] + kDirs[d][1] * q[1] + kDirs[d][2] * q[2];
      if (s > best[2 * d]) best[2 * d] = s, arg[2 * d] = i;
      if (-s > best[2 * d + 1]) best[2 * d + 1] = -s, arg[2 * d + 1] = i;
    }
  }
  for (size_t i : arg)
    if (i < n) extremes.push_back(to_d3(points[i]));
  return sample;
}

}  // namespace

OrientedBox oriented_bounding_box(std::span<const Vec3f> points) {
  std::vector<D3> extremes;
  std::vector<D3> sample = orientation_sample(points, extremes);
  sample.insert(sample.end(), extremes.begin(), extremes.end());
  if (sample.empty()) {
    OrientedBox box;
    box.axes = kIdentity;
    return box;
  }

  std::vector<Point3> cloud;
  cloud.reserve(sample.size());
  for (const D3& p : sample) cloud.emplace_back(p[0], p[1], p[2]);
  std::vector<Point3> hull;
  if (cloud.size() >= 4) CGAL::extreme_points_3(cloud, std::back_inserter(hull));
  // extreme_points_3 reports the hull in an order that depends on memory addresses, so the thinning
  // below (and with it the box) would differ from call to call: put the points in a fixed order.
  std::sort(hull.begin(), hull.end(), [](const Point3& a, const Point3& b) {
    return std::make_tuple(a.x(), a.y(), a.z()) < std::make_tuple(b.x(), b.y(), b.z());
  });
  if (hull.size() > kObbMaxHull) {
    const size_t hs = (hull.size() + kObbMaxHull - 1) / kObbMaxHull;
    std::vector<Point3> kept;
    for (size_t i = 0; i < hull.size(); i += hs) kept.push_back(hull[i]);
    for (const D3& p : extremes) kept.emplace_back(p[0], p[1], p[2]);  // always on the hull
    hull.swap(kept);
  }

  Frame frame;
  if (hull.size() < 4 || !cgal_frame(hull, frame)) frame = principal_axes(sample);

  Fit best = fit_all(points, frame);
  const Fit aabb = fit_all(points, kIdentity);
  if (aabb.volume() <= best.volume() * (1 + 1e-9)) best = aabb;
  if (is_flat(best)) {
    const Fit flat = fit_all(points, flat_frame(sample, best));
    const auto area2 = [](const Fit& f) {
      D3 e = {f.hi[0] - f.lo[0], f.hi[1] - f.lo[1], f.hi[2] - f.lo[2]};
      std::sort(e.begin(), e.end());
      return e[1] * e[2];
    };
    if (area2(flat) < area2(best)) best = flat;
  }
  return to_box(best);
}

}  // namespace s3d
