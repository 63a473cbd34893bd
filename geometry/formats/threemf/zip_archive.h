#pragma once
// A read-only view of a zip archive held in memory, for the 3MF reader (OPC packages are zips).
// Every member read is bounded: the declared and the actual uncompressed sizes both count against
// one cumulative budget (Limits::max_decompressed_bytes), so a zip bomb stops with kLimitExceeded
// instead of exhausting memory. libzip stays inside the .cpp.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "geometry/limits.h"

namespace s3d::formats::threemf {

class ZipArchive {
 public:
  // Opens `data` (which must outlive the archive). Throws LoadError: kMalformed when it is not a
  // zip, kLimitExceeded when it has more than limits.max_archive_entries members.
  ZipArchive(std::span<const uint8_t> data, const Limits& limits);
  ~ZipArchive();
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  uint64_t entry_count() const;
  std::string entry_name(uint64_t index) const;

  // Index of the member named `name` (leading '/' ignored, ASCII case-insensitive, %XX decoded as a
  // fallback), or nullopt.
  std::optional<uint64_t> find(const std::string& name) const;

  // Reads a whole member, charging its size to the decompression budget. Throws LoadError.
  std::vector<char> read(uint64_t index);

  // Bytes decompressed so far by read().
  uint64_t decompressed_bytes() const { return used_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Limits limits_;
  uint64_t used_ = 0;
};

// True when `data` starts like a zip and lists a member whose name ends in ".model". Never throws.
bool zip_has_model_part(std::span<const uint8_t> data);

}  // namespace s3d::formats::threemf
