// Binary STL: 80-byte header (arbitrary bytes, often starting with "solid"), uint32 little-endian
// triangle count, then 50 bytes per triangle (normal, 3 corners, uint16 attribute). The normal and
// attribute are ignored; corners are welded into an indexed Mesh (vertex_welder.h).
//
// Size policy, that of the slicers that will print the file: admesh (PrusaSlicer) counts the
// triangles from the file size, refuses a size that is not 84 + 50k, and when the header's count
// disagrees with a size that is 84 + 50k it warns and reads all k records. So do we: such a file is
// read by its size, and the disagreement is kept as a note on the mesh (an examiner's hint of a
// tampered or carelessly written header), because a reader that refused it would let a header edit
// -- a count of 0, say -- hide a printable part. A size that is not 84 + 50k is kTruncated naming
// both numbers (a cut-off file; admesh refuses it too).
#include <bit>
#include <cmath>
#include <cstring>
#include <string>

#include "geometry/formats/reader.h"
#include "geometry/formats/stl/vertex_welder.h"
#include "geometry/load_error.h"

namespace s3d::formats::stl_binary {

namespace {

constexpr size_t kHeaderBytes = 84;
constexpr size_t kRecordBytes = 50;

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap32(v);
  return v;
}

// True when the record looks like a real STL triangle: finite, sane-magnitude floats and a normal
// that is unit length or zero, and not all-zero corners. Random binary data almost never passes.
bool plausible_record(const uint8_t* rec) {
  float f[12];
  for (int k = 0; k < 12; ++k) f[k] = std::bit_cast<float>(load_u32(rec + 4 * k));
  bool any_nonzero = false;
  for (int k = 0; k < 12; ++k) {
    if (!std::isfinite(f[k])) return false;
    const float a = std::fabs(f[k]);
    if (a != 0.0f && (a < 1e-30f || a > 1e8f)) return false;
    if (k >= 3 && a != 0.0f) any_nonzero = true;
  }
  const float n2 = f[0] * f[0] + f[1] * f[1] + f[2] * f[2];
  return any_nonzero && (n2 == 0.0f || (n2 > 0.9f && n2 < 1.1f));
}

}  // namespace

int probe(std::span<const uint8_t> data) {
  if (data.size() < kHeaderBytes) return 0;
  const uint64_t count = load_u32(data.data() + 80);
  const uint64_t expected = kHeaderBytes + kRecordBytes * count;
  if (expected == data.size()) return 100;
  // Size disagrees: claim it weakly only if its records look like STL, so a binary STL with a wrong
  // header count (read by its size) or a truncated one (a precise error) reaches this reader instead
  // of being called unknown. Up to 64 records spread over the file are looked at; records with all
  // corners zero say nothing either way (a leading run of them must not hide the file), and most of
  // the others must be plausible triangles: random binary data almost never is.
  const size_t records = (data.size() - kHeaderBytes) / kRecordBytes;
  if (records == 0) return 0;
  const size_t check = records < 64 ? records : 64;
  size_t plausible = 0, judged = 0;
  for (size_t i = 0; i < check; ++i) {
    const uint8_t* rec = data.data() + kHeaderBytes + (i * records / check) * kRecordBytes;
    bool zero = true;
    for (size_t b = 12; b < 48 && zero; ++b) zero = rec[b] == 0;
    if (zero) continue;
    ++judged;
    plausible += plausible_record(rec) ? 1 : 0;
  }
  return judged > 0 && plausible * 4 >= judged * 3 ? 20 : 0;
}

