#pragma once
// Walks the members of an archive held in memory (libarchive), within limits: member count,
// bytes per member and bytes decompressed in total. Used by `scan` and the disk-image walker
// (plugins/forensic) so that `jobs.zip` is screened member by member ("jobs.zip!/inner/a.stl").
// Archives: zip, 7z, RAR (1.5-4 and 5), tar, each of them compressed whole or not (gzip, bzip2, xz,
// zstd), and one file compressed whole ("part.stl.gz!/part.stl"). Encrypted members are errors
// naming libarchive's reason. Never throws for bad archives: problems come back as error members.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/scan.h"
#include "geometry/formats/format.h"
#include "geometry/limits.h"

namespace s3d {

struct ArchiveMember {
  std::string name;                 // path inside the archive
  std::span<const uint8_t> bytes;   // valid only during the callback
  std::string error;                // set when this member (or the archive) could not be read
};

// Calls `fn` for every regular-file member in archive order. `format`: what detect_format said of
// `data` (an archive format); `name`: the archive's own name, which names the one member of a file
// compressed whole (its name without .gz, .bz2, .xz, .zst; "data" when it has none of these).
// Returns an error string for a problem with the archive as a whole (limit exceeded, corrupt
// directory), empty otherwise.
std::string for_each_archive_member(std::span<const uint8_t> data, const Limits& limits,
                                    const std::function<void(const ArchiveMember&)>& fn, Format format = Format::kZip,
                                    std::string_view name = {});

// Screens `bytes` named `name` as Engine::scan_bytes does, except that an archive (is_archive_format)
// is screened member by member ("name!/inner/a.stl"; archives inside it too, up to the max_nesting
// limit), and
// appends one result per file to `out`: an archive with no files gives one skipped result, a
// corrupt one an error result after those of the members read. `depth`: archives already opened.
void scan_expanding_archives(const Engine& engine, std::span<const uint8_t> bytes, const std::string& name,
                             std::vector<ScanResult>& out, uint32_t depth = 0);

}  // namespace s3d
