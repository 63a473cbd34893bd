#include "geometry/local_features.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "geometry/sample_surface.h"

namespace s3d {
namespace {

inline double dot(const Vec3f& a, const Vec3f& b) { return double(a[0]) * b[0] + double(a[1]) * b[1] + double(a[2]) * b[2]; }

std::vector<uint32_t> voxel_thin(std::span<const Vec3f> pts, float voxel) {
  std::unordered_map<uint64_t, uint32_t> seen;
  seen.reserve(pts.size());
  std::vector<uint32_t> keep;
  const double inv = 1.0 / voxel;
  for (uint32_t i = 0; i < pts.size(); ++i) {
    const Vec3f& p = pts[i];
    if (!std::isfinite(p[0]) || !std::isfinite(p[1]) || !std::isfinite(p[2])) continue;
    const auto cell = [&](int k) { return static_cast<uint64_t>(static_cast<int64_t>(std::floor(p[k] * inv)) & 0x1fffff); };
    const uint64_t key = cell(0) | (cell(1) << 21) | (cell(2) << 42);
    if (seen.emplace(key, i).second) keep.push_back(i);
  }
  return keep;
}

// PCL's pair feature (theta, alpha, phi) for source (p1, n1) and target (p2, n2); false when undefined.
bool pair_feature(const Vec3f& p1, const Vec3f& n1, const Vec3f& p2, const Vec3f& n2, double f[3]) {
  double d[3] = {double(p2[0]) - p1[0], double(p2[1]) - p1[1], double(p2[2]) - p1[2]};
  const double len = std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
  if (len <= 0) return false;
  const double a1 = (n1[0] * d[0] + n1[1] * d[1] + n1[2] * d[2]) / len;
  const double a2 = (n2[0] * d[0] + n2[1] * d[1] + n2[2] * d[2]) / len;
  const Vec3f* u = &n1;
  const Vec3f* t = &n2;
  double phi = a1;
  if (std::acos(std::clamp(std::fabs(a1), 0.0, 1.0)) > std::acos(std::clamp(std::fabs(a2), 0.0, 1.0))) {
    u = &n2;
    t = &n1;
    for (double& x : d) x = -x;
    phi = -a2;
  }
  double v[3] = {d[1] * (*u)[2] - d[2] * (*u)[1], d[2] * (*u)[0] - d[0] * (*u)[2], d[0] * (*u)[1] - d[1] * (*u)[0]};
  const double vl = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  if (vl <= 1e-12) return false;
  for (double& x : v) x /= vl;
  const double w[3] = {(*u)[1] * v[2] - (*u)[2] * v[1], (*u)[2] * v[0] - (*u)[0] * v[2], (*u)[0] * v[1] - (*u)[1] * v[0]};
  const double alpha = v[0] * (*t)[0] + v[1] * (*t)[1] + v[2] * (*t)[2];
  const double theta = std::atan2(w[0] * (*t)[0] + w[1] * (*t)[1] + w[2] * (*t)[2], dot(*u, *t));
  f[0] = theta;
  f[1] = alpha;
  f[2] = phi;
  return true;
}

int bin(double x, double lo, double hi) {
  const int b = static_cast<int>(std::floor(kFpfhBins * (x - lo) / (hi - lo)));
  return std::clamp(b, 0, kFpfhBins - 1);
}

void normalise(Fpfh& h) {
  for (int block = 0; block < 3; ++block) {
    float s = 0;
    for (int i = 0; i < kFpfhBins; ++i) s += h[block * kFpfhBins + i];
    if (s > 0)
      for (int i = 0; i < kFpfhBins; ++i) h[block * kFpfhBins + i] *= 100.0f / s;
  }
}

// Orthonormal frame of a triangle: first axis along p->q, second towards r, third their normal.
bool triad(const Vec3f& p, const Vec3f& q, const Vec3f& r, double e[3][3]) {
  double u[3] = {double(q[0]) - p[0], double(q[1]) - p[1], double(q[2]) - p[2]};
  double v[3] = {double(r[0]) - p[0], double(r[1]) - p[1], double(r[2]) - p[2]};
  const double lu = std::sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2]);
  if (!(lu > 0)) return false;
  for (double& x : u) x /= lu;
  const double along = v[0] * u[0] + v[1] * u[1] + v[2] * u[2];
  for (int k = 0; k < 3; ++k) v[k] -= along * u[k];
  const double lv = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  if (!(lv > 1e-6 * lu)) return false;
  for (double& x : v) x /= lv;
  for (int k = 0; k < 3; ++k) e[0][k] = u[k], e[1][k] = v[k];
  e[2][0] = u[1] * v[2] - u[2] * v[1];
  e[2][1] = u[2] * v[0] - u[0] * v[2];
  e[2][2] = u[0] * v[1] - u[1] * v[0];
  return true;
}

