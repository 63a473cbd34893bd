// PLY through Assimp (OBJ, OFF and AMF have their own parsers, obj_reader.cpp, off_reader.cpp and
// amf_reader.cpp; see there why).
//
// Each input is pre-checked by a light scan (text_scan.h) so that Assimp never sees PLY header
// counts larger than the file, then loaded with
// ReadFileFromMemory, a format hint and aiProcess_ValidateDataStructure; polygons are triangulated
// here (see Flattener::triangulate for why not by aiProcess_Triangulate).
// Assimp gets an IO system that refuses every file, so no input can make it open paths on this
// machine. The node hierarchy is flattened with node transforms applied.
//
// One object per file: Assimp may split one body into several meshes, so per-mesh objects would
// cut bodies apart. Positions are welded across all meshes (exact match,
// position only: aiProcess_JoinIdenticalVertices also compares normals and UVs and would keep
// the corners of a flat-shaded cube apart), which makes one connected mesh of each body.
#include <assimp/IOStream.hpp>
#include <assimp/IOSystem.hpp>
#include <assimp/Importer.hpp>
#include <assimp/postprocess.h>
#include <assimp/scene.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <string_view>
#include <utility>

#include "geometry/formats/assimp/text_scan.h"
#include "geometry/formats/assimp/weld.h"
#include "geometry/formats/reader.h"
#include "geometry/load_error.h"

namespace s3d::formats {

namespace {

constexpr unsigned kMaxNodeDepth = 256;

class DenyIoSystem : public Assimp::IOSystem {
 public:
  bool Exists(const char*) const override { return false; }
  char getOsSeparator() const override { return '/'; }
  Assimp::IOStream* Open(const char*, const char*) override { return nullptr; }
  void Close(Assimp::IOStream* stream) override { delete stream; }
  bool CreateDirectory(const std::string&) override { return false; }
  bool ChangeDirectory(const std::string&) override { return false; }
  bool DeleteFile(const std::string&) override { return false; }
};

std::string one_line(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    const bool ws = c == '\n' || c == '\r' || c == '\t' || c == ' ';
    if (ws) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(static_cast<unsigned char>(c) < 0x20 ? '?' : c);
    if (out.size() >= 200) break;
  }
  return out.empty() ? std::string("unknown error") : out;
}

struct Flattener {
  const aiScene* scene;
  const Limits& limits;
  const char* label;
  Mesh out;

  void node(const aiNode* n, const aiMatrix4x4& parent, unsigned depth) {
    if (n == nullptr) return;
    if (depth > kMaxNodeDepth)
      throw LoadError(ErrorCode::kMalformed, std::string(label) + " node hierarchy is deeper than " +
                                                 std::to_string(kMaxNodeDepth) + " levels");
    const aiMatrix4x4 world = parent * n->mTransformation;
    for (unsigned i = 0; i < n->mNumMeshes; ++i) {
      if (n->mMeshes == nullptr || n->mMeshes[i] >= scene->mNumMeshes) continue;
      mesh(scene->mMeshes[n->mMeshes[i]], world);
    }
    for (unsigned i = 0; i < n->mNumChildren; ++i)
      if (n->mChildren) node(n->mChildren[i], world, depth + 1);
  }

