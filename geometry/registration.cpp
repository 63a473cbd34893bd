#include "geometry/registration.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace s3d {

namespace {
Eigen::Matrix3d to_eigen(const std::array<double, 9>& m) {
  Eigen::Matrix3d e;
  e << m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8];
  return e;
}
std::array<double, 9> from_eigen(const Eigen::Matrix3d& e) {
  return {e(0, 0), e(0, 1), e(0, 2), e(1, 0), e(1, 1), e(1, 2), e(2, 0), e(2, 1), e(2, 2)};
}
}  // namespace

double Similarity::scale() const { return std::cbrt(std::fabs(to_eigen(m).determinant())); }
bool Similarity::mirrored() const { return to_eigen(m).determinant() < 0; }

Vec3f Similarity::apply_dir(const Vec3f& x) const { return apply_dir(x, inv_scale()); }

Similarity Similarity::inverse() const {
  const Eigen::Matrix3d mi = to_eigen(m).inverse();
  const Eigen::Vector3d ti = -mi * Eigen::Vector3d(t[0], t[1], t[2]);
  Similarity r;
  r.m = from_eigen(mi);
  r.t = {ti[0], ti[1], ti[2]};
  return r;
}

Similarity compose(const Similarity& a, const Similarity& b) {
  const Eigen::Matrix3d ma = to_eigen(a.m), mb = to_eigen(b.m);
  const Eigen::Vector3d t = ma * Eigen::Vector3d(b.t[0], b.t[1], b.t[2]) + Eigen::Vector3d(a.t[0], a.t[1], a.t[2]);
  Similarity r;
  r.m = from_eigen(ma * mb);
  r.t = {t[0], t[1], t[2]};
  return r;
}

Similarity fit_rigid(std::span<const Vec3f> src, std::span<const Vec3f> dst, bool mirrored) {
  Similarity xf;
  const size_t n = std::min(src.size(), dst.size());
  if (n < 3) return xf;
  Eigen::Vector3d mx = Eigen::Vector3d::Zero(), my = Eigen::Vector3d::Zero();
  for (size_t i = 0; i < n; ++i) {
    mx += Eigen::Vector3d(src[i][0], src[i][1], src[i][2]);
    my += Eigen::Vector3d(dst[i][0], dst[i][1], dst[i][2]);
  }
  mx /= double(n);
  my /= double(n);
  Eigen::Matrix3d h = Eigen::Matrix3d::Zero();
  for (size_t i = 0; i < n; ++i)
    h += (Eigen::Vector3d(dst[i][0], dst[i][1], dst[i][2]) - my) * (Eigen::Vector3d(src[i][0], src[i][1], src[i][2]) - mx).transpose();
  Eigen::JacobiSVD<Eigen::Matrix3d> svd(h, Eigen::ComputeFullU | Eigen::ComputeFullV);
  const Eigen::Matrix3d u = svd.matrixU(), v = svd.matrixV();
  Eigen::Vector3d d(1, 1, 1);
  if ((u * v.transpose()).determinant() * (mirrored ? -1.0 : 1.0) < 0) d[2] = -1;
  const Eigen::Matrix3d r = u * d.asDiagonal() * v.transpose();
  const Eigen::Vector3d t = my - r * mx;
  xf.m = from_eigen(r);
  xf.t = {t[0], t[1], t[2]};
  return xf;
}

IcpResult icp_one_sided(std::span<const Vec3f> source, const PointIndex& target, const Similarity& init,
                        const IcpOptions& opt) {
  IcpResult res;
  res.xf = init;
  if (source.empty() || target.size() == 0) return res;
  const bool mirrored = init.mirrored();
  const double fixed_scale = init.scale();
  const auto& tp = target.points();
  std::vector<uint32_t> partner(source.size(), UINT32_MAX);  // nearest target point, last iteration
  const int last = opt.last < 0 ? opt.iterations : std::min(opt.last, opt.iterations);
  for (int it = std::max(0, opt.first); it < last; ++it) {
    const double frac = opt.iterations > 1 ? static_cast<double>(it) / (opt.iterations - 1) : 1.0;
    const double reject = opt.start_reject > 0 ? opt.start_reject + (opt.end_reject - opt.start_reject) * frac : 0;
    const double reject_sq = reject * reject;
    // Accumulate the cross-covariance of accepted pairs (source x in its own frame, target y).
    Eigen::Vector3d sx = Eigen::Vector3d::Zero(), sy = Eigen::Vector3d::Zero();
    std::vector<std::pair<Eigen::Vector3d, Eigen::Vector3d>> pairs;
    pairs.reserve(source.size());
    double err = 0;
    for (size_t i = 0; i < source.size(); ++i) {
      const Vec3f& x = source[i];
      const Vec3f y0 = res.xf.apply(x);
      // The last iteration's partner, where the point has moved to now, bounds the search: the
      // nearest point is no farther. The tree then prunes most branches at once (exact all the same;
      // the bound is widened a little so the old partner itself still qualifies).
      double bound = reject_sq > 0 ? reject_sq : std::numeric_limits<double>::infinity();
      if (partner[i] != UINT32_MAX) {
        const Vec3f& o = tp[partner[i]];
        const double dx = double(y0[0]) - o[0], dy = double(y0[1]) - o[1], dz = double(y0[2]) - o[2];
        bound = std::min(bound, (dx * dx + dy * dy + dz * dz) * (1 + 1e-5) + 1e-12);
      }
      float d2 = 0;
      const uint32_t j = std::isfinite(bound) ? target.nearest_within(y0, static_cast<float>(bound), &d2)
                                              : target.nearest(y0, &d2);
      partner[i] = j;
      if (j == UINT32_MAX) continue;
      const Eigen::Vector3d ex(x[0], x[1], x[2]), ey(tp[j][0], tp[j][1], tp[j][2]);
      pairs.emplace_back(ex, ey);
      sx += ex;
      sy += ey;
      err += d2;
    }
    const size_t n = pairs.size();
    res.inlier_fraction = static_cast<double>(n) / static_cast<double>(source.size());
    res.rms = n ? std::sqrt(err / static_cast<double>(n)) : 0;
    if (n < 6) break;
    const Eigen::Vector3d mx = sx / double(n), my = sy / double(n);
    Eigen::Matrix3d h = Eigen::Matrix3d::Zero();
    double var_x = 0;
    for (const auto& [ex, ey] : pairs) {
      const Eigen::Vector3d dx = ex - mx, dy = ey - my;
      h += dy * dx.transpose();
      var_x += dx.squaredNorm();
    }
    // Umeyama with the handedness held fixed.
    Eigen::JacobiSVD<Eigen::Matrix3d> svd(h, Eigen::ComputeFullU | Eigen::ComputeFullV);
    const Eigen::Matrix3d u = svd.matrixU(), v = svd.matrixV();
    Eigen::Vector3d d(1, 1, 1);
    const double want = mirrored ? -1.0 : 1.0;
    if ((u * v.transpose()).determinant() * want < 0) d[2] = -1;
    const Eigen::Matrix3d r = u * d.asDiagonal() * v.transpose();
    double s = fixed_scale;
    if (opt.max_scale > opt.min_scale && var_x > 0)
      s = std::clamp((svd.singularValues().cwiseProduct(d)).sum() / var_x, opt.min_scale, opt.max_scale);
    const Eigen::Matrix3d m = s * r;
    const Eigen::Vector3d t = my - m * mx;
    res.xf.m = from_eigen(m);
    res.xf.t = {t[0], t[1], t[2]};
  }
  return res;
}

}  // namespace s3d
