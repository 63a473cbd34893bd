#include "plugins/forensic/disk_image.h"

#include <tsk/libtsk.h>
#include <zlib.h>

#include "engine/sha256.h"
#include "geometry/gcode/bgcode.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstring>
#include <map>
#include <string_view>
#include <exception>
#include <fstream>
#include <memory>
#include <vector>

namespace s3d::forensic {

namespace {

std::string tsk_message() {
  const char* m = tsk_error_get();
  std::string s = m && *m ? m : "unknown error";
  tsk_error_reset();
  // TSK messages span lines; results and diagnostics are one line each.
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// The image container, from its signature. TSK's own detection (TSK_IMG_TYPE_DETECT) tries the
// VMDK and VHD readers on every image, and those leak a little memory each time they refuse one
// (Debian's libvmdk/libvhdi, seen under LeakSanitizer); naming the type avoids the probing.
TSK_IMG_TYPE_ENUM image_type(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[512] = {}, tail[512] = {};
  in.read(head, sizeof head);
  const std::streamsize n = in.gcount();
  in.clear();
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size >= 512) {
    in.seekg(size - 512);
    in.read(tail, sizeof tail);
  }
  auto starts = [&](const char* magic, size_t len) {
    return n >= static_cast<std::streamsize>(len) && std::memcmp(head, magic, len) == 0;
  };
  if (starts("EVF\x09\x0d\x0a\xff\x00", 8) || starts("LVF\x09\x0d\x0a\xff\x00", 8) || starts("EVF2\r\n\x81\x00", 8))
    return TSK_IMG_TYPE_EWF_EWF;
  if (starts("KDMV", 4) || starts("# Disk DescriptorFile", 21)) return TSK_IMG_TYPE_VMDK_VMDK;
  if (starts("conectix", 8) || (size >= 512 && std::memcmp(tail, "conectix", 8) == 0)) return TSK_IMG_TYPE_VHD_VHD;
  if (starts("AFF10\r\n", 7)) return TSK_IMG_TYPE_AFF_ANY;
  return TSK_IMG_TYPE_RAW;  // raw: single, or split (.001, .002, ...)
}

constexpr size_t kHead = 64;

std::string head_of(std::span<const uint8_t> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), std::min(b.size(), kHead));
}

struct Walk {
  const WalkOptions& opt;
  const std::function<void(const ImageFile&)>& fn;
  WalkSummary& summary;
  std::string prefix;  // "p2/" or ""
  std::string fs_name;
  int64_t partition = -1;
  uint64_t fs_offset = 0;
  std::vector<uint8_t> buf;
  std::exception_ptr failure;  // from fn: rethrown after the walk (never through TSK's C frames)
  // The deleted files offered, by their first kHead bytes: their size and SHA-256. Carving skips a
  // candidate that starts with one of them whole (a text file's carve may run on into its slack).
  std::multimap<std::string, std::pair<uint64_t, std::array<uint8_t, 32>>> deleted_heads;
  uint64_t blocks = 0;  // blocks carved, for WalkOptions::progress
};

// Reads up to `want` bytes of the file's default data into w.buf; returns "" or why not.
std::string read_content(TSK_FS_FILE* f, uint64_t want, Walk& w) {
  w.buf.resize(want);
  uint64_t got = 0;
  while (got < want) {
    const size_t ask = static_cast<size_t>(std::min<uint64_t>(want - got, 1 << 20));
    const ssize_t n = tsk_fs_file_read(f, static_cast<TSK_OFF_T>(got), reinterpret_cast<char*>(w.buf.data() + got), ask,
                                       TSK_FS_FILE_READ_FLAG_NONE);
    if (n <= 0) {
      w.buf.clear();
      return n < 0 ? "cannot read the content: " + tsk_message()
                   : "content ends after " + std::to_string(got) + " of " + std::to_string(want) + " bytes";
    }
    got += static_cast<uint64_t>(n);
  }
  return {};
}

