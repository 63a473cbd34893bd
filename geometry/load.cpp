#include "geometry/load.h"

#include <string>

#include "geometry/load_error.h"

namespace s3d {

LoadedModel load_model(std::span<const uint8_t> data, const ReadOptions& opt) {
  LoadedModel out;
  if (data.empty()) throw LoadError(ErrorCode::kEmpty, "empty file (0 bytes)");
  out.format = detect_format(data);
  if (!is_mesh_format(out.format)) {
    if (out.format == Format::kUnknown) throw LoadError(ErrorCode::kUnsupported, "unrecognised file format");
    throw LoadError(ErrorCode::kUnsupported,
                    "format " + std::string(format_name(out.format)) + " holds no mesh this build can read");
  }
  out.mesh = read_mesh(data, out.format, opt);
  if (out.mesh.triangles.empty()) throw LoadError(ErrorCode::kEmpty, "file holds zero triangles");
  return out;
}

}  // namespace s3d
