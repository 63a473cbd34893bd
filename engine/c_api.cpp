// The C API (s3d.h) over the C++ Engine. Every entry point catches everything.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "engine/report_json.h"
#include "engine/s3d.h"
#include "engine/scan.h"
#include "engine/stream.h"

struct s3d_engine {
  std::unique_ptr<s3d::Engine> engine;
};

struct s3d_result {
  s3d::ScanResult r;
  std::string format;
  std::string json;
  std::vector<std::string> categories;
};

struct s3d_stream {
  std::unique_ptr<s3d::ScanStream> stream;
  bool ended = false;
};

struct s3d_cancel {
  std::atomic<bool> flag{false};
};

namespace {
s3d_result* wrap(s3d::ScanResult&& r) {
  auto* out = new s3d_result;
  out->r = std::move(r);
  out->format = std::string(s3d::format_name(out->r.format));
  out->json = s3d::scan_result_json(out->r).dump();
  for (const auto& m : out->r.matches) out->categories.emplace_back(s3d::category_name(m.category));
  return out;
}

// Runs `body`; exceptions become status codes (none crosses the C boundary).
template <typename Body>
int guarded(Body&& body) {
  try {
    body();
    return S3D_OK;
  } catch (const std::bad_alloc&) {
    return S3D_E_NO_MEMORY;
  } catch (...) {
    return S3D_E_INTERNAL;
  }
}

const s3d::MatchEvidence* match_at(const s3d_result* r, size_t i) {
  return (r && i < r->r.matches.size()) ? &r->r.matches[i] : nullptr;
}
}  // namespace

