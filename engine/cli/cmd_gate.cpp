// `screen3d gate [--db DB] [--quarantine DIR] [--block-review] [--on-error allow|block]
//                [--timeout S | --no-isolate] GCODE`:
// the slicer post-processing hook (PrusaSlicer, SuperSlicer, OrcaSlicer run each post-processing
// line through the shell with the G-code path appended, and a non-zero exit aborts the export).
//
// clean -> exit 0, silent. review -> one note on stderr, exit 0 (or blocked with --block-review).
// restricted -> the file is moved into a quarantine folder with a JSON report beside it, the reason
// goes to stderr, exit 1. Not screenable (error/skipped) -> warning and exit 0 with --on-error allow
// (the default: never block a print by mistake), quarantined and exit 2 with --on-error block.
// Bad arguments or an unreadable database -> exit 2, file untouched. stdout stays empty.
//
// The screening runs in a worker process (this program run again with the same options, worker.h),
// as `scan` does: a parser crash or a runaway allocation on the file then makes it a file that
// could not be screened, handled by --on-error, instead of an abnormal exit that the slicer would
// take as a block; --timeout S stops a worker that hangs the same way (the slicer would wait
// forever). --no-isolate screens in this process.
//
// Nothing the user gave is lost: the move is rename(2) without replacing anything; across file
// systems it is copy + fsync, and the original is removed only once the copy is complete. If the
// move fails the file stays where it was, the failure is printed and the exit is still non-zero.
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "engine/cli/command.h"
#include "engine/cli/file_moves.h"
#include "engine/cli/worker.h"
#include "engine/report_json.h"
#include "engine/scan.h"


namespace s3d::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDefaultQuarantine = "screen3d-quarantine";

struct GateOptions {
  std::string db;
  std::string quarantine;  // empty: <folder of the file>/screen3d-quarantine
  bool block_review = false;
  std::string on_error = "allow";
  std::string path;
  ScanSettings settings;
  bool no_isolate = false;  // screen in this process
  double timeout = 0;       // seconds the worker may take (0: no limit)
  bool worker = false;      // hidden: this process is the worker of a gate run
};

// The base of the quarantined name: the final output name when the slicer gave one (the name the
// user knows), else the file's own name (move_stamped cuts it to length).
std::string quarantine_base(const std::string& path, const std::string& final_name) {
  std::string base = fs::path(final_name.empty() ? path : final_name).filename().string();
  if (base.empty() || base == "." || base == "..") base = fs::path(path).filename().string();
  if (base.empty() || base == "." || base == "..") base = "gcode";
  return base;
}

// Moves `path` into the quarantine folder as "<base>.<UTC>[-N].quarantined", with room for its report.
Moved quarantine(const std::string& path, const std::string& dir, bool is_default, const std::string& base,
                 const std::string& stamp) {
  Moved q;
  Fd dirfd(open_destination_dir(dir, is_default, &q.failure));
  if (dirfd.get() < 0) {
    if (is_default) q.failure += " (pass --quarantine DIR)";
    return q;
  }
  return move_stamped(path, dirfd.get(), dir, base, stamp, ".quarantined");
}

// The contract scan JSON line plus the "gate" object, beside the quarantined file; 0600, never
// replacing anything. Empty string, or why it could not be written.
std::string write_report(const ScanResult& r, const Moved& q, const std::string& path, const std::string& final_name,
                         const std::string& when) {
  nlohmann::ordered_json j = scan_result_json(r);
  nlohmann::ordered_json g;
  g["action"] = "quarantined";
  std::error_code ec;
  const fs::path abs = fs::absolute(path, ec);
  g["original"] = ec ? path : abs.string();
  g["final_name"] = final_name.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(final_name);
  g["quarantined_as"] = q.dest;
  g["reason"] = verdict_name(r.verdict);
  g["at"] = when;
  j["gate"] = std::move(g);
  const std::string text = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  return write_new_file(q.dest + ".json", text);
}

std::string match_phrase(const ScanResult& r) {
  char score[32];
  std::snprintf(score, sizeof score, "%.2f", r.score);
  if (r.matches.empty()) return std::string("(score ") + score + ")";
  const MatchEvidence& m = r.matches.front();
  return printable(m.label) + " (" + category_name(m.category) + ", score " + score + ")";
}

