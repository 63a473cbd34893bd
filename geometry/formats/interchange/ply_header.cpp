#include "geometry/formats/interchange/ply_header.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "geometry/formats/tokens.h"
#include "geometry/load_error.h"

namespace s3d::formats {

namespace {

using text::next_token;
using text::shorten;

bool parse_int(std::string_view tok, int64_t& out) { return text::parse_number(tok, out); }

}  // namespace

size_t ply_type_size(PlyHeader::Type t) {
  using T = PlyHeader::Type;
  return t == T::kInt8 || t == T::kUint8 ? 1 : t == T::kInt16 || t == T::kUint16 ? 2 : t == T::kFloat64 ? 8 : 4;
}

PlyHeader parse_ply_header(std::span<const uint8_t> data, const Limits& limits) {
  constexpr size_t kMaxHeader = 1 << 20;
  const char* const begin = reinterpret_cast<const char*>(data.data());
  const char* const end = begin + data.size();
  const char* p = begin;
  PlyHeader h;
  std::vector<uint64_t> min_bytes;  // per instance of each element
  int format = -1;  // 0 ascii, 1 binary
  bool first = true;
  bool done = false;
  uint64_t line = 0;
  while (p < end && !done) {
    if (static_cast<size_t>(p - begin) > kMaxHeader)
      throw LoadError(ErrorCode::kMalformed, "PLY header is longer than 1 MiB");
    ++line;
    const char* eol = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (eol == nullptr) throw LoadError(ErrorCode::kMalformed, "PLY header has no end_header line");
    std::string_view rest(p, static_cast<size_t>(eol - p));
    p = eol + 1;
    if (!rest.empty() && rest.back() == '\r') rest.remove_suffix(1);
    const std::string at = " (header line " + std::to_string(line) + ")";
    // Only printable ASCII and tabs: a header is text, and one that other readers would tokenise
    // differently is refused rather than guessed at.
    for (char ch : rest)
      if ((static_cast<unsigned char>(ch) < 0x20 && ch != '\t') || static_cast<unsigned char>(ch) > 0x7e)
        throw LoadError(ErrorCode::kMalformed, "PLY header holds a control or non-ASCII byte" + at);
    const std::string_view kw = next_token(rest);
    if (first) {
      if (kw != "ply") throw LoadError(ErrorCode::kMalformed, "PLY file does not start with \"ply\"");
      first = false;
      continue;
    }
    if (kw == "format") {
      const std::string_view f = next_token(rest);
      if (f == "ascii") {
        format = 0;
        h.format = PlyHeader::Format::kAscii;
      } else if (f == "binary_little_endian" || f == "binary_big_endian") {
        format = 1;
        h.format = f == "binary_little_endian" ? PlyHeader::Format::kBinaryLittleEndian : PlyHeader::Format::kBinaryBigEndian;
      } else {
        throw LoadError(ErrorCode::kMalformed, "PLY format \"" + shorten(f) + "\" is unknown" + at);
      }
    } else if (kw == "element") {
      PlyHeader::Element e;
      e.name = std::string(next_token(rest).substr(0, 64));
      int64_t n = 0;
      if (!parse_int(next_token(rest), n) || n < 0)
        throw LoadError(ErrorCode::kMalformed, "PLY element " + shorten(e.name) + " has an invalid count" + at);
      e.count = static_cast<uint64_t>(n);
      h.elements.push_back(e);
      min_bytes.push_back(0);
    } else if (kw == "property") {
      if (h.elements.empty()) throw LoadError(ErrorCode::kMalformed, "PLY property before any element" + at);
      if (format < 0) throw LoadError(ErrorCode::kMalformed, "PLY property before the format line" + at);
      using T = PlyHeader::Type;
      const auto type_of = [&](std::string_view t) -> T {
        if (t == "char" || t == "int8") return T::kInt8;
        if (t == "uchar" || t == "uint8") return T::kUint8;
        if (t == "short" || t == "int16") return T::kInt16;
        if (t == "ushort" || t == "uint16") return T::kUint16;
        if (t == "int" || t == "int32") return T::kInt32;
        if (t == "uint" || t == "uint32") return T::kUint32;
        if (t == "float" || t == "float32") return T::kFloat32;
        if (t == "double" || t == "float64") return T::kFloat64;
        throw LoadError(ErrorCode::kMalformed, "PLY property type \"" + shorten(t) + "\" is unknown" + at);
      };
      PlyHeader::Property prop;
      std::string_view t = next_token(rest);
      uint64_t size = 0;
      if (t == "list") {
        prop.list = true;
        prop.count_type = type_of(next_token(rest));
        prop.item_type = type_of(next_token(rest));
        if (prop.count_type == T::kFloat32 || prop.count_type == T::kFloat64)
          throw LoadError(ErrorCode::kMalformed, "PLY list length type is not an integer type" + at);
        size = ply_type_size(prop.count_type);  // the list itself may be empty
      } else {
        prop.type = type_of(t);
        size = ply_type_size(prop.type);
      }
      prop.name = std::string(next_token(rest).substr(0, 64));
      h.elements.back().properties.push_back(std::move(prop));
      // ASCII: at least one digit and one separator per value.
      min_bytes.back() += format == 0 ? 2 : size;
    } else if (kw == "end_header") {
      done = true;
    } else if (kw == "comment" || kw == "obj_info" || kw.empty()) {
      continue;
    } else {
      throw LoadError(ErrorCode::kMalformed, "PLY header line \"" + shorten(kw) + "\" is unknown" + at);
    }
  }
  if (!done) throw LoadError(ErrorCode::kMalformed, "PLY header has no end_header line");
  if (format < 0) throw LoadError(ErrorCode::kMalformed, "PLY header has no format line");
  h.body_offset = static_cast<size_t>(p - begin);
  const uint64_t body = static_cast<uint64_t>(end - p);
  for (const PlyHeader::Element& e : h.elements) {
    if (e.name == "face" && e.count > limits.max_triangles)
      throw LoadError(ErrorCode::kLimitExceeded, "PLY declares " + std::to_string(e.count) +
                                                     " faces, more than max_triangles (" +
                                                     std::to_string(limits.max_triangles) + ")");
  }
  uint64_t need = 0;
  for (size_t k = 0; k < h.elements.size(); ++k) {
    const PlyHeader::Element& e = h.elements[k];
    // An element without properties takes no bytes; its count would still drive loops, so it is
    // bounded by the body size as well.
    const uint64_t per = std::max<uint64_t>(min_bytes[k], 1);
    // ASCII files may end without a final separator.
    if (e.count > body / per + 1) {
      throw LoadError(ErrorCode::kTruncated, "PLY declares " + std::to_string(e.count) + " " + shorten(e.name) +
                                                 " elements but only " + std::to_string(body) +
                                                 " bytes follow the header");
    }
    need += e.count * per;
    if (need > body + h.elements.size())
      throw LoadError(ErrorCode::kTruncated, "PLY header declares more data than the " + std::to_string(body) +
                                                 " bytes that follow it");
  }
  return h;
}

}  // namespace s3d::formats
