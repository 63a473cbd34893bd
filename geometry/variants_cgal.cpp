// CGAL-based evasion transforms: isotropic remeshing, edge-collapse decimation, Loop subdivision,
// plane splits, and booleans (block, through hole, boss). Inputs go through a polygon soup
// (repair, orient, convert) into a CGAL::Surface_mesh with an inexact-constructions kernel; the
// booleans and volume clipping only run on parts that are closed, free of self-intersections and
// bound a volume (checked first, since CGAL's preconditions are compiled out in release builds).
// Garland-Heckbert decimation needs CGAL's Eigen support (Eigen is a dependency of this library).
#ifndef CGAL_EIGEN3_ENABLED
#define CGAL_EIGEN3_ENABLED 1
#endif
// Eigen, pulled in by the Garland-Heckbert policies, trips gcc 12's -Wmaybe-uninitialized in its
// fixed-size matrix copies; the warning belongs to the library headers, so it is silenced there only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <CGAL/Exact_predicates_exact_constructions_kernel.h>
#include <CGAL/Exact_predicates_inexact_constructions_kernel.h>
#include <CGAL/boost/graph/copy_face_graph.h>
#include <CGAL/Polygon_mesh_processing/clip.h>
#include <CGAL/Polygon_mesh_processing/connected_components.h>
#include <CGAL/Polygon_mesh_processing/corefinement.h>
#include <CGAL/Polygon_mesh_processing/detect_features.h>
#include <CGAL/Polygon_mesh_processing/orient_polygon_soup.h>
#include <CGAL/Polygon_mesh_processing/orientation.h>
#include <CGAL/Polygon_mesh_processing/polygon_soup_to_polygon_mesh.h>
#include <CGAL/Polygon_mesh_processing/remesh.h>
#include <CGAL/Polygon_mesh_processing/repair_polygon_soup.h>
#include <CGAL/Polygon_mesh_processing/self_intersections.h>
#include <CGAL/Polygon_mesh_processing/triangulate_faces.h>
#include <CGAL/Surface_mesh.h>
#include <CGAL/Surface_mesh_simplification/Policies/Edge_collapse/GarlandHeckbert_policies.h>
#include <CGAL/Surface_mesh_simplification/edge_collapse.h>
#include <CGAL/boost/graph/helpers.h>
#include <CGAL/subdivision_method_3.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <string>
#include <tuple>

#include "geometry/shapes.h"
#include "geometry/variants.h"
#include "geometry/variants_box.h"

