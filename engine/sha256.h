#pragma once
// SHA-256 of a byte span (OpenSSL's libcrypto: see sha256.cpp for why). Inputs are identified by the hash of their exact bytes in
// every report and in the signature database.
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace s3d {

// Thread-safe. Throws std::runtime_error only if libcrypto fails.
std::array<uint8_t, 32> sha256(std::span<const uint8_t> data);

// Lower-case hex, 64 characters.
std::string sha256_hex(std::span<const uint8_t> data);
std::string to_hex(std::span<const uint8_t> bytes);

// Incremental SHA-256 for streamed input (the same digest as sha256() over the concatenation).
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  void update(std::span<const uint8_t> data);
  std::string final_hex();  // once; update() after it is not allowed

 private:
  struct State;
  std::unique_ptr<State> st_;
};

}  // namespace s3d
