// Mesh writers: exact coordinate round trips, binary STL layout, multi-object 3MF, units, errors.
#include <gtest/gtest.h>

#include "tests/support/test_helpers.h"
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "geometry/formats/format.h"
#include "geometry/formats/reader.h"
#include "geometry/mesh.h"
#include "geometry/write_mesh.h"

namespace {

using s3d::Format;
using s3d::Mesh;

using s3d::test::temp_path;
using s3d::test::read_bytes;

// A tetrahedron with awkward coordinates: values with no short decimal form, tiny and large
// magnitudes, a negative zero.
Mesh awkward_tetra() {
  Mesh m;
  m.vertices = {{0.1f, -0.0f, 1e-7f}, {123456.789f, 0.3f, -2.5e-5f}, {1.0f / 3.0f, 7654.321f, 0.2f},
                {-3.14159274f, 2.71828175f, 98765.4f}};
  m.triangles = {{0, 2, 1}, {0, 1, 3}, {0, 3, 2}, {1, 2, 3}};
  return m;
}

std::set<std::array<uint32_t, 3>> vertex_bits(const Mesh& m) {
  std::set<std::array<uint32_t, 3>> s;
  for (const auto& v : m.vertices) {
    std::array<uint32_t, 3> b;
    for (int i = 0; i < 3; ++i) {
      const float f = v[i] + 0.0f;  // -0 and +0 are the same point
      std::memcpy(&b[i], &f, 4);
    }
    s.insert(b);
  }
  return s;
}

TEST(WriteMesh, TextAndBinaryFormatsRoundTripCoordinatesExactly) {
  const Mesh m = awkward_tetra();
  struct Case {
    const char* file;
    Format format;
    std::function<void(const Mesh&, const std::string&)> write;
  };
  const Case cases[] = {
      {"t.obj", Format::kObj, [](const Mesh& x, const std::string& p) { s3d::write_obj(x, p); }},
      {"t.off", Format::kOff, [](const Mesh& x, const std::string& p) { s3d::write_off(x, p); }},
      {"t.ply", Format::kPly, [](const Mesh& x, const std::string& p) { s3d::write_ply(x, p); }},
      {"t.3mf", Format::k3mf, [](const Mesh& x, const std::string& p) { s3d::write_3mf(x, p); }},
  };
  for (const Case& c : cases) {
    const std::string path = temp_path(c.file);
    c.write(m, path);
    const Mesh got = s3d::read_mesh(read_bytes(path), c.format, s3d::ReadOptions{});
    std::filesystem::remove(path);
    EXPECT_EQ(got.triangle_count(), 4u) << c.file;
    EXPECT_EQ(vertex_bits(got), vertex_bits(m)) << c.file;
  }
}

TEST(WriteMesh, BinaryStlLayout) {
  const Mesh m = awkward_tetra();
  const std::vector<uint8_t> stl = s3d::to_stl_binary(m);
  ASSERT_EQ(stl.size(), 84u + 50u * 4);
  EXPECT_NE(std::string(stl.begin(), stl.begin() + 5), "solid");
  uint32_t count = 0;
  std::memcpy(&count, stl.data() + 80, 4);
  EXPECT_EQ(count, 4u);
  float first_vertex[3];
  std::memcpy(first_vertex, stl.data() + 84 + 12, 12);
  EXPECT_EQ(first_vertex[0], m.vertices[0][0]);
  EXPECT_EQ(first_vertex[2], m.vertices[0][2]);
  const std::string path = temp_path("t.stl");
  s3d::write_stl_binary(m, path);
  EXPECT_EQ(read_bytes(path), stl);
  std::filesystem::remove(path);
}

TEST(WriteMesh, AsciiStlAndOffText) {
  Mesh m;
  m.vertices = {{0, 0, 0}, {1, 0, 0}, {0, 1, 0}};
  m.triangles = {{0, 1, 2}};
  const std::string stl = temp_path("t.stl"), off = temp_path("t.off");
  s3d::write_stl_ascii(m, stl);
  s3d::write_off(m, off);
  const auto stl_bytes = read_bytes(stl), off_bytes = read_bytes(off);
  EXPECT_EQ(std::string(stl_bytes.begin(), stl_bytes.end()),
            "solid screen3d\nfacet normal 0 0 1\n outer loop\n  vertex 0 0 0\n  vertex 1 0 0\n  vertex 0 1 0\n"
            " endloop\nendfacet\nendsolid screen3d\n");
  EXPECT_EQ(std::string(off_bytes.begin(), off_bytes.end()), "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n");
  std::filesystem::remove(stl);
  std::filesystem::remove(off);
}

TEST(WriteMesh, ThreeMfKeepsObjectsAndLabelsUnit) {
  Mesh tri;
  tri.vertices = {{0, 0, 0}, {1, 0, 0}, {0, 1, 0}};
  tri.triangles = {{0, 1, 2}};
  Mesh two;
  s3d::append_object(two, tri);
  s3d::append_object(two, tri);
  const std::string path = temp_path("two.3mf");
  s3d::write_3mf(two, path, "inch");
  const Mesh got = s3d::read_mesh(read_bytes(path), Format::k3mf, s3d::ReadOptions{});
  std::filesystem::remove(path);
  ASSERT_EQ(got.object_count(), 2u);
  ASSERT_EQ(got.vertex_count(), 6u);  // objects keep separate vertices
  EXPECT_FLOAT_EQ(got.vertices[1][0], 25.4f);
  EXPECT_THROW(s3d::write_3mf(two, path, "furlong"), std::invalid_argument);
}

TEST(WriteMesh, ErrorsThrow) {
  const Mesh m = awkward_tetra();
  const std::string missing_dir = temp_path("no/such/dir/x");
  EXPECT_THROW(s3d::write_stl_binary(m, missing_dir + ".stl"), std::runtime_error);
  EXPECT_THROW(s3d::write_obj(m, missing_dir + ".obj"), std::runtime_error);
  EXPECT_THROW(s3d::write_3mf(m, missing_dir + ".3mf"), std::runtime_error);
  Mesh bad = m;
  bad.triangles.push_back({0, 1, 9});
  EXPECT_THROW(s3d::to_stl_binary(bad), std::invalid_argument);
  EXPECT_THROW(s3d::write_3mf_items({m}, {}, "millimeter", temp_path("x.3mf")), std::invalid_argument);
}

}  // namespace
