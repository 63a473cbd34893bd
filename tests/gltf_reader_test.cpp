// glTF 2.0 (geometry/formats/gltf): files written here from a part's mesh -- binary .glb and .gltf
// with an embedded base64 buffer, in metres as glTF wants, placed by node transforms -- read back in
// millimetres, screened like the STL, and refused with a reason when damaged or when they need what
// is not read (external buffers, compressed geometry).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "geometry/formats/format.h"
#include "geometry/load.h"
#include "geometry/load_error.h"
#include "geometry/mesh_facts.h"
#include "geometry/shapes.h"
#include "geometry/write_mesh.h"
#include "tests/support/cli_runner.h"
#include "tests/support/test_helpers.h"

namespace s3d {
namespace {

using json = nlohmann::json;

// A chiral bracket (a lug on one side), in millimetres.
Mesh part() {
  shapes::LBracketParams bp;
  bp.length = 60;
  bp.height = 40;
  Mesh lug = shapes::box(10, 8, 6);
  shapes::transform(lug, {1, 0, 0, 40, 0, 1, 0, 4, 0, 0, 1, 5, 0, 0, 0, 1});
  return shapes::merge({shapes::l_bracket(bp), lug});
}

// The mesh's positions (in metres) and uint32 indices as one binary buffer, and the glTF document
// describing it: one mesh, one node carrying `node` (its transform), one scene.
struct Gltf {
  json doc;
  std::vector<uint8_t> bin;
};

Gltf make_gltf(const Mesh& m, const json& node = json::object()) {
  Gltf g;
  for (const Vec3f& v : m.vertices)
    for (float c : v) {
      const float metres = c / 1000.0f;
      const auto* b = reinterpret_cast<const uint8_t*>(&metres);
      g.bin.insert(g.bin.end(), b, b + 4);
    }
  const size_t pos_bytes = g.bin.size();
  for (const Tri& t : m.triangles)
    for (uint32_t i : t) {
      const auto* b = reinterpret_cast<const uint8_t*>(&i);
      g.bin.insert(g.bin.end(), b, b + 4);
    }
  json n = node;
  n["mesh"] = 0;
  g.doc = {{"asset", {{"version", "2.0"}, {"generator", "screen3d tests"}}},
           {"scene", 0},
           {"scenes", {{{"nodes", {0}}}}},
           {"nodes", {n}},
           {"meshes", {{{"primitives", {{{"attributes", {{"POSITION", 0}}}, {"indices", 1}, {"mode", 4}}}}}}},
           {"accessors", {{{"bufferView", 0}, {"componentType", 5126}, {"count", m.vertices.size()}, {"type", "VEC3"}},
                          {{"bufferView", 1}, {"componentType", 5125}, {"count", 3 * m.triangles.size()}, {"type", "SCALAR"}}}},
           {"bufferViews", {{{"buffer", 0}, {"byteOffset", 0}, {"byteLength", pos_bytes}},
                            {{"buffer", 0}, {"byteOffset", pos_bytes}, {"byteLength", g.bin.size() - pos_bytes}}}},
           {"buffers", {{{"byteLength", g.bin.size()}}}}};
  return g;
}

void put32(std::vector<uint8_t>& out, uint32_t v) {
  const auto* b = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), b, b + 4);
}

std::vector<uint8_t> glb(const Gltf& g) {
  std::string text = g.doc.dump();
  while (text.size() % 4) text += ' ';
  std::vector<uint8_t> bin = g.bin;
  while (bin.size() % 4) bin.push_back(0);
  std::vector<uint8_t> out;
  put32(out, 0x46546C67);
  put32(out, 2);
  put32(out, static_cast<uint32_t>(12 + 8 + text.size() + 8 + bin.size()));
  put32(out, static_cast<uint32_t>(text.size()));
  put32(out, 0x4E4F534A);
  out.insert(out.end(), text.begin(), text.end());
  put32(out, static_cast<uint32_t>(bin.size()));
  put32(out, 0x004E4942);
  out.insert(out.end(), bin.begin(), bin.end());
  return out;
}

std::string base64(const std::vector<uint8_t>& in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    const uint32_t n = (in[i] << 16) | ((i + 1 < in.size() ? in[i + 1] : 0) << 8) | (i + 2 < in.size() ? in[i + 2] : 0);
    out += k[(n >> 18) & 63];
    out += k[(n >> 12) & 63];
    out += i + 1 < in.size() ? k[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? k[n & 63] : '=';
  }
  return out;
}

