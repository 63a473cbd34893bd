#include "geometry/mesh.h"

#include <algorithm>
#include <cstdint>

namespace s3d {

void append_object(Mesh& dst, const Mesh& part) {
  for (const std::string& n : part.notes)
    if (std::find(dst.notes.begin(), dst.notes.end(), n) == dst.notes.end()) dst.notes.push_back(n);
  if (part.triangles.empty()) return;
  if (dst.object_starts.empty() && !dst.triangles.empty()) dst.object_starts.push_back(0);
  const auto base = static_cast<uint32_t>(dst.vertices.size());
  dst.object_starts.push_back(static_cast<uint32_t>(dst.triangles.size()));
  dst.vertices.insert(dst.vertices.end(), part.vertices.begin(), part.vertices.end());
  dst.triangles.reserve(dst.triangles.size() + part.triangles.size());
  for (const Tri& t : part.triangles) dst.triangles.push_back({t[0] + base, t[1] + base, t[2] + base});
}

Mesh sub_mesh(const Mesh& mesh, size_t begin, size_t end) {
  Mesh out;
  std::vector<uint32_t> remap(mesh.vertices.size(), UINT32_MAX);
  for (size_t i = begin; i < end; ++i) {
    Tri t = mesh.triangles[i];
    for (uint32_t& v : t) {
      if (remap[v] == UINT32_MAX) {
        remap[v] = static_cast<uint32_t>(out.vertices.size());
        out.vertices.push_back(mesh.vertices[v]);
      }
      v = remap[v];
    }
    out.triangles.push_back(t);
  }
  return out;
}

}  // namespace s3d
