#pragma once
// Resource limits for reading untrusted input. Every limit has a default; exceeding one raises
// LoadError with ErrorCode::kLimitExceeded naming the limit, never a silent truncation.
#include <cstdint>

namespace s3d {

struct Limits {
  uint64_t max_input_bytes = 4ull << 30;          // 4 GiB on disk
  uint64_t max_triangles = 60'000'000;            // about 3 GiB of binary STL
  uint64_t max_decompressed_bytes = 2ull << 30;   // sum over all archive members read
  uint32_t max_archive_entries = 10'000;          // zip / 3MF members
  uint32_t max_nesting = 3;                       // archives inside archives
};

}  // namespace s3d
