#pragma once
// What every `screen3d` subcommand file shares. A subcommand lives in cli/cmd_<name>.cpp and
// defines `void register_<name>(CLI::App& app, Context& ctx)`, which adds the subcommand with its
// options and a callback that runs it and sets ctx.exit_code; main.cpp lists it on one line.
//
// Conventions (contract.md): stdout carries results only; each diagnostic is one stderr line
// "screen3d: <path>: <reason>"; exit 0 all fine, 1 a match, 2 any input could not be processed.
#include <tbb/global_control.h>

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/scan.h"

namespace s3d::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitMatch = 1;
inline constexpr int kExitError = 2;

struct Context {
  int exit_code = kExitOk;
};

// Writes `text` to stdout / stderr in one call and flushes (lines from parallel work stay whole).
void write_out(std::string_view text);
void write_err(std::string_view text);

// "screen3d: <path>: <reason>\n" on stderr; control characters in either part become '?'/' '.
void diagnose(std::string_view path, std::string_view reason);

// The signature database to open: `given` (--db) when set, else $SCREEN3D_DB, else the demo
// database the build produces (contract.md); "" when none of them is known.
std::string resolve_db(const std::string& given);

// The engine for the database resolve_db(db_option) names; nullptr after one diagnostic ("<who>: no
// signature database ..." or "<db>: <why it cannot be opened>"). *resolved receives the path.
std::unique_ptr<Engine> open_database(std::string_view who, const std::string& db_option, const ScanSettings& settings,
                                      std::string* resolved = nullptr);

// --threads N: caps TBB's parallelism for as long as the returned object lives (nothing for N <= 0).
std::unique_ptr<tbb::global_control> thread_limit(int threads);

// The options every screening command shares: thresholds, accepted scale range and input limits.
void add_screening_options(CLI::App* sub, ScanSettings& settings);
// The same options as arguments that give back `settings` exactly (for a worker process).
std::vector<std::string> screening_args(const ScanSettings& settings);

// Screens one path: a file, or each member of a zip archive ("outer.zip!/inner/a.stl"). A folder, a
// load error, a memory cap hit or an internal error becomes an error result; never throws.
// `worker`: the caller is a worker process, so the test fault hook (worker.h) applies.
std::vector<ScanResult> screen_path(const Engine& engine, const std::string& path, bool worker);

}  // namespace s3d::cli
