// Invariance and specificity of the matcher on generated benign shapes.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "engine/matcher.h"
#include "geometry/sample_surface.h"
#include "geometry/shapes.h"
#include "geometry/variants.h"
#include "signatures/build_signature.h"

namespace s3d {
namespace {
using namespace shapes;

std::array<double, 16> rot_xyz(double ax, double ay, double az, double tx, double ty, double tz, double s = 1,
                               bool mirror = false) {
  const double cx = std::cos(ax), sx = std::sin(ax), cy = std::cos(ay), sy = std::sin(ay), cz = std::cos(az),
               sz = std::sin(az);
  // R = Rz * Ry * Rx
  double r[9] = {cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx,
                 sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx,
                 -sy,     cy * sx,                cy * cx};
  const double m = mirror ? -1 : 1;
  return {s * r[0] * m, s * r[1], s * r[2], tx, s * r[3] * m, s * r[4], s * r[5], ty,
          s * r[6] * m, s * r[7], s * r[8], tz, 0, 0, 0, 1};
}

Mesh moved_copy(Mesh m, const std::array<double, 16>& xf) {
  transform(m, xf);
  return m;
}

Signature sig_of(const Mesh& m, const char* label) {
  Signature s = build_signature(m);
  s.meta.id = label;
  s.meta.label = label;
  return s;
}

class MatcherTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    LBracketParams bp;
    bp.length = 70;
    bp.height = 45;
    // A chiral part (no mirror symmetry): a bracket with a lug on one side.
    Mesh lug = box(10, 8, 6);
    transform(lug, {1, 0, 0, 45, 0, 1, 0, 4, 0, 0, 1, 5, 0, 0, 0, 1});
    bracket_ = new Mesh(merge({l_bracket(bp), lug}));
    gear_ = new Mesh(spur_gear(23, 2.0, 8, 8));
    std::vector<Signature> sigs{sig_of(*bracket_, "bracket"), sig_of(*gear_, "gear")};
    MatchSettings shape_only;  // hashes would catch exact re-posed copies before the shape matcher
    shape_only.use_hashes = false;
    matcher_ = new Matcher(sigs, shape_only);
    hashing_ = new Matcher(std::move(sigs), MatchSettings{});
  }
  static void TearDownTestSuite() {
    delete matcher_;
    delete hashing_;
    delete bracket_;
    delete gear_;
  }
  static Mesh moved(const Mesh& m, const std::array<double, 16>& xf) {
    Mesh c = m;
    transform(c, xf);
    return c;
  }
  static Mesh* bracket_;
  static Mesh* gear_;
  static Matcher* matcher_;
  static Matcher* hashing_;
};
Matcher* MatcherTest::hashing_ = nullptr;
Mesh* MatcherTest::bracket_ = nullptr;
Mesh* MatcherTest::gear_ = nullptr;
Matcher* MatcherTest::matcher_ = nullptr;

TEST_F(MatcherTest, IdenticalIsRestricted) {
  const MatchOutcome o = matcher_->match(*bracket_);
  ASSERT_EQ(o.verdict, Verdict::kRestricted);
  EXPECT_EQ(o.matches[0].label, "bracket");
  EXPECT_GT(o.matches[0].coverage, 0.95);
}

TEST_F(MatcherTest, ExactAndReposedCopiesHitByHash) {
  MatchOutcome o = hashing_->match(*gear_);
  ASSERT_EQ(o.verdict, Verdict::kRestricted);
  EXPECT_EQ(o.matches[0].method, "geometry-hash");
  o = hashing_->match(moved(*gear_, rot_xyz(0.3, 0.4, 1.0, 7, 8, 9, 1, true)));
  ASSERT_EQ(o.verdict, Verdict::kRestricted);
  EXPECT_EQ(o.matches[0].method, "pose-hash");
  EXPECT_EQ(hashing_->match(tube(20, 16, 60)).verdict, Verdict::kClean);
}

