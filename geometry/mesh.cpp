#include "geometry/mesh.h"

namespace s3d {

void append_object(Mesh& dst, const Mesh& part) {
  if (part.triangles.empty()) return;
  if (dst.object_starts.empty() && !dst.triangles.empty()) dst.object_starts.push_back(0);
  const auto base = static_cast<uint32_t>(dst.vertices.size());
  dst.object_starts.push_back(static_cast<uint32_t>(dst.triangles.size()));
  dst.vertices.insert(dst.vertices.end(), part.vertices.begin(), part.vertices.end());
  dst.triangles.reserve(dst.triangles.size() + part.triangles.size());
  for (const Tri& t : part.triangles) dst.triangles.push_back({t[0] + base, t[1] + base, t[2] + base});
}

}  // namespace s3d
