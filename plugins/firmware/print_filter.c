/* screen3d-print-filter: the reference integration for printer firmware and print hosts that stream a
 * job to the printer as it arrives (a serial sender, a network print service). Written in C against
 * the public C API only (engine/s3d.h, libscreen3d.so), as firmware would embed it.
 *
 *   screen3d-print-filter --db DB [--hold-bytes N] [--check-every LAYERS] [--max-cells N]
 *                         [--block-review] [--on-error allow|block] [--abort-gcode TEXT]
 *                         < job.gcode > printer
 *
 * The job is read from stdin in chunks and fed to a streaming scan (s3d_stream_feed: G-code is parsed
 * and reconstructed as it arrives, memory bounded by about one layer). Bytes are passed to stdout
 * only once the screening is --hold-bytes ahead of them, so a job smaller than that is screened
 * whole before the printer gets a byte, and a larger one is screened ahead of the printer by that
 * window. On a restricted verdict (early, every --check-every layers, or at the end) nothing more is
 * passed: if the printer already has part of the job it gets --abort-gcode (heaters and motors off),
 * the reason goes to stderr and the exit status is 1. Memory: the hold window plus the stream's
 * bound (--max-cells), whatever the job's size. See README.md in this folder. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/s3d.h"

#define CHUNK 65536

/* Heaters off, part fan off, motors off: commands Marlin, RepRapFirmware, Klipper and Prusa firmware
 * all take. */
static const char kDefaultAbort[] = "M104 S0\nM140 S0\nM107\nM84\n";

typedef struct {
  const char* db;
  uint64_t hold_bytes;
  uint32_t check_every;
  uint64_t max_cells;
  int block_review;
  int block_errors;
  const char* abort_gcode;
} options;

static int usage(void) {
  fprintf(stderr,
          "usage: screen3d-print-filter --db DB [--hold-bytes N] [--check-every LAYERS] [--max-cells N]\n"
          "                             [--block-review] [--on-error allow|block] [--abort-gcode TEXT]\n"
          "                             < job.gcode > printer\n"
          "  --db DB            signature database (default: $SCREEN3D_DB)\n"
          "  --hold-bytes N     how far the screening runs ahead of the printer (default 8388608)\n"
          "  --check-every N    early verdict every N layers (default 50)\n"
          "  --max-cells N      the stream's reconstruction raster cap per layer (default 64 Mi)\n"
          "  --block-review     stop on a review verdict too\n"
          "  --on-error block   stop on input that cannot be screened (default: allow, pass it on)\n"
          "  --abort-gcode TEXT sent when a job is stopped after part of it went out (default: heaters\n"
          "                     and motors off); \\n in TEXT is a line break\n");
  return 2;
}

static int parse_u64(const char* s, uint64_t* out) {
  char* end = NULL;
  unsigned long long v;
  if (!s || !*s || *s == '-') return 0;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno || *end) return 0;
  *out = (uint64_t)v;
  return 1;
}

/* "\n" in a command-line argument becomes a line break. The result is malloc'ed. */
static char* unescape(const char* s) {
  char* out = malloc(strlen(s) + 2);
  char* o = out;
  if (!out) return NULL;
  for (; *s; ++s) {
    if (s[0] == '\\' && s[1] == 'n') {
      *o++ = '\n';
      ++s;
    } else {
      *o++ = *s;
    }
  }
  if (o == out || o[-1] != '\n') *o++ = '\n';
  *o = '\0';
  return out;
}

static int write_all(const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(1, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return 0;
    }
    p += w;
    n -= (size_t)w;
  }
  return 1;
}

/* The job's best match, for the message: "LABEL (CATEGORY, score 0.97)". */
static void describe(const s3d_result* r, char* buf, size_t size) {
  if (r && s3d_result_match_count(r) > 0)
    snprintf(buf, size, "%s (%s, score %.2f)", s3d_result_match_label(r, 0), s3d_result_match_category(r, 0),
             s3d_result_match_score(r, 0));
  else
    snprintf(buf, size, "(score %.2f)", r ? s3d_result_score(r) : 0.0);
}

