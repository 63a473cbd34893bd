/* screen3d C API: screen 3D-printing files against a signature database.
 *
 * One header, one prefix (s3d_), opaque handles. Every function returns an s3d_status (0 = ok,
 * negative = error; the list only grows) and hands results back through out-parameters. A verdict is
 * not an error: a restricted file is S3D_OK with verdict S3D_VERDICT_RESTRICTED.
 * No exception crosses this boundary. Strings returned are owned by the object they came from and
 * live as long as it does.
 *
 * Threads: an s3d_engine is immutable after s3d_engine_open and may be used by any number of threads
 * at once. An s3d_result belongs to the caller and is not shared. */
#ifndef S3D_H
#define S3D_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define S3D_API __declspec(dllexport)
#else
#define S3D_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum s3d_status {
  S3D_OK = 0,
  S3D_E_INVALID_ARGUMENT = -1, /* a NULL handle or pointer where one is required */
  S3D_E_DATABASE = -2,         /* the signature database cannot be opened or is invalid */
  S3D_E_NO_MEMORY = -3,
  S3D_E_INTERNAL = -4
} s3d_status;

typedef enum s3d_verdict {
  S3D_VERDICT_CLEAN = 0,
  S3D_VERDICT_REVIEW = 1,
  S3D_VERDICT_RESTRICTED = 2,
  S3D_VERDICT_ERROR = 3,   /* the input could not be screened; see s3d_result_error */
  S3D_VERDICT_SKIPPED = 4  /* not a 3D file */
} s3d_verdict;

typedef struct s3d_engine s3d_engine;
typedef struct s3d_result s3d_result;

/* Library version, e.g. "0.1.0". Static storage. */
S3D_API const char* s3d_version(void);
/* A short English description of a status code. Static storage. */
S3D_API const char* s3d_status_string(int status);

/* Opens a signature database file and compiles it into an engine.
 * On S3D_E_DATABASE, *error_message (if not NULL) receives a malloc'ed one-line reason the caller
 * frees with free(); otherwise it is set to NULL. *out receives the engine on S3D_OK, NULL otherwise. */
S3D_API int s3d_engine_open(const char* db_path, s3d_engine** out, char** error_message);
/* Settings for s3d_engine_open_ex. Zero in a field means "the default". */
typedef struct s3d_engine_options {
  size_t struct_size;              /* sizeof(s3d_engine_options): lets the struct grow compatibly */
  double restricted_threshold;     /* score at or above which a file is restricted (default 0.80) */
  double review_threshold;         /* score at or above which it is review (default 0.65) */
  double min_scale, max_scale;     /* accepted scale range of a file relative to a reference (0.85, 1.18);
                                      outside it a match at the restricted threshold is review, a weaker one clean */
  uint64_t max_input_bytes;        /* largest input read (4 GiB) */
  uint64_t max_triangles;          /* most triangles read from one file (60 million) */
  uint64_t max_decompressed_bytes; /* most bytes decompressed from one archive or G-code container (2 GiB) */
  uint32_t max_archive_entries;    /* most members read from one archive (10,000) */
  double max_seconds;              /* time to screen one file or archive member (none); a scan that runs
                                      past it ends with S3D_VERDICT_ERROR, "not screened: the time limit
                                      of S s per file was reached (max_seconds)" */
} s3d_engine_options;

/* s3d_engine_open with settings; `options` may be NULL (defaults). S3D_E_INVALID_ARGUMENT for a bad
 * struct_size or inconsistent values (review above restricted, min_scale above max_scale). */
S3D_API int s3d_engine_open_ex(const char* db_path, const s3d_engine_options* options, s3d_engine** out,
                               char** error_message);
/* Frees an engine. NULL is allowed. No scan may be running on it. */
S3D_API void s3d_engine_free(s3d_engine* engine);
/* Number of signatures in the engine. */
S3D_API size_t s3d_engine_signature_count(const s3d_engine* engine);

/* Screens a file. Bad input is not an error of the call: it gives S3D_OK and a result whose verdict
 * is S3D_VERDICT_ERROR. *out must be freed with s3d_result_free. */
S3D_API int s3d_scan_file(const s3d_engine* engine, const char* path, s3d_result** out);
/* Screens bytes in memory (the caller keeps ownership; they are not modified). `name` labels the
 * result and may be NULL. */
S3D_API int s3d_scan_memory(const s3d_engine* engine, const void* data, size_t size, const char* name,
                            s3d_result** out);
S3D_API void s3d_result_free(s3d_result* result);

/* EXPERIMENTAL. Cancelling a scan from another thread: a scan given a cancel object stops within
 * about one step (milliseconds) once s3d_cancel_request has been called on it, and gives S3D_OK with
 * a result whose verdict is S3D_VERDICT_ERROR and error "not screened: cancelled". One cancel object
 * may serve several scans; a request stays in force (make a new object for new scans). */
