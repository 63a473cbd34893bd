// engine/reference_checks.h: the warnings `screen3d sig add` gives for a reference that plain solids
// of its size would match, and for one that resembles an entry already in the database.
#include <gtest/gtest.h>

#include "engine/matcher.h"
#include "engine/reference_checks.h"
#include "geometry/shapes.h"
#include "geometry/variants.h"
#include "signatures/build_signature.h"

namespace {

using namespace s3d;
using namespace s3d::shapes;

Mesh moved(Mesh m, double tx, double ty, double tz) {
  transform(m, {1, 0, 0, tx, 0, 1, 0, ty, 0, 0, 1, tz, 0, 0, 0, 1});
  return m;
}

// A 30 mm block with a small lug on top: mostly a box.
Mesh block_with_lug() { return merge({box(40, 30, 20), moved(box(4, 3, 2), 5, 4, 20)}); }

Mesh chiral_bracket() {
  LBracketParams bp;
  return merge({l_bracket(bp), moved(box(10, 8, 6), 45, 4, 5)});
}

TEST(ReferenceChecks, APlainBlockMatchesAReferenceThatIsMostlyABlock) {
  const Mesh ref = block_with_lug();
  const MatchSettings ms;
  const std::vector<StandInScore> s = plain_stand_ins(build_signature(ref), ref, ms);
  ASSERT_GE(s.size(), 4u);
  for (const StandInScore& x : s) std::printf("  %s: %.3f\n", x.shape.c_str(), x.score);
  EXPECT_GE(s[0].score, ms.review_threshold);
  EXPECT_EQ(s[0].shape.rfind("box ", 0), 0u) << s[0].shape;
}

TEST(ReferenceChecks, APipeReferenceIsMatchedByThePlainPipeOfItsSize) {
  const Mesh ref = tube(10, 7, 60);
  const std::vector<PlainSolid> solids = plain_solids_like(ref);
  size_t boxes = 0, rods = 0, pipes = 0;
  for (const PlainSolid& p : solids) {
    boxes += p.shape.rfind("box ", 0) == 0;
    rods += p.shape.rfind("cylinder ", 0) == 0;
    pipes += p.shape.rfind("tube ", 0) == 0;
    EXPECT_GT(p.mesh.triangle_count(), 0u) << p.shape;
  }
  EXPECT_EQ(boxes, 1u);  // no lug: the core size is the box size
  // Along the axis (d 20 x 60) and across it (d 60 x 20, the same solid for both cross axes).
  EXPECT_EQ(rods, 2u);
  EXPECT_EQ(pipes, 2u);
  const MatchSettings ms;
  const std::vector<StandInScore> s = plain_stand_ins(build_signature(ref), ref, ms);
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s[0].shape, "tube d 20.0 / 14.0 x 60.0 mm");
  EXPECT_GE(s[0].score, ms.restricted_threshold);
}

TEST(ReferenceChecks, NoPlainSolidMatchesADistinctivePart) {
  const MatchSettings ms;
  for (const Mesh& ref : {chiral_bracket(), spur_gear(18, 2.0, 8, 6)}) {
    const std::vector<StandInScore> s = plain_stand_ins(build_signature(ref), ref, ms);
    ASSERT_GE(s.size(), 4u);
    for (const StandInScore& x : s) std::printf("  %s: %.3f\n", x.shape.c_str(), x.score);
    EXPECT_LT(s[0].score, ms.review_threshold) << s[0].shape;
  }
}

TEST(ReferenceChecks, AResembledEntryIsNamed) {
  const MatchSettings ms;
  std::vector<Signature> db = {build_signature(spur_gear(18, 2.0, 8, 6)), build_signature(chiral_bracket())};
  db[0].meta.id = "s-000001";
  db[1].meta.id = "s-000002";
  // The bracket remeshed and turned: not a hash duplicate, but the same part.
  const Mesh again = variants::random_rigid(variants::subdivide_midpoint(chiral_bracket(), 1), 11);
  const std::vector<MatchEvidence> m = resembling_entries(db, again, ms);
  ASSERT_FALSE(m.empty());
  EXPECT_EQ(m[0].signature_id, "s-000002");
  EXPECT_GE(m[0].score, ms.restricted_threshold);
  EXPECT_TRUE(resembling_entries(db, tube(15, 10, 30), ms).empty());
  EXPECT_TRUE(resembling_entries({}, again, ms).empty());
}

// The stored plain-look-alike score (Signature::plain_match) in the matcher: against a reference
// that its own plain solid matches (a pipe), a copy is review, not restricted, because a plain pipe
// of that size would score as high; a distinctive reference's copy stays restricted.
TEST(ReferenceChecks, ANonDistinctiveReferenceGivesReviewOnly) {
  MatchSettings ms;
  const Mesh pipe = tube(10, 7, 60);
  Signature sig = build_signature(pipe);
  const std::vector<StandInScore> plain = plain_stand_ins(sig, pipe, ms);
  ASSERT_FALSE(plain.empty());
  ASSERT_GE(plain[0].score, ms.restricted_threshold);
  ms.use_hashes = false;  // the shape path, as for a remeshed or sliced copy
  const Mesh copy = variants::random_rigid(pipe, 5);
  const MatchOutcome unmeasured = Matcher({sig}, ms).match(copy);
  ASSERT_EQ(unmeasured.verdict, Verdict::kRestricted);
  EXPECT_LT(unmeasured.matches[0].plain_match, 0);
  EXPECT_FALSE(unmeasured.matches[0].not_distinctive);

  sig.plain_match = static_cast<float>(plain[0].score);
  const MatchOutcome measured = Matcher({sig}, ms).match(copy);
  EXPECT_EQ(measured.verdict, Verdict::kReview);
  ASSERT_FALSE(measured.matches.empty());
  EXPECT_TRUE(measured.matches[0].not_distinctive);
  EXPECT_FLOAT_EQ(static_cast<float>(measured.matches[0].plain_match), sig.plain_match);
  EXPECT_EQ(Matcher({sig}, ms).match(variants::random_rigid(tube(10, 7, 60, 96), 9)).verdict, Verdict::kReview);

  // A distinctive part: its plain look-alikes score low, and its copy is restricted.
  const Mesh bracket = chiral_bracket();
  Signature bs = build_signature(bracket);
  bs.plain_match = static_cast<float>(plain_stand_ins(bs, bracket, ms)[0].score);
  ASSERT_LT(bs.plain_match, ms.review_threshold);
  const MatchOutcome b = Matcher({bs}, ms).match(variants::random_rigid(bracket, 7));
  EXPECT_EQ(b.verdict, Verdict::kRestricted);
  ASSERT_FALSE(b.matches.empty());
  EXPECT_FALSE(b.matches[0].not_distinctive);
}

}  // namespace
