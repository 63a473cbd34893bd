// Procedural benign parts. Solids are assembled from three constructions whose topology is right by
// construction: extrusion of a 2D profile with holes (caps triangulated by triangulate_profile, which
// adds no points, so caps and walls share their vertices), surfaces of revolution (rings of equal
// angular positions, so every quad between rings is planar), and, for the L-bracket, a polyhedron of
// axis-aligned planar faces with holes joined by hole walls. Each builder finishes by checking the
// sign of the enclosed volume and reversing all triangles if needed, so every shape is outward.
#include "geometry/shapes.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

namespace s3d::shapes {
namespace {

constexpr double kPi = std::numbers::pi;

void require(bool ok, const char* what) {
  if (!ok) throw std::invalid_argument(std::string("shapes: ") + what);
}

bool positive_finite(double v) { return std::isfinite(v) && v > 0; }

uint32_t add_vertex(Mesh& m, double x, double y, double z) {
  m.vertices.push_back({static_cast<float>(x), static_cast<float>(y), static_cast<float>(z)});
  return static_cast<uint32_t>(m.vertices.size() - 1);
}

double signed_volume(const Mesh& m) {
  double v = 0;
  for (const Tri& t : m.triangles) {
    const Vec3f& a = m.vertices[t[0]];
    const Vec3f& b = m.vertices[t[1]];
    const Vec3f& c = m.vertices[t[2]];
    const double cx = double(b[1]) * c[2] - double(b[2]) * c[1];
    const double cy = double(b[2]) * c[0] - double(b[0]) * c[2];
    const double cz = double(b[0]) * c[1] - double(b[1]) * c[0];
    v += a[0] * cx + a[1] * cy + a[2] * cz;
  }
  return v / 6.0;
}

void flip_all(Mesh& m) {
  for (Tri& t : m.triangles) std::swap(t[1], t[2]);
}

// Builders produce consistent orientation; this only picks the outward one of the two.
void orient_outward(Mesh& m) {
  if (signed_volume(m) < 0) flip_all(m);
}

double ring_signed_area(const Ring2& r) {
  double a = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    const Point2& p = r[i];
    const Point2& q = r[(i + 1) % r.size()];
    a += p.x * q.y - q.x * p.y;
  }
  return a / 2;
}

void validate_ring(const Ring2& r) {
  require(r.size() >= 3, "ring with fewer than 3 points");
  for (const Point2& p : r) require(std::isfinite(p.x) && std::isfinite(p.y), "non-finite profile point");
  require(std::abs(ring_signed_area(r)) > 0, "ring with zero area");
}

// Drops consecutive (and wrap-around) points closer than `eps`.
std::vector<Point2> dedupe(const std::vector<Point2>& pts, bool closed, double eps = 1e-9) {
  std::vector<Point2> out;
  for (const Point2& p : pts) {
    if (!out.empty() && std::hypot(p.x - out.back().x, p.y - out.back().y) <= eps) continue;
    out.push_back(p);
  }
  while (closed && out.size() > 1 && std::hypot(out.front().x - out.back().x, out.front().y - out.back().y) <= eps)
    out.pop_back();
  return out;
}

// Triangulates one planar, axis-aligned face with holes given as vertex indices of `m`.
// The face lies in a plane of constant coordinate `axis`; `outward_positive` says whether its
// outward normal points along +axis.
void add_planar_face(Mesh& m, const std::vector<uint32_t>& outer, const std::vector<std::vector<uint32_t>>& holes,
                     int axis, bool outward_positive) {
  const int u = (axis + 1) % 3;
  const int v = (axis + 2) % 3;  // (u, v, axis) is right-handed, so CCW in (u, v) means normal +axis
  Profile2 prof;
  std::vector<uint32_t> index;
  auto project = [&](const std::vector<uint32_t>& loop) {
    Ring2 r;
    for (uint32_t i : loop) {
      r.push_back({m.vertices[i][u], m.vertices[i][v]});
      index.push_back(i);
    }
    return r;
  };
  prof.outer = project(outer);
  for (const auto& h : holes) prof.holes.push_back(project(h));
  for (const auto& t : triangulate_profile(prof)) {
    if (outward_positive) {
      m.triangles.push_back({index[t[0]], index[t[1]], index[t[2]]});
    } else {
      m.triangles.push_back({index[t[0]], index[t[2]], index[t[1]]});
    }
  }
}

// Joins two equal-size vertex rings (ring a[i] opposite b[i]) with a band of quads whose normals
// face the axis through `axis_point` along `axis_dir` (the wall of a drilled hole).
void add_hole_wall(Mesh& m, const std::vector<uint32_t>& a, const std::vector<uint32_t>& b,
                   const std::array<double, 3>& axis_point) {
  const size_t first = m.triangles.size();
  const size_t n = a.size();
  for (size_t i = 0; i < n; ++i) {
    const size_t j = (i + 1) % n;
    m.triangles.push_back({a[i], a[j], b[j]});
    m.triangles.push_back({a[i], b[j], b[i]});
  }
  // Orientation check on the first triangle: its normal must point from the wall to the axis.
  const Tri& t = m.triangles[first];
  const Vec3f& p0 = m.vertices[t[0]];
  const Vec3f& p1 = m.vertices[t[1]];
  const Vec3f& p2 = m.vertices[t[2]];
  const double e1[3] = {double(p1[0]) - p0[0], double(p1[1]) - p0[1], double(p1[2]) - p0[2]};
  const double e2[3] = {double(p2[0]) - p0[0], double(p2[1]) - p0[1], double(p2[2]) - p0[2]};
  const double nrm[3] = {e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]};
  const double to_axis[3] = {axis_point[0] - p0[0], axis_point[1] - p0[1], axis_point[2] - p0[2]};
  // The axis point shares the ring's plane coordinate, so the component along the axis is ~0.
  if (nrm[0] * to_axis[0] + nrm[1] * to_axis[1] + nrm[2] * to_axis[2] < 0) {
    for (size_t k = first; k < m.triangles.size(); ++k) std::swap(m.triangles[k][1], m.triangles[k][2]);
  }
}

}  // namespace

