/* Compiled as C: the public header is valid C, and the shared library screens the demo examples.
 * Usage: c_api_smoke DB RESTRICTED_FILE CLEAN_FILE BROKEN_FILE */
#include <stdio.h>
#include <stdlib.h>

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
  s3d_engine_free(e);
  printf("c_api_smoke: ok\n");
  return 0;
}