TEST_F(MatcherTest, RotationTranslationInvariant) {
  const MatchOutcome o = matcher_->match(moved(*bracket_, rot_xyz(0.7, -1.2, 2.3, 40, -25, 90)));
  ASSERT_EQ(o.verdict, Verdict::kRestricted);
  EXPECT_EQ(o.matches[0].label, "bracket");
  EXPECT_FALSE(o.matches[0].mirrored);
}

TEST_F(MatcherTest, MirrorIsDetectedAndReported) {
  const MatchOutcome o = matcher_->match(moved(*gear_, rot_xyz(0.3, 0.4, 1.0, 0, 0, 0, 1, true)));
  ASSERT_EQ(o.verdict, Verdict::kRestricted);
  EXPECT_EQ(o.matches[0].label, "gear");
  const MatchOutcome b = matcher_->match(moved(*bracket_, rot_xyz(1.3, 0.2, -0.4, 5, 5, 5, 1, true)));
  ASSERT_EQ(b.verdict, Verdict::kRestricted);
  EXPECT_TRUE(b.matches[0].mirrored);
}

TEST_F(MatcherTest, SmallScaleIsDetectedWithItsScale) {
  const MatchOutcome o = matcher_->match(moved(*bracket_, rot_xyz(0.1, 0.2, 0.3, 0, 0, 0, 1.08)));
  ASSERT_EQ(o.verdict, Verdict::kRestricted);
  EXPECT_NEAR(o.matches[0].scale, 1.08, 0.02);
}

TEST_F(MatcherTest, LargeScaleIsNotRestricted) {
  // Size is evidence: a part at half size is not the restricted part, only a rescaled copy (review).
  const MatchOutcome o = matcher_->match(moved(*bracket_, rot_xyz(0.1, 0.2, 0.3, 0, 0, 0, 0.5)));
  EXPECT_NE(o.verdict, Verdict::kRestricted);
}

TEST_F(MatcherTest, OutsideTheScaleRangeOnlyAStrongMatchIsReview) {
  // The bracket at 1.08 scores about 0.97. With the restricted threshold raised above that, it is a
  // weaker match: review inside the accepted scale range, clean outside it; a strong one outside
  // it is review.
  const Mesh big = moved(*bracket_, rot_xyz(0.1, 0.2, 0.3, 0, 0, 0, 1.08));
  std::vector<Signature> sigs{sig_of(*bracket_, "bracket")};
  MatchSettings s;
  s.use_hashes = false;
  s.restricted_threshold = 0.995;
  const MatchOutcome in_range = Matcher(sigs, s).match(big);
  ASSERT_FALSE(in_range.matches.empty());
  ASSERT_LT(in_range.matches[0].score, 0.995);
  ASSERT_GE(in_range.matches[0].score, 0.9);
  EXPECT_EQ(in_range.verdict, Verdict::kReview);
  s.max_scale = 1.04;
  EXPECT_EQ(Matcher(sigs, s).match(big).verdict, Verdict::kClean);
  s.restricted_threshold = 0.8;
  const MatchOutcome strong = Matcher(sigs, s).match(big);
  EXPECT_EQ(strong.verdict, Verdict::kReview);
  ASSERT_FALSE(strong.matches.empty());
  EXPECT_NEAR(strong.matches[0].scale, 1.08, 0.02);
}

TEST_F(MatcherTest, SimilarBenignShapesAreClean) {
  EXPECT_EQ(matcher_->match(tube(20, 16, 60)).verdict, Verdict::kClean);
  EXPECT_EQ(matcher_->match(plate_with_holes(70, 30, 5, 6, 2, 1)).verdict, Verdict::kClean);
  EXPECT_EQ(matcher_->match(spur_gear(30, 2.0, 8, 8)).verdict, Verdict::kClean);
  EXPECT_EQ(matcher_->match(box(70, 30, 45)).verdict, Verdict::kClean);
}

