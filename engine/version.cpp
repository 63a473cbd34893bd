#include "engine/version.h"

#include "signatures/database.h"

namespace s3d {

const char* engine_version() { return S3D_VERSION; }

uint32_t signature_format_version() { return kSignatureFormatVersion; }

std::string version_line() {
  return std::string("screen3d ") + engine_version() + " (signature format " +
         std::to_string(signature_format_version()) + ")";
}

}  // namespace s3d
