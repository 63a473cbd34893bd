#include "engine/matcher.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <numeric>

#include <tbb/parallel_for.h>

#include "engine/sha256.h"
#include "geometry/canonical_hash.h"
#include "geometry/connected_bodies.h"
#include "geometry/local_features.h"
#include "geometry/point_index.h"
#include "geometry/principal_frame.h"
#include "geometry/registration.h"
#include "geometry/sample_surface.h"
#include "geometry/shape_descriptor.h"

namespace s3d {

struct CompiledRef {
  Signature sig;
  std::string sha256_hex;  // empty when unknown
  std::vector<Vec3f> pts, nrm;
  std::vector<float> w;
  PointIndex index;
  std::vector<Vec3f> coarse, medium;  // subsets for the cheap ICP stages
  std::array<double, 3> variances{};
  std::array<double, 3> box_lo{}, box_hi{};
  double spacing = 1;  // typical distance between stored samples
  double diag = 1;
  // Local features for piece registration, built on first use (most references never need them).
  mutable std::once_flag features_once;
  mutable FeatureCloud features;
  const FeatureCloud& feature_cloud() const {
    std::call_once(features_once, [this] {
      const float radius = static_cast<float>(std::max(0.12 * diag, 4.0 * spacing));
      const float voxel = static_cast<float>(std::max(radius / 3.0, 1.2 * spacing));
      features = make_feature_cloud(pts, nrm, voxel, radius, 1500);
    });
    return features;
  }
};

namespace {

constexpr size_t kCoarsePoints = 128;
constexpr size_t kMediumPoints = 1000;
constexpr uint8_t kFeatureWeight = 200;  // distinctiveness of sharp edges and rims (0..255)

inline double dot3(const Vec3f& a, const Vec3f& b) { return double(a[0]) * b[0] + double(a[1]) * b[1] + double(a[2]) * b[2]; }
inline Vec3f sub3(const Vec3f& a, const Vec3f& b) { return {a[0] - b[0], a[1] - b[1], a[2] - b[2]}; }

std::vector<Vec3f> stride_subset(const std::vector<Vec3f>& v, size_t n) {
  std::vector<Vec3f> out;
  if (v.empty()) return out;
  const double step = std::max(1.0, double(v.size()) / double(n));
  for (double i = 0; i < double(v.size()) && out.size() < n; i += step) out.push_back(v[static_cast<size_t>(i)]);
  return out;
}

std::unique_ptr<CompiledRef> compile(Signature sig) {
  auto r = std::make_unique<CompiledRef>();
  r->sig = std::move(sig);
  bool any = false;
  for (uint8_t b : r->sig.meta.sha256) any |= b != 0;
  if (any) r->sha256_hex = to_hex(r->sig.meta.sha256);
  const auto& q = r->sig.points;
  r->pts.reserve(q.size());
  for (const QuantizedPoint& p : q) {
    r->pts.push_back({p.q[0] * kQuantumMm, p.q[1] * kQuantumMm, p.q[2] * kQuantumMm});
    Vec3f n{p.n[0] / 127.0f, p.n[1] / 127.0f, p.n[2] / 127.0f};
    const float len = std::sqrt(float(dot3(n, n)));
    if (len > 0) n = {n[0] / len, n[1] / len, n[2] / len};
    r->nrm.push_back(n);
    // Planes weigh less than edges, rims and curved detail (0.2 .. 1.2).
    r->w.push_back(0.2f + p.weight / 255.0f);
  }
  const PrincipalFrame f = principal_frame(r->pts);
  r->variances = f.variances;
  r->box_lo = {1e30, 1e30, 1e30};
  r->box_hi = {-1e30, -1e30, -1e30};
  for (const Vec3f& p : r->pts)
    for (int k = 0; k < 3; ++k) {
      r->box_lo[k] = std::min<double>(r->box_lo[k], p[k]);
      r->box_hi[k] = std::max<double>(r->box_hi[k], p[k]);
    }
  r->diag = std::max(1e-3, double(r->sig.diag_mm));
  r->spacing = std::sqrt(std::max(1e-6, double(r->sig.area_mm2)) / std::max<size_t>(1, r->pts.size()));
  r->coarse = stride_subset(r->pts, kCoarsePoints);
  r->medium = stride_subset(r->pts, kMediumPoints);
  r->index = PointIndex(r->pts);
  return r;
}

struct Unit {
  std::vector<uint32_t> ids;  // indices into the query sample
  std::vector<uint32_t> bodies;
  PrincipalFrame frame;
  ShapeDescriptor desc;
  double diag = 0;
  double spacing = 1;  // the coarsest sample spacing among the unit's bodies
  double volume = 0;   // enclosed volume of the unit's bodies (mm^3; 0 when unknown)
};

struct Query {
  SurfaceSample sample;
  PointIndex index;
  std::vector<Unit> units;
  uint32_t body_count = 0;
  double spacing = 1;                // typical distance between query samples, whole file
  std::vector<double> body_spacing;  // the same per body (sampling density differs between bodies)
  std::vector<double> body_volume;   // |signed volume| per body (mm^3), exact for closed bodies
  double total_area = 0;             // surface area of the file (mm^2)
};

double frame_diag(const PrincipalFrame& f) {
  return std::sqrt(f.extents[0] * f.extents[0] + f.extents[1] * f.extents[1] + f.extents[2] * f.extents[2]);
}

Unit make_unit(const Query& q, std::vector<uint32_t> ids, std::vector<uint32_t> bodies, uint64_t seed) {
  Unit u;
  u.ids = std::move(ids);
  u.bodies = std::move(bodies);
  std::vector<Vec3f> pts;
  pts.reserve(u.ids.size());
  for (uint32_t i : u.ids) pts.push_back(q.sample.points[i]);
  u.frame = principal_frame(pts);
  u.diag = frame_diag(u.frame);
  u.desc = compute_descriptor(pts, seed);
  u.spacing = 0;
  for (uint32_t b : u.bodies) u.spacing = std::max(u.spacing, q.body_spacing.empty() ? q.spacing : q.body_spacing[b]);
  if (u.spacing <= 0) u.spacing = q.spacing;
  for (uint32_t b : u.bodies) u.volume += b < q.body_volume.size() ? q.body_volume[b] : 0.0;
  return u;
}

void finish_query(Query& q, const MatchSettings& s);

Query prepare_query(const Mesh& mesh, const MatchSettings& s) {
  Query q;
  const std::vector<uint32_t> bot = body_of_triangle(mesh, &q.body_count);
  // Per-body areas and triangle lists.
  std::vector<double> body_area(q.body_count, 0.0);
  q.body_volume.assign(q.body_count, 0.0);
  std::vector<std::vector<uint32_t>> body_tris(q.body_count);
  double area = 0;
  for (size_t ti = 0; ti < mesh.triangles.size(); ++ti) {
    const Tri& t = mesh.triangles[ti];
    const Vec3f ab = sub3(mesh.vertices[t[1]], mesh.vertices[t[0]]), ac = sub3(mesh.vertices[t[2]], mesh.vertices[t[0]]);
    const double cx = double(ab[1]) * ac[2] - double(ab[2]) * ac[1], cy = double(ab[2]) * ac[0] - double(ab[0]) * ac[2],
                 cz = double(ab[0]) * ac[1] - double(ab[1]) * ac[0];
    const double a = 0.5 * std::sqrt(cx * cx + cy * cy + cz * cz);
    if (!std::isfinite(a)) continue;
    area += a;
    body_area[bot[ti]] += a;
    const Vec3f &p0 = mesh.vertices[t[0]], &p1 = mesh.vertices[t[1]], &p2 = mesh.vertices[t[2]];
    q.body_volume[bot[ti]] += (double(p0[0]) * (double(p1[1]) * p2[2] - double(p1[2]) * p2[1]) -
                               double(p0[1]) * (double(p1[0]) * p2[2] - double(p1[2]) * p2[0]) +
                               double(p0[2]) * (double(p1[0]) * p2[1] - double(p1[1]) * p2[0])) / 6.0;
    body_tris[bot[ti]].push_back(static_cast<uint32_t>(ti));
  }
  // Sample budget: half by area, half shared equally among the largest bodies, so a small part on a
  // plate of big models still gets enough points to be recognised.
  constexpr size_t kEqualShareBodies = 64;
  std::vector<uint32_t> order(q.body_count);
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return body_area[a] > body_area[b]; });
  const size_t n_equal = std::min<size_t>(kEqualShareBodies, q.body_count);
  const double n_total = s.query_points;
  q.body_spacing.assign(q.body_count, 1.0);
  for (size_t k = 0; k < order.size(); ++k) {
    const uint32_t b = order[k];
    if (!(body_area[b] > 0)) continue;
    double share = (q.body_count == 1 ? 1.0 : 0.5) * body_area[b] / std::max(area, 1e-30);
    if (q.body_count > 1 && k < n_equal) share += 0.5 / double(n_equal);
    const size_t nb = static_cast<size_t>(std::llround(n_total * share));
    if (nb == 0) continue;
    sample_triangles(mesh, body_tris[b], nb, s.seed + b, b, q.sample);
    q.body_spacing[b] = std::sqrt(body_area[b] / double(nb));
  }
  for (double& v : q.body_volume) v = std::fabs(v);
  q.total_area = area;
  finish_query(q, s);
  return q;
}

