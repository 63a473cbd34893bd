// gcode::Reader: modes, arcs, units, labels, dialects, chunking, limits, and real PrusaSlicer output.
#include "geometry/gcode/gcode_reader.h"
#include "geometry/gcode/fast_decimal.h"
#include "geometry/gcode/line_plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "geometry/load_error.h"
#include "geometry/shapes.h"
#include "geometry/write_mesh.h"
#include "tests/support/test_helpers.h"

namespace s3d::gcode {
namespace {

constexpr double kPi = 3.14159265358979323846;

struct RecordingSink : ToolpathSink {
  std::vector<ObjectLabel> objects;
  std::vector<Layer> layers;
  void on_object(const ObjectLabel& l) override { objects.push_back(l); }
  void on_layer(Layer&& l) override { layers.push_back(std::move(l)); }
};

struct Parsed {
  std::vector<ObjectLabel> objects;
  std::vector<Layer> layers;
  Reader::Stats stats;

  size_t move_count() const {
    size_t n = 0;
    for (const Layer& l : layers) n += l.moves.size();
    return n;
  }
  std::vector<ExtrusionMove> all_moves() const {
    std::vector<ExtrusionMove> out;
    for (const Layer& l : layers) out.insert(out.end(), l.moves.begin(), l.moves.end());
    return out;
  }
};

// Parses `text` fed in pieces of `chunk` bytes (0: all at once).
Parsed parse(std::string_view text, size_t chunk = 0, ReaderOptions opt = {}) {
  RecordingSink sink;
  Reader reader(sink, opt);
  if (chunk == 0) {
    reader.feed(text);
  } else {
    for (size_t off = 0; off < text.size(); off += chunk) reader.feed(text.substr(off, chunk));
  }
  reader.finish();
  return Parsed{std::move(sink.objects), std::move(sink.layers), reader.stats()};
}

std::string fixture(const std::string& name) { return test::gcode_fixture(name); }

// Removes every ';' comment and '(...)' comment and the lines left empty.
std::string strip_comments(std::string_view text) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string line(text.substr(pos, nl - pos));
    pos = nl + 1;
    const size_t semi = line.find(';');
    if (semi != std::string::npos) line.resize(semi);
    for (size_t open = line.find('('); open != std::string::npos; open = line.find('(')) {
      const size_t close = line.find(')', open);
      line.erase(open, close == std::string::npos ? std::string::npos : close - open + 1);
    }
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.pop_back();
    if (line.empty()) continue;
    out += line;
    out += '\n';
  }
  return out;
}

void expect_same_moves(const Parsed& a, const Parsed& b, bool compare_width, double tol = 1e-5) {
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    const Layer& la = a.layers[i];
    const Layer& lb = b.layers[i];
    EXPECT_EQ(la.index, lb.index);
    EXPECT_NEAR(la.z, lb.z, tol);
    EXPECT_NEAR(la.height, lb.height, tol);
    ASSERT_EQ(la.moves.size(), lb.moves.size()) << "layer " << i;
    for (size_t k = 0; k < la.moves.size(); ++k) {
      const ExtrusionMove& m = la.moves[k];
      const ExtrusionMove& n = lb.moves[k];
      EXPECT_NEAR(m.x0, n.x0, tol) << "layer " << i << " move " << k;
      EXPECT_NEAR(m.y0, n.y0, tol) << "layer " << i << " move " << k;
      EXPECT_NEAR(m.x1, n.x1, tol) << "layer " << i << " move " << k;
      EXPECT_NEAR(m.y1, n.y1, tol) << "layer " << i << " move " << k;
      EXPECT_NEAR(m.z, n.z, tol) << "layer " << i << " move " << k;
      EXPECT_NEAR(m.e, n.e, tol) << "layer " << i << " move " << k;
      if (compare_width) {
        EXPECT_NEAR(m.width, n.width, tol) << "layer " << i << " move " << k;
      }
    }
  }
}

void expect_identical(const Parsed& a, const Parsed& b) {
  expect_same_moves(a, b, true, 0.0);
  ASSERT_EQ(a.objects.size(), b.objects.size());
  for (size_t i = 0; i < a.objects.size(); ++i) {
    EXPECT_EQ(a.objects[i].index, b.objects[i].index);
    EXPECT_EQ(a.objects[i].name, b.objects[i].name);
    EXPECT_EQ(a.objects[i].polygon, b.objects[i].polygon);
  }
  const auto ma = a.all_moves(), mb = b.all_moves();
  for (size_t i = 0; i < ma.size() && i < mb.size(); ++i) {
    EXPECT_EQ(ma[i].tool, mb[i].tool);
    EXPECT_EQ(ma[i].object, mb[i].object);
  }
  EXPECT_EQ(a.stats.lines, b.stats.lines);
  EXPECT_EQ(a.stats.commands, b.stats.commands);
  EXPECT_EQ(a.stats.extrusion_moves, b.stats.extrusion_moves);
  EXPECT_EQ(a.stats.unknown_commands, b.stats.unknown_commands);
  EXPECT_EQ(a.stats.bytes, b.stats.bytes);
}

ErrorCode error_of(std::string_view text, ReaderOptions opt = {}, std::string* message = nullptr) {
  try {
    parse(text, 0, opt);
  } catch (const LoadError& e) {
    if (message) *message = e.what();
    return e.code();
  }
  ADD_FAILURE() << "no LoadError for input starting " << std::string(text.substr(0, 60));
  return ErrorCode::kIo;
}

// ---- modes -------------------------------------------------------------------------------------

TEST(GcodeReader, AbsoluteSquaresMakeTwoLayers) {
  const Parsed p = parse(fixture("absolute.gcode"));
  ASSERT_EQ(p.layers.size(), 2u);
  EXPECT_FLOAT_EQ(p.layers[0].z, 0.2f);
  EXPECT_FLOAT_EQ(p.layers[0].height, 0.2f);
  EXPECT_FLOAT_EQ(p.layers[1].z, 0.4f);
  EXPECT_NEAR(p.layers[1].height, 0.2f, 1e-6);
  const float corners[5][2] = {{0, 0}, {10, 0}, {10, 10}, {0, 10}, {0, 0}};
  for (const Layer& l : p.layers) {
    ASSERT_EQ(l.moves.size(), 4u);
    for (size_t k = 0; k < 4; ++k) {
      const ExtrusionMove& m = l.moves[k];
      EXPECT_FLOAT_EQ(m.x0, corners[k][0]);
      EXPECT_FLOAT_EQ(m.y0, corners[k][1]);
      EXPECT_FLOAT_EQ(m.x1, corners[k + 1][0]);
      EXPECT_FLOAT_EQ(m.y1, corners[k + 1][1]);
      EXPECT_FLOAT_EQ(m.z, l.z);
      EXPECT_NEAR(m.e, 0.5f, 1e-6);
      // Rectangle model: filament area * E / (length * layer height).
      const double area = kPi * 1.75 * 1.75 / 4;
      EXPECT_NEAR(m.width, area * 0.5 / (10 * 0.2), 1e-4);
      EXPECT_EQ(m.tool, 0);
      EXPECT_EQ(m.object, -1);
    }
  }
  EXPECT_EQ(p.layers[0].index, 0u);
  EXPECT_EQ(p.layers[1].index, 1u);
  EXPECT_EQ(p.stats.layers, 2u);
  EXPECT_EQ(p.stats.extrusion_moves, 8u);
  EXPECT_TRUE(p.stats.saw_comments);
  EXPECT_TRUE(p.objects.empty());
}

TEST(GcodeReader, RelativeModesAndG92GiveTheSameMovesAsAbsolute) {
  const Parsed abs = parse(fixture("absolute.gcode"));
  const Parsed rel = parse(fixture("relative.gcode"));
  expect_same_moves(abs, rel, true);
}

TEST(GcodeReader, G91AlsoMakesERelativeUnlessM82OrM83Said) {
  // No M82/M83: E follows G90/G91 (Marlin).
  const Parsed p = parse("G1 Z0.2\nG91\nG1 X10 E1\nG1 X10 E1\n");
  ASSERT_EQ(p.move_count(), 2u);
  EXPECT_NEAR(p.layers[0].moves[1].e, 1.0f, 1e-6);
  EXPECT_FLOAT_EQ(p.layers[0].moves[1].x1, 20.f);
  // M82 pins E to absolute whatever G91 says.
  const Parsed q = parse("M82\nG1 Z0.2\nG91\nG1 X10 E1\nG1 X10 E1.5\n");
  ASSERT_EQ(q.move_count(), 2u);
  EXPECT_NEAR(q.layers[0].moves[1].e, 0.5f, 1e-6);
  // M83 pins E to relative after G90.
  const Parsed r = parse("M83\nG90\nG1 Z0.2\nG1 X10 E1\nG1 X20 E1\n");
  ASSERT_EQ(r.move_count(), 2u);
  EXPECT_NEAR(r.layers[0].moves[1].e, 1.0f, 1e-6);
}

TEST(GcodeReader, G92ResetsEveryAxis) {
  const Parsed p = parse(
      "G90\nM82\nG1 Z5\nG1 X50 Y50\n"
      "G92 X0 Y0 Z0.2 E10\n"         // logical origin at physical (50,50); Z 5 is now called 0.2
      "G1 X10 Y0 E11\n"              // physical (60,50) at z 5, pushing 1 mm
      "G92 E0\nG1 X10 Y10 E0.5\n"    // E reset: 0.5 mm
      "G92\n"                        // everything 0 here: physical (60,60,5) is logical 0
      "G1 X-10 E1\n"                 // physical (50,60)
      "G92 E\n"                      // E alone (no number) = E0
      "G1 X-20 E2\n");               // physical (40,60), pushing 2 mm
  ASSERT_EQ(p.layers.size(), 1u);
  const auto& m = p.layers[0].moves;
  ASSERT_EQ(m.size(), 4u);
  EXPECT_FLOAT_EQ(p.layers[0].z, 5.f);
  EXPECT_FLOAT_EQ(m[0].x0, 50.f);
  EXPECT_FLOAT_EQ(m[0].x1, 60.f);
  EXPECT_FLOAT_EQ(m[0].y1, 50.f);
  EXPECT_NEAR(m[0].e, 1.f, 1e-6);
  EXPECT_FLOAT_EQ(m[1].y1, 60.f);
  EXPECT_NEAR(m[1].e, 0.5f, 1e-6);
  EXPECT_FLOAT_EQ(m[2].x1, 50.f);
  EXPECT_FLOAT_EQ(m[2].y1, 60.f);
  EXPECT_NEAR(m[2].e, 1.f, 1e-6);
  EXPECT_FLOAT_EQ(m[3].x1, 40.f);
  EXPECT_NEAR(m[3].e, 2.f, 1e-6);
  for (const auto& mv : m) EXPECT_FLOAT_EQ(mv.z, 5.f);
}

