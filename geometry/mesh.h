#pragma once
// The one indexed triangle mesh type every reader produces and every algorithm consumes.
// Units are millimetres. Vertices are welded (exact duplicates merged) within each source object;
// objects keep separate vertices, so connected bodies never cross objects.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace s3d {

using Vec3f = std::array<float, 3>;
using Tri = std::array<uint32_t, 3>;

struct Mesh {
  std::vector<Vec3f> vertices;
  std::vector<Tri> triangles;
  // Start triangle of each source object (3MF object, OBJ group is not an object). Empty means one object.
  std::vector<uint32_t> object_starts;
  // What the reader tolerated that an examiner should know about, one line each (a binary STL
  // header count that disagrees with the file size, ...). Empty for a well-formed file.
  std::vector<std::string> notes;

  size_t vertex_count() const { return vertices.size(); }
  size_t triangle_count() const { return triangles.size(); }
  size_t object_count() const { return object_starts.empty() ? (triangles.empty() ? 0 : 1) : object_starts.size(); }
};

// Appends `part` to `dst` as a new object (offsets its indices); its notes join dst's (once each).
void append_object(Mesh& dst, const Mesh& part);

// Triangles [begin, end) of `mesh` as a mesh of their own: the vertices they use, in first-use
// order, and the triangles re-indexed into them (one object). Requires begin <= end <= triangles.
Mesh sub_mesh(const Mesh& mesh, size_t begin, size_t end);

}  // namespace s3d
