// PLACEHOLDER: removed once each reader folder exists.
#include "geometry/formats/reader.h"
#include "geometry/load_error.h"
namespace s3d::formats {
#define S3D_READER(ns, fmt) namespace ns { \
  int probe(std::span<const uint8_t>) { return 0; } \
  Mesh read(std::span<const uint8_t>, const ReadOptions&) { throw LoadError(ErrorCode::kUnsupported, "not yet"); } }
#include "geometry/formats/format_list.h"
#undef S3D_READER
}