  void mesh(const aiMesh* m, const aiMatrix4x4& t) {
    if (m == nullptr || m->mVertices == nullptr || m->mFaces == nullptr) return;
    uint64_t tris = 0;
    for (unsigned f = 0; f < m->mNumFaces; ++f)
      tris += m->mFaces[f].mNumIndices >= 3 ? m->mFaces[f].mNumIndices - 2 : 0;
    if (tris == 0) return;
    if (out.triangles.size() + tris > limits.max_triangles)
      throw LoadError(ErrorCode::kLimitExceeded, std::string(label) + " holds more than " +
                                                     std::to_string(limits.max_triangles) + " triangles (max_triangles)");
    if (out.vertices.size() + m->mNumVertices > UINT32_MAX)
      throw LoadError(ErrorCode::kLimitExceeded, std::string(label) + " holds more than 2^32 vertices");
    const auto base = static_cast<uint32_t>(out.vertices.size());
    out.vertices.reserve(out.vertices.size() + m->mNumVertices);
    for (unsigned v = 0; v < m->mNumVertices; ++v) {
      const aiVector3D& p = m->mVertices[v];
      Vec3f q;
      for (int r = 0; r < 3; ++r) {
        const double x = static_cast<double>(t[r][0]) * p.x + static_cast<double>(t[r][1]) * p.y +
                         static_cast<double>(t[r][2]) * p.z + static_cast<double>(t[r][3]);
        q[r] = static_cast<float>(x);
      }
      if (!std::isfinite(q[0]) || !std::isfinite(q[1]) || !std::isfinite(q[2]))
        throw LoadError(ErrorCode::kBadValue, std::string(label) + " has a non-finite vertex coordinate");
      out.vertices.push_back(q);
    }
    out.triangles.reserve(out.triangles.size() + tris);
    const size_t first = out.triangles.size();
    for (unsigned f = 0; f < m->mNumFaces; ++f) {
      const aiFace& face = m->mFaces[f];
      if (face.mNumIndices < 3 || face.mIndices == nullptr) continue;  // points and lines
      for (unsigned k = 0; k < face.mNumIndices; ++k)
        if (face.mIndices[k] >= m->mNumVertices)
          throw LoadError(ErrorCode::kBadValue, std::string(label) + " face references a missing vertex");
      triangulate(face, base);
    }
    // A mirroring node transform turns the mesh inside out; swap the winding back.
    const double det = double(t.a1) * (double(t.b2) * t.c3 - double(t.b3) * t.c2) -
                       double(t.a2) * (double(t.b1) * t.c3 - double(t.b3) * t.c1) +
                       double(t.a3) * (double(t.b1) * t.c2 - double(t.b2) * t.c1);
    if (det < 0)
      for (size_t i = first; i < out.triangles.size(); ++i) std::swap(out.triangles[i][1], out.triangles[i][2]);
  }

  // Polygons are split here (triangulate_polygon, weld.h) rather than by aiProcess_Triangulate,
  // whose ear clipper aborts the process (ai_assert) on some malformed inputs.
  void triangulate(const aiFace& face, uint32_t base) {
    poly.clear();
    for (unsigned k = 0; k < face.mNumIndices; ++k) poly.push_back(base + face.mIndices[k]);
    triangulate_polygon(poly, out.vertices, out.triangles);
  }
  std::vector<uint32_t> poly;
};

Mesh load_with_assimp(std::span<const uint8_t> data, const ReadOptions& opt, const char* hint, const char* label) {
  if (data.size() > opt.limits.max_input_bytes)
    throw LoadError(ErrorCode::kLimitExceeded, "input is larger than max_input_bytes");
  if (data.empty()) throw LoadError(ErrorCode::kEmpty, "empty file (0 bytes)");
  Assimp::Importer importer;
  importer.SetIOHandler(new DenyIoSystem);  // the importer owns it
  const aiScene* scene = nullptr;
  try {
    scene = importer.ReadFileFromMemory(data.data(), data.size(), aiProcess_ValidateDataStructure, hint);
  } catch (const std::bad_alloc&) {
    throw LoadError(ErrorCode::kLimitExceeded, std::string(label) + " needs more memory than is available");
  } catch (const std::exception& e) {
    throw LoadError(ErrorCode::kMalformed, std::string(label) + ": " + one_line(e.what()));
  }
  if (scene == nullptr)
    throw LoadError(ErrorCode::kMalformed, std::string(label) + ": " + one_line(importer.GetErrorString()));
  Flattener f{scene, opt.limits, label, {}, {}};
  const aiMatrix4x4 root;  // identity
  if (scene->mRootNode != nullptr) {
    f.node(scene->mRootNode, root, 0);
  } else {
    for (unsigned i = 0; i < scene->mNumMeshes; ++i) f.mesh(scene->mMeshes[i], root);
  }
  weld_exact(f.out.vertices, f.out.triangles);
  return std::move(f.out);
}

std::string_view prefix_view(std::span<const uint8_t> data, size_t n) {
  return {reinterpret_cast<const char*>(data.data()), std::min(n, data.size())};
}

}  // namespace

namespace ply {

int probe(std::span<const uint8_t> data) {
  const std::string_view s = prefix_view(data, 5);
  return (s.substr(0, 4) == "ply\n" || s == "ply\r\n") ? 95 : 0;
}

Mesh read(std::span<const uint8_t> data, const ReadOptions& opt) {
  if (data.size() > opt.limits.max_input_bytes)
    throw LoadError(ErrorCode::kLimitExceeded, "input is larger than max_input_bytes");
  check_ply_header(data, opt.limits);
  return load_with_assimp(data, opt, "ply", "PLY");
}

}  // namespace ply

}  // namespace s3d::formats
