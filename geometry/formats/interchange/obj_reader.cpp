// OBJ, parsed here rather than by Assimp: Assimp 5.2's OBJ importer crashes on hostile input that
// tests/fuzz/mesh_fuzzer found within minutes -- a SIGSEGV on the 2-line file "mtllib a\nmap_Ks b"
// (it reads the OBJ buffer itself as the material library it cannot open) and heap corruption that
// ASan caught later -- and a crash in a parser ends a whole scan. The geometry an OBJ carries is
// simple: "v x y z [w]" positions and "f" polygons whose corners are "v", "v/vt", "v//vn" or
// "v/vt/vn" indices (1-based, negative = relative to the vertices defined so far, forward references
// allowed). Everything else (normals, texture coordinates, groups, objects, materials, smoothing
// groups, lines, points, curves) does not change the surface and is only checked where an index
// could point outside the file. A "\" at the end of a line continues the statement. One object per
// file, vertices welded by exact position (weld.h), polygons triangulated as the other interchange
// readers do (triangulate_polygon).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "geometry/formats/tokens.h"
#include "geometry/formats/interchange/weld.h"
#include "geometry/formats/reader.h"
#include "geometry/load_error.h"

namespace s3d::formats::obj {

namespace {

using text::next_token;
using text::shorten;

bool parse_int(std::string_view tok, int64_t& out) { return text::parse_number(tok, out); }

std::string at_line(uint64_t line) { return " at line " + std::to_string(line); }

}  // namespace

int probe(std::span<const uint8_t> data) {
  const std::string_view s(reinterpret_cast<const char*>(data.data()), std::min<size_t>(data.size(), 4096));
  if (s.find('\0') != std::string_view::npos) return 0;
  int known = 0, unknown = 0, geometry = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t eol = s.find('\n', pos);
    if (eol == std::string_view::npos) {
      if (data.size() > s.size()) break;  // the prefix cut this line off
      eol = s.size();
    }
    std::string_view line = s.substr(pos, eol - pos);
    pos = eol + 1;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (line.empty()) continue;
    const size_t sp = line.find_first_of(" \t");
    const std::string_view kw = line.substr(0, sp);
    if (kw.front() == '#') {
      ++known;
    } else if (kw == "v" || kw == "vn" || kw == "vt" || kw == "f") {
      ++known;
      ++geometry;
    } else if (kw == "o" || kw == "g" || kw == "mtllib" || kw == "usemtl" || kw == "s" || kw == "vp" ||
               kw == "l" || kw == "p") {
      ++known;
    } else {
      ++unknown;
    }
  }
  if (geometry == 0) return known > 0 && unknown == 0 ? 10 : 0;
  if (unknown == 0) return 80;
  return known >= 4 * unknown ? 40 : 0;
}

