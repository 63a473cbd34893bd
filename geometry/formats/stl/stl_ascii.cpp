// ASCII STL: a tolerant parser for
//   solid [name]
//     facet normal nx ny nz        (normal ignored; anything may follow "facet" on its line)
//       outer loop                 (tolerated when missing)
//         vertex x y z             (x3; std::from_chars, scientific notation, leading '+')
//       endloop
//     endfacet
//   endsolid [name]
// Keywords are case-insensitive; spaces, tabs, CR/LF all separate tokens. Several solids in one
// file become separate objects (each welded on its own). A missing final "endsolid" is tolerated;
// end of file inside a facet is kTruncated. Control bytes (a binary file that starts with "solid")
// are kMalformed naming the line.
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>
#include <string_view>

#include "geometry/formats/reader.h"
#include "geometry/formats/stl/vertex_welder.h"
#include "geometry/load_error.h"

namespace s3d::formats::stl_ascii {

namespace {

bool is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Control bytes other than whitespace never appear in ASCII STL. Bytes >= 0x80 may (UTF-8 names).
bool is_binary(uint8_t c) { return (c < 0x20 && !is_space(c)) || c == 0x7f; }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != b[i]) return false;
  return true;
}

bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i)
    if (iequals(hay.substr(i, needle.size()), needle)) return true;
  return false;
}

bool negative_exponent(std::string_view num) {
  const size_t e = num.find_first_of("eE");
  return e != std::string_view::npos && e + 1 < num.size() && num[e + 1] == '-';
}

class Parser {
 public:
  Parser(std::span<const uint8_t> data, const ReadOptions& opt)
      : p_(data.data()), end_(data.data() + data.size()), opt_(opt) {}

  Mesh parse() {
    Mesh mesh;
    // About 250 bytes of text per facet and half a vertex per facet in closed meshes.
    const size_t estimate = static_cast<size_t>(end_ - p_) / 500 + 16;
    stl_detail::VertexWelder welder(mesh.vertices, estimate < (1u << 20) ? estimate : (1u << 20));
    std::vector<uint32_t> starts;
    std::string_view w = word();
    if (w.size() < 5 || !iequals(w.substr(0, 5), "solid")) fail("expected 'solid' at the start");
    bool in_solid = true;
    size_t solid_start = 0;
    skip_line();
    for (;;) {
      w = word();
      if (w.empty()) break;  // end of file; a missing final "endsolid" is tolerated
      if (in_solid && iequals(w, "facet")) {
        read_facet(mesh, welder);
      } else if (in_solid && iequals(w, "endsolid")) {
        skip_line();
        in_solid = false;
        if (mesh.triangles.size() > solid_start) starts.push_back(static_cast<uint32_t>(solid_start));
        if (only_padding_left()) break;
      } else if (!in_solid && iequals(w, "solid")) {
        skip_line();
        in_solid = true;
        solid_start = mesh.triangles.size();
        welder.begin_object();
      } else {
        fail("unexpected '" + printable(w) + "'");
      }
    }
    if (in_solid && mesh.triangles.size() > solid_start) starts.push_back(static_cast<uint32_t>(solid_start));
    if (mesh.triangles.empty() && dropped_)
      throw LoadError(ErrorCode::kBadValue, "every facet of the ASCII STL has a NaN or infinite coordinate");
    if (mesh.triangles.empty()) throw LoadError(ErrorCode::kEmpty, "ASCII STL holds zero facets");
    if (dropped_)
      mesh.notes.push_back(std::to_string(dropped_) + " facet" + (dropped_ == 1 ? "" : "s") +
                           " with a NaN or infinite coordinate dropped (the first at line " +
                           std::to_string(first_dropped_line_) + "), as slicers drop them");
    if (starts.size() > 1) mesh.object_starts = std::move(starts);
    return mesh;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw LoadError(ErrorCode::kMalformed, "ASCII STL line " + std::to_string(line_) + ": " + what);
  }

  [[noreturn]] void fail_binary(uint8_t c) const {
    static const char kHex[] = "0123456789abcdef";
    std::string hex = "0x";
    hex += kHex[c >> 4];
    hex += kHex[c & 15];
    fail("binary byte " + hex + " in a text file (binary STL with a 'solid' header?)");
  }

  static std::string printable(std::string_view w) {
    std::string s;
    for (char c : w.substr(0, 32)) s += (static_cast<uint8_t>(c) >= 0x20 && static_cast<uint8_t>(c) < 0x7f) ? c : '?';
    if (w.size() > 32) s += "...";
    return s;
  }

  void skip_space() {
    while (p_ < end_ && is_space(*p_)) {
      if (*p_ == '\n') ++line_;
      ++p_;
    }
  }

  // Next whitespace-delimited token, empty at end of file.
  std::string_view word() {
    skip_space();
    const uint8_t* start = p_;
    while (p_ < end_ && !is_space(*p_)) {
      if (is_binary(*p_)) fail_binary(*p_);
      ++p_;
    }
    return {reinterpret_cast<const char*>(start), static_cast<size_t>(p_ - start)};
  }

  // Skips to the end of the line (names after solid/endsolid, the normal after facet).
  void skip_line() {
    while (p_ < end_ && *p_ != '\n') {
      if (is_binary(*p_)) fail_binary(*p_);
      ++p_;
    }
  }

