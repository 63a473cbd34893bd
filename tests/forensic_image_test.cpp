// The disk-image walker (plugins/forensic) and `screen3d-image`, on FAT images built at test time
// with dosfstools and mtools (Debian packages the install script installs; the tests skip without
// them): allocated, renamed and deleted files, a partition table, zip members, and hostile images.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "engine/sha256.h"
#include "geometry/gcode/bgcode.h"
#include "geometry/shapes.h"
#include "geometry/write_mesh.h"
#include "plugins/forensic/disk_image.h"
#include "tests/support/archive_writer.h"
#include "tests/support/cli_runner.h"
#include "tests/support/test_helpers.h"

namespace s3d {
namespace {

using forensic::ImageFile;
using forensic::walk_disk_image;

bool have_tools() {
  return std::filesystem::exists("/usr/sbin/mkfs.fat") && std::filesystem::exists("/usr/bin/mcopy") &&
         std::filesystem::exists("/usr/bin/mdel") && std::filesystem::exists("/usr/bin/mmd");
}

void sh(const std::string& cmd) {
  const std::string full = std::string("MTOOLS_SKIP_CHECK=1 ").append(cmd).append(" >/dev/null 2>&1");
  ASSERT_EQ(std::system(full.c_str()), 0) << full;
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// A chiral bracket (a lug on one side): the stand-in for a restricted part.
Mesh part_mesh() {
  shapes::LBracketParams bp;
  bp.length = 70;
  bp.height = 45;
  Mesh lug = shapes::box(10, 8, 6);
  shapes::transform(lug, {1, 0, 0, 45, 0, 1, 0, 4, 0, 0, 1, 5, 0, 0, 0, 1});
  return shapes::merge({shapes::l_bracket(bp), lug});
}

struct Fixture {
  std::string part;     // the reference file
  std::string turned;   // the part turned (other bytes, same shape)
  std::string image;    // FAT image: jobs/part.stl, jobs/gear.stl, old/holiday.jpg (deleted), readme.txt
};

// Builds the FAT image: the part under its own name, a turned copy renamed holiday.jpg and then
// deleted, a gear, a text file, and a zip holding the turned copy.
Fixture make_fixture() {
  Fixture f;
  f.part = test::temp_path("part.stl");
  f.turned = test::temp_path("turned.stl");
  f.image = test::temp_path("fat.img");
  const Mesh part = part_mesh();
  write_stl_binary(part, f.part);
  Mesh turned = part;
  shapes::transform(turned, {0, -1, 0, 12, 1, 0, 0, -3, 0, 0, 1, 7, 0, 0, 0, 1});
  write_stl_binary(turned, f.turned);
  const std::string gear = test::temp_path("gear.stl"), text = test::temp_path("readme.txt"),
                    zip = test::temp_path("jobs.zip");
  write_stl_binary(shapes::spur_gear(30, 2.0, 8, 8), gear);
  { std::ofstream(text) << "print queue notes\n"; }
  std::filesystem::remove(f.image);
  test::write_zip(zip, {{"queue/turned.stl", test::read_bytes(f.turned)}});
  sh("mkfs.fat -C '" + f.image + "' 8192");
  sh("mmd -i '" + f.image + "' ::/jobs ::/old");
  sh("mcopy -i '" + f.image + "' '" + f.part + "' ::/jobs/part.stl");
  sh("mcopy -i '" + f.image + "' '" + gear + "' ::/jobs/gear.stl");
  sh("mcopy -i '" + f.image + "' '" + zip + "' ::/jobs/jobs.zip");
  sh("mcopy -i '" + f.image + "' '" + f.turned + "' ::/old/holiday.jpg");
  sh("mcopy -i '" + f.image + "' '" + text + "' ::/readme.txt");
  sh("mdel -i '" + f.image + "' ::/old/holiday.jpg");
  return f;
}

struct Seen {
  std::string path;
  bool deleted;
  bool carved;
  std::vector<uint8_t> bytes;
  std::string error;
  int64_t partition;
  uint64_t fs_offset;
};

std::vector<Seen> walk(const std::string& image, std::string* err, forensic::WalkSummary* sum = nullptr,
                       bool deleted = true, bool carve = false) {
  std::vector<Seen> seen;
  forensic::WalkOptions o;
  o.deleted = deleted;
  o.carve = carve;
  *err = walk_disk_image(image, o, [&](const ImageFile& f) {
    seen.push_back({f.path, f.deleted, f.carved, {f.bytes.begin(), f.bytes.end()}, f.error, f.partition, f.fs_offset});
  }, sum);
  return seen;
}

TEST(DiskImage, WalksAllocatedAndDeletedFilesWithTheirContent) {
  if (!have_tools()) GTEST_SKIP() << "dosfstools/mtools not installed";
  const Fixture f = make_fixture();
  const auto part = test::read_bytes(f.part), turned = test::read_bytes(f.turned);
  std::string err;
  forensic::WalkSummary sum;
  const std::vector<Seen> seen = walk(f.image, &err, &sum);
  EXPECT_EQ(err, "");
  EXPECT_EQ(sum.file_systems, 1u);
  EXPECT_EQ(sum.files, 5u);
  EXPECT_EQ(sum.deleted, 1u);
  int found_part = 0, found_deleted = 0;
  for (const Seen& s : seen) {
    EXPECT_EQ(s.error, "") << s.path;
    EXPECT_EQ(s.partition, -1);
    if (s.path == "jobs/part.stl") {
      ++found_part;
      EXPECT_FALSE(s.deleted);
      EXPECT_TRUE(s.bytes == part);
    }
    if (s.deleted) {
      ++found_deleted;
      // FAT overwrites a deleted name's first letter; the rest of the name and the content remain.
      EXPECT_EQ(s.path.substr(0, 4), "old/") << s.path;
      EXPECT_NE(s.path.find("oliday.jpg"), std::string::npos) << s.path;
      EXPECT_TRUE(s.bytes == turned);
    }
  }
  EXPECT_EQ(found_part, 1);
  EXPECT_EQ(found_deleted, 1);
  // Without deleted files the walk offers the four live ones.
  EXPECT_EQ(walk(f.image, &err, nullptr, false).size(), 4u);
}

// A disk with a DOS partition table and `copies` FAT partitions, each a copy of the file system
// image `fs_image`: the first at sector 2048 (1 MiB), the next ones right after each other.
std::string partitioned_disk(const std::string& fs_image, int copies, const std::string& name) {
  const auto fs = test::read_bytes(fs_image);
  std::vector<uint8_t> disk((1 << 20) + static_cast<size_t>(copies) * fs.size(), 0);
  const uint32_t count = static_cast<uint32_t>(fs.size() / 512);
  for (int c = 0; c < copies; ++c) {
    const uint32_t start = 2048 + static_cast<uint32_t>(c) * count;
    std::memcpy(disk.data() + 512 * static_cast<size_t>(start), fs.data(), fs.size());
    uint8_t* e = disk.data() + 446 + 16 * c;
    e[4] = 0x01;  // FAT12
    for (int k = 0; k < 4; ++k) {
      e[8 + k] = static_cast<uint8_t>(start >> (8 * k));
      e[12 + k] = static_cast<uint8_t>(count >> (8 * k));
    }
  }
  disk[510] = 0x55;
  disk[511] = 0xAA;
  const std::string image = test::temp_path(name);
  write_file(image, disk);
  return image;
}

TEST(DiskImage, FilesOfAPartitionCarryItsNumberAndOffset) {
  if (!have_tools()) GTEST_SKIP() << "dosfstools/mtools not installed";
  const Fixture f = make_fixture();
  const std::string image = partitioned_disk(f.image, 1, "disk.img");
  std::string err;
  const std::vector<Seen> seen = walk(image, &err);
  EXPECT_EQ(err, "");
  ASSERT_EQ(seen.size(), 5u);
  for (const Seen& s : seen) {
    EXPECT_GE(s.partition, 0);
    EXPECT_EQ(s.path.rfind(std::string("p").append(std::to_string(s.partition)).append("/"), 0), 0u) << s.path;
    EXPECT_EQ(s.fs_offset, 1u << 20);
  }
}

// WalkOptions::enter names each part of the walk before libtsk works on it, in walk order, and a
// part it declines is passed over: declining the first partition's directory walk leaves the
// second partition's files, and declining its opening leaves its carving out too. (Carving after a
// declined directory walk would offer that file system's deleted files again, as carved ones: the
// walk no longer knows they were offered.)
TEST(DiskImage, APartOfTheWalkCanBePassedOver) {
  if (!have_tools()) GTEST_SKIP() << "dosfstools/mtools not installed";
  const Fixture f = make_fixture();
  const std::string image = partitioned_disk(f.image, 2, "two.img");
  auto walk_declining = [&](const std::string& declined, std::vector<std::string>* parts,
                            forensic::WalkSummary* sum, bool carve) {
    forensic::WalkOptions o;
    o.carve = carve;
    o.enter = [&](const std::string& part) {
      parts->push_back(part);
      return part != declined;
    };
    std::vector<std::string> paths;
    const std::string err = walk_disk_image(image, o, [&](const ImageFile& x) { paths.push_back(x.path); }, sum);
    EXPECT_EQ(err, "");
    return paths;
  };
  // With carving, the free space before the first partition is a part of its own ("free<N>/:carve").
  auto without_free = [](std::vector<std::string> v) {
    std::erase_if(v, [](const std::string& p) { return p.rfind("free", 0) == 0; });
    return v;
  };
  std::vector<std::string> parts;
  forensic::WalkSummary sum;
  const std::vector<std::string> all = walk_declining("", &parts, &sum, /*carve=*/true);
  ASSERT_EQ(parts.size(), 7u);
  EXPECT_EQ(parts[0].rfind("free", 0), 0u) << parts[0];
  EXPECT_EQ(parts[0].substr(parts[0].find(':')), ":carve") << parts[0];
  parts = without_free(parts);
  const std::string a = parts[0].substr(0, parts[0].find(':')), b = parts[3].substr(0, parts[3].find(':'));
  EXPECT_EQ(a.front(), 'p');
  EXPECT_NE(a, b);
  EXPECT_EQ(parts, (std::vector<std::string>{a + ":open", a + ":files", a + ":carve", b + ":open", b + ":files",
                                             b + ":carve"}));
  EXPECT_EQ(sum.parts_skipped, 0u);
  ASSERT_EQ(all.size(), 10u);
  EXPECT_EQ(std::count_if(all.begin(), all.end(), [&](const std::string& p) { return p.rfind(a, 0) == 0; }), 5);

  parts.clear();
  sum = {};
  const std::vector<std::string> without_files = walk_declining(a + ":files", &parts, &sum, false);
  EXPECT_EQ(sum.parts_skipped, 1u);
  EXPECT_EQ(sum.file_systems, 2u);
  EXPECT_EQ(parts, (std::vector<std::string>{a + ":open", a + ":files", b + ":open", b + ":files"}));
  EXPECT_EQ(without_files, std::vector<std::string>(all.begin() + 5, all.end()));

  parts.clear();
  sum = {};
  const std::vector<std::string> without_open = walk_declining(a + ":open", &parts, &sum, /*carve=*/true);
  EXPECT_EQ(sum.parts_skipped, 1u);
  EXPECT_EQ(sum.file_systems, 1u);
  EXPECT_EQ(without_free(parts), (std::vector<std::string>{a + ":open", b + ":open", b + ":files", b + ":carve"}));
  EXPECT_EQ(without_open, std::vector<std::string>(all.begin() + 5, all.end()));
}

// A raw image split into segments (NAME.001, NAME.002, ...): given the first, libtsk reads them all.
TEST(DiskImage, ReadsSplitRawImages) {
  if (!have_tools()) GTEST_SKIP() << "dosfstools/mtools not installed";
  const Fixture f = make_fixture();
  const auto whole = test::read_bytes(f.image);
  const std::string base = test::temp_path("split.");
  const size_t seg = 3u << 20;
  for (size_t k = 0; k * seg < whole.size(); ++k) {
    const size_t n = std::min(seg, whole.size() - k * seg);
    write_file(base + (k < 9 ? "00" : "0") + std::to_string(k + 1),
               std::vector<uint8_t>(whole.begin() + static_cast<std::ptrdiff_t>(k * seg),
                                    whole.begin() + static_cast<std::ptrdiff_t>(k * seg + n)));
  }
  std::string err;
  const std::vector<Seen> seen = walk(base + "001", &err);
  EXPECT_EQ(err, "");
  ASSERT_EQ(seen.size(), 5u);
  const auto turned = test::read_bytes(f.turned);
  int deleted = 0;
  for (const Seen& s : seen) deleted += s.deleted && s.bytes == turned;
  EXPECT_EQ(deleted, 1);  // its clusters lie in the second and third segments
}

// An Expert Witness (E01) image of the FAT fixture, made with ewfacquirestream (ewf-tools): the same
// files, the deleted one included, through libtsk's libewf support.
TEST(DiskImage, ReadsExpertWitnessImages) {
  if (!have_tools() || !std::filesystem::exists("/usr/bin/ewfacquirestream")) GTEST_SKIP() << "ewf-tools not installed";
  const Fixture f = make_fixture();
  const std::string target = test::temp_path("evidence");
  std::filesystem::remove(target + ".E01");
  sh("ewfacquirestream -q -t '" + target + "' < '" + f.image + "'");
  std::string err;
  const std::vector<Seen> seen = walk(target + ".E01", &err);
  EXPECT_EQ(err, "");
  ASSERT_EQ(seen.size(), 5u);
  const auto turned = test::read_bytes(f.turned);
  int deleted = 0;
  for (const Seen& s : seen)
    if (s.deleted) deleted += s.bytes == turned;
  EXPECT_EQ(deleted, 1);
}

// NTFS, made and filled without mounting (mkntfs, ntfscp from ntfs-3g): a renamed copy is offered
// with its content; NTFS's own metadata files are offered too (and are not 3D).
TEST(DiskImage, ReadsNtfs) {
  if (!std::filesystem::exists("/usr/sbin/mkntfs") || !std::filesystem::exists("/usr/sbin/ntfscp"))
    GTEST_SKIP() << "ntfs-3g not installed";
  const std::string part = test::temp_path("part.stl"), image = test::temp_path("ntfs.img");
  write_stl_binary(part_mesh(), part);
  std::filesystem::remove(image);
  sh("truncate -s 16M '" + image + "' && mkntfs -F -f -q '" + image + "'");
  sh("ntfscp -f '" + image + "' '" + part + "' holiday.jpg");
  std::string err;
  const std::vector<Seen> seen = walk(image, &err);
  EXPECT_EQ(err, "");
  int found = 0;
  for (const Seen& s : seen)
    if (s.path == "holiday.jpg") {
      ++found;
      EXPECT_FALSE(s.deleted);
      EXPECT_TRUE(s.bytes == test::read_bytes(part));
    }
  EXPECT_EQ(found, 1);
  EXPECT_GT(seen.size(), 5u);  // $MFT, $LogFile, ...
}

// Zeroes the directory entries of a deleted FAT file (its 8.3 entry, first byte 0xE5, and the long-
// name entries before it), as after the directory was reused: only carving can find the file then.
void wipe_deleted_entry(std::vector<uint8_t>& img, const std::string& short_name_tail) {
  std::vector<uint8_t> entry(short_name_tail.size() + 1, 0xE5);
  std::copy(short_name_tail.begin(), short_name_tail.end(), entry.begin() + 1);
  auto at = std::search(img.begin(), img.end(), entry.begin(), entry.end());
  ASSERT_NE(at, img.end()) << short_name_tail;
  const size_t end = static_cast<size_t>(at - img.begin()) + 32;
  size_t begin = end - 32;
  while (begin >= 32 && img[begin - 32 + 11] == 0x0F) begin -= 32;
  std::fill(img.begin() + static_cast<std::ptrdiff_t>(begin), img.begin() + static_cast<std::ptrdiff_t>(end), 0);
}

// A copy of `image` at `out` with the deleted entries of these short names wiped (see above).
void wipe_entries(const std::string& image, const std::vector<std::string>& short_name_tails, const std::string& out) {
  auto img = test::read_bytes(image);
  for (const std::string& name : short_name_tails) wipe_deleted_entry(img, name);
  write_file(out, img);
}

// Carving: a binary STL, an ASCII STL and a zip deleted and their directory entries wiped are cut
// out of the free blocks whole; without --carve they are not found; a deleted file the directory
// walk already offered is not offered twice.
TEST(DiskImage, CarvesFilesWhoseDirectoryEntriesAreGone) {
  if (!have_tools()) GTEST_SKIP() << "dosfstools/mtools not installed";
  const Fixture f = make_fixture();  // for its files; the image is made here
  const std::string ascii = test::temp_path("ascii.stl"), zip = test::temp_path("queue.zip"),
                    image = test::temp_path("carve.img");
  write_stl_ascii(shapes::knob(), ascii);
  test::write_zip(zip, {{"jobs/part.stl", test::read_bytes(f.part)}});
  std::filesystem::remove(image);
  // All copies before any deletion: FAT reuses freed clusters and entry slots for later copies.
  sh("mkfs.fat -C '" + image + "' 8192");
  sh("mmd -i '" + image + "' ::/old");
  sh("mcopy -i '" + image + "' '" + f.turned + "' ::/old/holiday.jpg");
  sh("mcopy -i '" + image + "' '" + ascii + "' ::/old/notes.stl");
  sh("mcopy -i '" + image + "' '" + zip + "' ::/old/queue.zip");
  sh("mcopy -i '" + image + "' '" + f.part + "' ::/part.stl");
  sh("mdel -i '" + image + "' ::/old/holiday.jpg ::/old/notes.stl ::/old/queue.zip");
  // With the entries in place: three deleted files, nothing carved twice.
  forensic::WalkSummary sum;
  std::string err;
  walk(image, &err, &sum, true, /*carve=*/true);
  EXPECT_EQ(err, "");
  EXPECT_EQ(sum.deleted, 3u);
  EXPECT_EQ(sum.carved, 0u);

  const std::string wiped = test::temp_path("wiped.img");
  wipe_entries(image, {"OLIDAY JPG", "OTES   STL", "UEUE   ZIP"}, wiped);
  forensic::WalkSummary plain_sum;
  const std::vector<Seen> plain = walk(wiped, &err, &plain_sum);  // without carving: only the live part.stl
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(plain[0].path, "part.stl");
  EXPECT_EQ(plain_sum.deleted, 0u);
  std::vector<Seen> carved;
  sum = {};
  for (Seen& x : walk(wiped, &err, &sum, true, /*carve=*/true))
    if (x.carved) carved.push_back(std::move(x));
  EXPECT_EQ(err, "");
  EXPECT_EQ(sum.carved, carved.size());
  int binary = 0, text = 0, archive = 0;
  for (const Seen& c : carved) {
    EXPECT_EQ(c.path.rfind("$Carved/", 0), 0u) << c.path;
    EXPECT_TRUE(c.deleted);
    binary += c.bytes == test::read_bytes(f.turned);
    text += c.bytes == test::read_bytes(ascii);
    archive += c.bytes == test::read_bytes(zip);
  }
  EXPECT_EQ(binary, 1);
  EXPECT_EQ(text, 1);
  EXPECT_EQ(archive, 1);
}

// G-code with every comment and blank line dropped, as an evader sends it.
std::string strip_comments(const std::string& text) {
  std::string bare;
  for (size_t p = 0; p < text.size();) {
    size_t nl = text.find('\n', p);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(p, nl - p);
    line = line.substr(0, line.find(';'));
    while (!line.empty() && line.back() == ' ') line.pop_back();
    if (!line.empty()) bare += line + "\n";
    p = nl + 1;
  }
  return bare;
}

// A G-code job of about `bytes` bytes: the handwritten square's layers over and over, after a
// slicer's first line.
std::string job_gcode(size_t bytes) {
  std::string g = "; generated by PrusaSlicer 2.5.0 on 2026-12-01 at 02:20:36 UTC\n";
  for (int k = 0; g.size() < bytes; ++k) {
    std::string sq = test::square_gcode();
    if (k > 0) sq = sq.substr(sq.find("G1 Z"));  // one start sequence
    g += sq;
  }
  return g;
}

// A FAT image of `kib` KiB holding `files` (a path here, a name in the root), of which those named
// in `deleted` are then deleted; their directory entries stay until wipe_deleted_entry.
void fat_image(const std::string& image, int kib, const std::vector<std::pair<std::string, std::string>>& files,
               const std::vector<std::string>& deleted) {
  std::filesystem::remove(image);
  sh("mkfs.fat -C '" + image + "' " + std::to_string(kib));
  for (const auto& [path, name] : files) sh("mcopy -i '" + image + "' '" + path + "' ::/" + name);
  std::string del = "mdel -i '" + image + "'";
  for (const std::string& name : deleted) del += " ::/" + name;
  sh(del);
}

// Carving G-code (printer SD cards): a slicer's G-code, the same with every comment stripped and a
// Prusa binary G-code, deleted and their directory entries wiped, are cut out whole, named .gcode and
// .bgcode; with the entries in place nothing is carved twice; a carving limit below a G-code's size
// offers its first part, marked carved_partial, where an STL would be dropped.
TEST(DiskImage, CarvesGcodeWhoseDirectoryEntriesAreGone) {
  if (!have_tools()) GTEST_SKIP() << "dosfstools/mtools not installed";
  const std::string text = job_gcode(40000), stripped = strip_comments(job_gcode(30000));
  ASSERT_EQ(stripped.rfind("G21\n", 0), 0u);
  const std::vector<uint8_t> binary = gcode::encode_bgcode(text, /*deflate*/ 1, /*MeatPack*/ 1);
  const std::string a = test::temp_path("a.gcode"), b = test::temp_path("b.gcode"), c = test::temp_path("c.bgcode"),
                    live = test::temp_path("live.stl"), image = test::temp_path("gcode.img");
  { std::ofstream(a, std::ios::binary) << text; }
  { std::ofstream(b, std::ios::binary) << stripped; }
  write_file(c, binary);
  write_stl_binary(part_mesh(), live);
  fat_image(image, 8192, {{a, "PLATE1.GCO"}, {b, "PLATE2.GCO"}, {c, "PLATE3.BGC"}, {live, "part.stl"}},
            {"PLATE1.GCO", "PLATE2.GCO", "PLATE3.BGC"});
  forensic::WalkSummary sum;
  std::string err;
  walk(image, &err, &sum, true, /*carve=*/true);
  EXPECT_EQ(err, "");
  EXPECT_EQ(sum.deleted, 3u);
  EXPECT_EQ(sum.carved, 0u);  // each one's deleted entry offered it already

  const std::string wiped = test::temp_path("wiped.img");
  wipe_entries(image, {"LATE1  GCO", "LATE2  GCO", "LATE3  BGC"}, wiped);
  auto carve = [&](uint64_t limit, forensic::WalkSummary* s) {
    std::vector<std::pair<ImageFile, std::vector<uint8_t>>> out;
    forensic::WalkOptions o;
    o.carve = true;
    o.max_carve_bytes = limit;
    err = walk_disk_image(wiped, o, [&](const ImageFile& f) {
      if (f.carved) out.emplace_back(f, std::vector<uint8_t>(f.bytes.begin(), f.bytes.end()));
    }, s);
    return out;
  };
  sum = {};
  const auto whole = carve(256u << 20, &sum);
  EXPECT_EQ(err, "");
  ASSERT_EQ(whole.size(), 3u);
  EXPECT_EQ(sum.carved, 3u);
  EXPECT_EQ(sum.carved_partial, 0u);
  const std::vector<uint8_t> text_bytes(text.begin(), text.end()), stripped_bytes(stripped.begin(), stripped.end());
  int found = 0;
  for (const auto& [f, bytes] : whole) {
    EXPECT_FALSE(f.carved_partial) << f.path;
    const bool is_binary = f.path.size() > 7 && f.path.compare(f.path.size() - 7, 7, ".bgcode") == 0;
    if (is_binary) found += 4 * (bytes == binary);
    else if (f.path.size() > 6 && f.path.compare(f.path.size() - 6, 6, ".gcode") == 0)
      found += bytes == text_bytes ? 1 : bytes == stripped_bytes ? 2 : 0;
  }
  EXPECT_EQ(found, 7) << "1: the G-code, 2: the stripped one, 4: the binary one, each byte-identical";

  // A limit of 16 KiB: the text G-codes come out cut short (their first 16 KiB and a block), the
  // binary one (smaller than the limit) whole.
  sum = {};
  const auto limited = carve(16u << 10, &sum);
  ASSERT_EQ(limited.size(), 3u);
  EXPECT_EQ(sum.carved_partial, 2u);
  for (const auto& [f, bytes] : limited) {
    if (!f.carved_partial) continue;
    EXPECT_EQ(bytes.size(), 16u << 10) << f.path;
    const std::vector<uint8_t>& of = bytes[0] == ';' ? text_bytes : stripped_bytes;
    EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), of.begin())) << f.path;
  }
}

