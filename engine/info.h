#pragma once
// `screen3d info`: the facts of one input as a contract JSON object (contract.md, `info --json`) or
// as a few aligned lines for people.
#include <nlohmann/json.hpp>
#include <string>

#include "engine/input.h"
#include "geometry/mesh_facts.h"

namespace s3d {

// Computes the facts of a loaded input. On failure (e.g. an invalid mesh) records the reason in
// in.error and returns false. Never throws. Frees nothing; the caller may reset in.mesh afterwards.
bool compute_input_facts(LoadedInput& in, MeshFacts& facts);

// The contract object, keys in contract order: path, sha256, format, triangles, vertices, bodies,
// area_mm2, volume_mm3, aabb{min,max}, obb_extents, watertight, manifold, degenerate_triangles, error.
// When in.error is set: path, sha256 (null if the bytes could not be read), format (as detected) and
// error only. Otherwise `facts` must be given (null -> computed from in.mesh here).
// Float coordinates and OBB extents are written with the shortest text that round-trips as float.
nlohmann::ordered_json info_json(const LoadedInput& in, const MeshFacts* facts = nullptr);

// The object as one line of JSON (invalid UTF-8 in paths replaced, never throws for that).
std::string info_json_line(const LoadedInput& in, const MeshFacts* facts = nullptr);

// Human output: the path, then aligned "  key  value" lines, ending with a newline. For an input
// with an error: the path and an "  error  <reason>" line.
std::string info_text(const LoadedInput& in, const MeshFacts* facts = nullptr);

}  // namespace s3d
