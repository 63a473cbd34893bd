// 3MF reader: build items, transforms, units, components, the production extension (p:path),
// and hostile packages (missing part, zip bomb, too many entries, bad indices, cycles, corruption).
#include <gtest/gtest.h>

#include "tests/support/test_helpers.h"
#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "geometry/formats/reader.h"
#include "geometry/load_error.h"
#include "geometry/mesh.h"
#include "geometry/write_mesh.h"

namespace s3d::formats::threemf {
int probe(std::span<const uint8_t> data);
Mesh read(std::span<const uint8_t> data, const ReadOptions& opt);
}  // namespace s3d::formats::threemf

namespace {

using s3d::ErrorCode;
using s3d::LoadError;
using s3d::Mesh;
using s3d::ReadOptions;

using s3d::test::signed_volume;
using s3d::test::temp_path;
using s3d::test::read_bytes;

// Builds a zip with libzip (deflate) and returns its bytes.
std::vector<uint8_t> make_zip(const std::vector<std::pair<std::string, std::string>>& members) {
  const std::string path = temp_path("pkg.zip");
  int err = 0;
  zip_t* za = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  EXPECT_NE(za, nullptr);
  if (za == nullptr) return {};
  for (const auto& [name, body] : members) {
    zip_source_t* src = zip_source_buffer(za, body.data(), body.size(), 0);
    EXPECT_GE(zip_file_add(za, name.c_str(), src, ZIP_FL_OVERWRITE), 0) << name;
  }
  EXPECT_EQ(zip_close(za), 0);
  std::vector<uint8_t> bytes = read_bytes(path);
  std::filesystem::remove(path);
  return bytes;
}

const char* kContentTypes =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Types "
    "xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" "
    "ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"model\" "
    "ContentType=\"application/vnd.ms-package.3dmanufacturing-3dmodel+xml\"/></Types>";

std::string rels(const std::string& target) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships "
         "xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Target=\"" +
         target + "\" Id=\"rel0\" Type=\"http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel\"/></Relationships>";
}

// Axis-aligned box [0,sx]x[0,sy]x[0,sz] as a 3MF <mesh>, outward triangles.
std::string box_mesh_xml(double sx, double sy, double sz) {
  std::string s = "<mesh><vertices>";
  for (int i = 0; i < 8; ++i) {
    s += "<vertex x=\"" + std::to_string((i & 1) ? sx : 0.0) + "\" y=\"" + std::to_string((i & 2) ? sy : 0.0) +
         "\" z=\"" + std::to_string((i & 4) ? sz : 0.0) + "\"/>";
  }
  s += "</vertices><triangles>";
  const int tris[12][3] = {{0, 2, 1}, {1, 2, 3}, {4, 5, 6}, {5, 7, 6}, {0, 1, 4}, {1, 5, 4},
                           {2, 6, 3}, {3, 6, 7}, {0, 4, 2}, {2, 4, 6}, {1, 3, 5}, {3, 7, 5}};
  for (const auto& t : tris)
    s += "<triangle v1=\"" + std::to_string(t[0]) + "\" v2=\"" + std::to_string(t[1]) + "\" v3=\"" +
         std::to_string(t[2]) + "\"/>";
  s += "</triangles></mesh>";
  return s;
}

std::string model_xml(const std::string& resources, const std::string& build, const std::string& unit = "millimeter") {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<model unit=\"" + unit +
         "\" xmlns=\"http://schemas.microsoft.com/3dmanufacturing/core/2015/02\" "
         "xmlns:p=\"http://schemas.microsoft.com/3dmanufacturing/production/2015/06\"><resources>" +
         resources + "</resources><build>" + build + "</build></model>";
}

std::vector<uint8_t> package(const std::string& model) {
  return make_zip({{"[Content_Types].xml", kContentTypes},
                   {"_rels/.rels", rels("/3D/3dmodel.model")},
                   {"3D/3dmodel.model", model}});
}

Mesh read3mf(const std::vector<uint8_t>& bytes, const ReadOptions& opt = {}) {
  return s3d::formats::threemf::read(bytes, opt);
}

struct Box {
  std::array<float, 3> lo{1e30f, 1e30f, 1e30f}, hi{-1e30f, -1e30f, -1e30f};
};

