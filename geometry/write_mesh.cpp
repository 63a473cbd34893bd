#include "geometry/write_mesh.h"

#include <zip.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace s3d {

namespace {

// Buffered file output that reports every failure as std::runtime_error naming the path.
class OutFile {
 public:
  explicit OutFile(const std::string& path) : path_(path), f_(std::fopen(path.c_str(), "wb")) {
    if (f_ == nullptr) fail("cannot open");
    buf_.reserve(kFlushAt + 4096);
  }
  ~OutFile() {
    if (f_) std::fclose(f_);
  }
  OutFile(const OutFile&) = delete;
  OutFile& operator=(const OutFile&) = delete;

  std::string& buf() { return buf_; }
  void maybe_flush() {
    if (buf_.size() >= kFlushAt) flush();
  }
  void close() {
    flush();
    FILE* f = f_;
    f_ = nullptr;
    if (std::fclose(f) != 0) fail("cannot write");
  }

 private:
  static constexpr size_t kFlushAt = 1 << 20;
  void flush() {
    if (!buf_.empty() && std::fwrite(buf_.data(), 1, buf_.size(), f_) != buf_.size()) fail("cannot write");
    buf_.clear();
  }
  [[noreturn]] void fail(const char* what) {
    const int err = errno;
    throw std::runtime_error(std::string(what) + " " + path_ + ": " + std::strerror(err));
  }

