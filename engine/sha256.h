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

// SHA-256, and MD5 and SHA-1 when asked: the digests hash lists of known files use (examiners'
// hash sets are often MD5 or SHA-1). Lower-case hex; md5 and sha1 empty when not asked.
struct Digests {
  std::string sha256, md5, sha1;
};
class DigestStream {
 public:
  explicit DigestStream(bool md5_and_sha1);
  ~DigestStream();
  void update(std::span<const uint8_t> data);
  Digests final_hex();  // once

 private:
  Sha256Stream sha256_;
  struct Extra;
  std::unique_ptr<Extra> extra_;  // null unless md5_and_sha1
};
Digests digests_hex(std::span<const uint8_t> data, bool md5_and_sha1);

}  // namespace s3d