// One directory entry: a regular file is read and offered.
void offer_entry(TSK_FS_FILE* f, const char* parent, Walk& w) {
  if (!f || !f->name || !f->meta || f->meta->type != TSK_FS_META_TYPE_REG) return;
  const bool name_unalloc = (f->name->flags & TSK_FS_NAME_FLAG_UNALLOC) != 0;
  const bool meta_unalloc = (f->meta->flags & TSK_FS_META_FLAG_UNALLOC) != 0;
  if (name_unalloc && !meta_unalloc) {  // the metadata now belongs to a live file, offered under its own name
    ++w.summary.reallocated;
    return;
  }
  ImageFile file;
  file.path = w.prefix + (parent ? parent : "") + (f->name->name ? f->name->name : "?");
  file.file_system = w.fs_name;
  file.partition = w.partition;
  file.fs_offset = w.fs_offset;
  file.inode = static_cast<uint64_t>(f->meta->addr);
  file.deleted = name_unalloc || meta_unalloc;
  file.size = f->meta->size > 0 ? static_cast<uint64_t>(f->meta->size) : 0;
  ++w.summary.files;
  w.summary.deleted += file.deleted;
  file.truncated = file.size > w.opt.max_file_bytes;
  const uint64_t want = file.truncated ? std::min(file.size, w.opt.prefix_bytes) : file.size;
  if (want > 0) {
    file.error = read_content(f, want, w);
    if (!file.error.empty() && file.deleted) file.error += " (a deleted file: its space may have been reused)";
    if (file.error.empty()) file.bytes = std::span<const uint8_t>(w.buf.data(), w.buf.size());
  }
  if (w.opt.carve && file.deleted && file.bytes.size() >= kHead && !file.truncated)
    w.deleted_heads.emplace(head_of(file.bytes), std::make_pair(file.bytes.size(), sha256(file.bytes)));
  w.fn(file);
}

// TSK's callback: nothing may throw through its C frames, so any exception is kept and rethrown
// after the walk.
TSK_WALK_RET_ENUM on_entry(TSK_FS_FILE* f, const char* parent, void* ptr) {
  Walk& w = *static_cast<Walk*>(ptr);
  try {
    if (w.opt.progress) w.opt.progress();
    offer_entry(f, parent, w);
  } catch (...) {
    w.failure = std::current_exception();
    return TSK_WALK_STOP;
  }
  return TSK_WALK_CONT;
}

// ---- carving --------------------------------------------------------------------------------

// G-code text: printable ASCII, tab, CR, LF, and bytes of UTF-8 (object names in comments).
bool text_byte(uint8_t c) { return c >= 0x20 ? c != 0x7f : (c == '\n' || c == '\r' || c == '\t'); }

// The block's text up to its last complete line (all of it when a non-text byte ends it inside the
// block); empty when the block does not open with at least 64 bytes of text.
std::string_view block_text(std::string_view block) {
  size_t text = 0;
  while (text < block.size() && text_byte(static_cast<uint8_t>(block[text]))) ++text;
  if (text < 64) return {};
  std::string_view t = block.substr(0, text);
  if (text == block.size()) {  // the text goes on past the block: its last line may be cut
    const size_t nl = t.rfind('\n');
    if (nl == std::string_view::npos) return {};
    t = t.substr(0, nl + 1);
  }
  return t;
}


// One line of G-code: blank, a comment, a command word (G, M, T or a line number N, then a digit),
// or a Klipper command (an upper-case name: EXCLUDE_OBJECT_DEFINE NAME=..., START_PRINT).
bool gcode_line(std::string_view l) {
  while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
  while (!l.empty() && (l.back() == '\r' || l.back() == ' ' || l.back() == '\t')) l.remove_suffix(1);
  if (l.empty() || l.front() == ';') return true;
  const char c = static_cast<char>(l.front() & ~0x20);
  if ((c == 'G' || c == 'M' || c == 'T' || c == 'N') && l.size() > 1 && l[1] >= '0' && l[1] <= '9') return true;
  size_t k = 0;
  while (k < l.size() && ((l[k] >= 'A' && l[k] <= 'Z') || l[k] == '_' || (k > 0 && l[k] >= '0' && l[k] <= '9'))) ++k;
  return k >= 3 && (k == l.size() || l[k] == ' ');
}

bool contains_lower(std::string_view hay, std::string_view needle) {
  if (hay.size() < needle.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    size_t k = 0;
    while (k < needle.size() && static_cast<char>(std::tolower(static_cast<unsigned char>(hay[i + k]))) == needle[k]) ++k;
    if (k == needle.size()) return true;
  }
  return false;
}

