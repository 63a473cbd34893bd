// Archives other than zip (7z, tar, and tar compressed with gzip, bzip2, xz or zstd) and files
// compressed whole (part.stl.gz): detected by content, screened member by member like zips, with
// clear errors for corrupt and encrypted ones. The archives are written at test time with libarchive.
#include <gtest/gtest.h>

#include <archive.h>
#include <archive_entry.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "engine/archive.h"
#include "engine/scan.h"
#include "geometry/formats/format.h"
#include "tests/support/archive_writer.h"
#include "tests/support/cli_runner.h"
#include "tests/support/test_helpers.h"

namespace s3d {
namespace {

using test::Members;
using test::make_archive;

std::vector<uint8_t> example_bytes(const std::string& name) {
  return test::read_bytes(std::string(S3D_EXAMPLES_DIR) + "/" + name);
}

// A RAR 4 archive with stored (uncompressed) members, written here byte by byte: no RAR writer is
// free software. Blocks: the marker, the main header, per member a file header (method 0x30,
// store) and its bytes, the end block; each header's CRC is the low 16 bits of the CRC-32 of the
// header after that field.
std::vector<uint8_t> make_rar4(const Members& members) {
  auto crc32 = [](const uint8_t* p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; ++i) {
      c ^= p[i];
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
  };
  std::vector<uint8_t> out = {0x52, 0x61, 0x72, 0x21, 0x1A, 0x07, 0x00};
  auto put = [](std::vector<uint8_t>& v, uint64_t x, int bytes) {
    for (int i = 0; i < bytes; ++i) v.push_back(static_cast<uint8_t>(x >> (8 * i)));
  };
  auto block = [&](std::vector<uint8_t> body) {  // body: from HEAD_TYPE on
    const uint32_t c = crc32(body.data(), body.size()) & 0xFFFFu;
    put(out, c, 2);
    out.insert(out.end(), body.begin(), body.end());
  };
  std::vector<uint8_t> main_head;
  put(main_head, 0x73, 1);
  put(main_head, 0, 2);
  put(main_head, 13, 2);
  put(main_head, 0, 6);
  block(main_head);
  for (const auto& [name, bytes] : members) {
    std::vector<uint8_t> h;
    put(h, 0x74, 1);
    put(h, 0x8000, 2);
    put(h, 32 + name.size(), 2);
    put(h, bytes.size(), 4);                       // packed size
    put(h, bytes.size(), 4);                       // unpacked size
    put(h, 3, 1);                                  // host OS: Unix
    put(h, crc32(bytes.data(), bytes.size()), 4);  // file CRC
    put(h, 0x5B810000u, 4);                        // DOS time: 2025-12-01
    put(h, 20, 1);                                 // version needed: 2.0
    put(h, 0x30, 1);                               // method: store
    put(h, name.size(), 2);
    put(h, 0x81A4, 4);                             // attributes: regular file 0644
    h.insert(h.end(), name.begin(), name.end());
    block(h);
    out.insert(out.end(), bytes.begin(), bytes.end());
  }
  const uint8_t end[] = {0xC4, 0x3D, 0x7B, 0x00, 0x40, 0x07, 0x00};
  out.insert(out.end(), std::begin(end), std::end(end));
  return out;
}

const Engine& demo_engine() {
  static const std::unique_ptr<Engine> e = Engine::from_database(S3D_DEMO_DB);
  return *e;
}

std::vector<ScanResult> scan(const std::vector<uint8_t>& bytes, const std::string& name) {
  std::vector<ScanResult> out;
  scan_expanding_archives(demo_engine(), bytes, name, out);
  return out;
}

struct Kind {
  const char* file;
  Format format;
  std::function<void(archive*)> setup;
};

std::vector<Kind> kinds() {
  auto tar_with = [](int (*filter)(archive*)) {
    return [filter](archive* a) {
      archive_write_set_format_pax_restricted(a);
      if (filter) filter(a);
    };
  };
  return {
      {"jobs.7z", Format::k7z, [](archive* a) { archive_write_set_format_7zip(a); }},
      {"jobs.tar", Format::kTar, tar_with(nullptr)},
      {"jobs.tar.gz", Format::kGzip, tar_with(archive_write_add_filter_gzip)},
      {"jobs.tar.bz2", Format::kBzip2, tar_with(archive_write_add_filter_bzip2)},
      {"jobs.tar.xz", Format::kXz, tar_with(archive_write_add_filter_xz)},
      {"jobs.tar.zst", Format::kZstd, tar_with(archive_write_add_filter_zstd)},
  };
}

// Each kind of archive (RAR 4 too) holding the bracket (restricted by the demo database), the pipe
// (clean) and a text file: detected as its format, and each member screened under "archive!/member" exactly as
// the file itself is.
TEST(Archives, EveryKindIsScreenedMemberByMember) {
  const std::vector<uint8_t> bracket = example_bytes("bracket_reposed.stl"), pipe = example_bytes("pipe.stl");
  const ScanResult alone = demo_engine().scan_bytes(bracket, "bracket_reposed.stl");
  ASSERT_EQ(alone.verdict, Verdict::kRestricted);
  const Members members = {{"inner/bracket_reposed.stl", bracket}, {"inner/pipe.stl", pipe}, {"readme.txt", {'h', 'i', '\n'}}};
  for (const Kind& k : kinds()) {
    const std::vector<uint8_t> bytes = make_archive(k.setup, members);
    EXPECT_EQ(detect_format(bytes), k.format) << k.file;
    const std::vector<ScanResult> out = scan(bytes, k.file);
    ASSERT_EQ(out.size(), 3u) << k.file;
    EXPECT_EQ(out[0].path, std::string(k.file) + "!/inner/bracket_reposed.stl");
    EXPECT_EQ(out[0].verdict, Verdict::kRestricted) << k.file;
    EXPECT_EQ(out[0].sha256, alone.sha256);
    EXPECT_EQ(out[0].score, alone.score) << k.file;
    EXPECT_EQ(out[1].path, std::string(k.file) + "!/inner/pipe.stl");
    EXPECT_EQ(out[1].verdict, Verdict::kClean) << k.file;
    EXPECT_EQ(out[2].verdict, Verdict::kSkipped) << k.file;
  }
  const std::vector<uint8_t> rar = make_rar4(members);
  EXPECT_EQ(detect_format(rar), Format::kRar);
  const std::vector<ScanResult> out = scan(rar, "jobs.rar");
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].path, "jobs.rar!/inner/bracket_reposed.stl");
  EXPECT_EQ(out[0].verdict, Verdict::kRestricted) << out[0].error;
  EXPECT_EQ(out[0].sha256, alone.sha256);
  EXPECT_EQ(out[1].verdict, Verdict::kClean) << out[1].error;
}

