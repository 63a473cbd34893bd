#pragma once
// Rigid/similarity registration of a source point set onto a target (one-sided ICP): every source
// point is pulled to its nearest target point, so extra material in the target (a plate of other
// objects, an embedding block) does not disturb the fit. Allows rotation, translation, uniform scale
// (clamped to a range) and reflection; the handedness (mirrored or not) is fixed by the initial guess.
#include <array>
#include <span>

#include "geometry/mesh.h"
#include "geometry/point_index.h"

namespace s3d {

// y = m * x + t, with m = s * R and R orthogonal (det +1 or -1).
struct Similarity {
  std::array<double, 9> m{1, 0, 0, 0, 1, 0, 0, 0, 1};  // row-major
  std::array<double, 3> t{0, 0, 0};

  Vec3f apply(const Vec3f& x) const {
    return {static_cast<float>(m[0] * x[0] + m[1] * x[1] + m[2] * x[2] + t[0]),
            static_cast<float>(m[3] * x[0] + m[4] * x[1] + m[5] * x[2] + t[1]),
            static_cast<float>(m[6] * x[0] + m[7] * x[1] + m[8] * x[2] + t[2])};
  }
  Vec3f apply_dir(const Vec3f& x) const;  // rotation part only (unit in, unit out)
  // The same with 1 / scale() given, for loops over many directions (scale() takes a determinant
  // and a cube root).
  Vec3f apply_dir(const Vec3f& x, double inv_scale) const {
    return {static_cast<float>((m[0] * x[0] + m[1] * x[1] + m[2] * x[2]) * inv_scale),
            static_cast<float>((m[3] * x[0] + m[4] * x[1] + m[5] * x[2]) * inv_scale),
            static_cast<float>((m[6] * x[0] + m[7] * x[1] + m[8] * x[2]) * inv_scale)};
  }
  double inv_scale() const {
    const double s = scale();
    return s > 0 ? 1.0 / s : 1.0;
  }
  double scale() const;                   // |det m|^(1/3)
  bool mirrored() const;                  // det m < 0
  Similarity inverse() const;
};

Similarity compose(const Similarity& a, const Similarity& b);  // a after b

struct IcpOptions {
  int iterations = 30;
  double start_reject = 0;      // pairs farther than this are ignored (0 = no rejection at first)
  double end_reject = 0;        // ... linearly tightened to this by the last iteration
  double min_scale = 1, max_scale = 1;  // allowed scale of m; equal values keep the initial scale
  // Run only iterations [first, last) of that schedule (last < 0: to the end), so a search can run
  // the first iterations of many starts and continue the promising ones where they stopped.
  int first = 0, last = -1;
};

struct IcpResult {
  Similarity xf;
  double rms = 0;              // over accepted pairs in the last iteration
  double inlier_fraction = 0;  // accepted pairs / source points
};

// Least-squares rigid fit (Umeyama, scale 1) of src[i] onto dst[i], with the handedness given:
// `mirrored` asks for det R = -1. Needs 3 or more non-collinear pairs; returns identity otherwise.
Similarity fit_rigid(std::span<const Vec3f> src, std::span<const Vec3f> dst, bool mirrored);

IcpResult icp_one_sided(std::span<const Vec3f> source, const PointIndex& target, const Similarity& init,
                        const IcpOptions& opt);

}  // namespace s3d