// How a block starts a G-code file, if it does. kHeader: the slicer's first comment line ("; generated
// by PrusaSlicer", ";FLAVOR:Marlin", "; HEADER_BLOCK_START", "; G-Code generated by Simplify3D"),
// strong enough to end another candidate. kCommands: comments stripped, the first line a command
// printers get only at the start of a job (homing, heating, units, modes, M73 P0); taken only when
// no candidate is open, since a block inside a file can start with such a line too. Either way every
// complete line of the block's text must be a G-code line, and there must be at least four.
enum class GcodeStart { kNone, kHeader, kCommands };

GcodeStart gcode_start(std::string_view block) {
  const std::string_view t = block_text(block);
  if (t.empty()) return GcodeStart::kNone;
  const size_t first_end = t.find('\n');
  const std::string_view first = t.substr(0, first_end);
  GcodeStart kind = GcodeStart::kNone;
  if (!first.empty() && first.front() == ';') {
    for (const char* marker : {"generated by", "generated with", "g-code generated", "gcode generated", "flavor:",
                               "header_block_start", "sliced by", "sliced with"})
      if (contains_lower(first, marker)) kind = GcodeStart::kHeader;
  } else {
    std::string_view cmd = first.substr(0, first.find_first_of(" ;\r"));
    static constexpr std::string_view kStart[] = {"G28", "G21", "G90", "M82", "M83", "M104", "M109", "M140", "M190",
                                                  "M107", "M201", "M862.3", "M115", "M17"};
    for (std::string_view s : kStart)
      if (cmd == s) kind = GcodeStart::kCommands;
    if (cmd == "M73" && first.find(" P0") != std::string_view::npos) kind = GcodeStart::kCommands;
  }
  if (kind == GcodeStart::kNone) return kind;
  int lines = 0;
  for (size_t p = 0; p < t.size();) {
    const size_t nl = t.find('\n', p);
    const std::string_view line = t.substr(p, nl == std::string_view::npos ? std::string_view::npos : nl - p);
    if (!gcode_line(line)) return GcodeStart::kNone;
    ++lines;
    p = nl == std::string_view::npos ? t.size() : nl + 1;
  }
  return lines >= 4 ? kind : GcodeStart::kNone;
}

// One line of a Wavefront OBJ file: blank, a comment, or a statement keyword and a space; a vertex
// ("v", "vn", "vt") must carry numbers only. Counts the vertices in `vertices`.
bool obj_line(std::string_view l, int& vertices) {
  while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
  while (!l.empty() && (l.back() == '\r' || l.back() == ' ' || l.back() == '\t')) l.remove_suffix(1);
  if (l.empty() || l.front() == '#') return true;
  const size_t sp = l.find_first_of(" \t");
  if (sp == std::string_view::npos) return false;
  const std::string_view key = l.substr(0, sp), rest = l.substr(sp + 1);
  if (key == "v" || key == "vn" || key == "vt") {
    int numbers = 0;
    for (size_t p = 0; p < rest.size();) {
      while (p < rest.size() && (rest[p] == ' ' || rest[p] == '\t')) ++p;
      if (p == rest.size()) break;
      const size_t q = std::min(rest.find_first_of(" \t", p), rest.size());
      for (size_t k = p; k < q; ++k)
        if (!std::strchr("0123456789.-+eE", rest[k])) return false;
      ++numbers;
      p = q;
    }
    vertices += key == "v";
    return numbers >= (key == "vt" ? 1 : 3);
  }
  static constexpr std::string_view kKeys[] = {"f", "l", "p", "o", "g", "s", "mtllib", "usemtl", "vp", "cstype", "deg", "curv", "surf"};
  return std::find(std::begin(kKeys), std::end(kKeys), key) != std::end(kKeys);
}

// How a block starts a Wavefront OBJ file, if it does. A block inside a file starts at a line start
// rarely and with a vertex or face line then, so the first line must be one a file opens with: a
// comment, "mtllib", "o" or "g". kStrong (ends another candidate): that comment names OBJ or an
// exporter ("OBJ File", "Wavefront", "exported", "generated", "written by"), or the file opens with
// mtllib. Every complete line must be an OBJ line, with at least three vertices among them.
enum class ObjStart { kNone, kWeak, kStrong };