TEST(GcodeReader, InchUnitsScaleCoordinatesAndE) {
  const Parsed mm = parse(fixture("absolute.gcode"));
  const Parsed in = parse(fixture("inches.gcode"));
  ASSERT_EQ(in.layers.size(), 1u);
  ASSERT_EQ(in.layers[0].moves.size(), 4u);
  EXPECT_NEAR(in.layers[0].z, 0.2f, 1e-5);
  for (size_t k = 0; k < 4; ++k) {
    const ExtrusionMove& a = mm.layers[0].moves[k];
    const ExtrusionMove& b = in.layers[0].moves[k];
    EXPECT_NEAR(a.x1, b.x1, 1e-4);
    EXPECT_NEAR(a.y1, b.y1, 1e-4);
    EXPECT_NEAR(a.e, b.e, 1e-5);
    EXPECT_NEAR(a.width, b.width, 1e-3);
  }
}

TEST(GcodeReader, FirmwareRetractionAndToolChanges) {
  const Parsed abs = parse(fixture("absolute.gcode"));
  const Parsed fw = parse(fixture("firmware_retract.gcode"));
  expect_same_moves(abs, fw, true);
  ASSERT_EQ(fw.layers.size(), 2u);
  for (const auto& m : fw.layers[0].moves) EXPECT_EQ(m.tool, 0);
  for (const auto& m : fw.layers[1].moves) EXPECT_EQ(m.tool, 1);
}

TEST(GcodeReader, VolumetricExtrusionAfterM200) {
  // E in mm^3 after M200 D1.75: 2.405 mm^3 is 1 mm of 1.75 mm filament.
  const double area = kPi * 1.75 * 1.75 / 4;
  const std::string text = "M83\nM200 D1.75\nG1 Z0.2\nG1 X10 E" + std::to_string(area) + "\nM200 D0\nG1 X20 E1\n";
  const Parsed p = parse(text);
  ASSERT_EQ(p.move_count(), 2u);
  EXPECT_NEAR(p.layers[0].moves[0].e, 1.f, 1e-4);
  EXPECT_NEAR(p.layers[0].moves[1].e, 1.f, 1e-6);
  EXPECT_NEAR(p.layers[0].moves[0].width, area / (10 * 0.2), 1e-3);
}

// ---- arcs --------------------------------------------------------------------------------------

struct ArcCheck {
  double cx, cy, r, sweep;  // sweep: signed radians, positive counter-clockwise
  double e;
};

TEST(GcodeReader, ArcsAreChordsOnTheExactCircle) {
  const Parsed p = parse(fixture("arcs.gcode"));
  ASSERT_EQ(p.layers.size(), 1u);
  EXPECT_EQ(p.stats.arcs, 4u);
  const ArcCheck arcs[] = {
      {50, 50, 10, kPi / 2, 0.8},
      {60, 60, 10, -1.5 * kPi, 2.4},
      {50, 50, 10, -2 * kPi, 3.2},
      {50, 50, 10, kPi, 1.6},
  };
  const auto& moves = p.layers[0].moves;
  size_t k = 0;
  double sx = 60, sy = 50;  // current point
  for (const ArcCheck& a : arcs) {
    const double length = std::fabs(a.sweep) * a.r;
    const auto n = static_cast<size_t>(std::ceil(length / 0.5));
    ASSERT_LE(k + n, moves.size());
    const double a0 = std::atan2(sy - a.cy, sx - a.cx);
    double e_sum = 0;
    for (size_t i = 0; i < n; ++i) {
      const ExtrusionMove& m = moves[k + i];
      // Each chord ends on the circle at the expected angle, and chords are short.
      const double ang = a0 + a.sweep * static_cast<double>(i + 1) / static_cast<double>(n);
      EXPECT_NEAR(m.x1, a.cx + a.r * std::cos(ang), 1e-4) << "chord " << i;
      EXPECT_NEAR(m.y1, a.cy + a.r * std::sin(ang), 1e-4) << "chord " << i;
      EXPECT_NEAR(std::hypot(m.x1 - a.cx, m.y1 - a.cy), a.r, 1e-4);
      EXPECT_LE(std::hypot(m.x1 - m.x0, m.y1 - m.y0), 0.5 + 1e-5);
      EXPECT_FLOAT_EQ(m.z, 0.2f);
      e_sum += m.e;
    }
    EXPECT_NEAR(e_sum, a.e, 1e-5);
    sx = moves[k + n - 1].x1;
    sy = moves[k + n - 1].y1;
    k += n;
  }
  EXPECT_EQ(k, moves.size());
  EXPECT_NEAR(moves.back().x1, 40.f, 1e-5);
  EXPECT_NEAR(moves.back().y1, 50.f, 1e-5);
}

TEST(GcodeReader, ArcChordCountIsCapped) {
  ReaderOptions opt;
  opt.arc_chord_mm = 0.01f;
  opt.max_chords_per_arc = 100;
  const Parsed p = parse("M83\nG1 Z0.2 X1000 Y0\nG2 X1000 Y0 I-1000 J0 E100\n", 0, opt);
  EXPECT_EQ(p.move_count(), 100u);
}

TEST(GcodeReader, HelicalArcWithTurnsAndArcWithoutCentreIsIgnored) {
  // P1 adds one full turn; an arc without I/J/R does not move (firmware rejects it).
  const Parsed p = parse("M83\nG1 Z0.2 X10 Y0\nG3 X-10 Y0 I-10 J0 P1 E3\nG2 X50 Y50 E1\nG1 X-10 Y10 E1\n");
  ASSERT_EQ(p.layers.size(), 1u);
  const auto& m = p.layers[0].moves;
  const auto n = static_cast<size_t>(std::ceil(3 * kPi * 10 / 0.5));
  ASSERT_EQ(m.size(), n + 1);
  EXPECT_FLOAT_EQ(m.back().x0, -10.f);  // the ignored G2 did not move the head
  EXPECT_FLOAT_EQ(m.back().y0, 0.f);
  // An absurd number of turns is capped (found by gcode_fuzzer: it overflowed an integer cast).
  const Parsed q = parse("M83\nG1 Z0.2 X10 Y0\nG3 X-10 Y0 I-10 J0 P" + std::string(90, '9') + " E3\n");
  EXPECT_EQ(q.move_count(), ReaderOptions{}.max_chords_per_arc);
}

// G5 (Marlin's cubic Bezier): chords end on the curve with control points start + (I, J) and
// target + (P, Q); E is shared out evenly; without offsets it is a straight line, so "G1" turned into
// "G5" still prints -- and is still read.
TEST(GcodeReader, BezierG5IsChordsOnTheCurve) {
  const Parsed p = parse("M83\nG1 Z0.2 X0 Y0\nG5 I0 J10 P0 Q10 X20 Y0 E2\nG5 X20 Y10 E0.5\n");
  ASSERT_EQ(p.layers.size(), 1u);
  EXPECT_EQ(p.stats.arcs, 2u);
  const auto& m = p.layers[0].moves;
  // Longest control leg 20 mm: 3 x 20 / 0.5 = 120 chords; then legs of 0, 10 and 0 mm: 60.
  ASSERT_EQ(m.size(), 180u);
  double e_sum = 0;
  for (size_t k = 0; k < 120; ++k) {
    const double t = static_cast<double>(k + 1) / 120, u = 1 - t;
    // P0 (0,0), P1 (0,10), P2 (20,10), P3 (20,0).
    EXPECT_NEAR(m[k].x1, 3 * u * t * t * 20 + t * t * t * 20, 1e-4) << k;
    EXPECT_NEAR(m[k].y1, 3 * u * u * t * 10 + 3 * u * t * t * 10, 1e-4) << k;
    EXPECT_LE(std::hypot(m[k].x1 - m[k].x0, m[k].y1 - m[k].y0), 0.5 + 1e-5);
    e_sum += m[k].e;
  }
  EXPECT_NEAR(e_sum, 2.0, 1e-5);
  EXPECT_NEAR(m[119].y1, 0.0, 1e-5);
  for (size_t k = 120; k < 180; ++k) {  // straight, at the uneven pace of a cubic: 3t^2 - 2t^3
    const double t = static_cast<double>(k - 119) / 60;
    EXPECT_NEAR(m[k].x1, 20.0, 1e-5);
    EXPECT_NEAR(m[k].y1, 10.0 * (3 * t * t - 2 * t * t * t), 1e-4);
    EXPECT_LE(std::hypot(m[k].x1 - m[k].x0, m[k].y1 - m[k].y0), 0.5 + 1e-5);
  }
  // A square drawn with G5 instead of G1 gives the same outline and the same plastic.
  const std::string square = "M83\nG1 Z0.2 X0 Y0\nG1 X10 Y0 E1\nG1 X10 Y10 E1\nG1 X0 Y10 E1\nG1 X0 Y0 E1\n";
  std::string curved = square;
  for (size_t at = curved.find("G1 X"); at != std::string::npos; at = curved.find("G1 X", at)) curved[at + 1] = '5';
  const Parsed a = parse(square), b = parse(curved);
  ASSERT_EQ(a.layers.size(), 1u);
  ASSERT_EQ(b.layers.size(), 1u);
  EXPECT_EQ(b.move_count(), 4u * 60u);
  double ea = 0, eb = 0;
  for (const auto& mv : a.layers[0].moves) ea += mv.e;
  for (const auto& mv : b.layers[0].moves) {
    eb += mv.e;
    EXPECT_TRUE(mv.x1 == 0.f || mv.x1 == 10.f || mv.y1 == 0.f || mv.y1 == 10.f) << mv.x1 << " " << mv.y1;
    // The plastic follows the chords' lengths, so the width is the straight line's everywhere, also
    // where the curve slows down near its ends (a width from E per parameter step would balloon).
    EXPECT_NEAR(mv.width, a.layers[0].moves[0].width, 1e-3 * a.layers[0].moves[0].width);
  }
  EXPECT_NEAR(ea, eb, 1e-5);
}

// M221 S<percent> scales every later E, as the firmware does (and so the E-derived width).
TEST(GcodeReader, FlowPercentScalesExtrusion) {
  const Parsed p = parse("M83\nG1 Z0.2\nG1 X10 Y0 E0.5\nM221 S200\nG1 X20 Y0 E0.5\nM221\nG1 X30 Y0 E0.5\nM221 S100\nG1 X40 Y0 E0.5\n");
  ASSERT_EQ(p.layers.size(), 1u);
  const auto& m = p.layers[0].moves;
  ASSERT_EQ(m.size(), 4u);
  EXPECT_FLOAT_EQ(m[0].e, 0.5f);
  EXPECT_FLOAT_EQ(m[1].e, 1.0f);
  EXPECT_FLOAT_EQ(m[2].e, 1.0f);  // M221 without S reports, changes nothing
  EXPECT_FLOAT_EQ(m[3].e, 0.5f);
  EXPECT_NEAR(m[1].width, 2 * m[0].width, 1e-4);
}

