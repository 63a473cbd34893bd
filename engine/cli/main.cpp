// screen3d: the command line (contract: /work/shared/guide/contract.md, mirrored in the docs).
// Adding a subcommand = a file cli/cmd_<name>.cpp defining register_<name>, plus one line in
// S3D_CLI_COMMANDS below.
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
