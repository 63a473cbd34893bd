// Local features (FPFH clouds, feature RANSAC, point-to-plane ICP) and the matcher's split-part
// stage built on them: a generated part cut into pieces, each turned anyhow and laid out side by
// side, is still found; a benign part of the same volume cut the same way is not.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "engine/matcher.h"
#include "geometry/local_features.h"
#include "geometry/mesh_facts.h"
#include "geometry/registration.h"
#include "geometry/sample_surface.h"
#include "geometry/shapes.h"
#include "geometry/variants.h"
#include "signatures/build_signature.h"
#include "tests/support/test_helpers.h"

namespace s3d {
namespace {

namespace sh = shapes;
namespace va = variants;

Mesh bracket() {
  sh::LBracketParams p;
  p.length = 70;
  p.height = 45;
  return sh::l_bracket(p);
}

Similarity from_matrix(const std::array<double, 16>& a) {
  Similarity s;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) s.m[i * 3 + j] = a[i * 4 + j];
    s.t[i] = a[i * 4 + 3];
  }
  return s;
}

Mesh moved(Mesh m, const Similarity& xf) {
  sh::transform(m, {xf.m[0], xf.m[1], xf.m[2], xf.t[0], xf.m[3], xf.m[4], xf.m[5], xf.t[1], xf.m[6], xf.m[7], xf.m[8],
                    xf.t[2], 0, 0, 0, 1});
  return m;
}

// Largest distance between where two transforms put the same points.
double max_gap(const Similarity& a, const Similarity& b, const std::vector<Vec3f>& pts) {
  double worst = 0;
  for (const Vec3f& p : pts) {
    const Vec3f x = a.apply(p), y = b.apply(p);
    worst = std::max(worst, std::hypot(double(x[0]) - y[0], double(x[1]) - y[1], double(x[2]) - y[2]));
  }
  return worst;
}

FeatureCloud cloud_of(const Mesh& m, uint64_t seed) {
  const SurfaceSample s = sample_surface(m, 6000, seed);
  return make_feature_cloud(s.points, s.normals, 2.0f, 6.0f, 1500);
}

// One object of a mesh as a mesh of its own.
Mesh object_of(const Mesh& m, size_t k) {
  const size_t first = m.object_starts.empty() ? 0 : m.object_starts[k];
  const size_t last = k + 1 < m.object_starts.size() ? m.object_starts[k + 1] : m.triangles.size();
  return sub_mesh(m, first, last);
}

// Every piece turned by its own random rotation, then the pieces laid in a row 5 mm apart.
Mesh turn_pieces(const Mesh& split, uint64_t seed) {
  Mesh out;
  float cursor = 0;
  for (size_t k = 0; k < split.object_count(); ++k) {
    Mesh piece = va::random_rigid(object_of(split, k), va::derive_seed(seed, k), 0.0);
    std::array<float, 3> lo{1e30f, 1e30f, 1e30f}, hi{-1e30f, -1e30f, -1e30f};
    for (const Vec3f& v : piece.vertices)
      for (int i = 0; i < 3; ++i) lo[i] = std::min(lo[i], v[i]), hi[i] = std::max(hi[i], v[i]);
    for (Vec3f& v : piece.vertices) {
      v[0] += cursor - lo[0];
      v[1] -= 0.5f * (lo[1] + hi[1]);
      v[2] -= lo[2];
    }
    cursor += hi[0] - lo[0] + 5;
    append_object(out, piece);
  }
  return out;
}

TEST(LocalFeatures, MirroredFeatureOfMirroredFeatureIsTheFeature) {
  const FeatureCloud c = cloud_of(bracket(), 1);
  ASSERT_GT(c.features.size(), 100u);
  size_t changed = 0;
  for (const Fpfh& f : c.features) {
    EXPECT_EQ(mirror_feature(mirror_feature(f)), f);
    changed += mirror_feature(f) != f;
  }
  // Only a neighbourhood whose alpha histogram happens to be symmetric (a flat face) is its own mirror.
  EXPECT_GT(changed, c.features.size() / 2);
}

