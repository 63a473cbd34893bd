#include "signatures/database.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>
#include <type_traits>
#include <unordered_map>
#include <utility>

namespace s3d {

static_assert(std::endian::native == std::endian::little,
              "the database is read in place and stored little-endian; a big-endian build needs byte swapping");
static_assert(std::is_trivially_copyable_v<DbHeader> && std::is_standard_layout_v<DbHeader>);
static_assert(std::is_trivially_copyable_v<EntryRecord> && std::is_standard_layout_v<EntryRecord>);
static_assert(std::is_trivially_copyable_v<QuantizedPoint> && std::is_standard_layout_v<QuantizedPoint>);
static_assert(offsetof(DbHeader, checksum) == 96);
static_assert(offsetof(EntryRecord, sha256) == 24 && offsetof(EntryRecord, descriptor) == 80);
static_assert(offsetof(EntryRecord, point_offset) == 368);
static_assert(offsetof(QuantizedPoint, n) == 12 && offsetof(QuantizedPoint, weight) == 15);
static_assert(alignof(EntryRecord) <= 8 && alignof(QuantizedPoint) <= 8);

namespace {

constexpr uint32_t kChecksumSha256 = 1;
constexpr size_t kChecksumOffset = offsetof(DbHeader, checksum);

std::string str(uint64_t v) { return std::to_string(v); }

void sha256_of_file(const uint8_t* data, size_t size, uint8_t out[32]) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, data, kChecksumOffset);
  crypto_hash_sha256_update(&st, data + sizeof(DbHeader), size - sizeof(DbHeader));
  crypto_hash_sha256_final(&st, out);
}

bool all_zero(const uint8_t* p, size_t n) {
  return std::all_of(p, p + n, [](uint8_t b) { return b == 0; });
}

// "s-" followed by at least six digits; returns the number.
std::optional<uint64_t> parse_id(std::string_view id) {
  if (id.size() < 8 || id.size() > 22 || id[0] != 's' || id[1] != '-') return std::nullopt;
  uint64_t v = 0;
  for (char c : id.substr(2)) {
    if (c < '0' || c > '9') return std::nullopt;
    if (v > (std::numeric_limits<uint64_t>::max() - 9) / 10) return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  // One spelling per number: no superfluous leading zeros beyond the six-digit width.
  if (format_signature_id(v) != id) return std::nullopt;
  return v;
}

bool valid_category(uint8_t c) { return c <= static_cast<uint8_t>(Category::kOther); }
bool valid_severity(uint8_t s) { return s >= 1 && s <= 10; }

bool all_finite(const float* p, size_t n) {
  return std::all_of(p, p + n, [](float f) { return std::isfinite(f); });
}

// Checks shared by the writer and the reader, on the numeric fields of one entry.
std::optional<std::string> check_values(uint8_t category, uint8_t severity, const float* descriptor, float diag,
                                        const float* extents, float area, float volume, uint64_t points) {
  if (!valid_category(category)) return "invalid category " + str(category);
  if (!valid_severity(severity)) return "invalid severity " + str(severity) + " (expected 1..10)";
  if (points > kMaxSamplePoints)
    return str(points) + " sample points (the limit is " + str(kMaxSamplePoints) + ")";
  if (!all_finite(descriptor, kDescriptorDims)) return "non-finite descriptor value";
  const float sizes[] = {diag, extents[0], extents[1], extents[2], area, volume};
  if (!all_finite(sizes, 6)) return "non-finite size value";
  if (diag < 0 || extents[0] < 0 || extents[1] < 0 || extents[2] < 0 || area < 0) return "negative size value";
  return std::nullopt;
}

// A listed file (kind 1-3: ListedHash) carries its digest and nothing else, zeros after the
// digest's bytes; a shape entry (kind 0) is checked by check_values alone.
std::optional<std::string> check_kind(uint8_t kind, const uint8_t* sha256, uint64_t points, uint64_t exact,
                                      uint64_t pose, const float* descriptor, float diag, const float* extents,
                                      float area, float volume, uint8_t plain_match) {
  if (kind > 3) return "invalid kind " + str(kind);
  if (kind == 0) return std::nullopt;
  const size_t n = listed_hash_bytes(static_cast<ListedHash>(kind));
  if (all_zero(sha256, n)) return "file-hash entry without a digest";
  if (!all_zero(sha256 + n, 32 - n)) return "file-hash entry with bytes after its digest";
  bool empty = points == 0 && exact == 0 && pose == 0 && plain_match == 0 && diag == 0 && area == 0 && volume == 0;
  for (int k = 0; k < 3; ++k) empty &= extents[k] == 0;
  for (size_t k = 0; k < kDescriptorDims; ++k) empty &= descriptor[k] == 0;
  if (!empty) return "file-hash entry with shape data";
  return std::nullopt;
}

std::string errno_text() { return std::strerror(errno); }

}  // namespace

