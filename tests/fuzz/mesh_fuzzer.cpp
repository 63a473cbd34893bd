// libFuzzer target for the interchange-format readers: every input goes through read_mesh as OBJ,
// PLY, OFF, AMF and 3MF, with small limits. Bad input must end in LoadError; anything else (a crash,
// a sanitizer report, another exception, an out-of-range index, a non-finite vertex) is a bug.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "geometry/formats/format.h"
#include "geometry/formats/reader.h"
#include "geometry/load_error.h"
#include "tests/fuzz/check_mesh.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  s3d::ReadOptions opt;
  opt.limits.max_triangles = 5000;
  opt.limits.max_decompressed_bytes = 1 << 22;
  const std::span<const uint8_t> in(data, size);
  for (s3d::Format f : {s3d::Format::kObj, s3d::Format::kPly, s3d::Format::kOff, s3d::Format::kAmf, s3d::Format::k3mf}) {
    try {
      s3d::fuzz::check_mesh_basics(s3d::read_mesh(in, f, opt), opt);
    } catch (const s3d::LoadError&) {
    }
  }
  return 0;
}