ObjStart obj_start(std::string_view block) {
  const std::string_view t = block_text(block);
  if (t.empty()) return ObjStart::kNone;
  const std::string_view first = t.substr(0, t.find('\n'));
  ObjStart kind = ObjStart::kNone;
  if (first.starts_with("#")) {
    kind = ObjStart::kWeak;
    for (const char* marker : {"obj", "wavefront", "exported", "generated", "written by", "created by"})
      if (contains_lower(first, marker)) kind = ObjStart::kStrong;
  } else if (first.starts_with("mtllib ")) {
    kind = ObjStart::kStrong;
  } else if (first.starts_with("o ") || first.starts_with("g ")) {
    kind = ObjStart::kWeak;
  }
  if (kind == ObjStart::kNone) return kind;
  int vertices = 0;
  for (size_t p = 0; p < t.size();) {
    const size_t nl = t.find('\n', p);
    if (!obj_line(t.substr(p, nl == std::string_view::npos ? std::string_view::npos : nl - p), vertices)) return ObjStart::kNone;
    p = nl == std::string_view::npos ? t.size() : nl + 1;
  }
  return vertices >= 3 ? kind : ObjStart::kNone;
}

// Cuts files out of the unallocated blocks of one file system, in block order (see WalkOptions::carve).
class Carver {
 public:
  Carver(Walk& w, uint32_t block_size) : w_(w), block_size_(block_size) {}

  // The next free block, `addr` its address (in blocks), `data` its block_size bytes.
  void block(uint64_t addr, const uint8_t* data) {
    if (kind_ != Kind::kNone && addr != last_ + 1) cut_short(false);
    // A new file starting here ends the candidate unfinished: a false binary-STL start (a count that
    // runs past the real end) must not swallow the files after it. A zip is not split at "PK\3\4",
    // which also starts each member inside it.
    if (kind_ != Kind::kNone && starts_file(data, /*zip_too=*/kind_ != Kind::kZip)) cut_short(/*next_file=*/true);
    if (kind_ != Kind::kNone) {  // the block belongs to the candidate, whether it ends here or not
      const size_t before = buf_.size();
      buf_.insert(buf_.end(), data, data + block_size_);
      last_ = addr;
      if (buf_.size() > w_.opt.max_carve_bytes) cut_short(false);
      else check_end(before);
      return;
    }
    start(addr, data);
  }

  void finish() {
    if (kind_ != Kind::kNone) cut_short(false);
  }

 private:
  enum class Kind { kNone, kAsciiStl, kZip, kBinaryStl, kGcode, kBgcode, kSevenZip, kObj };

  Kind signature(const uint8_t* d, uint64_t* need, bool* strong) const {
    const std::string_view head(reinterpret_cast<const char*>(d), block_size_);
    *strong = true;
    if (head.substr(0, 6) == "solid " && head.find("facet") != std::string_view::npos) return Kind::kAsciiStl;
    if (head.substr(0, 4) == std::string_view("PK\x03\x04", 4)) return Kind::kZip;
    if (head.substr(0, 8) == std::string_view("GCDE\x01\x00\x00\x00", 8)) return Kind::kBgcode;
    if (seven_zip(d, need)) return Kind::kSevenZip;
    if (binary_stl(d, need)) {
      // Binary STL data passes the start test on about 4% of its interior blocks (measured on 20
      // corpus files), so a strong start also needs a header of text or zeros, as exporters write it
      // and triangle data never is.
      *strong = std::all_of(d, d + 80, [](uint8_t c) { return c == 0 || (c >= 0x20 && c < 0x7f); });
      return Kind::kBinaryStl;
    }
    const GcodeStart g = gcode_start(head);
    if (g != GcodeStart::kNone) {
      *strong = g == GcodeStart::kHeader;
      return Kind::kGcode;
    }
    const ObjStart o = obj_start(head);
    *strong = o == ObjStart::kStrong;
    return o == ObjStart::kNone ? Kind::kNone : Kind::kObj;
  }

  // A file start strong enough to end an unfinished candidate.
  bool starts_file(const uint8_t* d, bool zip_too) const {
    uint64_t need = 0;
    bool strong = false;
    const Kind k = signature(d, &need, &strong);
    return k != Kind::kNone && strong && (zip_too || k != Kind::kZip);
  }

