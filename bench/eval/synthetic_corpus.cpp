#include "bench/eval/synthetic_corpus.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <vector>

#include "bench/eval/rng.h"
#include "geometry/mesh.h"
#include "geometry/shapes.h"
#include "geometry/write_mesh.h"

namespace s3d::eval {
namespace {

struct Part {
  std::string name;      // file stem and family
  std::string recipe;    // the call that made it, for the manifest's source column
  Mesh mesh;
};

std::string fmt(const char* f, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, a);
  return buf;
}

// Builds the part list. Each generator draws its parameters from `rng` within ranges chosen so the
// parts of one kind still differ clearly in proportions (two tubes are not scaled copies).
std::vector<Part> make_parts(Rng& rng) {
  std::vector<Part> parts;
  auto u = [&](double lo, double hi) { return lo + (hi - lo) * rng.uniform(); };
  auto add = [&](std::string name, std::string recipe, Mesh m) {
    parts.push_back({std::move(name), std::move(recipe), std::move(m)});
  };

  // L brackets: different leg proportions and hole counts.
  const struct { double l, w, h, t; int holes; } brackets[] = {
      {60, 30, 40, 5, 2}, {35, 20, 50, 4, 1}, {80, 15, 25, 6, 3}, {45, 45, 45, 8, 0}};
  for (size_t i = 0; i < std::size(brackets); ++i) {
    shapes::LBracketParams p;
    p.length = brackets[i].l * u(0.95, 1.05);
    p.width = brackets[i].w * u(0.95, 1.05);
    p.height = brackets[i].h * u(0.95, 1.05);
    p.thickness = brackets[i].t;
    p.hole_diameter = std::min(p.width, p.length) * 0.2;
    p.holes_per_leg = brackets[i].holes;
    add("l_bracket_" + std::to_string(i + 1),
        "shapes::l_bracket(length=" + fmt("%.2f", p.length) + ", width=" + fmt("%.2f", p.width) + ", height=" +
            fmt("%.2f", p.height) + ", thickness=" + fmt("%.1f", p.thickness) + ", holes_per_leg=" +
            std::to_string(p.holes_per_leg) + ")",
        shapes::l_bracket(p));
  }
  // Plates with hole grids.
  const struct { double sx, sy, t, d; int nx, ny; } plates[] = {{80, 50, 4, 5, 3, 2}, {40, 40, 8, 10, 1, 1}, {120, 30, 3, 4, 6, 1}};
  for (size_t i = 0; i < std::size(plates); ++i) {
    const double sx = plates[i].sx * u(0.95, 1.05), sy = plates[i].sy * u(0.95, 1.05);
    add("plate_" + std::to_string(i + 1),
        "shapes::plate_with_holes(" + fmt("%.2f", sx) + ", " + fmt("%.2f", sy) + ", " + fmt("%.1f", plates[i].t) + ", " +
            fmt("%.1f", plates[i].d) + ", " + std::to_string(plates[i].nx) + ", " + std::to_string(plates[i].ny) + ")",
        shapes::plate_with_holes(sx, sy, plates[i].t, plates[i].d, plates[i].nx, plates[i].ny));
  }
  // Gears: tooth counts far apart, different thickness ratios.
  const struct { int teeth; double module, thick, bore; } gears[] = {{12, 2.5, 10, 6}, {31, 1.5, 5, 8}, {48, 1.0, 3, 0}};
  for (size_t i = 0; i < std::size(gears); ++i) {
    const double m = gears[i].module * u(0.97, 1.03);
    add("gear_" + std::to_string(i + 1),
        "shapes::spur_gear(teeth=" + std::to_string(gears[i].teeth) + ", module=" + fmt("%.3f", m) + ", thickness=" +
            fmt("%.1f", gears[i].thick) + ", bore=" + fmt("%.1f", gears[i].bore) + ")",
        shapes::spur_gear(gears[i].teeth, m, gears[i].thick, gears[i].bore));
  }
  // Nuts.
  {
    const double af = u(16, 20);
    add("hex_nut_1", "shapes::hex_nut(" + fmt("%.2f", af) + ", 8, 10)", shapes::hex_nut(af, 8, 10));
    const double af2 = u(28, 34);
    add("hex_nut_2", "shapes::hex_nut(" + fmt("%.2f", af2) + ", 25, 8)", shapes::hex_nut(af2, 25, 8));
  }
  // Knobs.
  {
    shapes::KnobParams k;
    k.base_diameter = u(28, 32);
    add("knob_1", "shapes::knob(base_diameter=" + fmt("%.2f", k.base_diameter) + ")", shapes::knob(k));
    shapes::KnobParams k2;
    k2.base_diameter = u(45, 50);
    k2.base_height = 6;
    k2.cap_diameter = 12;
    k2.cap_height = 20;
    k2.bead_radius = 0;
    add("knob_2", "shapes::knob(base_diameter=" + fmt("%.2f", k2.base_diameter) + ", base_height=6, cap_diameter=12, cap_height=20)",
        shapes::knob(k2));
  }
  // Tubes, rings, round parts.
  {
    const double r = u(9, 11);
    add("tube_1", "shapes::tube(" + fmt("%.2f", r) + ", " + fmt("%.2f", r * 0.8) + ", 60)", shapes::tube(r, r * 0.8, 60));
    const double r2 = u(25, 30);
    add("tube_2", "shapes::tube(" + fmt("%.2f", r2) + ", " + fmt("%.2f", r2 * 0.4) + ", 12)", shapes::tube(r2, r2 * 0.4, 12));
    const double R = u(20, 24);
    add("torus_1", "shapes::torus(" + fmt("%.2f", R) + ", 4)", shapes::torus(R, 4));
    const double h = u(28, 32);
    add("cylinder_1", "shapes::cylinder(12, " + fmt("%.2f", h) + ")", shapes::cylinder(12, h));
    const double rs = u(14, 16);
    add("sphere_1", "shapes::uv_sphere(" + fmt("%.2f", rs) + ")", shapes::uv_sphere(rs));
  }
  // An assembly: a plate with a tube standing on it (one body each, one file).
  {
    Mesh base = shapes::plate_with_holes(50, 50, 5, 5, 2, 2);
    Mesh post = shapes::tube(8, 5, 40);
    shapes::transform(post, {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 5, 0, 0, 0, 1});
    add("plate_with_post", "shapes::merge(plate_with_holes(50, 50, 5, 5, 2, 2), tube(8, 5, 40) raised 5 mm)",
        shapes::merge({base, post}));
  }
  // Not reference candidates: a coarse box (12 triangles) and a tiny washer (diagonal < 15 mm).
  add("box_coarse", "shapes::box(40, 20, 10)", shapes::box(40, 20, 10));
  add("washer_tiny", "shapes::tube(4, 2, 1)", shapes::tube(4, 2, 1));
  return parts;
}

}  // namespace

