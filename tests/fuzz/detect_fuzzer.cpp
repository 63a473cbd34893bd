// libFuzzer target for content-based format detection: detect_format must never throw, crash or
// read out of bounds, and must return one of the Format enumerators.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "geometry/formats/format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const s3d::Format f = s3d::detect_format(std::span<const uint8_t>(data, size));
  if (static_cast<int>(f) > static_cast<int>(s3d::kLastFormat)) std::abort();
  if (s3d::format_name(f) == "unknown" && f != s3d::Format::kUnknown) std::abort();
  return 0;
}
