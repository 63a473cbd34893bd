// Generates the demo signature database and the example inputs (see README.md). Deterministic.
//   s3d_make_examples --db OUT.s3db        writes the demo database
//   s3d_make_examples --examples DIR       writes the example inputs into DIR
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "engine/reference_checks.h"
#include "geometry/shapes.h"
#include "geometry/write_mesh.h"
#include "signatures/build_signature.h"
#include "signatures/database.h"

namespace {
using namespace s3d;
using namespace s3d::shapes;

std::array<double, 16> pose(double ax, double ay, double az, double tx, double ty, double tz, double s) {
  const double cx = std::cos(ax), sx = std::sin(ax), cy = std::cos(ay), sy = std::sin(ay), cz = std::cos(az), sz = std::sin(az);
  const double r[9] = {cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx, sz * cy, sz * sy * sx + cz * cx,
                       sz * sy * cx - cz * sx, -sy, cy * sx, cy * cx};
  return {s * r[0], s * r[1], s * r[2], tx, s * r[3], s * r[4], s * r[5], ty, s * r[6], s * r[7], s * r[8], tz, 0, 0, 0, 1};
}

// A chiral angle bracket: an L-bracket with a lug on one side.
Mesh demo_bracket() {
  LBracketParams bp;
  bp.length = 70;
  bp.height = 45;
  Mesh lug = box(10, 8, 6);
  transform(lug, {1, 0, 0, 45, 0, 1, 0, 4, 0, 0, 1, 5, 0, 0, 0, 1});
  return merge({l_bracket(bp), lug});
}

// A gear hub: a 23-tooth spur gear with a bore.
Mesh demo_gear_hub() { return spur_gear(23, 2.0, 8, 8); }

Mesh moved(Mesh m, const std::array<double, 16>& xf) {
  transform(m, xf);
  return m;
}

int write_db(const std::string& path) {
  std::vector<Signature> sigs;
  struct Ref {
    const char* label;
    Category category;
    Mesh mesh;
  };
  std::vector<Ref> refs;
  refs.push_back({"demo-bracket", Category::kOther, demo_bracket()});
  refs.push_back({"demo-gear-hub", Category::kOther, demo_gear_hub()});
  for (auto& r : refs) {
    Signature s = build_signature(r.mesh);
    // As `screen3d sig add` does: the best plain look-alike's score goes with the entry.
    s.plain_match = plain_match_from(plain_stand_ins(s, r.mesh, MatchSettings{}));
    s.meta.label = r.label;
    s.meta.category = r.category;
    s.meta.severity = 5;
    s.meta.added_by = "s3d_make_examples";
    s.meta.added_at = 0;  // fixed, so the demo database is reproducible
    s.meta.tool_version = "demo";
    sigs.push_back(std::move(s));
  }
  write_database(path, sigs);
  return 0;
}

int write_examples(const std::string& dir) {
  const Mesh bracket = demo_bracket();
  write_stl_binary(moved(bracket, pose(0.6, -0.9, 2.1, 35, -20, 60, 1.04)), dir + "/bracket_reposed.stl");
  write_obj(moved(bracket, pose(1.2, 0.3, -0.5, 0, 0, 0, 0.70)), dir + "/bracket_70pct.obj");
  // A build plate: the gear hub among a pipe and a knob, as separate objects of one 3MF.
  std::vector<Mesh> objects{demo_gear_hub(), tube(12, 9, 40), knob()};
  std::vector<std::array<double, 12>> items{{0.8, 0.6, 0, 0.6 * -1, 0.8, 0, 0, 0, 1, 80, 80, 0},
                                            {1, 0, 0, 0, 1, 0, 0, 0, 1, 160, 90, 0},
                                            {1, 0, 0, 0, 1, 0, 0, 0, 1, 110, 170, 0}};
  write_3mf_items(objects, items, "millimeter", dir + "/print_plate.3mf");
  write_stl_binary(tube(20, 16, 60), dir + "/pipe.stl");
  write_stl_binary(spur_gear(30, 2.0, 8, 8), dir + "/gear_30t.stl");
  std::vector<uint8_t> cut = to_stl_binary(knob());
  cut.resize(cut.size() / 2);
  std::ofstream(dir + "/truncated.stl", std::ios::binary).write(reinterpret_cast<const char*>(cut.data()), static_cast<std::streamsize>(cut.size()));
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 3 && std::string(argv[1]) == "--db") return write_db(argv[2]);
    if (argc == 3 && std::string(argv[1]) == "--examples") return write_examples(argv[2]);
    std::fprintf(stderr, "usage: s3d_make_examples --db OUT.s3db | --examples DIR\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "s3d_make_examples: %s\n", e.what());
    return 2;
  }
}
