#pragma once
// Version of the engine and of the signature format it reads.
namespace s3d {
const char* engine_version();
}  // namespace s3d
