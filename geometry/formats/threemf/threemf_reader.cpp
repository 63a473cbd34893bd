// 3MF reader: an OPC zip holding XML model parts (3MF Core spec 1.x plus the Production extension).
//
// The root model part comes from _rels/.rels (relationship type .../3dmodel), else 3D/3dmodel.model,
// else the first member named *.model. Every <build><item> becomes one object of the Mesh: the
// item's object is expanded through its components (recursively, depth-limited, cycle-checked,
// following p:path into other model parts as Bambu Studio / OrcaSlicer write them), each mesh
// transformed by the composed transforms and scaled from the model's unit into millimetres.
// Vertices are used as the file shares them (3MF meshes are indexed); indices are validated.
#include <pugixml.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "geometry/formats/reader.h"
#include "geometry/formats/tokens.h"
#include "geometry/formats/threemf/zip_archive.h"
#include "geometry/load_error.h"

namespace s3d::formats::threemf {

namespace {

constexpr uint32_t kMaxComponentDepth = 32;
// Bounds the work of expanding a component graph whose leaves are empty (a DAG can describe an
// exponential number of instances in a few bytes).
constexpr uint64_t kMaxInstances = 10'000'000;
constexpr const char* kDefaultModelPart = "3D/3dmodel.model";

// Affine map in column-vector form: p' = A p + t, stored as rows [A | t].
struct Affine {
  std::array<std::array<double, 4>, 3> m{{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}}};
};

// outer ∘ inner: apply inner first.
Affine compose(const Affine& outer, const Affine& inner) {
  Affine r;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 4; ++j) {
      double s = j == 3 ? outer.m[i][3] : 0.0;
      for (int k = 0; k < 3; ++k) s += outer.m[i][k] * inner.m[k][j];
      r.m[i][j] = s;
    }
  }
  return r;
}

using text::trim;

bool parse_double(std::string_view s, double& out) { return text::parse_number(trim(s), out); }
bool parse_u32(std::string_view s, uint32_t& out) { return text::parse_number(trim(s), out); }

// 3MF ST_Matrix3D: "m00 m01 m02 m10 m11 m12 m20 m21 m22 m30 m31 m32", points are row vectors
// multiplied on the left (p' = p M), so x' = x m00 + y m10 + z m20 + m30 and so on.
Affine parse_transform(const char* text, const std::string& where) {
  std::string_view s(text);
  double v[12];
  int n = 0;
  size_t pos = 0;
  while (pos < s.size()) {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r')) ++pos;
    if (pos >= s.size()) break;
    size_t end = pos;
    while (end < s.size() && s[end] != ' ' && s[end] != '\t' && s[end] != '\n' && s[end] != '\r') ++end;
    if (n == 12 || !parse_double(s.substr(pos, end - pos), v[n]))
      throw LoadError(ErrorCode::kMalformed, where + " has a malformed transform (need 12 numbers)");
    if (!std::isfinite(v[n])) throw LoadError(ErrorCode::kBadValue, where + " has a non-finite transform value");
    ++n;
    pos = end;
  }
  if (n != 12) throw LoadError(ErrorCode::kMalformed, where + " has a malformed transform (need 12 numbers)");
  Affine a;
  for (int row = 0; row < 3; ++row) {      // input row index i of m_ij
    for (int col = 0; col < 3; ++col) {    // output coordinate j
      a.m[col][row] = v[row * 3 + col];
    }
  }
  for (int col = 0; col < 3; ++col) a.m[col][3] = v[9 + col];
  return a;
}

const char* local_name(const char* qname) {
  const char* colon = std::strrchr(qname, ':');
  return colon ? colon + 1 : qname;
}

bool is_named(const pugi::xml_node& n, const char* name) {
  return n.type() == pugi::node_element && std::strcmp(local_name(n.name()), name) == 0;
}

pugi::xml_node child_named(const pugi::xml_node& parent, const char* name) {
  for (pugi::xml_node c = parent.first_child(); c; c = c.next_sibling())
    if (is_named(c, name)) return c;
  return {};
}

// The production extension's path attribute, whatever prefix the file bound its namespace to.
const char* path_attribute(const pugi::xml_node& n) {
  for (pugi::xml_attribute a = n.first_attribute(); a; a = a.next_attribute())
    if (std::strcmp(local_name(a.name()), "path") == 0) return a.value();
  return nullptr;
}

std::string canonical_part_name(std::string name) {
  while (!name.empty() && name.front() == '/') name.erase(name.begin());
  for (char& c : name)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return name;
}

double unit_scale(std::string_view unit) {
  unit = trim(unit);
  if (unit.empty() || unit == "millimeter") return 1.0;
  if (unit == "micron") return 0.001;
  if (unit == "centimeter") return 10.0;
  if (unit == "inch") return 25.4;
  if (unit == "foot") return 304.8;
  if (unit == "meter") return 1000.0;
  throw LoadError(ErrorCode::kBadValue, "unknown 3MF unit \"" + std::string(unit.substr(0, 40)) + "\"");
}

