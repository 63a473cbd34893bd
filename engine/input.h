#pragma once
// The engine's view of one input: open it, hash it, detect its format and read its mesh, turning
// every failure into a one-line reason instead of an exception. `screen3d info` and the scan
// pipeline share this step, so a file is read, hashed and detected the same way everywhere.
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "geometry/formats/format.h"
#include "geometry/formats/reader.h"
#include "geometry/gcode/print_from_gcode.h"
#include "geometry/load_error.h"
#include "geometry/mesh.h"

namespace s3d {

struct InputFile {
  std::string path;
};

struct LoadedInput {
  std::string path;                     // as given (for buffers: the caller's name)
  std::string sha256;                   // lower-case hex of the bytes; empty when they could not be read
  std::string md5, sha1;                // the same, only when asked for (md5_sha1: a database lists
                                        // files by them)
  Format format = Format::kUnknown;     // as detected from content, also when reading failed
  std::optional<Mesh> mesh;             // set when error is empty, except for G-code read for scanning
  std::vector<gcode::Print> prints;     // G-code read with read_gcode: the reconstructed print(s)
  std::optional<ErrorCode> error_code;  // set for LoadError failures; unset for ok and internal errors
  std::string error;                    // one-line reason; empty when the mesh was read
  std::vector<std::string> notes;       // the reader's notes on a file it could read (Mesh::notes; for G-code,
                                        // the firmware transforms it followed)

  bool ok() const { return error.empty(); }
};

// Opens `in.path` (memory-mapped, opt.limits.max_input_bytes enforced), hashes the bytes, detects
// the format and reads the mesh. Never throws: LoadError becomes error/error_code, anything else
// (out of memory, a bug) becomes error with no error_code. Thread-safe.
// With `read_gcode`, G-code formats (gcode, gcode-3mf, bgcode) are reconstructed into `prints`
// instead of failing as not a mesh.
// With `md5_sha1` the bytes are hashed with MD5 and SHA-1 as well (in the same pass).
LoadedInput load_input(const InputFile& in, const ReadOptions& opt, bool read_gcode = false, bool md5_sha1 = false);

// The same for bytes already in memory (an archive member, a buffer from an embedder); `name` is
// reported as the path. Enforces opt.limits.max_input_bytes on data.size(). A caller that hashed
// the bytes while receiving them passes the hex SHA-256 as `known_sha256` (not hashed again).
LoadedInput load_input_bytes(std::span<const uint8_t> data, std::string name, const ReadOptions& opt,
                             bool read_gcode = false, std::string known_sha256 = {}, bool md5_sha1 = false);

// Error text for a caught exception: the message, made one line (control characters -> spaces).
std::string one_line(std::string_view text);

// The notes a scan result carries for G-code prints that used the firmware's own transforms (G68,
// M579, M556, M852, SET_SKEW) or set axis steps per mm (M92): what the reader followed and assumed.
std::vector<std::string> gcode_notes(const std::vector<gcode::Print>& prints);

}  // namespace s3d
