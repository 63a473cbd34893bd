// STL readers: binary and ASCII, welding, every bad-input case, and memory safety on truncated and
// corrupted buffers.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "geometry/formats/format.h"
#include "geometry/formats/reader.h"
#include "geometry/load.h"
#include "geometry/load_error.h"

namespace s3d::formats {
namespace stl_binary {
int probe(std::span<const uint8_t> data);
Mesh read(std::span<const uint8_t> data, const ReadOptions& opt);
}  // namespace stl_binary
namespace stl_ascii {
int probe(std::span<const uint8_t> data);
Mesh read(std::span<const uint8_t> data, const ReadOptions& opt);
}  // namespace stl_ascii
}  // namespace s3d::formats

namespace {

using s3d::ErrorCode;
using s3d::LoadError;
using s3d::Mesh;
using s3d::ReadOptions;
using s3d::Vec3f;
using Bytes = std::vector<uint8_t>;
using Triangle = std::array<Vec3f, 3>;

std::span<const uint8_t> span_of(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

// The unit cube as 12 triangles (36 corners, 8 distinct positions).
std::vector<Triangle> cube_triangles() {
  const Vec3f p[8] = {{0, 0, 0}, {1, 0, 0}, {1, 1, 0}, {0, 1, 0}, {0, 0, 1}, {1, 0, 1}, {1, 1, 1}, {0, 1, 1}};
  const int f[12][3] = {{0, 2, 1}, {0, 3, 2}, {4, 5, 6}, {4, 6, 7}, {0, 1, 5}, {0, 5, 4},
                        {1, 2, 6}, {1, 6, 5}, {2, 3, 7}, {2, 7, 6}, {3, 0, 4}, {3, 4, 7}};
  std::vector<Triangle> t;
  for (const auto& tri : f) t.push_back({p[tri[0]], p[tri[1]], p[tri[2]]});
  return t;
}

void put_f32(Bytes& b, float v) {
  const auto bits = std::bit_cast<uint32_t>(v);
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(bits >> (8 * i)));
}

// A binary STL with `header` (padded to 80 bytes), the given triangles and a count (defaults to
// the real number).
Bytes binary_stl(const std::vector<Triangle>& tris, const std::string& header = "test binary",
                 int64_t declared = -1) {
  Bytes b(80, ' ');
  std::memcpy(b.data(), header.data(), std::min<size_t>(header.size(), 80));
  const auto count = static_cast<uint32_t>(declared < 0 ? static_cast<int64_t>(tris.size()) : declared);
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(count >> (8 * i)));
  for (const Triangle& t : tris) {
    for (int k = 0; k < 3; ++k) put_f32(b, 0.0f);  // normal
    for (const Vec3f& v : t)
      for (float c : v) put_f32(b, c);
    b.push_back(0);
    b.push_back(0);
  }
  return b;
}

std::string ascii_stl(const std::vector<Triangle>& tris, const std::string& name = "cube", const char* eol = "\n") {
  std::string s = "solid " + name + eol;
  for (const Triangle& t : tris) {
    s += std::string("  facet normal 0 0 0") + eol + "    outer loop" + eol;
    for (const Vec3f& v : t) {
      char buf[128];
      std::snprintf(buf, sizeof buf, "      vertex %.9g %.9g %.9g", v[0], v[1], v[2]);
      s += buf;
      s += eol;
    }
    s += std::string("    endloop") + eol + "  endfacet" + eol;
  }
  s += "endsolid " + name + eol;
  return s;
}

// The reader must return triangles whose corners are exactly the input positions.
void expect_same_triangles(const Mesh& m, const std::vector<Triangle>& tris) {
  ASSERT_EQ(m.triangles.size(), tris.size());
  for (size_t i = 0; i < tris.size(); ++i)
    for (int k = 0; k < 3; ++k) {
      const uint32_t idx = m.triangles[i][k];
      ASSERT_LT(idx, m.vertices.size());
      for (int c = 0; c < 3; ++c) EXPECT_EQ(m.vertices[idx][c], tris[i][k][c]) << "triangle " << i;
    }
}

template <class Fn>
LoadError expect_error(Fn fn, ErrorCode code) {
  try {
    fn();
  } catch (const LoadError& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    return e;
  }
  ADD_FAILURE() << "no LoadError thrown";
  return LoadError(ErrorCode::kIo, "none");
}