  std::string path_;
  FILE* f_;
  std::string buf_;
};

void append_float(std::string& s, float v) {
  char tmp[32];
  const auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
  s.append(tmp, r.ptr);
}

void append_double(std::string& s, double v) {
  char tmp[32];
  const auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
  s.append(tmp, r.ptr);
}

void append_uint(std::string& s, uint64_t v) {
  char tmp[24];
  const auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
  s.append(tmp, r.ptr);
}

void append_vec(std::string& s, const Vec3f& v) {
  append_float(s, v[0]);
  s.push_back(' ');
  append_float(s, v[1]);
  s.push_back(' ');
  append_float(s, v[2]);
}

void put_le32(std::string& s, uint32_t v) {
  const char b[4] = {static_cast<char>(v & 0xff), static_cast<char>((v >> 8) & 0xff),
                     static_cast<char>((v >> 16) & 0xff), static_cast<char>((v >> 24) & 0xff)};
  s.append(b, 4);
}

void put_f32(std::string& s, float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  put_le32(s, u);
}

void validate(const Mesh& mesh) {
  const size_t nv = mesh.vertices.size();
  for (const Tri& t : mesh.triangles)
    if (t[0] >= nv || t[1] >= nv || t[2] >= nv) throw std::invalid_argument("mesh triangle references a missing vertex");
  uint32_t prev = 0;
  for (size_t i = 0; i < mesh.object_starts.size(); ++i) {
    const uint32_t s = mesh.object_starts[i];
    if (s > mesh.triangles.size() || (i > 0 && s < prev) || (i == 0 && s != 0))
      throw std::invalid_argument("mesh object_starts is not an increasing list starting at 0");
    prev = s;
  }
}

// Triangle ranges [begin, end) of the mesh's objects (one range when object_starts is empty).
std::vector<std::pair<size_t, size_t>> object_ranges(const Mesh& mesh) {
  std::vector<std::pair<size_t, size_t>> r;
  if (mesh.object_starts.empty()) {
    r.emplace_back(0, mesh.triangles.size());
    return r;
  }
  for (size_t i = 0; i < mesh.object_starts.size(); ++i) {
    const size_t end = i + 1 < mesh.object_starts.size() ? mesh.object_starts[i + 1] : mesh.triangles.size();
    r.emplace_back(mesh.object_starts[i], end);
  }
  return r;
}

Vec3f facet_normal(const Vec3f& a, const Vec3f& b, const Vec3f& c) {
  const double ux = double(b[0]) - a[0], uy = double(b[1]) - a[1], uz = double(b[2]) - a[2];
  const double vx = double(c[0]) - a[0], vy = double(c[1]) - a[1], vz = double(c[2]) - a[2];
  double nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;
  const double len = std::sqrt(nx * nx + ny * ny + nz * nz);
  if (!(len > 0) || !std::isfinite(len)) return {0, 0, 0};
  return {static_cast<float>(nx / len), static_cast<float>(ny / len), static_cast<float>(nz / len)};
}

void append_stl_binary(std::string& s, const Mesh& mesh) {
  std::string header = "screen3d binary STL";
  header.resize(80, ' ');
  s += header;
  if (mesh.triangles.size() > UINT32_MAX) throw std::invalid_argument("too many triangles for binary STL");
  put_le32(s, static_cast<uint32_t>(mesh.triangles.size()));
  for (const Tri& t : mesh.triangles) {
    const Vec3f& a = mesh.vertices[t[0]];
    const Vec3f& b = mesh.vertices[t[1]];
    const Vec3f& c = mesh.vertices[t[2]];
    const Vec3f n = facet_normal(a, b, c);
    for (const Vec3f* v : {&n, &a, &b, &c})
      for (float f : *v) put_f32(s, f);
    s.push_back('\0');
    s.push_back('\0');
  }
}

bool valid_3mf_unit(const std::string& unit) {
  return unit == "micron" || unit == "millimeter" || unit == "centimeter" || unit == "inch" || unit == "foot" ||
         unit == "meter";
}

void append_3mf_object(std::string& s, uint32_t id, const Mesh& p) {
  s += "<object id=\"";
  append_uint(s, id);
  s += "\" type=\"model\"><mesh><vertices>\n";
  for (const Vec3f& v : p.vertices) {
    s += "<vertex x=\"";
    append_float(s, v[0]);
    s += "\" y=\"";
    append_float(s, v[1]);
    s += "\" z=\"";
    append_float(s, v[2]);
    s += "\"/>\n";
  }
  s += "</vertices><triangles>\n";
  for (const Tri& t : p.triangles) {
    s += "<triangle v1=\"";
    append_uint(s, t[0]);
    s += "\" v2=\"";
    append_uint(s, t[1]);
    s += "\" v3=\"";
    append_uint(s, t[2]);
    s += "\"/>\n";
  }
  s += "</triangles></mesh></object>\n";
}

constexpr const char* kContentTypes =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
    "<Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>"
    "<Default Extension=\"model\" ContentType=\"application/vnd.ms-package.3dmanufacturing-3dmodel+xml\"/>"
    "</Types>\n";
constexpr const char* kRootRels =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
    "<Relationship Target=\"/3D/3dmodel.model\" Id=\"rel0\" "
    "Type=\"http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel\"/>"
    "</Relationships>\n";

// Writes a 3MF package whose model part is `model`.
void write_3mf_package(const std::string& model, const std::string& path) {
  int err = 0;
  zip_t* za = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (za == nullptr) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, err);
    const std::string msg = "cannot open " + path + ": " + zip_error_strerror(&ze);
    zip_error_fini(&ze);
    throw std::runtime_error(msg);
  }
  const std::pair<const char*, std::string_view> members[] = {
      {"[Content_Types].xml", kContentTypes}, {"_rels/.rels", kRootRels}, {"3D/3dmodel.model", model}};
  for (const auto& [name, body] : members) {
    // The buffers outlive zip_close(), which is when libzip reads them.
    zip_source_t* src = zip_source_buffer(za, body.data(), body.size(), 0);
    const zip_int64_t idx = src == nullptr ? -1 : zip_file_add(za, name, src, ZIP_FL_OVERWRITE | ZIP_FL_ENC_UTF_8);
    // A fixed timestamp (1980-01-01, the zip epoch) keeps the output byte-identical across runs.
    if (idx < 0 || zip_file_set_mtime(za, static_cast<zip_uint64_t>(idx), 315532800, 0) < 0) {
      if (src && idx < 0) zip_source_free(src);
      const std::string msg = "cannot add " + std::string(name) + " to " + path + ": " + zip_strerror(za);
      zip_discard(za);
      throw std::runtime_error(msg);
    }
  }
  if (zip_close(za) != 0) {
    const std::string msg = "cannot write " + path + ": " + zip_strerror(za);
    zip_discard(za);
    throw std::runtime_error(msg);
  }
}

std::string model_header(const std::string& unit) {
  if (!valid_3mf_unit(unit)) throw std::invalid_argument("unknown 3MF unit " + unit);
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<model unit=\"" + unit +
         "\" xml:lang=\"en-US\" xmlns=\"http://schemas.microsoft.com/3dmanufacturing/core/2015/02\">\n<resources>\n";
}

}  // namespace

std::vector<uint8_t> to_stl_binary(const Mesh& mesh) {
  validate(mesh);
  std::string s;
  s.reserve(84 + 50 * mesh.triangles.size());
  append_stl_binary(s, mesh);
  return std::vector<uint8_t>(s.begin(), s.end());
}

void write_stl_binary(const Mesh& mesh, const std::string& path) {
  validate(mesh);
  OutFile out(path);
  append_stl_binary(out.buf(), mesh);
  out.close();
}

