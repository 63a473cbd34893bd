#include "geometry/local_features.h"

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

float feature_dist2(const Fpfh& a, const Fpfh& b) {
  float s = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const float d = a[i] - b[i];
    s += d * d;
  }
  return s;
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
  const size_t n = fc.points.size();
  {
    std::array<float, 3> lo{1e30f, 1e30f, 1e30f}, hi{-1e30f, -1e30f, -1e30f};
    for (const Vec3f& p : fc.points)
      for (int k = 0; k < 3; ++k) lo[k] = std::min(lo[k], p[k]), hi[k] = std::max(hi[k], p[k]);
    const float cell = voxel;
    constexpr double kMaxCells = 4.0e6;
    double cells = 1;
    std::array<int, 3> dims{};
    for (int k = 0; k < 3; ++k) {
      dims[k] = static_cast<int>((hi[k] - lo[k]) / cell) + 3;
      cells *= dims[k];
    }
    if (n > 0 && cells <= kMaxCells) {
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
  }
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
  std::vector<Vec3f> cs, ct;
  for (const auto& [flatness, i] : flat) {
    const Fpfh f = opt.mirrored ? mirror_feature(source.features[i]) : source.features[i];
    float b1 = 1e30f, b2 = 1e30f;
    size_t j1 = 0, j2 = 0;
    for (size_t j = 0; j < target.features.size(); ++j) {
      const float d = feature_dist2(f, target.features[j]);
      if (d < b1) {
        b2 = b1, j2 = j1;
        b1 = d, j1 = j;
      } else if (d < b2) {
        b2 = d, j2 = j;
      }
    }
    cs.push_back(source.points[i]);
    ct.push_back(target.points[j1]);
    if (b2 < 1e30f) {
      cs.push_back(source.points[i]);
      ct.push_back(target.points[j2]);
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
    for (size_t i = 0; i < n; ++i) {
      const Vec3f y = xf.apply(cs[i]);
      const double dx = double(y[0]) - ct[i][0], dy = double(y[1]) - ct[i][1], dz = double(y[2]) - ct[i][2];
      if (dx * dx + dy * dy + dz * dz <= tol2) {
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
    for (size_t k = 0; k < probes.size(); ++k) {
      on += target.near_surface(xf.apply(source.points[probes[k]]), xf.apply_dir(source.normals[probes[k]]));
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
    const Vec3f s3[3] = {cs[a], cs[b], cs[c]}, t3[3] = {ct[a], ct[b], ct[c]};
    FeatureMatch m;
    m.xf = fit_rigid(s3, t3, opt.mirrored);
    if (m.xf.mirrored() != opt.mirrored) continue;
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
    for (uint32_t i : probes) {
      float d2 = 0;
      const uint32_t j = target.index.nearest_within(xf.apply(source.points[i]), near2, &d2);
      on += j != UINT32_MAX && dot(xf.apply_dir(source.normals[i]), target.normals[j]) > 0.7;
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

}  // namespace s3d
