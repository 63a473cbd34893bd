#pragma once
// The C interface between geometry/formats/cad/cad_reader.cpp and the OpenCASCADE module
// (occt_module.cpp, built as libs3d_cad.so and loaded with dlopen on first use, so that processes
// which never read a CAD file do not pay OpenCASCADE's start-up). Plain C types only; the module
// throws nothing past it.
#include <cstddef>
#include <cstdint>

extern "C" {

enum { S3D_CAD_STEP = 0, S3D_CAD_IGES = 1 };

// One object (a solid, or the faces outside any solid): `vertices` x, y, z triples in millimetres,
// `triangles` index triples into them, not welded (each face has its own vertices).
typedef void (*s3d_cad_object_fn)(void* ctx, const float* xyz, size_t vertices, const uint32_t* triangles, size_t count);
// Asked between steps; non-zero stops the read (it then returns 1 + ErrorCode::kCancelled).
typedef int (*s3d_cad_stop_fn)(void* ctx);

// Reads a STEP or IGES file held in memory. Returns 0, or 1 + an s3d::ErrorCode with the reason,
// NUL-terminated, in err (at most err_size bytes). Thread-safe (reads are serialised inside).
typedef int (*s3d_cad_read_fn)(int kind, const uint8_t* data, size_t size, uint64_t max_triangles, s3d_cad_object_fn on_object,
                               s3d_cad_stop_fn stop, void* ctx, char* err, size_t err_size);
int s3d_cad_read(int kind, const uint8_t* data, size_t size, uint64_t max_triangles, s3d_cad_object_fn on_object,
                 s3d_cad_stop_fn stop, void* ctx, char* err, size_t err_size);

}  // extern "C"
