#include "geometry/formats/interchange/weld.h"

#include <cstdint>
#include <cstring>

namespace s3d::formats {

namespace {

struct Key {
  uint32_t x, y, z;
  bool operator==(const Key& o) const { return x == o.x && y == o.y && z == o.z; }
};

Key key_of(const Vec3f& v) {
  Key k;
  // +0.0f folds -0.0f into +0.0f so the two zeros weld.
  const float a = v[0] + 0.0f, b = v[1] + 0.0f, c = v[2] + 0.0f;
  std::memcpy(&k.x, &a, 4);
  std::memcpy(&k.y, &b, 4);
  std::memcpy(&k.z, &c, 4);
  return k;
}

uint64_t hash_key(const Key& k) {
  uint64_t h = (static_cast<uint64_t>(k.x) * 0x9E3779B97F4A7C15ull) ^ (static_cast<uint64_t>(k.y) + 0x632BE59BD9B4E019ull);
  h = (h ^ (h >> 29)) * 0xBF58476D1CE4E5B9ull;
  h ^= static_cast<uint64_t>(k.z) * 0x94D049BB133111EBull;
  h ^= h >> 32;
  return h;
}

}  // namespace

void weld_exact(std::vector<Vec3f>& vertices, std::vector<Tri>& triangles) {
  constexpr uint32_t kNone = UINT32_MAX;
  // Only referenced vertices take part, in first-use order.
  std::vector<uint32_t> remap(vertices.size(), kNone);
  size_t cap = 16;
  while (cap < vertices.size() * 2) cap <<= 1;
  std::vector<uint32_t> table(cap, kNone);  // slot -> new vertex index
  std::vector<Vec3f> out;
  out.reserve(vertices.size());
  const size_t mask = cap - 1;
  for (Tri& t : triangles) {
    for (uint32_t& vi : t) {
      uint32_t& r = remap[vi];
      if (r == kNone) {
        const Key k = key_of(vertices[vi]);
        size_t slot = hash_key(k) & mask;
        for (;;) {
          const uint32_t e = table[slot];
          if (e == kNone) {
            table[slot] = static_cast<uint32_t>(out.size());
            r = static_cast<uint32_t>(out.size());
            out.push_back(vertices[vi]);
            break;
          }
          if (key_of(out[e]) == k) {
            r = e;
            break;
          }
          slot = (slot + 1) & mask;
        }
      }
      vi = r;
    }
  }
  out.shrink_to_fit();
  vertices = std::move(out);
}

void triangulate_polygon(std::span<const uint32_t> poly, const std::vector<Vec3f>& vertices, std::vector<Tri>& out) {
  const size_t n = poly.size();
  if (n < 3) return;
  if (n == 4) {
    const Vec3f &a = vertices[poly[0]], &b = vertices[poly[1]], &c = vertices[poly[2]], &d = vertices[poly[3]];
    const auto sub = [](const Vec3f& p, const Vec3f& q) {
      return std::array<double, 3>{double(p[0]) - q[0], double(p[1]) - q[1], double(p[2]) - q[2]};
    };
    const auto cross = [](const std::array<double, 3>& u, const std::array<double, 3>& v) {
      return std::array<double, 3>{u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]};
    };
    const auto n1 = cross(sub(b, a), sub(c, a));
    const auto n2 = cross(sub(c, a), sub(d, a));
    if (n1[0] * n2[0] + n1[1] * n2[1] + n1[2] * n2[2] < 0) {
      out.push_back({poly[1], poly[2], poly[3]});
      out.push_back({poly[1], poly[3], poly[0]});
      return;
    }
  }
  for (size_t k = 1; k + 1 < n; ++k) out.push_back({poly[0], poly[k], poly[k + 1]});
}

}  // namespace s3d::formats