size_t write_synthetic_corpus(const std::string& dir, uint64_t seed) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error(dir + ": cannot create folder: " + ec.message());
  Rng rng(derive_seed(seed, fnv1a("synthetic-corpus")));
  const std::vector<Part> parts = make_parts(rng);

  const std::string manifest_path = (std::filesystem::path(dir) / "MANIFEST.tsv").string();
  std::ofstream manifest(manifest_path, std::ios::binary | std::ios::trunc);
  if (!manifest) throw std::runtime_error(manifest_path + ": cannot write");
  manifest << "file\tsource\tlicense\ttriangles\tbytes\tfamily\n";
  for (const Part& p : parts) {
    const std::string file = "syn_" + p.name + ".stl";
    const std::filesystem::path path = std::filesystem::path(dir) / file;
    write_stl_binary(p.mesh, path.string());
    const auto bytes = std::filesystem::file_size(path, ec);
    if (ec) throw std::runtime_error(path.string() + ": cannot stat: " + ec.message());
    manifest << file << "\tscreen3d-eval --synthetic-corpus seed " << seed << ": " << p.recipe << "\tgenerated\t"
             << p.mesh.triangle_count() << "\t" << bytes << "\tsyn-" << p.name << "\n";
  }
  manifest.flush();
  if (!manifest) throw std::runtime_error(manifest_path + ": write failed");
  return parts.size();
}

}  // namespace s3d::eval
