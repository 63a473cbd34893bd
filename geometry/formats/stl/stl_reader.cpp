// PLACEHOLDER: being written.
#include "geometry/formats/reader.h"
#include "geometry/load_error.h"
namespace s3d::formats {
namespace stl_binary { int probe(std::span<const uint8_t>) { return 0; }
Mesh read(std::span<const uint8_t>, const ReadOptions&) { throw LoadError(ErrorCode::kUnsupported, "not yet"); } }
namespace stl_ascii { int probe(std::span<const uint8_t>) { return 0; }
Mesh read(std::span<const uint8_t>, const ReadOptions&) { throw LoadError(ErrorCode::kUnsupported, "not yet"); } }
}
