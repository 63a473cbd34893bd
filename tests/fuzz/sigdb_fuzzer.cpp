// libFuzzer target for the signature database reader (signatures/database.h): a database ships in
// printers and comes from operators, so a hostile file must end in DbError, never a crash. Each
// input is read as it is, and again resealed (its checksum recomputed, as an attacker who knows the
// format would), so that mutations reach the field checks behind the checksum. What the reader
// accepts must serialise again and read back with the same entries.
#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "signatures/database.h"

namespace {

void check(std::span<const uint8_t> bytes) {
  try {
    const s3d::SignatureDb db = s3d::SignatureDb::from_bytes(bytes);
    s3d::DbContents c = s3d::load_contents(db);
    const std::vector<uint8_t> again = s3d::serialize_database(c);
    const s3d::SignatureDb back = s3d::SignatureDb::from_bytes(again);
    if (back.size() != db.size()) std::abort();
    for (size_t i = 0; i < db.size(); ++i)
      if (back.id(i) != db.id(i) || back.get(i).meta.listed != db.get(i).meta.listed ||
          back.points(i).size() != db.points(i).size())
        std::abort();
  } catch (const s3d::DbError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check({data, size});
  if (size < sizeof(s3d::DbHeader)) return 0;
  std::vector<uint8_t> b(data, data + size);
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, b.data(), offsetof(s3d::DbHeader, checksum));
  crypto_hash_sha256_update(&st, b.data() + sizeof(s3d::DbHeader), b.size() - sizeof(s3d::DbHeader));
  crypto_hash_sha256_final(&st, b.data() + offsetof(s3d::DbHeader, checksum));
  check(b);
  return 0;
}
