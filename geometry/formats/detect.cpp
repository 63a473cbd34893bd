// Content-based format detection (format.h). Order of decisions:
//   1. zip ("PK\3\4" / "PK\5\6") with a readable central directory (or local headers): gcode-3mf
//      when any member is *.gcode, 3mf when a *.model part sits under 3D/ (or [Content_Types].xml
//      plus any *.model), else zip. Nothing is decompressed.
//   2. bgcode magic "GCDE".
//   3. the best score among the registered readers' probe() (binary STL by exact size, ASCII STL,
//      ...) and the built-in text checks here (OBJ, PLY, OFF, AMF, G-code). The built-in checks keep
//      detection working whatever a reader's probe does; a reader's probe can only raise a score.
//   4. a zip magic whose directory could not be read is still a zip; otherwise unknown.
// Text formats are judged on a bounded prefix (4 KiB, up to 64 KiB for comment-only G-code).
#include <algorithm>
#include <array>
#include <cstring>
#include <string_view>

#include "geometry/formats/format.h"
#include "geometry/formats/reader.h"

namespace s3d {

namespace {

constexpr size_t kTextWindow = 4096;
constexpr size_t kGcodeWindow = 65536;

uint16_t u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t u64(const uint8_t* p) { return u32(p) | (static_cast<uint64_t>(u32(p + 4)) << 32); }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool istarts_with(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (lower(s[i]) != prefix[i]) return false;
  return true;
}

bool iends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && istarts_with(s.substr(s.size() - suffix.size()), suffix);
}

bool icontains(std::string_view hay, std::string_view needle) {
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i)
    if (istarts_with(hay.substr(i), needle)) return true;
  return false;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view prefix(std::span<const uint8_t> data, size_t n) {
  return {reinterpret_cast<const char*>(data.data()), std::min(n, data.size())};
}

// True when `s` has no control bytes other than whitespace (bytes >= 0x80 allowed: UTF-8).
bool is_text(std::string_view s) {
  for (char ch : s) {
    const auto c = static_cast<uint8_t>(ch);
    if ((c < 0x20 && !is_space(ch)) || c == 0x7f) return false;
  }
  return true;
}

std::string_view trim_left(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && is_space(s[i])) ++i;
  return s.substr(i);
}

std::string_view skip_bom(std::string_view s) { return s.starts_with("\xef\xbb\xbf") ? s.substr(3) : s; }

// Calls fn(line) for each complete line of `text`; the last line counts only if `text` is the whole
// file (a window may cut it).
template <class Fn>
void for_each_line(std::string_view text, bool whole_file, Fn fn) {
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      if (whole_file) fn(text.substr(pos));
      return;
    }
    if (!fn(text.substr(pos, nl - pos))) return;
    pos = nl + 1;
  }
}

// ---- zip ----------------------------------------------------------------------------------------

struct ZipNames {
  bool parsed = false;  // a directory or at least one local header was read
  bool gcode = false;
  bool model_in_3d = false;
  bool model = false;
  bool content_types = false;
};

void note_name(ZipNames& z, std::string_view name) {
  while (!name.empty() && (name.front() == '/' || name.front() == '\\')) name.remove_prefix(1);
  if (iends_with(name, ".gcode")) z.gcode = true;
  if (iends_with(name, ".model")) {
    z.model = true;
    if (istarts_with(name, "3d/") || istarts_with(name, "3d\\")) z.model_in_3d = true;
  }
  if (istarts_with(name, "[content_types].xml") && name.size() == 19) z.content_types = true;
}