namespace s3d::variants {
namespace {

using K = CGAL::Exact_predicates_inexact_constructions_kernel;
using Point = K::Point_3;
using Vector = K::Vector_3;
using Sm = CGAL::Surface_mesh<Point>;
// Exact constructions for cutting closed parts by planes: a second clip through the new vertices of
// a first one, rounded to doubles, never returned on one corpus part (trimesh_20mm_xyz_cube.stl,
// two planes, evaluation seed 3).
using KE = CGAL::Exact_predicates_exact_constructions_kernel;
using SmE = CGAL::Surface_mesh<KE::Point_3>;
namespace PMP = CGAL::Polygon_mesh_processing;
namespace SMS = CGAL::Surface_mesh_simplification;

constexpr double kPi = std::numbers::pi;
constexpr double kSharpAngleDeg = 60.0;
constexpr unsigned kRemeshIterations = 2;
constexpr int kRemeshAttempts = 3;
constexpr double kRemeshAreaTolerance = 0.02;
constexpr uint64_t kTagRemesh = 0x52454d4553485f31ull;
constexpr uint64_t kTagSplit = 0x53504c49545f5f31ull;
constexpr uint64_t kTagEmbed = 0x454d4245445f5f31ull;
constexpr uint64_t kTagHole = 0x484f4c455f5f5f31ull;
constexpr uint64_t kTagBoss = 0x424f53535f5f5f31ull;

struct Range {
  uint32_t begin, end;
};

using detail::Box3;

// Validates indices and coordinates; returns the AABB of the used vertices.
Box3 check_mesh(const Mesh& m) {
  if (m.triangles.size() > 4 * kMaxVariantTriangles)
    throw std::invalid_argument("variants: mesh too large (over 1.6M triangles)");
  const Box3 b = detail::used_bounds(m);
  for (size_t k = 0; k < m.object_starts.size(); ++k) {
    const uint32_t next = k + 1 < m.object_starts.size() ? m.object_starts[k + 1] : static_cast<uint32_t>(m.triangles.size());
    if (m.object_starts[k] > next || next > m.triangles.size())
      throw std::invalid_argument("variants: object starts out of order");
  }
  return b;
}

std::vector<Range> object_ranges(const Mesh& m) {
  const auto n = static_cast<uint32_t>(m.triangles.size());
  if (m.object_starts.empty()) return {{0, n}};
  std::vector<Range> out;
  for (size_t k = 0; k < m.object_starts.size(); ++k) {
    const uint32_t end = k + 1 < m.object_starts.size() ? m.object_starts[k + 1] : n;
    if (end > m.object_starts[k]) out.push_back({m.object_starts[k], end});
  }
  return out;
}

size_t object_of_triangle(const Mesh& m, size_t tri) {
  if (m.object_starts.empty()) return 0;
  const auto it = std::upper_bound(m.object_starts.begin(), m.object_starts.end(), static_cast<uint32_t>(tri));
  return static_cast<size_t>(it - m.object_starts.begin()) - 1;
}

double triangle_area(const Mesh& m, const Tri& t) {
  const Vec3f& a = m.vertices[t[0]];
  const Vec3f& b = m.vertices[t[1]];
  const Vec3f& c = m.vertices[t[2]];
  const double u[3] = {double(b[0]) - a[0], double(b[1]) - a[1], double(b[2]) - a[2]};
  const double v[3] = {double(c[0]) - a[0], double(c[1]) - a[1], double(c[2]) - a[2]};
  return 0.5 * std::hypot(u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]);
}

// Triangles [r.begin, r.end) of m as a Surface_mesh: merges duplicate points, drops degenerate
// polygons, makes orientation consistent (duplicating non-manifold vertices where needed).
Sm to_sm(const Mesh& m, Range r) {
  std::vector<Point> points;
  std::vector<std::vector<std::size_t>> polygons;
  std::vector<uint32_t> remap(m.vertices.size(), std::numeric_limits<uint32_t>::max());
  polygons.reserve(r.end - r.begin);
  for (uint32_t t = r.begin; t < r.end; ++t) {
    std::vector<std::size_t> poly(3);
    for (int k = 0; k < 3; ++k) {
      const uint32_t i = m.triangles[t][k];
      if (remap[i] == std::numeric_limits<uint32_t>::max()) {
        remap[i] = static_cast<uint32_t>(points.size());
        points.emplace_back(m.vertices[i][0], m.vertices[i][1], m.vertices[i][2]);
      }
      poly[k] = remap[i];
    }
    polygons.push_back(std::move(poly));
  }
  PMP::repair_polygon_soup(points, polygons);
  PMP::orient_polygon_soup(points, polygons);
  if (polygons.empty()) throw std::runtime_error("variants: no valid triangles after soup repair");
  if (!PMP::is_polygon_soup_a_polygon_mesh(polygons))
    throw std::runtime_error("variants: polygon soup could not be made into a polygon mesh");
  Sm sm;
  PMP::polygon_soup_to_polygon_mesh(points, polygons, sm);
  return sm;
}

Sm to_sm(const Mesh& m) { return to_sm(m, {0, static_cast<uint32_t>(m.triangles.size())}); }

// CGAL's corefinement keys some internal maps by mesh address, so the order (not the values) of
// the vertices and faces it outputs can change from run to run. Sorting vertices by position and
// triangles by their (rotated) index triples makes the output a function of the geometry alone;
// only vertices at identical positions (non-manifold duplicates) keep their incoming order.
Mesh canonical(Mesh part) {
  std::vector<uint32_t> order(part.vertices.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return part.vertices[a] < part.vertices[b]; });
  std::vector<uint32_t> rank(order.size());
  Mesh out;
  out.vertices.reserve(order.size());
  for (uint32_t i = 0; i < order.size(); ++i) {
    rank[order[i]] = i;
    out.vertices.push_back(part.vertices[order[i]]);
  }
  out.triangles.reserve(part.triangles.size());
  // Vertices at identical positions tie in the sort above, so their indices can differ between
  // runs: order triangles by corner positions (rotated so the smallest corner comes first), which
  // makes the written file (positions only) a function of the geometry alone.
  auto tri_less = [&](const Tri& a, const Tri& b) {
    for (int k = 0; k < 3; ++k)
      if (out.vertices[a[k]] != out.vertices[b[k]]) return out.vertices[a[k]] < out.vertices[b[k]];
    return false;
  };
  for (const Tri& t : part.triangles) {
    // Of the three rotations (orientation kept), take the one with the smallest corner positions.
    Tri r{rank[t[0]], rank[t[1]], rank[t[2]]};
    const Tri r1{r[1], r[2], r[0]}, r2{r[2], r[0], r[1]};
    if (tri_less(r1, r)) r = r1;
    if (tri_less(r2, r)) r = r2;
    out.triangles.push_back(r);
  }
  std::stable_sort(out.triangles.begin(), out.triangles.end(), tri_less);
  return out;
}

