#pragma once
// Runs the built `screen3d` binary (path from the S3D_CLI_PATH compile definition) as a child
// process and captures its stdout, stderr and exit status, so CLI tests read like the contract:
//   auto r = s3d::test::run_cli({"info", "--json", path});
//   EXPECT_EQ(r.exit_code, 2); EXPECT_EQ(r.err_lines().size(), 1u);
#include <chrono>
#include <string>
#include <vector>

namespace s3d::test {

struct CliResult {
  int exit_code = -1;      // the process exit status; 128 + signal number if killed by a signal
  bool timed_out = false;  // killed after the timeout (exit_code is then 128 + SIGKILL)
  std::string out;         // everything written to stdout
  std::string err;         // everything written to stderr

  std::vector<std::string> out_lines() const;  // split on '\n', no trailing empty line
  std::vector<std::string> err_lines() const;
};

// Path of the screen3d binary under test.
std::string cli_path();

// Runs `screen3d args...` with stdin closed (reads /dev/null). Never throws for a failing child;
// throws std::runtime_error only if the process cannot be started.
CliResult run_cli(const std::vector<std::string>& args,
                  std::chrono::milliseconds timeout = std::chrono::seconds(120));

// The same for another program of the build (a plugin's executable).
CliResult run_program(const std::string& exe, const std::vector<std::string>& args,
                      std::chrono::milliseconds timeout = std::chrono::seconds(120));

// Splits text into lines on '\n' (a final newline does not make an empty last line).
std::vector<std::string> split_lines(const std::string& text);

}  // namespace s3d::test