bool contains(const char* hay, const std::string& needle) { return std::string(hay).find(needle) != std::string::npos; }

// ---- binary ----

TEST(StlBinary, CubeWeldsToEightVertices) {
  const auto tris = cube_triangles();
  const Bytes b = binary_stl(tris);
  ASSERT_EQ(b.size(), 84u + 50u * 12u);
  const Mesh m = s3d::formats::stl_binary::read(b, {});
  EXPECT_EQ(m.vertices.size(), 8u);
  expect_same_triangles(m, tris);
  EXPECT_EQ(m.object_count(), 1u);
}

TEST(StlBinary, AcceptsHeaderStartingWithSolid) {
  const auto tris = cube_triangles();
  const Bytes b = binary_stl(tris, "solid exported by a CAD tool that writes solid into binary headers");
  EXPECT_EQ(s3d::formats::stl_ascii::probe(b), 0);
  EXPECT_EQ(s3d::formats::stl_binary::probe(b), 100);
  EXPECT_EQ(s3d::detect_format(b), s3d::Format::kStlBinary);
  const s3d::LoadedModel lm = s3d::load_model(b, {});
  EXPECT_EQ(lm.format, s3d::Format::kStlBinary);
  EXPECT_EQ(lm.mesh.vertices.size(), 8u);
  expect_same_triangles(lm.mesh, tris);
}

TEST(StlBinary, TruncatedNamesBothNumbers) {
  Bytes b = binary_stl(cube_triangles());
  b.resize(b.size() - 57);  // cut mid-record: 10 whole triangles and 43 bytes, 12 declared
  const LoadError e = expect_error([&] { s3d::formats::stl_binary::read(b, {}); }, ErrorCode::kTruncated);
  EXPECT_TRUE(contains(e.what(), "12 triangles")) << e.what();
  EXPECT_TRUE(contains(e.what(), std::to_string(b.size()))) << e.what();
  EXPECT_TRUE(contains(e.what(), "room for 10")) << e.what();
}

TEST(StlBinary, CountOfBillionsIsTruncatedNotAnAllocation) {
  Bytes b = binary_stl(cube_triangles(), "big", 0xffffffffLL);
  b.resize(b.size() - 7);  // not 84 + 50k: a cut-off file (a whole-record size is read by size, below)
  const LoadError e = expect_error([&] { s3d::formats::stl_binary::read(b, {}); }, ErrorCode::kTruncated);
  EXPECT_TRUE(contains(e.what(), "4294967295")) << e.what();
  EXPECT_TRUE(contains(e.what(), std::to_string(b.size()))) << e.what();
}

TEST(StlBinary, ShortFileIsTruncated) {
  const Bytes b(60, 'x');
  expect_error([&] { s3d::formats::stl_binary::read(b, {}); }, ErrorCode::kTruncated);
}

TEST(StlBinary, TrailingBytesAreTruncatedError) {
  for (size_t extra : {1u, 49u, 120u}) {  // 50 more bytes are one more record: read by size (below)
    Bytes b = binary_stl(cube_triangles());
    b.insert(b.end(), extra, 0x0a);
    const LoadError e = expect_error([&] { s3d::formats::stl_binary::read(b, {}); }, ErrorCode::kTruncated);
    EXPECT_TRUE(contains(e.what(), "12 triangles")) << e.what();
    EXPECT_TRUE(contains(e.what(), std::to_string(b.size()))) << e.what();
  }
}