// Reads the central directory named by the end-of-central-directory record (zip64 aware).
bool read_central_directory(std::span<const uint8_t> d, ZipNames& z) {
  const size_t n = d.size();
  if (n < 22) return false;
  // The EOCD record is 22 bytes plus a comment of up to 65535 bytes at the very end.
  const size_t lowest = n > 22 + 65535 ? n - 22 - 65535 : 0;
  size_t eocd = SIZE_MAX;
  for (size_t i = n - 22 + 1; i-- > lowest;) {
    if (d[i] == 'P' && d[i + 1] == 'K' && d[i + 2] == 5 && d[i + 3] == 6 &&
        i + 22 + u16(&d[i + 20]) <= n) {
      eocd = i;
      break;
    }
  }
  if (eocd == SIZE_MAX) return false;
  uint64_t entries = u16(&d[eocd + 10]);
  uint64_t cd_size = u32(&d[eocd + 12]);
  uint64_t cd_offset = u32(&d[eocd + 16]);
  if ((entries == 0xffff || cd_size == 0xffffffffu || cd_offset == 0xffffffffu) && eocd >= 20 &&
      u32(&d[eocd - 20]) == 0x07064b50u) {
    const uint64_t z64 = u64(&d[eocd - 20 + 8]);
    if (n >= 56 && z64 <= n - 56 && u32(&d[z64]) == 0x06064b50u) {
      entries = u64(&d[z64 + 32]);
      cd_size = u64(&d[z64 + 40]);
      cd_offset = u64(&d[z64 + 48]);
    }
  }
  if (entries == 0) {
    z.parsed = true;  // an empty archive
    return true;
  }
  // Archives with bytes prepended (self-extractors) have offsets relative to the archive start.
  if (cd_offset > n || cd_size > n - cd_offset || cd_offset + 4 > n || u32(&d[cd_offset]) != 0x02014b50u) {
    if (cd_size > eocd) return false;
    cd_offset = eocd - cd_size;
    if (cd_offset + 4 > n || u32(&d[cd_offset]) != 0x02014b50u) return false;
  }
  uint64_t pos = cd_offset;
  for (uint64_t e = 0; e < entries; ++e) {
    if (pos + 46 > n || u32(&d[pos]) != 0x02014b50u) break;
    const size_t name_len = u16(&d[pos + 28]);
    const size_t extra_len = u16(&d[pos + 30]);
    const size_t comment_len = u16(&d[pos + 32]);
    if (pos + 46 + name_len > n) break;
    note_name(z, std::string_view(reinterpret_cast<const char*>(&d[pos + 46]), name_len));
    z.parsed = true;
    pos += 46 + name_len + extra_len + comment_len;
  }
  return z.parsed;
}

// Fallback for archives without a readable directory (truncated downloads): walks local headers
// while their sizes are known.
void read_local_headers(std::span<const uint8_t> d, ZipNames& z) {
  const size_t n = d.size();
  uint64_t pos = 0;
  for (int e = 0; e < 100000; ++e) {
    if (pos + 30 > n || u32(&d[pos]) != 0x04034b50u) return;
    const uint16_t flags = u16(&d[pos + 6]);
    uint64_t comp = u32(&d[pos + 18]);
    const size_t name_len = u16(&d[pos + 26]);
    const size_t extra_len = u16(&d[pos + 28]);
    if (pos + 30 + name_len > n) return;
    note_name(z, std::string_view(reinterpret_cast<const char*>(&d[pos + 30]), name_len));
    z.parsed = true;
    if (flags & 0x08) return;  // sizes follow the data: cannot skip it without decompressing
    if (comp == 0xffffffffu) {  // zip64 extra field holds the sizes
      uint64_t x = pos + 30 + name_len;
      const uint64_t x_end = std::min<uint64_t>(x + extra_len, n);
      bool found = false;
      while (x + 4 <= x_end) {
        const uint16_t id = u16(&d[x]);
        const uint16_t len = u16(&d[x + 2]);
        if (id == 1 && len >= 16 && x + 4 + 16 <= x_end) {
          comp = u64(&d[x + 12]);
          found = true;
          break;
        }
        x += 4 + static_cast<uint64_t>(len);
      }
      if (!found) return;
    }
    const uint64_t next = pos + 30 + name_len + extra_len + comp;
    if (next <= pos || next > n) return;
    pos = next;
  }
}

Format classify_zip(const ZipNames& z) {
  if (z.gcode) return Format::kGcode3mf;
  if (z.model_in_3d || (z.content_types && z.model)) return Format::k3mf;
  return Format::kZip;
}

// ---- built-in text checks -----------------------------------------------------------------------

int ply_score(std::span<const uint8_t> data) {
  const std::string_view s = prefix(data, kTextWindow);
  if (!(s.starts_with("ply\n") || s.starts_with("ply\r\n"))) return 0;
  const std::string_view rest = trim_left(s.substr(3));
  return rest.starts_with("format ") ? 100 : 80;
}

