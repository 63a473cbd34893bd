#pragma once
// G-code text from any container, streamed in chunks: plain .gcode, .gcode.3mf (Bambu Studio /
// OrcaSlicer / PrusaSlicer plate G-code inside a zip, read with libzip a chunk at a time) and
// .bgcode (BgcodeDecoder). Callers feed the chunks to a gcode::Reader; nothing holds the whole text.
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "geometry/formats/format.h"
#include "geometry/limits.h"

namespace s3d::gcode {

// Streams the G-code text of `data`, already detected as `f` (kGcode, kGcode3mf or kBgcode), to
// `out` in chunks of at most 1 MiB (split anywhere, also mid-line).
//
// `on_part`, when given, is called with a part name before the part's text: once with "" for
// .gcode and .bgcode, once per G-code member for .gcode.3mf (each plate is a separate print, so a
// caller that wants one toolpath per plate starts a new Reader there). .gcode.3mf members are the
// plates "Metadata/plate_<N>.gcode" in plate order, then any other "*.gcode" member in name order.
//
// Throws LoadError: kUnsupported for other formats, kMalformed for an unreadable zip or one without
// a *.gcode member, kLimitExceeded past limits.max_decompressed_bytes / max_archive_entries, and
// whatever BgcodeDecoder throws. Exceptions thrown by the callbacks pass through unchanged.
void stream_gcode_text(std::span<const uint8_t> data, Format f, const Limits& limits,
                       const std::function<void(std::string_view)>& out,
                       const std::function<void(std::string_view)>& on_part = {});

}  // namespace s3d::gcode