TEST(LocalFeatures, BadInputGivesNothing) {
  const std::vector<Vec3f> pts{{0, 0, 0}, {1, 0, 0}, {0, 1, 0}}, one_normal{{0, 0, 1}};
  EXPECT_TRUE(make_feature_cloud(pts, one_normal, 1, 3).points.empty());
  EXPECT_TRUE(make_feature_cloud({}, {}, 1, 3).points.empty());
  EXPECT_TRUE(make_feature_cloud(pts, pts, 0, 3).points.empty());
  const FeatureCloud empty, c = cloud_of(bracket(), 1);
  EXPECT_TRUE(feature_register(empty, c, {}, 4).empty());
  EXPECT_TRUE(feature_register(c, empty, {}, 4).empty());
  EXPECT_TRUE(feature_register(c, c, {}, 0).empty());
  const PointIndex index(c.points);
  const Similarity start;
  EXPECT_EQ(icp_point_to_plane(c.points, one_normal, index, c.normals, start, 5, 1.0).inlier_fraction, 0.0);
  EXPECT_EQ(icp_point_to_plane(c.points, c.normals, index, c.normals, start, 5, 0.0).inlier_fraction, 0.0);
}

// A differently sampled, moved copy is registered back: some returned hypothesis is the true
// placement, within a few voxels, with the asked handedness.
TEST(LocalFeatures, FeatureRegistrationFindsAMovedCopy) {
  const Mesh part = bracket();
  const FeatureCloud target = cloud_of(part, 1);
  for (bool mirrored : {false, true}) {
    Similarity pose = from_matrix(va::random_rigid_matrix(part, 7, 80.0));
    if (mirrored)
      for (int i = 0; i < 3; ++i) pose.m[i * 3] = -pose.m[i * 3];  // reflect x first
    const FeatureCloud source = cloud_of(moved(part, pose), 2);
    FeatureMatchOptions opt;
    opt.mirrored = mirrored;
    opt.inlier_dist = 1.5f * target.voxel;
    const std::vector<FeatureMatch> hyps = feature_register(source, target, opt, 8);
    ASSERT_FALSE(hyps.empty());
    const Similarity truth = pose.inverse();
    double best = 1e30;
    for (const FeatureMatch& h : hyps) {
      EXPECT_EQ(h.xf.mirrored(), mirrored);
      best = std::min(best, max_gap(h.xf, truth, source.points));
    }
    EXPECT_LT(best, 3.0 * target.voxel) << "mirrored " << mirrored;
  }
}

// From a start a few degrees and a millimetre off, point-to-plane ICP lands on the true placement
// to a small fraction of the sample spacing, keeping the handedness of the start.
TEST(LocalFeatures, PointToPlaneIcpSettlesPrecisely) {
  const Mesh part = bracket();
  const SurfaceSample target = sample_surface(part, 20000, 1);
  const SurfaceSample source = sample_surface(part, 3000, 2);
  const PointIndex index(target.points);
  const Similarity truth;
  Similarity start;
  const double a = 3.0 * M_PI / 180.0;
  start.m = {std::cos(a), -std::sin(a), 0, std::sin(a), std::cos(a), 0, 0, 0, 1};
  start.t = {0.8, -0.5, 0.6};
  EXPECT_GT(max_gap(start, truth, source.points), 2.0);
  const PlaneIcpResult r = icp_point_to_plane(source.points, source.normals, index, target.normals, start, 30, 4.0);
  EXPECT_LT(max_gap(r.xf, truth, source.points), 0.1);
  EXPECT_FALSE(r.xf.mirrored());
  EXPECT_GT(r.inlier_fraction, 0.9);
  EXPECT_NEAR(r.xf.scale(), 1.0, 1e-6);
  // A mirrored start stays mirrored (the fit is rigid, the handedness is the caller's).
  Similarity flipped = start;
  for (int i = 0; i < 3; ++i) flipped.m[i * 3 + 2] = -flipped.m[i * 3 + 2];
  EXPECT_TRUE(icp_point_to_plane(source.points, source.normals, index, target.normals, flipped, 10, 4.0).xf.mirrored());
}

class SplitParts : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Signature s = build_signature(bracket());
    s.meta.id = s.meta.label = "bracket";
    MatchSettings settings;
    settings.use_hashes = false;
    matcher_ = new Matcher({s}, settings);
  }
  static void TearDownTestSuite() { delete matcher_; }
  static Matcher* matcher_;
};
Matcher* SplitParts::matcher_ = nullptr;

