#pragma once
// The signature database file: one versioned, self-checking file that a matcher memory-maps and uses
// without parsing (YARA's compiled rules, Hyperscan's serialized database). Building and editing a
// database (write_database, DbContents) is separate from reading it (SignatureDb), so firmware that
// only matches needs the reader alone.
//
// Layout (all integers little-endian, every section 8-byte aligned, nothing between sections):
//   DbHeader      128 bytes  magic "S3DSIGDB", version, sizes, section offsets, next-id counter, SHA-256
//   EntryRecord   entry_count x 384 bytes, fixed-size POD, strings referenced by offset
//   QuantizedPoint point_count x 16 bytes; entry i owns a contiguous run, runs in entry order
//   string table  NUL-terminated UTF-8 strings (id, label, added_by, tool_version of each entry)
// The checksum is SHA-256 over the header bytes before the checksum field and every byte after the
// header. The file holds no mesh connectivity and no raw coordinates: only quantized sample points
// (<= kMaxSamplePoints per entry), descriptors and metadata. A reader validates every field
// (SignatureDb::open), so a hostile file yields DbError, never a crash.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "signatures/signature.h"

namespace s3d {

// The newest on-disk format version this build reads and writes. Any change to DbHeader,
// EntryRecord, QuantizedPoint, kDescriptorDims, the descriptor definition or the canonical hashes
// bumps it. Version 2 gave EntryRecord a plain_match byte (reserved, zero, in version 1); this build
// also reads version-1 files, whose entries then have no plain-look-alike score. Version 3 gave it a
// kind byte (listed files by SHA-256, MD5 or SHA-1, reserved and zero before); a database without them is
// still written as version 2, so that builds which read only version 2 keep reading it.
constexpr uint32_t kSignatureFormatVersion = 3;
constexpr uint32_t kShapeOnlyFormatVersion = 2;        // written when no entry is a file hash
constexpr uint32_t kOldestSignatureFormatVersion = 1;  // the oldest this build reads

inline constexpr char kDbMagic[8] = {'S', '3', 'D', 'S', 'I', 'G', 'D', 'B'};

// Every problem with a database file or an edit: one line, suitable after the file name.
class DbError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An edit that would add a reference already present (same file SHA-256, exact hash or pose hash).
class DuplicateError : public DbError {
 public:
  DuplicateError(const std::string& what, std::string existing_id)
      : DbError(what), existing_id_(std::move(existing_id)) {}
  const std::string& existing_id() const { return existing_id_; }

 private:
  std::string existing_id_;
};

struct DbHeader {
  char magic[8];                 // kDbMagic
  uint32_t version;              // kSignatureFormatVersion, or kShapeOnlyFormatVersion
  uint32_t header_size;          // sizeof(DbHeader)
  uint64_t file_size;            // total bytes, this header included
  uint32_t entry_count;
  uint32_t entry_size;           // sizeof(EntryRecord)
  uint64_t next_id;              // next "s-%06d" number; never decreases, so removed ids are not reused
  uint64_t entry_table_offset;   // = header_size
  uint64_t point_table_offset;   // = entry_table_offset + entry_count * entry_size
  uint64_t point_count;          // QuantizedPoint records in the point table
  uint64_t string_table_offset;  // = point_table_offset + point_count * point_size
  uint64_t string_table_size;    // string_table_offset + string_table_size = file_size
  uint32_t point_size;           // sizeof(QuantizedPoint)
  uint32_t checksum_kind;        // 1 = SHA-256
  uint8_t reserved[8];           // zero
  uint8_t checksum[32];
};

struct EntryRecord {
  uint32_t id_offset;            // into the string table
  uint32_t label_offset;
  uint32_t added_by_offset;
  uint32_t tool_version_offset;
  uint8_t category;              // Category
  uint8_t severity;              // 1..10
  uint8_t plain_match;           // Signature::plain_match: 0 = not measured, else 1 + round(254 x score)
                                 // (version 2; zero in version 1)
  uint8_t kind;                  // ListedHash: 0 a shape; 1, 2, 3 a file's SHA-256, MD5 or SHA-1 alone,
                                 //   in sha256's first 32, 16 or 20 bytes (no points, zero hashes and
                                 //   sizes) -- version 3; zero before
  uint8_t reserved0[4];          // zero
  uint8_t sha256[32];            // of the reference file's bytes
  uint64_t exact_hash;           // exact_geometry_hash of the reference
  uint64_t pose_hash;            // pose_invariant_hash of the reference
  int64_t added_at;              // unix seconds
  float descriptor[kDescriptorDims];
  float diag_mm;
  float extents_mm[3];
  float area_mm2;
  float volume_mm3;
  uint64_t point_offset;         // first QuantizedPoint index in the point table
  uint32_t point_count;          // <= kMaxSamplePoints
  uint32_t reserved1;            // zero
};

// EntryRecord::plain_match to Signature::plain_match and back.
inline float decode_plain_match(uint8_t q) { return q == 0 ? -1.0f : static_cast<float>(q - 1) / 254.0f; }
uint8_t encode_plain_match(float score);  // NaN and negative values: 0 (not measured)

static_assert(sizeof(DbHeader) == 128, "DbHeader is part of the file format");
static_assert(sizeof(EntryRecord) == 384, "EntryRecord is part of the file format (check kDescriptorDims)");
static_assert(sizeof(QuantizedPoint) == 16, "QuantizedPoint is part of the file format");

// A read-only, validated database: memory-mapped from a file, or built in memory. Immutable once
// made, so one instance can be shared by any number of scanning threads. Movable, not copyable.
class SignatureDb {
 public:
  // Maps `path` read-only and validates everything (magic, version, sizes, offsets, strings,
  // checksum, point counts, categories, ids). Throws DbError with a one-line reason.
  static SignatureDb open(const std::string& path);
  // Validates and copies `bytes` (e.g. an embedded database or a fuzz input). Throws DbError.
  static SignatureDb from_bytes(std::span<const uint8_t> bytes);
  // In memory, no file: entries without an id get "s-%06d" ids in order. Throws DbError for entries
  // write_database would refuse.
  static SignatureDb from_signatures(std::vector<Signature> signatures);

