#pragma once
// Version of the engine and of the signature format it reads.
#include <cstdint>
#include <string>

namespace s3d {

const char* engine_version();

// The signature database format this build reads: the value of kSignatureFormatVersion in
// signatures/database.h (the one definition; not repeated here so the two cannot drift).
uint32_t signature_format_version();

// "screen3d <version> (signature format <N>)", as printed by `screen3d --version`.
std::string version_line();

}  // namespace s3d
