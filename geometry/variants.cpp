// Plain-geometry evasion transforms (rigid motions, scaling, mirroring, noise, plate layout) and
// the seeded generator every variant draws from. The CGAL-based ones live in variants_cgal.cpp.
#include "geometry/variants.h"
#include "geometry/variants_box.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <unordered_map>

#include "geometry/shapes.h"

namespace s3d::variants {
namespace {

constexpr double kPi = std::numbers::pi;
constexpr uint64_t kTagRigid = 0x52494749445f5452ull;
constexpr uint64_t kTagScale = 0x5343414c455f5f31ull;
constexpr uint64_t kTagNoise = 0x4e4f4953455f5f31ull;
constexpr uint64_t kTagPlate = 0x504c4154455f5f31ull;

using detail::Box3;

// AABB of the vertices the triangles use; throws on an empty or malformed mesh.
Box3 used_bounds_impl(const Mesh& m) {
  if (m.triangles.empty()) throw std::invalid_argument("variants: mesh has no triangles");
  Box3 b;
  b.lo.fill(std::numeric_limits<double>::infinity());
  b.hi.fill(-std::numeric_limits<double>::infinity());
  for (const Tri& t : m.triangles) {
    for (uint32_t i : t) {
      if (i >= m.vertices.size()) throw std::invalid_argument("variants: triangle index out of range");
      for (int k = 0; k < 3; ++k) {
        const double v = m.vertices[i][k];
        if (!std::isfinite(v)) throw std::invalid_argument("variants: non-finite vertex");
        b.lo[k] = std::min(b.lo[k], v);
        b.hi[k] = std::max(b.hi[k], v);
      }
    }
  }
  return b;
}

std::array<double, 16> translation(double x, double y, double z) { return {1, 0, 0, x, 0, 1, 0, y, 0, 0, 1, z, 0, 0, 0, 1}; }

std::array<double, 16> multiply(const std::array<double, 16>& a, const std::array<double, 16>& b) {
  std::array<double, 16> c{};
  for (int r = 0; r < 4; ++r)
    for (int col = 0; col < 4; ++col)
      for (int k = 0; k < 4; ++k) c[r * 4 + col] += a[r * 4 + k] * b[k * 4 + col];
  return c;
}

Mesh transformed(const Mesh& m, const std::array<double, 16>& matrix) {
  used_bounds_impl(m);  // validates
  Mesh out = m;
  shapes::transform(out, matrix);
  return out;
}

}  // namespace

namespace detail {
Box3 used_bounds(const Mesh& m) { return used_bounds_impl(m); }  // shared with variants_cgal.cpp
}  // namespace detail

uint32_t VariantRng::below(uint32_t n) {
  if (n == 0) throw std::invalid_argument("VariantRng::below(0)");
  // Rejection on the top 32 bits keeps every value equally likely.
  const uint64_t limit = (uint64_t{1} << 32) - ((uint64_t{1} << 32) % n);
  for (;;) {
    const uint64_t x = engine_() >> 32;
    if (x < limit) return static_cast<uint32_t>(x % n);
  }
}

double VariantRng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  const double u1 = 1.0 - uniform();  // (0, 1], so log is finite
  const double u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  spare_ = r * std::sin(2 * kPi * u2);
  has_spare_ = true;
  return r * std::cos(2 * kPi * u2);
}

uint64_t derive_seed(uint64_t seed, uint64_t tag) {
  uint64_t z = seed ^ tag;
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::array<double, 16> random_rigid_matrix(const Mesh& mesh, uint64_t seed, double max_translation_mm) {
  if (!std::isfinite(max_translation_mm) || max_translation_mm < 0)
    throw std::invalid_argument("random_rigid: max translation must be >= 0");
  const Box3 box = used_bounds_impl(mesh);
  VariantRng rng(derive_seed(seed, kTagRigid));
  // Shoemake (1992): uniform unit quaternion from three uniforms.
  const double u1 = rng.uniform(), u2 = rng.uniform(), u3 = rng.uniform();
  const double s1 = std::sqrt(1 - u1), s2 = std::sqrt(u1);
  const double x = s1 * std::sin(2 * kPi * u2), y = s1 * std::cos(2 * kPi * u2);
  const double z = s2 * std::sin(2 * kPi * u3), w = s2 * std::cos(2 * kPi * u3);
  const std::array<double, 16> rot{1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w), 0,
                                   2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w), 0,
                                   2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y), 0,
                                   0, 0, 0, 1};
  // Uniform in the ball: isotropic direction, radius ~ cbrt(u).
  double d[3] = {rng.normal(), rng.normal(), rng.normal()};
  const double len = std::hypot(d[0], d[1], d[2]);
  const double radius = max_translation_mm * std::cbrt(rng.uniform());
  for (double& v : d) v = len > 0 ? v / len * radius : 0;
  const auto c = box.center();
  return multiply(translation(c[0] + d[0], c[1] + d[1], c[2] + d[2]), multiply(rot, translation(-c[0], -c[1], -c[2])));
}

