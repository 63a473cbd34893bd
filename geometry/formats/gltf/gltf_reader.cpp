// glTF 2.0 reader: binary `.glb` (a JSON chunk and a BIN chunk) and text `.gltf` whose buffers are
// embedded as base64 `data:` URIs. Cura opens glTF through its Trimesh plugin and model sites
// publish parts as glTF, so a part re-exported to it must be screened like its STL.
//
// Read: the default scene (or the first; with no scene, every mesh once), node hierarchies with
// their matrices or translation / rotation / scale, each mesh primitive of mode TRIANGLES,
// TRIANGLE_STRIP or TRIANGLE_FAN (points and lines are geometry a printer does not print and are
// skipped), POSITION accessors of any component type (KHR_mesh_quantization's normalised integers
// too), indices of unsigned byte, short or int, and sparse accessors. glTF's unit is the metre:
// positions become millimetres (x 1000). One object per primitive instance, welded exactly (glTF
// splits vertices along normal and UV seams).
// Refused with a reason: buffers in other files (a scanner gets one file), compressed geometry
// (KHR_draco_mesh_compression, EXT_meshopt_compression: the decoders are not in Debian's packages
// this project uses), any other required extension, and every reference, offset, stride or count
// outside its buffer. Hand-written on nlohmann-json (JSON) rather than Assimp: Assimp's importers
// crashed under fuzzing within minutes (tests/fuzz/README.md), and glTF's structure is a few
// arrays of indices, each of which is checked here before use.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "geometry/formats/interchange/weld.h"
#include "geometry/formats/reader.h"
#include "geometry/load_error.h"