// The rigid map (a reflection when `mirrored`) taking the source triangle's frame onto the target's,
// with the centroids matched: a cheap hypothesis from three correspondences (refitted by least
// squares once its inliers are known).
bool triad_fit(const Vec3f& s0, const Vec3f& s1, const Vec3f& s2, const Vec3f& t0, const Vec3f& t1, const Vec3f& t2,
               bool mirrored, Similarity* xf) {
  double es[3][3], et[3][3];
  if (!triad(s0, s1, s2, es) || !triad(t0, t1, t2, et)) return false;
  if (mirrored)
    for (double& x : et[2]) x = -x;
  // R = sum_k et[k] es[k]^T takes each source axis onto the target's.
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) xf->m[i * 3 + j] = et[0][i] * es[0][j] + et[1][i] * es[1][j] + et[2][i] * es[2][j];
  double cs[3], ct[3];
  for (int k = 0; k < 3; ++k) {
    cs[k] = (double(s0[k]) + s1[k] + s2[k]) / 3;
    ct[k] = (double(t0[k]) + t1[k] + t2[k]) / 3;
  }
  for (int i = 0; i < 3; ++i) xf->t[i] = ct[i] - (xf->m[i * 3] * cs[0] + xf->m[i * 3 + 1] * cs[1] + xf->m[i * 3 + 2] * cs[2]);
  return true;
}

// The occupancy grid behind FeatureCloud::near_surface (cells of one voxel, each point marking its
// cell and the 26 around it with its normal's direction bits).
void build_occupancy(FeatureCloud& fc) {
  fc.occupied.clear();
  const size_t n = fc.points.size();
  if (n == 0) return;
  std::array<float, 3> lo{1e30f, 1e30f, 1e30f}, hi{-1e30f, -1e30f, -1e30f};
  for (const Vec3f& p : fc.points)
    for (int k = 0; k < 3; ++k) lo[k] = std::min(lo[k], p[k]), hi[k] = std::max(hi[k], p[k]);
  const float cell = fc.voxel;
  constexpr double kMaxCells = 4.0e6;
  double cells = 1;
  std::array<int, 3> dims{};
  for (int k = 0; k < 3; ++k) {
    dims[k] = static_cast<int>((hi[k] - lo[k]) / cell) + 3;
    cells *= dims[k];
  }
  if (!(cells <= kMaxCells)) return;
  fc.grid_cell = cell;
  fc.grid_dims = dims;
  for (int k = 0; k < 3; ++k) fc.grid_lo[k] = lo[k] - cell;
  fc.occupied.assign(static_cast<size_t>(cells), 0);
  for (size_t pi = 0; pi < n; ++pi) {
    const Vec3f& p = fc.points[pi];
    const Vec3f& nn = fc.normals[pi];
    uint8_t bits = 0;
    for (int k = 0; k < 3; ++k) {
      if (nn[k] > 0.35f) bits |= uint8_t(1u << (2 * k));
      if (nn[k] < -0.35f) bits |= uint8_t(1u << (2 * k + 1));
    }
    int c[3];
    for (int k = 0; k < 3; ++k) c[k] = static_cast<int>((p[k] - fc.grid_lo[k]) / cell);
    for (int dz = -1; dz <= 1; ++dz)
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          const int x = c[0] + dx, y = c[1] + dy, z = c[2] + dz;
          if (x < 0 || y < 0 || z < 0 || x >= dims[0] || y >= dims[1] || z >= dims[2]) continue;
          fc.occupied[(static_cast<size_t>(z) * dims[1] + y) * dims[0] + x] |= bits;
        }
  }
}

}  // namespace

