#pragma once
// Detect-and-read in one call: bytes in, format and mesh out. Throws LoadError.
#include <span>

#include "geometry/formats/format.h"
#include "geometry/formats/reader.h"
#include "geometry/mesh.h"

namespace s3d {

struct LoadedModel {
  Format format = Format::kUnknown;
  Mesh mesh;
};

// Detects the format by content and reads it. Non-mesh formats (G-code, plain zip, unknown) throw
// LoadError(kUnsupported) naming the detected format; callers that handle them check first.
LoadedModel load_model(std::span<const uint8_t> data, const ReadOptions& opt);

}  // namespace s3d
