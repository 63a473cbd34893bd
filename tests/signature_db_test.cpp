// The signature database file: round trip, validation of hostile files, editing, and the
// non-blueprint property (a database never holds enough to rebuild a reference part).
#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "geometry/canonical_hash.h"
#include "geometry/mesh.h"
#include "signatures/build_signature.h"
#include "signatures/database.h"

namespace s3d {
namespace {

namespace fs = std::filesystem;
constexpr double kPi = 3.14159265358979323846;

// A dense closed torus with vertices off any grid (irrational radii, odd offset).
Mesh dense_torus(int nu, int nv, double big_r = 23.71, double small_r = 7.33) {
  Mesh m;
  for (int i = 0; i < nu; ++i)
    for (int j = 0; j < nv; ++j) {
      const double u = 2 * kPi * (i + 0.37) / nu, v = 2 * kPi * (j + 0.11) / nv;
      m.vertices.push_back({static_cast<float>((big_r + small_r * std::cos(v)) * std::cos(u) + 0.1234),
                            static_cast<float>((big_r + small_r * std::cos(v)) * std::sin(u) + 4.5678),
                            static_cast<float>(small_r * std::sin(v) + 8.9123)});
    }
  auto idx = [&](int i, int j) { return static_cast<uint32_t>((i % nu) * nv + (j % nv)); };
  for (int i = 0; i < nu; ++i)
    for (int j = 0; j < nv; ++j) {
      m.triangles.push_back({idx(i, j), idx(i + 1, j), idx(i + 1, j + 1)});
      m.triangles.push_back({idx(i, j), idx(i + 1, j + 1), idx(i, j + 1)});
    }
  return m;
}

// A hand-made signature (no mesh needed), distinct per `k`.
Signature fake_signature(int k, size_t points = 5) {
  Signature s;
  s.meta.label = "part-" + std::to_string(k);
  s.meta.category = static_cast<Category>(k % 4);
  s.meta.severity = static_cast<uint8_t>(1 + k % 10);
  for (size_t i = 0; i < 32; ++i) s.meta.sha256[i] = static_cast<uint8_t>(k * 31 + i + 1);
  s.meta.exact_hash = 0x1000 + k;
  s.meta.pose_hash = 0x2000 + k;
  s.meta.added_by = "tester";
  s.meta.added_at = 1700000000 + k;
  s.meta.tool_version = "0.1.0";
  for (int i = 0; i < kDescriptorDims; ++i) s.descriptor.v[i] = 0.01f * (i + k);
  s.diag_mm = 50.5f + k;
  s.extents_mm = {40.0f + k, 25.0f, 10.0f};
  s.area_mm2 = 1234.5f;
  s.volume_mm3 = 6789.25f;
  for (size_t i = 0; i < points; ++i)
    s.points.push_back({{int32_t(i) - 7, -int32_t(i) * 3, int32_t(k)}, {127, -127, 0}, static_cast<uint8_t>(i * 17)});
  return s;
}

std::string temp_dir(const std::string& name) {
  const fs::path d = fs::path(::testing::TempDir()) / ("s3d_sigdb_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_all(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// Recomputes the checksum, as an attacker who knows the format would.
void reseal(std::vector<uint8_t>& b) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, b.data(), offsetof(DbHeader, checksum));
  crypto_hash_sha256_update(&st, b.data() + sizeof(DbHeader), b.size() - sizeof(DbHeader));
  crypto_hash_sha256_final(&st, b.data() + offsetof(DbHeader, checksum));
}

std::string open_error(const std::vector<uint8_t>& bytes) {
  try {
    SignatureDb::from_bytes(bytes);
  } catch (const DbError& e) {
    return e.what();
  }
  return "";
}

void expect_same(const Signature& a, const Signature& b) {
  EXPECT_EQ(a.meta.id, b.meta.id);
  EXPECT_EQ(a.meta.label, b.meta.label);
  EXPECT_EQ(a.meta.category, b.meta.category);
  EXPECT_EQ(a.meta.severity, b.meta.severity);
  EXPECT_EQ(a.meta.sha256, b.meta.sha256);
  EXPECT_EQ(a.meta.exact_hash, b.meta.exact_hash);
  EXPECT_EQ(a.meta.pose_hash, b.meta.pose_hash);
  EXPECT_EQ(a.meta.added_by, b.meta.added_by);
  EXPECT_EQ(a.meta.added_at, b.meta.added_at);
  EXPECT_EQ(a.meta.tool_version, b.meta.tool_version);
  EXPECT_EQ(a.descriptor.v, b.descriptor.v);
  EXPECT_EQ(a.diag_mm, b.diag_mm);
  EXPECT_EQ(a.extents_mm, b.extents_mm);
  EXPECT_EQ(a.area_mm2, b.area_mm2);
  EXPECT_EQ(a.volume_mm3, b.volume_mm3);
  EXPECT_EQ(a.plain_match < 0, b.plain_match < 0);
  if (a.plain_match >= 0) {
    EXPECT_NEAR(a.plain_match, b.plain_match, 0.5 / 254);
  }
  ASSERT_EQ(a.points.size(), b.points.size());
  for (size_t i = 0; i < a.points.size(); ++i) {
    EXPECT_EQ(a.points[i].q, b.points[i].q);
    EXPECT_EQ(a.points[i].n, b.points[i].n);
    EXPECT_EQ(a.points[i].weight, b.points[i].weight);
  }
}

std::vector<uint8_t> small_db_bytes() {
  DbContents c;
  add_signature(c, fake_signature(1, 3));
  add_signature(c, fake_signature(2, 4));
  return serialize_database(c);
}

TEST(SignatureDb, RoundTripThroughFileAndMemory) {
  const std::string dir = temp_dir("roundtrip");
  const std::string path = dir + "/refs.s3db";
  std::vector<Signature> sigs = {fake_signature(1), fake_signature(2, 0), fake_signature(3, kMaxSamplePoints)};
  sigs[1].meta.label = "ünïcode label with spaces";
  sigs[0].plain_match = 0.9634f;  // measured; the others are not (-1)
  write_database(path, sigs);

  const SignatureDb db = SignatureDb::open(path);
  ASSERT_EQ(db.size(), 3u);
  EXPECT_EQ(db.next_id(), 4u);
  const SignatureDb mem = SignatureDb::from_signatures(sigs);
  ASSERT_EQ(mem.size(), 3u);
  for (size_t i = 0; i < sigs.size(); ++i) {
    sigs[i].meta.id = format_signature_id(i + 1);
    expect_same(db.get(i), sigs[i]);
    expect_same(mem.get(i), sigs[i]);
    EXPECT_EQ(db.id(i), sigs[i].meta.id);
    EXPECT_EQ(db.label(i), sigs[i].meta.label);
    EXPECT_EQ(db.points(i).size(), sigs[i].points.size());
    EXPECT_EQ(db.record(i).pose_hash, sigs[i].meta.pose_hash);
  }
  EXPECT_EQ(db.find("s-000002"), std::optional<size_t>(1));
  EXPECT_EQ(db.find("s-000009"), std::nullopt);
  // Identical content serialises identically (in memory and on disk).
  EXPECT_TRUE(std::equal(db.bytes().begin(), db.bytes().end(), mem.bytes().begin(), mem.bytes().end()));

  // Moving keeps the views valid.
  SignatureDb moved = SignatureDb::open(path);
  SignatureDb other = std::move(moved);
  EXPECT_EQ(other.id(2), "s-000003");
  EXPECT_EQ(other.points(2).size(), kMaxSamplePoints);

  // An empty database is valid.
  write_database(path, DbContents{});
  EXPECT_EQ(SignatureDb::open(path).size(), 0u);
}

TEST(SignatureDb, BrokenFilesGiveClearErrors) {
  const std::vector<uint8_t> good = small_db_bytes();
  EXPECT_EQ(open_error(good), "");

  std::vector<uint8_t> flipped = good;
  flipped[sizeof(DbHeader) + 2 * sizeof(EntryRecord) + 5] ^= 0x40;  // inside the point table
  EXPECT_EQ(open_error(flipped), "checksum mismatch");
  flipped = good;
  flipped[offsetof(DbHeader, next_id)] ^= 0x01;  // the header is covered too
  EXPECT_EQ(open_error(flipped), "checksum mismatch");

  std::vector<uint8_t> truncated(good.begin(), good.end() - 20);
  EXPECT_EQ(open_error(truncated),
            "truncated: expected " + std::to_string(good.size()) + " bytes, file has " + std::to_string(good.size() - 20));
  EXPECT_EQ(open_error({good.begin(), good.begin() + 50}), "truncated: expected 128 bytes, file has 50");

  std::vector<uint8_t> magic = good;
  magic[0] = 'X';
  EXPECT_EQ(open_error(magic), "not a screen3d signature database");
  EXPECT_EQ(open_error({'s', 'o', 'l', 'i', 'd', ' ', 'x'}), "not a screen3d signature database");
  EXPECT_EQ(open_error({}), "not a screen3d signature database");

  std::vector<uint8_t> version = good;
  version[offsetof(DbHeader, version)] = 4;
  EXPECT_EQ(open_error(version), "unsupported format version 4 (this build reads 1 to 3)");
  version[offsetof(DbHeader, version)] = 0;
  EXPECT_EQ(open_error(version), "unsupported format version 0 (this build reads 1 to 3)");
  version[offsetof(DbHeader, version)] = 4;

  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  EXPECT_NE(open_error(longer).find("trailing data"), std::string::npos);

  const std::string dir = temp_dir("broken");
  write_all(dir + "/v4.s3db", version);
  try {
    SignatureDb::open(dir + "/v4.s3db");
    ADD_FAILURE() << "opened a version-4 file";
  } catch (const DbError& e) {
    EXPECT_STREQ(e.what(), "unsupported format version 4 (this build reads 1 to 3)");
  }
  EXPECT_THROW(SignatureDb::open(dir + "/missing.s3db"), DbError);
  EXPECT_THROW(SignatureDb::open(dir), DbError);  // a directory
}

// Version-1 files (before plain_match) are still read: their entries have no plain-look-alike score.
// In them the byte was reserved, so a version-1 file with it set is refused.
TEST(SignatureDb, ReadsVersionOneFiles) {
  DbContents c;
  add_signature(c, fake_signature(1, 3));
  Signature measured = fake_signature(2, 4);
  measured.plain_match = 0.5f;
  add_signature(c, measured);
  std::vector<uint8_t> b = serialize_database(c);
  ASSERT_EQ(SignatureDb::from_bytes(b).get(1).plain_match, 127.0f / 254.0f);
  auto* h = reinterpret_cast<DbHeader*>(b.data());
  EXPECT_EQ(h->version, 2u);
  auto* e1 = reinterpret_cast<EntryRecord*>(b.data() + sizeof(DbHeader) + sizeof(EntryRecord));
  EXPECT_EQ(e1->plain_match, 128);  // 1 + round(254 x 0.5)
  h->version = 1;
  reseal(b);
  EXPECT_EQ(open_error(b), "entry s-000002: reserved bytes are not zero");
  e1->plain_match = 0;
  reseal(b);
  const SignatureDb old = SignatureDb::from_bytes(b);
  ASSERT_EQ(old.size(), 2u);
  EXPECT_LT(old.get(0).plain_match, 0);
  EXPECT_LT(old.get(1).plain_match, 0);
  EXPECT_EQ(old.get(1).meta.pose_hash, measured.meta.pose_hash);
}

// Files with a valid checksum but hostile fields: each must be refused by name.
TEST(SignatureDb, ValidChecksumDoesNotExcuseBadFields) {
  const std::vector<uint8_t> good = small_db_bytes();
  auto patched = [&](auto&& edit) {
    std::vector<uint8_t> b = good;
    edit(b);
    reseal(b);
    return open_error(b);
  };
  auto entry = [](std::vector<uint8_t>& b, size_t i) {
    return reinterpret_cast<EntryRecord*>(b.data() + sizeof(DbHeader) + i * sizeof(EntryRecord));
  };
  auto header = [](std::vector<uint8_t>& b) { return reinterpret_cast<DbHeader*>(b.data()); };
  EXPECT_EQ(patched([&](auto& b) { entry(b, 0)->category = 9; }), "entry s-000001: invalid category 9");
  EXPECT_EQ(patched([&](auto& b) { entry(b, 1)->severity = 0; }),
            "entry s-000002: invalid severity 0 (expected 1..10)");
  EXPECT_EQ(patched([&](auto& b) { entry(b, 1)->label_offset = 1u << 30; }), "entry 1: label string out of bounds");
  EXPECT_EQ(patched([&](auto& b) { entry(b, 1)->id_offset = entry(b, 0)->id_offset; }), "duplicate id s-000001");
  EXPECT_EQ(patched([&](auto& b) { header(b)->next_id = 2; }), "entry 1: id s-000002 not below next id");
  EXPECT_EQ(patched([&](auto& b) { entry(b, 0)->point_count = 4; }),
            "entry s-000002: point range out of order or out of bounds");
  EXPECT_EQ(patched([&](auto& b) { entry(b, 1)->point_count = 9999; }),
            "entry s-000002: 9999 sample points (the limit is 4096)");
  EXPECT_EQ(patched([&](auto& b) { entry(b, 0)->diag_mm = NAN; }), "entry s-000001: non-finite size value");
  EXPECT_EQ(patched([&](auto& b) { entry(b, 0)->reserved1 = 1; }), "entry s-000001: reserved bytes are not zero");
  EXPECT_EQ(patched([&](auto& b) { header(b)->entry_count = 0x7fffffff; }),
            "entry table (2147483647 entries) exceeds the file");
  EXPECT_EQ(patched([&](auto& b) { header(b)->point_count = ~0ull; }),
            "point table (18446744073709551615 points) exceeds the file");
  EXPECT_EQ(patched([&](auto& b) { header(b)->entry_size = 100; }), "bad entry record size 100 (expected 384)");
  // A string table whose last string (entry 1's label) runs off its end.
  EXPECT_EQ(patched([&](auto& b) { std::fill(b.end() - 8, b.end(), 'x'); }), "entry 1: label string out of bounds");
}

// Every single-byte change and every truncation of a small file, resealed or not: the reader either
// accepts it or throws DbError. Never anything else (run under -DS3D_SANITIZE=ON to catch overreads).
Signature listed_file(int k);

void mutate_every_byte(const std::vector<uint8_t>& good) {
  size_t accepted = 0, refused = 0;
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t v : {uint8_t(0x00), uint8_t(0x01), uint8_t(0x7f), uint8_t(0xff), uint8_t(good[i] ^ 0x80)}) {
      std::vector<uint8_t> b = good;
      b[i] = v;
      for (bool seal : {false, true}) {
        if (seal && b.size() >= sizeof(DbHeader)) reseal(b);
        try {
          const SignatureDb db = SignatureDb::from_bytes(b);
          for (size_t k = 0; k < db.size(); ++k) (void)db.get(k);
          ++accepted;
        } catch (const DbError&) {
          ++refused;
        }
      }
    }
  }
  for (size_t n = 0; n < good.size(); ++n) EXPECT_NE(open_error({good.begin(), good.begin() + n}), "");
  EXPECT_GT(refused, 0u);
  EXPECT_GT(accepted, 0u);  // e.g. a changed label byte, resealed, is a valid database
}