// admesh (PrusaSlicer) counts triangles from the file size and only warns when the header disagrees:
// a header edited to 0, 5 or 2^32 - 1 must not hide a printable part, so such a file is read by its
// size and the disagreement is kept as a note.
TEST(StlBinary, HeaderCountThatDisagreesWithAWholeRecordSizeIsReadBySize) {
  const auto tris = cube_triangles();
  const Mesh reference = s3d::formats::stl_binary::read(binary_stl(tris), {});
  EXPECT_TRUE(reference.notes.empty());
  for (const long long count : {0LL, 5LL, 13LL, 0xffffffffLL}) {
    const Bytes b = binary_stl(tris, "edited header", count);
    EXPECT_EQ(s3d::formats::stl_binary::probe(b), 20) << count;
    EXPECT_EQ(s3d::detect_format(b), s3d::Format::kStlBinary) << count;
    const s3d::LoadedModel lm = s3d::load_model(b, {});
    EXPECT_EQ(lm.mesh.vertices, reference.vertices) << count;
    expect_same_triangles(lm.mesh, tris);
    ASSERT_EQ(lm.mesh.notes.size(), 1u) << count;
    EXPECT_TRUE(contains(lm.mesh.notes[0].c_str(), "declares " + std::to_string(count) + " triangles")) << lm.mesh.notes[0];
    EXPECT_TRUE(contains(lm.mesh.notes[0].c_str(), "holds 12")) << lm.mesh.notes[0];
  }
  // Leading records with all corners zero do not hide the file from detection.
  std::vector<Triangle> padded(3, Triangle{});
  padded.insert(padded.end(), tris.begin(), tris.end());
  EXPECT_EQ(s3d::detect_format(binary_stl(padded, "edited header", 0)), s3d::Format::kStlBinary);
  // Random bytes of a whole-record size are still not an STL.
  Bytes noise(84 + 50 * 40);
  uint32_t x = 12345;
  for (uint8_t& c : noise) c = static_cast<uint8_t>((x = x * 1103515245u + 12345u) >> 24);
  EXPECT_EQ(s3d::formats::stl_binary::probe(noise), 0);
}

TEST(StlBinary, CountAboveLimitNamesTheLimit) {
  const Bytes b = binary_stl(cube_triangles());
  ReadOptions opt;
  opt.limits.max_triangles = 11;
  const LoadError e = expect_error([&] { s3d::formats::stl_binary::read(b, opt); }, ErrorCode::kLimitExceeded);
  EXPECT_TRUE(contains(e.what(), "max_triangles")) << e.what();
  EXPECT_TRUE(contains(e.what(), "11")) << e.what();
  opt.limits.max_triangles = 12;
  EXPECT_EQ(s3d::formats::stl_binary::read(b, opt).triangles.size(), 12u);
}

// A triangle with a NaN or infinite corner is dropped with a note naming it, as admesh (PrusaSlicer)
// drops it and slices the rest: one such triangle must not make a printable part unscreenable. A file
// with nothing else is an error.
TEST(StlBinary, NanOrInfTrianglesAreDroppedWithANote) {
  const auto cube = cube_triangles();
  const Mesh reference = s3d::formats::stl_binary::read(binary_stl(cube), {});
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    auto tris = cube;
    Triangle extra = tris[3];
    extra[2][1] = bad;
    tris.insert(tris.begin() + 7, extra);  // 13 triangles, the 8th (index 7) bad
    tris.push_back(extra);                 // and the last
    const Mesh m = s3d::formats::stl_binary::read(binary_stl(tris), {});
    EXPECT_EQ(m.triangles, reference.triangles);
    EXPECT_EQ(m.vertices, reference.vertices);
    ASSERT_EQ(m.notes.size(), 1u);
    EXPECT_TRUE(contains(m.notes[0].c_str(), "2 triangles")) << m.notes[0];
    EXPECT_TRUE(contains(m.notes[0].c_str(), "triangle 7")) << m.notes[0];
    std::vector<Triangle> all_bad(3, extra);
    const LoadError e = expect_error([&] { s3d::formats::stl_binary::read(binary_stl(all_bad), {}); }, ErrorCode::kBadValue);
    EXPECT_TRUE(contains(e.what(), "every triangle")) << e.what();
  }
}

TEST(StlBinary, NanNormalIsIgnored) {
  Bytes b = binary_stl(cube_triangles());
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(&b[84], &nan, 4);
  EXPECT_EQ(s3d::formats::stl_binary::read(b, {}).triangles.size(), 12u);
}

TEST(StlBinary, ZeroTrianglesIsEmpty) {
  const Bytes b = binary_stl({});
  EXPECT_EQ(b.size(), 84u);
  expect_error([&] { s3d::formats::stl_binary::read(b, {}); }, ErrorCode::kEmpty);
  expect_error([&] { s3d::load_model(b, {}); }, ErrorCode::kEmpty);
}