std::string format_signature_id(uint64_t number) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "s-%06llu", static_cast<unsigned long long>(number));
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Reading

SignatureDb::SignatureDb(SignatureDb&& o) noexcept { *this = std::move(o); }

SignatureDb& SignatureDb::operator=(SignatureDb&& o) noexcept {
  if (this != &o) {
    release();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    mapped_ = std::exchange(o.mapped_, false);
    owned_ = std::move(o.owned_);  // moving a vector keeps its buffer, so the pointers stay valid
    entries_ = std::exchange(o.entries_, nullptr);
    points_ = std::exchange(o.points_, nullptr);
    strings_ = std::exchange(o.strings_, nullptr);
    entry_count_ = std::exchange(o.entry_count_, 0);
  }
  return *this;
}

SignatureDb::~SignatureDb() { release(); }

void SignatureDb::release() {
  if (mapped_ && data_) munmap(const_cast<uint8_t*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
  mapped_ = false;
  owned_.clear();
  entries_ = nullptr;
  points_ = nullptr;
  strings_ = nullptr;
  entry_count_ = 0;
}

SignatureDb SignatureDb::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw DbError("cannot open: " + errno_text());
  struct stat st{};
  if (fstat(fd, &st) != 0) {
    const std::string why = errno_text();
    ::close(fd);
    throw DbError("cannot stat: " + why);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw DbError("not a regular file");
  }
  SignatureDb db;
  db.size_ = static_cast<size_t>(st.st_size);
  if (db.size_ == 0) {
    ::close(fd);
    throw DbError("not a screen3d signature database (empty file)");
  }
  void* p = mmap(nullptr, db.size_, PROT_READ, MAP_PRIVATE, fd, 0);
  const std::string why = p == MAP_FAILED ? errno_text() : std::string();
  ::close(fd);
  if (p == MAP_FAILED) throw DbError("cannot map: " + why);
  db.data_ = static_cast<const uint8_t*>(p);
  db.mapped_ = true;
  db.validate();  // on throw, db's destructor unmaps
  return db;
}

SignatureDb SignatureDb::from_bytes(std::span<const uint8_t> bytes) {
  SignatureDb db;
  db.owned_.resize((bytes.size() + 7) / 8);
  if (!bytes.empty()) std::memcpy(db.owned_.data(), bytes.data(), bytes.size());
  db.data_ = reinterpret_cast<const uint8_t*>(db.owned_.data());
  db.size_ = bytes.size();
  db.validate();
  return db;
}

SignatureDb SignatureDb::from_signatures(std::vector<Signature> signatures) {
  DbContents c;
  for (auto& s : signatures) {
    if (auto n = parse_id(s.meta.id)) c.next_id = std::max(c.next_id, *n + 1);
  }
  for (auto& s : signatures) {
    if (s.meta.id.empty()) s.meta.id = format_signature_id(c.next_id++);
  }
  c.entries = std::move(signatures);
  return from_bytes(serialize_database(c));
}

