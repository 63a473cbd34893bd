#pragma once
// One call from G-code bytes (any container) to reconstructed prints: stream the text
// (gcode_source.h) through the reader (gcode_reader.h) into the reconstruction (reconstruct.h).
// A .gcode.3mf holds one print per plate; the others hold one. Memory stays bounded by the reader's
// and reconstruction's limits: the text is never held whole.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "geometry/formats/format.h"
#include "geometry/gcode/gcode_reader.h"
#include "geometry/gcode/reconstruct.h"
#include "geometry/limits.h"

namespace s3d::gcode {

struct PrintOptions {
  ReaderOptions reader;
  ReconstructOptions reconstruct;
};

struct Print {
  std::string part;        // "" for .gcode/.bgcode; the zip member for .gcode.3mf plates
  PrintSample sample;
  Reader::Stats stats;
};

// Throws LoadError for bad input (see stream_gcode_text, Reader) and kEmpty when no part extrudes.
std::vector<Print> read_prints(std::span<const uint8_t> data, Format f, const Limits& limits, const PrintOptions& opt = {});

}  // namespace s3d::gcode