// Everything after sampling, shared by meshes and G-code reconstructions: index, units, clusters.
void finish_query(Query& q, const MatchSettings& s) {
  q.index = PointIndex(q.sample.points);
  q.spacing = std::sqrt(std::max(1e-9, q.total_area) / std::max<size_t>(1, q.sample.points.size()));
  const size_t n = q.sample.points.size();
  if (n == 0) return;

  // Per-body point lists and boxes.
  std::vector<std::vector<uint32_t>> body_pts(q.body_count);
  for (uint32_t i = 0; i < n; ++i) body_pts[q.sample.body[i]].push_back(i);
  std::vector<uint32_t> live;
  for (uint32_t b = 0; b < q.body_count; ++b)
    if (!body_pts[b].empty()) live.push_back(b);

  std::vector<uint32_t> all(n);
  std::iota(all.begin(), all.end(), 0u);
  q.units.push_back(make_unit(q, all, live, s.seed));
  if (live.size() <= 1) return;

  // Cluster bodies whose boxes come within a small gap of each other (parts split into pieces that
  // were moved apart, parts made of several shells), then add clusters and sizeable bodies as units.
  const double gap = std::max(3.0, 0.03 * q.units[0].diag);
  std::vector<std::array<float, 6>> box(q.body_count);
  for (uint32_t b : live) {
    std::array<float, 6> bx{1e30f, 1e30f, 1e30f, -1e30f, -1e30f, -1e30f};
    for (uint32_t i : body_pts[b])
      for (int k = 0; k < 3; ++k) {
        bx[k] = std::min(bx[k], q.sample.points[i][k]);
        bx[k + 3] = std::max(bx[k + 3], q.sample.points[i][k]);
      }
    box[b] = bx;
  }
  std::vector<uint32_t> parent(q.body_count);
  std::iota(parent.begin(), parent.end(), 0u);
  auto find = [&](uint32_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  // Pairwise box tests are quadratic: only the largest bodies are clustered (files with thousands
  // of tiny bodies, such as text or lattices, keep them as singletons, which stay below the unit cut).
  constexpr size_t kMaxClustered = 512;
  std::vector<uint32_t> big = live;
  std::stable_sort(big.begin(), big.end(), [&](uint32_t a, uint32_t b) { return body_pts[a].size() > body_pts[b].size(); });
  if (big.size() > kMaxClustered) big.resize(kMaxClustered);
  for (size_t a = 0; a < big.size(); ++a)
    for (size_t b = a + 1; b < big.size(); ++b) {
      const auto &A = box[big[a]], &B = box[big[b]];
      bool overlap = true;
      for (int k = 0; k < 3; ++k)
        if (A[k] - gap > B[k + 3] || B[k] - gap > A[k + 3]) overlap = false;
      if (overlap) parent[find(big[a])] = find(big[b]);
    }
  std::vector<std::vector<uint32_t>> clusters;
  {
    std::vector<int> slot(q.body_count, -1);
    for (uint32_t b : live) {
      const uint32_t r = find(b);
      if (slot[r] < 0) {
        slot[r] = static_cast<int>(clusters.size());
        clusters.emplace_back();
      }
      clusters[slot[r]].push_back(b);
    }
  }
  struct Cand {
    std::vector<uint32_t> bodies;
    size_t points;
  };
  std::vector<Cand> cands;
  if (clusters.size() > 1)
    for (const auto& c : clusters) {
      size_t np = 0;
      for (uint32_t b : c) np += body_pts[b].size();
      cands.push_back({c, np});
    }
  for (const auto& c : clusters) {
    if (c.size() == 1 && clusters.size() > 1) continue;  // already a cluster unit
    for (uint32_t b : c) cands.push_back({{b}, body_pts[b].size()});
  }
  std::stable_sort(cands.begin(), cands.end(), [](const Cand& a, const Cand& b) { return a.points > b.points; });
  constexpr size_t kMaxUnits = 24;
  const size_t min_points = std::max<size_t>(60, n / 400);
  for (const Cand& c : cands) {
    if (q.units.size() >= kMaxUnits) break;
    if (c.points < min_points) continue;
    std::vector<uint32_t> ids;
    for (uint32_t b : c.bodies) ids.insert(ids.end(), body_pts[b].begin(), body_pts[b].end());
    std::sort(ids.begin(), ids.end());
    q.units.push_back(make_unit(q, std::move(ids), c.bodies, s.seed));
  }
}

Query prepare_query(const SampledInput& in, const MatchSettings& s) {
  Query q;
  q.sample = in.sample;
  q.body_count = in.bodies;
  for (uint32_t b : q.sample.body) q.body_count = std::max(q.body_count, b + 1);
  std::vector<size_t> count(q.body_count, 0);
  for (uint32_t b : q.sample.body) ++count[b];
  q.body_spacing.assign(q.body_count, 1.0);
  q.body_volume.assign(q.body_count, 0.0);
  q.total_area = 0;
  for (uint32_t b = 0; b < q.body_count; ++b) {
    const double a = b < in.body_area.size() ? in.body_area[b] : 0.0;
    q.total_area += a;
    if (count[b] > 0 && a > 0) q.body_spacing[b] = std::sqrt(a / double(count[b]));
    if (b < in.body_volume.size()) q.body_volume[b] = in.body_volume[b];
  }
  finish_query(q, s);
  return q;
}

struct Scored {
  double score = 0, coverage = 0, extraneous = 0;
};

// Distinctiveness-weighted coverage of the reference by the file under `xf`, and the extraneous
// material fraction inside the reference footprint.
// `feature_cap`: whether the sharpest features must all be found. True when the file unit is no
// larger than the reference; a part embedded in extra material loses the features of the faces the
// material covers, so there the extraneous-material check has to do that work alone.
Scored score_alignment(const CompiledRef& r, const Query& q, const Similarity& xf, double spacing,
                       std::vector<uint8_t>* covered_out, bool feature_cap = true) {
  Scored s;
  const double scale = xf.scale();
  const double tol = std::max(0.008 * r.diag * scale, 0.2);
  const double radius = std::max(3.0 * tol, 2.5 * spacing);
  const double radius_sq = radius * radius;
  double wsum = 0, wcov = 0;
  size_t n_feature = 0, feature_hits = 0;
  if (covered_out) covered_out->assign(r.pts.size(), 0);
  for (size_t i = 0; i < r.pts.size(); ++i) {
    wsum += r.w[i];
    const bool feature = r.sig.points[i].weight >= kFeatureWeight;
    n_feature += feature;
    const Vec3f y = xf.apply(r.pts[i]);
    uint32_t idx[4];
    float d2[4];
    const size_t k = q.index.knn_within(y, 4, static_cast<float>(radius_sq), idx, d2);
    const Vec3f ny = xf.apply_dir(r.nrm[i]);
    bool hit = false;
    // Point-to-plane distance along the reference's own (clean) normal, so noisy file normals do not
    // matter for distance; the file normal only has to agree loosely (within about 60 degrees).
    for (size_t m = 0; m < k && !hit; ++m) {
      const Vec3f& nq = q.sample.normals[idx[m]];
      hit = std::fabs(dot3(sub3(y, q.sample.points[idx[m]]), ny)) <= tol && std::fabs(dot3(ny, nq)) >= 0.5;
    }
    if (!hit) continue;
    wcov += r.w[i];
    feature_hits += feature;
    if (covered_out) (*covered_out)[i] = 1;
  }
  s.coverage = wsum > 0 ? wcov / wsum : 0;
  // The sharpest features (edges, hole rims) must be found nearly all: a blank that covers a
  // plate's faces and outer edges but not its holes' rims is capped here.
  const double feature_cov = (feature_cap && n_feature >= 40) ? double(feature_hits) / double(n_feature) : 1.0;

  // Extraneous material: file samples inside the reference's (slightly shrunk) box that lie on no
  // reference surface.
  const Similarity inv = xf.inverse();
  const double rtol = tol / scale;
  std::array<double, 3> lo, hi;
  for (int k = 0; k < 3; ++k) {
    const double shrink = std::min(2.0 * rtol, 0.25 * (r.box_hi[k] - r.box_lo[k]));
    lo[k] = r.box_lo[k] + shrink;
    hi[k] = r.box_hi[k] - shrink;
  }
  size_t inside = 0, extra = 0;
  const double near = 2.5 * r.spacing + rtol;
  const size_t step = std::max<size_t>(1, q.sample.points.size() / 5000);
  for (size_t j = 0; j < q.sample.points.size(); j += step) {
    const Vec3f x = inv.apply(q.sample.points[j]);
    if (x[0] < lo[0] || x[0] > hi[0] || x[1] < lo[1] || x[1] > hi[1] || x[2] < lo[2] || x[2] > hi[2]) continue;
    ++inside;
    uint32_t idx[4];
    float d2[4];
    const size_t k = r.index.knn_within(x, 4, static_cast<float>(near * near), idx, d2);
    bool on_surface = false;
    for (size_t m = 0; m < k && !on_surface; ++m) {
      if (std::fabs(dot3(sub3(x, r.pts[idx[m]]), r.nrm[idx[m]])) <= 2.0 * rtol) on_surface = true;
    }
    if (!on_surface) ++extra;
  }
  s.extraneous = inside >= 40 ? double(extra) / double(inside) : 0.0;
  // Up to 12 % extraneous material is tolerated: a block or boss united with the part overlaps its
  // footprint a little. Beyond that the score falls fast (a plate covering holes, a larger solid).
  const double penalty = std::clamp(1.0 - 2.5 * (s.extraneous - 0.12), 0.0, 1.0);
  s.score = std::min(s.coverage, 1.3 * feature_cov - 0.25) * penalty;
  return s;
}

// Quick score on a subset: weighted fraction of points within tolerance (point-to-plane).
double quick_score(const std::vector<Vec3f>& pts, const Query& q, const Similarity& xf, double tol, double spacing) {
  const double radius_sq = std::pow(std::max(3.0 * tol, 2.5 * spacing), 2);
  size_t hit = 0;
  for (const Vec3f& p : pts) {
    const Vec3f y = xf.apply(p);
    float d2 = 0;
    const uint32_t j = q.index.nearest_within(y, static_cast<float>(radius_sq), &d2);
    if (j == UINT32_MAX) continue;
    if (std::fabs(dot3(sub3(y, q.sample.points[j]), q.sample.normals[j])) <= tol) ++hit;
  }
  return pts.empty() ? 0 : double(hit) / double(pts.size());
}

Similarity frame_init(const PrincipalFrame& uf, const std::array<double, 9>& rot_in_ref, double s,
                      const std::array<double, 3>& ref_anchor, const std::array<double, 3>& query_anchor) {
  // m = s * A_u * rot, where A_u has the unit's axes as columns; ref canonical axes are x, y, z.
  Similarity xf;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      double v = 0;
      for (int k = 0; k < 3; ++k) v += uf.axes[k][i] * rot_in_ref[k * 3 + j];
      xf.m[i * 3 + j] = s * v;
    }
  for (int i = 0; i < 3; ++i)
    xf.t[i] = query_anchor[i] - (xf.m[i * 3] * ref_anchor[0] + xf.m[i * 3 + 1] * ref_anchor[1] + xf.m[i * 3 + 2] * ref_anchor[2]);
  return xf;
}