void SignatureDb::validate() {
  if (size_ < sizeof(kDbMagic) || std::memcmp(data_, kDbMagic, sizeof(kDbMagic)) != 0)
    throw DbError("not a screen3d signature database");
  if (size_ < sizeof(DbHeader))
    throw DbError("truncated: expected " + str(sizeof(DbHeader)) + " bytes, file has " + str(size_));
  DbHeader h;
  std::memcpy(&h, data_, sizeof h);
  if (h.version < kOldestSignatureFormatVersion || h.version > kSignatureFormatVersion)
    throw DbError("unsupported format version " + str(h.version) + " (this build reads " +
                  str(kOldestSignatureFormatVersion) + " to " + str(kSignatureFormatVersion) + ")");
  if (h.header_size != sizeof(DbHeader))
    throw DbError("bad header size " + str(h.header_size) + " (expected " + str(sizeof(DbHeader)) + ")");
  if (h.file_size > size_)
    throw DbError("truncated: expected " + str(h.file_size) + " bytes, file has " + str(size_));
  if (h.file_size < size_)
    throw DbError("trailing data: expected " + str(h.file_size) + " bytes, file has " + str(size_));
  if (h.entry_size != sizeof(EntryRecord))
    throw DbError("bad entry record size " + str(h.entry_size) + " (expected " + str(sizeof(EntryRecord)) + ")");
  if (h.point_size != sizeof(QuantizedPoint))
    throw DbError("bad point record size " + str(h.point_size) + " (expected " + str(sizeof(QuantizedPoint)) + ")");
  if (h.checksum_kind != kChecksumSha256) throw DbError("unknown checksum kind " + str(h.checksum_kind));
  if (!all_zero(h.reserved, sizeof h.reserved)) throw DbError("reserved header bytes are not zero");

  // The sections follow each other with no gaps; each size is bounded by the file before multiplying.
  if (h.entry_table_offset != sizeof(DbHeader))
    throw DbError("bad entry table offset " + str(h.entry_table_offset));
  const uint64_t room = size_ - sizeof(DbHeader);
  if (h.entry_count > room / sizeof(EntryRecord))
    throw DbError("entry table (" + str(h.entry_count) + " entries) exceeds the file");
  const uint64_t points_at = h.entry_table_offset + uint64_t(h.entry_count) * sizeof(EntryRecord);
  if (h.point_table_offset != points_at) throw DbError("bad point table offset " + str(h.point_table_offset));
  if (h.point_count > (size_ - points_at) / sizeof(QuantizedPoint))
    throw DbError("point table (" + str(h.point_count) + " points) exceeds the file");
  const uint64_t strings_at = points_at + h.point_count * sizeof(QuantizedPoint);
  if (h.string_table_offset != strings_at) throw DbError("bad string table offset " + str(h.string_table_offset));
  if (h.string_table_size != size_ - strings_at || h.string_table_size > std::numeric_limits<uint32_t>::max())
    throw DbError("bad string table size " + str(h.string_table_size));

  uint8_t sum[32];
  sha256_of_file(data_, size_, sum);
  if (std::memcmp(sum, h.checksum, sizeof sum) != 0) throw DbError("checksum mismatch");

  // A checksum only catches accidents; a crafted file can carry a valid one, so check every entry.
  entries_ = reinterpret_cast<const EntryRecord*>(data_ + h.entry_table_offset);
  points_ = reinterpret_cast<const QuantizedPoint*>(data_ + h.point_table_offset);
  strings_ = reinterpret_cast<const char*>(data_ + h.string_table_offset);
  const uint64_t string_bytes = h.string_table_size;
  auto check_string = [&](size_t i, uint32_t off, const char* what) {
    if (off >= string_bytes || std::memchr(strings_ + off, 0, string_bytes - off) == nullptr)
      throw DbError("entry " + str(i) + ": " + what + " string out of bounds");
  };
  std::set<uint64_t> ids;
  uint64_t next_point = 0;
  for (size_t i = 0; i < h.entry_count; ++i) {
    const EntryRecord& e = entries_[i];
    check_string(i, e.id_offset, "id");
    check_string(i, e.label_offset, "label");
    check_string(i, e.added_by_offset, "added_by");
    check_string(i, e.tool_version_offset, "tool_version");
    const std::string_view id(strings_ + e.id_offset);
    const auto number = parse_id(id);
    if (!number) throw DbError("entry " + str(i) + ": malformed id");
    if (*number >= h.next_id) throw DbError("entry " + str(i) + ": id " + std::string(id) + " not below next id");
    if (!ids.insert(*number).second) throw DbError("duplicate id " + std::string(id));
    if (auto bad = check_values(e.category, e.severity, e.descriptor, e.diag_mm, e.extents_mm, e.area_mm2,
                                e.volume_mm3, e.point_count))
      throw DbError("entry " + std::string(id) + ": " + *bad);
    if (!all_zero(e.reserved0, sizeof e.reserved0) || e.reserved1 != 0 || (h.version < 2 && e.plain_match != 0) ||
        (h.version < 3 && e.kind != 0))
      throw DbError("entry " + std::string(id) + ": reserved bytes are not zero");
    if (auto bad = check_kind(e.kind, e.sha256, e.point_count, e.exact_hash, e.pose_hash, e.descriptor, e.diag_mm,
                              e.extents_mm, e.area_mm2, e.volume_mm3, e.plain_match))
      throw DbError("entry " + std::string(id) + ": " + *bad);
    if (e.point_offset != next_point)
      throw DbError("entry " + std::string(id) + ": point range out of order or out of bounds");
    next_point += e.point_count;
    if (next_point > h.point_count) throw DbError("entry " + std::string(id) + ": point range out of bounds");
  }
  if (next_point != h.point_count)
    throw DbError("point table holds " + str(h.point_count) + " points, entries use " + str(next_point));
  entry_count_ = h.entry_count;
}

