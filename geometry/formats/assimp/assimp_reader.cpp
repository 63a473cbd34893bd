// OBJ and PLY through Assimp (OFF and AMF have their own parsers, off_reader.cpp and amf_reader.cpp;
// see there why).
//
// Each input is pre-checked by a light scan (text_scan.h) so that Assimp never sees out-of-range
// OBJ indices, NaN coordinates or PLY header counts larger than the file, then loaded with
// ReadFileFromMemory, a format hint and aiProcess_ValidateDataStructure; polygons are triangulated
// here (see Flattener::triangulate for why not by aiProcess_Triangulate).
// Assimp gets an IO system that refuses every file, so an OBJ's mtllib cannot make it open paths
// on this machine. The node hierarchy is flattened with node transforms applied.
//
// One object per file: Assimp splits one OBJ body into several meshes by material or group, so
// per-mesh objects would cut bodies apart. Positions are welded across all meshes (exact match,
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

  // Polygons are split here rather than by aiProcess_Triangulate, whose ear clipper aborts the
  // process (ai_assert) on some malformed inputs. Quads take the diagonal that keeps both halves
  // facing the same way (right for a concave quad); larger polygons are fanned from their first
  // corner, which keeps the signed area (so volumes) exact but over-counts the unsigned area of a
  // concave polygon.
  void triangulate(const aiFace& face, uint32_t base) {
    const unsigned* ix = face.mIndices;
    const auto at = [&](unsigned k) { return out.vertices[base + ix[k]]; };
    if (face.mNumIndices == 4) {
      const Vec3f a = at(0), b = at(1), c = at(2), d = at(3);
      const auto sub = [](const Vec3f& p, const Vec3f& q) {
        return std::array<double, 3>{double(p[0]) - q[0], double(p[1]) - q[1], double(p[2]) - q[2]};
      };
      const auto cross = [](const std::array<double, 3>& u, const std::array<double, 3>& v) {
        return std::array<double, 3>{u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]};
      };
      const auto n1 = cross(sub(b, a), sub(c, a));
      const auto n2 = cross(sub(c, a), sub(d, a));
      if (n1[0] * n2[0] + n1[1] * n2[1] + n1[2] * n2[2] < 0) {
        out.triangles.push_back({base + ix[1], base + ix[2], base + ix[3]});
        out.triangles.push_back({base + ix[1], base + ix[3], base + ix[0]});
        return;
      }
    }
    for (unsigned k = 1; k + 1 < face.mNumIndices; ++k)
      out.triangles.push_back({base + ix[0], base + ix[k], base + ix[k + 1]});
  }
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
  Flattener f{scene, opt.limits, label, {}};
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

// Assimp 5.2's OBJ importer, when it cannot open a material library, falls back to the name of the
// file it reads with ".mtl": for an in-memory read that is its own buffer's magic name, so it parses
// the OBJ text itself as a material library, and a texture line ("map_Ks b") before any "newmtl"
// then dereferences a null material -- SIGSEGV on the 2-line file "mtllib a\nmap_Ks b", found by
// tests/fuzz/mesh_fuzzer. Materials never matter here, so every "mtllib" statement becomes a comment
// (same length, same line numbers) before Assimp sees the text. Returns an empty vector when there is
// none (the caller then passes the input as it is, without a copy).
std::vector<uint8_t> without_material_libraries(std::span<const uint8_t> data) {
  constexpr std::string_view kKeyword = "mtllib";
  const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  std::vector<uint8_t> out;
  size_t at = text.find(kKeyword);
  while (at != std::string_view::npos) {
    size_t line = text.rfind('\n', at);
    line = line == std::string_view::npos ? 0 : line + 1;
    size_t first = line;
    while (first < at && (text[first] == ' ' || text[first] == '\t')) ++first;
    const size_t end = at + kKeyword.size();
    const bool statement = first == at && (end == text.size() || text[end] == ' ' || text[end] == '\t' ||
                                             text[end] == '\r' || text[end] == '\n');
    if (statement) {
      if (out.empty()) out.assign(data.begin(), data.end());
      out[at] = '#';
    }
    at = text.find(kKeyword, end);
  }
  return out;
}

namespace obj {

int probe(std::span<const uint8_t> data) {
  const std::string_view s = prefix_view(data, 4096);
  if (s.find('\0') != std::string_view::npos) return 0;
  int known = 0, unknown = 0, geometry = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t eol = s.find('\n', pos);
    if (eol == std::string_view::npos) {
      if (data.size() > s.size()) break;  // the prefix cut this line off
      eol = s.size();
    }
    std::string_view line = s.substr(pos, eol - pos);
    pos = eol + 1;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (line.empty()) continue;
    const size_t sp = line.find_first_of(" \t");
    const std::string_view kw = line.substr(0, sp);
    if (kw.front() == '#') {
      ++known;
    } else if (kw == "v" || kw == "vn" || kw == "vt" || kw == "f") {
      ++known;
      ++geometry;
    } else if (kw == "o" || kw == "g" || kw == "mtllib" || kw == "usemtl" || kw == "s" || kw == "vp" ||
               kw == "l" || kw == "p") {
      ++known;
    } else {
      ++unknown;
    }
  }
  if (geometry == 0) return known > 0 && unknown == 0 ? 10 : 0;
  if (unknown == 0) return 80;
  return known >= 4 * unknown ? 40 : 0;
}

Mesh read(std::span<const uint8_t> data, const ReadOptions& opt) {
  if (data.size() > opt.limits.max_input_bytes)
    throw LoadError(ErrorCode::kLimitExceeded, "input is larger than max_input_bytes");
  scan_obj(data, opt.limits);
  const std::vector<uint8_t> safe = without_material_libraries(data);
  return load_with_assimp(safe.empty() ? data : std::span<const uint8_t>(safe), opt, "obj", "OBJ");
}

}  // namespace obj

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