// Converts (a copy of) sm to plain triangles shifted by `shift`, appended to out as a new object.
void append_sm(Mesh& out, const Sm& sm_in, const std::array<double, 3>& shift = {0, 0, 0}) {
  const Sm* src = &sm_in;
  Sm triangulated;
  if (!CGAL::is_triangle_mesh(sm_in)) {
    triangulated = sm_in;
    if (!PMP::triangulate_faces(triangulated)) throw std::runtime_error("variants: face triangulation failed");
    src = &triangulated;
  }
  const Sm& sm = *src;
  Mesh part;
  std::vector<uint32_t> index(sm.num_vertices(), 0);
  for (Sm::Vertex_index v : sm.vertices()) {
    index[v.idx()] = static_cast<uint32_t>(part.vertices.size());
    const Point& p = sm.point(v);
    part.vertices.push_back({static_cast<float>(p.x() + shift[0]), static_cast<float>(p.y() + shift[1]),
                             static_cast<float>(p.z() + shift[2])});
  }
  for (Sm::Face_index f : sm.faces()) {
    Tri t{};
    int k = 0;
    for (Sm::Vertex_index v : CGAL::vertices_around_face(sm.halfedge(f), sm)) {
      if (k < 3) t[k] = index[v.idx()];
      ++k;
    }
    if (k != 3) throw std::runtime_error("variants: non-triangle face in output");
    part.triangles.push_back(t);
  }
  append_object(out, canonical(std::move(part)));
}

// One object is stored without object_starts, like the readers do.
Mesh finalize(Mesh m) {
  if (m.object_starts.size() == 1) m.object_starts.clear();
  return m;
}

// Runs f, turning CGAL's own exceptions (logic_error-derived) into std::runtime_error.
template <class F>
auto guarded(const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::runtime_error&) {
    throw;
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string(what) + ": CGAL failed: " + e.what());
  }
}

// --- decimation ---

struct FaceCountStop {
  const Sm* sm;
  size_t target;
  template <typename F, typename Profile>
  bool operator()(const F&, const Profile&, std::size_t, std::size_t) const {
    return sm->number_of_faces() <= target;
  }
};

// Garland-Heckbert plane quadrics: measured 1.7x faster than the default Lindstrom-Turk policy on
// a 50k-triangle torus (680 vs 1164 ms, same load) with the same face count.
size_t decimate_sm(Sm& sm, size_t target) {
  if (sm.number_of_faces() > target) {
    SMS::GarlandHeckbert_plane_policies<Sm, K> policies(sm);
    SMS::edge_collapse(sm, FaceCountStop{&sm, target},
                       CGAL::parameters::get_cost(policies.get_cost()).get_placement(policies.get_placement()));
  }
  sm.collect_garbage();
  return sm.number_of_faces();
}

// --- solids and booleans ---

struct Solid {
  Sm sm;
  std::string why_not;  // empty when sm bounds a volume and can take part in a boolean
};

Solid as_solid(const Mesh& m) {
  Solid s{to_sm(m), {}};
  if (!CGAL::is_closed(s.sm)) {
    s.why_not = "part is not closed";
  } else if (PMP::does_self_intersect(s.sm)) {
    s.why_not = "part self-intersects";
  } else {
    PMP::orient_to_bound_a_volume(s.sm);
    if (!PMP::does_bound_a_volume(s.sm)) s.why_not = "part does not bound a volume";
  }
  return s;
}

// Exact boolean of a solid part with a closed tool; empty optional-like result on CGAL refusal.
bool boolean_op(const Sm& part, const Mesh& tool, bool unite, Mesh& result) {
  Sm a = part;
  Sm b = to_sm(tool);
  Sm out;
  const bool ok = unite ? PMP::corefine_and_compute_union(a, b, out) : PMP::corefine_and_compute_difference(a, b, out);
  if (!ok || out.number_of_faces() == 0) return false;
  Mesh m;
  append_sm(m, out);
  result = finalize(std::move(m));
  return true;
}

// Adds `extra` (own vertices) to the triangles of object `obj` of m, keeping the other objects.
Mesh insert_into_object(const Mesh& m, const Mesh& extra, size_t obj) {
  Mesh out;
  out.vertices = m.vertices;
  const auto base = static_cast<uint32_t>(out.vertices.size());
  out.vertices.insert(out.vertices.end(), extra.vertices.begin(), extra.vertices.end());
  const std::vector<Range> ranges = object_ranges(m);
  for (size_t k = 0; k < ranges.size(); ++k) {
    if (!m.object_starts.empty()) out.object_starts.push_back(static_cast<uint32_t>(out.triangles.size()));
    out.triangles.insert(out.triangles.end(), m.triangles.begin() + ranges[k].begin, m.triangles.begin() + ranges[k].end);
    if (k == obj)
      for (const Tri& t : extra.triangles) out.triangles.push_back({t[0] + base, t[1] + base, t[2] + base});
  }
  return finalize(std::move(out));
}