// A file compressed whole is one member named after the file without its suffix ("data" when it has
// none); archives nest (a zip inside a 7z inside a tar.xz) up to max_nesting.
TEST(Archives, CompressedFilesAndNestedArchives) {
  const std::vector<uint8_t> bracket = example_bytes("bracket_reposed.stl");
  auto gz = [](archive* a) {
    archive_write_set_format_raw(a);
    archive_write_add_filter_gzip(a);
  };
  const std::vector<uint8_t> one = make_archive(gz, {{"x", bracket}});
  EXPECT_EQ(detect_format(one), Format::kGzip);
  std::vector<ScanResult> out = scan(one, "dir/bracket_reposed.stl.gz");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].path, "dir/bracket_reposed.stl.gz!/bracket_reposed.stl");
  EXPECT_EQ(out[0].verdict, Verdict::kRestricted);
  out = scan(one, "download");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].path, "download!/data");
  EXPECT_EQ(out[0].verdict, Verdict::kRestricted);

  const std::vector<uint8_t> zip = make_archive([](archive* a) { archive_write_set_format_zip(a); }, {{"part.stl", bracket}});
  const std::vector<uint8_t> seven = make_archive([](archive* a) { archive_write_set_format_7zip(a); }, {{"in.zip", zip}});
  const std::vector<uint8_t> txz = make_archive(kinds()[4].setup, {{"in.7z", seven}});
  out = scan(txz, "case.tar.xz");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].path, "case.tar.xz!/in.7z!/in.zip!/part.stl");
  EXPECT_EQ(out[0].verdict, Verdict::kRestricted);
  const std::vector<uint8_t> deeper = make_archive(kinds()[2].setup, {{"case.tar.xz", txz}});
  out = scan(deeper, "deeper.tar.gz");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].verdict, Verdict::kError);
  EXPECT_NE(out[0].error.find("max_nesting"), std::string::npos) << out[0].error;
}

// The magic bytes count only when no 3D format claims the file: a binary STL whose 80-byte header
// starts like a 7z, an xz or a gzip stays an STL and is screened as one.
TEST(Archives, AnStlWhoseHeaderLooksLikeAnArchiveStaysAnStl) {
  for (const std::string& magic : {std::string("7z\xBC\xAF\x27\x1C", 6), std::string("\xFD" "7zXZ\0", 6),
                                  std::string("\x1F\x8B\x08", 3), std::string("Rar!\x1A\x07\x00", 7)}) {
    std::vector<uint8_t> stl = example_bytes("bracket_reposed.stl");
    std::memcpy(stl.data(), magic.data(), magic.size());
    EXPECT_EQ(detect_format(stl), Format::kStlBinary);
    const std::vector<ScanResult> out = scan(stl, "part.stl");
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].verdict, Verdict::kRestricted);
  }
  for (Format f : {Format::k7z, Format::kRar, Format::kTar, Format::kGzip, Format::kBzip2, Format::kXz, Format::kZstd}) {
    EXPECT_TRUE(is_archive_format(f));
    EXPECT_NE(format_name(f), "unknown");
  }
  EXPECT_TRUE(is_archive_format(Format::kZip));
  EXPECT_FALSE(is_archive_format(Format::k3mf));
  EXPECT_FALSE(is_archive_format(Format::kGcode3mf));
}