bool FeatureCloud::near_surface(const Vec3f& p, const Vec3f& n) const {
  if (occupied.empty()) {
    float d2 = 0;
    const uint32_t j = index.nearest_within(p, 2.25f * voxel * voxel, &d2);
    return j != UINT32_MAX && dot(n, normals[j]) > 0.6;
  }
  int axis = 0;
  for (int k = 1; k < 3; ++k)
    if (std::fabs(n[k]) > std::fabs(n[axis])) axis = k;
  const uint8_t want = uint8_t(1u << (2 * axis + (n[axis] < 0 ? 1 : 0)));
  int c[3];
  for (int k = 0; k < 3; ++k) {
    const float f = (p[k] - grid_lo[k]) / grid_cell;
    if (!(f >= 0) || f >= static_cast<float>(grid_dims[k])) return false;
    c[k] = static_cast<int>(f);
  }
  return (occupied[(static_cast<size_t>(c[2]) * grid_dims[1] + c[1]) * grid_dims[0] + c[0]] & want) != 0;
}

Fpfh mirror_feature(const Fpfh& f) {
  Fpfh m = f;
  for (int i = 0; i < kFpfhBins; ++i) m[kFpfhBins + i] = f[kFpfhBins + (kFpfhBins - 1 - i)];
  return m;
}

FeatureCloud make_feature_cloud(std::span<const Vec3f> points, std::span<const Vec3f> normals, float voxel, float radius,
                                size_t max_points) {
  FeatureCloud fc;
  if (points.empty() || normals.size() != points.size() || !(voxel > 0) || !(radius > 0)) return fc;
  std::vector<uint32_t> keep = voxel_thin(points, voxel);
  for (int round = 0; round < 8 && keep.size() > max_points; ++round) {
    voxel *= static_cast<float>(std::sqrt(double(keep.size()) / double(max_points)) * 1.05);
    keep = voxel_thin(points, voxel);
  }
  radius = std::max(radius, 2.5f * voxel);
  fc.voxel = voxel;
  fc.radius = radius;
  fc.points.reserve(keep.size());
  for (uint32_t i : keep) {
    fc.points.push_back(points[i]);
    fc.normals.push_back(normals[i]);
  }
  fc.index = PointIndex(fc.points);
  build_occupancy(fc);
  const size_t n = fc.points.size();
  constexpr size_t kNeighbours = 16;
  std::vector<std::array<uint32_t, kNeighbours>> nb(n);
  std::vector<std::array<float, kNeighbours>> nd(n);
  std::vector<uint8_t> nk(n);
  std::vector<Fpfh> spfh(n);
  const float r2 = radius * radius;
  for (size_t i = 0; i < n; ++i) {
    uint32_t idx[kNeighbours];
    float d2[kNeighbours];
    const size_t k = fc.index.knn_within(fc.points[i], kNeighbours, r2, idx, d2);
    Fpfh h{};
    uint8_t m = 0;
    for (size_t j = 0; j < k; ++j) {
      if (idx[j] == i) continue;
      double f[3];
      if (!pair_feature(fc.points[i], fc.normals[i], fc.points[idx[j]], fc.normals[idx[j]], f)) continue;
      h[bin(f[0], -M_PI, M_PI)] += 1;
      h[kFpfhBins + bin(f[1], -1, 1)] += 1;
      h[2 * kFpfhBins + bin(f[2], -1, 1)] += 1;
      nb[i][m] = idx[j];
      nd[i][m] = std::sqrt(d2[j]);
      ++m;
    }
    nk[i] = m;
    normalise(h);
    spfh[i] = h;
  }
  fc.features.resize(n);
  for (size_t i = 0; i < n; ++i) {
    Fpfh f = spfh[i];
    if (nk[i] > 0) {
      const float inv_k = 1.0f / nk[i];
      for (uint8_t j = 0; j < nk[i]; ++j) {
        const float w = inv_k / std::max(nd[i][j], 1e-3f * radius);
        const Fpfh& s = spfh[nb[i][j]];
        for (size_t b = 0; b < f.size(); ++b) f[b] += w * s[b];
      }
    }
    normalise(f);
    fc.features[i] = f;
  }
  return fc;
}

