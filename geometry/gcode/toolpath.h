#pragma once
// The toolpath model between the streaming G-code reader (gcode_reader.h) and the reconstruction
// (reconstruct.h): extrusion moves grouped into layers, plus the object labels a slicer may declare.
// Only plain structs: the reader knows nothing about geometry reconstruction and vice versa.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace s3d::gcode {

// One straight extruding move in millimetres (arcs are already split into short chords).
struct ExtrusionMove {
  float x0, y0, x1, y1;  // start and end in the XY plane (absolute machine coordinates, mm)
  float z;               // nozzle height of the move (mm)
  float e;               // filament length pushed during the move (mm, > 0)
  float width;           // extrusion width in mm: from a ;WIDTH: comment when present, else from E,
                         //   path length, layer height and filament diameter; 0 when unknown
  uint16_t tool;         // active tool (T<n>), 0 by default
  int32_t object;        // object label index (see ObjectLabel) or -1 when the file declares none
};

// All extruding moves at one layer height, in file order. A layer starts when extrusion happens at a
// new Z (Z hops and travel moves without extrusion do not start layers), never from comments.
struct Layer {
  uint32_t index = 0;     // 0-based, in the order layers were completed
  float z = 0;            // nozzle height (top of the layer), mm
  float height = 0;       // z minus the previous layer's z (the first layer: its z), mm
  std::vector<ExtrusionMove> moves;
};

// An object declared by the file (Klipper EXCLUDE_OBJECT_DEFINE, or M486 S<n> [A"name"]).
struct ObjectLabel {
  int32_t index = -1;                              // the value ExtrusionMove::object refers to
  std::string name;                                // may be empty (M486 without A)
  std::vector<std::array<float, 2>> polygon;       // EXCLUDE_OBJECT_DEFINE POLYGON, may be empty
};

// Receives the reader's output. on_layer is called once per completed layer; the reader does not
// keep layers after handing them over, so memory is bounded by about one layer of moves.
class ToolpathSink {
 public:
  virtual ~ToolpathSink() = default;
  virtual void on_object(const ObjectLabel& label) = 0;  // when first declared or first seen
  virtual void on_layer(Layer&& layer) = 0;
};

}  // namespace s3d::gcode
