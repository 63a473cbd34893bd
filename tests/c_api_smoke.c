/* Compiled as C: the public header is valid C, and the shared library screens the demo examples.
 * Usage: c_api_smoke DB RESTRICTED_FILE CLEAN_FILE BROKEN_FILE */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/s3d.h"

#define CHECK(cond)                                              \
  do {                                                           \
    if (!(cond)) {                                               \
      fprintf(stderr, "c_api_smoke: failed: %s (line %d)\n", #cond, __LINE__); \
      return 1;                                                  \
    }                                                            \
  } while (0)

int main(int argc, char** argv) {
  s3d_engine* e = NULL;
  s3d_result* r = NULL;
  char* err = NULL;
  CHECK(argc == 5);
  CHECK(s3d_engine_open("/nonexistent/db.s3db", &e, &err) == S3D_E_DATABASE);
  CHECK(e == NULL && err != NULL);
  free(err);
  CHECK(s3d_engine_open(argv[1], &e, NULL) == S3D_OK);
  CHECK(s3d_engine_signature_count(e) > 0);
  CHECK(s3d_scan_file(e, argv[2], &r) == S3D_OK);
  CHECK(s3d_result_verdict(r) == S3D_VERDICT_RESTRICTED);
  CHECK(s3d_result_match_count(r) >= 1 && s3d_result_match_label(r, 0) != NULL);
  CHECK(s3d_result_match_label(r, 99) == NULL);
  /* The reposed, rescaled bracket is found by shape; the demo references are distinctive. */
  CHECK(s3d_result_match_method(r, 0) != NULL && strcmp(s3d_result_match_method(r, 0), "shape") == 0);
  CHECK(s3d_result_match_not_distinctive(r, 0) == 0);
  CHECK(s3d_result_match_method(r, 99) == NULL && s3d_result_match_not_distinctive(r, 99) == 0);
  printf("%s\n", s3d_result_json(r));
  s3d_result_free(r);
  CHECK(s3d_scan_file(e, argv[3], &r) == S3D_OK);
  CHECK(s3d_result_verdict(r) == S3D_VERDICT_CLEAN);
  s3d_result_free(r);
  CHECK(s3d_scan_file(e, argv[4], &r) == S3D_OK); /* bad input is a verdict, not a failed call */
  CHECK(s3d_result_verdict(r) == S3D_VERDICT_ERROR && s3d_result_error(r) != NULL);
  s3d_result_free(r);
  CHECK(s3d_scan_memory(e, "garbage", 7, "mem", &r) == S3D_OK);
  CHECK(s3d_result_verdict(r) == S3D_VERDICT_SKIPPED || s3d_result_verdict(r) == S3D_VERDICT_ERROR);
  s3d_result_free(r);
  CHECK(s3d_scan_file(NULL, argv[2], &r) == S3D_E_INVALID_ARGUMENT);
  {
    /* Settings: a restricted threshold above every score turns the restricted example into review;
     * a tiny input limit turns it into an error naming the limit; inconsistent values are refused. */
    s3d_engine* e2 = NULL;
    s3d_engine_options eo;
    memset(&eo, 0, sizeof eo);
    eo.struct_size = sizeof eo;
    eo.restricted_threshold = 1.5;
    CHECK(s3d_engine_open_ex(argv[1], &eo, &e2, NULL) == S3D_OK);
    CHECK(s3d_scan_file(e2, argv[2], &r) == S3D_OK);
    CHECK(s3d_result_verdict(r) == S3D_VERDICT_REVIEW);
    s3d_result_free(r);
    s3d_engine_free(e2);
    memset(&eo, 0, sizeof eo);
    eo.struct_size = sizeof eo;
    eo.max_input_bytes = 100;
    CHECK(s3d_engine_open_ex(argv[1], &eo, &e2, NULL) == S3D_OK);
    CHECK(s3d_scan_file(e2, argv[2], &r) == S3D_OK);
    CHECK(s3d_result_verdict(r) == S3D_VERDICT_ERROR && strstr(s3d_result_error(r), "max_input_bytes") != NULL);
    s3d_result_free(r);
    s3d_engine_free(e2);
    eo.max_input_bytes = 0;
    /* A time limit already past: an error result naming it. */
    eo.max_seconds = 1e-9;
    CHECK(s3d_engine_open_ex(argv[1], &eo, &e2, NULL) == S3D_OK);
    CHECK(s3d_scan_file(e2, argv[2], &r) == S3D_OK);
    CHECK(s3d_result_verdict(r) == S3D_VERDICT_ERROR && strstr(s3d_result_error(r), "max_seconds") != NULL);
    s3d_result_free(r);
    s3d_engine_free(e2);
    eo.max_seconds = -1;
    CHECK(s3d_engine_open_ex(argv[1], &eo, &e2, NULL) == S3D_E_INVALID_ARGUMENT && e2 == NULL);
    eo.max_seconds = 0;
    eo.review_threshold = 0.9;
    eo.restricted_threshold = 0.5;
    CHECK(s3d_engine_open_ex(argv[1], &eo, &e2, NULL) == S3D_E_INVALID_ARGUMENT && e2 == NULL);
  }
  {
    /* Cancelling (experimental): a scan given a requested cancel object stops with an error result;
     * with a fresh one, or none, it screens as usual. */
    s3d_cancel* c = NULL;
    CHECK(s3d_cancel_new(&c) == S3D_OK && c != NULL);
    CHECK(s3d_scan_file_ex(e, argv[2], c, &r) == S3D_OK);
    CHECK(s3d_result_verdict(r) == S3D_VERDICT_RESTRICTED);
    s3d_result_free(r);
    s3d_cancel_request(c);
    CHECK(s3d_scan_file_ex(e, argv[2], c, &r) == S3D_OK);
    CHECK(s3d_result_verdict(r) == S3D_VERDICT_ERROR && strcmp(s3d_result_error(r), "not screened: cancelled") == 0);
    s3d_result_free(r);
    CHECK(s3d_scan_file_ex(e, argv[2], NULL, &r) == S3D_OK);
    CHECK(s3d_result_verdict(r) == S3D_VERDICT_RESTRICTED);
    s3d_result_free(r);
    s3d_cancel_request(NULL);
    s3d_cancel_free(c);
    s3d_cancel_free(NULL);
  }
  {
    /* Streaming: a mesh file fed in 4 KiB chunks gives the whole-file verdict; a G-code text with
     * one layer of extrusion is read as G-code; calls after the end are refused. */
    FILE* f = fopen(argv[2], "rb");
    s3d_stream* st = NULL;
    s3d_stream_options o = {0};
    char buf[4096];
    size_t n;
    s3d_verdict v = S3D_VERDICT_ERROR;
    static const char gcode[] = "G21\nG90\nM83\nG1 Z0.2\nG1 X10 Y10\nG1 X30 Y10 E1\nG1 X30 Y30 E1\nG1 X10 Y30 E1\nG1 X10 Y10 E1\n";
    CHECK(f != NULL);
    o.struct_size = sizeof o;
    o.check_every_layers = UINT32_MAX;
    CHECK(s3d_stream_begin(e, "stream", &o, &st) == S3D_OK);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) CHECK(s3d_stream_feed(st, buf, n, &v) == S3D_OK);
    fclose(f);
    CHECK(s3d_stream_end(st, &r) == S3D_OK);
    CHECK(s3d_result_verdict(r) == S3D_VERDICT_RESTRICTED);
    s3d_result_free(r);
    CHECK(s3d_stream_end(st, &r) == S3D_E_INVALID_ARGUMENT);
    CHECK(s3d_stream_feed(st, "x", 1, NULL) == S3D_E_INVALID_ARGUMENT);
    s3d_stream_free(st);
    CHECK(s3d_stream_begin(e, NULL, NULL, &st) == S3D_OK);
    CHECK(s3d_stream_feed(st, gcode, sizeof gcode - 1, NULL) == S3D_OK);
    CHECK(s3d_stream_end(st, &r) == S3D_OK);
    CHECK(strcmp(s3d_result_format(r), "gcode") == 0);
    CHECK(s3d_result_verdict(r) == S3D_VERDICT_CLEAN);
    s3d_result_free(r);
    s3d_stream_free(st);
    CHECK(s3d_stream_begin(NULL, NULL, NULL, &st) == S3D_E_INVALID_ARGUMENT);
    o.struct_size = 1;
    CHECK(s3d_stream_begin(e, NULL, &o, &st) == S3D_E_INVALID_ARGUMENT);
  }
  s3d_engine_free(e);
  printf("c_api_smoke: ok\n");
  return 0;
}