Mesh random_rigid(const Mesh& mesh, uint64_t seed, double max_translation_mm) {
  return transformed(mesh, random_rigid_matrix(mesh, seed, max_translation_mm));
}

Mesh scale_uniform(const Mesh& mesh, double s) {
  if (!std::isfinite(s) || s <= 0) throw std::invalid_argument("scale_uniform: factor must be > 0");
  return transformed(mesh, {s, 0, 0, 0, 0, s, 0, 0, 0, 0, s, 0, 0, 0, 0, 1});
}

double random_scale_factor(uint64_t seed, double lo, double hi) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo <= 0 || hi < lo)
    throw std::invalid_argument("random_scale: need 0 < lo <= hi");
  VariantRng rng(derive_seed(seed, kTagScale));
  return rng.uniform(lo, hi);
}

Mesh random_scale(const Mesh& mesh, uint64_t seed, double lo, double hi) {
  return scale_uniform(mesh, random_scale_factor(seed, lo, hi));
}

Mesh mirror(const Mesh& mesh, int axis) {
  if (axis < 0 || axis > 2) throw std::invalid_argument("mirror: axis must be 0, 1 or 2");
  const auto c = used_bounds_impl(mesh).center();
  std::array<double, 16> m = translation(0, 0, 0);
  m[axis * 4 + axis] = -1;
  m[axis * 4 + 3] = 2 * c[axis];
  return transformed(mesh, m);  // negative determinant: transform() reverses the triangles
}

Mesh gaussian_noise(const Mesh& mesh, double sigma_fraction_of_bbox_diag, uint64_t seed) {
  if (!std::isfinite(sigma_fraction_of_bbox_diag) || sigma_fraction_of_bbox_diag < 0)
    throw std::invalid_argument("gaussian_noise: sigma fraction must be >= 0");
  const double sigma = sigma_fraction_of_bbox_diag * used_bounds_impl(mesh).diagonal();
  VariantRng rng(derive_seed(seed, kTagNoise));
  Mesh out = mesh;
  for (Vec3f& v : out.vertices)
    for (float& c : v) c = static_cast<float>(c + sigma * rng.normal());
  return out;
}

Mesh subdivide_midpoint(const Mesh& mesh, int levels) {
  if (levels < 1 || levels > 3) throw std::invalid_argument("subdivide_midpoint: levels must be in [1, 3]");
  used_bounds_impl(mesh);
  const size_t factor = size_t{1} << (2 * levels);
  Mesh cur = mesh.triangles.size() * factor > kMaxVariantTriangles
                 ? decimate(mesh, 0.97 * static_cast<double>(kMaxVariantTriangles) /
                                      static_cast<double>(factor * mesh.triangles.size()))
                 : mesh;
  for (int level = 0; level < levels; ++level) {
    Mesh out;
    out.vertices = cur.vertices;
    out.triangles.reserve(4 * cur.triangles.size());
    // One new vertex per edge, shared by the triangles on both sides (so a closed mesh stays closed).
    std::unordered_map<uint64_t, uint32_t> mid;
    mid.reserve(3 * cur.triangles.size());
    auto midpoint = [&](uint32_t a, uint32_t b) {
      const uint64_t key = (uint64_t{std::min(a, b)} << 32) | std::max(a, b);
      const auto [it, fresh] = mid.try_emplace(key, static_cast<uint32_t>(out.vertices.size()));
      if (fresh) {
        const Vec3f& p = cur.vertices[a];
        const Vec3f& q = cur.vertices[b];
        out.vertices.push_back({(p[0] + q[0]) / 2, (p[1] + q[1]) / 2, (p[2] + q[2]) / 2});
      }
      return it->second;
    };
    for (const Tri& t : cur.triangles) {
      const uint32_t ab = midpoint(t[0], t[1]), bc = midpoint(t[1], t[2]), ca = midpoint(t[2], t[0]);
      out.triangles.push_back({t[0], ab, ca});
      out.triangles.push_back({ab, t[1], bc});
      out.triangles.push_back({ca, bc, t[2]});
      out.triangles.push_back({ab, bc, ca});
    }
    for (uint32_t start : cur.object_starts) out.object_starts.push_back(4 * start);
    cur = std::move(out);
  }
  return cur;
}