int off_score(std::span<const uint8_t> data) {
  const std::string_view s = trim_left(skip_bom(prefix(data, kTextWindow)));
  // [ST][C][N][4][n]OFF, e.g. OFF, COFF, NOFF, CNOFF, STOFF, 4OFF.
  size_t i = 0;
  if (s.starts_with("ST")) i = 2;
  if (i < s.size() && s[i] == 'C') ++i;
  if (i < s.size() && s[i] == 'N') ++i;
  if (i < s.size() && s[i] == '4') ++i;
  if (i < s.size() && s[i] == 'n') ++i;
  if (s.substr(i, 3) != "OFF") return 0;
  i += 3;
  if (i < s.size() && !is_space(s[i])) return 0;  // "OFFICE", "OFFSET" ...
  std::string_view rest = s.substr(i);
  if (istarts_with(trim_left(rest), "binary")) return 90;
  if (!is_text(s)) return 0;
  // Comments may precede the counts line.
  for (;;) {
    rest = trim_left(rest);
    if (rest.starts_with("#")) {
      const size_t nl = rest.find('\n');
      if (nl == std::string_view::npos) return 40;
      rest = rest.substr(nl + 1);
      continue;
    }
    break;
  }
  return (!rest.empty() && is_digit(rest[0])) ? 95 : 40;
}

int amf_score(std::span<const uint8_t> data) {
  const std::string_view s = trim_left(skip_bom(prefix(data, kTextWindow)));
  if (s.starts_with("<amf")) return 90;
  if (!s.starts_with("<?xml")) return 0;
  return s.find("<amf") != std::string_view::npos ? 95 : 0;
}

int obj_score(std::span<const uint8_t> data) {
  const std::string_view s = skip_bom(prefix(data, kTextWindow));
  if (!is_text(s)) return 0;
  int vertices = 0, faces = 0, other_obj = 0, foreign = 0;
  for_each_line(s, s.size() == data.size(), [&](std::string_view line) {
    line = trim_left(line);
    if (line.empty() || line[0] == '#') return true;
    const size_t sp = line.find_first_of(" \t");
    const std::string_view key = line.substr(0, sp);
    if (key == "v") {
      // x y z [w | r g b]: needs numbers.
      std::string_view rest = trim_left(line.substr(std::min(sp, line.size())));
      if (!rest.empty() && (is_digit(rest[0]) || rest[0] == '-' || rest[0] == '+' || rest[0] == '.'))
        ++vertices;
      else
        ++foreign;
    } else if (key == "f" || key == "l" || key == "p") {
      ++faces;
    } else if (key == "vn" || key == "vt" || key == "vp" || key == "o" || key == "g" || key == "s" ||
               key == "usemtl" || key == "mtllib" || key == "cstype" || key == "deg" || key == "curv" ||
               key == "surf" || key == "parm" || key == "end" || key == "mg" || key == "lod" || key == "bevel" ||
               key == "c_interp" || key == "d_interp" || key == "usemap" || key == "maplib" ||
               key == "shadow_obj" || key == "trace_obj" || key == "ctech" || key == "stech") {
      ++other_obj;
    } else {
      ++foreign;
    }
    return true;
  });
  if (vertices == 0 && faces == 0) return 0;
  const int obj = vertices + faces + other_obj;
  if (foreign * 10 > obj) return 0;
  return vertices > 0 ? 80 : 40;
}

// A G-code command word: optional "N<digits>" line number, then G/M/T + digits.
bool is_gcode_command(std::string_view line) {
  size_t i = 0;
  if (i < line.size() && (line[i] == 'N' || line[i] == 'n') && i + 1 < line.size() && is_digit(line[i + 1])) {
    ++i;
    while (i < line.size() && is_digit(line[i])) ++i;
    while (i < line.size() && is_space(line[i])) ++i;
  }
  if (i + 1 >= line.size()) return false;
  const char c = lower(line[i]);
  if (c != 'g' && c != 'm' && c != 't') return false;
  if (!is_digit(line[i + 1])) return false;
  i += 2;
  while (i < line.size() && is_digit(line[i])) ++i;
  if (i < line.size() && line[i] == '.') {  // G29.1
    ++i;
    while (i < line.size() && is_digit(line[i])) ++i;
  }
  if (i == line.size()) return true;
  const char next = line[i];
  return is_space(next) || next == ';' || next == '*' || (lower(next) >= 'a' && lower(next) <= 'z');
}

bool is_slicer_comment(std::string_view comment) {
  static constexpr std::array<std::string_view, 18> kMarkers = {
      "generated by",  "generated with", "prusaslicer", "superslicer", "orcaslicer", "bambustudio",
      "slic3r",        "cura",           "simplify3d",  "ideamaker",   "kisslicer",  "flavor:",
      "layer_count",   "layer:",         "thumbnail",   "estimated printing time",   "filament used",
      "header_block_start"};
  for (std::string_view m : kMarkers)
    if (icontains(comment, m)) return true;
  return false;
}

