#include "geometry/formats/format.h"
namespace s3d {
Format detect_format(std::span<const uint8_t>) { return Format::kUnknown; }  // PLACEHOLDER: being written
}