Mesh read(std::span<const uint8_t> data, const ReadOptions& opt) {
  const Limits& limits = opt.limits;
  if (data.size() > limits.max_input_bytes)
    throw LoadError(ErrorCode::kLimitExceeded, "input is larger than max_input_bytes");
  static constexpr const char* kWhat[3] = {"vertex", "texture coordinate", "normal"};
  const char* p = reinterpret_cast<const char*>(data.data());
  const char* const end = p + data.size();
  Mesh mesh;
  int64_t count[3] = {0, 0, 0};  // v, vt, vn defined so far
  // Largest positive index seen per kind and where: forward references are allowed, so they are
  // checked against the final counts.
  int64_t max_abs[3] = {0, 0, 0};
  uint64_t max_abs_line[3] = {0, 0, 0};
  // Face corners as given (positive: 1-based, resolved at the end; negative ones are resolved at
  // once), and where each face starts in that list.
  std::vector<int64_t> corners;
  std::vector<uint64_t> face_start;
  uint64_t triangles = 0;
  uint64_t line = 0;
  std::string joined;  // a statement continued over several lines ("\" at a line's end)
  uint64_t physical = 0;  // lines read; `line` is where the current statement starts (for messages)
  while (p < end) {
    check_stop_every(limits, physical);
    line = ++physical;
    const char* eol = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (eol == nullptr) eol = end;
    std::string_view rest(p, static_cast<size_t>(eol - p));
    p = eol < end ? eol + 1 : end;
    // "\" at the end of a line continues the statement on the next line: the line before it, or
    // nothing when the line does not end so.
    const auto before_backslash = [](std::string_view l) -> std::optional<std::string_view> {
      while (!l.empty() && (l.back() == '\r' || l.back() == ' ' || l.back() == '\t')) l.remove_suffix(1);
      if (l.empty() || l.back() != '\\') return std::nullopt;
      return l.substr(0, l.size() - 1);
    };
    if (std::optional<std::string_view> head = before_backslash(rest)) {
      joined.clear();
      for (;;) {  // each pass consumes a line of the input
        joined.append(*head);
        joined.push_back(' ');
        if (p >= end) break;
        ++physical;
        eol = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
        if (eol == nullptr) eol = end;
        rest = std::string_view(p, static_cast<size_t>(eol - p));
        p = eol < end ? eol + 1 : end;
        head = before_backslash(rest);
        if (!head) {
          joined.append(rest);
          break;
        }
      }
      rest = joined;
    }
    const std::string_view kw = next_token(rest);
    if (kw.empty() || kw.front() == '#') continue;
    if (kw == "v") {
      Vec3f v{};
      for (int k = 0; k < 3; ++k) {
        std::string_view tok = next_token(rest);
        if (!tok.empty() && tok.front() == '+') tok.remove_prefix(1);
        double x = 0;
        const auto [ptr, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), x);
        if (ec == std::errc::result_out_of_range || (ec == std::errc() && ptr == tok.data() + tok.size() &&
                                                      !std::isfinite(static_cast<float>(x))))
          throw LoadError(ErrorCode::kBadValue, "vertex" + at_line(line) + " has a non-finite coordinate");
        if (tok.empty() || ec != std::errc() || ptr != tok.data() + tok.size())
          throw LoadError(ErrorCode::kMalformed, "vertex" + at_line(line) + " has a missing or malformed coordinate \"" +
                                                     shorten(tok) + "\"");
        v[k] = static_cast<float>(x);
      }
      if (static_cast<uint64_t>(count[0]) >= UINT32_MAX)
        throw LoadError(ErrorCode::kLimitExceeded, "OBJ holds more than 2^32 vertices");
      mesh.vertices.push_back(v);
      ++count[0];
    } else if (kw == "vt") {
      ++count[1];
    } else if (kw == "vn") {
      ++count[2];
    } else if (kw == "f" || kw == "l" || kw == "p") {
      const bool face = kw == "f";
      const size_t first = corners.size();
      for (std::string_view tok = next_token(rest); !tok.empty(); tok = next_token(rest)) {
        if (tok.front() == '#') break;
        for (int k = 0; k < 3 && !tok.empty(); ++k) {
          const size_t slash = tok.find('/');
          const std::string_view part = tok.substr(0, slash);
          tok = slash == std::string_view::npos ? std::string_view() : tok.substr(slash + 1);
          if (part.empty() && k > 0) continue;  // "v//vn": no texture coordinate
          int64_t idx = 0;
          if (!parse_int(part, idx))
            throw LoadError(ErrorCode::kMalformed, std::string(face ? "face" : "element") + at_line(line) +
                                                       " has a malformed index \"" + shorten(part) + "\"");
          const auto bad = [&](int64_t shown, int64_t of) {
            return LoadError(ErrorCode::kBadValue, "face at line " + std::to_string(line) + " references " +
                                                       kWhat[k] + " " + std::to_string(shown) + " of " +
                                                       std::to_string(of));
          };
          if (idx == 0) throw bad(0, count[k]);
          if (idx < 0) {
            if (idx < -count[k]) throw bad(idx, count[k]);
          } else if (idx > max_abs[k]) {
            max_abs[k] = idx;
            max_abs_line[k] = line;
          }
          if (k == 0 && face) corners.push_back(idx < 0 ? -(count[0] + idx) - 1 : idx);  // negative: resolved, stored as -(i+1)
        }
      }
      if (!face) continue;
      const size_t n = corners.size() - first;
      if (n < 3) {  // a degenerate face: nothing to triangulate
        corners.resize(first);
        continue;
      }
      triangles += n - 2;
      if (triangles > limits.max_triangles)
        throw LoadError(ErrorCode::kLimitExceeded, "OBJ holds more than " + std::to_string(limits.max_triangles) +
                                                       " triangles (max_triangles)");
      face_start.push_back(first);
    }
  }
  for (int k = 0; k < 3; ++k) {
    if (max_abs[k] > count[k])
      throw LoadError(ErrorCode::kBadValue, "face at line " + std::to_string(max_abs_line[k]) + " references " +
                                                kWhat[k] + " " + std::to_string(max_abs[k]) + " of " +
                                                std::to_string(count[k]));
  }
  mesh.triangles.reserve(triangles);
  std::vector<uint32_t> poly;
  for (size_t f = 0; f < face_start.size(); ++f) {
    const size_t a = face_start[f], b = f + 1 < face_start.size() ? face_start[f + 1] : corners.size();
    poly.clear();
    for (size_t i = a; i < b; ++i)  // 1-based positive, or -(resolved + 1)
      poly.push_back(static_cast<uint32_t>(corners[i] > 0 ? corners[i] - 1 : -corners[i] - 1));
    triangulate_polygon(poly, mesh.vertices, mesh.triangles);
  }
  weld_exact(mesh.vertices, mesh.triangles);
  return mesh;
}

}  // namespace s3d::formats::obj