TEST(StlBinary, NegativeZeroWeldsWithZero) {
  const std::vector<Triangle> tris = {{Vec3f{0.0f, 0.0f, 0.0f}, Vec3f{1, 0, 0}, Vec3f{0, 1, 0}},
                                      {Vec3f{-0.0f, 0.0f, -0.0f}, Vec3f{0, 1, 0}, Vec3f{1, 0, 0}}};
  const Mesh m = s3d::formats::stl_binary::read(binary_stl(tris), {});
  EXPECT_EQ(m.vertices.size(), 3u);
  EXPECT_EQ(m.triangles[0][0], m.triangles[1][0]);
  EXPECT_FALSE(std::signbit(m.vertices[m.triangles[1][0]][0]));
}

TEST(StlBinary, NearlyEqualPositionsStayApart) {
  const float a = 1.0f, b = std::nextafter(1.0f, 2.0f);
  const std::vector<Triangle> tris = {{Vec3f{a, 0, 0}, Vec3f{0, 1, 0}, Vec3f{0, 0, 1}},
                                      {Vec3f{b, 0, 0}, Vec3f{0, 1, 0}, Vec3f{0, 0, 1}}};
  const Mesh m = s3d::formats::stl_binary::read(binary_stl(tris), {});
  EXPECT_EQ(m.vertices.size(), 4u);
  expect_same_triangles(m, tris);
}

TEST(StlBinary, DegenerateTrianglesAreKept) {
  const std::vector<Triangle> tris = {{Vec3f{0, 0, 0}, Vec3f{1, 0, 0}, Vec3f{0, 1, 0}},
                                      {Vec3f{2, 2, 2}, Vec3f{2, 2, 2}, Vec3f{2, 2, 2}},
                                      {Vec3f{0, 0, 0}, Vec3f{1, 0, 0}, Vec3f{1, 0, 0}}};
  const Mesh m = s3d::formats::stl_binary::read(binary_stl(tris), {});
  ASSERT_EQ(m.triangles.size(), 3u);
  EXPECT_EQ(m.vertices.size(), 4u);
  EXPECT_EQ(m.triangles[1][0], m.triangles[1][2]);
  expect_same_triangles(m, tris);
}

// A soup large enough to make the weld table grow several times: every triangle has its own
// corners except that each triangle shares one corner with the previous one.
TEST(StlBinary, WeldTableGrowthKeepsIndicesRight) {
  std::vector<Triangle> tris;
  for (int i = 0; i < 20000; ++i) {
    const auto f = static_cast<float>(i);
    tris.push_back({Vec3f{f, 0, 0}, Vec3f{f, 1, 0}, Vec3f{f + 1, 0, 0}});
  }
  const Mesh m = s3d::formats::stl_binary::read(binary_stl(tris), {});
  EXPECT_EQ(m.vertices.size(), 20000u * 2 + 1);
  expect_same_triangles(m, tris);
}

TEST(StlBinary, ProbeRejectsRandomBytesAndFindsTruncatedStl) {
  std::mt19937 rng(7);
  Bytes noise(5000);
  for (uint8_t& c : noise) c = static_cast<uint8_t>(rng());
  EXPECT_EQ(s3d::formats::stl_binary::probe(noise), 0);
  Bytes cut = binary_stl(cube_triangles());
  cut.resize(cut.size() - 75);
  EXPECT_GT(s3d::formats::stl_binary::probe(cut), 0);
  EXPECT_EQ(s3d::detect_format(cut), s3d::Format::kStlBinary);
  expect_error([&] { s3d::load_model(cut, {}); }, ErrorCode::kTruncated);
}

// ---- ASCII ----

TEST(StlAscii, CubeWeldsToEightVertices) {
  const auto tris = cube_triangles();
  const std::string s = ascii_stl(tris);
  EXPECT_GE(s3d::formats::stl_ascii::probe(span_of(s)), 80);
  EXPECT_EQ(s3d::formats::stl_binary::probe(span_of(s)), 0);
  const Mesh m = s3d::formats::stl_ascii::read(span_of(s), {});
  EXPECT_EQ(m.vertices.size(), 8u);
  expect_same_triangles(m, tris);
  EXPECT_TRUE(m.object_starts.empty());
}