std::array<double, 9> mul3(const std::array<double, 9>& a, const std::array<double, 9>& b) {
  std::array<double, 9> r{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) r[i * 3 + j] += a[i * 3 + k] * b[k * 3 + j];
  return r;
}

std::array<double, 9> axis_rotation(int axis, double angle) {
  const double c = std::cos(angle), s = std::sin(angle);
  std::array<double, 9> r{1, 0, 0, 0, 1, 0, 0, 0, 1};
  const int a = (axis + 1) % 3, b = (axis + 2) % 3;
  r[a * 3 + a] = c;
  r[a * 3 + b] = -s;
  r[b * 3 + a] = s;
  r[b * 3 + b] = c;
  return r;
}

struct Verified {
  Scored scored;
  Similarity xf;
  std::vector<uint32_t> bodies;
};

Verified verify(const CompiledRef& r, const Query& q, const Unit& u, const MatchSettings& s) {
  Verified best;
  const double ratio = u.diag / r.diag;
  const double var_ratio = std::sqrt((u.frame.variances[0] + u.frame.variances[1] + u.frame.variances[2]) /
                                     std::max(1e-12, r.variances[0] + r.variances[1] + r.variances[2]));
  // A unit about the reference's size may be the part itself, possibly rescaled: start from the
  // size ratio. Outside the accepted scale range such a match can only lead to review.
  const bool whole_like = ratio > 0.45 && ratio < 2.2;
  const double s0 = whole_like ? std::clamp(var_ratio, 0.5, 2.0) : 1.0;
  const double smin = std::min(s.min_scale * 0.95, s0 * 0.93), smax = std::max(s.max_scale * 1.05, s0 * 1.07);

  // Rotations of the reference frame to try: the 8 axis sign flips (4 proper, 4 mirrored), plus
  // turns about an axis whose two perpendicular variances are nearly equal (symmetric parts).
  std::vector<std::array<double, 9>> rots;
  for (int sx = -1; sx <= 1; sx += 2)
    for (int sy = -1; sy <= 1; sy += 2)
      for (int sz = -1; sz <= 1; sz += 2) rots.push_back({double(sx), 0, 0, 0, double(sy), 0, 0, 0, double(sz)});
  auto near_equal = [](double a, double b) { return std::min(a, b) / std::max(a, b) > 0.8; };
  const auto& v = r.variances;
  const auto& uv = u.frame.variances;
  std::vector<std::array<double, 9>> extra;
  for (int axis = 0; axis < 3; ++axis) {
    const int a = (axis + 1) % 3, b = (axis + 2) % 3;
    if (near_equal(v[a], v[b]) || near_equal(uv[a], uv[b]))
      for (int k = 1; k < 8; ++k)
        if (k != 4)
          for (const auto& base : {rots[0], rots[7]}) extra.push_back(mul3(axis_rotation(axis, k * M_PI / 4), base));
  }
  rots.insert(rots.end(), extra.begin(), extra.end());

  // Anchors: centroid to centroid; and, when the unit is larger than the reference (embedded in
  // material, grouped with other bodies), the reference box flush with each face of the unit's box.
  struct Anchor {
    int axis = -1;  // -1: centroids coincide
    int side = 0;
  };
  std::vector<Anchor> anchors{Anchor{}};
  if (ratio > 1.12)
    for (int k = 0; k < 3; ++k)
      for (int side = -1; side <= 1; side += 2) anchors.push_back({k, side});

  const double tol = std::max(0.008 * r.diag * s0, 0.2);
  struct Trial {
    double score;
    Similarity xf;
  };
  std::vector<Trial> trials;
  IcpOptions coarse_opt;
  coarse_opt.iterations = 6;
  coarse_opt.start_reject = 0.25 * r.diag * s0;
  coarse_opt.end_reject = 0.05 * r.diag * s0;
  coarse_opt.min_scale = smin;
  coarse_opt.max_scale = smax;
  bool settled = false;
  for (size_t ri = 0; ri < rots.size() && !settled; ++ri) {
    const auto& rot = rots[ri];
    // Flush-face anchors only with the eight principal-axis frames: enough for a block on one face.
    const size_t n_anchors = ri < 8 ? anchors.size() : 1;
    for (size_t ai = 0; ai < n_anchors && !settled; ++ai) {
      Similarity init;
      if (anchors[ai].axis < 0) {
        init = frame_init(u.frame, rot, s0, {0, 0, 0}, u.frame.centroid);
      } else {
        // Flush-face anchor: the reference box, rotated into the unit frame, touches the unit box
        // on one face along unit axis k and is centred on the other two axes.
        const int side = anchors[ai].side;
        const int k = anchors[ai].axis;
        init = frame_init(u.frame, rot, s0, {0, 0, 0}, {0, 0, 0});
        // Reference box centre and half-extent along each unit axis after rotation.
        std::array<double, 3> rc{}, rh{};
        for (int i = 0; i < 3; ++i) {
          double c = 0, h = 0;
          for (int j = 0; j < 3; ++j) {
            const double rij = s0 * rot[i * 3 + j];
            c += rij * 0.5 * (r.box_lo[j] + r.box_hi[j]);
            h += std::fabs(rij) * 0.5 * (r.box_hi[j] - r.box_lo[j]);
          }
          rc[i] = c;
          rh[i] = h;
        }
        std::array<double, 3> target{};  // desired ref box centre in unit-frame coordinates (relative to unit box centre)
        for (int i = 0; i < 3; ++i) target[i] = 0;
        target[k] = side * std::max(0.0, 0.5 * u.frame.extents[k] - rh[k]);
        for (int i = 0; i < 3; ++i) {
          double t = u.frame.center[i];
          for (int j = 0; j < 3; ++j) t += u.frame.axes[j][i] * (target[j] - rc[j]);
          init.t[i] = t;
        }
      }
      const IcpResult ir = icp_one_sided(r.coarse, q.index, init, coarse_opt);
      trials.push_back({quick_score(r.coarse, q, ir.xf, tol, u.spacing), ir.xf});
      // A near-perfect fit cannot be beaten by much: stop searching (ties with mirror images are
      // settled in the fine stage only among the kept trials).
      settled = trials.back().score > 0.95 && ri >= 7;
    }
  }
  std::sort(trials.begin(), trials.end(), [](const Trial& a, const Trial& b) { return a.score > b.score; });
  best.xf = trials.empty() ? Similarity{} : trials[0].xf;
  // A candidate whose best coarse alignment explains little of its surface is not refined further.
  if (trials.empty() || trials[0].score < 0.35) {
    best.scored.score = best.scored.coverage = trials.empty() ? 0 : 0.5 * trials[0].score;
    best.bodies = u.bodies;
    return best;
  }
  IcpOptions fine_opt;
  fine_opt.iterations = 12;
  fine_opt.start_reject = 0.06 * r.diag * s0;
  fine_opt.end_reject = 2.5 * tol;
  fine_opt.min_scale = smin;
  fine_opt.max_scale = smax;
  const size_t keep = std::min<size_t>(3, trials.size());
  double best_quick = -1;
  bool best_mirrored = false;
  for (size_t i = 0; i < keep; ++i) {
    if (i > 0 && trials[i].score < 0.6 * trials[0].score) break;
    const IcpResult ir = icp_one_sided(r.medium, q.index, trials[i].xf, fine_opt);
    const double qs = quick_score(r.medium, q, ir.xf, tol, u.spacing);
    // Mirror-symmetric parts fit equally well both ways: prefer the unmirrored reading on a tie.
    const bool better = qs > best_quick + 0.01 || (qs > best_quick - 0.01 && best_mirrored && !ir.xf.mirrored());
    if (better) {
      best_quick = std::max(best_quick, qs);
      best_mirrored = ir.xf.mirrored();
      best.xf = ir.xf;
    }
  }
  best.scored = score_alignment(r, q, best.xf, u.spacing, nullptr, u.diag < 1.04 * r.diag * best.xf.scale());
  best.bodies = u.bodies;
  return best;
}