namespace s3d::formats::gltf {

namespace {

using json = nlohmann::json;

constexpr uint32_t kGlbMagic = 0x46546C67;  // "glTF"
constexpr uint32_t kChunkJson = 0x4E4F534A;  // "JSON"
constexpr uint32_t kChunkBin = 0x004E4942;   // "BIN\0"
constexpr size_t kMaxJsonBytes = 256u << 20;
constexpr int kMaxNodeDepth = 256;

[[noreturn]] void bad(const std::string& why) { throw LoadError(ErrorCode::kMalformed, "glTF " + why); }

uint32_t u32(std::span<const uint8_t> d, size_t at) {
  uint32_t v = 0;
  std::memcpy(&v, d.data() + at, 4);
  return v;
}

std::string_view skip_space(std::span<const uint8_t> data) {
  std::string_view s(reinterpret_cast<const char*>(data.data()), data.size());
  if (s.starts_with("\xEF\xBB\xBF")) s.remove_prefix(3);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
  return s;
}

// A JSON value's unsigned integer member, `fallback` when absent; anything else than a
// non-negative integer is malformed.
uint64_t uint_member(const json& j, const char* key, uint64_t fallback, const char* what) {
  const auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (!it->is_number_unsigned()) {
    if (it->is_number_integer() && it->get<int64_t>() >= 0) return static_cast<uint64_t>(it->get<int64_t>());
    bad(std::string(what) + "." + key + " is not a non-negative integer");
  }
  return it->get<uint64_t>();
}

const json& array_member(const json& root, const char* key) {
  static const json empty = json::array();
  const auto it = root.find(key);
  if (it == root.end()) return empty;
  if (!it->is_array()) bad(std::string(key) + " is not an array");
  return *it;
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

// The bytes of a "data:...;base64," URI. (Hand-written: ten lines, and the standard and URL-safe
// alphabets both occur in exported files.)
std::vector<uint8_t> decode_data_uri(std::string_view uri, uint64_t max_bytes) {
  const size_t comma = uri.find(',');
  if (comma == std::string_view::npos || uri.substr(0, comma).find(";base64") == std::string_view::npos)
    bad("buffer's data URI is not base64");
  const std::string_view b64 = uri.substr(comma + 1);
  if (b64.size() / 4 * 3 > max_bytes) throw LoadError(ErrorCode::kLimitExceeded, "glTF embedded buffer is larger than max_input_bytes");
  std::vector<uint8_t> out;
  out.reserve(b64.size() / 4 * 3 + 3);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : b64) {
    if (c == '=' || c == '\n' || c == '\r' || c == ' ') continue;
    const int v = base64_value(c);
    if (v < 0) bad("buffer's data URI holds a character that is not base64");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
    }
  }
  return out;
}

struct Doc {
  json root;
  std::vector<std::vector<uint8_t>> owned;     // decoded data URIs
  std::vector<std::span<const uint8_t>> buffers;
  const ReadOptions* opt = nullptr;
};

// The whole file as a document: GLB chunks or .gltf text, buffers resolved.
Doc parse(std::span<const uint8_t> data, const ReadOptions& opt) {
  Doc doc;
  doc.opt = &opt;
  std::span<const uint8_t> bin;
  bool has_bin = false;
  std::string_view text;
  if (data.size() >= 12 && u32(data, 0) == kGlbMagic) {
    if (u32(data, 4) != 2) bad("binary file of version " + std::to_string(u32(data, 4)) + " (only glTF 2 is read)");
    const uint64_t length = u32(data, 8);
    if (length > data.size()) throw LoadError(ErrorCode::kTruncated, "glTF binary file is shorter than its header says");
    size_t at = 12;
    for (int chunk = 0; at + 8 <= length; ++chunk) {
      const uint64_t n = u32(data, at), type = u32(data, at + 4);
      if (n > length - at - 8) throw LoadError(ErrorCode::kTruncated, "glTF binary chunk runs past the end of the file");
      const std::span<const uint8_t> body = data.subspan(at + 8, n);
      if (chunk == 0) {
        if (type != kChunkJson) bad("binary file does not start with its JSON chunk");
        text = std::string_view(reinterpret_cast<const char*>(body.data()), body.size());
      } else if (chunk == 1 && type == kChunkBin) {
        bin = body;
        has_bin = true;
      }
      at += 8 + ((n + 3) & ~uint64_t{3});
    }
    if (text.empty()) bad("binary file has no JSON chunk");
  } else {
    text = skip_space(data);
  }
  if (text.size() > kMaxJsonBytes) throw LoadError(ErrorCode::kLimitExceeded, "glTF JSON is larger than 256 MiB");
  doc.root = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.root.is_discarded() || !doc.root.is_object()) bad("JSON could not be parsed");
  const auto asset = doc.root.find("asset");
  if (asset == doc.root.end() || !asset->is_object()) bad("file has no asset object");
  const auto version = asset->find("version");
  if (version == asset->end() || !version->is_string() || !version->get<std::string>().starts_with("2."))
    throw LoadError(ErrorCode::kUnsupported, "glTF asset version is not 2.x (glTF 1.0 is not read)");
  for (const json& ext : array_member(doc.root, "extensionsRequired")) {
    const std::string name = ext.is_string() ? ext.get<std::string>() : std::string("?");
    if (name != "KHR_mesh_quantization")
      throw LoadError(ErrorCode::kUnsupported, "glTF file requires the extension " + name + ", which is not read" +
                                                   (name.find("draco") != std::string::npos || name.find("meshopt") != std::string::npos
                                                        ? " (compressed geometry)"
                                                        : ""));
  }
  const json& buffers = array_member(doc.root, "buffers");
  doc.owned.reserve(buffers.size());
  for (size_t i = 0; i < buffers.size(); ++i) {
    const json& b = buffers[i];
    if (!b.is_object()) bad("buffer " + std::to_string(i) + " is not an object");
    const uint64_t declared = uint_member(b, "byteLength", 0, "buffer");
    std::span<const uint8_t> bytes;
    const auto uri = b.find("uri");
    if (uri == b.end()) {
      if (i != 0 || !has_bin) bad("buffer " + std::to_string(i) + " has no URI and the file no BIN chunk");
      bytes = bin;
    } else {
      if (!uri->is_string()) bad("buffer " + std::to_string(i) + "'s URI is not a string");
      const std::string& u = uri->get_ref<const std::string&>();
      if (!u.starts_with("data:"))
        throw LoadError(ErrorCode::kUnsupported, "glTF buffer " + std::to_string(i) + " is in another file (" + u.substr(0, 200) +
                                                     "): only .glb and .gltf with embedded buffers are read");
      doc.owned.push_back(decode_data_uri(u, opt.limits.max_input_bytes));
      bytes = doc.owned.back();
    }
    if (declared > bytes.size()) throw LoadError(ErrorCode::kTruncated, "glTF buffer " + std::to_string(i) + " is shorter than its byteLength");
    doc.buffers.push_back(bytes.first(declared));
  }
  return doc;
}