Ring2 circle_ring(double cx, double cy, double r, int segments, double phase) {
  require(positive_finite(r) && std::isfinite(cx) && std::isfinite(cy), "circle radius must be positive");
  require(segments >= 3 && segments <= 100000, "circle segments out of range [3, 100000]");
  Ring2 ring(static_cast<size_t>(segments));
  for (int i = 0; i < segments; ++i) {
    const double a = phase + 2 * kPi * i / segments;
    ring[static_cast<size_t>(i)] = {cx + r * std::cos(a), cy + r * std::sin(a)};
  }
  return ring;
}

Mesh extrude(const Profile2& profile, double height) {
  require(positive_finite(height), "extrusion height must be positive");
  Profile2 p;
  p.outer = dedupe(profile.outer, true);
  validate_ring(p.outer);
  if (ring_signed_area(p.outer) < 0) std::reverse(p.outer.begin(), p.outer.end());
  for (const Ring2& h0 : profile.holes) {
    Ring2 h = dedupe(h0, true);
    validate_ring(h);
    if (ring_signed_area(h) > 0) std::reverse(h.begin(), h.end());  // holes clockwise
    p.holes.push_back(std::move(h));
  }
  const auto caps = triangulate_profile(p);

  Mesh m;
  std::vector<const Ring2*> rings{&p.outer};
  for (const Ring2& h : p.holes) rings.push_back(&h);
  for (double z : {0.0, height})
    for (const Ring2* r : rings)
      for (const Point2& q : *r) add_vertex(m, q.x, q.y, z);
  const auto n = static_cast<uint32_t>(m.vertices.size() / 2);

  for (const auto& t : caps) {
    m.triangles.push_back({t[0], t[2], t[1]});              // bottom faces -z
    m.triangles.push_back({t[0] + n, t[1] + n, t[2] + n});  // top faces +z
  }
  // Walls: outer ring CCW and holes CW, so (a, b, b', a') faces away from the material.
  uint32_t offset = 0;
  for (const Ring2* r : rings) {
    const auto size = static_cast<uint32_t>(r->size());
    for (uint32_t i = 0; i < size; ++i) {
      const uint32_t a = offset + i;
      const uint32_t b = offset + (i + 1) % size;
      m.triangles.push_back({a, b, b + n});
      m.triangles.push_back({a, b + n, a + n});
    }
    offset += size;
  }
  orient_outward(m);
  return m;
}

