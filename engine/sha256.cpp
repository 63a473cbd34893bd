#include "engine/sha256.h"

#include <sodium.h>

#include <stdexcept>

namespace s3d {
namespace {

void ensure_sodium() {
  // A function-local static is initialised exactly once, even with concurrent first calls.
  static const bool ok = sodium_init() >= 0;
  if (!ok) throw std::runtime_error("libsodium failed to initialise");
}

}  // namespace

std::array<uint8_t, 32> sha256(std::span<const uint8_t> data) {
  ensure_sodium();
  static_assert(crypto_hash_sha256_BYTES == 32);
  std::array<uint8_t, 32> out{};
  crypto_hash_sha256(out.data(), data.data(), static_cast<unsigned long long>(data.size()));
  return out;
}

std::string to_hex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(bytes.size() * 2, '0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    s[2 * i] = kDigits[bytes[i] >> 4];
    s[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return s;
}

std::string sha256_hex(std::span<const uint8_t> data) {
  const auto h = sha256(data);
  return to_hex(h);
}

struct Sha256Stream::State {
  crypto_hash_sha256_state h;
};

Sha256Stream::Sha256Stream() : st_(std::make_unique<State>()) {
  ensure_sodium();
  crypto_hash_sha256_init(&st_->h);
}
Sha256Stream::~Sha256Stream() = default;

void Sha256Stream::update(std::span<const uint8_t> data) {
  crypto_hash_sha256_update(&st_->h, data.data(), static_cast<unsigned long long>(data.size()));
}

std::string Sha256Stream::final_hex() {
  std::array<uint8_t, 32> out{};
  crypto_hash_sha256_final(&st_->h, out.data());
  return to_hex(out);
}

}  // namespace s3d