  void start(uint64_t addr, const uint8_t* d) {
    bool strong = false;
    const Kind k = signature(d, &need_, &strong);
    if (k == Kind::kNone) return;
    kind_ = k;
    first_ = last_ = addr;
    resume_ = 0;
    gcode_seen_ = false;
    buf_.assign(d, d + block_size_);
    check_end(0);
  }

  // A binary STL starting here: a triangle count whose size fits the carve limit, and the triangles
  // within this block all finite, inside +-1e5 mm, with unit or zero normals. Random data and most
  // other formats fail this on the first triangle.
  bool binary_stl(const uint8_t* d, uint64_t* need) const {
    if (block_size_ < 84 + 50) return false;
    uint32_t n = 0;
    std::memcpy(&n, d + 80, 4);
    if (n < 4 || 84 + 50 * static_cast<uint64_t>(n) > w_.opt.max_carve_bytes) return false;
    const uint32_t check = std::min<uint32_t>(n, (block_size_ - 84) / 50);
    bool solid_triangle = false;  // one with a unit normal and a non-zero area: zeroed blocks pass the rest
    for (uint32_t t = 0; t < check; ++t) {
      float v[12];
      std::memcpy(v, d + 84 + 50 * t, sizeof v);
      for (float x : v)
        if (!std::isfinite(x) || std::fabs(x) > 1e5f) return false;
      const float len = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
      if (len > 1e-6f && std::fabs(len - 1) > 1e-2f) return false;
      const float ax = v[6] - v[3], ay = v[7] - v[4], az = v[8] - v[5], bx = v[9] - v[3], by = v[10] - v[4], bz = v[11] - v[5];
      const float cx = ay * bz - az * by, cy = az * bx - ax * bz, cz = ax * by - ay * bx;
      solid_triangle |= len > 0.5f && cx * cx + cy * cy + cz * cz > 0;
    }
    if (!solid_triangle) return false;
    *need = 84 + 50 * static_cast<uint64_t>(n);
    return true;
  }

  // A 7z archive starting here: its 32-byte signature header (magic, version, then the offset and
  // size of the header at its end, under a CRC-32) gives its exact size.
  bool seven_zip(const uint8_t* d, uint64_t* need) const {
    if (std::memcmp(d, "7z\xBC\xAF\x27\x1C", 6) != 0) return false;
    uint32_t crc = 0;
    uint64_t offset = 0, size = 0;
    std::memcpy(&crc, d + 8, 4);
    std::memcpy(&offset, d + 12, 8);
    std::memcpy(&size, d + 20, 8);
    if (static_cast<uint32_t>(::crc32(0, d + 12, 20)) != crc || size == 0 || offset > w_.opt.max_carve_bytes ||
        size > w_.opt.max_carve_bytes || 32 + offset + size > w_.opt.max_carve_bytes)
      return false;
    *need = 32 + offset + size;
    return true;
  }

  // Whether the candidate is complete, looking at what was appended after `from`.
  void check_end(size_t from) {
    const std::string_view all(reinterpret_cast<const char*>(buf_.data()), buf_.size());
    if (kind_ == Kind::kBinaryStl || kind_ == Kind::kSevenZip) {
      if (buf_.size() >= need_) emit(need_, kind_ == Kind::kSevenZip ? ".7z" : ".stl", false);
    } else if (kind_ == Kind::kAsciiStl) {
      const size_t at = all.find("endsolid", from >= 8 ? from - 8 : 0);
      if (at == std::string_view::npos) return;
      const size_t nl = all.find('\n', at);
      emit(nl == std::string_view::npos ? at + 8 : nl + 1, ".stl", false);  // the solid's name after it is optional
    } else if (kind_ == Kind::kZip) {
      // End of central directory: "PK\5\6", 18 fixed bytes, then a comment of the stored length.
      const size_t at = all.find(std::string_view("PK\x05\x06", 4), from >= 3 ? from - 3 : 0);
      if (at == std::string_view::npos || at + 22 > all.size()) return;  // not yet, or its fixed part goes on
      const size_t comment = static_cast<size_t>(buf_[at + 20] | (buf_[at + 21] << 8));
      if (at + 22 + comment <= all.size()) emit(at + 22 + comment, ".zip", false);
    } else if (kind_ == Kind::kGcode || kind_ == Kind::kObj) {
      // A text file ends where its text does: the slack after it is zeros or old data, rarely text
      // (when it is, the carve runs on into it, as far as the text goes).
      for (size_t i = from; i < buf_.size(); ++i)
        if (!text_byte(buf_[i])) return emit(i, text_ext(), false);
    } else if (kind_ == Kind::kBgcode) {
      const gcode::BgcodeExtent x = gcode::bgcode_extent(buf_, resume_, gcode_seen_);
      if (x.state == gcode::BgcodeExtent::kEnd) emit(x.end, ".bgcode", false);
      else if (x.state == gcode::BgcodeExtent::kNotBgcode) drop();
    }
  }