void write_stl_ascii(const Mesh& mesh, const std::string& path) {
  validate(mesh);
  OutFile out(path);
  std::string& s = out.buf();
  s += "solid screen3d\n";
  for (const Tri& t : mesh.triangles) {
    const Vec3f& a = mesh.vertices[t[0]];
    const Vec3f& b = mesh.vertices[t[1]];
    const Vec3f& c = mesh.vertices[t[2]];
    s += "facet normal ";
    append_vec(s, facet_normal(a, b, c));
    s += "\n outer loop\n";
    for (const Vec3f* v : {&a, &b, &c}) {
      s += "  vertex ";
      append_vec(s, *v);
      s += '\n';
    }
    s += " endloop\nendfacet\n";
    out.maybe_flush();
  }
  s += "endsolid screen3d\n";
  out.close();
}

void write_glb(const Mesh& mesh, const std::string& path) {
  validate(mesh);
  std::vector<uint8_t> bin;
  auto put = [&bin](const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    bin.insert(bin.end(), b, b + n);
  };
  std::array<float, 3> lo{}, hi{};
  for (size_t i = 0; i < mesh.vertices.size(); ++i) {
    put(mesh.vertices[i].data(), 12);
    for (size_t k = 0; k < 3; ++k) {
      lo[k] = i == 0 ? mesh.vertices[i][k] : std::min(lo[k], mesh.vertices[i][k]);
      hi[k] = i == 0 ? mesh.vertices[i][k] : std::max(hi[k], mesh.vertices[i][k]);
    }
  }
  const size_t pos_bytes = bin.size();
  using json = nlohmann::json;
  json accessors = json::array(), views = json::array(), prims = json::array();
  views.push_back({{"buffer", 0}, {"byteOffset", 0}, {"byteLength", pos_bytes}});
  accessors.push_back({{"bufferView", 0}, {"componentType", 5126}, {"count", mesh.vertices.size()}, {"type", "VEC3"},
                       {"min", lo}, {"max", hi}});
  for (const auto& [b, e] : object_ranges(mesh)) {
    const size_t start = bin.size();
    for (size_t i = b; i < e; ++i) put(mesh.triangles[i].data(), 12);
    views.push_back({{"buffer", 0}, {"byteOffset", start}, {"byteLength", bin.size() - start}});
    accessors.push_back({{"bufferView", views.size() - 1}, {"componentType", 5125}, {"count", 3 * (e - b)}, {"type", "SCALAR"}});
    prims.push_back({{"attributes", {{"POSITION", 0}}}, {"indices", accessors.size() - 1}, {"mode", 4}});
  }
  const json doc = {{"asset", {{"version", "2.0"}, {"generator", "screen3d"}}},
                    {"scene", 0},
                    {"scenes", {{{"nodes", {0}}}}},
                    {"nodes", {{{"mesh", 0}, {"scale", {0.001, 0.001, 0.001}}}}},
                    {"meshes", {{{"primitives", prims}}}},
                    {"accessors", accessors},
                    {"bufferViews", views},
                    {"buffers", {{{"byteLength", bin.size()}}}}};
  std::string text = doc.dump();
  while (text.size() % 4) text += ' ';
  while (bin.size() % 4) bin.push_back(0);
  OutFile out(path);
  std::string& s = out.buf();
  auto u32 = [&s](uint32_t v) { s.append(reinterpret_cast<const char*>(&v), 4); };
  u32(0x46546C67);  // "glTF"
  u32(2);
  u32(static_cast<uint32_t>(12 + 8 + text.size() + 8 + bin.size()));
  u32(static_cast<uint32_t>(text.size()));
  u32(0x4E4F534A);  // "JSON"
  s += text;
  u32(static_cast<uint32_t>(bin.size()));
  u32(0x004E4942);  // "BIN"
  s.append(reinterpret_cast<const char*>(bin.data()), bin.size());
  out.close();
}

void write_obj(const Mesh& mesh, const std::string& path) {
  validate(mesh);
  OutFile out(path);
  std::string& s = out.buf();
  s += "# written by screen3d\n";
  for (const Vec3f& v : mesh.vertices) {
    s += "v ";
    append_vec(s, v);
    s += '\n';
    out.maybe_flush();
  }
  const auto ranges = object_ranges(mesh);
  for (size_t k = 0; k < ranges.size(); ++k) {
    s += "o object_";
    append_uint(s, k + 1);
    s += '\n';
    for (size_t i = ranges[k].first; i < ranges[k].second; ++i) {
      const Tri& t = mesh.triangles[i];
      s += "f ";
      append_uint(s, uint64_t{t[0]} + 1);
      s += ' ';
      append_uint(s, uint64_t{t[1]} + 1);
      s += ' ';
      append_uint(s, uint64_t{t[2]} + 1);
      s += '\n';
      out.maybe_flush();
    }
  }
  out.close();
}