size_t component_size(uint64_t type) {
  switch (type) {
    case 5120: case 5121: return 1;
    case 5122: case 5123: return 2;
    case 5125: case 5126: return 4;
    default: return 0;
  }
}

size_t type_components(const std::string& t) {
  if (t == "SCALAR") return 1;
  if (t == "VEC2") return 2;
  if (t == "VEC3") return 3;
  if (t == "VEC4") return 4;
  if (t == "MAT4") return 16;
  return 0;
}

double read_component(const uint8_t* p, uint64_t type, bool normalized) {
  switch (type) {
    case 5126: { float f; std::memcpy(&f, p, 4); return f; }
    case 5125: { uint32_t v; std::memcpy(&v, p, 4); return normalized ? v / 4294967295.0 : v; }
    case 5123: { uint16_t v; std::memcpy(&v, p, 2); return normalized ? v / 65535.0 : v; }
    case 5122: { int16_t v; std::memcpy(&v, p, 2); return normalized ? std::max(v / 32767.0, -1.0) : v; }
    case 5121: return normalized ? p[0] / 255.0 : p[0];
    case 5120: { const auto v = static_cast<int8_t>(p[0]); return normalized ? std::max(v / 127.0, -1.0) : v; }
    default: return 0;
  }
}

// The bytes of buffer view `vi` (checked to lie inside its buffer), and its byteStride (0 when
// absent). `who` names the referrer for the message.
std::span<const uint8_t> buffer_view(const Doc& doc, uint64_t vi, const std::string& who, uint64_t* stride) {
  const json& views = array_member(doc.root, "bufferViews");
  if (vi >= views.size() || !views[vi].is_object()) bad(who + " refers to a missing bufferView");
  const json& v = views[vi];
  const uint64_t bi = uint_member(v, "buffer", UINT64_MAX, "bufferView");
  if (bi >= doc.buffers.size()) bad("bufferView " + std::to_string(vi) + " refers to a missing buffer");
  const std::span<const uint8_t> buf = doc.buffers[bi];
  const uint64_t voff = uint_member(v, "byteOffset", 0, "bufferView"), vlen = uint_member(v, "byteLength", 0, "bufferView");
  if (voff > buf.size() || vlen > buf.size() - voff) bad("bufferView " + std::to_string(vi) + " runs past its buffer");
  if (stride) *stride = uint_member(v, "byteStride", 0, "bufferView");
  return buf.subspan(voff, vlen);
}