// A block united with one face changes the unit's principal frame: the matcher has to find the
// part by its local features (register_features) and must not lose it to the block.
TEST_F(MatcherTest, PartWithABlockOnOneFaceIsRestricted) {
  int restricted = 0;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    const variants::BooleanVariant v = variants::embed_in_block(*bracket_, seed);
    const MatchOutcome o = matcher_->match(moved(v.mesh, rot_xyz(0.3 * seed, -0.5, 1.1 * seed, 7, -20, 4)));
    restricted += o.verdict == Verdict::kRestricted && !o.matches.empty() && o.matches[0].label == "bracket";
  }
  EXPECT_EQ(restricted, 4);
}

// A near-cubic part (three nearly equal variances) remeshed: its principal axes turn arbitrarily
// with the tessellation, so frame-based alignment alone can miss it; local features must find it.
TEST(MatcherFeatures, NearCubicPartRemeshedAndTurned) {
  // A 30 mm cube with a different small lug on each face (no symmetry).
  std::vector<Mesh> pieces{box(30, 30, 30)};
  const double lugs[6][6] = {{0, 0, 1, 6, -8, 30}, {0, 0, -1, -7, 5, 0}, {1, 0, 0, 15, 4, 20},
                             {-1, 0, 0, -15, -9, 8}, {0, 1, 0, 8, 15, 11}, {0, -1, 0, -5, -15, 22}};
  for (int f = 0; f < 6; ++f) {
    Mesh lug = box(4 + f, 9 - f, 4);
    const double* d = lugs[f];
    // Rotate the lug's +z onto the face normal d[0..2], then move it onto the face at d[3..5].
    std::array<double, 16> xf{};
    if (d[2] != 0) xf = {1, 0, 0, d[3], 0, 1, 0, d[4], 0, 0, d[2], d[5], 0, 0, 0, 1};
    else if (d[0] != 0) xf = {0, 0, d[0], d[3], 0, 1, 0, d[4], -d[0], 0, 0, d[5], 0, 0, 0, 1};
    else xf = {1, 0, 0, d[3], 0, 0, d[1], d[4], 0, -d[1], 0, d[5], 0, 0, 0, 1};
    transform(lug, xf);
    pieces.push_back(lug);
  }
  const Mesh part = merge(pieces);
  MatchSettings shape_only;
  shape_only.use_hashes = false;
  const Matcher m({sig_of(part, "cube-part")}, shape_only);
  int restricted = 0;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    Mesh q = variants::remesh_random(part, seed);
    transform(q, rot_xyz(0.7 + seed, 1.9 * seed, 0.4 - seed, 50, 10.0 * seed, -3));
    const MatchOutcome o = m.match(q);
    restricted += o.verdict == Verdict::kRestricted;
    if (o.verdict != Verdict::kRestricted) ADD_FAILURE() << "seed " << seed << " score " << o.best_score;
  }
  EXPECT_EQ(restricted, 4);
}

// Pose invariance of a long thin strip with small studs on one face only, retessellated: on a part
// this thin the tolerance is a fair share of the thickness, so the strip turned upside down nearly
// fits. (The corpus case that made the matcher compare its kept alignments by the full score, a
// nut-adapter strip at evaluation seed 3, is not reproduced by this shape: it passes either way.)
TEST(MatcherFeatures, ThinStripWithStudsOnOneFaceInAnyPose) {
  std::vector<Mesh> pieces{box(140, 5.5, 2.4)};
  for (int k = 0; k < 9; ++k) {
    Mesh stud = box(2, 2, 0.6);
    transform(stud, {1, 0, 0, -60.0 + 14.0 * k + (k == 8 ? 3.0 : 0.0), 0, 1, 0, k % 2 ? 1.0 : -1.0, 0, 0, 1, 2.4, 0, 0, 0, 1});
    pieces.push_back(stud);
  }
  const Mesh strip = merge(pieces);
  MatchSettings shape_only;
  shape_only.use_hashes = false;
  const Matcher m({sig_of(strip, "strip")}, shape_only);
  const Mesh fine = variants::subdivide_midpoint(strip, 1);
  int restricted = 0;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    const MatchOutcome o = m.match(variants::random_rigid(fine, seed));
    restricted += o.verdict == Verdict::kRestricted;
    if (o.verdict != Verdict::kRestricted) ADD_FAILURE() << "seed " << seed << " score " << o.best_score;
  }
  EXPECT_EQ(restricted, 8);
}