void write_ply(const Mesh& mesh, const std::string& path) {
  validate(mesh);
  OutFile out(path);
  std::string& s = out.buf();
  s += "ply\nformat binary_little_endian 1.0\ncomment written by screen3d\nelement vertex ";
  append_uint(s, mesh.vertices.size());
  s += "\nproperty float x\nproperty float y\nproperty float z\nelement face ";
  append_uint(s, mesh.triangles.size());
  s += "\nproperty list uchar int vertex_indices\nend_header\n";
  for (const Vec3f& v : mesh.vertices) {
    for (float f : v) put_f32(s, f);
    out.maybe_flush();
  }
  for (const Tri& t : mesh.triangles) {
    s.push_back(3);
    for (uint32_t i : t) put_le32(s, i);
    out.maybe_flush();
  }
  out.close();
}

void write_off(const Mesh& mesh, const std::string& path) {
  validate(mesh);
  OutFile out(path);
  std::string& s = out.buf();
  s += "OFF\n";
  append_uint(s, mesh.vertices.size());
  s += ' ';
  append_uint(s, mesh.triangles.size());
  s += " 0\n";
  for (const Vec3f& v : mesh.vertices) {
    append_vec(s, v);
    s += '\n';
    out.maybe_flush();
  }
  for (const Tri& t : mesh.triangles) {
    s += "3 ";
    append_uint(s, t[0]);
    s += ' ';
    append_uint(s, t[1]);
    s += ' ';
    append_uint(s, t[2]);
    s += '\n';
    out.maybe_flush();
  }
  out.close();
}

void write_amf(const Mesh& mesh, const std::string& path) {
  validate(mesh);
  OutFile out(path);
  std::string& s = out.buf();
  s += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<amf unit=\"millimeter\" version=\"1.1\">\n";
  const auto ranges = object_ranges(mesh);
  for (size_t k = 0; k < ranges.size(); ++k) {
    const Mesh p = sub_mesh(mesh, ranges[k].first, ranges[k].second);
    s += "<object id=\"";
    append_uint(s, k);
    s += "\"><mesh><vertices>\n";
    for (const Vec3f& v : p.vertices) {
      s += "<vertex><coordinates><x>";
      append_float(s, v[0]);
      s += "</x><y>";
      append_float(s, v[1]);
      s += "</y><z>";
      append_float(s, v[2]);
      s += "</z></coordinates></vertex>\n";
      out.maybe_flush();
    }
    s += "</vertices><volume>\n";
    for (const Tri& t : p.triangles) {
      s += "<triangle><v1>";
      append_uint(s, t[0]);
      s += "</v1><v2>";
      append_uint(s, t[1]);
      s += "</v2><v3>";
      append_uint(s, t[2]);
      s += "</v3></triangle>\n";
      out.maybe_flush();
    }
    s += "</volume></mesh></object>\n";
  }
  s += "</amf>\n";
  out.close();
}

void write_3mf(const Mesh& mesh, const std::string& path, const std::string& unit) {
  validate(mesh);
  std::string model = model_header(unit);
  const auto ranges = object_ranges(mesh);
  for (size_t k = 0; k < ranges.size(); ++k)
    append_3mf_object(model, static_cast<uint32_t>(k + 1), sub_mesh(mesh, ranges[k].first, ranges[k].second));
  model += "</resources>\n<build>\n";
  for (size_t k = 0; k < ranges.size(); ++k) {
    model += "<item objectid=\"";
    append_uint(model, k + 1);
    model += "\"/>\n";
  }
  model += "</build>\n</model>\n";
  write_3mf_package(model, path);
}

void write_3mf_items(const std::vector<Mesh>& objects, const std::vector<std::array<double, 12>>& item_transforms,
                     const std::string& unit, const std::string& path) {
  if (objects.size() != item_transforms.size())
    throw std::invalid_argument("write_3mf_items needs one transform per object");
  std::string model = model_header(unit);
  for (size_t k = 0; k < objects.size(); ++k) {
    validate(objects[k]);
    append_3mf_object(model, static_cast<uint32_t>(k + 1), sub_mesh(objects[k], 0, objects[k].triangles.size()));
  }
  model += "</resources>\n<build>\n";
  for (size_t k = 0; k < objects.size(); ++k) {
    model += "<item objectid=\"";
    append_uint(model, k + 1);
    model += "\" transform=\"";
    for (size_t i = 0; i < 12; ++i) {
      if (i) model += ' ';
      append_double(model, item_transforms[k][i]);
    }
    model += "\"/>\n";
  }
  model += "</build>\n</model>\n";
  write_3mf_package(model, path);
}

}  // namespace s3d
