#pragma once
// The light validating scan run before handing PLY to Assimp, which on its own allocates from
// untrusted header counts. Throws LoadError on what it rejects and returns quietly otherwise.
#include <cstdint>
#include <span>

#include "geometry/limits.h"

namespace s3d::formats {

// PLY: the header is well formed and its element counts fit in the bytes that follow it
// (kTruncated otherwise); the face count stays within limits.max_triangles.
void check_ply_header(std::span<const uint8_t> data, const Limits& limits);

}  // namespace s3d::formats
