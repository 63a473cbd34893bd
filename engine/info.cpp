#include "engine/info.h"

#include <algorithm>
#include <array>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>

namespace s3d {
namespace {

// The shortest decimal that reads back as the same float, as a double (so JSON shows 0.1, not
// 0.10000000149011612).
double shortest(double v) {
  const float f = static_cast<float>(v);
  if (!std::isfinite(f)) return v;
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf - 1, f);
  if (res.ec != std::errc()) return v;
  *res.ptr = '\0';
  return std::strtod(buf, nullptr);
}

std::string fmt_number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

std::string fmt_float(double v) {
  const float f = static_cast<float>(v);
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, f);
  return res.ec == std::errc() ? std::string(buf, res.ptr) : fmt_number(v);
}

// Facts from the caller or computed now; nullopt (with in.error unchanged) if they cannot be had.
std::optional<MeshFacts> resolve(const LoadedInput& in, const MeshFacts* facts, std::string& error) {
  if (facts) return *facts;
  if (!in.mesh) {
    error = "no mesh";
    return std::nullopt;
  }
  try {
    return compute_facts(*in.mesh);
  } catch (const std::exception& e) {
    error = one_line(std::string("cannot compute facts: ") + e.what());
  } catch (...) {
    error = "cannot compute facts";
  }
  return std::nullopt;
}

nlohmann::ordered_json error_json(const LoadedInput& in, const std::string& error) {
  nlohmann::ordered_json j;
  j["path"] = in.path;
  j["sha256"] = in.sha256.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(in.sha256);
  j["format"] = std::string(format_name(in.format));
  j["error"] = error;
  return j;
}

// Facts of G-code (reconstructed prints): layers, bodies, extrusion moves, estimated area, box of the
// reconstructed surface. The mesh-only fields are absent.
struct PrintFacts {
  uint64_t layers = 0, bodies = 0, moves = 0;
  double area = 0;
  bool labelled = false;
  std::array<double, 3> lo{0, 0, 0}, hi{0, 0, 0};
};

PrintFacts print_facts(const LoadedInput& in) {
  PrintFacts f;
  bool any = false;
  for (const gcode::Print& p : in.prints) {
    f.layers += p.sample.layers;
    f.bodies += p.sample.bodies;
    f.moves += p.stats.extrusion_moves;
    f.area += p.sample.surface_area;
    f.labelled |= p.sample.labelled;
    for (const Vec3f& v : p.sample.sample.points)
      for (int k = 0; k < 3; ++k) {
        if (!any) f.lo[k] = f.hi[k] = v[k];
        f.lo[k] = std::min<double>(f.lo[k], v[k]);
        f.hi[k] = std::max<double>(f.hi[k], v[k]);
        if (k == 2) any = true;
      }
  }
  return f;
}

}  // namespace

bool compute_input_facts(LoadedInput& in, MeshFacts& facts) {
  if (!in.ok()) return false;
  if (!in.prints.empty()) return true;
  std::string error;
  std::optional<MeshFacts> f = resolve(in, nullptr, error);
  if (!f) {
    in.error = error;
    in.mesh.reset();
    return false;
  }
  facts = *f;
  return true;
}

