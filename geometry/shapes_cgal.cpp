// Constrained Delaunay triangulation of a polygon with holes (the caps of extruded profiles).
// The triangulation only uses the profile's own points, so caps share their boundary vertices
// exactly with the side walls and the extruded solid is watertight.
#include <CGAL/Constrained_Delaunay_triangulation_2.h>
#include <CGAL/Exact_predicates_inexact_constructions_kernel.h>
#include <CGAL/Triangulation_face_base_with_info_2.h>
#include <CGAL/Triangulation_vertex_base_with_info_2.h>

#include <cmath>
#include <deque>
#include <stdexcept>

#include "geometry/shapes.h"

namespace s3d::shapes {
namespace {

using K = CGAL::Exact_predicates_inexact_constructions_kernel;

struct FaceInfo {
  int nesting_level = -1;
  bool in_domain() const { return nesting_level % 2 == 1; }
};

using Vb = CGAL::Triangulation_vertex_base_with_info_2<uint32_t, K>;
using Fbb = CGAL::Triangulation_face_base_with_info_2<FaceInfo, K>;
using Fb = CGAL::Constrained_triangulation_face_base_2<K, Fbb>;
using Tds = CGAL::Triangulation_data_structure_2<Vb, Fb>;
// No_constraint_intersection_tag: crossing or touching constraints throw instead of adding points.
using Cdt = CGAL::Constrained_Delaunay_triangulation_2<K, Tds, CGAL::No_constraint_intersection_tag>;

// Flood fill from the infinite face: faces separated from the outside by an odd number of
// constraint edges are inside the polygon (the classic CGAL polygon-with-holes recipe).
void mark_domains(Cdt& cdt) {
  for (auto f = cdt.all_faces_begin(); f != cdt.all_faces_end(); ++f) f->info().nesting_level = -1;
  std::deque<std::pair<Cdt::Face_handle, int>> seeds;
  seeds.emplace_back(cdt.infinite_face(), 0);
  while (!seeds.empty()) {
    auto [start, level] = seeds.front();
    seeds.pop_front();
    if (start->info().nesting_level != -1) continue;
    std::deque<Cdt::Face_handle> queue{start};
    start->info().nesting_level = level;
    while (!queue.empty()) {
      Cdt::Face_handle f = queue.front();
      queue.pop_front();
      for (int i = 0; i < 3; ++i) {
        Cdt::Face_handle n = f->neighbor(i);
        if (n->info().nesting_level != -1) continue;
        if (cdt.is_constrained(Cdt::Edge(f, i))) {
          seeds.emplace_back(n, level + 1);
        } else {
          n->info().nesting_level = level;
          queue.push_back(n);
        }
      }
    }
  }
}

}  // namespace

std::vector<std::array<uint32_t, 3>> triangulate_profile(const Profile2& profile) {
  std::vector<const Ring2*> rings{&profile.outer};
  for (const Ring2& h : profile.holes) rings.push_back(&h);
  for (const Ring2* r : rings) {
    if (r->size() < 3) throw std::invalid_argument("triangulate_profile: ring with fewer than 3 points");
    for (const Point2& p : *r)
      if (!std::isfinite(p.x) || !std::isfinite(p.y))
        throw std::invalid_argument("triangulate_profile: non-finite coordinate");
  }

  Cdt cdt;
  uint32_t next = 0;
  try {
    for (const Ring2* r : rings) {
      std::vector<Cdt::Vertex_handle> handles;
      handles.reserve(r->size());
      for (const Point2& p : *r) {
        const size_t before = cdt.number_of_vertices();
        Cdt::Vertex_handle v = cdt.insert(K::Point_2(p.x, p.y));
        // No new vertex means a duplicate point, whose index would be lost.
        if (cdt.number_of_vertices() != before + 1) throw std::invalid_argument("triangulate_profile: duplicate point");
        v->info() = next + static_cast<uint32_t>(handles.size());
        handles.push_back(v);
      }
      for (size_t i = 0; i < handles.size(); ++i) cdt.insert_constraint(handles[i], handles[(i + 1) % handles.size()]);
      next += static_cast<uint32_t>(handles.size());
    }
  } catch (const Cdt::Intersection_of_constraints_exception&) {
    throw std::invalid_argument("triangulate_profile: profile edges cross or touch");
  }
  if (cdt.number_of_vertices() != next) throw std::invalid_argument("triangulate_profile: duplicate point");

  mark_domains(cdt);
  std::vector<std::array<uint32_t, 3>> tris;
  for (auto f = cdt.finite_faces_begin(); f != cdt.finite_faces_end(); ++f) {
    if (!f->info().in_domain()) continue;
    tris.push_back({f->vertex(0)->info(), f->vertex(1)->info(), f->vertex(2)->info()});
  }
  return tris;
}

}  // namespace s3d::shapes
