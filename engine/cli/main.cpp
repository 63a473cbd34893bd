// screen3d: the command line (contract: /work/shared/guide/contract.md, mirrored in the docs).
// Adding a subcommand = a file cli/cmd_<name>.cpp defining register_<name>, plus one line in
// S3D_CLI_COMMANDS below.
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include "engine/cli/command.h"
#include "engine/version.h"

// The subcommands, in --help order. X(name) -> s3d::cli::register_<name>(app, ctx).
#define S3D_CLI_COMMANDS(X) \
  X(info) \
  X(scan) \
  X(gate) \
  X(sig)

namespace s3d::cli {

#define S3D_DECLARE_COMMAND(name) void register_##name(CLI::App& app, Context& ctx);
S3D_CLI_COMMANDS(S3D_DECLARE_COMMAND)
#undef S3D_DECLARE_COMMAND

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
}

namespace {

int run(int argc, char** argv) {
  Context ctx;
  CLI::App app{"screen3d: screens 3D-printing files (STL, 3MF, OBJ, G-code) against a signature database.",
               "screen3d"};
  app.set_version_flag("--version", version_line());
  app.require_subcommand(1);
#define S3D_REGISTER_COMMAND(name) register_##name(app, ctx);
  S3D_CLI_COMMANDS(S3D_REGISTER_COMMAND)
#undef S3D_REGISTER_COMMAND
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" with exit code 0; usage errors exit 2 (contract).
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitError;
  }
  return ctx.exit_code;
}

}  // namespace
}  // namespace s3d::cli

int main(int argc, char** argv) {
  try {
    return s3d::cli::run(argc, argv);
  } catch (const std::exception& e) {
    s3d::cli::write_err(std::string("screen3d: internal error: ") + e.what() + "\n");
  } catch (...) {
    s3d::cli::write_err("screen3d: internal error\n");
  }
  return s3d::cli::kExitError;
}