// Pieces of a split part: refine each body on its own (query body into the reference frame) and
// score the reference coverage jointly over all pieces.
Verified refine_pieces(const CompiledRef& r, const Query& q, const Unit& u, const Verified& start) {
  Verified out = start;
  if (u.bodies.size() < 2 || u.bodies.size() > 12) return out;
  const Similarity inv = start.xf.inverse();
  std::vector<uint8_t> covered(r.pts.size(), 0), tmp;
  std::vector<uint32_t> used;
  for (uint32_t b : u.bodies) {
    std::vector<Vec3f> pts;
    for (uint32_t i : u.ids)
      if (q.sample.body[i] == b) pts.push_back(q.sample.points[i]);
    if (pts.size() < 40) continue;
    const std::vector<Vec3f> sub = stride_subset(pts, 600);
    IcpOptions opt;
    opt.iterations = 15;
    opt.start_reject = 0.15 * r.diag;
    opt.end_reject = 0.02 * r.diag;
    const IcpResult ir = icp_one_sided(sub, r.index, inv, opt);  // rigid in the reference frame, scale held
    const Similarity piece_xf = ir.xf.inverse();
    // Coverage of the reference by this body alone.
    Query body_q;
    body_q.spacing = q.body_spacing.empty() ? q.spacing : q.body_spacing[b];
    std::vector<uint32_t> ids;
    for (uint32_t i : u.ids)
      if (q.sample.body[i] == b) ids.push_back(i);
    body_q.sample.points.reserve(ids.size());
    for (uint32_t i : ids) {
      body_q.sample.points.push_back(q.sample.points[i]);
      body_q.sample.normals.push_back(q.sample.normals[i]);
      body_q.sample.body.push_back(b);
    }
    body_q.index = PointIndex(body_q.sample.points);
    score_alignment(r, body_q, piece_xf, body_q.spacing, &tmp);
    bool any = false;
    for (size_t i = 0; i < covered.size(); ++i)
      if (tmp[i]) covered[i] = 1, any = true;
    if (any) used.push_back(b);
  }
  double wsum = 0, wcov = 0;
  for (size_t i = 0; i < covered.size(); ++i) {
    wsum += r.w[i];
    if (covered[i]) wcov += r.w[i];
  }
  const double joint = wsum > 0 ? wcov / wsum : 0;
  if (joint > out.scored.coverage) {
    // Extraneous material was measured for the whole-unit alignment; keep its penalty.
    const double penalty = out.scored.coverage > 0 ? out.scored.score / out.scored.coverage : 1.0;
    out.scored.coverage = joint;
    out.scored.score = joint * std::min(1.0, penalty);
    out.bodies = used;
  }
  return out;
}