// Every layer of `b` has `a`'s moves at the same XY (within 0.1 um); `file` names the case.
void expect_same_xy(const Parsed& a, const Parsed& b, size_t file) {
  ASSERT_EQ(a.layers.size(), b.layers.size()) << file;
  for (size_t l = 0; l < a.layers.size(); ++l) {
    const auto& ma = a.layers[l].moves;
    const auto& mb = b.layers[l].moves;
    ASSERT_EQ(ma.size(), mb.size()) << file << " layer " << l;
    for (size_t k = 0; k < ma.size(); ++k) {
      EXPECT_NEAR(ma[k].x0, mb[k].x0, 1e-4) << file << " layer " << l << " move " << k;
      EXPECT_NEAR(ma[k].y0, mb[k].y0, 1e-4) << file << " layer " << l << " move " << k;
      EXPECT_NEAR(ma[k].x1, mb[k].x1, 1e-4) << file << " layer " << l << " move " << k;
      EXPECT_NEAR(ma[k].y1, mb[k].y1, 1e-4) << file << " layer " << l << " move " << k;
    }
  }
}

// Offsets that move where plastic lands: Marlin's M206 / M428, workplace systems set with G10 L2 /
// L20 and picked with G54..G59.3, G53 (machine coordinates for one move), Klipper's SET_GCODE_OFFSET
// and SAVE/RESTORE_GCODE_STATE. A file that shifts its
// layers by changing them between layers prints the part unshifted, and must read that way.
TEST(GcodeReader, CoordinateOffsetsBetweenLayersAreApplied) {
  const std::string square = "G1 X0 Y0\nG1 X10 Y0 E1\nG1 X10 Y10 E1\nG1 X0 Y10 E1\nG1 X0 Y0 E1\n";
  const auto shifted = [](double dx, double dy) {
    char buf[400];
    std::snprintf(buf, sizeof buf,
                  "G1 X%g Y%g\nG1 X%g Y%g E1\nG1 X%g Y%g E1\nG1 X%g Y%g E1\nG1 X%g Y%g E1\n", dx, dy, 10 + dx, dy,
                  10 + dx, 10 + dy, dx, 10 + dy, dx, dy);
    return std::string(buf);
  };
  const Parsed plain = parse("M83\nG1 Z0.2\n" + square + "G1 Z0.4\n" + square + "G1 Z0.6\n" + square);
  ASSERT_EQ(plain.layers.size(), 3u);
  const std::vector<std::string> files = {
      // M206 X30: logical = native + 30, so the second layer is written 30 mm to the right.
      "M83\nG1 Z0.2\n" + square + "M206 X30 Y-7\nG1 Z0.4\n" + shifted(30, -7) + "M206 X0 Y0\nG1 Z0.6\n" + square,
      // Workplace 2 offset by (50, 20): the second layer is written at (-50, -20) in it.
      "M83\nG10 L2 P2 X50 Y20\nG1 Z0.2\n" + square + "G55\nG1 Z0.4\n" + shifted(-50, -20) + "G54\nG1 Z0.6\n" + square,
      // G10 L20 at (10, 10): system 8 (G59.2) reads that point as (0, 0); M428 makes it the origin.
      "M83\nG1 Z0.2\n" + square + "G1 X10 Y10\nG10 L20 P8 X0 Y0\nG59.2\nG1 Z0.4\n" + shifted(-10, -10) +
          "G54\nG1 X10 Y10\nM428\nG1 Z0.6\n" + shifted(-10, -10),
      // Klipper: physical = G-code position + SET_GCODE_OFFSET (absolute, or _ADJUST on top).
      "M83\nG1 Z0.2\n" + square + "SET_GCODE_OFFSET X=30 Y=-7\nG1 Z0.4\n" + shifted(-30, 7) +
          "SET_GCODE_OFFSET X_ADJUST=-30 Y_ADJUST=7 ; back\nG1 Z0.6\n" + square,
      // Klipper: RESTORE_GCODE_STATE drops the G92 shift and the G91 mode set after the save (names
      // in any case; no NAME is "default").
      "M83\nG1 Z0.2\n" + square + "SAVE_GCODE_STATE NAME=s\nG92 X-30 Y7\nG1 Z0.4\n" + shifted(-30, 7) +
          "RESTORE_GCODE_STATE NAME=S\nG1 Z0.6\n" + square,
      "M83\nG1 Z0.2\n" + square + "SAVE_GCODE_STATE\nG91\nG1 Z0.2\nG1 X10 E1\nG1 Y10 E1\nG1 X-10 E1\nG1 Y-10 E1\n"
          "RESTORE_GCODE_STATE NAME=default\nG1 Z0.6\n" + square,
      // Klipper: SET_KINEMATIC_POSITION re-declares the toolhead's point (no move); a restore keeps it.
      "M83\nG1 Z0.2\n" + square + "SET_KINEMATIC_POSITION X=-30 Y=7\nG1 Z0.4\n" + shifted(-30, 7) +
          "SAVE_GCODE_STATE\nSET_KINEMATIC_POSITION X=0 Y=0\nRESTORE_GCODE_STATE\nG1 Z0.6\n" + square,
      // G53 moves in machine coordinates whatever offset is active; G53 chains are not followed.
      "M83\nG10 L2 P1 X99 Y99\nG53 G1 Z0.2\nG53 G1 X0 Y0\nG53 G1 X10 Y0 E1\nG53 G1 X10 Y10 E1\nG53 G1 X0 Y10 E1\n"
      "G53 G1 X0 Y0 E1\nG53 G1 Z0.4\n" + shifted(-99, -99) + "G53 G1 Z0.6\n" + shifted(-99, -99) + "G53 G53 G1 X5 Y5 E1\n",
  };
  for (size_t i = 0; i < files.size(); ++i) {
    const Parsed p = parse(files[i]);
    ASSERT_EQ(p.layers.size(), 3u) << i;
    expect_same_xy(plain, p, i);
  }
  // RESTORE_GCODE_STATE MOVE=1 travels back to the saved point; without it the head stays; an
  // unknown name changes nothing.
  const auto first_start = [](const std::string& restore) {
    const Parsed p = parse("M83\nG1 Z0.2\nG1 X5 Y5\nSAVE_GCODE_STATE NAME=a\nG92 X0\nG1 X20 Y20\n" + restore +
                           "\nG1 X25 Y6 E1\n");
    if (p.layers.empty()) return std::array<float, 3>{-1, -1, -1};
    const ExtrusionMove& m = p.layers[0].moves[0];
    return std::array<float, 3>{m.x0, m.y0, m.x1};
  };
  EXPECT_EQ(first_start("RESTORE_GCODE_STATE NAME=a MOVE=1"), (std::array<float, 3>{5, 5, 25}));
  EXPECT_EQ(first_start("RESTORE_GCODE_STATE NAME=a"), (std::array<float, 3>{25, 20, 25}));  // the G92 undone
  EXPECT_EQ(first_start("RESTORE_GCODE_STATE NAME=b MOVE=1"), (std::array<float, 3>{25, 20, 30}));
  // Thousands of G53 words on one line are one level of recursion, not thousands.
  std::string chain = "M83\nG1 Z0.2\n";
  for (int i = 0; i < 15000; ++i) chain += "G53 ";
  chain += "G1 X5 Y5 E1\n";
  EXPECT_NO_THROW(parse(chain));
}

