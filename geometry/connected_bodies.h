#pragma once
// Connected bodies of a mesh: triangles that share a vertex (directly or through a chain of
// triangles) belong to the same body. Readers weld vertices within each source object only, so a
// body never spans two objects. Used by mesh facts and, later, to screen each body on its own.
#include <cstdint>
#include <vector>

#include "geometry/mesh.h"

namespace s3d {

// Returns, for every triangle, the index of its body in [0, *body_count). Numbering is
// deterministic: bodies are numbered in the order of their first triangle. `body_count` may be null.
// Union-find over vertices, O(triangles * alpha). Throws std::invalid_argument when a triangle
// references a vertex index >= mesh.vertices.size() (readers never produce such a mesh).
std::vector<uint32_t> body_of_triangle(const Mesh& mesh, uint32_t* body_count);

}  // namespace s3d