// A truncated archive is an error naming its kind and libarchive's reason, after the members read
// before the damage; an encrypted member is an error that says so; on the command line the other
// inputs are still screened (exit status 1: a match wins over errors).
TEST(Archives, CorruptAndEncryptedArchivesAreNamedErrors) {
  const std::vector<uint8_t> bracket = example_bytes("bracket_reposed.stl"), pipe = example_bytes("pipe.stl");
  std::vector<uint8_t> cut = make_archive(kinds()[4].setup, {{"a/bracket.stl", bracket}, {"a/pipe.stl", pipe}});
  cut.resize(cut.size() / 2);
  std::vector<ScanResult> out = scan(cut, "cut.tar.xz");
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back().verdict, Verdict::kError);
  EXPECT_EQ(out.back().path.rfind("cut.tar.xz", 0), 0u);
  EXPECT_NE(out.back().error.find("xz archive"), std::string::npos) << out.back().error;

  const std::vector<uint8_t> locked = make_archive(
      [](archive* a) {
        archive_write_set_format_zip(a);
        ASSERT_EQ(archive_write_set_options(a, "zip:encryption=aes256"), ARCHIVE_OK) << archive_error_string(a);
        ASSERT_EQ(archive_write_set_passphrase(a, "secret"), ARCHIVE_OK);
      },
      {{"part.stl", bracket}});
  out = scan(locked, "locked.zip");
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out[0].path, "locked.zip!/part.stl");
  EXPECT_EQ(out[0].verdict, Verdict::kError);
  EXPECT_TRUE(out[0].error.find("ncrypt") != std::string::npos || out[0].error.find("assphrase") != std::string::npos)
      << out[0].error;

  const std::string cut_path = test::temp_path("cut.tar.xz"), good = test::temp_path("jobs.tar.gz");
  { std::ofstream(cut_path, std::ios::binary).write(reinterpret_cast<const char*>(cut.data()), static_cast<std::streamsize>(cut.size())); }
  const std::vector<uint8_t> tgz = make_archive(kinds()[2].setup, {{"bracket.stl", bracket}});
  { std::ofstream(good, std::ios::binary).write(reinterpret_cast<const char*>(tgz.data()), static_cast<std::streamsize>(tgz.size())); }
  const auto r = test::run_cli({"scan", "--json", "--db", S3D_DEMO_DB, cut_path, good});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  bool flagged = false;
  for (const std::string& l : r.out_lines()) {
    const auto j = nlohmann::json::parse(l);
    if (j["path"] == good + "!/bracket.stl") flagged = j["verdict"] == "restricted" && j["format"] == "stl-binary";
  }
  EXPECT_TRUE(flagged) << r.out;
  EXPECT_NE(r.err.find("cut.tar.xz"), std::string::npos) << r.err;
}

// --max-seconds bounds decompressing a member too: a member of 256 MiB of zeros (250 KB as gzip)
// takes longer to inflate than 20 ms, so it is an error naming the limit, and the member after it
// is still read.
TEST(Archives, TheTimeLimitStopsAMemberThatInflatesForLong) {
  const std::vector<uint8_t> zeros(256u << 20, 0), bracket = example_bytes("bracket_reposed.stl");
  const std::vector<uint8_t> tgz = make_archive(kinds()[2].setup, {{"zeros.bin", zeros}, {"bracket.stl", bracket}});
  ScanSettings s;
  s.limits.max_seconds = 0.02;
  const std::unique_ptr<Engine> timed = Engine::from_database(S3D_DEMO_DB, s);
  std::vector<ScanResult> out;
  const auto t0 = std::chrono::steady_clock::now();
  scan_expanding_archives(*timed, tgz, "bomb.tar.gz", out);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].path, "bomb.tar.gz!/zeros.bin");
  EXPECT_EQ(out[0].verdict, Verdict::kError);
  EXPECT_NE(out[0].error.find("max_seconds"), std::string::npos) << out[0].error;
  EXPECT_NE(out[0].error.find("while decompressing it"), std::string::npos) << out[0].error;
  EXPECT_EQ(out[1].path, "bomb.tar.gz!/bracket.stl");  // read whole (its screening may hit the limit itself)
  EXPECT_EQ(out[1].error.find("while decompressing"), std::string::npos) << out[1].error;
  EXPECT_EQ(out[1].sha256, demo_engine().scan_bytes(bracket, "b.stl").sha256);
  std::printf("[ measured ] a 256 MiB member stopped by --max-seconds 0.02: the archive took %.2f s\n", took);
}

}  // namespace
}  // namespace s3d
