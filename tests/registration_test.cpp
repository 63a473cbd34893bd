// One-sided ICP (geometry/registration.h): it brings a turned, shifted copy of a part back onto
// the part, and a run split into stages (IcpOptions first / last, as the matcher's staged search
// uses it) ends exactly where one uninterrupted run ends.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "geometry/registration.h"
#include "geometry/sample_surface.h"
#include "geometry/shapes.h"

namespace s3d {
namespace {

std::vector<Vec3f> bracket_points(size_t n) {
  shapes::LBracketParams p;
  p.length = 70;
  p.height = 45;
  return sample_surface(shapes::l_bracket(p), n, 7).points;
}

// A start 12 degrees about z and a few millimetres off the truth (the identity).
Similarity offset_start() {
  const double a = 12 * M_PI / 180;
  Similarity s;
  s.m = {std::cos(a), -std::sin(a), 0, std::sin(a), std::cos(a), 0, 0, 0, 1};
  s.t = {3, -2, 1.5};
  return s;
}

double max_offset(const Similarity& xf, const std::vector<Vec3f>& pts) {
  double worst = 0;
  for (const Vec3f& p : pts) {
    const Vec3f y = xf.apply(p);
    worst = std::max(worst, std::sqrt(double(y[0] - p[0]) * (y[0] - p[0]) + double(y[1] - p[1]) * (y[1] - p[1]) +
                                      double(y[2] - p[2]) * (y[2] - p[2])));
  }
  return worst;
}

IcpOptions schedule(int iterations, double start_reject, double end_reject) {
  IcpOptions opt;
  opt.iterations = iterations;
  opt.start_reject = start_reject;
  opt.end_reject = end_reject;
  return opt;
}

TEST(Registration, IcpBringsAnOffsetCopyBack) {
  const PointIndex index(bracket_points(6000));
  const std::vector<Vec3f> source = bracket_points(300);
  const IcpOptions opt = schedule(30, 20, 2);
  EXPECT_GT(max_offset(offset_start(), source), 5.0);
  const IcpResult r = icp_one_sided(source, index, offset_start(), opt);
  EXPECT_LT(max_offset(r.xf, source), 0.5);
  EXPECT_FALSE(r.xf.mirrored());
  EXPECT_NEAR(r.xf.scale(), 1.0, 1e-9);
  EXPECT_GT(r.inlier_fraction, 0.95);
}

TEST(Registration, StagedIcpEndsWhereOneRunEnds) {
  const PointIndex index(bracket_points(6000));
  const std::vector<Vec3f> source = bracket_points(128);
  IcpOptions opt = schedule(6, 25, 4);
  opt.min_scale = 0.9;
  opt.max_scale = 1.1;
  const IcpResult whole = icp_one_sided(source, index, offset_start(), opt);

  IcpOptions first = opt, rest = opt;
  first.last = 2;
  rest.first = 2;
  const IcpResult a = icp_one_sided(source, index, offset_start(), first);
  const IcpResult b = icp_one_sided(source, index, a.xf, rest);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(b.xf.m[i], whole.xf.m[i]) << i;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(b.xf.t[i], whole.xf.t[i]) << i;
  // The first stage alone has moved, but not as far as the whole run.
  EXPECT_LT(max_offset(a.xf, source), max_offset(offset_start(), source));
  EXPECT_NE(a.xf.t, whole.xf.t);
  // An empty range leaves the start as it is.
  IcpOptions none = opt;
  none.first = 4;
  none.last = 4;
  const IcpResult c = icp_one_sided(source, index, offset_start(), none);
  EXPECT_EQ(c.xf.t, offset_start().t);
}

}  // namespace
}  // namespace s3d