Mesh read(std::span<const uint8_t> data, const ReadOptions& opt) {
  const size_t size = data.size();
  if (size < kHeaderBytes)
    throw LoadError(ErrorCode::kTruncated, "binary STL is " + std::to_string(size) +
                                               " bytes, shorter than its 84-byte header");
  uint64_t count = load_u32(data.data() + 80);
  const uint64_t expected = kHeaderBytes + kRecordBytes * count;
  std::string note;
  if (size != expected && (size - kHeaderBytes) % kRecordBytes == 0 && size > kHeaderBytes) {
    const uint64_t held = (size - kHeaderBytes) / kRecordBytes;
    note = "binary STL header declares " + std::to_string(count) + " triangles but the file holds " +
           std::to_string(held) + "; all " + std::to_string(held) + " were read, as slicers read them";
    count = held;
  } else if (size != expected) {
    throw LoadError(ErrorCode::kTruncated,
                    "binary STL header declares " + std::to_string(count) + " triangles (" +
                        std::to_string(expected) + " bytes) but the file has " + std::to_string(size) +
                        " bytes (room for " + std::to_string((size - kHeaderBytes) / kRecordBytes) +
                        " triangles)");
  }
  if (count == 0) throw LoadError(ErrorCode::kEmpty, "binary STL declares zero triangles");
  if (count > opt.limits.max_triangles)
    throw LoadError(ErrorCode::kLimitExceeded, "binary STL declares " + std::to_string(count) +
                                                   " triangles, above the max_triangles limit of " +
                                                   std::to_string(opt.limits.max_triangles));

  Mesh mesh;
  mesh.triangles.resize(count);
  // Closed tessellated meshes have about half as many vertices as triangles; the welder grows
  // for soups. The slack avoids a growth step for meshes with some boundary.
  stl_detail::VertexWelder welder(mesh.vertices, count / 2 + count / 16 + 16);
  // Blocks of triangles: decode and hash all corners, prefetch their table slots, then weld.
  constexpr uint64_t kBlock = 16;
  const uint8_t* rec = data.data() + kHeaderBytes;
  uint32_t bits[kBlock * 9];
  uint64_t hashes[kBlock * 3];
  // Triangles with a NaN or infinite coordinate are dropped, as admesh (PrusaSlicer) drops them and
  // then slices the rest: refusing the file would let one such triangle hide a printable part.
  uint64_t kept = 0, dropped = 0, first_dropped = 0;
  for (uint64_t first = 0; first < count; first += kBlock) {
    check_stop_every(opt.limits, first);  // first is a multiple of kBlock (16)
    const uint64_t n = count - first < kBlock ? count - first : kBlock;
    uint32_t bad_mask = 0;
    for (uint64_t k = 0; k < n; ++k, rec += kRecordBytes) {
      uint32_t* b = bits + 9 * k;
      std::memcpy(b, rec + 12, 36);
      bool bad = false;
      for (int c = 0; c < 9; ++c) {
        if constexpr (std::endian::native == std::endian::big) b[c] = __builtin_bswap32(b[c]);
        bad |= stl_detail::non_finite_bits(b[c]);
        b[c] = stl_detail::canonical_bits(b[c]);
      }
      if (bad) {
        bad_mask |= 1u << k;
        continue;
      }
      for (int c = 0; c < 3; ++c) {
        hashes[3 * k + c] = stl_detail::VertexWelder::hash(b[3 * c], b[3 * c + 1], b[3 * c + 2]);
        welder.prefetch(hashes[3 * k + c]);
      }
    }
    for (uint64_t k = 0; k < n; ++k) {
      if ((bad_mask >> k) & 1u) {
        if (dropped++ == 0) first_dropped = first + k;
        continue;
      }
      const uint32_t* b = bits + 9 * k;
      Tri& tri = mesh.triangles[kept++];
      for (int c = 0; c < 3; ++c)
        tri[c] = welder.insert_hashed(hashes[3 * k + c], b[3 * c], b[3 * c + 1], b[3 * c + 2]);
    }
  }
  if (kept == 0)
    throw LoadError(ErrorCode::kBadValue, "every triangle of the binary STL has a NaN or infinite coordinate");
  if (dropped) {
    mesh.triangles.resize(kept);
    mesh.notes.push_back(std::to_string(dropped) + " triangle" + (dropped == 1 ? "" : "s") +
                         " with a NaN or infinite coordinate dropped (the first: triangle " +
                         std::to_string(first_dropped) + "), as slicers drop them");
  }
  if (mesh.vertices.capacity() > mesh.vertices.size() + mesh.vertices.size() / 4 + 4096)
    mesh.vertices.shrink_to_fit();
  if (!note.empty()) mesh.notes.push_back(std::move(note));
  return mesh;
}

}  // namespace s3d::formats::stl_binary