uint8_t encode_plain_match(float score) {
  if (!(score >= 0)) return 0;
  return static_cast<uint8_t>(1 + std::lround(254.0 * std::min(1.0, double(score))));
}

uint64_t SignatureDb::next_id() const {
  if (data_ == nullptr) return 1;  // moved-from
  DbHeader h;
  std::memcpy(&h, data_, sizeof h);
  return h.next_id;
}

std::string_view SignatureDb::string_at(uint32_t offset) const { return std::string_view(strings_ + offset); }

std::span<const QuantizedPoint> SignatureDb::points(size_t i) const {
  return {points_ + entries_[i].point_offset, entries_[i].point_count};
}

ShapeDescriptor SignatureDb::descriptor(size_t i) const {
  ShapeDescriptor d;
  std::copy(std::begin(entries_[i].descriptor), std::end(entries_[i].descriptor), d.v.begin());
  return d;
}

Signature SignatureDb::get(size_t i) const {
  const EntryRecord& e = entries_[i];
  Signature s;
  s.meta.id = std::string(string_at(e.id_offset));
  s.meta.label = std::string(string_at(e.label_offset));
  s.meta.category = static_cast<Category>(e.category);
  s.meta.severity = e.severity;
  std::copy(std::begin(e.sha256), std::end(e.sha256), s.meta.sha256.begin());
  s.meta.exact_hash = e.exact_hash;
  s.meta.pose_hash = e.pose_hash;
  s.meta.added_by = std::string(string_at(e.added_by_offset));
  s.meta.added_at = e.added_at;
  s.meta.tool_version = std::string(string_at(e.tool_version_offset));
  s.meta.listed = static_cast<ListedHash>(e.kind);
  s.descriptor = descriptor(i);
  s.diag_mm = e.diag_mm;
  std::copy(std::begin(e.extents_mm), std::end(e.extents_mm), s.extents_mm.begin());
  s.area_mm2 = e.area_mm2;
  s.volume_mm3 = e.volume_mm3;
  s.plain_match = decode_plain_match(e.plain_match);
  const auto pts = points(i);
  s.points.assign(pts.begin(), pts.end());
  return s;
}

