// Procedural shapes: every shape is closed, consistently outward-oriented, vertex-manifold, has the
// genus its construction promises, and encloses its analytic volume within the error its
// tessellation allows (and the exact volume of the tessellated solid within float rounding).
#include <gtest/gtest.h>

#include "tests/support/test_helpers.h"

#include <cmath>
#include <map>
#include <numbers>
#include <set>
#include <stdexcept>
#include <utility>

#include "geometry/shapes.h"

namespace {

using s3d::Mesh;
namespace sh = s3d::shapes;
constexpr double kPi = std::numbers::pi;

using s3d::test::signed_volume;

struct Topology {
  bool closed_and_consistent = true;  // every directed edge once, and its reverse once
  bool vertex_manifold = true;        // the triangles round each vertex form one fan
  bool no_degenerate = true;          // no triangle repeats a vertex
  long euler = 0;                     // V - E + F over used vertices
};

Topology topology(const Mesh& m) {
  Topology t;
  std::map<std::pair<uint32_t, uint32_t>, int> directed;
  std::map<uint32_t, std::map<uint32_t, uint32_t>> link;  // vertex -> (next -> after) around its fan
  std::set<uint32_t> used;
  for (const auto& tri : m.triangles) {
    if (tri[0] == tri[1] || tri[1] == tri[2] || tri[0] == tri[2]) t.no_degenerate = false;
    for (int k = 0; k < 3; ++k) {
      const uint32_t a = tri[k], b = tri[(k + 1) % 3], c = tri[(k + 2) % 3];
      ++directed[{a, b}];
      used.insert(a);
      if (!link[a].emplace(b, c).second) t.vertex_manifold = false;
    }
  }
  for (const auto& [e, n] : directed) {
    if (n != 1) t.closed_and_consistent = false;
    auto it = directed.find({e.second, e.first});
    if (it == directed.end() || it->second != 1) t.closed_and_consistent = false;
  }
  // In a manifold fan, following next -> after from any neighbour visits all neighbours once.
  for (const auto& [v, fan] : link) {
    uint32_t start = fan.begin()->first, cur = start;
    size_t steps = 0;
    do {
      auto it = fan.find(cur);
      if (it == fan.end()) break;
      cur = it->second;
      ++steps;
    } while (cur != start && steps <= fan.size());
    if (cur != start || steps != fan.size()) t.vertex_manifold = false;
  }
  t.euler = static_cast<long>(used.size()) - static_cast<long>(directed.size() / 2) +
            static_cast<long>(m.triangles.size());
  return t;
}

void expect_solid(const Mesh& m, int genus) {
  ASSERT_FALSE(m.triangles.empty());
  const Topology t = topology(m);
  EXPECT_TRUE(t.closed_and_consistent);
  EXPECT_TRUE(t.vertex_manifold);
  EXPECT_TRUE(t.no_degenerate);
  EXPECT_EQ(t.euler, 2 - 2 * genus);
  EXPECT_GT(signed_volume(m), 0);
  for (const auto& tri : m.triangles)
    for (uint32_t i : tri) ASSERT_LT(i, m.vertices.size());
}

// Area of a regular n-gon inscribed in a circle of radius r.
double ngon_area(double r, int n) { return 0.5 * n * r * r * std::sin(2 * kPi / n); }

// Relative volume shortfall of an inscribed n-gon against its circle: 1 - sin(d)/d ~ d^2/6.
double chord_error(int n) {
  const double d = 2 * kPi / n;
  return 1 - std::sin(d) / d;
}

// Volume of a profile revolved with `segments` planar facets (frusta of regular n-gons).
double revolved_volume(const std::vector<sh::Point2>& prof, int segments, bool closed) {
  const double k = ngon_area(1, segments) / kPi;
  double v = 0;
  const size_t n = prof.size();
  for (size_t i = 0; i + (closed ? 0 : 1) < n; ++i) {
    const auto& a = prof[i];
    const auto& b = prof[(i + 1) % n];
    v += kPi * (b.y - a.y) * (a.x * a.x + a.x * b.x + b.x * b.x) / 3;
  }
  return std::abs(v) * k;
}

double relative(double got, double want) { return std::abs(got - want) / std::abs(want); }

TEST(Shapes, TopologyCheckCatchesDefects) {
  Mesh flipped = sh::box(1, 2, 3);
  std::swap(flipped.triangles[3][1], flipped.triangles[3][2]);
  EXPECT_FALSE(topology(flipped).closed_and_consistent);
  Mesh open = sh::box(1, 2, 3);
  open.triangles.pop_back();
  EXPECT_FALSE(topology(open).closed_and_consistent);
  // Two boxes sharing one corner vertex: closed, but not vertex-manifold.
  Mesh pinched = sh::box(1, 1, 1);
  const Mesh other = sh::box(1, 1, 1);
  const auto base = static_cast<uint32_t>(pinched.vertices.size());
  for (auto v : other.vertices) pinched.vertices.push_back({v[0] + 1, v[1] + 1, v[2] + 1});
  for (auto t : other.triangles) {
    s3d::Tri r{t[0] + base, t[1] + base, t[2] + base};
    for (auto& i : r)
      if (pinched.vertices[i] == s3d::Vec3f{0.5f, 0.5f, 1.0f}) i = 6;  // top corner (+,+) of the first box
    pinched.triangles.push_back(r);
  }
  ASSERT_EQ(pinched.vertices[6], (s3d::Vec3f{0.5f, 0.5f, 1.0f}));
  EXPECT_TRUE(topology(pinched).closed_and_consistent);
  EXPECT_FALSE(topology(pinched).vertex_manifold);
}

TEST(Shapes, BoxIsExact) {
  const Mesh m = sh::box(20, 30, 40);
  expect_solid(m, 0);
  EXPECT_EQ(m.triangles.size(), 12u);
  EXPECT_LT(relative(signed_volume(m), 24000), 1e-9);
}

TEST(Shapes, CylinderVolume) {
  for (int n : {8, 64}) {
    const Mesh m = sh::cylinder(10, 25, n);
    expect_solid(m, 0);
    const double v = signed_volume(m);
    EXPECT_LT(relative(v, ngon_area(10, n) * 25), 1e-6);
    EXPECT_LT(relative(v, kPi * 100 * 25), 1.2 * chord_error(n));
  }
}

TEST(Shapes, TubeIsGenusOne) {
  const Mesh m = sh::tube(12, 9, 40, 64);
  expect_solid(m, 1);
  const double v = signed_volume(m);
  EXPECT_LT(relative(v, (ngon_area(12, 64) - ngon_area(9, 64)) * 40), 1e-6);
  EXPECT_LT(relative(v, kPi * (144 - 81) * 40), 1.2 * chord_error(64));
}

TEST(Shapes, TorusIsGenusOne) {
  const int nu = 64, nv = 32;
  const Mesh m = sh::torus(20, 5, nu, nv);
  expect_solid(m, 1);
  const double v = signed_volume(m);
  const double polygonal = 2 * ngon_area(1, nu) * 20 * ngon_area(5, nv);  // Pappus on the n-gon profile
  EXPECT_LT(relative(v, polygonal), 1e-6);
  EXPECT_LT(relative(v, 2 * kPi * kPi * 20 * 25), 1.2 * (chord_error(nu) + chord_error(nv)));
}

TEST(Shapes, SphereVolume) {
  const int n_lon = 48, n_lat = 24;
  const Mesh m = sh::uv_sphere(15, n_lon, n_lat);
  expect_solid(m, 0);
  const double v = signed_volume(m);
  const double analytic = 4.0 / 3.0 * kPi * 15 * 15 * 15;
  // Latitude chords subtend pi/n_lat and cost about twice the n-gon shortfall in volume.
  EXPECT_LT(relative(v, analytic), 1.2 * (chord_error(n_lon) + 2 * chord_error(2 * n_lat)));
  std::vector<sh::Point2> prof;
  for (int j = 0; j <= n_lat; ++j) {
    const double th = kPi * j / n_lat;
    prof.push_back({(j == 0 || j == n_lat) ? 0.0 : 15 * std::sin(th), 15 - 15 * std::cos(th)});
  }
  EXPECT_LT(relative(v, revolved_volume(prof, n_lon, false)), 1e-6);
}

TEST(Shapes, SpurGear) {
  const int teeth = 20;
  const double m_mod = 2, t = 6, bore = 8;
  const Mesh m = sh::spur_gear(teeth, m_mod, t, bore);
  expect_solid(m, 1);
  const double v = signed_volume(m);
  const double rp = m_mod * teeth / 2, ra = rp + m_mod, rf = rp - 1.25 * m_mod;
  const double bore_area = ngon_area(bore / 2, 48);
  EXPECT_GT(v, (kPi * rf * rf - bore_area) * t);
  EXPECT_LT(v, (kPi * ra * ra - bore_area) * t);
  // Teeth above the pitch circle roughly fill the gaps below it.
  EXPECT_LT(relative(v, (kPi * rp * rp - bore_area) * t), 0.05);
  // Profile area by the shoelace formula times the thickness.
  const sh::Profile2 p = sh::spur_gear_profile(teeth, m_mod, bore);
  double area = 0;
  for (size_t i = 0; i < p.outer.size(); ++i) {
    const auto& a = p.outer[i];
    const auto& b = p.outer[(i + 1) % p.outer.size()];
    area += (a.x * b.y - b.x * a.y) / 2;
  }
  EXPECT_LT(relative(v, (area - bore_area) * t), 1e-6);
  // Small and large tooth counts stay valid polygons.
  expect_solid(sh::spur_gear(8, 1.5, 4, 3), 1);
  expect_solid(sh::spur_gear(150, 0.5, 3, 20), 1);
  expect_solid(sh::spur_gear(12, 1, 3, 0), 0);
}

TEST(Shapes, LBracketHoles) {
  sh::LBracketParams p;  // 60 x 30 x 40, 5 thick, 2 holes of 6 mm per leg
  const Mesh m = sh::l_bracket(p);
  expect_solid(m, 4);
  const double solid = (p.length * p.thickness + p.thickness * (p.height - p.thickness)) * p.width;
  const double holes = 4 * ngon_area(p.hole_diameter / 2, p.hole_segments) * p.thickness;
  EXPECT_LT(relative(signed_volume(m), solid - holes), 1e-6);
  p.holes_per_leg = 0;
  expect_solid(sh::l_bracket(p), 0);
  p.holes_per_leg = 3;
  p.hole_diameter = 5;
  expect_solid(sh::l_bracket(p), 6);
}

TEST(Shapes, PlateWithHoles) {
  const Mesh m = sh::plate_with_holes(80, 50, 4, 6, 3, 2, 32);
  expect_solid(m, 6);
  EXPECT_LT(relative(signed_volume(m), (80 * 50 - 6 * ngon_area(3, 32)) * 4), 1e-6);
}

TEST(Shapes, HexNut) {
  const Mesh m = sh::hex_nut(13, 6.5, 8, 48);
  expect_solid(m, 1);
  const double hex = std::sqrt(3.0) / 2 * 13 * 13;
  EXPECT_LT(relative(signed_volume(m), (hex - ngon_area(4, 48)) * 6.5), 1e-6);
  EXPECT_LT(relative(signed_volume(m), (hex - kPi * 16) * 6.5), 1.2 * chord_error(48));
}

TEST(Shapes, Knob) {
  const sh::KnobParams p;
  const Mesh m = sh::knob(p);
  expect_solid(m, 0);
  const double v = signed_volume(m);
  EXPECT_LT(relative(v, revolved_volume(sh::knob_profile(p), p.segments, false)), 1e-6);
  // Between the plain stacked cylinders without fillets (plus the bead) and a bit less.
  const double R = p.base_diameter / 2, Rc = p.cap_diameter / 2;
  const double stacked = kPi * (R * R * p.base_height + Rc * Rc * p.cap_height);
  EXPECT_LT(v, stacked * 1.02);
  EXPECT_GT(v, stacked * 0.9);
}

TEST(Shapes, MergeKeepsObjectsSeparate) {
  const Mesh a = sh::box(10, 10, 10);
  const Mesh b = sh::tube(5, 3, 10, 16);
  const Mesh ab = sh::merge({a, b});
  EXPECT_EQ(ab.object_count(), 2u);
  EXPECT_EQ(ab.triangles.size(), a.triangles.size() + b.triangles.size());
  EXPECT_EQ(ab.vertices.size(), a.vertices.size() + b.vertices.size());
  const Mesh abab = sh::merge({ab, ab});
  EXPECT_EQ(abab.object_count(), 4u);
  EXPECT_EQ(abab.object_starts[2], ab.triangles.size());
  EXPECT_NEAR(signed_volume(abab), 2 * (signed_volume(a) + signed_volume(b)), 1e-3);
  EXPECT_EQ(sh::merge({a}).object_count(), 1u);
}

TEST(Shapes, TransformMirrorStaysOutward) {
  Mesh m = sh::l_bracket();
  const double v = signed_volume(m);
  sh::transform(m, {-1, 0, 0, 5, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1});
  expect_solid(m, 4);
  EXPECT_LT(relative(signed_volume(m), v), 1e-6);
  Mesh s = sh::box(1, 2, 3);
  sh::transform(s, {2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1});
  EXPECT_LT(relative(signed_volume(s), 48), 1e-9);
  EXPECT_THROW(sh::transform(s, {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1}), std::invalid_argument);
  EXPECT_THROW(sh::transform(s, {NAN, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}), std::invalid_argument);
}

TEST(Shapes, ShapesSitOnTheBed) {
  for (const Mesh& m : {sh::box(5, 6, 7), sh::torus(10, 2), sh::uv_sphere(4), sh::knob(), sh::spur_gear(16, 1, 5, 4)}) {
    float zmin = 1e9f;
    for (const auto& v : m.vertices) zmin = std::min(zmin, v[2]);
    EXPECT_NEAR(zmin, 0.0f, 1e-5f);
  }
}

TEST(Shapes, RejectsNonsense) {
  EXPECT_THROW(sh::box(-1, 1, 1), std::invalid_argument);
  EXPECT_THROW(sh::cylinder(1, 1, 2), std::invalid_argument);
  EXPECT_THROW(sh::tube(3, 4, 1), std::invalid_argument);
  EXPECT_THROW(sh::torus(1, 2), std::invalid_argument);
  EXPECT_THROW(sh::spur_gear(4, 1, 1, 0), std::invalid_argument);
  EXPECT_THROW(sh::spur_gear(20, 1, 1, 40), std::invalid_argument);
  EXPECT_THROW(sh::plate_with_holes(10, 10, 1, 6, 2, 2), std::invalid_argument);
  EXPECT_THROW(sh::hex_nut(10, 5, 12), std::invalid_argument);
  sh::KnobParams k;
  k.cap_diameter = 40;
  EXPECT_THROW(sh::knob(k), std::invalid_argument);
  sh::LBracketParams b;
  b.hole_diameter = 30;
  EXPECT_THROW(sh::l_bracket(b), std::invalid_argument);
  // Crossing edges in a profile are refused by the triangulator.
  sh::Profile2 bow;
  bow.outer = {{0, 0}, {1, 1}, {1, 0}, {0, 1}};
  EXPECT_THROW(sh::triangulate_profile(bow), std::invalid_argument);
  sh::Profile2 dup;
  dup.outer = {{0, 0}, {1, 0}, {1, 1}, {0, 1}};
  dup.holes = {{{0.2, 0.2}, {0.4, 0.2}, {0.3, 0.4}}, {{0.2, 0.2}, {0.5, 0.5}, {0.2, 0.5}}};
  EXPECT_THROW(sh::triangulate_profile(dup), std::invalid_argument);
}

}  // namespace
