#include "geometry/connected_bodies.h"

#include <limits>
#include <numeric>
#include <stdexcept>

namespace s3d {
namespace {

// Union-find with path halving and union by size; parent_ doubles as the vertex -> root map.
class DisjointSets {
 public:
  explicit DisjointSets(size_t n) : parent_(n), size_(n, 1) { std::iota(parent_.begin(), parent_.end(), 0u); }

  uint32_t find(uint32_t x) {
    while (parent_[x] != x) {
      parent_[x] = parent_[parent_[x]];
      x = parent_[x];
    }
    return x;
  }

  void unite(uint32_t a, uint32_t b) {
    a = find(a);
    b = find(b);
    if (a == b) return;
    if (size_[a] < size_[b]) std::swap(a, b);
    parent_[b] = a;
    size_[a] += size_[b];
  }

 private:
  std::vector<uint32_t> parent_;
  std::vector<uint32_t> size_;
};

}  // namespace

std::vector<uint32_t> body_of_triangle(const Mesh& mesh, uint32_t* body_count) {
  const size_t nv = mesh.vertices.size();
  if (nv > std::numeric_limits<uint32_t>::max()) throw std::invalid_argument("mesh has more than 2^32 vertices");
  for (const Tri& t : mesh.triangles)
    if (t[0] >= nv || t[1] >= nv || t[2] >= nv)
      throw std::invalid_argument("triangle references a vertex index out of range");

  DisjointSets sets(nv);
  for (const Tri& t : mesh.triangles) {
    sets.unite(t[0], t[1]);
    sets.unite(t[0], t[2]);
  }

  // Number roots in order of first appearance over the triangles.
  constexpr uint32_t kUnassigned = std::numeric_limits<uint32_t>::max();
  std::vector<uint32_t> body_of_root(nv, kUnassigned);
  std::vector<uint32_t> body(mesh.triangles.size());
  uint32_t next = 0;
  for (size_t i = 0; i < mesh.triangles.size(); ++i) {
    const uint32_t root = sets.find(mesh.triangles[i][0]);
    if (body_of_root[root] == kUnassigned) body_of_root[root] = next++;
    body[i] = body_of_root[root];
  }
  if (body_count) *body_count = next;
  return body;
}

}  // namespace s3d