// A part made of two shells of about equal size whose boxes overlap (two bars crossing, like the
// two halves of a chain link), set on a plate within the clustering gap of two large models: its
// cluster holds all four bodies, and neither shell alone covers the part. The two shells must be
// seen as a unit of their own.
TEST(MatcherPlate, TwoShellPartCloseToOtherModelsIsFound) {
  const Mesh cross = merge({box(60, 12, 10), moved_copy(box(14, 44, 14), rot_xyz(0, 0, 0, 12, 6, 0))});
  MatchSettings ms;
  ms.use_hashes = false;
  const Matcher matcher({sig_of(cross, "cross")}, ms);
  const Mesh part = moved_copy(cross, rot_xyz(0, 0, 0.4, 0, 0, 0));
  float lo[3] = {1e9f, 1e9f, 1e9f}, hi[3] = {-1e9f, -1e9f, -1e9f};
  for (const Vec3f& v : part.vertices)
    for (int k = 0; k < 3; ++k) lo[k] = std::min(lo[k], v[k]), hi[k] = std::max(hi[k], v[k]);
  // Two 120 x 120 x 30 blocks, 4 mm from the part's box in +x and in +y.
  const Mesh plate = merge({part, moved_copy(box(120, 120, 30), rot_xyz(0, 0, 0, hi[0] + 4 + 60, 0, lo[2])),
                            moved_copy(box(120, 120, 30), rot_xyz(0, 0, 0, 0, hi[1] + 4 + 60, lo[2]))});
  const MatchOutcome o = matcher.match(plate);
  ASSERT_EQ(o.verdict, Verdict::kRestricted) << "score " << o.best_score;
  EXPECT_EQ(o.matches[0].label, "cross");
}

TEST_F(MatcherTest, PartOnPlateWithOthers) {
  Mesh plate = merge({moved(*gear_, rot_xyz(0, 0, 0.5, 0, 0, 0)), moved(tube(15, 10, 30), rot_xyz(0, 0, 0, 100, 0, 0)),
                      moved(knob(), rot_xyz(0, 0, 0, 0, 100, 0))});
  const MatchOutcome o = matcher_->match(plate);
  ASSERT_EQ(o.verdict, Verdict::kRestricted);
  EXPECT_EQ(o.matches[0].label, "gear");
}

}  // namespace
}  // namespace s3d