// RepRapFirmware's G68 rotation and M579 scale factors, and Marlin's M92 steps per mm, change where
// the printer puts a G-code coordinate. A file whose middle layer is written pre-distorted and undone
// by one of them prints the part undistorted, and must read that way.
TEST(GcodeReader, FirmwareTransformsBetweenLayersAreUndone) {
  // Away from the origin, so that a transform that moves a point is seen at the first corner too.
  const std::vector<std::array<double, 2>> corners = {{20, 30}, {30, 30}, {30, 40}, {20, 40}, {20, 30}};
  // The square with each corner written as f(corner): a travel to the first, then extrusions.
  const auto written = [&](const std::function<std::array<double, 2>(double, double)>& f) {
    std::string out;
    char buf[120];
    for (size_t i = 0; i < corners.size(); ++i) {
      const auto w = f(corners[i][0], corners[i][1]);
      std::snprintf(buf, sizeof buf, "G1 X%.9f Y%.9f%s\n", w[0], w[1], i ? " E1" : "");
      out += buf;
    }
    return out;
  };
  const auto same = [](double x, double y) { return std::array<double, 2>{x, y}; };
  // The first n lines of `text` as G53 moves, the first line replaced by the plain travel to the
  // first corner (in machine coordinates the head goes there unrotated).
  const auto in_machine_coordinates = [&](const std::string& text, int n) {
    std::string out;
    size_t at = 0;
    for (int i = 0; at < text.size(); ++i) {
      const size_t nl = text.find('\n', at);
      std::string line = text.substr(at, nl - at + 1);
      if (i == 0) {
        char buf[120];
        std::snprintf(buf, sizeof buf, "G1 X%.9f Y%.9f\n", corners[0][0], corners[0][1]);
        line = buf;
      }
      out += (i < n ? "G53 " : "") + line;
      at = nl + 1;
    }
    return out;
  };
  // RepRapFirmware rotates (x, y) about the centre by -R degrees; the file writes the square turned by +R.
  const auto turned = [](double deg, double cx, double cy) {
    return [=](double x, double y) {
      const double a = deg * kPi / 180, dx = x - cx, dy = y - cy;
      return std::array<double, 2>{cx + dx * std::cos(a) - dy * std::sin(a), cy + dx * std::sin(a) + dy * std::cos(a)};
    };
  };
  const auto squeezed = [](double fx, double fy) { return [=](double x, double y) { return std::array<double, 2>{x / fx, y / fy}; }; };
  // RepRapFirmware's AxisTransform with tangents XY 0.3, YZ 0.1, XZ 0.5, undone for height z.
  const auto unskewed = [](double z, bool x_by_y) {
    return [=](double x, double y) {
      return x_by_y ? std::array<double, 2>{x - 0.3 * (y - 0.1 * z) - 0.5 * z, y - 0.1 * z}
                    : std::array<double, 2>{x - 0.5 * z, y - 0.3 * x - 0.1 * z};
    };
  };
  // Marlin and Klipper skew: x -= y*xy + z*(xz - xy*yz), y -= z*yz; undone for height z.
  const auto unskewed_marlin = [](double z) {
    return [=](double x, double y) {
      const double yw = y + 0.1 * z;
      return std::array<double, 2>{x + 0.3 * yw + (0.5 - 0.3 * 0.1) * z, yw};
    };
  };
  const double corner = 80 * kPi / 180, side = 100;  // AD = AB = 100 mm
  const double ac = std::sqrt(2 * side * side + 2 * side * side * std::cos(corner));
  const double bd = std::sqrt(2 * side * side - 2 * side * side * std::cos(corner));
  char klipper_buf[120];
  std::snprintf(klipper_buf, sizeof klipper_buf, "SET_SKEW XY=%.9f,%.9f,%.9f", ac, bd, side);
  const std::string klipper_skew = klipper_buf;
  const double klipper_factor = std::tan(10 * kPi / 180);
  const auto unskewed_klipper = [=](double x, double y) { return std::array<double, 2>{x + y * klipper_factor, y}; };
  const std::string square = written(same);
  const Parsed plain = parse("M83\nG1 Z0.2\n" + square + "G1 Z0.4\n" + square + "G1 Z0.6\n" + square);
  ASSERT_EQ(plain.layers.size(), 3u);
  const std::vector<std::string> files = {
      "M83\nG1 Z0.2\n" + square + "G68 A5 B5 R30\nG1 Z0.4\n" + written(turned(30, 5, 5)) + "G69\nG1 Z0.6\n" + square,
      // X/Y name the centre too; I1 adds to the angle; G68 R0 ends it like G69.
      "M83\nG1 Z0.2\n" + square + "G68 X-3 Y7 R100\nG68 X-3 Y7 R-40 I1\nG1 Z0.4\n" + written(turned(60, -3, 7)) +
          "G68 X0 Y0 R0\nG1 Z0.6\n" + square,
      "M83\nG1 Z0.2\n" + square + "M579 X2 Y0.5\nG1 Z0.4\n" + written(squeezed(2, 0.5)) + "M579 X1 Y1\nG1 Z0.6\n" + square,
      // M92 against the values when printing began (not the first ones set); E steps change nothing.
      "M83\nM92 X1 Y1\nM92 X80 Y80 Z400 E93\nG1 Z0.2\n" + square + "M92 X160 Y240 E400\nG1 Z0.4\n" + written(squeezed(2, 3)) +
          "M92 X80 Y80\nG1 Z0.6\n" + square,
      // M556 skew (X by Y and Z, Y by Z; with P1 Y by X): each layer written skewed back, by its height.
      "M83\nM556 S10 X3 Y1 Z5\nG1 Z0.2\n" + written(unskewed(0.2, true)) + "G1 Z0.4\n" + written(unskewed(0.4, true)) +
          "G1 Z0.6\n" + written(unskewed(0.6, true)),
      "M83\nM556 S10 X3 Y1 Z5 P1\nG1 Z0.2\n" + written(unskewed(0.2, false)) + "G1 Z0.4\n" + written(unskewed(0.4, false)) +
          "G1 Z0.6\n" + written(unskewed(0.6, false)),
      // Marlin's M852 skew factors (xy 0.3, xz 0.5, yz 0.1), and Klipper's SET_SKEW from the lengths
      // measured on a calibration square whose XY corner came out at 80 degrees (factor tan 10).
      "M83\nM852 I0.3 J0.5 K0.1\nG1 Z0.2\n" + written(unskewed_marlin(0.2)) + "G1 Z0.4\n" + written(unskewed_marlin(0.4)) +
          "G1 Z0.6\n" + written(unskewed_marlin(0.6)) + "M852 I0 J0 K0\n",
      "M83\n" + klipper_skew + "\nG1 Z0.2\n" + written(unskewed_klipper) + "G1 Z0.4\n" + written(unskewed_klipper) +
          "SET_SKEW CLEAR=1 XY=1,2,3\nG1 Z0.6\n" + square,
      // G53 moves are not rotated (RepRapFirmware's GCodeBuffer::DoingCoordinateRotation): the square in machine coordinates under a G68;
      // then only the travel to its first corner so, the rest written turned as usual.
      "M83\nG1 Z0.2\n" + square + "G68 A5 B5 R30\nG1 Z0.4\n" + in_machine_coordinates(square, 5) + "G1 Z0.6\n" +
          in_machine_coordinates(written(turned(30, 5, 5)), 1) + "G69\n",
      // Nor are moves while another plane than XY is selected (G18); G17 brings the rotation back.
      "M83\nG1 Z0.2\n" + square + "G68 A5 B5 R30\nG18\nG1 Z0.4\n" + square + "G17\nG1 Z0.6\n" + written(turned(30, 5, 5)) + "G69\n",
      // X and Y steps set apart from the start: taken as one printer value, so X prints sqrt(2) wider.
      "M83\nM92 X160 Y80\nG1 Z0.2\n" + written(squeezed(std::sqrt(2.0), 1 / std::sqrt(2.0))) + "G1 Z0.4\n" +
          written(squeezed(std::sqrt(2.0), 1 / std::sqrt(2.0))) + "G1 Z0.6\n" + written(squeezed(std::sqrt(2.0), 1 / std::sqrt(2.0))),
  };
  for (size_t i = 0; i < files.size(); ++i) {
    const Parsed p = parse(files[i]);
    ASSERT_EQ(p.layers.size(), 3u) << i;
    EXPECT_TRUE(p.stats.transforms || p.stats.sets_axis_steps) << i;
    expect_same_xy(plain, p, i);
  }
  // A transform changed between moves does not move the head, nor does a move naming only Z or E
  // after it: the next XY move starts where the head is.
  const Parsed q = parse("M83\nG1 Z0.2\nG1 X10 Y10\nM579 X2\nG1 Z0.4\nG1 Z0.2\nG1 E0.5\nG1 X10 Y0 E1\nG68 A0 B0 R90\n"
                         "G1 E-0.5\nG1 E0.5\nG1 X10 Y0 E1\n");
  ASSERT_EQ(q.layers.size(), 1u);
  ASSERT_EQ(q.layers[0].moves.size(), 2u);
  const ExtrusionMove& m0 = q.layers[0].moves[0];
  EXPECT_NEAR(m0.x0, 10, 1e-5); EXPECT_NEAR(m0.y0, 10, 1e-5); EXPECT_NEAR(m0.x1, 20, 1e-5); EXPECT_NEAR(m0.y1, 0, 1e-5);
  const ExtrusionMove& m1 = q.layers[0].moves[1];  // from (20, 0); (10, 0) turned by -90 degrees is (0, -10), x 2
  EXPECT_NEAR(m1.x0, 20, 1e-5); EXPECT_NEAR(m1.y0, 0, 1e-5); EXPECT_NEAR(m1.x1, 0, 1e-5); EXPECT_NEAR(m1.y1, -10, 1e-5);
  // Plain files never switch the transforms on; absurd factors are ignored.
  const Parsed r = parse("M83\nM579 X0 Y1000\nM92 X0 E93\nG68 R30\nG1 Z0.2\n" + square);
  EXPECT_FALSE(r.stats.transforms);
  EXPECT_FALSE(r.stats.sets_axis_steps);
  EXPECT_FALSE(plain.stats.transforms || plain.stats.sets_axis_steps);
}

// ---- layers --------------------------------------------------------------------------------------

TEST(GcodeReader, LayersComeFromExtrusionNotFromComments) {
  const Parsed p = parse(
      "M83\n;LAYER_CHANGE\nG1 Z0.2\nG1 X10 E1\n;LAYER_CHANGE\n;Z:0.4\nG1 X20 E1\n"  // no Z motion: same layer
      "G1 Z0.6\nG1 X30\nG1 Z0.2\nG1 X40 E1\n"                                     // hop without extrusion
      "G1 Z0.4\nG1 E1\n"                                                         // priming only: no layer
      "G1 X50 E1\n");                                                            // the second layer
  ASSERT_EQ(p.layers.size(), 2u);
  EXPECT_EQ(p.layers[0].moves.size(), 3u);
  EXPECT_EQ(p.layers[1].moves.size(), 1u);
  EXPECT_FLOAT_EQ(p.layers[1].z, 0.4f);
}

TEST(GcodeReader, RetractionAndZeroLengthMovesAreNotExtrusion) {
  const Parsed p = parse("M83\nG1 Z0.2\nG1 X10 E-1\nG1 E1\nG1 X10 E1\nG1 X20 E0\nG1 X30 E0.0000001\n");
  EXPECT_EQ(p.move_count(), 0u);
  EXPECT_TRUE(p.layers.empty());
}

TEST(GcodeReader, SequentialPrintingHeightsComeFromTheLayerBelow) {
  // Object A printed to 0.6, then object B starts again at 0.2.
  const Parsed p = parse(
      "M83\nG1 Z0.2\nG1 X10 E1\nG1 Z0.4\nG1 X0 E1\nG1 Z0.6\nG1 X10 E1\n"
      "G1 Z0.2 X50\nG1 X60 E1\nG1 Z0.4\nG1 X50 E1\n");
  ASSERT_EQ(p.layers.size(), 5u);
  for (const Layer& l : p.layers) EXPECT_NEAR(l.height, 0.2f, 1e-5) << "z " << l.z;
}

TEST(GcodeReader, SpiralVaseMovesGroupIntoLayerHighSlices) {
  std::string text = "M83\nG1 Z0.2\nG1 X10 Y0 E1\nG1 X10 Y10 E1\n";  // a planar 0.2 first layer
  // Then 200 spiral moves climbing 0.002 mm each: 0.4 mm in all.
  double z = 0.2;
  for (int i = 0; i < 200; ++i) {
    z += 0.002;
    const double a = i * 0.1;
    text += "G1 X" + std::to_string(10 * std::cos(a)) + " Y" + std::to_string(10 * std::sin(a)) + " Z" +
            std::to_string(z) + " E0.05\n";
  }
  const Parsed p = parse(text);
  EXPECT_EQ(p.move_count(), 202u);
  EXPECT_GE(p.layers.size(), 2u);
  EXPECT_LE(p.layers.size(), 4u);
}

// ---- labels ----------------------------------------------------------------------------------------

