// PLACEHOLDER: being written.
#include "geometry/formats/reader.h"
#include "geometry/load_error.h"
namespace s3d::formats {
namespace obj { int probe(std::span<const uint8_t>) { return 0; }
Mesh read(std::span<const uint8_t>, const ReadOptions&) { throw LoadError(ErrorCode::kUnsupported, "not yet"); } }
namespace ply { int probe(std::span<const uint8_t>) { return 0; }
Mesh read(std::span<const uint8_t>, const ReadOptions&) { throw LoadError(ErrorCode::kUnsupported, "not yet"); } }
namespace off { int probe(std::span<const uint8_t>) { return 0; }
Mesh read(std::span<const uint8_t>, const ReadOptions&) { throw LoadError(ErrorCode::kUnsupported, "not yet"); } }
namespace amf { int probe(std::span<const uint8_t>) { return 0; }
Mesh read(std::span<const uint8_t>, const ReadOptions&) { throw LoadError(ErrorCode::kUnsupported, "not yet"); } }
}