// The same as .gltf text, the buffer embedded as a data URI.
std::vector<uint8_t> gltf_text(Gltf g) {
  g.doc["buffers"][0]["uri"] = "data:application/octet-stream;base64," + base64(g.bin);
  const std::string text = g.doc.dump(2);
  return {text.begin(), text.end()};
}

LoadedModel load(const std::vector<uint8_t>& bytes) { return load_model(bytes, ReadOptions{}); }

std::string load_error(const std::vector<uint8_t>& bytes) {
  try {
    load(bytes);
  } catch (const LoadError& e) {
    return e.what();
  }
  return "(read)";
}

// The library's own writer (the evaluation's `format/glb` variants): coordinates round-trip exactly,
// one object per Mesh object.
TEST(GltfReader, WriteGlbRoundTripsExactly) {
  Mesh m = part();
  Mesh two = m;
  append_object(two, m);
  const std::string path = test::temp_path("two.glb");
  write_glb(two, path);
  const LoadedModel got = load(test::read_bytes(path));
  ASSERT_EQ(got.mesh.triangles.size(), two.triangles.size());
  EXPECT_EQ(got.mesh.object_count(), two.object_count());
  std::vector<Vec3f> a = got.mesh.vertices, b = two.vertices;
  const auto less = [](const Vec3f& x, const Vec3f& y) { return x < y; };
  std::sort(a.begin(), a.end(), less);
  std::sort(b.begin(), b.end(), less);
  b.erase(std::unique(b.begin(), b.end()), b.end());
  a.erase(std::unique(a.begin(), a.end()), a.end());
  EXPECT_EQ(a, b);
}

TEST(GltfReader, BinaryAndTextReadBackInMillimetres) {
  const Mesh m = part();
  const MeshFacts want = compute_facts(m);
  for (const std::vector<uint8_t>& bytes : {glb(make_gltf(m)), gltf_text(make_gltf(m))}) {
    EXPECT_EQ(detect_format(bytes), Format::kGltf);
    const LoadedModel got = load(bytes);
    EXPECT_EQ(got.format, Format::kGltf);
    const MeshFacts f = compute_facts(got.mesh);
    EXPECT_EQ(f.triangles, want.triangles);
    EXPECT_TRUE(f.watertight);
    EXPECT_NEAR(f.volume_mm3, want.volume_mm3, 1e-3 * want.volume_mm3);
    for (int k = 0; k < 3; ++k) {
      EXPECT_NEAR(f.aabb_min[k], want.aabb_min[k], 1e-3);
      EXPECT_NEAR(f.aabb_max[k], want.aabb_max[k], 1e-3);
    }
  }
}

// Node transforms: translation, rotation (a quarter turn about z), scale; a matrix; a mirroring
// scale, whose triangles the reader turns so the volume stays positive.
TEST(GltfReader, NodeTransformsPlaceThePart) {
  const Mesh m = part();
  const MeshFacts want = compute_facts(m);
  const double s = std::sqrt(0.5);
  const LoadedModel trs =
      load(glb(make_gltf(m, {{"translation", {0.1, 0.0, 0.0}}, {"rotation", {0.0, 0.0, s, s}}, {"scale", {2.0, 2.0, 2.0}}})));
  const MeshFacts f = compute_facts(trs.mesh);
  // x' = 100 - 2 y, y' = 2 x, z' = 2 z (mm).
  EXPECT_NEAR(f.aabb_min[0], 100 - 2 * want.aabb_max[1], 1e-2);
  EXPECT_NEAR(f.aabb_max[1], 2 * want.aabb_max[0], 1e-2);
  EXPECT_NEAR(f.volume_mm3, 8 * want.volume_mm3, 1e-2 * want.volume_mm3);
  const LoadedModel mat = load(glb(make_gltf(m, {{"matrix", {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0.05, 1}}})));
  EXPECT_NEAR(compute_facts(mat.mesh).aabb_min[2], want.aabb_min[2] + 50, 1e-2);
  const LoadedModel mirrored = load(glb(make_gltf(m, {{"scale", {-1.0, 1.0, 1.0}}})));
  const MeshFacts fm = compute_facts(mirrored.mesh);
  EXPECT_NEAR(fm.aabb_max[0], -want.aabb_min[0], 1e-3);
  EXPECT_NEAR(fm.volume_mm3, want.volume_mm3, 1e-3 * want.volume_mm3);
}

