// `screen3d scan [--db DB] [--json] [--recursive] [--threads N] [--isolate | --no-isolate] [--stall-timeout S] PATH...`:
// screens each file, each member of a zip archive ("outer.zip!/inner/a.stl") and, with --recursive,
// each file of a folder. Results stream in input order; exit 0 clean, 1 any restricted/review, 2 any
// error and no match.
//
// --isolate (the default; --no-isolate turns it off) screens in a worker process (this program run
// again, worker.h) that reports each file as it is done. If the worker dies -- a parser crashing on a hostile file -- or makes no progress for
// --stall-timeout seconds, the files it had in flight are screened again one per process: the one
// that kills its process again gets an error result naming the reason, and a new worker goes on
// after them. A bulk scan of a seized drive then never ends early because of one file.
#include <tbb/global_control.h>
#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "engine/cli/command.h"
#include "engine/cli/worker.h"
#include "engine/report_json.h"
#include "engine/scan.h"


namespace s3d::cli {
namespace {

struct ScanOptions {
  std::string db;
  bool json = false;
  bool recursive = false;
  int threads = 0;
  bool isolate = false;     // --isolate: the default, accepted so that it can be asked for
  bool no_isolate = false;  // --no-isolate: screen in this process
  double stall_timeout = 0;  // --isolate: seconds without a finished file before a worker is stopped
  uint64_t worker_memory = default_worker_memory_mib();  // --isolate: each worker's data cap, MiB (0: none)
  std::vector<std::string> paths;
  std::string files_from;  // --files-from: more paths, one per line (NUL-separated with --null); "-" is stdin
  bool null_separated = false;
  ScanSettings settings;
  // Worker mode (set by an --isolate parent, hidden): files [from, from + count) of the NUL-separated
  // list file, progress lines to the state file.
  std::string worker_list, worker_state;
  uint64_t worker_from = 0, worker_count = std::numeric_limits<uint64_t>::max();
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

std::unique_ptr<Engine> load_engine(const ScanOptions& o) { return open_database("scan", o.db, o.settings); }

// Writes one file's results: a line each on stdout, a diagnostic for each error.
void report(const std::vector<ScanResult>& results, bool json, bool* any_match, bool* any_error) {
  for (const ScanResult& r : results) {
    if (r.verdict == Verdict::kRestricted || r.verdict == Verdict::kReview) *any_match = true;
    if (r.verdict == Verdict::kError) {
      *any_error = true;
      diagnose(r.path, r.error);
    }
    write_out(json ? scan_result_json(r).dump() + "\n" : scan_result_text(r));
  }
}

// Screens the files in parallel and reports them in order; `done(i)` runs after file i's results.
void screen_files(const Engine& engine, const std::vector<std::string>& files, bool json, bool worker,
                  bool* any_match, bool* any_error, const std::function<void(size_t, bool, bool)>& done) {
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
          tbb::make_filter<size_t, std::pair<size_t, Batch>>(tbb::filter_mode::parallel,
                                          [&](size_t i) {
                                            return std::make_pair(i, std::make_shared<std::vector<ScanResult>>(
                                                                         screen_path(engine, files[i], worker)));
                                          }) &
          tbb::make_filter<std::pair<size_t, Batch>, void>(tbb::filter_mode::serial_in_order,
                                                           [&](const std::pair<size_t, Batch>& b) {
                                                             bool m = false, e = false;
                                                             report(*b.second, json, &m, &e);
                                                             *any_match |= m;
                                                             *any_error |= e;
                                                             if (done) done(b.first, m, e);
                                                           }));
}

int exit_status(bool any_match, bool any_error) {
  if (any_match) return kExitMatch;
  return any_error ? kExitError : kExitOk;
}

// Worker mode: "ready" once the database is loaded, "<index> <match> <error>" after each file's
// results are written, "end" at the end.
int run_scan_worker(const ScanOptions& o) {
  cap_worker_memory(o.worker_memory);
  std::FILE* state = std::fopen(o.worker_state.c_str(), "wb");
  if (!state) {
    diagnose(o.worker_state, "cannot write the worker's state");
    return kExitError;
  }
  const std::unique_ptr<Engine> engine = load_engine(o);
  if (!engine) {
    std::fclose(state);
    return kExitError;
  }
  const auto limit = thread_limit(o.threads);
  std::ifstream in(o.worker_list, std::ios::binary);
  std::vector<std::string> files;
  std::string item;
  for (uint64_t i = 0; std::getline(in, item, '\0'); ++i)
    if (i >= o.worker_from && i - o.worker_from < o.worker_count) files.push_back(item);
  std::fputs("ready\n", state);
  std::fflush(state);
  bool any_match = false, any_error = false;
  screen_files(*engine, files, o.json, true, &any_match, &any_error, [&](size_t i, bool m, bool e) {
    std::fprintf(state, "%llu %d %d\n", static_cast<unsigned long long>(o.worker_from + i), m ? 1 : 0, e ? 1 : 0);
    std::fflush(state);
  });
  std::fputs("end\n", state);
  std::fclose(state);
  return exit_status(any_match, any_error);
}

// --isolate: the files are screened by workers; see the comment at the top. Returns the exit
// status, or kNoWorker when no worker process could be started at all (no /proc, say).
constexpr int kNoWorker = -1;
int run_scan_isolated(const ScanOptions& o, const std::vector<std::string>& files) {
  const std::string list = make_worker_file("screen3d-scan-list"), state = make_worker_file("screen3d-scan-state");
  struct Cleanup {
    std::string a, b;
    ~Cleanup() {
      std::error_code ec;
      if (!a.empty()) std::filesystem::remove(a, ec);
      if (!b.empty()) std::filesystem::remove(b, ec);
    }
  } cleanup{list, state};
  if (list.empty() || state.empty()) {
    diagnose("scan", "cannot make the temporary files --isolate needs");
    return kExitError;
  }
  {
    std::ofstream out(list, std::ios::binary);
    for (const std::string& f : files) out.write(f.c_str(), static_cast<std::streamsize>(f.size() + 1));
    if (!out) {
      diagnose(list, "cannot write the file list for the workers");
      return kExitError;
    }
  }
  bool any_match = false, any_error = false;
  struct Outcome {
    WorkerEnd end;
    bool ready = false, finished = false;
    uint64_t done = 0;  // files reported
  };
  auto run = [&](uint64_t from, uint64_t count, int threads) {
    std::vector<std::string> args = {"screen3d", "scan", "--worker-list", list, "--worker-state", state,
                                     "--worker-from", std::to_string(from), "--worker-count", std::to_string(count)};
    if (!o.db.empty()) args.insert(args.end(), {"--db", o.db});
    if (o.json) args.push_back("--json");
    if (threads > 0) args.insert(args.end(), {"--threads", std::to_string(threads)});
    args.insert(args.end(), {"--worker-memory", std::to_string(o.worker_memory)});
    for (std::string& a : screening_args(o.settings)) args.push_back(std::move(a));
    args.push_back("(worker)");  // PATH is required; a worker takes its files from the list
    Outcome out;
    out.end = run_worker(args, o.stall_timeout, state);
    std::ifstream in(state);
    std::string line;
    while (std::getline(in, line)) {
      if (line == "ready") {
        out.ready = true;
      } else if (line == "end") {
        out.finished = true;
      } else {
        unsigned long long i = 0;
        int m = 0, e = 0;
        if (std::sscanf(line.c_str(), "%llu %d %d", &i, &m, &e) != 3) break;
        ++out.done;
        any_match |= m != 0;
        any_error |= e != 0;
      }
    }
    return out;
  };
  const int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const uint64_t in_flight = 2 * static_cast<uint64_t>(threads);  // the worker pipeline's tokens
  const uint64_t n = files.size();
  uint64_t k = 0;
  while (k < n) {
    const Outcome r = run(k, n - k, o.threads);
    if (r.finished) break;
    if (!r.ready) {
      if (!r.end.started && k == 0) return kNoWorker;  // no process at all: the caller screens in-process
      if (!r.end.started) diagnose("scan", "cannot start a worker process (--isolate)");
      return kExitError;  // else the database could not be loaded, and the worker said why
    }
    // Files [k, k + done) were reported; the next in_flight ones may have been in the worker's hands.
    const uint64_t first = k + r.done, stop = std::min(n, first + in_flight);
    for (uint64_t j = first; j < stop; ++j) {
      const Outcome p = run(j, 1, 1);
      if (p.finished) continue;
      if (!p.ready) return kExitError;
      report({unscreened_result(files[j], Verdict::kError,
                                "not screened: the screening process " + p.end.how + " on this file")},
             o.json, &any_match, &any_error);
    }
    k = stop;
  }
  return exit_status(any_match, any_error);
}

int run_scan(const ScanOptions& o) {
  if (!o.worker_state.empty()) return run_scan_worker(o);
  std::vector<std::string> files;
  for (const std::string& p : o.paths) expand(p, o.recursive, files);
  if (!o.files_from.empty()) {
    // A list from another tool (find -print0, a case-management export): no argument-length limit,
    // whatever the number of files. Empty lines are skipped; with newlines a trailing '\r' goes.
    std::ifstream file;
    if (o.files_from != "-") {
      file.open(o.files_from, std::ios::binary);
      if (!file) {
        diagnose(o.files_from, "cannot read the file list (--files-from)");
        return kExitError;
      }
    }
    std::istream& in = o.files_from == "-" ? std::cin : file;
    std::string p;
    while (std::getline(in, p, o.null_separated ? '\0' : '\n')) {
      if (!o.null_separated && !p.empty() && p.back() == '\r') p.pop_back();
      if (!p.empty()) expand(p, o.recursive, files);
    }
    if (in.bad()) {
      diagnose(o.files_from, "read error in the file list (--files-from)");
      return kExitError;
    }
  }
  if (o.paths.empty() && o.files_from.empty()) {  // an empty folder or list is fine: nothing to report
    diagnose("scan", "no files to screen: give PATH arguments or --files-from");
    return kExitError;
  }
  // Files are screened by workers unless --no-isolate: one hostile file must not end a bulk scan,
  // and a gateway's single job that crashes a parser gets an `error` result (exit 2) instead of an
  // abnormal exit. The worker's start-up cost on one file: bench/isolate_cost.sh (README).
  if (!o.no_isolate && !files.empty()) {
    if (resolve_db(o.db).empty()) {
      diagnose("scan", "no signature database: pass --db or set SCREEN3D_DB");
      return kExitError;
    }
    const int status = run_scan_isolated(o, files);
    if (status != kNoWorker) return status;
    diagnose("scan", "cannot start a worker process (--isolate); screening in this process");
  }
  const std::unique_ptr<Engine> engine = load_engine(o);
  if (!engine) return kExitError;
  const auto limit = thread_limit(o.threads);
  bool any_match = false, any_error = false;
  screen_files(*engine, files, o.json, false, &any_match, &any_error, nullptr);
  return exit_status(any_match, any_error);
}

}  // namespace

void register_scan(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<ScanOptions>();
  CLI::App* sub = app.add_subcommand("scan", "Screen files against a signature database: restricted, review or clean.");
  sub->add_option("--db", o->db, "Signature database (default: $SCREEN3D_DB, then the demo database)");
  sub->add_flag("--json", o->json, "One JSON object per input per line");
  sub->add_flag("-r,--recursive", o->recursive, "Screen every file below each folder");
  sub->add_option("--threads", o->threads, "Worker threads (default: all cores)");
  auto* isolate = sub->add_flag("--isolate", o->isolate,
                                "Screen in a worker process: a file that crashes or hangs a parser becomes an error "
                                "result and the scan goes on (the default)");
  sub->add_flag("--no-isolate", o->no_isolate, "Screen in this process (no worker start-up; a parser crash ends the scan)")
      ->excludes(isolate);
  sub->add_option("--stall-timeout", o->stall_timeout, "Isolated scans: seconds without a finished file before the "
                                                       "worker is stopped and its file reported (default: no limit)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--worker-memory", o->worker_memory, "Isolated scans: each worker process's data memory cap in MiB; "
                                                       "a file that needs more is an error result (default: three "
                                                       "quarters of the physical memory; 0: no cap)")
      ->capture_default_str();
  sub->add_option("--worker-list", o->worker_list)->group("");  // set by an --isolate parent
  sub->add_option("--worker-state", o->worker_state)->group("");
  sub->add_option("--worker-from", o->worker_from)->group("");
  sub->add_option("--worker-count", o->worker_count)->group("");
  add_screening_options(sub, o->settings);
  auto* files_from = sub->add_option("--files-from", o->files_from,
                                     "Also screen the paths listed in this file, one per line (- for stdin): any number of files");
  sub->add_flag("--null", o->null_separated, "With --files-from: the paths are separated by NUL bytes (find -print0)")
      ->needs(files_from);
  sub->add_option("PATH", o->paths, "Files, archives or (with --recursive) folders");
  sub->callback([o, &ctx] { ctx.exit_code = run_scan(*o); });
}

}  // namespace s3d::cli