Mesh revolve(const std::vector<Point2>& profile_in, int segments) {
  require(segments >= 3 && segments <= 100000, "revolve segments out of range [3, 100000]");
  const std::vector<Point2> prof = dedupe(profile_in, false);
  require(prof.size() >= 3, "revolve profile needs at least 3 distinct points");
  require(std::abs(prof.front().x) < 1e-12 && std::abs(prof.back().x) < 1e-12,
          "revolve profile must start and end on the axis");
  for (size_t j = 1; j + 1 < prof.size(); ++j)
    require(std::isfinite(prof[j].x) && std::isfinite(prof[j].y) && prof[j].x > 0,
            "revolve profile interior points need radius > 0");

  Mesh m;
  const uint32_t bottom = add_vertex(m, 0, 0, prof.front().y);
  const auto rings = static_cast<uint32_t>(prof.size() - 2);
  const auto seg = static_cast<uint32_t>(segments);
  for (uint32_t j = 0; j < rings; ++j) {
    const Point2& q = prof[j + 1];
    for (uint32_t i = 0; i < seg; ++i) {
      const double a = 2 * kPi * i / segments;
      add_vertex(m, q.x * std::cos(a), q.x * std::sin(a), q.y);
    }
  }
  const uint32_t top = add_vertex(m, 0, 0, prof.back().y);
  auto ring = [&](uint32_t j, uint32_t i) { return 1 + j * seg + i % seg; };
  for (uint32_t i = 0; i < seg; ++i) m.triangles.push_back({bottom, ring(0, i + 1), ring(0, i)});
  for (uint32_t j = 0; j + 1 < rings; ++j) {
    for (uint32_t i = 0; i < seg; ++i) {
      m.triangles.push_back({ring(j, i), ring(j, i + 1), ring(j + 1, i + 1)});
      m.triangles.push_back({ring(j, i), ring(j + 1, i + 1), ring(j + 1, i)});
    }
  }
  for (uint32_t i = 0; i < seg; ++i) m.triangles.push_back({ring(rings - 1, i), ring(rings - 1, i + 1), top});
  orient_outward(m);
  return m;
}

Mesh revolve_loop(const Ring2& loop_in, int segments) {
  require(segments >= 3 && segments <= 100000, "revolve segments out of range [3, 100000]");
  const Ring2 loop = dedupe(loop_in, true);
  validate_ring(loop);
  for (const Point2& q : loop) require(q.x > 0, "revolved loop must stay off the axis");
  Mesh m;
  const auto seg = static_cast<uint32_t>(segments);
  const auto rings = static_cast<uint32_t>(loop.size());
  for (const Point2& q : loop) {
    for (uint32_t i = 0; i < seg; ++i) {
      const double a = 2 * kPi * i / segments;
      add_vertex(m, q.x * std::cos(a), q.x * std::sin(a), q.y);
    }
  }
  auto ring = [&](uint32_t j, uint32_t i) { return (j % rings) * seg + i % seg; };
  for (uint32_t j = 0; j < rings; ++j) {
    for (uint32_t i = 0; i < seg; ++i) {
      m.triangles.push_back({ring(j, i), ring(j, i + 1), ring(j + 1, i + 1)});
      m.triangles.push_back({ring(j, i), ring(j + 1, i + 1), ring(j + 1, i)});
    }
  }
  orient_outward(m);
  return m;
}

Mesh box(double sx, double sy, double sz) {
  require(positive_finite(sx) && positive_finite(sy) && positive_finite(sz), "box sizes must be positive");
  Profile2 p;
  p.outer = {{-sx / 2, -sy / 2}, {sx / 2, -sy / 2}, {sx / 2, sy / 2}, {-sx / 2, sy / 2}};
  return extrude(p, sz);
}

Mesh cylinder(double r, double h, int segments) {
  Profile2 p;
  p.outer = circle_ring(0, 0, r, segments);
  return extrude(p, h);
}

Mesh tube(double r_out, double r_in, double h, int segments) {
  require(positive_finite(r_in) && positive_finite(r_out) && r_in < r_out, "tube needs 0 < r_in < r_out");
  Profile2 p;
  p.outer = circle_ring(0, 0, r_out, segments);
  p.holes.push_back(circle_ring(0, 0, r_in, segments));
  return extrude(p, h);
}

