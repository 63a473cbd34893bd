#pragma once
// Light validating scans run before handing text formats to Assimp, which on its own accepts
// NaN coordinates, allocates from untrusted header counts, or reports index errors without a
// line number. Each function throws LoadError on what it rejects and returns quietly otherwise.
#include <cstdint>
#include <span>

#include "geometry/limits.h"

namespace s3d::formats {

// OBJ: every v/vt/vn index of every f/l/p element resolves in range (1-based, negative = relative
// to the elements defined so far); vertex coordinates are numbers and finite; the triangle count
// after fan triangulation stays within limits.max_triangles.
//   kBadValue "face at line N references vertex K of M", kMalformed, kLimitExceeded.
void scan_obj(std::span<const uint8_t> data, const Limits& limits);

// PLY: the header is well formed and its element counts fit in the bytes that follow it
// (kTruncated otherwise); the face count stays within limits.max_triangles.
void check_ply_header(std::span<const uint8_t> data, const Limits& limits);

}  // namespace s3d::formats
