// libFuzzer target for the STL readers: every input goes through read_mesh as binary and as ASCII
// STL with small limits. Bad input must end in LoadError; anything else (a crash, a sanitizer report,
// another exception, an out-of-range index, a non-finite vertex, an unwelded duplicate) is a bug.
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "geometry/formats/format.h"
#include "geometry/formats/reader.h"
#include "geometry/load_error.h"
#include "tests/fuzz/check_mesh.h"

namespace {

void check_mesh(const s3d::Mesh& m, const s3d::ReadOptions& opt) {
  if (m.triangles.empty()) std::abort();  // the STL readers refuse an empty file themselves
  s3d::fuzz::check_mesh_basics(m, opt);
  // Welding: no two vertices of one object have equal positions (-0 == +0).
  std::vector<uint32_t> first_tri_of_object(m.object_starts.begin(), m.object_starts.end());
  if (first_tri_of_object.empty()) first_tri_of_object.push_back(0);
  for (size_t o = 0; o < first_tri_of_object.size(); ++o) {
    const size_t t0 = first_tri_of_object[o];
    const size_t t1 = o + 1 < first_tri_of_object.size() ? first_tri_of_object[o + 1] : m.triangles.size();
    if (t0 > t1 || t1 > m.triangles.size()) std::abort();
    std::vector<std::array<uint32_t, 4>> keys;  // position bits + vertex index
    for (size_t t = t0; t < t1; ++t)
      for (uint32_t v : m.triangles[t]) {
        std::array<uint32_t, 4> k{};
        for (int c = 0; c < 3; ++c) k[c] = std::bit_cast<uint32_t>(m.vertices[v][c] == 0.0f ? 0.0f : m.vertices[v][c]);
        k[3] = v;
        keys.push_back(k);
      }
    std::sort(keys.begin(), keys.end());
    for (size_t i = 1; i < keys.size(); ++i)
      if (std::equal(keys[i].begin(), keys[i].begin() + 3, keys[i - 1].begin()) && keys[i][3] != keys[i - 1][3])
        std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  s3d::ReadOptions opt;
  opt.limits.max_triangles = 5000;
  const std::span<const uint8_t> in(data, size);
  for (s3d::Format f : {s3d::Format::kStlBinary, s3d::Format::kStlAscii}) {
    try {
      check_mesh(s3d::read_mesh(in, f, opt), opt);
    } catch (const s3d::LoadError&) {
    }
  }
  return 0;
}
