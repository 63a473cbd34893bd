#include "geometry/formats/assimp/text_scan.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "geometry/load_error.h"

namespace s3d::formats {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// Splits the next whitespace-delimited token off `s`; empty when none is left.
std::string_view next_token(std::string_view& s) {
  size_t i = 0;
  while (i < s.size() && is_space(s[i])) ++i;
  size_t j = i;
  while (j < s.size() && !is_space(s[j])) ++j;
  const std::string_view tok = s.substr(i, j - i);
  s.remove_prefix(j);
  return tok;
}

bool parse_int(std::string_view tok, int64_t& out) {
  if (!tok.empty() && tok.front() == '+') tok.remove_prefix(1);
  if (tok.empty()) return false;
  const auto [ptr, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), out);
  return ec == std::errc() && ptr == tok.data() + tok.size();
}

std::string shorten(std::string_view s) {
  std::string out(s.substr(0, 40));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return out;
}

}  // namespace

void check_ply_header(std::span<const uint8_t> data, const Limits& limits) {
  constexpr size_t kMaxHeader = 1 << 20;
  const char* const begin = reinterpret_cast<const char*>(data.data());
  const char* const end = begin + data.size();
  const char* p = begin;
  struct Element {
    std::string name;
    uint64_t count = 0;
    uint64_t min_bytes = 0;  // per instance
  };
  std::vector<Element> elements;
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
    // Only printable ASCII and tabs: Assimp tokenises the header with its own idea of whitespace,
    // and a header it reads differently from this check can send its binary parser astray.
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
      } else if (f == "binary_little_endian" || f == "binary_big_endian") {
        format = 1;
      } else {
        throw LoadError(ErrorCode::kMalformed, "PLY format \"" + shorten(f) + "\" is unknown" + at);
      }
    } else if (kw == "element") {
      Element e;
      e.name = std::string(next_token(rest).substr(0, 64));
      int64_t n = 0;
      if (!parse_int(next_token(rest), n) || n < 0)
        throw LoadError(ErrorCode::kMalformed, "PLY element " + shorten(e.name) + " has an invalid count" + at);
      e.count = static_cast<uint64_t>(n);
      elements.push_back(e);
    } else if (kw == "property") {
      if (elements.empty()) throw LoadError(ErrorCode::kMalformed, "PLY property before any element" + at);
      if (format < 0) throw LoadError(ErrorCode::kMalformed, "PLY property before the format line" + at);
      const auto type_size = [&](std::string_view t) -> uint64_t {
        if (t == "char" || t == "uchar" || t == "int8" || t == "uint8") return 1;
        if (t == "short" || t == "ushort" || t == "int16" || t == "uint16") return 2;
        if (t == "int" || t == "uint" || t == "int32" || t == "uint32" || t == "float" || t == "float32") return 4;
        if (t == "double" || t == "float64") return 8;
        throw LoadError(ErrorCode::kMalformed, "PLY property type \"" + shorten(t) + "\" is unknown" + at);
      };
      std::string_view t = next_token(rest);
      uint64_t size = 0;
      if (t == "list") {
        size = type_size(next_token(rest));  // the count; the list itself may be empty
        type_size(next_token(rest));
      } else {
        size = type_size(t);
      }
      // ASCII: at least one digit and one separator per value.
      elements.back().min_bytes += format == 0 ? 2 : size;
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
  const uint64_t body = static_cast<uint64_t>(end - p);
  for (const Element& e : elements) {
    if (e.name == "face" && e.count > limits.max_triangles)
      throw LoadError(ErrorCode::kLimitExceeded, "PLY declares " + std::to_string(e.count) +
                                                     " faces, more than max_triangles (" +
                                                     std::to_string(limits.max_triangles) + ")");
  }
  uint64_t need = 0;
  for (const Element& e : elements) {
    // An element without properties takes no bytes; its count is harmless to Assimp's loops
    // only when small, so bound it by the body size as well.
    const uint64_t per = std::max<uint64_t>(e.min_bytes, 1);
    // ASCII files may end without a final separator.
    if (e.count > body / per + 1) {
      throw LoadError(ErrorCode::kTruncated, "PLY declares " + std::to_string(e.count) + " " + shorten(e.name) +
                                                 " elements but only " + std::to_string(body) +
                                                 " bytes follow the header");
    }
    need += e.count * per;
    if (need > body + elements.size())
      throw LoadError(ErrorCode::kTruncated, "PLY header declares more data than the " + std::to_string(body) +
                                                 " bytes that follow it");
  }
}

}  // namespace s3d::formats