struct ObjectMesh {
  std::vector<std::array<double, 3>> vertices;
  std::vector<Tri> triangles;
};

struct ModelPart {
  std::string name;
  std::vector<char> xml;  // parsed in place: must outlive doc
  pugi::xml_document doc;
  pugi::xml_node model;
  std::unordered_map<uint32_t, pugi::xml_node> objects;
  std::unordered_map<uint32_t, ObjectMesh> meshes;
};

// Keeps only vertices some triangle uses, so an instance never costs more than 3 vertices per
// triangle (the triangle limit then bounds the vertex memory too).
void drop_unreferenced_vertices(ObjectMesh& m) {
  constexpr uint32_t kUnused = UINT32_MAX;
  std::vector<uint32_t> remap(m.vertices.size(), kUnused);
  uint32_t next = 0;
  for (const Tri& t : m.triangles)
    for (uint32_t v : t)
      if (remap[v] == kUnused) remap[v] = next++;
  if (next == m.vertices.size()) return;
  std::vector<std::array<double, 3>> kept(next);
  for (size_t i = 0; i < m.vertices.size(); ++i)
    if (remap[i] != kUnused) kept[remap[i]] = m.vertices[i];
  for (Tri& t : m.triangles)
    for (uint32_t& v : t) v = remap[v];
  m.vertices = std::move(kept);
}

std::string object_where(const ModelPart& part, uint32_t id) {
  return "3MF object " + std::to_string(id) + " in " + part.name;
}

class ModelReader {
 public:
  ModelReader(ZipArchive& zip, const Limits& limits) : zip_(zip), limits_(limits) {}

  Mesh run() {
    ModelPart& root = load_part(find_root_part());
    scale_ = unit_scale(root.model.attribute("unit").value());
    Mesh result;
    const pugi::xml_node build = child_named(root.model, "build");
    for (pugi::xml_node item = build.first_child(); item; item = item.next_sibling()) {
      if (!is_named(item, "item")) continue;
      uint32_t id = 0;
      if (!parse_u32(item.attribute("objectid").value(), id))
        throw LoadError(ErrorCode::kMalformed, "3MF build item lacks a valid objectid");
      Affine t;
      if (const pugi::xml_attribute tr = item.attribute("transform"))
        t = parse_transform(tr.value(), "3MF build item for object " + std::to_string(id));
      ModelPart* part = &root;
      if (const char* p = path_attribute(item); p && *p) part = &load_part_by_path(p);
      Mesh object;
      std::vector<std::pair<const ModelPart*, uint32_t>> stack;
      emit(*part, id, t, 0, stack, object);
      if (result.vertices.size() + object.vertices.size() > UINT32_MAX)
        throw LoadError(ErrorCode::kLimitExceeded, "3MF holds more than 2^32 vertices");
      append_object(result, object);
    }
    return result;
  }

 private:
  std::string find_root_part() {
    if (const auto rels = zip_.find("_rels/.rels")) {
      std::vector<char> xml = zip_.read(*rels);
      pugi::xml_document doc;
      if (doc.load_buffer_inplace(xml.data(), xml.size(), pugi::parse_minimal | pugi::parse_escapes)) {
        const pugi::xml_node rs = child_named(doc, "Relationships");
        for (pugi::xml_node r = rs.first_child(); r; r = r.next_sibling()) {
          if (!is_named(r, "Relationship")) continue;
          const std::string_view type = r.attribute("Type").value();
          const std::string_view suffix = "/3dmodel";
          if (type.size() < suffix.size() || type.substr(type.size() - suffix.size()) != suffix) continue;
          const std::string target = r.attribute("Target").value();
          if (zip_.find(target)) return target;
        }
      }
    }
    if (zip_.find(kDefaultModelPart)) return kDefaultModelPart;
    for (uint64_t i = 0; i < zip_.entry_count(); ++i) {
      const std::string name = zip_.entry_name(i);
      if (name.size() > 6 && canonical_part_name(name.substr(name.size() - 6)) == ".model") return name;
    }
    throw LoadError(ErrorCode::kMalformed, "3MF has no 3D model part");
  }

  ModelPart& load_part_by_path(const char* path) { return load_part(path, /*referenced=*/true); }