TEST(GltfReader, RefusesWhatItDoesNotReadAndDamagedFilesWithAReason) {
  const Gltf good = make_gltf(part());
  {
    Gltf g = good;
    g.doc["buffers"][0]["uri"] = "part.bin";
    const std::string text = g.doc.dump();
    const std::string why = load_error(std::vector<uint8_t>(text.begin(), text.end()));
    EXPECT_NE(why.find("another file"), std::string::npos) << why;
  }
  {
    Gltf g = good;
    g.doc["extensionsRequired"] = {"KHR_draco_mesh_compression"};
    EXPECT_NE(load_error(glb(g)).find("compressed geometry"), std::string::npos);
  }
  {
    Gltf g = good;
    g.doc["accessors"][1]["count"] = 3 * part().triangles.size() + 300;  // past its view
    EXPECT_NE(load_error(glb(g)).find("runs past"), std::string::npos) << load_error(glb(g));
  }
  {
    Gltf g = good;
    uint32_t big = 1u << 30;
    std::memcpy(g.bin.data() + g.bin.size() - 4, &big, 4);  // the last index
    EXPECT_NE(load_error(glb(g)).find("index out of range"), std::string::npos) << load_error(glb(g));
  }
  {
    Gltf g = good;  // a node that is its own child
    g.doc["nodes"][0]["children"] = {0};
    EXPECT_NE(load_error(glb(g)).find("reached twice"), std::string::npos) << load_error(glb(g));
  }
  {
    Gltf g = good;  // two children sharing one grandchild, 40 levels deep: 2^40 visits if followed
    json nodes = json::array();
    for (int i = 0; i < 40; ++i) nodes.push_back({{"children", {i + 1, i + 1}}});
    nodes.push_back({{"mesh", 0}});
    g.doc["nodes"] = nodes;
    EXPECT_NE(load_error(glb(g)).find("reached twice"), std::string::npos) << load_error(glb(g));
  }
  {
    std::vector<uint8_t> cut = glb(good);
    cut.resize(cut.size() / 2);
    EXPECT_NE(load_error(cut), "(read)");
  }
  // Random damage: an error or a mesh, never a crash or a read out of bounds (ASan).
  std::mt19937 rng(3);
  const std::vector<uint8_t> base = glb(good);
  int errors = 0;
  for (int t = 0; t < 400; ++t) {
    std::vector<uint8_t> bad = base;
    for (int k = 0; k < 1 + t % 5; ++k) bad[rng() % bad.size()] = static_cast<uint8_t>(rng());
    try {
      const LoadedModel got = load(bad);
      for (const Tri& tri : got.mesh.triangles)
        for (uint32_t v : tri) ASSERT_LT(v, got.mesh.vertices.size());
    } catch (const LoadError&) {
      ++errors;
    }
  }
  std::printf("[ measured ] 400 damaged GLB files: %d errors, %d meshes\n", errors, 400 - errors);
}

// The demo database's bracket, re-exported to GLB, is restricted like its STL; the file's format
// is "gltf" in the result line.
TEST(GltfReader, AGlbOfAPartIsScreenedLikeItsStl) {
  const std::vector<uint8_t> stl = test::read_bytes(std::string(S3D_EXAMPLES_DIR) + "/bracket_reposed.stl");
  const LoadedModel m = load_model(stl, ReadOptions{});
  const std::string path = test::temp_path("bracket.glb");
  const std::vector<uint8_t> bytes = glb(make_gltf(m.mesh, {{"rotation", {0.0, 0.38268343, 0.0, 0.92387953}}}));
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  const auto r = test::run_cli({"scan", "--json", "--db", S3D_DEMO_DB, path});
  ASSERT_EQ(r.out_lines().size(), 1u) << r.err;
  const auto j = nlohmann::json::parse(r.out_lines()[0]);
  EXPECT_EQ(j["format"], "gltf");
  EXPECT_EQ(j["verdict"], "restricted") << r.out;
}

}  // namespace
}  // namespace s3d