std::optional<size_t> SignatureDb::find(std::string_view id) const {
  for (size_t i = 0; i < entry_count_; ++i)
    if (this->id(i) == id) return i;
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Editing

DbContents load_contents(const SignatureDb& db) {
  DbContents c;
  c.next_id = db.next_id();
  c.entries.reserve(db.size());
  for (size_t i = 0; i < db.size(); ++i) c.entries.push_back(db.get(i));
  return c;
}

DbContents load_contents_or_empty(const std::string& path) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0 && errno == ENOENT) return DbContents{};
  return load_contents(SignatureDb::open(path));
}

std::vector<AddOutcome> add_signatures(DbContents& db, std::vector<Signature> sigs) {
  static const std::array<uint8_t, 32> kNoSha{};
  struct ShaHash {
    size_t operator()(const std::array<uint8_t, 32>& a) const {
      uint64_t h;
      std::memcpy(&h, a.data(), sizeof h);
      return static_cast<size_t>(h);
    }
  };
  // The first entry with each hash, as a scan of the entries in order would find it.
  std::unordered_map<std::array<uint8_t, 32>, size_t, ShaHash> by_sha;
  std::unordered_map<uint64_t, size_t> by_exact, by_pose;
  auto index = [&](size_t i) {
    const SignatureMeta& m = db.entries[i].meta;
    if (m.sha256 != kNoSha) by_sha.emplace(m.sha256, i);
    if (m.exact_hash != 0) by_exact.emplace(m.exact_hash, i);
    if (m.pose_hash != 0) by_pose.emplace(m.pose_hash, i);
  };
  for (size_t i = 0; i < db.entries.size(); ++i) index(i);
  std::vector<AddOutcome> out(sigs.size());
  for (size_t k = 0; k < sigs.size(); ++k) {
    Signature& sig = sigs[k];
    const char* same = nullptr;
    size_t at = 0;
    if (auto it = by_sha.find(sig.meta.sha256); sig.meta.sha256 != kNoSha && it != by_sha.end()) {
      same = "the same file (SHA-256)";
      at = it->second;
    } else if (auto ex = by_exact.find(sig.meta.exact_hash); sig.meta.exact_hash != 0 && ex != by_exact.end()) {
      same = "the same geometry (exact hash)";
      at = ex->second;
    } else if (auto po = by_pose.find(sig.meta.pose_hash); sig.meta.pose_hash != 0 && po != by_pose.end()) {
      same = "the same geometry in another pose (pose hash)";
      at = po->second;
    }
    if (same) {
      const SignatureMeta& e = db.entries[at].meta;
      out[k].duplicate_of = e.id;
      out[k].error = "duplicate reference: " + std::string(same) + " is already signature " + e.id + " (" + e.label + ")";
      continue;
    }
    if (db.next_id == 0) db.next_id = 1;
    sig.meta.id = format_signature_id(db.next_id);
    // Validate before committing the edit, so a refused entry leaves `db` unchanged.
    DbContents probe;
    probe.next_id = db.next_id + 1;
    probe.entries.push_back(sig);
    try {
      (void)serialize_database(probe);
    } catch (const DbError& e) {
      out[k].error = e.what();
      continue;
    }
    ++db.next_id;
    db.entries.push_back(std::move(sig));
    index(db.entries.size() - 1);
    out[k].id = db.entries.back().meta.id;
  }
  return out;
}

std::string add_signature(DbContents& db, Signature sig) {
  std::vector<Signature> one;
  one.push_back(std::move(sig));
  AddOutcome r = std::move(add_signatures(db, std::move(one)).front());
  if (!r.duplicate_of.empty()) throw DuplicateError(r.error, r.duplicate_of);
  if (r.id.empty()) throw DbError(r.error);
  return r.id;
}