Mesh torus(double major_r, double minor_r, int nu, int nv) {
  require(positive_finite(minor_r) && positive_finite(major_r) && minor_r < major_r, "torus needs 0 < r < R");
  return revolve_loop(circle_ring(major_r, minor_r, minor_r, nv), nu);
}

Mesh uv_sphere(double r, int n_lon, int n_lat) {
  require(positive_finite(r), "sphere radius must be positive");
  require(n_lat >= 2 && n_lat <= 100000, "sphere n_lat out of range [2, 100000]");
  std::vector<Point2> prof;
  for (int j = 0; j <= n_lat; ++j) {
    const double th = kPi * j / n_lat;
    const double rad = (j == 0 || j == n_lat) ? 0.0 : r * std::sin(th);
    prof.push_back({rad, r - r * std::cos(th)});
  }
  return revolve(prof, n_lon);
}

Profile2 spur_gear_profile(int teeth, double module, double bore_diameter, int points_per_flank, int bore_segments) {
  require(teeth >= 8 && teeth <= 150, "gear teeth out of range [8, 150]");
  require(positive_finite(module), "gear module must be positive");
  require(points_per_flank >= 2 && points_per_flank <= 64, "gear points_per_flank out of range [2, 64]");
  require(std::isfinite(bore_diameter) && bore_diameter >= 0, "gear bore must be >= 0");
  const double pressure = 20.0 * kPi / 180.0;
  const double rp = module * teeth / 2;
  const double rb = rp * std::cos(pressure);
  const double ra = rp + module;
  const double rf = rp - 1.25 * module;
  auto inv = [](double a) { return std::tan(a) - a; };
  // Polar angle of a flank point at radius r, measured from the tooth centre line.
  const double half_base = kPi / (2.0 * teeth) + inv(pressure);
  auto flank_angle = [&](double r) { return half_base - inv(std::acos(std::min(1.0, rb / r))); };
  const double r_start = std::max(rf, rb);

  Profile2 p;
  auto polar = [&](double r, double a) { p.outer.push_back({r * std::cos(a), r * std::sin(a)}); };
  for (int k = 0; k < teeth; ++k) {
    const double c = 2 * kPi * k / teeth;
    if (rf < rb) polar(rf, c - half_base);  // radial flank below the base circle
    for (int i = 0; i < points_per_flank; ++i) {
      const double r = r_start + (ra - r_start) * i / (points_per_flank - 1);
      polar(r, c - flank_angle(r));
    }
    polar(ra, c);  // tip
    for (int i = points_per_flank - 1; i >= 0; --i) {
      const double r = r_start + (ra - r_start) * i / (points_per_flank - 1);
      polar(r, c + flank_angle(r));
    }
    if (rf < rb) polar(rf, c + half_base);
    polar(rf, c + kPi / teeth);  // middle of the root gap
  }
  if (bore_diameter > 0) {
    require(bore_diameter / 2 <= rf - 0.5 * module, "gear bore leaves no rim inside the root circle");
    p.holes.push_back(circle_ring(0, 0, bore_diameter / 2, bore_segments));
  }
  return p;
}

Mesh spur_gear(int teeth, double module, double thickness, double bore_diameter, int points_per_flank,
               int bore_segments) {
  return extrude(spur_gear_profile(teeth, module, bore_diameter, points_per_flank, bore_segments), thickness);
}

