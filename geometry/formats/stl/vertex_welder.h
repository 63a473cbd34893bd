#pragma once
// Exact vertex welding for the STL readers: maps each corner position to one vertex index, merging
// positions whose float bit patterns are equal (-0 and +0 count as equal, NaN/Inf never reach here).
// It is the hot path of binary STL loading, so it is an open-addressing hash table (linear probing,
// power-of-two size, load <= 1/2) whose slots carry a 32-bit hash tag next to the vertex index, so a
// probe rarely touches the vertex array. Vertices go straight into the output Mesh's vector.
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "geometry/load_error.h"
#include "geometry/mesh.h"

namespace s3d::formats::stl_detail {

// Bit pattern of one coordinate with -0 folded into +0. Callers reject NaN/Inf before welding.
inline uint32_t canonical_bits(uint32_t bits) { return bits == 0x80000000u ? 0u : bits; }

// True when the bit pattern is NaN or +-Inf.
inline bool non_finite_bits(uint32_t bits) { return (bits & 0x7f800000u) == 0x7f800000u; }

class VertexWelder {
 public:
  // `out` receives the unique vertices in order of first appearance. `expected_vertices` sizes the
  // table and the vertex vector up front; both grow if the guess is low.
  VertexWelder(std::vector<Vec3f>& out, size_t expected_vertices) : out_(out) {
    size_t cap = 64;
    while (cap < 2 * expected_vertices) cap *= 2;
    resize_table(cap);
    out_.reserve(expected_vertices);
  }

  // Index of the vertex with these canonical coordinate bits, adding it if new.
  uint32_t insert(uint32_t x, uint32_t y, uint32_t z) { return insert_hashed(hash(x, y, z), x, y, z); }

  // The same in two steps, so a caller can hash a batch, prefetch() each slot, then insert: the
  // table is larger than the caches, and overlapping the misses is most of the speed.
  static uint64_t hash(uint32_t x, uint32_t y, uint32_t z) {
    uint64_t h = (static_cast<uint64_t>(x) | (static_cast<uint64_t>(y) << 32)) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    h = (h ^ (static_cast<uint64_t>(z) * 0xC2B2AE3D27D4EB4Full)) * 0xD6E8FEB86659FD93ull;
    return h ^ (h >> 32);
  }
  void prefetch(uint64_t h) const { __builtin_prefetch(&slots_[static_cast<size_t>(h >> shift_)]); }

  uint32_t insert_hashed(uint64_t h, uint32_t x, uint32_t y, uint32_t z) {
    const uint64_t tag = h & 0xffffffffu;
    size_t i = static_cast<size_t>(h >> shift_);
    for (;;) {
      const uint64_t s = slots_[i];
      if (s == 0) break;
      if ((s >> 32) == tag) {
        const uint32_t idx = static_cast<uint32_t>(s) - 1;
        const uint32_t key[3] = {x, y, z};
        if (std::memcmp(&out_[idx], key, sizeof key) == 0) return idx;
      }
      i = (i + 1) & mask_;
    }
    if (out_.size() >= kMaxVertices)
      throw LoadError(ErrorCode::kLimitExceeded,
                      "more than " + std::to_string(kMaxVertices) + " distinct vertices in one mesh");
    const auto idx = static_cast<uint32_t>(out_.size());
    out_.push_back({std::bit_cast<float>(x), std::bit_cast<float>(y), std::bit_cast<float>(z)});
    slots_[i] = (tag << 32) | (static_cast<uint64_t>(idx) + 1);
    if (++live_ * 2 > slots_.size()) grow();
    return idx;
  }

  // Starts a new source object: vertices added so far are never matched again, so objects keep
  // separate vertices (mesh.h). The table restarts small, so many small objects after a large one
  // cost time proportional to their own size.
  void begin_object() {
    object_base_ = out_.size();
    live_ = 0;
    resize_table(64);
  }

 private:
  static constexpr size_t kMaxVertices = 0xfffffffeu;

  void resize_table(size_t cap) {
    slots_.assign(cap, 0);
    mask_ = cap - 1;
    shift_ = 64 - std::countr_zero(cap);
  }

  // Doubles the table and re-inserts this object's vertices (all distinct, so no comparisons).
  void grow() {
    resize_table(slots_.size() * 2);
    for (size_t v = object_base_; v < out_.size(); ++v) {
      uint32_t b[3];
      std::memcpy(b, &out_[v], sizeof b);
      const uint64_t h = hash(b[0], b[1], b[2]);
      size_t i = static_cast<size_t>(h >> shift_);
      while (slots_[i] != 0) i = (i + 1) & mask_;
      slots_[i] = ((h & 0xffffffffu) << 32) | (static_cast<uint64_t>(v) + 1);
    }
    live_ = out_.size() - object_base_;
  }

  std::vector<Vec3f>& out_;
  std::vector<uint64_t> slots_;  // 0 = empty, else (hash tag << 32) | (vertex index + 1)
  size_t mask_ = 0;
  int shift_ = 64;
  size_t live_ = 0;  // entries of the current object
  size_t object_base_ = 0;
};

}  // namespace s3d::formats::stl_detail
