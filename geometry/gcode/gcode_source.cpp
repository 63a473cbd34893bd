#include "geometry/gcode/gcode_source.h"

#include <zip.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <string>
#include <vector>

#include "geometry/gcode/bgcode.h"
#include "geometry/load_error.h"

namespace s3d::gcode {

namespace {

constexpr size_t kChunk = 1u << 20;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iends_with(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i)
    if (lower(s[s.size() - suffix.size() + i]) != suffix[i]) return false;
  return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (lower(s[i]) != prefix[i]) return false;
  return true;
}

// Plate number of "Metadata/plate_<N>.gcode" (leading '/' allowed), or -1.
int64_t plate_number(std::string_view name) {
  while (!name.empty() && name.front() == '/') name.remove_prefix(1);
  constexpr std::string_view kPrefix = "metadata/plate_";
  if (!istarts_with(name, kPrefix) || !iends_with(name, ".gcode")) return -1;
  const std::string_view digits = name.substr(kPrefix.size(), name.size() - kPrefix.size() - 6);
  int64_t n = -1;
  const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (r.ec != std::errc() || r.ptr != digits.data() + digits.size() || n < 0) return -1;
  return n;
}

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
struct ZipFileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

void stream_plain(std::span<const uint8_t> data, const std::function<void(std::string_view)>& out) {
  const auto* p = reinterpret_cast<const char*>(data.data());
  for (size_t off = 0; off < data.size(); off += kChunk)
    out(std::string_view(p + off, std::min(kChunk, data.size() - off)));
}

void stream_bgcode(std::span<const uint8_t> data, const Limits& limits,
                   const std::function<void(std::string_view)>& out) {
  BgcodeDecoder dec(out, limits);
  for (size_t off = 0; off < data.size(); off += kChunk) dec.feed(data.subspan(off, std::min(kChunk, data.size() - off)));
  dec.finish();
}

void stream_gcode_3mf(std::span<const uint8_t> data, const Limits& limits,
                      const std::function<void(std::string_view)>& out,
                      const std::function<void(std::string_view)>& on_part) {
  zip_error_t zerr;
  zip_error_init(&zerr);
  zip_source_t* src = zip_source_buffer_create(data.data(), data.size(), 0, &zerr);
  if (src == nullptr) {
    const std::string why = zip_error_strerror(&zerr);
    zip_error_fini(&zerr);
    throw LoadError(ErrorCode::kMalformed, "not a readable zip archive: " + why);
  }
  zip_t* raw = zip_open_from_source(src, ZIP_RDONLY, &zerr);
  if (raw == nullptr) {
    const std::string why = zip_error_strerror(&zerr);
    zip_source_free(src);
    zip_error_fini(&zerr);
    throw LoadError(ErrorCode::kMalformed, "not a readable zip archive: " + why);
  }
  zip_error_fini(&zerr);
  std::unique_ptr<zip_t, ZipCloser> za(raw);

  const zip_int64_t n = zip_get_num_entries(za.get(), 0);
  if (n < 0) throw LoadError(ErrorCode::kMalformed, "zip archive has an unreadable central directory");
  if (static_cast<uint64_t>(n) > limits.max_archive_entries)
    throw LoadError(ErrorCode::kLimitExceeded, "archive has " + std::to_string(n) + " entries, more than the limit of " +
                                                   std::to_string(limits.max_archive_entries) + " (max_archive_entries)");
  struct Member {
    int64_t plate;  // -1 for other *.gcode members
    std::string name;
    zip_uint64_t index;
  };
  std::vector<Member> members;
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* name = zip_get_name(za.get(), static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
    if (name == nullptr || !iends_with(name, ".gcode")) continue;
    members.push_back({plate_number(name), name, static_cast<zip_uint64_t>(i)});
  }
  if (members.empty()) throw LoadError(ErrorCode::kMalformed, "zip archive holds no *.gcode member");
  std::sort(members.begin(), members.end(), [](const Member& a, const Member& b) {
    const bool pa = a.plate >= 0, pb = b.plate >= 0;
    if (pa != pb) return pa;
    if (pa && a.plate != b.plate) return a.plate < b.plate;
    return a.name < b.name;
  });

  std::vector<char> buf(kChunk);
  uint64_t used = 0;
  for (const Member& m : members) {
    if (on_part) on_part(m.name);
    std::unique_ptr<zip_file_t, ZipFileCloser> f(zip_fopen_index(za.get(), m.index, 0));
    if (!f) throw LoadError(ErrorCode::kMalformed, "cannot open archive member " + m.name + ": " + zip_strerror(za.get()));
    for (;;) {
      const zip_int64_t got = zip_fread(f.get(), buf.data(), buf.size());
      if (got < 0)
        throw LoadError(ErrorCode::kMalformed, "cannot read archive member " + m.name + ": " + zip_file_strerror(f.get()));
      if (got == 0) break;
      used += static_cast<uint64_t>(got);
      if (used > limits.max_decompressed_bytes)
        throw LoadError(ErrorCode::kLimitExceeded, "archive member " + m.name + " decompresses past the limit of " +
                                                       std::to_string(limits.max_decompressed_bytes) +
                                                       " bytes (max_decompressed_bytes)");
      out(std::string_view(buf.data(), static_cast<size_t>(got)));
    }
  }
}

}  // namespace

void stream_gcode_text(std::span<const uint8_t> data, Format f, const Limits& limits,
                       const std::function<void(std::string_view)>& out,
                       const std::function<void(std::string_view)>& on_part) {
  switch (f) {
    case Format::kGcode:
      if (on_part) on_part("");
      return stream_plain(data, out);
    case Format::kBgcode:
      if (on_part) on_part("");
      return stream_bgcode(data, limits, out);
    case Format::kGcode3mf:
      return stream_gcode_3mf(data, limits, out, on_part);
    default:
      throw LoadError(ErrorCode::kUnsupported,
                      "no G-code in format " + std::string(format_name(f)));
  }
}

}  // namespace s3d::gcode