  // The candidate ended before its end was seen. A binary STL, an ASCII STL or a zip is useless
  // without its end and is dropped; G-code and OBJ are screened as far as they go (the layers printed first),
  // a binary G-code up to its last whole block. G-code text has no end marker: one that fills its
  // last block exactly and is followed by another file (`next_file`) is whole.
  void cut_short(bool next_file) {
    if (kind_ == Kind::kGcode || kind_ == Kind::kObj) {
      const size_t end = std::min<size_t>(buf_.size(), w_.opt.max_carve_bytes);
      return emit(end, text_ext(), !next_file || end < buf_.size());
    }
    // bgcode_extent already walked every whole block; `resume_` is where the first unfinished one starts.
    if (kind_ == Kind::kBgcode && gcode_seen_) return emit(resume_, ".bgcode", !next_file || resume_ != buf_.size());
    drop();
  }

  const char* text_ext() const { return kind_ == Kind::kObj ? ".obj" : ".gcode"; }

  void emit(size_t size, const char* ext, bool partial) {
    buf_.resize(size);
    const std::span<const uint8_t> bytes(buf_.data(), buf_.size());
    if (!offered_deleted(bytes)) {
      ImageFile f;
      f.path = w_.prefix + "$Carved/" + std::to_string(first_) + ext;
      f.file_system = w_.fs_name;
      f.partition = w_.partition;
      f.fs_offset = w_.fs_offset;
      f.deleted = true;
      f.carved = true;
      f.carved_partial = partial;
      f.size = size;
      f.bytes = bytes;
      ++w_.summary.carved;
      w_.summary.carved_partial += partial;
      w_.fn(f);
    }
    kind_ = Kind::kNone;
    buf_.clear();
  }

  // Whether `bytes` start with a whole deleted file the directory walk already offered.
  bool offered_deleted(std::span<const uint8_t> bytes) const {
    if (bytes.size() < kHead) return false;
    const auto [lo, hi] = w_.deleted_heads.equal_range(head_of(bytes));
    for (auto it = lo; it != hi; ++it)
      if (it->second.first <= bytes.size() && sha256(bytes.first(it->second.first)) == it->second.second) return true;
    return false;
  }

  void drop() {
    ++w_.summary.carve_dropped;
    kind_ = Kind::kNone;
    buf_.clear();
  }

  Walk& w_;
  const uint32_t block_size_;
  Kind kind_ = Kind::kNone;
  uint64_t first_ = 0, last_ = 0;
  uint64_t need_ = 0;
  uint64_t resume_ = 0;      // kBgcode: where bgcode_extent goes on
  bool gcode_seen_ = false;  // kBgcode: a G-code block was whole
  std::vector<uint8_t> buf_;
};

TSK_WALK_RET_ENUM on_block(const TSK_FS_BLOCK* b, void* ptr) {
  auto* c = static_cast<std::pair<Carver*, Walk*>*>(ptr);
  try {
    if (c->second->opt.progress && (++c->second->blocks & 1023) == 0) c->second->opt.progress();
    c->first->block(static_cast<uint64_t>(b->addr), reinterpret_cast<const uint8_t*>(b->buf));
  } catch (...) {
    c->second->failure = std::current_exception();
    return TSK_WALK_STOP;
  }
  return TSK_WALK_CONT;
}

