#include "geometry/formats/format.h"

namespace s3d {

std::string_view format_name(Format f) {
  switch (f) {
    case Format::kUnknown: return "unknown";
    case Format::kStlBinary: return "stl-binary";
    case Format::kStlAscii: return "stl-ascii";
    case Format::kObj: return "obj";
    case Format::kPly: return "ply";
    case Format::kOff: return "off";
    case Format::kAmf: return "amf";
    case Format::k3mf: return "3mf";
    case Format::kGcode: return "gcode";
    case Format::kGcode3mf: return "gcode-3mf";
    case Format::kBgcode: return "bgcode";
    case Format::kZip: return "zip";
    case Format::k7z: return "7z";
    case Format::kRar: return "rar";
    case Format::kTar: return "tar";
    case Format::kGzip: return "gzip";
    case Format::kBzip2: return "bzip2";
    case Format::kXz: return "xz";
    case Format::kZstd: return "zstd";
    case Format::kStep: return "step";
    case Format::kIges: return "iges";
    case Format::kGltf: return "gltf";
  }
  return "unknown";
}

bool is_archive_format(Format f) {
  switch (f) {
    case Format::kZip:
    case Format::k7z:
    case Format::kRar:
    case Format::kTar:
    case Format::kGzip:
    case Format::kBzip2:
    case Format::kXz:
    case Format::kZstd:
      return true;
    default:
      return false;
  }
}

bool is_mesh_format(Format f) {
  switch (f) {
    case Format::kStlBinary:
    case Format::kStlAscii:
    case Format::kObj:
    case Format::kPly:
    case Format::kOff:
    case Format::kAmf:
    case Format::k3mf:
    case Format::kStep:
    case Format::kIges:
    case Format::kGltf:
      return true;
    default:
      return false;
  }
}

}  // namespace s3d