// Bounds of object k of a mesh (its triangles' vertices).
Box object_bounds(const Mesh& m, size_t k) {
  const size_t begin = m.object_starts.empty() ? 0 : m.object_starts.at(k);
  const size_t end = m.object_starts.empty() || k + 1 >= m.object_starts.size() ? m.triangles.size()
                                                                                 : m.object_starts[k + 1];
  Box b;
  for (size_t t = begin; t < end; ++t)
    for (uint32_t v : m.triangles[t])
      for (int a = 0; a < 3; ++a) {
        b.lo[a] = std::min(b.lo[a], m.vertices[v][a]);
        b.hi[a] = std::max(b.hi[a], m.vertices[v][a]);
      }
  return b;
}

void expect_box(const Box& b, std::array<double, 3> lo, std::array<double, 3> hi, double scale) {
  for (int a = 0; a < 3; ++a) {
    EXPECT_NEAR(b.lo[a], lo[a] * scale, 1e-4) << "axis " << a;
    EXPECT_NEAR(b.hi[a], hi[a] * scale, 1e-4) << "axis " << a;
  }
}

ErrorCode code_of(const std::vector<uint8_t>& bytes, const ReadOptions& opt = {}) {
  try {
    read3mf(bytes, opt);
  } catch (const LoadError& e) {
    return e.code();
  }
  ADD_FAILURE() << "expected a LoadError";
  return ErrorCode::kIo;
}

TEST(ThreeMf, ProbeSeesModelPart) {
  const auto pkg = package(model_xml("<object id=\"1\" type=\"model\">" + box_mesh_xml(1, 1, 1) + "</object>",
                                     "<item objectid=\"1\"/>"));
  EXPECT_EQ(s3d::formats::threemf::probe(pkg), 90);
  EXPECT_EQ(s3d::formats::threemf::probe(make_zip({{"readme.txt", "hello"}})), 0);
  const std::string text = "solid x\nendsolid x\n";
  EXPECT_EQ(s3d::formats::threemf::probe({reinterpret_cast<const uint8_t*>(text.data()), text.size()}), 0);
}

TEST(ThreeMf, TwoBuildItemsWithTransformsAndInchUnit) {
  // Spec convention (row vectors, p' = p M): "0 1 0 -1 0 0 0 0 1 10 20 30" maps
  // (x, y, z) to (-y + 10, x + 20, z + 30).
  const std::string resources = "<object id=\"7\" type=\"model\">" + box_mesh_xml(1, 2, 3) + "</object>";
  const std::string build =
      "<item objectid=\"7\" transform=\"1 0 0 0 1 0 0 0 1 100 0 0\"/>"
      "<item objectid=\"7\" transform=\"0 1 0 -1 0 0 0 0 1 10 20 30\"/>";
  const Mesh m = read3mf(package(model_xml(resources, build, "inch")));
  ASSERT_EQ(m.triangle_count(), 24u);
  ASSERT_EQ(m.object_count(), 2u);
  expect_box(object_bounds(m, 0), {100, 0, 0}, {101, 2, 3}, 25.4);
  expect_box(object_bounds(m, 1), {8, 20, 30}, {10, 21, 33}, 25.4);
}

