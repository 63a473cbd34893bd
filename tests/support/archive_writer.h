#pragma once
// Archives written in memory with libarchive, for the tests of archive scanning and carving.
#include <gtest/gtest.h>

#include <archive.h>
#include <archive_entry.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace s3d::test {

using Members = std::vector<std::pair<std::string, std::vector<uint8_t>>>;

// An archive in memory: `setup` picks the format, filters and options on the writer.
inline std::vector<uint8_t> make_archive(const std::function<void(archive*)>& setup, const Members& members) {
  std::vector<uint8_t> out(64u << 20);
  size_t used = 0;
  archive* a = archive_write_new();
  setup(a);
  EXPECT_EQ(archive_write_open_memory(a, out.data(), out.size(), &used), ARCHIVE_OK) << archive_error_string(a);
  for (const auto& [name, bytes] : members) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(bytes.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    EXPECT_EQ(archive_write_header(a, e), ARCHIVE_OK) << archive_error_string(a);
    EXPECT_EQ(archive_write_data(a, bytes.data(), bytes.size()), static_cast<la_ssize_t>(bytes.size()));
    archive_entry_free(e);
  }
  EXPECT_EQ(archive_write_close(a), ARCHIVE_OK) << archive_error_string(a);
  archive_write_free(a);
  out.resize(used);
  return out;
}

}  // namespace s3d::test
