#pragma once
// The interface every format folder implements, and the registry built from format_list.h.
//
// A reader folder `formats/<name>/` provides two free functions in namespace s3d::formats::<name>:
//   int  probe(std::span<const uint8_t> data);   // 0 = not this format, higher = more confident (max 100)
//   Mesh read(std::span<const uint8_t> data, const ReadOptions& opt);  // throws LoadError
// and one line in format_list.h. Readers are safe for untrusted input: every size is checked against
// the buffer and against opt.limits before allocating.
#include <span>
#include <string>

#include "geometry/formats/format.h"
#include "geometry/limits.h"
#include "geometry/mesh.h"

namespace s3d {

struct ReadOptions {
  Limits limits;
};

struct ReaderEntry {
  const char* name;
  Format format;
  int (*probe)(std::span<const uint8_t> data);
  Mesh (*read)(std::span<const uint8_t> data, const ReadOptions& opt);
};

// All registered readers, in format_list.h order.
std::span<const ReaderEntry> registered_readers();

// Reads a mesh from `data` already detected as `format`. Throws LoadError (kUnsupported when no
// reader handles `format`).
Mesh read_mesh(std::span<const uint8_t> data, Format format, const ReadOptions& opt);

}  // namespace s3d