TEST_F(SplitParts, PiecesTurnedAnyhowAreFound) {
  for (int planes : {1, 2}) {
    for (uint64_t seed : {3u, 4u}) {
      const Mesh pieces = turn_pieces(va::split_by_planes(bracket(), planes, seed, 10.0), seed);
      ASSERT_GE(pieces.object_count(), static_cast<size_t>(planes + 1));
      const MatchOutcome o = matcher_->match(pieces);
      ASSERT_EQ(o.verdict, Verdict::kRestricted) << planes << " planes, seed " << seed << ", score " << o.best_score;
      EXPECT_EQ(o.matches[0].label, "bracket");
      EXPECT_GE(o.matches[0].bodies.size(), 2u);
    }
  }
}

// A benign part scaled to the bracket's volume, so that the piece stage does run on it (its gate
// is the volume a split keeps), cut and turned the same way.
TEST_F(SplitParts, BenignPartOfTheSameVolumeIsNotFound) {
  const double target = test::signed_volume(bracket());
  for (const Mesh& shape : {sh::knob(), sh::plate_with_holes(60, 40, 8, 6, 3, 2), sh::hex_nut(30, 15, 12)}) {
    const double s = std::cbrt(target / test::signed_volume(shape));
    const Mesh benign = moved(shape, from_matrix({s, 0, 0, 0, 0, s, 0, 0, 0, 0, s, 0, 0, 0, 0, 1}));
    for (int planes : {1, 2}) {
      const Mesh pieces = turn_pieces(va::split_by_planes(benign, planes, 5, 10.0), 5);
      const MatchOutcome o = matcher_->match(pieces);
      EXPECT_NE(o.verdict, Verdict::kRestricted) << planes << " planes, score " << o.best_score;
      EXPECT_LT(o.best_score, 0.65);
    }
  }
}

// A comb: a bar with `fingers` fingers of falling length, so that a plane across the fingers cuts
// it into many pieces.
Mesh comb(int fingers, double width, double length, double fall) {
  sh::Profile2 p;
  const double pitch = 58.0 / fingers;
  p.outer = {{0, 0}, {60, 0}, {60, 8}};
  for (int i = fingers - 1; i >= 0; --i) {
    const double x0 = 2 + pitch * i, x1 = x0 + width;
    p.outer.insert(p.outer.end(), {{x1, 8}, {x1, 8 + length - fall * i}, {x0, 8 + length - fall * i}, {x0, 8}});
  }
  p.outer.push_back({0, 8});
  return sh::extrude(p, 6);
}

// A matcher holding `part` alone that asks the descriptor for no candidates (and no hashes): only the
// split rules (joint volume, joint area) can bring the reference in.
Matcher no_descriptor_matcher(const Mesh& part, const std::string& label) {
  Signature s = build_signature(part);
  s.meta.id = s.meta.label = label;
  MatchSettings settings;
  settings.use_hashes = false;
  settings.candidates_per_unit = 0;
  return Matcher({s}, settings);
}

// More than twelve pieces (a part cut by several planes, or a two-shell part cut by two) are still
// candidates by their joint volume, whatever the descriptor ranks (here it ranks nothing: the test
// asks for no descriptor candidates at all). The evaluation's two-shell chain link cut by two planes
// made 14 pieces and was clean (0.54) while that rule stopped at 12 bodies. A benign rake of the
// same volume cut the same way is not found (it is a look-alike comb:
// review, 0.72 at most).
TEST(SplitManyPieces, PiecesMovedApartAreCandidatesByVolume) {
  const Mesh part = comb(8, 4, 25, 2);
  const Matcher m = no_descriptor_matcher(part, "comb");
  const Mesh rake = comb(11, 2.5, 22, 0);
  const double k = std::cbrt(test::signed_volume(part) / test::signed_volume(rake));
  const Mesh benign = moved(rake, from_matrix({k, 0, 0, 0, 0, k, 0, 0, 0, 0, k, 0, 0, 0, 0, 1}));
  for (uint64_t seed : {3u, 5u, 11u}) {  // 18, 25 and 14 pieces (the rake: 24, 34 and 21)
    const Mesh pieces = va::split_by_planes(part, 2, seed, 4.0);
    ASSERT_GT(pieces.object_count(), 12u);
    const MatchOutcome o = m.match(pieces);
    EXPECT_EQ(o.verdict, Verdict::kRestricted) << "seed " << seed << ", score " << o.best_score;
    const Mesh benign_pieces = va::split_by_planes(benign, 2, seed, 4.0);
    ASSERT_GT(benign_pieces.object_count(), 12u);
    const MatchOutcome b = m.match(benign_pieces);
    EXPECT_NE(b.verdict, Verdict::kRestricted) << "seed " << seed << ", score " << b.best_score;
    EXPECT_LT(b.best_score, 0.8);
  }
}