// A version-2 file, and a version-3 one with a file-hash entry.
TEST(SignatureDb, ExhaustiveByteMutationsNeverCrash) {
  mutate_every_byte(small_db_bytes());
  DbContents with_listed;
  add_signature(with_listed, fake_signature(1, 2));
  add_signature(with_listed, listed_file(2));
  mutate_every_byte(serialize_database(with_listed));
}

TEST(SignatureDb, EditingAssignsIdsOnceAndRejectsDuplicates) {
  const std::string dir = temp_dir("edit");
  const std::string path = dir + "/db.s3db";
  DbContents c = load_contents_or_empty(path);
  EXPECT_TRUE(c.entries.empty());
  EXPECT_EQ(add_signature(c, fake_signature(1)), "s-000001");
  EXPECT_EQ(add_signature(c, fake_signature(2)), "s-000002");

  Signature same_file = fake_signature(3);
  same_file.meta.sha256 = fake_signature(1).meta.sha256;
  Signature same_geometry = fake_signature(4);
  same_geometry.meta.exact_hash = fake_signature(2).meta.exact_hash;
  Signature same_pose = fake_signature(5);
  same_pose.meta.pose_hash = fake_signature(1).meta.pose_hash;
  try {
    add_signature(c, same_file);
    ADD_FAILURE() << "duplicate accepted";
  } catch (const DuplicateError& e) {
    EXPECT_EQ(e.existing_id(), "s-000001");
    EXPECT_NE(std::string(e.what()).find("s-000001"), std::string::npos);
  }
  EXPECT_THROW(add_signature(c, same_geometry), DuplicateError);
  EXPECT_THROW(add_signature(c, same_pose), DuplicateError);
  EXPECT_THROW(add_signature(c, fake_signature(6, kMaxSamplePoints + 1)), DbError);
  Signature bad_severity = fake_signature(7);
  bad_severity.meta.severity = 11;
  EXPECT_THROW(add_signature(c, bad_severity), DbError);
  EXPECT_EQ(c.entries.size(), 2u);  // refused adds leave the contents unchanged
  EXPECT_EQ(c.next_id, 3u);

  write_database(path, c);
  c = load_contents_or_empty(path);
  remove_signature(c, "s-000002");
  EXPECT_THROW(remove_signature(c, "s-000002"), DbError);
  EXPECT_THROW(remove_signature(c, "s-999999"), DbError);
  write_database(path, c);
  c = load_contents_or_empty(path);
  EXPECT_EQ(add_signature(c, fake_signature(8)), "s-000003");  // s-000002 is never reused
  write_database(path, c);

  const SignatureDb db = SignatureDb::open(path);
  ASSERT_EQ(db.size(), 2u);
  EXPECT_EQ(db.id(0), "s-000001");
  EXPECT_EQ(db.id(1), "s-000003");
  EXPECT_EQ(db.next_id(), 4u);
  // The atomic writer leaves nothing else behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);

  // A file that is not a database is never silently replaced.
  write_all(path, {'h', 'e', 'l', 'l', 'o'});
  EXPECT_THROW(load_contents_or_empty(path), DbError);
}

