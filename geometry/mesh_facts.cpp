#include "geometry/mesh_facts.h"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "geometry/connected_bodies.h"
#include "geometry/oriented_box.h"

namespace s3d {
namespace {

// Fixed grain sizes with simple_partitioner make the floating-point reductions split the same way
// on every run and every machine, so the sums are bit-for-bit reproducible.
constexpr size_t kTriangleGrain = 1 << 14;
constexpr size_t kVertexGrain = 1 << 13;

bool repeated(const Tri& t) { return t[0] == t[1] || t[1] == t[2] || t[0] == t[2]; }

struct SurfaceSums {
  double area2 = 0;    // twice the area
  double volume6 = 0;  // six times the volume
  uint64_t degenerate = 0;
};

SurfaceSums surface_sums(const Mesh& mesh, const std::array<double, 3>& ref) {
  const auto& V = mesh.vertices;
  const auto& T = mesh.triangles;
  return tbb::parallel_deterministic_reduce(
      tbb::blocked_range<size_t>(0, T.size(), kTriangleGrain), SurfaceSums{},
      [&](const tbb::blocked_range<size_t>& r, SurfaceSums acc) {
        for (size_t i = r.begin(); i != r.end(); ++i) {
          const Tri& t = T[i];
          double p[3][3];
          for (int c = 0; c < 3; ++c)
            for (int k = 0; k < 3; ++k) p[c][k] = static_cast<double>(V[t[c]][k]) - ref[k];
          const double e1[3] = {p[1][0] - p[0][0], p[1][1] - p[0][1], p[1][2] - p[0][2]};
          const double e2[3] = {p[2][0] - p[0][0], p[2][1] - p[0][1], p[2][2] - p[0][2]};
          const double e3[3] = {p[2][0] - p[1][0], p[2][1] - p[1][1], p[2][2] - p[1][2]};
          const double cx = e1[1] * e2[2] - e1[2] * e2[1];
          const double cy = e1[2] * e2[0] - e1[0] * e2[2];
          const double cz = e1[0] * e2[1] - e1[1] * e2[0];
          const double cross_len = std::sqrt(cx * cx + cy * cy + cz * cz);
          acc.area2 += cross_len;
          // p0 . (p1 x p2): signed tetrahedron against the reference point.
          acc.volume6 += p[0][0] * (p[1][1] * p[2][2] - p[1][2] * p[2][1]) +
                         p[0][1] * (p[1][2] * p[2][0] - p[1][0] * p[2][2]) +
                         p[0][2] * (p[1][0] * p[2][1] - p[1][1] * p[2][0]);
          const double l1 = e1[0] * e1[0] + e1[1] * e1[1] + e1[2] * e1[2];
          const double l2 = e2[0] * e2[0] + e2[1] * e2[1] + e2[2] * e2[2];
          const double l3 = e3[0] * e3[0] + e3[1] * e3[1] + e3[2] * e3[2];
          const double lmax2 = std::max({l1, l2, l3});
          if (repeated(t) || !(cross_len > kDegenerateRelative * lmax2)) ++acc.degenerate;
        }
        return acc;
      },
      [](SurfaceSums a, const SurfaceSums& b) {
        a.area2 += b.area2;
        a.volume6 += b.volume6;
        a.degenerate += b.degenerate;
        return a;
      },
      tbb::simple_partitioner());
}

// Vertex -> incident triangles, compressed rows. Triangles with a repeated index are left out.
struct Incidence {
  std::vector<uint32_t> start;  // size nv + 1
  std::vector<uint32_t> tri;
};

Incidence build_incidence(const Mesh& mesh) {
  const size_t nv = mesh.vertices.size();
  Incidence inc;
  inc.start.assign(nv + 1, 0);
  for (const Tri& t : mesh.triangles) {
    if (repeated(t)) continue;
    ++inc.start[t[0] + 1];
    ++inc.start[t[1] + 1];
    ++inc.start[t[2] + 1];
  }
  for (size_t v = 0; v < nv; ++v) inc.start[v + 1] += inc.start[v];
  inc.tri.resize(inc.start[nv]);
  std::vector<uint32_t> fill(inc.start.begin(), inc.start.end() - 1);
  for (size_t i = 0; i < mesh.triangles.size(); ++i) {
    const Tri& t = mesh.triangles[i];
    if (repeated(t)) continue;
    for (uint32_t v : t) inc.tri[fill[v]++] = static_cast<uint32_t>(i);
  }
  return inc;
}

struct TopologyCounts {
  uint64_t edges = 0;
  uint64_t boundary = 0;
  uint64_t non_manifold = 0;
  uint64_t misoriented = 0;
  uint64_t non_manifold_vertices = 0;
};

// Each undirected edge {u, w} is examined once, at its smaller vertex u, from u's incident triangles.
TopologyCounts topology(const Mesh& mesh, const Incidence& inc) {
  const size_t nv = mesh.vertices.size();
  const auto& T = mesh.triangles;
  return tbb::parallel_reduce(
      tbb::blocked_range<size_t>(0, nv, kVertexGrain), TopologyCounts{},
      [&](const tbb::blocked_range<size_t>& r, TopologyCounts acc) {
        struct EdgeUse {
          uint32_t other;
          uint32_t forward;  // 1 when the triangle goes u -> other
        };
        std::vector<EdgeUse> uses;
        std::vector<uint32_t> nbr, parent;
        for (size_t vi = r.begin(); vi != r.end(); ++vi) {
          const uint32_t u = static_cast<uint32_t>(vi);
          const uint32_t b0 = inc.start[u], b1 = inc.start[u + 1];
          if (b0 == b1) continue;
          uses.clear();
          nbr.clear();
          for (uint32_t j = b0; j < b1; ++j) {
            const Tri& t = T[inc.tri[j]];
            const int k = t[0] == u ? 0 : (t[1] == u ? 1 : 2);
            const uint32_t a = t[(k + 1) % 3], b = t[(k + 2) % 3];
            if (a > u) uses.push_back({a, 1});
            if (b > u) uses.push_back({b, 0});
            nbr.push_back(a);
            nbr.push_back(b);
          }
          std::sort(uses.begin(), uses.end(),
                    [](const EdgeUse& x, const EdgeUse& y) { return x.other < y.other; });
          for (size_t s = 0; s < uses.size();) {
            size_t e = s;
            uint32_t fwd = 0;
            while (e < uses.size() && uses[e].other == uses[s].other) fwd += uses[e++].forward;
            const size_t n = e - s;
            ++acc.edges;
            if (n == 1) ++acc.boundary;
            else if (n > 2) ++acc.non_manifold;
            else if (fwd != 1) ++acc.misoriented;
            s = e;
          }
          // One fan: the link graph on the neighbours must be connected.
          std::sort(nbr.begin(), nbr.end());
          nbr.erase(std::unique(nbr.begin(), nbr.end()), nbr.end());
          parent.resize(nbr.size());
          for (size_t i = 0; i < parent.size(); ++i) parent[i] = static_cast<uint32_t>(i);
          const auto index_of = [&](uint32_t v) {
            return static_cast<uint32_t>(std::lower_bound(nbr.begin(), nbr.end(), v) - nbr.begin());
          };
          const auto find = [&](uint32_t x) {
            while (parent[x] != x) x = parent[x] = parent[parent[x]];
            return x;
          };
          size_t components = nbr.size();
          for (uint32_t j = b0; j < b1; ++j) {
            const Tri& t = T[inc.tri[j]];
            const int k = t[0] == u ? 0 : (t[1] == u ? 1 : 2);
            const uint32_t x = find(index_of(t[(k + 1) % 3])), y = find(index_of(t[(k + 2) % 3]));
            if (x != y) {
              parent[std::max(x, y)] = std::min(x, y);
              --components;
            }
          }
          if (components != 1) ++acc.non_manifold_vertices;
        }
        return acc;
      },
      [](TopologyCounts a, const TopologyCounts& b) {
        a.edges += b.edges;
        a.boundary += b.boundary;
        a.non_manifold += b.non_manifold;
        a.misoriented += b.misoriented;
        a.non_manifold_vertices += b.non_manifold_vertices;
        return a;
      });
}

}  // namespace

MeshFacts compute_facts(const Mesh& mesh) {
  MeshFacts f;
  const size_t nv = mesh.vertices.size();
  if (nv >= std::numeric_limits<uint32_t>::max()) throw std::invalid_argument("mesh has too many vertices");
  if (mesh.triangles.size() >= std::numeric_limits<uint32_t>::max())
    throw std::invalid_argument("mesh has too many triangles");
  f.vertices = nv;
  f.triangles = mesh.triangles.size();

  // Body numbering also validates every index (throws on out-of-range).
  body_of_triangle(mesh, &f.bodies);
  if (mesh.triangles.empty()) return f;

  std::vector<uint8_t> used(nv, 0);
  for (const Tri& t : mesh.triangles) used[t[0]] = used[t[1]] = used[t[2]] = 1;
  std::vector<Vec3f> points;
  points.reserve(nv);
  for (size_t v = 0; v < nv; ++v)
    if (used[v]) points.push_back(mesh.vertices[v]);

  constexpr float kInf = std::numeric_limits<float>::infinity();
  f.aabb_min = {kInf, kInf, kInf};
  f.aabb_max = {-kInf, -kInf, -kInf};
  for (const Vec3f& p : points)
    for (int k = 0; k < 3; ++k) {
      f.aabb_min[k] = std::min(f.aabb_min[k], p[k]);
      f.aabb_max[k] = std::max(f.aabb_max[k], p[k]);
    }

  std::array<double, 3> ref;
  for (int k = 0; k < 3; ++k) ref[k] = 0.5 * (static_cast<double>(f.aabb_min[k]) + f.aabb_max[k]);
  const SurfaceSums sums = surface_sums(mesh, ref);
  f.area_mm2 = 0.5 * sums.area2;
  f.volume_mm3 = sums.volume6 / 6.0;
  f.degenerate_triangles = sums.degenerate;

  const Incidence inc = build_incidence(mesh);
  const TopologyCounts topo = topology(mesh, inc);
  f.boundary_edges = topo.boundary;
  f.non_manifold_edges = topo.non_manifold;
  f.misoriented_edges = topo.misoriented;
  f.non_manifold_vertices = topo.non_manifold_vertices;
  f.watertight = topo.edges > 0 && topo.boundary == 0 && topo.non_manifold == 0 && topo.misoriented == 0;
  f.manifold = topo.non_manifold == 0 && topo.non_manifold_vertices == 0;

  f.obb_extents = oriented_bounding_box(points).extents;
  return f;
}

}  // namespace s3d