int main(int argc, char** argv) {
  options o = {NULL, 8u << 20, 0, 0, 0, 0, NULL};
  s3d_engine* engine = NULL;
  s3d_stream* stream = NULL;
  s3d_stream_options so;
  s3d_result* result = NULL;
  char* err = NULL;
  char* abort_text = NULL;
  char* hold = NULL;      /* bytes read and screened, not yet passed on */
  size_t held = 0;        /* how many */
  size_t capacity = 0;    /* of `hold` */
  uint64_t passed = 0;    /* bytes passed to the printer so far */
  int stop = 0;           /* 1: restricted (or blocked) -- pass nothing more */
  int early = 0;          /* 1: stopped by an early verdict, before the end of the job */
  int exit_code = 0;
  int i, rc;
  char reason[512];

  for (i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : NULL;
    uint64_t n = 0;
    if (!strcmp(a, "--db") && v) {
      o.db = v;
      ++i;
    } else if (!strcmp(a, "--hold-bytes") && parse_u64(v, &n) && n <= ((uint64_t)1 << 30)) {
      o.hold_bytes = n;
      ++i;
    } else if (!strcmp(a, "--check-every") && parse_u64(v, &n) && n > 0 && n < UINT32_MAX) {
      o.check_every = (uint32_t)n;
      ++i;
    } else if (!strcmp(a, "--max-cells") && parse_u64(v, &n) && n > 0) {
      o.max_cells = n;
      ++i;
    } else if (!strcmp(a, "--block-review")) {
      o.block_review = 1;
    } else if (!strcmp(a, "--on-error") && v && (!strcmp(v, "allow") || !strcmp(v, "block"))) {
      o.block_errors = !strcmp(v, "block");
      ++i;
    } else if (!strcmp(a, "--abort-gcode") && v) {
      o.abort_gcode = v;
      ++i;
    } else {
      fprintf(stderr, "screen3d-print-filter: bad argument: %s\n", a);
      return usage();
    }
  }
  if (!o.db) o.db = getenv("SCREEN3D_DB");
  if (!o.db || !*o.db) {
    fprintf(stderr, "screen3d-print-filter: no signature database: pass --db or set SCREEN3D_DB\n");
    return 2;
  }
  rc = s3d_engine_open(o.db, &engine, &err);
  if (rc != S3D_OK) {
    fprintf(stderr, "screen3d-print-filter: %s: %s; nothing was passed to the printer\n", o.db,
            err ? err : s3d_status_string(rc));
    free(err);
    return 2;
  }
  memset(&so, 0, sizeof so);
  so.struct_size = sizeof so;
  so.check_every_layers = o.check_every;
  so.max_cells_per_layer = o.max_cells;
  abort_text = unescape(o.abort_gcode ? o.abort_gcode : kDefaultAbort);
  /* The window, the next chunk, and the part of a line the last pass-on kept back (under a chunk:
   * a pass-on stops at the last line end, and finding none passes everything on). */
  capacity = (size_t)o.hold_bytes + 2 * CHUNK;
  hold = malloc(capacity);
  if (!abort_text || !hold || s3d_stream_begin(engine, "stdin", &so, &stream) != S3D_OK) {
    fprintf(stderr, "screen3d-print-filter: cannot start (out of memory?); nothing was passed to the printer\n");
    free(hold);
    free(abort_text);
    s3d_engine_free(engine);
    return 2;
  }

  for (;;) {
    s3d_verdict v = S3D_VERDICT_CLEAN;
    ssize_t n = read(0, hold + held, capacity - held < CHUNK ? capacity - held : CHUNK);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      fprintf(stderr, "screen3d-print-filter: cannot read the job: %s\n", strerror(errno));
      stop = 1;
      exit_code = 2;
      break;
    }
    if (n == 0) break;
    if (s3d_stream_feed(stream, hold + held, (size_t)n, &v) != S3D_OK) {
      fprintf(stderr, "screen3d-print-filter: the stream refused the input\n");
      stop = 1;
      exit_code = 2;
      break;
    }
    held += (size_t)n;
    if (v == S3D_VERDICT_RESTRICTED) {  /* early: the layers so far match */
      stop = 1;
      early = 1;
      exit_code = 1;
      break;
    }
    if (held > o.hold_bytes) {  /* pass on what the screening is now hold_bytes ahead of */
      size_t out = held - (size_t)o.hold_bytes;
      /* Whole lines only, so that a stop never leaves the printer a command cut short ("G1 X10" of
       * "G1 X105.2 Y3"): up to the last line end in range, if there is one (binary .bgcode has none). */
      const char* nl = NULL;
      size_t k;
      for (k = out; k > 0 && !nl; --k)
        if (hold[k - 1] == '\n') nl = hold + k - 1;
      if (nl) out = (size_t)(nl - hold) + 1;
      if (!write_all(hold, out)) {
        fprintf(stderr, "screen3d-print-filter: cannot write to the printer: %s\n", strerror(errno));
        stop = 1;
        exit_code = 2;
        break;
      }
      passed += out;
      memmove(hold, hold + out, held - out);
      held -= out;
    }
  }

  /* The verdict on everything read (for an early stop: on the layers read so far). */
  if (s3d_stream_end(stream, &result) != S3D_OK) result = NULL;
  if (early) {
    describe(result, reason, sizeof reason);
    fprintf(stderr, "screen3d-print-filter: blocked: the layers read so far (%llu bytes) match restricted part %s\n",
            (unsigned long long)(passed + held), reason);
  } else if (!stop && result) {
    switch (s3d_result_verdict(result)) {
      case S3D_VERDICT_RESTRICTED:
        describe(result, reason, sizeof reason);
        fprintf(stderr, "screen3d-print-filter: blocked: the job matches restricted part %s\n", reason);
        stop = 1;
        exit_code = 1;
        break;
      case S3D_VERDICT_REVIEW:
        describe(result, reason, sizeof reason);
        if (o.block_review) {
          fprintf(stderr, "screen3d-print-filter: blocked: the job may match restricted part %s (review, --block-review)\n", reason);
          stop = 1;
          exit_code = 1;
        } else {
          fprintf(stderr, "screen3d-print-filter: review: the job resembles restricted part %s; passed\n", reason);
        }
        break;
      case S3D_VERDICT_ERROR:
      case S3D_VERDICT_SKIPPED:
        if (o.block_errors) {
          fprintf(stderr, "screen3d-print-filter: blocked: the job could not be screened (%s; --on-error block)\n",
                  s3d_result_error(result) ? s3d_result_error(result) : "unknown");
          stop = 1;
          exit_code = 2;
        } else {
          fprintf(stderr, "screen3d-print-filter: warning: the job could not be screened (%s); passed (--on-error allow)\n",
                  s3d_result_error(result) ? s3d_result_error(result) : "unknown");
        }
        break;
      default:
        break;
    }
  }
  if (stop) {
    if (passed > 0) {
      fprintf(stderr, "screen3d-print-filter: %llu bytes had gone to the printer; sent the abort G-code\n",
              (unsigned long long)passed);
      write_all("\n", 1);
      write_all(abort_text, strlen(abort_text));
    } else {
      fprintf(stderr, "screen3d-print-filter: nothing was passed to the printer\n");
    }
  } else if (!write_all(hold, held)) {
    fprintf(stderr, "screen3d-print-filter: cannot write to the printer: %s\n", strerror(errno));
    exit_code = 2;
  }
  s3d_result_free(result);
  s3d_stream_free(stream);
  s3d_engine_free(engine);
  free(hold);
  free(abort_text);
  return exit_code;
}