// Carves one file system's unallocated blocks; returns "" or why the block walk failed.
std::string carve_fs(TSK_FS_INFO* fs, Walk& w) {
  if (fs->block_size < 512 || fs->block_size > (1u << 20)) return {};
  Carver carver(w, fs->block_size);
  std::pair<Carver*, Walk*> ctx{&carver, &w};
  const auto flags = static_cast<TSK_FS_BLOCK_WALK_FLAG_ENUM>(TSK_FS_BLOCK_WALK_FLAG_UNALLOC | TSK_FS_BLOCK_WALK_FLAG_CONT);
  const uint8_t rc = tsk_fs_block_walk(fs, fs->first_block, fs->last_block_act, flags, on_block, &ctx);
  if (w.failure) std::rethrow_exception(w.failure);
  if (!rc) carver.finish();
  return rc ? "carving stopped: " + tsk_message() : std::string();
}

// Carves `length` bytes of the image from `offset` on as if every sector were free: space no file
// system of TSK's describes (an image or partition whose file system is damaged, wiped or of a kind
// TSK does not read; the free space between partitions). Files are cut at sector boundaries, which
// every file system's clusters sit on. Returns "" or why reading stopped.
std::string carve_raw(TSK_IMG_INFO* img, uint64_t offset, uint64_t length, Walk& w) {
  const uint32_t sector = img->sector_size >= 512 && img->sector_size <= 4096 ? img->sector_size : 512;
  w.fs_name = "raw";
  w.fs_offset = offset;
  w.deleted_heads.clear();
  Carver carver(w, sector);
  std::vector<uint8_t> chunk(1 << 20);
  for (uint64_t pos = 0; pos + sector <= length;) {
    const size_t ask = static_cast<size_t>(std::min<uint64_t>(chunk.size(), (length - pos) / sector * sector));
    const ssize_t n = tsk_img_read(img, static_cast<TSK_OFF_T>(offset + pos), reinterpret_cast<char*>(chunk.data()), ask);
    if (n < static_cast<ssize_t>(sector)) {
      carver.finish();
      return n < 0 ? "carving stopped: " + tsk_message() : std::string();
    }
    const size_t whole = static_cast<size_t>(n) / sector * sector;
    for (size_t s = 0; s < whole; s += sector) {
      if (w.opt.progress && (++w.blocks & 1023) == 0) w.opt.progress();
      carver.block((pos + s) / sector, chunk.data() + s);
    }
    pos += whole;
  }
  carver.finish();
  return {};
}

// WalkOptions::enter for the part `what` of the file system at w.prefix; false: skip it.
bool enter(Walk& w, const char* what) {
  if (!w.opt.enter || w.opt.enter(w.prefix + what)) return true;
  ++w.summary.parts_skipped;
  return false;
}

// Walks one opened file system; returns "" or why the walk failed.
std::string walk_fs(TSK_FS_INFO* fs, Walk& w) {
  const char* name = tsk_fs_type_toname(fs->ftype);
  w.fs_name = name ? name : "unknown";
  w.fs_offset = static_cast<uint64_t>(fs->offset);
  ++w.summary.file_systems;
  if (!enter(w, ":files")) return {};
  int flags = TSK_FS_DIR_WALK_FLAG_RECURSE | TSK_FS_DIR_WALK_FLAG_ALLOC;
  if (w.opt.deleted) flags |= TSK_FS_DIR_WALK_FLAG_UNALLOC;
  w.deleted_heads.clear();
  const uint8_t rc = tsk_fs_dir_walk(fs, fs->root_inum, static_cast<TSK_FS_DIR_WALK_FLAG_ENUM>(flags), on_entry, &w);
  if (w.failure) std::rethrow_exception(w.failure);
  std::string err = rc ? "file system walk stopped: " + tsk_message() : std::string();
  if (w.opt.carve && enter(w, ":carve")) {
    const std::string carve_err = carve_fs(fs, w);
    if (!carve_err.empty()) err += (err.empty() ? "" : "; ") + carve_err;
  }
  return err;
}

struct ImgCloser {
  void operator()(TSK_IMG_INFO* p) const { tsk_img_close(p); }
};
struct VsCloser {
  void operator()(TSK_VS_INFO* p) const { tsk_vs_close(p); }
};
struct FsCloser {
  void operator()(TSK_FS_INFO* p) const { tsk_fs_close(p); }
};

}  // namespace

