#pragma once
// Walks the files of a disk image with The Sleuth Kit (libtsk): raw and split raw images, and E01,
// AFF, VHD and VMDK as far as Debian's libtsk reads them; a partition table (DOS/MBR, GPT, BSD,
// Mac, Sun) or a file system at the start of the image; the file systems TSK reads (FAT, exFAT,
// NTFS, ext2/3/4, HFS+, ISO 9660, UFS, YAFFS2, APFS). Every regular file is offered: allocated ones,
// and deleted ones whose content TSK can still read (a deleted name that points to metadata now
// used by another file is reported, not read). The image is opened read-only and never written.
//
// Bounded memory: one file's bytes at a time (at most max_file_bytes); a larger file is offered
// with its first bytes only (prefix) so the caller can tell whether it could be a 3D file at all.
#include <cstdint>
#include <functional>
#include <span>
#include <string>

namespace s3d::forensic {

struct ImageFile {
  std::string path;             // inside the image: "dir/a.stl", or "p2/dir/a.stl" when the image has
                                //   a partition table (p<N>: TSK's partition address)
  std::string file_system;      // "fat16", "ntfs", "ext4", ...; "raw" for a file carved from space no file system describes
  int64_t partition = -1;       // TSK partition address, -1 when the file system starts the image
  uint64_t fs_offset = 0;       // byte offset of the file system in the image
  uint64_t inode = 0;           // metadata address
  bool deleted = false;         // the name or its metadata is unallocated
  uint64_t size = 0;            // size recorded in the metadata
  std::span<const uint8_t> bytes;  // the whole content, or only a prefix when `truncated`
  bool truncated = false;       // larger than max_file_bytes: bytes holds the first prefix_bytes
  bool carved = false;          // cut out of unallocated space (WalkOptions::carve), no directory entry:
                                //   path "$Carved/<first block>.<stl|zip|7z|gcode|bgcode|obj>", inode 0, deleted true
  bool carved_partial = false;  // carved G-code or OBJ whose end was not found (the run of free blocks broke,
                                //   another file started, the carving limit): the bytes up to there
  std::string error;            // why the content could not be read (bytes is then empty)
};

struct WalkOptions {
  uint64_t max_file_bytes = 4ull << 30;  // larger files are offered as a prefix only
  uint64_t prefix_bytes = 1 << 16;
  bool deleted = true;                   // offer deleted files too
  // After each file system's directory walk, read its unallocated blocks and cut out files that
  // start a block with a known signature and lie in consecutive blocks: ASCII STL ("solid" ...
  // "endsolid"), zip and 3MF ("PK\3\4" ... end of central directory), binary STL (a triangle count
  // that fits, and finite first triangles), G-code text (a slicer's first comment line, or with
  // comments stripped a start-of-job command, and only G-code lines; up to where the text ends),
  // Prusa binary G-code ("GCDE", up to its last valid block), 7z (the size its signature header
  // gives), Wavefront OBJ (a first line an OBJ file opens with -- a comment, mtllib, o or g -- and
  // only OBJ lines, three vertices at least; up to where the text ends). A candidate whose run of free
  // blocks breaks is dropped, except G-code and OBJ, which are offered as far as they go
  // (carved_partial). Content that starts with a whole deleted file the directory
  // walk already offered is not offered again. Reads every unallocated block: slow on large disks.
  // Space no file system describes (no file system recognised in the image, a partition whose file
  // system TSK cannot open, free space between partitions) is carved as raw sectors, paths
  // "$Carved/..", "p<N>/$Carved/.." and "free<N>/$Carved/..", file_system "raw".
  bool carve = false;
  uint64_t max_carve_bytes = 256ull << 20;  // a candidate growing past this is dropped
  // Called before each part of the walk, with its name: "p2/:open" (opening the file system of
  // partition 2), "p2/:files" (its directory walk), "p2/:carve" (carving it); ":open", ":files",
  // ":carve" for a file system that starts the image. Returning false skips that part (and, for
  // ":open", the file system's other parts). Lets a supervising process that saw libtsk die in one
  // part walk the rest of the image (screen3d-image). Empty: every part is walked.
  std::function<bool(const std::string& part)> enter;
  // Called often while the walk goes on (each directory entry, every 1,024 blocks carved), so that
  // a supervisor can tell a slow walk from a hung one. Empty: not called.
  std::function<void()> progress;
};

struct WalkSummary {
  uint32_t file_systems = 0;
  uint64_t files = 0;          // regular files offered
  uint64_t deleted = 0;        // of them, deleted
  uint64_t reallocated = 0;    // deleted names whose metadata another file now uses (not offered)
  uint64_t carved = 0;         // files cut out of unallocated space and offered
  uint64_t carved_partial = 0;  // of them, G-code or OBJ cut short (ImageFile::carved_partial)
  uint64_t carve_dropped = 0;  // candidates that ended without their end marker or grew too large
  uint32_t parts_skipped = 0;  // parts of the walk that WalkOptions::enter declined
};

// Calls `fn` for each regular file, in directory-walk order. Returns "" when the image was walked,
// else why it (or a partition of it) could not be: no image, no file system found. Problems with one
// file come back in ImageFile::error and the walk goes on. Not thread-safe for one image; `fn` runs
// on the calling thread.
std::string walk_disk_image(const std::string& image_path, const WalkOptions& options,
                            const std::function<void(const ImageFile&)>& fn, WalkSummary* summary = nullptr);

}  // namespace s3d::forensic