// A listed file (sig add-hashes): its SHA-256 alone. A database holding one is written as version 3
// (kind byte); one without stays version 2, for readers of version 2. The reader refuses a kind byte
// in an older version, an unknown kind, and a file-hash entry with shape data or without a hash.
Signature listed_file(int k) {
  Signature s;
  s.meta.listed = ListedHash::kSha256;
  s.meta.label = "listed-" + std::to_string(k);
  s.meta.category = Category::kFrame;
  for (size_t i = 0; i < 32; ++i) s.meta.sha256[i] = static_cast<uint8_t>(200 + k + i);
  s.meta.added_by = "tester";
  s.meta.added_at = 1700000000 + k;
  s.meta.tool_version = "0.1.0";
  return s;
}

TEST(SignatureDb, FileHashEntriesAreVersionThreeAndCarryNothingButTheHash) {
  DbContents c;
  add_signature(c, fake_signature(1, 3));
  EXPECT_EQ(reinterpret_cast<const DbHeader*>(serialize_database(c).data())->version, kShapeOnlyFormatVersion);
  EXPECT_EQ(add_signature(c, listed_file(2)), "s-000002");
  std::vector<uint8_t> b = serialize_database(c);
  auto* h = reinterpret_cast<DbHeader*>(b.data());
  EXPECT_EQ(h->version, 3u);
  const SignatureDb db = SignatureDb::from_bytes(b);
  ASSERT_EQ(db.size(), 2u);
  EXPECT_EQ(db.get(0).meta.listed, ListedHash::kNone);
  Signature back = db.get(1);
  EXPECT_EQ(back.meta.listed, ListedHash::kSha256);
  expect_same(back, [] { Signature s = listed_file(2); s.meta.id = "s-000002"; return s; }());
  EXPECT_EQ(db.record(1).kind, 1);
  EXPECT_EQ(db.points(1).size(), 0u);

  auto entry = [](std::vector<uint8_t>& x, size_t i) {
    return reinterpret_cast<EntryRecord*>(x.data() + sizeof(DbHeader) + i * sizeof(EntryRecord));
  };
  auto patched = [&](auto&& edit) {
    std::vector<uint8_t> x = b;
    edit(x);
    reseal(x);
    return open_error(x);
  };
  EXPECT_EQ(patched([](auto& x) { reinterpret_cast<DbHeader*>(x.data())->version = 2; }),
            "entry s-000002: reserved bytes are not zero");
  EXPECT_EQ(patched([&](auto& x) { entry(x, 1)->kind = 4; }), "entry s-000002: invalid kind 4");
  // Read as an MD5 (16 bytes), the SHA-256's other 16 are bytes after the digest.
  EXPECT_EQ(patched([&](auto& x) { entry(x, 1)->kind = 2; }), "entry s-000002: file-hash entry with bytes after its digest");
  EXPECT_EQ(patched([&](auto& x) { entry(x, 0)->kind = 1; }), "entry s-000001: file-hash entry with shape data");
  EXPECT_EQ(patched([&](auto& x) { entry(x, 1)->diag_mm = 3; }), "entry s-000002: file-hash entry with shape data");
  EXPECT_EQ(patched([&](auto& x) { std::fill(std::begin(entry(x, 1)->sha256), std::end(entry(x, 1)->sha256), 0); }),
            "entry s-000002: file-hash entry without a digest");

  // Files listed by MD5 and SHA-1: the digest's bytes, zeros after them.
  Signature md5 = listed_file(5), sha1 = listed_file(6);
  md5.meta.listed = ListedHash::kMd5;
  std::fill(md5.meta.sha256.begin() + 16, md5.meta.sha256.end(), 0);
  sha1.meta.listed = ListedHash::kSha1;
  std::fill(sha1.meta.sha256.begin() + 20, sha1.meta.sha256.end(), 0);
  DbContents d = c;
  add_signature(d, md5);
  add_signature(d, sha1);
  const SignatureDb three = SignatureDb::from_bytes(serialize_database(d));
  EXPECT_EQ(three.get(2).meta.listed, ListedHash::kMd5);
  EXPECT_EQ(three.get(2).meta.sha256, md5.meta.sha256);
  EXPECT_EQ(three.get(3).meta.listed, ListedHash::kSha1);
  Signature long_md5 = listed_file(7);  // 32 bytes under an MD5 kind
  long_md5.meta.listed = ListedHash::kMd5;
  EXPECT_THROW(add_signature(d, long_md5), DbError);

  // The writer refuses the same.
  Signature with_points = listed_file(3);
  with_points.points = fake_signature(3, 2).points;
  EXPECT_THROW(add_signature(c, with_points), DbError);
  Signature no_hash = listed_file(4);
  no_hash.meta.sha256 = {};
  EXPECT_THROW(add_signature(c, no_hash), DbError);
  EXPECT_EQ(c.entries.size(), 2u);
}

