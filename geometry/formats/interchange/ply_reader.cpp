// PLY, parsed here rather than by Assimp: Assimp 5.2's PLY importer corrupts the heap on hostile
// input that tests/fuzz/mesh_fuzzer found within minutes (a text PLY that declares its elements
// twice: "malloc(): corrupted top size", the whole process aborted), and a crash in a parser ends a
// whole scan. Formats ascii, binary_little_endian and binary_big_endian; element "vertex" gives the
// positions (properties x, y, z of any numeric type), element "face" the polygons (the list property
// vertex_indices or vertex_index); every other element and property is read past by its declared
// type. The header is checked first (parse_ply_header, ply_header.h): counts that cannot fit in the
// bytes that follow are refused before anything is allocated. One object per file, vertices welded
// by exact position, polygons triangulated as the other interchange readers do (weld.h).
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "geometry/formats/interchange/ply_header.h"
#include "geometry/formats/interchange/weld.h"
#include "geometry/formats/tokens.h"
#include "geometry/formats/reader.h"
#include "geometry/load_error.h"

namespace s3d::formats::ply {

namespace {

using Type = PlyHeader::Type;

// The body as a stream of values: whitespace-separated tokens (ascii) or fixed-size binary fields.
class Body {
 public:
  Body(std::span<const uint8_t> data, size_t offset, PlyHeader::Format f)
      : p_(reinterpret_cast<const char*>(data.data()) + offset),
        end_(reinterpret_cast<const char*>(data.data()) + data.size()),
        format_(f) {}

  // The next value as a double (integers up to 2^53 exactly).
  double number(Type t, const char* what) {
    if (format_ == PlyHeader::Format::kAscii) return ascii(what);
    const size_t n = ply_type_size(t);
    if (static_cast<size_t>(end_ - p_) < n)
      throw LoadError(ErrorCode::kTruncated, std::string("PLY ends inside ") + what);
    uint8_t b[8];
    std::memcpy(b, p_, n);
    p_ += n;
    const bool swap = (format_ == PlyHeader::Format::kBinaryBigEndian) == (std::endian::native == std::endian::little);
    if (swap)
      for (size_t i = 0; i < n / 2; ++i) std::swap(b[i], b[n - 1 - i]);
    switch (t) {
      case Type::kInt8: return static_cast<int8_t>(b[0]);
      case Type::kUint8: return b[0];
      case Type::kInt16: { int16_t v; std::memcpy(&v, b, 2); return v; }
      case Type::kUint16: { uint16_t v; std::memcpy(&v, b, 2); return v; }
      case Type::kInt32: { int32_t v; std::memcpy(&v, b, 4); return v; }
      case Type::kUint32: { uint32_t v; std::memcpy(&v, b, 4); return v; }
      case Type::kFloat32: { float v; std::memcpy(&v, b, 4); return v; }
      case Type::kFloat64: { double v; std::memcpy(&v, b, 8); return v; }
    }
    return 0;
  }

