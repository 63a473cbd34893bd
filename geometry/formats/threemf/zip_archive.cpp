#include "geometry/formats/threemf/zip_archive.h"

#include <zip.h>

#include <algorithm>
#include <cstring>
#include <strings.h>

#include "geometry/load_error.h"

namespace s3d::formats::threemf {

namespace {

constexpr uint64_t kReadChunk = 1u << 20;
// Deflate cannot expand by more than about 1032:1; used only to cap a reserve() hint.
constexpr uint64_t kMaxDeflateRatio = 1032;

zip_t* open_zip(std::span<const uint8_t> data, std::string* error) {
  zip_error_t zerr;
  zip_error_init(&zerr);
  zip_source_t* src = zip_source_buffer_create(data.data(), data.size(), 0, &zerr);
  if (src == nullptr) {
    if (error) *error = zip_error_strerror(&zerr);
    zip_error_fini(&zerr);
    return nullptr;
  }
  zip_t* za = zip_open_from_source(src, ZIP_RDONLY, &zerr);
  if (za == nullptr) {
    if (error) *error = zip_error_strerror(&zerr);
    zip_source_free(src);
  }
  zip_error_fini(&zerr);
  return za;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace

struct ZipArchive::Impl {
  zip_t* za = nullptr;
};

ZipArchive::ZipArchive(std::span<const uint8_t> data, const Limits& limits)
    : impl_(std::make_unique<Impl>()), limits_(limits) {
  std::string error;
  impl_->za = open_zip(data, &error);
  if (impl_->za == nullptr) throw LoadError(ErrorCode::kMalformed, "not a readable zip archive: " + error);
  // A throwing constructor never runs the destructor: release the archive before throwing.
  auto fail = [&](ErrorCode code, const std::string& why) {
    zip_discard(impl_->za);
    impl_->za = nullptr;
    throw LoadError(code, why);
  };
  const zip_int64_t n = zip_get_num_entries(impl_->za, 0);
  if (n < 0) fail(ErrorCode::kMalformed, "zip archive has an unreadable central directory");
  if (static_cast<uint64_t>(n) > limits_.max_archive_entries)
    fail(ErrorCode::kLimitExceeded, "archive has " + std::to_string(n) + " entries, more than the limit of " +
                                        std::to_string(limits_.max_archive_entries) + " (max_archive_entries)");
}

ZipArchive::~ZipArchive() {
  if (impl_ && impl_->za) zip_discard(impl_->za);
}

uint64_t ZipArchive::entry_count() const {
  const zip_int64_t n = zip_get_num_entries(impl_->za, 0);
  return n < 0 ? 0 : static_cast<uint64_t>(n);
}

std::string ZipArchive::entry_name(uint64_t index) const {
  const char* name = zip_get_name(impl_->za, index, ZIP_FL_ENC_RAW);
  return name ? std::string(name) : std::string();
}

std::optional<uint64_t> ZipArchive::find(const std::string& name) const {
  std::string n = name;
  while (!n.empty() && n.front() == '/') n.erase(n.begin());
  if (n.empty()) return std::nullopt;
  zip_int64_t idx = zip_name_locate(impl_->za, n.c_str(), ZIP_FL_NOCASE | ZIP_FL_ENC_RAW);
  if (idx < 0 && n.find('%') != std::string::npos) {
    const std::string decoded = percent_decode(n);
    idx = zip_name_locate(impl_->za, decoded.c_str(), ZIP_FL_NOCASE | ZIP_FL_ENC_RAW);
  }
  if (idx < 0) return std::nullopt;
  return static_cast<uint64_t>(idx);
}

std::vector<char> ZipArchive::read(uint64_t index) {
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(impl_->za, index, 0, &st) != 0)
    throw LoadError(ErrorCode::kMalformed, "cannot stat archive member " + std::to_string(index));
  const std::string name = (st.valid & ZIP_STAT_NAME) && st.name ? st.name : std::to_string(index);
  const uint64_t budget = limits_.max_decompressed_bytes - std::min(used_, limits_.max_decompressed_bytes);
  const auto over_limit = [&]() {
    return LoadError(ErrorCode::kLimitExceeded,
                     "archive member " + name + " decompresses past the limit of " +
                         std::to_string(limits_.max_decompressed_bytes) + " bytes (max_decompressed_bytes)");
  };
  if ((st.valid & ZIP_STAT_SIZE) && st.size > budget) throw over_limit();

  zip_file_t* f = zip_fopen_index(impl_->za, index, 0);
  if (f == nullptr)
    throw LoadError(ErrorCode::kMalformed, "cannot open archive member " + name + ": " + zip_strerror(impl_->za));
  std::vector<char> out;
  try {
    uint64_t hint = (st.valid & ZIP_STAT_SIZE) ? st.size : 0;
    if (st.valid & ZIP_STAT_COMP_SIZE) hint = std::min<uint64_t>(hint, st.comp_size * kMaxDeflateRatio + 65536);
    out.reserve(static_cast<size_t>(std::min(hint, budget)));
    for (;;) {
      const size_t old = out.size();
      out.resize(old + kReadChunk);
      const zip_int64_t got = zip_fread(f, out.data() + old, kReadChunk);
      if (got < 0)
        throw LoadError(ErrorCode::kMalformed, "cannot read archive member " + name + ": " + zip_file_strerror(f));
      out.resize(old + static_cast<size_t>(got));
      if (got == 0) break;
      if (static_cast<uint64_t>(got) > limits_.max_decompressed_bytes - used_) throw over_limit();
      used_ += static_cast<uint64_t>(got);
    }
  } catch (...) {
    zip_fclose(f);
    throw;
  }
  zip_fclose(f);
  out.shrink_to_fit();
  return out;
}

bool zip_has_model_part(std::span<const uint8_t> data) {
  if (data.size() < 22 || data[0] != 'P' || data[1] != 'K') return false;
  zip_t* za = open_zip(data, nullptr);
  if (za == nullptr) return false;
  bool found = false;
  const zip_int64_t n = zip_get_num_entries(za, 0);
  constexpr zip_int64_t kMaxScanned = 200'000;
  for (zip_int64_t i = 0; i < n && i < kMaxScanned && !found; ++i) {
    const char* name = zip_get_name(za, static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
    if (name == nullptr) continue;
    const size_t len = std::strlen(name);
    found = len > 6 && strncasecmp(name + len - 6, ".model", 6) == 0;
  }
  zip_discard(za);
  return found;
}

}  // namespace s3d::formats::threemf