// Row-major affine matrix mapping local x, y, z onto world axes b, c, a (a cyclic permutation, so
// orientation is kept) and then translating.
std::array<double, 16> axis_frame(int a, const std::array<double, 3>& origin) {
  const int b = (a + 1) % 3, c = (a + 2) % 3;
  std::array<double, 16> m{};
  m[b * 4 + 0] = 1;
  m[c * 4 + 1] = 1;
  m[a * 4 + 2] = 1;
  for (int k = 0; k < 3; ++k) m[k * 4 + 3] = origin[k];
  m[15] = 1;
  return m;
}

// Triangles projected along one axis into a uniform grid, for "does the line along this axis
// through (u, v) cross the surface" queries.
class ProjectedGrid {
 public:
  ProjectedGrid(const Mesh& m, int axis, const Box3& box) : m_(m), b_((axis + 1) % 3), c_((axis + 2) % 3) {
    lo_u_ = box.lo[b_];
    lo_v_ = box.lo[c_];
    const double eu = std::max(box.extent(b_), 1e-9), ev = std::max(box.extent(c_), 1e-9);
    n_ = static_cast<int>(std::clamp(std::sqrt(static_cast<double>(m.triangles.size()) / 2.0), 1.0, 128.0));
    cu_ = eu / n_;
    cv_ = ev / n_;
    // Two passes (count, fill) into one flat array; pathological inputs whose triangles cover most
    // cells fall back to a single cell (a linear scan).
    size_t entries = 0;
    for (const Tri& t : m.triangles) {
      const auto [i0, i1, j0, j1] = cells_of(t);
      entries += static_cast<size_t>(i1 - i0 + 1) * static_cast<size_t>(j1 - j0 + 1);
    }
    if (entries > 8 * m.triangles.size() + 100000) {
      n_ = 1;
      cu_ = eu;
      cv_ = ev;
    }
    start_.assign(static_cast<size_t>(n_) * n_ + 1, 0);
    for (const Tri& t : m.triangles) {
      const auto [i0, i1, j0, j1] = cells_of(t);
      for (int i = i0; i <= i1; ++i)
        for (int j = j0; j <= j1; ++j) ++start_[static_cast<size_t>(i) * n_ + j + 1];
    }
    for (size_t k = 1; k < start_.size(); ++k) start_[k] += start_[k - 1];
    items_.resize(start_.back());
    std::vector<uint32_t> fill(start_.begin(), start_.end() - 1);
    for (uint32_t ti = 0; ti < m.triangles.size(); ++ti) {
      const auto [i0, i1, j0, j1] = cells_of(m.triangles[ti]);
      for (int i = i0; i <= i1; ++i)
        for (int j = j0; j <= j1; ++j) items_[fill[static_cast<size_t>(i) * n_ + j]++] = ti;
    }
  }

  bool hits(double u, double v) const {
    const int i = cell(u, lo_u_, cu_), j = cell(v, lo_v_, cv_);
    for (uint32_t k = start_[static_cast<size_t>(i) * n_ + j]; k < start_[static_cast<size_t>(i) * n_ + j + 1]; ++k) {
      const Tri& t = m_.triangles[items_[k]];
      const Vec3f& p = m_.vertices[t[0]];
      const Vec3f& q = m_.vertices[t[1]];
      const Vec3f& r = m_.vertices[t[2]];
      const double d1 = edge(p, q, u, v), d2 = edge(q, r, u, v), d3 = edge(r, p, u, v);
      const bool neg = d1 < 0 || d2 < 0 || d3 < 0, pos = d1 > 0 || d2 > 0 || d3 > 0;
      if (!(neg && pos) && (d1 != 0 || d2 != 0 || d3 != 0)) return true;
    }
    return false;
  }

 private:
  double edge(const Vec3f& p, const Vec3f& q, double u, double v) const {
    return (double(q[b_]) - p[b_]) * (v - p[c_]) - (double(q[c_]) - p[c_]) * (u - p[b_]);
  }
  int cell(double x, double lo, double size) const {
    return std::clamp(static_cast<int>(std::floor((x - lo) / size)), 0, n_ - 1);
  }
  std::array<int, 4> cells_of(const Tri& t) const {
    double u0 = 1e300, u1 = -1e300, v0 = 1e300, v1 = -1e300;
    for (uint32_t i : t) {
      u0 = std::min(u0, double(m_.vertices[i][b_]));
      u1 = std::max(u1, double(m_.vertices[i][b_]));
      v0 = std::min(v0, double(m_.vertices[i][c_]));
      v1 = std::max(v1, double(m_.vertices[i][c_]));
    }
    return {cell(u0, lo_u_, cu_), cell(u1, lo_u_, cu_), cell(v0, lo_v_, cv_), cell(v1, lo_v_, cv_)};
  }

  const Mesh& m_;
  int b_, c_;
  int n_ = 1;
  double lo_u_ = 0, lo_v_ = 0, cu_ = 1, cv_ = 1;
  std::vector<uint32_t> start_, items_;
};

Mesh reversed(Mesh m) {
  for (Tri& t : m.triangles) std::swap(t[1], t[2]);
  return m;
}

}  // namespace