  ModelPart& load_part(const std::string& name, bool referenced = false) {
    const std::string key = canonical_part_name(name);
    if (auto it = parts_.find(key); it != parts_.end()) return *it->second;
    const auto index = zip_.find(name);
    if (!index) {
      if (referenced)
        throw LoadError(ErrorCode::kMalformed, "3MF references missing model part " + name.substr(0, 200));
      throw LoadError(ErrorCode::kMalformed, "3MF has no 3D model part");
    }
    auto part = std::make_unique<ModelPart>();
    part->name = key;
    part->xml = zip_.read(*index);
    const pugi::xml_parse_result res = part->doc.load_buffer_inplace(
        part->xml.data(), part->xml.size(), pugi::parse_minimal | pugi::parse_escapes, pugi::encoding_auto);
    if (!res)
      throw LoadError(ErrorCode::kMalformed, "3MF model part " + key + " is not valid XML (" + res.description() +
                                                 " at byte " + std::to_string(res.offset) + ")");
    part->model = child_named(part->doc, "model");
    if (!part->model) throw LoadError(ErrorCode::kMalformed, "3MF model part " + key + " has no <model> element");
    const pugi::xml_node resources = child_named(part->model, "resources");
    for (pugi::xml_node o = resources.first_child(); o; o = o.next_sibling()) {
      if (!is_named(o, "object")) continue;
      uint32_t id = 0;
      if (!parse_u32(o.attribute("id").value(), id))
        throw LoadError(ErrorCode::kMalformed, "3MF object in " + key + " lacks a valid id");
      part->objects.emplace(id, o);  // first definition wins
    }
    ModelPart& ref = *part;
    parts_.emplace(key, std::move(part));
    return ref;
  }

  const ObjectMesh& object_mesh(ModelPart& part, uint32_t id, const pugi::xml_node& mesh_node) {
    if (auto it = part.meshes.find(id); it != part.meshes.end()) return it->second;
    ObjectMesh m;
    const std::string where = object_where(part, id);
    const pugi::xml_node vertices = child_named(mesh_node, "vertices");
    for (pugi::xml_node v = vertices.first_child(); v; v = v.next_sibling()) {
      if (!is_named(v, "vertex")) continue;
      check_stop_every(limits_, m.vertices.size());
      std::array<double, 3> p;
      static constexpr const char* kAxis[3] = {"x", "y", "z"};
      for (int k = 0; k < 3; ++k) {
        if (!parse_double(v.attribute(kAxis[k]).value(), p[k]))
          throw LoadError(ErrorCode::kMalformed, where + ": vertex " + std::to_string(m.vertices.size()) +
                                                     " has a missing or malformed " + kAxis[k]);
        if (!std::isfinite(p[k]))
          throw LoadError(ErrorCode::kBadValue,
                          where + ": vertex " + std::to_string(m.vertices.size()) + " has a non-finite coordinate");
      }
      m.vertices.push_back(p);
    }
    const auto nv = static_cast<uint64_t>(m.vertices.size());
    if (nv > UINT32_MAX) throw LoadError(ErrorCode::kLimitExceeded, where + " has more than 2^32 vertices");
    const pugi::xml_node triangles = child_named(mesh_node, "triangles");
    for (pugi::xml_node t = triangles.first_child(); t; t = t.next_sibling()) {
      if (!is_named(t, "triangle")) continue;
      check_stop_every(limits_, m.triangles.size());
      if (m.triangles.size() >= limits_.max_triangles) throw too_many_triangles();
      Tri tri;
      static constexpr const char* kCorner[3] = {"v1", "v2", "v3"};
      for (int k = 0; k < 3; ++k) {
        const char* text = t.attribute(kCorner[k]).value();
        if (!parse_u32(text, tri[k])) {
          // A negative or oversized index is a bad value; a missing one is malformed.
          if (*text == 0)
            throw LoadError(ErrorCode::kMalformed,
                            where + ": triangle " + std::to_string(m.triangles.size()) + " lacks " + kCorner[k]);
          throw LoadError(ErrorCode::kBadValue, where + ": triangle " + std::to_string(m.triangles.size()) +
                                                    " has invalid index \"" + std::string(text).substr(0, 40) + "\"");
        }
        if (tri[k] >= nv)
          throw LoadError(ErrorCode::kBadValue, where + ": triangle " + std::to_string(m.triangles.size()) +
                                                    " references vertex " + std::to_string(tri[k]) + " of " +
                                                    std::to_string(nv));
      }
      m.triangles.push_back(tri);
    }
    drop_unreferenced_vertices(m);
    return part.meshes.emplace(id, std::move(m)).first->second;
  }

  LoadError too_many_triangles() const {
    return LoadError(ErrorCode::kLimitExceeded, "3MF holds more than " + std::to_string(limits_.max_triangles) +
                                                    " triangles (max_triangles)");
  }

