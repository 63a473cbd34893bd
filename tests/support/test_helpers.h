#pragma once
// Small helpers shared by several test files: per-test temp paths, whole-file reads, and an
// independent signed-volume sum (tests check the library's facts against it, so it must not call
// geometry/mesh_facts).
#include <gtest/gtest.h>
#include <unistd.h>
#include <zip.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "geometry/mesh.h"

namespace s3d::test {

// A path in the test temp folder, unique per test name and process.
inline std::string temp_path(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return (std::filesystem::path(::testing::TempDir()) /
          (std::string("s3d_") + info->name() + "_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Sanitizer builds: worker processes set no memory cap there (engine/cli/worker.h), so the tests
// of the cap skip themselves.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitizerBuild = true;
#else
inline constexpr bool kSanitizerBuild = false;
#endif

// A few layers of a 20 mm square, written by hand: nothing like the demo references.
inline std::string square_gcode() {
  std::string g = "; handwritten square\nG21\nG90\nM82\nG92 E0\nG28\n";
  double e = 0;
  for (int layer = 1; layer <= 5; ++layer) {
    g += "G1 Z" + std::to_string(0.2 * layer) + " F600\nG1 X10 Y10 F3000\n";
    for (const char* xy : {"X30 Y10", "X30 Y30", "X10 Y30", "X10 Y10"}) {
      e += 0.8;
      g += std::string("G1 ") + xy + " E" + std::to_string(e) + " F1200\n";
    }
  }
  return g + "M84\n";
}

// Sets an environment variable for the programs a test starts, and removes it at the end of scope.
struct ScopedEnv {
  ScopedEnv(const char* name, const std::string& value) : name_(name) { ::setenv(name, value.c_str(), 1); }
  ~ScopedEnv() { ::unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  const char* name_;
};

// Writes a zip archive (libzip, deflate) holding `members` (name, content) to `path`.
inline void write_zip(const std::string& path, const std::vector<std::pair<std::string, std::vector<uint8_t>>>& members) {
  int err = 0;
  zip_t* za = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_NE(za, nullptr) << path;
  for (const auto& [name, data] : members) {
    zip_source_t* src = zip_source_buffer(za, data.data(), data.size(), 0);
    ASSERT_GE(zip_file_add(za, name.c_str(), src, ZIP_FL_OVERWRITE), 0) << name;
  }
  ASSERT_EQ(zip_close(za), 0) << path;
}

// A G-code fixture from tests/fixtures/gcode/ as text (fails the test when missing).
inline std::string gcode_fixture(const std::string& name) {
  const std::string path = std::string(S3D_FIXTURES_DIR) + "/gcode/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Divergence theorem in double precision.
inline double signed_volume(const Mesh& m) {
  double v = 0;
  for (const Tri& t : m.triangles) {
    const auto& a = m.vertices[t[0]];
    const auto& b = m.vertices[t[1]];
    const auto& c = m.vertices[t[2]];
    v += a[0] * (double(b[1]) * c[2] - double(b[2]) * c[1]) + a[1] * (double(b[2]) * c[0] - double(b[0]) * c[2]) +
         a[2] * (double(b[0]) * c[1] - double(b[1]) * c[0]);
  }
  return v / 6;
}

}  // namespace s3d::test