// --- remeshing, decimation, subdivision -----------------------------------------------------------

Mesh remesh_isotropic(const Mesh& mesh, double target_edge_length, double* used_edge_length) {
  if (!std::isfinite(target_edge_length) || target_edge_length <= 0)
    throw std::invalid_argument("remesh_isotropic: target edge length must be > 0");
  check_mesh(mesh);
  return guarded("remesh_isotropic", [&] {
    double area = 0;
    for (const Tri& t : mesh.triangles) area += triangle_area(mesh, t);
    // An equilateral triangle of side L has area sqrt(3)/4 L^2; keep the estimate 10% under the cap.
    const double min_len = std::sqrt(4.0 / std::sqrt(3.0) * area / (0.9 * kMaxRemeshTriangles));
    double len = std::max(target_edge_length, min_len);

    auto remesh_once = [&](double edge) {
      Mesh out;
      for (const Range& r : object_ranges(mesh)) {
        Sm sm = to_sm(mesh, r);
        auto ecm = sm.add_property_map<Sm::Edge_index, bool>("e:s3d_constrained", false).first;
        auto vcm = sm.add_property_map<Sm::Vertex_index, bool>("v:s3d_constrained", false).first;
        PMP::detect_sharp_edges(sm, kSharpAngleDeg, ecm);
        // Pin the corners of the crease graph (and border corners): vertices with a feature-edge
        // count other than 0 or 2.
        for (Sm::Vertex_index v : sm.vertices()) {
          int n = 0;
          for (Sm::Halfedge_index h : CGAL::halfedges_around_target(v, sm))
            if (ecm[sm.edge(h)] || sm.is_border(sm.edge(h))) ++n;
          if (n != 0 && n != 2) vcm[v] = true;
        }
        // Creases may be split but not collapsed, so round edges (circles of holes) keep their shape.
        PMP::isotropic_remeshing(faces(sm), edge, sm,
                                 CGAL::parameters::number_of_iterations(kRemeshIterations)
                                     .edge_is_constrained_map(ecm)
                                     .vertex_is_constrained_map(vcm)
                                     .collapse_constraints(false));
        sm.collect_garbage();
        append_sm(out, sm);
      }
      return finalize(std::move(out));
    };

    // Chords across curved regions lose area when the target is coarse for the curvature; shrink
    // the target until the area is kept (or the triangle cap stops us), keeping the best result.
    Mesh best;
    double best_dev = std::numeric_limits<double>::infinity(), best_len = len;
    for (int attempt = 0; attempt < kRemeshAttempts; ++attempt) {
      Mesh r = remesh_once(len);
      double a = 0;
      for (const Tri& t : r.triangles) a += triangle_area(r, t);
      const double dev = area > 0 ? std::abs(a - area) / area : 0;
      if (dev < best_dev) {
        best = std::move(r);
        best_dev = dev;
        best_len = len;
      }
      if (dev <= kRemeshAreaTolerance || len <= min_len) break;
      len = std::max(0.7 * len, min_len);
    }
    if (used_edge_length) *used_edge_length = best_len;
    return best;
  });
}

Mesh remesh_random(const Mesh& mesh, uint64_t seed) {
  VariantRng rng(derive_seed(seed, kTagRemesh));
  const double factor = rng.below(2) == 0 ? 0.7 : 1.5;
  return remesh_isotropic(mesh, factor * equilateral_edge_length(mesh));
}

Mesh decimate(const Mesh& mesh, double fraction) {
  if (!std::isfinite(fraction) || fraction <= 0 || fraction > 1)
    throw std::invalid_argument("decimate: fraction must be in (0, 1]");
  check_mesh(mesh);
  return guarded("decimate", [&] {
    Mesh out;
    size_t want = 0;
    for (const Range& r : object_ranges(mesh)) {
      Sm sm = to_sm(mesh, r);
      const auto target = static_cast<size_t>(std::llround(fraction * static_cast<double>(r.end - r.begin)));
      const size_t got = decimate_sm(sm, std::max<size_t>(target, 4));
      want += std::max<size_t>(target, 4);
      (void)got;
      append_sm(out, sm);
    }
    if (static_cast<double>(out.triangles.size()) > 1.05 * static_cast<double>(want) + 4)
      throw std::runtime_error("decimate: edge collapse stopped at " + std::to_string(out.triangles.size()) +
                               " triangles, target " + std::to_string(want));
    return finalize(std::move(out));
  });
}

