#pragma once
// Procedural benign parts (pipes, gears, brackets, plates, nuts, knobs) for tests, the demo database
// and examples. Every shape is a closed, manifold, consistently outward-oriented triangle mesh in
// millimetres, with welded vertices, sitting on z = 0 and centred on the Z axis, so it looks like a
// part lying on a print bed. Shapes with holes are built by extruding 2D profiles with holes, so they
// are genuinely of genus > 0. Parameters are validated; nonsense throws std::invalid_argument.
// Also the small building blocks (profile extrusion, revolution, merge, affine transform).
#include <array>
#include <cstdint>
#include <vector>

#include "geometry/mesh.h"

namespace s3d::shapes {

struct Point2 {
  double x = 0;
  double y = 0;
};

// A simple polygon, vertices in order, the first vertex not repeated at the end. Either orientation.
using Ring2 = std::vector<Point2>;

// A polygon with holes: holes lie strictly inside `outer` and do not touch each other.
struct Profile2 {
  Ring2 outer;
  std::vector<Ring2> holes;
};

// Triangulates a polygon with holes without adding points (constrained Delaunay, CGAL, in
// shapes_cgal.cpp). Indices run over outer's vertices, then each hole's in order; triangles are
// counter-clockwise in the plane. Throws std::invalid_argument on duplicate points or crossing edges.
std::vector<std::array<uint32_t, 3>> triangulate_profile(const Profile2& profile);

// Regular polygon with `segments` vertices on a circle, counter-clockwise, first vertex at angle
// `phase` (radians).
Ring2 circle_ring(double cx, double cy, double r, int segments, double phase = 0.0);

// Extrudes the profile from z = 0 to z = height. Genus = number of holes.
Mesh extrude(const Profile2& profile, double height);

// Revolves a profile polyline (x = radius, y = z) around the Z axis. The first and last points lie
// on the axis (radius 0), the ones between have radius > 0. Closed genus-0 solid.
Mesh revolve(const std::vector<Point2>& profile, int segments);

// Revolves a closed loop that stays off the axis (radius > 0 everywhere): a genus-1 ring solid.
Mesh revolve_loop(const Ring2& loop, int segments);

// --- Shapes -----------------------------------------------------------------------------------

Mesh box(double sx, double sy, double sz);                         // [-sx/2,sx/2] x [-sy/2,sy/2] x [0,sz]
Mesh cylinder(double r, double h, int segments = 64);               // polygonal prism
Mesh tube(double r_out, double r_in, double h, int segments = 64);  // pipe section, genus 1
Mesh torus(double major_r, double minor_r, int nu = 64, int nv = 32);  // ring lying flat, genus 1
Mesh uv_sphere(double r, int n_lon = 48, int n_lat = 24);           // poles on the Z axis

// Involute spur gear, 20 degree pressure angle, standard addendum m and dedendum 1.25 m, with a
// round bore. teeth in [8, 150]; the bore must leave a rim inside the root circle. Genus 1
// (genus 0 when bore_diameter == 0).
Mesh spur_gear(int teeth, double module, double thickness, double bore_diameter, int points_per_flank = 6,
               int bore_segments = 48);
// The 2D outline used by spur_gear (outer ring counter-clockwise, bore as the single hole if any).
Profile2 spur_gear_profile(int teeth, double module, double bore_diameter, int points_per_flank = 6,
                           int bore_segments = 48);

// L-shaped angle bracket: a horizontal leg along +X (length x width, `thickness` thick) and a
// vertical leg rising at x in [0, thickness]; each leg has `holes_per_leg` round through holes
// spread along Y. Outer box: [0,length] x [0,width] x [0,height]. Genus 2 * holes_per_leg.
struct LBracketParams {
  double length = 60;
  double width = 30;
  double height = 40;
  double thickness = 5;
  double hole_diameter = 6;
  int holes_per_leg = 2;  // 0..4
  int hole_segments = 32;
};
Mesh l_bracket(const LBracketParams& params = {});

// Rectangular plate with an nx by ny grid of round through holes. Genus nx * ny.
Mesh plate_with_holes(double sx, double sy, double thickness, double hole_diameter, int nx, int ny,
                      int hole_segments = 32);

// Hexagonal prism (across-flats width) with a round bore, like a nut without threads. Genus 1.
Mesh hex_nut(double across_flats, double thickness, double bore_diameter, int bore_segments = 48);

// Control knob: a rounded base disc with a raised bead ring round its side, topped by a smaller
// cap with a rounded top. Genus 0.
struct KnobParams {
  double base_diameter = 30;
  double base_height = 10;
  double cap_diameter = 18;
  double cap_height = 8;   // above the base
  double fillet = 2;       // rounding of base and cap edges
  double bead_radius = 1;  // the ring round the base side; 0 for none
  int segments = 64;
  int arc_segments = 6;    // per quarter circle
};
Mesh knob(const KnobParams& params = {});
// The (radius, z) outline that knob() revolves, from (0, 0) up to (0, total height).
std::vector<Point2> knob_profile(const KnobParams& params = {});

// --- Assembly ---------------------------------------------------------------------------------

// Concatenates meshes; every object of every input stays a separate object.
Mesh merge(const std::vector<Mesh>& meshes);

// Applies an affine 4x4 matrix (row-major, acting on column vectors [x y z 1]) to every vertex.
// A matrix with negative determinant (a mirror) also reverses every triangle so an outward mesh
// stays outward. Throws std::invalid_argument unless the last row is (0, 0, 0, 1) and all
// entries are finite.
void transform(Mesh& mesh, const std::array<double, 16>& row_major_4x4);

}  // namespace s3d::shapes