nlohmann::ordered_json info_json(const LoadedInput& in, const MeshFacts* facts) {
  if (!in.ok()) return error_json(in, in.error);
  if (!in.prints.empty()) {
    const PrintFacts f = print_facts(in);
    nlohmann::ordered_json j;
    j["path"] = in.path;
    j["sha256"] = in.sha256;
    j["format"] = std::string(format_name(in.format));
    j["prints"] = in.prints.size();
    j["layers"] = f.layers;
    j["extrusion_moves"] = f.moves;
    j["bodies"] = f.bodies;
    j["labelled"] = f.labelled;
    j["area_mm2"] = f.area;
    nlohmann::ordered_json aabb;
    aabb["min"] = {shortest(f.lo[0]), shortest(f.lo[1]), shortest(f.lo[2])};
    aabb["max"] = {shortest(f.hi[0]), shortest(f.hi[1]), shortest(f.hi[2])};
    j["aabb"] = std::move(aabb);
    j["error"] = nullptr;
    return j;
  }
  std::string error;
  const std::optional<MeshFacts> f = resolve(in, facts, error);
  if (!f) return error_json(in, error);

  nlohmann::ordered_json j;
  j["path"] = in.path;
  j["sha256"] = in.sha256;
  j["format"] = std::string(format_name(in.format));
  j["triangles"] = f->triangles;
  j["vertices"] = f->vertices;
  j["bodies"] = f->bodies;
  j["area_mm2"] = f->area_mm2;
  j["volume_mm3"] = f->volume_mm3;
  nlohmann::ordered_json aabb;
  aabb["min"] = {shortest(f->aabb_min[0]), shortest(f->aabb_min[1]), shortest(f->aabb_min[2])};
  aabb["max"] = {shortest(f->aabb_max[0]), shortest(f->aabb_max[1]), shortest(f->aabb_max[2])};
  j["aabb"] = std::move(aabb);
  j["obb_extents"] = {shortest(f->obb_extents[0]), shortest(f->obb_extents[1]), shortest(f->obb_extents[2])};
  j["watertight"] = f->watertight;
  j["manifold"] = f->manifold;
  j["degenerate_triangles"] = f->degenerate_triangles;
  if (!in.notes.empty()) j["notes"] = in.notes;
  j["error"] = nullptr;
  return j;
}

std::string info_json_line(const LoadedInput& in, const MeshFacts* facts) {
  return info_json(in, facts).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string info_text(const LoadedInput& in, const MeshFacts* facts) {
  std::string out = one_line(in.path) + "\n";
  const auto line = [&out](const char* key, const std::string& value) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "  %-12s ", key);
    out += buf;
    out += value;
    out += '\n';
  };
  std::string error = in.error;
  line("format", std::string(format_name(in.format)));
  if (!in.sha256.empty()) line("sha256", in.sha256);
  if (in.ok() && !in.prints.empty()) {
    const PrintFacts g = print_facts(in);
    if (in.prints.size() > 1) line("prints", std::to_string(in.prints.size()));
    line("layers", std::to_string(g.layers));
    line("moves", std::to_string(g.moves) + " extruding");
    line("bodies", std::to_string(g.bodies) + (g.labelled ? " (labelled by the file)" : " (separate footprints)"));
    line("area", fmt_number(g.area) + " mm2 (reconstructed surface)");
    line("aabb", "[" + fmt_float(g.lo[0]) + ", " + fmt_float(g.lo[1]) + ", " + fmt_float(g.lo[2]) + "] .. [" +
                     fmt_float(g.hi[0]) + ", " + fmt_float(g.hi[1]) + ", " + fmt_float(g.hi[2]) + "] mm");
    return out;
  }
  std::optional<MeshFacts> f;
  if (in.ok()) f = resolve(in, facts, error);
  if (!f) {
    line("error", one_line(error));
    return out;
  }
  line("triangles", std::to_string(f->triangles));
  line("vertices", std::to_string(f->vertices));
  line("bodies", std::to_string(f->bodies));
  line("area", fmt_number(f->area_mm2) + " mm2");
  line("volume", fmt_number(f->volume_mm3) + " mm3");
  line("aabb", "[" + fmt_float(f->aabb_min[0]) + ", " + fmt_float(f->aabb_min[1]) + ", " +
                   fmt_float(f->aabb_min[2]) + "] .. [" + fmt_float(f->aabb_max[0]) + ", " +
                   fmt_float(f->aabb_max[1]) + ", " + fmt_float(f->aabb_max[2]) + "] mm");
  line("obb extents", fmt_float(f->obb_extents[0]) + " x " + fmt_float(f->obb_extents[1]) + " x " +
                          fmt_float(f->obb_extents[2]) + " mm");
  line("watertight", f->watertight ? "yes" : "no");
  line("manifold", f->manifold ? "yes" : "no");
  line("degenerate", std::to_string(f->degenerate_triangles) + " triangles");
  for (const std::string& n : in.notes) line("note", one_line(n));
  return out;
}

}  // namespace s3d