// Pieces of a split part, each placed anywhere in any pose: every body is registered into the
// reference on its own by local features (FPFH correspondences, RANSAC, then ICP), and the reference
// coverage is scored jointly over the pieces that fit. A piece counts only when most of it lies on the
// reference surface (its cut faces do not), and all pieces share one handedness.
Verified register_pieces(const CompiledRef& r, const Query& q, const Unit& u, const Verified& start) {
  Verified out = start;
  if (u.bodies.size() < 2 || u.bodies.size() > 12) return out;
  const FeatureCloud& rf = r.feature_cloud();
  if (rf.points.size() < 16) return out;
  const double tol = std::max(0.008 * r.diag, 0.2);
  const float near2 = static_cast<float>(std::pow(std::max(2.0 * tol, 1.5 * r.spacing), 2));
  constexpr size_t kHypotheses = 8;
  struct Option {
    Similarity xf;                 // piece -> reference
    std::vector<uint8_t> covered;  // reference points this placement covers
    double on = 0;
  };
  struct Piece {
    uint32_t body;
    size_t size;
    std::vector<Option> options[2];  // proper, mirrored
  };
  std::vector<Piece> pieces;
  for (uint32_t b : u.bodies) {
    Query body_q;
    for (uint32_t i : u.ids)
      if (q.sample.body[i] == b) {
        body_q.sample.points.push_back(q.sample.points[i]);
        body_q.sample.normals.push_back(q.sample.normals[i]);
      }
    if (body_q.sample.points.size() < 40) continue;
    const FeatureCloud pc = make_feature_cloud(body_q.sample.points, body_q.sample.normals, rf.voxel, rf.radius, 1500);
    if (pc.points.size() < 12) continue;
    body_q.spacing = q.body_spacing.empty() ? q.spacing : q.body_spacing[b];
    body_q.sample.body.assign(body_q.sample.points.size(), b);
    body_q.index = PointIndex(body_q.sample.points);
    const std::vector<Vec3f> sub = stride_subset(body_q.sample.points, 250);
    Piece piece{b, body_q.sample.points.size(), {}};
    for (int m = 0; m < 2; ++m) {
      FeatureMatchOptions fo;
      fo.keypoints = 200;
      fo.iterations = 5000;
      fo.inlier_dist = 1.5f * rf.voxel;
      fo.mirrored = m == 1;
      fo.seed = 0x9e3779b9u + b;
      const std::vector<FeatureMatch> hyps = feature_register(pc, rf, fo, kHypotheses);
      // Starting placements: the feature hypotheses, and the whole unit's alignment (right when the
      // pieces were only moved apart a little).
      std::vector<Similarity> inits;
      for (const FeatureMatch& fm : hyps)
        if (fm.inliers >= 6 && fm.surface >= 0.6 * hyps[0].surface) inits.push_back(fm.xf);
      const Similarity whole = start.xf.inverse();
      if (whole.mirrored() == (m == 1) && std::fabs(whole.scale() - 1.0) < 0.2) {
        Similarity w = whole;
        const double k = 1.0 / whole.scale();
        for (double& x : w.m) x *= k;
        inits.push_back(w);
      }
      for (const Similarity& init : inits) {
        IcpOptions opt;
        opt.iterations = 10;
        opt.start_reject = 3.0 * rf.voxel;
        opt.end_reject = std::max(2.0 * tol, 1.5 * r.spacing);
        const IcpResult ir = icp_one_sided(sub, r.index, init, opt);
        // Most of the piece must lie on the reference surface (its cut faces are the rest).
        size_t on = 0;
        for (const Vec3f& x : sub) {
          float d2 = 0;
          on += r.index.nearest_within(ir.xf.apply(x), near2, &d2) != UINT32_MAX;
        }
        Option o;
        o.xf = ir.xf;
        o.on = double(on) / double(sub.size());
        if (o.on < 0.6) continue;
        piece.options[m].push_back(std::move(o));
      }
      // Coverage (the costly part) only for the placements that fit best.
      auto& opts = piece.options[m];
      std::stable_sort(opts.begin(), opts.end(), [](const Option& x, const Option& y) { return x.on > y.on; });
      if (opts.size() > 3) opts.resize(3);
      for (Option& o : opts) score_alignment(r, body_q, o.xf.inverse(), body_q.spacing, &o.covered);
    }
    pieces.push_back(std::move(piece));
  }
  if (pieces.size() < 2) return out;
  std::stable_sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) { return a.size > b.size; });

  // Per handedness, place the pieces greedily (largest first), each where it adds the most
  // distinctiveness-weighted coverage; keep the better handedness.
  for (int hand = 0; hand < 2; ++hand) {
    std::vector<uint8_t> covered(r.pts.size(), 0);
    std::vector<uint32_t> used;
    Similarity first;
    for (const Piece& p : pieces) {
      double best_gain = 0;
      const Option* pick = nullptr;
      for (const Option& o : p.options[hand]) {
        double gain = 0;
        for (size_t i = 0; i < covered.size(); ++i)
          if (o.covered[i] && !covered[i]) gain += r.w[i];
        if (gain > best_gain) best_gain = gain, pick = &o;
      }
      if (!pick) continue;
      for (size_t i = 0; i < covered.size(); ++i) covered[i] |= pick->covered[i];
      if (used.empty()) first = pick->xf.inverse();
      used.push_back(p.body);
    }
    if (used.size() < 2) continue;
    double wsum = 0, wcov = 0;
    size_t n_feature = 0, feature_hits = 0;
    for (size_t i = 0; i < covered.size(); ++i) {
      wsum += r.w[i];
      const bool feature = r.sig.points[i].weight >= kFeatureWeight;
      n_feature += feature;
      if (covered[i]) wcov += r.w[i], feature_hits += feature;
    }
    const double joint = wsum > 0 ? wcov / wsum : 0;
    const double feature_cov = n_feature >= 40 ? double(feature_hits) / double(n_feature) : 1.0;
    const double score = std::min(joint, 1.3 * feature_cov - 0.25);
    if (std::getenv("S3D_DEBUG")) std::fprintf(stderr, "pieces hand %d used %zu joint %.3f feat %.3f\n", hand, used.size(), joint, feature_cov);
    if (score > out.scored.score) {
      out.scored.coverage = joint;
      out.scored.score = score;
      out.scored.extraneous = 0;
      out.bodies = used;
      out.xf = first;
    }
  }
  return out;
}