Mesh subdivide_loop(const Mesh& mesh, int levels) {
  if (levels < 1 || levels > 3) throw std::invalid_argument("subdivide_loop: levels must be in [1, 3]");
  check_mesh(mesh);
  const size_t factor = size_t{1} << (2 * levels);
  const Mesh* src = &mesh;
  Mesh reduced;
  if (mesh.triangles.size() * factor > kMaxVariantTriangles) {
    reduced = decimate(mesh, 0.97 * static_cast<double>(kMaxVariantTriangles) /
                                 static_cast<double>(factor * mesh.triangles.size()));
    src = &reduced;
  }
  return guarded("subdivide_loop", [&] {
    Mesh out;
    for (const Range& r : object_ranges(*src)) {
      Sm sm = to_sm(*src, r);
      CGAL::Subdivision_method_3::Loop_subdivision(sm, CGAL::parameters::number_of_iterations(levels));
      append_sm(out, sm);
    }
    return finalize(std::move(out));
  });
}

// --- plane split -----------------------------------------------------------------------------------

Mesh split_by_planes(const Mesh& mesh, int n_planes, uint64_t seed, double gap_mm) {
  if (n_planes != 1 && n_planes != 2) throw std::invalid_argument("split_by_planes: n_planes must be 1 or 2");
  if (!std::isfinite(gap_mm) || gap_mm < 0) throw std::invalid_argument("split_by_planes: gap must be >= 0");
  const Box3 box = check_mesh(mesh);
  return guarded("split_by_planes", [&] {
    Solid base = as_solid(mesh);
    const bool volume = base.why_not.empty();
    // Area-weighted surface centroid: the planes pass near it.
    double cen[3] = {0, 0, 0}, area = 0;
    for (const Tri& t : mesh.triangles) {
      const double a = triangle_area(mesh, t);
      for (int k = 0; k < 3; ++k)
        cen[k] += a * (double(mesh.vertices[t[0]][k]) + mesh.vertices[t[1]][k] + mesh.vertices[t[2]][k]) / 3;
      area += a;
    }
    for (int k = 0; k < 3; ++k) cen[k] = area > 0 ? cen[k] / area : (box.lo[k] + box.hi[k]) / 2;

    for (uint64_t attempt = 0; attempt < 8; ++attempt) {
      VariantRng rng(derive_seed(seed + attempt * 0x9E3779B97F4A7C15ull, kTagSplit));
      auto random_unit = [&] {
        for (;;) {
          const double v[3] = {rng.normal(), rng.normal(), rng.normal()};
          const double len = std::hypot(v[0], v[1], v[2]);
          if (len > 1e-9) return Vector(v[0] / len, v[1] / len, v[2] / len);
        }
      };
      std::vector<Vector> normals{random_unit()};
      if (n_planes == 2) {
        Vector n2 = random_unit();
        for (int k = 0; k < 100 && std::abs(n2 * normals[0]) > std::cos(kPi / 4); ++k) n2 = random_unit();
        normals.push_back(n2);
      }
      std::vector<K::Plane_3> planes;
      for (const Vector& n : normals) {
        // Offset up to 10% of the part's half-extent along n from the centroid.
        const double half = 0.5 * (std::abs(n.x()) * box.extent(0) + std::abs(n.y()) * box.extent(1) +
                                   std::abs(n.z()) * box.extent(2));
        const double off = rng.uniform(-0.1, 0.1) * half;
        planes.emplace_back(Point(cen[0] + off * n.x(), cen[1] + off * n.y(), cen[2] + off * n.z()), n);
      }

      struct Cell {
        Sm sm;
        SmE exact;  // closed parts are cut with exact constructions
        Vector shift;
      };
      std::vector<Cell> cells{{volume ? Sm() : base.sm, SmE(), Vector(0, 0, 0)}};
      if (volume) CGAL::copy_face_graph(base.sm, cells[0].exact);
      bool clean = true;
      for (size_t i = 0; i < planes.size() && clean; ++i) {
        std::vector<Cell> next;
        for (const Cell& c : cells) {
          for (int side = 0; side < 2 && clean; ++side) {
            Cell piece = c;
            // clip() keeps the negative side of its plane; side 1 keeps the positive side of planes[i].
            const K::Plane_3 cut = side == 0 ? planes[i] : planes[i].opposite();
            if (volume) {
              const KE::Plane_3 exact_cut(cut.a(), cut.b(), cut.c(), cut.d());
              if (!PMP::clip(piece.exact, exact_cut, CGAL::parameters::clip_volume(true))) clean = false;
              if (piece.exact.number_of_faces() == 0) continue;
            } else {
              if (!PMP::clip(piece.sm, cut, CGAL::parameters::allow_self_intersections(true))) clean = false;
              if (piece.sm.number_of_faces() == 0) continue;
            }
            piece.shift = c.shift + normals[i] * ((side == 0 ? -0.5 : 0.5) * gap_mm);
            next.push_back(std::move(piece));
          }
        }
        cells = std::move(next);
      }
      if (!clean) continue;
      if (volume)
        for (Cell& c : cells) {
          c.exact.collect_garbage();
          c.sm.clear();
          CGAL::copy_face_graph(c.exact, c.sm);
        }

      Mesh out;
      size_t bodies = 0;
      for (Cell& c : cells) {
        c.sm.collect_garbage();
        std::vector<Sm> parts;
        PMP::split_connected_components(c.sm, parts);
        // Component numbering follows CGAL's face order, which is not stable (see canonical()).
        std::vector<Mesh> pieces(parts.size());
        for (size_t k = 0; k < parts.size(); ++k) append_sm(pieces[k], parts[k], {c.shift.x(), c.shift.y(), c.shift.z()});
        std::sort(pieces.begin(), pieces.end(), [](const Mesh& x, const Mesh& y) {
          return std::tie(x.vertices, x.triangles) < std::tie(y.vertices, y.triangles);
        });
        for (const Mesh& p : pieces) {
          append_object(out, p);
          ++bodies;
        }
      }
      if (bodies >= static_cast<size_t>(n_planes) + 1) return finalize(std::move(out));
    }
    throw std::runtime_error("split_by_planes: no plane choice in 8 tries gave " + std::to_string(n_planes + 1) +
                             " bodies");
  });
}

