#pragma once
// Writers that turn a Mesh back into the file formats screen3d reads. Tests use them to build
// inputs, and the evaluation tool uses them to make `format` variants of a reference mesh, so
// every writer round-trips coordinates exactly (shortest decimal form that parses back to the
// same float). File writers throw std::runtime_error when the file cannot be written and
// std::invalid_argument for a mesh whose indices or object_starts are out of range.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "geometry/mesh.h"

namespace s3d {

// Binary STL (80-byte header not starting with "solid", facet normals from the vertex order).
void write_stl_binary(const Mesh& mesh, const std::string& path);
std::vector<uint8_t> to_stl_binary(const Mesh& mesh);

// ASCII STL, one solid.
void write_stl_ascii(const Mesh& mesh, const std::string& path);

// Wavefront OBJ: all vertices, then faces, one "o" group per Mesh object.
void write_obj(const Mesh& mesh, const std::string& path);

// PLY, binary little-endian: float x y z, faces as "list uchar int vertex_indices".
void write_ply(const Mesh& mesh, const std::string& path);

// OFF (ASCII).
void write_off(const Mesh& mesh, const std::string& path);

// AMF (uncompressed XML), one <object> per Mesh object, unit="millimeter".
void write_amf(const Mesh& mesh, const std::string& path);

// glTF 2.0 binary (.glb): one mesh whose primitives are the Mesh objects, positions as floats in
// millimetres under a root node scaled by 0.001 (glTF's unit is the metre), so the coordinates
// round-trip exactly; uint32 indices.
void write_glb(const Mesh& mesh, const std::string& path);

// 3MF: one <object> and one build item (no transform) per Mesh object. Coordinates are written as
// they are and labelled with `unit` (micron, millimeter, centimeter, inch, foot, meter), so a
// reader scales them by that unit.
void write_3mf(const Mesh& mesh, const std::string& path, const std::string& unit = "millimeter");

// 3MF with one <object> per element of `objects` and one build item per object, item i placing
// objects[i] with item_transforms[i] written verbatim in 3MF order
// "m00 m01 m02 m10 m11 m12 m20 m21 m22 m30 m31 m32" (row vectors: p' = p * M).
// The two vectors must have the same size.
void write_3mf_items(const std::vector<Mesh>& objects, const std::vector<std::array<double, 12>>& item_transforms,
                     const std::string& unit, const std::string& path);

}  // namespace s3d
