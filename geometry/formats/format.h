#pragma once
// File formats screen3d recognises, detected by content and never by extension.
#include <cstdint>
#include <span>
#include <string_view>

namespace s3d {

enum class Format : uint8_t {
  kUnknown,
  kStlBinary,
  kStlAscii,
  kObj,
  kPly,
  kOff,
  kAmf,
  k3mf,
  kGcode,
  kGcode3mf,
  kBgcode,
  kZip,
  // Other archives, and files compressed whole (model.stl.gz, jobs.tar.xz): screened member by member
  // as zips are (libarchive). Detected by their magic bytes, and only when no 3D format claims the file.
  k7z,
  kRar,
  kTar,
  kGzip,
  kBzip2,
  kXz,
  kZstd,
  // CAD exchange files (B-rep), tessellated by OpenCASCADE.
  kStep,
  kIges,
  // glTF 2.0 (.glb, and .gltf with embedded buffers): Cura opens it; model sites publish it.
  kGltf,
};
inline constexpr Format kLastFormat = Format::kGltf;

// Contract names: stl-binary, stl-ascii, obj, ply, off, amf, 3mf, gcode, gcode-3mf, bgcode, zip, unknown;
// added (the contract allows more): 7z, rar, tar, gzip, bzip2, xz, zstd, step, iges, gltf.
std::string_view format_name(Format f);

// Zip and the other archives and compressed files above: what scanning opens member by member.
bool is_archive_format(Format f);

// True for formats that hold a triangle mesh a reader turns into a Mesh.
bool is_mesh_format(Format f);

// Detects the format of `data` (the whole file, usually memory-mapped) by content alone.
// Reads at most a bounded prefix/suffix and, for zips, the central directory. Never throws.
Format detect_format(std::span<const uint8_t> data);

}  // namespace s3d
