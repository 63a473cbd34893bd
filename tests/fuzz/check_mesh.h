#pragma once
// What every mesh a reader returns must satisfy, for the fuzz targets: at most max_triangles
// triangles, every index in range, every coordinate finite; std::abort() (a libFuzzer finding)
// otherwise. An empty mesh is allowed here (load_model refuses it with a clear error).
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "geometry/formats/reader.h"

namespace s3d::fuzz {

inline void check_mesh_basics(const Mesh& m, const ReadOptions& opt) {
  if (m.triangles.size() > opt.limits.max_triangles) std::abort();
  for (const Tri& t : m.triangles)
    for (uint32_t v : t)
      if (v >= m.vertices.size()) std::abort();
  for (const Vec3f& v : m.vertices)
    for (float c : v)
      if (!std::isfinite(c)) std::abort();
}

}  // namespace s3d::fuzz