TEST(GcodeReader, KlipperExcludeObjectLabels) {
  const Parsed p = parse(fixture("klipper_objects.gcode"));
  ASSERT_EQ(p.objects.size(), 3u);
  EXPECT_EQ(p.objects[0].name, "cube_1");
  EXPECT_EQ(p.objects[0].index, 0);
  const std::vector<std::array<float, 2>> square{{0, 0}, {10, 0}, {10, 10}, {0, 10}};
  EXPECT_EQ(p.objects[0].polygon, square);
  EXPECT_EQ(p.objects[1].name, "Pin_2");
  EXPECT_EQ(p.objects[1].polygon.size(), 4u);
  EXPECT_EQ(p.objects[2].name, "unused_3");  // declared, never printed: reported at finish
  EXPECT_EQ(p.objects[2].polygon.size(), 3u);
  ASSERT_EQ(p.layers.size(), 2u);
  const auto& l0 = p.layers[0].moves;
  ASSERT_EQ(l0.size(), 4u);
  EXPECT_EQ(l0[0].object, 0);
  EXPECT_EQ(l0[1].object, 0);
  EXPECT_EQ(l0[2].object, 1);
  EXPECT_EQ(l0[3].object, -1);
  ASSERT_EQ(p.layers[1].moves.size(), 1u);
  EXPECT_EQ(p.layers[1].moves[0].object, 0);
  EXPECT_EQ(p.stats.unknown_commands, 3u);  // SET_PRESSURE_ADVANCE, PRINT_START, PRINT_END
}

TEST(GcodeReader, M486Labels) {
  const Parsed p = parse(fixture("m486.gcode"));
  ASSERT_EQ(p.objects.size(), 2u);
  EXPECT_EQ(p.objects[0].name, "first part");
  EXPECT_EQ(p.objects[1].name, "second;part");
  ASSERT_EQ(p.move_count(), 3u);
  const auto m = p.all_moves();
  EXPECT_EQ(m[0].object, p.objects[0].index);
  EXPECT_EQ(m[1].object, p.objects[1].index);
  EXPECT_EQ(m[2].object, -1);
}

TEST(GcodeReader, SlicerCommentLabels) {
  const Parsed p = parse(fixture("prusa_style.gcode"));
  ASSERT_EQ(p.objects.size(), 1u);
  EXPECT_EQ(p.objects[0].name, "part.stl id:0 copy 0");
  for (const auto& m : p.all_moves()) EXPECT_EQ(m.object, 0);
  // Cura ;MESH: and Bambu "; start printing object, unique label id: N".
  const Parsed q = parse(
      "M83\nG1 Z0.2\n;MESH:bolt.stl\nG1 X10 E1\n;MESH:NONMESH\nG1 X20 E1\n"
      "; start printing object, unique label id: 42\nG1 X30 E1\n; stop printing object, unique label id: 42\nG1 X40 E1\n");
  ASSERT_EQ(q.objects.size(), 2u);
  EXPECT_EQ(q.objects[0].name, "bolt.stl");
  EXPECT_EQ(q.objects[1].name, "42");
  const auto m = q.all_moves();
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].object, 0);
  EXPECT_EQ(m[1].object, -1);
  EXPECT_EQ(m[2].object, 1);
  EXPECT_EQ(m[3].object, -1);
}

TEST(GcodeReader, CommandLabelsWinOverCommentLabels) {
  const Parsed p = parse(
      "M83\nG1 Z0.2\n; printing object A\nM486 S0\nM486 Apart A\nG1 X10 E1\nM486 S-1\n; stop printing object A\n");
  ASSERT_EQ(p.objects.size(), 1u);
  EXPECT_EQ(p.objects[0].name, "part A");
  EXPECT_EQ(p.all_moves()[0].object, p.objects[0].index);
}

// ---- dialects ----------------------------------------------------------------------------------------

TEST(GcodeReader, DialectsSpellTheSameMoves) {
  const Parsed canonical = parse("G90\nM83\nG1 Z0.2\nG1 X0 Y0\nG1 X10 Y0 E0.5\nG1 X10 Y10 E0.5\n");
  const char* variants[] = {
      "g90\nm83\ng1 z0.2\ng1 x0 y0\ng1 x10 y0 e0.5\ng1 x10 y10 e0.5\n",                            // lowercase
      "N1 G90*18\nN2 M83*33\nN3 G1 Z0.2*50\nN4 G1 X0 Y0*47\nN5 G1 X10 Y0 E0.5*1\nN6 G1 X10 Y10 E0.5*2\n",  // Marlin line numbers
      "G90\nM83\nG1Z.2\nG1X0Y0\nG1X10Y0E.5\nG1X10Y10E.5\n",                                        // MeatPack, no spaces
      "G90 (absolute)\nM83\n(start) G1 Z0.2\nG1 X0 (go home) Y0\nG1 X10 Y0 E0.5 F1200 ; ok\nG1 X+10 Y10 E+0.5\n",  // paren comments, '+'
      "G90\r\nM83\r\nG1 Z0.2\r\nG1 X0 Y0\r\nG1 X10 Y0 E0.5\r\nG1 X10 Y10 E0.5",                   // CRLF, no final newline
      "G90\nM83\nSET_VELOCITY_LIMIT ACCEL=500\nM204 S500\nG1 Z0.2\nM117 X99 Y99 E99\nG1 X0 Y0\n%\n"
      "G1 X10 Y0 E0.5\nM862.3 P \"MK4\"\nG29.1 X5\nG1 X10 Y10 E0.5\n",  // commands that must not move anything
      "G90\nM83\nG1 Z0.2\nG0 X0 Y0\nG0 X10 Y0 E0.5\nG1 X10 Y10 E0.5\n",  // G0 extrudes like G1 in Marlin
  };
  for (const char* v : variants) {
    SCOPED_TRACE(v);
    const Parsed p = parse(v);
    expect_same_moves(canonical, p, true);
  }
}

TEST(GcodeReader, FilamentDiameterComment) {
  const Parsed p = parse("; filament_diameter = 2.85\nM83\nG1 Z0.2\nG1 X10 E0.5\n");
  const double area = kPi * 2.85 * 2.85 / 4;
  ASSERT_EQ(p.move_count(), 1u);
  EXPECT_NEAR(p.layers[0].moves[0].width, area * 0.5 / (10 * 0.2), 1e-3);
  // Widths are clamped to [0.1, 3] mm.
  const Parsed q = parse("M83\nG1 Z0.2\nG1 X10 E5\nG1 X20 E0.01\n");
  EXPECT_FLOAT_EQ(q.layers[0].moves[0].width, 3.f);
  EXPECT_FLOAT_EQ(q.layers[0].moves[1].width, 0.1f);
}

TEST(GcodeReader, NumbersMatchFromChars) {
  // Random decimals of every length and form the fast path handles (and longer ones it hands to
  // std::from_chars), each checked against from_chars itself.
  std::mt19937 rng(11);
  std::string text = "M83\nG1 Z0.2\n";
  std::vector<std::string> numbers;
  for (int i = 0; i < 20000; ++i) {
    std::string n;
    if (rng() % 3 == 0) n += '-';
    const int int_digits = static_cast<int>(rng() % 6);  // 0..5, |x| < 1e5
    for (int k = 0; k < int_digits; ++k) n += static_cast<char>('0' + rng() % 10);
    const int frac_digits = static_cast<int>(rng() % 12);
    if (frac_digits > 0 || int_digits == 0) {
      n += '.';
      for (int k = 0; k < std::max(frac_digits, int_digits == 0 ? 1 : 0); ++k) n += static_cast<char>('0' + rng() % 10);
    }
    numbers.push_back(n);
    text += "G1 X" + n + " Y0 E1\nG1X7Y" + n + "E1\n";  // the second form without spaces
  }
  ReaderOptions opt;
  opt.max_moves_per_layer = 100000;
  for (size_t chunk : {size_t{0}, size_t{5}}) {
    const Parsed p = parse(text, chunk, opt);
    const auto moves = p.all_moves();
    std::vector<float> xs, ys;
    for (const auto& m : moves) {
      xs.push_back(m.x1);
      ys.push_back(m.y1);
    }
    // Zero-length moves are dropped, so walk the numbers and match them in order.
    size_t k = 0;
    double px = 0, py = 0;
    size_t checked = 0;
    for (const std::string& n : numbers) {
      double v = 0;
      const char* b = n.data();
      ASSERT_EQ(std::from_chars(b, b + n.size(), v).ec, std::errc()) << n;
      if (v != px || 0 != py) {
        ASSERT_LT(k, moves.size());
        EXPECT_EQ(xs[k], static_cast<float>(v)) << n;
        ++k;
        ++checked;
      }
      px = v;
      py = 0;
      if (7 != px || v != py) {
        ASSERT_LT(k, moves.size());
        EXPECT_EQ(ys[k], static_cast<float>(v)) << n;
        ++k;
      }
      px = 7;
      py = v;
    }
    EXPECT_EQ(k, moves.size());
    EXPECT_GT(checked, 19000u);
  }
}

TEST(GcodeReader, FastDecimalEqualsFromCharsBitForBit) {
  // The reader's number parser against std::from_chars on the same bytes, value bit for bit and end
  // pointer: every sign, 0..17 digits before and after the dot, each terminator the reader meets, and
  // every amount of readable bytes after the number, so the 16-byte, 8-byte and byte-wise paths all
  // run. A nullptr (the reader then asks from_chars) is allowed only for the lengths a path declines.
  std::mt19937 rng(5);
  const std::string terminators = " \t;*(XYeg.-+";
  int taken = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string n;
    const int sign = static_cast<int>(rng() % 3);
    if (sign == 1) n += '-';
    if (sign == 2) n += '+';
    const int int_digits = static_cast<int>(rng() % 18);
    const bool dot = rng() % 4 != 0;
    const int frac_digits = dot ? static_cast<int>(rng() % 18) : 0;
    const bool zeros = rng() % 8 == 0;  // leading zeros, trailing zeros
    for (int k = 0; k < int_digits; ++k) n += static_cast<char>(zeros && k < 3 ? '0' : '0' + rng() % 10);
    if (dot) n += '.';
    for (int k = 0; k < frac_digits; ++k) n += static_cast<char>(zeros && k > frac_digits - 3 ? '0' : '0' + rng() % 10);
    const size_t num_len = n.size();
    if (rng() % 4 != 0) n += terminators[rng() % terminators.size()];  // else the line ends here
    for (int k = static_cast<int>(rng() % 3); k > 0; --k) n += 'Z';
    const size_t line_len = n.size();  // e: where the reader puts the line's end, a '\n', '\r' or NUL
    n += "\n\r"[rng() % 3];
    const size_t readable = line_len + 1 + rng() % 20;  // bytes the parser may load past e
    while (n.size() < readable) n += static_cast<char>('0' + rng() % 10);  // digits beyond e must not count
    std::vector<char> buf(n.begin(), n.end());  // exact size: ASan catches any load past `readable`
    const char* b = buf.data();
    double fast = 0;
    const char* r = detail::fast_decimal(b, b + line_len, b + buf.size(), fast);
    const char* q = (b[0] == '+') ? b + 1 : b;
    double ref = 0;
    const auto fc = std::from_chars(q, b + line_len, ref, std::chars_format::fixed);
    const bool ref_ok = fc.ec == std::errc() && !(b[0] == '+' && q[0] == '-');
    const std::string shown = n.substr(0, num_len + 1);
    if (r == nullptr) {
      // Declined by design: 8+ digits on one side of the dot (8-byte path), 16+ bytes (16-byte path).
      const bool too_long = int_digits >= 8 || frac_digits >= 8 || int_digits + frac_digits + dot >= 16;
      EXPECT_TRUE(!ref_ok || too_long) << "declined \"" << shown << "\"";
      continue;
    }
    ++taken;
    ASSERT_TRUE(ref_ok) << "took \"" << shown << "\"";
    EXPECT_EQ(r, fc.ptr) << "end of \"" << shown << "\"";
    EXPECT_EQ(std::bit_cast<uint64_t>(fast), std::bit_cast<uint64_t>(ref)) << "value of \"" << shown << "\"";
  }
  EXPECT_GT(taken, 40000);  // a parser that declines everything fails here
}

