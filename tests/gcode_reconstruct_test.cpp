// Reconstruction of the printed solid from G-code toolpaths (geometry/gcode/reconstruct.h): synthetic
// layers built directly, then, when PrusaSlicer is installed, a sliced procedural part end to end.
#include "geometry/gcode/reconstruct.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "geometry/gcode/gcode_reader.h"
#include "geometry/shapes.h"
#include "geometry/write_mesh.h"
#include "tests/support/test_helpers.h"

namespace s3d::gcode {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr float kW = 0.45f;
using Pt = std::array<double, 2>;

Layer make_layer(uint32_t index, float z, float h) {
  Layer l;
  l.index = index;
  l.z = z;
  l.height = h;
  return l;
}

void add_move(Layer& l, Pt a, Pt b, float w = kW, int32_t obj = -1) {
  const float e = static_cast<float>(std::hypot(b[0] - a[0], b[1] - a[1]) * 0.03 + 1e-4);
  l.moves.push_back({static_cast<float>(a[0]), static_cast<float>(a[1]), static_cast<float>(b[0]), static_cast<float>(b[1]), l.z, e,
                     w, 0, obj});
}

// A closed loop through pts, back to the first point, as consecutive moves.
void add_loop(Layer& l, const std::vector<Pt>& pts, float w = kW, int32_t obj = -1) {
  for (size_t i = 0; i < pts.size(); ++i) add_move(l, pts[i], pts[(i + 1) % pts.size()], w, obj);
}

std::vector<Pt> rect(double cx, double cy, double hx, double hy) {
  return {{cx - hx, cy - hy}, {cx + hx, cy - hy}, {cx + hx, cy + hy}, {cx - hx, cy + hy}};
}

std::vector<Pt> circle(double cx, double cy, double r, int n = 64) {
  std::vector<Pt> p;
  for (int i = 0; i < n; ++i) p.push_back({cx + r * std::cos(2 * kPi * i / n), cy + r * std::sin(2 * kPi * i / n)});
  return p;
}

// A square block (half sizes hx, hy) with two perimeters and 15% rectilinear infill (lines 3 mm apart,
// alternating direction by layer), optionally with a round hole of radius hole_r at the centre.
void add_block(Layer& l, double cx, double cy, double hx, double hy, double hole_r = 0, int32_t obj = -1) {
  for (int k = 0; k < 2; ++k) add_loop(l, rect(cx, cy, hx - kW * (0.5 + k), hy - kW * (0.5 + k)), kW, obj);
  if (hole_r > 0)
    for (int k = 0; k < 2; ++k) add_loop(l, circle(cx, cy, hole_r + kW * (0.5 + k), 96), kW, obj);
  const double in_x = hx - 2 * kW + 0.1, in_y = hy - 2 * kW + 0.1;  // infill reaches 0.1 mm into the perimeters
  const double hole_out = hole_r > 0 ? hole_r + 2 * kW - 0.1 : 0;
  const bool along_x = l.index % 2 == 0;
  const double span = along_x ? in_y : in_x, len = along_x ? in_x : in_y;
  for (double t = -span + 1.5; t < span; t += 3.0) {
    auto put = [&](double s0, double s1) {
      if (along_x)
        add_move(l, {cx + s0, cy + t}, {cx + s1, cy + t}, kW, obj);
      else
        add_move(l, {cx + t, cy + s0}, {cx + t, cy + s1}, kW, obj);
    };
    if (std::fabs(t) < hole_out) {
      const double s = std::sqrt(hole_out * hole_out - t * t);
      put(-len, -s);
      put(s, len);
    } else {
      put(-len, len);
    }
  }
}

PrintSample run(const std::vector<Layer>& layers, ReconstructOptions o = {}, const std::vector<ObjectLabel>& labels = {}) {
  Reconstructor r(o);
  for (const ObjectLabel& lab : labels) r.on_object(lab);
  for (Layer l : layers) r.on_layer(std::move(l));
  return r.finish();
}

double cheb(const Vec3f& p) { return std::max(std::fabs(p[0]), std::fabs(p[1])); }

// ---- A square tube: 4 perimeter loops per layer, 50 layers -------------------------------------
std::vector<Layer> square_tube() {
  std::vector<Layer> layers;
  for (uint32_t i = 0; i < 50; ++i) {
    Layer l = make_layer(i, 0.2f * (i + 1), 0.2f);
    for (int k = 0; k < 4; ++k) add_loop(l, rect(0, 0, 10 - kW * (0.5 + k), 10 - kW * (0.5 + k)));
    layers.push_back(std::move(l));
  }
  return layers;
}

// Widths no nozzle prints (E scaled by steps/mm the file changed, false ;WIDTH: comments) are
// rescaled per layer so the median is the default: hairline walls read like real ones.
TEST(GcodeReconstruct, ImplausibleWidthsAreRescaledPerLayer) {
  const PrintSample normal = run(square_tube());
  EXPECT_EQ(normal.rescaled_layers, 0u);
  for (const float factor : {0.05f, 6.0f}) {
    std::vector<Layer> layers = square_tube();
    for (Layer& l : layers)
      for (ExtrusionMove& m : l.moves) m.width *= factor;
    const PrintSample ps = run(layers);
    EXPECT_EQ(ps.rescaled_layers, 50u) << factor;
    EXPECT_EQ(ps.bodies, normal.bodies) << factor;
    EXPECT_NEAR(static_cast<double>(ps.sample.points.size()), static_cast<double>(normal.sample.points.size()),
                0.01 * static_cast<double>(normal.sample.points.size()))
        << factor;
    ASSERT_EQ(ps.area_profile.size(), normal.area_profile.size());
    for (size_t i = 0; i < ps.area_profile.size(); ++i)
      EXPECT_NEAR(ps.area_profile[i][1], normal.area_profile[i][1], 0.01 * normal.area_profile[i][1] + 1e-3) << factor;
  }
}

TEST(GcodeReconstruct, SquareTubeWallsSkinsAndNormals) {
  const PrintSample ps = run(square_tube());
  const double cell = 0.2, outer = 10, inner = 10 - 4 * kW;
  ASSERT_EQ(ps.layers, 50u);
  ASSERT_EQ(ps.bodies, 1u);
  EXPECT_FALSE(ps.labelled);
  ASSERT_GT(ps.sample.points.size(), 20000u);
  size_t walls_out = 0, walls_in = 0, top = 0, bottom = 0;
  for (size_t i = 0; i < ps.sample.points.size(); ++i) {
    const Vec3f& p = ps.sample.points[i];
    const Vec3f& n = ps.sample.normals[i];
    ASSERT_NEAR(n[0] * n[0] + n[1] * n[1] + n[2] * n[2], 1.0, 1e-4);
    const double m = cheb(p);
    if (std::fabs(n[2]) < 0.1) {
      ASSERT_GE(p[2], -1e-4);
      ASSERT_LE(p[2], 10.0001);
      const bool is_out = std::fabs(m - outer) < cell, is_in = std::fabs(m - inner) < cell;
      ASSERT_TRUE(is_out || is_in) << "wall point off the walls: " << p[0] << " " << p[1];
      const int axis = std::fabs(p[0]) > std::fabs(p[1]) ? 0 : 1;
      if (std::min(std::fabs(p[0]), std::fabs(p[1])) > m - 0.5) continue;  // near a corner
      const double outward = n[axis] * (p[axis] > 0 ? 1 : -1);
      if (is_out) {
        EXPECT_GT(outward, 0.95);
        ++walls_out;
      } else {
        EXPECT_LT(outward, -0.95);
        ++walls_in;
      }
    } else {
      ASSERT_GT(std::fabs(n[2]), 0.999);
      ASSERT_GE(m, inner - cell);
      ASSERT_LE(m, outer + cell);
      if (n[2] > 0) {
        EXPECT_NEAR(p[2], 10.0, 1e-4);
        ++top;
      } else {
        EXPECT_NEAR(p[2], 0.0, 1e-4);
        ++bottom;
      }
    }
  }
  // Areas: outer walls 800, inner walls 656, top and bottom 131 each.
  const double ring = 400 - 4 * inner * inner, total = 4 * 2 * outer * 10 + 4 * 2 * inner * 10 + 2 * ring;
  EXPECT_NEAR(ps.surface_area, total, 0.03 * total);
  const double n = static_cast<double>(ps.sample.points.size());
  EXPECT_NEAR(top / n, ring / total, 0.02);
  EXPECT_NEAR(bottom / n, ring / total, 0.02);
  EXPECT_GT(walls_out, walls_in);
  EXPECT_GT(walls_in, 0u);
  for (const auto& [z, a] : ps.area_profile) EXPECT_NEAR(a, ring, 0.02 * ring) << "z " << z;
}

// ---- Holes stay, sparse infill gaps fill ---------------------------------------------------------
std::vector<Layer> plate_with_hole(int n_layers, bool stray_path = false) {
  std::vector<Layer> layers;
  for (int i = 0; i < n_layers; ++i) {
    Layer l = make_layer(static_cast<uint32_t>(i), 0.2f * (i + 1), 0.2f);
    add_block(l, 0, 0, 10, 10, 1.5);
    // A short open move (gap fill) poking 0.1 mm into the hole from its perimeter.
    if (stray_path) add_move(l, {1.6 - kW / 2 + 0.125, -0.3}, {1.6 - kW / 2 + 0.125, 0.3});
    layers.push_back(std::move(l));
  }
  return layers;
}

TEST(GcodeReconstruct, HoleStaysInfillGapsFill) {
  const PrintSample ps = run(plate_with_hole(10));
  EXPECT_EQ(ps.holes_kept, 10u);
  EXPECT_GE(ps.gaps_filled, 10u * 7);  // rectilinear 15%: 6 lines, at least 7 gaps per layer
  const double solid = 400 - kPi * 1.5 * 1.5;
  for (const auto& [z, a] : ps.area_profile) EXPECT_NEAR(a, solid, 0.01 * solid) << "z " << z;
  size_t hole_walls = 0;
  for (size_t i = 0; i < ps.sample.points.size(); ++i) {
    const Vec3f& p = ps.sample.points[i];
    const Vec3f& n = ps.sample.normals[i];
    const double r = std::hypot(p[0], p[1]);
    if (std::fabs(n[2]) < 0.1) {
      const bool outer = std::fabs(cheb(p) - 10) < 0.2, hole = std::fabs(r - 1.5) < 0.2;
      ASSERT_TRUE(outer || hole) << "wall inside the plate at " << p[0] << " " << p[1] << " " << p[2];
      if (hole) {
        ++hole_walls;
        EXPECT_LT((n[0] * p[0] + n[1] * p[1]) / r, -0.9);  // into the hole
      }
    } else {
      // Skins only at the bottom and the top (filled gaps make every layer alike), never over the hole.
      ASSERT_TRUE(std::fabs(p[2]) < 1e-4 || std::fabs(p[2] - 2.0) < 1e-4) << p[2];
      ASSERT_GT(r, 1.5 - 0.2);
    }
  }
  EXPECT_GT(hole_walls, 100u);
}

TEST(GcodeReconstruct, HoleTouchedByStrayOpenPathStaysIfTightlyLooped) {
  const PrintSample ps = run(plate_with_hole(6, true));
  EXPECT_EQ(ps.holes_kept, 6u);
  for (const auto& [z, a] : ps.area_profile) EXPECT_LT(a, 400 - 0.8 * kPi * 1.5 * 1.5) << "hole filled at z " << z;
}

TEST(GcodeReconstruct, SkirtInteriorStaysEmptyAndIsItsOwnBody) {
  std::vector<Layer> layers;
  for (uint32_t i = 0; i < 5; ++i) {
    Layer l = make_layer(i, 0.2f * (i + 1), 0.2f);
    if (i == 0) add_loop(l, rect(0, 0, 11, 11), kW);  // skirt 6 mm around the part
    add_block(l, 0, 0, 5, 5);
    layers.push_back(std::move(l));
  }
  const PrintSample ps = run(layers);
  EXPECT_EQ(ps.bodies, 2u);
  const double ring = 4 * 22 * kW;
  EXPECT_NEAR(ps.area_profile[0][1], 100 + ring, 0.05 * (100 + ring));
  EXPECT_NEAR(ps.area_profile[1][1], 100, 1.0);
}

// ---- Bodies -------------------------------------------------------------------------------------
std::vector<Layer> two_blocks(double gap_x, int32_t obj_a, int32_t obj_b, int n_layers = 10) {
  std::vector<Layer> layers;
  for (int i = 0; i < n_layers; ++i) {
    Layer l = make_layer(static_cast<uint32_t>(i), 0.2f * (i + 1), 0.2f);
    add_block(l, -5 - gap_x / 2, 0, 5, 5, 0, obj_a);
    add_block(l, 5 + gap_x / 2, 0, 5, 5, 0, obj_b);
    layers.push_back(std::move(l));
  }
  return layers;
}

TEST(GcodeReconstruct, SeparatedObjectsAreTwoBodiesWithoutLabels) {
  const PrintSample ps = run(two_blocks(20, -1, -1));
  ASSERT_EQ(ps.bodies, 2u);
  EXPECT_FALSE(ps.labelled);
  const double area = 4 * 10 * 2 + 2 * 100;  // each block: walls + top + bottom
  ASSERT_EQ(ps.body_area.size(), 2u);
  for (double a : ps.body_area) EXPECT_NEAR(a, area, 0.05 * area);
  for (size_t i = 0; i < ps.sample.points.size(); ++i) {
    const bool left = ps.sample.points[i][0] < 0;
    EXPECT_EQ(ps.sample.body[i], left ? 0u : 1u);  // bodies numbered in scan order: left first
  }
}

TEST(GcodeReconstruct, LabelsAreHonoured) {
  // Two blocks sharing a face: one footprint component, but two labelled objects.
  EXPECT_EQ(run(two_blocks(0, -1, -1)).bodies, 1u);
  std::vector<ObjectLabel> labels(2);
  labels[0].index = 9;
  labels[0].name = "b";
  labels[1].index = 7;
  labels[1].name = "a";
  const PrintSample ps = run(two_blocks(0, 7, 9), {}, labels);
  ASSERT_TRUE(ps.labelled);
  ASSERT_EQ(ps.bodies, 2u);
  // Declaration order: label 9 (the right block) is body 0.
  for (size_t i = 0; i < ps.sample.points.size(); ++i) {
    const float x = ps.sample.points[i][0];
    if (ps.sample.body[i] == 0)
      EXPECT_GT(x, -0.3f);
    else
      EXPECT_LT(x, 0.3f);
  }
}

// ---- Budget, determinism, chunking, snapshots ------------------------------------------------------
TEST(GcodeReconstruct, BudgetRespectedAndSmallBodyGetsEqualShare) {
  std::vector<Layer> layers;
  for (uint32_t i = 0; i < 10; ++i) {
    Layer l = make_layer(i, 0.2f * (i + 1), 0.2f);
    add_block(l, -25, 0, 20, 20);
    add_block(l, 20, 0, 2.5, 2.5);
    layers.push_back(std::move(l));
  }
  ReconstructOptions o;
  o.sample_budget = 5000;
  const PrintSample ps = run(layers, o);
  ASSERT_EQ(ps.bodies, 2u);
  EXPECT_LE(ps.sample.points.size(), 5000u + 2);
  EXPECT_GE(ps.sample.points.size(), 4700u);
  size_t small = 0;
  for (uint32_t b : ps.sample.body) small += b == 1;
  // Equal share (a quarter) plus its share by area (about 2.5% of the total).
  EXPECT_GT(small, 0.25 * 5000);
  EXPECT_LT(small, 0.30 * 5000);
}

void expect_same(const PrintSample& a, const PrintSample& b) {
  ASSERT_EQ(a.sample.points.size(), b.sample.points.size());
  EXPECT_EQ(a.sample.points, b.sample.points);
  EXPECT_EQ(a.sample.normals, b.sample.normals);
  EXPECT_EQ(a.sample.body, b.sample.body);
  EXPECT_EQ(a.body_area, b.body_area);
  EXPECT_EQ(a.area_profile, b.area_profile);
}

TEST(GcodeReconstruct, SameOutputWithOrWithoutWorkerThreads) {
  std::vector<Layer> layers = plate_with_hole(12);
  for (Layer& l : two_blocks(30, -1, -1, 12)) layers.push_back(std::move(l));  // z goes back down: a second print
  ReconstructOptions serial, wide;
  serial.parallel_layers = 0;
  wide.parallel_layers = 5;
  const PrintSample a = run(layers, serial), b = run(layers, wide);
  EXPECT_EQ(a.layers, 24u);
  expect_same(a, b);
}

TEST(GcodeReconstruct, DeterministicForSeedAndLayers) {
  ReconstructOptions o;
  o.sample_budget = 3000;  // small reservoir: thinning happens many times
  const PrintSample a = run(plate_with_hole(20), o), b = run(plate_with_hole(20), o);
  expect_same(a, b);
  o.seed = 99;
  const PrintSample c = run(plate_with_hole(20), o);
  EXPECT_NE(a.sample.points, c.sample.points);
  EXPECT_EQ(a.area_profile, c.area_profile);
}

// Writes layers as G-code text (absolute E), for the reader.
std::string to_gcode(const std::vector<Layer>& layers) {
  std::ostringstream g;
  g << "G21\nG90\nM82\nG92 E0\n";
  g.precision(9);
  double e = 0;
  for (const Layer& l : layers) {
    g << "G1 Z" << l.z << " F600\n";
    float px = 1e9f, py = 1e9f;
    for (const ExtrusionMove& m : l.moves) {
      if (m.x0 != px || m.y0 != py) g << "G0 X" << m.x0 << " Y" << m.y0 << "\n";
      e += m.e;
      g << "G1 X" << m.x1 << " Y" << m.y1 << " E" << e << "\n";
      px = m.x1, py = m.y1;
    }
  }
  return g.str();
}

PrintSample read_and_reconstruct(const std::string& text, const std::vector<size_t>& chunk_sizes, ReconstructOptions o = {}) {
  Reconstructor r(o);
  Reader reader(r);
  size_t pos = 0, k = 0;
  while (pos < text.size()) {
    const size_t n = chunk_sizes.empty() ? text.size() : chunk_sizes[k++ % chunk_sizes.size()];
    reader.feed(std::string_view(text).substr(pos, n));
    pos += n;
  }
  reader.finish();
  return r.finish();
}

TEST(GcodeReconstruct, SameOutputWhateverTheChunking) {
  const std::string text = to_gcode(plate_with_hole(8));
  ReconstructOptions o;
  o.sample_budget = 4000;
  const PrintSample whole = read_and_reconstruct(text, {}, o);
  const PrintSample bits = read_and_reconstruct(text, {1, 7, 3, 4096, 13, 2}, o);
  ASSERT_EQ(whole.layers, 8u);
  EXPECT_EQ(whole.holes_kept, 8u);
  expect_same(whole, bits);
}

TEST(GcodeReconstruct, SnapshotIsThePrefixAndFinishIsFinal) {
  const std::vector<Layer> layers = plate_with_hole(10);
  Reconstructor a;
  for (int i = 0; i < 5; ++i) a.on_layer(Layer(layers[i]));
  const PrintSample mid = a.snapshot();
  const PrintSample prefix = run(std::vector<Layer>(layers.begin(), layers.begin() + 5));
  expect_same(mid, prefix);
  for (int i = 5; i < 10; ++i) a.on_layer(Layer(layers[i]));
  const PrintSample all = a.finish();
  EXPECT_EQ(all.layers, 10u);
  EXPECT_THROW(a.on_layer(Layer(layers[0])), std::logic_error);
}

// ---- Limits and hostile input --------------------------------------------------------------------
TEST(GcodeReconstruct, OversizedLayerIsCoarsenedNotAllocated) {
  std::vector<Layer> layers;
  for (uint32_t i = 0; i < 3; ++i) {
    Layer l = make_layer(i, 0.2f * (i + 1), 0.2f);
    add_loop(l, rect(0, 0, 50 - kW / 2, 50 - kW / 2));
    for (double y = -49.55; y < 49.6; y += 0.45) add_move(l, {-49.6, y}, {49.6, y});  // solid infill
    layers.push_back(std::move(l));
  }
  ReconstructOptions o;
  o.max_cells_per_layer = 50000;  // 100 x 100 mm at 0.2 mm would need 250,000 cells
  const PrintSample ps = run(layers, o);
  EXPECT_EQ(ps.coarsened_layers, 3u);
  EXPECT_LE(ps.peak_layer_cells, 50000u);
  EXPECT_GT(ps.peak_layer_cells, 10000u);
  for (const auto& [z, a] : ps.area_profile) EXPECT_NEAR(a, 10000, 500) << z;
  for (const Vec3f& p : ps.sample.points) ASSERT_LE(cheb(p), 50 + 0.8);
}

TEST(GcodeReconstruct, FewMovesFarApartGetASmallRaster) {
  // Work per layer follows its moves: two moves 140 m apart must not cost a full-cap raster per layer.
  std::vector<Layer> layers;
  for (uint32_t i = 0; i < 2000; ++i) {
    Layer l = make_layer(i, 0.2f * (i + 1), 0.2f);
    add_move(l, {-5e4, -5e4}, {-5e4 + 1, -5e4});
    add_move(l, {5e4, 5e4}, {5e4 + 1, 5e4});
    layers.push_back(std::move(l));
  }
  const PrintSample ps = run(layers);
  EXPECT_EQ(ps.layers, 2000u);
  EXPECT_EQ(ps.coarsened_layers, 2000u);
  EXPECT_LE(ps.peak_layer_cells, 1u << 16);
  EXPECT_EQ(ps.bodies, 2u);
}

TEST(GcodeReconstruct, HostileMovesAreSkippedNotTrusted) {
  std::vector<Layer> layers = square_tube();
  layers.resize(4);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  layers[1].moves.push_back({nan, 0, 1, 1, layers[1].z, 1, kW, 0, -1});
  layers[1].moves.push_back({0, 0, 5e8f, 1, layers[1].z, 1, kW, 0, -1});
  layers[2].moves.push_back({0, 0, 1, 0, layers[2].z, 1, 1e9f, 0, -1});  // absurd width: clamped
  Layer down = make_layer(4, 0.2f, -0.6f);                               // sequential printing: Z goes back down
  add_loop(down, rect(40, 0, 3, 3));
  layers.push_back(std::move(down));
  Layer empty = make_layer(5, 0.4f, 0.2f);
  layers.push_back(std::move(empty));
  const PrintSample ps = run(layers);
  EXPECT_EQ(ps.skipped_moves, 2u);
  EXPECT_EQ(ps.layers, 5u);
  EXPECT_EQ(ps.bodies, 3u);  // the tube, the clamped 5 mm blob inside it, the square printed afterwards
  for (const Vec3f& p : ps.sample.points)
    for (float v : p) ASSERT_TRUE(std::isfinite(v));
}

TEST(GcodeReconstruct, RandomLayersStayBoundedAndFinite) {
  SplitMix64 rng(7);
  auto uni = [&](double lo, double hi) { return lo + (hi - lo) * rng.uniform(); };
  std::vector<Layer> layers;
  float z = 0;
  for (uint32_t i = 0; i < 40; ++i) {
    z += static_cast<float>(uni(-0.5, 1.0));  // sometimes down, sometimes a big jump
    Layer l = make_layer(i, z, static_cast<float>(uni(-1, 2)));
    const double spread = i % 3 == 0 ? 5e4 : 30;  // every third layer spans 100 m: coarsened
    for (int k = 0; k < 300; ++k) {
      const Pt a{uni(-spread, spread), uni(-spread, spread)};
      const Pt b = k % 4 == 0 ? a : Pt{a[0] + uni(-3, 3), a[1] + uni(-3, 3)};  // some zero-length moves
      add_move(l, a, b, static_cast<float>(uni(-0.5, 8)), k % 5 == 0 ? static_cast<int32_t>(uni(0, 1e9)) : -1);
      if (k % 7 == 0) add_loop(l, circle(a[0], a[1], uni(0.1, 5), 12), static_cast<float>(uni(0.2, 1)));
    }
    layers.push_back(std::move(l));
  }
  ReconstructOptions o;
  o.max_cells_per_layer = 1u << 18;
  const PrintSample ps = run(layers, o);
  EXPECT_EQ(ps.layers, 40u);
  EXPECT_LE(ps.peak_layer_cells, 1u << 18);
  EXPECT_GT(ps.coarsened_layers, 0u);
  EXPECT_TRUE(ps.labelled);
  EXPECT_LE(ps.sample.points.size(), 24000u + 64);
  ASSERT_EQ(ps.body_area.size(), ps.bodies);
  for (size_t i = 0; i < ps.sample.points.size(); ++i) {
    ASSERT_LT(ps.sample.body[i], ps.bodies);
    for (int k = 0; k < 3; ++k) ASSERT_TRUE(std::isfinite(ps.sample.points[i][k]) && std::isfinite(ps.sample.normals[i][k]));
  }
}

// ---- End to end with PrusaSlicer ---------------------------------------------------------------
// Distance from p to triangle abc (Ericson, Real-Time Collision Detection 5.1.5).
double point_triangle_distance(const Vec3f& pf, const Vec3f& af, const Vec3f& bf, const Vec3f& cf) {
  using V = std::array<double, 3>;
  auto sub = [](V x, V y) { return V{x[0] - y[0], x[1] - y[1], x[2] - y[2]}; };
  auto dot = [](V x, V y) { return x[0] * y[0] + x[1] * y[1] + x[2] * y[2]; };
  const V p{pf[0], pf[1], pf[2]}, a{af[0], af[1], af[2]}, b{bf[0], bf[1], bf[2]}, c{cf[0], cf[1], cf[2]};
  const V ab = sub(b, a), ac = sub(c, a), ap = sub(p, a);
  V q;
  const double d1 = dot(ab, ap), d2 = dot(ac, ap);
  const V bp = sub(p, b);
  const double d3 = dot(ab, bp), d4 = dot(ac, bp);
  const V cp = sub(p, c);
  const double d5 = dot(ab, cp), d6 = dot(ac, cp);
  const double vc = d1 * d4 - d3 * d2, vb = d5 * d2 - d1 * d6, va = d3 * d6 - d5 * d4;
  if (d1 <= 0 && d2 <= 0) {
    q = a;
  } else if (d3 >= 0 && d4 <= d3) {
    q = b;
  } else if (vc <= 0 && d1 >= 0 && d3 <= 0) {
    const double v = d1 / (d1 - d3);
    q = {a[0] + v * ab[0], a[1] + v * ab[1], a[2] + v * ab[2]};
  } else if (d6 >= 0 && d5 <= d6) {
    q = c;
  } else if (vb <= 0 && d2 >= 0 && d6 <= 0) {
    const double w = d2 / (d2 - d6);
    q = {a[0] + w * ac[0], a[1] + w * ac[1], a[2] + w * ac[2]};
  } else if (va <= 0 && (d4 - d3) >= 0 && (d5 - d6) >= 0) {
    const double w = (d4 - d3) / ((d4 - d3) + (d5 - d6));
    q = {b[0] + w * (c[0] - b[0]), b[1] + w * (c[1] - b[1]), b[2] + w * (c[2] - b[2])};
  } else {
    const double denom = 1.0 / (va + vb + vc), v = vb * denom, w = vc * denom;
    q = {a[0] + ab[0] * v + ac[0] * w, a[1] + ab[1] * v + ac[1] * w, a[2] + ab[2] * v + ac[2] * w};
  }
  const V d = sub(p, q);
  return std::sqrt(dot(d, d));
}

void slice_and_compare(const Mesh& mesh, const std::string& name, double max_median, double max_p95) {
  const std::string stl = test::temp_path(name + ".stl"), gcode = test::temp_path(name + ".gcode");
  write_stl_binary(mesh, stl);
  const std::string cmd = "/usr/bin/prusa-slicer --export-gcode -o '" + gcode + "' '" + stl + "' > /dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(gcode, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(text.size(), 1000u);
  const PrintSample ps = read_and_reconstruct(text, {65536});
  ASSERT_GE(ps.bodies, 1u);
  // The part is the largest body (a skirt is another).
  uint32_t part = 0;
  for (uint32_t b = 1; b < ps.bodies; ++b)
    if (ps.body_area[b] > ps.body_area[part]) part = b;
  std::vector<Vec3f> pts, nrm;
  float lo[3] = {1e30f, 1e30f, 1e30f}, hi[3] = {-1e30f, -1e30f, -1e30f};
  for (size_t i = 0; i < ps.sample.points.size(); ++i) {
    if (ps.sample.body[i] != part) continue;
    pts.push_back(ps.sample.points[i]);
    nrm.push_back(ps.sample.normals[i]);
    for (int k = 0; k < 3; ++k) lo[k] = std::min(lo[k], ps.sample.points[i][k]), hi[k] = std::max(hi[k], ps.sample.points[i][k]);
  }
  ASSERT_GT(pts.size(), 10000u);
  float mlo[3] = {1e30f, 1e30f, 1e30f}, mhi[3] = {-1e30f, -1e30f, -1e30f};
  for (const Vec3f& v : mesh.vertices)
    for (int k = 0; k < 3; ++k) mlo[k] = std::min(mlo[k], v[k]), mhi[k] = std::max(mhi[k], v[k]);
  const float shift[3] = {0.5f * (mlo[0] + mhi[0] - lo[0] - hi[0]), 0.5f * (mlo[1] + mhi[1] - lo[1] - hi[1]), mlo[2] - lo[2]};
  std::vector<double> dist, wall_dist;
  size_t normal_ok = 0;
  for (size_t i = 0; i < pts.size(); ++i) {
    const Vec3f p{pts[i][0] + shift[0], pts[i][1] + shift[1], pts[i][2] + shift[2]};
    double best = 1e30;
    size_t bt = 0;
    for (size_t t = 0; t < mesh.triangles.size(); ++t) {
      const Tri& tri = mesh.triangles[t];
      const double d = point_triangle_distance(p, mesh.vertices[tri[0]], mesh.vertices[tri[1]], mesh.vertices[tri[2]]);
      if (d < best) best = d, bt = t;
    }
    dist.push_back(best);
    if (std::fabs(nrm[i][2]) < 0.5) wall_dist.push_back(best);
    const Tri& tri = mesh.triangles[bt];
    const Vec3f &a = mesh.vertices[tri[0]], &b = mesh.vertices[tri[1]], &c = mesh.vertices[tri[2]];
    const double ux = b[0] - a[0], uy = b[1] - a[1], uz = b[2] - a[2], vx = c[0] - a[0], vy = c[1] - a[1], vz = c[2] - a[2];
    const double nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx, nl = std::sqrt(nx * nx + ny * ny + nz * nz);
    if (nl > 0 && (nx * nrm[i][0] + ny * nrm[i][1] + nz * nrm[i][2]) / nl > 0.7) ++normal_ok;
  }
  std::sort(dist.begin(), dist.end());
  std::sort(wall_dist.begin(), wall_dist.end());
  ASSERT_GT(wall_dist.size(), 1000u);
  const double median = dist[dist.size() / 2], p95 = dist[dist.size() * 95 / 100];
  const double wall_median = wall_dist[wall_dist.size() / 2], wall_p95 = wall_dist[wall_dist.size() * 95 / 100];
  const double normals = static_cast<double>(normal_ok) / static_cast<double>(pts.size());
  std::cout << "[ e2e " << name << " ] layers " << ps.layers << ", bodies " << ps.bodies << ", part points " << pts.size()
            << ", point-to-surface median " << median << " mm, p95 " << p95 << " mm (side walls: " << wall_dist.size()
            << " points, median " << wall_median << ", p95 " << wall_p95 << "), normals within 45 deg " << normals
            << ", labelled " << ps.labelled << ", box size error x " << (hi[0] - lo[0]) - (mhi[0] - mlo[0]) << " y "
            << (hi[1] - lo[1]) - (mhi[1] - mlo[1]) << " z " << (hi[2] - lo[2]) - (mhi[2] - mlo[2]) << " mm\n";
  ::testing::Test::RecordProperty(name + "_median_mm", std::to_string(median));
  ::testing::Test::RecordProperty(name + "_p95_mm", std::to_string(p95));
  EXPECT_LT(median, max_median);
  EXPECT_LT(p95, max_p95);
  EXPECT_LT(wall_median, max_median);
  EXPECT_LT(wall_p95, max_p95);
  EXPECT_GT(normals, 0.9);
}

TEST(GcodeReconstruct, PrusaSlicerPlateWithHolesEndToEnd) {
  if (!std::filesystem::exists("/usr/bin/prusa-slicer")) GTEST_SKIP() << "prusa-slicer not installed";
  slice_and_compare(shapes::plate_with_holes(40, 30, 4, 6, 2, 1, 48), "plate", 0.15, 0.4);
}

TEST(GcodeReconstruct, PrusaSlicerLBracketEndToEnd) {
  if (!std::filesystem::exists("/usr/bin/prusa-slicer")) GTEST_SKIP() << "prusa-slicer not installed";
  slice_and_compare(shapes::l_bracket(), "bracket", 0.15, 0.4);
}

}  // namespace
}  // namespace s3d::gcode
