// The helpers every command-line program of screen3d shares (command.h): `screen3d` itself and the
// plugins' programs (plugins/forensic). Built as the s3d_cli library.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <string>
#include <string_view>

#include <unistd.h>

#include "engine/archive.h"
#include "engine/cli/command.h"
#include "engine/cli/worker.h"
#include "geometry/file_bytes.h"
#include "geometry/load_error.h"

#ifndef S3D_DEMO_DB_PATH
#define S3D_DEMO_DB_PATH ""
#endif

namespace s3d::cli {

void write_out(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void write_err(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

void diagnose(std::string_view path, std::string_view reason) {
  std::string line = "screen3d: ";
  for (char c : path) line += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  line += ": ";
  for (char c : reason) line += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
  line += '\n';
  write_err(line);
}

std::string resolve_db(const std::string& given) {
  if (!given.empty()) return given;
  if (const char* env = std::getenv("SCREEN3D_DB"); env && *env) return env;
#ifdef S3D_INSTALLED_DEMO_DB
  // An installed tree's own demo database, beside the program's bin/ (cmake/install.cmake).
  if (const std::string dir = executable_folder(); !dir.empty()) {
    const std::string path = dir + S3D_INSTALLED_DEMO_DB;
    if (::access(path.c_str(), R_OK) == 0) return path;
  }
#endif
  return S3D_DEMO_DB_PATH;
}

std::unique_ptr<Engine> open_database(std::string_view who, const std::string& db_option, const ScanSettings& settings,
                                      std::string* resolved) {
  const std::string db = resolve_db(db_option);
  if (resolved) *resolved = db;
  if (db.empty()) {
    diagnose(who, "no signature database: pass --db or set SCREEN3D_DB");
    return nullptr;
  }
  try {
    return Engine::from_database(db, settings);
  } catch (const std::exception& e) {
    diagnose(db, e.what());
    return nullptr;
  }
}

std::unique_ptr<tbb::global_control> thread_limit(int threads) {
  if (threads <= 0) return nullptr;
  return std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, threads);
}

void add_screening_options(CLI::App* sub, ScanSettings& settings) {
  auto& m = settings.match;
  sub->add_option("--restricted-threshold", m.restricted_threshold, "Score at or above which a file is restricted")
      ->capture_default_str();
  sub->add_option("--review-threshold", m.review_threshold, "Score at or above which a file is flagged for review")
      ->capture_default_str();
  sub->add_option("--min-scale", m.min_scale, "Smallest accepted scale relative to a reference")->capture_default_str();
  sub->add_option("--max-scale", m.max_scale, "Largest accepted scale relative to a reference")->capture_default_str();
  auto& l = settings.limits;
  sub->add_option("--max-bytes", l.max_input_bytes, "Largest input file read, in bytes")->capture_default_str();
  sub->add_option("--max-triangles", l.max_triangles, "Most triangles read from one file")->capture_default_str();
  sub->add_option("--max-decompressed", l.max_decompressed_bytes, "Most bytes decompressed from one archive")
      ->capture_default_str();
  sub->add_option("--max-entries", l.max_archive_entries, "Most members read from one archive")->capture_default_str();
  sub->add_option("--max-seconds", l.max_seconds,
                  "Time to screen one file or archive member; past it the file is an error result (0: no limit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

std::vector<std::string> screening_args(const ScanSettings& settings) {
  const auto& m = settings.match;
  const auto& l = settings.limits;
  return {"--restricted-threshold", exact_number(m.restricted_threshold),
          "--review-threshold", exact_number(m.review_threshold),
          "--min-scale", exact_number(m.min_scale),
          "--max-scale", exact_number(m.max_scale),
          "--max-bytes", std::to_string(l.max_input_bytes),
          "--max-triangles", std::to_string(l.max_triangles),
          "--max-decompressed", std::to_string(l.max_decompressed_bytes),
          "--max-entries", std::to_string(l.max_archive_entries),
          "--max-seconds", exact_number(l.max_seconds)};
}

std::vector<ScanResult> screen_path(const Engine& engine, const std::string& path, bool worker) {
  std::vector<ScanResult> out;
  try {
    if (worker) worker_fault_point(path);
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
      out.push_back(unscreened_result(path, Verdict::kError, "is a directory (use --recursive)"));
    else {
      FileBytes fb(path, engine.settings().limits);
      scan_expanding_archives(engine, fb.bytes(), path, out);
    }
  } catch (const LoadError& e) {
    out.push_back(unscreened_result(path, Verdict::kError, e.what()));
  } catch (const std::bad_alloc&) {
    out.clear();
    out.push_back(unscreened_result(path, Verdict::kError, out_of_memory_reason()));
  } catch (const std::exception& e) {
    out.push_back(unscreened_result(path, Verdict::kError, std::string("internal error: ") + e.what()));
  }
  return out;
}

}  // namespace s3d::cli
