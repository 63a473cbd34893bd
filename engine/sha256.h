#pragma once
// SHA-256 of a byte span (libsodium). Inputs are identified by the hash of their exact bytes in
// every report and in the signature database.
#include <array>
#include <cstdint>
#include <span>
#include <string>

namespace s3d {

// Thread-safe (libsodium is initialised once, on first use). Throws std::runtime_error only if
// libsodium cannot initialise.
std::array<uint8_t, 32> sha256(std::span<const uint8_t> data);

// Lower-case hex, 64 characters.
std::string sha256_hex(std::span<const uint8_t> data);
std::string to_hex(std::span<const uint8_t> bytes);

}  // namespace s3d
