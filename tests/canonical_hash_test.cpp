// Canonical geometry hashes: re-export stability, pose invariance, sensitivity to edits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <vector>

#include "geometry/canonical_hash.h"
#include "geometry/mesh.h"

namespace s3d {
namespace {

constexpr double kPi = 3.14159265358979323846;

// A closed torus whose vertices lie off any grid (irrational radii, phase-shifted rings).
Mesh make_torus(int nu = 48, int nv = 24, double big_r = 20.3, double small_r = 6.17) {
  Mesh m;
  for (int i = 0; i < nu; ++i)
    for (int j = 0; j < nv; ++j) {
      const double u = 2 * kPi * (i + 0.31) / nu, v = 2 * kPi * (j + 0.17 * (i % 3)) / nv;
      m.vertices.push_back({static_cast<float>((big_r + small_r * std::cos(v)) * std::cos(u) + 3.7),
                            static_cast<float>((big_r + small_r * std::cos(v)) * std::sin(u) - 1.3),
                            static_cast<float>(small_r * std::sin(v) + 0.77)});
    }
  auto idx = [&](int i, int j) { return static_cast<uint32_t>((i % nu) * nv + (j % nv)); };
  for (int i = 0; i < nu; ++i)
    for (int j = 0; j < nv; ++j) {
      m.triangles.push_back({idx(i, j), idx(i + 1, j), idx(i + 1, j + 1)});
      m.triangles.push_back({idx(i, j), idx(i + 1, j + 1), idx(i, j + 1)});
    }
  return m;
}

// A thin, subdivided slab: the awkward case for second moments (one tiny principal variance).
Mesh make_plate(int nx = 20, int ny = 10, double sx = 81.3, double sy = 40.7, double sz = 1.31) {
  Mesh m;
  auto grid = [&](double z, bool up) {
    const uint32_t base = static_cast<uint32_t>(m.vertices.size());
    for (int i = 0; i <= nx; ++i)
      for (int j = 0; j <= ny; ++j)
        m.vertices.push_back({static_cast<float>(sx * i / nx + 0.013 * std::sin(i * 1.7 + j)),
                              static_cast<float>(sy * j / ny + 0.011 * std::cos(i + j * 2.3)), static_cast<float>(z)});
    auto id = [&](int i, int j) { return base + static_cast<uint32_t>(i * (ny + 1) + j); };
    for (int i = 0; i < nx; ++i)
      for (int j = 0; j < ny; ++j) {
        if (up) {
          m.triangles.push_back({id(i, j), id(i + 1, j), id(i + 1, j + 1)});
          m.triangles.push_back({id(i, j), id(i + 1, j + 1), id(i, j + 1)});
        } else {
          m.triangles.push_back({id(i, j), id(i + 1, j + 1), id(i + 1, j)});
          m.triangles.push_back({id(i, j), id(i, j + 1), id(i + 1, j + 1)});
        }
      }
  };
  grid(0.0, false);
  grid(sz, true);
  return m;  // open at the rim on purpose: the hashes must not need a closed surface
}

// Same triangles, reordered: shuffled triangle list, cyclically rotated corners, permuted vertex array.
Mesh reindexed(const Mesh& m, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint32_t> perm(m.vertices.size());
  std::iota(perm.begin(), perm.end(), 0u);
  std::shuffle(perm.begin(), perm.end(), rng);
  Mesh out;
  out.vertices.resize(m.vertices.size());
  for (size_t i = 0; i < perm.size(); ++i) out.vertices[perm[i]] = m.vertices[i];
  for (const Tri& t : m.triangles) {
    Tri r = {perm[t[0]], perm[t[1]], perm[t[2]]};
    std::rotate(r.begin(), r.begin() + rng() % 3, r.end());
    out.triangles.push_back(r);
  }
  std::shuffle(out.triangles.begin(), out.triangles.end(), rng);
  return out;
}

// Unwelded triangle soup, as a binary STL reader without welding would give.
Mesh soup(const Mesh& m) {
  Mesh out;
  for (const Tri& t : m.triangles) {
    const uint32_t b = static_cast<uint32_t>(out.vertices.size());
    for (uint32_t v : t) out.vertices.push_back(m.vertices[v]);
    out.triangles.push_back({b, b + 1, b + 2});
  }
  return out;
}

// Coordinates printed as text and parsed back, as a text format would store them.
Mesh through_text(const Mesh& m, const char* fmt) {
  Mesh out = m;
  char buf[64];
  for (auto& v : out.vertices)
    for (float& c : v) {
      std::snprintf(buf, sizeof buf, fmt, static_cast<double>(c));
      c = std::strtof(buf, nullptr);
    }
  return out;
}

// A rigid motion (optionally mirrored), applied in double and rounded to float32 like an export.
Mesh reposed(const Mesh& m, std::mt19937& rng, bool mirror) {
  std::uniform_real_distribution<double> u(-1, 1);
  double q[4];
  double n = 0;
  do {
    for (double& x : q) x = u(rng);
    n = std::sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
  } while (n < 0.1 || n > 1);
  for (double& x : q) x /= n;
  const double w = q[0], x = q[1], y = q[2], z = q[3];
  const double r[3][3] = {{1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)},
                          {2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)},
                          {2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)}};
  const double t[3] = {u(rng) * 120, u(rng) * 120, u(rng) * 60};
  Mesh out = m;
  for (auto& v : out.vertices) {
    const double p[3] = {mirror ? -double(v[0]) : double(v[0]), v[1], v[2]};
    for (int i = 0; i < 3; ++i)
      v[i] = static_cast<float>(r[i][0] * p[0] + r[i][1] * p[1] + r[i][2] * p[2] + t[i]);
  }
  return out;
}

