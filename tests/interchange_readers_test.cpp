// The interchange readers (geometry/formats/interchange: OBJ, PLY, OFF, AMF): geometry, welding,
// units, probes, and hostile input (bad indices, NaN, lying headers, garbage, random corruption).
#include <gtest/gtest.h>

#include "tests/support/test_helpers.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "geometry/formats/format.h"
#include "geometry/formats/reader.h"
#include "geometry/load_error.h"
#include "geometry/mesh.h"

namespace {

using s3d::ErrorCode;
using s3d::Format;
using s3d::LoadError;
using s3d::Mesh;
using s3d::ReadOptions;

std::span<const uint8_t> bytes_of(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

Mesh read(const std::string& text, Format f, const ReadOptions& opt = {}) { return s3d::read_mesh(bytes_of(text), f, opt); }

// Runs a read expected to fail and returns the error.
LoadError failure(const std::string& text, Format f, const ReadOptions& opt = {}) {
  try {
    read(text, f, opt);
  } catch (const LoadError& e) {
    return e;
  }
  ADD_FAILURE() << "expected a LoadError for:\n" << text.substr(0, 300);
  return LoadError(ErrorCode::kIo, "none");
}

int probe(Format f, const std::string& text) {
  for (const s3d::ReaderEntry& r : s3d::registered_readers())
    if (r.format == f) return r.probe(bytes_of(text));
  ADD_FAILURE() << "no reader registered";
  return -1;
}

using s3d::test::signed_volume;

// Unit cube as quads with per-face normals and two materials: Assimp splits it into two meshes
// and keeps corners with different normals apart; the reader must hand back one welded cube.
const char* kObjCube =
    "# cube\nmtllib cube.mtl\no cube\n"
    "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0 0 1\nv 1 0 1\nv 1 1 1\nv 0 1 1\n"
    "vn 0 0 -1\nvn 0 0 1\nvn 0 -1 0\nvn 0 1 0\nvn -1 0 0\nvn 1 0 0\n"
    "usemtl red\n"
    "f 1//1 4//1 3//1 2//1\nf 5//2 6//2 7//2 8//2\nf 1//3 2//3 6//3 5//3\n"
    "usemtl blue\n"
    "f 4//4 8//4 7//4 3//4\nf 1//5 5//5 8//5 4//5\nf 2//6 3//6 7//6 6//6\n";

TEST(ObjReader, QuadCubeWithNormalsAndMaterialsIsOneWeldedObject) {
  const Mesh m = read(kObjCube, Format::kObj);
  EXPECT_EQ(m.triangle_count(), 12u);
  EXPECT_EQ(m.vertex_count(), 8u);
  EXPECT_EQ(m.object_count(), 1u);
  EXPECT_NEAR(signed_volume(m), 1.0, 1e-9);
}

// Assimp 5.2 read an OBJ whose material library it could not open as its own material library, and
// a texture line before any "newmtl" then crashed it (SIGSEGV; found by tests/fuzz/mesh_fuzzer),
// which is why OBJ is parsed natively. These files read, and do not crash.
TEST(ObjReader, MaterialStatementsAreIgnored) {
  for (const std::string text : {"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nmtllib a\nmap_Ks b\n",
                                 "mtllib a\nmap_Ks b\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n",
                                 " \tmtllib a b\r\nmap_Kd c\r\nv 0 0 0\r\nv 1 0 0\r\nv 0 1 0\r\nf 1 2 3\r\nmtllib\n",
                                 "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nmtllib a\nnewmtl m\nmap_Ks b\nusemtl m\n"}) {
    const Mesh m = read(text, Format::kObj);
    EXPECT_EQ(m.triangle_count(), 1u) << text;
  }
  // Errors still name the original line numbers.
  const LoadError e = failure("mtllib a\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 5\n", Format::kObj);
  EXPECT_STREQ(e.what(), "face at line 5 references vertex 5 of 3");
}

// A backslash at the end of a line continues the statement; messages name the line it starts on.
TEST(ObjReader, LineContinuations) {
  const Mesh m = read("v 0 0 0\nv 1 0 \\\n 0\nv 0 1 0\nv 0 0 1\nf 1 2 \\\r\n3\nf 1 \\\n2 \\\n4\nf 1 3 4 \\", Format::kObj);
  EXPECT_EQ(m.triangle_count(), 3u);
  EXPECT_EQ(m.vertex_count(), 4u);
  const LoadError e = failure("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 \\\n2 \\\n9\n", Format::kObj);
  EXPECT_STREQ(e.what(), "face at line 4 references vertex 9 of 3");
}

TEST(ObjReader, RelativeNegativeIndicesLoad) {
  const Mesh m = read("v 0 0 0\nv 1 0 0\nv 0 1 0\nf -3 -2 -1\nv 0 0 1\nf -4 -2 -1\n", Format::kObj);
  EXPECT_EQ(m.triangle_count(), 2u);
  EXPECT_EQ(m.vertex_count(), 4u);
}

TEST(ObjReader, OutOfRangeIndexNamesLineAndVertex) {
  const LoadError e = failure("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 5\n", Format::kObj);
  EXPECT_EQ(e.code(), ErrorCode::kBadValue);
  EXPECT_STREQ(e.what(), "face at line 4 references vertex 5 of 3");
}

TEST(ObjReader, TooNegativeAndZeroIndicesAreBadValues) {
  const LoadError neg = failure("v 0 0 0\nv 1 0 0\nv 0 1 0\nf -1 -2 -4\n", Format::kObj);
  EXPECT_EQ(neg.code(), ErrorCode::kBadValue);
  EXPECT_STREQ(neg.what(), "face at line 4 references vertex -4 of 3");
  EXPECT_EQ(failure("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n", Format::kObj).code(), ErrorCode::kBadValue);
  // A relative index that would be legal later in the file is not legal before its vertices.
  EXPECT_EQ(failure("v 0 0 0\nv 1 0 0\nf -1 -2 -3\nv 0 1 0\n", Format::kObj).code(), ErrorCode::kBadValue);
  // Normal and texture indices are checked too.
  EXPECT_EQ(failure("v 0 0 0\nv 1 0 0\nv 0 1 0\nvn 0 0 1\nf 1//1 2//1 3//2\n", Format::kObj).code(),
            ErrorCode::kBadValue);
}

TEST(ObjReader, NonFiniteCoordinatesAreBadValues) {
  EXPECT_EQ(failure("v nan 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", Format::kObj).code(), ErrorCode::kBadValue);
  EXPECT_EQ(failure("v 0 0 0\nv 1 inf 0\nv 0 1 0\nf 1 2 3\n", Format::kObj).code(), ErrorCode::kBadValue);
  // Finite as a double but not as a float.
  EXPECT_EQ(failure("v 0 0 0\nv 1e39 0 0\nv 0 1 0\nf 1 2 3\n", Format::kObj).code(), ErrorCode::kBadValue);
  EXPECT_EQ(failure("v 0 zero 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", Format::kObj).code(), ErrorCode::kMalformed);
}

TEST(ObjReader, TriangleLimit) {
  ReadOptions opt;
  opt.limits.max_triangles = 11;
  EXPECT_EQ(failure(kObjCube, Format::kObj, opt).code(), ErrorCode::kLimitExceeded);
  opt.limits.max_triangles = 12;
  EXPECT_EQ(read(kObjCube, Format::kObj, opt).triangle_count(), 12u);
}

TEST(ObjReader, Probe) {
  EXPECT_GE(probe(Format::kObj, kObjCube), 80);
  EXPECT_EQ(probe(Format::kObj, "solid cube\n facet normal 0 0 1\n  outer loop\n"), 0);
  EXPECT_EQ(probe(Format::kObj, "G28\nG1 X10 Y10\nM104 S200\n"), 0);
  EXPECT_EQ(probe(Format::kObj, std::string("v 0 0 0\0\1\2", 10)), 0);
}

const char* kPlyHeader =
    "ply\nformat ascii 1.0\ncomment square\nelement vertex 4\nproperty float x\nproperty float y\n"
    "property float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n";

TEST(PlyReader, AsciiQuadTriangulates) {
  const Mesh m = read(std::string(kPlyHeader) + "0 0 0\n1 0 0\n1 1 0\n0 1 0\n4 0 1 2 3\n", Format::kPly);
  EXPECT_EQ(m.triangle_count(), 2u);
  EXPECT_EQ(m.vertex_count(), 4u);
  EXPECT_EQ(probe(Format::kPly, kPlyHeader), 95);
  EXPECT_EQ(probe(Format::kPly, "plyx"), 0);
}

// Binary little- and big-endian bodies with properties and elements the reader does not use (read
// past by their declared types) give the same mesh as the ASCII file.
TEST(PlyReader, BinaryBodiesAndUnusedPropertiesAndElements) {
  const auto header = [](const char* format) {
    return std::string("ply\nformat ") + format +
           " 1.0\nelement vertex 4\nproperty double x\nproperty float nx\nproperty double y\nproperty double z\n"
           "property uchar red\nelement face 2\nproperty list uchar float texcoord\nproperty list ushort int vertex_indices\n"
           "element edge 1\nproperty int vertex1\nproperty short vertex2\nend_header\n";
  };
  const double xyz[4][3] = {{0, 0, 0}, {2, 0, 0}, {2, 3, 0}, {0, 3, 1}};
  const int faces[2][3] = {{0, 1, 2}, {0, 2, 3}};
  for (bool big : {false, true}) {
    std::string body;
    const auto put = [&](const void* v, size_t n) {
      std::string b(static_cast<const char*>(v), n);
      if (big) std::reverse(b.begin(), b.end());
      body += b;
    };
    for (const auto& v : xyz) {
      const float nx = 0.5f;
      const uint8_t red = 7;
      put(&v[0], 8);
      put(&nx, 4);
      put(&v[1], 8);
      put(&v[2], 8);
      put(&red, 1);
    }
    for (const auto& f : faces) {
      const uint8_t two = 2;
      const float uv[2] = {0.25f, 0.75f};
      const uint16_t three = 3;
      put(&two, 1);
      put(&uv[0], 4);
      put(&uv[1], 4);
      put(&three, 2);
      for (int c : f) put(&c, 4);
    }
    const int32_t e1 = 0;
    const int16_t e2 = 1;
    put(&e1, 4);
    put(&e2, 2);
    const Mesh m = read(header(big ? "binary_big_endian" : "binary_little_endian") + body, Format::kPly);
    EXPECT_EQ(m.triangle_count(), 2u) << big;
    EXPECT_EQ(m.vertex_count(), 4u) << big;
    EXPECT_EQ(m.vertices[2], (s3d::Vec3f{2, 3, 0})) << big;
    // Cut anywhere inside the body: truncated, never a crash.
    const std::string whole = header(big ? "binary_big_endian" : "binary_little_endian") + body;
    EXPECT_EQ(failure(whole.substr(0, whole.size() - 7), Format::kPly).code(), ErrorCode::kTruncated) << big;
  }
}

// Assimp 5.2 corrupted its heap on this (elements declared twice, found by tests/fuzz/mesh_fuzzer),
// which is why PLY is parsed natively: a clear error, no crash.
TEST(PlyReader, ElementsDeclaredTwiceNeverCrash) {
  const std::string text =
      "ply\nformat ascii 1.0\ncomment tetra\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
      "element face 4\nproperty list uchar int vertex_indiccomment tetra\nelement vertex 5\nproperty float x\n"
      "property float y\nproperty float z\nelement face 4\nproperty list uchar int vertex_indices 0 2 1es\nend_header\n"
      "0 0 0\n1 0 0\n0 1 0\n0 0 1\n3 0 2ce 4\nproperty list  1\n3 0 1\xb4\xff\xff\xff\xdf" "3 0\n";
  EXPECT_EQ(failure(text, Format::kPly).code(), ErrorCode::kMalformed);
}

TEST(PlyReader, GarbageIsMalformed) {
  EXPECT_EQ(failure("ply\nqwkjehqwkjeh\x01\x02 garbage\n", Format::kPly).code(), ErrorCode::kMalformed);
  EXPECT_EQ(failure("ply\nformat ascii 1.0\nelement vertex 3\n", Format::kPly).code(), ErrorCode::kMalformed);
  EXPECT_EQ(failure("not a ply at all", Format::kPly).code(), ErrorCode::kMalformed);
}

TEST(PlyReader, HeaderCountsLargerThanTheFileAreTruncated) {
  const std::string huge =
      "ply\nformat binary_little_endian 1.0\nelement vertex 4000000000\nproperty float x\nproperty float y\n"
      "property float z\nend_header\n\x01\x02\x03";
  EXPECT_EQ(failure(huge, Format::kPly).code(), ErrorCode::kTruncated);
  ReadOptions opt;
  opt.limits.max_triangles = 10;
  std::string faces = kPlyHeader;
  faces.replace(faces.find("element face 1"), 14, "element face 11");
  EXPECT_EQ(failure(faces + "0 0 0\n", Format::kPly, opt).code(), ErrorCode::kLimitExceeded);
}

TEST(PlyReader, BadIndexAndNanAreRejected) {
  EXPECT_NE(failure(std::string(kPlyHeader) + "0 0 0\n1 0 0\n1 1 0\n0 1 0\n3 0 1 7\n", Format::kPly).code(),
            ErrorCode::kIo);
  EXPECT_EQ(failure(std::string(kPlyHeader) + "0 0 0\n1 0 0\n1 nan 0\n0 1 0\n3 0 1 2\n", Format::kPly).code(),
            ErrorCode::kBadValue);
}

const char* kOffSquare =
    "OFF\n# a square and a triangle\n5 2 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n\n0.5 0.5 1\n4 0 1 2 3\n3 0 1 4 0.5 0.5 "
    "0.5\n";

TEST(OffReader, ReadsPolygonsCommentsAndColours) {
  const Mesh m = read(kOffSquare, Format::kOff);
  EXPECT_EQ(m.triangle_count(), 3u);
  EXPECT_EQ(m.vertex_count(), 5u);
  EXPECT_EQ(probe(Format::kOff, kOffSquare), 90);
  EXPECT_EQ(probe(Format::kOff, "COFF\n3 1 0\n"), 90);
  EXPECT_EQ(probe(Format::kOff, "OFFSET 3\n"), 0);
  // Counts on the keyword line, homogeneous coordinates.
  const Mesh h = read("4OFF 3 1 0\n0 0 0 1\n2 0 0 2\n0 4 0 2\n3 0 1 2\n", Format::kOff);
  ASSERT_EQ(h.vertex_count(), 3u);
  EXPECT_FLOAT_EQ(h.vertices[2][1], 2.0f);
}

TEST(OffReader, HostileInput) {
  const LoadError range = failure("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 3\n", Format::kOff);
  EXPECT_EQ(range.code(), ErrorCode::kBadValue);
  EXPECT_NE(std::string(range.what()).find("references vertex 3 of 3"), std::string::npos) << range.what();
  EXPECT_EQ(failure("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 -1 2\n", Format::kOff).code(), ErrorCode::kBadValue);
  EXPECT_EQ(failure("OFF\n3 2 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n", Format::kOff).code(), ErrorCode::kTruncated);
  EXPECT_EQ(failure("OFF\n3 1 0\n0 0 0\n1 0 0\n", Format::kOff).code(), ErrorCode::kTruncated);
  EXPECT_EQ(failure("OFF\n4000000000 4000000000 0\n0 0 0\n", Format::kOff).code(), ErrorCode::kTruncated);
  EXPECT_EQ(failure("OFF\n3 1 0\n0 0 0\nnan 0 0\n0 1 0\n3 0 1 2\n", Format::kOff).code(), ErrorCode::kBadValue);
  EXPECT_EQ(failure("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n9 0 1 2\n", Format::kOff).code(), ErrorCode::kMalformed);
  EXPECT_EQ(failure("OFF BINARY\n", Format::kOff).code(), ErrorCode::kUnsupported);
}

std::string amf_triangle(const std::string& unit, const std::string& v3) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<amf unit=\"" + unit +
         "\" version=\"1.1\"><object id=\"0\"><mesh><vertices>"
         "<vertex><coordinates><x>0</x><y>0</y><z>0</z></coordinates></vertex>"
         "<vertex><coordinates><x>1</x><y>0</y><z>0</z></coordinates></vertex>"
         "<vertex><coordinates><x>0</x><y>2</y><z>0</z></coordinates></vertex>"
         "</vertices><volume><triangle><v1>0</v1><v2>1</v2><v3>" +
         v3 + "</v3></triangle></volume></mesh></object></amf>\n";
}

TEST(AmfReader, UnitScalesToMillimetres) {
  const Mesh m = read(amf_triangle("inch", "2"), Format::kAmf);
  ASSERT_EQ(m.triangle_count(), 1u);
  float ymax = 0;
  for (const auto& v : m.vertices) ymax = std::max(ymax, v[1]);
  EXPECT_FLOAT_EQ(ymax, 50.8f);
  EXPECT_EQ(probe(Format::kAmf, amf_triangle("inch", "2")), 95);
  EXPECT_EQ(probe(Format::kAmf, "<?xml version=\"1.0\"?><model unit=\"mm\">"), 0);
}

TEST(AmfReader, BadIndexAndUnknownUnit) {
  EXPECT_EQ(failure(amf_triangle("millimeter", "3"), Format::kAmf).code(), ErrorCode::kBadValue);
  EXPECT_EQ(failure(amf_triangle("millimeter", "-1"), Format::kAmf).code(), ErrorCode::kBadValue);
  EXPECT_EQ(failure(amf_triangle("millimeter", "two"), Format::kAmf).code(), ErrorCode::kMalformed);
  EXPECT_EQ(failure(amf_triangle("parsec", "2"), Format::kAmf).code(), ErrorCode::kBadValue);
}

// Random byte flips and truncations: every outcome is a mesh or a LoadError, never a crash.
void fuzz(const std::string& seed, Format f, int iterations) {
  std::mt19937 rng(42);
  int rejected = 0;
  for (int i = 0; i < iterations; ++i) {
    std::string s = seed;
    if (i % 4 == 0) {
      s.resize(rng() % s.size());
    } else {
      for (int k = 0; k < 1 + i % 4; ++k) s[rng() % s.size()] = static_cast<char>(rng());
    }
    try {
      read(s, f);
    } catch (const LoadError&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 0);
}

TEST(InterchangeReaders, CorruptedInputNeverCrashes) {
  fuzz(kObjCube, Format::kObj, 300);
  fuzz(std::string(kPlyHeader) + "0 0 0\n1 0 0\n1 1 0\n0 1 0\n4 0 1 2 3\n", Format::kPly, 300);
  fuzz(kOffSquare, Format::kOff, 300);
  fuzz(amf_triangle("inch", "2"), Format::kAmf, 300);
}

}  // namespace