TEST(ThreeMf, WriterItemTransformsRoundTrip) {
  Mesh box;
  box.vertices = {{0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
  box.triangles = {{0, 2, 1}, {0, 1, 3}, {0, 3, 2}, {1, 2, 3}};
  const std::string path = temp_path("items.3mf");
  s3d::write_3mf_items({box, box}, {{{2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0}}, {{0, 1, 0, -1, 0, 0, 0, 0, 1, 10, 20, 30}}},
                       "centimeter", path);
  const Mesh m = read3mf(read_bytes(path));
  std::filesystem::remove(path);
  ASSERT_EQ(m.object_count(), 2u);
  expect_box(object_bounds(m, 0), {0, 0, 0}, {2, 2, 2}, 10);
  expect_box(object_bounds(m, 1), {9, 20, 30}, {10, 21, 31}, 10);
}

TEST(ThreeMf, ComponentsComposeTransforms) {
  // Object 3 = box 1 shifted by +5 in x, and box 1 rotated; the item shifts all by +1 in z.
  const std::string resources =
      "<object id=\"1\" type=\"model\">" + box_mesh_xml(1, 2, 3) +
      "</object><object id=\"3\" type=\"model\"><components>"
      "<component objectid=\"1\" transform=\"1 0 0 0 1 0 0 0 1 5 0 0\"/>"
      "<component objectid=\"1\" transform=\"0 1 0 -1 0 0 0 0 1 0 0 0\"/>"
      "</components></object>";
  const Mesh m = read3mf(package(model_xml(resources, "<item objectid=\"3\" transform=\"1 0 0 0 1 0 0 0 1 0 0 1\"/>")));
  ASSERT_EQ(m.triangle_count(), 24u);
  ASSERT_EQ(m.object_count(), 1u);
  // Part 1: x [5,6], y [0,2]; part 2: x [-2,0], y [0,1]; z [1,4] for both.
  expect_box(object_bounds(m, 0), {-2, 0, 1}, {6, 2, 4}, 1);
}

TEST(ThreeMf, MirroringTransformKeepsOutwardWinding) {
  const std::string resources = "<object id=\"1\">" + box_mesh_xml(1, 2, 3) + "</object>";
  const Mesh plain = read3mf(package(model_xml(resources, "<item objectid=\"1\"/>")));
  const Mesh mirrored =
      read3mf(package(model_xml(resources, "<item objectid=\"1\" transform=\"-1 0 0 0 1 0 0 0 1 0 0 0\"/>")));
  EXPECT_NEAR(signed_volume(plain), 6.0, 1e-9);
  EXPECT_NEAR(signed_volume(mirrored), 6.0, 1e-9);
  expect_box(object_bounds(mirrored, 0), {-1, 0, 0}, {0, 2, 3}, 1);
}

TEST(ThreeMf, ProductionExtensionPathIntoAnotherPart) {
  const std::string part = model_xml("<object id=\"1\" type=\"model\">" + box_mesh_xml(1, 1, 1) + "</object>", "");
  const std::string root = model_xml(
      "<object id=\"2\" type=\"model\"><components>"
      "<component p:path=\"/3D/Objects/part.model\" objectid=\"1\" transform=\"1 0 0 0 1 0 0 0 1 0 0 5\"/>"
      "</components></object>",
      "<item objectid=\"2\"/><item p:path=\"/3D/Objects/part.model\" objectid=\"1\" "
      "transform=\"1 0 0 0 1 0 0 0 1 -3 0 0\"/>");
  const auto pkg = make_zip({{"[Content_Types].xml", kContentTypes},
                             {"_rels/.rels", rels("/3D/3dmodel.model")},
                             {"3D/3dmodel.model", root},
                             {"3D/_rels/3dmodel.model.rels", rels("/3D/Objects/part.model")},
                             {"3D/Objects/part.model", part}});
  const Mesh m = read3mf(pkg);
  ASSERT_EQ(m.triangle_count(), 24u);
  ASSERT_EQ(m.object_count(), 2u);
  expect_box(object_bounds(m, 0), {0, 0, 5}, {1, 1, 6}, 1);
  expect_box(object_bounds(m, 1), {-3, 0, 0}, {-2, 1, 1}, 1);
}

// A type attribute must not hide a part: "support" and "other" objects are read like "model" ones,
// with one note per type; a plain model has no note.
TEST(ThreeMf, SupportAndOtherObjectsAreScreenedWithANote) {
  const Mesh plain = read3mf(package(model_xml("<object id=\"1\" type=\"model\">" + box_mesh_xml(1, 2, 3) + "</object>",
                                               "<item objectid=\"1\"/>")));
  EXPECT_TRUE(plain.notes.empty());
  for (const std::string type : {"support", "other"}) {
    const std::string resources = "<object id=\"1\" type=\"" + type + "\">" + box_mesh_xml(1, 2, 3) +
                                  "</object><object id=\"2\" type=\"" + type + "\">" + box_mesh_xml(4, 4, 4) + "</object>";
    const Mesh m = read3mf(package(model_xml(resources, "<item objectid=\"1\"/><item objectid=\"2\"/>")));
    EXPECT_EQ(m.triangle_count(), 24u) << type;
    EXPECT_EQ(m.object_count(), 2u) << type;
    ASSERT_EQ(m.notes.size(), 1u) << type;
    EXPECT_NE(m.notes[0].find("\"" + type + "\""), std::string::npos) << m.notes[0];
  }
}

TEST(ThreeMf, RootPartFromRelsWithOtherName) {
  const auto pkg = make_zip({{"[Content_Types].xml", kContentTypes},
                             {"_rels/.rels", rels("/3D/build.model")},
                             {"3D/build.model", model_xml("<object id=\"1\">" + box_mesh_xml(1, 1, 1) + "</object>",
                                                          "<item objectid=\"1\"/>")}});
  EXPECT_EQ(read3mf(pkg).triangle_count(), 12u);
}

TEST(ThreeMf, MissingModelPartIsMalformed) {
  const auto pkg = make_zip({{"[Content_Types].xml", kContentTypes}, {"_rels/.rels", rels("/3D/3dmodel.model")}});
  try {
    read3mf(pkg);
    FAIL() << "expected LoadError";
  } catch (const LoadError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kMalformed);
    EXPECT_STREQ(e.what(), "3MF has no 3D model part");
  }
}

TEST(ThreeMf, MissingPathTargetIsMalformed) {
  const std::string root = model_xml(
      "<object id=\"2\"><components><component p:path=\"/3D/Objects/gone.model\" objectid=\"1\"/></components>"
      "</object>",
      "<item objectid=\"2\"/>");
  EXPECT_EQ(code_of(package(root)), ErrorCode::kMalformed);
}

TEST(ThreeMf, ZipBombStopsAtDecompressionLimit) {
  // 16 MiB of whitespace inside a valid model compresses to a few KiB.
  std::string model = model_xml("<object id=\"1\">" + box_mesh_xml(1, 1, 1) + "</object>", "<item objectid=\"1\"/>");
  model.insert(model.find("<resources>"), std::string(16u << 20, ' '));
  const auto pkg = package(model);
  ASSERT_LT(pkg.size(), 200u * 1024);
  ReadOptions opt;
  opt.limits.max_decompressed_bytes = 1u << 20;
  EXPECT_EQ(code_of(pkg, opt), ErrorCode::kLimitExceeded);
  // With room for it, the same package reads.
  EXPECT_EQ(read3mf(pkg).triangle_count(), 12u);
}

uint32_t get_le32(const std::vector<uint8_t>& b, size_t at) {
  return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (uint32_t{b[at + 3]} << 24);
}

void put_le32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

// Rewrites the uncompressed size of member `name` in its local and central headers.
void lie_about_size(std::vector<uint8_t>& zip, const std::string& name, uint32_t size) {
  int patched = 0;
  for (size_t i = 0; i + 46 < zip.size(); ++i) {
    const uint32_t sig = get_le32(zip, i);
    if (sig == 0x04034b50) {
      const size_t len = zip[i + 26] | (zip[i + 27] << 8);
      if (i + 30 + len <= zip.size() && std::string(zip.begin() + i + 30, zip.begin() + i + 30 + len) == name) {
        put_le32(zip, i + 22, size);
        ++patched;
      }
    } else if (sig == 0x02014b50) {
      const size_t len = zip[i + 28] | (zip[i + 29] << 8);
      if (i + 46 + len <= zip.size() && std::string(zip.begin() + i + 46, zip.begin() + i + 46 + len) == name) {
        put_le32(zip, i + 24, size);
        ++patched;
      }
    }
  }
  ASSERT_EQ(patched, 2);
}

TEST(ThreeMf, ZipBombWithLyingSizeStopsOnActualBytes) {
  std::string model = model_xml("<object id=\"1\">" + box_mesh_xml(1, 1, 1) + "</object>", "<item objectid=\"1\"/>");
  model.insert(model.find("<resources>"), std::string(16u << 20, ' '));
  auto pkg = package(model);
  lie_about_size(pkg, "3D/3dmodel.model", 1000);
  ReadOptions opt;
  opt.limits.max_decompressed_bytes = 1u << 20;
  try {
    read3mf(pkg, opt);
    FAIL() << "a member declared as 1000 bytes that inflates to 16 MiB was accepted";
  } catch (const LoadError& e) {
    // The declared size passed the check; the bytes actually inflated did not.
    EXPECT_EQ(e.code(), ErrorCode::kLimitExceeded) << e.what();
  }
}

TEST(ThreeMf, TooManyEntries) {
  std::vector<std::pair<std::string, std::string>> members = {
      {"[Content_Types].xml", kContentTypes},
      {"_rels/.rels", rels("/3D/3dmodel.model")},
      {"3D/3dmodel.model",
       model_xml("<object id=\"1\">" + box_mesh_xml(1, 1, 1) + "</object>", "<item objectid=\"1\"/>")}};
  for (int i = 0; i < 3000; ++i) members.emplace_back("Metadata/f" + std::to_string(i) + ".txt", "x");
  const auto pkg = make_zip(members);
  ReadOptions opt;
  opt.limits.max_archive_entries = 100;
  EXPECT_EQ(code_of(pkg, opt), ErrorCode::kLimitExceeded);
  EXPECT_EQ(read3mf(pkg).triangle_count(), 12u);  // default limit 10000
}

TEST(ThreeMf, BadIndexAndNanAreBadValues) {
  std::string bad_index = box_mesh_xml(1, 1, 1);
  bad_index.replace(bad_index.find("v3=\"1\""), 6, "v3=\"99\"");
  EXPECT_EQ(code_of(package(model_xml("<object id=\"1\">" + bad_index + "</object>", "<item objectid=\"1\"/>"))),
            ErrorCode::kBadValue);
  std::string nan = box_mesh_xml(1, 1, 1);
  nan.replace(nan.find("x=\"0.000000\""), 12, "x=\"nan\"");
  EXPECT_EQ(code_of(package(model_xml("<object id=\"1\">" + nan + "</object>", "<item objectid=\"1\"/>"))),
            ErrorCode::kBadValue);
  std::string neg = box_mesh_xml(1, 1, 1);
  neg.replace(neg.find("v1=\"0\""), 6, "v1=\"-1\"");
  EXPECT_EQ(code_of(package(model_xml("<object id=\"1\">" + neg + "</object>", "<item objectid=\"1\"/>"))),
            ErrorCode::kBadValue);
}

TEST(ThreeMf, UnknownUnitAndMissingObject) {
  EXPECT_EQ(code_of(package(model_xml("<object id=\"1\">" + box_mesh_xml(1, 1, 1) + "</object>",
                                      "<item objectid=\"1\"/>", "furlong"))),
            ErrorCode::kBadValue);
  EXPECT_EQ(code_of(package(model_xml("<object id=\"1\">" + box_mesh_xml(1, 1, 1) + "</object>",
                                      "<item objectid=\"4\"/>"))),
            ErrorCode::kMalformed);
}

TEST(ThreeMf, ComponentCycleIsMalformed) {
  const std::string resources =
      "<object id=\"1\"><components><component objectid=\"2\"/></components></object>"
      "<object id=\"2\"><components><component objectid=\"1\"/></components></object>";
  EXPECT_EQ(code_of(package(model_xml(resources, "<item objectid=\"1\"/>"))), ErrorCode::kMalformed);
}

TEST(ThreeMf, TriangleLimitCountsInstances) {
  ReadOptions opt;
  opt.limits.max_triangles = 20;
  const std::string one = "<object id=\"1\">" + box_mesh_xml(1, 1, 1) + "</object>";
  EXPECT_EQ(read3mf(package(model_xml(one, "<item objectid=\"1\"/>")), opt).triangle_count(), 12u);
  EXPECT_EQ(code_of(package(model_xml(one, "<item objectid=\"1\"/><item objectid=\"1\"/>")), opt),
            ErrorCode::kLimitExceeded);
  // Ten levels of ten components: 10^10 boxes described in a few hundred bytes.
  std::string dag = one;
  for (int level = 2; level <= 11; ++level) {
    dag += "<object id=\"" + std::to_string(level) + "\"><components>";
    for (int k = 0; k < 10; ++k) dag += "<component objectid=\"" + std::to_string(level - 1) + "\"/>";
    dag += "</components></object>";
  }
  EXPECT_EQ(code_of(package(model_xml(dag, "<item objectid=\"11\"/>")), opt), ErrorCode::kLimitExceeded);
}

TEST(ThreeMf, NotAZipIsMalformed) {
  const std::vector<uint8_t> junk = {'P', 'K', 3, 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
  EXPECT_EQ(code_of(junk), ErrorCode::kMalformed);
}

TEST(ThreeMf, CorruptedPackagesNeverCrash) {
  const auto pkg = package(model_xml("<object id=\"1\">" + box_mesh_xml(1, 1, 1) + "</object>",
                                     "<item objectid=\"1\"/>"));
  std::mt19937 rng(1234);
  int loaded = 0, rejected = 0;
  for (int iter = 0; iter < 300; ++iter) {
    std::vector<uint8_t> bytes = pkg;
    if (iter % 3 == 0) {
      bytes.resize(rng() % bytes.size());  // truncation
    } else {
      for (int k = 0; k < 1 + iter % 5; ++k) bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
    }
    try {
      read3mf(bytes);
      ++loaded;
    } catch (const LoadError&) {
      ++rejected;
    }
  }
  EXPECT_EQ(loaded + rejected, 300);
  EXPECT_GT(rejected, 0);
}

}  // namespace
