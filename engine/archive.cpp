#include "engine/archive.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <optional>
#include <vector>

namespace s3d {

std::string for_each_archive_member(std::span<const uint8_t> data, const Limits& limits,
                                    const std::function<void(const ArchiveMember&)>& fn) {
  std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), &archive_read_free);
  if (!a) return "out of memory opening archive";
  archive_read_support_format_zip(a.get());
  archive_read_support_filter_none(a.get());
  if (archive_read_open_memory(a.get(), data.data(), data.size()) != ARCHIVE_OK)
    return std::string("cannot open archive: ") + (archive_error_string(a.get()) ? archive_error_string(a.get()) : "unknown");
  uint64_t total = 0;
  uint32_t entries = 0;
  std::vector<uint8_t> buf;
  for (;;) {
    archive_entry* e = nullptr;
    const int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
      return std::string("corrupt archive: ") + (archive_error_string(a.get()) ? archive_error_string(a.get()) : "unknown");
    if (++entries > limits.max_archive_entries)
      return "archive has more than " + std::to_string(limits.max_archive_entries) +
             " entries (max_archive_entries limit)";
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    ArchiveMember m;
    m.name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "?";
    buf.clear();
    // Read in bounded chunks, counting real bytes (declared sizes can lie).
    uint8_t chunk[1 << 16];
    bool failed = false;
    for (;;) {
      const la_ssize_t n = archive_read_data(a.get(), chunk, sizeof chunk);
      if (n == 0) break;
      if (n < 0) {
        m.error = std::string("cannot decompress member: ") + (archive_error_string(a.get()) ? archive_error_string(a.get()) : "unknown");
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
    if (failed && m.error.rfind("cannot decompress", 0) == 0) return "corrupt archive: " + m.error;
  }
  return {};
}

void scan_expanding_archives(const Engine& engine, std::span<const uint8_t> bytes, const std::string& name,
                             std::vector<ScanResult>& out, uint32_t depth) {
  const Format f = detect_format(bytes);
  if (f != Format::kZip) {
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
  });
  if (!err.empty()) out.push_back(unscreened_result(name, Verdict::kError, err, f));
  else if (out.size() == before) out.push_back(unscreened_result(name, Verdict::kSkipped, "archive holds no files", f));
}

}  // namespace s3d