// What the gate does with a file's result: allow, note, or quarantine; the exit status.
int decide(const GateOptions& o, const ScanResult& r, const std::string& shown, const std::string& final_name) {
  int exit_code = kExitOk;
  std::string what;  // the first half of the "blocked" line
  switch (r.verdict) {
    case Verdict::kClean:
      return kExitOk;
    case Verdict::kReview:
      if (!o.block_review) {
        write_err("screen3d: review: " + shown + " resembles restricted part " + match_phrase(r) + "; allowed\n");
        return kExitOk;
      }
      what = shown + " may match restricted part " + match_phrase(r) + " (review, blocked by --block-review)";
      exit_code = kExitMatch;
      break;
    case Verdict::kRestricted:
      what = shown + " matches restricted part " + match_phrase(r);
      exit_code = kExitMatch;
      break;
    case Verdict::kError:
    case Verdict::kSkipped:  // not a file we can screen: the gate cannot vouch for it either
      if (o.on_error != "block") {
        write_err("screen3d: warning: " + shown + " could not be screened (" + printable(r.error) +
                  "); allowed (--on-error allow)\n");
        return kExitOk;
      }
      what = shown + " could not be screened (" + printable(r.error) + "; --on-error block)";
      exit_code = kExitError;
      break;
  }

  const bool is_default = o.quarantine.empty();
  fs::path dir = o.quarantine;
  if (is_default) {
    const fs::path parent = fs::path(o.path).parent_path();
    dir = (parent.empty() ? fs::path(".") : parent) / kDefaultQuarantine;
  }
  std::error_code ec;
  if (fs::path abs = fs::absolute(dir, ec); !ec) dir = abs.lexically_normal();  // a path the user can find
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  const Moved q =
      quarantine(o.path, dir.string(), is_default, quarantine_base(o.path, final_name), utc_stamp(now, true));
  if (q.moved) {
    write_err("screen3d: blocked: " + what + "; moved to " + printable(q.dest) + "\n");
    if (const std::string bad = write_report(r, q, o.path, final_name, utc_stamp(now, false)); !bad.empty())
      write_err("screen3d: warning: " + printable(bad) + "\n");
  } else {
    write_err("screen3d: blocked: " + what + "; NOT quarantined: " + printable(q.failure) + "\n");
    write_err("screen3d: do not print " + printable(o.path) + " (it is still there)\n");
  }
  return exit_code;
}

int run_gate(const GateOptions& o) {
  const char* env_final = std::getenv("SLIC3R_PP_OUTPUT_NAME");
  const std::string final_name = env_final ? env_final : "";
  const std::string shown = printable(final_name.empty() ? o.path : final_name);

  // The file must be a regular file at that path: a link, folder or device cannot be moved safely.
  struct stat st {};
  if (::lstat(o.path.c_str(), &st) != 0) {
    write_err("screen3d: gate: " + printable(o.path) + ": " + errno_text(errno) + "\n");
    return kExitError;
  }
  if (!S_ISREG(st.st_mode)) {
    write_err("screen3d: gate: " + printable(o.path) + ": not a regular file; not screened, left in place\n");
    return kExitError;
  }

  const std::string db = resolve_db(o.db);
  if (db.empty()) {
    write_err("screen3d: gate: no signature database: pass --db or set SCREEN3D_DB; " + shown +
              " was not screened (left in place)\n");
    return kExitError;
  }
  if (!o.no_isolate && !o.worker) {
    std::vector<std::string> args = {"screen3d", "gate", "--gate-worker", "--db", db, "--on-error", o.on_error};
    if (o.block_review) args.push_back("--block-review");
    if (!o.quarantine.empty()) args.insert(args.end(), {"--quarantine", o.quarantine});
    for (std::string& a : screening_args(o.settings)) args.push_back(std::move(a));
    args.insert(args.end(), {"--", o.path});
    const WorkerEnd end = run_worker(args, o.timeout);
    if (end.started && end.exited) return end.exit_code;  // it said everything itself
    if (end.started) {  // killed by a signal, or stopped at --timeout, while screening: the file is where it was
      const std::string why = "not screened: the screening process " + end.how + " on this file";
      return decide(o, unscreened_result(o.path, Verdict::kError, why), shown, final_name);
    }
    write_err("screen3d: gate: cannot start a worker process; screening in this process\n");
  }
  std::unique_ptr<Engine> engine;
  try {
    engine = Engine::from_database(db, o.settings);
  } catch (const std::exception& e) {
    write_err("screen3d: gate: cannot open signature database " + printable(db) + ": " + printable(e.what()) + "; " +
              shown + " was not screened (left in place)\n");
    return kExitError;
  }

  if (o.worker) {
    cap_worker_memory(default_worker_memory_mib());
    worker_fault_point(o.path);
  }
  return decide(o, engine->scan_file(o.path), shown, final_name);
}

}  // namespace

void register_gate(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<GateOptions>();
  CLI::App* sub = app.add_subcommand(
      "gate", "Slicer post-processing hook: screen one G-code file; quarantine it and exit non-zero if restricted.");
  sub->add_option("--db", o->db, "Signature database (default: $SCREEN3D_DB, then the demo database)");
  sub->add_option("--quarantine", o->quarantine,
                  "Folder for blocked files (default: screen3d-quarantine next to the file, created 0700)");
  sub->add_flag("--block-review", o->block_review, "Also block files whose verdict is review");
  sub->add_option("--on-error", o->on_error,
                  "A file that cannot be screened: allow (warn, exit 0) or block (quarantine, exit 2)")
      ->check(CLI::IsMember({"allow", "block"}))
      ->capture_default_str();
  add_screening_options(sub, o->settings);
  auto* no_isolate =
      sub->add_flag("--no-isolate", o->no_isolate,
                    "Screen in this process (no worker start-up; a parser crash then ends the gate abnormally)");
  sub->add_option("--timeout", o->timeout,
                  "Seconds the screening may take before its worker is stopped and the file is handled by --on-error "
                  "(default: no limit)")
      ->check(CLI::NonNegativeNumber)
      ->excludes(no_isolate);
  sub->add_flag("--gate-worker", o->worker)->group("");  // set by the gate for its worker
  sub->add_option("GCODE", o->path, "The G-code file (the slicer appends its path as the last argument)")->required();
  sub->callback([o, &ctx] { ctx.exit_code = run_gate(*o); });
}

}  // namespace s3d::cli
