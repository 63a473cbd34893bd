// Acceptance: one generated closed mesh, exported in every mesh format screen3d reads, loads back
// to the same triangle and vertex counts, surface area and signed volume.
#include <gtest/gtest.h>

#include "tests/support/test_helpers.h"
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <numbers>
#include <string>
#include <vector>

#include "geometry/formats/format.h"
#include "geometry/formats/reader.h"
#include "geometry/load.h"
#include "geometry/load_error.h"
#include "geometry/mesh.h"
#include "geometry/write_mesh.h"

namespace {

using s3d::Format;
using s3d::Mesh;

// A closed torus around the z axis, outward-oriented, moved off the origin so that the signed
// volume does not hide sign or translation mistakes. nu * nv * 2 triangles.
Mesh make_torus(double big_r, double small_r, int nu, int nv) {
  Mesh m;
  const double two_pi = 2 * std::numbers::pi;
  for (int i = 0; i < nu; ++i) {
    for (int j = 0; j < nv; ++j) {
      const double u = two_pi * i / nu, v = two_pi * j / nv;
      const double ring = big_r + small_r * std::cos(v);
      m.vertices.push_back({static_cast<float>(ring * std::cos(u) + 5.25), static_cast<float>(ring * std::sin(u) - 3.5),
                            static_cast<float>(small_r * std::sin(v) + 7.125)});
    }
  }
  const auto id = [&](int i, int j) { return static_cast<uint32_t>((i % nu) * nv + (j % nv)); };
  for (int i = 0; i < nu; ++i) {
    for (int j = 0; j < nv; ++j) {
      m.triangles.push_back({id(i, j), id(i + 1, j), id(i + 1, j + 1)});
      m.triangles.push_back({id(i, j), id(i + 1, j + 1), id(i, j + 1)});
    }
  }
  return m;
}

struct Facts {
  double area = 0;
  double volume = 0;
};

Facts facts(const Mesh& m) {
  Facts f;
  for (const s3d::Tri& t : m.triangles) {
    const auto& a = m.vertices[t[0]];
    const auto& b = m.vertices[t[1]];
    const auto& c = m.vertices[t[2]];
    const double ux = double(b[0]) - a[0], uy = double(b[1]) - a[1], uz = double(b[2]) - a[2];
    const double vx = double(c[0]) - a[0], vy = double(c[1]) - a[1], vz = double(c[2]) - a[2];
    const double nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;
    f.area += 0.5 * std::sqrt(nx * nx + ny * ny + nz * nz);
    // Signed volume of the tetrahedron (origin, a, b, c).
    f.volume += (double(a[0]) * (double(b[1]) * c[2] - double(b[2]) * c[1]) -
                 double(a[1]) * (double(b[0]) * c[2] - double(b[2]) * c[0]) +
                 double(a[2]) * (double(b[0]) * c[1] - double(b[1]) * c[0])) /
                6.0;
  }
  return f;
}

using s3d::test::temp_path;
using s3d::test::read_bytes;

struct Variant {
  const char* file;
  Format format;
  std::function<void(const Mesh&, const std::string&)> write;
};

std::vector<Variant> variants() {
  return {
      {"torus_bin.stl", Format::kStlBinary, [](const Mesh& m, const std::string& p) { s3d::write_stl_binary(m, p); }},
      {"torus_ascii.stl", Format::kStlAscii, [](const Mesh& m, const std::string& p) { s3d::write_stl_ascii(m, p); }},
      {"torus.obj", Format::kObj, [](const Mesh& m, const std::string& p) { s3d::write_obj(m, p); }},
      {"torus.ply", Format::kPly, [](const Mesh& m, const std::string& p) { s3d::write_ply(m, p); }},
      {"torus.off", Format::kOff, [](const Mesh& m, const std::string& p) { s3d::write_off(m, p); }},
      {"torus.amf", Format::kAmf, [](const Mesh& m, const std::string& p) { s3d::write_amf(m, p); }},
      {"torus.3mf", Format::k3mf, [](const Mesh& m, const std::string& p) { s3d::write_3mf(m, p); }},
  };
}

void expect_equivalent(const Mesh& got, const Mesh& ref, const std::string& what) {
  ASSERT_EQ(got.triangle_count(), ref.triangle_count()) << what;
  EXPECT_EQ(got.vertex_count(), ref.vertex_count()) << what << ": vertices not welded as in the source";
  EXPECT_EQ(got.object_count(), 1u) << what;
  const Facts a = facts(got), b = facts(ref);
  EXPECT_NEAR(a.area, b.area, 1e-6 * b.area) << what;
  EXPECT_NEAR(a.volume, b.volume, 1e-6 * std::abs(b.volume)) << what;
}

TEST(FormatEquivalence, TorusIsClosedAndOutward) {
  const Mesh torus = make_torus(20, 6, 48, 24);
  ASSERT_EQ(torus.triangle_count(), 2304u);
  const Facts f = facts(torus);
  // Analytic torus: V = 2 pi^2 R r^2, A = 4 pi^2 R r; the tessellation is slightly smaller.
  const double v = 2 * std::numbers::pi * std::numbers::pi * 20 * 36;
  const double a = 4 * std::numbers::pi * std::numbers::pi * 20 * 6;
  EXPECT_GT(f.volume, 0.97 * v);
  EXPECT_LT(f.volume, v);
  EXPECT_GT(f.area, 0.97 * a);
  EXPECT_LT(f.area, a);
}

TEST(FormatEquivalence, EveryFormatReadsBackTheSameMesh) {
  const Mesh torus = make_torus(20, 6, 48, 24);
  for (const Variant& v : variants()) {
    const std::string path = temp_path(v.file);
    v.write(torus, path);
    const std::vector<uint8_t> bytes = read_bytes(path);
    ASSERT_FALSE(bytes.empty()) << v.file;
    try {
      const Mesh got = s3d::read_mesh(bytes, v.format, s3d::ReadOptions{});
      expect_equivalent(got, torus, v.file);
    } catch (const s3d::LoadError& e) {
      ADD_FAILURE() << v.file << ": " << e.what();
    }
    std::filesystem::remove(path);
  }
}

TEST(FormatEquivalence, LoadModelDetectsAndReadsEveryFormat) {
  const Mesh torus = make_torus(20, 6, 48, 24);
  for (const Variant& v : variants()) {
    const std::string path = temp_path(v.file);
    v.write(torus, path);
    const std::vector<uint8_t> bytes = read_bytes(path);
    try {
      const s3d::LoadedModel got = s3d::load_model(bytes, s3d::ReadOptions{});
      EXPECT_EQ(got.format, v.format) << v.file << " detected as " << s3d::format_name(got.format);
      expect_equivalent(got.mesh, torus, v.file);
    } catch (const s3d::LoadError& e) {
      ADD_FAILURE() << v.file << ": " << e.what();
    }
    std::filesystem::remove(path);
  }
}

// A scan's time limit or cancel request (Limits::stop) interrupts every reader part-way, not only
// the steps around it: with a deadline already past, each format stops at its first check with the
// time-limit error, and with the cancel flag set with the cancel error; without a token the same
// bytes read as before. (Before the readers checked, a 150 MB STL under --max-seconds 0.05 was read,
// hashed and prepared in full before the first check.)
TEST(FormatEquivalence, EveryReaderStopsAtAPastDeadlineOrACancelRequest) {
  const Mesh torus = make_torus(20, 6, 48, 24);
  s3d::StopToken past;
  past.seconds = 1e-3;
  past.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  std::atomic<bool> cancelled{true};
  s3d::StopToken cancel;
  cancel.cancel = &cancelled;
  for (const Variant& v : variants()) {
    const std::string path = temp_path(v.file);
    v.write(torus, path);
    const std::vector<uint8_t> bytes = read_bytes(path);
    s3d::ReadOptions opt;
    opt.limits.stop = &past;
    try {
      (void)s3d::read_mesh(bytes, v.format, opt);
      ADD_FAILURE() << v.file << ": read in full past the deadline";
    } catch (const s3d::LoadError& e) {
      EXPECT_EQ(e.code(), s3d::ErrorCode::kLimitExceeded) << v.file;
      EXPECT_NE(std::string(e.what()).find("(max_seconds)"), std::string::npos) << v.file << ": " << e.what();
    }
    opt.limits.stop = &cancel;
    try {
      (void)s3d::read_mesh(bytes, v.format, opt);
      ADD_FAILURE() << v.file << ": read in full though cancelled";
    } catch (const s3d::LoadError& e) {
      EXPECT_EQ(e.code(), s3d::ErrorCode::kCancelled) << v.file;
    }
    opt.limits.stop = nullptr;
    EXPECT_EQ(s3d::read_mesh(bytes, v.format, opt).triangles.size(), torus.triangles.size()) << v.file;
    std::filesystem::remove(path);
  }
}

}  // namespace