// Retrieval, verification and verdict for a prepared query.
MatchOutcome match_query(const std::vector<std::unique_ptr<CompiledRef>>& refs, const MatchSettings& settings, const Query& q) {
  MatchOutcome out;
  out.bodies = q.body_count;
  if (q.sample.points.empty()) return out;

  // Retrieval: per unit, plausible sizes ranked by descriptor distance.
  struct Job {
    size_t unit, ref, rank;
  };
  std::vector<Job> jobs;
  for (size_t ui = 0; ui < q.units.size(); ++ui) {
    const Unit& u = q.units[ui];
    std::vector<std::pair<float, size_t>> ranked;
    for (size_t ri = 0; ri < refs.size(); ++ri) {
      const double ratio = u.diag / refs[ri]->diag;
      const bool same_size = ratio >= settings.min_scale * 0.9 && ratio <= settings.max_scale * 1.1;
      const bool rescaled = ratio >= 0.5 && ratio <= 2.0;
      const bool contains = ratio > 1.0 && ratio < 3.5;
      if (!same_size && !rescaled && !contains) continue;
      float d = descriptor_distance(u.desc, refs[ri]->sig.descriptor);
      // A whole part at its own size is the strongest hypothesis; a rescaled copy (review at most)
      // and a part inside extra material are weaker.
      if (!same_size) d += rescaled ? 0.3f : 0.5f;
      ranked.emplace_back(d, ri);
    }
    std::sort(ranked.begin(), ranked.end());
    const size_t k = std::min<size_t>(settings.candidates_per_unit, ranked.size());
    for (size_t i = 0; i < k; ++i) jobs.push_back({ui, ranked[i].second, i});
    // Pieces of a split part keep the part's volume (cut faces close each piece): for a unit of
    // several bodies, the references of nearly the same volume are candidates too, whatever the
    // descriptor says (the gaps between moved pieces change every global descriptor).
    if (u.bodies.size() >= 2 && u.bodies.size() <= 12 && u.volume > 0) {
      std::vector<std::pair<double, size_t>> by_volume;
      for (size_t ri = 0; ri < refs.size(); ++ri) {
        const double rv = refs[ri]->sig.volume_mm3;
        if (!(rv > 0)) continue;
        const double d = std::fabs(std::log(u.volume / rv));
        if (d < std::log(1.08)) by_volume.emplace_back(d, ri);
      }
      std::sort(by_volume.begin(), by_volume.end());
      for (size_t i = 0; i < by_volume.size() && i < 3; ++i) {
        bool have = false;
        for (size_t j = jobs.size() - k; j < jobs.size(); ++j) have |= jobs[j].ref == by_volume[i].second;
        if (!have) jobs.push_back({ui, by_volume[i].second, 0});
      }
    }
  }

  std::vector<MatchEvidence> ev;
  std::vector<double> best_per_ref(refs.size(), -1);
  std::vector<MatchEvidence> per_ref(refs.size());
  // Candidates are verified in parallel (read-only query and references); results are merged in job
  // order so the outcome does not depend on scheduling.
  std::vector<Verified> results(jobs.size());
  tbb::parallel_for(size_t{0}, jobs.size(), [&](size_t ji) {
    const Job& j = jobs[ji];
    const CompiledRef& r = *refs[j.ref];
    Verified v = verify(r, q, q.units[j.unit], settings);
    if (q.units[j.unit].bodies.size() > 1 && v.scored.score < settings.restricted_threshold && v.scored.coverage > 0.25)
      v = refine_pieces(r, q, q.units[j.unit], v);
    // Piece registration is the expensive stage: only for units whose bodies together have the
    // reference's volume within 8 % (a split part keeps it: cut faces close each piece).
    const Unit& u = q.units[j.unit];
    const double rv = r.sig.volume_mm3;
    const bool volume_match = rv > 0 && u.volume > 0 && std::fabs(std::log(u.volume / rv)) < std::log(1.08);
    if (u.bodies.size() > 1 && v.scored.score < settings.restricted_threshold && volume_match)
      v = register_pieces(r, q, u, v);
    results[ji] = std::move(v);
  });
  for (size_t ji = 0; ji < jobs.size(); ++ji) {
    const Job& j = jobs[ji];
    const CompiledRef& r = *refs[j.ref];
    const Verified& v = results[ji];
    if (v.scored.score <= best_per_ref[j.ref]) continue;
    best_per_ref[j.ref] = v.scored.score;
    MatchEvidence& e = per_ref[j.ref];
    e.signature_index = static_cast<uint32_t>(j.ref);
    e.signature_id = r.sig.meta.id;
    e.label = r.sig.meta.label;
    e.category = r.sig.meta.category;
    e.score = v.scored.score;
    e.coverage = v.scored.coverage;
    e.extraneous = v.scored.extraneous;
    e.scale = v.xf.scale();
    e.mirrored = v.xf.mirrored();
    for (int i = 0; i < 3; ++i) {
      for (int k = 0; k < 3; ++k) e.transform[i * 4 + k] = v.xf.m[i * 3 + k];
      e.transform[i * 4 + 3] = v.xf.t[i];
    }
    e.bodies = v.bodies;
  }
  for (size_t ri = 0; ri < refs.size(); ++ri)
    if (best_per_ref[ri] >= 0) ev.push_back(per_ref[ri]);
  std::sort(ev.begin(), ev.end(), [](const MatchEvidence& a, const MatchEvidence& b) { return a.score > b.score; });

  out.verdict = Verdict::kClean;
  for (const MatchEvidence& e : ev) {
    out.best_score = std::max(out.best_score, e.score);
    const bool scale_ok = e.scale >= settings.min_scale && e.scale <= settings.max_scale;
    Verdict v = Verdict::kClean;
    if (e.score >= settings.restricted_threshold)
      v = scale_ok ? Verdict::kRestricted : Verdict::kReview;
    else if (e.score >= settings.review_threshold)
      v = Verdict::kReview;
    if (v == Verdict::kClean) continue;
    out.matches.push_back(e);
    if (v == Verdict::kRestricted) out.verdict = Verdict::kRestricted;
    else if (out.verdict != Verdict::kRestricted) out.verdict = Verdict::kReview;
  }
  return out;
}

}  // namespace