// --- booleans --------------------------------------------------------------------------------------

BooleanVariant embed_in_block(const Mesh& mesh, uint64_t seed) {
  const Box3 box = check_mesh(mesh);
  return guarded("embed_in_block", [&] {
    VariantRng rng(derive_seed(seed, kTagEmbed));
    const int face = static_cast<int>(rng.below(6));
    const int a = face / 2, b = (a + 1) % 3, c = (a + 2) % 3;
    const bool at_max = face % 2 == 1;
    const double floor_len = 0.05 * box.diagonal();  // flat parts still get a real block
    const double size_b = rng.uniform(0.2, 0.5) * std::max(box.extent(b), floor_len);
    const double size_c = rng.uniform(0.2, 0.5) * std::max(box.extent(c), floor_len);
    const double depth = rng.uniform(0.1, 0.3) * std::max(box.extent(a), floor_len);
    const double overlap = 0.2 * depth;
    // The part's extreme vertex on that side (first in triangle order) lies inside the block.
    size_t best_tri = 0;
    uint32_t best_v = mesh.triangles[0][0];
    for (size_t t = 0; t < mesh.triangles.size(); ++t) {
      for (uint32_t i : mesh.triangles[t]) {
        const float x = mesh.vertices[i][a], y = mesh.vertices[best_v][a];
        if (at_max ? x > y : x < y) {
          best_v = i;
          best_tri = t;
        }
      }
    }
    const Vec3f& ev = mesh.vertices[best_v];
    const double cb = ev[b] + rng.uniform(-0.3, 0.3) * size_b;
    const double cc = ev[c] + rng.uniform(-0.3, 0.3) * size_c;
    const double start_a = at_max ? box.hi[a] - overlap : box.lo[a] + overlap - depth;
    Mesh block = shapes::box(size_b, size_c, depth);
    std::array<double, 3> origin{};
    origin[a] = start_a;
    origin[b] = cb;
    origin[c] = cc;
    shapes::transform(block, axis_frame(a, origin));

    BooleanVariant out;
    Solid part = as_solid(mesh);
    if (!part.why_not.empty()) {
      out.how = Combine::kOverlapping;
      out.fallback_reason = part.why_not;
      out.mesh = insert_into_object(mesh, block, object_of_triangle(mesh, best_tri));
      return out;
    }
    if (!boolean_op(part.sm, block, true, out.mesh)) throw std::runtime_error("embed_in_block: union failed");
    return out;
  });
}