int gcode_score(std::span<const uint8_t> data) {
  int commands = 0, comments = 0, other = 0;
  bool marker = false;
  auto scan = [&](std::string_view s, bool whole) {
    commands = comments = other = 0;
    marker = false;
    for_each_line(s, whole, [&](std::string_view line) {
      line = trim_left(line);
      while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
      if (line.empty()) return true;
      if (line[0] == ';' || line[0] == '(') {
        ++comments;
        if (!marker && is_slicer_comment(line.substr(0, 200))) marker = true;
      } else if (is_gcode_command(line)) {
        ++commands;
      } else {
        ++other;  // Klipper macros (PRINT_START ...) and the like
      }
      return true;
    });
  };
  std::string_view s = prefix(data, kTextWindow);
  if (!is_text(s)) return 0;
  scan(s, s.size() == data.size());
  if (commands == 0 && other == 0 && comments > 0 && data.size() > s.size()) {
    // A long comment header (thumbnails): look further.
    const std::string_view wide = prefix(data, kGcodeWindow);
    if (!is_text(wide)) return 0;
    scan(wide, wide.size() == data.size());
  }
  if (commands >= 3 && other * 4 <= commands) return 90;
  if (commands >= 1 && marker && other * 4 <= commands + comments) return 85;
  if (commands == 0 && marker && other == 0) return 70;
  if (commands >= 1 && other == 0 && comments + commands >= 2) return 50;
  return 0;
}

// Archives other than zip, and whole-file compression, by their magic bytes (7-Zip, RAR 1.5-5, POSIX
// and GNU tar, gzip, bzip2, xz, zstd). Asked only after every 3D format declined the file, so a
// binary STL whose 80-byte header happens to start with one of these stays an STL.
Format archive_magic(std::span<const uint8_t> d) {
  auto at = [&](size_t off, std::string_view m) {
    return d.size() >= off + m.size() && std::memcmp(d.data() + off, m.data(), m.size()) == 0;
  };
  using namespace std::string_view_literals;
  if (at(0, "7z\xBC\xAF\x27\x1C"sv)) return Format::k7z;
  if (at(0, "Rar!\x1A\x07\x00"sv) || at(0, "Rar!\x1A\x07\x01\x00"sv)) return Format::kRar;
  if (at(0, "\xFD" "7zXZ\x00"sv)) return Format::kXz;
  if (at(0, "\x28\xB5\x2F\xFD"sv)) return Format::kZstd;
  if (at(0, "\x1F\x8B\x08"sv)) return Format::kGzip;  // deflate, the only method gzip defines
  if (at(0, "BZh"sv) && d.size() >= 10 && d[3] >= '1' && d[3] <= '9' && at(4, "\x31\x41\x59\x26\x53\x59"sv))
    return Format::kBzip2;
  if (at(257, "ustar"sv) && d.size() >= 512) {  // a tar header's checksum: its bytes, the field as spaces
    uint32_t sum = 0;
    for (size_t i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? uint32_t{' '} : d[i];
    uint32_t stored = 0;
    for (size_t i = 148; i < 156 && d[i] >= '0' && d[i] <= '7'; ++i) stored = stored * 8 + static_cast<uint32_t>(d[i] - '0');
    if (sum == stored) return Format::kTar;
  }
  return Format::kUnknown;
}

}  // namespace

Format detect_format(std::span<const uint8_t> data) {
  try {
    if (data.empty()) return Format::kUnknown;
    const bool zip_magic = data.size() >= 4 && data[0] == 'P' && data[1] == 'K' &&
                           ((data[2] == 3 && data[3] == 4) || (data[2] == 5 && data[3] == 6));
    if (zip_magic) {
      ZipNames z;
      if (read_central_directory(data, z)) return classify_zip(z);
    }
    if (data.size() >= 10 && std::memcmp(data.data(), "GCDE", 4) == 0) return Format::kBgcode;

    Format best = Format::kUnknown;
    int best_score = 0;
    auto consider = [&](Format f, int score) {
      if (score > best_score) {
        best_score = score;
        best = f;
      }
    };
    for (const ReaderEntry& r : registered_readers()) {
      int score = 0;
      try {
        score = r.probe(data);
      } catch (...) {
        score = 0;
      }
      consider(r.format, std::min(score, 100));
    }
    consider(Format::kPly, ply_score(data));
    consider(Format::kOff, off_score(data));
    consider(Format::kAmf, amf_score(data));
    consider(Format::kObj, obj_score(data));
    consider(Format::kGcode, gcode_score(data));
    if (best_score > 0) return best;
    if (zip_magic) {
      ZipNames z;
      read_local_headers(data, z);
      return classify_zip(z);
    }
    return archive_magic(data);
  } catch (...) {
    return Format::kUnknown;
  }
}

}  // namespace s3d
