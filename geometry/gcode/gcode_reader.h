#pragma once
// Streaming G-code reader: text in arbitrary chunks, extrusion moves grouped into layers out (see
// toolpath.h). It understands what changes where plastic goes -- G0/G1, arcs G2/G3 (I/J and R
// forms, split into short chords), Marlin's cubic Bezier G5 (I/J/P/Q, chords too), coordinate
// offsets (M206/M428, G10 L2/L20 with G54..G59.3, G53, Klipper's SET_GCODE_OFFSET,
// SET_KINEMATIC_POSITION and SAVE/RESTORE_GCODE_STATE), the firmware's own transforms
// (RepRapFirmware's G68 rotation, M579 scaling and M556 skew, Marlin's M852 and Klipper's SET_SKEW
// skew, Marlin's M92 steps per mm relative to the values when printing began, X and Y taken as
// equal), G90/G91, M82/M83, G92, G20/G21, G28, firmware retraction G10/G11, tool changes T<n>,
// volumetric M200, M221 flow -- and the object labels slicers write (Klipper EXCLUDE_OBJECT_*,
// M486, PrusaSlicer / Bambu "; printing object" comments, Cura ";MESH:"). Everything else (heater,
// fan, Klipper macros, unknown commands) is tolerated and counted. Marlin, RepRapFirmware, Klipper
// and Prusa dialects are accepted: line numbers N123, *checksums, ';' and '(...)' comments,
// lowercase letters and words without spaces between them ("G1X10Y20E.5", as MeatPack leaves them).
//
// Layers come from Z motion with extrusion only, never from comments: a layer starts when a move
// extrudes at a Z other than the current layer's (Z hops and travel do not count). A move extrudes
// when E grows by more than a tiny epsilon while XY moves; retract/unretract-only moves do not.
// Memory is bounded by one layer of moves: each completed layer is moved into the sink.
//
// Bad input throws s3d::LoadError: binary bytes (kMalformed), non-finite or absurd numbers
// (|coordinate| > 1e5 mm: kBadValue), a line longer than max_line_bytes, a layer with more than
// max_moves_per_layer moves, more than max_layers layers or max_objects labels (kLimitExceeded,
// naming the limit). Long lines are an error, not skipped: a skipped line could hide geometry.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "geometry/gcode/toolpath.h"

namespace s3d::gcode {

struct ReaderOptions {
  float filament_diameter = 1.75f;      // mm; a "; filament_diameter = " comment seen earlier overrides it
  float arc_chord_mm = 0.5f;            // arcs are split into chords no longer than this (values < 0.01 mean 0.01)
  size_t max_moves_per_layer = 8'000'000;
  size_t max_line_bytes = 1 << 16;
  uint64_t max_layers = 200'000;
  uint32_t max_chords_per_arc = 4096;   // caps the work of one arc (chords get longer past it)
  uint32_t max_objects = 100'000;       // distinct object labels
  bool vector_lines = true;             // the AVX2 fast path for plain moves where the CPU has it
                                        //   (line_plan.h); false: the general parser for every line
};

class Reader {
 public:
  Reader(ToolpathSink& sink, ReaderOptions o = {});
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // Consumes the next piece of the file; split points are arbitrary (mid-line, mid-number). Calls
  // the sink for every layer completed so far. Throws LoadError for bad input; after a throw, or
  // after finish(), further calls throw std::logic_error.
  void feed(std::string_view chunk);

  // Parses a last line without '\n', hands over the last layer and any declared object that no move
  // referred to. Calling it twice, or feed() after it, throws std::logic_error.
  void finish();

  struct Stats {
    uint64_t bytes = 0;             // bytes fed
    uint64_t lines = 0;             // lines, including blank and comment-only ones
    uint64_t commands = 0;          // lines carrying a command (G/M/T word or an extended command)
    uint64_t extrusion_moves = 0;   // ExtrusionMoves produced (an arc counts once per chord)
    uint64_t layers = 0;            // layers handed to the sink
    uint64_t unknown_commands = 0;  // lines whose command is not a G/M/T word (Klipper macros,
                                    // SET_* and other extended commands, stray text)
    uint64_t arcs = 0;              // G2/G3 arcs and G5 curves
    uint64_t planned_lines = 0;     // G0/G1 lines the SIMD fast path parsed (ReaderOptions::vector_lines)
    bool saw_comments = false;      // any ';' or '(...)' comment
    bool transforms = false;        // a rotation (G68), scaling (M579) or skew (M556, M852, SET_SKEW) was applied
    bool sets_axis_steps = false;   // M92 set X/Y/Z steps per mm: the printer's own are unknown, so the
                                    //   part may print scaled per axis by a factor the file does not show
  };
  const Stats& stats() const;

 private:
  struct State;
  std::unique_ptr<State> st_;
};

}  // namespace s3d::gcode
