#pragma once
// What geometry/formats/cad/cad_reader.cpp and the OpenCASCADE reader process screen3d-cad-reader
// (occt_reader.cpp) say to each other. OpenCASCADE runs in that process of its own, one per file,
// because its IGES parser still crashes on some damaged files and its parse cannot be interrupted:
// a crash or a kill then costs one file's result, never the caller's process.
//
//   screen3d-cad-reader step|iges MAX_TRIANGLES   < the file (stdin: a regular file or a pipe)
//
// stdout carries records in the machine's own byte order (both ends run on the same machine):
//   'O' u64 vertices, u64 triangles, float[3 * vertices] (x, y, z in mm), u32[3 * triangles]
//       one object (a solid, or the faces outside any solid), not welded;
//   'R' i32 status (0, or 1 + s3d::ErrorCode), u32 length (<= kMaxMessage), message bytes
//       the last record: how the read ended.
// The reader process writes nothing else on stdout; anything else there is treated as a malformed
// reply. Plain C++ types only; nothing here includes OpenCASCADE.
#include <cstddef>
#include <cstdint>

namespace s3d::formats::cad {

enum CadKind { kCadStep = 0, kCadIges = 1 };

constexpr char kObjectRecord = 'O';
constexpr char kResultRecord = 'R';
constexpr uint32_t kMaxMessage = 4096;

// The reader process's address space is capped at this (setrlimit RLIMIT_AS; not under
// AddressSanitizer, which reserves terabytes of shadow): a hostile file that makes OpenCASCADE
// allocate without end gets "out of memory" instead of taking the machine's memory.
constexpr uint64_t kReaderAddressSpace = 16ull << 30;

}  // namespace s3d::formats::cad
