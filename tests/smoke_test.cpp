#include <gtest/gtest.h>
#include "geometry/mesh.h"
TEST(Mesh, AppendObjectOffsetsIndices) {
  s3d::Mesh a, b;
  b.vertices = {{0, 0, 0}, {1, 0, 0}, {0, 1, 0}};
  b.triangles = {{0, 1, 2}};
  s3d::append_object(a, b);
  s3d::append_object(a, b);
  ASSERT_EQ(a.triangles.size(), 2u);
  EXPECT_EQ(a.triangles[1][0], 3u);
  EXPECT_EQ(a.object_count(), 2u);
}
