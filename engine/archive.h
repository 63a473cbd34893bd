#pragma once
// Walks the members of a zip archive held in memory (libarchive), within limits: member count,
// bytes per member and bytes decompressed in total. Used by `scan` so that `jobs.zip` is screened
// member by member ("jobs.zip!/inner/a.stl"). Never throws for bad archives: problems come back as
// error members.
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "geometry/limits.h"

namespace s3d {

struct ArchiveMember {
  std::string name;                 // path inside the archive
  std::span<const uint8_t> bytes;   // valid only during the callback
  std::string error;                // set when this member (or the archive) could not be read
};

// Calls `fn` for every regular-file member in archive order. Returns an error string for a
// problem with the archive as a whole (limit exceeded, corrupt directory), empty otherwise.
std::string for_each_archive_member(std::span<const uint8_t> data, const Limits& limits,
                                    const std::function<void(const ArchiveMember&)>& fn);

}  // namespace s3d