// ---- stripped comments and chunking --------------------------------------------------------------

TEST(GcodeReader, StrippedCommentsGiveTheSameLayersAndMoves) {
  for (const char* name : {"prusa_style.gcode", "absolute.gcode", "relative.gcode", "arcs.gcode", "firmware_retract.gcode"}) {
    SCOPED_TRACE(name);
    const std::string text = fixture(name);
    const Parsed with = parse(text);
    const Parsed without = parse(strip_comments(text));
    EXPECT_FALSE(without.stats.saw_comments);
    EXPECT_GT(with.move_count(), 0u);
    expect_same_moves(with, without, false);
  }
  // ;WIDTH: comments set widths; without them widths come from E.
  const Parsed with = parse(fixture("prusa_style.gcode"));
  EXPECT_FLOAT_EQ(with.layers[0].moves[0].width, 0.45f);
  const Parsed without = parse(strip_comments(fixture("prusa_style.gcode")));
  const double area = kPi * 1.75 * 1.75 / 4;
  EXPECT_NEAR(without.layers[0].moves[0].width, area * 0.93431 / (20 * 0.2), 1e-3);
}

TEST(GcodeReader, ChunkedFeedingGivesIdenticalOutput) {
  std::string all;
  for (const char* name : {"prusa_style.gcode", "klipper_objects.gcode", "m486.gcode", "arcs.gcode"}) {
    SCOPED_TRACE(name);
    const std::string text = fixture(name);
    all += text;
    const Parsed whole = parse(text);
    for (size_t chunk : {size_t{1}, size_t{7}, size_t{4096}}) expect_identical(whole, parse(text, chunk));
  }
  // Chunk boundaries in random places, over a larger text.
  std::string big;
  for (int i = 0; i < 30; ++i) big += all;
  const Parsed whole = parse(big);
  std::mt19937 rng(7);
  RecordingSink sink;
  Reader reader(sink);
  for (size_t off = 0; off < big.size();) {
    const size_t n = std::min<size_t>(big.size() - off, rng() % 300);
    reader.feed(std::string_view(big).substr(off, n));
    off += n;
  }
  reader.finish();
  expect_identical(whole, Parsed{sink.objects, sink.layers, reader.stats()});
}

// ---- fast path against the general path ---------------------------------------------------------
//
// Where the CPU has AVX2, G0/G1 lines shorter than 32 bytes take a SIMD fast path (line_plan.h and
// Reader::State::feed_planned); ReaderOptions::vector_lines = false runs every line through the
// general parser. Both must give bit-identical output and errors, whole or fed in pieces.

ReaderOptions general_path_only(ReaderOptions opt = {}) {
  opt.vector_lines = false;
  return opt;
}

// The fast path is there to compare with: the CPU has what it needs (else the tests comparing the
// two compare the general parser with itself, and say so).
bool fast_path_available() {
  const Parsed p = parse(std::string(200, '\n') + "G1 X1 Y2 E1\n" + std::string(200, '\n'));
  return p.stats.planned_lines == 1;
}

void expect_bitwise_identical(const Parsed& a, const Parsed& b) {
  expect_identical(a, b);
  const auto ma = a.all_moves(), mb = b.all_moves();
  ASSERT_EQ(ma.size(), mb.size());
  for (size_t i = 0; i < ma.size(); ++i) {
    const float fa[7] = {ma[i].x0, ma[i].y0, ma[i].x1, ma[i].y1, ma[i].z, ma[i].e, ma[i].width};
    const float fb[7] = {mb[i].x0, mb[i].y0, mb[i].x1, mb[i].y1, mb[i].z, mb[i].e, mb[i].width};
    for (int k = 0; k < 7; ++k)
      ASSERT_EQ(std::bit_cast<uint32_t>(fa[k]), std::bit_cast<uint32_t>(fb[k])) << "move " << i << " field " << k;
  }
}

// `text` read with a large move limit by the general parser only and by the fast path, whole and in
// 4 KiB pieces: the same output, bit for bit, with at least `min_moves` moves and (where the CPU has
// the fast path) more than `min_planned` lines through the fast path. Returns the fast reading.
Parsed expect_fast_path_matches(const std::string& text, size_t min_moves, uint64_t min_planned) {
  ReaderOptions opt;
  opt.max_moves_per_layer = 1'000'000;
  const Parsed general = parse(text, 0, general_path_only(opt));
  EXPECT_GT(general.move_count(), min_moves);
  Parsed fast = parse(text, 0, opt);
  expect_bitwise_identical(general, fast);
  if (fast_path_available()) {
    EXPECT_GT(fast.stats.planned_lines, min_planned);
  }
  expect_bitwise_identical(general, parse(text, 4096, opt));
  return fast;
}

// Every line of `lines` after a move to (50, 50), so that each one's numbers show in a move.
std::string around_moves(const std::vector<std::string>& lines, const char* eol = "\n") {
  std::string text = "M83\nG1 Z0.2\n";
  for (const std::string& l : lines) {
    text += std::string("G1 X50 Y50 E1") + eol;
    text += l + eol;
  }
  return text;
}

TEST(GcodeReader, FastPathMatchesGeneralPathOnTrickyLines) {
  const std::vector<std::string> lines = {
      "G1 X12.5 Y-3.25 E.5", "g1 x12.5 y-3.25 e.5", "G1X12.5Y-3.25E.5", "G0 X1 Y2 E1", "g0x1y2e1",
      "G1 X1 Y2 E1 F1800", "G1 F1800 X1 Y2 E1", "G1 X1 Y2 E1 F1800 Z0.2", "G1 X1 Y2 Z0.4 E1",
      "G1 X1 X3 Y2 E1", "G1 E1 E2 X3 Y4", "N12 G1 X1 Y2 E1*77", "N12 G1 X1 Y2 E1", "G1 X1 Y2 E1*77",
      "G1 X1 Y2 E1 ; comment", "G1 X1 Y2 E1;c", "G1 X1 Y2 (c) E1", "G1 X1 Y2 E1 ", "G1  X1  Y2  E1",
      " G1 X1 Y2 E1", "G1\tX1 Y2 E1", "G1 X+1 Y+2 E1", "G1 X-.5 Y-0 E1", "G1 X1. Y2. E1.", "G1 X.5 Y.25 E.125",
      "G1 X-0.0 Y2 E1", "G1 X9.99999999999999 Y2 E1", "G1 X99999.9999999999 Y2 E1", "G1 X0.000000000000001 Y2 E1",
      "G1 X0000000000001.5 Y2 E1", "G1 X00000000000001.5 Y2 E1", "G1 X1.00000000000000000001 Y2 E1",
      "G1 X000000000000000000000007 Y2 E1", "G1 X1234.56789012345 Y2 E1", "G1 X1234.567890123456 Y2 E1",
      "G1 X1e3 Y2 E1", "G1 X1E3 Y2", "G1 X0x10 Y2 E1", "G1 X1..5 Y2 E1", "G1 X1.5.5 Y2 E1", "G1 X- Y2 E1",
      "G1 X. Y2 E1", "G1 X-. Y2 E1", "G1 X Y2 E1", "G1 X1 Y2 E", "G1 X-1-2 Y2 E1", "G1 X--1 Y2 E1",
      "G1 X1 Y2 E1\r", "G10 X1 Y2 E1", "G1.1 X1 Y2 E1", "G01 X1 Y2 E1",
      // Lines shaped like a G1 line but another command (the command digit is not a number's).
      "G2 X1 Y2 E1", "G3 X12.5 Y-3.25 E.5", "G4 X1 Y2 E1", "G5 X1 Y2 E1", "G9 X1 Y2 E1", "G2 Z0.4", "G1 Z0.4",
      "G2 Z0.4", "M1 X1 Y2 E1", "T1 X1 Y2 E1", "G1 X1 Y2 E1",
      "G1- X1 Y2 E1", "G1 -X1 Y2 E1", "G X1 Y2 E1", "G1", "G1 ", "G0", "G1 X1", "G1 E-0.8", "G1 E.8 F2100",
      "G1 Z.35 F7800", "G1 X1 Y2 E1 S", "G1 X1 Y2 E1 @", "G1 X1 Y2 E1 _", "G1 X1 Y2 E\xc3\xa9" "1",
      "G1 X1 Y2 E1 " + std::string(40, ' '), "G1 X1 Y2 E0.1" + std::string(70, '0'), "G1 X1.5 Y2.5 E0.3 F1200 ",
  };
  const std::string text = around_moves(lines);
  ReaderOptions opt;
  const Parsed general = parse(text, 0, general_path_only(opt));
  EXPECT_GT(general.move_count(), lines.size());
  const Parsed fast = parse(text, 0, opt);
  expect_bitwise_identical(general, fast);
  if (fast_path_available()) {
    EXPECT_GT(fast.stats.planned_lines, lines.size());
  }
  for (size_t chunk = 65; chunk < 200; chunk += 7) expect_bitwise_identical(general, parse(text, chunk, opt));
  // The same with \r\n line ends (less the line that already ends in \r).
  std::vector<std::string> no_cr;
  for (const std::string& l : lines)
    if (l.back() != '\r') no_cr.push_back(l);
  const std::string crlf = around_moves(no_cr, "\r\n");
  expect_bitwise_identical(parse(crlf, 0, general_path_only(opt)), parse(crlf, 0, opt));
}