FeatureCloud feature_subcloud(const FeatureCloud& cloud, std::span<const uint32_t> keep) {
  FeatureCloud fc;
  fc.voxel = cloud.voxel;
  fc.radius = cloud.radius;
  const size_t n = cloud.points.size();
  if (cloud.normals.size() != n || cloud.features.size() != n) return fc;
  for (uint32_t i : keep) {
    if (i >= n) continue;
    fc.points.push_back(cloud.points[i]);
    fc.normals.push_back(cloud.normals[i]);
    fc.features.push_back(cloud.features[i]);
  }
  fc.index = PointIndex(fc.points);
  build_occupancy(fc);
  return fc;
}

std::vector<FeatureMatch> feature_register(const FeatureCloud& source, const FeatureCloud& target,
                                           const FeatureMatchOptions& opt, size_t hypotheses) {
  std::vector<FeatureMatch> out;
  if (source.points.size() < 3 || target.points.size() < 3 || hypotheses == 0) return out;
  // Correspondences: evenly strided source keypoints to their two nearest target features.
  // Keypoints: the source points least like a plane (on a plane every pair feature falls in the
  // middle bin of each angle), so flat faces, which match anywhere, do not swamp the vote.
  std::vector<std::pair<float, uint32_t>> flat(source.points.size());
  constexpr int kMid = kFpfhBins / 2;
  for (uint32_t i = 0; i < source.points.size(); ++i) {
    const Fpfh& f = source.features[i];
    flat[i] = {f[kMid] + f[kFpfhBins + kMid] + f[2 * kFpfhBins + kMid], i};
  }
  std::stable_sort(flat.begin(), flat.end());
  if (flat.size() > opt.keypoints) flat.resize(opt.keypoints);
  // Feature distances of every keypoint to every target feature in one matrix product
  // (|a|^2 + |b|^2 - 2 a.b), each keypoint's column contiguous.
  constexpr int kDims = 3 * kFpfhBins;
  const Eigen::Index nk = static_cast<Eigen::Index>(flat.size()), nt = static_cast<Eigen::Index>(target.features.size());
  Eigen::MatrixXf src(kDims, nk), tgt(kDims, nt);
  for (Eigen::Index r = 0; r < nk; ++r) {
    const uint32_t i = flat[static_cast<size_t>(r)].second;
    const Fpfh f = opt.mirrored ? mirror_feature(source.features[i]) : source.features[i];
    for (int d = 0; d < kDims; ++d) src(d, r) = f[d];
  }
  for (Eigen::Index j = 0; j < nt; ++j)
    for (int d = 0; d < kDims; ++d) tgt(d, j) = target.features[static_cast<size_t>(j)][d];
  const Eigen::RowVectorXf tgt_norm = tgt.colwise().squaredNorm();
  const Eigen::MatrixXf cross = tgt.transpose() * src;  // nt x nk
  std::vector<Vec3f> cs, ct;
  for (Eigen::Index r = 0; r < nk; ++r) {
    const uint32_t i = flat[static_cast<size_t>(r)].second;
    float b1 = 1e30f, b2 = 1e30f;
    Eigen::Index j1 = 0, j2 = 0;
    for (Eigen::Index j = 0; j < nt; ++j) {
      const float d = tgt_norm[j] - 2.0f * cross(j, r);  // |a|^2 is the same for every j
      if (d < b1) {
        b2 = b1, j2 = j1;
        b1 = d, j1 = j;
      } else if (d < b2) {
        b2 = d, j2 = j;
      }
    }
    cs.push_back(source.points[i]);
    ct.push_back(target.points[static_cast<size_t>(j1)]);
    if (b2 < 1e30f) {
      cs.push_back(source.points[i]);
      ct.push_back(target.points[static_cast<size_t>(j2)]);
    }
  }
  const size_t n = cs.size();
  if (n < 3) return out;
  const double tol = opt.inlier_dist, tol2 = tol * tol;
  auto dist = [](const Vec3f& a, const Vec3f& b) {
    const double x = double(a[0]) - b[0], y = double(a[1]) - b[1], z = double(a[2]) - b[2];
    return std::sqrt(x * x + y * y + z * z);
  };
  auto count = [&](const Similarity& xf, std::vector<uint32_t>* which) {
    size_t c = 0;
    float m[9], t[3];
    for (int k = 0; k < 9; ++k) m[k] = static_cast<float>(xf.m[k]);
    for (int k = 0; k < 3; ++k) t[k] = static_cast<float>(xf.t[k]);
    const float tol2f = static_cast<float>(tol2);
    for (size_t i = 0; i < n; ++i) {
      const Vec3f& x = cs[i];
      const float dx = m[0] * x[0] + m[1] * x[1] + m[2] * x[2] + t[0] - ct[i][0];
      const float dy = m[3] * x[0] + m[4] * x[1] + m[5] * x[2] + t[1] - ct[i][1];
      const float dz = m[6] * x[0] + m[7] * x[1] + m[8] * x[2] + t[2] - ct[i][2];
      if (dx * dx + dy * dy + dz * dz <= tol2f) {
        ++c;
        if (which) which->push_back(static_cast<uint32_t>(i));
      }
    }
    return c;
  };
  // Two transforms are the same hypothesis when they place the source's keypoint centroid and a
  // point one radius away from it within a few tolerances.
  Vec3f centre{0, 0, 0};
  for (const Vec3f& p : cs)
    for (int k = 0; k < 3; ++k) centre[k] += p[k] / static_cast<float>(n);
  const Vec3f probe[3] = {centre, {centre[0] + 10 * float(tol), centre[1], centre[2]}, {centre[0], centre[1] + 10 * float(tol), centre[2]}};
  auto same = [&](const Similarity& a, const Similarity& b) {
    for (const Vec3f& p : probe)
      if (dist(a.apply(p), b.apply(p)) > 3 * tol) return false;
    return true;
  };
  std::vector<FeatureMatch> kept;  // sorted by inliers, distinct
  // Guided sampling: a triple is drawn only from correspondences that are pairwise compatible
  // (source and target distances agree), which most random triples are not.
  std::vector<std::vector<uint32_t>> compat(n);
  std::vector<uint8_t> ok_pair(n * n, 0);
  for (size_t u = 0; u < n; ++u)
    for (size_t v = u + 1; v < n; ++v) {
      const double ds = dist(cs[u], cs[v]), dt = dist(ct[u], ct[v]);
      if (ds > 3 * tol && std::fabs(ds - dt) <= 1.5 * tol) {
        compat[u].push_back(static_cast<uint32_t>(v));
        compat[v].push_back(static_cast<uint32_t>(u));
        ok_pair[u * n + v] = ok_pair[v * n + u] = 1;
      }
    }
  // Hypotheses are ranked by surface agreement: the share of a spread subset of source points that
  // land within about a voxel of the target surface (correspondence counts favour repeated flat faces).
  std::vector<uint32_t> probes;
  {
    const double pstep = std::max(1.0, double(source.points.size()) / 96.0);
    for (double x = 0; x < double(source.points.size()); x += pstep) probes.push_back(static_cast<uint32_t>(x));
  }
  // `bar`: stop early, returning a value below it, once the agreement cannot reach it.
  auto surface_agreement = [&](const Similarity& xf, double bar = 0) {
    size_t on = 0;
    const double total = double(probes.size());
    const double inv_scale = xf.inv_scale();
    for (size_t k = 0; k < probes.size(); ++k) {
      on += target.near_surface(xf.apply(source.points[probes[k]]), xf.apply_dir(source.normals[probes[k]], inv_scale));
      if ((k & 15) == 15 && double(on + probes.size() - k - 1) < bar * total) return 0.0;
    }
    return probes.empty() ? 0.0 : double(on) / total;
  };
  size_t best_inliers = 0;
  SplitMix64 rng(opt.seed);
  for (int it = 0; it < opt.iterations; ++it) {
    const size_t a = rng.next() % n;
    if (compat[a].size() < 2) continue;
    const size_t b = compat[a][rng.next() % compat[a].size()];
    size_t c = n;
    for (int t = 0; t < 8 && c == n; ++t) {
      const size_t x = compat[a][rng.next() % compat[a].size()];
      if (x != b && ok_pair[b * n + x]) c = x;
    }
    if (c == n) continue;
    FeatureMatch m;
    if (!triad_fit(cs[a], cs[b], cs[c], ct[a], ct[b], ct[c], opt.mirrored, &m.xf)) continue;
    m.inliers = count(m.xf, nullptr);
    m.correspondences = n;
    if (m.inliers < 3 || 2 * m.inliers < best_inliers) continue;
    best_inliers = std::max(best_inliers, m.inliers);
    m.surface = surface_agreement(m.xf, kept.size() == hypotheses ? kept.back().surface : 0.0);
    if (kept.size() == hypotheses && m.surface <= kept.back().surface) continue;
    bool dup = false;
    for (FeatureMatch& k : kept)
      if (same(k.xf, m.xf)) {
        if (m.surface > k.surface) k = m;
        dup = true;
        break;
      }
    if (!dup) kept.push_back(m);
    std::sort(kept.begin(), kept.end(), [](const FeatureMatch& x, const FeatureMatch& y) { return x.surface > y.surface; });
    if (kept.size() > hypotheses) kept.pop_back();
  }
  // Precise agreement for the few kept: nearest stored point within 1.5 voxels with a similar normal.
  const float near2 = 2.25f * target.voxel * target.voxel;
  auto precise_agreement = [&](const Similarity& xf) {
    size_t on = 0;
    const double inv_scale = xf.inv_scale();
    for (uint32_t i : probes) {
      float d2 = 0;
      const uint32_t j = target.index.nearest_within(xf.apply(source.points[i]), near2, &d2);
      on += j != UINT32_MAX && dot(xf.apply_dir(source.normals[i], inv_scale), target.normals[j]) > 0.7;
    }
    return probes.empty() ? 0.0 : double(on) / double(probes.size());
  };
  for (FeatureMatch& m : kept) {
    // Refit on every agreeing correspondence.
    std::vector<uint32_t> in;
    count(m.xf, &in);
    std::vector<Vec3f> s, t;
    for (uint32_t i : in) s.push_back(cs[i]), t.push_back(ct[i]);
    const Similarity refit = fit_rigid(s, t, opt.mirrored);
    m.surface = precise_agreement(m.xf);
    const double sa = precise_agreement(refit);
    if (sa >= m.surface && refit.mirrored() == opt.mirrored) m.xf = refit, m.surface = sa, m.inliers = count(refit, nullptr);
  }
  std::stable_sort(kept.begin(), kept.end(), [](const FeatureMatch& x, const FeatureMatch& y) { return x.surface > y.surface; });
  return kept;
}

