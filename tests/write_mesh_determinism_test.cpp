// Writers are byte-for-byte deterministic (the evaluation's variant cache relies on it), also
// across a change of the wall clock second (zip entries carry a timestamp).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "geometry/shapes.h"
#include "geometry/write_mesh.h"

namespace {
std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}
}  // namespace

TEST(WriteMeshDeterminism, ThreeMfIsByteIdenticalAcrossTime) {
  const auto dir = std::filesystem::temp_directory_path() / "s3d_write_det";
  std::filesystem::create_directories(dir);
  const s3d::Mesh m = s3d::shapes::tube(10, 7, 20, 24);
  s3d::write_3mf(m, (dir / "a.3mf").string());
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));  // DOS timestamps have 2 s resolution
  s3d::write_3mf(m, (dir / "b.3mf").string());
  const std::string a = slurp((dir / "a.3mf").string()), b = slurp((dir / "b.3mf").string());
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a, b);
  std::filesystem::remove_all(dir);
}