// The elements of accessor `index` as doubles, `want` components each (SCALAR: 1, VEC3: 3), every
// byte range checked against its buffer view and buffer; sparse substitutions applied.
std::vector<double> read_accessor(const Doc& doc, uint64_t index, size_t want, uint64_t max_count) {
  const json& accessors = array_member(doc.root, "accessors");
  if (index >= accessors.size() || !accessors[index].is_object()) bad("refers to accessor " + std::to_string(index) + ", which is not there");
  const json& a = accessors[index];
  const std::string what = "accessor " + std::to_string(index);
  const uint64_t ctype = uint_member(a, "componentType", 0, "accessor");
  const size_t csize = component_size(ctype);
  if (csize == 0) bad(what + " has an unknown componentType");
  const auto type_it = a.find("type");
  if (type_it == a.end() || !type_it->is_string() || type_components(type_it->get<std::string>()) != want)
    bad(what + " is not of the type expected here");
  const bool normalized = a.value("normalized", false);
  const uint64_t count = uint_member(a, "count", 0, "accessor");
  if (count > max_count)
    throw LoadError(ErrorCode::kLimitExceeded, "glTF " + what + " has more elements than the limits allow (max_triangles)");
  const size_t elem = csize * want;
  // Without a buffer view the elements are zeros (sparse values may replace some): a count no data
  // backs, so it is kept small rather than allowed to allocate at the file's word.
  if (!a.contains("bufferView") && count > (1u << 20)) bad(what + " has no bufferView and more than 2^20 elements");
  std::vector<double> out;
  if (a.contains("bufferView")) {
    const uint64_t vi = uint_member(a, "bufferView", 0, "accessor");
    uint64_t stride = 0;
    const std::span<const uint8_t> view = buffer_view(doc, vi, what, &stride);
    const uint64_t vlen = view.size();
    if (stride == 0) stride = elem;
    if (stride < elem || stride > 252) bad("bufferView " + std::to_string(vi) + " has a byteStride that does not fit its elements");
    const uint64_t aoff = uint_member(a, "byteOffset", 0, "accessor");
    // The last element ends at aoff + (count - 1) * stride + elem (count is at most the view's
    // length and stride below 256: no overflow).
    if (count > vlen || (count > 0 && (aoff > vlen || (count - 1) * stride + elem > vlen - aoff))) bad(what + " runs past its bufferView");
    out.assign(count * want, 0.0);
    const uint8_t* base = view.data() + aoff;
    for (uint64_t i = 0; i < count; ++i)
      for (size_t c = 0; c < want; ++c) out[i * want + c] = read_component(base + i * stride + c * csize, ctype, normalized);
  } else {
    out.assign(count * want, 0.0);
  }
  if (const auto sp = a.find("sparse"); sp != a.end()) {
    if (!sp->is_object()) bad(what + ".sparse is not an object");
    const uint64_t n = uint_member(*sp, "count", 0, "sparse");
    if (n > count) bad(what + " has more sparse values than elements");
    const auto ind = sp->find("indices"), val = sp->find("values");
    if (ind == sp->end() || val == sp->end() || !ind->is_object() || !val->is_object()) bad(what + ".sparse lacks indices or values");
    auto view_bytes = [&](const json& j, uint64_t need) -> const uint8_t* {
      const std::span<const uint8_t> view =
          buffer_view(doc, uint_member(j, "bufferView", UINT64_MAX, "sparse"), what + ".sparse", nullptr);
      const uint64_t off = uint_member(j, "byteOffset", 0, "sparse");
      if (off > view.size() || need > view.size() - off) bad(what + ".sparse runs past its bufferView");
      return view.data() + off;
    };
    const uint64_t itype = uint_member(*ind, "componentType", 0, "sparse.indices");
    const size_t isize = component_size(itype);
    if (isize == 0 || itype == 5120 || itype == 5122 || itype == 5126) bad(what + ".sparse.indices has a bad componentType");
    const uint8_t* ip = view_bytes(*ind, n * isize);
    const uint8_t* vp = view_bytes(*val, n * elem);
    for (uint64_t k = 0; k < n; ++k) {
      const auto i = static_cast<uint64_t>(read_component(ip + k * isize, itype, false));
      if (i >= count) bad(what + ".sparse index is out of range");
      for (size_t c = 0; c < want; ++c) out[i * want + c] = read_component(vp + k * elem + c * csize, ctype, normalized);
    }
  }
  return out;
}

using Mat4 = std::array<double, 16>;  // column-major, as glTF stores it

Mat4 identity() { return {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}; }

Mat4 multiply(const Mat4& a, const Mat4& b) {
  Mat4 r{};
  for (int c = 0; c < 4; ++c)
    for (int rI = 0; rI < 4; ++rI) {
      double s = 0;
      for (int k = 0; k < 4; ++k) s += a[k * 4 + rI] * b[c * 4 + k];
      r[c * 4 + rI] = s;
    }
  return r;
}

std::vector<double> numbers(const json& j, size_t n, const char* what) {
  if (!j.is_array() || j.size() != n) bad(std::string("node ") + what + " is not an array of " + std::to_string(n) + " numbers");
  std::vector<double> v;
  for (const json& x : j) {
    if (!x.is_number()) bad(std::string("node ") + what + " holds something other than numbers");
    const double d = x.get<double>();
    if (!std::isfinite(d)) throw LoadError(ErrorCode::kBadValue, std::string("glTF node ") + what + " is not finite");
    v.push_back(d);
  }
  return v;
}