// add_signatures: many at once, each against the database and the ones before it; a duplicate names
// the entry it repeats and is not added; ids follow in order.
TEST(SignatureDb, AddingManyReportsEachDuplicateAndKeepsOrder) {
  DbContents c;
  add_signature(c, fake_signature(1));
  std::vector<Signature> batch = {listed_file(1), listed_file(2), listed_file(1), fake_signature(1), listed_file(3)};
  batch[3].meta.sha256 = listed_file(9).meta.sha256;  // same geometry hashes as s-000001, another file
  const std::vector<AddOutcome> r = add_signatures(c, batch);
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[0].id, "s-000002");
  EXPECT_EQ(r[1].id, "s-000003");
  EXPECT_EQ(r[2].id, "");
  EXPECT_EQ(r[2].duplicate_of, "s-000002");
  EXPECT_NE(r[2].error.find("the same file (SHA-256) is already signature s-000002"), std::string::npos) << r[2].error;
  EXPECT_EQ(r[3].duplicate_of, "s-000001");
  EXPECT_NE(r[3].error.find("exact hash"), std::string::npos) << r[3].error;
  EXPECT_EQ(r[4].id, "s-000004");
  EXPECT_EQ(c.entries.size(), 4u);
  EXPECT_EQ(c.next_id, 5u);
  // Ten thousand listed files: linear, not a scan of the database per entry.
  std::vector<Signature> many;
  for (int k = 0; k < 10000; ++k) {
    Signature s = listed_file(0);
    for (size_t i = 0; i < 4; ++i) s.meta.sha256[i] = static_cast<uint8_t>(k >> (8 * i));
    s.meta.sha256[31] = 7;
    many.push_back(std::move(s));
  }
  many.push_back(many[17]);
  const std::vector<AddOutcome> m = add_signatures(c, std::move(many));
  EXPECT_EQ(m[10000].duplicate_of, m[17].id);
  EXPECT_EQ(c.entries.size(), 10004u);
  EXPECT_EQ(SignatureDb::from_signatures(c.entries).size(), 10004u);
}

