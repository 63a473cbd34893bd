// `screen3d scan [--db DB] [--json] [--recursive] [--threads N] PATH...`: screens each file, each
// member of a zip archive ("outer.zip!/inner/a.stl") and, with --recursive, each file of a folder.
// Results stream in input order; exit 0 clean, 1 any restricted/review, 2 any error and no match.
#include <tbb/global_control.h>
#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "engine/archive.h"
#include "engine/cli/command.h"
#include "engine/report_json.h"
#include "engine/scan.h"
#include "geometry/file_bytes.h"
#include "geometry/load_error.h"


namespace s3d::cli {
namespace {

struct ScanOptions {
  std::string db;
  bool json = false;
  bool recursive = false;
  int threads = 0;
  std::vector<std::string> paths;
  ScanSettings settings;
};

// Expands folders (with --recursive) into their regular files, sorted, without following links to
// folders (no cycles). Problems become error results so they are reported in order.
void expand(const std::string& path, bool recursive, std::vector<std::string>& out) {
  std::error_code ec;
  const auto st = std::filesystem::symlink_status(path, ec);
  if (!ec && std::filesystem::is_directory(st) && recursive) {
    std::vector<std::string> files;
    std::filesystem::recursive_directory_iterator it(path, std::filesystem::directory_options::skip_permission_denied, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      std::error_code e2;
      if (it->is_regular_file(e2) && !it->is_symlink(e2)) files.push_back(it->path().string());
    }
    std::sort(files.begin(), files.end());
    out.insert(out.end(), files.begin(), files.end());
    return;
  }
  out.push_back(path);
}

std::vector<ScanResult> scan_path(const Engine& engine, const std::string& path) {
  std::vector<ScanResult> out;
  try {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
      out.push_back(unscreened_result(path, Verdict::kError, "is a directory (use --recursive)"));
    else {
      FileBytes fb(path, engine.settings().limits);
      scan_expanding_archives(engine, fb.bytes(), path, out);
    }
  } catch (const LoadError& e) {
    out.push_back(unscreened_result(path, Verdict::kError, e.what()));
  } catch (const std::exception& e) {
    out.push_back(unscreened_result(path, Verdict::kError, std::string("internal error: ") + e.what()));
  }
  return out;
}

int run_scan(const ScanOptions& o) {
  const std::string db = resolve_db(o.db);
  if (db.empty()) {
    diagnose("scan", "no signature database: pass --db or set SCREEN3D_DB");
    return kExitError;
  }
  std::unique_ptr<Engine> engine;
  try {
    engine = Engine::from_database(db, o.settings);
  } catch (const std::exception& e) {
    diagnose(db, e.what());
    return kExitError;
  }
  std::unique_ptr<tbb::global_control> limit;
  if (o.threads > 0)
    limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, o.threads);

  std::vector<std::string> files;
  for (const std::string& p : o.paths) expand(p, o.recursive, files);
  bool any_match = false, any_error = false;
  size_t next = 0;
  const size_t tokens = static_cast<size_t>(std::max(1, tbb::this_task_arena::max_concurrency())) * 2;
  using Batch = std::shared_ptr<std::vector<ScanResult>>;
  tbb::parallel_pipeline(
      tokens,
      tbb::make_filter<void, size_t>(tbb::filter_mode::serial_in_order,
                                     [&](tbb::flow_control& fc) -> size_t {
                                       if (next >= files.size()) {
                                         fc.stop();
                                         return 0;
                                       }
                                       return next++;
                                     }) &
          tbb::make_filter<size_t, Batch>(tbb::filter_mode::parallel,
                                          [&](size_t i) { return std::make_shared<std::vector<ScanResult>>(scan_path(*engine, files[i])); }) &
          tbb::make_filter<Batch, void>(tbb::filter_mode::serial_in_order, [&](const Batch& b) {
            for (const ScanResult& r : *b) {
              if (r.verdict == Verdict::kRestricted || r.verdict == Verdict::kReview) any_match = true;
              if (r.verdict == Verdict::kError) {
                any_error = true;
                diagnose(r.path, r.error);
              }
              write_out(o.json ? scan_result_json(r).dump() + "\n" : scan_result_text(r));
            }
          }));
  if (any_match) return kExitMatch;
  return any_error ? kExitError : kExitOk;
}

}  // namespace

void register_scan(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<ScanOptions>();
  CLI::App* sub = app.add_subcommand("scan", "Screen files against a signature database: restricted, review or clean.");
  sub->add_option("--db", o->db, "Signature database (default: $SCREEN3D_DB, then the demo database)");
  sub->add_flag("--json", o->json, "One JSON object per input per line");
  sub->add_flag("-r,--recursive", o->recursive, "Screen every file below each folder");
  sub->add_option("--threads", o->threads, "Worker threads (default: all cores)");
  add_screening_options(sub, o->settings);
  sub->add_option("PATH", o->paths, "Files, archives or (with --recursive) folders")->required();
  sub->callback([o, &ctx] { ctx.exit_code = run_scan(*o); });
}

}  // namespace s3d::cli