  void emit(ModelPart& part, uint32_t id, const Affine& t, uint32_t depth,
            std::vector<std::pair<const ModelPart*, uint32_t>>& stack, Mesh& out) {
    if (++instances_ > kMaxInstances)
      throw LoadError(ErrorCode::kLimitExceeded,
                      "3MF component graph expands to more than " + std::to_string(kMaxInstances) + " instances");
    if (depth > kMaxComponentDepth)
      throw LoadError(ErrorCode::kMalformed,
                      "3MF components nest deeper than " + std::to_string(kMaxComponentDepth) + " levels");
    for (const auto& s : stack)
      if (s.first == &part && s.second == id)
        throw LoadError(ErrorCode::kMalformed, "3MF component cycle through object " + std::to_string(id));
    const auto it = part.objects.find(id);
    if (it == part.objects.end())
      throw LoadError(ErrorCode::kMalformed,
                      "3MF references object " + std::to_string(id) + " missing from " + part.name);
    const pugi::xml_node object = it->second;
    // Objects of type "support" or "other" are screened like any other: the spec says "other" is
    // not meant to be printed and PrusaSlicer refuses both in a build item, but a slicer that prints
    // them would otherwise let a type attribute hide a part. The file is noted once per type.
    const std::string_view type = object.attribute("type").value();
    if (type == "other" || type == "support") {
      const std::string note = "3MF objects of type \"" + std::string(type) +
                               "\" (not meant to be printed as parts) were screened as printed geometry";
      if (std::find(out.notes.begin(), out.notes.end(), note) == out.notes.end()) out.notes.push_back(note);
    }

    stack.emplace_back(&part, id);
    if (const pugi::xml_node mesh_node = child_named(object, "mesh")) {
      const ObjectMesh& m = object_mesh(part, id, mesh_node);
      append_transformed(m, t, part, id, out);
    }
    if (const pugi::xml_node comps = child_named(object, "components")) {
      for (pugi::xml_node c = comps.first_child(); c; c = c.next_sibling()) {
        if (!is_named(c, "component")) continue;
        uint32_t cid = 0;
        if (!parse_u32(c.attribute("objectid").value(), cid))
          throw LoadError(ErrorCode::kMalformed, object_where(part, id) + " has a component without a valid objectid");
        Affine ct = t;
        if (const pugi::xml_attribute tr = c.attribute("transform"))
          ct = compose(t, parse_transform(tr.value(), object_where(part, id) + " component"));
        ModelPart* target = &part;
        if (const char* p = path_attribute(c); p && *p) target = &load_part_by_path(p);
        emit(*target, cid, ct, depth + 1, stack, out);
      }
    }
    stack.pop_back();
  }

  void append_transformed(const ObjectMesh& m, const Affine& t, const ModelPart& part, uint32_t id, Mesh& out) {
    if (m.triangles.empty()) return;
    if (m.triangles.size() > limits_.max_triangles - std::min(triangles_out_, limits_.max_triangles))
      throw too_many_triangles();
    if (out.vertices.size() + m.vertices.size() > UINT32_MAX)
      throw LoadError(ErrorCode::kLimitExceeded, "3MF object holds more than 2^32 vertices");
    triangles_out_ += m.triangles.size();
    const auto base = static_cast<uint32_t>(out.vertices.size());
    out.vertices.reserve(out.vertices.size() + m.vertices.size());
    for (const auto& p : m.vertices) {
      Vec3f q;
      for (int i = 0; i < 3; ++i) {
        const double v = (t.m[i][0] * p[0] + t.m[i][1] * p[1] + t.m[i][2] * p[2] + t.m[i][3]) * scale_;
        q[i] = static_cast<float>(v);
        if (!std::isfinite(q[i]))
          throw LoadError(ErrorCode::kBadValue, object_where(part, id) + " has a coordinate out of float range");
      }
      out.vertices.push_back(q);
    }
    // A mirroring transform turns an outward-facing mesh inside out; swap the winding back.
    const auto& a = t.m;
    const double det = a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
                       a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
                       a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
    out.triangles.reserve(out.triangles.size() + m.triangles.size());
    for (const Tri& tri : m.triangles) {
      if (det < 0)
        out.triangles.push_back({tri[0] + base, tri[2] + base, tri[1] + base});
      else
        out.triangles.push_back({tri[0] + base, tri[1] + base, tri[2] + base});
    }
  }

  ZipArchive& zip_;
  const Limits& limits_;
  std::map<std::string, std::unique_ptr<ModelPart>> parts_;
  double scale_ = 1.0;
  uint64_t triangles_out_ = 0;
  uint64_t instances_ = 0;
};

}  // namespace

int probe(std::span<const uint8_t> data) {
  try {
    return zip_has_model_part(data) ? 90 : 0;
  } catch (...) {
    return 0;
  }
}

Mesh read(std::span<const uint8_t> data, const ReadOptions& opt) {
  if (data.size() > opt.limits.max_input_bytes)
    throw LoadError(ErrorCode::kLimitExceeded, "input is larger than max_input_bytes");
  ZipArchive zip(data, opt.limits);
  ModelReader reader(zip, opt.limits);
  return reader.run();
}

}  // namespace s3d::formats::threemf