TEST(SignatureDb, WriterRefusesOversizedAndMalformedEntries) {
  const std::string path = temp_dir("refuse") + "/db.s3db";
  EXPECT_THROW(write_database(path, {fake_signature(1, kMaxSamplePoints + 1)}), DbError);
  Signature nan = fake_signature(2);
  nan.descriptor.v[3] = NAN;
  EXPECT_THROW(write_database(path, {nan}), DbError);
  Signature nul = fake_signature(3);
  nul.meta.label = std::string("a\0b", 3);
  EXPECT_THROW(write_database(path, {nul}), DbError);
  Signature bad_id = fake_signature(4);
  bad_id.meta.id = "s-12";
  EXPECT_THROW(write_database(path, {bad_id}), DbError);
  EXPECT_THROW(SignatureDb::from_signatures({fake_signature(5, kMaxSamplePoints + 1)}), DbError);
  EXPECT_FALSE(fs::exists(path));
}

// The non-blueprint property, on a real signature built from a dense mesh.
TEST(SignatureDb, DatabaseIsNotABlueprint) {
  const Mesh mesh = dense_torus(400, 200);  // 160,000 triangles, 80,000 vertices
  ASSERT_EQ(mesh.triangles.size(), 160000u);
  Signature sig = build_signature(mesh);
  sig.meta.label = "dense torus";
  sig.meta.severity = 5;
  sig.meta.exact_hash = exact_geometry_hash(mesh);
  sig.meta.pose_hash = pose_invariant_hash(mesh);
  Signature sig2 = build_signature(dense_torus(300, 150, 19.37, 5.21));
  sig2.meta.label = "second torus";

  const std::string path = temp_dir("blueprint") + "/db.s3db";
  write_database(path, {sig, sig2});
  const SignatureDb db = SignatureDb::open(path);
  ASSERT_EQ(db.size(), 2u);

  size_t string_bytes = 0;
  for (size_t i = 0; i < db.size(); ++i) {
    const auto pts = db.points(i);
    EXPECT_GT(pts.size(), 0u);
    EXPECT_LE(pts.size(), kMaxSamplePoints);
    for (const QuantizedPoint& p : pts)
      for (int k = 0; k < 3; ++k) {
        // Dequantised coordinates are exact multiples of the quantum, by representation.
        const double mm = static_cast<double>(p.q[k]) * kQuantumMm;
        EXPECT_EQ(mm / kQuantumMm, std::round(mm / kQuantumMm));
        EXPECT_EQ(std::fmod(mm, 0.25), 0.0);
      }
    const Signature s = db.get(i);
    string_bytes += s.meta.id.size() + s.meta.label.size() + s.meta.added_by.size() + s.meta.tool_version.size() + 4;
  }
  // No connectivity: the size is accounted for by records, capped samples and strings.
  const size_t bound = sizeof(DbHeader) + db.size() * (sizeof(EntryRecord) + kMaxSamplePoints * sizeof(QuantizedPoint)) +
                       string_bytes + 8;
  const std::vector<uint8_t> file = read_all(path);
  EXPECT_LE(file.size(), bound);
  EXPECT_LT(file.size(), mesh.triangles.size() * 12);  // far below even the index list alone

  // No original coordinates: search for the float32 bit patterns of vertices, whole and per coordinate.
  auto contains = [&](const void* pattern, size_t n) {
    const auto* p = static_cast<const uint8_t*>(pattern);
    return std::search(file.begin(), file.end(), p, p + n) != file.end();
  };
  std::unordered_set<std::string_view> windows;  // every 12-byte window of the file, at any offset
  const std::string_view text(reinterpret_cast<const char*>(file.data()), file.size());
  for (size_t i = 0; i + sizeof(Vec3f) <= file.size(); ++i) windows.insert(text.substr(i, sizeof(Vec3f)));
  size_t whole_hits = 0;
  for (const Vec3f& v : mesh.vertices)
    whole_hits += windows.count(std::string_view(reinterpret_cast<const char*>(v.data()), sizeof(Vec3f)));
  EXPECT_EQ(whole_hits, 0u);
  for (size_t i = 0; i < mesh.vertices.size(); i += 8017)
    for (float c : mesh.vertices[i]) EXPECT_FALSE(contains(&c, sizeof c)) << "vertex " << i << " coordinate " << c;
}

}  // namespace
}  // namespace s3d