std::string walk_disk_image(const std::string& image_path, const WalkOptions& options,
                            const std::function<void(const ImageFile&)>& fn, WalkSummary* summary) {
  WalkSummary local;
  WalkSummary& sum = summary ? *summary : local;
  tsk_error_reset();
  std::unique_ptr<TSK_IMG_INFO, ImgCloser> img(tsk_img_open_utf8_sing(image_path.c_str(), image_type(image_path), 0));
  if (!img) return "cannot open the disk image: " + tsk_message();
  Walk w{options, fn, sum, {}, {}, -1, 0, {}, nullptr, {}, 0};

  std::unique_ptr<TSK_VS_INFO, VsCloser> vs(tsk_vs_open(img.get(), 0, TSK_VS_TYPE_DETECT));
  if (vs) {
    std::string problems;
    uint32_t raw_carved = 0;
    // With carving, a region no file system describes is carved raw (carve_raw), named "p<N>/" for a
    // partition and "free<N>/" for space outside every partition.
    auto carve_region = [&](const TSK_VS_PART_INFO* part) {
      if (!w.opt.carve || !enter(w, ":carve")) return;
      w.partition = (part->flags & TSK_VS_PART_FLAG_ALLOC) ? static_cast<int64_t>(part->addr) : -1;
      const uint64_t offset = static_cast<uint64_t>(vs->offset) + static_cast<uint64_t>(part->start) * vs->block_size;
      const std::string err = carve_raw(img.get(), offset, static_cast<uint64_t>(part->len) * vs->block_size, w);
      ++raw_carved;
      if (!err.empty()) problems.append(problems.empty() ? "" : "; ").append(w.prefix).append(": ").append(err);
    };
    for (TSK_PNUM_T i = 0; i < vs->part_count; ++i) {
      const TSK_VS_PART_INFO* part = tsk_vs_part_get(vs.get(), i);
      if (!part) continue;
      if (part->flags & TSK_VS_PART_FLAG_UNALLOC) {  // between, before or after the partitions
        w.prefix = std::string("free").append(std::to_string(part->addr)).append("/");
        carve_region(part);
        continue;
      }
      if (!(part->flags & TSK_VS_PART_FLAG_ALLOC)) continue;  // the partition tables themselves
      w.prefix = std::string("p").append(std::to_string(part->addr)).append("/");
      if (!enter(w, ":open")) continue;
      std::unique_ptr<TSK_FS_INFO, FsCloser> fs(tsk_fs_open_vol(part, TSK_FS_TYPE_DETECT));
      if (!fs) {  // swap, extended-partition containers, unformatted space -- or a damaged file system
        tsk_error_reset();
        // An extended-partition container holds the logical partitions, carved on their own.
        if (!part->desc || !contains_lower(part->desc, "extended")) carve_region(part);
        continue;
      }
      w.partition = static_cast<int64_t>(part->addr);
      const std::string err = walk_fs(fs.get(), w);
      if (!err.empty()) {
        if (!problems.empty()) problems.append("; ");
        problems.append(w.prefix).append(": ").append(err);
      }
    }
    if (sum.file_systems == 0 && sum.parts_skipped == 0)
      problems.insert(0, std::string("the partition table lists no partition with a file system TSK reads") +
                             (raw_carved ? " (carved as raw space)" : "") + (problems.empty() ? "" : "; "));
    return problems;
  }
  tsk_error_reset();
  if (!enter(w, ":open")) return {};
  std::unique_ptr<TSK_FS_INFO, FsCloser> fs(tsk_fs_open_img(img.get(), 0, TSK_FS_TYPE_DETECT));
  if (!fs) {
    std::string why = "no partition table or file system recognised: " + tsk_message();
    tsk_error_reset();
    if (w.opt.carve && enter(w, ":carve")) {  // a wiped or damaged card: the whole image is carved
      why += " (the whole image was carved as raw space)";
      const std::string err = carve_raw(img.get(), 0, static_cast<uint64_t>(img->size), w);
      if (!err.empty()) why += "; " + err;
    }
    return why;
  }
  return walk_fs(fs.get(), w);
}

}  // namespace s3d::forensic