TEST(CanonicalHash, ExactHashSurvivesReindexingSoupAndRoundTripFormatting) {
  for (const Mesh& m : {make_torus(), make_plate()}) {
    const uint64_t h = exact_geometry_hash(m);
    EXPECT_EQ(exact_geometry_hash(reindexed(m, 1)), h);
    EXPECT_EQ(exact_geometry_hash(reindexed(m, 2)), h);
    EXPECT_EQ(exact_geometry_hash(soup(reindexed(m, 3))), h);
    EXPECT_EQ(exact_geometry_hash(through_text(m, "%.9g")), h);
    EXPECT_EQ(exact_geometry_hash(through_text(m, "%.8e")), h);
    EXPECT_EQ(exact_geometry_hash(through_text(m, "%.17g")), h);
    // Split into two objects: the triangle set is unchanged.
    Mesh two;
    Mesh a = m, b = m;
    a.triangles.resize(m.triangles.size() / 2);
    b.triangles.erase(b.triangles.begin(), b.triangles.begin() + m.triangles.size() / 2);
    append_object(two, a);
    append_object(two, b);
    EXPECT_EQ(exact_geometry_hash(two), h);
  }
}

TEST(CanonicalHash, ExactHashIgnoresCollapsedTrianglesButKeepsWinding) {
  Mesh m = make_torus();
  const uint64_t h = exact_geometry_hash(m);
  Mesh with_degenerate = m;
  with_degenerate.triangles.push_back({0, 0, 5});
  EXPECT_EQ(exact_geometry_hash(with_degenerate), h);
  Mesh flipped = m;
  std::swap(flipped.triangles[7][1], flipped.triangles[7][2]);
  EXPECT_NE(exact_geometry_hash(flipped), h);
}