// A node's local transform: its matrix, else T * R * S.
Mat4 local_transform(const json& node) {
  if (const auto m = node.find("matrix"); m != node.end()) {
    const std::vector<double> v = numbers(*m, 16, "matrix");
    Mat4 r{};
    std::copy(v.begin(), v.end(), r.begin());
    return r;
  }
  Mat4 t = identity(), r = identity(), s = identity();
  if (const auto it = node.find("translation"); it != node.end()) {
    const auto v = numbers(*it, 3, "translation");
    t[12] = v[0], t[13] = v[1], t[14] = v[2];
  }
  if (const auto it = node.find("rotation"); it != node.end()) {
    auto q = numbers(*it, 4, "rotation");  // x, y, z, w
    const double n = std::sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    if (n < 1e-12) bad("node rotation is not a unit quaternion");
    for (double& x : q) x /= n;
    const double x = q[0], y = q[1], z = q[2], w = q[3];
    r = {1 - 2 * (y * y + z * z), 2 * (x * y + z * w),     2 * (x * z - y * w),     0,
         2 * (x * y - z * w),     1 - 2 * (x * x + z * z), 2 * (y * z + x * w),     0,
         2 * (x * z + y * w),     2 * (y * z - x * w),     1 - 2 * (x * x + y * y), 0,
         0, 0, 0, 1};
  }
  if (const auto it = node.find("scale"); it != node.end()) {
    const auto v = numbers(*it, 3, "scale");
    s[0] = v[0], s[5] = v[1], s[10] = v[2];
  }
  return multiply(t, multiply(r, s));
}

struct Builder {
  const Doc& doc;
  Mesh mesh;
  uint64_t triangles = 0;

  // Every primitive of mesh `index`, placed by `m` (and metres to millimetres), as objects.
  void add_mesh(uint64_t index, const Mat4& m) {
    const json& meshes = array_member(doc.root, "meshes");
    if (index >= meshes.size() || !meshes[index].is_object()) bad("refers to mesh " + std::to_string(index) + ", which is not there");
    const json& prims = array_member(meshes[index], "primitives");
    const double det = m[0] * (m[5] * m[10] - m[9] * m[6]) - m[4] * (m[1] * m[10] - m[9] * m[2]) + m[8] * (m[1] * m[6] - m[5] * m[2]);
    for (const json& p : prims) {
      if (!p.is_object()) bad("mesh primitive is not an object");
      const uint64_t mode = uint_member(p, "mode", 4, "primitive");
      if (mode < 4) continue;  // points and lines
      if (mode > 6) bad("primitive mode " + std::to_string(mode) + " is not a glTF mode");
      const auto attrs = p.find("attributes");
      if (attrs == p.end() || !attrs->is_object() || !attrs->contains("POSITION")) bad("primitive has no POSITION attribute");
      const uint64_t limit = doc.opt->limits.max_triangles * 3 + 3;
      const std::vector<double> pos = read_accessor(doc, uint_member(*attrs, "POSITION", 0, "attributes"), 3, limit);
      const size_t nv = pos.size() / 3;
      std::vector<uint64_t> idx;
      if (p.contains("indices")) {
        const std::vector<double> raw = read_accessor(doc, uint_member(p, "indices", 0, "primitive"), 1, limit);
        idx.reserve(raw.size());
        for (double d : raw) {
          if (d < 0 || d >= static_cast<double>(nv)) throw LoadError(ErrorCode::kBadValue, "glTF index out of range of its positions");
          idx.push_back(static_cast<uint64_t>(d));
        }
      } else {
        idx.resize(nv);
        for (size_t i = 0; i < nv; ++i) idx[i] = i;
      }
      Mesh part;
      part.vertices.resize(nv);
      for (size_t i = 0; i < nv; ++i) {
        double v[3];
        for (int r = 0; r < 3; ++r)
          v[r] = 1000.0 * (m[r] * pos[3 * i] + m[4 + r] * pos[3 * i + 1] + m[8 + r] * pos[3 * i + 2] + m[12 + r]);
        for (int r = 0; r < 3; ++r) {
          if (!std::isfinite(v[r]) || std::fabs(v[r]) > 1e9) throw LoadError(ErrorCode::kBadValue, "glTF position is not finite or absurdly large");
          part.vertices[i][static_cast<size_t>(r)] = static_cast<float>(v[r]);
        }
      }
      const bool flip = det < 0;  // a mirroring transform turns the winding
      auto tri = [&](uint64_t a, uint64_t b, uint64_t c) {
        if (a == b || b == c || a == c) return;
        if (flip) std::swap(b, c);
        part.triangles.push_back({static_cast<uint32_t>(a), static_cast<uint32_t>(b), static_cast<uint32_t>(c)});
      };
      if (mode == 4) {
        for (size_t k = 0; k + 2 < idx.size(); k += 3) tri(idx[k], idx[k + 1], idx[k + 2]);
      } else if (mode == 5) {
        for (size_t k = 0; k + 2 < idx.size(); ++k) k % 2 ? tri(idx[k + 1], idx[k], idx[k + 2]) : tri(idx[k], idx[k + 1], idx[k + 2]);
      } else {
        for (size_t k = 1; k + 1 < idx.size(); ++k) tri(idx[0], idx[k], idx[k + 1]);
      }
      if (part.triangles.empty()) continue;
      triangles += part.triangles.size();
      if (triangles > doc.opt->limits.max_triangles)
        throw LoadError(ErrorCode::kLimitExceeded, "glTF scene has more than " + std::to_string(doc.opt->limits.max_triangles) +
                                                       " triangles (max_triangles)");
      check_stop(doc.opt->limits);
      weld_exact(part.vertices, part.triangles);
      append_object(mesh, part);
    }
  }