TEST(StlAscii, CrlfTabsCaseAndNumberForms) {
  const std::string s =
      "  \tSOLID Part_1 exported\r\n"
      "FACET NORMAL 0.0e0 -1 +0\r\n\tOUTER LOOP\r\n"
      "\t\tVERTEX 1.5e+01 -2.0E-1 +3\r\n\t\tvertex\t0.0\t0\t-0\r\n\t\tvertex .5 1e-50 1E2\r\n"
      "\tENDLOOP\r\nENDFACET\r\n"
      "endsolid Part_1\r\n";
  const Mesh m = s3d::formats::stl_ascii::read(span_of(s), {});
  ASSERT_EQ(m.triangles.size(), 1u);
  ASSERT_EQ(m.vertices.size(), 3u);
  EXPECT_FLOAT_EQ(m.vertices[0][0], 15.0f);
  EXPECT_FLOAT_EQ(m.vertices[0][1], -0.2f);
  EXPECT_FLOAT_EQ(m.vertices[0][2], 3.0f);
  EXPECT_EQ(m.vertices[1][2], 0.0f);
  EXPECT_FALSE(std::signbit(m.vertices[1][2]));
  EXPECT_FLOAT_EQ(m.vertices[2][0], 0.5f);
  EXPECT_EQ(m.vertices[2][1], 0.0f);  // underflow to zero, not an error
  EXPECT_FLOAT_EQ(m.vertices[2][2], 100.0f);
  EXPECT_EQ(s3d::detect_format(span_of(s)), s3d::Format::kStlAscii);
}

TEST(StlAscii, CrlfCubeAndMissingOuterLoopAndEndsolid) {
  const auto tris = cube_triangles();
  EXPECT_EQ(s3d::formats::stl_ascii::read(span_of(ascii_stl(tris, "c", "\r\n")), {}).vertices.size(), 8u);
  const std::string s =
      "solid\nfacet normal 0 0 1\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\nendfacet\n";  // no loop, no endsolid
  const Mesh m = s3d::formats::stl_ascii::read(span_of(s), {});
  EXPECT_EQ(m.triangles.size(), 1u);
}

TEST(StlAscii, MultipleSolidsBecomeObjects) {
  const auto tris = cube_triangles();
  const std::string s = ascii_stl(tris, "a") + ascii_stl(tris, "b") + std::string(16, '\0');
  const Mesh m = s3d::formats::stl_ascii::read(span_of(s), {});
  ASSERT_EQ(m.triangles.size(), 24u);
  EXPECT_EQ(m.vertices.size(), 16u);  // each solid welded on its own
  ASSERT_EQ(m.object_starts.size(), 2u);
  EXPECT_EQ(m.object_starts[1], 12u);
  EXPECT_EQ(m.object_count(), 2u);
  for (size_t t = 12; t < 24; ++t)
    for (uint32_t v : m.triangles[t]) EXPECT_GE(v, 8u);
}

TEST(StlAscii, BinaryGarbageAfterSolidIsMalformedWithLine) {
  Bytes b = binary_stl(cube_triangles(), "solid binary pretending");
  const LoadError e = expect_error([&] { s3d::formats::stl_ascii::read(b, {}); }, ErrorCode::kMalformed);
  EXPECT_TRUE(contains(e.what(), "line 1")) << e.what();
  std::string s = ascii_stl(cube_triangles());
  s[s.find("vertex", 200)] = '\x01';
  const LoadError e2 = expect_error([&] { s3d::formats::stl_ascii::read(span_of(s), {}); }, ErrorCode::kMalformed);
  EXPECT_TRUE(contains(e2.what(), "line ")) << e2.what();
}

TEST(StlAscii, StructuralErrorsAreMalformedWithLine) {
  const std::string two_vertices =
      "solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nendloop\nendfacet\nendsolid\n";
  LoadError e = expect_error([&] { s3d::formats::stl_ascii::read(span_of(two_vertices), {}); }, ErrorCode::kMalformed);
  EXPECT_TRUE(contains(e.what(), "line 6")) << e.what();
  const std::string four_vertices =
      "solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\nvertex 1 1 0\n"
      "endloop\nendfacet\nendsolid\n";
  expect_error([&] { s3d::formats::stl_ascii::read(span_of(four_vertices), {}); }, ErrorCode::kMalformed);
  const std::string bad_number =
      "solid x\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1,5 0 0\nvertex 0 1 0\nendloop\nendfacet\n";
  e = expect_error([&] { s3d::formats::stl_ascii::read(span_of(bad_number), {}); }, ErrorCode::kMalformed);
  EXPECT_TRUE(contains(e.what(), "line 5")) << e.what();
  const std::string not_stl = "hello world\n";
  expect_error([&] { s3d::formats::stl_ascii::read(span_of(not_stl), {}); }, ErrorCode::kMalformed);
  const std::string junk_after = ascii_stl(cube_triangles()) + "trailing words\n";
  expect_error([&] { s3d::formats::stl_ascii::read(span_of(junk_after), {}); }, ErrorCode::kMalformed);
}

