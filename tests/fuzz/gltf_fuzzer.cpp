// libFuzzer target for the glTF reader (geometry/formats/gltf): every input goes through read_mesh as
// glTF, with small limits. Bad input must end in LoadError; anything else (a crash, a sanitizer
// report, another exception, an out-of-range index, a non-finite vertex) is a bug.
#include <cstdint>
#include <span>

#include "geometry/formats/format.h"
#include "geometry/formats/reader.h"
#include "geometry/load_error.h"
#include "tests/fuzz/check_mesh.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  s3d::ReadOptions opt;
  opt.limits.max_triangles = 5000;
  try {
    s3d::fuzz::check_mesh_basics(s3d::read_mesh(std::span<const uint8_t>(data, size), s3d::Format::kGltf, opt), opt);
  } catch (const s3d::LoadError&) {
  }
  return 0;
}
