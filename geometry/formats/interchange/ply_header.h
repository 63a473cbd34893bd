#pragma once
// The PLY header, parsed and checked before the body is read (ply_reader.cpp): the header is
// plain ASCII and well formed, and its element counts fit in the bytes that follow it.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "geometry/limits.h"

namespace s3d::formats {

struct PlyHeader {
  enum class Format { kAscii, kBinaryLittleEndian, kBinaryBigEndian };
  enum class Type { kInt8, kUint8, kInt16, kUint16, kInt32, kUint32, kFloat32, kFloat64 };
  struct Property {
    std::string name;
    bool list = false;
    Type type = Type::kFloat32;        // a scalar's type
    Type count_type = Type::kUint8;    // a list's length type
    Type item_type = Type::kInt32;     // a list's item type
  };
  struct Element {
    std::string name;
    uint64_t count = 0;
    std::vector<Property> properties;
  };
  Format format = Format::kAscii;
  std::vector<Element> elements;
  size_t body_offset = 0;  // first byte after the end_header line
};

// Bytes of one binary value of type t.
size_t ply_type_size(PlyHeader::Type t);

// Throws LoadError: kMalformed (not a PLY header, unknown lines or types), kTruncated (counts the
// body cannot hold), kLimitExceeded (more faces than limits.max_triangles).
PlyHeader parse_ply_header(std::span<const uint8_t> data, const Limits& limits);

}  // namespace s3d::formats
