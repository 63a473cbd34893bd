// The baseline failure the issue names: a flat plate with holes is "covered" by any larger flat
// object. Coverage weighted by distinctiveness plus the extraneous-material check must keep such
// files clean, while the real plate, also when it lies on a larger board, is still found.
#include <gtest/gtest.h>

#include "engine/matcher.h"
#include "geometry/shapes.h"
#include "geometry/variants.h"
#include "signatures/build_signature.h"

namespace s3d {
namespace {
using namespace shapes;

Mesh moved(Mesh m, double tx, double ty, double tz) {
  transform(m, {1, 0, 0, tx, 0, 1, 0, ty, 0, 0, 1, tz, 0, 0, 0, 1});
  return m;
}

class FlatPlateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    plate_ = new Mesh(plate_with_holes(80, 50, 4, 8, 3, 2));
    Signature s = build_signature(*plate_);
    s.meta.id = "s-000001";
    s.meta.label = "plate";
    MatchSettings ms;
    ms.use_hashes = false;
    matcher_ = new Matcher({s}, ms);
  }
  static void TearDownTestSuite() {
    delete matcher_;
    delete plate_;
  }
  static Mesh* plate_;
  static Matcher* matcher_;
};
Mesh* FlatPlateTest::plate_ = nullptr;
Matcher* FlatPlateTest::matcher_ = nullptr;

TEST_F(FlatPlateTest, LargerSolidBoardIsNotRestricted) {
  // A board of the same thickness, larger than the plate: covers every flat face, has no holes.
  const MatchOutcome o = matcher_->match(box(160, 110, 4));
  EXPECT_NE(o.verdict, Verdict::kRestricted) << "score " << o.best_score;
}

TEST_F(FlatPlateTest, SameSizeBlankIsNotRestricted) {
  const MatchOutcome o = matcher_->match(box(80, 50, 4));
  EXPECT_NE(o.verdict, Verdict::kRestricted) << "score " << o.best_score;
}

TEST_F(FlatPlateTest, PlateWithOtherHolePatternIsClean) {
  const MatchOutcome o = matcher_->match(plate_with_holes(80, 50, 4, 8, 2, 1));
  EXPECT_NE(o.verdict, Verdict::kRestricted) << "score " << o.best_score;
}

TEST_F(FlatPlateTest, RealPlateOnABoardIsStillFound) {
  // The plate resting on a larger board (separate bodies, touching): the plate case must pass.
  const Mesh job = merge({moved(box(200, 150, 3), 0, 0, -3), moved(*plate_, 10, -5, 0)});
  const MatchOutcome o = matcher_->match(job);
  EXPECT_EQ(o.verdict, Verdict::kRestricted) << "score " << o.best_score;
}

// Rounded edges are the same features, moved a little inward: a knob after one Loop subdivision
// (every edge rounded) is still the knob. Counting only sharp features within the strict tolerance,
// the feature cap held it at 0.00; a feature now counts within kRoundedFeatureTol tolerances, facing
// the same way, so the blanks above (no hole walls) stay below restricted.
TEST(RoundedCopies, ALoopSmoothedKnobIsStillFound) {
  Signature s = build_signature(knob());
  s.meta.id = "s-000001";
  MatchSettings ms;
  ms.use_hashes = false;
  const MatchOutcome o = Matcher({s}, ms).match(variants::random_rigid(variants::subdivide_loop(knob(), 1), 3));
  EXPECT_EQ(o.verdict, Verdict::kRestricted) << "score " << o.best_score;
}

}  // namespace
}  // namespace s3d