PlaneIcpResult icp_point_to_plane(std::span<const Vec3f> source, std::span<const Vec3f> source_normals,
                                  const PointIndex& target, std::span<const Vec3f> target_normals,
                                  const Similarity& init, int iterations, double reject) {
  PlaneIcpResult res;
  res.xf = init;
  if (source.empty() || source_normals.size() != source.size() || target.size() == 0 ||
      target_normals.size() != target.size() || !(reject > 0))
    return res;
  const auto& tp = target.points();
  const float reject2 = static_cast<float>(reject * reject);
  std::vector<Vec3f> moved(source.size());
  for (int it = 0; it < iterations; ++it) {
    // Linearised about the centroid of the moved source (small rotation w, translation t):
    // residual ((p - c) x n) . w + n . t = (q - p) . n for each pair (p, q, n).
    Eigen::Vector3d c = Eigen::Vector3d::Zero();
    for (size_t i = 0; i < source.size(); ++i) {
      moved[i] = res.xf.apply(source[i]);
      c += Eigen::Vector3d(moved[i][0], moved[i][1], moved[i][2]);
    }
    c /= double(source.size());
    const double inv_scale = 1.0 / std::max(1e-12, res.xf.scale());
    Eigen::Matrix<double, 6, 6> a = Eigen::Matrix<double, 6, 6>::Zero();
    Eigen::Matrix<double, 6, 1> b = Eigen::Matrix<double, 6, 1>::Zero();
    size_t n = 0;
    double err = 0;
    for (size_t i = 0; i < source.size(); ++i) {
      float d2 = 0;
      const uint32_t j = target.nearest_within(moved[i], reject2, &d2);
      if (j == UINT32_MAX) continue;
      const Vec3f& nt = target_normals[j];
      const Vec3f& ns = source_normals[i];
      double agree = 0;
      for (int k = 0; k < 3; ++k)
        agree += nt[k] * (res.xf.m[k * 3] * ns[0] + res.xf.m[k * 3 + 1] * ns[1] + res.xf.m[k * 3 + 2] * ns[2]);
      if (agree * inv_scale < 0.5) continue;
      const Eigen::Vector3d pe(moved[i][0], moved[i][1], moved[i][2]), ne(nt[0], nt[1], nt[2]);
      const double residual = (Eigen::Vector3d(tp[j][0], tp[j][1], tp[j][2]) - pe).dot(ne);
      Eigen::Matrix<double, 6, 1> row;
      row << (pe - c).cross(ne), ne;
      a += row * row.transpose();
      b += row * residual;
      err += residual * residual;
      ++n;
    }
    res.inlier_fraction = double(n) / double(source.size());
    res.rms = n ? std::sqrt(err / double(n)) : 0;
    if (n < 6) break;
    // A little damping keeps unconstrained directions (a flat piece turning about its normal,
    // sliding along a cylinder) where they are.
    const double trace = a.trace() / 6.0;
    for (int k = 0; k < 6; ++k) a(k, k) += 1e-6 * trace + 1e-12;
    const Eigen::Matrix<double, 6, 1> x = a.ldlt().solve(b);
    if (!x.allFinite()) break;
    const Eigen::Vector3d w = x.head<3>(), t = x.tail<3>();
    const double angle = w.norm();
    const Eigen::Matrix3d rot =
        angle > 1e-12 ? Eigen::AngleAxisd(angle, w / angle).toRotationMatrix() : Eigen::Matrix3d::Identity();
    // y = R (p - c) + c + t
    const Eigen::Vector3d shift = c - rot * c + t;
    Similarity step;
    for (int r = 0; r < 3; ++r)
      for (int k = 0; k < 3; ++k) step.m[r * 3 + k] = rot(r, k);
    step.t = {shift[0], shift[1], shift[2]};
    res.xf = compose(step, res.xf);
    if (angle < 1e-7 && t.norm() < 1e-6) break;
  }
  return res;
}

}  // namespace s3d