TEST(DiskImage, NotAnImageIsAClearErrorAndNoFile) {
  std::string err;
  EXPECT_TRUE(walk(test::temp_path("missing.img"), &err).empty());
  EXPECT_NE(err.find("cannot open the disk image"), std::string::npos) << err;
  std::vector<uint8_t> junk(1 << 16);
  std::mt19937 rng(7);
  for (uint8_t& b : junk) b = static_cast<uint8_t>(rng());
  const std::string path = test::temp_path("junk.img");
  write_file(path, junk);
  EXPECT_TRUE(walk(path, &err).empty());
  EXPECT_NE(err.find("no partition table or file system"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos);
}

// Carving Wavefront OBJ: the part as OBJ (as screen3d writes it: a comment, then vertices and faces)
// and as another exporter writes it (mtllib, o, vn lines), deleted with their directory entries
// wiped, are cut out whole and named .obj; a deleted text file of prose and a deleted G-code beside
// them are not taken for OBJ; the carved OBJ of the part is restricted.
TEST(DiskImage, CarvesObjWhoseDirectoryEntriesAreGone) {
  if (!have_tools()) GTEST_SKIP() << "dosfstools/mtools not installed";
  const std::string ours = test::temp_path("ours.obj"), theirs = test::temp_path("theirs.obj"),
                    prose = test::temp_path("prose.txt"), job = test::temp_path("job.gcode"),
                    image = test::temp_path("obj.img");
  const Mesh part = part_mesh();
  write_obj(part, ours);
  {
    std::ofstream out(theirs, std::ios::binary);
    out << "mtllib part.mtl\no Part_Body\n";
    for (const Vec3f& v : part.vertices) out << "v " << v[0] << ' ' << v[1] << ' ' << v[2] << "\n";
    out << "vn 0 0 1\nusemtl Default\ns off\n";
    for (const Tri& t : part.triangles) out << "f " << t[0] + 1 << "//1 " << t[1] + 1 << "//1 " << t[2] + 1 << "//1\n";
  }
  {
    std::ofstream out(prose);
    for (int i = 0; i < 200; ++i) out << "# notes for the print queue, line " << i << "\nv is for vertex, f for face\n";
  }
  { std::ofstream(job, std::ios::binary) << job_gcode(20000); }
  fat_image(image, 8192, {{ours, "OURS.OBJ"}, {theirs, "THEIRS.OBJ"}, {prose, "PROSE.TXT"}, {job, "JOB.GCO"}},
            {"OURS.OBJ", "THEIRS.OBJ", "PROSE.TXT", "JOB.GCO"});
  const std::string wiped = test::temp_path("wiped.img");
  wipe_entries(image, {"URS    OBJ", "HEIRS  OBJ", "ROSE   TXT", "OB     GCO"}, wiped);
  std::string err;
  forensic::WalkSummary sum;
  const std::vector<Seen> seen = walk(wiped, &err, &sum, true, /*carve=*/true);
  EXPECT_EQ(err, "");
  int obj = 0, gco = 0;
  for (const Seen& s : seen) {
    if (!s.carved) continue;
    const std::string ext = s.path.substr(s.path.rfind('.'));
    if (ext == ".obj") {
      ++obj;
      EXPECT_TRUE(s.bytes == test::read_bytes(ours) || s.bytes == test::read_bytes(theirs)) << s.path << " " << s.bytes.size();
    }
    gco += ext == ".gcode";
  }
  EXPECT_EQ(obj, 2);
  EXPECT_EQ(gco, 1);
  EXPECT_EQ(sum.carved, 3u);  // not the prose

  const std::string db = test::temp_path("obj.s3db");
  const std::string ref = test::temp_path("ref.stl");
  write_stl_binary(part, ref);
  ASSERT_EQ(test::run_cli({"sig", "add", "--db", db, "--label", "part", "--category", "other", ref}).exit_code, 0);
  const auto r = test::run_program(S3D_IMAGE_CLI_PATH, {"--db", db, "--json", "--carve", wiped});
  int restricted_obj = 0;
  for (const std::string& l : r.out_lines()) {
    const auto j = nlohmann::json::parse(l);
    if (j["path"].get<std::string>().ends_with(".obj") && j["verdict"] == "restricted") ++restricted_obj;
  }
  EXPECT_EQ(restricted_obj, 2) << r.out << r.err;
}

// Space no file system describes is carved as raw sectors with --carve: a card whose file system was
// wiped (its boot sector zeroed, as a quick "format" by another tool or damage leaves it), the same
// file system as a partition, and free space between partitions. Without carving each is an error
// or nothing, as before; with it the files come out whole, named by the region they were cut from.
TEST(DiskImage, CarvesSpaceNoFileSystemDescribes) {
  if (!have_tools()) GTEST_SKIP() << "dosfstools/mtools not installed";
  const Fixture f = make_fixture();
  const std::vector<uint8_t> turned = test::read_bytes(f.turned);
  const std::string gcode_path = test::temp_path("job.gcode");
  const std::string gcode = job_gcode(20000);
  { std::ofstream(gcode_path, std::ios::binary) << gcode; }
  const std::string fat = test::temp_path("wiped_fs.img");
  const std::string note = test::temp_path("note.txt");
  { std::ofstream(note) << "old notes\n"; }
  fat_image(fat, 4096, {{f.turned, "holiday.jpg"}, {gcode_path, "job.gco"}, {note, "note.txt"}}, {"note.txt"});
  std::vector<uint8_t> bytes = test::read_bytes(fat);
  std::fill(bytes.begin(), bytes.begin() + 512, uint8_t{0});  // the boot sector: no file system to be seen
  const std::string wiped = test::temp_path("wiped.img");
  write_file(wiped, bytes);
  const auto whole = [&](const std::vector<Seen>& seen, const std::vector<uint8_t>& want, const std::string& prefix) {
    int n = 0;
    for (const Seen& s : seen) {
      if (s.bytes != want) continue;
      ++n;
      EXPECT_TRUE(s.carved) << s.path;
      EXPECT_EQ(s.path.rfind(prefix + "$Carved/", 0), 0u) << s.path;
    }
    return n;
  };
  const std::vector<uint8_t> gcode_bytes(gcode.begin(), gcode.end());
  std::string err;
  EXPECT_TRUE(walk(wiped, &err).empty());
  EXPECT_NE(err.find("no partition table or file system recognised"), std::string::npos) << err;
  forensic::WalkSummary sum;
  std::vector<Seen> seen = walk(wiped, &err, &sum, true, /*carve=*/true);
  EXPECT_NE(err.find("the whole image was carved"), std::string::npos) << err;
  EXPECT_EQ(whole(seen, turned, ""), 1);
  EXPECT_EQ(whole(seen, gcode_bytes, ""), 1);
  EXPECT_EQ(sum.carved, seen.size());

  // The same as partition 2 of a disk (TSK numbers the table and the gap before it 0 and 1), and a
  // copy of the turned part in the free space before the partition (sector 100).
  const std::string disk = partitioned_disk(wiped, 1, "wiped_disk.img");
  std::vector<uint8_t> d = test::read_bytes(disk);
  std::copy(turned.begin(), turned.end(), d.begin() + 100 * 512);
  write_file(disk, d);
  EXPECT_TRUE(walk(disk, &err).empty());
  EXPECT_NE(err.find("lists no partition with a file system"), std::string::npos) << err;
  seen = walk(disk, &err, nullptr, true, /*carve=*/true);
  EXPECT_NE(err.find("carved as raw space"), std::string::npos) << err;
  std::string part_prefix, free_prefix;
  for (const Seen& s : seen) {
    if (s.bytes == gcode_bytes) part_prefix = s.path.substr(0, s.path.find('/') + 1);
    if (s.bytes == turned && s.partition < 0) free_prefix = s.path.substr(0, s.path.find('/') + 1);
  }
  EXPECT_EQ(part_prefix.rfind("p", 0), 0u) << part_prefix;
  EXPECT_EQ(whole(seen, gcode_bytes, part_prefix), 1);
  EXPECT_EQ(free_prefix.rfind("free", 0), 0u) << free_prefix;
  int turned_copies = 0;
  for (const Seen& s : seen) turned_copies += s.bytes == turned;
  EXPECT_EQ(turned_copies, 2);  // the one in the partition and the one before it
}

// Truncated and corrupted images, FAT and (when mke2fs is there) ext4, walked with and without
// carving: the walk ends, with or without an error, and never crashes; a file offered has content or
// an error, never both.
// S3D_IMAGE_TRIALS sets the number of damaged images per file system (default 60).
TEST(DiskImage, DamagedImagesNeverCrash) {
  if (!have_tools()) GTEST_SKIP() << "dosfstools/mtools not installed";
  const Fixture f = make_fixture();
  std::vector<std::vector<uint8_t>> seeds{test::read_bytes(f.image)};
  const std::string ext4 = test::temp_path("ext4.img"), tree = test::temp_path("tree");
  std::filesystem::remove(ext4);
  std::filesystem::create_directories(tree + "/jobs");
  std::filesystem::copy_file(f.part, tree + "/jobs/part.stl", std::filesystem::copy_options::overwrite_existing);
  if (std::system(("mke2fs -q -t ext4 -d '" + tree + "' '" + ext4 + "' 4M >/dev/null 2>&1").c_str()) == 0)
    seeds.push_back(test::read_bytes(ext4));
  const char* env = std::getenv("S3D_IMAGE_TRIALS");
  const int trials = env ? std::max(1, std::atoi(env)) : 60;
  std::mt19937 rng(11);
  const std::string path = test::temp_path("damaged.img");
  size_t offered = 0;
  for (const auto& good : seeds) {
    for (int trial = 0; trial < trials; ++trial) {
      std::vector<uint8_t> img = good;
      if (trial % 3 == 0) {
        img.resize(std::uniform_int_distribution<size_t>(0, good.size())(rng));
      } else {
        // Overwrite bytes where the structure lives (boot sector, FATs, superblock, group
        // descriptors, root directory), or anywhere.
        const size_t span = trial % 2 ? std::min<size_t>(img.size(), 64 << 10) : img.size();
        for (int k = 0; k < 1 + trial % 16; ++k)
          img[std::uniform_int_distribution<size_t>(0, span - 1)(rng)] ^= static_cast<uint8_t>(1 + rng() % 255);
      }
      write_file(path, img);
      std::string err;
      const std::vector<Seen> seen = walk(path, &err, nullptr, true, /*carve=*/trial % 2 == 1);
      offered += seen.size();
      for (const Seen& s : seen) EXPECT_TRUE(s.error.empty() || s.bytes.empty()) << s.path;
      EXPECT_EQ(err.find('\n'), std::string::npos);
    }
  }
  std::cout << "[ measured ] " << seeds.size() << " file systems x " << trials << " damaged images: " << offered
            << " files offered, no crash\n";
}

// A database holding the fixture's part (`screen3d sig add`); "" when that fails.
std::string part_db(const Fixture& f) {
  const std::string db = test::temp_path("ref.s3db");
  std::filesystem::remove(db);
  const auto r = test::run_cli({"sig", "add", "--db", db, "--label", "part", "--category", "receiver", f.part});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? db : std::string();
}

std::vector<nlohmann::json> json_lines(const test::CliResult& r) {
  std::vector<nlohmann::json> out;
  for (const std::string& l : r.out_lines()) out.push_back(nlohmann::json::parse(l));
  return out;
}

TEST(ImageCli, FindsTheDeletedRenamedCopyAndLeavesTheImageAlone) {
  if (!have_tools()) GTEST_SKIP() << "dosfstools/mtools not installed";
  const Fixture f = make_fixture();
  const std::string db = part_db(f);
  ASSERT_FALSE(db.empty());
  const auto before = test::read_bytes(f.image);
  const auto r = test::run_program(S3D_IMAGE_CLI_PATH, {"--db", db, "--json", "--threads", "2", f.image});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto lines = json_lines(r);
  ASSERT_EQ(lines.size(), 4u) << r.out;  // part.stl, gear.stl, the zip member, the deleted copy
  const std::string prefix = f.image + "!/";
  EXPECT_EQ(lines[0]["path"], prefix + "jobs/part.stl");
  EXPECT_EQ(lines[0]["verdict"], "restricted");
  EXPECT_EQ(lines[0]["image_file"]["deleted"], false);
  EXPECT_EQ(lines[0]["image_file"]["file_system"], "fat12");
  EXPECT_EQ(lines[1]["path"], prefix + "jobs/gear.stl");
  EXPECT_EQ(lines[1]["verdict"], "clean");
  EXPECT_EQ(lines[2]["path"], prefix + "jobs/jobs.zip!/queue/turned.stl");
  EXPECT_EQ(lines[2]["verdict"], "restricted");
  EXPECT_EQ(lines[3]["verdict"], "restricted");
  EXPECT_EQ(lines[3]["format"], "stl-binary");  // named .jpg: detected by content
  EXPECT_EQ(lines[3]["image_file"]["deleted"], true);
  EXPECT_EQ(lines[3]["sha256"].get<std::string>().size(), 64u);
  // One summary line on stderr.
  ASSERT_EQ(r.err_lines().size(), 1u) << r.err;
  EXPECT_NE(r.err.find("1 deleted"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("3 restricted"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 not 3D"), std::string::npos) << r.err;
  EXPECT_TRUE(test::read_bytes(f.image) == before);  // read-only
  // --all lists the text file as skipped; --no-deleted drops the deleted copy.
  const auto all = json_lines(test::run_program(S3D_IMAGE_CLI_PATH, {"--db", db, "--json", "--all", f.image}));
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all[4]["path"], prefix + "readme.txt");
  EXPECT_EQ(all[4]["verdict"], "skipped");
  const auto live = json_lines(test::run_program(S3D_IMAGE_CLI_PATH, {"--db", db, "--json", "--no-deleted", f.image}));
  EXPECT_EQ(live.size(), 3u);
  // --carve: the deleted copy's blocks are cut out again but not reported twice.
  const auto carved = test::run_program(S3D_IMAGE_CLI_PATH, {"--db", db, "--json", "--carve", f.image});
  EXPECT_EQ(json_lines(carved).size(), 4u);
  EXPECT_NE(carved.err.find("carved 0"), std::string::npos) << carved.err;
}

// A printer's SD card after the jobs were deleted and their directory entries overwritten: the part
// sliced by prusa-slicer, the same G-code with every comment stripped, and as Prusa binary G-code,
// are carved and `restricted`; the gear sliced beside them is carved and clean; a 7z holding the
// part's STL is carved whole and its member is `restricted`.
TEST(ImageCli, CarvedJobsOfThePartAreRestricted) {
  if (!have_tools()) GTEST_SKIP() << "dosfstools/mtools not installed";
  if (!std::filesystem::exists("/usr/bin/prusa-slicer")) GTEST_SKIP() << "prusa-slicer not installed";
  const Fixture f = make_fixture();
  const std::string db = part_db(f);
  ASSERT_FALSE(db.empty());
  const std::string gear = test::temp_path("gear.stl"), part_g = test::temp_path("part.gcode"),
                    gear_g = test::temp_path("gear.gcode"), stripped = test::temp_path("stripped.gcode"),
                    binary = test::temp_path("part.bgcode"), image = test::temp_path("sd.img");
  for (const auto& [in, out] : {std::pair{f.part, part_g}, std::pair{gear, gear_g}}) {
    const std::string cmd = "/usr/bin/prusa-slicer --export-gcode -o '" + out + "' '" + in + "' > /dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  const auto g = test::read_bytes(part_g);
  const std::string text(g.begin(), g.end());
  { std::ofstream(stripped, std::ios::binary) << strip_comments(text); }
  write_file(binary, gcode::encode_bgcode(text, /*heatshrink 12/4*/ 3, /*MeatPack*/ 1));
  const std::string seven = test::temp_path("part.7z");
  write_file(seven, test::make_archive([](archive* a) { archive_write_set_format_7zip(a); },
                                       {{"jobs/part.stl", test::read_bytes(f.part)}}));
  fat_image(image, 16384,
            {{part_g, "JOB1.GCO"}, {stripped, "JOB2.GCO"}, {binary, "JOB3.BGC"}, {gear_g, "JOB4.GCO"}, {seven, "JOB5.7Z"}},
            {"JOB1.GCO", "JOB2.GCO", "JOB3.BGC", "JOB4.GCO", "JOB5.7Z"});
  wipe_entries(image, {"OB1    GCO", "OB2    GCO", "OB3    BGC", "OB4    GCO", "OB5    7Z "}, image);

  const auto r = test::run_program(S3D_IMAGE_CLI_PATH, {"--db", db, "--json", "--carve", image});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto lines = json_lines(r);
  ASSERT_EQ(lines.size(), 5u) << r.out << r.err;
  auto file_hash = [](const std::string& path) { return sha256_hex(test::read_bytes(path)); };
  int restricted = 0, clean = 0, archived = 0;
  for (const auto& l : lines) {
    EXPECT_EQ(l["image_file"]["carved"], true);
    EXPECT_EQ(l["image_file"]["carved_partial"], false);
    const std::string sha = l["sha256"];
    const std::string path = l["path"];
    if (path.find(".7z!/jobs/part.stl") != std::string::npos) {
      archived += l["verdict"] == "restricted" && sha == file_hash(f.part);
    } else if (l["verdict"] == "restricted") {
      ++restricted;
      EXPECT_TRUE(sha == file_hash(part_g) || sha == file_hash(stripped) || sha == file_hash(binary)) << l.dump();
    } else {
      clean += l["verdict"] == "clean" && sha == file_hash(gear_g);
    }
  }
  EXPECT_EQ(restricted, 3) << r.out;
  EXPECT_EQ(clean, 1) << r.out;
  EXPECT_EQ(archived, 1) << r.out;
  EXPECT_NE(r.err.find("carved 5 (0 G-code or OBJ cut short"), std::string::npos) << r.err;
}

TEST(ImageCli, ReportNamesTheToolDatabaseImageAndFlaggedFiles) {
  if (!have_tools()) GTEST_SKIP() << "dosfstools/mtools not installed";
  const Fixture f = make_fixture();
  const std::string db = part_db(f), report = test::temp_path("report.json");
  ASSERT_FALSE(db.empty());
  std::filesystem::remove(report);
  const auto r = test::run_program(S3D_IMAGE_CLI_PATH, {"--db", db, "--report", report, "--hash-image", f.image});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  std::ifstream in(report);
  const nlohmann::json rep = nlohmann::json::parse(in);
  EXPECT_EQ(rep["tool"], "screen3d-image");
  EXPECT_EQ(rep["database"]["sha256"], sha256_hex(test::read_bytes(db)));
  EXPECT_EQ(rep["database"]["signatures"], 1);
  ASSERT_EQ(rep["images"].size(), 1u);
  EXPECT_EQ(rep["images"][0]["sha256"], sha256_hex(test::read_bytes(f.image)));
  EXPECT_EQ(rep["images"][0]["files"], 5);
  EXPECT_EQ(rep["images"][0]["deleted"], 1);
  EXPECT_EQ(rep["images"][0]["restricted"], 3);
  ASSERT_EQ(rep["flagged"].size(), 3u);
  EXPECT_EQ(rep["flagged"][2]["image_file"]["deleted"], true);
  EXPECT_TRUE(rep["errors"].empty());
  EXPECT_FALSE(std::filesystem::exists(report + ".tmp"));
  // A report path that is one of the images: refused before anything is read or written.
  const auto before = test::read_bytes(f.image);
  EXPECT_EQ(test::run_program(S3D_IMAGE_CLI_PATH, {"--db", db, "--report", f.image, f.image}).exit_code, 2);
  EXPECT_TRUE(test::read_bytes(f.image) == before);
}

// A deleted file whose content cannot be read (its start cluster points past the image) is counted
// in the summary, not reported as an error: most deleted files are not 3D and many are overwritten.
TEST(ImageCli, AnUnreadableDeletedFileIsCountedNotAnError) {
  if (!have_tools()) GTEST_SKIP() << "dosfstools/mtools not installed";
  const Fixture f = make_fixture();
  auto img = test::read_bytes(f.image);
  const std::string name = "?OLIDAY JPG";  // the deleted 8.3 directory entry: first byte 0xE5
  std::vector<uint8_t> entry(name.begin(), name.end());
  entry[0] = 0xE5;
  const auto at = std::search(img.begin(), img.end(), entry.begin(), entry.end());
  ASSERT_NE(at, img.end());
  at[26] = 0xF0;  // first cluster 0xFF0: beyond the end of this FAT12 volume
  at[27] = 0x0F;
  const std::string bad = test::temp_path("bad.img");
  write_file(bad, img);
  const std::string db = part_db(f);
  ASSERT_FALSE(db.empty());
  const auto r = test::run_program(S3D_IMAGE_CLI_PATH, {"--db", db, "--json", bad});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(json_lines(r).size(), 3u);
  ASSERT_EQ(r.err_lines().size(), 1u) << r.err;  // the summary only
  EXPECT_NE(r.err.find("0 errors"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 deleted files unreadable"), std::string::npos) << r.err;
  const auto all = json_lines(test::run_program(S3D_IMAGE_CLI_PATH, {"--db", db, "--json", "--all", bad}));
  int listed = 0;
  for (const auto& l : all)
    if (l["image_file"]["deleted"] == true) {
      ++listed;
      EXPECT_EQ(l["verdict"], "skipped");
      EXPECT_NE(l["error"].get<std::string>().find("cannot read the content"), std::string::npos) << l["error"];
    }
  EXPECT_EQ(listed, 1);
}

// More files than one screening batch (256): results come out in the walk's order, none lost.
TEST(ImageCli, ManyFilesComeOutInWalkOrder) {
  if (!have_tools()) GTEST_SKIP() << "dosfstools/mtools not installed";
  const Fixture f = make_fixture();
  const std::string dir = test::temp_path("many");
  std::filesystem::create_directories(dir);
  for (int i = 0; i < 600; ++i) {
    const std::string name = dir + "/n" + std::to_string(i) + (i % 150 == 7 ? ".stl" : ".txt");
    if (i % 150 == 7)
      std::filesystem::copy_file(i % 300 == 7 ? f.part : f.turned, name, std::filesystem::copy_options::overwrite_existing);
    else
      std::ofstream(name) << "note " << i << "\n";
  }
  const std::string image = test::temp_path("many.img");
  std::filesystem::remove(image);
  sh("mkfs.fat -C '" + image + "' 16384");
  sh("mcopy -s -i '" + image + "' '" + dir + "' ::/");
  std::string err;
  std::vector<std::string> order;
  for (const Seen& s : walk(image, &err)) order.push_back(image + "!/" + s.path);
  ASSERT_EQ(order.size(), 600u);
  const std::string db = part_db(f);
  ASSERT_FALSE(db.empty());
  const auto r = test::run_program(S3D_IMAGE_CLI_PATH, {"--db", db, "--json", "--all", "--threads", "2", image});
  EXPECT_EQ(r.exit_code, 1);
  const auto lines = json_lines(r);
  ASSERT_EQ(lines.size(), 600u);
  int restricted = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["path"], order[i]) << i;
    restricted += lines[i]["verdict"] == "restricted";
  }
  EXPECT_EQ(restricted, 4);
}

// A file listed by its hash (sig add-hashes) is found in an image whatever it is: the fixture's text
// file, otherwise counted as not 3D, becomes a restricted result. --progress prints while walking.
TEST(ImageCli, AListedFileIsFoundWhateverItHolds) {
  if (!have_tools()) GTEST_SKIP() << "dosfstools/mtools not installed";
  const Fixture f = make_fixture();
  const std::string db = part_db(f);
  ASSERT_FALSE(db.empty());
  const std::string list = test::temp_path("known.sha256");
  const std::string notes = "print queue notes\n";  // readme.txt's content (make_fixture)
  std::ofstream(list) << sha256_hex(std::vector<uint8_t>(notes.begin(), notes.end())) << "  readme.txt\n";
  const auto add = test::run_cli({"sig", "add-hashes", "--db", db, "--category", "other", list});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  // (With --progress: lines on stderr while the image is walked.)
  const std::string report = test::temp_path("listed-report.json");
  std::filesystem::remove(report);
  const auto r = test::run_program(S3D_IMAGE_CLI_PATH,
                                   {"--db", db, "--json", "--progress", "0.000001", "--report", report, f.image});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  std::ifstream rin(report);
  const nlohmann::json rep = nlohmann::json::parse(rin);
  EXPECT_EQ(rep["database"]["signatures"], 2);  // the part's shape and the listed file
  EXPECT_EQ(rep["database"]["listed_files"], 1);
  EXPECT_NE(r.err.find("screen3d: " + f.image + ": walking: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" files offered; "), std::string::npos) << r.err;
  const auto lines = json_lines(r);
  ASSERT_EQ(lines.size(), 5u) << r.out;
  int listed = 0;
  for (const auto& l : lines) {
    if (l["path"] != f.image + "!/readme.txt") continue;
    ++listed;
    EXPECT_EQ(l["verdict"], "restricted");
    EXPECT_EQ(l["matches"][0]["method"], "sha256");
    EXPECT_EQ(l["matches"][0]["label"], "readme.txt");
  }
  EXPECT_EQ(listed, 1);
}

TEST(ImageCli, ABadImageIsNamedAndTheOthersAreStillScreened) {
  if (!have_tools()) GTEST_SKIP() << "dosfstools/mtools not installed";
  const Fixture f = make_fixture();
  const std::string junk = test::temp_path("junk.img");
  write_file(junk, std::vector<uint8_t>(4096, 0x5a));
  const std::string db = part_db(f);
  ASSERT_FALSE(db.empty());
  const auto r = test::run_program(S3D_IMAGE_CLI_PATH, {"--db", db, "--json", junk, f.image});
  EXPECT_EQ(r.exit_code, 1);  // a match wins over the error (contract)
  EXPECT_EQ(json_lines(r).size(), 4u);
  EXPECT_NE(r.err.find("screen3d: " + junk + ": no partition table or file system recognised"), std::string::npos) << r.err;
  // Only the bad image: exit 2.
  EXPECT_EQ(test::run_program(S3D_IMAGE_CLI_PATH, {"--db", db, junk}).exit_code, 2);
}

// Each image is walked by a worker process: when libtsk crashes on a hostile image (simulated with
// the workers' test hook), the image is named with the reason, the report is still written, and the
// next image is screened.
TEST(ImageCli, AWalkerCrashCostsThatImageOnly) {
  if (!have_tools()) GTEST_SKIP() << "dosfstools/mtools not installed";
  const Fixture f = make_fixture();
  const std::string db = part_db(f), report = test::temp_path("crash-report.json");
  ASSERT_FALSE(db.empty());
  const std::string bad = test::temp_path("crashes.img");
  std::filesystem::copy_file(f.image, bad, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::remove(report);
  const test::ScopedEnv fault("SCREEN3D_TEST_FAULT", "crash:crashes.img");
  const auto r = test::run_program(S3D_IMAGE_CLI_PATH, {"--db", db, "--json", "--report", report, bad, f.image});
  EXPECT_EQ(r.exit_code, 1) << r.err;  // the second image's matches
  const auto lines = json_lines(r);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  for (const auto& l : lines) EXPECT_EQ(l["path"].get<std::string>().rfind(f.image + "!/", 0), 0u) << l["path"];
  EXPECT_NE(r.err.find("screen3d: " + bad + ": the image walker stopped abnormally"), std::string::npos) << r.err;
  std::ifstream in(report);
  const nlohmann::json rep = nlohmann::json::parse(in);
  ASSERT_EQ(rep["images"].size(), 2u);
  EXPECT_EQ(rep["images"][0]["path"], bad);
  EXPECT_NE(rep["images"][0]["error"].get<std::string>().find("stopped abnormally"), std::string::npos);
  EXPECT_TRUE(rep["images"][1]["error"].is_null());
  EXPECT_EQ(rep["images"][1]["restricted"], 3);
  EXPECT_EQ(rep["flagged"].size(), 3u);
  // Only the crashing image: exit 2, and the report says why.
  EXPECT_EQ(test::run_program(S3D_IMAGE_CLI_PATH, {"--db", db, bad}).exit_code, 2);
  // --in-process walks in the program itself; the hook acts in workers only, so there both images
  // are screened (a real crash there would end the whole run: why workers are the default).
  const auto in_process = test::run_program(S3D_IMAGE_CLI_PATH, {"--db", db, "--json", "--in-process", bad, f.image});
  EXPECT_EQ(in_process.exit_code, 1);
  EXPECT_EQ(json_lines(in_process).size(), 8u);
}

// libtsk dying in the middle of one file system's walk (the hook at the walk's second file of the
// first partition) costs the rest of that walk only: its first file stays reported, the part is
// named with the reason, and the next worker walks the second partition whole. A walk that hangs
// there instead is the same once --stall-timeout stops it; a file whose screening hangs costs that
// file only.
struct TwoPartitions {
  std::string db, image, first;    // first: the partition the walk takes first, "p2/"
  std::vector<nlohmann::json> all;  // the results without a fault
};
TwoPartitions two_partitions(const Fixture& f, const std::string& name) {
  TwoPartitions t;
  t.db = part_db(f);
  t.image = partitioned_disk(f.image, 2, name);
  const auto clean = test::run_program(S3D_IMAGE_CLI_PATH, {"--db", t.db, "--json", t.image});
  EXPECT_EQ(clean.exit_code, 1) << clean.err;
  t.all = json_lines(clean);
  EXPECT_EQ(t.all.size(), 8u) << clean.out;
  if (t.all.size() == 8) {
    t.first = t.all[0]["path"].get<std::string>().substr(t.image.size() + 2, 3);
    EXPECT_EQ(t.first.front(), 'p');
    EXPECT_EQ(t.all[1]["path"], t.image + "!/" + t.first + "jobs/gear.stl");
  }
  return t;
}

void expect_same_result(const nlohmann::json& x, const nlohmann::json& y) {
  EXPECT_EQ(x["path"], y["path"]);
  EXPECT_EQ(x["verdict"], y["verdict"]) << x["path"];
  EXPECT_EQ(x["image_file"], y["image_file"]) << x["path"];
}

// screen3d-image on t.image with `fault` and `args`: the first partition's first file, then the
// second partition whole; stderr names the directory walk of the first partition with `how`.
void expect_first_walk_cut(const TwoPartitions& t, const std::string& fault, std::vector<std::string> args,
                           const std::string& how) {
  const std::string report = test::temp_path("walk-cut-report.json");
  std::filesystem::remove(report);
  const test::ScopedEnv env("SCREEN3D_TEST_FAULT", fault);
  args.insert(args.begin(), {"--db", t.db, "--json", "--report", report});
  args.push_back(t.image);
  const auto r = test::run_program(S3D_IMAGE_CLI_PATH, args);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto lines = json_lines(r);
  ASSERT_EQ(lines.size(), 5u) << r.out;
  expect_same_result(lines[0], t.all[0]);                                // the file before the fault
  for (size_t k = 1; k < 5; ++k) expect_same_result(lines[k], t.all[k + 3]);  // the second partition, whole
  const std::string named = "screen3d: " + t.image + ": the image walker " + how + " in the directory walk of " +
                            t.first + "; the files of that part reported before this line were screened, the rest "
                            "of that part was not; the walk goes on";
  EXPECT_NE(r.err.find(named), std::string::npos) << r.err;
  std::ifstream in(report);
  const nlohmann::json rep = nlohmann::json::parse(in);
  ASSERT_EQ(rep["images"].size(), 1u);
  EXPECT_NE(rep["images"][0]["error"].get<std::string>().find("in the directory walk of " + t.first), std::string::npos);
  EXPECT_EQ(rep["images"][0]["restricted"], 4);
  EXPECT_EQ(rep["flagged"].size(), 4u);
}

TEST(ImageCli, AWalkerCrashInOnePartitionCostsTheRestOfThatPartitionOnly) {
  if (!have_tools()) GTEST_SKIP() << "dosfstools/mtools not installed";
  const Fixture f = make_fixture();
  const TwoPartitions t = two_partitions(f, "two-crash.img");
  ASSERT_FALSE(t.first.empty());
  expect_first_walk_cut(t, "crash:" + t.first + "jobs/gear.stl#walk", {}, "stopped abnormally (signal 6, Aborted)");
}

TEST(ImageCli, AStalledWalkOrScreeningCostsThatPartOrFileOnly) {
  if (!have_tools()) GTEST_SKIP() << "dosfstools/mtools not installed";
  const Fixture f = make_fixture();
  const TwoPartitions t = two_partitions(f, "two-stall.img");
  ASSERT_FALSE(t.first.empty());
  expect_first_walk_cut(t, "hang:" + t.first + "jobs/gear.stl#walk", {"--stall-timeout", "1"},
                        "was stopped after 1 s without progress (--stall-timeout)");
  // The screening of that file hangs instead: it alone is an error, in walk order.
  const test::ScopedEnv env("SCREEN3D_TEST_FAULT", "hang:" + t.first + "jobs/gear.stl");
  const auto r = test::run_program(S3D_IMAGE_CLI_PATH, {"--db", t.db, "--json", "--stall-timeout", "1", t.image});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto lines = json_lines(r);
  ASSERT_EQ(lines.size(), 8u) << r.out;
  for (size_t k = 0; k < 8; ++k) {
    EXPECT_EQ(lines[k]["path"], t.all[k]["path"]);
    if (k != 1) expect_same_result(lines[k], t.all[k]);
  }
  EXPECT_EQ(lines[1]["verdict"], "error");
  EXPECT_EQ(lines[1]["error"], "not screened: the screening process was stopped after 1 s without progress "
                               "(--stall-timeout) on this file");
  // --image-timeout still ends the image: nothing is passed over. (The first worker screens the
  // files in one batch and reports them together, so it has reported none.)
  const auto timed = test::run_program(S3D_IMAGE_CLI_PATH, {"--db", t.db, "--json", "--image-timeout", "1", t.image});
  EXPECT_EQ(timed.exit_code, 2) << timed.err;
  EXPECT_EQ(json_lines(timed).size(), 0u);
  EXPECT_NE(timed.err.find("(--image-timeout); the files reported before this line were screened, the rest of the image was not"),
            std::string::npos) << timed.err;
}

// A file that crashes its worker while being screened (the hook again, standing in for a parser
// bug) costs that file only: the workers that follow pass over what was reported, screen the files
// that were in hand one at a time until the culprit is known, report it as an error in walk order,
// and go on with the rest of the image.
// screen3d-image on the fixture's image with the screening of jobs/gear.stl faulted
// (SCREEN3D_TEST_FAULT=<how>:gear.stl): exit status 1 and four results, gear.stl's an error.
struct GearFaulted {
  test::CliResult run;
  std::vector<nlohmann::json> lines;
};
GearFaulted screen_with_gear_faulted(const Fixture& f, const std::string& db, const std::string& how,
                                     std::vector<std::string> args) {
  const test::ScopedEnv fault("SCREEN3D_TEST_FAULT", how + ":gear.stl");
  args.insert(args.begin(), {"--db", db, "--json"});
  args.push_back(f.image);
  GearFaulted g{test::run_program(S3D_IMAGE_CLI_PATH, args), {}};
  EXPECT_EQ(g.run.exit_code, 1) << g.run.err;
  g.lines = json_lines(g.run);
  EXPECT_EQ(g.lines.size(), 4u) << g.run.out;
  if (g.lines.size() == 4) {
    EXPECT_EQ(g.lines[1]["path"], f.image + "!/jobs/gear.stl");
    EXPECT_EQ(g.lines[1]["verdict"], "error");
  }
  return g;
}

TEST(ImageCli, AFileThatCrashesItsWorkerCostsThatFileOnly) {
  if (!have_tools()) GTEST_SKIP() << "dosfstools/mtools not installed";
  const Fixture f = make_fixture();
  const std::string db = part_db(f), report = test::temp_path("file-crash-report.json");
  ASSERT_FALSE(db.empty());
  std::filesystem::remove(report);
  const auto [r, lines] = screen_with_gear_faulted(f, db, "crash", {"--report", report});
  ASSERT_EQ(lines.size(), 4u);
  const std::string prefix = f.image + "!/";
  EXPECT_EQ(lines[0]["path"], prefix + "jobs/part.stl");
  EXPECT_EQ(lines[0]["verdict"], "restricted");
  EXPECT_EQ(lines[1]["image_file"]["file_system"], "fat12");
  EXPECT_EQ(lines[2]["path"], prefix + "jobs/jobs.zip!/queue/turned.stl");
  EXPECT_EQ(lines[2]["verdict"], "restricted");
  EXPECT_EQ(lines[3]["verdict"], "restricted");
  EXPECT_EQ(lines[3]["image_file"]["deleted"], true);
  EXPECT_NE(r.err.find("screen3d: " + prefix + "jobs/gear.stl: not screened: the screening process stopped abnormally"),
            std::string::npos) << r.err;
  std::ifstream in(report);
  const nlohmann::json rep = nlohmann::json::parse(in);
  ASSERT_EQ(rep["images"].size(), 1u);
  EXPECT_TRUE(rep["images"][0]["error"].is_null()) << rep["images"][0];
  EXPECT_EQ(rep["images"][0]["files"], 5);
  EXPECT_EQ(rep["images"][0]["screened"], 4);
  EXPECT_EQ(rep["images"][0]["restricted"], 3);
  EXPECT_EQ(rep["images"][0]["errors"], 1);
  EXPECT_EQ(rep["images"][0]["not_3d"], 1);
  EXPECT_EQ(rep["flagged"].size(), 3u);
  ASSERT_EQ(rep["errors"].size(), 1u);
  EXPECT_EQ(rep["errors"][0]["path"], prefix + "jobs/gear.stl");
}

// A file whose screening allocates past the worker's data cap is an error naming the cap; the walk
// and the other files go on in the same worker. (No cap in sanitizer builds.)
TEST(ImageCli, AFileOverTheWorkerMemoryCapIsAnError) {
  if (test::kSanitizerBuild) GTEST_SKIP() << "no memory cap in sanitizer builds";
  if (!have_tools()) GTEST_SKIP() << "dosfstools/mtools not installed";
  const Fixture f = make_fixture();
  const std::string db = part_db(f);
  ASSERT_FALSE(db.empty());
  const auto lines = screen_with_gear_faulted(f, db, "alloc", {"--worker-memory", "512"}).lines;
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_NE(lines[1]["error"].get<std::string>().find("cap of 512 MiB"), std::string::npos) << lines[1];
  for (size_t i : {0u, 2u, 3u}) EXPECT_EQ(lines[i]["verdict"], "restricted") << lines[i];
  const auto uncapped = test::run_program(S3D_IMAGE_CLI_PATH, {"--db", db, "--json", "--worker-memory", "0", f.image});
  const auto all = json_lines(uncapped);
  ASSERT_EQ(all.size(), 4u) << uncapped.out;
  EXPECT_EQ(all[1]["verdict"], "clean") << all[1];
}

// A walker that never ends (an endless loop on a hostile image) is stopped by --image-timeout.
TEST(ImageCli, AHungWalkerIsStoppedByTheImageTimeout) {
  if (!have_tools()) GTEST_SKIP() << "dosfstools/mtools not installed";
  const Fixture f = make_fixture();
  const std::string db = part_db(f);
  ASSERT_FALSE(db.empty());
  const std::string bad = test::temp_path("hangs.img");
  std::filesystem::copy_file(f.image, bad, std::filesystem::copy_options::overwrite_existing);
  const test::ScopedEnv fault("SCREEN3D_TEST_FAULT", "hang:hangs.img");
  const auto r = test::run_program(S3D_IMAGE_CLI_PATH, {"--db", db, "--json", "--image-timeout", "2", bad, f.image},
                                   std::chrono::seconds(60));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(json_lines(r).size(), 4u) << r.out;
  EXPECT_NE(r.err.find("screen3d: " + bad + ": the image walker was stopped after 2 s (--image-timeout)"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace s3d