  SignatureDb(SignatureDb&& other) noexcept;
  SignatureDb& operator=(SignatureDb&& other) noexcept;
  SignatureDb(const SignatureDb&) = delete;
  SignatureDb& operator=(const SignatureDb&) = delete;
  ~SignatureDb();

  size_t size() const { return entry_count_; }
  bool empty() const { return entry_count_ == 0; }
  uint64_t next_id() const;

  // Zero-copy views; i < size().
  const EntryRecord& record(size_t i) const { return entries_[i]; }
  std::span<const QuantizedPoint> points(size_t i) const;
  std::string_view id(size_t i) const { return string_at(entries_[i].id_offset); }
  std::string_view label(size_t i) const { return string_at(entries_[i].label_offset); }
  std::string_view added_by(size_t i) const { return string_at(entries_[i].added_by_offset); }
  std::string_view tool_version(size_t i) const { return string_at(entries_[i].tool_version_offset); }
  Category category(size_t i) const { return static_cast<Category>(entries_[i].category); }
  ShapeDescriptor descriptor(size_t i) const;

  // A full copy of entry i.
  Signature get(size_t i) const;
  // Index of the entry with this id.
  std::optional<size_t> find(std::string_view id) const;

  // The raw file bytes (mapped or owned).
  std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  SignatureDb() = default;
  void validate();  // throws DbError; sets entries_, points_, strings_
  void release();
  std::string_view string_at(uint32_t offset) const;

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  std::vector<uint64_t> owned_;  // backing store when not mapped (uint64_t keeps it 8-byte aligned)
  const EntryRecord* entries_ = nullptr;
  const QuantizedPoint* points_ = nullptr;
  const char* strings_ = nullptr;
  size_t entry_count_ = 0;
};

// The editable form of a database: what `screen3d sig add/remove` load, change and write back.
struct DbContents {
  std::vector<Signature> entries;
  uint64_t next_id = 1;
};

// Materialises every entry of `db`, with its next-id counter.
DbContents load_contents(const SignatureDb& db);
// Loads `path` if it exists, else returns an empty DbContents. Throws DbError for a bad file.
DbContents load_contents_or_empty(const std::string& path);

// "s-000042" for 42.
std::string format_signature_id(uint64_t number);

// Appends `sig` under a new id (which it returns) and advances next_id. Throws DuplicateError when an
// entry has the same sha256, exact_hash or pose_hash (naming the existing id), DbError when the
// entry is invalid (too many points, bad severity, ...). The caller's id field is ignored.
std::string add_signature(DbContents& db, Signature sig);
// The same for many at once, in order, each checked against the database and the ones added before
// it (hash indexes keep this linear: hash lists run to many entries). Per signature: its new id, or
// why it was not added (`duplicate_of`: the existing id, for a duplicate).
struct AddOutcome {
  std::string id;
  std::string error;
  std::string duplicate_of;
};
std::vector<AddOutcome> add_signatures(DbContents& db, std::vector<Signature> sigs);
// Removes the entry `id`; throws DbError("unknown signature id ...") when absent.
void remove_signature(DbContents& db, const std::string& id);

// Serialises `db` into the file format. Throws DbError for an entry with more than kMaxSamplePoints
// points, an invalid category or severity, a missing/duplicate/malformed id, NaN/Inf values or a
// string holding NUL, and for a next_id not above every id.
std::vector<uint8_t> serialize_database(const DbContents& db);
// Writes atomically: a temporary file in the same directory, fsync, rename over `path`, fsync of
// the directory. Either the old or the new database is visible, never a partial one.
void write_database(const std::string& path, const DbContents& db);
// Convenience: entries without an id get new ids; next_id = 1 + the highest id.
void write_database(const std::string& path, const std::vector<Signature>& signatures);

}  // namespace s3d