// The triangles of `m` on either side of the plane x = cut (by centroid) as two open pieces, the far
// one moved `gap` mm along x: a cut that leaves the pieces open (no cut faces), as a tool that does
// not cap leaves them, or as a cut of an open reference mesh.
Mesh split_open(Mesh m, double cut, double gap) {
  const auto far_side = std::stable_partition(m.triangles.begin(), m.triangles.end(), [&](const Tri& t) {
    return (double(m.vertices[t[0]][0]) + m.vertices[t[1]][0] + m.vertices[t[2]][0]) / 3 < cut;
  });
  const size_t k = static_cast<size_t>(far_side - m.triangles.begin());
  Mesh far = sub_mesh(m, k, m.triangles.size());
  for (Vec3f& v : far.vertices) v[0] += static_cast<float>(gap);
  Mesh out;
  append_object(out, sub_mesh(m, 0, k));
  append_object(out, far);
  return out;
}

// Pieces cut apart but left open keep the part's surface area, not a volume (an open piece's signed
// volume depends on where it lies): they are candidates by area, whatever the descriptor ranks (the
// test asks for no descriptor candidates). The evaluation's wades gear cut into 3 open pieces was
// clean (0.24) while only the volume brought pieces in. A benign rake of the same area cut the same
// way is not found.
TEST(SplitManyPieces, OpenPiecesAreCandidatesByArea) {
  const Mesh part = comb(8, 4, 25, 2);
  const Matcher m = no_descriptor_matcher(part, "comb");
  const Mesh rake = comb(11, 2.5, 22, 0);
  const double k = std::sqrt(compute_facts(part).area_mm2 / compute_facts(rake).area_mm2);
  const Mesh benign = moved(rake, from_matrix({k, 0, 0, 0, 0, k, 0, 0, 0, 0, k, 0, 0, 0, 0, 1}));
  const Similarity away = from_matrix({1, 0, 0, 1500, 0, 1, 0, 40, 0, 0, 1, 5, 0, 0, 0, 1});
  for (const double cut : {15.0, 31.0, 47.0}) {
    const Mesh pieces = moved(split_open(part, cut, 6.0), away);
    ASSERT_EQ(pieces.object_count(), 2u);
    // The volume rule cannot bring the reference in: the open pieces' volumes (|signed volume| per
    // piece, as the matcher sums them) are far from the part's. (An open piece's signed volume moves
    // with its distance from the origin along its hole's normal; 1.5 m out, one piece's turns over.)
    double joint = 0;
    for (size_t o = 0; o < 2; ++o)
      joint += std::fabs(test::signed_volume(sub_mesh(pieces, pieces.object_starts[o],
                                                      o + 1 < 2 ? pieces.object_starts[o + 1] : pieces.triangles.size())));
    EXPECT_GT(std::fabs(std::log(joint / test::signed_volume(part))), std::log(1.08)) << joint;
    const MatchOutcome o = m.match(pieces);
    EXPECT_EQ(o.verdict, Verdict::kRestricted) << "cut at " << cut << ", score " << o.best_score;
    const MatchOutcome b = m.match(moved(split_open(benign, cut * k, 6.0), away));
    EXPECT_NE(b.verdict, Verdict::kRestricted) << "cut at " << cut << ", score " << b.best_score;
    EXPECT_LT(b.best_score, 0.8);
  }
}

}  // namespace
}  // namespace s3d
