// OFF reader (Geomview Object File Format, ASCII). Parsed natively rather than through Assimp:
// Assimp 5.2's OFF loader allocates from the header counts unchecked, clamps out-of-range indices
// to the last vertex, drops polygons of more than 9 corners and zero-fills missing vertices, all
// silently. Line-oriented like most OFF readers: one vertex or face per line, '#' starts a comment,
// trailing per-element colours / normals / texture coordinates are ignored. Polygons are fan-
// triangulated. Binary OFF is reported as unsupported.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "geometry/formats/tokens.h"
#include "geometry/formats/interchange/weld.h"
#include "geometry/formats/reader.h"
#include "geometry/load_error.h"

namespace s3d::formats::off {

namespace {

using text::is_space;
using text::next_token;
using text::parse_number;

struct Cursor {
  const char* p;
  const char* end;
  uint64_t line = 0;
};

// Next line holding something other than whitespace and comments, with the comment cut off.
bool next_content_line(Cursor& c, std::string_view& out) {
  while (c.p < c.end) {
    ++c.line;
    const char* eol = static_cast<const char*>(std::memchr(c.p, '\n', static_cast<size_t>(c.end - c.p)));
    if (eol == nullptr) eol = c.end;
    std::string_view l(c.p, static_cast<size_t>(eol - c.p));
    c.p = eol < c.end ? eol + 1 : c.end;
    if (const size_t hash = l.find('#'); hash != std::string_view::npos) l = l.substr(0, hash);
    size_t i = 0;
    while (i < l.size() && is_space(l[i])) ++i;
    if (i < l.size()) {
      out = l.substr(i);
      return true;
    }
  }
  return false;
}

struct Header {
  bool homogeneous = false;
  bool dimension = false;
};

// [ST][C][N][4][n]OFF
bool parse_keyword(std::string_view tok, Header& h) {
  if (tok.substr(0, 2) == "ST") tok.remove_prefix(2);
  if (!tok.empty() && tok.front() == 'C') tok.remove_prefix(1);
  if (!tok.empty() && tok.front() == 'N') tok.remove_prefix(1);
  if (!tok.empty() && tok.front() == '4') {
    h.homogeneous = true;
    tok.remove_prefix(1);
  }
  if (!tok.empty() && tok.front() == 'n') {
    h.dimension = true;
    tok.remove_prefix(1);
  }
  return tok == "OFF";
}

std::string at_line(uint64_t line) { return " (line " + std::to_string(line) + ")"; }

}  // namespace

int probe(std::span<const uint8_t> data) {
  Cursor c{reinterpret_cast<const char*>(data.data()),
           reinterpret_cast<const char*>(data.data()) + std::min<size_t>(data.size(), 4096)};
  std::string_view l;
  if (!next_content_line(c, l)) return 0;
  Header h;
  return parse_keyword(next_token(l), h) ? 90 : 0;
}

Mesh read(std::span<const uint8_t> data, const ReadOptions& opt) {
  const Limits& limits = opt.limits;
  if (data.size() > limits.max_input_bytes)
    throw LoadError(ErrorCode::kLimitExceeded, "input is larger than max_input_bytes");
  Cursor c{reinterpret_cast<const char*>(data.data()), reinterpret_cast<const char*>(data.data()) + data.size()};
  std::string_view l;
  if (!next_content_line(c, l)) throw LoadError(ErrorCode::kEmpty, "OFF file holds no data");
  Header h;
  if (!parse_keyword(next_token(l), h)) throw LoadError(ErrorCode::kMalformed, "OFF file lacks the OFF keyword");

  // Counts may follow the keyword on its own line or come on the next line.
  std::vector<std::string_view> toks;
  for (std::string_view t = next_token(l); !t.empty(); t = next_token(l)) toks.push_back(t);
  if (!toks.empty() && toks.front() == "BINARY")
    throw LoadError(ErrorCode::kUnsupported, "binary OFF is not supported");
  const size_t needed = h.dimension ? 3 : 2;
  while (toks.size() < needed) {
    if (!next_content_line(c, l)) throw LoadError(ErrorCode::kTruncated, "OFF header ends before its counts");
    for (std::string_view t = next_token(l); !t.empty(); t = next_token(l)) toks.push_back(t);
  }
  size_t ti = 0;
  if (h.dimension) {
    uint32_t dim = 0;
    if (!parse_number(toks[ti++], dim) || dim != 3)
      throw LoadError(ErrorCode::kUnsupported, "OFF with other than 3 dimensions is not supported");
  }
  uint64_t nv = 0, nf = 0;
  if (!parse_number(toks[ti], nv) || !parse_number(toks[ti + 1], nf))
    throw LoadError(ErrorCode::kMalformed, "OFF header has invalid vertex / face counts" + at_line(c.line));

  // Each vertex line needs at least "0 0 0", each face line at least "0".
  const uint64_t remaining = static_cast<uint64_t>(c.end - c.p);
  if (nv > remaining / 5 + 1 || nf > remaining)
    throw LoadError(ErrorCode::kTruncated, "OFF declares " + std::to_string(nv) + " vertices and " +
                                               std::to_string(nf) + " faces but only " + std::to_string(remaining) +
                                               " bytes follow");
  if (nv > UINT32_MAX) throw LoadError(ErrorCode::kLimitExceeded, "OFF declares more than 2^32 vertices");

  Mesh mesh;
  mesh.vertices.reserve(static_cast<size_t>(nv));
  const int coords = h.homogeneous ? 4 : 3;
  for (uint64_t i = 0; i < nv; ++i) {
    check_stop_every(limits, i);
    if (!next_content_line(c, l))
      throw LoadError(ErrorCode::kTruncated,
                      "OFF declares " + std::to_string(nv) + " vertices but holds only " + std::to_string(i));
    double v[4] = {0, 0, 0, 1};
    for (int k = 0; k < coords; ++k) {
      const std::string_view tok = next_token(l);
      if (!parse_number(tok, v[k]))
        throw LoadError(ErrorCode::kMalformed, "OFF vertex " + std::to_string(i) + " has a missing or malformed coordinate" +
                                                   at_line(c.line));
    }
    if (h.homogeneous) {
      if (v[3] == 0) throw LoadError(ErrorCode::kBadValue, "OFF vertex " + std::to_string(i) + " has w = 0");
      for (int k = 0; k < 3; ++k) v[k] /= v[3];
    }
    Vec3f f{static_cast<float>(v[0]), static_cast<float>(v[1]), static_cast<float>(v[2])};
    if (!std::isfinite(f[0]) || !std::isfinite(f[1]) || !std::isfinite(f[2]))
      throw LoadError(ErrorCode::kBadValue, "OFF vertex " + std::to_string(i) + " has a non-finite coordinate" +
                                                at_line(c.line));
    mesh.vertices.push_back(f);
  }

  std::vector<uint32_t> poly;
  for (uint64_t i = 0; i < nf; ++i) {
    check_stop_every(limits, i);
    if (!next_content_line(c, l))
      throw LoadError(ErrorCode::kTruncated,
                      "OFF declares " + std::to_string(nf) + " faces but holds only " + std::to_string(i));
    uint64_t n = 0;
    if (!parse_number(next_token(l), n))
      throw LoadError(ErrorCode::kMalformed, "OFF face " + std::to_string(i) + " lacks its corner count" + at_line(c.line));
    if (n > l.size())  // every index needs at least two characters
      throw LoadError(ErrorCode::kMalformed, "OFF face " + std::to_string(i) + " declares " + std::to_string(n) +
                                                 " corners but lists fewer" + at_line(c.line));
    poly.clear();
    for (uint64_t k = 0; k < n; ++k) {
      const std::string_view tok = next_token(l);
      int64_t idx = 0;
      if (!parse_number(tok, idx))
        throw LoadError(ErrorCode::kMalformed, "OFF face " + std::to_string(i) + " declares " + std::to_string(n) +
                                                   " corners but lists fewer" + at_line(c.line));
      if (idx < 0 || static_cast<uint64_t>(idx) >= nv)
        throw LoadError(ErrorCode::kBadValue, "OFF face " + std::to_string(i) + " references vertex " +
                                                  std::to_string(idx) + " of " + std::to_string(nv) + at_line(c.line));
      poly.push_back(static_cast<uint32_t>(idx));
    }
    if (poly.size() < 3) continue;
    if (mesh.triangles.size() + (poly.size() - 2) > limits.max_triangles)
      throw LoadError(ErrorCode::kLimitExceeded, "OFF holds more than " + std::to_string(limits.max_triangles) +
                                                     " triangles (max_triangles)");
    for (size_t k = 1; k + 1 < poly.size(); ++k) mesh.triangles.push_back({poly[0], poly[k], poly[k + 1]});
  }
  weld_exact(mesh.vertices, mesh.triangles);
  return mesh;
}

}  // namespace s3d::formats::off