 private:
  double ascii(const char* what) {
    const auto space = [](char c) { return text::is_space(c) || c == '\n'; };
    while (p_ < end_ && space(*p_)) ++p_;
    const char* q = p_;
    while (q < end_ && !space(*q)) ++q;
    if (q == p_) throw LoadError(ErrorCode::kTruncated, std::string("PLY ends inside ") + what);
    std::string_view tok(p_, static_cast<size_t>(q - p_));
    p_ = q;
    if (tok.front() == '+') tok.remove_prefix(1);
    double v = 0;
    const auto [ptr, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
    if (ec == std::errc::result_out_of_range) return HUGE_VAL;  // refused by the callers as non-finite
    if (ec != std::errc() || ptr != tok.data() + tok.size()) {
      std::string shown(tok.substr(0, 40));
      for (char& c : shown)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
      throw LoadError(ErrorCode::kMalformed, "PLY body holds a malformed number \"" + shown + "\" (reading " + what + ")");
    }
    return v;
  }

  const char* p_;
  const char* end_;
  PlyHeader::Format format_;
};

}  // namespace

int probe(std::span<const uint8_t> data) {
  const std::string_view s(reinterpret_cast<const char*>(data.data()), std::min<size_t>(data.size(), 5));
  return (s.substr(0, 4) == "ply\n" || s == "ply\r\n") ? 95 : 0;
}

Mesh read(std::span<const uint8_t> data, const ReadOptions& opt) {
  if (data.size() > opt.limits.max_input_bytes)
    throw LoadError(ErrorCode::kLimitExceeded, "input is larger than max_input_bytes");
  const PlyHeader h = parse_ply_header(data, opt.limits);
  Body body(data, h.body_offset, h.format);
  Mesh mesh;
  std::vector<uint32_t> corners;     // all face corners, as given
  std::vector<uint64_t> face_start;  // where each face starts in `corners`
  uint64_t vertex_count = 0, triangles = 0;
  bool have_vertices = false;
  for (const PlyHeader::Element& e : h.elements) {
    const bool is_vertex = e.name == "vertex" && !have_vertices;
    const bool is_face = e.name == "face";
    int xyz[3] = {-1, -1, -1};
    int indices = -1;
    for (size_t k = 0; k < e.properties.size(); ++k) {
      const PlyHeader::Property& p = e.properties[k];
      if (is_vertex && !p.list) {
        if (p.name == "x") xyz[0] = static_cast<int>(k);
        if (p.name == "y") xyz[1] = static_cast<int>(k);
        if (p.name == "z") xyz[2] = static_cast<int>(k);
      }
      if (is_face && p.list && indices < 0 && (p.name == "vertex_indices" || p.name == "vertex_index"))
        indices = static_cast<int>(k);
    }
    if (is_vertex) {
      if (xyz[0] < 0 || xyz[1] < 0 || xyz[2] < 0)
        throw LoadError(ErrorCode::kMalformed, "PLY vertex element lacks an x, y or z property");
      if (e.count > UINT32_MAX) throw LoadError(ErrorCode::kLimitExceeded, "PLY declares more than 2^32 vertices");
      have_vertices = true;
      vertex_count = e.count;
      mesh.vertices.reserve(e.count);
    }
    for (uint64_t i = 0; i < e.count; ++i) {
      check_stop_every(opt.limits, i);
      Vec3f v{};
      for (size_t k = 0; k < e.properties.size(); ++k) {
        const PlyHeader::Property& p = e.properties[k];
        if (!p.list) {
          const double x = body.number(p.type, "a property value");
          if (is_vertex)
            for (int a = 0; a < 3; ++a)
              if (xyz[a] == static_cast<int>(k)) {
                if (!std::isfinite(static_cast<float>(x)))
                  throw LoadError(ErrorCode::kBadValue, "PLY vertex " + std::to_string(i) + " has a non-finite coordinate");
                v[a] = static_cast<float>(x);
              }
          continue;
        }
        const double n = body.number(p.count_type, "a list length");
        if (!(n >= 0) || n != std::floor(n) || n > 1e9)
          throw LoadError(ErrorCode::kMalformed, "PLY " + e.name + " " + std::to_string(i) + " has an invalid list length");
        const auto len = static_cast<uint64_t>(n);
        const bool take = is_face && static_cast<int>(k) == indices;
        const size_t first = corners.size();
        for (uint64_t j = 0; j < len; ++j) {
          const double x = body.number(p.item_type, "a list");
          if (!take) continue;
          if (!(x >= 0) || x != std::floor(x) || x >= 4294967295.0)
            throw LoadError(ErrorCode::kBadValue, "PLY face " + std::to_string(i) + " has an invalid vertex index");
          corners.push_back(static_cast<uint32_t>(x));
        }
        if (!take) continue;
        if (len < 3) {  // a point or an edge: nothing to triangulate
          corners.resize(first);
          continue;
        }
        triangles += len - 2;
        if (triangles > opt.limits.max_triangles)
          throw LoadError(ErrorCode::kLimitExceeded, "PLY holds more than " + std::to_string(opt.limits.max_triangles) +
                                                         " triangles (max_triangles)");
        face_start.push_back(first);
      }
      if (is_vertex) mesh.vertices.push_back(v);
    }
  }
  mesh.triangles.reserve(triangles);
  std::vector<uint32_t> poly;
  for (size_t f = 0; f < face_start.size(); ++f) {
    const size_t a = face_start[f], b = f + 1 < face_start.size() ? face_start[f + 1] : corners.size();
    poly.assign(corners.begin() + static_cast<std::ptrdiff_t>(a), corners.begin() + static_cast<std::ptrdiff_t>(b));
    for (uint32_t c : poly)
      if (c >= vertex_count)
        throw LoadError(ErrorCode::kBadValue, "PLY face " + std::to_string(f) + " references vertex " + std::to_string(c) +
                                                  " of " + std::to_string(vertex_count));
    triangulate_polygon(poly, mesh.vertices, mesh.triangles);
  }
  weld_exact(mesh.vertices, mesh.triangles);
  return mesh;
}

}  // namespace s3d::formats::ply