Mesh l_bracket(const LBracketParams& pr) {
  const double L = pr.length, W = pr.width, H = pr.height, t = pr.thickness;
  require(positive_finite(L) && positive_finite(W) && positive_finite(H) && positive_finite(t),
          "bracket sizes must be positive");
  require(t < L && t < H, "bracket thickness must be below length and height");
  require(pr.holes_per_leg >= 0 && pr.holes_per_leg <= 4, "bracket holes_per_leg out of range [0, 4]");
  const int nh = pr.holes_per_leg;
  const double r = pr.hole_diameter / 2;
  if (nh > 0) {
    require(positive_finite(r), "bracket hole diameter must be positive");
    require(pr.hole_diameter < 0.8 * std::min({L - t, H - t, W / nh}), "bracket holes do not fit in the legs");
    require(pr.hole_segments >= 3 && pr.hole_segments <= 1024, "bracket hole_segments out of range [3, 1024]");
  }

  Mesh m;
  // The L outline in XZ: bottom, far end, step, inner corner, top of the vertical leg, back.
  const std::array<std::array<double, 2>, 6> l_xz{{{0, 0}, {L, 0}, {L, t}, {t, t}, {t, H}, {0, H}}};
  std::vector<uint32_t> a, b;  // the outline at y = 0 and y = W
  for (const auto& q : l_xz) a.push_back(add_vertex(m, q[0], 0, q[1]));
  for (const auto& q : l_xz) b.push_back(add_vertex(m, q[0], W, q[1]));

  const double hx = t + (L - t) / 2;  // horizontal-leg holes run along Z at x = hx
  const double hz = t + (H - t) / 2;  // vertical-leg holes run along X at z = hz
  std::vector<std::vector<uint32_t>> h_bottom, h_top, v_back, v_front;
  for (int k = 0; k < nh; ++k) {
    const double yc = W * (k + 0.5) / nh;
    std::vector<uint32_t> r0, r1, r2, r3;
    for (int i = 0; i < pr.hole_segments; ++i) {
      const double ang = 2 * kPi * i / pr.hole_segments;
      const double cu = r * std::cos(ang), su = r * std::sin(ang);
      r0.push_back(add_vertex(m, hx + cu, yc + su, 0));
      r1.push_back(add_vertex(m, hx + cu, yc + su, t));
      r2.push_back(add_vertex(m, 0, yc + cu, hz + su));
      r3.push_back(add_vertex(m, t, yc + cu, hz + su));
    }
    add_hole_wall(m, r0, r1, {hx, yc, 0});
    add_hole_wall(m, r2, r3, {0, yc, hz});
    h_bottom.push_back(std::move(r0));
    h_top.push_back(std::move(r1));
    v_back.push_back(std::move(r2));
    v_front.push_back(std::move(r3));
  }
  add_planar_face(m, a, {}, 1, false);  // y = 0
  add_planar_face(m, b, {}, 1, true);   // y = W
  auto quad = [&](int k) {
    const int k1 = (k + 1) % 6;
    return std::vector<uint32_t>{a[k], a[k1], b[k1], b[k]};
  };
  add_planar_face(m, quad(0), h_bottom, 2, false);  // z = 0
  add_planar_face(m, quad(1), {}, 0, true);         // x = L
  add_planar_face(m, quad(2), h_top, 2, true);      // z = t, top of the horizontal leg
  add_planar_face(m, quad(3), v_front, 0, true);    // x = t, front of the vertical leg
  add_planar_face(m, quad(4), {}, 2, true);         // z = H
  add_planar_face(m, quad(5), v_back, 0, false);    // x = 0
  orient_outward(m);
  return m;
}

Mesh plate_with_holes(double sx, double sy, double thickness, double hole_diameter, int nx, int ny,
                      int hole_segments) {
  require(positive_finite(sx) && positive_finite(sy), "plate sizes must be positive");
  require(nx >= 0 && ny >= 0 && nx <= 64 && ny <= 64, "plate hole grid out of range [0, 64]");
  Profile2 p;
  p.outer = {{-sx / 2, -sy / 2}, {sx / 2, -sy / 2}, {sx / 2, sy / 2}, {-sx / 2, sy / 2}};
  if (nx > 0 && ny > 0) {
    require(positive_finite(hole_diameter) && hole_diameter < 0.9 * std::min(sx / nx, sy / ny),
            "plate holes do not fit");
    for (int i = 0; i < nx; ++i)
      for (int j = 0; j < ny; ++j)
        p.holes.push_back(circle_ring(-sx / 2 + sx * (i + 0.5) / nx, -sy / 2 + sy * (j + 0.5) / ny, hole_diameter / 2,
                                      hole_segments));
  }
  return extrude(p, thickness);
}

Mesh hex_nut(double across_flats, double thickness, double bore_diameter, int bore_segments) {
  require(positive_finite(across_flats), "nut size must be positive");
  require(positive_finite(bore_diameter) && bore_diameter < 0.9 * across_flats, "nut bore must fit inside the flats");
  Profile2 p;
  p.outer = circle_ring(0, 0, across_flats / std::sqrt(3.0), 6, kPi / 6);
  p.holes.push_back(circle_ring(0, 0, bore_diameter / 2, bore_segments));
  return extrude(p, thickness);
}