void remove_signature(DbContents& db, const std::string& id) {
  auto it = std::find_if(db.entries.begin(), db.entries.end(), [&](const Signature& s) { return s.meta.id == id; });
  if (it == db.entries.end()) throw DbError("unknown signature id " + id);
  db.entries.erase(it);
}

// ---------------------------------------------------------------------------------------------
// Writing

std::vector<uint8_t> serialize_database(const DbContents& db) {
  const size_t n = db.entries.size();
  if (n > std::numeric_limits<uint32_t>::max()) throw DbError("too many entries");
  std::vector<EntryRecord> records(n);
  std::string strings;
  std::unordered_map<std::string, uint32_t> interned;
  auto intern = [&](const std::string& s, const std::string& who, const char* what) -> uint32_t {
    if (s.find('\0') != std::string::npos) throw DbError("entry " + who + ": " + what + " holds a NUL byte");
    auto it = interned.find(s);
    if (it != interned.end()) return it->second;
    if (strings.size() + s.size() + 1 > std::numeric_limits<uint32_t>::max()) throw DbError("string table too large");
    const auto off = static_cast<uint32_t>(strings.size());
    strings.append(s);
    strings.push_back('\0');
    interned.emplace(s, off);
    return off;
  };

  std::set<uint64_t> ids;
  uint64_t total_points = 0;
  bool any_file_hash = false;
  for (size_t i = 0; i < n; ++i) {
    const Signature& s = db.entries[i];
    std::string who = s.meta.id;
    if (who.empty()) who.append("#").append(str(i));  // (not "#" + str(i): gcc 12 -Wrestrict false positive)
    const auto number = parse_id(s.meta.id);
    if (!number) throw DbError("entry " + who + ": missing or malformed id (expected s-NNNNNN)");
    if (*number >= db.next_id) throw DbError("entry " + who + ": id not below next id " + str(db.next_id));
    if (!ids.insert(*number).second) throw DbError("duplicate id " + s.meta.id);
    const uint8_t category = static_cast<uint8_t>(s.meta.category);
    if (auto bad = check_values(category, s.meta.severity, s.descriptor.v.data(), s.diag_mm, s.extents_mm.data(),
                                s.area_mm2, s.volume_mm3, s.points.size()))
      throw DbError("entry " + who + ": " + *bad);

    EntryRecord& e = records[i];
    std::memset(&e, 0, sizeof e);
    e.id_offset = intern(s.meta.id, who, "id");
    e.label_offset = intern(s.meta.label, who, "label");
    e.added_by_offset = intern(s.meta.added_by, who, "added_by");
    e.tool_version_offset = intern(s.meta.tool_version, who, "tool_version");
    e.category = category;
    e.severity = s.meta.severity;
    std::copy(s.meta.sha256.begin(), s.meta.sha256.end(), e.sha256);
    e.exact_hash = s.meta.exact_hash;
    e.pose_hash = s.meta.pose_hash;
    e.added_at = s.meta.added_at;
    std::copy(s.descriptor.v.begin(), s.descriptor.v.end(), e.descriptor);
    e.diag_mm = s.diag_mm;
    std::copy(s.extents_mm.begin(), s.extents_mm.end(), e.extents_mm);
    e.area_mm2 = s.area_mm2;
    e.volume_mm3 = s.volume_mm3;
    e.plain_match = encode_plain_match(s.plain_match);
    e.point_offset = total_points;
    e.point_count = static_cast<uint32_t>(s.points.size());
    total_points += s.points.size();
    e.kind = static_cast<uint8_t>(s.meta.listed);
    any_file_hash |= s.meta.listed != ListedHash::kNone;
    if (auto bad = check_kind(e.kind, e.sha256, e.point_count, e.exact_hash, e.pose_hash, e.descriptor, e.diag_mm,
                              e.extents_mm, e.area_mm2, e.volume_mm3, e.plain_match))
      throw DbError("entry " + who + ": " + *bad);
  }

  DbHeader h;
  std::memset(&h, 0, sizeof h);
  std::memcpy(h.magic, kDbMagic, sizeof kDbMagic);
  h.version = any_file_hash ? kSignatureFormatVersion : kShapeOnlyFormatVersion;
  h.header_size = sizeof(DbHeader);
  h.entry_count = static_cast<uint32_t>(n);
  h.entry_size = sizeof(EntryRecord);
  h.next_id = db.next_id;
  h.entry_table_offset = sizeof(DbHeader);
  h.point_table_offset = h.entry_table_offset + n * sizeof(EntryRecord);
  h.point_count = total_points;
  h.point_size = sizeof(QuantizedPoint);
  h.string_table_offset = h.point_table_offset + total_points * sizeof(QuantizedPoint);
  // Pad the string table to a multiple of 8 so the whole file keeps 8-byte granularity.
  while (strings.size() % 8 != 0) strings.push_back('\0');
  h.string_table_size = strings.size();
  h.file_size = h.string_table_offset + h.string_table_size;
  h.checksum_kind = kChecksumSha256;

  std::vector<uint8_t> out(h.file_size);
  std::memcpy(out.data(), &h, sizeof h);
  if (n) std::memcpy(out.data() + h.entry_table_offset, records.data(), n * sizeof(EntryRecord));
  uint8_t* p = out.data() + h.point_table_offset;
  for (const Signature& s : db.entries) {
    for (const QuantizedPoint& q : s.points) {
      // Field by field, so padding (there is none, but the struct is not ours) never leaks memory.
      std::memcpy(p, q.q.data(), 12);
      std::memcpy(p + 12, q.n.data(), 3);
      p[15] = q.weight;
      p += sizeof(QuantizedPoint);
    }
  }
  if (!strings.empty()) std::memcpy(out.data() + h.string_table_offset, strings.data(), strings.size());
  sha256_of_file(out.data(), out.size(), out.data() + kChecksumOffset);
  return out;
}

