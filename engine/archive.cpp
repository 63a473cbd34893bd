#include "engine/archive.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <optional>
#include <vector>

namespace s3d {

namespace {

// The member name of a file compressed whole: the archive's name without its compression suffix.
std::string raw_member_name(std::string_view name) {
  const size_t slash = name.find_last_of("/\\");
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  for (std::string_view suffix : {".gz", ".bz2", ".xz", ".zst", ".GZ", ".BZ2", ".XZ", ".ZST"})
    if (name.size() > suffix.size() && name.ends_with(suffix)) return std::string(name.substr(0, name.size() - suffix.size()));
  return "data";
}

}  // namespace

std::string for_each_archive_member(std::span<const uint8_t> data, const Limits& limits,
                                    const std::function<void(const ArchiveMember&)>& fn, Format format,
                                    std::string_view name) {
  std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), &archive_read_free);
  if (!a) return "out of memory opening archive";
  // Only the readers the detected format needs: each one libarchive enables is more parser exposed
  // to hostile bytes. A compressed file may hold a tar, or be one file compressed (raw).
  const bool compressed = format == Format::kGzip || format == Format::kBzip2 || format == Format::kXz || format == Format::kZstd;
  switch (format) {
    case Format::k7z: archive_read_support_format_7zip(a.get()); break;
    case Format::kRar:
      archive_read_support_format_rar(a.get());
      archive_read_support_format_rar5(a.get());
      break;
    case Format::kTar: archive_read_support_format_tar(a.get()); break;
    case Format::kGzip: archive_read_support_filter_gzip(a.get()); break;
    case Format::kBzip2: archive_read_support_filter_bzip2(a.get()); break;
    case Format::kXz: archive_read_support_filter_xz(a.get()); break;
    case Format::kZstd: archive_read_support_filter_zstd(a.get()); break;
    default: archive_read_support_format_zip(a.get()); break;
  }
  if (compressed) {
    archive_read_support_format_tar(a.get());
    archive_read_support_format_raw(a.get());
  }
  archive_read_support_filter_none(a.get());
  const std::string kind = format == Format::kZip ? std::string("archive") : std::string(format_name(format)) + " archive";
  auto why = [&]() -> std::string {
    const char* e = archive_error_string(a.get());
    return e && *e ? e : "libarchive gives no reason";
  };
  if (archive_read_open_memory(a.get(), data.data(), data.size()) != ARCHIVE_OK)
    return "cannot open " + kind + ": " + why();
  uint64_t total = 0;
  uint32_t entries = 0;
  std::vector<uint8_t> buf;
  for (;;) {
    archive_entry* e = nullptr;
    const int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
      return "corrupt " + kind + ": " + why();
    if (++entries > limits.max_archive_entries)
      return "archive has more than " + std::to_string(limits.max_archive_entries) +
             " entries (max_archive_entries limit)";
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    ArchiveMember m;
    m.name = archive_format(a.get()) == ARCHIVE_FORMAT_RAW ? raw_member_name(name)
             : archive_entry_pathname(e)                   ? archive_entry_pathname(e)
                                                           : "?";
    buf.clear();
    // --max-seconds bounds reading each member too (a member that inflates slowly, or hugely, within
    // the size limits), checked per chunk; the members after it are still read.
    const StopToken clock = stop_token(limits);
    // Read in bounded chunks, counting real bytes (declared sizes can lie).
    uint8_t chunk[1 << 16];
    bool failed = false;
    for (;;) {
      try {
        clock.check();
        if (limits.stop) limits.stop->check();
      } catch (const LoadError& e) {
        m.error = std::string(e.what()) + " while decompressing it";
        failed = true;
        break;
      }
      const la_ssize_t n = archive_read_data(a.get(), chunk, sizeof chunk);
      if (n == 0) break;
      if (n < 0) {
        m.error = "cannot decompress member: " + why();
        failed = true;
        break;
      }
      total += static_cast<uint64_t>(n);
      if (total > limits.max_decompressed_bytes) {
        m.error = "decompressed size exceeds the max_decompressed_bytes limit of " + std::to_string(limits.max_decompressed_bytes);
        fn(m);
        return "archive decompresses to more than " + std::to_string(limits.max_decompressed_bytes) +
               " bytes (max_decompressed_bytes limit)";
      }
      if (buf.size() + static_cast<size_t>(n) > limits.max_input_bytes) {
        m.error = "member exceeds the max_input_bytes limit";
        failed = true;
        break;
      }
      buf.insert(buf.end(), chunk, chunk + n);
    }
    if (!failed) m.bytes = std::span<const uint8_t>(buf.data(), buf.size());
    fn(m);
    if (failed && m.error.rfind("cannot decompress", 0) == 0) return "corrupt " + kind + ": " + m.error;
  }
  return {};
}

void scan_expanding_archives(const Engine& engine, std::span<const uint8_t> bytes, const std::string& name,
                             std::vector<ScanResult>& out, uint32_t depth) {
  const Format f = detect_format(bytes);
  if (!is_archive_format(f)) {
    out.push_back(engine.scan_bytes(bytes, name));
    return;
  }
  if (depth >= engine.settings().limits.max_nesting) {
    out.push_back(unscreened_result(name, Verdict::kError,
                                    "archive nested deeper than the max_nesting limit of " +
                                        std::to_string(engine.settings().limits.max_nesting),
                                    f));
    return;
  }
  if (std::optional<ScanResult> listed = engine.scan_listed_container(bytes, name, f)) out.push_back(std::move(*listed));
  const size_t before = out.size();
  const std::string err = for_each_archive_member(bytes, engine.settings().limits, [&](const ArchiveMember& m) {
    const std::string member = name + "!/" + m.name;
    if (!m.error.empty())
      out.push_back(unscreened_result(member, Verdict::kError, m.error));
    else
      scan_expanding_archives(engine, m.bytes, member, out, depth + 1);
  }, f, name);
  if (!err.empty()) out.push_back(unscreened_result(name, Verdict::kError, err, f));
  else if (out.size() == before) out.push_back(unscreened_result(name, Verdict::kSkipped, "archive holds no files", f));
}

}  // namespace s3d