TEST(CanonicalHash, SmallEditsChangeBothHashes) {
  for (const Mesh& m : {make_torus(), make_plate()}) {
    const uint64_t exact = exact_geometry_hash(m), pose = pose_invariant_hash(m);
    Mesh nudged = m;  // 1 micron: below any display precision, above the 0.1 micron quantum
    nudged.vertices[10][2] += 0.001f;
    EXPECT_NE(exact_geometry_hash(nudged), exact);
    Mesh moved = m;  // a visible edit: one vertex moved by 0.5 mm
    moved.vertices[10][2] += 0.5f;
    EXPECT_NE(exact_geometry_hash(moved), exact);
    EXPECT_NE(pose_invariant_hash(moved), pose);
    Mesh removed = m;  // one triangle deleted
    removed.triangles.erase(removed.triangles.begin() + 3);
    EXPECT_NE(exact_geometry_hash(removed), exact);
    EXPECT_NE(pose_invariant_hash(removed), pose);
    Mesh shifted = m;  // translation changes the exact hash only
    for (auto& v : shifted.vertices) v[0] += 1.0f;
    EXPECT_NE(exact_geometry_hash(shifted), exact);
  }
  EXPECT_NE(pose_invariant_hash(make_torus()), pose_invariant_hash(make_torus(48, 24, 20.3, 6.2)));
  EXPECT_NE(exact_geometry_hash(make_torus()), exact_geometry_hash(make_plate()));
}

TEST(CanonicalHash, PoseHashIgnoresOrderAndExactSymmetries) {
  for (const Mesh& m : {make_torus(), make_plate()}) {
    const uint64_t h = pose_invariant_hash(m);
    EXPECT_EQ(pose_invariant_hash(reindexed(m, 4)), h);
    EXPECT_EQ(pose_invariant_hash(soup(m)), h);
    // Axis permutations and sign flips are exact in float: a 90-degree turn and two mirrors.
    Mesh turned = m, mirrored = m, swapped = m;
    for (auto& v : turned.vertices) v = {-v[1], v[0], v[2]};
    for (auto& v : mirrored.vertices) v[0] = -v[0];
    for (auto& v : swapped.vertices) v = {v[2], v[1], v[0]};
    EXPECT_EQ(pose_invariant_hash(turned), h);
    EXPECT_EQ(pose_invariant_hash(mirrored), h);
    EXPECT_EQ(pose_invariant_hash(swapped), h);
  }
}

// Random rigid motions with mirroring, rounded to float32: the hash must usually survive. The rate
// is measured, not assumed; the header documents that quantisation boundaries cause misses.
TEST(CanonicalHash, PoseHashUsuallySurvivesRandomRigidMotionAndMirroring) {
  std::mt19937 rng(12345);
  int trials = 0, hits = 0;
  for (const Mesh& m : {make_torus(), make_torus(96, 48, 31.1, 4.9), make_plate(), make_plate(60, 30)}) {
    const uint64_t h = pose_invariant_hash(m);
    for (int k = 0; k < 50; ++k) {
      ++trials;
      const Mesh p = reposed(m, rng, k % 2 == 1);
      hits += pose_invariant_hash(p) == h;
      EXPECT_NE(exact_geometry_hash(p), exact_geometry_hash(m));
    }
  }
  std::printf("[ measured ] pose hash survived %d of %d random rigid(+mirror) motions\n", hits, trials);
  EXPECT_GE(hits * 100, trials * 95);
}

TEST(CanonicalHash, RejectsBadIndicesAndHandlesEmpty) {
  Mesh bad = make_torus();
  bad.triangles.push_back({0, 1, static_cast<uint32_t>(bad.vertices.size())});
  EXPECT_THROW(exact_geometry_hash(bad), std::out_of_range);
  EXPECT_THROW(pose_invariant_hash(bad), std::out_of_range);
  Mesh empty;
  EXPECT_EQ(exact_geometry_hash(empty), exact_geometry_hash(Mesh{}));
  EXPECT_NE(exact_geometry_hash(empty), exact_geometry_hash(make_torus()));
  EXPECT_EQ(pose_invariant_hash(empty), pose_invariant_hash(Mesh{}));
}

}  // namespace
}  // namespace s3d