Matcher::Matcher(std::vector<Signature> signatures, const MatchSettings& settings) : settings_(settings) {
  refs_.reserve(signatures.size());
  for (Signature& s : signatures) refs_.push_back(compile(std::move(s)));
}

Matcher::~Matcher() = default;

MatchOutcome Matcher::match(const Mesh& mesh, const std::string& sha256_hex) const {
  MatchOutcome out;
  if (refs_.empty()) return out;

  // Exact copies first: the reference file itself, a re-export, a re-posed copy.
  constexpr size_t kHashMaxTriangles = 2'000'000;
  const bool hash_ok = settings_.use_hashes && mesh.triangles.size() <= kHashMaxTriangles;
  const uint64_t exact = hash_ok ? exact_geometry_hash(mesh) : 0;
  const uint64_t pose = hash_ok ? pose_invariant_hash(mesh) : 0;
  for (size_t ri = 0; ri < refs_.size(); ++ri) {
    const CompiledRef& r = *refs_[ri];
    const char* method = nullptr;
    if (settings_.use_hashes && !sha256_hex.empty() && sha256_hex == r.sha256_hex) method = "sha256";
    else if (exact != 0 && exact == r.sig.meta.exact_hash) method = "geometry-hash";
    else if (pose != 0 && pose == r.sig.meta.pose_hash) method = "pose-hash";
    if (!method) continue;
    MatchEvidence e;
    e.signature_index = static_cast<uint32_t>(ri);
    e.signature_id = r.sig.meta.id;
    e.label = r.sig.meta.label;
    e.category = r.sig.meta.category;
    e.score = e.coverage = 1.0;
    e.method = method;
    e.transform = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0};
    out.matches.push_back(std::move(e));
  }
  if (!out.matches.empty()) {
    uint32_t nb = 0;
    body_of_triangle(mesh, &nb);
    out.bodies = nb;
    for (uint32_t b = 0; b < nb; ++b) out.matches[0].bodies.push_back(b);
    out.best_score = 1.0;
    out.verdict = Verdict::kRestricted;
    return out;
  }

  return match_query(refs_, settings_, prepare_query(mesh, settings_));
}

MatchOutcome Matcher::match_sample(const SampledInput& input) const {
  if (refs_.empty()) return {};
  return match_query(refs_, settings_, prepare_query(input, settings_));
}

}  // namespace s3d