TEST(StlAscii, EndOfFileInsideFacetIsTruncated) {
  std::string s = ascii_stl(cube_triangles());
  s.resize(s.find("endloop", 300));
  expect_error([&] { s3d::formats::stl_ascii::read(span_of(s), {}); }, ErrorCode::kTruncated);
}

TEST(StlAscii, NanOrInfFacetsAreDroppedWithANote) {
  const auto cube = cube_triangles();
  const Mesh reference = s3d::formats::stl_ascii::read(span_of(ascii_stl(cube)), {});
  for (const char* bad : {"nan", "inf", "-inf", "1e39", "1e999"}) {
    auto tris = cube;
    Triangle extra = tris[4];
    extra[2][0] = 12345.5f;  // a marker to replace
    tris.insert(tris.begin() + 4, extra);
    std::string s = ascii_stl(tris);
    const size_t at = s.find("12345.5");
    const size_t line = 1 + static_cast<size_t>(std::count(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(at), '\n'));
    s.replace(at, 7, bad);
    const Mesh m = s3d::formats::stl_ascii::read(span_of(s), {});
    EXPECT_EQ(m.triangles, reference.triangles) << bad;
    EXPECT_EQ(m.vertices, reference.vertices) << bad;
    ASSERT_EQ(m.notes.size(), 1u) << bad;
    EXPECT_TRUE(contains(m.notes[0].c_str(), "1 facet ")) << m.notes[0];
    EXPECT_TRUE(contains(m.notes[0].c_str(), "line " + std::to_string(line))) << m.notes[0];
    std::string only = ascii_stl({extra});
    only.replace(only.find("12345.5"), 7, bad);
    const LoadError e = expect_error([&] { s3d::formats::stl_ascii::read(span_of(only), {}); }, ErrorCode::kBadValue);
    EXPECT_TRUE(contains(e.what(), "every facet")) << e.what();
  }
}

TEST(StlAscii, LimitEnforcedWhileParsing) {
  const std::string s = ascii_stl(cube_triangles());
  ReadOptions opt;
  opt.limits.max_triangles = 5;
  const LoadError e = expect_error([&] { s3d::formats::stl_ascii::read(span_of(s), opt); }, ErrorCode::kLimitExceeded);
  EXPECT_TRUE(contains(e.what(), "max_triangles")) << e.what();
}

TEST(StlAscii, NoFacetsIsEmpty) {
  const std::string s = "solid nothing\nendsolid nothing\n";
  expect_error([&] { s3d::formats::stl_ascii::read(span_of(s), {}); }, ErrorCode::kEmpty);
}

// ---- memory safety: every prefix and many corruptions either read or throw LoadError ----

void read_both_ways(std::span<const uint8_t> b, const ReadOptions& opt) {
  for (s3d::Format f : {s3d::Format::kStlBinary, s3d::Format::kStlAscii}) {
    try {
      const Mesh m = s3d::read_mesh(b, f, opt);
      for (const auto& t : m.triangles)
        for (uint32_t v : t) ASSERT_LT(v, m.vertices.size());
    } catch (const LoadError&) {
    }
  }
  (void)s3d::detect_format(b);
}

TEST(StlMemorySafe, PrefixesAndCorruptions) {
  ReadOptions opt;
  opt.limits.max_triangles = 1000;
  const Bytes bin = binary_stl(cube_triangles(), "solid tricky");
  const std::string txt = ascii_stl(cube_triangles());
  const Bytes asc(txt.begin(), txt.end());
  for (const Bytes* src : {&bin, &asc}) {
    for (size_t n = 0; n <= src->size(); ++n) read_both_ways(std::span(src->data(), n), opt);
    std::mt19937 rng(42);
    for (int iter = 0; iter < 2000; ++iter) {
      Bytes b = *src;
      const int flips = 1 + static_cast<int>(rng() % 8);
      for (int k = 0; k < flips; ++k) b[rng() % b.size()] = static_cast<uint8_t>(rng());
      read_both_ways(b, opt);
    }
  }
}

}  // namespace