namespace s3d {
namespace {
// Hostile geometry: thousands of tiny separate bodies must not make matching quadratic or slow.
TEST(MatcherRobustness, ManyTinyBodiesStayFast) {
  std::vector<Mesh> cubes;
  for (int i = 0; i < 3000; ++i) {
    Mesh c = shapes::box(0.5, 0.5, 0.5);
    shapes::transform(c, {1, 0, 0, double(i % 60), 0, 1, 0, double(i / 60), 0, 0, 1, 0, 0, 0, 0, 1});
    cubes.push_back(std::move(c));
  }
  const Mesh field = shapes::merge(cubes);
  MatchSettings ms;
  ms.use_hashes = false;
  const Matcher m({build_signature(shapes::spur_gear(23, 2.0, 8, 8))}, ms);
  const auto t0 = std::chrono::steady_clock::now();
  const MatchOutcome o = m.match(field);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(o.bodies, 3000u);
  EXPECT_NE(o.verdict, Verdict::kRestricted);
  EXPECT_LT(s, 20.0);  // generous for sanitizer builds; a quadratic blow-up takes far longer
}

// A near-cubic part sampled unevenly by facing direction, as a G-code reconstruction samples skins
// and walls: the principal axes of the reference and of the file then point anywhere, no turn of one
// frame onto the other fits, and the frame alignment fails outright (6 of 24 poses scored about 0.15
// before local features were tried at any coverage for near-cubic references).
TEST(MatcherFeatures, NearCubicPartSampledUnevenlyInAnyPose) {
  // A 20 mm cube with three shallow marks, like a calibration cube's letters.
  std::vector<Mesh> pieces{box(20, 20, 20)};
  Mesh a = box(8, 2, 0.6); transform(a, {1,0,0,1, 0,1,0,3, 0,0,1,20, 0,0,0,1}); pieces.push_back(a);
  Mesh b = box(2, 9, 0.6); transform(b, {0,0,1,10, 0,1,0,-2, -1,0,0,12, 0,0,0,1}); pieces.push_back(b);
  Mesh c = box(6, 6, 0.6); transform(c, {1,0,0,-3, 0,0,-1,-10, 0,1,0,9, 0,0,0,1}); pieces.push_back(c);
  const Mesh part = merge(pieces);
  MatchSettings shape_only;
  shape_only.use_hashes = false;
  const Matcher m({sig_of(part, "cube")}, shape_only);
  int restricted = 0;
  for (uint64_t seed = 1; seed <= 24; ++seed) {
    Mesh q = part;
    transform(q, rot_xyz(0.37 * seed, 1.3 * seed, 0.9 - 0.5 * seed, 50, 10.0 * seed, -3));
    SurfaceSample full = sample_surface(q, 30000, seed);
    // Uneven density by facing direction, as a G-code reconstruction samples skins and walls.
    SampledInput in;
    uint64_t h = seed * 0x9E3779B97F4A7C15ull;
    double keep[6];
    for (double& k : keep) { h ^= h >> 29; h *= 0xBF58476D1CE4E5B9ull; k = 0.4 + 0.6 * double(h >> 11) / double(1ull << 53); }
    for (size_t i = 0; i < full.points.size(); ++i) {
      const Vec3f& n = full.normals[i];
      int ax = 0;
      for (int k = 1; k < 3; ++k) if (std::fabs(n[k]) > std::fabs(n[ax])) ax = k;
      const int face = 2 * ax + (n[ax] > 0);
      h ^= h >> 29; h *= 0xBF58476D1CE4E5B9ull;
      if (double(h >> 11) / double(1ull << 53) > keep[face]) continue;
      in.sample.points.push_back(full.points[i]);
      in.sample.normals.push_back(n);
      in.sample.body.push_back(0);
    }
    in.bodies = 1;
    in.body_area = {2400};
    const MatchOutcome o = m.match_sample(in);
    restricted += o.verdict == Verdict::kRestricted;
    if (o.verdict != Verdict::kRestricted) ADD_FAILURE() << "seed " << seed << " score " << o.best_score;
  }
  EXPECT_EQ(restricted, 24);
}

// A 3 mm boss on a compact 12 mm part sticks out far enough to turn the part's principal axes, so
// every frame-based start can miss it (the evaluation's edit class at seed 1: a 12 mm idler cam lock
// with a boss scored 0.13, clean). The descriptor still ranks the part first, and local features
// tried from that rank find it. Of these eight positions the seventh was missed (0.11) before.
TEST(MatcherFeatures, CompactPartWithABossIsRestricted) {
  LBracketParams bp;
  bp.length = 14;
  bp.width = 11;
  bp.height = 12;
  bp.thickness = 3.5;
  bp.hole_diameter = 3;
  bp.holes_per_leg = 1;
  const Mesh part = l_bracket(bp);
  MatchSettings s;
  s.use_hashes = false;
  const Matcher m({sig_of(part, "compact")}, s);
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    const variants::BooleanVariant v = variants::add_boss(part, seed);
    const MatchOutcome o = m.match(moved_copy(v.mesh, rot_xyz(0.4 * seed, -0.7, 0.9 * seed, 3, 8, -2)));
    EXPECT_EQ(o.verdict, Verdict::kRestricted) << "boss position " << seed << ", score " << o.best_score;
  }
}

}  // namespace
}  // namespace s3d