  // A node and its subtree. glTF nodes form trees (a node has one parent): a node met twice in the
  // scene (a cycle, or a shared child whose repetition could grow exponentially) is malformed.
  void add_node(uint64_t index, const Mat4& parent, int depth, std::vector<uint8_t>& visited) {
    const json& nodes = array_member(doc.root, "nodes");
    if (index >= nodes.size() || !nodes[index].is_object()) bad("refers to node " + std::to_string(index) + ", which is not there");
    if (depth > kMaxNodeDepth) bad("node hierarchy is deeper than " + std::to_string(kMaxNodeDepth));
    if (visited[index]) bad("node " + std::to_string(index) + " is reached twice (its hierarchy is not a tree)");
    visited[index] = 1;
    const json& node = nodes[index];
    const Mat4 m = multiply(parent, local_transform(node));
    if (node.contains("mesh")) add_mesh(uint_member(node, "mesh", 0, "node"), m);
    for (const json& c : array_member(node, "children")) {
      if (!c.is_number_unsigned()) bad("node child is not an index");
      add_node(c.get<uint64_t>(), m, depth + 1, visited);
    }
  }
};

}  // namespace

// GLB: "glTF" and version 2. Text glTF: a JSON object whose first 4 KiB hold "asset" and
// "version" and one of the arrays only glTF names so (accessors, bufferViews, meshes with buffers);
// it is JSON, so only that shape tells it apart from the JSON files a drive holds.
int probe(std::span<const uint8_t> data) {
  if (data.size() >= 12 && u32(data, 0) == kGlbMagic && u32(data, 4) == 2) return 100;
  const std::string_view s = skip_space(data);
  if (!s.starts_with("{")) return 0;
  const std::string_view head = s.substr(0, 4096);
  auto has = [&](std::string_view key) { return head.find(key) != std::string_view::npos; };
  const bool asset = has("\"asset\"") && has("\"version\"");
  const bool gltf_keys = has("\"accessors\"") || has("\"bufferViews\"") || (has("\"meshes\"") && has("\"buffers\""));
  return asset && gltf_keys ? 80 : 0;
}

Mesh read(std::span<const uint8_t> data, const ReadOptions& opt) {
  if (data.size() > opt.limits.max_input_bytes)
    throw LoadError(ErrorCode::kLimitExceeded, "glTF file is larger than the limit of " + std::to_string(opt.limits.max_input_bytes) +
                                                   " bytes (max_input_bytes)");
  const Doc doc = parse(data, opt);
  Builder b{doc, {}, 0};
  const json& scenes = array_member(doc.root, "scenes");
  const json& nodes = array_member(doc.root, "nodes");
  std::vector<uint8_t> visited(nodes.size(), 0);
  if (!scenes.empty()) {
    const uint64_t si = uint_member(doc.root, "scene", 0, "file");
    if (si >= scenes.size() || !scenes[si].is_object()) bad("default scene " + std::to_string(si) + " is not there");
    for (const json& n : array_member(scenes[si], "nodes")) {
      if (!n.is_number_unsigned()) bad("scene node is not an index");
      b.add_node(n.get<uint64_t>(), identity(), 0, visited);
    }
  } else {
    const json& meshes = array_member(doc.root, "meshes");
    for (uint64_t i = 0; i < meshes.size(); ++i) b.add_mesh(i, identity());
  }
  if (b.mesh.triangles.empty()) throw LoadError(ErrorCode::kEmpty, "glTF file holds no triangles");
  return std::move(b.mesh);
}

}  // namespace s3d::formats::gltf