TEST(GcodeReader, FastPathMatchesGeneralPathOnRandomLines) {
  // Lines near the fast path's shape: G0/G1 and up to six words, signs, dots, leading zeros (long
  // digit strings), odd separators, comments, checksums, \r; between them other commands that
  // change the state (relative modes, G92, tools, widths, labels).
  std::mt19937 rng(2024);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  auto number = [&] {
    std::string s;
    const int sign = pick(40);
    s += sign < 10 ? "-" : sign == 10 ? "+" : sign == 11 ? "--" : "";
    s += std::string(pick(8) == 0 ? static_cast<size_t>(pick(16)) : 0, '0');
    for (int k = pick(4); k > 0; --k) s += static_cast<char>('0' + pick(10));
    if (pick(10) < 7) {
      s += '.';
      for (int k = pick(9) + (pick(12) == 0 ? 8 : 0); k > 0; --k) s += static_cast<char>('0' + pick(10));
    }
    if (pick(50) == 0) s += ".5";
    return s;
  };
  const char* others[] = {";WIDTH:0.42", ";TYPE:Perimeter", "M486 S1", "M486 S-1", "T1", "T0", "G92 E0",
                          "M82",         "M83",             "G91",     "G90",      "G28", "; printing object a",
                          "M200 D1.75",  "M200 D0",         "",        "   ",      "G2 X1 Y1 I1 J0 E0.1"};
  const char* commands[] = {"G1", "G1", "G1", "G1", "G1", "G1", "G0", "g1", "G01", "G10", "G1.5", "N7 G1", "G"};
  const char* seps[] = {" ", " ", " ", " ", " ", " ", "", "  ", "\t"};
  const std::string letters = "XXXYYYEEEZFFxyeIJS";
  std::string text = "G21\nG90\nM83\n";
  bool relative_xy = false;
  for (int i = 0; i < 6000; ++i) {
    if (pick(20) == 0) {
      const std::string o = others[pick(static_cast<int>(std::size(others)))];
      if (o == "G91") relative_xy = true;
      if (o == "G90") relative_xy = false;
      text += o + "\n";
      continue;
    }
    std::string line = commands[pick(static_cast<int>(std::size(commands)))];
    const std::string sep = seps[pick(static_cast<int>(std::size(seps)))];
    for (int w = pick(7); w > 0; --w) {
      line += sep;
      line += letters[static_cast<size_t>(pick(static_cast<int>(letters.size())))];
      if (pick(100) != 0) line += number();
    }
    const int tail = pick(40);
    line += tail == 0 ? " ; c" : tail == 1 ? "*57" : tail == 2 ? " (x)" : tail == 3 ? " " : "";
    if (pick(10) == 0) line += '\r';
    text += line + "\n";
    if (relative_xy) text += "G90\n";  // keeps positions in range
    relative_xy = false;
  }
  // 398 lines at this seed through the fast path: most shapes are new, so it gives up.
  const Parsed fast = expect_fast_path_matches(text, 1000, 200);
  ReaderOptions opt;
  opt.max_moves_per_layer = 1'000'000;
  expect_bitwise_identical(fast, parse(text, 101, opt));
}

TEST(GcodeReader, FastPathErrorsMatchTheGeneralPath) {
  for (const std::string bad : {"G1 X100001 Y2 E1", "G1 X1 Y-100000.5 E1", "G1 Z200000", "G1 E2000000000",
                                "G1 X1 Y2 E1\x01", "G1 X1\rY2 E1", "G1 X1 Y2 E1\r\r", "G1 X1 Y2 E1 XNaN",
                                "G1 XNAN Y2", "G1 X1 Y2 Einf"}) {
    SCOPED_TRACE(bad);
    const std::string text = around_moves({"G1 X1 Y2 E1", bad, "G1 X3 Y4 E1"});
    std::string fast_message, general_message;
    const ErrorCode fast = error_of(text, {}, &fast_message);
    ErrorCode general = ErrorCode::kIo;
    try {
      parse(text, 0, general_path_only());
      ADD_FAILURE() << "no error";
    } catch (const LoadError& e) {
      general = e.code();
      general_message = e.what();
    }
    EXPECT_EQ(fast, general);
    EXPECT_EQ(fast_message, general_message);
  }
}

// Four numbers of 1..4 digits with the dot anywhere: tens of thousands of line shapes.
std::string random_number_shape(std::mt19937& rng) {
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  std::string s = pick(5) == 0 ? "-" : "";
  const int digits = 1 + pick(4), dot = pick(digits + 2);  // dot == digits + 1: none
  for (int k = 0; k < digits; ++k) {
    if (k == dot) s += '.';
    s += static_cast<char>('0' + pick(10));
  }
  if (dot == digits) s += '.';
  return s;
}

TEST(GcodeReader, FastPathMatchesGeneralPathAcrossThousandsOfLineShapes) {
  // One line in ten of a shape not seen before, 5,000 of them: more than the fast path keeps plans
  // for (it starts over), between lines of other commands, layer changes and labels.
  std::mt19937 rng(99);
  std::set<std::string> shapes;
  std::string text = "M83\nG1 Z0.2\n";
  for (int i = 0; i < 50000; ++i) {
    if (i % 500 == 0) text += "G1 Z" + std::to_string(0.2 * (2 + i / 500)) + "\n";
    if (i % 300 == 0) text += "M486 S" + std::to_string(i % 3) + "\n";
    if (i % 10 == 0) {
      std::string line, shape;
      do {
        line = "G1 X" + random_number_shape(rng) + " Y" + random_number_shape(rng) + " E" + random_number_shape(rng) +
               " F" + random_number_shape(rng);
        shape = line;
        for (char& c : shape)
          if (c >= '0' && c <= '9') c = '0';
      } while (!shapes.insert(shape).second);
      text += line + "\n";
    } else {
      text += "G1 X" + std::to_string(10 + i % 90) + "." + std::to_string(100 + i % 900) + " Y55.5 E.0" +
              std::to_string(1000 + i % 9000) + "\n";
    }
  }
  expect_fast_path_matches(text, 20000, 45000);  // it kept at it
}

TEST(GcodeReader, FastPathGivesUpOnFilesOfEverNewLineShapes) {
  // Every line a new shape (written to defeat the plans): past a few thousand lines the reader
  // parses with the general parser alone, and the output is the same.
  std::mt19937 rng(7);
  std::string text = "M83\nG1 Z0.2\n";
  for (int i = 0; i < 30000; ++i)
    text += "G1 X" + random_number_shape(rng) + " Y" + random_number_shape(rng) + " E" + random_number_shape(rng) +
            " F" + random_number_shape(rng) + "\n";
  const Parsed fast = expect_fast_path_matches(text, 0, 1000);
  if (fast_path_available()) {
    EXPECT_LT(fast.stats.planned_lines, 5000u);
  }
}

TEST(GcodeReader, FastPathLimitsAndLayersMatchTheGeneralPath) {
  // Layer changes, the move limit and object labels falling inside runs of fast lines.
  std::string text = "M83\nM486 S0\n";
  for (int layer = 1; layer <= 6; ++layer) {
    text += "G1 Z" + std::to_string(0.2 * layer) + "\n";
    if (layer == 3) text += "M486 S1\n";
    for (int i = 0; i < 97; ++i) text += "G1 X" + std::to_string(i % 50) + ".5 Y" + std::to_string(i % 7) + " E.05\n";
  }
  const Parsed general = parse(text, 0, general_path_only());
  EXPECT_EQ(general.layers.size(), 6u);
  expect_bitwise_identical(general, parse(text));
  for (const size_t limit : {50u, 96u, 97u}) {
    ReaderOptions opt;
    opt.max_moves_per_layer = limit;
    std::string fast_message, general_message;
    const ErrorCode fast = limit < 97 ? error_of(text, opt, &fast_message) : ErrorCode::kIo;
    const ErrorCode slow = limit < 97 ? error_of(text, general_path_only(opt), &general_message) : ErrorCode::kIo;
    EXPECT_EQ(fast, slow);
    EXPECT_EQ(fast_message, general_message);
    if (limit == 97) expect_bitwise_identical(parse(text, 0, general_path_only(opt)), parse(text, 0, opt));
  }
}

#if defined(S3D_GCODE_LINE_PLAN)
// Every integer below 10^8 over every power of ten up to 10^8 and its negative, as the fast path
// divides, against IEEE division (what std::from_chars' result comes to): 1.8 x 10^9 quotients, bit
// for bit.
__attribute__((target("avx2,fma"))) uint64_t power_of_ten_division_mismatches() {
  constexpr double kPow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
  uint64_t bad = 0;
  for (const double p10 : kPow10) {
    for (const double signed_p10 : {p10, -p10}) {
    const __m256d p = _mm256_set1_pd(signed_p10), rcp = _mm256_set1_pd(1 / signed_p10);
    __m256d n = _mm256_setr_pd(0, 1, 2, 3);
    for (int m = 0; m < 100'000'000; m += 4) {
      const __m256d q = detail::LinePlans::divide_by_powers_of_ten(n, p, rcp);
      bad += static_cast<uint64_t>(std::popcount(static_cast<unsigned>(
          _mm256_movemask_pd(_mm256_cmp_pd(q, _mm256_div_pd(n, p), _CMP_NEQ_UQ)))));
      n = _mm256_add_pd(n, _mm256_set1_pd(4));
    }
    }
  }
  return bad;
}

TEST(GcodeReader, PowerOfTenDivisionEqualsIeeeDivision) {
  if (!detail::LinePlans::supported()) GTEST_SKIP() << "this CPU has no AVX2 and FMA: the fast path is off";
  EXPECT_EQ(power_of_ten_division_mismatches(), 0u);
}
#endif

TEST(GcodeReader, EverySplitPointGivesIdenticalOutput) {
  std::string text = fixture("prusa_style.gcode");
  text += "G1 X1.5 Y2.5 E.5\ng1x2y3e.25\nG1 X-.5 Y0000000000003.25 E1\r\nG1 X4 Y5 E1";  // no final newline
  const Parsed whole = parse(text);
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    RecordingSink sink;
    Reader reader(sink);
    reader.feed(std::string_view(text).substr(0, cut));
    reader.feed(std::string_view(text).substr(cut));
    reader.finish();
    const Parsed split{std::move(sink.objects), std::move(sink.layers), reader.stats()};
    ASSERT_EQ(split.move_count(), whole.move_count()) << "cut at " << cut;
    expect_bitwise_identical(whole, split);
  }
}

// ---- bad input and limits -----------------------------------------------------------------------------