void write_database(const std::string& path, const DbContents& db) {
  const std::vector<uint8_t> bytes = serialize_database(db);
  namespace fs = std::filesystem;
  const fs::path target(path);
  fs::path dir = target.parent_path();
  if (dir.empty()) dir = ".";
  std::string tmpl = (dir / ("." + target.filename().string() + ".tmp.XXXXXX")).string();
  const int fd = mkstemp(tmpl.data());
  if (fd < 0) throw DbError("cannot create a temporary file in " + dir.string() + ": " + errno_text());
  auto fail = [&](const std::string& what) {
    const std::string why = errno_text();
    ::close(fd);
    ::unlink(tmpl.c_str());
    throw DbError(what + ": " + why);
  };
  // Keep the permissions of the database being replaced; a new one gets rw-r--r--.
  struct stat st{};
  const mode_t mode = (::stat(path.c_str(), &st) == 0) ? (st.st_mode & 07777) : 0644;
  if (fchmod(fd, mode) != 0) fail("cannot set permissions");
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("cannot write");
    }
    done += static_cast<size_t>(w);
  }
  if (fsync(fd) != 0) fail("cannot sync");
  if (::close(fd) != 0) {
    const std::string why = errno_text();
    ::unlink(tmpl.c_str());
    throw DbError("cannot close: " + why);
  }
  if (std::rename(tmpl.c_str(), path.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(tmpl.c_str());
    throw DbError("cannot replace: " + why);
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)fsync(dfd);  // best effort: the rename is done; some filesystems refuse fsync on directories
    ::close(dfd);
  }
}

void write_database(const std::string& path, const std::vector<Signature>& signatures) {
  DbContents c;
  c.entries = signatures;
  for (const auto& s : c.entries)
    if (auto n = parse_id(s.meta.id)) c.next_id = std::max(c.next_id, *n + 1);
  for (auto& s : c.entries)
    if (s.meta.id.empty()) s.meta.id = format_signature_id(c.next_id++);
  write_database(path, c);
}

}  // namespace s3d