typedef struct s3d_cancel s3d_cancel;
S3D_API int s3d_cancel_new(s3d_cancel** out);
/* Thread-safe; may be called while scans using `cancel` run. NULL is allowed. */
S3D_API void s3d_cancel_request(s3d_cancel* cancel);
/* No scan may be using it. NULL is allowed. */
S3D_API void s3d_cancel_free(s3d_cancel* cancel);
/* s3d_scan_file / s3d_scan_memory with a cancel object (`cancel` may be NULL). */
S3D_API int s3d_scan_file_ex(const s3d_engine* engine, const char* path, const s3d_cancel* cancel, s3d_result** out);
S3D_API int s3d_scan_memory_ex(const s3d_engine* engine, const void* data, size_t size, const char* name,
                               const s3d_cancel* cancel, s3d_result** out);

S3D_API s3d_verdict s3d_result_verdict(const s3d_result* result);
S3D_API double s3d_result_score(const s3d_result* result);
/* The error reason for S3D_VERDICT_ERROR / SKIPPED, else NULL. */
S3D_API const char* s3d_result_error(const s3d_result* result);
/* The detected format name ("stl-binary", "3mf", ...). */
S3D_API const char* s3d_result_format(const s3d_result* result);
S3D_API size_t s3d_result_match_count(const s3d_result* result);
/* Evidence of match i (best first, i < match count); NULL / 0 when out of range. */
S3D_API const char* s3d_result_match_signature(const s3d_result* result, size_t i);
S3D_API const char* s3d_result_match_label(const s3d_result* result, size_t i);
S3D_API const char* s3d_result_match_category(const s3d_result* result, size_t i);
S3D_API double s3d_result_match_score(const s3d_result* result, size_t i);
S3D_API double s3d_result_match_coverage(const s3d_result* result, size_t i);
S3D_API double s3d_result_match_scale(const s3d_result* result, size_t i);
S3D_API int s3d_result_match_mirrored(const s3d_result* result, size_t i);
/* How match i was found: "sha256", "geometry-hash", "pose-hash" (exact copies), "shape", or for a
 * file listed by its digest (screen3d sig add-hashes) "sha256", "md5" or "sha1". */
S3D_API const char* s3d_result_match_method(const s3d_result* result, size_t i);
/* 1 when match i reached the restricted threshold but counts as review because a plain box, rod or
 * pipe of the reference's size scores nearly as high against it (the reference is not distinctive;
 * `screen3d sig add` measures this); else 0. */
S3D_API int s3d_result_match_not_distinctive(const s3d_result* result, size_t i);
/* The whole result as the contract's `scan --json` object (one line, no newline). */
S3D_API const char* s3d_result_json(const s3d_result* result);

/* Streaming scan, for firmware and host software that receive a print job as a byte stream.
 * G-code (plain or Prusa .bgcode) is parsed and reconstructed as it arrives: memory is bounded by
 * about one layer (max_cells_per_layer), not by the file size. Other formats (STL, 3MF,
 * .gcode.3mf) are buffered up to max_buffer_bytes and screened at the end.
 *   s3d_stream_begin -> s3d_stream_feed (any chunk sizes) ... -> s3d_stream_end -> s3d_stream_free
 * s3d_stream_feed reports S3D_VERDICT_RESTRICTED as soon as the layers seen so far match a
 * signature (an early verdict: a printer may stop there); otherwise S3D_VERDICT_CLEAN, meaning
 * "nothing known yet". Bad input is not an error of the call: the final result carries it.
 * A stream is used by one thread at a time; many streams may share one engine. */
typedef struct s3d_stream s3d_stream;

typedef struct s3d_stream_options {
  size_t struct_size;            /* sizeof(s3d_stream_options): lets the struct grow compatibly */
  uint64_t max_buffer_bytes;     /* non-streamable formats; 0: 256 MiB */
  uint32_t check_every_layers;   /* early-verdict period in layers; 0: 50; UINT32_MAX: never */
  uint64_t max_cells_per_layer;  /* reconstruction raster cap (about 4 bytes each); 0: 64 Mi */
} s3d_stream_options;

/* `options` may be NULL (defaults). `name` labels the result and may be NULL. */
S3D_API int s3d_stream_begin(const s3d_engine* engine, const char* name, const s3d_stream_options* options,
                             s3d_stream** out);
/* `verdict_so_far` may be NULL. */
S3D_API int s3d_stream_feed(s3d_stream* stream, const void* data, size_t size, s3d_verdict* verdict_so_far);
/* Ends the input and gives the final result (free it with s3d_result_free). A stream ends once. */
S3D_API int s3d_stream_end(s3d_stream* stream, s3d_result** out);
/* Frees a stream, ended or not. NULL is allowed. */
S3D_API void s3d_stream_free(s3d_stream* stream);

#ifdef __cplusplus
}
#endif

#endif /* S3D_H */