BooleanVariant add_through_hole(const Mesh& mesh, uint64_t seed) {
  const Box3 box = check_mesh(mesh);
  return guarded("add_through_hole", [&] {
    VariantRng rng(derive_seed(seed, kTagHole));
    const int axis0 = static_cast<int>(rng.below(3));
    const double r = rng.uniform(0.025, 0.05) * box.diagonal();
    constexpr int kRim = 8;
    constexpr double kRimFactor = 1.4;  // material checked on a ring 1.4 r out from the axis

    struct Candidate {
      int axis = -1;
      double u = 0, v = 0;
      int rim_hits = -1;
    };
    Candidate best;
    for (int k = 0; k < 3 && best.rim_hits < kRim; ++k) {
      const int a = (axis0 + k) % 3, b = (a + 1) % 3, c = (a + 2) % 3;
      const ProjectedGrid grid(mesh, a, box);
      auto range = [&](int ax) {
        const double margin = kRimFactor * r;
        return box.extent(ax) > 2 * margin ? std::array<double, 2>{box.lo[ax] + margin, box.hi[ax] - margin}
                                           : std::array<double, 2>{(box.lo[ax] + box.hi[ax]) / 2,
                                                                   (box.lo[ax] + box.hi[ax]) / 2};
      };
      const auto ru = range(b), rv = range(c);
      for (int t = 0; t < 64; ++t) {
        const double u = rng.uniform(ru[0], ru[1]), v = rng.uniform(rv[0], rv[1]);
        if (!grid.hits(u, v)) continue;
        int hits = 0;
        for (int j = 0; j < kRim; ++j) {
          const double ang = 2 * kPi * j / kRim;
          hits += grid.hits(u + kRimFactor * r * std::cos(ang), v + kRimFactor * r * std::sin(ang)) ? 1 : 0;
        }
        if (hits > best.rim_hits) best = {a, u, v, hits};
        if (hits == kRim) break;
      }
    }
    if (best.axis < 0) throw std::runtime_error("add_through_hole: found no material to drill through");

    const int a = best.axis;
    const double margin = std::max(1.0, 0.1 * box.extent(a));
    Mesh drill = shapes::cylinder(r, box.extent(a) + 2 * margin, 32);
    std::array<double, 3> origin{};
    origin[a] = box.lo[a] - margin;
    origin[(a + 1) % 3] = best.u;
    origin[(a + 2) % 3] = best.v;
    shapes::transform(drill, axis_frame(a, origin));

    BooleanVariant out;
    Solid part = as_solid(mesh);
    if (!part.why_not.empty()) {
      out.how = Combine::kOverlapping;
      out.fallback_reason = part.why_not;
      out.mesh = insert_into_object(mesh, reversed(drill), 0);
      return out;
    }
    if (!boolean_op(part.sm, drill, false, out.mesh)) throw std::runtime_error("add_through_hole: difference failed");
    return out;
  });
}

BooleanVariant add_boss(const Mesh& mesh, uint64_t seed) {
  check_mesh(mesh);
  return guarded("add_boss", [&] {
    VariantRng rng(derive_seed(seed, kTagBoss));
    std::vector<double> cumulative(mesh.triangles.size());
    double total = 0;
    for (size_t t = 0; t < mesh.triangles.size(); ++t) cumulative[t] = total += triangle_area(mesh, mesh.triangles[t]);
    if (!(total > 0)) throw std::runtime_error("add_boss: part has no area");

    Solid part = as_solid(mesh);
    constexpr double kRadius = 3.0, kHeight = 3.0, kSink = 1.0;
    for (int attempt = 0; attempt < 4; ++attempt) {
      const double pick = rng.uniform() * total;
      const size_t t = std::min<size_t>(
          static_cast<size_t>(std::upper_bound(cumulative.begin(), cumulative.end(), pick) - cumulative.begin()),
          mesh.triangles.size() - 1);
      const Tri& tri = mesh.triangles[t];
      double p[3][3];
      for (int i = 0; i < 3; ++i)
        for (int k = 0; k < 3; ++k) p[i][k] = mesh.vertices[tri[i]][k];
      // Uniform point in the triangle.
      const double s = std::sqrt(rng.uniform()), w = rng.uniform();
      double at[3], e1[3], e2[3];
      for (int k = 0; k < 3; ++k) {
        at[k] = (1 - s) * p[0][k] + s * (1 - w) * p[1][k] + s * w * p[2][k];
        e1[k] = p[1][k] - p[0][k];
        e2[k] = p[2][k] - p[0][k];
      }
      double n[3] = {e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]};
      const double nl = std::hypot(n[0], n[1], n[2]);
      if (!(nl > 0)) continue;
      for (double& x : n) x /= nl;
      // Frame (t1, t2, n), right-handed, t1 perpendicular to n.
      const double helper[3] = {std::abs(n[0]) < 0.9 ? 1.0 : 0.0, std::abs(n[0]) < 0.9 ? 0.0 : 1.0, 0.0};
      double t1[3] = {n[1] * helper[2] - n[2] * helper[1], n[2] * helper[0] - n[0] * helper[2],
                      n[0] * helper[1] - n[1] * helper[0]};
      const double tl = std::hypot(t1[0], t1[1], t1[2]);
      for (double& x : t1) x /= tl;
      const double t2[3] = {n[1] * t1[2] - n[2] * t1[1], n[2] * t1[0] - n[0] * t1[2], n[0] * t1[1] - n[1] * t1[0]};
      Mesh boss = shapes::cylinder(kRadius, kHeight + kSink, 32);
      shapes::transform(boss, {t1[0], t2[0], n[0], at[0] - kSink * n[0],  //
                               t1[1], t2[1], n[1], at[1] - kSink * n[1],  //
                               t1[2], t2[2], n[2], at[2] - kSink * n[2],  //
                               0, 0, 0, 1});
      BooleanVariant out;
      if (!part.why_not.empty()) {
        out.how = Combine::kOverlapping;
        out.fallback_reason = part.why_not;
        out.mesh = insert_into_object(mesh, boss, object_of_triangle(mesh, t));
        return out;
      }
      if (boolean_op(part.sm, boss, true, out.mesh)) return out;
    }
    throw std::runtime_error("add_boss: union failed at 4 positions");
  });
}

}  // namespace s3d::variants