std::vector<Point2> knob_profile(const KnobParams& k) {
  const double R = k.base_diameter / 2, Rc = k.cap_diameter / 2, hb = k.base_height, f = k.fillet, b = k.bead_radius;
  const double H = hb + k.cap_height;
  require(positive_finite(R) && positive_finite(Rc) && positive_finite(hb) && positive_finite(k.cap_height),
          "knob sizes must be positive");
  require(positive_finite(f) && f <= hb / 3 && f <= k.cap_height / 2 && f <= Rc / 2, "knob fillet too large");
  require(Rc < R - f, "knob cap must be narrower than the base minus its fillet");
  require(std::isfinite(b) && b >= 0 && 2 * b < hb - 2 * f, "knob bead must fit on the base side");
  require(k.arc_segments >= 1 && k.arc_segments <= 64, "knob arc_segments out of range [1, 64]");
  std::vector<Point2> pr;
  // Quarter (or half) arc around (cx, cz) from angle a0 to a1, endpoints included.
  auto arc = [&](double cx, double cz, double rad, double a0, double a1, int n) {
    for (int i = 0; i <= n; ++i) {
      const double a = a0 + (a1 - a0) * i / n;
      pr.push_back({cx + rad * std::cos(a), cz + rad * std::sin(a)});
    }
  };
  const int n = k.arc_segments;
  pr.push_back({0, 0});
  arc(R - f, f, f, -kPi / 2, 0, n);  // bottom edge rounding
  if (b > 0) arc(R, hb / 2, b, -kPi / 2, kPi / 2, 2 * n);  // bead ring bulging outward
  arc(R - f, hb - f, f, 0, kPi / 2, n);  // base top edge rounding
  pr.push_back({Rc, hb});
  arc(Rc - f, H - f, f, 0, kPi / 2, n);  // cap top rounding
  pr.push_back({0, H});
  std::vector<Point2> out = dedupe(pr, false);
  out.front().x = 0;
  out.back().x = 0;
  return out;
}

Mesh knob(const KnobParams& params) { return revolve(knob_profile(params), params.segments); }

Mesh merge(const std::vector<Mesh>& meshes) {
  Mesh out;
  for (const Mesh& m : meshes) {
    if (m.triangles.empty()) continue;
    if (out.object_starts.empty() && !out.triangles.empty()) out.object_starts.push_back(0);
    const auto vbase = static_cast<uint32_t>(out.vertices.size());
    const auto tbase = static_cast<uint32_t>(out.triangles.size());
    if (m.object_starts.empty()) {
      out.object_starts.push_back(tbase);
    } else {
      for (uint32_t s : m.object_starts) out.object_starts.push_back(tbase + s);
    }
    out.vertices.insert(out.vertices.end(), m.vertices.begin(), m.vertices.end());
    for (const Tri& t : m.triangles) out.triangles.push_back({t[0] + vbase, t[1] + vbase, t[2] + vbase});
  }
  // A single object is written the canonical way (no starts).
  if (out.object_starts.size() == 1) out.object_starts.clear();
  return out;
}

void transform(Mesh& mesh, const std::array<double, 16>& m) {
  for (double v : m) require(std::isfinite(v), "transform matrix has a non-finite entry");
  require(m[12] == 0 && m[13] == 0 && m[14] == 0 && m[15] == 1, "transform matrix must be affine (last row 0 0 0 1)");
  for (Vec3f& p : mesh.vertices) {
    const double x = p[0], y = p[1], z = p[2];
    p = {static_cast<float>(m[0] * x + m[1] * y + m[2] * z + m[3]),
         static_cast<float>(m[4] * x + m[5] * y + m[6] * z + m[7]),
         static_cast<float>(m[8] * x + m[9] * y + m[10] * z + m[11])};
  }
  const double det = m[0] * (m[5] * m[10] - m[6] * m[9]) - m[1] * (m[4] * m[10] - m[6] * m[8]) +
                     m[2] * (m[4] * m[9] - m[5] * m[8]);
  if (det < 0) flip_all(mesh);
}

}  // namespace s3d::shapes
