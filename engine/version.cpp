#include "engine/version.h"

namespace s3d {
const char* engine_version() { return S3D_VERSION; }
}  // namespace s3d