  // True when only whitespace and NUL padding remain (some exporters pad after "endsolid").
  bool only_padding_left() const {
    for (const uint8_t* q = p_; q < end_; ++q)
      if (*q != 0 && !is_space(*q)) return false;
    return true;
  }

  std::string_view word_in_facet() {
    std::string_view w = word();
    if (w.empty())
      throw LoadError(ErrorCode::kTruncated,
                      "ASCII STL ends inside the facet that starts at line " + std::to_string(facet_line_));
    return w;
  }

  uint32_t coordinate() {
    std::string_view w = word_in_facet();
    const char* first = w.data();
    const char* last = w.data() + w.size();
    if (first < last && *first == '+') ++first;
    float v = 0.0f;
    auto [ptr, ec] = std::from_chars(first, last, v);
    if (ec == std::errc::result_out_of_range) {
      // Underflow to a denormal or zero is harmless; overflow becomes infinite and is rejected.
      if (ptr != last) fail("bad number '" + printable(w) + "'");
      double d = 0.0;
      auto r = std::from_chars(first, last, d);
      if (r.ec == std::errc())
        v = std::fabs(d) > 3.4028234663852886e38 ? HUGE_VALF : static_cast<float>(d);
      else  // out of double range too: a negative exponent means underflow
        v = negative_exponent(std::string_view(first, static_cast<size_t>(last - first))) ? 0.0f : HUGE_VALF;
    } else if (ec != std::errc() || ptr != last) {
      fail("bad number '" + printable(w) + "'");
    }
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    if (stl_detail::non_finite_bits(bits)) {
      if (!facet_bad_ && dropped_ == 0) first_dropped_line_ = line_;
      facet_bad_ = true;
    }
    return stl_detail::canonical_bits(bits);
  }

  void read_facet(Mesh& mesh, stl_detail::VertexWelder& welder) {
    facet_line_ = line_;
    const size_t tri = mesh.triangles.size();
    check_stop_every(opt_.limits, tri);
    if (tri >= opt_.limits.max_triangles)
      throw LoadError(ErrorCode::kLimitExceeded, "ASCII STL holds more triangles than the max_triangles limit of " +
                                                     std::to_string(opt_.limits.max_triangles));
    skip_line();  // "normal nx ny nz", ignored
    std::string_view w = word_in_facet();
    bool loop = false;
    if (iequals(w, "outer")) {
      if (!iequals(word_in_facet(), "loop")) fail("expected 'loop' after 'outer'");
      loop = true;
      w = word_in_facet();
    }
    uint32_t corner[3][3];
    int n = 0;
    facet_bad_ = false;
    while (iequals(w, "vertex")) {
      if (n == 3) fail("facet starting at line " + std::to_string(facet_line_) + " has more than 3 vertices");
      for (int c = 0; c < 3; ++c) corner[n][c] = coordinate();
      ++n;
      w = word_in_facet();
    }
    if (n != 3)
      fail("facet starting at line " + std::to_string(facet_line_) + " has " + std::to_string(n) +
           " vertices, expected 3 (found '" + printable(w) + "')");
    if (loop) {
      if (!iequals(w, "endloop")) fail("expected 'endloop', found '" + printable(w) + "'");
      w = word_in_facet();
    }
    if (!iequals(w, "endfacet")) fail("expected 'endfacet', found '" + printable(w) + "'");
    // A facet with a NaN or infinite coordinate is dropped, as admesh (PrusaSlicer) drops it.
    if (facet_bad_) {
      ++dropped_;
      return;
    }
    Tri t;
    for (int k = 0; k < 3; ++k) t[k] = welder.insert(corner[k][0], corner[k][1], corner[k][2]);
    mesh.triangles.push_back(t);
  }


  const uint8_t* p_;
  const uint8_t* end_;
  const ReadOptions& opt_;
  size_t line_ = 1;
  size_t facet_line_ = 0;
  bool facet_bad_ = false;          // the facet being read has a non-finite coordinate
  size_t dropped_ = 0;              // facets dropped for that
  size_t first_dropped_line_ = 0;
};

}  // namespace

int probe(std::span<const uint8_t> data) {
  size_t i = 0;
  if (data.size() >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf) i = 3;  // UTF-8 BOM
  while (i < data.size() && i < 256 && is_space(data[i])) ++i;
  if (data.size() - i < 5) return 0;
  const std::string_view head(reinterpret_cast<const char*>(data.data() + i), 5);
  if (!iequals(head, "solid")) return 0;
  // The first few hundred bytes must be text: a binary STL whose header says "solid" has its
  // triangle count and float data right after the 80-byte header.
  const size_t window = data.size() < 512 ? data.size() : 512;
  for (size_t k = 0; k < window; ++k)
    if (is_binary(data[k])) return 0;
  const size_t scan = data.size() < 4096 ? data.size() : 4096;
  const std::string_view text(reinterpret_cast<const char*>(data.data()), scan);
  if (icontains(text.substr(0, window), "facet") || icontains(text.substr(0, window), "endsolid")) return 90;
  if (icontains(text, "facet") || icontains(text, "endsolid")) return 80;
  return 30;
}

Mesh read(std::span<const uint8_t> data, const ReadOptions& opt) {
  if (data.empty()) throw LoadError(ErrorCode::kEmpty, "empty file (0 bytes)");
  size_t skip = 0;
  if (data.size() >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf) skip = 3;
  return Parser(data.subspan(skip), opt).parse();
}

}  // namespace s3d::formats::stl_ascii