TEST(GcodeReader, LongLineIsAnError) {
  ReaderOptions opt;
  opt.max_line_bytes = 100;
  std::string message;
  const std::string text = "G1 Z0.2\n;" + std::string(200, 'x') + "\nG1 X1 E1\n";
  EXPECT_EQ(error_of(text, opt, &message), ErrorCode::kLimitExceeded);
  EXPECT_NE(message.find("max_line_bytes"), std::string::npos) << message;
  EXPECT_NE(message.find("line 2"), std::string::npos) << message;
  // The same when the line arrives a byte at a time, and when it is the unterminated last line.
  for (const std::string& t : {text, std::string("G1 Z0.2\n;") + std::string(200, 'x')}) {
    RecordingSink sink;
    Reader reader(sink, opt);
    try {
      for (char c : t) reader.feed(std::string_view(&c, 1));
      reader.finish();
      ADD_FAILURE() << "no error";
    } catch (const LoadError& e) {
      EXPECT_EQ(e.code(), ErrorCode::kLimitExceeded);
    }
  }
  // Exactly at the limit is fine.
  EXPECT_NO_THROW(parse(";" + std::string(99, 'x') + "\r\n", 0, opt));
}

TEST(GcodeReader, GarbageNanAndAbsurdValuesAreErrors) {
  std::string binary = "G1 Z0.2\n";
  std::mt19937 rng(3);
  for (int i = 0; i < 4096; ++i) binary.push_back(static_cast<char>(rng() & 0xFF));
  EXPECT_EQ(error_of(binary), ErrorCode::kMalformed);
  EXPECT_EQ(error_of(std::string("G1 X1\0 Y2\n", 10)), ErrorCode::kMalformed);
  EXPECT_EQ(error_of(std::string("; comment with a \x01 byte\n")), ErrorCode::kMalformed);
  EXPECT_EQ(error_of("G1 XNaN Y0 E1\n"), ErrorCode::kBadValue);
  EXPECT_EQ(error_of("G1 X10 Yinf E1\n"), ErrorCode::kBadValue);
  EXPECT_EQ(error_of("G1 X200000 Y0\n"), ErrorCode::kBadValue);
  EXPECT_EQ(error_of("G1 X1" + std::string(400, '0') + "\n"), ErrorCode::kBadValue);
  EXPECT_EQ(error_of("G91\nG1 X60000\nG1 X60000\n"), ErrorCode::kBadValue);  // relative walk out of range
  EXPECT_EQ(error_of("G1 X0 Y0\nG2 X10 Y0 I100001 J0 E1\n"), ErrorCode::kBadValue);
  std::string message;
  error_of("G1 Z0.2\nG1 X1\nG1 XNaN\n", {}, &message);
  EXPECT_NE(message.find("line 3"), std::string::npos) << message;
  // Plain text that is not G-code is tolerated (and produces nothing).
  const Parsed p = parse("hello world\nthis is not gcode\n");
  EXPECT_EQ(p.move_count(), 0u);
  EXPECT_EQ(p.stats.unknown_commands, 2u);
}

TEST(GcodeReader, LimitsOnMovesLayersAndObjects) {
  ReaderOptions opt;
  opt.max_moves_per_layer = 3;
  std::string message;
  EXPECT_EQ(error_of("M83\nG1 Z0.2\nG1 X1 E1\nG1 X2 E1\nG1 X3 E1\nG1 X4 E1\n", opt, &message), ErrorCode::kLimitExceeded);
  EXPECT_NE(message.find("max_moves_per_layer"), std::string::npos);
  EXPECT_NO_THROW(parse("M83\nG1 Z0.2\nG1 X1 E1\nG1 X2 E1\nG1 X3 E1\nG1 Z0.4\nG1 X4 E1\n", 0, opt));

  opt = {};
  opt.max_layers = 2;
  EXPECT_EQ(error_of("M83\nG1 Z0.2\nG1 X1 E1\nG1 Z0.4\nG1 X2 E1\nG1 Z0.6\nG1 X3 E1\n", opt, &message),
            ErrorCode::kLimitExceeded);
  EXPECT_NE(message.find("max_layers"), std::string::npos);

  opt = {};
  opt.max_objects = 2;
  EXPECT_EQ(error_of("M486 S0\nM486 S1\nM486 S2\n", opt, &message), ErrorCode::kLimitExceeded);
  EXPECT_NE(message.find("max_objects"), std::string::npos);

  // Saved G-code states: 10,000 names, 1 MiB of them (a name may be a whole 64 KiB line).
  std::string many, long_names;
  for (int i = 0; i <= 10000; ++i) many += "SAVE_GCODE_STATE NAME=s" + std::to_string(i) + "\n";
  EXPECT_EQ(error_of(many, {}, &message), ErrorCode::kLimitExceeded);
  EXPECT_NE(message.find("SAVE_GCODE_STATE"), std::string::npos) << message;
  for (int i = 0; i < 20; ++i) long_names += "SAVE_GCODE_STATE NAME=" + std::string(60000, static_cast<char>('a' + i)) + "\n";
  EXPECT_EQ(error_of(long_names, {}, &message), ErrorCode::kLimitExceeded);
  EXPECT_NO_THROW(parse("SAVE_GCODE_STATE NAME=a\nSAVE_GCODE_STATE NAME=A\nRESTORE_GCODE_STATE NAME=a\n" +
                        std::string("SAVE_GCODE_STATE NAME=") + std::string(60000, 'b') + "\n"));
}

TEST(GcodeReader, FeedAfterFinishIsAProgrammingError) {
  RecordingSink sink;
  Reader reader(sink);
  reader.feed("G1 X1\n");
  reader.finish();
  EXPECT_THROW(reader.feed("G1 X2\n"), std::logic_error);
  EXPECT_THROW(reader.finish(), std::logic_error);
  Reader failed(sink);
  EXPECT_THROW(failed.feed("G1 XNaN\n"), LoadError);
  EXPECT_THROW(failed.feed("G1 X2\n"), std::logic_error);
}

TEST(GcodeReader, LayersAreHandedOverAsTheyComplete) {
  // Memory stays at one layer: the sink has layer 0 before the input ends.
  RecordingSink sink;
  Reader reader(sink);
  reader.feed("M83\nG1 Z0.2\nG1 X1 E1\nG1 Z0.4\nG1 X2 E1\n");
  EXPECT_EQ(sink.layers.size(), 1u);
  reader.finish();
  EXPECT_EQ(sink.layers.size(), 2u);
}

// ---- real slicer output ------------------------------------------------------------------------------

class PrusaSlicerGcode : public ::testing::Test {
 protected:
  static constexpr const char* kSlicer = "/usr/bin/prusa-slicer";

  void SetUp() override {
    if (!std::filesystem::exists(kSlicer)) GTEST_SKIP() << "PrusaSlicer not installed";
  }

  // Slices `mesh` with extra options; returns the G-code text ("" on failure).
  std::string slice(const Mesh& mesh, const std::string& tag, const std::string& options) {
    const std::string stl = s3d::test::temp_path(tag + ".stl");
    const std::string out = s3d::test::temp_path(tag + ".gcode");
    write_stl_binary(mesh, stl);
    const std::string cmd = std::string(kSlicer) + " --export-gcode " + options + " -o '" + out + "' '" + stl +
                            "' > /dev/null 2>&1";
    const int rc = std::system(cmd.c_str());
    std::ifstream in(out, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::filesystem::remove(stl);
    std::filesystem::remove(out);
    EXPECT_EQ(rc, 0) << cmd;
    return ss.str();
  }

  static size_t count_lines_starting(const std::string& text, std::string_view prefix) {
    size_t n = 0;
    for (size_t pos = 0; pos < text.size();) {
      if (text.compare(pos, prefix.size(), prefix) == 0) ++n;
      const size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
    return n;
  }
};

TEST_F(PrusaSlicerGcode, LayerCountMatchesLayerChangeCommentsAndSurvivesStripping) {
  const Mesh tube = shapes::tube(12, 7, 6, 48);
  const std::string text = slice(tube, "tube", "--gcode-label-objects");
  ASSERT_FALSE(text.empty());
  const Parsed p = parse(text, 4096);
  EXPECT_EQ(p.layers.size(), count_lines_starting(text, ";LAYER_CHANGE"));
  EXPECT_GT(p.move_count(), 500u);
  // Layers climb by the slicer's heights and moves sit on their layer.
  for (size_t i = 0; i < p.layers.size(); ++i) {
    EXPECT_GT(p.layers[i].height, 0.f);
    if (i > 0) {
      EXPECT_GT(p.layers[i].z, p.layers[i - 1].z);
    }
    for (const auto& m : p.layers[i].moves) {
      EXPECT_FLOAT_EQ(m.z, p.layers[i].z);
      EXPECT_GT(m.width, 0.f);
    }
  }
  EXPECT_NEAR(p.layers.back().z, 6.f, 0.31f);
  ASSERT_EQ(p.objects.size(), 1u);  // "; printing object tube.stl id:0 copy 0"
  size_t labelled = 0;
  for (const auto& m : p.all_moves()) labelled += m.object == 0;
  EXPECT_GT(labelled, p.move_count() / 2);

  const Parsed stripped = parse(strip_comments(text), 65536);
  EXPECT_FALSE(stripped.stats.saw_comments);
  expect_same_moves(p, stripped, false);
}

// PrusaSlicer 2.5 does not always order paths the same way from one run to the next (eight runs on
// one part gave seven different files; the moves were the same, some in another order or direction),
// so moves from separate slicer runs are compared as a set: each segment's ends in one order, each
// layer's segments sorted.
Parsed in_canonical_order(Parsed p) {
  for (Layer& l : p.layers) {
    for (ExtrusionMove& m : l.moves)
      if (std::tie(m.x1, m.y1) < std::tie(m.x0, m.y0)) {
        std::swap(m.x0, m.x1);
        std::swap(m.y0, m.y1);
      }
    std::sort(l.moves.begin(), l.moves.end(), [](const ExtrusionMove& a, const ExtrusionMove& b) {
      return std::tie(a.x0, a.y0, a.x1, a.y1, a.e) < std::tie(b.x0, b.y0, b.x1, b.y1, b.e);
    });
  }
  return p;
}

TEST_F(PrusaSlicerGcode, RelativeEAndFirmwareRetractionGiveTheSameMoves) {
  const Mesh box = shapes::box(15, 10, 3);
  const Parsed base = in_canonical_order(parse(slice(box, "base", "")));
  const Parsed rel = in_canonical_order(parse(slice(box, "rel", "--use-relative-e-distances")));
  const Parsed fw = in_canonical_order(parse(slice(box, "fw", "--use-firmware-retraction --gcode-flavor marlin2")));
  ASSERT_GT(base.move_count(), 100u);
  expect_same_moves(base, rel, true, 2e-4);
  expect_same_moves(base, fw, true, 2e-4);
}

}  // namespace
}  // namespace s3d::gcode