extern "C" {

const char* s3d_version(void) { return S3D_VERSION; }

const char* s3d_status_string(int status) {
  switch (status) {
    case S3D_OK: return "ok";
    case S3D_E_INVALID_ARGUMENT: return "invalid argument";
    case S3D_E_DATABASE: return "signature database cannot be used";
    case S3D_E_NO_MEMORY: return "out of memory";
    case S3D_E_INTERNAL: return "internal error";
    default: return "unknown status";
  }
}

int s3d_engine_open_ex(const char* db_path, const s3d_engine_options* options, s3d_engine** out, char** error_message) {
  if (error_message) *error_message = nullptr;
  if (!out) return S3D_E_INVALID_ARGUMENT;
  *out = nullptr;
  if (!db_path) return S3D_E_INVALID_ARGUMENT;
  s3d::ScanSettings settings;
  if (options) {
    // Only the fields the caller's struct has are read; zero keeps the default.
    const size_t n = options->struct_size;
    if (n < offsetof(s3d_engine_options, restricted_threshold)) return S3D_E_INVALID_ARGUMENT;
    auto has = [&](size_t offset, size_t size) { return n >= offset + size; };
#define S3D_TAKE(field, target)                                                                      \
  if (has(offsetof(s3d_engine_options, field), sizeof(options->field)) && options->field != 0) target = options->field
    S3D_TAKE(restricted_threshold, settings.match.restricted_threshold);
    S3D_TAKE(review_threshold, settings.match.review_threshold);
    S3D_TAKE(min_scale, settings.match.min_scale);
    S3D_TAKE(max_scale, settings.match.max_scale);
    S3D_TAKE(max_input_bytes, settings.limits.max_input_bytes);
    S3D_TAKE(max_triangles, settings.limits.max_triangles);
    S3D_TAKE(max_decompressed_bytes, settings.limits.max_decompressed_bytes);
    S3D_TAKE(max_archive_entries, settings.limits.max_archive_entries);
    S3D_TAKE(max_seconds, settings.limits.max_seconds);
#undef S3D_TAKE
    const auto& m = settings.match;
    if (!(m.review_threshold <= m.restricted_threshold) || !(m.min_scale <= m.max_scale) || !(m.min_scale > 0) ||
        !(settings.limits.max_seconds >= 0))
      return S3D_E_INVALID_ARGUMENT;
  }
  try {
    auto e = std::make_unique<s3d_engine>();
    e->engine = s3d::Engine::from_database(db_path, settings);
    *out = e.release();
    return S3D_OK;
  } catch (const std::bad_alloc&) {
    return S3D_E_NO_MEMORY;
  } catch (const std::exception& ex) {
    if (error_message) *error_message = strdup(ex.what());
    return S3D_E_DATABASE;
  } catch (...) {
    return S3D_E_INTERNAL;
  }
}

int s3d_engine_open(const char* db_path, s3d_engine** out, char** error_message) {
  return s3d_engine_open_ex(db_path, nullptr, out, error_message);
}

void s3d_engine_free(s3d_engine* engine) { delete engine; }

size_t s3d_engine_signature_count(const s3d_engine* engine) { return engine ? engine->engine->signature_count() : 0; }

int s3d_cancel_new(s3d_cancel** out) {
  if (!out) return S3D_E_INVALID_ARGUMENT;
  *out = new (std::nothrow) s3d_cancel;
  return *out ? S3D_OK : S3D_E_NO_MEMORY;
}

void s3d_cancel_request(s3d_cancel* cancel) {
  if (cancel) cancel->flag.store(true);
}

void s3d_cancel_free(s3d_cancel* cancel) { delete cancel; }

int s3d_scan_file_ex(const s3d_engine* engine, const char* path, const s3d_cancel* cancel, s3d_result** out) {
  if (!out) return S3D_E_INVALID_ARGUMENT;
  *out = nullptr;
  if (!engine || !path) return S3D_E_INVALID_ARGUMENT;
  return guarded([&] {
    *out = wrap(engine->engine->scan_file(path, cancel ? &cancel->flag : nullptr));
  });
}

int s3d_scan_file(const s3d_engine* engine, const char* path, s3d_result** out) {
  return s3d_scan_file_ex(engine, path, nullptr, out);
}

int s3d_scan_memory_ex(const s3d_engine* engine, const void* data, size_t size, const char* name, const s3d_cancel* cancel,
                       s3d_result** out) {
  if (!out) return S3D_E_INVALID_ARGUMENT;
  *out = nullptr;
  if (!engine || (!data && size)) return S3D_E_INVALID_ARGUMENT;
  return guarded([&] {
    *out = wrap(engine->engine->scan_bytes({static_cast<const uint8_t*>(data), size}, name ? name : "<memory>", {},
                                           cancel ? &cancel->flag : nullptr));
  });
}

int s3d_scan_memory(const s3d_engine* engine, const void* data, size_t size, const char* name, s3d_result** out) {
  return s3d_scan_memory_ex(engine, data, size, name, nullptr, out);
}

void s3d_result_free(s3d_result* result) { delete result; }

s3d_verdict s3d_result_verdict(const s3d_result* r) {
  if (!r) return S3D_VERDICT_ERROR;
  switch (r->r.verdict) {
    case s3d::Verdict::kClean: return S3D_VERDICT_CLEAN;
    case s3d::Verdict::kReview: return S3D_VERDICT_REVIEW;
    case s3d::Verdict::kRestricted: return S3D_VERDICT_RESTRICTED;
    case s3d::Verdict::kSkipped: return S3D_VERDICT_SKIPPED;
    case s3d::Verdict::kError: return S3D_VERDICT_ERROR;
  }
  return S3D_VERDICT_ERROR;
}

double s3d_result_score(const s3d_result* r) { return r ? r->r.score : 0.0; }
const char* s3d_result_error(const s3d_result* r) { return (r && !r->r.error.empty()) ? r->r.error.c_str() : nullptr; }
const char* s3d_result_format(const s3d_result* r) { return r ? r->format.c_str() : nullptr; }
size_t s3d_result_match_count(const s3d_result* r) { return r ? r->r.matches.size() : 0; }
const char* s3d_result_match_signature(const s3d_result* r, size_t i) {
  const auto* m = match_at(r, i);
  return m ? m->signature_id.c_str() : nullptr;
}
const char* s3d_result_match_label(const s3d_result* r, size_t i) {
  const auto* m = match_at(r, i);
  return m ? m->label.c_str() : nullptr;
}
const char* s3d_result_match_category(const s3d_result* r, size_t i) {
  return match_at(r, i) ? r->categories[i].c_str() : nullptr;
}
double s3d_result_match_score(const s3d_result* r, size_t i) {
  const auto* m = match_at(r, i);
  return m ? m->score : 0.0;
}
double s3d_result_match_coverage(const s3d_result* r, size_t i) {
  const auto* m = match_at(r, i);
  return m ? m->coverage : 0.0;
}
double s3d_result_match_scale(const s3d_result* r, size_t i) {
  const auto* m = match_at(r, i);
  return m ? m->scale : 0.0;
}
int s3d_result_match_mirrored(const s3d_result* r, size_t i) {
  const auto* m = match_at(r, i);
  return m ? (m->mirrored ? 1 : 0) : 0;
}
const char* s3d_result_match_method(const s3d_result* r, size_t i) {
  const auto* m = match_at(r, i);
  return m ? m->method.c_str() : nullptr;
}
int s3d_result_match_not_distinctive(const s3d_result* r, size_t i) {
  const auto* m = match_at(r, i);
  return m ? (m->not_distinctive ? 1 : 0) : 0;
}
const char* s3d_result_json(const s3d_result* r) { return r ? r->json.c_str() : nullptr; }

int s3d_stream_begin(const s3d_engine* engine, const char* name, const s3d_stream_options* options, s3d_stream** out) {
  if (!out) return S3D_E_INVALID_ARGUMENT;
  *out = nullptr;
  if (!engine) return S3D_E_INVALID_ARGUMENT;
  s3d::StreamOptions opt;
  if (options) {
    // Only the fields the caller's struct has are read.
    const size_t n = options->struct_size;
    if (n < offsetof(s3d_stream_options, max_buffer_bytes)) return S3D_E_INVALID_ARGUMENT;
    auto has = [&](size_t offset, size_t size) { return n >= offset + size; };
    if (has(offsetof(s3d_stream_options, max_buffer_bytes), sizeof(uint64_t)) && options->max_buffer_bytes)
      opt.max_buffer_bytes = options->max_buffer_bytes;
    if (has(offsetof(s3d_stream_options, check_every_layers), sizeof(uint32_t)) && options->check_every_layers)
      opt.check_every_layers = options->check_every_layers == UINT32_MAX ? 0 : options->check_every_layers;
    if (has(offsetof(s3d_stream_options, max_cells_per_layer), sizeof(uint64_t)) && options->max_cells_per_layer)
      opt.max_cells_per_layer = options->max_cells_per_layer;
  }
  return guarded([&] {
    auto s = std::make_unique<s3d_stream>();
    s->stream = std::make_unique<s3d::ScanStream>(*engine->engine, name ? name : "<stream>", opt);
    *out = s.release();
  });
}

int s3d_stream_feed(s3d_stream* stream, const void* data, size_t size, s3d_verdict* verdict_so_far) {
  if (verdict_so_far) *verdict_so_far = S3D_VERDICT_CLEAN;
  if (!stream || stream->ended || (!data && size)) return S3D_E_INVALID_ARGUMENT;
  return guarded([&] {
    const s3d::Verdict v = stream->stream->feed({static_cast<const uint8_t*>(data), size});
    if (verdict_so_far && v == s3d::Verdict::kRestricted) *verdict_so_far = S3D_VERDICT_RESTRICTED;
  });
}

int s3d_stream_end(s3d_stream* stream, s3d_result** out) {
  if (!out) return S3D_E_INVALID_ARGUMENT;
  *out = nullptr;
  if (!stream || stream->ended) return S3D_E_INVALID_ARGUMENT;
  stream->ended = true;
  return guarded([&] {
    *out = wrap(stream->stream->finish());
  });
}

void s3d_stream_free(s3d_stream* stream) { delete stream; }

}  // extern "C"