double mean_edge_length(const Mesh& mesh) {
  used_bounds_impl(mesh);
  double sum = 0;
  for (const Tri& t : mesh.triangles) {
    for (int k = 0; k < 3; ++k) {
      const Vec3f& a = mesh.vertices[t[k]];
      const Vec3f& b = mesh.vertices[t[(k + 1) % 3]];
      sum += std::hypot(double(a[0]) - b[0], double(a[1]) - b[1], double(a[2]) - b[2]);
    }
  }
  return sum / (3.0 * static_cast<double>(mesh.triangles.size()));
}

double equilateral_edge_length(const Mesh& mesh) {
  used_bounds_impl(mesh);
  double area = 0;
  for (const Tri& t : mesh.triangles) {
    const Vec3f& a = mesh.vertices[t[0]];
    const Vec3f& b = mesh.vertices[t[1]];
    const Vec3f& c = mesh.vertices[t[2]];
    const double u[3] = {double(b[0]) - a[0], double(b[1]) - a[1], double(b[2]) - a[2]};
    const double v[3] = {double(c[0]) - a[0], double(c[1]) - a[1], double(c[2]) - a[2]};
    area += 0.5 * std::hypot(u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]);
  }
  return std::sqrt(4.0 * area / (std::sqrt(3.0) * static_cast<double>(mesh.triangles.size())));
}

PlateLayout place_on_plate(const Mesh& part, const std::vector<Mesh>& others, uint64_t seed) {
  std::vector<Mesh> models{part};
  models.insert(models.end(), others.begin(), others.end());
  size_t total = 0;
  for (const Mesh& m : models) {
    used_bounds_impl(m);
    total += m.triangles.size();
  }
  if (total > kMaxVariantTriangles) {
    const double fraction = static_cast<double>(kMaxVariantTriangles) / static_cast<double>(total) * 0.98;
    for (Mesh& m : models) m = decimate(m, fraction);
  }

  VariantRng rng(derive_seed(seed, kTagPlate));
  // Turn each model about its AABB centre, then rest it on z = 0 with its footprint at the origin.
  struct Footprint {
    double w, h;
  };
  std::vector<Footprint> feet;
  for (Mesh& m : models) {
    const double a = rng.uniform(0, 2 * kPi);
    const auto c = used_bounds_impl(m).center();
    const double ca = std::cos(a), sa = std::sin(a);
    const std::array<double, 16> rot{ca, -sa, 0, 0, sa, ca, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    shapes::transform(m, multiply(rot, translation(-c[0], -c[1], -c[2])));
    const Box3 b = used_bounds_impl(m);
    shapes::transform(m, translation(-b.lo[0], -b.lo[1], -b.lo[2]));
    feet.push_back({b.hi[0] - b.lo[0], b.hi[1] - b.lo[1]});
  }

  // Largest footprint first; random positions with rejection; grow the plate when stuck.
  std::vector<size_t> order(models.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return feet[a].w * feet[a].h > feet[b].w * feet[b].h; });
  constexpr double kGap = 2.0;
  constexpr int kTriesPerModel = 400;
  double plate = kPlateSizeMm;
  std::vector<std::array<double, 2>> pos(models.size());
  for (int grow = 0;; ++grow) {
    if (grow > 60) throw std::runtime_error("place_on_plate: could not lay out the models");
    bool ok = true;
    std::vector<size_t> placed;
    for (size_t i : order) {
      const double free_x = plate - feet[i].w, free_y = plate - feet[i].h;
      if (free_x < 0 || free_y < 0) {
        ok = false;
        break;
      }
      bool found = false;
      for (int t = 0; t < kTriesPerModel && !found; ++t) {
        const double x = rng.uniform(0, free_x), y = rng.uniform(0, free_y);
        found = std::none_of(placed.begin(), placed.end(), [&](size_t j) {
          return x < pos[j][0] + feet[j].w + kGap && pos[j][0] < x + feet[i].w + kGap &&
                 y < pos[j][1] + feet[j].h + kGap && pos[j][1] < y + feet[i].h + kGap;
        });
        if (found) pos[i] = {x, y};
      }
      if (!found) {
        ok = false;
        break;
      }
      placed.push_back(i);
    }
    if (ok) break;
    plate *= 1.25;
  }

  PlateLayout out;
  out.plate_mm = plate;
  uint32_t objects = 0;
  for (size_t i = 0; i < models.size(); ++i) {
    shapes::transform(models[i], translation(pos[i][0], pos[i][1], 0));
    out.first_object.push_back(objects);
    out.object_count.push_back(static_cast<uint32_t>(models[i].object_count()));
    objects += out.object_count.back();
  }
  out.mesh = shapes::merge(models);
  return out;
}

}  // namespace s3d::variants
